/*
 * tgraph.h - building small graphs in tests (header-only).
 *
 * A tgraph owns its tensors, ops and every constant buffer; tg_graph()
 * returns the sb_graph view. Random helpers use a fixed xorshift generator
 * so a failing seed can be replayed.
 */
#ifndef TGRAPH_H
#define TGRAPH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb_kernels.h"

#define TG_MAX_T 96
#define TG_MAX_O 48
#define TG_MAX_A 256

typedef struct tgraph {
    sb_tensor t[TG_MAX_T];
    sb_op o[TG_MAX_O];
    void *allocs[TG_MAX_A];
    int nt, no, na;
    sb_graph g;
} tgraph;

static inline void tg_init(tgraph *tg, const char *name, sb_requant_mode mode) {
    memset(tg, 0, sizeof *tg);
    tg->g.name = name;
    tg->g.requant = mode;
    tg->g.tensors = tg->t;
    tg->g.ops = tg->o;
}

static inline void tg_free(tgraph *tg) {
    for (int i = 0; i < tg->na; i++) free(tg->allocs[i]);
    tg->na = 0;
}

static inline void *tg_keep(tgraph *tg, const void *src, size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1)) abort();
    if (src) memcpy(p, src, n);
    else memset(p, 0, n);
    tg->allocs[tg->na++] = p;
    return p;
}

static inline int tg_tensor(tgraph *tg, const char *name, sb_dtype dt, int rank, int d0, int d1, int d2, int d3) {
    sb_tensor *t = &tg->t[tg->nt];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dt;
    t->rank = rank;
    int d[4] = {d0, d1, d2, d3};
    for (int i = 0; i < rank; i++) t->shape[i] = d[i];
    tg->g.n_tensors = ++tg->nt;
    return tg->nt - 1;
}

static inline int tg_act(tgraph *tg, const char *name, int rank, int d0, int d1, int d2, int d3, float scale, int zp) {
    int i = tg_tensor(tg, name, SB_DT_INT8, rank, d0, d1, d2, d3);
    tg->t[i].scale = scale;
    tg->t[i].zero_point = zp;
    return i;
}

/* A constant; data copied (NULL: zeros). */
static inline int tg_const(tgraph *tg, const char *name, sb_dtype dt, int rank, int d0, int d1, int d2, int d3,
                           const void *data) {
    int i = tg_tensor(tg, name, dt, rank, d0, d1, d2, d3);
    size_t n = (size_t)sb_tensor_elems(&tg->t[i]) * (dt == SB_DT_INT8 ? 1 : 4);
    tg->t[i].data = tg_keep(tg, data, n);
    tg->t[i].nbytes = n;
    return i;
}

static inline sb_op *tg_op(tgraph *tg, sb_op_type type, const char *name, int out) {
    sb_op *op = &tg->o[tg->no];
    memset(op, 0, sizeof *op);
    op->type = type;
    op->name = name;
    op->output = out;
    op->inputs[0] = op->inputs[1] = op->inputs[2] = -1;
    op->kernel_h = op->kernel_w = op->stride_h = op->stride_w = op->dilation_h = op->dilation_w = 1;
    op->act_min = -128;
    op->act_max = 127;
    op->act = "none";
    op->left_shift = 20;
    tg->g.n_ops = ++tg->no;
    return op;
}

static inline void tg_inputs(sb_op *op, int a, int b, int c) {
    op->inputs[0] = a;
    op->inputs[1] = b;
    op->inputs[2] = c;
    op->n_inputs = c >= 0 ? 3 : b >= 0 ? 2 : 1;
}

/* Per-channel requantisation stored as tensors (the file format's way). */
static inline void tg_requant(tgraph *tg, sb_op *op, int n, const int32_t *m, const int32_t *s, const float *f) {
    int tm = tg_const(tg, "m", SB_DT_INT32, 1, n, 0, 0, 0, m);
    int ts = tg_const(tg, "s", SB_DT_INT32, 1, n, 0, 0, 0, s);
    int tf = tg_const(tg, "f", SB_DT_FLOAT32, 1, n, 0, 0, 0, f);
    op->multiplier = tg->t[tm].data;
    op->shift = tg->t[ts].data;
    op->scale_f32 = tg->t[tf].data;
    op->n_requant = n;
}

/* Scalar requantisation (add/mul/gavgpool): kept in owned memory. */
static inline void tg_requant1(tgraph *tg, sb_op *op, int32_t m, int32_t s, float f) {
    int32_t *p = tg_keep(tg, NULL, 2 * sizeof(int32_t));
    float *q = tg_keep(tg, &f, sizeof f);
    p[0] = m;
    p[1] = s;
    op->multiplier = &p[0];
    op->shift = &p[1];
    op->scale_f32 = q;
    op->n_requant = 1;
}

static inline const sb_graph *tg_graph(tgraph *tg) { return &tg->g; }

/* ------------------------------------------------------------- random */

typedef struct { uint64_t s; } trng;
static inline uint32_t trng_next(trng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 16);
}
static inline int trng_range(trng *r, int lo, int hi) { /* inclusive */
    return lo + (int)(trng_next(r) % (uint32_t)(hi - lo + 1));
}
static inline void trng_fill8(trng *r, int8_t *p, size_t n, int lo, int hi) {
    for (size_t i = 0; i < n; i++) p[i] = (int8_t)trng_range(r, lo, hi);
}

#endif
