/*
 * sb_sim_exec.c - executes a scheduled graph tile by tile through a byte
 * array of exactly capacity_bytes (the SRAM) and a register file filled from
 * it, counting every event where it happens:
 *   - the DMA engine derives runs and bursts from the addresses it copies
 *     (consecutive addresses of one tensor coalesce into one run), and SRAM
 *     words from the SRAM addresses it writes or reads;
 *   - the datapath counts the SRAM words it reads and writes at the actual
 *     offsets of each operand vector, and MACs per valid tap.
 * The integer results use the shared output stages of sb_kernels.h, so the
 * logits are bit-identical to the CPU backend.
 */
#include <stdlib.h>
#include <string.h>

#include "sb_kernels.h"
#include "sb_sim_int.h"

/* The elementwise consumers run in a window op's output stage. */
typedef struct fchain {
    int n;
    const sb_op *op[SB_SIM_FUSE_MAX];
    int kind[SB_SIM_FUSE_MAX], rq[SB_SIM_FUSE_MAX];
    int first[SB_SIM_FUSE_MAX];          /* the chain value is the op's a (inputs[0]) */
    const int8_t *ext[SB_SIM_FUSE_MAX];  /* the other operand in PSRAM (lut: the table in flash) */
    int64_t at[SB_SIM_FUSE_MAX][2];      /* its SRAM region (sb_layout fx) */
    const sb_op *pro;                    /* the fused input mul (NULL: none) */
    const int8_t *pro_a, *pro_vec;       /* its operands in PSRAM */
} fchain;

typedef struct ctx {
    const sb_graph *g;
    fchain *fc;              /* fused consumers of the current op (n may be 0) */
    int8_t *sram;            /* capacity_bytes                          */
    int64_t cap;
    int wb, wsh;             /* word bytes and log2 of it              */
    sb_sim_counts *c;
    /* DMA engine state: the run being assembled */
    int cls, store;
    int64_t burst;
    const int8_t *ext_end;   /* external address after the run          */
    int64_t ext_len;
    int64_t sram_start, sram_len; /* SRAM range after the SRAM-side run */
    int64_t *lut_order;      /* scratch of the simulator (not the SRAM): capacity entries */
} ctx;

/* Words touched by n > 0 bytes at SRAM offset s (word bytes a power of two). */
static inline int64_t span_sh(int64_t s, int64_t n, int sh) { return ((s + n - 1) >> sh) - (s >> sh) + 1; }

/* Round n up to whole words (word bytes a power of two: no division). */
#define RUP(x, n) ((((int64_t)(n)) + (x)->wb - 1) >> (x)->wsh << (x)->wsh)

/* ----------------------------------------------------------------- DMA */

static void ext_close(ctx *x) {
    if (x->ext_len > 0) {
        sb_sim_counts *c = x->c;
        if (x->store) c->ext_wr_bytes[x->cls] += x->ext_len;
        else c->ext_rd_bytes[x->cls] += x->ext_len;
        /* most runs fit one burst: skip the division then */
        c->ext_bursts[x->cls] += x->ext_len <= x->burst ? 1 : (x->ext_len + x->burst - 1) / x->burst;
        c->dma_xfers[x->cls]++;
    }
    x->ext_len = 0;
    x->ext_end = NULL;
}

static void sram_close(ctx *x) {
    if (x->sram_len > 0) {
        int64_t w = span_sh(x->sram_start, x->sram_len, x->wsh);
        if (x->store) { x->c->sram_rd_words[x->cls] += w; x->c->dma_sram_rd_words += w; }
        else { x->c->sram_wr_words[x->cls] += w; x->c->dma_sram_wr_words += w; }
    }
    x->sram_len = 0;
}

static void dma_flush(ctx *x) { ext_close(x); sram_close(x); }

/* Start a transfer block of one tensor (a new descriptor chain). */
static void dma_begin(ctx *x, int cls, int store, int64_t burst) {
    dma_flush(x);
    x->cls = cls; x->store = store; x->burst = burst;
}

/* Copy n bytes between external address ext and SRAM offset s: consecutive
 * external addresses extend one run (one descriptor, bursts of burst bytes),
 * consecutive SRAM addresses one streaming word access sequence. */
static inline void copy_small(int8_t *d, const int8_t *s, int64_t n) {
    if (n > 32) { memcpy(d, s, (size_t)n); return; }
    for (int64_t i = 0; i < n; i++) d[i] = s[i]; /* tiles are small: no call */
}

static inline void dma_copy(ctx *x, const int8_t *ext, int64_t s, int64_t n) {
    if (s < 0 || s + n > x->cap) abort(); /* a schedule bug: never past the SRAM */
    if (x->store) copy_small((int8_t *)ext, x->sram + s, n);
    else copy_small(x->sram + s, ext, n);
    if (ext != x->ext_end) ext_close(x);
    x->ext_len += n;
    x->ext_end = ext + n;
    if (x->sram_len == 0 || s != x->sram_start + x->sram_len) { sram_close(x); x->sram_start = s; }
    x->sram_len += n;
}

/* Datapath access of n bytes at SRAM offset s. */
static inline void rd(ctx *x, int cls, int64_t s, int64_t n) { if (n > 0) x->c->sram_rd_words[cls] += span_sh(s, n, x->wsh); }
static inline void wr(ctx *x, int cls, int64_t s, int64_t n) { if (n > 0) x->c->sram_wr_words[cls] += span_sh(s, n, x->wsh); }

/* ---------------------------------------------------------- window ops */

/* acc[j] += x . w_j for R channels at once: one pass over x feeds R
 * accumulators (R constant in each instance, so the loops vectorise). */
static inline void dots(int32_t *acc, const int8_t *xv, const int8_t *w, size_t wstride, int n, const int R) {
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const int8_t *w0 = w, *w1 = w + wstride, *w2 = w + 2 * wstride, *w3 = w + 3 * wstride;
    for (int i = 0; i < n; i++) {
        int32_t xi = xv[i];
        s0 += xi * w0[i];
        if (R > 1) s1 += xi * w1[i];
        if (R > 2) s2 += xi * w2[i];
        if (R > 3) s3 += xi * w3[i];
    }
    acc[0] += s0;
    if (R > 1) acc[1] += s1;
    if (R > 2) acc[2] += s2;
    if (R > 3) acc[3] += s3;
}

typedef struct wstep { int y0, y1, x0, x1, o0, tc, k0, tk; } wstep;

/* The output stage with fused consumers: the rg requantised values stay in
 * the datapath while each consumer applies its op with its extra operand
 * read from the SRAM (the LUT table, the channel tile's vector, the other
 * operand's tile at the output's slot); only the last value is written. */
static void fused_stage(ctx *x, const sb_op *prod, const wstep *t, int g0, int rg, int ob, int64_t pix_off,
                        const int32_t *acc, int8_t *o) {
    const sb_graph *g = x->g;
    const fchain *f = x->fc;
    int8_t v[1024]; /* rg <= regfile bytes <= 1024 */
    for (int j = 0; j < rg; j++) v[j] = sb_out_conv(g, prod, t->o0 + g0 + j, acc[j]);
    for (int i = 0; i < f->n; i++) {
        const sb_op *op = f->op[i];
        if (f->kind[i] == SB_SIM_K_LUT) {
            const int8_t *tab = x->sram + f->at[i][0];
            for (int j = 0; j < rg; j++) v[j] = tab[(int)v[j] + 128];
            x->c->sram_rd_words[SB_SIM_W] += rg; /* one word per entry read */
        } else {
            int64_t b = f->kind[i] == SB_SIM_K_BCAST ? f->at[i][0] + g0 : f->at[i][ob] + pix_off + g0;
            const int8_t *w = x->sram + b;
            rd(x, SB_SIM_IN, b, rg);
            for (int j = 0; j < rg; j++) {
                int8_t a = f->first[i] ? v[j] : w[j], c = f->first[i] ? w[j] : v[j];
                v[j] = op->type == SB_OP_ADD ? sb_out_add(g, op, a, c) : sb_out_mul(g, op, a, c);
            }
        }
        x->c->ops += rg;
        x->c->requants += (int64_t)f->rq[i] * rg;
    }
    memcpy(o, v, (size_t)rg);
}

/* The pixels of one tile for one register-file group. Everything the loop
 * touches is copied to locals first: the SRAM is an int8 array, and int8
 * stores may alias any field the compiler would otherwise reload. */
static void pixels_group(ctx *x, const sb_op *op, const sb_geom *G, const sb_layout *L, const wstep *t,
                         int k, int nk, int ib, int ob, int64_t psum_at, int g0, int rg, const int8_t *rf, int32_t *acc,
                         const int32_t *bias, const int32_t *wsum, int cols, int ylo, int xlo,
                         int64_t in_stride, int64_t out_stride, int64_t ps_stride) {
    const sb_graph *g = x->g;
    int8_t *sram = x->sram;
    const int kind = G->kind, conv = kind == SB_SIM_K_CONV, dw = kind == SB_SIM_K_DW;
    const int KH = G->KH, KW = G->KW, sh = G->sh, sw = G->sw, dh = G->dh, dwl = G->dw;
    const int pt = G->pt, pl = G->pl, H = G->H, W = G->W, T = G->T, tk = t->tk, wsh = x->wsh;
    const int zi = g->tensors[op->inputs[0]].zero_point, lo8 = op->act_min, hi8 = op->act_max;
    const int64_t in_base = L->in[ib], ps_base = psum_at + 4 * (int64_t)g0, out_base = L->out[ob] + g0;
    const int64_t in_words = conv ? span_sh(in_base, tk, wsh) : span_sh(in_base + g0, rg, wsh);
    const int64_t ps_words = span_sh(ps_base, 4 * (int64_t)rg, wsh), out_words = span_sh(out_base, rg, wsh);
    int64_t n_taps = 0, n_ps_rd = 0, n_ps_wr = 0, n_out = 0;
    int p = 0;
    for (int oy = t->y0; oy < t->y1; oy++)
        for (int ox = t->x0; ox < t->x1; ox++, p++) {
            int64_t ps_off = ps_base + p * ps_stride;
            if (kind == SB_SIM_K_POOL) for (int j = 0; j < rg; j++) acc[j] = -128;
            else if (k == 0) for (int j = 0; j < rg; j++) acc[j] = bias[j];
            else { n_ps_rd++; for (int j = 0; j < rg; j++) memcpy(&acc[j], sram + ps_off + 4 * j, 4); }
            int taps = 0;
            for (int kh = 0; kh < KH; kh++) {
                int iy = oy * sh - pt + kh * dh;
                if (iy < 0 || iy >= H) continue;
                const int8_t *row = sram + in_base + (int64_t)(iy - ylo) * cols * in_stride;
                for (int kw = 0; kw < KW; kw++) {
                    int ix = ox * sw - pl + kw * dwl;
                    if (ix < 0 || ix >= W) continue;
                    int tap = kh * KW + kw;
                    const int8_t *xv = row + (int64_t)(ix - xlo) * in_stride;
                    taps++;
                    if (conv) {
                        const int8_t *w = rf + (size_t)tap * tk;
                        size_t ws = (size_t)T * tk;
                        int j = 0;
                        for (; j + 4 <= rg; j += 4) dots(acc + j, xv, w + j * ws, ws, tk, 4);
                        switch (rg - j) {
                        case 3: dots(acc + j, xv, w + j * ws, ws, tk, 3); break;
                        case 2: dots(acc + j, xv, w + j * ws, ws, tk, 2); break;
                        case 1: dots(acc + j, xv, w + j * ws, ws, tk, 1); break;
                        default: break;
                        }
                        for (j = 0; j < rg; j++) acc[j] -= wsum[j * T + tap];
                    } else if (dw) {
                        const int8_t *wv = rf + (size_t)tap * rg;
                        for (int j = 0; j < rg; j++) acc[j] += ((int32_t)xv[g0 + j] - zi) * wv[j];
                    } else {
                        for (int j = 0; j < rg; j++) if (xv[g0 + j] > acc[j]) acc[j] = xv[g0 + j];
                    }
                }
            }
            n_taps += taps;
            if (k < nk - 1) {
                n_ps_wr++;
                for (int j = 0; j < rg; j++) memcpy(sram + ps_off + 4 * j, &acc[j], 4);
            } else {
                int8_t *o = sram + out_base + p * out_stride;
                n_out++;
                if (kind == SB_SIM_K_POOL) for (int j = 0; j < rg; j++) o[j] = sb_clamp8(acc[j], lo8, hi8);
                else if (x->fc->n) fused_stage(x, op, t, g0, rg, ob, p * out_stride, acc, o);
                else for (int j = 0; j < rg; j++) o[j] = sb_out_conv(g, op, t->o0 + g0 + j, acc[j]);
            }
        }
    /* every pixel slot is word-aligned (strides are whole words), so each
     * operand vector of the loop touched the same number of words */
    sb_sim_counts *c = x->c;
    c->sram_rd_words[SB_SIM_IN] += n_taps * in_words;
    c->sram_rd_words[SB_SIM_PSUM] += n_ps_rd * ps_words;
    c->sram_wr_words[SB_SIM_PSUM] += n_ps_wr * ps_words;
    c->sram_wr_words[SB_SIM_OUT] += n_out * out_words;
    /* as in the closed form (sb_sim_model.c): a zero-point correction per
     * tap (conv), a requantisation per output (conv, dw) */
    if (conv) { c->macs += n_taps * tk * rg; c->ops += n_taps * rg; c->requants += n_out * rg; }
    else if (dw) { c->macs += n_taps * rg; c->requants += n_out * rg; }
    else c->ops += n_taps * rg;
}

static void exec_window_step(ctx *x, const sb_op *op, const sb_geom *G, const sb_sim_sched *s,
                             const sb_layout *L, const wstep *t, int k, int nk, int ib, int wbuf, int ob,
                             int64_t psum_at) {
    const sb_graph *g = x->g;
    int conv = G->kind == SB_SIM_K_CONV, dw = G->kind == SB_SIM_K_DW;
    int zi = g->tensors[op->inputs[0]].zero_point, T = G->T;
    int ylo, yhi, xlo, xhi;
    sb_in_range(t->y0, t->y1, G->sh, G->KH, G->dh, G->pt, G->H, &ylo, &yhi);
    sb_in_range(t->x0, t->x1, G->sw, G->KW, G->dw, G->pl, G->W, &xlo, &xhi);
    int cols = xhi - xlo, kk = conv ? t->tk : t->tc;
    int64_t in_stride = RUP(x, kk), wvec = RUP(x, (int64_t)T * t->tk);
    int64_t out_stride = RUP(x, t->tc), ps_stride = RUP(x, 4 * (int64_t)t->tc);
    int64_t par_stride = RUP(x, 4 * (int64_t)s->tc);
    int8_t rf[4096];                 /* the register file: weights of one group */
    int32_t acc[1024], bias[1024], wsum[1024]; /* r x T <= regfile bytes <= 1024 */
    for (int g0 = 0; g0 < t->tc; g0 += s->r) {
        int rg = g0 + s->r > t->tc ? t->tc - g0 : s->r;
        /* register file load: weights and parameters of rg channels */
        if (conv) {
            for (int j = 0; j < rg; j++) {
                int64_t off = L->w[wbuf] + (int64_t)(g0 + j) * wvec;
                rd(x, SB_SIM_W, off, (int64_t)T * t->tk);
                copy_small(rf + (size_t)j * T * t->tk, x->sram + off, (int64_t)T * t->tk);
                /* sum (x - zi) w = sum x w - zi sum w: the weight sums of each tap
                 * let the inner loop multiply int8 by int8 only (same integers) */
                for (int tap = 0; tap < T; tap++) {
                    const int8_t *wv = rf + ((size_t)j * T + tap) * t->tk;
                    int32_t sw = 0;
                    for (int i = 0; i < t->tk; i++) sw += wv[i];
                    wsum[j * T + tap] = sw * zi;
                }
            }
        } else if (dw) {
            for (int tap = 0; tap < T; tap++) {
                int64_t off = L->w[wbuf] + (int64_t)tap * out_stride + g0;
                rd(x, SB_SIM_W, off, rg);
                copy_small(rf + (size_t)tap * rg, x->sram + off, rg);
            }
        }
        if (conv || dw) {
            for (int a = 0; a < G->npar; a++) rd(x, SB_SIM_W, L->par + a * par_stride + 4 * (int64_t)g0, 4 * (int64_t)rg);
            const int8_t *bp = x->sram + L->par + 4 * (int64_t)g0;
            for (int j = 0; j < rg; j++) memcpy(&bias[j], bp + 4 * j, 4);
        }
        pixels_group(x, op, G, L, t, k, nk, ib, ob, psum_at, g0, rg, rf, acc, bias, wsum, cols, ylo, xlo,
                     in_stride, out_stride, ps_stride);
    }
}

/* Moves the int32 partial sums of one spatial tile between the SRAM (at
 * psum_at, one word-aligned slot per pixel) and PSRAM (ps_ext, pixel-major
 * rows of the whole output, 4 tc bytes per pixel): a run per tile row, one
 * run for full-width tiles. */
static void psum_dma(ctx *x, const sb_geom *G, const wstep *t, int8_t *ps_ext, int64_t psum_at, int store) {
    int64_t vec = 4 * (int64_t)t->tc, stride = RUP(x, vec), q = 0;
    dma_begin(x, SB_SIM_PSUM, store, G->burst);
    for (int oy = t->y0; oy < t->y1; oy++)
        for (int ox = t->x0; ox < t->x1; ox++, q++)
            dma_copy(x, ps_ext + ((int64_t)oy * G->OW + ox) * vec, psum_at + q * stride, vec);
    dma_flush(x);
}

/* The fused input mul on an input tile just loaded: the chunk's vector comes
 * in, then each pixel's channels are multiplied in place (read, read, write). */
static void fused_input(ctx *x, const sb_geom *G, const wstep *t, int64_t in_at, int64_t v_at, int64_t pixels,
                        int64_t stride) {
    const sb_op *op = x->fc->pro;
    int8_t *sram = x->sram;
    if (pixels == 0) return;
    dma_begin(x, SB_SIM_IN, 0, G->burst);
    dma_copy(x, x->fc->pro_vec + t->k0, v_at, t->tk);
    dma_flush(x);
    for (int64_t q = 0; q < pixels; q++) {
        int64_t a = in_at + q * stride;
        rd(x, SB_SIM_IN, a, t->tk);
        rd(x, SB_SIM_IN, v_at, t->tk);
        wr(x, SB_SIM_IN, a, t->tk);
        for (int j = 0; j < t->tk; j++) sram[a + j] = sb_out_mul(x->g, op, sram[a + j], sram[v_at + j]);
    }
    x->c->ops += pixels * t->tk;
    x->c->requants += pixels * t->tk;
}

/* Fused broadcast muls: the channel tile's vector, with the parameters. */
static void fused_vectors(ctx *x, const sb_geom *G, const wstep *t) {
    for (int f = 0; f < x->fc->n; f++) {
        if (x->fc->kind[f] != SB_SIM_K_BCAST) continue;
        dma_begin(x, SB_SIM_IN, 0, G->burst);
        dma_copy(x, x->fc->ext[f] + t->o0, x->fc->at[f][0], t->tc);
        dma_flush(x);
    }
}

/* Fused adds and muls: the other operand's tile, laid out as the output's. */
static void fused_tiles(ctx *x, const sb_geom *G, const wstep *t, int ob) {
    for (int f = 0; f < x->fc->n; f++) {
        if (x->fc->kind[f] != SB_SIM_K_BIN) continue;
        int64_t stride = RUP(x, t->tc), q = 0;
        dma_begin(x, SB_SIM_IN, 0, G->burst);
        for (int oy = t->y0; oy < t->y1; oy++)
            for (int ox = t->x0; ox < t->x1; ox++, q++)
                dma_copy(x, x->fc->ext[f] + ((int64_t)oy * G->OW + ox) * G->OC + t->o0, x->fc->at[f][ob] + q * stride, t->tc);
        dma_flush(x);
    }
}

static void exec_window(ctx *x, const sb_op *op, const sb_geom *G, const sb_sim_sched *s, int8_t *const *act) {
    const sb_graph *g = x->g;
    sb_layout L;
    sb_layout_of(G, s, &L);
    int conv = G->kind == SB_SIM_K_CONV, dw = G->kind == SB_SIM_K_DW, T = G->T;
    int ny = (int)sb_cdiv(G->OH, s->th), nx = (int)sb_cdiv(G->OW, s->tw), noc = (int)sb_cdiv(G->OC, s->tc);
    int nk = conv ? (int)sb_cdiv(G->C, s->tk) : 1, nsp = ny * nx;
    fchain *fc = x->fc;
    const int8_t *X = fc->pro ? fc->pro_a : act[op->inputs[0]], *Wt = NULL; /* the input mul's a, as loaded */
    int8_t *Y = act[fc->n ? fc->op[fc->n - 1]->output : op->output]; /* the chain's last value */
    for (int f = 0; f < fc->n; f++) {
        fc->at[f][0] = L.fx[f][0];
        fc->at[f][1] = L.fx[f][1];
        if (fc->kind[f] != SB_SIM_K_LUT) continue;
        dma_begin(x, SB_SIM_W, 0, G->burst_f); /* the whole table, once per layer */
        dma_copy(x, fc->ext[f], L.fx[f][0], 256);
        dma_flush(x);
    }
    const int32_t *B = NULL;
    const void *parr[3] = {NULL, NULL, NULL};
    if (conv || dw) {
        Wt = g->tensors[op->inputs[1]].data;
        B = g->tensors[op->inputs[2]].data;
        parr[0] = B;
        if (g->requant == SB_REQUANT_FIXED) { parr[1] = op->multiplier; parr[2] = op->shift; }
        else parr[1] = op->scale_f32;
    }
    int64_t in_key = -1, w_key = -1, par_key = -1;
    int ib = 1, wbuf = 1, ob = 1, pb = 1, db = s->db;
    int so = s->order == SB_SIM_ORDER_SPATIAL_OUTER;
    /* psum spill: for channel tile, for chunk, for spatial tile; the sums of
     * the current channel tile live in PSRAM (ps_ext, [OH][OW][tc] int32)
     * between chunks. Otherwise the chunk is innermost. */
    int spill = conv && nk > 1 && s->order == SB_SIM_ORDER_PSUM_SPILL;
    int n_outer = so ? nsp : noc, n_mid = spill ? nk : so ? noc : nsp, n_in = spill ? nsp : nk;
    int64_t ps_region = (int64_t)s->th * s->tw * RUP(x, 4 * (int64_t)s->tc);
    int8_t *ps_ext = NULL;
    if (spill && !(ps_ext = malloc((size_t)G->OH * G->OW * 4 * (size_t)s->tc))) abort(); /* host memory, not the chip */
    for (int a = 0; a < n_outer; a++)
    for (int b = 0; b < n_mid; b++)
    for (int c = 0; c < n_in; c++) {
        int sp = so ? a : spill ? c : b, o = so ? b : a, k = spill ? b : c;
        wstep t;
        t.y0 = sp / nx * s->th; t.y1 = t.y0 + s->th > G->OH ? G->OH : t.y0 + s->th;
        t.x0 = sp % nx * s->tw; t.x1 = t.x0 + s->tw > G->OW ? G->OW : t.x0 + s->tw;
        t.o0 = o * s->tc; t.tc = t.o0 + s->tc > G->OC ? G->OC - t.o0 : s->tc;
        t.k0 = conv ? k * s->tk : t.o0;
        t.tk = conv ? (t.k0 + s->tk > G->C ? G->C - t.k0 : s->tk) : t.tc;
        /* input tile */
        int64_t key = conv ? (int64_t)sp * nk + k : (int64_t)sp * noc + o;
        if (key != in_key) {
            in_key = key;
            ib ^= db; if (!db) ib = 0;
            int ylo, yhi, xlo, xhi;
            sb_in_range(t.y0, t.y1, G->sh, G->KH, G->dh, G->pt, G->H, &ylo, &yhi);
            sb_in_range(t.x0, t.x1, G->sw, G->KW, G->dw, G->pl, G->W, &xlo, &xhi);
            int64_t stride = RUP(x, t.tk), q = 0;
            dma_begin(x, SB_SIM_IN, 0, G->burst);
            for (int iy = ylo; iy < yhi; iy++)
                for (int ix = xlo; ix < xhi; ix++, q++)
                    dma_copy(x, X + ((int64_t)iy * G->W + ix) * G->C + t.k0, L.in[ib] + q * stride, t.tk);
            dma_flush(x);
            if (fc->pro) fused_input(x, G, &t, L.in[ib], L.pv[ib], q, stride);
        }
        /* weights */
        key = conv ? (int64_t)o * nk + k : o;
        if ((conv || dw) && key != w_key) {
            w_key = key;
            wbuf ^= db; if (!db) wbuf = 0;
            dma_begin(x, SB_SIM_W, 0, G->burst_f);
            if (conv) {
                int64_t wvec = RUP(x, (int64_t)T * t.tk);
                for (int oo = 0; oo < t.tc; oo++)
                    for (int tap = 0; tap < T; tap++)
                        dma_copy(x, Wt + ((int64_t)(t.o0 + oo) * T + tap) * G->C + t.k0,
                                 L.w[wbuf] + oo * wvec + (int64_t)tap * t.tk, t.tk);
            } else {
                for (int tap = 0; tap < T; tap++)
                    dma_copy(x, Wt + (int64_t)tap * G->C + t.o0, L.w[wbuf] + tap * RUP(x, t.tc), t.tc);
            }
            dma_flush(x);
        }
        if ((conv || dw) && o != par_key) {
            par_key = o;
            fused_vectors(x, G, &t);
            for (int a = 0; a < G->npar; a++) {
                dma_begin(x, SB_SIM_W, 0, G->burst_f);
                dma_copy(x, (const int8_t *)parr[a] + 4 * (int64_t)t.o0, L.par + a * RUP(x, 4 * (int64_t)s->tc),
                         4 * (int64_t)t.tc);
                dma_flush(x);
            }
        }
        if (k == nk - 1) {
            ob ^= db; if (!db) ob = 0;
            fused_tiles(x, G, &t, ob);
        }
        int64_t psum_at = L.psum;
        if (spill) {
            pb ^= db; if (!db) pb = 0;
            psum_at += pb * ps_region;
            if (k > 0) psum_dma(x, G, &t, ps_ext, psum_at, 0);
        }
        exec_window_step(x, op, G, s, &L, &t, k, nk, ib, wbuf, ob, psum_at);
        if (spill && k < nk - 1) psum_dma(x, G, &t, ps_ext, psum_at, 1);
        if (k == nk - 1) { /* store the finished output tile */
            int64_t stride = RUP(x, t.tc), q = 0;
            dma_begin(x, SB_SIM_OUT, 1, G->burst);
            for (int oy = t.y0; oy < t.y1; oy++)
                for (int ox = t.x0; ox < t.x1; ox++, q++)
                    dma_copy(x, Y + ((int64_t)oy * G->OW + ox) * G->OC + t.o0, L.out[ob] + q * stride, t.tc);
            dma_flush(x);
        }
        x->c->steps++;
    }
    free(ps_ext);
    x->c->reg_reads += 2 * x->c->macs + x->c->ops;
}

/* ------------------------------------------------------- elementwise ops */

static void load_block(ctx *x, int cls, const int8_t *src, int64_t C, int p0, int tp, int o0, int tc, int64_t dst) {
    int64_t stride = RUP(x, tc);
    dma_begin(x, cls, 0, x->burst);
    for (int pp = 0; pp < tp; pp++) dma_copy(x, src + (int64_t)(p0 + pp) * C + o0, dst + pp * stride, tc);
    dma_flush(x);
}

static void exec_elementwise(ctx *x, const sb_op *op, const sb_geom *G, const sb_sim_sched *s, int8_t *const *act) {
    const sb_graph *g = x->g;
    sb_layout L;
    sb_layout_of(G, s, &L);
    int np = (int)sb_cdiv(G->P, s->tp), noc = (int)sb_cdiv(G->C, s->tc);
    int nt = G->kind == SB_SIM_K_LUT ? (int)sb_cdiv(256, s->tt) : 0;
    const int8_t *A = act[op->inputs[0]], *Bv = G->kind == SB_SIM_K_BIN || G->kind == SB_SIM_K_BCAST ? act[op->inputs[1]] : NULL;
    if (Bv == NULL && (G->kind == SB_SIM_K_BIN || G->kind == SB_SIM_K_BCAST)) Bv = g->tensors[op->inputs[1]].data;
    int8_t *Y = act[op->output];
    int zi = g->tensors[op->inputs[0]].zero_point, ib = 1, ob = 1, db = s->db, table_loaded = 0;
    int32_t acc[1024];
    int bstart[258], bfill[258];
    int64_t *border = x->lut_order; /* tp x tc <= capacity entries */
    x->burst = G->burst;
    for (int o = 0; o < noc; o++) {
        int o0 = o * s->tc, tc = o0 + s->tc > G->C ? G->C - o0 : s->tc;
        int64_t stride = RUP(x, tc);
        if (G->kind == SB_SIM_K_BCAST) {
            dma_begin(x, SB_SIM_IN, 0, G->burst);
            dma_copy(x, Bv + o0, L.par, tc);
            dma_flush(x);
        }
        for (int pi = 0; pi < np; pi++) {
            int p0 = pi * s->tp, tp = p0 + s->tp > G->P ? G->P - p0 : s->tp;
            ib ^= db; if (!db) ib = 0;
            load_block(x, SB_SIM_IN, A, G->C, p0, tp, o0, tc, L.in[ib]);
            if (G->kind == SB_SIM_K_BIN) load_block(x, SB_SIM_IN, Bv, G->C, p0, tp, o0, tc, L.b[ib]);
            if (G->kind != SB_SIM_K_GAVG) { ob ^= db; if (!db) ob = 0; }
            switch (G->kind) {
            case SB_SIM_K_BIN: case SB_SIM_K_BCAST:
                for (int pp = 0; pp < tp; pp++) {
                    int64_t a = L.in[ib] + pp * stride, b = G->kind == SB_SIM_K_BIN ? L.b[ib] + pp * stride : L.par;
                    int64_t y = L.out[ob] + pp * stride;
                    rd(x, SB_SIM_IN, a, tc); rd(x, SB_SIM_IN, b, tc); wr(x, SB_SIM_OUT, y, tc);
                    for (int j = 0; j < tc; j++)
                        x->sram[y + j] = op->type == SB_OP_ADD ? sb_out_add(g, op, x->sram[a + j], x->sram[b + j])
                                                               : sb_out_mul(g, op, x->sram[a + j], x->sram[b + j]);
                }
                x->c->reg_reads += 2 * (int64_t)tp * tc;
                x->c->requants += (int64_t)G->rq * tp * tc;
                break;
            case SB_SIM_K_LUT: {
                /* Each pass scans the whole tile (counted per pixel below) and
                 * replaces the elements whose index falls in the resident chunk.
                 * Bucketing the elements by chunk once gives the same writes
                 * without testing every element in every pass. */
                for (int c = 0; c <= nt; c++) bstart[c] = 0;
                for (int pp = 0; pp < tp; pp++)
                    for (int j = 0; j < tc; j++) bstart[((int)x->sram[L.in[ib] + pp * stride + j] + 128) / s->tt + 1]++;
                for (int c = 0; c < nt; c++) bstart[c + 1] += bstart[c];
                for (int c = 0; c <= nt; c++) bfill[c] = bstart[c];
                for (int pp = 0; pp < tp; pp++)
                    for (int j = 0; j < tc; j++) {
                        int64_t off = pp * stride + j;
                        border[bfill[((int)x->sram[L.in[ib] + off] + 128) / s->tt]++] = off;
                    }
                for (int ci = 0; ci < nt; ci++) {
                    int c0 = ci * s->tt, tt = c0 + s->tt > 256 ? 256 - c0 : s->tt;
                    if (nt > 1 || !table_loaded) {
                        dma_begin(x, SB_SIM_W, 0, G->burst_f);
                        dma_copy(x, op->lut + c0, L.table, tt);
                        dma_flush(x);
                        table_loaded = 1;
                    }
                    for (int pp = 0; pp < tp; pp++) {
                        rd(x, SB_SIM_IN, L.in[ib] + pp * stride, tc);
                        wr(x, SB_SIM_OUT, L.out[ob] + pp * stride, tc);
                    }
                    const int8_t *tab = x->sram + L.table;
                    for (int q = bstart[ci]; q < bstart[ci + 1]; q++) {
                        int64_t off = border[q];
                        x->sram[L.out[ob] + off] = tab[(int)x->sram[L.in[ib] + off] + 128 - c0];
                    }
                    x->c->sram_rd_words[SB_SIM_W] += bstart[ci + 1] - bstart[ci]; /* one word per entry read */
                }
                x->c->reg_reads += (int64_t)tp * tc;
                break;
            }
            case SB_SIM_K_GAVG:
                if (pi == 0) memset(acc, 0, 4 * (size_t)tc);
                else { rd(x, SB_SIM_PSUM, L.psum, 4 * (int64_t)tc); memcpy(acc, x->sram + L.psum, 4 * (size_t)tc); }
                for (int pp = 0; pp < tp; pp++) {
                    int64_t a = L.in[ib] + pp * stride;
                    rd(x, SB_SIM_IN, a, tc);
                    for (int j = 0; j < tc; j++) acc[j] += (int32_t)x->sram[a + j] - zi;
                }
                if (pi < np - 1) { wr(x, SB_SIM_PSUM, L.psum, 4 * (int64_t)tc); memcpy(x->sram + L.psum, acc, 4 * (size_t)tc); }
                else {
                    wr(x, SB_SIM_OUT, L.out[0], tc);
                    for (int j = 0; j < tc; j++) x->sram[L.out[0] + j] = sb_out_gavgpool(g, op, acc[j]);
                    x->c->requants += tc;
                    dma_begin(x, SB_SIM_OUT, 1, G->burst);
                    dma_copy(x, Y + o0, L.out[0], tc);
                    dma_flush(x);
                }
                x->c->reg_reads += (int64_t)tp * tc;
                break;
            }
            x->c->ops += (int64_t)tp * tc;
            if (G->kind != SB_SIM_K_GAVG) {
                dma_begin(x, SB_SIM_OUT, 1, G->burst);
                for (int pp = 0; pp < tp; pp++) dma_copy(x, Y + (int64_t)(p0 + pp) * G->C + o0, L.out[ob] + pp * stride, tc);
                dma_flush(x);
            }
            x->c->steps++;
        }
    }
}

/* ----------------------------------------------------------------- graph */

/* The n fused consumers of op i (the report's schedule), their operands in
 * PSRAM or flash, and the producer's geometry with them. */
static const int8_t *operand(const sb_graph *g, int8_t *const *act, int t) {
    return act[t] ? act[t] : g->tensors[t].data;
}

/* The fused input mul of op i (when its schedule has one). */
static int input_of(const sb_sim_hw *hw, const sb_graph *g, int i, int pro, int8_t *const *act, sb_geom *G,
                    fchain *fc, sb_error *err) {
    if (!pro) return 0;
    int m = sb_fuse_input(hw, g, i);
    if (m < 0) return sb_error_set(err, SB_EINVAL, "sb_sim_execute: op %d has no input mul to fuse", i);
    G->pro = 1;
    fc->pro = &g->ops[m];
    fc->pro_a = operand(g, act, g->ops[m].inputs[0]);
    fc->pro_vec = operand(g, act, g->ops[m].inputs[1]);
    return 0;
}

static int chain_of(const sb_sim_hw *hw, const sb_graph *g, int i, int n, int8_t *const *act, sb_geom *G, fchain *fc,
                    sb_error *err) {
    int ops[SB_SIM_FUSE_MAX];
    memset(fc, 0, sizeof *fc);
    if (n == 0) return 0;
    if (n > SB_SIM_FUSE_MAX || sb_fuse_chain(hw, g, i, ops) < n)
        return sb_error_set(err, SB_EINVAL, "sb_sim_execute: op %d cannot take %d fused consumers", i, n);
    sb_geom_fuse(hw, g, ops, n, G);
    int t = g->ops[i].output;
    for (int f = 0; f < n; f++) {
        const sb_op *op = &g->ops[ops[f]];
        fc->op[f] = op;
        fc->kind[f] = G->fk[f];
        fc->rq[f] = G->frq[f];
        fc->first[f] = op->inputs[0] == t;
        if (G->fk[f] == SB_SIM_K_LUT) fc->ext[f] = op->lut;
        else {
            int other = fc->first[f] ? op->inputs[1] : op->inputs[0];
            fc->ext[f] = operand(g, act, other);
        }
        t = op->output;
    }
    fc->n = n;
    return 0;
}

int sb_sim_execute(const sb_sim_report *rep, const sb_graph *g, const int8_t *input, int8_t *logits,
                   sb_sim_counts *counts, int (*cancelled)(void), sb_error *err) {
    const sb_sim_hw *hw = &rep->hw;
    int rc = 0;
    if (rep->n_layers != g->n_ops)
        return sb_error_set(err, SB_EINVAL, "sb_sim_execute: report has %d layers, graph '%s' %d ops",
                            rep->n_layers, g->name ? g->name : "?", g->n_ops);
    int8_t **act = calloc((size_t)g->n_tensors, sizeof *act);
    int8_t *arena = malloc((size_t)(rep->arena_bytes > 0 ? rep->arena_bytes : 1));
    int8_t *sram = calloc((size_t)hw->capacity_bytes, 1);
    int64_t *lut_order = malloc(sizeof *lut_order * (size_t)hw->capacity_bytes);
    if (!act || !arena || !sram || !lut_order) { rc = sb_error_set(err, SB_ENOMEM, "sb_sim_execute: out of memory"); goto done; }
    /* the PSRAM: one host array per activation tensor */
    int64_t at = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        const sb_tensor *T = &g->tensors[t];
        if (T->data) { act[t] = NULL; continue; }
        int64_t n = 1;
        for (int i = 0; i < T->rank; i++) n *= T->shape[i];
        act[t] = arena + at;
        at += n;
    }
    int64_t nin = 1;
    for (int i = 0; i < g->tensors[g->input].rank; i++) nin *= g->tensors[g->input].shape[i];
    memcpy(act[g->input], input, (size_t)nin);
    for (int i = 0; i < g->n_ops; i++) {
        const sb_op *op = &g->ops[i];
        const sb_sim_layer *Lr = &rep->layers[i];
        if (cancelled && cancelled()) {
            rc = sb_error_set(err, SB_ECANCELED, "sram: cancelled before layer '%s' (op %d)", op->name, i);
            goto done;
        }
        sb_geom G;
        sb_sim_counts c;
        memset(&c, 0, sizeof c);
        if (Lr->fused) { if (counts) counts[i] = c; continue; } /* ran in its producer's output stage */
        if ((rc = sb_geom_of(hw, g, op, &G, err)) != 0) goto done;
        fchain fc;
        if ((rc = chain_of(hw, g, i, Lr->s.nfuse, act, &G, &fc, err)) != 0) goto done;
        if ((rc = input_of(hw, g, i, Lr->s.pro, act, &G, &fc, err)) != 0) goto done;
        int wsh = 0;
        while ((1 << wsh) < hw->word_bits / 8) wsh++;
        ctx x = {g, &fc, sram, hw->capacity_bytes, hw->word_bits / 8, wsh, &c, 0, 0, 1, NULL, 0, 0, 0, lut_order};
        if (Lr->s.sram_bytes > hw->capacity_bytes) abort();
        if (G.kind == SB_SIM_K_CONV || G.kind == SB_SIM_K_DW || G.kind == SB_SIM_K_POOL) exec_window(&x, op, &G, &Lr->s, act);
        else exec_elementwise(&x, op, &G, &Lr->s, act);
        dma_flush(&x);
        if (counts) counts[i] = c;
    }
    int64_t nout = 1;
    for (int i = 0; i < g->tensors[g->output].rank; i++) nout *= g->tensors[g->output].shape[i];
    memcpy(logits, act[g->output], (size_t)nout);
done:
    free(lut_order);
    free(act);
    free(arena);
    free(sram);
    return rc;
}
