/*
 * test_ops_golden.c - each op on a tiny case whose result is worked out by
 * hand in the comments, through both the reference and the fast path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "tgraph.h"

#define Q30 (1 << 30) /* multiplier 0.5 */

/* Run `g` on `in` (reference, then fast on every ISA) and compare with `want`. */
static void expect(const sb_graph *g, const int8_t *in, const int8_t *want, size_t n) {
    sb_error err = {0};
    sb_workspace *ws;
    if (sb_workspace_new(g, &ws, &err)) fail_msg("%s", err.msg);
    int8_t out[64];
    assert_int_equal(sb_graph_run_int8_ref(g, ws, in, out, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (out[i] != want[i]) fail_msg("%s reference: output %zu = %d, expected %d", g->name, i, out[i], want[i]);
    for (int isa = 0; isa <= sb_kernels_isa(); isa++) {
        sb_kernels_set_isa(isa);
        memset(out, 0, sizeof out);
        assert_int_equal(sb_graph_run_int8(g, ws, in, out, &err), 0);
        for (size_t i = 0; i < n; i++)
            if (out[i] != want[i]) fail_msg("%s fast isa %d: output %zu = %d, expected %d", g->name, isa, i, out[i], want[i]);
    }
    sb_kernels_set_isa(-1);
    sb_workspace_free(ws);
}

/* x = [1 3; -1 5], zi = -1 -> x - zi = [2 4; 0 6]; w (2x2) = [1 2; 3 -1]; bias 10;
 * padding top 1, left 1: output 2x2.
 *   (0,0): only tap (1,1): 2 * -1 = -2           -> acc 8
 *   (0,1): taps (1,0),(1,1): 2*3 + 4*-1 = 2        -> acc 12
 *   (1,0): taps (0,1),(1,1): 2*2 + 0*-1 = 4        -> acc 14
 *   (1,1): all: 2*1 + 4*2 + 0*3 + 6*-1 = 4         -> acc 14
 * fixed m = 0.5, shift -1 (x 0.25): 8 -> 2, 12 -> 3, 14 -> 3.5 -> 4; zo 3: [5 6 7 7]. */
static void test_conv2d(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "conv2d", SB_REQUANT_FIXED);
    int x = tg_act(&tg, "x", 4, 1, 2, 2, 1, 1, -1);
    int8_t w[4] = {1, 2, 3, -1};
    int32_t b = 10, m = Q30, s = -1;
    float f = 0.25f;
    int tw = tg_const(&tg, "w", SB_DT_INT8, 4, 1, 2, 2, 1, w);
    int tb = tg_const(&tg, "b", SB_DT_INT32, 1, 1, 0, 0, 0, &b);
    int y = tg_act(&tg, "y", 4, 1, 2, 2, 1, 1, 3);
    sb_op *op = tg_op(&tg, SB_OP_CONV2D, "c", y);
    tg_inputs(op, x, tw, tb);
    op->kernel_h = op->kernel_w = 2;
    op->pad_top = op->pad_left = 1;
    tg_requant(&tg, op, 1, &m, &s, &f);
    tg.g.input = x;
    tg.g.output = y;
    int8_t in[4] = {1, 3, -1, 5}, want[4] = {5, 6, 7, 7};
    expect(tg_graph(&tg), in, want, 4);
    /* float mode, scale 0.25: 8 -> 2, 12 -> 3, 14 -> 3.5 -> 4 (tie to even): same here */
    tg.g.requant = SB_REQUANT_FLOAT;
    expect(tg_graph(&tg), in, want, 4);
    tg_free(&tg);
}

/* x (1x3, C=2) = [1 2 | 3 4 | 5 6], zi 0; w c0 = [1 0 -1], c1 = [2 2 2]; bias [0 1].
 *   c0: 1 - 5 = -4; c1: 2*(2+4+6) + 1 = 25.
 * float mode, scale 0.5: -2 and 12.5 -> 12 (half to even); zo 1: [-1 13].
 * fixed, m 0.5 shift 0: srdhm(-4) = -2, srdhm(25) = 12.5 -> 13; zo 1: [-1 14]. */
static void test_dwconv2d(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "dwconv2d", SB_REQUANT_FLOAT);
    int x = tg_act(&tg, "x", 4, 1, 1, 3, 2, 1, 0);
    int8_t w[6] = {1, 2, 0, 2, -1, 2};
    int32_t b[2] = {0, 1}, m[2] = {Q30, Q30}, s[2] = {0, 0};
    float f[2] = {0.5f, 0.5f};
    int tw = tg_const(&tg, "w", SB_DT_INT8, 4, 1, 1, 3, 2, w);
    int tb = tg_const(&tg, "b", SB_DT_INT32, 1, 2, 0, 0, 0, b);
    int y = tg_act(&tg, "y", 4, 1, 1, 1, 2, 1, 1);
    sb_op *op = tg_op(&tg, SB_OP_DWCONV2D, "dw", y);
    tg_inputs(op, x, tw, tb);
    op->kernel_w = 3;
    tg_requant(&tg, op, 2, m, s, f);
    tg.g.input = x;
    tg.g.output = y;
    int8_t in[6] = {1, 2, 3, 4, 5, 6}, want_f[2] = {-1, 13}, want_q[2] = {-1, 14};
    expect(tg_graph(&tg), in, want_f, 2);
    tg.g.requant = SB_REQUANT_FIXED;
    expect(tg_graph(&tg), in, want_q, 2);
    tg_free(&tg);
}

/* x = [11 12 8], zi 10 -> [1 2 -2]; w = [1 1 1; 3 -2 5]; bias [0 100].
 *   o0: 1 + 2 - 2 = 1; o1: 3 - 4 - 10 + 100 = 89.
 * m 0.5 shift 0: 0.5 -> 1, 44.5 -> 45; zo -128: [-127 -83]; act_min -100: [-100 -83]. */
static void test_fc(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "fc", SB_REQUANT_FIXED);
    int x = tg_act(&tg, "x", 4, 1, 1, 1, 3, 1, 10);
    int8_t w[6] = {1, 1, 1, 3, -2, 5};
    int32_t b[2] = {0, 100}, m[2] = {Q30, Q30}, s[2] = {0, 0};
    float f[2] = {0.5f, 0.5f};
    int tw = tg_const(&tg, "w", SB_DT_INT8, 2, 2, 3, 0, 0, w);
    int tb = tg_const(&tg, "b", SB_DT_INT32, 1, 2, 0, 0, 0, b);
    int y = tg_act(&tg, "y", 2, 1, 2, 0, 0, 1, -128);
    sb_op *op = tg_op(&tg, SB_OP_FC, "fc", y);
    tg_inputs(op, x, tw, tb);
    tg_requant(&tg, op, 2, m, s, f);
    op->act_min = -100;
    tg.g.input = x;
    tg.g.output = y;
    int8_t in[3] = {11, 12, 8}, want[2] = {-100, -83};
    expect(tg_graph(&tg), in, want, 2);
    tg_free(&tg);
}

/* a = the input [1 -3], za 2 -> a - za = [-1 -5]; b = an identity LUT copy of
 * the same bytes with zero point -3 -> b - zb = [4 0]; real = 0.5 a + 1.0 b.
 * fixed (left_shift 20, a x 0.5, b x 1.0, out x 2^-20):
 *   la = -0.5 * 2^20, lb = 4 * 2^20 -> 3.5 -> 4;  la = -2.5 * 2^20 -> -2.5 -> -3
 *   (half away from zero).  float: rint(3.5) = 4, rint(-2.5) = -2. zo 0. */
static void test_add(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "add", SB_REQUANT_FIXED);
    int a = tg_act(&tg, "a", 4, 1, 1, 2, 1, 1, 2);
    int tb = tg_act(&tg, "b", 4, 1, 1, 2, 1, 1, -3);
    int8_t id[256];
    for (int i = 0; i < 256; i++) id[i] = (int8_t)(i - 128);
    int tt = tg_const(&tg, "id", SB_DT_INT8, 1, 256, 0, 0, 0, id);
    sb_op *cp = tg_op(&tg, SB_OP_LUT, "copy", tb);
    tg_inputs(cp, a, -1, -1);
    cp->lut = tg.t[tt].data;
    int y = tg_act(&tg, "y", 4, 1, 1, 2, 1, 1, 0);
    sb_op *op = tg_op(&tg, SB_OP_ADD, "add", y);
    tg_inputs(op, a, tb, -1);
    tg_requant1(&tg, op, Q30, 0, 0.5f);
    op->multiplier_b = Q30;
    op->shift_b = 1;
    op->multiplier_out = Q30;
    op->shift_out = -19;
    op->scale_b_f32 = 1.0f;
    tg.g.input = a;
    tg.g.output = y;
    int8_t in[2] = {1, -3}, want_q[2] = {4, -3}, want_f[2] = {4, -2};
    expect(tg_graph(&tg), in, want_q, 2);
    tg.g.requant = SB_REQUANT_FLOAT;
    expect(tg_graph(&tg), in, want_f, 2);
    tg_free(&tg);
}

/* a = the input (1x2 pixels, C=2), zero points 0; b = gavgpool(a) with
 * multiplier 0.5 (sum / 2), broadcast over the pixels by mul (x 0.25: m 0.5, shift -1).
 * a = [1 2 | 3 4]: sums [4 6] -> srdhm: 2.5 -> 2, 3.5 -> 3: b = [2 3];
 *   products [2 6 | 6 12] x 0.25: srdhm 1.5 -> 1 then 0.5 -> 1; 3 then 1.5 -> 2; 2; 6 -> 3:
 *   [1 2 2 3].
 * a = [-3 5 | -4 -6]: sums [-7 -1] -> srdhm -3.99.. -> -3, -0.99.. -> 0: b = [-3 0];
 *   products [9 0 | 12 0]: 9 -> srdhm 5 -> 2.5 -> 3 (double rounding: 2.25 gives 3), 12 -> 3:
 *   [3 0 3 0].
 * float mode: b = [rint(2) rint(3)] = [2 3]: x 0.25 -> 0.5 -> 0, 1.5 -> 2, 2, 3: [0 2 2 3];
 *   b = [rint(-3.5) rint(-0.5)] = [-4 0]: products [12 0 16 0] -> [3 0 4 0]. */
static void test_mul_broadcast(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "mul", SB_REQUANT_FIXED);
    int x = tg_act(&tg, "a", 4, 1, 1, 2, 2, 1, 0);
    int tb = tg_act(&tg, "b", 4, 1, 1, 1, 2, 1, 0);
    sb_op *gp = tg_op(&tg, SB_OP_GAVGPOOL, "b", tb);
    tg_inputs(gp, x, -1, -1);
    tg_requant1(&tg, gp, Q30, 0, 0.5f);
    int y = tg_act(&tg, "y", 4, 1, 1, 2, 2, 1, 0);
    sb_op *op = tg_op(&tg, SB_OP_MUL, "mul", y);
    tg_inputs(op, x, tb, -1);
    tg_requant1(&tg, op, Q30, -1, 0.25f);
    tg.g.input = x;
    tg.g.output = y;
    int8_t in1[4] = {1, 2, 3, 4}, want1[4] = {1, 2, 2, 3};
    int8_t in2[4] = {-3, 5, -4, -6}, want2[4] = {3, 0, 3, 0};
    expect(tg_graph(&tg), in1, want1, 4);
    expect(tg_graph(&tg), in2, want2, 4);
    tg.g.requant = SB_REQUANT_FLOAT;
    int8_t want1f[4] = {0, 2, 2, 3}, want2f[4] = {3, 0, 4, 0};
    expect(tg_graph(&tg), in1, want1f, 4);
    expect(tg_graph(&tg), in2, want2f, 4);
    tg_free(&tg);
}

/* x (2x2, C=2): c0 = [1 2 3 5], c1 = [-8 -8 -8 -9]; zi 1 -> sums 7 and -37;
 * m 0.5 shift -1 (x 0.25 = 1/(H*W)): 1.75 -> 2; srdhm(-37) = -18, -18 / 2 = -9. */
static void test_gavgpool(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "gavgpool", SB_REQUANT_FIXED);
    int x = tg_act(&tg, "x", 4, 1, 2, 2, 2, 1, 1);
    int y = tg_act(&tg, "y", 4, 1, 1, 1, 2, 1, 0);
    sb_op *op = tg_op(&tg, SB_OP_GAVGPOOL, "gap", y);
    tg_inputs(op, x, -1, -1);
    tg_requant1(&tg, op, Q30, -1, 0.25f);
    tg.g.input = x;
    tg.g.output = y;
    int8_t in[8] = {1, -8, 2, -8, 3, -8, 5, -9}, want[2] = {2, -9};
    expect(tg_graph(&tg), in, want, 2);
    tg_free(&tg);
}

/* x (3x3) = [-5 3 0; 7 -2 1; 4 4 -9], kernel 2x2 stride 2, padding bottom/right 1:
 * windows: max(-5,3,7,-2) = 7; max(0,1) = 1; max(4,4) = 4; max(-9) = -9 (padding
 * never wins); act_min -8 clamps the last: [7 1 4 -8]. */
static void test_maxpool(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "maxpool", SB_REQUANT_FIXED);
    int x = tg_act(&tg, "x", 4, 1, 3, 3, 1, 1, 0);
    int y = tg_act(&tg, "y", 4, 1, 2, 2, 1, 1, 0);
    sb_op *op = tg_op(&tg, SB_OP_MAXPOOL, "mp", y);
    tg_inputs(op, x, -1, -1);
    op->kernel_h = op->kernel_w = 2;
    op->stride_h = op->stride_w = 2;
    op->pad_bottom = op->pad_right = 1;
    op->act_min = -8;
    tg.g.input = x;
    tg.g.output = y;
    int8_t in[9] = {-5, 3, 0, 7, -2, 1, 4, 4, -9}, want[4] = {7, 1, 4, -8};
    expect(tg_graph(&tg), in, want, 4);
    tg_free(&tg);
}

/* table[i] = i / 2 - 64: x = -128 -> table[0] = -64, 0 -> table[128] = 0,
 * 127 -> table[255] = 63. */
static void test_lut(void **state) {
    (void)state;
    tgraph tg;
    tg_init(&tg, "lut", SB_REQUANT_FIXED);
    int x = tg_act(&tg, "x", 4, 1, 1, 1, 3, 1, 0);
    int8_t t[256];
    for (int i = 0; i < 256; i++) t[i] = (int8_t)(i / 2 - 64);
    int tt = tg_const(&tg, "t", SB_DT_INT8, 1, 256, 0, 0, 0, t);
    int y = tg_act(&tg, "y", 4, 1, 1, 1, 3, 1, 0);
    sb_op *op = tg_op(&tg, SB_OP_LUT, "lut", y);
    tg_inputs(op, x, -1, -1);
    op->lut = tg.t[tt].data;
    tg.g.input = x;
    tg.g.output = y;
    int8_t in[3] = {-128, 0, 127}, want[3] = {-64, 0, 63};
    expect(tg_graph(&tg), in, want, 3);
    tg_free(&tg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),  cmocka_unit_test(test_dwconv2d), cmocka_unit_test(test_fc),
        cmocka_unit_test(test_add),     cmocka_unit_test(test_mul_broadcast), cmocka_unit_test(test_gavgpool),
        cmocka_unit_test(test_maxpool), cmocka_unit_test(test_lut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
