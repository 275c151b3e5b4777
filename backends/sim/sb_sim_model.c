/*
 * sb_sim_model.c - geometry of an op as a tiled loop nest, the SRAM regions
 * a schedule needs, and the closed-form (analytical) event counts.
 *
 * The executed path (sb_sim_exec.c) must count exactly what these formulas
 * say; tests/sram proves it layer by layer. The formulas are written down in
 * docs/sram-model.md section "Counts".
 */
#include <string.h>

#include "sb_kernels.h"
#include "sb_sim_int.h"

static int64_t elems(const sb_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}
static int lastdim(const sb_tensor *t) { return t->shape[t->rank - 1]; }
static int nz(int v) { return v > 0 ? v : 1; }

static int geom_window(const sb_graph *g, const sb_op *op, sb_geom *G, sb_error *err) {
    const sb_tensor *x = &g->tensors[op->inputs[0]], *y = &g->tensors[op->output];
    if (x->rank != 4 || y->rank != 4)
        return sb_error_set(err, SB_EFORMAT, "op '%s': expected rank-4 NHWC input and output", op->name);
    G->H = x->shape[1]; G->W = x->shape[2]; G->C = x->shape[3];
    G->OH = y->shape[1]; G->OW = y->shape[2]; G->OC = y->shape[3];
    G->sh = nz(op->stride_h); G->sw = nz(op->stride_w);
    G->dh = nz(op->dilation_h); G->dw = nz(op->dilation_w);
    G->pt = op->pad_top; G->pl = op->pad_left;
    if (G->kind == SB_SIM_K_POOL) {
        G->KH = op->kernel_h; G->KW = op->kernel_w;
    } else {
        const sb_tensor *w = &g->tensors[op->inputs[1]];
        G->KH = w->shape[1]; G->KW = w->shape[2];
    }
    if (G->KH < 1 || G->KW < 1)
        return sb_error_set(err, SB_EFORMAT, "op '%s': kernel %dx%d, expected >= 1", op->name, G->KH, G->KW);
    /* the kernels' formula, in 64 bits (int arithmetic here once wrapped) */
    int oh = sb_conv_out_dim(G->H, G->KH, G->sh, G->dh, op->pad_top, op->pad_bottom);
    int ow = sb_conv_out_dim(G->W, G->KW, G->sw, G->dw, op->pad_left, op->pad_right);
    if (oh != G->OH || ow != G->OW || (G->kind != SB_SIM_K_CONV && G->OC != G->C))
        return sb_error_set(err, SB_EFORMAT, "op '%s': output shape [1,%d,%d,%d] does not chain, expected [1,%d,%d,%d]",
                            op->name, G->OH, G->OW, G->OC, oh, ow, G->kind == SB_SIM_K_CONV ? G->OC : G->C);
    return 0;
}

int sb_geom_of(const sb_sim_hw *hw, const sb_graph *g, const sb_op *op, sb_geom *G, sb_error *err) {
    memset(G, 0, sizeof *G);
    G->wb = hw->word_bits / 8;
    G->burst = hw->psram.burst_bytes;
    G->burst_f = hw->flash.burst_bytes;
    G->npar = g->requant == SB_REQUANT_FIXED ? 3 : 2;
    G->KH = G->KW = G->sh = G->sw = G->dh = G->dw = 1;
    const sb_tensor *x = &g->tensors[op->inputs[0]], *y = &g->tensors[op->output];
    switch (op->type) {
    case SB_OP_CONV2D: G->kind = SB_SIM_K_CONV; break;
    case SB_OP_DWCONV2D: G->kind = SB_SIM_K_DW; break;
    case SB_OP_MAXPOOL: G->kind = SB_SIM_K_POOL; G->npar = 0; break;
    case SB_OP_FC:
        G->kind = SB_SIM_K_CONV;
        G->H = G->W = G->OH = G->OW = 1;
        G->C = (int)elems(x);
        G->OC = (int)elems(y);
        G->T = 1;
        G->VT = 1;
        if (op->n_inputs < 3 || op->inputs[2] < 0)
            return sb_error_set(err, SB_EFORMAT, "op '%s': fc needs a bias tensor (inputs[2])", op->name);
        if ((int64_t)G->OC * G->C != elems(&g->tensors[op->inputs[1]]))
            return sb_error_set(err, SB_EFORMAT, "op '%s': fc weights hold %lld values, expected %d x %d",
                                op->name, (long long)elems(&g->tensors[op->inputs[1]]), G->OC, G->C);
        return 0;
    case SB_OP_ADD: case SB_OP_MUL: case SB_OP_LUT:
        G->kind = op->type == SB_OP_LUT ? SB_SIM_K_LUT : SB_SIM_K_BIN;
        /* sb_out_add rescales both inputs and the sum, sb_out_mul the product */
        G->rq = op->type == SB_OP_ADD ? 3 : op->type == SB_OP_MUL ? 1 : 0;
        G->C = G->OC = lastdim(y);
        G->P = (int)(elems(y) / G->C);
        if (op->type == SB_OP_MUL && elems(&g->tensors[op->inputs[1]]) != elems(y)) {
            G->kind = SB_SIM_K_BCAST;
            if (elems(&g->tensors[op->inputs[1]]) != G->C)
                return sb_error_set(err, SB_EFORMAT, "op '%s': mul operand b has %lld values, expected %d or %lld",
                                    op->name, (long long)elems(&g->tensors[op->inputs[1]]), G->C, (long long)elems(y));
        }
        if (elems(x) != elems(y))
            return sb_error_set(err, SB_EFORMAT, "op '%s': input has %lld values, output %lld: expected equal",
                                op->name, (long long)elems(x), (long long)elems(y));
        return 0;
    case SB_OP_GAVGPOOL:
        G->kind = SB_SIM_K_GAVG;
        G->C = G->OC = lastdim(x);
        G->P = (int)(elems(x) / G->C);
        if (elems(y) != G->C)
            return sb_error_set(err, SB_EFORMAT, "op '%s': gavgpool output has %lld values, expected %d",
                                op->name, (long long)elems(y), G->C);
        return 0;
    default:
        return sb_error_set(err, SB_EUNSUPPORTED, "op '%s': type %d not supported by the SRAM simulator",
                            op->name, (int)op->type);
    }
    if (G->kind != SB_SIM_K_POOL && (op->n_inputs < 3 || op->inputs[2] < 0))
        return sb_error_set(err, SB_EFORMAT, "op '%s': conv/dwconv needs a bias tensor (inputs[2])", op->name);
    int rc = geom_window(g, op, G, err);
    G->T = G->KH * G->KW;
    if (rc) return rc;
    int64_t SVR = 0, SVC = 0;
    for (int y = 0; y < G->OH; y++) SVR += sb_valid_taps(y, G->sh, G->KH, G->dh, G->pt, G->H);
    for (int x = 0; x < G->OW; x++) SVC += sb_valid_taps(x, G->sw, G->KW, G->dw, G->pl, G->W);
    G->VT = SVR * SVC;
    return 0;
}

/* ------------------------------------------------------------------ fusion */

/* How many times the ops read tensor t; *user: the last op that does. */
static int uses_of(const sb_graph *g, int t, int *user) {
    int n = 0;
    for (int j = 0; j < g->n_ops; j++)
        for (int k = 0; k < g->ops[j].n_inputs; k++)
            if (g->ops[j].inputs[k] == t) { n++; *user = j; }
    return n;
}

/* The op writing tensor t; -1 for the graph input and constants. */
static int producer_of(const sb_graph *g, int t) {
    for (int j = 0; j < g->n_ops; j++)
        if (g->ops[j].output == t) return j;
    return -1;
}

/* Whether op j (geometry G) can take tensor t, the output of producer i
 * (geometry P), in i's output stage: elementwise on the same [pixels][channels]
 * view, and its other operand already exists when op i runs. */
static int fusable(const sb_graph *g, int i, const sb_geom *P, int j, const sb_geom *G, int t) {
    const sb_op *op = &g->ops[j];
    if (G->kind != SB_SIM_K_LUT && G->kind != SB_SIM_K_BIN && G->kind != SB_SIM_K_BCAST) return 0;
    if (G->C != P->OC || (int64_t)G->P * G->C != (int64_t)P->OH * P->OW * P->OC) return 0;
    if (G->kind == SB_SIM_K_LUT) return 1;
    if (G->kind == SB_SIM_K_BCAST && op->inputs[0] != t) return 0; /* the chain value is a, not the vector */
    int other = op->inputs[0] == t ? op->inputs[1] : op->inputs[0];
    return other != t && producer_of(g, other) < i;
}

int sb_fuse_chain(const sb_sim_hw *hw, const sb_graph *g, int i, int *ops) {
    sb_geom P, G;
    int n = 0, t = g->ops[i].output, j = -1;
    if (sb_geom_of(hw, g, &g->ops[i], &P, NULL)) return 0;
    if (P.kind != SB_SIM_K_CONV && P.kind != SB_SIM_K_DW) return 0;
    while (n < SB_SIM_FUSE_MAX && t != g->output && uses_of(g, t, &j) == 1) {
        if (sb_geom_of(hw, g, &g->ops[j], &G, NULL) || !fusable(g, i, &P, j, &G, t)) break;
        ops[n++] = j;
        t = g->ops[j].output;
    }
    return n;
}

int sb_fuse_input(const sb_sim_hw *hw, const sb_graph *g, int j) {
    const sb_op *op = &g->ops[j];
    int x = op->inputs[0], u = -1, m = producer_of(g, x);
    sb_geom G, M;
    if (op->type != SB_OP_CONV2D || m < 0 || x == g->output || uses_of(g, x, &u) != 1) return -1;
    if (sb_geom_of(hw, g, op, &G, NULL) || sb_geom_of(hw, g, &g->ops[m], &M, NULL)) return -1;
    /* every input byte used, once per load: the mul's work is all there */
    if (G.KH != 1 || G.KW != 1 || G.sh != 1 || G.sw != 1 || G.OH != G.H || G.OW != G.W) return -1;
    return M.kind == SB_SIM_K_BCAST ? m : -1;
}

void sb_geom_fuse(const sb_sim_hw *hw, const sb_graph *g, const int *ops, int n, sb_geom *G) {
    sb_geom E;
    G->nf = 0;
    for (int f = 0; f < n; f++) {
        if (sb_geom_of(hw, g, &g->ops[ops[f]], &E, NULL)) return;
        G->fk[f] = E.kind;
        G->frq[f] = E.rq;
        G->nf = f + 1;
    }
}

/* ------------------------------------------------------- regions, register file */

int sb_rf_group(const sb_sim_hw *hw, const sb_geom *G, int tc, int tk) {
    int64_t need;
    switch (G->kind) {
    case SB_SIM_K_CONV: need = (int64_t)G->T * tk + 4 + 4 * G->npar; break; /* weights, acc, params */
    case SB_SIM_K_DW: need = (int64_t)G->T + 4 + 4 * G->npar; break;
    case SB_SIM_K_POOL: need = 1; break;                                       /* running max */
    case SB_SIM_K_GAVG: need = 4; break;                                       /* accumulator */
    default: return tc;                                                        /* one element at a time */
    }
    int64_t r = hw->rf_bytes / need;
    if (G->kind == SB_SIM_K_GAVG) return r >= tc ? tc : 0; /* all tc sums at once */
    return (int)(r < tc ? r : tc);
}

static int rows_max(int t, int s, int k, int d, int n) {
    int v = (t - 1) * s + (k - 1) * d + 1;
    return v < n ? v : n;
}

void sb_layout_of(const sb_geom *G, const sb_sim_sched *s, sb_layout *L) {
    int wb = G->wb, nb = s->db ? 2 : 1;
    int64_t in = 0, w = 0, b = 0, out = 0, par = 0, psum = 0, table = 0;
    switch (G->kind) {
    case SB_SIM_K_CONV: case SB_SIM_K_DW: case SB_SIM_K_POOL: {
        int kk = G->kind == SB_SIM_K_CONV ? s->tk : s->tc;
        in = (int64_t)rows_max(s->th, G->sh, G->KH, G->dh, G->H) * rows_max(s->tw, G->sw, G->KW, G->dw, G->W) * sb_wrup(kk, wb);
        if (G->kind == SB_SIM_K_CONV) w = (int64_t)s->tc * sb_wrup((int64_t)G->T * s->tk, wb);
        if (G->kind == SB_SIM_K_DW) w = (int64_t)G->T * sb_wrup(s->tc, wb);
        if (G->kind != SB_SIM_K_POOL) par = G->npar * sb_wrup(4 * (int64_t)s->tc, wb);
        if (G->kind == SB_SIM_K_CONV && s->tk < G->C) {
            psum = (int64_t)s->th * s->tw * sb_wrup(4 * (int64_t)s->tc, wb);
            /* spilled partial sums move by DMA: a second buffer when double-buffered */
            if (s->order == SB_SIM_ORDER_PSUM_SPILL) psum *= nb;
        }
        out = (int64_t)s->th * s->tw * sb_wrup(s->tc, wb);
        break;
    }
    default:
        in = (int64_t)s->tp * sb_wrup(s->tc, wb);
        if (G->kind == SB_SIM_K_BIN) b = in;
        if (G->kind != SB_SIM_K_GAVG) out = in;
        else out = sb_wrup(s->tc, wb), psum = sb_wrup(4 * (int64_t)s->tc, wb), nb = s->db ? 2 : 1;
        if (G->kind == SB_SIM_K_BCAST) par = sb_wrup(s->tc, wb); /* the broadcast operand */
        if (G->kind == SB_SIM_K_LUT) table = sb_wrup(s->tt, wb);
        break;
    }
    int64_t at = 0;
    for (int i = 0; i < 2; i++) { L->in[i] = at; at += i < nb ? in : 0; }
    for (int i = 0; i < 2; i++) { L->w[i] = at; at += i < nb ? w : 0; }
    for (int i = 0; i < 2; i++) { L->b[i] = at; at += i < nb ? b : 0; }
    if (G->kind == SB_SIM_K_GAVG) { L->out[0] = L->out[1] = at; at += out; }
    else for (int i = 0; i < 2; i++) { L->out[i] = at; at += i < nb ? out : 0; }
    L->par = at; at += par;
    L->psum = at; at += psum;
    L->table = at; at += table;
    /* fused consumers' operands: a whole LUT table, the broadcast vector of
     * the channel tile, the other operand's tile (moved by DMA per output
     * tile: doubled like the output) */
    for (int f = 0; f < G->nf; f++) {
        int64_t n = G->fk[f] == SB_SIM_K_LUT ? sb_wrup(256, wb) : G->fk[f] == SB_SIM_K_BCAST ? sb_wrup(s->tc, wb) : out;
        int k = G->fk[f] == SB_SIM_K_BIN ? nb : 1;
        L->fx[f][0] = at;
        L->fx[f][1] = at + (k - 1) * n;
        at += k * n;
    }
    int64_t pv = G->pro ? sb_wrup(s->tk, wb) : 0;
    for (int i = 0; i < 2; i++) { L->pv[i] = at; at += i < nb ? pv : 0; }
    L->end = at;
}

int64_t sb_sched_bytes(const sb_geom *G, const sb_sim_sched *s) {
    sb_layout L;
    sb_layout_of(G, s, &L);
    return L.end;
}

/* -------------------------------------------------------- analytical counts */

typedef struct xfer { int64_t bytes, runs, bursts, words; } xfer;

static void add_load(sb_sim_counts *c, int cls, const xfer *x, int64_t mult) {
    c->ext_rd_bytes[cls] += x->bytes * mult;
    c->ext_bursts[cls] += x->bursts * mult;
    c->dma_xfers[cls] += x->runs * mult;
    c->sram_wr_words[cls] += x->words * mult;
    c->dma_sram_wr_words += x->words * mult;
}
static void add_store(sb_sim_counts *c, int cls, const xfer *x, int64_t mult) {
    c->ext_wr_bytes[cls] += x->bytes * mult;
    c->ext_bursts[cls] += x->bursts * mult;
    c->dma_xfers[cls] += x->runs * mult;
    c->sram_rd_words[cls] += x->words * mult;
    c->dma_sram_rd_words += x->words * mult;
}

/* Sizes of the tiles of an extent n cut in tiles of t: cnt of size t, one of rem. */
#define FOR_TILES(n, t, sz, mult, ...) do { \
    int64_t mult = (n) / (t), sz = (t); if (mult) { __VA_ARGS__ } \
    sz = (n) % (t); mult = 1; if (sz) { __VA_ARGS__ } } while (0)

/* Window-op activation transfers: a block of rows x cols pixels x kk channels
 * of an NHWC tensor with `cw` columns and `cc` channels. */
static xfer act_block(int64_t rows, int64_t cols, int64_t kk, int64_t cw, int64_t cc, int64_t burst, int wb) {
    xfer x = {0, 0, 0, 0};
    if (rows <= 0 || cols <= 0 || kk <= 0) return x;
    x.bytes = rows * cols * kk;
    x.words = rows * cols * sb_wdiv(kk, wb);
    if (kk == cc && cols == cw) { x.runs = 1; x.bursts = sb_cdiv(x.bytes, burst); }
    else if (kk == cc) { x.runs = rows; x.bursts = rows * sb_cdiv(cols * cc, burst); }
    else { x.runs = rows * cols; x.bursts = rows * cols * sb_cdiv(kk, burst); }
    return x;
}

/* Row and column sums of the input tiles for output tiles of th x tw. */
static void aggs_y(const sb_geom *G, int th, sb_agg *a) {
    int64_t ny = sb_cdiv(G->OH, th);
    a->SR = a->NR = a->SBF = 0;
    for (int64_t i = 0; i < ny; i++) {
        int lo, hi, y0 = (int)(i * th), y1 = y0 + th > G->OH ? G->OH : y0 + th;
        sb_in_range(y0, y1, G->sh, G->KH, G->dh, G->pt, G->H, &lo, &hi);
        a->SR += hi - lo;
        a->NR += hi > lo;
        a->SBF += sb_cdiv((int64_t)(hi - lo) * G->W * G->C, G->burst);
    }
}
static void aggs_x(const sb_geom *G, int tw, sb_agg *a) {
    int64_t nx = sb_cdiv(G->OW, tw);
    a->SC = a->NX = a->NFW = a->SBC = 0;
    for (int64_t j = 0; j < nx; j++) {
        int lo, hi, x0 = (int)(j * tw), x1 = x0 + tw > G->OW ? G->OW : x0 + tw;
        sb_in_range(x0, x1, G->sw, G->KW, G->dw, G->pl, G->W, &lo, &hi);
        int64_t cols = hi - lo;
        if (cols <= 0) continue;
        a->SC += cols;
        a->NX++;
        if (cols == G->W) a->NFW++;
        else a->SBC += sb_cdiv(cols * G->C, G->burst);
    }
}
void sb_tile_aggs(const sb_geom *G, int th, int tw, sb_agg *out) {
    sb_agg y, x;
    sb_agg *yc = G->ycache ? &G->ycache[th] : &y, *xc = G->xcache ? &G->xcache[tw] : &x;
    if (!G->ycache || !yc->valid) { aggs_y(G, th, yc); yc->valid = 1; }
    if (!G->xcache || !xc->valid) { aggs_x(G, tw, xc); xc->valid = 1; }
    *out = *yc;
    out->SC = xc->SC; out->NX = xc->NX; out->NFW = xc->NFW; out->SBC = xc->SBC;
}

/* Words touched by the register-file groups of a tile of tc channels: sum
 * over groups gi of sb_span(e * gi * r, e * rg, wb), with e bytes per
 * channel. The span of a full group depends only on its start modulo the
 * word, which repeats every wb / gcd(e * r, wb) groups: O(wb), not O(tc / r). */
static int64_t group_spans(int64_t tc, int64_t r, int64_t e, int wb) {
    int64_t nf = tc / r, rem = tc % r, sum = 0, per = 1;
    if (((e * r) & (wb - 1)) == 0) /* every group starts on a word */
        return nf * sb_wdiv(e * r, wb) + sb_wdiv(e * rem, wb);
    while (per < wb && (per * e * r) % wb != 0) per++;
    for (int64_t j = 0; j < per && j < nf; j++) {
        int64_t cnt = nf / per + (j < nf % per);
        sum += cnt * sb_span(e * j * r, e * r, wb);
    }
    if (rem) sum += sb_span(e * nf * r, e * rem, wb);
    return sum;
}

/* The fused consumers of a window op (docs/sram-model.md section 5): per
 * output element an op (and its requantisations) and a read of its extra
 * operand from the SRAM (one word per LUT entry; the vector's or the other
 * tile's words per register-file group, as the output is written); the LUT
 * table loads once, the vector per channel tile like the parameters, the
 * other tile per output tile like the output store. */
static void analyze_fused(const sb_geom *G, const sb_sim_sched *s, sb_sim_counts *c) {
    int wb = G->wb, so = s->order == SB_SIM_ORDER_SPATIAL_OUTER;
    int64_t pix = (int64_t)G->OH * G->OW, n = pix * G->OC, noc = sb_cdiv(G->OC, s->tc);
    int64_t nsp = sb_cdiv(G->OH, s->th) * sb_cdiv(G->OW, s->tw), pm = so ? (noc == 1 ? 1 : nsp) : 1;
    for (int f = 0; f < G->nf; f++) {
        c->ops += n;
        c->requants += G->frq[f] * n;
        if (G->fk[f] == SB_SIM_K_LUT) {
            xfer x = { 256, 1, sb_cdiv(256, G->burst_f), sb_wdiv(256, wb) };
            add_load(c, SB_SIM_W, &x, 1);
            c->sram_rd_words[SB_SIM_W] += n;
            continue;
        }
        FOR_TILES(G->OC, s->tc, tc, mo, {
            c->sram_rd_words[SB_SIM_IN] += pix * mo * group_spans(tc, s->r, 1, wb);
            xfer x = { tc, 1, sb_cdiv(tc, G->burst), sb_wdiv(tc, wb) };
            if (G->fk[f] == SB_SIM_K_BCAST) add_load(c, SB_SIM_IN, &x, pm * mo);
        });
        if (G->fk[f] == SB_SIM_K_BIN)
            FOR_TILES(G->OH, s->th, th, my, {
                FOR_TILES(G->OW, s->tw, tw, mx, {
                    FOR_TILES(G->OC, s->tc, tc, mo, {
                        xfer x = act_block(th, tw, tc, G->OW, G->OC, G->burst, wb);
                        add_load(c, SB_SIM_IN, &x, my * mx * mo);
                    });
                });
            });
    }
}

static void analyze_window(const sb_geom *G, const sb_sim_sched *s, sb_sim_counts *c) {
    int wb = G->wb, conv = G->kind == SB_SIM_K_CONV, dw = G->kind == SB_SIM_K_DW;
    int64_t ny = sb_cdiv(G->OH, s->th), nx = sb_cdiv(G->OW, s->tw);
    int64_t noc = sb_cdiv(G->OC, s->tc), nk = conv ? sb_cdiv(G->C, s->tk) : 1, nsp = ny * nx;
    int so = s->order == SB_SIM_ORDER_SPATIAL_OUTER, spill = conv && s->order == SB_SIM_ORDER_PSUM_SPILL;
    int64_t VT = G->VT, pix = (int64_t)G->OH * G->OW;
    c->steps = nsp * noc * nk;

    /* input loads: sum over spatial tiles x channel chunks of act_block,
     * separable in rows and columns (see docs/sram-model.md). Channel outer
     * and psum spill both reload every (spatial tile, chunk) per channel tile
     * unless there is a single one. */
    int64_t in_mult = conv ? (so ? (nk == 1 ? 1 : noc) : (nsp * nk == 1 ? 1 : noc)) : 1;
    int64_t kn = conv ? G->C : G->OC, kt = conv ? s->tk : s->tc;
    sb_agg A;
    int64_t pro_elems = 0;
    sb_tile_aggs(G, s->th, s->tw, &A);
    FOR_TILES(kn, kt, kk, m, {
        xfer x = { A.SR * A.SC * kk, 0, 0, A.SR * A.SC * sb_wdiv(kk, wb) };
        if (kk == G->C) { x.runs = A.NFW * A.NR + (A.NX - A.NFW) * A.SR; x.bursts = A.NFW * A.SBF + A.SR * A.SBC; }
        else { x.runs = A.SR * A.SC; x.bursts = A.SR * A.SC * sb_cdiv(kk, G->burst); }
        add_load(c, SB_SIM_IN, &x, m * in_mult);
        /* fused input mul: per tile load the chunk's vector, then per pixel
         * the vector and the pixel read and the product written back */
        if (G->pro) {
            int64_t px = A.SR * A.SC * m * in_mult, w = sb_wdiv(kk, wb);
            xfer v = { kk, 1, sb_cdiv(kk, G->burst), w };
            add_load(c, SB_SIM_IN, &v, A.NR * A.NX * m * in_mult);
            c->sram_rd_words[SB_SIM_IN] += 2 * px * w;
            c->sram_wr_words[SB_SIM_IN] += px * w;
            pro_elems += px * kk;
        }
    });
    /* weights and parameters */
    if (conv) {
        int64_t wm = spill ? 1 : so ? (noc * nk == 1 ? 1 : nsp) : (nk == 1 ? 1 : nsp);
        FOR_TILES(G->OC, s->tc, tc, mo, {
            FOR_TILES(G->C, s->tk, tk, mk, {
                xfer x;
                x.bytes = tc * G->T * tk;
                x.words = tc * sb_wdiv(G->T * tk, wb);
                if (tk == G->C) { x.runs = 1; x.bursts = sb_cdiv(x.bytes, G->burst_f); }
                else { x.runs = tc * G->T; x.bursts = x.runs * sb_cdiv(tk, G->burst_f); }
                add_load(c, SB_SIM_W, &x, wm * mo * mk);
            });
        });
    }
    if (dw) {
        int64_t wm = so ? (noc == 1 ? 1 : nsp) : 1;
        FOR_TILES(G->OC, s->tc, tc, mo, {
            xfer x;
            x.bytes = G->T * tc;
            x.words = G->T * sb_wdiv(tc, wb);
            if (tc == G->C) { x.runs = 1; x.bursts = sb_cdiv(x.bytes, G->burst_f); }
            else { x.runs = G->T; x.bursts = G->T * sb_cdiv(tc, G->burst_f); }
            add_load(c, SB_SIM_W, &x, wm * mo);
        });
    }
    if (conv || dw) {
        int64_t pm = so ? (noc == 1 ? 1 : nsp) : 1;
        FOR_TILES(G->OC, s->tc, tc, mo, {
            xfer x = { G->npar * 4 * tc, G->npar, G->npar * sb_cdiv(4 * tc, G->burst_f), G->npar * sb_wdiv(4 * tc, wb) };
            add_load(c, SB_SIM_W, &x, pm * mo);
        });
    }
    /* compute: register-file loads, input taps, partial sums, outputs */
    FOR_TILES(G->OC, s->tc, tc, mo, {
        int64_t ng = sb_cdiv(tc, s->r);
        int64_t spn = group_spans(tc, s->r, 1, wb), psp = group_spans(tc, s->r, 4, wb), par = G->npar * psp;
        if (conv) {
            FOR_TILES(G->C, s->tk, tk, mk, {
                c->sram_rd_words[SB_SIM_W] += nsp * mo * mk * (tc * sb_wdiv(G->T * tk, wb) + par);
                c->sram_rd_words[SB_SIM_IN] += VT * mo * mk * ng * sb_wdiv(tk, wb);
            });
            c->sram_rd_words[SB_SIM_PSUM] += pix * mo * (nk - 1) * psp;
            c->sram_wr_words[SB_SIM_PSUM] += pix * mo * (nk - 1) * psp;
            if (spill && nk > 1) /* each spatial tile's sums: out after chunks 0..nk-2, in before 1..nk-1 */
                FOR_TILES(G->OH, s->th, th, my, {
                    FOR_TILES(G->OW, s->tw, tw, mx, {
                        xfer x = act_block(th, tw, 4 * tc, G->OW, 4 * tc, G->burst, wb);
                        add_store(c, SB_SIM_PSUM, &x, my * mx * mo * (nk - 1));
                        add_load(c, SB_SIM_PSUM, &x, my * mx * mo * (nk - 1));
                    });
                });
        } else {
            if (dw) c->sram_rd_words[SB_SIM_W] += nsp * mo * (G->T * spn + par);
            c->sram_rd_words[SB_SIM_IN] += VT * mo * spn;
        }
        c->sram_wr_words[SB_SIM_OUT] += pix * mo * spn;
    });
    /* Besides the MACs: conv subtracts the input zero point's share (the
     * chunk's weight sum x zero point) once per valid tap and chunk, an
     * element op; conv and dw requantise each output once; maxpool compares
     * once per valid tap. */
    if (conv) { c->macs = VT * G->C * G->OC; c->ops = VT * G->OC * nk; c->requants = pix * G->OC; }
    else if (dw) { c->macs = VT * G->OC; c->requants = pix * G->OC; }
    else c->ops = VT * G->OC;
    analyze_fused(G, s, c);
    c->ops += pro_elems;      /* the input mul: an op and a requantisation */
    c->requants += pro_elems; /* per element and load (sb_out_mul) */
    c->reg_reads = 2 * c->macs + c->ops;
    /* output stores: one per spatial tile x channel tile */
    FOR_TILES(G->OH, s->th, th, my, {
        FOR_TILES(G->OW, s->tw, tw, mx, {
            FOR_TILES(G->OC, s->tc, tc, mo, {
                xfer x = act_block(th, tw, tc, G->OW, G->OC, G->burst, wb);
                add_store(c, SB_SIM_OUT, &x, my * mx * mo);
            });
        });
    });
}

static void analyze_elementwise(const sb_geom *G, const sb_sim_sched *s, sb_sim_counts *c) {
    int wb = G->wb;
    int64_t np = sb_cdiv(G->P, s->tp), noc = sb_cdiv(G->C, s->tc), cwsum = 0, cw4sum = 0;
    int64_t n = (int64_t)G->P * G->C;
    c->steps = np * noc;
    FOR_TILES(G->C, s->tc, tc, mo, { cwsum += mo * sb_wdiv(tc, wb); cw4sum += mo * sb_wdiv(4 * tc, wb); });
    /* a (and b) loads, out stores: blocks of tp pixels x tc channels */
    FOR_TILES(G->P, s->tp, tp, mp, {
        FOR_TILES(G->C, s->tc, tc, mo, {
            xfer x = act_block(1, tp, tc, tc == G->C ? tp : -1, G->C, G->burst, wb);
            add_load(c, SB_SIM_IN, &x, mp * mo * (G->kind == SB_SIM_K_BIN ? 2 : 1));
            if (G->kind != SB_SIM_K_GAVG) add_store(c, SB_SIM_OUT, &x, mp * mo);
        });
    });
    c->ops = n;
    switch (G->kind) {
    case SB_SIM_K_BIN: case SB_SIM_K_BCAST:
        if (G->kind == SB_SIM_K_BCAST)
            FOR_TILES(G->C, s->tc, tc, mo, {
                xfer x = { tc, 1, sb_cdiv(tc, G->burst), sb_wdiv(tc, wb) };
                add_load(c, SB_SIM_IN, &x, mo);
            });
        c->sram_rd_words[SB_SIM_IN] += 2 * G->P * cwsum;
        c->sram_wr_words[SB_SIM_OUT] += G->P * cwsum;
        c->reg_reads = 2 * n;
        c->requants = G->rq * n;
        break;
    case SB_SIM_K_LUT: {
        int64_t nt = sb_cdiv(256, s->tt), words = 0;
        FOR_TILES(256, s->tt, tt, mt, { words += mt * sb_wdiv(tt, wb); });
        xfer x = { 256, nt, 0, words };
        FOR_TILES(256, s->tt, tt, mt, { x.bursts += mt * sb_cdiv(tt, G->burst_f); });
        add_load(c, SB_SIM_W, &x, nt == 1 ? 1 : c->steps);
        c->sram_rd_words[SB_SIM_IN] += nt * G->P * cwsum;
        c->sram_wr_words[SB_SIM_OUT] += nt * G->P * cwsum;
        c->sram_rd_words[SB_SIM_W] += n;                    /* one table read per element */
        c->reg_reads = n;
        break;
    }
    case SB_SIM_K_GAVG:
        c->sram_rd_words[SB_SIM_IN] += G->P * cwsum;
        c->sram_rd_words[SB_SIM_PSUM] += (np - 1) * cw4sum;
        c->sram_wr_words[SB_SIM_PSUM] += (np - 1) * cw4sum;
        c->sram_wr_words[SB_SIM_OUT] += cwsum;
        c->requants = G->C;                                 /* one per output: the mean */
        FOR_TILES(G->C, s->tc, tc, mo, {
            xfer x = { tc, 1, sb_cdiv(tc, G->burst), sb_wdiv(tc, wb) };
            add_store(c, SB_SIM_OUT, &x, mo);
        });
        c->reg_reads = n;
        break;
    }
}

void sb_analyze_op(const sb_geom *G, const sb_sim_sched *s, sb_sim_counts *c) {
    memset(c, 0, sizeof *c);
    if (G->kind == SB_SIM_K_CONV || G->kind == SB_SIM_K_DW || G->kind == SB_SIM_K_POOL)
        analyze_window(G, s, c);
    else
        analyze_elementwise(G, s, c);
}
