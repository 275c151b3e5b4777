/*
 * srambench-backend-sram: the INT8 graph executed tile by tile through a
 * simulated on-chip SRAM (backends/sim). One plugin, many memories: the
 * hardware description comes from the options (presets sram256.toml and
 * sram1k.toml in this folder).
 *
 * prepare() schedules every layer and computes every data-independent figure
 * (counts, timing, energy, bounds) once; run() executes the image through the
 * SRAM byte array, checks that the executed counts equal the analytical ones
 * and reports the prepared figures.
 */
#include <stdlib.h>
#include <string.h>

#include "sb_kernels.h"
#include "sb_plugin.h"
#include "sb_sim.h"

typedef struct sram_be {
    sb_sim_hw hw;
    sb_options opts;          /* deep copy: the sources go into the report */
    sb_option *items;
    char note[512];
    const sb_host *host;
} sram_be;

typedef struct sram_prog {
    sram_be *be;
    const sb_graph *g;
    sb_sim_report rep;
} sram_prog;

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void free_opts(sram_be *b) {
    for (size_t i = 0; i < b->opts.n; i++) {
        free((char *)b->items[i].key);
        free((char *)b->items[i].s);
        free((char *)b->items[i].file);
    }
    free(b->items);
}

static int copy_opts(sram_be *b, const sb_options *o) {
    b->items = calloc(o->n ? o->n : 1, sizeof *b->items);
    if (!b->items) return SB_ENOMEM;
    for (size_t i = 0; i < o->n; i++) {
        sb_option *d = &b->items[i];
        *d = o->items[i];
        d->strings = NULL; d->n_strings = 0;  /* no list options here */
        d->key = dupstr(o->items[i].key);
        d->s = dupstr(o->items[i].s);
        d->file = dupstr(o->items[i].file);
        b->opts.n = i + 1;
    }
    b->opts.items = b->items;
    b->opts.name = NULL;
    return 0;
}

static void sram_close(void *p) {
    sram_be *b = p;
    if (!b) return;
    free_opts(b);
    free(b);
}

static int sram_open(const sb_host *host, const sb_options *opts, void **out, sb_error *err) {
    sram_be *b = calloc(1, sizeof *b);
    if (!b) return sb_error_set(err, SB_ENOMEM, "sram: out of memory");
    b->host = host;
    int rc = sb_sim_hw_from_options(opts, &b->hw, err);
    if (!rc && copy_opts(b, opts)) rc = sb_error_set(err, SB_ENOMEM, "sram: out of memory");
    if (rc) { sram_close(b); return rc; }
    const sb_option *cap = sb_opt_find(opts, "sram.capacity_bytes");
    snprintf(b->note, sizeof b->note,
             "simulated: %s (%lld B SRAM, %d-bit words, %d port%s, %.3f ns; config %s); counted events x sourced costs",
             sb_opt_str(opts, "preset", opts->name ? opts->name : "sram"), (long long)b->hw.capacity_bytes,
             b->hw.word_bits, b->hw.ports, b->hw.ports > 1 ? "s" : "", b->hw.period_ns,
             cap && cap->file ? cap->file : "options");
    *out = b;
    return 0;
}

static void sram_release(void *p) {
    sram_prog *pr = p;
    if (!pr) return;
    sb_sim_report_free(&pr->rep);
    free(pr);
}

static int sram_prepare(void *p, const sb_graph *g, void **out, sb_error *err) {
    sram_be *b = p;
    int rc = sb_graph_validate(g, err);
    if (rc) return rc;
    sram_prog *pr = calloc(1, sizeof *pr);
    if (!pr) return sb_error_set(err, SB_ENOMEM, "sram: out of memory");
    pr->be = b;
    pr->g = g;
    rc = sb_sim_analyze(&b->hw, g, &pr->rep, err);
    if (rc) { free(pr); return rc; }
    *out = pr;
    return 0;
}

static int sram_run(void *p, const int8_t *input, int8_t *logits, sb_metrics *m, sb_error *err) {
    sram_prog *pr = p;
    const sb_sim_report *r = &pr->rep;
    sb_sim_counts *c = calloc((size_t)(r->n_layers ? r->n_layers : 1), sizeof *c);
    if (!c) return sb_error_set(err, SB_ENOMEM, "sram: out of memory");
    int rc = sb_sim_execute(r, pr->g, input, logits, c, pr->be->host ? pr->be->host->cancelled : NULL, err);
    for (int i = 0; !rc && i < r->n_layers; i++)
        if (!sb_sim_counts_equal(&c[i], &r->layers[i].c))
            rc = sb_error_set(err, SB_ECRASH, "sram: layer '%s' (op %d): executed counts differ from the analytical ones",
                              r->layers[i].name, i);
    free(c);
    if (rc) return rc;
    const char *n = pr->be->note;
    sb_metrics_add(m, SB_M_LATENCY_NS, "ns", r->latency_ns, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_ENERGY_PJ, "pJ", r->energy_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_LATENCY_MEMORY_NS, "ns", r->memory_ns, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_LATENCY_COMPUTE_NS, "ns", r->compute_ns, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_LATENCY_DMA_NS, "ns", r->dma_ns, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_ENERGY_SRAM_PJ, "pJ", r->e_sram_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_ENERGY_EXTERNAL_PJ, "pJ", r->e_ext_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_ENERGY_MAC_PJ, "pJ", r->e_mac_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, "energy_requant_pj", "pJ", r->e_rq_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, "energy_regfile_pj", "pJ", r->e_reg_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, SB_M_ENERGY_LEAKAGE_PJ, "pJ", r->e_leak_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, "energy_idle_clock_pj", "pJ", r->e_idle_pj, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, "avg_power_mw", "mW", r->avg_power_mw, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, "peak_layer_power_mw", "mW", r->peak_power_mw, SB_PROV_SIMULATED, n);
    sb_metrics_add(m, "latency_bound_ns", "ns", r->bounds.latency_ns, SB_PROV_SIMULATED,
                   "largest of the compulsory-traffic, Hong-Kung and compute lower bounds (docs/sram-model.md)");
    sb_metrics_add(m, "energy_bound_pj", "pJ", r->bounds.energy_pj, SB_PROV_SIMULATED,
                   "largest of the compulsory-traffic, Hong-Kung and compute lower bounds (docs/sram-model.md)");
    sb_metrics_add(m, "macs", "1", (double)r->total.macs, SB_PROV_SIMULATED, "executed MACs (taps inside the input)");
    return 0;
}

static char *sram_report_json(void *p) {
    sram_prog *pr = p;
    return sb_sim_report_json(&pr->rep, pr->g, &pr->be->opts);
}

static const sb_backend_plugin sram_plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "sram", "1.0.0",
                          "INT8 network executed tile by tile through a simulated on-chip SRAM of the configured size",
                          sb_sim_option_spec),
    sram_open, sram_close, sram_prepare, sram_release, sram_run, sram_report_json};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &sram_plugin.hdr;
