/*
 * test_tfl_kernels.c - the engine's two TFLite variants (ABI 1.1) that the
 * tflite plugin uses, against arithmetic written out here in int64:
 *   - sb_op.single_round: x * m / 2^(31 - shift) rounded half up once
 *     (TFLITE_SINGLE_ROUNDING), on an FC, through the reference kernels and
 *     the fast ones at every instruction set;
 *   - sb_op.avg_count: TFLite's AVERAGE_POOL_2D, the raw sum divided with
 *     rounding half away from zero, including the negative ties where
 *     requantising the zero-point-corrected sum would round the other way.
 * Both default to 0, which keeps every .sbm result (tests/kernels).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb_kernels.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* round(x * m / 2^(31 - s)) half up, in int64 */
static int32_t single_ref(int32_t x, int32_t m, int32_t s) {
    int64_t p = (int64_t)x * m;
    int total = 31 - s;
    int64_t q = p >> total; /* floor */
    int64_t rem = p - q * ((int64_t)1 << total);
    return (int32_t)(q + (rem >= ((int64_t)1 << (total - 1)) ? 1 : 0));
}

static void test_mbqm_sr(void **state) {
    (void)state;
    assert_int_equal(sb_mbqm_sr(3, 1 << 30, -1), 1);   /* 3 * 0.5 / 2 = 0.75 -> 1 */
    assert_int_equal(sb_mbqm_sr(-3, 1 << 30, -2), 0);  /* -0.375 -> 0 */
    assert_int_equal(sb_mbqm_sr(-2, 1 << 30, 0), -1);  /* -1 exactly */
    assert_int_equal(sb_mbqm_sr(-1, 1 << 30, 0), 0);   /* -0.5: half up -> 0 */
    assert_int_equal(sb_mbqm_sr(5, 1 << 30, -1), 1);   /* 1.25 -> 1 */
    assert_int_equal(sb_mbqm(5, 1 << 30, -1), 2);      /* twice: 2.5 -> 3, then 1.5 -> 2 */
    for (int i = 0; i < 200000; i++) {
        int32_t x = (int32_t)rnd() >> (rnd() % 24), m = (int32_t)((1u << 30) | (rnd() & 0x3fffffff));
        int32_t s = -(int32_t)(rnd() % 20);
        assert_int_equal(sb_mbqm_sr(x, m, s), single_ref(x, m, s));
    }
}

/* A graph of one FC (single_round) or one gavgpool (avg_count). */
typedef struct one_op {
    sb_tensor t[4];
    sb_op op;
    sb_graph g;
    int8_t w[16 * 40];
    int32_t bias[16], mult[16], shift[16];
    float f[16];
} one_op;

static void make_fc(one_op *n) {
    memset(n, 0, sizeof *n);
    n->t[0] = (sb_tensor){"x", SB_DT_INT8, 4, {1, 2, 4, 5}, 0.1f, 3, NULL, 0, NULL, 0};
    n->t[1] = (sb_tensor){"w", SB_DT_INT8, 2, {16, 40}, 0, 0, NULL, 0, n->w, sizeof n->w};
    n->t[2] = (sb_tensor){"b", SB_DT_INT32, 1, {16}, 0, 0, NULL, 0, n->bias, sizeof n->bias};
    n->t[3] = (sb_tensor){"y", SB_DT_INT8, 2, {1, 16}, 0.2f, -5, NULL, 0, NULL, 0};
    for (size_t i = 0; i < sizeof n->w; i++) n->w[i] = (int8_t)rnd();
    for (int o = 0; o < 16; o++) {
        n->bias[o] = (int32_t)(rnd() % 20001) - 10000;
        n->mult[o] = (int32_t)((1u << 30) | (rnd() & 0x3fffffff));
        n->shift[o] = -(int32_t)(6 + rnd() % 8);
    }
    n->op = (sb_op){.type = SB_OP_FC, .name = "fc", .inputs = {0, 1, 2}, .n_inputs = 3, .output = 3,
                    .act_min = -128, .act_max = 127, .act = "none", .n_requant = 16, .multiplier = n->mult,
                    .shift = n->shift, .scale_f32 = n->f, .single_round = 1};
    n->g = (sb_graph){.name = "fc", .requant = SB_REQUANT_FIXED, .tensors = n->t, .n_tensors = 4, .ops = &n->op,
                      .n_ops = 1, .input = 0, .output = 3, .n_classes = 16};
}

/* Every path of the kernels gives `want`. */
static void check_paths(const sb_graph *g, const int8_t *x, const int8_t *want, int32_t n) {
    sb_error e = {0};
    sb_workspace *ws;
    int8_t got[64];
    assert_int_equal(sb_graph_validate(g, &e), 0);
    assert_int_equal(sb_workspace_new(g, &ws, &e), 0);
    assert_int_equal(sb_graph_run_int8_ref(g, ws, x, got, &e), 0);
    assert_memory_equal(got, want, (size_t)n);
    int best = sb_kernels_set_isa(SB_ISA_AVX512VNNI);
    for (int isa = SB_ISA_PORTABLE; isa <= best; isa++) {
        sb_kernels_set_isa(isa);
        memset(got, 0, sizeof got);
        assert_int_equal(sb_graph_run_int8(g, ws, x, got, &e), 0);
        assert_memory_equal(got, want, (size_t)n);
    }
    sb_kernels_set_isa(best);
    sb_workspace_free(ws);
}

static void test_fc_single_round(void **state) {
    (void)state;
    int differs = 0;
    for (int it = 0; it < 300; it++) {
        one_op n;
        int8_t x[40], want[16];
        make_fc(&n);
        for (int i = 0; i < 40; i++) x[i] = (int8_t)rnd();
        for (int o = 0; o < 16; o++) {
            int32_t acc = n.bias[o];
            for (int i = 0; i < 40; i++) acc += (x[i] - 3) * n.w[o * 40 + i];
            int32_t v = -5 + single_ref(acc, n.mult[o], n.shift[o]);
            want[o] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
            differs += sb_mbqm(acc, n.mult[o], n.shift[o]) != single_ref(acc, n.mult[o], n.shift[o]);
        }
        check_paths(&n.g, x, want, 16);
    }
    assert_true(differs > 0); /* the two roundings did disagree somewhere: the flag mattered */
}

static void test_avgpool_tflite(void **state) {
    (void)state;
    int neg_ties = 0;
    for (int it = 0; it < 400; it++) {
        one_op n;
        int32_t H = 1 + (int32_t)(rnd() % 8), W = 1 + (int32_t)(rnd() % 8), C = 1 + (int32_t)(rnd() % 16);
        int32_t z = (int32_t)(rnd() % 256) - 128, count = H * W;
        int8_t x[8 * 8 * 16], want[16];
        memset(&n, 0, sizeof n);
        n.t[0] = (sb_tensor){"x", SB_DT_INT8, 4, {1, H, W, C}, 0.5f, z, NULL, 0, NULL, 0};
        n.t[1] = (sb_tensor){"y", SB_DT_INT8, 4, {1, 1, 1, C}, 0.5f, z, NULL, 0, NULL, 0};
        n.mult[0] = 1 << 30;
        n.shift[0] = 0;
        int32_t lo = (int32_t)(rnd() % 64) - 128;
        n.op = (sb_op){.type = SB_OP_GAVGPOOL, .name = "pool", .inputs = {0, -1, -1}, .n_inputs = 1, .output = 1,
                       .act_min = lo, .act_max = 127, .act = "none", .n_requant = 1, .multiplier = n.mult,
                       .shift = n.shift, .scale_f32 = n.f, .avg_count = count};
        n.g = (sb_graph){.name = "pool", .requant = SB_REQUANT_FIXED, .tensors = n.t, .n_tensors = 2, .ops = &n.op,
                         .n_ops = 1, .input = 0, .output = 1, .n_classes = C};
        /* small values so that ties are frequent */
        for (int32_t i = 0; i < H * W * C; i++) x[i] = (int8_t)((int32_t)(rnd() % 5) - 2 + (it % 2 ? -60 : 40));
        for (int32_t c = 0; c < C; c++) {
            int64_t sum = 0;
            for (int32_t p = 0; p < H * W; p++) sum += x[p * C + c];
            /* round half away from zero, written with floor/ceil of exact quotients */
            int64_t q = (2 * (sum < 0 ? -sum : sum) + count) / (2 * count);
            int64_t v = sum < 0 ? -q : q;
            neg_ties += sum < 0 && (2 * -sum) % (2 * count) == count;
            want[c] = (int8_t)(v < lo ? lo : v > 127 ? 127 : v);
        }
        check_paths(&n.g, x, want, C);
    }
    assert_true(neg_ties > 0);
}

/* avg_count must be H * W (or 0). */
static void test_avgpool_count_checked(void **state) {
    (void)state;
    sb_tensor t[2] = {{"x", SB_DT_INT8, 4, {1, 2, 3, 4}, 0.5f, 0, NULL, 0, NULL, 0},
                      {"y", SB_DT_INT8, 4, {1, 1, 1, 4}, 0.5f, 0, NULL, 0, NULL, 0}};
    int32_t m = 1 << 30, s = 0;
    float f = 1;
    sb_op op = {.type = SB_OP_GAVGPOOL, .name = "pool", .inputs = {0, -1, -1}, .n_inputs = 1, .output = 1,
                .act_min = -128, .act_max = 127, .n_requant = 1, .multiplier = &m, .shift = &s, .scale_f32 = &f,
                .avg_count = 5};
    sb_graph g = {.name = "pool", .requant = SB_REQUANT_FIXED, .tensors = t, .n_tensors = 2, .ops = &op, .n_ops = 1,
                  .input = 0, .output = 1, .n_classes = 4};
    sb_error e = {0};
    assert_int_not_equal(sb_graph_validate(&g, &e), 0);
    assert_non_null(strstr(e.msg, "avg_count 5: expected 0 or H*W = 6"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mbqm_sr), cmocka_unit_test(test_fc_single_round),
        cmocka_unit_test(test_avgpool_tflite), cmocka_unit_test(test_avgpool_count_checked)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
