// Portable reference versions of the activation quantizers and the quantized dot products: one value at a time,
// integer sums per (sub-)block, one float multiply-add per block. The SIMD versions in quant_avx2.c must produce
// the same quantized bytes and the same dots up to float summation order.
#include "CKernels.h"
#include "quant_blocks.h"

static float absmax(const float *x, int n) {
    float m = 0;
    for (int j = 0; j < n; j++) m = x[j] > m ? x[j] : (-x[j] > m ? -x[j] : m);
    return m;
}

void vane_quantize_row_q8_0_naive(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = absmax(x, QK) / 127, id = d ? 1 / d : 0;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK; j++) y[i].qs[j] = (int8_t)round_even(x[j] * id);
    }
}

void vane_quantize_row_q8_1_naive(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        const float d = absmax(x, QK) / 127, id = d ? 1 / d : 0;
        int sum = 0;
        for (int j = 0; j < QK; j++) {
            y[i].qs[j] = (int8_t)round_even(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = f32_to_fp16(d);
        y[i].s = f32_to_fp16(d * (float)sum);
    }
}

void vane_quantize_row_q8_K_naive(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        // The value of largest magnitude (the first, on ties) maps to exactly -127, keeping its sign.
        float amax = 0, max = 0;
        for (int j = 0; j < QK_K; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            if (a > amax) { amax = a; max = x[j]; }
        }
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = round_even(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y[i].qs[16 * g + j];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

// --- legacy 32-value blocks -------------------------------------------------------------------------------------

static inline int nibble(const uint8_t *qs, int j) { return j < 16 ? qs[j] & 0xf : qs[j - 16] >> 4; }

static inline uint32_t load_u32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

float vane_vec_dot_q4_0_q8_0_naive(int64_t n, const void *vw, const void *va) {
    const block_q4_0 *w = vw;
    const block_q8_0 *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += (nibble(w[i].qs, j) - 8) * a[i].qs[j];
        sum += (float)sumi * (fp16_to_f32(w[i].d) * fp16_to_f32(a[i].d));
    }
    return sum;
}

float vane_vec_dot_q4_1_q8_1_naive(int64_t n, const void *vw, const void *va) {
    const block_q4_1 *w = vw;
    const block_q8_1 *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += nibble(w[i].qs, j) * a[i].qs[j];
        sum += (float)sumi * (fp16_to_f32(w[i].d) * fp16_to_f32(a[i].d)) + fp16_to_f32(w[i].m) * fp16_to_f32(a[i].s);
    }
    return sum;
}

float vane_vec_dot_q5_0_q8_0_naive(int64_t n, const void *vw, const void *va) {
    const block_q5_0 *w = vw;
    const block_q8_0 *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        const uint32_t qh = load_u32(w[i].qh);
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += ((nibble(w[i].qs, j) | ((qh >> j) & 1) << 4) - 16) * a[i].qs[j];
        sum += (float)sumi * (fp16_to_f32(w[i].d) * fp16_to_f32(a[i].d));
    }
    return sum;
}

float vane_vec_dot_q5_1_q8_1_naive(int64_t n, const void *vw, const void *va) {
    const block_q5_1 *w = vw;
    const block_q8_1 *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        const uint32_t qh = load_u32(w[i].qh);
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += (int)(nibble(w[i].qs, j) | ((qh >> j) & 1) << 4) * a[i].qs[j];
        sum += (float)sumi * (fp16_to_f32(w[i].d) * fp16_to_f32(a[i].d)) + fp16_to_f32(w[i].m) * fp16_to_f32(a[i].s);
    }
    return sum;
}

float vane_vec_dot_q8_0_q8_0_naive(int64_t n, const void *vw, const void *va) {
    const block_q8_0 *w = vw;
    const block_q8_0 *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK; i++) {
        int sumi = 0;
        for (int j = 0; j < QK; j++) sumi += w[i].qs[j] * a[i].qs[j];
        sum += (float)sumi * (fp16_to_f32(w[i].d) * fp16_to_f32(a[i].d));
    }
    return sum;
}

// --- K-quants: 256-value super-blocks -----------------------------------------------------------------------------
// Value v of a super-block: h = v / 128 (bit-plane half), k = v % 128 / 32 (2-bit plane), l = v % 32.

float vane_vec_dot_q2_K_q8_K_naive(int64_t n, const void *vw, const void *va) {
    const block_q2_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int v = 16 * g; v < 16 * g + 16; v++) s += ((w[i].qs[32 * (v / 128) + v % 32] >> (2 * (v % 128 / 32))) & 3) * a[i].qs[v];
            sumi += (w[i].scales[g] & 0xf) * s;
            summ += (w[i].scales[g] >> 4) * a[i].bsums[g];
        }
        sum += a[i].d * (fp16_to_f32(w[i].d) * (float)sumi - fp16_to_f32(w[i].dmin) * (float)summ);
    }
    return sum;
}

float vane_vec_dot_q3_K_q8_K_naive(int64_t n, const void *vw, const void *va) {
    const block_q3_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        scales_q3_K(w[i].scales, sc);
        int sumi = 0;
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int v = 16 * g; v < 16 * g + 16; v++) {
                int low = (w[i].qs[32 * (v / 128) + v % 32] >> (2 * (v % 128 / 32))) & 3;
                int high = (w[i].hmask[v % 32] >> (v / 32)) & 1; // a clear bit means "minus 4"
                s += (low - (high ? 0 : 4)) * a[i].qs[v];
            }
            sumi += sc[g] * s;
        }
        sum += a[i].d * fp16_to_f32(w[i].d) * (float)sumi;
    }
    return sum;
}

// q4_K/q5_K: value v is in sub-block v / 32; its 4 low bits are a nibble of qs[32·(v / 64) + v % 32] (low nibble
// for the first 32 of each 64), q5_K's fifth bit is bit v / 32 of qh[v % 32].
float vane_vec_dot_q4_K_q8_K_naive(int64_t n, const void *vw, const void *va) {
    const block_q4_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int b = 0; b < 8; b++) {
            int sc, mn, s = 0;
            scale_min_k4(b, w[i].scales, &sc, &mn);
            for (int v = 32 * b; v < 32 * b + 32; v++) s += ((w[i].qs[32 * (v / 64) + v % 32] >> (4 * (b & 1))) & 0xf) * a[i].qs[v];
            sumi += sc * s;
            summ += mn * (a[i].bsums[2 * b] + a[i].bsums[2 * b + 1]);
        }
        sum += a[i].d * (fp16_to_f32(w[i].d) * (float)sumi - fp16_to_f32(w[i].dmin) * (float)summ);
    }
    return sum;
}

float vane_vec_dot_q5_K_q8_K_naive(int64_t n, const void *vw, const void *va) {
    const block_q5_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int b = 0; b < 8; b++) {
            int sc, mn, s = 0;
            scale_min_k4(b, w[i].scales, &sc, &mn);
            for (int v = 32 * b; v < 32 * b + 32; v++) {
                int q = ((w[i].qs[32 * (v / 64) + v % 32] >> (4 * (b & 1))) & 0xf) | ((w[i].qh[v % 32] >> b) & 1) << 4;
                s += q * a[i].qs[v];
            }
            sumi += sc * s;
            summ += mn * (a[i].bsums[2 * b] + a[i].bsums[2 * b + 1]);
        }
        sum += a[i].d * (fp16_to_f32(w[i].d) * (float)sumi - fp16_to_f32(w[i].dmin) * (float)summ);
    }
    return sum;
}

// q6_K: value v's low nibble is in ql[64·h + l + 32·(k & 1)] (low nibble for k < 2, high for k ≥ 2), its two high
// bits are bits 2k, 2k + 1 of qh[32·h + l]; q − 32 is the signed value.
float vane_vec_dot_q6_K_q8_K_naive(int64_t n, const void *vw, const void *va) {
    const block_q6_K *w = vw;
    const block_q8_K *a = va;
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int v = 16 * g; v < 16 * g + 16; v++) {
                int h = v / 128, k = v % 128 / 32, l = v % 32;
                int low = (w[i].ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xf;
                int high = (w[i].qh[32 * h + l] >> (2 * k)) & 3;
                s += ((low | high << 4) - 32) * a[i].qs[v];
            }
            sumi += w[i].scales[g] * s;
        }
        sum += a[i].d * fp16_to_f32(w[i].d) * (float)sumi;
    }
    return sum;
}

// --- float weights ------------------------------------------------------------------------------------------------

float vane_vec_dot_f16_f32_naive(int64_t n, const void *vw, const float *x) {
    const uint16_t *w = vw;
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += fp16_to_f32(w[i]) * x[i];
    return sum;
}

float vane_vec_dot_bf16_f32_naive(int64_t n, const void *vw, const float *x) {
    const uint16_t *w = vw;
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += bf16_to_f32(w[i]) * x[i];
    return sum;
}
