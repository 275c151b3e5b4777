/*
 * test_sram_plugin.c - the srambench-backend-sram plugin through its ABI
 * (dlopen), on a random network and on EfficientNet-B0 when a model file is
 * present (plugins/models/effnet-b0-224/, or /tmp/sbm/ while models are
 * being produced; the network tests skip with a message otherwise).
 */
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <unistd.h>

#include "sb_model_file.h"
#include "sr_graph.h"

static const sb_backend_plugin *plugin(void) {
    static void *h;
    if (!h) h = dlopen(SRAM_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!h) fail_msg("dlopen %s: %s", SRAM_PLUGIN_PATH, dlerror());
    const sb_plugin_header *const *e = dlsym(h, SB_PLUGIN_ENTRY_SYMBOL);
    assert_non_null(e);
    assert_int_equal((*e)->kind, SB_KIND_BACKEND);
    assert_int_equal((*e)->abi_major, SB_ABI_MAJOR);
    assert_string_equal((*e)->name, "sram");
    return (const sb_backend_plugin *)*e;
}

static void preset(sr_opts *p, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SRAM_DIR, name);
    if (sr_load_preset(p, path)) fail_msg("cannot read %s", path);
}

static double metric(const sb_metrics *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->items[i].name, name)) {
            assert_int_equal(m->items[i].prov, SB_PROV_SIMULATED);
            assert_non_null(m->items[i].note);
            return m->items[i].value;
        }
    fail_msg("metric %s missing", name);
    return 0;
}

/* Runs g on the plugin with a preset; checks logits against the reference,
 * the metrics and the report. Returns the latency in ns. */
static double run_plugin(const sb_graph *g, const char *preset_name, int images) {
    const sb_backend_plugin *pl = plugin();
    sr_opts p;
    sb_error err = {0};
    void *be = NULL, *prog = NULL;
    preset(&p, preset_name);
    if (pl->open(NULL, &p.o, &be, &err)) fail_msg("open: %s", err.msg);
    if (pl->prepare(be, g, &prog, &err)) fail_msg("prepare: %s", err.msg);
    int64_t nin = sb_tensor_elems(&g->tensors[g->input]), nout = sb_tensor_elems(&g->tensors[g->output]);
    int8_t *x = malloc((size_t)nin), *y = malloc((size_t)nout), *ref = malloc((size_t)nout);
    sb_workspace *ws = NULL;
    if (sb_workspace_new(g, &ws, &err)) fail_msg("%s", err.msg);
    double lat = 0, leak = 0, idle = 0;
    for (int im = 0; im < images; im++) {
        for (int64_t i = 0; i < nin; i++) x[i] = (int8_t)sr_range(-128, 127);
        sb_metrics m;
        memset(&m, 0, sizeof m);
        if (pl->run(prog, x, y, &m, &err)) fail_msg("run: %s", err.msg);
        if (sb_graph_run_int8(g, ws, x, ref, &err)) fail_msg("%s", err.msg);
        assert_memory_equal(y, ref, (size_t)nout);
        lat = metric(&m, SB_M_LATENCY_NS);
        leak = metric(&m, SB_M_ENERGY_LEAKAGE_PJ);
        idle = metric(&m, "energy_idle_clock_pj");
        double e = metric(&m, SB_M_ENERGY_PJ);
        /* the breakdowns add up to the totals */
        double lsum = metric(&m, SB_M_LATENCY_MEMORY_NS) + metric(&m, SB_M_LATENCY_COMPUTE_NS) + metric(&m, SB_M_LATENCY_DMA_NS);
        double esum = metric(&m, SB_M_ENERGY_SRAM_PJ) + metric(&m, SB_M_ENERGY_EXTERNAL_PJ) +
                      metric(&m, SB_M_ENERGY_MAC_PJ) + metric(&m, "energy_requant_pj") + metric(&m, "energy_regfile_pj") +
                      metric(&m, SB_M_ENERGY_LEAKAGE_PJ) + metric(&m, "energy_idle_clock_pj");
        assert_true(fabs(lsum - lat) <= 1e-6 * lat);
        assert_true(fabs(esum - e) <= 1e-6 * e);
        assert_true(lat >= metric(&m, "latency_bound_ns"));
        assert_true(e >= metric(&m, "energy_bound_pj"));
    }
    char *js = pl->report_json(prog);
    assert_non_null(js);
    cJSON *r = cJSON_Parse(js);
    assert_non_null(r);
    cJSON *layers = cJSON_GetObjectItem(r, "layers");
    assert_int_equal(cJSON_GetArraySize(layers), g->n_ops);
    cJSON *l0 = cJSON_GetArrayItem(layers, 0);
    assert_non_null(cJSON_GetObjectItem(l0, "tile"));
    assert_non_null(cJSON_GetObjectItem(l0, "sram_occupancy_pct"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "bounds"), "hong_kung"));
    cJSON *opts = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "hardware"), "options");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(opts, "sram.read_energy_pj_source")));
    /* leakage is leakage alone (uW x ns = 1e-3 pJ); the idle clock is its own figure */
    double leak_uw = cJSON_GetNumberValue(cJSON_GetObjectItem(opts, "sram.leakage_uw"));
    assert_true(leak_uw > 0);
    assert_true(fabs(leak - leak_uw * lat * 1e-3) <= 1e-9 * leak);
    cJSON *tot = cJSON_GetObjectItem(r, "total");
    assert_true(fabs(idle - cJSON_GetNumberValue(cJSON_GetObjectItem(tot, "energy_idle_clock_pj"))) <= 1e-9 * idle);
    cJSON_Delete(r);
    free(js);
    sb_workspace_free(ws);
    pl->release(prog);
    pl->close(be);
    free(x); free(y); free(ref);
    return lat;
}

static void test_plugin_random_net(void **state) {
    (void)state;
    sr_seed = 2024;
    sr_graph s;
    sr_random_net(&s, 24);
    run_plugin(&s.g, "sram256.toml", 2);
    run_plugin(&s.g, "sram1k.toml", 2);
    sr_free(&s);
}

static void test_plugin_errors(void **state) {
    (void)state;
    const sb_backend_plugin *pl = plugin();
    sr_opts p;
    sb_error err = {0};
    void *be = NULL, *prog = NULL;
    preset(&p, "sram256.toml");
    sr_set(&p, "sram.read_energy_pj_source", SB_OPT_STRING, 0, "");
    assert_int_equal(pl->open(NULL, &p.o, &be, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "sram.read_energy_pj"));
    /* a layer too large for a 16-byte SRAM */
    preset(&p, "sram256.toml");
    sr_set(&p, "sram.capacity_bytes", SB_OPT_INT, 16, NULL);
    sr_set(&p, "sram.words", SB_OPT_INT, 8, NULL);
    if (pl->open(NULL, &p.o, &be, &err)) fail_msg("open: %s", err.msg);
    sr_graph s;
    sr_random_net(&s, 12);
    assert_int_equal(pl->prepare(be, &s.g, &prog, &err), SB_ECAPACITY);
    assert_non_null(strstr(err.msg, "smallest capacity that works"));
    assert_non_null(strstr(err.msg, "layer '"));
    pl->close(be);
    sr_free(&s);
}

static const char *find_model(const char *const *paths) {
    for (int i = 0; paths[i]; i++)
        if (access(paths[i], R_OK) == 0) return paths[i];
    return NULL;
}

/* EfficientNet-B0: bit-exact at 64 px, and at 224 px on sram256 the
 * simulated latency is at least the ~94 ms of port time the compulsory
 * traffic needs (reference-figures.md) and never below our own bounds. */
static void test_effnet(void **state) {
    (void)state;
    const char *p64[] = {SRC_ROOT "/plugins/models/effnet-b0-64/effnet-b0-64.sbm", "/tmp/sbm/effnet_b0_64.sbm", NULL};
    const char *p224[] = {SRC_ROOT "/plugins/models/effnet-b0-224/effnet-b0-224.sbm", "/tmp/sbm/effnet_b0_224.sbm", NULL};
    const char *f64 = find_model(p64), *f224 = find_model(p224);
    if (!f64 && !f224) { print_message("skipped: no EfficientNet-B0 .sbm file present\n"); skip(); }
    sb_error err = {0};
    sb_model_file *mf = NULL;
    if (f64) {
        if (sb_model_file_load(f64, &mf, &err)) fail_msg("%s", err.msg);
        run_plugin(sb_model_file_graph(mf), "sram256.toml", 1);
        sb_model_file_free(mf);
    }
    if (f224) {
        if (sb_model_file_load(f224, &mf, &err)) fail_msg("%s", err.msg);
        const sb_graph *g = sb_model_file_graph(mf);
        run_plugin(g, "sram256.toml", 1); /* one whole inference, bit-exact, counts checked */
        sr_opts p;
        sb_sim_hw hw;
        sb_sim_report rep;
        preset(&p, "sram256.toml");
        if (sb_sim_hw_from_options(&p.o, &hw, &err)) fail_msg("%s", err.msg);
        if (sb_sim_analyze(&hw, g, &rep, &err)) fail_msg("%s", err.msg);
        print_message("effnet-b0-224 on sram256: %.1f ms, %.2f mJ; bounds: compulsory %.1f ms (port %.1f ms), "
                      "Hong-Kung %.1f ms, compute %.1f ms\n", rep.latency_ns * 1e-6, rep.energy_pj * 1e-9,
                      rep.bounds.comp_latency_ns * 1e-6, rep.bounds.comp_port_ns * 1e-6,
                      rep.bounds.hk_latency_ns * 1e-6, rep.bounds.compute_ns * 1e-6);
        assert_true(rep.bounds.comp_port_ns >= 94e6);  /* ~18.8 MB over a 200 MB/s port, at least */
        assert_true(rep.latency_ns >= rep.bounds.latency_ns);
        assert_true(rep.energy_pj >= rep.bounds.energy_pj);
        assert_true(rep.total.macs > 370e6 && rep.total.macs <= 386e6);
        sb_sim_report_free(&rep);
        sb_model_file_free(mf);
    }
}

/* The trained tiny model, when shipped: bit-exact on both presets. */
static void test_tiny(void **state) {
    (void)state;
    const char *pt[] = {SRC_ROOT "/plugins/models/tiny/tiny.sbm", SRC_ROOT "/plugins/models/tiny.sbm", NULL};
    const char *f = find_model(pt);
    if (!f) { print_message("skipped: plugins/models/tiny/tiny.sbm (or tiny.sbm) not present\n"); skip(); }
    sb_error err = {0};
    sb_model_file *mf = NULL;
    if (sb_model_file_load(f, &mf, &err)) fail_msg("%s", err.msg);
    double l256 = run_plugin(sb_model_file_graph(mf), "sram256.toml", 2);
    double l1k = run_plugin(sb_model_file_graph(mf), "sram1k.toml", 2);
    print_message("tiny: %.2f ms on sram256, %.2f ms on sram1k\n", l256 * 1e-6, l1k * 1e-6);
    sb_model_file_free(mf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_errors),
        cmocka_unit_test(test_plugin_random_net),
        cmocka_unit_test(test_effnet),
        cmocka_unit_test(test_tiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
