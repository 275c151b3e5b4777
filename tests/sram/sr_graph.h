/*
 * sr_graph.h - random INT8 graphs and hardware descriptions for the SRAM
 * simulator tests (header-only). Fixed xorshift generator: a failing seed
 * replays.
 */
#ifndef SR_GRAPH_H
#define SR_GRAPH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_kernels.h"
#include "sb_sim.h"
#include "sr_opts.h"

static uint64_t sr_seed = 88172645463325252ull;
static inline uint32_t sr_rand(void) {
    sr_seed ^= sr_seed << 13; sr_seed ^= sr_seed >> 7; sr_seed ^= sr_seed << 17;
    return (uint32_t)(sr_seed >> 11);
}
static inline int sr_range(int lo, int hi) { return lo + (int)(sr_rand() % (uint32_t)(hi - lo + 1)); }

#define SR_MAX_T 96
#define SR_MAX_O 48
#define SR_MAX_A 400

typedef struct sr_graph {
    sb_tensor t[SR_MAX_T];
    sb_op o[SR_MAX_O];
    void *mem[SR_MAX_A];
    int nt, no, nm;
    sb_graph g;
} sr_graph;

static inline void *sr_alloc(sr_graph *s, size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p || s->nm >= SR_MAX_A) abort();
    s->mem[s->nm++] = p;
    return p;
}
static inline void sr_init(sr_graph *s, sb_requant_mode mode) {
    memset(s, 0, sizeof *s);
    s->g.name = "sr-random";
    s->g.requant = mode;
    s->g.tensors = s->t;
    s->g.ops = s->o;
}
static inline void sr_free(sr_graph *s) {
    for (int i = 0; i < s->nm; i++) free(s->mem[i]);
    s->nm = 0;
}
static inline int sr_tensor(sr_graph *s, int rank, int d0, int d1, int d2, int d3) {
    sb_tensor *t = &s->t[s->nt];
    int d[4] = {d0, d1, d2, d3};
    memset(t, 0, sizeof *t);
    t->name = "t";
    t->dtype = SB_DT_INT8;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->shape[i] = d[i];
    t->scale = 0.05f;
    t->zero_point = sr_range(-20, 20);
    s->g.n_tensors = ++s->nt;
    return s->nt - 1;
}
static inline int sr_const8(sr_graph *s, int rank, int d0, int d1, int d2, int d3) {
    int i = sr_tensor(s, rank, d0, d1, d2, d3);
    int64_t n = sb_tensor_elems(&s->t[i]);
    int8_t *p = sr_alloc(s, (size_t)n);
    for (int64_t k = 0; k < n; k++) p[k] = (int8_t)sr_range(-127, 127);
    s->t[i].data = p; s->t[i].nbytes = (size_t)n; s->t[i].zero_point = 0;
    return i;
}
static inline int sr_bias(sr_graph *s, int n) {
    int i = sr_tensor(s, 1, n, 0, 0, 0);
    int32_t *p = sr_alloc(s, 4 * (size_t)n);
    for (int k = 0; k < n; k++) p[k] = sr_range(-3000, 3000);
    s->t[i].dtype = SB_DT_INT32; s->t[i].data = p; s->t[i].nbytes = 4 * (size_t)n; s->t[i].zero_point = 0;
    return i;
}
static inline sb_op *sr_op(sr_graph *s, sb_op_type type, int in0, int in1, int in2, int out) {
    sb_op *o = &s->o[s->no];
    memset(o, 0, sizeof *o);
    static const char *names[SR_MAX_O] = {"op0", "op1", "op2", "op3", "op4", "op5", "op6", "op7", "op8", "op9",
        "op10", "op11", "op12", "op13", "op14", "op15", "op16", "op17", "op18", "op19", "op20", "op21", "op22", "op23"};
    o->type = type;
    o->name = s->no < 24 ? names[s->no] : "opN";
    o->inputs[0] = in0; o->inputs[1] = in1; o->inputs[2] = in2;
    o->n_inputs = in2 >= 0 ? 3 : in1 >= 0 ? 2 : 1;
    o->output = out;
    o->kernel_h = o->kernel_w = 1;
    o->stride_h = o->stride_w = o->dilation_h = o->dilation_w = 1;
    o->act_min = -128; o->act_max = 127;
    o->act = "none";
    if (sr_rand() % 3 == 0) o->act_min = s->t[out].zero_point;  /* fused relu */
    s->g.n_ops = ++s->no;
    return o;
}
/* Per-channel requantisation that keeps outputs mostly unsaturated for
 * accumulators of about `mag`. */
static inline void sr_requant(sr_graph *s, sb_op *o, int n, double mag) {
    int sh = 0;
    while ((1 << sh) < mag / 40 && sh < 30) sh++;
    int32_t *m = sr_alloc(s, 4 * (size_t)n), *e = sr_alloc(s, 4 * (size_t)n);
    float *f = sr_alloc(s, 4 * (size_t)n);
    for (int k = 0; k < n; k++) {
        m[k] = (int32_t)((1u << 30) + (sr_rand() % (1u << 30)));
        e[k] = -sh + sr_range(-1, 1);
        f[k] = (float)((double)m[k] / 2147483648.0 / (double)(1 << sh));
    }
    o->n_requant = n; o->multiplier = m; o->shift = e; o->scale_f32 = f;
}
static inline int sr_odim(int in, int k, int st, int d, int pa, int pb) { return (in + pa + pb - d * (k - 1) - 1) / st + 1; }

static inline int sr_conv(sr_graph *s, int x, int oc, int k, int stride, int pad, int dil, int dw) {
    const sb_tensor *X = &s->t[x];
    int H = X->shape[1], W = X->shape[2], C = X->shape[3];
    int oh = sr_odim(H, k, stride, dil, pad, pad), ow = sr_odim(W, k, stride, dil, pad, pad);
    if (dw) oc = C;
    int w = dw ? sr_const8(s, 4, 1, k, k, C) : sr_const8(s, 4, oc, k, k, C);
    int b = sr_bias(s, oc);
    int y = sr_tensor(s, 4, 1, oh, ow, oc);
    sb_op *o = sr_op(s, dw ? SB_OP_DWCONV2D : SB_OP_CONV2D, x, w, b, y);
    o->kernel_h = o->kernel_w = k;
    o->stride_h = o->stride_w = stride;
    o->dilation_h = o->dilation_w = dil;
    o->pad_top = o->pad_left = o->pad_bottom = o->pad_right = pad;
    sr_requant(s, o, oc, 128.0 * 64.0 * (dw ? k : k * 2) * (dw ? 1 : 4));
    return y;
}
static inline int sr_fc(sr_graph *s, int x, int o_n) {
    int I = (int)sb_tensor_elems(&s->t[x]);
    int w = sr_const8(s, 2, o_n, I, 0, 0), b = sr_bias(s, o_n), y = sr_tensor(s, 2, 1, o_n, 0, 0);
    sb_op *o = sr_op(s, SB_OP_FC, x, w, b, y);
    sr_requant(s, o, o_n, 128.0 * 64.0 * 8);
    return y;
}
static inline int sr_like(sr_graph *s, int x) {
    const sb_tensor *X = &s->t[x];
    return sr_tensor(s, X->rank, X->shape[0], X->shape[1], X->shape[2], X->shape[3]);
}
static inline int sr_add(sr_graph *s, int a, int b) {
    int y = sr_like(s, a);
    sb_op *o = sr_op(s, SB_OP_ADD, a, b, -1, y);
    int32_t *m = sr_alloc(s, 4), *e = sr_alloc(s, 4);
    float *f = sr_alloc(s, 4);
    m[0] = (1 << 30) + sr_range(0, 1 << 29); e[0] = -1; f[0] = 0.5f;
    o->n_requant = 1; o->multiplier = m; o->shift = e; o->scale_f32 = f;
    o->left_shift = 20;
    o->multiplier_b = (1 << 30) + sr_range(0, 1 << 29); o->shift_b = -1; o->scale_b_f32 = 0.375f;
    o->multiplier_out = (1 << 30) + sr_range(0, 1 << 29); o->shift_out = -18;
    return y;
}
static inline int sr_mul(sr_graph *s, int a, int b) {
    int y = sr_like(s, a);
    sb_op *o = sr_op(s, SB_OP_MUL, a, b, -1, y);
    sr_requant(s, o, 1, 128.0 * 128.0);
    return y;
}
static inline int sr_gavg(sr_graph *s, int x) {
    const sb_tensor *X = &s->t[x];
    int y = sr_tensor(s, 4, 1, 1, 1, X->shape[3]);
    sb_op *o = sr_op(s, SB_OP_GAVGPOOL, x, -1, -1, y);
    sr_requant(s, o, 1, 128.0 * X->shape[1] * X->shape[2]);
    return y;
}
static inline int sr_maxpool(sr_graph *s, int x, int k, int stride, int pad) {
    const sb_tensor *X = &s->t[x];
    int oh = sr_odim(X->shape[1], k, stride, 1, pad, pad), ow = sr_odim(X->shape[2], k, stride, 1, pad, pad);
    int y = sr_tensor(s, 4, 1, oh, ow, X->shape[3]);
    s->t[y].zero_point = X->zero_point;
    sb_op *o = sr_op(s, SB_OP_MAXPOOL, x, -1, -1, y);
    o->kernel_h = o->kernel_w = k;
    o->stride_h = o->stride_w = stride;
    o->pad_top = o->pad_left = o->pad_bottom = o->pad_right = pad;
    return y;
}
static inline int sr_lut(sr_graph *s, int x) {
    int y = sr_like(s, x);
    sb_op *o = sr_op(s, SB_OP_LUT, x, -1, -1, y);
    int8_t *t = sr_alloc(s, 256);
    for (int i = 0; i < 256; i++) t[i] = (int8_t)sr_range(-128, 127);
    o->lut = t;
    o->act = "silu";
    return y;
}
static inline int sr_input(sr_graph *s, int h, int w, int c) {
    int x = sr_tensor(s, 4, 1, h, w, c);
    s->t[x].zero_point = -128;
    s->g.input = x;
    return x;
}
static inline void sr_finish(sr_graph *s, int out) {
    s->g.output = out;
    s->g.n_classes = (int)sb_tensor_elems(&s->t[out]);
}

/* A random single-op graph; kind 0..8 cycles through every op type. */
static inline void sr_random_op(sr_graph *s, int kind) {
    sr_init(s, sr_rand() % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT);
    int H = sr_range(1, 12), W = sr_range(1, 12), C = sr_range(1, 40);
    int x = sr_input(s, H, W, C), y = x, k = sr_range(1, 4), st = sr_range(1, 3), pad = sr_range(0, k - 1), dil = sr_range(1, 2);
    if ((H + 2 * pad - dil * (k - 1) - 1) < 0 || (W + 2 * pad - dil * (k - 1) - 1) < 0) { dil = 1; k = 1; pad = 0; }
    switch (kind % 9) {
    case 0: y = sr_conv(s, x, sr_range(1, 40), k, st, pad, dil, 0); break;
    case 1: y = sr_conv(s, x, 0, k, st, pad, dil, 1); break;
    case 2: y = sr_fc(s, x, sr_range(1, 30)); break;
    case 3: y = sr_add(s, x, x); break;
    case 4: { int b = sr_lut(s, x); y = sr_add(s, x, b); break; }
    case 5: { int b = sr_gavg(s, x); y = sr_mul(s, x, b); break; }
    case 6: y = sr_gavg(s, x); break;
    case 7: y = sr_maxpool(s, x, k, st, pad > k / 2 ? k / 2 : pad); break;
    default: { int b = sr_lut(s, x); y = sr_mul(s, x, b); break; }
    }
    sr_finish(s, y);
}

/* A small EfficientNet-like network: stem, MBConv with SE and residual, head. */
static inline void sr_random_net(sr_graph *s, int size) {
    sr_init(s, sr_rand() % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT);
    int x = sr_input(s, size, size, 3);
    int a = sr_lut(s, sr_conv(s, x, 8, 3, 2, 1, 1, 0));
    int e = sr_lut(s, sr_conv(s, a, 24, 1, 1, 0, 1, 0));
    int d = sr_lut(s, sr_conv(s, e, 0, 3, 1, 1, 1, 1));
    int q = sr_gavg(s, d);
    int q1 = sr_lut(s, sr_conv(s, q, 6, 1, 1, 0, 1, 0));
    int q2 = sr_lut(s, sr_conv(s, q1, 24, 1, 1, 0, 1, 0));
    int sc = sr_mul(s, d, q2);
    int p = sr_conv(s, sc, 8, 1, 1, 0, 1, 0);
    int r = sr_add(s, p, a);
    int mp = sr_maxpool(s, r, 3, 2, 1);
    int h = sr_lut(s, sr_conv(s, mp, 32, 1, 1, 0, 1, 0));
    int gp = sr_gavg(s, h);
    sr_finish(s, sr_fc(s, gp, 7));
}

/* Random but plausible hardware; capacity at least 64 bytes. */
static inline void sr_random_hw(sr_opts *p, int64_t cap_words_max) {
    memset(p, 0, sizeof *p);
    int wbits[4] = {8, 16, 32, 64};
    int wb = wbits[sr_rand() % 4];
    int64_t words = sr_range((int)(64 * 8 / wb), (int)cap_words_max);
    sr_num(p, "sram.capacity_bytes", SB_OPT_INT, (double)(words * wb / 8));
    sr_num(p, "sram.word_bits", SB_OPT_INT, wb);
    sr_num(p, "sram.words", SB_OPT_INT, (double)words);
    sr_num(p, "sram.ports", SB_OPT_INT, sr_range(1, 2));
    sr_num(p, "sram.clock_mhz", SB_OPT_FLOAT, sr_range(20, 400));
    sr_num(p, "sram.read_energy_pj", SB_OPT_FLOAT, sr_range(1, 30));
    sr_num(p, "sram.write_energy_pj", SB_OPT_FLOAT, sr_range(1, 30));
    sr_num(p, "sram.idle_clock_energy_pj", SB_OPT_FLOAT, sr_range(0, 10));
    sr_num(p, "sram.leakage_uw", SB_OPT_FLOAT, sr_range(0, 100));
    sr_num(p, "regfile.bytes", SB_OPT_INT, sr_range(20, 256));
    sr_num(p, "regfile.read_energy_pj", SB_OPT_FLOAT, 0.1 * sr_range(0, 10));
    sr_num(p, "mac.macs_per_cycle", SB_OPT_INT, sr_range(1, 32));
    sr_num(p, "mac.energy_pj", SB_OPT_FLOAT, 0.5 * sr_range(1, 10));
    sr_num(p, "mac.requant_energy_pj", SB_OPT_FLOAT, sr_range(0, 60));
    const char *mem[2] = {"flash", "psram"};
    for (int m = 0; m < 2; m++) {
        char k[64];
#define MK(field, type, v) snprintf(k, sizeof k, "%s.%s", mem[m], field); sr_num(p, k, type, v);
        MK("bandwidth_mbytes_per_s", SB_OPT_FLOAT, sr_range(5, 4000))
        MK("burst_setup_ns", SB_OPT_FLOAT, sr_range(0, 300))
        MK("burst_bytes", SB_OPT_INT, sr_range(1, 2048))
        MK("read_energy_pj_per_byte", SB_OPT_FLOAT, sr_range(10, 2000))
        if (m == 1) { MK("write_energy_pj_per_byte", SB_OPT_FLOAT, sr_range(10, 2000)) }
#undef MK
    }
    const char *obj[3] = {"energy", "latency", "edp"};
    sr_set(p, "scheduler.objective", SB_OPT_STRING, 0, obj[sr_rand() % 3]);
    sr_set(p, "scheduler.double_buffer", SB_OPT_BOOL, sr_rand() % 2, NULL);
}

#endif
