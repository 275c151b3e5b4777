/* The template backend (backends/template), built by meson and loaded
 * through the loader as any user's copy would be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_config.h"
#include "sb_kernels.h"
#include "sb_loader.h"
#include "sb_runner.h"

/* One FC layer: [1,2,2,3] -> 12 -> 3 logits; 36 MACs. */
static int8_t w_data[3 * 12];
static const int32_t mult[3] = {1 << 30, 1 << 30, 1 << 30}, shift[3] = {0, 0, 0};
static sb_tensor tensors[3];
static sb_op op;
static sb_graph graph;

static void build_graph(void) {
    int i;
    for (i = 0; i < 36; i++) w_data[i] = (int8_t)((i * 7) % 11 - 5);
    tensors[0] = (sb_tensor){"input", SB_DT_INT8, 4, {1, 2, 2, 3}, 1.0f / 128, 0, NULL, 0, NULL, 0};
    tensors[1] = (sb_tensor){"w", SB_DT_INT8, 2, {3, 12, 0, 0}, 0, 0, NULL, 0, w_data, sizeof w_data};
    tensors[2] = (sb_tensor){"logits", SB_DT_INT8, 2, {1, 3, 0, 0}, 0.25f, 0, NULL, 0, NULL, 0};
    memset(&op, 0, sizeof op);
    op.type = SB_OP_FC;
    op.name = "fc";
    op.inputs[0] = 0;
    op.inputs[1] = 1;
    op.inputs[2] = -1;
    op.n_inputs = 2;
    op.output = 2;
    op.act_min = -128;
    op.act_max = 127;
    op.act = "none";
    op.n_requant = 3;
    op.multiplier = mult;
    op.shift = shift;
    graph = (sb_graph){0};
    graph.name = "fc-test";
    graph.requant = SB_REQUANT_FIXED;
    graph.tensors = tensors;
    graph.n_tensors = 3;
    graph.ops = &op;
    graph.n_ops = 1;
    graph.input = 0;
    graph.output = 2;
    graph.n_classes = 3;
}

static int options_for(const sb_plugin *p, const char *body, sb_config *cfg, sb_opts_owned *o, sb_error *err) {
    char text[1024];
    int rc;
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"template\"\n%s", body);
    rc = sb_config_parse(text, "/tmp/bench.toml", cfg, err);
    assert_int_equal(rc, 0);
    return sb_options_build(&cfg->backends[0], sb_cfg_backend_keys, p->hdr->options, o, err);
}

static void test_template(void **state) {
    sb_plugin p;
    sb_error err = {0};
    sb_config cfg;
    sb_opts_owned o;
    const sb_backend_plugin *be;
    void *h, *prog;
    int8_t in[12], logits[3], want[3];
    sb_metrics m = {0};
    sb_workspace *ws;
    char *report;
    cJSON *rep;
    int i;
    (void)state;
    build_graph();
    assert_int_equal(sb_plugin_open(SB_TEMPLATE_SO, SB_KIND_BACKEND, &p, &err), 0);
    assert_string_equal(p.hdr->name, "template");
    be = (const sb_backend_plugin *)p.hdr;

    /* sourced figures without a source are refused before the plugin sees them */
    assert_int_equal(options_for(&p, "mac_energy_pj = 0.2\nmacs_per_cycle = 8\nclock_mhz = 100\n"
                                     "clock_mhz_source = \"assumption: test\"\n", &cfg, &o, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "mac_energy_pj_source"));
    sb_config_free(&cfg);
    /* required options */
    assert_int_equal(options_for(&p, "macs_per_cycle = 8\n", &cfg, &o, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "missing required option 'mac_energy_pj'"));
    sb_config_free(&cfg);
    /* range errors name the line */
    assert_int_equal(options_for(&p, "mac_energy_pj = 0.2\nmac_energy_pj_source = \"x\"\nmacs_per_cycle = 0\n"
                                     "clock_mhz = 100\nclock_mhz_source = \"y\"\n", &cfg, &o, &err), 0);
    assert_int_equal(be->open(sb_runner_host(), &o.opts, &h, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "/tmp/bench.toml:9:1: macs_per_cycle = 0: expected a value > 0"));
    sb_options_free(&o);
    sb_config_free(&cfg);

    assert_int_equal(options_for(&p, "mac_energy_pj = 0.25\nmac_energy_pj_source = \"paper, table 2\"\nmacs_per_cycle = 8\n"
                                     "clock_mhz = 100\nclock_mhz_source = \"datasheet\"\n", &cfg, &o, &err), 0);
    assert_int_equal(be->open(sb_runner_host(), &o.opts, &h, &err), 0);
    assert_int_equal(be->prepare(h, &graph, &prog, &err), 0);
    for (i = 0; i < 12; i++) in[i] = (int8_t)(i * 9 - 50);
    assert_int_equal(be->run(prog, in, logits, &m, &err), 0);
    /* bit-identical to the shared kernels run directly */
    assert_int_equal(sb_workspace_new(&graph, &ws, &err), 0);
    assert_int_equal(sb_graph_run_int8(&graph, ws, in, want, &err), 0);
    sb_workspace_free(ws);
    assert_memory_equal(logits, want, 3);
    /* 36 MACs: 36 x 0.25 pJ = 9 pJ; ceil(36 / 8) = 5 cycles at 100 MHz = 50 ns */
    assert_int_equal(m.n, 3);
    assert_string_equal(m.items[0].name, SB_M_LATENCY_NS);
    assert_true(fabs(m.items[0].value - 50.0) < 1e-9);
    assert_int_equal(m.items[0].prov, SB_PROV_SIMULATED);
    assert_string_equal(m.items[1].name, SB_M_ENERGY_PJ);
    assert_true(fabs(m.items[1].value - 9.0) < 1e-12);
    assert_non_null(strstr(m.items[1].note, "paper, table 2"));
    report = be->report_json(prog);
    rep = cJSON_Parse(report);
    assert_non_null(rep);
    assert_int_equal(cJSON_GetObjectItem(rep, "macs")->valueint, 36);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "hardware"), "clock_mhz_source")->valuestring, "datasheet");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(rep, "layers")), 1);
    cJSON_Delete(rep);
    free(report);
    be->release(prog);
    be->close(h);
    sb_options_free(&o);
    sb_config_free(&cfg);
    sb_plugin_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_template)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
