// Public entry points of the quantized kernels: each picks the AVX2 version on an x86 CPU with AVX2, FMA and F16C,
// else the portable one; and the row-range matrix × vector drivers over them.
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"

#define DISPATCH_QUANTIZE(t)                                                            \
    void vane_quantize_row_##t(const float *x, void *y, int64_t n) {                     \
        VANE_PICK(vane_quantize_row_##t)(x, y, n);                                      \
    }
DISPATCH_QUANTIZE(q8_0)
DISPATCH_QUANTIZE(q8_1)
DISPATCH_QUANTIZE(q8_K)

#define DISPATCH_DOT(t, A)                                                              \
    float vane_vec_dot_##t(int64_t n, const void *w, A a) {                              \
        return VANE_PICK(vane_vec_dot_##t)(n, w, a);                                    \
    }
DISPATCH_DOT(q4_0_q8_0, const void *)
DISPATCH_DOT(q4_1_q8_1, const void *)
DISPATCH_DOT(q5_0_q8_0, const void *)
DISPATCH_DOT(q5_1_q8_1, const void *)
DISPATCH_DOT(q8_0_q8_0, const void *)
DISPATCH_DOT(q2_K_q8_K, const void *)
DISPATCH_DOT(q3_K_q8_K, const void *)
DISPATCH_DOT(q4_K_q8_K, const void *)
DISPATCH_DOT(q5_K_q8_K, const void *)
DISPATCH_DOT(q6_K_q8_K, const void *)
DISPATCH_DOT(f16_f32, const float *)
DISPATCH_DOT(bf16_f32, const float *)

const char *vane_kernel_set(void) {
#if VANE_X86
    if (vane_cpu_has_avx512_vnni()) return "avx512-vnni tiles, avx2 dots";
    if (has_avx2()) return "avx2";
#endif
    return "portable";
}

int vane_activation_type_for(int weight_type) {
    switch (weight_type) {
    case T_F32: case T_F16: case T_BF16: return T_F32;
    case T_Q4_0: case T_Q5_0: case T_Q8_0: return T_Q8_0;
    case T_Q4_1: case T_Q5_1: return T_Q8_1;
    case T_Q2_K: case T_Q3_K: case T_Q4_K: case T_Q5_K: case T_Q6_K: return T_Q8_K;
    default: return -1;
    }
}

int vane_quantize_activation(int act_type, const float *x, void *y, int64_t n) {
    switch (act_type) {
    case T_F32: memcpy(y, x, (size_t)n * sizeof(float)); return 0;
    case T_Q8_0: if (n % QK) return -1; vane_quantize_row_q8_0(x, y, n); return 0;
    case T_Q8_1: if (n % QK) return -1; vane_quantize_row_q8_1(x, y, n); return 0;
    case T_Q8_K: if (n % QK_K) return -1; vane_quantize_row_q8_K(x, y, n); return 0;
    default: return -1;
    }
}

typedef float (*row_dot)(int64_t n, const void *w, const void *x);

static float dot_f32_row(int64_t n, const void *w, const void *x) { return vane_dot_f32(w, x, (size_t)n); }
static float dot_f16_row(int64_t n, const void *w, const void *x) { return vane_vec_dot_f16_f32(n, w, x); }
static float dot_bf16_row(int64_t n, const void *w, const void *x) { return vane_vec_dot_bf16_f32(n, w, x); }

// The row kernel for a weight type and the row length it needs to be a multiple of; NULL if none.
static row_dot kernel_for(int type, int64_t *block) {
    *block = QK;
    switch (type) {
    case T_F32: *block = 1; return dot_f32_row;
    case T_F16: *block = 1; return dot_f16_row;
    case T_BF16: *block = 1; return dot_bf16_row;
    case T_Q4_0: return VANE_PICK(vane_vec_dot_q4_0_q8_0);
    case T_Q4_1: return VANE_PICK(vane_vec_dot_q4_1_q8_1);
    case T_Q5_0: return VANE_PICK(vane_vec_dot_q5_0_q8_0);
    case T_Q5_1: return VANE_PICK(vane_vec_dot_q5_1_q8_1);
    case T_Q8_0: return VANE_PICK(vane_vec_dot_q8_0_q8_0);
    }
    *block = QK_K;
    switch (type) {
    case T_Q2_K: return VANE_PICK(vane_vec_dot_q2_K_q8_K);
    case T_Q3_K: return VANE_PICK(vane_vec_dot_q3_K_q8_K);
    case T_Q4_K: return VANE_PICK(vane_vec_dot_q4_K_q8_K);
    case T_Q5_K: return VANE_PICK(vane_vec_dot_q5_K_q8_K);
    case T_Q6_K: return VANE_PICK(vane_vec_dot_q6_K_q8_K);
    default: return NULL;
    }
}

int vane_gemv_q(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq, float *y,
                int64_t row_begin, int64_t row_end) {
    int64_t block;
    const row_dot dot = kernel_for(type, &block);
    if (!dot || cols % block || row_begin < 0 || row_end > rows) return -1;
    const char *row = (const char *)w + (size_t)row_begin * row_bytes;
    for (int64_t r = row_begin; r < row_end; r++, row += row_bytes) y[r] = dot(cols, row, xq);
    return 0;
}

int vane_gemm_q(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
    // Past a few vectors, unpacking each weight row once for all of them (tiles) beats a dot per row and vector.
    if (n_vecs > GEMM_TILED_MIN_VECS && vane_activation_type_for(type) > 0)
        return vane_gemm_q_tiled(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end);
    return vane_gemm_q_dots(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end);
}

// The kernel that runs weight rows against several activation rows at once, NULL where there is none (portable
// builds, float weights, Q2_K and Q3_K): those take one single-row dot per row and vector.
static rows_dot rows_kernel_for(int type) {
#if VANE_X86
    if (has_avx2()) {
        switch (type) {
        case T_Q4_0: return vane_vec_dots_q4_0_q8_0_avx2;
        case T_Q4_1: return vane_vec_dots_q4_1_q8_1_avx2;
        case T_Q5_0: return vane_vec_dots_q5_0_q8_0_avx2;
        case T_Q5_1: return vane_vec_dots_q5_1_q8_1_avx2;
        case T_Q8_0: return vane_vec_dots_q8_0_q8_0_avx2;
        case T_Q4_K: return vane_vec_dots_q4_K_q8_K_avx2;
        case T_Q5_K: return vane_vec_dots_q5_K_q8_K_avx2;
        case T_Q6_K: return vane_vec_dots_q6_K_q8_K_avx2;
        }
    }
#endif
    (void)type;
    return NULL;
}

int vane_gemm_q_dots(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                     size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
    const rows_dot dots = rows_kernel_for(type);
    if (!dots || n_vecs == 1 || cols / QK > DOTS_SCALE_FLOATS / 8)
        return vane_gemm_q_dots_single(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end);
    int64_t block;
    if (!kernel_for(type, &block) || cols % block || row_begin < 0 || row_end > rows) return -1;
    dots(cols, (const char *)w + (size_t)row_begin * row_bytes, row_bytes, row_end - row_begin, xq, xq_row_bytes, n_vecs,
         y + row_begin, rows);
    return 0;
}

int vane_gemm_q_dots_single(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                            size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
    int64_t block;
    const row_dot dot = kernel_for(type, &block);
    if (!dot || cols % block || row_begin < 0 || row_end > rows) return -1;
    const char *row = (const char *)w + (size_t)row_begin * row_bytes;
    for (int64_t r = row_begin; r < row_end; r++, row += row_bytes)
        for (int64_t v = 0; v < n_vecs; v++) y[v * rows + r] = dot(cols, row, (const char *)xq + (size_t)v * xq_row_bytes);
    return 0;
}
