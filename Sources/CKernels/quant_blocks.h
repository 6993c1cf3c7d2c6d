// Block layouts of ggml's quantized types (as in ggml-common.h), shared by the kernels of this target.
//
// Legacy types pack 32 consecutive values of a row per block. Their 4-bit quants sit in qs[16]: value j (j < 16)
// is the low nibble of qs[j], value j + 16 its high nibble. The 5-bit types keep the fifth bit of value j in bit j
// of the little-endian u32 qh. Value = d·q (q4_0: q − 8, q5_0: q − 16) or d·q + m (q4_1, q5_1).
// q8_0/q8_1 hold signed bytes; q8_1 also stores s = d·Σqs, so a dot with a q?_1 row adds m·s per block.
//
// K-quants pack 256 values per super-block, split into sub-blocks of 16 (q2_K, q3_K, q6_K: one scale per 16
// values, i.e. scale index = value index / 16) or 32 (q4_K, q5_K: 8 scale/min pairs of 6 bits packed in 12 bytes).
// The bit planes are laid out per 128 values (q2_K, q3_K, q6_K) or per 64 values (q4_K, q5_K); the helpers in
// quant_naive.c spell out, value by value, where each bit lives. q8_K is the activation side of K-quant dots:
// f32 d, 256 signed bytes and the sums of each 16 of them (bsums), which let a kernel apply per-group minimums
// or offsets with 16 multiplications instead of 256.
//
// Fields are 2-byte (4 for q8_K) aligned; weights in a GGUF file are 32-byte aligned, so every block is.
#pragma once
#include <stdint.h>
#include <string.h>

#define QK 32
#define QK_K 256

typedef struct { uint16_t d; uint8_t qs[QK / 2]; } block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_1;
typedef struct { uint16_t d; int8_t qs[QK]; } block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[QK]; } block_q8_1;
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d, dmin; } block_q2_K;
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; } block_q3_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } block_q6_K;
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block size");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 block size");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 block size");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 block size");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block size");
_Static_assert(sizeof(block_q8_1) == 36, "q8_1 block size");
_Static_assert(sizeof(block_q2_K) == 84, "q2_K block size");
_Static_assert(sizeof(block_q3_K) == 110, "q3_K block size");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K block size");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K block size");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K block size");
_Static_assert(sizeof(block_q8_K) == 292, "q8_K block size");

// ggml type ids (enum ggml_type) this target handles.
enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8, T_Q8_1 = 9,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_Q8_K = 15, T_BF16 = 30,
};

static inline float fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        float v = (float)man * 0x1p-24f; // subnormal (or zero): exact in f32
        return sign ? -v : v;
    }
    bits = exp == 31 ? sign | 0x7f800000 | man << 13 : sign | (exp + 112) << 23 | man << 13;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Round half to even, as the SIMD conversions do under the default rounding mode; |v| < 2^22.
static inline int round_even(float v) {
    float t = v + 12582912.f; // 1.5·2^23: the sum's low mantissa bits are the rounded integer
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

// f32 → f16, round to nearest even (what F16C's vcvtps2ph does with imm 0).
static inline uint16_t f32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) return sign | 0x7e00;          // NaN
    if (ax >= 0x47800000) return sign | 0x7c00;         // ≥ 2^16: infinity
    if (ax < 0x38800000) {                              // below 2^-14: f16 subnormal, steps of 2^-24
        float v;
        memcpy(&v, &ax, 4);
        return sign | (uint16_t)round_even(v * 0x1p24f); // 1024 lands on the smallest normal's encoding
    }
    uint32_t h = ((ax >> 23) - 112) << 10 | (ax & 0x7fffff) >> 13, rest = ax & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; // a carry into the exponent is the right result
    return sign | (uint16_t)h;
}

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// The 6-bit scale and min of sub-block j (0…7) of a q4_K/q5_K super-block: j < 4 keep them in the low 6 bits of
// bytes j and j + 4; j ≥ 4 split them into a nibble of byte j + 4 and the top two bits of bytes j − 4 and j.
static inline void scale_min_k4(int j, const uint8_t *s, int *sc, int *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
        *mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

// The 16 signed scales of a q3_K super-block: 6 bits each, low nibbles in bytes 0…7 (scale g < 8: low nibble of
// byte g; g ≥ 8: high nibble of byte g − 8), top two bits in bytes 8…11 (scale g: bits 2·(g / 4) of byte 8 + g % 4),
// stored with an offset of 32.
static inline void scales_q3_K(const uint8_t *s, int8_t out[16]) {
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? s[g] & 0xf : s[g - 8] >> 4;
        int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
        out[g] = (int8_t)((lo | hi << 4) - 32);
    }
}
