// AVX-512 VNNI tile kernels for the batched quantized product (layout in quant_gemm.h), for CPUs with AVX-512 F/BW
// and VNNI (Zen 4, Ice Lake and later). vpdpbusd multiplies unsigned weight bytes by signed activation bytes and adds
// each group of 4 products into an int32 lane in one instruction, where AVX2 needs vpmaddubsw, int16 adds and
// vpmaddwd. One 64-byte load takes two tile vectors (values 4k…4k+7 of the 8 rows); a permute pairs them so that
// lane 2r holds row r's values 4k…4k+3 and lane 2r+1 its values 4k+4…4k+7, which meet 8 activation bytes
// broadcast per 64-bit lane. Summing each lane pair gives the AVX2 kernels' int32 sums exactly (integer sums, no
// overflow in either), and the float work after them is the AVX2 kernels' own, in 8-lane vectors: every result is
// bit for bit vane_tile_*_avx2's (QuantGemmTests, on hosts that have these instructions).
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"
#include "quant_gemm.h"
#if VANE_X86
#include "simd_avx2.h"

#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vnni")))
#define INLINE inline __attribute__((always_inline))

int vane_cpu_has_avx512_vnni(void) {
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}

// Tile vectors k and k+1 (64 bytes at p) with row r's two 4-byte groups in lanes 2r and 2r+1.
AVX512 static INLINE __m512i load_pair(const void *p) {
    const __m512i pairs = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    return _mm512_permutexvar_epi32(pairs, _mm512_loadu_si512(p));
}

// 8 activation bytes in every 64-bit lane: bytes 0…3 meet lanes 2r, bytes 4…7 lanes 2r+1.
AVX512 static INLINE __m512i bcast8(const void *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return _mm512_set1_epi64(v);
}

// Row r's sum: lane 2r + lane 2r+1, as 8 int32 lanes.
AVX512 static INLINE __m256i rows_of(__m512i s) {
    return _mm512_cvtepi64_epi32(_mm512_add_epi32(s, _mm512_srli_epi64(s, 32)));
}

// q8_0's weights are signed: their magnitudes meet the activations with the weights' signs moved onto them (as
// AVX2's vpsignb does; a zero weight's product is zero either way).
AVX512 static INLINE void legacy_kernel(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows,
                                        const int sgn) {
    const int64_t n = t->cols, nb = n / QK;
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t v0 = 0; v0 < a->count; v0 += 4) {
        const int64_t r0 = tile_act_row(a, v0), r1 = tile_act_row(a, v0 + 1), r2 = tile_act_row(a, v0 + 2),
                      r3 = tile_act_row(a, v0 + 3);
        const int8_t *q0 = a->q + r0 * n, *q1 = a->q + r1 * n, *q2 = a->q + r2 * n, *q3 = a->q + r3 * n;
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *tq = t->q + b * QK * TILE_ROWS;
            __m512i s0 = zero, s1 = zero, s2 = zero, s3 = zero;
            for (int k = 0; k < 8; k += 2) {
                const __m512i w = load_pair(tq + 32 * k), wu = sgn ? _mm512_abs_epi8(w) : w;
                const __mmask64 neg = sgn ? _mm512_movepi8_mask(w) : 0;
                const int64_t o = b * QK + 4 * k;
#define STEP(S, Q) { __m512i x = bcast8(Q + o); if (sgn) x = _mm512_mask_sub_epi8(x, neg, zero, x); \
                     S = _mm512_dpbusd_epi32(S, wu, x); }
                STEP(s0, q0) STEP(s1, q1) STEP(s2, q2) STEP(s3, q3)
#undef STEP
            }
            const __m256 d = _mm256_loadu_ps(t->d + b * 8), m = _mm256_loadu_ps(t->m + b * 8);
#define ACC(C, S, R) C = _mm256_fmadd_ps(m, _mm256_set1_ps(a->sa[R * nb + b]), \
                         _mm256_fmadd_ps(_mm256_cvtepi32_ps(rows_of(S)), _mm256_mul_ps(d, _mm256_set1_ps(a->da[R * nb + b])), C));
            ACC(c0, s0, r0) ACC(c1, s1, r1) ACC(c2, s2, r2) ACC(c3, s3, r3)
#undef ACC
        }
        tile_store_pass(y, ldy, v0, a->count, rows, c0, c1, c2, c3);
    }
}

AVX512 void vane_tile_legacy_avx512(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows) {
    if (t->type == T_Q8_0) legacy_kernel(t, a, y, ldy, rows, 1);
    else legacy_kernel(t, a, y, ldy, rows, 0);
}

// K-quants: a group's 16 values are two vector pairs; its int32 sums are multiplied by the group's scale (lane
// 2r and 2r+1 both row r's, as the int16 pairs of t->sc) and added, which is vpmaddwd's sum in the AVX2 kernel.
AVX512 void vane_tile_k_avx512(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows) {
    const int64_t nb = t->cols / QK_K;
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t v0 = 0; v0 < a->count; v0 += 4) {
#define ROW(V) (const block_q8_K *)((const char *)a->k + tile_act_row(a, v0 + V) * a->row_bytes)
        const block_q8_K *a0 = ROW(0), *a1 = ROW(1), *a2 = ROW(2), *a3 = ROW(3);
#undef ROW
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *tq = t->q + b * QK_K * TILE_ROWS;
            __m512i s0 = zero, s1 = zero, s2 = zero, s3 = zero;
            for (int g = 0; g < 16; g++) {
                const __m512i sc = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(t->sc + b * 256 + g * 16)));
                const __m512i w0 = load_pair(tq + 32 * 4 * g), w1 = load_pair(tq + 32 * (4 * g + 2));
                const int o = 16 * g;
#define STEP(S, A) S = _mm512_add_epi32(S, _mm512_mullo_epi32(sc, \
                       _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, w0, bcast8(A[b].qs + o)), w1, bcast8(A[b].qs + o + 8))));
                STEP(s0, a0) STEP(s1, a1) STEP(s2, a2) STEP(s3, a3)
#undef STEP
            }
            __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
            for (int j = 0; j < 8; j++) {
                const __m256i mc = _mm256_loadu_si256((const __m256i *)(t->mc + b * 128 + j * 16));
#define MINS(M, A) { int32_t s; memcpy(&s, A[b].bsums + 2 * j, 4); M = _mm256_add_epi32(M, _mm256_madd_epi16(mc, _mm256_set1_epi32(s))); }
                MINS(m0, a0) MINS(m1, a1) MINS(m2, a2) MINS(m3, a3)
#undef MINS
            }
            const __m256 d = _mm256_loadu_ps(t->d + b * 8), dmin = _mm256_loadu_ps(t->m + b * 8);
#define ACC(C, S, M, A) { const __m256 da = _mm256_set1_ps(A[b].d); \
            C = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(dmin, da), \
                                 _mm256_fmadd_ps(_mm256_cvtepi32_ps(rows_of(S)), _mm256_mul_ps(d, da), C)); }
            ACC(c0, s0, m0, a0) ACC(c1, s1, m1, a1) ACC(c2, s2, m2, a2) ACC(c3, s3, m3, a3)
#undef ACC
        }
        tile_store_pass(y, ldy, v0, a->count, rows, c0, c1, c2, c3);
    }
}

#else
int vane_cpu_has_avx512_vnni(void) { return 0; }
#endif // VANE_X86
