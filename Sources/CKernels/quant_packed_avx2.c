// AVX2 kernel for weights packed at load (layout in quant_packed.c). One pass runs a group of 8 weight rows against
// up to 4 activation rows as quant_gemm_avx2.c's tile kernel does; only the tile vectors come from the packed bytes
// (two per 32-byte load). A pass of 1 serves single tokens, so they do not pay for 4. Many activation rows (a
// prompt) are better served by unpacking the group into a tile once (vane_packed_group_to_tile_avx2).
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"
#include "quant_gemm.h"
#if VANE_X86
#include "simd_avx2.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

AVX2 static INLINE __m256i loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

// A packed block's d and m for its 8 rows, as the tile packers compute them: m = −8d, −16d, +0 or the stored f16.
AVX2 static INLINE void scales(const int type, const char *blk, __m256 *d, __m256 *m) {
    const packed_layout L = packed_layout_of(type);
    *d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
    *m = L.with_m ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)))
       : L.q8 ? _mm256_setzero_ps() : _mm256_mul_ps(_mm256_set1_ps(type == T_Q4_0 ? -8.0f : -16.0f), *d);
}

// 0x10 in the bytes of tile vector t whose fifth bit is set: bit t of the bytes of h, moved to bit 4 (16-bit shifts
// move no bit that the mask keeps across a byte boundary).
AVX2 static INLINE __m256i fifth_bits(__m256i h, const int t) {
    const __m256i v = t <= 4 ? _mm256_slli_epi16(h, 4 - t) : _mm256_srli_epi16(h, t - 4);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

// Activation rows v0…v0+R−1 (R = 1 or 4; past the last row a pass repeats it and stores nothing for the copies).
AVX2 static INLINE void pass(const int type, const int R, const char *group, int64_t cols, const quant_acts *a,
                             float *y, int64_t ldy, int64_t v0) {
    const int64_t nb = cols / QK;
    const packed_layout L = packed_layout_of(type);
    const __m256i low = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    int64_t row[4];
    const int8_t *q[4];
    __m256 c[4];
    for (int i = 0; i < R; i++) {
        row[i] = tile_act_row(a, v0 + i);
        q[i] = a->q + row[i] * cols;
        c[i] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const char *blk = group + b * L.bytes;
        __m256i s[4];
        if (L.q8) {
            // The sign moves onto the activations, as in the tile kernel: |u| ≤ 128 fits vpmaddubsw's unsigned side.
            for (int i = 0; i < R; i++) s[i] = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                const __m256i w = loadu(blk + L.qs_at + 32 * k), wu = _mm256_abs_epi8(w);
                for (int i = 0; i < R; i++)
                    s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(_mm256_maddubs_epi16(
                               wu, _mm256_sign_epi8(tile_bcast4(q[i] + b * QK + 4 * k), w)), ones));
            }
        } else {
            // int16 pair sums: q4 (u ≤ 15) adds all 8 tile vectors before widening, q5 (u ≤ 31) 4 at a time.
            __m256i lo_sum[4], hi_sum[4];
            for (int i = 0; i < R; i++) lo_sum[i] = hi_sum[i] = _mm256_setzero_si256();
            const __m256i h = L.q5 ? loadu(blk + L.h_at) : _mm256_setzero_si256();
            for (int k = 0; k < 4; k++) {
                const __m256i w = loadu(blk + L.qs_at + 32 * k);
                __m256i lo = _mm256_and_si256(w, low), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low);
                if (L.q5) lo = _mm256_or_si256(lo, fifth_bits(h, k)), hi = _mm256_or_si256(hi, fifth_bits(h, k + 4));
                for (int i = 0; i < R; i++) {
                    lo_sum[i] = _mm256_add_epi16(lo_sum[i], _mm256_maddubs_epi16(lo, tile_bcast4(q[i] + b * QK + 4 * k)));
                    hi_sum[i] = _mm256_add_epi16(hi_sum[i], _mm256_maddubs_epi16(hi, tile_bcast4(q[i] + b * QK + 16 + 4 * k)));
                }
            }
            for (int i = 0; i < R; i++)
                s[i] = L.q5 ? _mm256_add_epi32(_mm256_madd_epi16(lo_sum[i], ones), _mm256_madd_epi16(hi_sum[i], ones))
                          : _mm256_madd_epi16(_mm256_add_epi16(lo_sum[i], hi_sum[i]), ones);
        }
        // The tile kernel's float operations, on the same d and m.
        __m256 d, m;
        scales(type, blk, &d, &m);
        for (int i = 0; i < R; i++)
            c[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(a->sa[row[i] * nb + b]),
                                   _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]),
                                                   _mm256_mul_ps(d, _mm256_set1_ps(a->da[row[i] * nb + b])), c[i]));
    }
    for (int i = 0; i < R; i++)
        if (v0 + i < a->count) _mm256_storeu_ps(y + (v0 + i) * ldy, c[i]);
}

// The group as the tile quant_gemm.c's packers write for its rows (for prompts: unpacked once, then run against many
// activation rows by the tile kernels).
AVX2 void vane_packed_group_to_tile_avx2(int type, const char *group, quant_tile *t) {
    const int64_t nb = t->cols / QK;
    const packed_layout L = packed_layout_of(type);
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        const char *blk = group + b * L.bytes;
        __m256i *tq = (__m256i *)(t->q + b * QK * TILE_ROWS);
        if (L.q8) {
            for (int k = 0; k < 8; k++) _mm256_store_si256(tq + k, loadu(blk + L.qs_at + 32 * k));
        } else {
            const __m256i h = L.q5 ? loadu(blk + L.h_at) : _mm256_setzero_si256();
            for (int k = 0; k < 4; k++) {
                const __m256i w = loadu(blk + L.qs_at + 32 * k);
                __m256i lo = _mm256_and_si256(w, low), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), low);
                if (L.q5) lo = _mm256_or_si256(lo, fifth_bits(h, k)), hi = _mm256_or_si256(hi, fifth_bits(h, k + 4));
                _mm256_store_si256(tq + k, lo);
                _mm256_store_si256(tq + k + 4, hi);
            }
        }
        __m256 d, m;
        scales(type, blk, &d, &m);
        _mm256_storeu_ps(t->d + b * 8, d);
        _mm256_storeu_ps(t->m + b * 8, m);
    }
}

AVX2 static INLINE void group_kernel(const int type, const char *group, int64_t cols, const quant_acts *a, float *y,
                                     int64_t ldy) {
    int64_t v0 = 0;
    for (; a->count - v0 >= 2; v0 += 4) pass(type, 4, group, cols, a, y, ldy, v0);
    if (v0 < a->count) pass(type, 1, group, cols, a, y, ldy, v0);
}

AVX2 void vane_packed_group_avx2(int type, const char *group, int64_t cols, const quant_acts *a, float *y,
                                 int64_t ldy) {
    switch (type) {
    case T_Q4_0: group_kernel(T_Q4_0, group, cols, a, y, ldy); break;
    case T_Q4_1: group_kernel(T_Q4_1, group, cols, a, y, ldy); break;
    case T_Q5_0: group_kernel(T_Q5_0, group, cols, a, y, ldy); break;
    case T_Q5_1: group_kernel(T_Q5_1, group, cols, a, y, ldy); break;
    default: group_kernel(T_Q8_0, group, cols, a, y, ldy); break;
    }
}

#endif // VANE_X86
