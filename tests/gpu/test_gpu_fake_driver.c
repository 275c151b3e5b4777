/*
 * test_gpu_fake_driver.c - the GPU backend plugin's own code (open, prepare,
 * run, the batch benchmark, report_json) driven through an emulated driver
 * (fake_cuda_emu.c: host memory, kernels run by sb_gpu_emulate, a constant
 * 50 W NVML). Checks the batch-slot bookkeeping against the CPU kernels and
 * the time/power/energy arithmetic and units of every metric.
 *
 * argv[1]: the plugin; argv[2]: the emulated libcuda + NVML.
 */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_test_graph.h"
#include "sb_gpu.h"

static const char *plugin_path, *emu_path;
static void *lib;
static const sb_backend_plugin *be;
static sb_gpu_bench_fn bench;

static int setup(void **state) {
    (void)state;
    lib = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(lib);
    const sb_plugin_header *const *entry = dlsym(lib, SB_PLUGIN_ENTRY_SYMBOL);
    void *b = dlsym(lib, SB_GPU_BENCH_SYMBOL);
    assert_non_null(entry);
    assert_non_null(b);
    be = (const sb_backend_plugin *)*entry;
    memcpy(&bench, &b, sizeof b);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dlclose(lib);
    return 0;
}

static void *open_emulated_prec(int batch, const char *precision) {
    sb_option o[5] = {{.key = "driver_lib", .type = SB_OPT_STRING, .s = emu_path, .file = "t", .line = 1},
                      {.key = "nvml_lib", .type = SB_OPT_STRING, .s = emu_path, .file = "t", .line = 2},
                      {.key = "batch", .type = SB_OPT_INT, .i = batch, .f = batch, .file = "t", .line = 3},
                      {.key = "idle_ms", .type = SB_OPT_INT, .i = 60, .f = 60, .file = "t", .line = 4},
                      {.key = "precision", .type = SB_OPT_STRING, .s = precision, .file = "t", .line = 5}};
    sb_options opts = {o, 5, "gpu"};
    sb_error err = {0};
    void *h = NULL;
    int rc = be->open(NULL, &opts, &h, &err);
    if (rc) fprintf(stderr, "open: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return h;
}

static void *open_emulated(int batch) { return open_emulated_prec(batch, "int8"); }

static const sb_metric *metric(const sb_metrics *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->items[i].name, name)) return &m->items[i];
    fail_msg("metric %s missing", name);
    return NULL;
}

/* Five images through a batch of 2: slots wrap, every logit as the CPU's. */
static void test_run_matches_cpu(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        tg x;
        tg_build(&x, mode ? SB_REQUANT_FLOAT : SB_REQUANT_FIXED, 4242u + (uint32_t)mode);
        sb_error err = {0};
        sb_workspace *ws = NULL;
        void *h = open_emulated(2), *prog = NULL;
        assert_int_equal(be->prepare(h, &x.g, &prog, &err), 0);
        assert_int_equal(sb_workspace_new(&x.g, &ws, &err), 0);
        for (int i = 0; i < 5; i++) {
            int8_t img[9 * 9 * 3], want[7], got[7];
            sb_metrics m = {0};
            for (size_t k = 0; k < sizeof img; k++) img[k] = (int8_t)tg_range(&x, -128, 127);
            assert_int_equal(sb_graph_run_int8(&x.g, ws, img, want, &err), 0);
            assert_int_equal(be->run(prog, img, got, &m, &err), 0);
            assert_memory_equal(got, want, 7);
        }
        sb_workspace_free(ws);
        be->release(prog);
        be->close(h);
        tg_free(&x);
    }
}

/* precision = "fp32": the float path through the plugin, its logits
 * quantised as the CPU backend does, within one int8 step of the CPU's. */
static void test_fp32_run(void **state) {
    (void)state;
    tg x;
    tg_build(&x, SB_REQUANT_FIXED, 777u);
    const sb_tensor *out = &x.t[x.g.output];
    sb_error err = {0};
    sb_workspace *ws = NULL;
    void *h = open_emulated_prec(2, "fp32"), *prog = NULL;
    assert_int_equal(be->prepare(h, &x.g, &prog, &err), 0);
    assert_int_equal(sb_workspace_new(&x.g, &ws, &err), 0);
    for (int i = 0; i < 3; i++) {
        int8_t img[9 * 9 * 3], got[7];
        float f[7];
        sb_metrics m = {0};
        for (size_t k = 0; k < sizeof img; k++) img[k] = (int8_t)tg_range(&x, -128, 127);
        assert_int_equal(sb_graph_run_f32(&x.g, ws, img, f, &err), 0);
        assert_int_equal(be->run(prog, img, got, &m, &err), 0);
        for (int k = 0; k < 7; k++) {
            float v = rintf(f[k] / out->scale) + (float)out->zero_point;
            int want = v < -128.0f ? -128 : v > 127.0f ? 127 : (int)v;
            assert_true(abs(want - got[k]) <= 1);
        }
    }
    char *rep = be->report_json(prog);
    assert_non_null(strstr(rep, "\"precision\": \"fp32\""));
    free(rep);
    sb_workspace_free(ws);
    be->release(prog);
    be->close(h);
    tg_free(&x);
}

/* Metrics: units and provenance; energy = power x latency / batch. */
static void test_metrics(void **state) {
    (void)state;
    tg x;
    tg_build(&x, SB_REQUANT_FIXED, 99u);
    sb_error err = {0};
    void *h = open_emulated(4), *prog = NULL;
    assert_int_equal(be->prepare(h, &x.g, &prog, &err), 0);
    int8_t img[9 * 9 * 3] = {0}, logits[7];
    sb_metrics m = {0};
    assert_int_equal(be->run(prog, img, logits, &m, &err), 0);
    const sb_metric *lat = metric(&m, SB_M_LATENCY_NS), *comp = metric(&m, SB_M_LATENCY_COMPUTE_NS);
    const sb_metric *e = metric(&m, SB_M_ENERGY_PJ), *p = metric(&m, "power_mw"), *idle = metric(&m, "idle_power_mw");
    assert_int_equal(lat->prov, SB_PROV_MEASURED);
    assert_true(lat->value > 0 && comp->value > 0 && comp->value <= lat->value);
    assert_string_equal(lat->unit, "ns");
    assert_string_equal(e->unit, "pJ");
    assert_int_equal(e->prov, SB_PROV_MEASURED);
    assert_true(fabs(p->value - 50000.0) < 1e-9);
    /* 50 W x latency / 4 images: mW x ns = pJ */
    assert_true(fabs(e->value - 50000.0 * lat->value / 4) <= 1e-6 * e->value);
    /* idle from the energy counter over ~60 ms at 50 W: 1 mJ resolution */
    assert_true(fabs(idle->value - 50000.0) < 50000.0 * 0.05);
    assert_true(fabs(metric(&m, "energy_above_idle_pj")->value) < 0.05 * e->value);
    assert_true(fabs(metric(&m, "latency_per_image_ns")->value - comp->value / 4) < 1e-6 * comp->value);
    assert_true(fabs(metric(&m, "throughput_img_per_s")->value - 4 / (lat->value * 1e-9)) < 1e-6 * 4 / (lat->value * 1e-9));
    assert_true(metric(&m, "batch")->value == 4);
    assert_non_null(strstr(e->note, "includes idle power"));
    char *rep = be->report_json(prog);
    assert_non_null(rep);
    assert_non_null(strstr(rep, "\"gpu\": \"emulated CUDA device (srambench tests)\""));
    assert_non_null(strstr(rep, "\"batch\": 4"));
    assert_non_null(strstr(rep, "\"energy_source\": \"nvml energy counter\""));
    free(rep);
    be->release(prog);
    be->close(h);
    tg_free(&x);
}

/* The benchmark: per-batch times ordered, and 50 W over its wall time. */
static void test_bench(void **state) {
    (void)state;
    tg x;
    tg_build(&x, SB_REQUANT_FIXED, 7u);
    sb_error err = {0};
    void *h = open_emulated(3), *prog = NULL;
    sb_gpu_bench_result r;
    assert_int_equal(be->prepare(h, &x.g, &prog, &err), 0);
    assert_int_equal(bench(prog, 0, 0.1, &r, &err), SB_EINVAL);
    assert_int_equal(bench(prog, 5, 0.1, &r, &err), 0);
    assert_int_equal(r.batch, 3);
    assert_true(r.batch_ns_min > 0 && r.batch_ns_min <= r.batch_ns_median);
    assert_true(r.wall_ns >= 0.1e9 && r.img_per_s > 0);
    assert_int_equal(r.energy_source, SB_GPU_ENERGY_COUNTER);
    assert_true(fabs(r.mean_power_mw - 50000.0) < 50000.0 * 0.05);
    assert_true(fabs(r.energy_power_mj - r.energy_counter_mj) < 0.05 * r.energy_counter_mj);
    double images = r.img_per_s * r.wall_ns * 1e-9;
    /* per image: mean power (mW) x loop time (s) = mJ, over the images */
    assert_true(fabs(r.energy_per_img_mj * images - r.mean_power_mw * r.wall_ns * 1e-9) < 1e-6 * r.energy_mj);
    /* the sampling window brackets the loop, so it holds at least that energy */
    assert_true(r.energy_per_img_mj * images <= r.energy_mj * (1 + 1e-9));
    assert_true(fabs(r.energy_above_idle_per_img_mj) < 0.1 * r.energy_per_img_mj);
    be->release(prog);
    be->close(h);
    tg_free(&x);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s plugin.so emulated-driver.so\n", argv[0]);
        return 1;
    }
    plugin_path = argv[1];
    emu_path = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2]; /* by name: LD_LIBRARY_PATH */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_matches_cpu),
        cmocka_unit_test(test_fp32_run),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
