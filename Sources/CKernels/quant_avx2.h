// The AVX2/FMA/F16C kernels of quant_avx2.c, built on x86 only. VANE_X86 says whether they exist; dispatch picks
// them with VANE_PICK when the CPU has the features, and other CPUs get the portable (_naive) kernels.
#pragma once
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define VANE_X86 1

static inline int has_avx2(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

#define VANE_PICK(name) (has_avx2() ? name##_avx2 : name##_naive)

void vane_quantize_row_q8_0_avx2(const float *x, void *y, int64_t n);
void vane_quantize_row_q8_1_avx2(const float *x, void *y, int64_t n);
void vane_quantize_row_q8_K_avx2(const float *x, void *y, int64_t n);
float vane_vec_dot_q4_0_q8_0_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q4_1_q8_1_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_0_q8_0_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_1_q8_1_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q8_0_q8_0_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q2_K_q8_K_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q3_K_q8_K_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q4_K_q8_K_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_K_q8_K_avx2(int64_t n, const void *w, const void *a);
float vane_vec_dot_q6_K_q8_K_avx2(int64_t n, const void *w, const void *a);
// Weight rows 0 … rows−1 (row r at w + r·row_bytes, n values) against nv activation rows (row v at a + v·stride):
// y[v·ldy + r] is bit for bit the single-row kernel's result for that pair. Legacy types need n / 32 ≤
// DOTS_SCALE_FLOATS / 8 (their converted activation scales of 4 rows fit a stack buffer).
#define DOTS_SCALE_FLOATS 8192
typedef void (*rows_dot)(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                         int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q4_0_q8_0_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q4_1_q8_1_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q5_0_q8_0_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q5_1_q8_1_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q8_0_q8_0_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q4_K_q8_K_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q5_K_q8_K_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
void vane_vec_dots_q6_K_q8_K_avx2(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,
                                  int64_t nv, float *y, int64_t ldy);
float vane_vec_dot_f16_f32_avx2(int64_t n, const void *w, const float *x);
float vane_vec_dot_bf16_f32_avx2(int64_t n, const void *w, const float *x);
#else
#define VANE_X86 0
#define VANE_PICK(name) name##_naive
#endif
