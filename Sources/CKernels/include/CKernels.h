// SIMD kernels Swift cannot emit without unsafe flags: each has a portable C version and, on x86, AVX2/FMA variants
// chosen at run time with __builtin_cpu_supports; other CPUs build and run the portable versions only. The portable
// versions are the reference the tests compare against.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Dot product of two float arrays.
float vane_dot_f32(const float *a, const float *b, size_t n);
float vane_dot_f32_naive(const float *a, const float *b, size_t n);

// --- Quantized matrix × vector ------------------------------------------------------------------------------------
// Types are ggml type ids (GGMLType's raw values); blocks are ggml's layouts (see quant_blocks.h). A dot of a
// quantized weight row with an activation first quantizes the activation once per vector to the type
// vane_activation_type_for names (8 = Q8_0, 9 = Q8_1, 15 = Q8_K; 0 = F32 for float weights), then sums integer
// products per block. n is the row length in values and must be a whole number of blocks (32 or 256).
// Weight rows and activation blocks must be 2-byte aligned (Q8_K activations: 4-byte), as GGUF data is.

/// Activation quantizers: n floats → n / 32 (Q8_0, Q8_1) or n / 256 (Q8_K) blocks at y.
void vane_quantize_row_q8_0(const float *x, void *y, int64_t n);
void vane_quantize_row_q8_1(const float *x, void *y, int64_t n);
void vane_quantize_row_q8_K(const float *x, void *y, int64_t n);
void vane_quantize_row_q8_0_naive(const float *x, void *y, int64_t n);
void vane_quantize_row_q8_1_naive(const float *x, void *y, int64_t n);
void vane_quantize_row_q8_K_naive(const float *x, void *y, int64_t n);

/// Dot of one weight row w (n values) with one quantized activation a of the matching type.
float vane_vec_dot_q4_0_q8_0(int64_t n, const void *w, const void *a);
float vane_vec_dot_q4_1_q8_1(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_0_q8_0(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_1_q8_1(int64_t n, const void *w, const void *a);
float vane_vec_dot_q8_0_q8_0(int64_t n, const void *w, const void *a);
float vane_vec_dot_q2_K_q8_K(int64_t n, const void *w, const void *a);
float vane_vec_dot_q3_K_q8_K(int64_t n, const void *w, const void *a);
float vane_vec_dot_q4_K_q8_K(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_K_q8_K(int64_t n, const void *w, const void *a);
float vane_vec_dot_q6_K_q8_K(int64_t n, const void *w, const void *a);
float vane_vec_dot_f16_f32(int64_t n, const void *w, const float *x);
float vane_vec_dot_bf16_f32(int64_t n, const void *w, const float *x);
float vane_vec_dot_q4_0_q8_0_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q4_1_q8_1_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_0_q8_0_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_1_q8_1_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q8_0_q8_0_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q2_K_q8_K_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q3_K_q8_K_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q4_K_q8_K_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q5_K_q8_K_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_q6_K_q8_K_naive(int64_t n, const void *w, const void *a);
float vane_vec_dot_f16_f32_naive(int64_t n, const void *w, const float *x);
float vane_vec_dot_bf16_f32_naive(int64_t n, const void *w, const float *x);

/// The activation type a weight type's dots take: 8 (Q8_0), 9 (Q8_1), 15 (Q8_K), 0 (F32 for F32/F16/BF16
/// weights), or -1 when the weight type has no kernel here.
int vane_activation_type_for(int weight_type);

/// Quantizes n floats to act_type (8, 9 or 15; 0 copies them). Returns 0, or -1 for another type or an n that is
/// not a whole number of blocks.
int vane_quantize_activation(int act_type, const float *x, void *y, int64_t n);

/// y[r] = dot(weight row r, xq) for r in [row_begin, row_end); row r starts at w + r·row_bytes and holds cols
/// values of type `type`; xq is the activation quantized to vane_activation_type_for(type). Only rows in the
/// range are read or written, so threads may split the rows. Returns 0, or -1 for an unsupported type or a cols
/// that is not a whole number of blocks (nothing written).
int vane_gemv_q(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq, float *y,
                int64_t row_begin, int64_t row_end);

/// The same for n_vecs activations (vector v at xq + v·xq_row_bytes): y[v·rows + r], for r in the range. Each
/// weight row is read once for all vectors, while it is hot in cache. Quantized weights with more than
/// GEMM_TILED_MIN_VECS vectors go through vane_gemm_q_tiled. Returns as vane_gemv_q.
#define GEMM_TILED_MIN_VECS 4
int vane_gemm_q(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);
/// vane_gemm_q with each vector's result bit for bit what vane_gemv_q gives it alone, whatever n_vecs is (the rows
/// of a batched decoding step, each its own sequence's). For the types real models use (Q4_0, Q4_1, Q5_0, Q5_1,
/// Q8_0, Q4_K, Q5_K, Q6_K) on AVX2, a weight row is unpacked once per block for up to 4 vectors, each of which
/// then runs the single-row kernel's own operations; other types and CPUs call vane_gemm_q_dots_single.
int vane_gemm_q_dots(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                     size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);
/// The reference for vane_gemm_q_dots: one single-row dot (vane_vec_dot_*) per weight row and vector.
int vane_gemm_q_dots_single(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                            size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);

/// The same product for a batch (a prompt), computed in tiles of 8 weight rows unpacked once and run against every
/// vector (quant_gemm.h): for the quantized types only (not F32/F16/BF16). Equals vane_gemm_q's dots up to float
/// summation order (and, for Q4_1/Q5_1, the rounding of the activation's f16 s field, which this sums exactly). It
/// runs the AVX-512 VNNI kernels where the CPU has them (vane_cpu_has_avx512_vnni), else the AVX2 ones; their
/// results are equal bit for bit. The _naive version is the portable kernel the SIMD ones are tested against, and
/// _avx2 the AVX2 one on any CPU with AVX2 (-1 without). Returns as vane_gemv_q.
int vane_gemm_q_tiled(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                      size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);
int vane_gemm_q_tiled_naive(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                            size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);
int vane_gemm_q_tiled_avx2(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                           size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);
/// Legacy weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) repacked in groups of 8 rows (quant_packed.c), the same size as
/// stored: vane_packs says whether a matrix of `rows` × `cols` of `type` can be (rows a multiple of 8);
/// vane_pack_rows writes the packed copy of w (rows · row bytes) to `packed`. Returns 0, or -1 where it cannot.
int vane_packs(int type, int64_t rows, int64_t cols);
int vane_pack_rows(int type, const void *w, int64_t rows, int64_t cols, void *packed);
/// vane_gemm_q_tiled's product (the same bits, for any n_vecs) on packed weights, from row_begin to row_end
/// (multiples of 8). Each vector's results depend on that vector alone, so a batched step gives every sequence
/// what it gets by itself. The _naive version unpacks each group into a tile for the portable tile kernel.
/// Returns as vane_gemv_q.
int vane_gemm_q_packed(int type, const void *packed, int64_t rows, int64_t cols, const void *xq, size_t xq_row_bytes,
                       int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);
int vane_gemm_q_packed_naive(int type, const void *packed, int64_t rows, int64_t cols, const void *xq,
                             size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end);
/// For tests: packs one tile of `rows` (1…8) weight rows with the portable packer and with the AVX2 one and returns
/// how many of its quant bytes (and scale arrays) differ; -1 without AVX2 or for a type or shape tiles do not take.
int64_t vane_tile_pack_mismatches(int type, const void *w, size_t row_bytes, int rows, int64_t cols);
/// Whether this CPU has AVX-512 F/BW and VNNI (and AVX2/FMA/F16C), which the tiled product then uses.
int vane_cpu_has_avx512_vnni(void);
/// The quantized kernels this CPU runs, for benchmark records: "avx512-vnni tiles, avx2 dots", "avx2" or "portable".
const char *vane_kernel_set(void);

// --- Threads -------------------------------------------------------------------------------------------------------

typedef void (*vane_task_fn)(void *ctx, int part, int parts);

/// Runs fn(ctx, part, parts) for part = 0 … parts−1 on the calling thread and up to threads−1 persistent workers,
/// and returns when all parts have finished. Parts are claimed one at a time by whichever thread is free, so a
/// worker the OS has descheduled before claiming a part delays nothing, and one descheduled while running a part
/// delays the call by that part. Workers spin briefly between calls, then sleep. A call made while another thread's call is running
/// runs all its parts on its own thread.
void vane_parallel_for(int threads, int parts, vane_task_fn fn, void *ctx);
