// AVX2 helpers shared by the SIMD kernel files (quant_avx2.c, quant_gemm_avx2.c, quant_gemm_avx512.c): unpacking
// legacy blocks, storing a tile pass's results. They need AVX2 only, so the AVX-512 kernels (a superset of its
// features) inline them too.
#pragma once
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "quant_gemm.h"

#define TILE_AVX2 __attribute__((target("avx2,fma,f16c")))

// A legacy block's 16 bytes of nibbles → 32 bytes: the low nibbles (values 0…15), then the high ones (16…31).
TILE_AVX2 static inline __m256i unpack_nibbles(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
}

// The 32 bits of a q5 qh → 32 bytes, 0xff where the bit is set. Byte j takes byte j / 8 of qh, then tests bit j % 8.
TILE_AVX2 static inline __m256i unpack_bits(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
        _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i mask = _mm256_set1_epi64x((int64_t)0x8040201008040201);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask);
}

// Row results of one activation row: the first `rows` lanes of v (a partial tile stores only its rows).
TILE_AVX2 static inline __attribute__((always_inline)) void tile_store_rows(float *y, __m256 v, int rows) {
    if (rows == TILE_ROWS) {
        _mm256_storeu_ps(y, v);
    } else {
        float tmp[TILE_ROWS];
        _mm256_storeu_ps(tmp, v);
        for (int r = 0; r < rows; r++) y[r] = tmp[r];
    }
}

// 4 activation bytes at p in every 32-bit lane: a tile vector's partner in vpmaddubsw.
TILE_AVX2 static inline __attribute__((always_inline)) __m256i tile_bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Activation rows v0…v0+3 of a pass; past the last row the pass repeats it and stores nothing for the copies.
static inline __attribute__((always_inline)) int64_t tile_act_row(const quant_acts *a, int64_t v) {
    return v < a->count ? v : a->count - 1;
}

TILE_AVX2 static inline __attribute__((always_inline)) void tile_store_pass(float *y, int64_t ldy, int64_t v0,
                                                                          int64_t count, int rows, __m256 c0,
                                                                          __m256 c1, __m256 c2, __m256 c3) {
    tile_store_rows(y + v0 * ldy, c0, rows);
    if (v0 + 1 < count) tile_store_rows(y + (v0 + 1) * ldy, c1, rows);
    if (v0 + 2 < count) tile_store_rows(y + (v0 + 2) * ldy, c2, rows);
    if (v0 + 3 < count) tile_store_rows(y + (v0 + 3) * ldy, c3, rows);
}
