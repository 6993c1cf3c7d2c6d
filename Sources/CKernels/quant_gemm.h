// Matrix × matrix products of quantized weights with quantized activations (prompt batches). A tile of 8 weight
// rows is unpacked once into one byte per value, interleaved so that each 32-byte vector holds 4 consecutive values
// of each of the 8 rows (row r at bytes 4r…4r+3), with the rows' block scales beside; the kernels then run every
// activation row against the tile. One vpmaddubsw of a tile vector with 4 activation bytes broadcast yields
// partial dots of all 8 rows at once, so the output lanes are the tile's rows and no horizontal sums are needed.
//
// Legacy types (32-value blocks): value = d·u + m with u the unsigned stored quant (q4: 0…15, q5: 0…31; for q?_0,
// m = −8d or −16d), or, for q8_0, value = d·u with u signed. The activation side gives per block its scale da and
// sa = da·Σq, so a block's dot is d·da·Σu·q + m·sa.
// K-quants (256-value super-blocks, 16 groups of 16): value = d·sc[g]·u − dmin·mc[g], with u unsigned (≤ 63) and
// the per-group integers sc, mc; q3_K and q6_K fold their offsets (4, 32) into mc = offset·sc with dmin = d. With
// q8_K's group sums, a super-block's dot is da·(d·Σ_g sc[g]·Σ u·q − dmin·Σ_g mc[g]·bsum[g]).
#pragma once
#include <stdint.h>
#include "quant_blocks.h"

#define TILE_ROWS 8

typedef struct {
    int type;
    int64_t cols;
    uint8_t *q;      // cols · 8 bytes: for values 4p…4p+3 of rows 0…7, 32 bytes at q + 32p
    float *d, *m;    // legacy: per block, 8 floats each (d, m); K: per super-block (d, dmin)
    int16_t *sc;     // K: per super-block, 16 groups × 16 int16 (row r's scale at 2r and 2r + 1)
    int16_t *mc;     // K: per super-block, 8 group pairs × 16 int16 (row r's mc of groups 2j, 2j + 1 at 2r, 2r + 1)
} quant_tile;

// The activation rows as the kernels read them. Legacy: q holds each row's quants contiguously (row v at
// q + v·cols), da and sa per row and block (row v at v·cols/32). K: the q8_K blocks as quantized, row v at
// k + v·row_bytes.
typedef struct {
    int64_t count;
    const int8_t *q;
    const float *da, *sa;
    const void *k;
    size_t row_bytes;
} quant_acts;

// y[v·ldy + r] = dot(tile row r, activation row v) for r < rows (≤ 8) and every activation row.
typedef void (*tile_kernel)(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows);

// Fills the tile from `rows` (≤ 8) weight rows starting at w (row_bytes apart), through `flat` (8 · cols bytes of
// scratch); rows past `rows` are zero. Every packer writes the same tile.
typedef void (*tile_packer)(quant_tile *t, uint8_t *flat, const char *w, size_t row_bytes, int rows);

// The portable part the packers share: the rows' values into flat (each row's in order) and their scales into the
// tile.
void vane_tile_unpack(quant_tile *t, uint8_t *flat, const char *w, size_t row_bytes, int rows);

void vane_tile_legacy_naive(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows);
void vane_tile_k_naive(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows);
#if defined(__x86_64__) || defined(__i386__)
void vane_tile_legacy_avx2(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows);
void vane_tile_k_avx2(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows);
void vane_pack_tile_avx2(quant_tile *t, uint8_t *flat, const char *w, size_t row_bytes, int rows);
void vane_tile_legacy_avx512(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows);
void vane_tile_k_avx512(const quant_tile *t, const quant_acts *a, float *y, int64_t ldy, int rows);
#endif

// One allocation for a tile of `type` and `cols` (and its flat scratch) with `extra_bytes` after it (*extra, 64-byte
// aligned, when extra is not NULL); free() the result. NULL when out of memory.
char *vane_tile_alloc(quant_tile *t, uint8_t **flat, int type, int64_t cols, size_t extra_bytes, char **extra);

// Legacy activation rows as the kernels read them (quant_acts.q, da, sa) from a->count rows of q8_0 or q8_1 blocks
// at a->k (a->row_bytes apart), written into mem (vane_legacy_acts_bytes of it).
size_t vane_legacy_acts_bytes(int64_t n_vecs, int64_t cols);
void vane_legacy_acts(quant_acts *a, int type, char *mem, int64_t cols);

// Where the parts of a packed group block (quant_packed.c) sit: the 8 rows' f16 d at 0, m at 16 (q?_1), fifth bits
// at h_at (q5), quants at qs_at; `bytes` = 8 × the stored block's size. Inlined, so a constant type folds it away.
typedef struct { int with_m, q5, q8; size_t h_at, qs_at, bytes; } packed_layout;
static inline __attribute__((always_inline)) packed_layout packed_layout_of(int type) {
    packed_layout l = {.with_m = type == T_Q4_1 || type == T_Q5_1, .q5 = type == T_Q5_0 || type == T_Q5_1,
                       .q8 = type == T_Q8_0};
    l.h_at = l.with_m ? 32 : 16;
    l.qs_at = l.h_at + (l.q5 ? 32 : 0);
    l.bytes = l.qs_at + (l.q8 ? 256 : 128);
    return l;
}

// Kernels on weights packed at load (quant_packed.c): y[v·ldy + r] for the group's 8 rows and every activation row.
void vane_packed_group_avx2(int type, const char *group, int64_t cols, const quant_acts *a, float *y, int64_t ldy);
void vane_packed_group_to_tile_avx2(int type, const char *group, quant_tile *t);
