/*
 * test_fast_vs_ref.c - every fast kernel (each instruction set this host
 * has) against the straightforward one, on random shapes and parameters:
 * odd sizes, stride 2, asymmetric padding, dilation 2, zero points -128 and
 * 127, saturation, both requantisation modes, many seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "kernels_internal.h"
#include "tnet.h"

static int pick_zp(trng *r) {
    switch (trng_range(r, 0, 3)) {
    case 0: return -128;
    case 1: return 127;
    default: return trng_range(r, -128, 127);
    }
}

/* Per-channel requantisation: mostly sensible scales, some that saturate. */
static void random_requant(tgraph *tg, trng *r, sb_op *op, int n, int K) {
    int32_t *m = malloc((size_t)n * 4), *s = malloc((size_t)n * 4);
    float *f = malloc((size_t)n * 4);
    int base = -7 - (K > 64) - (K > 512); /* roughly 1 / (sqrt(K) * 16) */
    for (int i = 0; i < n; i++) {
        m[i] = trng_range(r, 0, 15) == 0 ? 0 : (int32_t)((1u << 30) + (trng_next(r) & 0x3FFFFFFF));
        s[i] = base + trng_range(r, -3, 3);
        if (trng_range(r, 0, 9) == 0) s[i] = trng_range(r, -31, 4); /* extremes */
        f[i] = (float)ldexp((double)(m[i] ? m[i] : 1) / 2147483648.0, s[i]);
    }
    tg_requant(tg, op, n, m, s, f);
    free(m);
    free(s);
    free(f);
}

static void random_act(trng *r, sb_op *op, int zo) {
    switch (trng_range(r, 0, 3)) {
    case 0: op->act_min = zo; op->act = "relu"; break;               /* relu */
    case 1: op->act_min = zo; op->act_max = zo + 60 > 127 ? 127 : zo + 60; op->act = "relu6"; break;
    default: break;
    }
}

static int8_t *random_bytes(trng *r, size_t n, int lo, int hi) {
    int8_t *p = malloc(n ? n : 1);
    trng_fill8(r, p, n, lo, hi);
    return p;
}

static int32_t *random_bias(trng *r, int n) {
    int32_t *b = malloc((size_t)n * 4);
    for (int i = 0; i < n; i++) b[i] = trng_range(r, -40000, 40000);
    return b;
}

/* Build a one-conv (or dw) graph; returns 0 if the random window does not fit. */
static int build_conv(tgraph *tg, trng *r, int dw, sb_requant_mode mode) {
    tg_init(tg, dw ? "dw" : "conv", mode);
    int pointwise = !dw && trng_range(r, 0, 2) == 0;
    int H = trng_range(r, 1, pointwise ? 24 : 13), W = trng_range(r, 1, pointwise ? 24 : 13);
    int I = trng_range(r, 1, 40), O = dw ? I : trng_range(r, 1, 40);
    static const int ks[] = {1, 2, 3, 5};
    int KH = pointwise ? 1 : ks[trng_range(r, 0, 3)], KW = pointwise ? 1 : ks[trng_range(r, 0, 3)];
    int zi = pick_zp(r), zo = pick_zp(r);
    int x = tg_act(tg, "x", 4, 1, H, W, I, 0.02f, zi);
    int8_t *w = random_bytes(r, (size_t)O * KH * KW * I, -128, 127);
    int tw = dw ? tg_const(tg, "w", SB_DT_INT8, 4, 1, KH, KW, I, w) : tg_const(tg, "w", SB_DT_INT8, 4, O, KH, KW, I, w);
    int32_t *bias = random_bias(r, O);
    int tb = tg_const(tg, "b", SB_DT_INT32, 1, O, 0, 0, 0, bias);
    free(w);
    free(bias);
    int sh = pointwise ? 1 : trng_range(r, 1, 2), sw = pointwise ? 1 : trng_range(r, 1, 2);
    int dh = pointwise ? 1 : trng_range(r, 1, 2), dwl = pointwise ? 1 : trng_range(r, 1, 2);
    int pt = pointwise ? 0 : trng_range(r, 0, 2), pl = pointwise ? 0 : trng_range(r, 0, 2);
    int pb = pointwise ? 0 : trng_range(r, 0, 2), pr = pointwise ? 0 : trng_range(r, 0, 2);
    int OH = sb_conv_out_dim(H, KH, sh, dh, pt, pb), OW = sb_conv_out_dim(W, KW, sw, dwl, pl, pr);
    if (OH < 1 || OW < 1) return 0;
    int y = tg_act(tg, "y", 4, 1, OH, OW, O, 0.05f, zo);
    sb_op *op = tg_op(tg, dw ? SB_OP_DWCONV2D : SB_OP_CONV2D, "op", y);
    tg_inputs(op, x, tw, trng_range(r, 0, 5) ? tb : -1);
    op->kernel_h = KH;
    op->kernel_w = KW;
    op->stride_h = sh;
    op->stride_w = sw;
    op->dilation_h = dh;
    op->dilation_w = dwl;
    op->pad_top = pt;
    op->pad_left = pl;
    op->pad_bottom = pb;
    op->pad_right = pr;
    random_requant(tg, r, op, O, KH * KW * (dw ? 1 : I));
    random_act(r, op, zo);
    tg->g.input = x;
    tg->g.output = y;
    return 1;
}

static void build_fc(tgraph *tg, trng *r, sb_requant_mode mode) {
    tg_init(tg, "fc", mode);
    int I = trng_range(r, 1, 300), O = trng_range(r, 1, 40);
    int zi = pick_zp(r), zo = pick_zp(r);
    /* the graph input must be [1,H,W,3]: feed I*3 values as [1,1,I,3] */
    int x = tg_act(tg, "x", 4, 1, 1, I, 3, 0.02f, zi);
    int8_t *w = random_bytes(r, (size_t)O * I * 3, -127, 127);
    int tw = tg_const(tg, "w", SB_DT_INT8, 2, O, I * 3, 0, 0, w);
    int32_t *bias = random_bias(r, O);
    int tb = tg_const(tg, "b", SB_DT_INT32, 1, O, 0, 0, 0, bias);
    free(w);
    free(bias);
    int y = tg_act(tg, "y", 2, 1, O, 0, 0, 0.05f, zo);
    sb_op *op = tg_op(tg, SB_OP_FC, "fc", y);
    tg_inputs(op, x, tw, tb);
    random_requant(tg, r, op, O, I * 3);
    random_act(r, op, zo);
    tg->g.input = x;
    tg->g.output = y;
}

/* Fast (every ISA) == reference; returns how many outputs were not at a clamp
 * bound, so the caller can check the cases were not all saturated. */
static int64_t check_graph(const sb_graph *g, trng *r, int seed) {
    sb_error err = {0};
    sb_workspace *ws = NULL;
    int rc = sb_workspace_new(g, &ws, &err);
    if (rc) fail_msg("seed %d: %s", seed, err.msg);
    size_t n_in = (size_t)sb_tensor_elems(&g->tensors[g->input]);
    size_t n_out = (size_t)sb_tensor_elems(&g->tensors[g->output]);
    int8_t *in = random_bytes(r, n_in, -128, 127), *ref = malloc(n_out), *fast = malloc(n_out);
    assert_int_equal(sb_graph_run_int8_ref(g, ws, in, ref, &err), 0);
    /* every activation, not only the output: an intermediate error may be masked by a clamp */
    int8_t **acts = calloc((size_t)g->n_tensors, sizeof *acts);
    for (int32_t t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].data) {
            size_t n = (size_t)sb_tensor_elems(&g->tensors[t]);
            acts[t] = malloc(n);
            memcpy(acts[t], sb_workspace_act(ws, t), n);
        }
    int best = sb_kernels_isa();
    for (int isa = SB_ISA_PORTABLE; isa <= best; isa++) {
        assert_int_equal(sb_kernels_set_isa(isa), isa);
        memset(fast, 0x55, n_out);
        for (int32_t t = 0; t < g->n_tensors; t++) /* poison: a kernel that writes nothing must fail */
            if (acts[t] && t != g->input)
                memset((void *)(uintptr_t)sb_workspace_act(ws, t), 0x55, (size_t)sb_tensor_elems(&g->tensors[t]));
        assert_int_equal(sb_graph_run_int8(g, ws, in, fast, &err), 0);
        for (size_t i = 0; i < n_out; i++)
            if (fast[i] != ref[i])
                fail_msg("graph '%s' seed %d isa %d: output %zu: fast %d, reference %d", g->name, seed, isa, i,
                         fast[i], ref[i]);
        for (int32_t t = 0; t < g->n_tensors; t++) {
            const int8_t *got = sb_workspace_act(ws, t);
            for (int64_t i = 0; acts[t] && i < sb_tensor_elems(&g->tensors[t]); i++)
                if (got[i] != acts[t][i])
                    fail_msg("graph '%s' seed %d isa %d: tensor %d '%s' element %lld: fast %d, reference %d", g->name,
                             seed, isa, (int)t, g->tensors[t].name, (long long)i, got[i], acts[t][i]);
        }
    }
    sb_kernels_set_isa(-1);
    /* the same image split over 3 threads: the same bytes everywhere */
    sb_workspace *wt;
    if (sb_workspace_new(g, &wt, &err) || sb_workspace_set_threads(wt, 3, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sb_graph_run_int8(g, wt, in, fast, &err), 0);
    assert_memory_equal(fast, ref, n_out);
    for (int32_t t = 0; t < g->n_tensors; t++)
        if (acts[t] && memcmp(sb_workspace_act(wt, t), acts[t], (size_t)sb_tensor_elems(&g->tensors[t])) != 0)
            fail_msg("graph '%s' seed %d, 3 threads: tensor %d '%s' differs from the reference", g->name, seed, (int)t,
                     g->tensors[t].name);
    sb_workspace_free(wt);
    for (int32_t t = 0; t < g->n_tensors; t++) free(acts[t]);
    free(acts);
    int64_t interior = 0;
    for (size_t i = 0; i < n_out; i++) interior += ref[i] > -128 && ref[i] < 127;
    free(in);
    free(ref);
    free(fast);
    sb_workspace_free(ws);
    return interior;
}

static void test_conv_random(void **state) {
    (void)state;
    int64_t interior = 0, total = 0;
    for (int seed = 1; seed <= 400; seed++) {
        trng r = {0x9E3779B97F4A7C15ull * (uint64_t)seed};
        tgraph tg;
        if (!build_conv(&tg, &r, 0, seed % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT)) {
            tg_free(&tg);
            continue;
        }
        total += sb_tensor_elems(&tg.t[tg.g.output]);
        interior += check_graph(tg_graph(&tg), &r, seed);
        tg_free(&tg);
    }
    assert_true(interior > total / 4); /* most cases exercise the requantisation, not just the clamp */
}

static void test_dwconv_random(void **state) {
    (void)state;
    int64_t interior = 0, total = 0;
    for (int seed = 1; seed <= 400; seed++) {
        trng r = {0xD1B54A32D192ED03ull * (uint64_t)seed};
        tgraph tg;
        if (!build_conv(&tg, &r, 1, seed % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT)) {
            tg_free(&tg);
            continue;
        }
        total += sb_tensor_elems(&tg.t[tg.g.output]);
        interior += check_graph(tg_graph(&tg), &r, seed);
        tg_free(&tg);
    }
    assert_true(interior > total / 4);
}

static void test_fc_random(void **state) {
    (void)state;
    for (int seed = 1; seed <= 200; seed++) {
        trng r = {0xA0761D6478BD642Full * (uint64_t)seed};
        tgraph tg;
        build_fc(&tg, &r, seed % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT);
        check_graph(tg_graph(&tg), &r, seed);
        tg_free(&tg);
    }
}

/* add, broadcast mul and gavgpool with random zero points, multipliers,
 * shifts (extremes included) and clamps: x -> random LUT -> add(x, lut),
 * mul(x, gavgpool(x)). */
static void test_eltwise_random(void **state) {
    (void)state;
    for (int seed = 1; seed <= 300; seed++) {
        trng r = {0xBF58476D1CE4E5B9ull * (uint64_t)seed};
        tgraph tg;
        tg_init(&tg, "eltwise", seed % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT);
        int H = trng_range(&r, 1, 9), W = trng_range(&r, 1, 9), C = trng_range(&r, 1, 40);
        int x = tg_act(&tg, "x", 4, 1, H, W, C, 0.1f, pick_zp(&r));
        int8_t table[256];
        trng_fill8(&r, table, 256, -128, 127);
        int tt = tg_const(&tg, "t", SB_DT_INT8, 1, 256, 0, 0, 0, table);
        int tl = tg_act(&tg, "l", 4, 1, H, W, C, 0.1f, pick_zp(&r));
        sb_op *l = tg_op(&tg, SB_OP_LUT, "lut", tl);
        tg_inputs(l, x, -1, -1);
        l->lut = tg.t[tt].data;
        int ta = tg_act(&tg, "a", 4, 1, H, W, C, 0.1f, pick_zp(&r));
        sb_op *ad = tg_op(&tg, SB_OP_ADD, "add", ta);
        tg_inputs(ad, x, tl, -1);
        int32_t m[4];
        for (int i = 0; i < 4; i++) m[i] = trng_range(&r, 0, 9) ? (int32_t)((1u << 30) + (trng_next(&r) & 0x3FFFFFFF)) : 0;
        tg_requant1(&tg, ad, m[0], trng_range(&r, -3, 1), (float)trng_range(&r, 1, 300) / 256.0f);
        ad->left_shift = trng_range(&r, 0, 3) ? 20 : trng_range(&r, 0, 22);
        ad->multiplier_b = m[1];
        ad->shift_b = trng_range(&r, -3, 1);
        ad->multiplier_out = m[2];
        ad->shift_out = trng_range(&r, 0, 4) ? -ad->left_shift + trng_range(&r, -2, 2) : trng_range(&r, -31, 0);
        if (ad->shift_out < -31) ad->shift_out = -31;
        if (ad->shift_out > 30) ad->shift_out = 30;
        ad->scale_b_f32 = (float)trng_range(&r, 1, 300) / 256.0f;
        if (trng_range(&r, 0, 2) == 0) ad->act_min = trng_range(&r, -128, 0);
        int tp = tg_act(&tg, "p", 4, 1, 1, 1, C, 0.1f, pick_zp(&r));
        sb_op *gp = tg_op(&tg, SB_OP_GAVGPOOL, "gap", tp);
        tg_inputs(gp, ta, -1, -1);
        tg_requant1(&tg, gp, m[3], trng_range(&r, -8, 0) - (H * W > 8), 1.0f / (float)(H * W));
        int tm = tg_act(&tg, "m", 4, 1, H, W, C, 0.1f, pick_zp(&r));
        sb_op *mu = tg_op(&tg, SB_OP_MUL, "mul", tm);
        tg_inputs(mu, ta, tp, -1);
        tg_requant1(&tg, mu, (int32_t)((1u << 30) + (trng_next(&r) & 0x3FFFFFFF)), trng_range(&r, -14, -4),
                    (float)trng_range(&r, 1, 100) / 16384.0f);
        if (trng_range(&r, 0, 2) == 0) mu->act_max = trng_range(&r, 0, 127);
        tg.g.input = x;
        tg.g.output = tm;
        check_graph(tg_graph(&tg), &r, seed);
        tg_free(&tg);
    }
}

/* The whole tiny net (every op, cheap ones included) at odd sizes. */
static void test_tnet_random(void **state) {
    (void)state;
    for (int seed = 1; seed <= 40; seed++) {
        tgraph tg;
        tnet_build(&tg, (uint64_t)seed, seed % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT, 7 + seed % 11, 5 + seed % 13);
        trng r = {(uint64_t)seed * 77 + 5};
        sb_error err = {0};
        if (sb_graph_validate(tg_graph(&tg), &err)) fail_msg("%s", err.msg);
        check_graph(tg_graph(&tg), &r, seed);
        tg_free(&tg);
    }
}

/* Issue 19: a padding of 13000 makes the depthwise plane 43 GB; the message
 * said "out of memory for a workspace (384 bytes)" (the activations only).
 * Now the request is refused before any allocation, with its real size. */
static void test_workspace_size_reported(void **state) {
    (void)state;
    enum { PAD = 13000, H = 4, C = 3 };
    tgraph tg;
    tg_init(&tg, "huge-pad", SB_REQUANT_FIXED);
    int x = tg_act(&tg, "x", 4, 1, H, H, C, 0.02f, 0);
    int tw = tg_const(&tg, "w", SB_DT_INT8, 4, 1, 1, 1, C, NULL);
    int y = tg_act(&tg, "y", 4, 1, 2, 2, C, 0.05f, 0);
    sb_op *op = tg_op(&tg, SB_OP_DWCONV2D, "d", y);
    tg_inputs(op, x, tw, -1);
    op->stride_h = op->stride_w = PAD + 2; /* 2 x 2 outputs */
    op->pad_top = op->pad_left = op->pad_bottom = op->pad_right = PAD;
    int32_t m[C] = {1 << 30, 1 << 30, 1 << 30}, s[C] = {0, 0, 0};
    float f[C] = {0.5f, 0.5f, 0.5f};
    tg_requant(&tg, op, C, m, s, f);
    tg.g.input = x;
    tg.g.output = y;
    sb_workspace *ws = NULL;
    sb_error err = {0};
    char want[64];
    size_t side = H + 2 * PAD, plane = side * side * 16 * 2 * sizeof(int16_t); /* channels padded to 16 */
    snprintf(want, sizeof want, "shared %zu;", plane);
    assert_int_equal(sb_workspace_new(tg_graph(&tg), &ws, &err), SB_EUNSUPPORTED);
    assert_null(ws);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "op 0 'd'"));
    assert_non_null(strstr(err.msg, "too large"));
    tg_free(&tg);
    /* a size that does not fit size_t stays "too large", never wraps small */
    assert_true(sb_size_mul(SIZE_MAX / 2 + 1, 2) == SIZE_MAX);
    assert_true(sb_size_add(SIZE_MAX - 1, 2) == SIZE_MAX);
    assert_null(sb_aligned_alloc(SIZE_MAX));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workspace_size_reported),
        cmocka_unit_test(test_conv_random),
        cmocka_unit_test(test_dwconv_random),
        cmocka_unit_test(test_fc_random),
        cmocka_unit_test(test_eltwise_random),
        cmocka_unit_test(test_tnet_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
