/*
 * test_gpu_emulate.c - the GPU backend's plan and element kernels, run on the
 * host (sb_gpu_emulate: every "thread" in turn), against the CPU kernels
 * (sb_op_run_int8), op by op and image by image, in a batch of 3 different
 * images. This checks the indexing, the dp4a decomposition, the batch layout
 * and the output stages of the code nvcc compiles, without a GPU; the GPU
 * itself is checked by bench/gpu_check.sh.
 * The graph (gpu_test_graph.h) runs in fixed and in float requantisation.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_test_graph.h"
#include "sb_gpu_plan.h"

/* Host "device" memory for the plan. */
typedef struct host_mem { void *p[400]; int n; } host_mem;
static int hm_alloc(void *ctx, size_t bytes, uint64_t *addr, sb_error *err) {
    (void)err;
    host_mem *m = ctx;
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || m->n == 400) return SB_ENOMEM;
    m->p[m->n++] = p;
    *addr = (uint64_t)(uintptr_t)p;
    return 0;
}
static int hm_upload(void *ctx, const void *src, size_t bytes, uint64_t *addr, sb_error *err) {
    int rc = hm_alloc(ctx, bytes, addr, err);
    if (!rc) memcpy((void *)(uintptr_t)*addr, src, bytes);
    return rc;
}
static void hm_free(host_mem *m) {
    for (int i = 0; i < m->n; i++) free(m->p[i]);
}

/* CPU: every activation of one image, op by op. */
static void cpu_run(const sb_graph *g, const int8_t *input, int8_t **act) {
    sb_error err = {0};
    for (int t = 0; t < g->n_tensors; t++)
        act[t] = g->tensors[t].data ? NULL : calloc(1, (size_t)sb_tensor_elems(&g->tensors[t]));
    memcpy(act[g->input], input, (size_t)sb_tensor_elems(&g->tensors[g->input]));
    for (int i = 0; i < g->n_ops; i++) assert_int_equal(sb_op_run_int8(g, i, act, &err), 0);
}

/* Emulated GPU vs CPU over a batch; returns the number of differing bytes
 * over every activation tensor. `corrupt` changes one uploaded parameter to
 * show that the comparison can fail. */
static long compare(tg *x, int corrupt) {
    const sb_graph *g = &x->g;
    sb_error err = {0};
    host_mem hm = {0};
    sb_gpu_mem mem = {&hm, hm_alloc, hm_upload};
    uint64_t ta[MAX_T];
    sb_gpu_launch launches[MAX_O];
    assert_int_equal(sb_graph_validate(g, &err), 0);
    assert_int_equal(sb_gpu_plan(g, BATCH, 0, &mem, ta, launches, &err), 0);
    size_t in_n = (size_t)sb_tensor_elems(&g->tensors[g->input]);
    int8_t *img = calloc(BATCH, in_n);
    for (size_t i = 0; i < BATCH * in_n; i++) img[i] = (int8_t)tg_range(x, -128, 127);
    memcpy((void *)(uintptr_t)ta[g->input], img, BATCH * in_n);
    if (corrupt) ((int32_t *)(uintptr_t)launches[corrupt].a.conv.bias)[0] += 4096;
    sb_gpu_emulate(launches, g->n_ops);
    long differ = 0;
    for (int b = 0; b < BATCH; b++) {
        int8_t *act[MAX_T];
        cpu_run(g, img + b * in_n, act);
        for (int t = 0; t < g->n_tensors; t++) {
            if (!act[t]) continue;
            size_t n = (size_t)sb_tensor_elems(&g->tensors[t]);
            const int8_t *gpu = (const int8_t *)(uintptr_t)ta[t] + b * n;
            for (size_t i = 0; i < n; i++) differ += gpu[i] != act[t][i];
            free(act[t]);
        }
    }
    free(img);
    hm_free(&hm);
    return differ;
}

static void test_fixed_bit_exact(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 5; seed++) {
        tg x;
        tg_build(&x, SB_REQUANT_FIXED, seed * 7919u);
        assert_int_equal(compare(&x, 0), 0);
        tg_free(&x);
    }
}

static void test_float_bit_exact(void **state) {
    (void)state;
    for (uint32_t seed = 1; seed <= 5; seed++) {
        tg x;
        tg_build(&x, SB_REQUANT_FLOAT, seed * 104729u);
        assert_int_equal(compare(&x, 0), 0);
        tg_free(&x);
    }
}

/* The comparison is not vacuous: a wrong bias in the GPU plan is seen. */
static void test_corruption_detected(void **state) {
    (void)state;
    tg x;
    tg_build(&x, SB_REQUANT_FIXED, 31337u);
    assert_true(compare(&x, 8 /* op 8: the 1x1 conv to t9 */) > 0);
    tg_free(&x);
}

/* fp32 path: the plan's float kernels against sb_graph_run_f32, per image of
 * a batch. The host has one expf, so only summation details may differ. */
static void test_fp32_close(void **state) {
    (void)state;
    tg x;
    tg_build(&x, SB_REQUANT_FIXED, 2024u);
    const sb_graph *g = &x.g;
    sb_error err = {0};
    host_mem hm = {0};
    sb_gpu_mem mem = {&hm, hm_alloc, hm_upload};
    uint64_t ta[MAX_T];
    sb_gpu_launch launches[MAX_O];
    sb_workspace *ws = NULL;
    assert_int_equal(sb_gpu_plan(g, BATCH, 1, &mem, ta, launches, &err), 0);
    assert_int_equal(sb_workspace_new(g, &ws, &err), 0);
    size_t in_n = (size_t)sb_tensor_elems(&g->tensors[g->input]);
    int8_t img[BATCH][9 * 9 * 3];
    float *xin = (float *)(uintptr_t)ta[g->input];
    for (int b = 0; b < BATCH; b++)
        for (size_t i = 0; i < in_n; i++) {
            img[b][i] = (int8_t)tg_range(&x, -128, 127);
            xin[b * in_n + i] = (float)((int32_t)img[b][i] + 128) / 255.0f;
        }
    sb_gpu_emulate(launches, g->n_ops);
    double max_diff = 0, max_abs = 0;
    for (int b = 0; b < BATCH; b++) {
        float want[7];
        const float *got = (const float *)(uintptr_t)ta[g->output] + b * 7;
        assert_int_equal(sb_graph_run_f32(g, ws, img[b], want, &err), 0);
        for (int k = 0; k < 7; k++) {
            max_diff = fmax(max_diff, fabs((double)got[k] - want[k]));
            max_abs = fmax(max_abs, fabs((double)want[k]));
        }
    }
    assert_true(max_abs > 0);
    assert_true(max_diff <= 1e-5 * max_abs);
    sb_workspace_free(ws);
    hm_free(&hm);
    tg_free(&x);
}

/* The dp4a stand-in equals the plain sum of four products. */
static void test_dp4a(void **state) {
    (void)state;
    int8_t a[4] = {-128, 127, -1, 5}, b[4] = {-128, -128, 127, -7};
    int32_t want = 100;
    for (int i = 0; i < 4; i++) want += a[i] * b[i];
    assert_int_equal(sb_gpu_dp4a(sb_gpu_load4(a), sb_gpu_load4(b), 100), want);
}

/* An op the backend does not handle is refused, naming it. */
static void test_unsupported_op(void **state) {
    (void)state;
    tg x;
    tg_build(&x, SB_REQUANT_FIXED, 5u);
    x.op[2].type = (sb_op_type)99;
    x.op[2].name = "weird";
    host_mem hm = {0};
    sb_gpu_mem mem = {&hm, hm_alloc, hm_upload};
    uint64_t ta[MAX_T];
    sb_gpu_launch launches[MAX_O];
    sb_error err = {0};
    assert_int_equal(sb_gpu_plan(&x.g, 1, 0, &mem, ta, launches, &err), SB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "op 2 'weird'"));
    hm_free(&hm);
    tg_free(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dp4a),
        cmocka_unit_test(test_fixed_bit_exact),
        cmocka_unit_test(test_float_bit_exact),
        cmocka_unit_test(test_corruption_detected),
        cmocka_unit_test(test_fp32_close),
        cmocka_unit_test(test_unsupported_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
