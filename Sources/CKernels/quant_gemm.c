// The batched quantized product (see quant_gemm.h): unpacking weight rows into tiles, the activation side, the
// portable tile kernels, and the driver that runs them over a row range.
#include <stdlib.h>
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"
#include "quant_gemm.h"

static inline int is_k_type(int type) { return type >= T_Q2_K && type <= T_Q6_K; }

// --- unpacking one block of one weight row ------------------------------------------------------------------------
// Loops run over a block's bytes in storage order, so that compilers vectorize them.

// A legacy block as u[32] with value = d·u + m (q8_0: u signed, m = 0). Value j < 16 is the low nibble of qs[j],
// value j + 16 its high nibble; the 5-bit types keep the fifth bit of value j in bit j of qh.
static void unpack_legacy(int type, const void *blk, uint8_t u[QK], float *d, float *m) {
    const uint8_t *qs;
    uint32_t qh = 0;
    switch (type) {
    case T_Q4_0: { const block_q4_0 *b = blk; qs = b->qs; *d = fp16_to_f32(b->d), *m = -8 * *d; break; }
    case T_Q4_1: { const block_q4_1 *b = blk; qs = b->qs; *d = fp16_to_f32(b->d), *m = fp16_to_f32(b->m); break; }
    case T_Q5_0: { const block_q5_0 *b = blk; qs = b->qs; memcpy(&qh, b->qh, 4); *d = fp16_to_f32(b->d), *m = -16 * *d; break; }
    case T_Q5_1: { const block_q5_1 *b = blk; qs = b->qs; memcpy(&qh, b->qh, 4); *d = fp16_to_f32(b->d), *m = fp16_to_f32(b->m); break; }
    default: { const block_q8_0 *b = blk; memcpy(u, b->qs, QK); *d = fp16_to_f32(b->d), *m = 0; return; } // T_Q8_0
    }
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)((qs[j] & 0xf) | ((qh >> j) & 1) << 4);
        u[j + 16] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

// A K-quant super-block as u[256] with value v = d·sc[v / 16]·u[v] − dmin·mc[v / 16] (bit positions as in
// quant_naive.c: v = 128h + 32k + l for the 2-bit planes, 64c + 32·half + l for the nibbles).
static void unpack_k(int type, const void *blk, uint8_t u[QK_K], int16_t sc[16], int16_t mc[16], float *d, float *dmin) {
    switch (type) {
    case T_Q2_K: {
        const block_q2_K *b = blk;
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) u[128 * h + 32 * k + l] = (b->qs[32 * h + l] >> (2 * k)) & 3;
        for (int g = 0; g < 16; g++) sc[g] = b->scales[g] & 0xf, mc[g] = b->scales[g] >> 4;
        *d = fp16_to_f32(b->d), *dmin = fp16_to_f32(b->dmin);
        break;
    }
    case T_Q3_K: {
        const block_q3_K *b = blk;
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) // stored value u − 4: the hmask bit adds the 4
                    u[128 * h + 32 * k + l] = (uint8_t)(((b->qs[32 * h + l] >> (2 * k)) & 3) | ((b->hmask[l] >> (4 * h + k)) & 1) << 2);
        int8_t s[16];
        scales_q3_K(b->scales, s);
        for (int g = 0; g < 16; g++) sc[g] = s[g], mc[g] = (int16_t)(4 * s[g]);
        *d = *dmin = fp16_to_f32(b->d);
        break;
    }
    case T_Q4_K:
    case T_Q5_K: {
        const block_q4_K *b4 = blk;
        const block_q5_K *b5 = blk;
        const uint8_t *scales = type == T_Q4_K ? b4->scales : b5->scales, *qs = type == T_Q4_K ? b4->qs : b5->qs;
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                u[64 * c + l] = qs[32 * c + l] & 0xf;
                u[64 * c + 32 + l] = qs[32 * c + l] >> 4;
            }
        if (type == T_Q5_K)
            for (int c = 0; c < 4; c++)
                for (int l = 0; l < 32; l++) {
                    u[64 * c + l] |= ((b5->qh[l] >> (2 * c)) & 1) << 4;
                    u[64 * c + 32 + l] |= ((b5->qh[l] >> (2 * c + 1)) & 1) << 4;
                }
        for (int sb = 0; sb < 8; sb++) {
            int s, mn;
            scale_min_k4(sb, scales, &s, &mn);
            sc[2 * sb] = sc[2 * sb + 1] = (int16_t)s;
            mc[2 * sb] = mc[2 * sb + 1] = (int16_t)mn;
        }
        *d = fp16_to_f32(b4->d), *dmin = fp16_to_f32(b4->dmin); // d, dmin lead both layouts
        break;
    }
    default: { // T_Q6_K: stored value u − 32
        const block_q6_K *b = blk;
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++)
                    u[128 * h + 32 * k + l] = (uint8_t)(((b->ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xf) |
                                                        ((b->qh[32 * h + l] >> (2 * k)) & 3) << 4);
        for (int g = 0; g < 16; g++) sc[g] = b->scales[g], mc[g] = (int16_t)(32 * b->scales[g]);
        *d = *dmin = fp16_to_f32(b->d);
    }
    }
}

// Unpacks `rows` (≤ 8) weight rows starting at w: their values into `flat` (8 · cols bytes, each row's values in
// order) and their scales into the tile. Rows past `rows` are zero and dot to zero.
void vane_tile_unpack(quant_tile *t, uint8_t *flat, const char *w, size_t row_bytes, int rows) {
    const int64_t n = t->cols;
    const int k = is_k_type(t->type);
    const int len = k ? QK_K : QK;
    const int64_t nb = n / len;
    if (rows < TILE_ROWS) {
        memset(flat + rows * n, 0, (size_t)((TILE_ROWS - rows) * n));
        memset(t->d, 0, (size_t)nb * TILE_ROWS * sizeof(float));
        memset(t->m, 0, (size_t)nb * TILE_ROWS * sizeof(float));
        if (k) {
            memset(t->sc, 0, (size_t)nb * 256 * sizeof(int16_t));
            memset(t->mc, 0, (size_t)nb * 128 * sizeof(int16_t));
        }
    }
    const size_t block_bytes = row_bytes / (size_t)nb;
    for (int r = 0; r < rows; r++) {
        const char *row = w + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *u = flat + r * n + b * len;
            if (k) {
                int16_t sc[16], mc[16];
                unpack_k(t->type, row + b * block_bytes, u, sc, mc, &t->d[b * 8 + r], &t->m[b * 8 + r]);
                for (int g = 0; g < 16; g++) t->sc[b * 256 + g * 16 + 2 * r] = t->sc[b * 256 + g * 16 + 2 * r + 1] = sc[g];
                for (int j = 0; j < 8; j++) {
                    t->mc[b * 128 + j * 16 + 2 * r] = mc[2 * j];
                    t->mc[b * 128 + j * 16 + 2 * r + 1] = mc[2 * j + 1];
                }
            } else {
                unpack_legacy(t->type, row + b * block_bytes, u, &t->d[b * 8 + r], &t->m[b * 8 + r]);
            }
        }
    }
}

// The portable packer: unpacked rows, then interleaved 4 bytes at a time.
static void pack_tile(quant_tile *t, uint8_t *flat, const char *w, size_t row_bytes, int rows) {
    vane_tile_unpack(t, flat, w, row_bytes, rows);
    for (int64_t p = 0; p < t->cols / 4; p++)
        for (int r = 0; r < TILE_ROWS; r++) memcpy(t->q + 32 * p + 4 * r, flat + r * t->cols + 4 * p, 4);
}

// --- portable tile kernels ------------------------------------------------------------------------------------------

void vane_tile_legacy_naive(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows) {
    const int64_t n = t->cols, nb = n / QK;
    const int sgn = t->type == T_Q8_0;
    for (int64_t v = 0; v < a->count; v++) {
        const int8_t *aq = a->q + v * n;
        for (int r = 0; r < rows; r++) {
            float sum = 0;
            for (int64_t b = 0; b < nb; b++) {
                int sumi = 0;
                for (int j = 0; j < QK; j++) {
                    const int64_t p = b * QK + j;
                    const uint8_t u = t->q[(p / 4) * 32 + r * 4 + p % 4];
                    sumi += (sgn ? (int8_t)u : (int)u) * aq[p];
                }
                sum += (float)sumi * (t->d[b * 8 + r] * a->da[v * nb + b]) + t->m[b * 8 + r] * a->sa[v * nb + b];
            }
            y[v * ldy + r] = sum;
        }
    }
}

void vane_tile_k_naive(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows) {
    const int64_t nb = t->cols / QK_K;
    for (int64_t v = 0; v < a->count; v++) {
        const block_q8_K *ab = (const block_q8_K *)((const char *)a->k + v * a->row_bytes);
        for (int r = 0; r < rows; r++) {
            float sum = 0;
            for (int64_t b = 0; b < nb; b++) {
                int sumi = 0, summ = 0;
                for (int g = 0; g < 16; g++) {
                    int s = 0;
                    for (int j = 0; j < 16; j++) {
                        const int64_t p = b * QK_K + g * 16 + j;
                        s += t->q[(p / 4) * 32 + r * 4 + p % 4] * ab[b].qs[g * 16 + j];
                    }
                    sumi += t->sc[b * 256 + g * 16 + 2 * r] * s;
                    summ += t->mc[b * 128 + (g / 2) * 16 + 2 * r + g % 2] * ab[b].bsums[g];
                }
                sum += ab[b].d * (t->d[b * 8 + r] * (float)sumi - t->m[b * 8 + r] * (float)summ);
            }
            y[v * ldy + r] = sum;
        }
    }
}

// --- driver ---------------------------------------------------------------------------------------------------------

// Bytes of a tile of `type` and `cols`: its quants, interleaved and flat, and its scales.
static size_t tile_bytes(int type, int64_t cols) {
    const int64_t nb = cols / (is_k_type(type) ? QK_K : QK);
    return 2 * (size_t)cols * TILE_ROWS + 2 * (size_t)nb * TILE_ROWS * sizeof(float)
         + (is_k_type(type) ? (size_t)nb * 384 * sizeof(int16_t) : 0);
}

char *vane_tile_alloc(quant_tile *t, uint8_t **flat, int type, int64_t cols, size_t extra_bytes, char **extra) {
    const int k = is_k_type(type);
    const int64_t nb = cols / (k ? QK_K : QK);
    const size_t q_bytes = (size_t)cols * TILE_ROWS, f_bytes = (size_t)nb * TILE_ROWS * sizeof(float);
    const size_t own = (tile_bytes(type, cols) + 63) / 64 * 64;
    char *mem = aligned_alloc(64, own + (extra_bytes + 63) / 64 * 64);
    if (!mem) return NULL;
    *t = (quant_tile){.type = type, .cols = cols};
    char *p = mem;
    t->q = (uint8_t *)p, p += q_bytes;
    *flat = (uint8_t *)p, p += q_bytes;
    t->d = (float *)p, p += f_bytes;
    t->m = (float *)p, p += f_bytes;
    if (k) t->sc = (int16_t *)p, t->mc = (int16_t *)(p + (size_t)nb * 256 * sizeof(int16_t));
    if (extra) *extra = mem + own;
    return mem;
}

size_t vane_legacy_acts_bytes(int64_t n_vecs, int64_t cols) {
    return (size_t)(n_vecs * cols) + 2 * (size_t)(n_vecs * (cols / QK)) * sizeof(float);
}

void vane_legacy_acts(quant_acts *a, int type, char *mem, int64_t cols) {
    const int64_t n_vecs = a->count, nb = cols / QK;
    int8_t *aq = (int8_t *)mem;
    float *da = (float *)(mem + n_vecs * cols), *sa = da + n_vecs * nb;
    // q8_0 blocks are (d, qs[32]), q8_1 blocks (d, s, qs[32]); s is recomputed exactly from the quants.
    const size_t ab = type == T_Q4_1 || type == T_Q5_1 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t off = ab - QK;
    for (int64_t v = 0; v < n_vecs; v++) {
        const char *row = (const char *)a->k + v * a->row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            const char *blk = row + b * ab;
            uint16_t d16;
            memcpy(&d16, blk, 2);
            memcpy(aq + v * cols + b * QK, blk + off, QK);
            int sum = 0;
            for (int j = 0; j < QK; j++) sum += aq[v * cols + b * QK + j];
            da[v * nb + b] = fp16_to_f32(d16);
            sa[v * nb + b] = da[v * nb + b] * (float)sum;
        }
    }
    a->q = aq, a->da = da, a->sa = sa;
}

static int tiled_shape_ok(int type, int64_t cols) {
    const int legacy = type == T_Q4_0 || type == T_Q4_1 || type == T_Q5_0 || type == T_Q5_1 || type == T_Q8_0;
    return (is_k_type(type) || legacy) && cols > 0 && cols % (is_k_type(type) ? QK_K : QK) == 0;
}

static int gemm_tiled(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                      size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end,
                      tile_packer pack, tile_kernel legacy, tile_kernel kquant) {
    if (!tiled_shape_ok(type, cols) || row_begin < 0 || row_end > rows) return -1;
    if (row_begin >= row_end || n_vecs <= 0) return 0;
    const int k = is_k_type(type);
    quant_tile t;
    uint8_t *flat;
    quant_acts a = {.count = n_vecs, .k = xq, .row_bytes = xq_row_bytes};
    // For legacy types the activations' quants and per-block scales and sums follow the tile.
    const size_t acts_bytes = k ? 0 : vane_legacy_acts_bytes(n_vecs, cols);
    char *p;
    char *mem = vane_tile_alloc(&t, &flat, type, cols, acts_bytes, &p);
    if (!mem) return -1;
    if (!k) vane_legacy_acts(&a, type, p, cols);
    const tile_kernel kernel = k ? kquant : legacy;
    for (int64_t r0 = row_begin; r0 < row_end; r0 += TILE_ROWS) {
        const int nr = (int)(row_end - r0 < TILE_ROWS ? row_end - r0 : TILE_ROWS);
        pack(&t, flat, (const char *)w + (size_t)r0 * row_bytes, row_bytes, nr);
        kernel(&t, &a, y + r0, rows, nr);
    }
    free(mem);
    return 0;
}

int64_t vane_tile_pack_mismatches(int type, const void *w, size_t row_bytes, int rows, int64_t cols) {
#if VANE_X86
    if (!has_avx2() || !tiled_shape_ok(type, cols) || rows < 1 || rows > TILE_ROWS) return -1;
    quant_tile a, b;
    uint8_t *fa, *fb;
    char *ma = vane_tile_alloc(&a, &fa, type, cols, 0, NULL), *mb = vane_tile_alloc(&b, &fb, type, cols, 0, NULL);
    int64_t differ = -1;
    if (ma && mb) {
        // Garbage first, so that bytes either packer leaves unwritten show up.
        const int64_t nb = cols / (is_k_type(type) ? QK_K : QK);
        memset(ma, 0x5a, tile_bytes(type, cols)), memset(mb, 0xa5, tile_bytes(type, cols));
        pack_tile(&a, fa, w, row_bytes, rows);
        vane_pack_tile_avx2(&b, fb, w, row_bytes, rows);
        differ = 0;
        for (int64_t i = 0; i < cols * TILE_ROWS; i++) differ += a.q[i] != b.q[i];
        differ += memcmp(a.d, b.d, (size_t)nb * TILE_ROWS * sizeof(float)) != 0;
        differ += memcmp(a.m, b.m, (size_t)nb * TILE_ROWS * sizeof(float)) != 0;
        if (is_k_type(type)) {
            differ += memcmp(a.sc, b.sc, (size_t)nb * 256 * sizeof(int16_t)) != 0;
            differ += memcmp(a.mc, b.mc, (size_t)nb * 128 * sizeof(int16_t)) != 0;
        }
    }
    free(ma), free(mb);
    return differ;
#else
    (void)type, (void)w, (void)row_bytes, (void)rows, (void)cols;
    return -1;
#endif
}

int vane_gemm_q_tiled_naive(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                            size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
    return gemm_tiled(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end,
                      pack_tile, vane_tile_legacy_naive, vane_tile_k_naive);
}

int vane_gemm_q_tiled_avx2(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                           size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
#if VANE_X86
    if (has_avx2())
        return gemm_tiled(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end,
                          vane_pack_tile_avx2, vane_tile_legacy_avx2, vane_tile_k_avx2);
#endif
    return -1;
}

int vane_gemm_q_tiled(int type, const void *w, size_t row_bytes, int64_t rows, int64_t cols, const void *xq,
                      size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
#if VANE_X86
    if (vane_cpu_has_avx512_vnni())
        return gemm_tiled(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end,
                          vane_pack_tile_avx2, vane_tile_legacy_avx512, vane_tile_k_avx512);
    if (has_avx2())
        return vane_gemm_q_tiled_avx2(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end);
#endif
    return vane_gemm_q_tiled_naive(type, w, row_bytes, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end);
}
