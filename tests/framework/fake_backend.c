/* A fake backend for the framework tests. It reads the label the fake
 * dataset painted into the pixels and answers it (or a wrong class for
 * `misclassify`), with constant per-image latency and energy. */
#include <stdlib.h>
#include <string.h>

#include "sb_plugin.h"

static const sb_option_spec options[] = {
    {"fail", SB_OPT_STRING, 0, "\"open\", \"prepare\" or \"run\": fail there"},
    {"unavailable", SB_OPT_BOOL, 0, "open() returns SB_EUNAVAILABLE"},
    {"misclassify", SB_OPT_INT, 0, "class answered wrongly"},
    {"latency_ns", SB_OPT_FLOAT, SB_OPT_SOURCED, "per-image latency, ns"},
    {"energy_pj", SB_OPT_FLOAT, SB_OPT_SOURCED, "per-image energy, pJ"},
    {"measured", SB_OPT_BOOL, 0, "label latency as measured"},
    {"no_energy", SB_OPT_BOOL, 0, "report energy as unavailable"},
    {"mixed_extra", SB_OPT_BOOL, 0, "an extra metric, measured for even labels and simulated for odd"},
    {"hw.", SB_OPT_FLOAT, SB_OPT_PREFIX, "free hardware numbers"},
    {NULL, 0, 0, NULL}};

typedef struct fake_be {
    char fail[16];
    int misclassify, measured, no_energy, mixed_extra;
    double latency_ns, energy_pj;
} fake_be;

typedef struct fake_prog {
    fake_be *be;
    const sb_graph *g;
} fake_prog;

static int b_open(const sb_host *host, const sb_options *o, void **out, sb_error *err) {
    fake_be *b;
    (void)host;
    if (sb_opt_bool(o, "unavailable", 0)) return sb_error_set(err, SB_EUNAVAILABLE, "fake backend: no such device here");
    if (strcmp(sb_opt_str(o, "fail", ""), "open") == 0) return sb_error_set(err, SB_EIO, "fake backend: told to fail in open");
    b = calloc(1, sizeof *b);
    strncpy(b->fail, sb_opt_str(o, "fail", ""), sizeof b->fail - 1);
    b->misclassify = (int)sb_opt_int(o, "misclassify", -1);
    b->measured = sb_opt_bool(o, "measured", 0);
    b->no_energy = sb_opt_bool(o, "no_energy", 0);
    b->mixed_extra = sb_opt_bool(o, "mixed_extra", 0);
    b->latency_ns = sb_opt_float(o, "latency_ns", 1000.0);
    b->energy_pj = sb_opt_float(o, "energy_pj", 500.0);
    *out = b;
    return 0;
}

static void b_close(void *b) { free(b); }

static int b_prepare(void *be, const sb_graph *g, void **prog, sb_error *err) {
    fake_prog *p;
    if (strcmp(((fake_be *)be)->fail, "prepare") == 0)
        return sb_error_set(err, SB_ECAPACITY, "fake backend: layer 'x' does not fit: needs 1024 bytes");
    p = calloc(1, sizeof *p);
    p->be = be;
    p->g = g;
    *prog = p;
    return 0;
}

static void b_release(void *p) { free(p); }

static int b_run(void *prog, const int8_t *in, int8_t *logits, sb_metrics *m, sb_error *err) {
    fake_prog *p = prog;
    int n = p->g->n_classes, label = ((int)in[0] + 128 - 5) / 10, pred = label, c;
    if (strcmp(p->be->fail, "run") == 0) return sb_error_set(err, SB_EIO, "fake backend: told to fail in run");
    if (label == p->be->misclassify) pred = (label + 1) % n;
    for (c = 0; c < n; c++) logits[c] = (int8_t)(c == pred ? 40 : 0);
    sb_metrics_add(m, SB_M_LATENCY_NS, "ns", p->be->latency_ns,
                   p->be->measured ? SB_PROV_MEASURED : SB_PROV_SIMULATED, "fake: option latency_ns");
    if (p->be->no_energy)
        sb_metrics_add(m, SB_M_ENERGY_PJ, "pJ", 0, SB_PROV_UNAVAILABLE, "fake: no power meter");
    else
        sb_metrics_add(m, SB_M_ENERGY_PJ, "pJ", p->be->energy_pj, SB_PROV_SIMULATED, "fake: option energy_pj");
    if (p->be->mixed_extra)
        sb_metrics_add(m, "extra_pj", "pJ", 7.0, label % 2 ? SB_PROV_SIMULATED : SB_PROV_MEASURED, "fake: mixed");
    return 0;
}

static char *b_report(void *prog) {
    (void)prog;
    return strdup("{\"fake\": true, \"layers\": []}");
}

static const sb_backend_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "fake", "1.0.0", "fake backend for tests", options),
    b_open, b_close, b_prepare, b_release, b_run, b_report};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
