// AVX2 packing and tile kernels for the batched quantized product (layout in quant_gemm.h). Each pass runs one tile
// of 8 weight rows against up to 4 activation rows: a 32-byte tile vector (4 values of each row) is loaded once and
// multiplied by vpmaddubsw with 4 broadcast bytes of each activation row, giving int16 pair sums per row that are
// added in int16 while they cannot overflow, then widened by vpmaddwd (by 1, or by the K-quant group scale).
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"
#include "quant_gemm.h"
#if VANE_X86
#include "simd_avx2.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

AVX2 static INLINE __m256i load(const void *p) { return _mm256_load_si256((const __m256i *)p); }

// --- packing -------------------------------------------------------------------------------------------------------

// 8 rows' 32 values (row r in v[r]) → the 8 tile vectors that hold them: vector j takes values 4j…4j+3 of each row,
// row r at bytes 4r…4r+3, i.e. an 8×8 transpose of 4-byte elements.
AVX2 static INLINE void transpose_store(const __m256i v[TILE_ROWS], uint8_t *q) {
    const __m256i a0 = _mm256_unpacklo_epi32(v[0], v[1]), a1 = _mm256_unpackhi_epi32(v[0], v[1]);
    const __m256i a2 = _mm256_unpacklo_epi32(v[2], v[3]), a3 = _mm256_unpackhi_epi32(v[2], v[3]);
    const __m256i a4 = _mm256_unpacklo_epi32(v[4], v[5]), a5 = _mm256_unpackhi_epi32(v[4], v[5]);
    const __m256i a6 = _mm256_unpacklo_epi32(v[6], v[7]), a7 = _mm256_unpackhi_epi32(v[6], v[7]);
    // b0: values 0 (low lane) and 4 (high lane) of rows 0…3; b1: 1 and 5; b2: 2 and 6; b3: 3 and 7. b4…b7: rows 4…7.
    const __m256i b0 = _mm256_unpacklo_epi64(a0, a2), b1 = _mm256_unpackhi_epi64(a0, a2);
    const __m256i b2 = _mm256_unpacklo_epi64(a1, a3), b3 = _mm256_unpackhi_epi64(a1, a3);
    const __m256i b4 = _mm256_unpacklo_epi64(a4, a6), b5 = _mm256_unpackhi_epi64(a4, a6);
    const __m256i b6 = _mm256_unpacklo_epi64(a5, a7), b7 = _mm256_unpackhi_epi64(a5, a7);
    __m256i *out = (__m256i *)q;
    _mm256_store_si256(out + 0, _mm256_permute2x128_si256(b0, b4, 0x20));
    _mm256_store_si256(out + 1, _mm256_permute2x128_si256(b1, b5, 0x20));
    _mm256_store_si256(out + 2, _mm256_permute2x128_si256(b2, b6, 0x20));
    _mm256_store_si256(out + 3, _mm256_permute2x128_si256(b3, b7, 0x20));
    _mm256_store_si256(out + 4, _mm256_permute2x128_si256(b0, b4, 0x31));
    _mm256_store_si256(out + 5, _mm256_permute2x128_si256(b1, b5, 0x31));
    _mm256_store_si256(out + 6, _mm256_permute2x128_si256(b2, b6, 0x31));
    _mm256_store_si256(out + 7, _mm256_permute2x128_si256(b3, b7, 0x31));
}

// A legacy block's 32 values u (value = d·u + m, as unpack_legacy in quant_gemm.c).
AVX2 static INLINE __m256i unpack_legacy_avx2(int type, const char *blk) {
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    switch (type) {
    case T_Q4_0: return unpack_nibbles(((const block_q4_0 *)blk)->qs);
    case T_Q4_1: return unpack_nibbles(((const block_q4_1 *)blk)->qs);
    case T_Q5_0: { const block_q5_0 *b = (const block_q5_0 *)blk;
                   return _mm256_or_si256(unpack_nibbles(b->qs), _mm256_and_si256(unpack_bits(b->qh), bit4)); }
    case T_Q5_1: { const block_q5_1 *b = (const block_q5_1 *)blk;
                   return _mm256_or_si256(unpack_nibbles(b->qs), _mm256_and_si256(unpack_bits(b->qh), bit4)); }
    default: return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)blk)->qs); // T_Q8_0
    }
}

// The tile of quant_gemm.c's portable packer, byte for byte (vane_tile_pack_mismatches): legacy blocks go from
// storage to tile vectors in registers; K-quants unpack into flat as there, then transpose in registers.
AVX2 void vane_pack_tile_avx2(quant_tile *t, uint8_t *flat, const char *w, size_t row_bytes, int rows) {
    const int64_t n = t->cols;
    __m256i v[TILE_ROWS];
    if (t->type >= T_Q2_K && t->type <= T_Q6_K) {
        vane_tile_unpack(t, flat, w, row_bytes, rows);
        for (int64_t c = 0; c < n / QK; c++) {
            for (int r = 0; r < TILE_ROWS; r++) v[r] = _mm256_loadu_si256((const __m256i *)(flat + r * n + QK * c));
            transpose_store(v, t->q + QK * TILE_ROWS * c);
        }
        return;
    }
    const int64_t nb = n / QK;
    const size_t block_bytes = row_bytes / (size_t)nb;
    const int with_m = t->type == T_Q4_1 || t->type == T_Q5_1;
    // m = −8d (q4_0), −16d (q5_0), +0 (q8_0), or its own f16 (q?_1); rows past `rows` get d = m = +0.
    const __m256 m_of_d = _mm256_set1_ps(t->type == T_Q4_0 ? -8.0f : -16.0f);
    const __m256 present = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(rows),
                                                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    uint16_t dh[TILE_ROWS] = {0}, mh[TILE_ROWS] = {0};
    for (int r = rows; r < TILE_ROWS; r++) v[r] = _mm256_setzero_si256();
    for (int64_t b = 0; b < nb; b++) {
        for (int r = 0; r < rows; r++) {
            const char *blk = w + (size_t)r * row_bytes + (size_t)b * block_bytes;
            v[r] = unpack_legacy_avx2(t->type, blk);
            memcpy(&dh[r], blk, 2); // every legacy block starts with its f16 d (and q?_1 with m after it)
            if (with_m) memcpy(&mh[r], blk + 2, 2);
        }
        transpose_store(v, t->q + QK * TILE_ROWS * b);
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dh));
        const __m256 m = with_m ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)mh))
                       : t->type == T_Q8_0 ? _mm256_setzero_ps() : _mm256_mul_ps(m_of_d, d); // +0, never −0·d
        _mm256_storeu_ps(t->d + b * 8, _mm256_and_ps(d, present));
        _mm256_storeu_ps(t->m + b * 8, _mm256_and_ps(m, present));
    }
}

// --- kernels --------------------------------------------------------------------------------------------------------

// Tile vectors whose int16 pair sums are added before widening: |u·q| pair sums stay below 2^15 for this many.
// q4 (u ≤ 15): 8 (8·2·15·127 = 30480); q5 (u ≤ 31): 4; q8_0 (|u| ≤ 128 once its sign moves to q): 1.
AVX2 static INLINE void legacy_kernel(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows,
                                      const int G, const int sgn) {
    const int64_t n = t->cols, nb = n / QK;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t v0 = 0; v0 < a->count; v0 += 4) {
        const int64_t r0 = tile_act_row(a, v0), r1 = tile_act_row(a, v0 + 1), r2 = tile_act_row(a, v0 + 2),
                      r3 = tile_act_row(a, v0 + 3);
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
#define STEP(P, Q) { __m256i x = tile_bcast4(Q + o); if (sgn) x = _mm256_sign_epi8(x, w); P = _mm256_add_epi16(P, _mm256_maddubs_epi16(wu, x)); }
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
                        p0 = _mm256_add_epi16(p0, _mm256_maddubs_epi16(w, tile_bcast4(a0[b].qs + o)));
                        p1 = _mm256_add_epi16(p1, _mm256_maddubs_epi16(w, tile_bcast4(a1[b].qs + o)));
                        p2 = _mm256_add_epi16(p2, _mm256_maddubs_epi16(w, tile_bcast4(a2[b].qs + o)));
                        p3 = _mm256_add_epi16(p3, _mm256_maddubs_epi16(w, tile_bcast4(a3[b].qs + o)));
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
                m0 = _mm256_add_epi32(m0, _mm256_madd_epi16(mc, tile_bcast4(a0[b].bsums + 2 * j)));
                m1 = _mm256_add_epi32(m1, _mm256_madd_epi16(mc, tile_bcast4(a1[b].bsums + 2 * j)));
                m2 = _mm256_add_epi32(m2, _mm256_madd_epi16(mc, tile_bcast4(a2[b].bsums + 2 * j)));
                m3 = _mm256_add_epi32(m3, _mm256_madd_epi16(mc, tile_bcast4(a3[b].bsums + 2 * j)));
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
