/*
 * gpu_test_graph.h - a small INT8 graph with every op type for the GPU
 * backend's tests (include after cmocka.h). Channel counts with and without
 * the dp4a path (multiples of 4 or not), padding, strides, dilation,
 * broadcast mul, clamps narrower than int8; fixed or float requantisation.
 */
#ifndef GPU_TEST_GRAPH_H
#define GPU_TEST_GRAPH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sb_kernels.h"

enum { MAX_T = 40, MAX_O = 20, BATCH = 3 };

typedef struct tg {                 /* a test graph and everything it owns */
    sb_graph g;
    sb_tensor t[MAX_T];
    sb_op op[MAX_O];
    void *owned[200];
    int n_owned;
    uint32_t rng;
} tg;

static inline uint32_t tg_rand(tg *x) {
    x->rng ^= x->rng << 13; x->rng ^= x->rng >> 17; x->rng ^= x->rng << 5;
    return x->rng;
}
static inline int32_t tg_range(tg *x, int32_t lo, int32_t hi) { return lo + (int32_t)(tg_rand(x) % (uint32_t)(hi - lo + 1)); }

static inline void *tg_alloc(tg *x, size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    x->owned[x->n_owned++] = p;
    return p;
}

static inline int tg_act(tg *x, int h, int w, int c) {
    sb_tensor *t = &x->t[x->g.n_tensors];
    *t = (sb_tensor){.name = "act", .dtype = SB_DT_INT8, .rank = 4, .shape = {1, h, w, c},
                     .scale = 0.05f, .zero_point = tg_range(x, -20, 20)};
    return x->g.n_tensors++;
}

static inline int tg_const(tg *x, sb_dtype dt, int rank, int32_t s0, int32_t s1, int32_t s2, int32_t s3) {
    sb_tensor *t = &x->t[x->g.n_tensors];
    *t = (sb_tensor){.name = "const", .dtype = dt, .rank = rank, .shape = {s0, s1, s2, s3}};
    int64_t n = sb_tensor_elems(t);
    size_t bytes = (size_t)n * (dt == SB_DT_INT8 ? 1 : 4);
    void *d = tg_alloc(x, bytes);
    for (int64_t i = 0; i < n; i++) {
        if (dt == SB_DT_INT8) ((int8_t *)d)[i] = (int8_t)tg_range(x, -127, 127);
        else ((int32_t *)d)[i] = tg_range(x, -3000, 3000);
    }
    t->data = d;
    t->nbytes = bytes;
    return x->g.n_tensors++;
}

/* Requantisation for n channels: multipliers in [2^30, 2^31), shifts that
 * keep the outputs spread over int8, or the float equivalents. */
static inline void tg_requant(tg *x, sb_op *op, int n, int shift_lo, int shift_hi) {
    int32_t *m = tg_alloc(x, (size_t)n * 4), *s = tg_alloc(x, (size_t)n * 4);
    float *f = tg_alloc(x, (size_t)n * 4);
    for (int i = 0; i < n; i++) {
        m[i] = (int32_t)(0x40000000u + (tg_rand(x) & 0x3fffffffu));
        s[i] = tg_range(x, shift_lo, shift_hi);
        f[i] = (float)((double)m[i] / 2147483648.0 * (s[i] >= 0 ? (double)(1 << s[i]) : 1.0 / (double)(1u << -s[i])));
    }
    op->n_requant = n;
    op->multiplier = m;
    op->shift = s;
    op->scale_f32 = f;
}

static inline sb_op *tg_op(tg *x, sb_op_type type, int in0, int in1, int in2, int out) {
    sb_op *op = &x->op[x->g.n_ops++];
    *op = (sb_op){.type = type, .name = "op", .inputs = {in0, in1, in2}, .n_inputs = in2 >= 0 ? 3 : in1 >= 0 ? 2 : 1,
                  .output = out, .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                  .act_min = -128, .act_max = 127, .act = "none"};
    return op;
}

static inline int tg_conv(tg *x, sb_op_type type, int in, int oc, int k, int stride, int pad, int dil, int oh, int ow) {
    const sb_tensor *ti = &x->t[in];
    int c = ti->shape[3];
    int w = type == SB_OP_DWCONV2D ? tg_const(x, SB_DT_INT8, 4, 1, k, k, c) : tg_const(x, SB_DT_INT8, 4, oc, k, k, c);
    int b = tg_const(x, SB_DT_INT32, 1, type == SB_OP_DWCONV2D ? c : oc, 0, 0, 0);
    int y = tg_act(x, oh, ow, type == SB_OP_DWCONV2D ? c : oc);
    int n_ch = type == SB_OP_DWCONV2D ? c : oc;
    float *cs = tg_alloc(x, (size_t)n_ch * sizeof(float));   /* for the fp32 path */
    for (int i = 0; i < n_ch; i++) cs[i] = 0.002f + 0.0001f * (float)tg_range(x, 0, 20);
    x->t[w].channel_scales = cs;
    x->t[w].n_channel_scales = n_ch;
    sb_op *op = tg_op(x, type, in, w, b, y);
    op->kernel_h = op->kernel_w = k;
    op->stride_h = op->stride_w = stride;
    op->dilation_h = op->dilation_w = dil;
    op->pad_top = op->pad_left = op->pad_bottom = op->pad_right = pad;
    op->act_min = -100;
    op->act_max = 120;
    tg_requant(x, op, x->t[y].shape[3], -12, -8);
    return y;
}

static inline int tg_lut(tg *x, int in, const char *fn) {
    int y = tg_act(x, x->t[in].shape[1], x->t[in].shape[2], x->t[in].shape[3]);
    sb_op *op = tg_op(x, SB_OP_LUT, in, -1, -1, y);
    op->act = fn;   /* what the fp32 path computes; the int8 path reads the table */
    int8_t *lut = tg_alloc(x, 256);
    for (int i = 0; i < 256; i++) lut[i] = (int8_t)tg_range(x, -128, 127);
    op->lut = lut;
    return y;
}

static inline int tg_pool(tg *x, sb_op_type type, int in) {
    int c = x->t[in].shape[3];
    int y = type == SB_OP_GAVGPOOL ? tg_act(x, 1, 1, c)
                                   : tg_act(x, (x->t[in].shape[1] + 2 - 3) / 2 + 1, (x->t[in].shape[2] + 2 - 3) / 2 + 1, c);
    sb_op *op = tg_op(x, type, in, -1, -1, y);
    if (type == SB_OP_MAXPOOL) {
        x->t[y].zero_point = x->t[in].zero_point;
        op->kernel_h = op->kernel_w = 3;
        op->stride_h = op->stride_w = 2;
        op->pad_top = op->pad_left = op->pad_bottom = op->pad_right = 1;
        op->act_min = -90;
    } else {
        tg_requant(x, op, 1, -7, -4);
    }
    return y;
}

static inline int tg_binary(tg *x, sb_op_type type, int a, int b) {
    int y = tg_act(x, x->t[a].shape[1], x->t[a].shape[2], x->t[a].shape[3]);
    sb_op *op = tg_op(x, type, a, b, -1, y);
    if (type == SB_OP_ADD) {
        tg_requant(x, op, 1, -2, -1);
        op->left_shift = 20;
        op->multiplier_b = (int32_t)(0x40000000u + (tg_rand(x) & 0x3fffffffu));
        op->shift_b = -1;
        op->multiplier_out = (int32_t)(0x40000000u + (tg_rand(x) & 0x3fffffffu));
        op->shift_out = -19;
        op->scale_f32 = tg_alloc(x, 4);
        ((float *)op->scale_f32)[0] = 0.7f;
        op->scale_b_f32 = 0.45f;
    } else {
        tg_requant(x, op, 1, -9, -6);
    }
    return y;
}

/* input 9x9x3 -> conv3x3/2 (c=3: no dp4a) -> lut -> dw3x3 -> SE (gap, 1x1
 * to 6 channels, 1x1 from 6: no dp4a, sigmoid lut, broadcast mul) -> 1x1
 * (dp4a) -> add -> dilated dw -> maxpool 3x3/2 -> gap -> fc (dp4a) -> 7. */
static inline void tg_build(tg *x, sb_requant_mode mode, uint32_t seed) {
    memset(x, 0, sizeof *x);
    x->rng = seed;
    x->g.name = "gpu-emulate";
    x->g.requant = mode;
    x->g.tensors = x->t;
    x->g.ops = x->op;
    int in = tg_act(x, 9, 9, 3);
    x->t[in].zero_point = -128;
    int t1 = tg_conv(x, SB_OP_CONV2D, in, 8, 3, 2, 1, 1, 5, 5);
    x->op[0].act = "relu6";
    int t2 = tg_lut(x, t1, "silu");
    int t3 = tg_conv(x, SB_OP_DWCONV2D, t2, 8, 3, 1, 1, 1, 5, 5);
    int t4 = tg_pool(x, SB_OP_GAVGPOOL, t3);
    int t5 = tg_conv(x, SB_OP_CONV2D, t4, 6, 1, 1, 0, 1, 1, 1);
    int t6 = tg_conv(x, SB_OP_CONV2D, t5, 8, 1, 1, 0, 1, 1, 1);
    int t7 = tg_lut(x, t6, "sigmoid");
    int t8 = tg_binary(x, SB_OP_MUL, t3, t7);
    int t9 = tg_conv(x, SB_OP_CONV2D, t8, 8, 1, 1, 0, 1, 5, 5);
    int t10 = tg_binary(x, SB_OP_ADD, t9, t3);
    int t11 = tg_conv(x, SB_OP_DWCONV2D, t10, 8, 3, 1, 2, 2, 5, 5);
    int t12 = tg_pool(x, SB_OP_MAXPOOL, t11);
    int t13 = tg_pool(x, SB_OP_GAVGPOOL, t12);
    int w = tg_const(x, SB_DT_INT8, 2, 7, 8, 0, 0);
    float *cs = tg_alloc(x, 7 * sizeof(float));
    for (int i = 0; i < 7; i++) cs[i] = 0.01f;
    x->t[w].channel_scales = cs;
    x->t[w].n_channel_scales = 7;
    int b = tg_const(x, SB_DT_INT32, 1, 7, 0, 0, 0);
    int out = x->g.n_tensors++;
    x->t[out] = (sb_tensor){.name = "logits", .dtype = SB_DT_INT8, .rank = 2, .shape = {1, 7}, .scale = 0.1f,
                            .zero_point = 3};
    sb_op *fc = tg_op(x, SB_OP_FC, t13, w, b, out);
    tg_requant(x, fc, 7, -10, -7);
    x->g.input = in;
    x->g.output = out;
    x->g.n_classes = 7;
}

static inline void tg_free(tg *x) {
    for (int i = 0; i < x->n_owned; i++) free(x->owned[i]);
}

#endif
