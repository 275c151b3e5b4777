/*
 * cmd_sweep.c - `srambench sweep`: the design space of the SRAM accelerator
 * on the analytical path (sb_sweep.h), with CSV, Pareto charts and report.
 */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sb_charts.h"
#include "sb_cmd.h"
#include "sb_config.h"
#include "sb_lock.h"
#include "sb_model_file.h"
#include "sb_report.h"
#include "sb_runner.h"
#include "sb_sweep.h"
#include "sb_toml.h"
#include "sb_util.h"

#define MAX_AXIS 64
#define MAX_MODELS 16
#define MAX_EXTMEM 32

typedef struct axis {
    double v[MAX_AXIS];
    int n;
} axis;

typedef struct sweep_args {
    const char *preset, *out_dir, *accuracy_from;
    const char *models[MAX_MODELS];
    int n_models;
    const char *extmem[MAX_EXTMEM];
    int n_extmem;
    axis cap, word, ports, rf, macs, clock;
    /* a fusion axis (scheduler.fusion) would go here and in sb_sweep_point */
    double lat_budget_ms, energy_budget_mj;
    int workers, charts, quiet;
    sb_config cfg;     /* --config: owns the strings the axes point to   */
    int have_cfg;
    int cli_models, cli_extmem; /* a command-line list replaces the file's */
    char *owned[MAX_MODELS];    /* the .sbm paths of --model names        */
} sweep_args;

/* The sram backend's key for each axis: a design point is one it would
 * accept (sb_sim_check_value), so a sweep never reports figures for
 * hardware that `srambench run` refuses. */
static const struct {
    const char *opt, *cfg_key, *hw_key;
} axis_keys[] = {
    {"--capacity", "capacity_bytes", "sram.capacity_bytes"},
    {"--word-bits", "word_bits", "sram.word_bits"},
    {"--ports", "ports", "sram.ports"},
    {"--regfile-bytes", "regfile_bytes", "regfile.bytes"},
    {"--macs", "macs_per_cycle", "mac.macs_per_cycle"},
    {"--clock-mhz", "clock_mhz", "sram.clock_mhz"},
};

static const char *hw_key_of(const char *name) {
    for (size_t i = 0; i < sizeof axis_keys / sizeof axis_keys[0]; i++)
        if (!strcmp(axis_keys[i].opt, name) || !strcmp(axis_keys[i].cfg_key, name)) return axis_keys[i].hw_key;
    return NULL;
}

/* "256,1k,64k" -> numbers; k = 1024 for capacities. */
static int parse_list(const char *opt, const char *s, axis *a) {
    char *copy = strdup(s), *tok, *save = NULL;
    const char *hw_key = hw_key_of(opt), *exp = "";
    a->n = 0;
    for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (*end == 'k' || *end == 'K') v *= 1024, end++;
        if (end == tok || *end || a->n == MAX_AXIS) {
            fprintf(stderr, "srambench sweep: %s '%s': expected a comma-separated list of numbers "
                            "(at most %d; 'k' = 1024)\n", opt, tok, MAX_AXIS);
            free(copy);
            return -1;
        }
        if (sb_sim_check_value(hw_key, v, &exp)) {
            fprintf(stderr, "srambench sweep: %s '%s': expected %s (the sram backend's %s)\n", opt, tok, exp, hw_key);
            free(copy);
            return -1;
        }
        a->v[a->n++] = v;
    }
    free(copy);
    if (!a->n) fprintf(stderr, "srambench sweep: %s '%s': expected a comma-separated list of numbers\n", opt, s);
    return a->n ? 0 : -1;
}

/* A budget: positive and finite, as [sweep] requires of its budgets. */
static int parse_budget(const char *opt, const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || isinf(v)) {
        fprintf(stderr, "srambench sweep: %s '%s': expected a positive finite number\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static void default_axes(sweep_args *a) {
    int i;
    a->cap.n = 0;
    for (i = 8; i <= 19; i++) a->cap.v[a->cap.n++] = (double)(1 << i); /* 256 B ... 512 kB */
    a->word = (axis){{8, 16, 32, 64}, 4};
    a->ports = (axis){{1, 2}, 2};
    a->rf.n = 0; /* the preset's, filled in once it is read */
    a->macs = (axis){{1, 2, 4, 8, 16, 32, 64}, 7};
    a->clock = (axis){{25, 50, 100, 145}, 4}; /* 145: the presets' macro's fastest (6.875 ns) */
}

/* A [sweep] axis, held to the backend's rules like the command line's. */
static int axis_from_cfg(const char *key, const sb_cfg_axis *c, axis *a) {
    const char *exp;
    size_t i;
    if (!c->n) return 0;
    for (a->n = 0, i = 0; i < c->n && i < MAX_AXIS; i++) {
        if (sb_sim_check_value(hw_key_of(key), c->v[i], &exp)) {
            fprintf(stderr, "srambench sweep: %s:%d:%d: [sweep] key '%s' item %zu = %g: expected %s (the sram "
                            "backend's %s)\n", c->file, c->line, c->col, key, i + 1, c->v[i], exp, hw_key_of(key));
            return -1;
        }
        a->v[a->n++] = c->v[i];
    }
    return 0;
}

/* --config FILE: the [sweep] table of a bench.toml as the defaults; the
 * command line, parsed afterwards, overrides each axis. */
static int apply_config(const char *path, sweep_args *a) {
    const sb_cfg_sweep *sw;
    sb_error err = {0};
    size_t i;
    if (sb_config_load(path, &a->cfg, &err) < 0) {
        fprintf(stderr, "srambench sweep: %s\n", err.msg);
        sb_config_free(&a->cfg);
        return -1;
    }
    a->have_cfg = 1;
    sw = &a->cfg.sweep;
    if (sw->n_models > MAX_MODELS || sw->n_extmem > MAX_EXTMEM) {
        fprintf(stderr, "srambench sweep: %s: [sweep] has %zu models and %zu extmem files: expected at most %d and %d\n",
                path, sw->n_models, sw->n_extmem, MAX_MODELS, MAX_EXTMEM);
        return -1;
    }
    if (sw->preset) a->preset = sw->preset;
    for (i = 0; i < sw->n_models; i++) a->models[a->n_models++] = sw->models[i];
    for (i = 0; i < sw->n_extmem; i++) a->extmem[a->n_extmem++] = sw->extmem[i];
    if (axis_from_cfg("capacity_bytes", &sw->capacity_bytes, &a->cap) < 0 ||
        axis_from_cfg("word_bits", &sw->word_bits, &a->word) < 0 || axis_from_cfg("ports", &sw->ports, &a->ports) < 0 ||
        axis_from_cfg("regfile_bytes", &sw->regfile_bytes, &a->rf) < 0 ||
        axis_from_cfg("macs_per_cycle", &sw->macs_per_cycle, &a->macs) < 0 ||
        axis_from_cfg("clock_mhz", &sw->clock_mhz, &a->clock) < 0)
        return -1;
    if (!isnan(sw->latency_budget_ms)) a->lat_budget_ms = sw->latency_budget_ms;
    if (!isnan(sw->energy_budget_mj)) a->energy_budget_mj = sw->energy_budget_mj;
    return 0;
}

/* --model is a [[model]] name, as for every command; a value with a '/'
 * or ending in .sbm is a file, as it was before names were accepted. */
static int is_model_path(const char *v) {
    size_t n = strlen(v);
    return strchr(v, '/') || (n >= 4 && !strcmp(v + n - 4, ".sbm"));
}

static void unknown_model(const sb_config *cfg, const char *name) {
    sb_buf names = {0};
    size_t k;
    for (k = 0; k < cfg->n_models; k++) sb_buf_printf(&names, "%s%s", k ? ", " : "", cfg->models[k].name);
    fprintf(stderr, "srambench sweep: --model '%s': no [[model]] of that name in %s (it has: %s): expected one of "
                    "them, or a path to a .sbm file\n", name, cfg->path, names.s ? names.s : "none");
    sb_buf_free(&names);
}

/* The .sbm file of [[model]] `name` (plugin sbm, key path), relative to
 * bench.toml's folder; NULL after a message. */
static char *model_file(const sb_config *cfg, const char *name) {
    const sb_toml *p;
    size_t k;
    for (k = 0; k < cfg->n_models && strcmp(cfg->models[k].name, name); k++) continue;
    if (k == cfg->n_models) {
        unknown_model(cfg, name);
        return NULL;
    }
    p = sb_toml_get(cfg->models[k].table, "path");
    if (strcmp(cfg->models[k].plugin, "sbm") || !p || p->type != SB_TOML_STRING) {
        fprintf(stderr, "srambench sweep: --model '%s': %s:%d:%d: [[model]] '%s' is of plugin '%s': expected one of "
                        "plugin sbm with a path (the sweep reads .sbm files)\n", name, cfg->models[k].file,
                cfg->models[k].line, cfg->models[k].col, name, cfg->models[k].plugin);
        return NULL;
    }
    return sb_path_join(cfg->dir, p->s);
}

/* Turn --model names into .sbm paths: the bench.toml of --config, else
 * ./bench.toml. Returns 0, -1 (usage) or -2 (the bench.toml is wrong). */
static int resolve_models(sweep_args *a) {
    sb_config own, *cfg = a->have_cfg ? &a->cfg : &own;
    sb_error err = {0};
    int m, rc = 0, loaded = 0;
    for (m = 0; m < a->n_models && rc == 0; m++) {
        if (is_model_path(a->models[m])) continue;
        if (!a->have_cfg && !loaded && access("bench.toml", F_OK) != 0) {
            fprintf(stderr, "srambench sweep: --model '%s': no ./bench.toml to find that [[model]] in: expected "
                            "--config BENCH.TOML, or a path to a .sbm file (a value with '/' or ending in .sbm)\n",
                    a->models[m]);
            rc = -1;
            break;
        }
        if (!a->have_cfg && !loaded++ && sb_config_load("bench.toml", &own, &err) < 0) {
            fprintf(stderr, "srambench sweep: --model '%s' names a [[model]] of ./bench.toml: %s\n", a->models[m],
                    err.msg);
            rc = -2;
            break;
        }
        if (!(a->owned[m] = model_file(cfg, a->models[m]))) rc = -1;
        else a->models[m] = a->owned[m];
    }
    if (loaded) sb_config_free(&own);
    return rc;
}

/* Returns 0, -1 (usage) or -2 (the --config file is wrong). */
static int parse_args(int argc, char **argv, sweep_args *a) {
    int i;
    memset(a, 0, sizeof *a);
    a->preset = "backends/sram/sram256.toml";
    a->lat_budget_ms = a->energy_budget_mj = NAN;
    a->charts = 1;
    default_axes(a);
    for (i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            if (a->have_cfg) {
                fprintf(stderr, "srambench sweep: --config given twice: expected one bench.toml\n");
                return -1;
            }
            if (apply_config(argv[i + 1], a) < 0) return -2;
        }
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(o, "--no-charts")) { a->charts = 0; continue; }
        if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) { a->quiet = 1; continue; }
        if (!v) {
            fprintf(stderr, "srambench sweep: unexpected argument '%s' or its value missing (see srambench sweep --help)\n", o);
            return -1;
        }
        i++;
        if (!strcmp(o, "--config")) continue; /* read above */
        if (!strcmp(o, "--model") && !a->cli_models++) a->n_models = 0;
        if (!strcmp(o, "--extmem") && !a->cli_extmem++) a->n_extmem = 0;
        if (!strcmp(o, "--preset")) a->preset = v;
        else if (!strcmp(o, "--model") && a->n_models < MAX_MODELS) a->models[a->n_models++] = v;
        else if (!strcmp(o, "--extmem") && a->n_extmem < MAX_EXTMEM) a->extmem[a->n_extmem++] = v;
        else if (!strcmp(o, "--output-dir")) a->out_dir = v;
        else if (!strcmp(o, "--accuracy-from")) a->accuracy_from = v;
        else if (!strcmp(o, "--capacity")) bad = parse_list(o, v, &a->cap);
        else if (!strcmp(o, "--word-bits")) bad = parse_list(o, v, &a->word);
        else if (!strcmp(o, "--ports")) bad = parse_list(o, v, &a->ports);
        else if (!strcmp(o, "--regfile-bytes")) bad = parse_list(o, v, &a->rf);
        else if (!strcmp(o, "--macs")) bad = parse_list(o, v, &a->macs);
        else if (!strcmp(o, "--clock-mhz")) bad = parse_list(o, v, &a->clock);
        else if (!strcmp(o, "--latency-budget-ms")) bad = parse_budget(o, v, &a->lat_budget_ms);
        else if (!strcmp(o, "--energy-budget-mj")) bad = parse_budget(o, v, &a->energy_budget_mj);
        else if (!strcmp(o, "--workers")) bad = sb_cmd_parse_workers("sweep", v, &a->workers);
        else {
            fprintf(stderr, "srambench sweep: unknown option '%s' (see srambench sweep --help)\n", o);
            return -1;
        }
        if (bad) return -1;
    }
    /* names of the file's own [sweep] models are paths already */
    return a->cli_models ? resolve_models(a) : 0;
}

/* The preset's options, with the [flash]/[psram] tables of `extmem` (may
 * be NULL) in place of its own, turned into hardware by sb_sim. */
static int load_hw(const char *preset, const char *extmem, sb_sim_hw *hw, sb_error *err) {
    sb_toml *root = NULL, *ext = NULL;
    sb_cfg_inst inst;
    sb_opts_owned oo;
    int rc;
    if ((rc = sb_toml_parse_file(preset, &root, err)) < 0) return rc;
    if (extmem && (rc = sb_toml_parse_file(extmem, &ext, err)) == 0) {
        /* a part replaces the memory it is (a weight store: [flash] only);
         * the other stays the preset's */
        const char *k[] = {"flash", "psram"};
        int i, found = 0;
        for (i = 0; i < 2 && rc == 0; i++) {
            sb_toml *t = sb_toml_get(ext, k[i]);
            if (t) found++, rc = sb_toml_set(root, sb_toml_clone(t));
        }
        if (rc == 0 && !found)
            rc = sb_error_set(err, SB_EFORMAT, "%s: no [flash] or [psram] table: expected one or both, as in %s", extmem, preset);
    }
    if (rc == 0) {
        memset(&inst, 0, sizeof inst);
        inst.name = (char *)"sweep";
        inst.plugin = (char *)"sram";
        inst.section = "backend";
        inst.table = root;
        inst.file = preset;
        inst.line = inst.col = 1;
        if ((rc = sb_options_build(&inst, sb_cfg_backend_keys, sb_sim_option_spec, &oo, err)) == 0) {
            rc = sb_sim_hw_from_options(&oo.opts, hw, err);
            sb_options_free(&oo);
        }
    }
    sb_toml_free(ext);
    sb_toml_free(root);
    return rc;
}

static double accuracy_of(const cJSON *res, const char *model) {
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItem(res, "jobs")) {
        const cJSON *m = cJSON_GetObjectItem(j, "model"), *acc;
        if (!cJSON_IsString(m) || strcmp(m->valuestring, model)) continue;
        acc = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "accuracy");
        if (!isnan(sb_fig_value(acc))) return sb_fig_value(acc);
    }
    return NAN;
}

static void csv_write(const sb_sweep *s, sb_buf *b) {
    size_t i;
    sb_buf_printf(b, "model,external_memory,capacity_bytes,word_bits,ports,regfile_bytes,macs_per_cycle,clock_mhz,status,"
                     "latency_ms,energy_mj,avg_power_mw,bound_latency_ms,bound_energy_mj,sram_peak_bytes,accuracy,"
                     "pareto_latency_energy,pareto_accuracy_energy,meets_budget,error\n");
    for (i = 0; i < s->n_pts; i++) {
        const sb_sweep_point *p = &s->pts[i];
        double acc = s->accuracy[p->model];
        sb_buf_printf(b, "\"%s\",\"%s\",%lld,%d,%d,%lld,%lld,%g,%s,", s->model_names[p->model],
                      s->extmem[p->extmem].label, (long long)p->capacity_bytes, p->word_bits, p->ports,
                      (long long)p->rf_bytes, (long long)p->macs_per_cycle, p->clock_mhz, p->rc == 0 ? "ok" : "infeasible");
        if (p->rc == 0)
            sb_buf_printf(b, "%.9g,%.9g,%.9g,%.9g,%.9g,%lld,", p->latency_ns * 1e-6, p->energy_pj * 1e-9, p->avg_power_mw,
                          p->bound_latency_ns * 1e-6, p->bound_energy_pj * 1e-9, (long long)p->sram_peak_bytes);
        else sb_buf_printf(b, ",,,,,,");
        if (isnan(acc)) sb_buf_printf(b, ",");
        else sb_buf_printf(b, "%.6f,", acc);
        sb_buf_printf(b, "%d,%d,%d,", p->pareto_le, p->pareto_ae, p->meets);
        if (p->error) {
            const char *c;
            sb_buf_printf(b, "\"");
            for (c = p->error; *c; c++) sb_buf_printf(b, *c == '"' ? "\"\"" : "%c", *c);
            sb_buf_printf(b, "\"");
        }
        sb_buf_printf(b, "\n");
    }
}

static void charts(sb_sweep *s, const sweep_args *a, const char *dir, sb_doc *d) {
    sb_buf data = {0};
    sb_error err = {0};
    size_t i;
    int have_acc = 0;
    char *script, budget[512] = "", arrows[512] = "";
    /* columns: latency_ms energy_mj log2(capacity) front meets accuracy_pct front_ae */
    for (i = 0; i < s->n_pts; i++) {
        const sb_sweep_point *p = &s->pts[i];
        double acc = s->accuracy[p->model];
        if (p->rc) continue;
        have_acc |= !isnan(acc);
        char acc_s[32] = "NaN";
        if (!isnan(acc)) snprintf(acc_s, sizeof acc_s, "%.4f", 100 * acc);
        sb_buf_printf(&data, "%.9g %.9g %.3f %d %d %s %d\n", p->latency_ns * 1e-6, p->energy_pj * 1e-9,
                      log2((double)p->capacity_bytes), p->pareto_le, p->meets, acc_s, p->pareto_ae);
    }
    if (!data.s) {
        sb_doc_para(d, "Pareto charts: no feasible design point.");
        return;
    }
    /* index 1: the front alone, by latency, so that it draws as a line */
    sb_buf_printf(&data, "\n\n");
    {
        size_t *ord = malloc((s->n_pts + 1) * sizeof *ord), n = 0, x, y;
        for (i = 0; ord && i < s->n_pts; i++)
            if (s->pts[i].pareto_le) ord[n++] = i;
        for (x = 1; x < n; x++)
            for (y = x; y > 0 && s->pts[ord[y]].latency_ns < s->pts[ord[y - 1]].latency_ns; y--) {
                size_t t = ord[y];
                ord[y] = ord[y - 1], ord[y - 1] = t;
            }
        for (x = 0; x < n; x++) sb_buf_printf(&data, "%.9g %.9g\n", s->pts[ord[x]].latency_ns * 1e-6, s->pts[ord[x]].energy_pj * 1e-9);
        free(ord);
    }
    if (!isnan(a->lat_budget_ms) || !isnan(a->energy_budget_mj))
        snprintf(budget, sizeof budget, ", '' index 0 using ($5 > 0 ? $1 : 1/0):2 with points pt 6 ps 1.2 lc rgb '#228833' title 'meets the budget (%s%s%s)'",
                 isnan(a->lat_budget_ms) ? "" : "latency", !isnan(a->lat_budget_ms) && !isnan(a->energy_budget_mj) ? " and " : "",
                 isnan(a->energy_budget_mj) ? "" : "energy");
    if (!isnan(a->lat_budget_ms))
        snprintf(arrows, sizeof arrows, "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb '#228833'\n",
                 a->lat_budget_ms, a->lat_budget_ms);
    if (!isnan(a->energy_budget_mj))
        snprintf(arrows + strlen(arrows), sizeof arrows - strlen(arrows),
                 "set arrow from graph 0, first %g to graph 1, first %g nohead dt 2 lc rgb '#228833'\n",
                 a->energy_budget_mj, a->energy_budget_mj);
    script = sb_strdupf(SB_CHART_STYLE
                        "set title 'Design space: latency vs energy per inference (simulated, analytical path; %zu points)'\n"
                        "set logscale xy\nset format x '10^{%%T}'\nset format y '10^{%%T}'\nset xlabel 'latency per inference (ms)'\nset ylabel 'energy per inference (mJ)'\n"
                        "set cblabel 'SRAM capacity (log_2 bytes: 8 = 256 B, 10 = 1 kB, 19 = 512 kB)'\nset cbtics 1\nset palette rgb 33,13,10\nset key top right opaque box\n"
                        "%s"
                        "plot 'sweep-pareto.dat' index 0 using 1:2:3 with points pt 7 ps 0.35 lc palette title 'design point'%s, "
                        "'' index 1 using 1:2 with linespoints pt 7 ps 0.8 lw 2 lc rgb 'black' title 'Pareto front'\n",
                        s->n_pts, arrows, budget);
    if (sb_chart_write(dir, "sweep-pareto", data.s, script, 1200, 760, a->charts, &err) < 0) sb_doc_para(d, "Chart: %s", err.msg);
    sb_doc_chart(d, "sweep-pareto", "Latency vs energy per inference; black: Pareto front; colour: SRAM capacity");
    free(script);
    if (!have_acc) {
        sb_doc_para(d, "Accuracy vs energy: unavailable: no measured accuracy for these models (pass --accuracy-from "
                       "<results-dir> of a run of the same models; untrained models have none).");
    } else {
        script = sb_strdupf(SB_CHART_STYLE
                            "set title 'Accuracy (measured) vs energy per inference (simulated)'\n"
                            "set logscale x\nset xlabel 'energy per inference (mJ)'\nset ylabel 'accuracy (%%)'\n"
                            "set yrange [0:100]\nset key bottom right opaque box\n"
                            "plot 'sweep-pareto.dat' index 0 using 2:6 with points pt 7 ps 0.35 lc rgb '#999999' title 'design point', "
                            "'' index 0 using ($7 > 0 ? $2 : 1/0):6 with points pt 7 ps 1 lc rgb 'black' title 'Pareto front'%s\n",
                            budget[0] ? ", '' index 0 using ($5 > 0 ? $2 : 1/0):6 with points pt 6 ps 1.2 lc rgb '#228833' title 'meets the budget'" : "");
        if (sb_chart_write(dir, "sweep-accuracy", data.s, script, 1000, 620, a->charts, &err) < 0) sb_doc_para(d, "Chart: %s", err.msg);
        sb_doc_chart(d, "sweep-accuracy", "Accuracy vs energy per inference");
        free(script);
    }
    sb_buf_free(&data);
}

static void front_table(const sb_sweep *s, sb_doc *d) {
    static const char *h[] = {"model", "external memory", "SRAM", "word", "ports", "register file", "MACs/cycle",
                              "clock", "latency (simulated)", "energy (simulated)", "avg power (simulated)", "meets budget"};
    sb_table *t = sb_doc_table(d, "Designs on the latency-energy Pareto front (sorted by latency)", 12, h);
    size_t i, *ord = malloc((s->n_pts + 1) * sizeof *ord), n = 0, a, b;
    if (!ord) return;
    for (i = 0; i < s->n_pts; i++)
        if (s->pts[i].pareto_le) ord[n++] = i;
    for (a = 1; a < n; a++) /* insertion sort: fronts are short */
        for (b = a; b > 0 && s->pts[ord[b]].latency_ns < s->pts[ord[b - 1]].latency_ns; b--) {
            size_t x = ord[b];
            ord[b] = ord[b - 1], ord[b - 1] = x;
        }
    for (i = 0; i < n; i++) {
        const sb_sweep_point *p = &s->pts[ord[i]];
        char *r[12];
        int k;
        r[0] = strdup(s->model_names[p->model]);
        r[1] = strdup(s->extmem[p->extmem].label);
        r[2] = p->capacity_bytes >= 1024 ? sb_strdupf("%lld kB", (long long)(p->capacity_bytes / 1024)) : sb_strdupf("%lld B", (long long)p->capacity_bytes);
        r[3] = sb_strdupf("%d bit", p->word_bits);
        r[4] = sb_strdupf("%d", p->ports);
        r[5] = sb_strdupf("%lld B", (long long)p->rf_bytes);
        r[6] = sb_strdupf("%lld", (long long)p->macs_per_cycle);
        r[7] = sb_strdupf("%g MHz", p->clock_mhz);
        r[8] = sb_strdupf("%.4g ms", p->latency_ns * 1e-6);
        r[9] = sb_strdupf("%.4g mJ", p->energy_pj * 1e-9);
        r[10] = sb_strdupf("%.4g mW", p->avg_power_mw);
        r[11] = strdup(p->meets ? "yes" : "no");
        sb_table_row(t, (const char *const *)r);
        for (k = 0; k < 12; k++) free(r[k]);
    }
    free(ord);
}

/* One external-memory choice: the preset's own (path NULL) or a part's
 * file ([flash] and/or [psram] tables, the rest the preset's). */
static int add_extmem(sb_sweep *s, const char *preset, const char *path, sb_error *err) {
    sb_sweep_extmem *e = realloc(s->extmem, (size_t)(s->n_extmem + 1) * sizeof *e);
    sb_sim_hw hw;
    int rc;
    if (!e) return sb_error_set(err, SB_ENOMEM, "out of memory for external memories");
    s->extmem = e;
    if ((rc = load_hw(preset, path, &hw, err)) < 0) return rc;
    e = &s->extmem[s->n_extmem++];
    memset(e, 0, sizeof *e);
    e->flash = hw.flash;
    e->psram = hw.psram;
    snprintf(e->label, sizeof e->label, "%s + %s", hw.flash.name, hw.psram.name);
    return 0;
}

/* --extmem FILE adds a part; --extmem DIR every *.toml in it, sorted by
 * name (a catalogue: backends/sram/extmem). None given: the preset's. */
static int load_extmem(sb_sweep *s, const sweep_args *a, sb_error *err) {
    int i, rc = 0;
    if (!a->n_extmem) return add_extmem(s, a->preset, NULL, err);
    for (i = 0; i < a->n_extmem && rc == 0; i++) {
        struct stat st;
        if (stat(a->extmem[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = add_extmem(s, a->preset, a->extmem[i], err);
            continue;
        }
        char *pat = sb_strdupf("%s/*.toml", a->extmem[i]);
        glob_t g;
        memset(&g, 0, sizeof g);
        if (!pat) return sb_error_set(err, SB_ENOMEM, "out of memory");
        if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0)
            rc = sb_error_set(err, SB_ENOENT, "%s: no *.toml in this folder: expected parts with [flash] and/or [psram] tables", a->extmem[i]);
        for (size_t k = 0; k < g.gl_pathc && rc == 0; k++) rc = add_extmem(s, a->preset, g.gl_pathv[k], err);
        globfree(&g);
        free(pat);
    }
    return rc;
}

static int build(sb_sweep *s, const sweep_args *a, sb_model_file **mfs, sb_error *err) {
    int m, e, rc, ic, iw, ip, ir, im, ik;
    size_t n;
    char *files[MAX_MODELS];
    int n_files = 0;
    glob_t g;
    axis rf = a->rf;
    memset(&g, 0, sizeof g);
    if ((rc = load_hw(a->preset, NULL, &s->base, err)) < 0) return rc;
    if (!rf.n) rf = (axis){{(double)s->base.rf_bytes}, 1};
    if ((rc = load_extmem(s, a, err)) < 0) return rc;
    /* models: as given, else every shipped .sbm */
    for (m = 0; m < a->n_models; m++) files[n_files++] = (char *)a->models[m];
    if (!n_files && glob("plugins/models/*/*.sbm", 0, NULL, &g) == 0)
        for (n = 0; n < g.gl_pathc && n_files < MAX_MODELS; n++) files[n_files++] = g.gl_pathv[n];
    if (!n_files) {
        globfree(&g);
        return sb_error_set(err, SB_ENOENT, "no model: pass --model FILE.sbm (none found under plugins/models/*/)");
    }
    s->n_models = n_files;
    s->graphs = calloc((size_t)n_files, sizeof *s->graphs);
    s->model_names = calloc((size_t)n_files, sizeof *s->model_names);
    s->accuracy = calloc((size_t)n_files, sizeof *s->accuracy);
    if (!s->graphs || !s->model_names || !s->accuracy) return SB_ENOMEM;
    for (m = 0; m < n_files; m++) {
        if ((rc = sb_model_file_load(files[m], &mfs[m], err)) < 0) {
            globfree(&g);
            return rc;
        }
        s->graphs[m] = sb_model_file_graph(mfs[m]);
        s->model_names[m] = s->graphs[m]->name ? s->graphs[m]->name : "?";
        s->accuracy[m] = NAN;
    }
    globfree(&g);
    if (a->accuracy_from) {
        cJSON *res;
        if ((rc = sb_report_load(a->accuracy_from, &res, err)) < 0) return rc;
        for (m = 0; m < n_files; m++) s->accuracy[m] = accuracy_of(res, s->model_names[m]);
        cJSON_Delete(res);
    }
    n = (size_t)n_files * (size_t)s->n_extmem * (size_t)a->cap.n * (size_t)a->word.n * (size_t)a->ports.n *
        (size_t)rf.n * (size_t)a->macs.n * (size_t)a->clock.n;
    s->pts = calloc(n ? n : 1, sizeof *s->pts);
    if (!s->pts) return sb_error_set(err, SB_ENOMEM, "out of memory for %zu design points", n);
    for (m = 0; m < n_files; m++)
        for (e = 0; e < s->n_extmem; e++)
            for (ic = 0; ic < a->cap.n; ic++)
                for (iw = 0; iw < a->word.n; iw++)
                    for (ip = 0; ip < a->ports.n; ip++)
                        for (ir = 0; ir < rf.n; ir++)
                            for (im = 0; im < a->macs.n; im++)
                                for (ik = 0; ik < a->clock.n; ik++) {
                                    sb_sweep_point *p = &s->pts[s->n_pts++];
                                    p->model = m, p->extmem = e;
                                    p->capacity_bytes = (int64_t)a->cap.v[ic];
                                    p->word_bits = (int)a->word.v[iw];
                                    p->ports = (int)a->ports.v[ip];
                                    p->rf_bytes = (int64_t)rf.v[ir];
                                    p->macs_per_cycle = (int64_t)a->macs.v[im];
                                    p->clock_mhz = a->clock.v[ik];
                                }
    return 0;
}

/* Named by the command, as the other commands' folders are; with --config
 * also by the bench.toml's [run] name, in its output folder. */
static char *default_out_dir(const sweep_args *a) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (a->have_cfg) return sb_strdupf("%s/%s-%s-sweep", a->cfg.output, stamp, a->cfg.name);
    return sb_strdupf("results/%s-sweep", stamp);
}

static int write_outputs(sb_sweep *s, const sweep_args *a, const char *dir, long front, sb_error *err) {
    sb_buf csv = {0};
    sb_doc *d = sb_doc_new("Design-space sweep");
    size_t i, feasible = 0, meets = 0;
    char *p, *md, *html;
    int rc;
    for (i = 0; i < s->n_pts; i++) feasible += s->pts[i].rc == 0, meets += s->pts[i].meets;
    csv_write(s, &csv);
    p = sb_strdupf("%s/sweep.csv", dir);
    rc = sb_write_atomic(p, csv.s, csv.len, err);
    free(p), sb_buf_free(&csv);
    if (rc < 0) goto out;
    sb_doc_para(d, "%zu design points (%zu feasible; the others do not fit, see sweep.csv) evaluated on the analytical "
                   "path of the SRAM simulator (sb_sim_analyze: closed-form counts x per-event costs) in %.3f s wall time "
                   "with %d worker threads (libuv pool). All latency, energy and power figures are simulated; accuracy, "
                   "where shown, is measured on real images by a stored run.", s->n_pts, feasible, s->wall_s, s->workers);
    sb_doc_para(d, "Every feasible point was scheduled for its own hardware (%zu runs of the tile search): its figures "
                   "are those of a single sb_sim_analyze of that hardware, value for value.", s->n_scheduled);
    sb_doc_para(d, "Base hardware: %s (every per-event cost and its source is in that file). Changed per point: SRAM "
                   "capacity, word width, ports, register-file bytes, MACs per cycle, clock, external memories. "
                   "Assumption carried over from "
                   "the presets: energy per accessed bit and leakage per bit cell stay as in the base, so read/write/"
                   "idle-clock energy scale with the word width and leakage with the capacity; a real macro of another "
                   "size would differ (docs/views.md).", a->preset);
    if (!isnan(a->lat_budget_ms) || !isnan(a->energy_budget_mj)) {
        char lb[32] = "any", eb[32] = "any";
        if (!isnan(a->lat_budget_ms)) snprintf(lb, sizeof lb, "%g", a->lat_budget_ms);
        if (!isnan(a->energy_budget_mj)) snprintf(eb, sizeof eb, "%g", a->energy_budget_mj);
        sb_doc_para(d, "Budget: latency <= %s ms and energy <= %s mJ per inference: %zu designs meet it (green in the chart).",
                    lb, eb, meets);
    }
    sb_doc_para(d, "%ld designs lie on the latency-energy Pareto front.", front);
    charts(s, a, dir, d);
    front_table(s, d);
    md = sb_doc_markdown(d);
    html = sb_doc_html(d, dir);
    p = sb_strdupf("%s/sweep.md", dir);
    rc = sb_write_atomic(p, md, strlen(md), err);
    free(p);
    p = sb_strdupf("%s/sweep.html", dir);
    if (rc == 0) rc = sb_write_atomic(p, html, strlen(html), err);
    free(p);
    if (rc == 0 && !a->quiet) fputs(md, stdout);
    free(md), free(html);
out:
    sb_doc_free(d);
    return rc;
}

static int sweep_main(int argc, char **argv) {
    sweep_args a;
    sb_sweep s;
    sb_model_file *mfs[MAX_MODELS] = {0};
    sb_error err = {0};
    char *dir = NULL;
    long front;
    int rc, m;
    memset(&s, 0, sizeof s);
    if ((rc = parse_args(argc, argv, &a)) < 0) {
        rc = rc == -2 ? SB_EXIT_CONFIG : SB_EXIT_USAGE;
        goto out;
    }
    s.workers = a.workers > 0 ? a.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s.workers < 1) s.workers = 1;
    /* libuv sizes its pool on first use */
    sb_runner_set_workers(s.workers);
    if ((rc = build(&s, &a, mfs, &err)) < 0) {
        fprintf(stderr, "srambench sweep: %s\n", err.msg[0] ? err.msg : "out of memory");
        rc = SB_EXIT_CONFIG;
        goto out;
    }
    dir = a.out_dir ? strdup(a.out_dir) : default_out_dir(&a);
    if (!dir || sb_mkdirs(dir, &err) < 0 || sb_lock_dir(dir, &err) < 0) {
        fprintf(stderr, "srambench sweep: %s\n", err.msg);
        rc = SB_EXIT_IO;
        goto out;
    }
    if (!a.quiet) fprintf(stderr, "srambench sweep: %zu design points on %d workers...\n", s.n_pts, s.workers);
    s.progress = !a.quiet && isatty(2);
    if ((rc = sb_sweep_run(&s, &err)) < 0) {
        fprintf(stderr, "srambench sweep: %s\n", err.msg);
        rc = SB_EXIT_IO;
        goto out;
    }
    front = sb_sweep_mark(&s, a.lat_budget_ms, a.energy_budget_mj);
    if (write_outputs(&s, &a, dir, front, &err) < 0) {
        fprintf(stderr, "srambench sweep: %s\n", err.msg);
        rc = SB_EXIT_IO;
        goto out;
    }
    fprintf(stderr, "srambench sweep: %zu design points (%zu schedules) evaluated in %.3f s (%.1f us per point, %d workers); "
                    "wrote %s/sweep.csv, sweep.md, sweep.html\n",
            s.n_pts, s.n_scheduled, s.wall_s, s.n_pts ? s.wall_s * 1e6 / (double)s.n_pts : 0.0, s.workers, dir);
    rc = SB_EXIT_OK;
out:
    for (size_t i = 0; i < s.n_pts; i++) free(s.pts[i].error);
    free(s.pts), free(s.extmem), free(s.graphs), free(s.model_names), free(s.accuracy), free(dir);
    for (m = 0; m < MAX_MODELS; m++)
        if (mfs[m]) sb_model_file_free(mfs[m]);
    for (m = 0; m < MAX_MODELS; m++) free(a.owned[m]);
    if (a.have_cfg) sb_config_free(&a.cfg);
    return rc;
}

const sb_command sb_cmd_sweep = {
    "sweep", "design-space sweep of the SRAM accelerator (analytical path), Pareto charts",
    "usage: srambench sweep [options]\n"
    "\n"
    "Evaluates every combination of the axes below on the analytical path of the SRAM\n"
    "simulator (no images: closed-form counts x per-event costs), asynchronously on the\n"
    "libuv thread pool; every point is scheduled for its own hardware, so its figures\n"
    "equal a single run's. Writes sweep.csv, sweep.md, sweep.html and Pareto charts\n"
    "(latency vs energy; accuracy vs energy when accuracies are known) into the output\n"
    "folder. Designs that do not fit the SRAM are listed as infeasible with the reason.\n"
    "\n"
    "options:\n"
    "  --config BENCH.TOML      take the axes from its [sweep] table (models default to\n"
    "                           its [[model]] tables of plugin sbm); the options below\n"
    "                           override each axis (docs/bench-toml.md)\n"
    "  --preset FILE            base hardware (default backends/sram/sram256.toml)\n"
    "  --model M                a [[model]] of the bench.toml (--config, else ./bench.toml),\n"
    "                           or a .sbm file (a value with '/' or ending in .sbm);\n"
    "                           repeat for several (default every plugins/models/*/*.sbm)\n"
    "  --capacity LIST          SRAM bytes, e.g. 256,1k,64k (default 256 B ... 512 kB, x2)\n"
    "  --word-bits LIST         default 8,16,32,64\n"
    "  --ports LIST             default 1,2\n"
    "  --regfile-bytes LIST     register-file bytes, 1..1024 (default the preset's)\n"
    "  --macs LIST              MACs per cycle, default 1,2,4,...,64\n"
    "  --clock-mhz LIST         default 25,50,100,145\n"
    "  --extmem FILE|DIR        a part: TOML with [flash] and/or [psram] tables, sourced\n"
    "                           as in the presets (the other memory stays the preset's);\n"
    "                           a folder adds each *.toml in it, e.g. the catalogue\n"
    "                           backends/sram/extmem (repeat; default the preset's own)\n"
    "  --latency-budget-ms X    mark designs within this latency per inference\n"
    "  --energy-budget-mj Y     mark designs within this energy per inference\n"
    "  --accuracy-from DIR      measured accuracy per model from a stored run\n"
    "  --output-dir DIR         default results/<YYYYmmdd-HHMMSS>-sweep, with --config\n"
    "                           <output>/<YYYYmmdd-HHMMSS>-<name>-sweep\n"
    "  --workers N              threads (default: online CPUs)\n"
    "  --no-charts              do not call gnuplot\n"
    "  -q, --quiet              do not print the markdown\n"
    "\n"
    "exit codes: 0 ok, 2 usage, 3 bad preset or model, 4 not written\n",
    sweep_main};
