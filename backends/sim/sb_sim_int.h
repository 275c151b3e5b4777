/* sb_sim_int.h - internals shared by the analytical and executed paths. */
#ifndef SB_SIM_INT_H
#define SB_SIM_INT_H

#include "sb_sim.h"

/* One op seen as a tiled loop nest. Window ops (conv, dw, fc, maxpool) use
 * H..pl; elementwise ops (add, mul, lut, gavgpool) view data as [P][C]. */
typedef struct sb_geom {
    int kind;
    int H, W, C;            /* input rows, cols, channels (fc: 1, 1, I)   */
    int OH, OW, OC;
    int KH, KW, sh, sw, dh, dw, pt, pl;
    int T;                  /* taps KH * KW                               */
    int npar;               /* int32 per-channel parameter arrays (bias, mult, shift) */
    int P;                  /* elementwise: pixels                        */
    int rq;                 /* elementwise: requantisations per element (add 3, mul 1, lut 0) */
    int wb;                 /* SRAM word bytes                            */
    int64_t burst;          /* external burst bytes (psram)               */
    int64_t burst_f;        /* external burst bytes (flash)               */
    int64_t VT;             /* window ops: valid (output pixel, tap) pairs */
    /* conv, dw, fc: the elementwise consumers run in the output stage, in
     * chain order (sb_fuse_chain): kind (SB_SIM_K_LUT, _BIN, _BCAST) and
     * requantisations per element */
    int nf;
    int fk[SB_SIM_FUSE_MAX], frq[SB_SIM_FUSE_MAX];
    int pro;                /* 1x1 conv: the broadcast mul before it runs on its input tiles */
    /* Optional caches of the row / column aggregates of input tiles, one
     * per tile extent (index th or tw), filled lazily by the scheduler. */
    struct sb_agg *ycache, *xcache;
} sb_geom;

/* Sums over the input tiles of one dimension for a tile extent. */
typedef struct sb_agg {
    int valid;
    int64_t SR, NR, SBF;            /* rows: total, tiles with rows, full-width bursts */
    int64_t SC, NX, NFW, SBC;       /* cols: total, tiles with cols, full-width tiles, bursts of others */
} sb_agg;

int sb_geom_of(const sb_sim_hw *hw, const sb_graph *g, const sb_op *op, sb_geom *G, sb_error *err);

/* The elementwise ops that may run in the output stage of op i (a conv, dw
 * or fc): the chain of single consumers of its output (lut; add or mul whose
 * other operand exists before op i; mul broadcast by a vector that does),
 * same [pixels][channels] shape, at most SB_SIM_FUSE_MAX, stopping at the
 * graph output. Fills ops[] with their indices in chain order; returns how
 * many (0 when op i is no conv, dw or fc). */
int sb_fuse_chain(const sb_sim_hw *hw, const sb_graph *g, int i, int *ops);
/* The broadcast mul whose output only op j (a 1x1, stride-1, unpadded conv)
 * reads, so that j can apply it to each input tile as it loads the mul's
 * input (the squeeze-excitation product before a projection conv); -1 if
 * none. */
int sb_fuse_input(const sb_sim_hw *hw, const sb_graph *g, int j);
/* Adds the first n ops of a chain to the geometry of its producer. */
void sb_geom_fuse(const sb_sim_hw *hw, const sb_graph *g, const int *ops, int n, sb_geom *G);

static inline int64_t sb_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t sb_rup(int64_t a, int64_t b) { return sb_cdiv(a, b) * b; }
/* Word bytes are a power of two (8..64-bit words): shifts, not divisions
 * (the scheduler evaluates these formulas for every candidate tile). */
static inline int sb_wshift(int wb) { return wb <= 1 ? 0 : wb == 2 ? 1 : wb == 4 ? 2 : 3; }
/* Whole words holding a bytes, and a rounded up to whole words. */
static inline int64_t sb_wdiv(int64_t a, int wb) { return (a + wb - 1) >> sb_wshift(wb); }
static inline int64_t sb_wrup(int64_t a, int wb) { return (a + wb - 1) & -(int64_t)wb; }
/* Words touched by the bytes [a, a + n) of a word-aligned region. */
static inline int64_t sb_span(int64_t a, int64_t n, int wb) {
    int sh = sb_wshift(wb);
    return n <= 0 ? 0 : ((a + n - 1) >> sh) - (a >> sh) + 1;
}
/* Input index range [lo, hi) touched by output positions [o0, o1). */
static inline void sb_in_range(int o0, int o1, int stride, int k, int dil, int pad, int n,
                               int *lo, int *hi) {
    int a = o0 * stride - pad, b = (o1 - 1) * stride - pad + (k - 1) * dil + 1;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
    if (*hi < *lo) *hi = *lo;
}
/* Taps of one output position that land inside the input. */
static inline int sb_valid_taps(int o, int stride, int k, int dil, int pad, int n) {
    int c = 0;
    for (int i = 0; i < k; i++) {
        int x = o * stride - pad + i * dil;
        c += x >= 0 && x < n;
    }
    return c;
}
/* Register-file group size for a tile of tc channels (0: does not fit). */
int sb_rf_group(const sb_sim_hw *hw, const sb_geom *G, int tc, int tk);
/* 0 for a schedule the timing model cannot honour: double-buffered psum
 * spill with one spatial tile (each chunk's sums would be stored and at once
 * reloaded, a DMA round trip on the critical path that no buffer hides). */
static inline int sb_sched_valid(const sb_geom *G, const sb_sim_sched *s) {
    if (G->kind != SB_SIM_K_CONV || s->order != SB_SIM_ORDER_PSUM_SPILL || !s->db || s->tk >= G->C) return 1;
    return sb_cdiv(G->OH, s->th) * sb_cdiv(G->OW, s->tw) > 1;
}
/* SRAM bytes the tile regions need. */
int64_t sb_sched_bytes(const sb_geom *G, const sb_sim_sched *s);
/* Input-tile row/column aggregates for output tiles th x tw (cached when
 * G has caches). */
void sb_tile_aggs(const sb_geom *G, int th, int tw, sb_agg *out);
/* Closed-form counts of one op under a schedule. */
void sb_analyze_op(const sb_geom *G, const sb_sim_sched *s, sb_sim_counts *c);

/* Region layout of a schedule inside the SRAM (byte offsets). */
typedef struct sb_layout {
    int64_t in[2], w[2], b[2], out[2], par, psum, table;
    int64_t fx[SB_SIM_FUSE_MAX][2]; /* fused ops: LUT table, broadcast vector, other tile (x2) */
    int64_t pv[2];                  /* fused input mul: its vector, the chunk's channels (x2 like the input) */
    int64_t end;
} sb_layout;
void sb_layout_of(const sb_geom *G, const sb_sim_sched *s, sb_layout *L);

#endif
