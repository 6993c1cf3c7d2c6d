// AVX2/FMA/F16C versions of the activation quantizers and quantized dot products. Integer work per block:
// weights are widened to one byte per value, multiplied with the int8 activations by vpmaddubsw (unsigned ×
// signed byte pairs summed to int16, which never saturates here: |q| ≤ 63 or 128, |a| ≤ 127) and vpmaddwd (int16
// pairs to int32, with the per-sub-block scale as the multiplier), then converted to float once per block.
#include <stdlib.h>
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"
#if VANE_X86
#include "simd_avx2.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

AVX2 static inline float f16(uint16_t h) { return _cvtsh_ss(h); }

// Σ x·y over 32 byte pairs, as 8 int32 partial sums. u: x unsigned (≤ 127 or so); s: both signed, y ≠ −128.
AVX2 static inline __m256i dot_u8_i8(__m256i x, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}
AVX2 static inline __m256i dot_i8_i8(__m256i x, __m256i y) {
    return dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

AVX2 static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

// A decoding step streams every weight matrix from memory once; on the 2-core hosts the hardware prefetcher alone
// leaves bandwidth unused (Qwen2.5-Coder-1.5B tg +6-9% with this: BENCHMARKS.md). Asks for `lines` cache lines
// from 1 KiB past p, the weight bytes a few blocks ahead (a prefetch past the matrix's end is harmless).
AVX2 static inline void prefetch_ahead(const void *p, int lines) {
    for (int l = 0; l < lines; l++) _mm_prefetch((const char *)p + 1024 + 64 * l, _MM_HINT_T0);
}

// --- activation quantizers ----------------------------------------------------------------------------------------

AVX2 static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), v); }

// Quantizes 32 floats to bytes with multiplier id (round half to even); returns the bytes in order.
AVX2 static inline __m256i quantize32(const float *x, __m256 id) {
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
    // Packing interleaves the 128-bit lanes; the final permute restores value order.
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

AVX2 static inline float absmax32(const float *x) {
    __m256 m = _mm256_max_ps(_mm256_max_ps(abs_ps(_mm256_loadu_ps(x)), abs_ps(_mm256_loadu_ps(x + 8))),
                             _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + 16)), abs_ps(_mm256_loadu_ps(x + 24))));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 void vane_quantize_row_q8_0_avx2(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = absmax32(x) / 127, id = d ? 1 / d : 0;
        y[i].d = f32_to_fp16(d);
        _mm256_storeu_si256((__m256i *)y[i].qs, quantize32(x, _mm256_set1_ps(id)));
    }
}

AVX2 void vane_quantize_row_q8_1_avx2(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = absmax32(x) / 127, id = d ? 1 / d : 0;
        const __m256i q = quantize32(x, _mm256_set1_ps(id));
        _mm256_storeu_si256((__m256i *)y[i].qs, q);
        const int sum = hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1)));
        y[i].d = f32_to_fp16(d);
        y[i].s = f32_to_fp16(d * (float)sum);
    }
}

AVX2 void vane_quantize_row_q8_K_avx2(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float amax = 0;
        for (int j = 0; j < QK_K; j += QK) {
            float m = absmax32(x + j);
            amax = m > amax ? m : amax;
        }
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        // The first value of largest magnitude sets the sign, as in the reference; the bound only matters when a
        // NaN made amax match nothing.
        int first = 0;
        while (first < QK_K - 1 && x[first] != amax && x[first] != -amax) first++;
        const float iscale = -127.f / x[first];
        const __m256 is = _mm256_set1_ps(iscale);
        for (int j = 0; j < QK_K; j += QK) {
            // |iscale·x| ≤ 127 up to rounding; the saturating packs in quantize32 clamp like the reference does.
            const __m256i q = quantize32(x + j, is);
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), q);
            // Sums of each 16: byte pairs to int16, then pairs again to int32 (4 values each), then per 16.
            const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
            const __m256i s8 = _mm256_hadd_epi32(s4, s4); // lane-wise: [a0+a1, a2+a3, a0+a1, a2+a3 | b…]
            const __m256i s16 = _mm256_hadd_epi32(s8, s8);
            y[i].bsums[j / 16] = (int16_t)_mm256_extract_epi32(s16, 0);
            y[i].bsums[j / 16 + 1] = (int16_t)_mm256_extract_epi32(s16, 4);
        }
        y[i].d = 1 / iscale;
    }
}

// --- legacy 32-value blocks: two blocks per iteration, one float accumulator each -------------------------------

// The two f16 at p (a block's d and m, or d and s) as lanes 0 and 1, converted in one instruction.
AVX2 static inline __m128 f16x2(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm_cvtph_ps(_mm_cvtsi32_si128(v));
}

// [d·d', m·s'] of a q?_1 weight block and a q8_1 activation block: each begins with two f16 (d, m) and (d, s).
AVX2 static inline __m128 scales_dm(const void *w, const void *a) { return _mm_mul_ps(f16x2(w), f16x2(a)); }

// d·d' of a weight block and a q8_0 activation block, both starting with an f16 d, broadcast. Loading 4 bytes
// converts a neighbouring value too, which lane 0 never sees.
AVX2 static inline __m256 scale_d(const void *w, const void *a) {
    return _mm256_broadcastss_ps(scales_dm(w, a));
}

AVX2 float vane_vec_dot_q4_0_q8_0_avx2(int64_t n, const void *vw, const void *va) {
    const block_q4_0 *w = vw;
    const block_q8_0 *a = va;
    const int64_t nb = n / QK;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        prefetch_ahead(w + i, 1);
        __m256i p0 = dot_i8_i8(_mm256_sub_epi8(unpack_nibbles(w[i].qs), eight), load256(a[i].qs));
        __m256i p1 = dot_i8_i8(_mm256_sub_epi8(unpack_nibbles(w[i + 1].qs), eight), load256(a[i + 1].qs));
        acc0 = _mm256_fmadd_ps(scale_d(&w[i], &a[i]), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(scale_d(&w[i + 1], &a[i + 1]), _mm256_cvtepi32_ps(p1), acc1);
    }
    if (i < nb) {
        __m256i p0 = dot_i8_i8(_mm256_sub_epi8(unpack_nibbles(w[i].qs), eight), load256(a[i].qs));
        acc0 = _mm256_fmadd_ps(scale_d(&w[i], &a[i]), _mm256_cvtepi32_ps(p0), acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

// The m·s terms gather in lane 1 of `mins`, lane 0 only ever adds zero: ds is multiplied by [0, 1, 0, 0].
AVX2 float vane_vec_dot_q4_1_q8_1_avx2(int64_t n, const void *vw, const void *va) {
    const block_q4_1 *w = vw;
    const block_q8_1 *a = va;
    const int64_t nb = n / QK;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m128 mins = _mm_setzero_ps();
    const __m128 lane1 = _mm_setr_ps(0, 1, 0, 0);
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        prefetch_ahead(w + i, 1);
        const __m128 ds0 = scales_dm(&w[i], &a[i]), ds1 = scales_dm(&w[i + 1], &a[i + 1]);
        __m256i p0 = dot_u8_i8(unpack_nibbles(w[i].qs), load256(a[i].qs));
        __m256i p1 = dot_u8_i8(unpack_nibbles(w[i + 1].qs), load256(a[i + 1].qs));
        acc0 = _mm256_fmadd_ps(_mm256_broadcastss_ps(ds0), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_broadcastss_ps(ds1), _mm256_cvtepi32_ps(p1), acc1);
        mins = _mm_fmadd_ps(_mm_add_ps(ds0, ds1), lane1, mins);
    }
    if (i < nb) {
        const __m128 ds0 = scales_dm(&w[i], &a[i]);
        __m256i p0 = dot_u8_i8(unpack_nibbles(w[i].qs), load256(a[i].qs));
        acc0 = _mm256_fmadd_ps(_mm256_broadcastss_ps(ds0), _mm256_cvtepi32_ps(p0), acc0);
        mins = _mm_fmadd_ps(ds0, lane1, mins);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1)) + _mm_cvtss_f32(_mm_shuffle_ps(mins, mins, 1));
}

AVX2 float vane_vec_dot_q5_0_q8_0_avx2(int64_t n, const void *vw, const void *va) {
    const block_q5_0 *w = vw;
    const block_q8_0 *a = va;
    __m256 acc = _mm256_setzero_ps();
    const __m256i sixteen = _mm256_set1_epi8(16);
    for (int64_t i = 0; i < n / QK; i++) {
        prefetch_ahead(w + i, 1);
        // (nibble | bit·16) − 16 = nibble − 16 where the bit is clear.
        const __m256i q = _mm256_sub_epi8(unpack_nibbles(w[i].qs), _mm256_andnot_si256(unpack_bits(w[i].qh), sixteen));
        const __m256i p = dot_i8_i8(q, load256(a[i].qs));
        acc = _mm256_fmadd_ps(scale_d(&w[i], &a[i]), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum_ps(acc);
}

AVX2 float vane_vec_dot_q5_1_q8_1_avx2(int64_t n, const void *vw, const void *va) {
    const block_q5_1 *w = vw;
    const block_q8_1 *a = va;
    __m256 acc = _mm256_setzero_ps();
    __m128 mins = _mm_setzero_ps();
    const __m128 lane1 = _mm_setr_ps(0, 1, 0, 0);
    const __m256i sixteen = _mm256_set1_epi8(16);
    for (int64_t i = 0; i < n / QK; i++) {
        prefetch_ahead(w + i, 1);
        const __m128 ds = scales_dm(&w[i], &a[i]);
        const __m256i q = _mm256_or_si256(unpack_nibbles(w[i].qs), _mm256_and_si256(unpack_bits(w[i].qh), sixteen));
        const __m256i p = dot_u8_i8(q, load256(a[i].qs));
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(ds), _mm256_cvtepi32_ps(p), acc);
        mins = _mm_fmadd_ps(ds, lane1, mins);
    }
    return hsum_ps(acc) + _mm_cvtss_f32(_mm_shuffle_ps(mins, mins, 1));
}

AVX2 float vane_vec_dot_q8_0_q8_0_avx2(int64_t n, const void *vw, const void *va) {
    const block_q8_0 *w = vw;
    const block_q8_0 *a = va;
    const int64_t nb = n / QK;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        prefetch_ahead(w + i, 2);
        __m256i p0 = dot_i8_i8(load256(w[i].qs), load256(a[i].qs));
        __m256i p1 = dot_i8_i8(load256(w[i + 1].qs), load256(a[i + 1].qs));
        acc0 = _mm256_fmadd_ps(scale_d(&w[i], &a[i]), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(scale_d(&w[i + 1], &a[i + 1]), _mm256_cvtepi32_ps(p1), acc1);
    }
    if (i < nb) {
        __m256i p0 = dot_i8_i8(load256(w[i].qs), load256(a[i].qs));
        acc0 = _mm256_fmadd_ps(scale_d(&w[i], &a[i]), _mm256_cvtepi32_ps(p0), acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

// --- K-quants -----------------------------------------------------------------------------------------------------

// Scale vector for 32 values spanning two 16-value groups: int16 s0 in the low 128-bit lane, s1 in the high one
// (vpmaddubsw keeps values 0…15 of a 32-byte vector in the low lane).
// Q6_K's 6-bit values u in 0…63 for 128 weights: the low 4 bits from ql (l0, l1: 64 bytes), the high 2 from qh
// (32 bytes), as four vectors of 32 in the order of the activations.
AVX2 static inline void q6_K_unpack(__m256i l0, __m256i l1, __m256i qh, __m256i u[4]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(0x30);
    u[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), two));
    u[1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), two));
    u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(qh, two));
    u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), two));
}

AVX2 static inline __m256i scale_pair(int s0, int s1) {
    return _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0));
}

// The 16 signed scales of a q6_K block as int16, each half in both 128-bit lanes: s[0] holds scales 0…7, s[1] 8…15.
AVX2 static inline void scales_q6_K(const int8_t *sc, __m256i s[2]) {
    const __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
    s[0] = _mm256_permute2x128_si256(w, w, 0x00);
    s[1] = _mm256_permute2x128_si256(w, w, 0x11);
}

// scale_pair(sc[g], sc[g + 1]) for g = 8h + 2k, from s = scales_q6_K's s[h]: word 2k in the low lane, 2k + 1 in the high.
AVX2 static inline __m256i scale_pair_q6_K(__m256i s, int k) {
    const short lo = (short)((4 * k + 1) << 8 | 4 * k), hi = (short)((4 * k + 3) << 8 | (4 * k + 2));
    return _mm256_shuffle_epi8(s, _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo)));
}

// The 8 scales and 8 mins of a q4_K/q5_K super-block (6 bits each, packed as scale_min_k4 reads them one at a time)
// as int16: scales in the low 128-bit lane, mins in the high one. Bytes 0…3 hold scales 0…3 and bytes 4…7 mins
// 0…3 in their low 6 bits; bytes 8…11 the low nibbles of scales 4…7 and, in their high nibbles, of mins 4…7; the top
// 2 bits of bytes 0…3 (4…7) are bits 4…5 of scales (mins) 4…7.
AVX2 static inline __m256i scales_mins_k4(const uint8_t *s) {
    uint32_t u[3];
    memcpy(u, s, 12);
    const uint32_t k63 = 0x3f3f3f3f, k0f = 0x0f0f0f0f, k03 = 0x03030303;
    const uint32_t sc_hi = (u[2] & k0f) | ((u[0] >> 6) & k03) << 4, mn_hi = ((u[2] >> 4) & k0f) | ((u[1] >> 6) & k03) << 4;
    return _mm256_cvtepu8_epi16(_mm_setr_epi32((int)(u[0] & k63), (int)sc_hi, (int)(u[1] & k63), (int)mn_hi));
}

// Σ_b min[b]·(bsums[2b] + bsums[2b + 1]) over the 8 sub-blocks (mins from scales_mins_k4; exact in int32).
AVX2 static inline int mins_bsums_k4(__m256i scm, const int16_t *bsums) {
    const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums), _mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m128i s = _mm_madd_epi16(_mm256_extracti128_si256(scm, 1), pairs);
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// Scale b of a q4_K/q5_K block in every int16 lane; sc = scales_mins_k4's scales in both lanes.
AVX2 static inline __m256i scale_k4(__m256i sc, int b) {
    return _mm256_shuffle_epi8(sc, _mm256_set1_epi16((short)((2 * b + 1) << 8 | 2 * b)));
}

// Σ_g scale[g]·bsums[g] over the 16 groups (scales as int8).
AVX2 static inline int scaled_bsums(const int8_t sc[16], const int16_t *bsums) {
    const __m256i s = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
    return hsum_epi32(_mm256_madd_epi16(s, load256(bsums)));
}

AVX2 float vane_vec_dot_q2_K_q8_K_avx2(int64_t n, const void *vw, const void *va) {
    const block_q2_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    const __m256i three = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t m[16];
        for (int g = 0; g < 16; g++) m[g] = (int8_t)(w[i].scales[g] >> 4);
        mins += a[i].d * fp16_to_f32(w[i].dmin) * (float)scaled_bsums(m, a[i].bsums);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = load256(w[i].qs + 32 * h);
            for (int k = 0; k < 4; k++, q = _mm256_srli_epi16(q, 2)) {
                const int g = 8 * h + 2 * k;
                const __m256i p = _mm256_maddubs_epi16(_mm256_and_si256(q, three), load256(a[i].qs + 128 * h + 32 * k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(w[i].scales[g] & 0xf, w[i].scales[g + 1] & 0xf)));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins;
}

AVX2 float vane_vec_dot_q3_K_q8_K_avx2(int64_t n, const void *vw, const void *va) {
    const block_q3_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        scales_q3_K(w[i].scales, sc);
        // Values are u − 4 with u = low | high << 2 in 0…7; Σ(u − 4)·a = Σu·a − 4·Σa per group of 16.
        const int offset = -4 * scaled_bsums(sc, a[i].bsums);
        __m256i sumi = _mm256_setzero_si256();
        __m256i hm = load256(w[i].hmask);
        for (int h = 0; h < 2; h++) {
            __m256i q = load256(w[i].qs + 32 * h);
            for (int k = 0; k < 4; k++, q = _mm256_srli_epi16(q, 2), hm = _mm256_srli_epi16(hm, 1)) {
                const int g = 8 * h + 2 * k;
                const __m256i u = _mm256_or_si256(_mm256_and_si256(q, three), _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
                const __m256i p = _mm256_maddubs_epi16(u, load256(a[i].qs + 128 * h + 32 * k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(sc[g], sc[g + 1])));
            }
        }
        sumi = _mm256_add_epi32(sumi, _mm256_setr_epi32(offset, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

AVX2 float vane_vec_dot_q4_K_q8_K_avx2(int64_t n, const void *vw, const void *va) {
    const block_q4_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < n / QK_K; i++) {
        prefetch_ahead(w + i, 3);
        const __m256i scm = scales_mins_k4(w[i].scales), sc = _mm256_permute2x128_si256(scm, scm, 0x00);
        mins += a[i].d * f16(w[i].dmin) * (float)mins_bsums_k4(scm, a[i].bsums);
        __m256i sum0 = _mm256_setzero_si256(), sum1 = _mm256_setzero_si256(); // two chains; int32 sums are exact
        for (int c = 0; c < 4; c++) {
            const __m256i q = load256(w[i].qs + 32 * c);
            const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q, low4), load256(a[i].qs + 64 * c));
            const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), load256(a[i].qs + 64 * c + 32));
            sum0 = _mm256_add_epi32(sum0, _mm256_madd_epi16(p0, scale_k4(sc, 2 * c)));
            sum1 = _mm256_add_epi32(sum1, _mm256_madd_epi16(p1, scale_k4(sc, 2 * c + 1)));
        }
        const __m256i sumi = _mm256_add_epi32(sum0, sum1);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins;
}

AVX2 float vane_vec_dot_q5_K_q8_K_avx2(int64_t n, const void *vw, const void *va) {
    const block_q5_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    const __m256i low4 = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < n / QK_K; i++) {
        prefetch_ahead(w + i, 3);
        const __m256i scm = scales_mins_k4(w[i].scales), sc = _mm256_permute2x128_si256(scm, scm, 0x00);
        mins += a[i].d * f16(w[i].dmin) * (float)mins_bsums_k4(scm, a[i].bsums);
        __m256i sumi = _mm256_setzero_si256();
        __m256i qh = load256(w[i].qh); // bit b of each byte belongs to sub-block b: shifted down 2 per 64 values
        for (int c = 0; c < 4; c++, qh = _mm256_srli_epi16(qh, 2)) {
            const __m256i q = load256(w[i].qs + 32 * c);
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(q, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bit4));
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), _mm256_and_si256(_mm256_slli_epi16(qh, 3), bit4));
            const __m256i p0 = _mm256_maddubs_epi16(q0, load256(a[i].qs + 64 * c));
            const __m256i p1 = _mm256_maddubs_epi16(q1, load256(a[i].qs + 64 * c + 32));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, scale_k4(sc, 2 * c)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, scale_k4(sc, 2 * c + 1)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins;
}

AVX2 float vane_vec_dot_q6_K_q8_K_avx2(int64_t n, const void *vw, const void *va) {
    const block_q6_K *w = vw;
    const block_q8_K *a = va;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        prefetch_ahead(w + i, 4);
        const int8_t *sc = w[i].scales;
        // Values are u − 32 with u in 0…63; Σ(u − 32)·a = Σu·a − 32·Σa per group of 16.
        const int offset = -32 * scaled_bsums(sc, a[i].bsums);
        __m256i scales[2];
        scales_q6_K(sc, scales);
        __m256i sum0 = _mm256_setzero_si256(), sum1 = _mm256_setzero_si256(); // two chains; int32 sums are exact
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = load256(w[i].ql + 64 * h), l1 = load256(w[i].ql + 64 * h + 32);
            const __m256i qh = load256(w[i].qh + 32 * h);
            __m256i u[4];
            q6_K_unpack(l0, l1, qh, u);
            for (int k = 0; k < 4; k += 2) {
                const __m256i p0 = _mm256_maddubs_epi16(u[k], load256(a[i].qs + 128 * h + 32 * k));
                const __m256i p1 = _mm256_maddubs_epi16(u[k + 1], load256(a[i].qs + 128 * h + 32 * k + 32));
                sum0 = _mm256_add_epi32(sum0, _mm256_madd_epi16(p0, scale_pair_q6_K(scales[h], k)));
                sum1 = _mm256_add_epi32(sum1, _mm256_madd_epi16(p1, scale_pair_q6_K(scales[h], k + 1)));
            }
        }
        __m256i sumi = _mm256_add_epi32(sum0, sum1);
        sumi = _mm256_add_epi32(sumi, _mm256_setr_epi32(offset, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

// --- float weights ------------------------------------------------------------------------------------------------

AVX2 float vane_vec_dot_f16_f32_avx2(int64_t n, const void *vw, const float *x) {
    const uint16_t *w = vw;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), acc1);
    }
    float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) sum += f16(w[i]) * x[i];
    return sum;
}

AVX2 static inline __m256 bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

AVX2 float vane_vec_dot_bf16_f32_avx2(int64_t n, const void *vw, const float *x) {
    const uint16_t *w = vw;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(bf16x8(w + i), _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
    }
    float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) sum += bf16_to_f32(w[i]) * x[i];
    return sum;
}

// --- weight rows against several activation rows (the sequences of a batched decoding step) ----------------------
// y[v·ldy + r] = the single-row kernel's dot of weight row r with activation row v (at a + v·stride), bit for bit:
// each pair keeps that kernel's integer lane sums, float accumulators, operation order and final sums. What is
// shared: each weight block is unpacked once for up to DOTS_ROWS activation rows, and the activations' f16 block
// scales are converted once per call (the products and sums of the same floats are the same floats).

#define INLINE inline __attribute__((always_inline))
#define DOTS_ROWS 4

// Runs KERNEL for each weight row over groups of up to DOTS_ROWS activation rows (the group size a constant, so
// that the per-row accumulators stay in registers), in chunks of activation rows whose converted scales fit
// DOTS_SCALE_FLOATS: each row's block scales d at ad[v·nb + block], and for q8_1 (SCALES = 2) the s fields
// transposed, at st[block·DOTS_ROWS·groups + v], so that a group's s of one block are 4 consecutive floats.
// q8_K activations (SCALES = 0) keep their float d.
#define DOTS(name, kernel, SCALES)                                                                                  \
    AVX2 void name(int64_t n, const void *w, size_t row_bytes, int64_t rows, const void *a, size_t stride,         \
                   int64_t nv, float *y, int64_t ldy) {                                                            \
        const int64_t nb = n / QK; /* legacy blocks: only they have scales to convert */                          \
        float scales[DOTS_SCALE_FLOATS];                                                                            \
        const int64_t chunk = SCALES ? DOTS_SCALE_FLOATS / (nb * SCALES) / DOTS_ROWS * DOTS_ROWS : nv;              \
        for (int64_t v0 = 0; v0 < nv; v0 += chunk) {                                                                \
            const int64_t cv = nv - v0 < chunk ? nv - v0 : chunk, lst = (cv + DOTS_ROWS - 1) / DOTS_ROWS * DOTS_ROWS; \
            const char *ac = (const char *)a + (size_t)v0 * stride;                                                 \
            float *ad = scales, *st = scales + cv * nb;                                                             \
            for (int64_t v = 0; SCALES && v < cv; v++)                                                              \
                for (int64_t i = 0; i < nb; i++) {                                                                  \
                    const uint16_t *h = (const uint16_t *)(ac + v * stride + i * (SCALES == 2 ? sizeof(block_q8_1) : sizeof(block_q8_0))); \
                    ad[v * nb + i] = f16(h[0]);                                                                     \
                    if (SCALES == 2) st[i * lst + v] = f16(h[1]);                                                   \
                }                                                                                                   \
            for (int64_t v = cv; SCALES == 2 && v < lst; v++) /* a last group's missing rows */                    \
                for (int64_t i = 0; i < nb; i++) st[i * lst + v] = 0;                                               \
            for (int64_t r = 0; r < rows; r++) {                                                                    \
                const char *wr = (const char *)w + r * row_bytes;                                                   \
                for (int64_t v = 0; v < cv; v += DOTS_ROWS) {                                                       \
                    const char *av = ac + (size_t)v * stride;                                                       \
                    float *yv = y + (v0 + v) * ldy + r;                                                             \
                    const float *adv = ad + v * nb, *stv = st + v;                                                  \
                    switch (cv - v < DOTS_ROWS ? (int)(cv - v) : DOTS_ROWS) {                                       \
                    case 1: kernel(n, wr, av, stride, adv, nb, stv, lst, yv, ldy, 1); break;                        \
                    case 2: kernel(n, wr, av, stride, adv, nb, stv, lst, yv, ldy, 2); break;                        \
                    case 3: kernel(n, wr, av, stride, adv, nb, stv, lst, yv, ldy, 3); break;                        \
                    default: kernel(n, wr, av, stride, adv, nb, stv, lst, yv, ldy, 4); break;                       \
                    }                                                                                               \
                }                                                                                                   \
            }                                                                                                       \
        }                                                                                                           \
    }

#define DOTS_ARGS int64_t n, const void *vw, const char *a, size_t stride, const float *ad, int64_t las, \
                  const float *st, int64_t lst, float *y, int64_t ldy, const int R

// scale_d(w, a) of the single-row kernels is lane 0 of f16x2(w)·f16x2(a): here the weight's d (lane 0 of wd)
// times activation row r's converted d of block i, broadcast.
AVX2 static INLINE __m256 dots_scale(__m128 wd, const float *ad, int64_t las, int r, int64_t i) {
    return _mm256_mul_ps(_mm256_broadcastss_ps(wd), _mm256_broadcast_ss(ad + r * las + i));
}

// q4_0 and q8_0: signed weight bytes x per block, two blocks per iteration into acc0 / acc1 as in the single-row
// kernels.
AVX2 static INLINE void dots_legacy_signed(DOTS_ARGS, const int q8) {
    (void)st, (void)lst;
    const int64_t nb = n / QK;
    __m256 acc0[DOTS_ROWS], acc1[DOTS_ROWS];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    const size_t wb = q8 ? sizeof(block_q8_0) : sizeof(block_q4_0);
#define WBLK(i) ((const char *)vw + (size_t)(i) * wb)
#define WQ(i) (q8 ? load256(((const block_q8_0 *)WBLK(i))->qs) \
                  : _mm256_sub_epi8(unpack_nibbles(((const block_q4_0 *)WBLK(i))->qs), eight))
#define ACT(r) ((const block_q8_0 *)(a + (size_t)(r) * stride))
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i x0 = WQ(i), x1 = WQ(i + 1);
        const __m128 d0 = f16x2(WBLK(i)), d1 = f16x2(WBLK(i + 1));
        for (int r = 0; r < R; r++) {
            const block_q8_0 *ar = ACT(r);
            const __m256i p0 = dot_i8_i8(x0, load256(ar[i].qs)), p1 = dot_i8_i8(x1, load256(ar[i + 1].qs));
            acc0[r] = _mm256_fmadd_ps(dots_scale(d0, ad, las, r, i), _mm256_cvtepi32_ps(p0), acc0[r]);
            acc1[r] = _mm256_fmadd_ps(dots_scale(d1, ad, las, r, i + 1), _mm256_cvtepi32_ps(p1), acc1[r]);
        }
    }
    if (i < nb) {
        const __m256i x0 = WQ(i);
        const __m128 d0 = f16x2(WBLK(i));
        for (int r = 0; r < R; r++) {
            const __m256i p0 = dot_i8_i8(x0, load256(ACT(r)[i].qs));
            acc0[r] = _mm256_fmadd_ps(dots_scale(d0, ad, las, r, i), _mm256_cvtepi32_ps(p0), acc0[r]);
        }
    }
#undef WBLK
#undef WQ
#undef ACT
    for (int r = 0; r < R; r++) y[r * ldy] = hsum_ps(_mm256_add_ps(acc0[r], acc1[r]));
}

AVX2 static INLINE void dots_q4_0(DOTS_ARGS) { dots_legacy_signed(n, vw, a, stride, ad, las, st, lst, y, ldy, R, 0); }
AVX2 static INLINE void dots_q8_0(DOTS_ARGS) { dots_legacy_signed(n, vw, a, stride, ad, las, st, lst, y, ldy, R, 1); }
DOTS(vane_vec_dots_q4_0_q8_0_avx2, dots_q4_0, 1)
DOTS(vane_vec_dots_q8_0_q8_0_avx2, dots_q8_0, 1)

// q4_1 and q5_1: the single-row kernels add each block's m·s' (lane 1 of the scales vector) into lane 1 of `mins`
// (for q4_1 the two blocks of an iteration summed first), with fmadd by 1, which is an add. Here lane r of one
// vector holds activation row r's mins: the weight's m times 4 rows' s of a block in one multiply.
AVX2 static INLINE __m128 dots_ms(__m128 dm, const float *st, int64_t lst, int64_t i) {
    return _mm_mul_ps(_mm_shuffle_ps(dm, dm, 0x55), _mm_loadu_ps(st + i * lst));
}

AVX2 static INLINE void dots_q4_1(DOTS_ARGS) {
    const block_q4_1 *w = vw;
    const int64_t nb = n / QK;
    __m256 acc0[DOTS_ROWS], acc1[DOTS_ROWS];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm256_setzero_ps();
    __m128 mins = _mm_setzero_ps();
#define ACT(r) ((const block_q8_1 *)(a + (size_t)(r) * stride))
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i x0 = unpack_nibbles(w[i].qs), x1 = unpack_nibbles(w[i + 1].qs);
        const __m128 dm0 = f16x2(&w[i]), dm1 = f16x2(&w[i + 1]);
        for (int r = 0; r < R; r++) {
            const __m256i p0 = dot_u8_i8(x0, load256(ACT(r)[i].qs)), p1 = dot_u8_i8(x1, load256(ACT(r)[i + 1].qs));
            acc0[r] = _mm256_fmadd_ps(dots_scale(dm0, ad, las, r, i), _mm256_cvtepi32_ps(p0), acc0[r]);
            acc1[r] = _mm256_fmadd_ps(dots_scale(dm1, ad, las, r, i + 1), _mm256_cvtepi32_ps(p1), acc1[r]);
        }
        mins = _mm_add_ps(mins, _mm_add_ps(dots_ms(dm0, st, lst, i), dots_ms(dm1, st, lst, i + 1)));
    }
    if (i < nb) {
        const __m256i x0 = unpack_nibbles(w[i].qs);
        const __m128 dm0 = f16x2(&w[i]);
        for (int r = 0; r < R; r++) {
            const __m256i p0 = dot_u8_i8(x0, load256(ACT(r)[i].qs));
            acc0[r] = _mm256_fmadd_ps(dots_scale(dm0, ad, las, r, i), _mm256_cvtepi32_ps(p0), acc0[r]);
        }
        mins = _mm_add_ps(mins, dots_ms(dm0, st, lst, i));
    }
#undef ACT
    float m[4];
    _mm_storeu_ps(m, mins);
    for (int r = 0; r < R; r++) y[r * ldy] = hsum_ps(_mm256_add_ps(acc0[r], acc1[r])) + m[r];
}
DOTS(vane_vec_dots_q4_1_q8_1_avx2, dots_q4_1, 2)

AVX2 static INLINE void dots_q5_0(DOTS_ARGS) {
    (void)st, (void)lst;
    const block_q5_0 *w = vw;
    __m256 acc[DOTS_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    const __m256i sixteen = _mm256_set1_epi8(16);
    for (int64_t i = 0; i < n / QK; i++) {
        const __m256i q = _mm256_sub_epi8(unpack_nibbles(w[i].qs), _mm256_andnot_si256(unpack_bits(w[i].qh), sixteen));
        const __m128 d = f16x2(&w[i]);
        for (int r = 0; r < R; r++) {
            const __m256i p = dot_i8_i8(q, load256(((const block_q8_0 *)(a + (size_t)r * stride))[i].qs));
            acc[r] = _mm256_fmadd_ps(dots_scale(d, ad, las, r, i), _mm256_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) y[r * ldy] = hsum_ps(acc[r]);
}
DOTS(vane_vec_dots_q5_0_q8_0_avx2, dots_q5_0, 1)

AVX2 static INLINE void dots_q5_1(DOTS_ARGS) {
    const block_q5_1 *w = vw;
    __m256 acc[DOTS_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    __m128 mins = _mm_setzero_ps();
    const __m256i sixteen = _mm256_set1_epi8(16);
    for (int64_t i = 0; i < n / QK; i++) {
        const __m256i q = _mm256_or_si256(unpack_nibbles(w[i].qs), _mm256_and_si256(unpack_bits(w[i].qh), sixteen));
        const __m128 dm = f16x2(&w[i]);
        for (int r = 0; r < R; r++) {
            const __m256i p = dot_u8_i8(q, load256(((const block_q8_1 *)(a + (size_t)r * stride))[i].qs));
            acc[r] = _mm256_fmadd_ps(dots_scale(dm, ad, las, r, i), _mm256_cvtepi32_ps(p), acc[r]);
        }
        mins = _mm_add_ps(mins, dots_ms(dm, st, lst, i));
    }
    float m[4];
    _mm_storeu_ps(m, mins);
    for (int r = 0; r < R; r++) y[r * ldy] = hsum_ps(acc[r]) + m[r];
}
DOTS(vane_vec_dots_q5_1_q8_1_avx2, dots_q5_1, 2)

// q4_K and q5_K: the 4 (5)-bit values of each 64 unpacked once; each row's int32 lane sums are the single-row
// kernel's (integer sums, exact in any order), its float terms are computed by the same expressions.
AVX2 static INLINE void dots_q45_K(int64_t n, const void *vw, const char *a, size_t stride, float *y, int64_t ldy,
                                   const int R, const int q5) {
    const size_t wb = q5 ? sizeof(block_q5_K) : sizeof(block_q4_K);
    __m256 acc[DOTS_ROWS];
    float mins[DOTS_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps(), mins[r] = 0;
    const __m256i low4 = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const block_q4_K *w4 = (const block_q4_K *)((const char *)vw + (size_t)i * wb);
        const block_q5_K *w5 = (const block_q5_K *)w4;
        const uint8_t *scales = q5 ? w5->scales : w4->scales, *qs = q5 ? w5->qs : w4->qs;
        const __m256i scm = scales_mins_k4(scales), sc = _mm256_permute2x128_si256(scm, scm, 0x00);
        const float d = f16(w4->d), dmin = f16(w4->dmin); // d, dmin lead both layouts
        __m256i sumi[DOTS_ROWS];
        for (int r = 0; r < R; r++) {
            const block_q8_K *ar = (const block_q8_K *)(a + (size_t)r * stride) + i;
            mins[r] += ar->d * dmin * (float)mins_bsums_k4(scm, ar->bsums);
            sumi[r] = _mm256_setzero_si256();
        }
        __m256i qh = q5 ? load256(w5->qh) : _mm256_setzero_si256();
        for (int c = 0; c < 4; c++, qh = _mm256_srli_epi16(qh, 2)) {
            const __m256i q = load256(qs + 32 * c);
            __m256i q0 = _mm256_and_si256(q, low4), q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            if (q5) {
                q0 = _mm256_or_si256(q0, _mm256_and_si256(_mm256_slli_epi16(qh, 4), bit4));
                q1 = _mm256_or_si256(q1, _mm256_and_si256(_mm256_slli_epi16(qh, 3), bit4));
            }
            const __m256i s0 = scale_k4(sc, 2 * c), s1 = scale_k4(sc, 2 * c + 1);
            for (int r = 0; r < R; r++) {
                const block_q8_K *ar = (const block_q8_K *)(a + (size_t)r * stride) + i;
                const __m256i p0 = _mm256_maddubs_epi16(q0, load256(ar->qs + 64 * c));
                const __m256i p1 = _mm256_maddubs_epi16(q1, load256(ar->qs + 64 * c + 32));
                sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p0, s0));
                sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p1, s1));
            }
        }
        for (int r = 0; r < R; r++) {
            const block_q8_K *ar = (const block_q8_K *)(a + (size_t)r * stride) + i;
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(ar->d * d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) y[r * ldy] = hsum_ps(acc[r]) - mins[r];
}

AVX2 static INLINE void dots_q4_K(DOTS_ARGS) {
    (void)ad, (void)las, (void)st, (void)lst;
    dots_q45_K(n, vw, a, stride, y, ldy, R, 0);
}
AVX2 static INLINE void dots_q5_K(DOTS_ARGS) {
    (void)ad, (void)las, (void)st, (void)lst;
    dots_q45_K(n, vw, a, stride, y, ldy, R, 1);
}
DOTS(vane_vec_dots_q4_K_q8_K_avx2, dots_q4_K, 0)
DOTS(vane_vec_dots_q5_K_q8_K_avx2, dots_q5_K, 0)

AVX2 static INLINE void dots_q6_K(DOTS_ARGS) {
    (void)ad, (void)las, (void)st, (void)lst;
    const block_q6_K *w = vw;
    __m256 acc[DOTS_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *sc = w[i].scales;
        const float d = f16(w[i].d);
        __m256i sumi[DOTS_ROWS], scales[2];
        for (int r = 0; r < R; r++) sumi[r] = _mm256_setzero_si256();
        scales_q6_K(sc, scales);
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = load256(w[i].ql + 64 * h), l1 = load256(w[i].ql + 64 * h + 32);
            const __m256i qh = load256(w[i].qh + 32 * h);
            __m256i u[4];
            q6_K_unpack(l0, l1, qh, u);
            for (int k = 0; k < 4; k++) {
                const __m256i s = scale_pair_q6_K(scales[h], k);
                for (int r = 0; r < R; r++) {
                    const block_q8_K *ar = (const block_q8_K *)(a + (size_t)r * stride) + i;
                    const __m256i p = _mm256_maddubs_epi16(u[k], load256(ar->qs + 128 * h + 32 * k));
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p, s));
                }
            }
        }
        for (int r = 0; r < R; r++) {
            const block_q8_K *ar = (const block_q8_K *)(a + (size_t)r * stride) + i;
            const int offset = -32 * scaled_bsums(sc, ar->bsums);
            sumi[r] = _mm256_add_epi32(sumi[r], _mm256_setr_epi32(offset, 0, 0, 0, 0, 0, 0, 0));
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(ar->d * d), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) y[r * ldy] = hsum_ps(acc[r]);
}
DOTS(vane_vec_dots_q6_K_q8_K_avx2, dots_q6_K, 0)

#endif // VANE_X86
