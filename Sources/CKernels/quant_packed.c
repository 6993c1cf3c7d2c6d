// Legacy quantized weights repacked once at load, in groups of 8 rows, so that every fast product (one token, a
// batched decoding step, a prompt) runs the tile kernels' arithmetic straight from memory, with no unpacking per
// call and no more bytes than the file holds.
//
// A group holds rows 8g…8g+7 and, for each 32-value block b, the 8 rows' blocks b side by side (8 × the block's
// size, at group + b · 8 · block bytes):
//
//     d[8]  f16       row r's d at 2r
//     m[8]  f16       q4_1, q5_1 only
//     h[32]           q5_0, q5_1 only: the fifth bits, byte 4r + i holding in bit t that of value 4t + i of row r
//     qs              4 vectors of 32 bytes (q8_0: 8): vector k holds bytes 4k…4k+3 of each row's qs, row r at 4r
//
// For the 4- and 5-bit types, vector k's low nibbles are tile vector k (values 4k…4k+3 of each row, quant_gemm.h)
// and its high nibbles tile vector k + 4 (values 16 + 4k…); for q8_0 vector k is tile vector k itself. So a kernel
// gets two tile vectors from one load with an AND and a shift (and tile vector t's fifth bits from h with a shift
// by 4 − t and an AND), and computes each row's dot as the tile kernels do:
// the same int32 block sums and the same float operations after them, hence the same bits (tested).
#include <stdlib.h>
#include "CKernels.h"
#include "quant_blocks.h"
#include "quant_avx2.h"
#include "quant_gemm.h"

_Static_assert(2 * 8 + 4 * 32 == 8 * sizeof(block_q4_0), "q4_0 group block");
_Static_assert(4 * 8 + 4 * 32 == 8 * sizeof(block_q4_1), "q4_1 group block");
_Static_assert(2 * 8 + 4 * 8 + 4 * 32 == 8 * sizeof(block_q5_0), "q5_0 group block");
_Static_assert(4 * 8 + 4 * 8 + 4 * 32 == 8 * sizeof(block_q5_1), "q5_1 group block");
_Static_assert(2 * 8 + 8 * 32 == 8 * sizeof(block_q8_0), "q8_0 group block");

#define PACKED_TILE_MIN_VECS 8

static size_t block_bytes(int type) {
    switch (type) {
    case T_Q4_0: return sizeof(block_q4_0);
    case T_Q4_1: return sizeof(block_q4_1);
    case T_Q5_0: return sizeof(block_q5_0);
    case T_Q5_1: return sizeof(block_q5_1);
    case T_Q8_0: return sizeof(block_q8_0);
    default: return 0;
    }
}

int vane_packs(int type, int64_t rows, int64_t cols) {
    return block_bytes(type) > 0 && rows > 0 && rows % 8 == 0 && cols > 0 && cols % QK == 0;
}

int vane_pack_rows(int type, const void *w, int64_t rows, int64_t cols, void *packed) {
    if (!vane_packs(type, rows, cols)) return -1;
    const size_t bb = block_bytes(type), row_bytes = (size_t)(cols / QK) * bb;
    const packed_layout L = packed_layout_of(type);
    const size_t qs_len = L.q8 ? 32 : 16;
    // Where qh and qs sit in a stored block (block_q*: d, [m], [qh], qs).
    const size_t src_qs = bb - qs_len, src_qh = src_qs - 4;
    for (int64_t g = 0; g < rows / 8; g++)
        for (int64_t b = 0; b < cols / QK; b++) {
            char *dst = (char *)packed + (size_t)g * 8 * row_bytes + (size_t)b * 8 * bb;
            for (int r = 0; r < 8; r++) {
                const char *src = (const char *)w + (size_t)(8 * g + r) * row_bytes + (size_t)b * bb;
                memcpy(dst + 2 * r, src, 2);
                if (L.with_m) memcpy(dst + 16 + 2 * r, src + 2, 2);
                if (L.q5) {
                    uint32_t qh;
                    memcpy(&qh, src + src_qh, 4);
                    for (int i = 0; i < 4; i++) {
                        uint8_t h = 0;
                        for (int t = 0; t < 8; t++) h |= (uint8_t)(((qh >> (4 * t + i)) & 1) << t);
                        dst[L.h_at + 4 * r + i] = (char)h;
                    }
                }
                for (size_t k = 0; k < qs_len / 4; k++) memcpy(dst + L.qs_at + 32 * k + 4 * r, src + src_qs + 4 * k, 4);
            }
        }
    return 0;
}

// A packed group → the tile quant_gemm.c's packers write for the same 8 rows (portable kernels, tests).
static void group_to_tile(int type, const char *group, quant_tile *t) {
    const int64_t nb = t->cols / QK;
    const packed_layout L = packed_layout_of(type);
    for (int64_t b = 0; b < nb; b++) {
        const char *blk = group + b * L.bytes;
        uint8_t *tq = t->q + b * QK * TILE_ROWS;
        for (int r = 0; r < 8; r++) {
            uint16_t h;
            memcpy(&h, blk + 2 * r, 2);
            const float d = fp16_to_f32(h);
            t->d[b * 8 + r] = d;
            if (L.with_m) memcpy(&h, blk + 16 + 2 * r, 2);
            t->m[b * 8 + r] = L.with_m ? fp16_to_f32(h) : type == T_Q4_0 ? -8 * d : type == T_Q5_0 ? -16 * d : 0;
            for (int j = 0; j < QK; j++) {
                uint8_t u;
                if (type == T_Q8_0) {
                    u = (uint8_t)blk[L.qs_at + 32 * (j / 4) + 4 * r + j % 4];
                } else {
                    const int i = j % 16; // qs byte of value j: low nibble for j < 16, high for j ≥ 16
                    const uint8_t byte = (uint8_t)blk[L.qs_at + 32 * (i / 4) + 4 * r + i % 4];
                    const uint8_t h = L.q5 ? (uint8_t)blk[L.h_at + 4 * r + j % 4] : 0;
                    u = (uint8_t)((j < 16 ? byte & 0xf : byte >> 4) | ((h >> (j / 4)) & 1) << 4);
                }
                tq[32 * (j / 4) + 4 * r + j % 4] = u;
            }
        }
    }
}

static int gemm_packed(int type, const void *packed, int64_t rows, int64_t cols, const void *xq, size_t xq_row_bytes,
                       int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end, int simd) {
    if (!vane_packs(type, rows, cols) || row_begin < 0 || row_end > rows || row_begin % 8 || row_end % 8) return -1;
    if (row_begin >= row_end || n_vecs <= 0) return 0;
    const size_t group_bytes = 8 * (size_t)(cols / QK) * block_bytes(type);
    quant_acts a = {.count = n_vecs, .k = xq, .row_bytes = xq_row_bytes};
    quant_tile t;
    uint8_t *flat;
    char *acts;
    // Past PACKED_TILE_MIN_VECS vectors a group is unpacked into a tile once and the tile kernels run it against
    // every vector (on AVX-512 VNNI hosts, theirs); the portable path always does so. Same bits either way.
    const int to_tile = !simd || n_vecs > PACKED_TILE_MIN_VECS;
    char *mem = vane_tile_alloc(&t, &flat, type, to_tile ? cols : QK, vane_legacy_acts_bytes(n_vecs, cols), &acts);
    if (!mem) return -1;
    vane_legacy_acts(&a, type, acts, cols);
    for (int64_t r0 = row_begin; r0 < row_end; r0 += 8) {
        const char *group = (const char *)packed + (size_t)(r0 / 8) * group_bytes;
#if VANE_X86
        if (simd) {
            if (!to_tile) {
                vane_packed_group_avx2(type, group, cols, &a, y + r0, rows);
            } else {
                vane_packed_group_to_tile_avx2(type, group, &t);
                (vane_cpu_has_avx512_vnni() ? vane_tile_legacy_avx512 : vane_tile_legacy_avx2)(&t, &a, y + r0, rows, TILE_ROWS);
            }
            continue;
        }
#endif
        group_to_tile(type, group, &t);
        vane_tile_legacy_naive(&t, &a, y + r0, rows, TILE_ROWS);
    }
    free(mem);
    return 0;
}

int vane_gemm_q_packed_naive(int type, const void *packed, int64_t rows, int64_t cols, const void *xq,
                             size_t xq_row_bytes, int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
    return gemm_packed(type, packed, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end, 0);
}

int vane_gemm_q_packed(int type, const void *packed, int64_t rows, int64_t cols, const void *xq, size_t xq_row_bytes,
                       int64_t n_vecs, float *y, int64_t row_begin, int64_t row_end) {
#if VANE_X86
    if (has_avx2()) return gemm_packed(type, packed, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end, 1);
#endif
    return vane_gemm_q_packed_naive(type, packed, rows, cols, xq, xq_row_bytes, n_vecs, y, row_begin, row_end);
}
