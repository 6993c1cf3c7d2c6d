#!/usr/bin/env bash
# Times the fast-mode products of one Q4_1 / Q5_0 / Q8_0 matrix of 1536 × 576 (a SmolLM2 FFN matrix) against 1, 4
# and 16 activation rows, one thread: the row kernels (vane_gemm_q_dots: one weight row against up to 4 vectors, each
# vector's dot as alone), the tiles packed per call (vane_gemm_q_tiled) and the weights packed at load
# (vane_gemm_q_packed). Hot: the same matrix again and again (it fits in L2/L3). Cold: 90 different matrices in turn
# (50–85 MB, past the last-level cache), as a decoding step reads a model's weights. Best of 10, microseconds per
# matrix, wall clock.
#
# Usage: scripts/bench-packed-kernels.sh   (needs clang, or CC=gcc)
set -euo pipefail
[ $# -eq 0 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/Sources/CKernels
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/bench.c" <<'C'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CKernels.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint64_t st = 88172645463325252ull;
static uint64_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return st; }
int main(int argc, char **argv) {
    const int type = atoi(argv[1]), nv = atoi(argv[2]), nm = atoi(argv[3]), rows = 1536, cols = 576;
    const int bs = type == 3 ? 20 : type == 6 ? 22 : 34, act = vane_activation_type_for(type);
    const size_t rb = (size_t)cols / 32 * bs, ab = cols / 32 * (act == 8 ? 34 : 36);
    uint8_t **w = malloc(nm * sizeof *w), **pk = malloc(nm * sizeof *pk);
    for (int m = 0; m < nm; m++) {
        w[m] = malloc(rb * rows), pk[m] = malloc(rb * rows);
        for (size_t i = 0; i < rb * rows; i++) w[m][i] = (uint8_t)rnd();
        for (size_t b = 0; b < rb * rows / bs; b++) { // finite f16 scales (and q4_1's m)
            uint16_t h = 0x2000 | (rnd() & 0x3ff);
            memcpy(w[m] + b * bs, &h, 2);
            if (type == 3) memcpy(w[m] + b * bs + 2, &h, 2);
        }
        vane_pack_rows(type, w[m], rows, cols, pk[m]);
    }
    uint8_t *xq = malloc(ab * nv);
    float *x = malloc(4 * cols), *y = malloc(4 * (size_t)rows * nv);
    for (int v = 0; v < nv; v++) {
        for (int i = 0; i < cols; i++) x[i] = (float)(rnd() % 2001) / 1000 - 1;
        vane_quantize_activation(act, x, xq + v * ab, cols);
    }
    double best[3] = {1e9, 1e9, 1e9};
    for (int rep = 0; rep < 10; rep++) {
        double t0 = now();
        for (int m = 0; m < nm; m++) vane_gemm_q_dots(type, w[m], rb, rows, cols, xq, ab, nv, y, 0, rows);
        double t1 = now();
        for (int m = 0; m < nm; m++) vane_gemm_q_tiled(type, w[m], rb, rows, cols, xq, ab, nv, y, 0, rows);
        double t2 = now();
        for (int m = 0; m < nm; m++) vane_gemm_q_packed(type, pk[m], rows, cols, xq, ab, nv, y, 0, rows);
        double t3 = now();
        if (t1 - t0 < best[0]) best[0] = t1 - t0;
        if (t2 - t1 < best[1]) best[1] = t2 - t1;
        if (t3 - t2 < best[2]) best[2] = t3 - t2;
    }
    printf("| %s | %s | %d | %.1f | %.1f | %.1f |\n", type == 3 ? "Q4_1" : type == 6 ? "Q5_0" : "Q8_0",
           nm == 1 ? "hot" : "cold", nv, best[0] / nm * 1e6, best[1] / nm * 1e6, best[2] / nm * 1e6);
}
C
${CC:-clang} -O2 -I"$src/include" -I"$src" -o "$work/bench" "$work/bench.c" "$src"/*.c -lpthread -lm
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|f16c|avx512f|avx512bw|avx512_vnni)$' | tr '\n' ' ')"
echo "| type | cache | vectors | row kernels (µs) | tiles packed per call (µs) | packed at load (µs) |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for type in 3 6 8; do
    for cache in 1 90; do
        for nv in 1 4 16; do "$work/bench" "$type" "$nv" "$cache"; done
    done
done
