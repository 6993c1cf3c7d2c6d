// AVX2 tile kernels for the batched quantized product (layout in quant_gemm.h). Each pass runs one tile of 8
// weight rows against up to 4 activation rows: a 32-byte tile vector (4 values of each row) is loaded once and
// multiplied by vpmaddubsw with 4 broadcast bytes of each activation row, giving int16 pair sums per row that are
// added in int16 while they cannot overflow, then widened by vpmaddwd (by 1, or by the K-quant group scale).
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"
#include "quant_gemm.h"
#if VANE_X86
#include "quant_gemm_simd.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

AVX2 static INLINE __m256i load(const void *p) { return _mm256_load_si256((const __m256i *)p); }
AVX2 static INLINE __m256i bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Tile vectors whose int16 pair sums are added before widening: |u·q| pair sums stay below 2^15 for this many.
// q4 (u ≤ 15): 8 (8·2·15·127 = 30480); q5 (u ≤ 31): 4; q8_0 (|u| ≤ 128 once its sign moves to q): 1.
AVX2 static INLINE void legacy_kernel(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows,
                                      const int G, const int sgn) {
    const int64_t n = t->cols, nb = n / QK;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t v0 = 0; v0 < a->count; v0 += 4) {
        const int64_t r0 = tile_act_row(a, v0), r1 = tile_act_row(a, v0 + 1), r2 = tile_act_row(a, v0 + 2), r3 = tile_act_row(a, v0 + 3);
        const int8_t *q0 = a->q + r0 * n, *q1 = a->q + r1 * n, *q2 = a->q + r2 * n, *q3 = a->q + r3 * n;
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *tq = t->q + b * QK * TILE_ROWS;
            __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
            for (int k0 = 0; k0 < 8; k0 += G) {
                __m256i p0 = _mm256_setzero_si256(), p1 = p0, p2 = p0, p3 = p0;
                for (int k = k0; k < k0 + G; k++) {
                    const __m256i w = load(tq + 32 * k), wu = sgn ? _mm256_abs_epi8(w) : w;
                    const int64_t o = b * QK + 4 * k;
#define STEP(P, Q) { __m256i x = bcast4(Q + o); if (sgn) x = _mm256_sign_epi8(x, w); P = _mm256_add_epi16(P, _mm256_maddubs_epi16(wu, x)); }
                    STEP(p0, q0) STEP(p1, q1) STEP(p2, q2) STEP(p3, q3)
#undef STEP
                }
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, ones));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, ones));
                s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(p2, ones));
                s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(p3, ones));
            }
            const __m256 d = _mm256_loadu_ps(t->d + b * 8), m = _mm256_loadu_ps(t->m + b * 8);
#define ACC(C, S, R) C = _mm256_fmadd_ps(m, _mm256_set1_ps(a->sa[R * nb + b]), \
                         _mm256_fmadd_ps(_mm256_cvtepi32_ps(S), _mm256_mul_ps(d, _mm256_set1_ps(a->da[R * nb + b])), C));
            ACC(c0, s0, r0) ACC(c1, s1, r1) ACC(c2, s2, r2) ACC(c3, s3, r3)
#undef ACC
        }
        tile_store_pass(y, ldy, v0, a->count, rows, c0, c1, c2, c3);
    }
}

AVX2 void vane_tile_legacy_avx2(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows) {
    switch (t->type) {
    case T_Q4_0: case T_Q4_1: legacy_kernel(t, a, y, ldy, rows, 8, 0); break;
    case T_Q8_0: legacy_kernel(t, a, y, ldy, rows, 1, 1); break;
    default: legacy_kernel(t, a, y, ldy, rows, 4, 0); break;
    }
}

// K-quants: u ≤ 31 lets a whole group of 16 values (4 vectors) add in int16 before its scale applies
// (4·2·31·127 = 31496); q6_K's u ≤ 63 allows 2.
AVX2 static INLINE void k_kernel(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows, const int G) {
    const int64_t nb = t->cols / QK_K;
    for (int64_t v0 = 0; v0 < a->count; v0 += 4) {
#define ROW(V) (const block_q8_K *)((const char *)a->k + tile_act_row(a, v0 + V) * a->row_bytes)
        const block_q8_K *a0 = ROW(0), *a1 = ROW(1), *a2 = ROW(2), *a3 = ROW(3);
#undef ROW
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *tq = t->q + b * QK_K * TILE_ROWS;
            __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
            for (int g = 0; g < 16; g++) {
                const __m256i sc = load(t->sc + b * 256 + g * 16);
                for (int k0 = 0; k0 < 4; k0 += G) {
                    __m256i p0 = _mm256_setzero_si256(), p1 = p0, p2 = p0, p3 = p0;
                    for (int k = k0; k < k0 + G; k++) {
                        const __m256i w = load(tq + 32 * (4 * g + k));
                        const int o = 16 * g + 4 * k;
                        p0 = _mm256_add_epi16(p0, _mm256_maddubs_epi16(w, bcast4(a0[b].qs + o)));
                        p1 = _mm256_add_epi16(p1, _mm256_maddubs_epi16(w, bcast4(a1[b].qs + o)));
                        p2 = _mm256_add_epi16(p2, _mm256_maddubs_epi16(w, bcast4(a2[b].qs + o)));
                        p3 = _mm256_add_epi16(p3, _mm256_maddubs_epi16(w, bcast4(a3[b].qs + o)));
                    }
                    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, sc));
                    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, sc));
                    s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(p2, sc));
                    s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(p3, sc));
                }
            }
            __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
            for (int j = 0; j < 8; j++) {
                const __m256i mc = load(t->mc + b * 128 + j * 16);
                m0 = _mm256_add_epi32(m0, _mm256_madd_epi16(mc, bcast4(a0[b].bsums + 2 * j)));
                m1 = _mm256_add_epi32(m1, _mm256_madd_epi16(mc, bcast4(a1[b].bsums + 2 * j)));
                m2 = _mm256_add_epi32(m2, _mm256_madd_epi16(mc, bcast4(a2[b].bsums + 2 * j)));
                m3 = _mm256_add_epi32(m3, _mm256_madd_epi16(mc, bcast4(a3[b].bsums + 2 * j)));
            }
            const __m256 d = _mm256_loadu_ps(t->d + b * 8), dmin = _mm256_loadu_ps(t->m + b * 8);
#define ACC(C, S, M, A) { const __m256 da = _mm256_set1_ps(A[b].d); \
            C = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(dmin, da), \
                                 _mm256_fmadd_ps(_mm256_cvtepi32_ps(S), _mm256_mul_ps(d, da), C)); }
            ACC(c0, s0, m0, a0) ACC(c1, s1, m1, a1) ACC(c2, s2, m2, a2) ACC(c3, s3, m3, a3)
#undef ACC
        }
        tile_store_pass(y, ldy, v0, a->count, rows, c0, c1, c2, c3);
    }
}

AVX2 void vane_tile_k_avx2(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows) {
    if (t->type == T_Q6_K) k_kernel(t, a, y, ldy, rows, 2);
    else k_kernel(t, a, y, ldy, rows, 4);
}

#endif // VANE_X86
