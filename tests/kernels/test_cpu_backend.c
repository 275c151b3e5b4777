/*
 * test_cpu_backend.c - the CPU backend through its plugin entry: int8 output
 * equals sb_graph_run_int8, two threads at once give identical outputs,
 * energy is unavailable with a reason when there is no RAPL (and measured
 * from a fake powercap tree when there is), fp32 precision, bad options.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "tnet.h"

#ifndef CPU_PLUGIN_PATH
#error "CPU_PLUGIN_PATH must name the built srambench-backend-cpu.so"
#endif

static void *dl;
static const sb_backend_plugin *cpu;

static int setup(void **state) {
    (void)state;
    dl = dlopen(CPU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "dlopen %s: %s\n", CPU_PLUGIN_PATH, dlerror());
        return -1;
    }
    const sb_plugin_header *const *entry = dlsym(dl, SB_PLUGIN_ENTRY_SYMBOL);
    if (!entry || (*entry)->kind != SB_KIND_BACKEND || (*entry)->abi_major != SB_ABI_MAJOR) return -1;
    cpu = (const sb_backend_plugin *)(const void *)*entry;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return dlclose(dl);
}

static sb_host host = {SB_ABI_MAJOR, SB_ABI_MINOR, NULL, NULL, "/tmp", "/tmp"};

static void *open_be(const sb_option *items, size_t n) {
    sb_options o = {items, n, "cpu-test"};
    void *be = NULL;
    sb_error err = {0};
    if (cpu->open(&host, &o, &be, &err)) fail_msg("open: %s", err.msg);
    return be;
}

static const sb_metric *metric(const sb_metrics *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->items[i].name, name) == 0) return &m->items[i];
    return NULL;
}

static void test_entry(void **state) {
    (void)state;
    assert_string_equal(cpu->hdr.name, "cpu");
    assert_int_equal(cpu->hdr.kind, SB_KIND_BACKEND);
    assert_non_null(cpu->run);
}

static void test_int8_equals_kernels(void **state) {
    (void)state;
    tgraph tg;
    tnet_build(&tg, 11, SB_REQUANT_FIXED, 17, 15);
    const sb_graph *g = tg_graph(&tg);
    void *be = open_be(NULL, 0), *prog = NULL;
    sb_error err = {0};
    if (cpu->prepare(be, g, &prog, &err)) fail_msg("prepare: %s", err.msg);
    sb_workspace *ws;
    assert_int_equal(sb_workspace_new(g, &ws, &err), 0);
    for (int img = 0; img < 5; img++) {
        int8_t in[17 * 15 * 3], a[7], b[7];
        trng r = {(uint64_t)img + 1};
        trng_fill8(&r, in, sizeof in, -128, 127);
        sb_metrics m = {0};
        if (cpu->run(prog, in, a, &m, &err)) fail_msg("run: %s", err.msg);
        assert_int_equal(sb_graph_run_int8(g, ws, in, b, &err), 0);
        assert_memory_equal(a, b, 7);
        const sb_metric *lat = metric(&m, SB_M_LATENCY_NS);
        assert_non_null(lat);
        assert_int_equal(lat->prov, SB_PROV_MEASURED);
        assert_true(lat->value > 0);
    }
    char *rep = cpu->report_json(prog);
    assert_non_null(rep);
    assert_non_null(strstr(rep, "\"macs\""));
    assert_non_null(strstr(rep, "\"precision\":\t\"int8\""));
    free(rep);
    sb_workspace_free(ws);
    cpu->release(prog);
    cpu->close(be);
    tg_free(&tg);
}

typedef struct job {
    void *prog;
    const int8_t *in;  /* 8 images */
    int8_t out[8][7];
    int rc;
} job;

static void *worker(void *p) {
    job *j = p;
    sb_error err = {0};
    for (int rep = 0; rep < 20 && j->rc == 0; rep++)
        for (int i = 0; i < 8 && j->rc == 0; i++) {
            sb_metrics m = {0};
            j->rc = cpu->run(j->prog, j->in + (size_t)i * 17 * 15 * 3, j->out[i], &m, &err);
        }
    return NULL;
}

static void test_two_threads(void **state) {
    (void)state;
    tgraph tg;
    tnet_build(&tg, 12, SB_REQUANT_FLOAT, 17, 15);
    void *be = open_be(NULL, 0), *prog = NULL;
    sb_error err = {0};
    assert_int_equal(cpu->prepare(be, tg_graph(&tg), &prog, &err), 0);
    static int8_t in[8 * 17 * 15 * 3];
    trng r = {5};
    trng_fill8(&r, in, sizeof in, -128, 127);
    job a = {prog, in, {{0}}, 0}, b = {prog, in, {{0}}, 0}, serial = {prog, in, {{0}}, 0};
    worker(&serial);
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, worker, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, worker, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_memory_equal(a.out, serial.out, sizeof a.out);
    assert_memory_equal(b.out, serial.out, sizeof b.out);
    cpu->release(prog);
    cpu->close(be);
    tg_free(&tg);
}

static void run_once(void *be, const sb_graph *g, sb_metrics *m) {
    void *prog = NULL;
    sb_error err = {0};
    assert_int_equal(cpu->prepare(be, g, &prog, &err), 0);
    int8_t in[17 * 15 * 3] = {0}, out[7];
    if (cpu->run(prog, in, out, m, &err)) fail_msg("%s", err.msg);
    cpu->release(prog);
}

static void test_energy_unavailable(void **state) {
    (void)state;
    tgraph tg;
    tnet_build(&tg, 13, SB_REQUANT_FIXED, 17, 15);
    sb_option o = {"powercap_root", SB_OPT_STRING, "/nonexistent/powercap", 0, 0, 0, NULL, 0, NULL, 0, 0};
    void *be = open_be(&o, 1);
    sb_metrics m = {0};
    run_once(be, tg_graph(&tg), &m);
    const sb_metric *e = metric(&m, SB_M_ENERGY_PJ);
    assert_non_null(e);
    assert_int_equal(e->prov, SB_PROV_UNAVAILABLE);
    assert_non_null(strstr(e->note, "no RAPL powercap interface on this host"));
    assert_non_null(strstr(e->note, "/nonexistent/powercap missing"));
    cpu->close(be);
    tg_free(&tg);
}

/* A fake powercap tree: the backend reads the counter before and after; the
 * counter does not move here, so the energy is measured as 0 pJ and the
 * provenance is "measured" with the package-wide caveat. */
static void fake_powercap(char *root) {
    char path[200];
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof path, "%s/intel-rapl:0", root);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/intel-rapl:0/energy_uj", root);
    FILE *f = fopen(path, "w");
    fputs("123456789\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/intel-rapl:0:0", root); /* a sub-zone: not summed */
    assert_int_equal(mkdir(path, 0700), 0);
}

static void rm_tree(const char *root) {
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static void test_energy_fake_rapl(void **state) {
    (void)state;
    char root[] = "/tmp/sb-test-rapl-XXXXXX";
    fake_powercap(root);
    tgraph tg;
    tnet_build(&tg, 14, SB_REQUANT_FIXED, 17, 15);
    sb_option o = {"powercap_root", SB_OPT_STRING, root, 0, 0, 0, NULL, 0, NULL, 0, 0};
    void *be = open_be(&o, 1);
    sb_metrics m = {0};
    run_once(be, tg_graph(&tg), &m);
    const sb_metric *e = metric(&m, SB_M_ENERGY_PJ);
    assert_non_null(e);
    assert_int_equal(e->prov, SB_PROV_MEASURED);
    assert_true(e->value == 0.0);
    assert_non_null(strstr(e->note, "package-wide"));
    cpu->close(be);
    tg_free(&tg);
    rm_tree(root);
}

/* Two threads run images at once: the package counter's delta then holds
 * both, so an image that overlapped another has no measured energy, and
 * one that provably ran alone (its call's whole span clear of the other
 * thread's calls) has. An image flagged as overlapped did overlap a call.
 * Each image takes milliseconds (a 384x384 input), so the two threads,
 * released together each round, overlap in most rounds even on a loaded
 * machine: tiny images once finished before the other thread woke up. */
#define ENERGY_HW 384
typedef struct span { double t0, t1; sb_provenance prov; } span;
typedef struct energy_job {
    void *prog;
    const int8_t *in;
    pthread_barrier_t *go;
    span s[40];
    int n, rc;
} energy_job;

static double mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *energy_worker(void *p) {
    energy_job *j = p;
    sb_error err = {0};
    int8_t out[7];
    for (j->n = 0; j->n < 40 && j->rc == 0; j->n++) {
        sb_metrics m = {0};
        pthread_barrier_wait(j->go); /* both threads start each round together */
        j->s[j->n].t0 = mono_ns();
        j->rc = cpu->run(j->prog, j->in, out, &m, &err);
        j->s[j->n].t1 = mono_ns();
        j->s[j->n].prov = metric(&m, SB_M_ENERGY_PJ)->prov;
    }
    return NULL;
}

static int clear_of(const span *a, const energy_job *other) {
    for (int i = 0; i < other->n; i++)
        if (a->t0 < other->s[i].t1 && other->s[i].t0 < a->t1) return 0;
    return 1;
}

static void test_energy_concurrent_images(void **state) {
    (void)state;
    char root[] = "/tmp/sb-test-rapl-XXXXXX";
    fake_powercap(root);
    tgraph tg;
    tnet_build(&tg, 16, SB_REQUANT_FIXED, ENERGY_HW, ENERGY_HW);
    sb_option o = {"powercap_root", SB_OPT_STRING, root, 0, 0, 0, NULL, 0, NULL, 0, 0};
    void *be = open_be(&o, 1), *prog = NULL;
    sb_error err = {0};
    assert_int_equal(cpu->prepare(be, tg_graph(&tg), &prog, &err), 0);
    static int8_t in[ENERGY_HW * ENERGY_HW * 3];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    static energy_job a, b;
    a = (energy_job){.prog = prog, .in = in, .go = &go};
    b = (energy_job){.prog = prog, .in = in, .go = &go};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, energy_worker, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, energy_worker, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&go);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    int shared = 0;
    for (int k = 0; k < 2; k++) {
        const energy_job *j = k ? &b : &a, *other = k ? &a : &b;
        for (int i = 0; i < j->n; i++) {
            if (clear_of(&j->s[i], other)) assert_int_equal(j->s[i].prov, SB_PROV_MEASURED);
            else shared += j->s[i].prov == SB_PROV_UNAVAILABLE;
        }
    }
    print_message("concurrent images: %d of %d flagged as overlapping\n", shared, a.n + b.n);
    /* 40 rounds started together: images did overlap, and were caught */
    assert_true(shared > 0);
    sb_metrics m = {0};
    assert_int_equal(cpu->run(prog, in, (int8_t[7]){0}, &m, &err), 0); /* alone again: measured */
    assert_int_equal(metric(&m, SB_M_ENERGY_PJ)->prov, SB_PROV_MEASURED);
    cpu->release(prog);
    cpu->close(be);
    tg_free(&tg);
    rm_tree(root);
}

static void test_fp32_precision(void **state) {
    (void)state;
    tgraph tg;
    tnet_build(&tg, 15, SB_REQUANT_FIXED, 17, 15);
    const sb_graph *g = tg_graph(&tg);
    sb_option o = {"precision", SB_OPT_STRING, "fp32", 0, 0, 0, NULL, 0, NULL, 0, 0};
    void *be = open_be(&o, 1), *prog = NULL;
    sb_error err = {0};
    assert_int_equal(cpu->prepare(be, g, &prog, &err), 0);
    int8_t in[17 * 15 * 3], q[7];
    float f[7];
    trng r = {3};
    trng_fill8(&r, in, sizeof in, -128, 127);
    sb_metrics m = {0};
    assert_int_equal(cpu->run(prog, in, q, &m, &err), 0);
    sb_workspace *ws;
    assert_int_equal(sb_workspace_new(g, &ws, &err), 0);
    assert_int_equal(sb_graph_run_f32(g, ws, in, f, &err), 0);
    const sb_tensor *t = &g->tensors[g->output];
    for (int i = 0; i < 7; i++) { /* the float logits, quantised to the output's int8 scale */
        float v = rintf(f[i] / t->scale) + (float)t->zero_point;
        assert_int_equal(q[i], v < -128 ? -128 : v > 127 ? 127 : (int)v);
    }
    char *rep = cpu->report_json(prog);
    assert_non_null(strstr(rep, "dequantised"));
    free(rep);
    sb_workspace_free(ws);
    cpu->release(prog);
    cpu->close(be);
    tg_free(&tg);
}

/* threads_per_image = 2: one image split over two threads, the same bytes,
 * also with two runner threads at once (four threads in all). */
static void test_threads_per_image(void **state) {
    (void)state;
    tgraph tg;
    tnet_build(&tg, 16, SB_REQUANT_FIXED, 17, 15);
    const sb_graph *g = tg_graph(&tg);
    sb_option o = {"threads_per_image", SB_OPT_INT, NULL, 2, 2.0, 0, NULL, 0, NULL, 0, 0};
    void *be = open_be(&o, 1), *prog = NULL;
    sb_error err = {0};
    assert_int_equal(cpu->prepare(be, g, &prog, &err), 0);
    static int8_t in[8 * 17 * 15 * 3];
    trng r = {8};
    trng_fill8(&r, in, sizeof in, -128, 127);
    sb_workspace *ws;
    assert_int_equal(sb_workspace_new(g, &ws, &err), 0);
    int8_t want[8][7];
    for (int i = 0; i < 8; i++) assert_int_equal(sb_graph_run_int8(g, ws, in + (size_t)i * 17 * 15 * 3, want[i], &err), 0);
    job a = {prog, in, {{0}}, 0}, b = {prog, in, {{0}}, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, worker, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, worker, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_memory_equal(a.out, want, sizeof want);
    assert_memory_equal(b.out, want, sizeof want);
    sb_workspace_free(ws);
    cpu->release(prog);
    cpu->close(be);
    tg_free(&tg);
}

static void test_bad_options(void **state) {
    (void)state;
    sb_option o = {"precision", SB_OPT_STRING, "int4", 0, 0, 0, NULL, 0, "bench.toml", 12, 3};
    sb_options opts = {&o, 1, "cpu"};
    void *be = NULL;
    sb_error err = {0};
    assert_int_equal(cpu->open(&host, &opts, &be, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "bench.toml:12"));
    assert_non_null(strstr(err.msg, "expected \"int8\" or \"fp32\""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry),
        cmocka_unit_test(test_int8_equals_kernels),
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_energy_unavailable),
        cmocka_unit_test(test_energy_fake_rapl),
        cmocka_unit_test(test_energy_concurrent_images),
        cmocka_unit_test(test_fp32_precision),
        cmocka_unit_test(test_threads_per_image),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
