/*
 * sb_template.c - a complete, small backend to copy when adding a memory
 * technology (docs/writing-a-backend.md walks through it).
 *
 * It runs the graph with the shared INT8 kernels, so its predictions are
 * bit-identical to every other backend's, and reports two simulated figures:
 *
 *   energy_pj  = MACs x mac_energy_pj
 *   latency_ns = ceil(MACs / macs_per_cycle) / clock_mhz x 1000
 *
 * Both per-event costs are SB_OPT_SOURCED options: bench.toml must say where
 * each figure comes from (`mac_energy_pj_source = "..."`), or the framework
 * refuses the run. A copy would add its memory model (bytes moved per level
 * x energy per byte, cycles stalled) on top of this skeleton.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_kernels.h"
#include "sb_plugin.h"

static const sb_option_spec template_options[] = {
    {"mac_energy_pj", SB_OPT_FLOAT, SB_OPT_REQUIRED | SB_OPT_SOURCED, "energy of one 8-bit multiply-accumulate, pJ"},
    {"macs_per_cycle", SB_OPT_INT, SB_OPT_REQUIRED, "multiply-accumulates per clock cycle (array width)"},
    {"clock_mhz", SB_OPT_FLOAT, SB_OPT_REQUIRED | SB_OPT_SOURCED, "clock frequency, MHz"},
    {NULL, 0, 0, NULL}};

/* One configured instance (bench.toml's [[backend]] table). */
typedef struct tpl_backend {
    double mac_energy_pj;
    int64_t macs_per_cycle;
    double clock_mhz;
    char *energy_source, *clock_source;
} tpl_backend;

/* One graph prepared for this instance: every data-independent figure. */
typedef struct tpl_prog {
    const tpl_backend *be;
    const sb_graph *g;
    int64_t macs;
    double latency_ns, energy_pj;
    char *energy_note, *latency_note; /* live as long as the program */
} tpl_prog;

/* A positive number, or an error naming where the option was written. */
static int need_positive(const sb_options *o, const char *key, sb_error *err) {
    const sb_option *v = sb_opt_find(o, key);
    if (v && !(v->f > 0))
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s = %g: expected a value > 0", v->file, v->line, v->col, key,
                            v->f);
    return 0;
}

static int tpl_open(const sb_host *host, const sb_options *o, void **out, sb_error *err) {
    tpl_backend *b;
    int rc;
    (void)host;
    if ((rc = need_positive(o, "mac_energy_pj", err)) < 0 || (rc = need_positive(o, "macs_per_cycle", err)) < 0 ||
        (rc = need_positive(o, "clock_mhz", err)) < 0)
        return rc;
    if (!(b = calloc(1, sizeof *b))) return sb_error_set(err, SB_ENOMEM, "template: out of memory");
    b->mac_energy_pj = sb_opt_float(o, "mac_energy_pj", 0);
    b->macs_per_cycle = sb_opt_int(o, "macs_per_cycle", 1);
    b->clock_mhz = sb_opt_float(o, "clock_mhz", 0);
    /* the framework guarantees the sources exist; keep copies for the notes */
    b->energy_source = strdup(sb_opt_str(o, "mac_energy_pj_source", ""));
    b->clock_source = strdup(sb_opt_str(o, "clock_mhz_source", ""));
    *out = b;
    return 0;
}

static void tpl_close(void *p) {
    tpl_backend *b = p;
    free(b->energy_source);
    free(b->clock_source);
    free(b);
}

static char *dupf(const char *fmt, double a, const char *src) {
    int n = snprintf(NULL, 0, fmt, a, src);
    char *s = malloc((size_t)n + 1);
    if (s) snprintf(s, (size_t)n + 1, fmt, a, src);
    return s;
}

static int tpl_prepare(void *be_, const sb_graph *g, void **out, sb_error *err) {
    const tpl_backend *be = be_;
    tpl_prog *p;
    int32_t i;
    int rc;
    if ((rc = sb_graph_validate(g, err)) < 0) return rc;
    if (!(p = calloc(1, sizeof *p))) return sb_error_set(err, SB_ENOMEM, "template: out of memory");
    p->be = be;
    p->g = g;
    for (i = 0; i < g->n_ops; i++) p->macs += sb_op_macs(g, &g->ops[i]);
    /* whole cycles: a partly used cycle still takes a full clock period */
    p->latency_ns = ceil((double)p->macs / (double)be->macs_per_cycle) * 1e3 / be->clock_mhz;
    p->energy_pj = (double)p->macs * be->mac_energy_pj;
    p->energy_note = dupf("MACs x mac_energy_pj = %g pJ (%s)", be->mac_energy_pj, be->energy_source);
    p->latency_note = dupf("ceil(MACs / macs_per_cycle) cycles at %g MHz (%s)", be->clock_mhz, be->clock_source);
    if (!p->energy_note || !p->latency_note) {
        free(p->energy_note);
        free(p->latency_note);
        free(p);
        return sb_error_set(err, SB_ENOMEM, "template: out of memory");
    }
    *out = p;
    return 0;
}

static void tpl_release(void *p_) {
    tpl_prog *p = p_;
    free(p->energy_note);
    free(p->latency_note);
    free(p);
}

static int tpl_run(void *p_, const int8_t *input, int8_t *logits, sb_metrics *m, sb_error *err) {
    tpl_prog *p = p_;
    sb_workspace *ws;
    int rc;
    /* A workspace per call keeps run() safe on several threads at once; a
     * faster copy would keep one per thread. */
    if ((rc = sb_workspace_new(p->g, &ws, err)) < 0) return rc;
    rc = sb_graph_run_int8(p->g, ws, input, logits, err);
    sb_workspace_free(ws);
    if (rc < 0) return rc;
    sb_metrics_add(m, SB_M_LATENCY_NS, "ns", p->latency_ns, SB_PROV_SIMULATED, p->latency_note);
    sb_metrics_add(m, SB_M_ENERGY_PJ, "pJ", p->energy_pj, SB_PROV_SIMULATED, p->energy_note);
    sb_metrics_add(m, SB_M_ENERGY_MAC_PJ, "pJ", p->energy_pj, SB_PROV_SIMULATED, p->energy_note);
    return 0;
}

/* JSON string body with the characters JSON requires escaped. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static char *tpl_report(void *p_) {
    const tpl_prog *p = p_;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int32_t i;
    if (!f) return NULL;
    fprintf(f, "{\"backend\": \"template\", \"macs\": %lld, \"latency_ns\": %.17g, \"energy_pj\": %.17g, ",
            (long long)p->macs, p->latency_ns, p->energy_pj);
    fprintf(f, "\"hardware\": {\"mac_energy_pj\": %.17g, \"mac_energy_pj_source\": ", p->be->mac_energy_pj);
    json_str(f, p->be->energy_source);
    fprintf(f, ", \"macs_per_cycle\": %lld, \"clock_mhz\": %.17g, \"clock_mhz_source\": ",
            (long long)p->be->macs_per_cycle, p->be->clock_mhz);
    json_str(f, p->be->clock_source);
    fprintf(f, "}, \"layers\": [");
    for (i = 0; i < p->g->n_ops; i++) {
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_str(f, p->g->ops[i].name ? p->g->ops[i].name : "");
        fprintf(f, ", \"macs\": %lld}", (long long)sb_op_macs(p->g, &p->g->ops[i]));
    }
    fprintf(f, "]}");
    fclose(f);
    return buf;
}

static const sb_backend_plugin template_plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "template", "1.0.0",
                          "template: shared INT8 kernels, energy = MACs x mac_energy_pj (copy me)", template_options),
    tpl_open, tpl_close, tpl_prepare, tpl_release, tpl_run, tpl_report};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &template_plugin.hdr;
