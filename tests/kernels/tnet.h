/*
 * tnet.h - a tiny random network using every op (EfficientNet's shapes in
 * miniature): conv 3x3/2 -> SiLU LUT -> dw 3x3 -> squeeze-and-excitation
 * (gavgpool, 1x1 convs, sigmoid LUT, broadcast mul) -> 1x1 project ->
 * residual add -> maxpool -> gavgpool -> fc logits.
 */
#ifndef TNET_H
#define TNET_H

#include <math.h>

#include "tgraph.h"

static const char *const tnet_classes[] = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"};

static void tnet_requant(tgraph *tg, trng *r, sb_op *op, int n, int K) {
    int32_t m[64], s[64];
    float f[64];
    for (int i = 0; i < n; i++) {
        m[i] = (int32_t)((1u << 30) + (trng_next(r) & 0x3FFFFFFF));
        s[i] = -6 - (K > 30) + trng_range(r, -1, 1);
        f[i] = (float)ldexp(m[i] / 2147483648.0, s[i]);
    }
    tg_requant(tg, op, n, m, s, f);
}

/* A weight tensor with channel_scales (for the fp32 path). */
static int tnet_weights(tgraph *tg, trng *r, const char *name, int O, int KH, int KW, int I, int dw) {
    int8_t w[4096];
    float cs[64];
    int n = O * KH * KW * I;
    trng_fill8(r, w, (size_t)n, -127, 127);
    for (int i = 0; i < (dw ? I : O); i++) cs[i] = 0.002f + 0.001f * (float)trng_range(r, 0, 10);
    int tcs = tg_const(tg, "cs", SB_DT_FLOAT32, 1, dw ? I : O, 0, 0, 0, cs);
    int tw = dw ? tg_const(tg, name, SB_DT_INT8, 4, 1, KH, KW, I, w) : tg_const(tg, name, SB_DT_INT8, 4, O, KH, KW, I, w);
    tg->t[tw].channel_scales = tg->t[tcs].data;
    tg->t[tw].n_channel_scales = dw ? I : O;
    return tw;
}

static int tnet_bias(tgraph *tg, trng *r, int O) {
    int32_t b[64];
    for (int i = 0; i < O; i++) b[i] = trng_range(r, -3000, 3000);
    return tg_const(tg, "b", SB_DT_INT32, 1, O, 0, 0, 0, b);
}

static sb_op *tnet_conv(tgraph *tg, trng *r, sb_op_type type, const char *name, int x, int O, int k, int s,
                        int pad, float so, int zo) {
    const sb_tensor *tx = &tg->t[x];
    int H = tx->shape[1], W = tx->shape[2], I = tx->shape[3];
    int dw = type == SB_OP_DWCONV2D;
    if (dw) O = I;
    int tw = tnet_weights(tg, r, name, O, k, k, I, dw), tb = tnet_bias(tg, r, O);
    int OH = sb_conv_out_dim(H, k, s, 1, pad, pad), OW = sb_conv_out_dim(W, k, s, 1, pad, pad);
    int y = tg_act(tg, name, 4, 1, OH, OW, O, so, zo);
    sb_op *op = tg_op(tg, type, name, y);
    tg_inputs(op, x, tw, tb);
    op->kernel_h = op->kernel_w = k;
    op->stride_h = op->stride_w = s;
    op->pad_top = op->pad_left = op->pad_bottom = op->pad_right = pad;
    tnet_requant(tg, r, op, O, k * k * (dw ? 1 : I));
    return op;
}

static sb_op *tnet_lut(tgraph *tg, trng *r, const char *name, const char *act, int x) {
    int8_t table[256];
    /* monotone-ish random table: the int8 path only needs some table */
    for (int i = 0; i < 256; i++) table[i] = (int8_t)(i - 128 + trng_range(r, -3, 3) > 127 ? 127 :
                                                      i - 128 + trng_range(r, -3, 3) < -128 ? -128 : i - 128);
    int tt = tg_const(tg, "table", SB_DT_INT8, 1, 256, 0, 0, 0, table);
    const sb_tensor *tx = &tg->t[x];
    int y = tg_act(tg, name, tx->rank, tx->shape[0], tx->shape[1], tx->shape[2], tx->shape[3], tx->scale, tx->zero_point);
    sb_op *op = tg_op(tg, SB_OP_LUT, name, y);
    tg_inputs(op, x, -1, -1);
    op->lut = tg->t[tt].data;
    op->act = act;
    return op;
}

static sb_op *tnet_gavg(tgraph *tg, const char *name, int x) {
    const sb_tensor *tx = &tg->t[x];
    int C = tx->shape[3], HW = tx->shape[1] * tx->shape[2];
    int y = tg_act(tg, name, 4, 1, 1, 1, C, tx->scale, tx->zero_point);
    sb_op *op = tg_op(tg, SB_OP_GAVGPOOL, name, y);
    tg_inputs(op, x, -1, -1);
    double e = 1.0 / HW;
    int ex;
    double q = frexp(e, &ex);
    tg_requant1(tg, op, (int32_t)llround(q * 2147483648.0), ex, (float)e);
    return op;
}

/* Build the tiny net at input size h x w. */
static void tnet_build(tgraph *tg, uint64_t seed, sb_requant_mode mode, int h, int w) {
    trng r = {seed * 0x9E3779B97F4A7C15ull + 1};
    tg_init(tg, "tnet", mode);
    int x = tg_act(tg, "input", 4, 1, h, w, 3, 1.0f / 255.0f, -128);
    sb_op *c0 = tnet_conv(tg, &r, SB_OP_CONV2D, "stem", x, 8, 3, 2, 1, 0.05f, -3);
    sb_op *l0 = tnet_lut(tg, &r, "stem.silu", "silu", c0->output);
    sb_op *d1 = tnet_conv(tg, &r, SB_OP_DWCONV2D, "dw", l0->output, 8, 3, 1, 1, 0.05f, 2);
    d1->act_min = 2;
    d1->act = "relu";
    sb_op *g1 = tnet_gavg(tg, "se.pool", d1->output);
    sb_op *s1 = tnet_conv(tg, &r, SB_OP_CONV2D, "se.reduce", g1->output, 4, 1, 1, 0, 0.05f, 0);
    sb_op *l1 = tnet_lut(tg, &r, "se.silu", "silu", s1->output);
    sb_op *s2 = tnet_conv(tg, &r, SB_OP_CONV2D, "se.expand", l1->output, 8, 1, 1, 0, 0.05f, 1);
    sb_op *l2 = tnet_lut(tg, &r, "se.sigmoid", "sigmoid", s2->output);
    const sb_tensor *td = &tg->t[d1->output];
    int ym = tg_act(tg, "se.mul", 4, 1, td->shape[1], td->shape[2], 8, 0.05f, -1);
    sb_op *mu = tg_op(tg, SB_OP_MUL, "se.mul", ym);
    tg_inputs(mu, d1->output, l2->output, -1);
    tg_requant1(tg, mu, 1288490189, -7, 0.0046875f);
    sb_op *pj = tnet_conv(tg, &r, SB_OP_CONV2D, "project", ym, 8, 1, 1, 0, 0.05f, 4);
    const sb_tensor *tp = &tg->t[pj->output];
    int ya = tg_act(tg, "add", 4, 1, tp->shape[1], tp->shape[2], 8, 0.07f, -5);
    sb_op *ad = tg_op(tg, SB_OP_ADD, "add", ya);
    tg_inputs(ad, pj->output, l0->output, -1);
    tg_requant1(tg, ad, 1533916891, -1, 0.714285731f);
    ad->left_shift = 20;
    ad->multiplier_b = 1533916891;
    ad->shift_b = -1;
    ad->multiplier_out = 1227133513;
    ad->shift_out = -19;
    ad->scale_b_f32 = 0.714285731f;
    const sb_tensor *ta = &tg->t[ya];
    int OH = sb_conv_out_dim(ta->shape[1], 2, 2, 1, 0, 1), OW = sb_conv_out_dim(ta->shape[2], 2, 2, 1, 0, 1);
    int yp = tg_act(tg, "maxpool", 4, 1, OH, OW, 8, 0.07f, -5);
    sb_op *mp = tg_op(tg, SB_OP_MAXPOOL, "maxpool", yp);
    tg_inputs(mp, ya, -1, -1);
    mp->kernel_h = mp->kernel_w = 2;
    mp->stride_h = mp->stride_w = 2;
    mp->pad_bottom = mp->pad_right = 1;
    sb_op *g2 = tnet_gavg(tg, "pool", yp);
    int tw = tnet_weights(tg, &r, "fc.w", 7, 1, 1, 8, 0);
    tg->t[tw].rank = 2;
    tg->t[tw].shape[1] = 8; /* [7, 8] */
    int tb = tnet_bias(tg, &r, 7);
    int yl = tg_act(tg, "logits", 2, 1, 7, 0, 0, 0.1f, 3);
    sb_op *fc = tg_op(tg, SB_OP_FC, "fc", yl);
    tg_inputs(fc, g2->output, tw, tb);
    tnet_requant(tg, &r, fc, 7, 8);
    tg->g.input = x;
    tg->g.output = yl;
    tg->g.n_classes = 7;
    tg->g.class_names = tnet_classes;
    tg->g.provenance_json = "{\"recipe\":\"tnet random\",\"dataset\":\"none\"}";
}

#endif
