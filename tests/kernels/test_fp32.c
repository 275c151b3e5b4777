/*
 * test_fp32.c - the float32 path on a tiny graph computed by hand:
 * conv 1x1 (dequantised int8 weights) + relu -> sigmoid -> gavgpool ->
 * fc (weights_f32/bias_f32 from the file, which win over the int8 weights).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "tgraph.h"

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

static void build(tgraph *tg, const char *lut_act) {
    tg_init(tg, "fp32", SB_REQUANT_FIXED);
    int x = tg_act(tg, "input", 4, 1, 1, 2, 3, 1.0f / 255.0f, -128);
    int8_t w[6] = {10, -20, 30, 5, 5, -5};
    float cs[2] = {0.01f, 0.1f};
    int32_t b[2] = {100, -50}, m[2] = {1 << 30, 1 << 30}, s[2] = {0, 0};
    float f[2] = {1, 1};
    int tcs = tg_const(tg, "cs", SB_DT_FLOAT32, 1, 2, 0, 0, 0, cs);
    int tw = tg_const(tg, "w", SB_DT_INT8, 4, 2, 1, 1, 3, w);
    tg->t[tw].channel_scales = tg->t[tcs].data;
    tg->t[tw].n_channel_scales = 2;
    int tb = tg_const(tg, "b", SB_DT_INT32, 1, 2, 0, 0, 0, b);
    int y = tg_act(tg, "conv", 4, 1, 1, 2, 2, 0.01f, 0);
    sb_op *c = tg_op(tg, SB_OP_CONV2D, "conv", y);
    tg_inputs(c, x, tw, tb);
    c->act = "relu";
    tg_requant(tg, c, 2, m, s, f);
    int8_t table[256] = {0};
    int tt = tg_const(tg, "t", SB_DT_INT8, 1, 256, 0, 0, 0, table);
    int y2 = tg_act(tg, "sig", 4, 1, 1, 2, 2, 0.01f, 0);
    sb_op *l = tg_op(tg, SB_OP_LUT, "sig", y2);
    tg_inputs(l, y, -1, -1);
    l->lut = tg->t[tt].data;
    l->act = lut_act;
    int y3 = tg_act(tg, "pool", 4, 1, 1, 1, 2, 0.01f, 0);
    sb_op *gp = tg_op(tg, SB_OP_GAVGPOOL, "pool", y3);
    tg_inputs(gp, y2, -1, -1);
    tg_requant1(tg, gp, 1 << 30, 0, 0.5f);
    int8_t w2[4] = {1, 1, 1, 1};
    float wf[4] = {1, 2, -1, 3}, bf[2] = {0.25f, -0.5f};
    int tw2 = tg_const(tg, "fc.w", SB_DT_INT8, 2, 2, 2, 0, 0, w2);
    int twf = tg_const(tg, "fc.wf", SB_DT_FLOAT32, 2, 2, 2, 0, 0, wf);
    int tbf = tg_const(tg, "fc.bf", SB_DT_FLOAT32, 1, 2, 0, 0, 0, bf);
    int y4 = tg_act(tg, "logits", 2, 1, 2, 0, 0, 0.01f, 0);
    sb_op *fc = tg_op(tg, SB_OP_FC, "fc", y4);
    tg_inputs(fc, y3, tw2, -1);
    tg_requant(tg, fc, 2, m, s, f);
    fc->weights_f32 = tg->t[twf].data;
    fc->bias_f32 = tg->t[tbf].data;
    tg->g.input = x;
    tg->g.output = y4;
}

static void test_by_hand(void **state) {
    (void)state;
    tgraph tg;
    build(&tg, "sigmoid");
    /* pixels [0 255 51 | 102 204 0] -> real [0 1 0.2 | 0.4 0.8 0] */
    int8_t in[6] = {-128, 127, 51 - 128, 102 - 128, 204 - 128, -128};
    double x[2][3] = {{0, 1, 51 / 255.0}, {102 / 255.0, 204 / 255.0, 0}};
    double wf[2][3] = {{0.1, -0.2, 0.3}, {0.5, 0.5, -0.5}};                  /* w * cs */
    double bias[2] = {100 * (1 / 255.0) * 0.01, -50 * (1 / 255.0) * 0.1};    /* b * s_in * cs */
    double pool[2] = {0, 0};
    for (int p = 0; p < 2; p++)
        for (int o = 0; o < 2; o++) {
            double v = bias[o] + x[p][0] * wf[o][0] + x[p][1] * wf[o][1] + x[p][2] * wf[o][2];
            pool[o] += sig(v > 0 ? v : 0) / 2; /* relu, sigmoid, mean of 2 pixels */
        }
    double want[2] = {0.25 + 1 * pool[0] + 2 * pool[1], -0.5 - 1 * pool[0] + 3 * pool[1]};
    sb_error err = {0};
    sb_workspace *ws;
    assert_int_equal(sb_workspace_new(tg_graph(&tg), &ws, &err), 0);
    float out[2];
    for (int isa = 0; isa <= sb_kernels_isa(); isa++) {
        sb_kernels_set_isa(isa);
        if (sb_graph_run_f32(tg_graph(&tg), ws, in, out, &err)) fail_msg("%s", err.msg);
        for (int i = 0; i < 2; i++)
            if (fabs(out[i] - want[i]) > 1e-5) fail_msg("isa %d: logit %d = %.7f, expected %.7f", isa, i, out[i], want[i]);
    }
    sb_kernels_set_isa(-1);
    /* pixel 0, channel 0 is negative before relu: the relu mattered */
    assert_true(pool[0] == 0.5);
    int32_t t_conv = tg.o[0].output;
    const float *conv = sb_workspace_act_f32(ws, t_conv);
    assert_non_null(conv);
    assert_true(conv[0] == 0.0f);
    assert_int_equal(sb_graph_f32_dequantised(tg_graph(&tg)), 1); /* the conv had no weights_f32 */
    sb_workspace_free(ws);
    tg_free(&tg);
}

static void test_unknown_act(void **state) {
    (void)state;
    tgraph tg;
    build(&tg, "gelu");
    sb_error err = {0};
    sb_workspace *ws;
    assert_int_equal(sb_workspace_new(tg_graph(&tg), &ws, &err), 0);
    int8_t in[6] = {0};
    float out[2];
    assert_int_equal(sb_graph_run_f32(tg_graph(&tg), ws, in, out, &err), SB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "'sig'"));
    assert_non_null(strstr(err.msg, "expected sigmoid"));
    sb_workspace_free(ws);
    tg_free(&tg);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_by_hand), cmocka_unit_test(test_unknown_act)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
