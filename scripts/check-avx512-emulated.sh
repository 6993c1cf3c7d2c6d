#!/usr/bin/env bash
# Runs the AVX-512 VNNI tile kernels (Sources/CKernels/quant_gemm_avx512.c) on a CPU without AVX-512, with the
# AVX-512 intrinsics emulated by SIMDe (https://github.com/simd-everywhere/simde, header-only), and checks that
# every type's tiled product equals the AVX2 kernels' bit for bit: random blocks of Q4_0 … Q8_0 and Q2_K … Q6_K,
# 1 … 8 tiles of rows (full and partial), 1 … 11 activation rows. The AVX2 parts run natively. On a host with
# AVX-512 VNNI the test suite checks the same thing natively (QuantGemmTests.avx512TilesEqualAVX2Tiles).
#
# Usage: SIMDE=path/to/simde scripts/check-avx512-emulated.sh   (the folder that holds simde/x86/avx512.h)
set -euo pipefail
: "${SIMDE:?set SIMDE to a SIMDe checkout (the folder holding simde/x86/avx512.h)}"
[ -f "$SIMDE/simde/x86/avx512.h" ] || { echo "no simde/x86/avx512.h under $SIMDE" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/Sources/CKernels
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The kernel file as it is, with its intrinsics taken from SIMDe, compiled for AVX2, and the CPU check answering yes.
sed -e 's|#include "simd_avx2.h"|#define SIMDE_ENABLE_NATIVE_ALIASES\n#include <simde/x86/avx512.h>\n#include "simd_avx2.h"|' \
    -e 's|target("avx2,fma,f16c,avx512f,avx512bw,avx512vnni")|target("avx2,fma,f16c")|' \
    -e 's|__builtin_cpu_supports("avx512[a-z]*")|1|g' \
    "$src/quant_gemm_avx512.c" > "$work/quant_gemm_avx512.c"
grep -q 'simde/x86/avx512.h' "$work/quant_gemm_avx512.c" && ! grep -q 'avx512vnni")' "$work/quant_gemm_avx512.c" \
    || { echo "quant_gemm_avx512.c changed shape: update this script's substitutions" >&2; exit 2; }
cat > "$work/driver.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"

enum { F16_BITS = 0 };
static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) { uint64_t z = (state += 0x9E3779B97F4A7C15ull); z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
                             z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31); }
// A finite f16 of magnitude 2^-10 … 2^-1 and random sign: block scales that keep sums finite.
static uint16_t f16(void) { uint64_t r = next(); return (uint16_t)(((r & 1) << 15) | ((5 + r % 10) << 10) | ((r >> 8) & 0x3ff)); }

struct layout { int type, block, values, act; int f16_at[2]; };
static const struct layout types[] = {
    {2, 18, 32, 8, {0, -1}}, {3, 20, 32, 9, {0, 2}}, {6, 22, 32, 8, {0, -1}}, {7, 24, 32, 9, {0, 2}},
    {8, 34, 32, 8, {0, -1}}, {10, 84, 256, 15, {80, 82}}, {11, 110, 256, 15, {108, -1}},
    {12, 144, 256, 15, {0, 2}}, {13, 176, 256, 15, {0, 2}}, {14, 210, 256, 15, {208, -1}},
};
static size_t act_bytes(int act, int64_t n) { return act == 15 ? (size_t)(n / 256) * 292 : (size_t)(n / 32) * (act == 8 ? 34 : 36); }

int main(void) {
    int failures = 0, checked = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const struct layout L = types[t];
        for (int rows = 1; rows <= 64; rows += 7)
            for (int nv = 1; nv <= 11; nv += 2) {
                const int64_t cols = L.values * (1 + (int64_t)(next() % 6));
                const size_t rb = (size_t)(cols / L.values) * L.block;
                uint8_t *w = malloc(rb * rows);
                for (size_t i = 0; i < rb * rows; i++) w[i] = (uint8_t)next();
                for (size_t b = 0; b < rb * rows / L.block; b++)
                    for (int k = 0; k < 2; k++)
                        if (L.f16_at[k] >= 0) { uint16_t h = f16(); memcpy(w + b * L.block + L.f16_at[k], &h, 2); }
                const size_t ab = act_bytes(L.act, cols);
                uint8_t *xq = malloc(ab * nv);
                float *x = malloc(sizeof(float) * cols);
                for (int v = 0; v < nv; v++) {
                    for (int64_t i = 0; i < cols; i++) x[i] = (float)((int64_t)(next() % 2001) - 1000) / 250.0f;
                    if (vane_quantize_activation(L.act, x, xq + v * ab, cols)) { printf("quantize failed\n"); return 2; }
                }
                float *y512 = malloc(sizeof(float) * rows * nv), *y2 = malloc(sizeof(float) * rows * nv);
                const int e1 = vane_gemm_q_tiled(L.type, w, rb, rows, cols, xq, ab, nv, y512, 0, rows);
                const int e2 = vane_gemm_q_tiled_avx2(L.type, w, rb, rows, cols, xq, ab, nv, y2, 0, rows);
                if (e1 || e2) { printf("type %d: returned %d / %d\n", L.type, e1, e2); return 2; }
                for (int i = 0; i < rows * nv; i++, checked++)
                    if (memcmp(&y512[i], &y2[i], 4) && failures++ < 10)
                        printf("type %d rows %d vectors %d cols %lld: output %d: AVX-512 %.9g vs AVX2 %.9g\n", L.type, rows,
                               nv, (long long)cols, i, y512[i], y2[i]);
                free(w), free(xq), free(x), free(y512), free(y2);
            }
    }
    printf("%d outputs compared, %d differ (tolerance 0)\n", checked, failures);
    return failures != 0;
}
C
cc -O2 -Wno-psabi -mavx2 -mfma -mf16c -std=gnu11 -I"$SIMDE" -I"$src/include" -I"$src" -o "$work/check" \
    "$work/driver.c" "$work/quant_gemm_avx512.c" $(ls "$src"/*.c | grep -v quant_gemm_avx512.c) -lm -lpthread
"$work/check"
