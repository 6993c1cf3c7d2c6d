// Helpers shared by the AVX2 and AVX-512 tile kernels (quant_gemm_avx2.c, quant_gemm_avx512.c): storing a pass's
// results. They need AVX2 only, so the AVX-512 kernels (a superset of its features) inline them too.
#pragma once
#include <immintrin.h>
#include <stdint.h>
#include "quant_gemm.h"

#define TILE_AVX2 __attribute__((target("avx2,fma,f16c")))

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
