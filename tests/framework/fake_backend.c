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
    {"extra_metrics", SB_OPT_INT, 0, "this many more metrics per image, extra_00.. (0..40)"},
    {"hw.", SB_OPT_FLOAT, SB_OPT_PREFIX, "free hardware numbers"},
    {NULL, 0, 0, NULL}};

typedef struct fake_be {
    char fail[16];
    int misclassify, measured, no_energy, mixed_extra, extra_metrics;
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
    b->extra_metrics = (int)sb_opt_int(o, "extra_metrics", 0);
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

/* Metric names live as long as the plugin (sb_metric.name). */
static const char *const extra_names[] = {
    "extra_00", "extra_01", "extra_02", "extra_03", "extra_04", "extra_05", "extra_06", "extra_07",
    "extra_08", "extra_09", "extra_10", "extra_11", "extra_12", "extra_13", "extra_14", "extra_15",
    "extra_16", "extra_17", "extra_18", "extra_19", "extra_20", "extra_21", "extra_22", "extra_23",
    "extra_24", "extra_25", "extra_26", "extra_27", "extra_28", "extra_29", "extra_30", "extra_31",
    "extra_32", "extra_33", "extra_34", "extra_35", "extra_36", "extra_37", "extra_38", "extra_39"};

#if defined(SB_FAKE_ABI_1_0)
/* sb_metrics_add as ABI 1.0 had it: drops what does not fit, silently. */
static void add_1_0(sb_metrics *m, const char *name, double value) {
    if (m->n < SB_MAX_METRICS) {
        sb_metric *x = &m->items[m->n++];
        x->name = name;
        x->unit = "1";
        x->value = value;
        x->prov = SB_PROV_SIMULATED;
        x->note = "fake: extra_metrics";
    }
}
#endif

static void add_extras(sb_metrics *m, int n) {
    int i;
    for (i = 0; i < n && i < (int)(sizeof extra_names / sizeof *extra_names); i++) {
#if defined(SB_FAKE_ABI_1_0)
        add_1_0(m, extra_names[i], i);
#else
        sb_metrics_add(m, extra_names[i], "1", i, SB_PROV_SIMULATED, "fake: extra_metrics");
#endif
    }
}

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
    add_extras(m, p->be->extra_metrics);
    return 0;
}

static char *b_report(void *prog) {
    (void)prog;
    return strdup("{\"fake\": true, \"layers\": []}");
}

#if defined(SB_FAKE_NEWER_MINOR)
/* Built as if for the next minor, which appended a member to the
 * descriptor: the host loads it and uses only the members it knows. */
static int b_future(void) {
    abort();
}
static const struct {
    sb_backend_plugin base;
    int (*future)(void);
} plugin_next = {
    {{SB_ABI_MAJOR, SB_ABI_MINOR + 1, SB_KIND_BACKEND, "newminor", "1.0.0", "fake backend of a newer ABI minor",
      options},
     b_open, b_close, b_prepare, b_release, b_run, b_report},
    b_future};
SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin_next.base.hdr;
#elif defined(SB_FAKE_ABI_1_0)
/* Built for ABI 1.0: the host cannot tell dropped metrics from a full table. */
static const sb_backend_plugin plugin = {
    {SB_ABI_MAJOR, 0, SB_KIND_BACKEND, "oldminor", "1.0.0", "fake backend of ABI 1.0", options},
    b_open, b_close, b_prepare, b_release, b_run, b_report};
SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
#else
static const sb_backend_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "fake", "1.0.0", "fake backend for tests", options),
    b_open, b_close, b_prepare, b_release, b_run, b_report};
SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
#endif
