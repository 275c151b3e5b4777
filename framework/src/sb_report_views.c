/*
 * sb_report_views.c - the compare, batch and flow views of a stored run
 * (docs/views.md), read from results.json (docs/results-schema.md).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_charts.h"
#include "sb_file.h"
#include "sb_metrics.h"
#include "sb_report.h"
#include "sb_util.h"

#define J(o, k) cJSON_GetObjectItemCaseSensitive((o), (k))

static const cJSON *metric(const cJSON *job, const char *name) { return J(J(job, "metrics"), name); }

/* The class names of the run's first dataset (k of them), or NULL. */
static int class_names(const cJSON *res, const char *dataset, const char **names, int max) {
    const cJSON *ds, *c;
    int k = 0;
    cJSON_ArrayForEach(ds, J(res, "datasets")) {
        if (dataset && strcmp(sb_json_str(ds, "name", ""), dataset) != 0) continue;
        cJSON_ArrayForEach(c, J(ds, "classes")) {
            double x = sb_json_num(c, "index"); /* NaN when absent: no int */
            int i = x >= 0 && x < max ? (int)x : -1;
            if (i >= 0) names[i] = sb_json_str(c, "name", "?"), k = i + 1 > k ? i + 1 : k;
        }
        break;
    }
    return k;
}

/* ---------------------------------------------------------- compare */

static const cJSON *baseline_job(const cJSON *res, const cJSON *like) {
    const cJSON *j;
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        if (strcmp(sb_json_str(j, "dataset", ""), sb_json_str(like, "dataset", "")) || strcmp(sb_json_str(j, "model", ""), sb_json_str(like, "model", "")))
            continue;
        if (strcmp(sb_json_str(j, "backend_plugin", ""), "cpu") == 0) return j;
    }
    return NULL;
}

static char *speedup_cell(sb_table *t, const cJSON *job, const cJSON *base) {
    const cJSON *a = base ? metric(base, "latency_ms_median") : NULL, *b = metric(job, "latency_ms_median");
    double va = sb_fig_value(a), vb = sb_fig_value(b);
    char *note;
    const char *mark;
    if (!base) return strdup("unavailable: no cpu backend in this run to compare with");
    if (isnan(va)) return sb_strdupf("unavailable: cpu latency: %s", sb_fig_note(a) ? sb_fig_note(a) : "null");
    if (isnan(vb) || vb <= 0) return sb_strdupf("unavailable: latency: %s", sb_fig_note(b) ? sb_fig_note(b) : "null");
    note = sb_strdupf("speedup = median latency on %s (%s) / median latency of this backend", sb_json_str(base, "backend", ""),
                      sb_fig_prov(a));
    mark = sb_table_note(t, note);
    free(note);
    return sb_strdupf("%.3gx (%s / %s [%s])", va / vb, sb_fig_prov(b), sb_fig_prov(a), mark);
}

static char *efficiency_cell(sb_table *t, const cJSON *job) {
    const cJSON *e = metric(job, "energy_mj_per_image");
    double v = sb_fig_value(e);
    const char *mark;
    if (isnan(v) || v <= 0) return sb_strdupf("unavailable: energy: %s", sb_fig_note(e) ? sb_fig_note(e) : "null");
    mark = sb_table_note(t, sb_fig_note(e) ? sb_fig_note(e) : "energy per image");
    return sb_strdupf("%.4g inferences/J (%s [%s])", 1e3 / v, sb_fig_prov(e), mark);
}

/* Recorded GPU runs (the JSON files of results/reference/) of the same model, shown
 * apart and only as "recorded on <gpu>, <date>". */
static void recorded_rows(sb_table *t, const char *ref_dir, const char *model);

static void compare_group(const cJSON *res, sb_doc *d, const cJSON *first, const char *ref_dir) {
    static const char *head[] = {"backend", "status", "latency / image (median)", "power (avg)", "energy / image",
                                 "speedup vs cpu", "energy efficiency", "accuracy", "throughput"};
    const char *ds = sb_json_str(first, "dataset", ""), *model = sb_json_str(first, "model", "");
    char *cap = sb_strdupf("dataset %s, model %s", ds, model);
    sb_table *t = sb_doc_table(d, cap, 9, head);
    const cJSON *j, *base = baseline_job(res, first);
    free(cap);
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        char *c[9];
        int i;
        if (strcmp(sb_json_str(j, "dataset", ""), ds) || strcmp(sb_json_str(j, "model", ""), model)) continue;
        c[0] = sb_strdupf("%s (%s)", sb_json_str(j, "backend", "?"), sb_json_str(j, "backend_plugin", "?"));
        c[1] = strcmp(sb_json_str(j, "status", ""), "ok") == 0 ? sb_strdupf("ok, %.0f images", sb_json_num(j, "n_images"))
                                                        : sb_strdupf("%s: %s", sb_json_str(j, "status", "?"), sb_json_str(j, "error", "no reason"));
        c[2] = sb_fig_cell(t, metric(j, "latency_ms_median"), 1, "%.4g", "ms");
        c[3] = sb_fig_cell(t, metric(j, "power_mw_avg"), 1, "%.4g", "mW");
        c[4] = sb_fig_cell(t, metric(j, "energy_mj_per_image"), 1, "%.4g", "mJ");
        c[5] = speedup_cell(t, j, base);
        c[6] = efficiency_cell(t, j);
        c[7] = sb_fig_cell(t, metric(j, "accuracy"), 100, "%.1f", "%");
        c[8] = sb_fig_cell(t, metric(j, "throughput_ips"), 1, "%.4g", "images/s");
        sb_table_row(t, (const char *const *)c);
        for (i = 0; i < 9; i++) free(c[i]);
    }
    if (ref_dir) recorded_rows(t, ref_dir, model);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* <dir>/<name>.json of the folder, sorted (dates sort), as the shell's glob
 * would give them; read without a shell, so any folder name works. */
static size_t list_json(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    size_t n = 0;
    *out = NULL;
    if (!d) return 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        char **bigger;
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
        if (!(bigger = realloc(v, (n + 1) * sizeof *v))) break;
        v = bigger;
        if ((v[n] = sb_strdupf("%s/%s", dir, e->d_name))) n++;
    }
    closedir(d);
    if (n) qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void recorded_rows(sb_table *t, const char *ref_dir, const char *model) {
    char **paths;
    size_t n_paths = list_json(ref_dir, &paths), k;
    for (k = 0; k < n_paths; k++) {
        const char *line = paths[k];
        cJSON *r, *run, *best = NULL;
        FILE *f;
        char *text = NULL;
        long n;
        sb_error e;
        /* a FIFO named *.json would block the read for ever */
        if (sb_fopen_regular(line, "a JSON file", &f, &e) < 0) continue;
        if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
            fread(text, 1, (size_t)n, f) == (size_t)n)
            text[n] = 0;
        else free(text), text = NULL;
        fclose(f);
        r = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (!r) continue;
        if (strcmp(sb_json_str(r, "format", ""), "srambench-recorded-gpu") || sb_json_num(r, "format_version") != 1 ||
            strcmp(sb_json_str(r, "model_name", ""), model)) {
            cJSON_Delete(r);
            continue;
        }
        cJSON_ArrayForEach(run, J(r, "srambench_gpu_int8")) if (sb_json_num(run, "batch") == 1) best = run;
        if (best) {
            char date[11] = {0}, *c[9], *label;
            double lat_ms = sb_json_num(best, "latency_per_image_ns") * 1e-6, e_mj = sb_json_num(best, "energy_per_image_mj");
            double p_mw = sb_json_num(best, "mean_power_mw"), ips = sb_json_num(best, "throughput_img_per_s");
            const char *mark;
            int i;
            snprintf(date, sizeof date, "%.10s", sb_json_str(r, "date", "unknown"));
            label = sb_strdupf("recorded on %s, %s: %s (bench/gpu_check.sh, batch 1)", sb_json_str(r, "gpu", "?"), date, line);
            mark = sb_table_note(t, label);
            free(label);
#define REC(v, fmt) (isnan(v) ? strdup("unavailable: not in the recorded file") : sb_strdupf(fmt " (recorded [%s])", v, mark))
            c[0] = sb_strdupf("gpu (recorded on %s, %s)", sb_json_str(r, "gpu", "?"), date);
            c[1] = strdup("recorded");
            c[2] = REC(lat_ms, "%.4g ms");
            c[3] = REC(p_mw, "%.4g mW");
            c[4] = REC(e_mj, "%.4g mJ");
            c[5] = strdup("unavailable: recorded on another machine; a ratio to this host's cpu would mix machines");
            c[6] = isnan(e_mj) || e_mj <= 0 ? strdup("unavailable: no recorded energy") : sb_strdupf("%.4g inferences/J (recorded [%s])", 1e3 / e_mj, mark);
            c[7] = strdup("unavailable: accuracy is not recorded (GPU logits are bit-identical to the cpu's: see the cpu row)");
            c[8] = REC(ips, "%.4g images/s");
#undef REC
            sb_table_row(t, (const char *const *)c);
            for (i = 0; i < 9; i++) free(c[i]);
        }
        cJSON_Delete(r);
    }
    for (k = 0; k < n_paths; k++) free(paths[k]);
    free(paths);
}

/* Latency and energy per backend as log-scale bars (they span decades). */
static void compare_chart(const cJSON *res, sb_doc *d, const char *dir, int render, const cJSON *first, int idx) {
    sb_buf data = {0};
    const cJSON *j;
    int n = 0;
    char stem[64], *script, *title;
    double lmin = INFINITY, lmax = 0, emin = INFINITY, emax = 0;
    sb_buf_printf(&data, "# backend\tlatency_ms\tenergy_mj\n");
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        double l = sb_fig_value(metric(j, "latency_ms_median")), e = sb_fig_value(metric(j, "energy_mj_per_image"));
        char *lbl;
        if (strcmp(sb_json_str(j, "dataset", ""), sb_json_str(first, "dataset", "")) || strcmp(sb_json_str(j, "model", ""), sb_json_str(first, "model", "")))
            continue;
        if (isnan(l) && isnan(e)) continue;
        if (!isnan(l)) lmin = fmin(lmin, l), lmax = fmax(lmax, l);
        if (!isnan(e)) emin = fmin(emin, e), emax = fmax(emax, e);
        lbl = sb_gp_quote(sb_json_str(j, "backend", "?"));
        sb_buf_printf(&data, "\"%s\"\t", lbl);
        if (isnan(l)) sb_buf_printf(&data, "NaN\t");
        else sb_buf_printf(&data, "%.9g\t", l);
        if (isnan(e)) sb_buf_printf(&data, "NaN\t");
        else sb_buf_printf(&data, "%.9g\t", e);
        /* flags: the labels' rows must not read a NaN column */
        sb_buf_printf(&data, "%d\t%d\n", isnan(l), isnan(e));
        free(lbl);
        n++;
    }
    if (!n) {
        sb_buf_free(&data);
        return;
    }
    snprintf(stem, sizeof stem, "compare-%d", idx);
    title = sb_gp_quote(sb_json_str(first, "model", ""));
    /* log axes a decade beyond the data; an unavailable bar is written
     * "unavailable" at the bottom rather than left blank */
    if (isinf(lmin)) lmin = lmax = 1;
    if (isinf(emin)) emin = emax = 1;
    lmin = pow(10, floor(log10(lmin)) - 1), lmax = pow(10, ceil(log10(lmax)) + 0.3);
    emin = pow(10, floor(log10(emin)) - 1), emax = pow(10, ceil(log10(emax)) + 0.3);
    script = sb_strdupf(SB_CHART_STYLE
                        "set multiplot layout 1,2 title 'Backends compared, model %s (log scale)'\n"
                        "set style data histograms\nset style histogram clustered gap 1\nset boxwidth 0.8\n"
                        "set logscale y\nset format y '10^{%%T}'\nset xtics rotate by -30\nset key off\n"
                        "set rmargin 6\n"
                        "set title 'Latency per image (provenance per backend: see the table)'\nset ylabel 'latency per image (ms)'\nset xlabel 'backend'\n"
                        "set yrange [%g:%g]\n"
                        "plot '%s.dat' using 2:xtic(1) lc rgb '#4477aa', "
                        "'' using 0:($4 > 0 ? %g : 1/0):('unavailable') with labels rotate by 90 left notitle\n"
                        "set title 'Energy per image'\nset ylabel 'energy per image (mJ)'\nset yrange [%g:%g]\n"
                        "plot '%s.dat' using 3:xtic(1) lc rgb '#cc6677', "
                        "'' using 0:($5 > 0 ? %g : 1/0):('unavailable') with labels rotate by 90 left notitle\n"
                        "unset multiplot\n",
                        title, lmin, lmax, stem, lmin * 1.5, emin, emax, stem, emin * 1.5);
    sb_doc_chart_render(d, dir, render, stem, "Latency and energy per image per backend (log scale)", data.s, script, 1200, 560);
    free(script), free(title);
    sb_buf_free(&data);
}

void sb_view_compare_ref(const cJSON *res, sb_doc *d, const char *dir, int charts, const char *ref_dir) {
    const cJSON *j, *k;
    int idx = 0;
    sb_doc_heading(d, "Comparison: latency, power, energy, speedup, efficiency, accuracy");
    sb_doc_para(d, "Each cell says whether the figure was measured on this host, simulated (counted events x "
                   "per-event costs, sources in results.json) or recorded elsewhere; the letter points to its source. "
                   "Unavailable figures give the reason instead of a number.");
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        int seen = 0;
        /* one table per (dataset, model), in the order they first appear */
        cJSON_ArrayForEach(k, J(res, "jobs")) {
            if (k == j) break;
            if (!strcmp(sb_json_str(k, "dataset", ""), sb_json_str(j, "dataset", "")) && !strcmp(sb_json_str(k, "model", ""), sb_json_str(j, "model", "")))
                seen = 1;
        }
        if (seen) continue;
        compare_group(res, d, j, ref_dir);
        compare_chart(res, d, dir, charts, j, idx++);
    }
}

void sb_view_compare(const cJSON *res, sb_doc *d, const char *dir, int charts) {
    sb_view_compare_ref(res, d, dir, charts, NULL);
}

/* ------------------------------------------------------------ batch */

#define SB_MAX_CLASSES 64

typedef struct cls_data {
    int k;
    size_t n;
    int *label, *pred, *correct;
    double *conf;
    double *probs;     /* n x k, NULL unless every sample has "probs" */
} cls_data;

static void cls_free(cls_data *c) {
    free(c->label), free(c->pred), free(c->correct), free(c->conf), free(c->probs);
}

/* A sample's class field, -1 (outside every class: not counted) when it
 * is not a number an int holds. */
static int class_of(const cJSON *s, const char *key) {
    double v = sb_json_num(s, key);
    return v >= 0 && v <= 1e9 ? (int)v : -1;
}

static int cls_load(const cJSON *job, int k, cls_data *c) {
    const cJSON *s, *samples = J(job, "samples");
    size_t n = (size_t)cJSON_GetArraySize(samples), i = 0;
    memset(c, 0, sizeof *c);
    c->k = k;
    c->label = calloc(n + 1, sizeof *c->label), c->pred = calloc(n + 1, sizeof *c->pred);
    c->correct = calloc(n + 1, sizeof *c->correct), c->conf = calloc(n + 1, sizeof *c->conf);
    c->probs = calloc((n + 1) * (size_t)k, sizeof *c->probs);
    if (!c->label || !c->pred || !c->correct || !c->conf || !c->probs) return -1;
    cJSON_ArrayForEach(s, samples) {
        const cJSON *p = J(s, "probs");
        /* sb_report_check made these integers and a probability; a view
         * called on an unchecked file still converts no NaN to int */
        c->label[i] = class_of(s, "label");
        c->pred[i] = class_of(s, "pred");
        c->conf[i] = sb_json_num(s, "confidence");
        c->correct[i] = c->label[i] == c->pred[i];
        if (c->probs && cJSON_GetArraySize(p) == k) {
            int m;
            for (m = 0; m < k; m++) c->probs[i * (size_t)k + (size_t)m] = cJSON_GetArrayItem(p, m)->valuedouble;
        } else {
            free(c->probs);
            c->probs = NULL;
        }
        i++;
    }
    c->n = i;
    return 0;
}

static char *bar(double frac, int width) {
    char *s = malloc((size_t)width * 3 + 1);
    int i, full = isnan(frac) ? 0 : (int)lround(frac * width);
    size_t o = 0;
    if (!s) return NULL;
    for (i = 0; i < width; i++) {
        /* U+2588 full block, U+00B7 middle dot */
        const char *g = i < full ? "\xe2\x96\x88" : "\xc2\xb7";
        size_t l = strlen(g);
        memcpy(s + o, g, l), o += l;
    }
    s[o] = 0;
    return s;
}

static char *pct_or_undef(double v, const char *why) {
    return isnan(v) ? sb_strdupf("undefined (%s)", why) : sb_strdupf("%.1f%%", 100 * v);
}

static void batch_class_tables(sb_doc *d, const cls_data *c, const char **names, const char *prov_note) {
    static const char *h1[] = {"class", "images", "correct", "accuracy (recall)", ""};
    static const char *h3[] = {"class", "support", "predicted", "precision", "recall", "F1"};
    int64_t cm[SB_MAX_CLASSES * SB_MAX_CLASSES] = {0};
    sb_class_stats st[SB_MAX_CLASSES];
    sb_cls_summary sum;
    sb_table *t;
    const char **h2;
    int a, b, k = c->k;
    char *cells[SB_MAX_CLASSES + 1];
    sb_confusion(c->label, c->pred, c->n, k, cm);
    sb_class_stats_from_cm(cm, k, st, &sum);
    t = sb_doc_table(d, "Per-class accuracy (measured: this run's predictions)", 5, h1);
    for (a = 0; a < k; a++) {
        char *r[5];
        r[0] = strdup(names[a] ? names[a] : "?");
        r[1] = sb_strdupf("%lld", (long long)st[a].support);
        r[2] = sb_strdupf("%lld", (long long)cm[a * k + a]);
        r[3] = pct_or_undef(st[a].recall, "no image of this class");
        r[4] = bar(st[a].recall, 20);
        sb_table_row(t, (const char *const *)r);
        for (b = 0; b < 5; b++) free(r[b]);
    }
    h2 = calloc((size_t)k + 1, sizeof *h2);
    h2[0] = "true \\ predicted";
    for (a = 0; a < k; a++) h2[a + 1] = names[a] ? names[a] : "?";
    t = sb_doc_table(d, "Confusion matrix: count (% of the true class's row)", k + 1, h2);
    free(h2);
    for (a = 0; a < k; a++) {
        cells[0] = strdup(names[a] ? names[a] : "?");
        for (b = 0; b < k; b++)
            cells[b + 1] = st[a].support ? sb_strdupf("%lld (%.1f%%)", (long long)cm[a * k + b], 100.0 * (double)cm[a * k + b] / (double)st[a].support)
                                         : sb_strdupf("%lld", (long long)cm[a * k + b]);
        sb_table_row(t, (const char *const *)cells);
        for (b = 0; b <= k; b++) free(cells[b]);
    }
    t = sb_doc_table(d, "Precision, recall and F1 per class", 6, h3);
    for (a = 0; a < k; a++) {
        char *r[6];
        r[0] = strdup(names[a] ? names[a] : "?");
        r[1] = sb_strdupf("%lld", (long long)st[a].support);
        r[2] = sb_strdupf("%lld", (long long)st[a].predicted);
        r[3] = pct_or_undef(st[a].precision, "never predicted");
        r[4] = pct_or_undef(st[a].recall, "no image of this class");
        r[5] = isnan(st[a].f1) ? strdup("undefined (class neither present nor predicted)") : sb_strdupf("%.3f", st[a].f1);
        sb_table_row(t, (const char *const *)r);
        for (b = 0; b < 6; b++) free(r[b]);
    }
    (void)prov_note;
}

static void batch_summary(sb_doc *d, const cls_data *c) {
    static const char *h[] = {"figure", "value", "definition"};
    int64_t cm[SB_MAX_CLASSES * SB_MAX_CLASSES] = {0};
    sb_class_stats st[SB_MAX_CLASSES];
    sb_cls_summary sum;
    sb_table *t = sb_doc_table(d, "Summary (measured: this run's predictions)", 3, h);
    double mean_conf = 0, ece, auc = NAN;
    int used = 0;
    size_t i;
    char *r[3];
    sb_confusion(c->label, c->pred, c->n, c->k, cm);
    sb_class_stats_from_cm(cm, c->k, st, &sum);
    for (i = 0; i < c->n; i++) mean_conf += c->conf[i];
    mean_conf = c->n ? mean_conf / (double)c->n : NAN;
    ece = sb_ece(c->conf, c->correct, c->n, SB_ECE_BINS, NULL, NULL, NULL);
    if (c->probs) auc = sb_auc_macro(c->probs, c->label, c->n, c->k, &used);
#define ROW(a, b, cc) (r[0] = (a), r[1] = (b), r[2] = (cc), sb_table_row(t, (const char *const *)r), free(r[1]))
    ROW("images", sb_strdupf("%lld", (long long)sum.n), "completed images with a label");
    ROW("accuracy", pct_or_undef(sum.accuracy, "no image"), "correct / images");
    ROW("balanced accuracy", pct_or_undef(sum.balanced_accuracy, "no image"), "mean recall over the classes present");
    ROW("macro F1", isnan(sum.macro_f1) ? strdup("undefined (no image)") : sb_strdupf("%.3f", sum.macro_f1),
        "mean F1 over the classes present or predicted");
    if (!c->probs)
        ROW("macro AUC", strdup("unavailable: the samples in results.json carry no full probability vector (\"probs\"), only the top 3"),
            "one-vs-rest ROC AUC (trapezoid), mean over classes");
    else if (isnan(auc))
        ROW("macro AUC", strdup("unavailable: no class has both positive and negative images"), "one-vs-rest ROC AUC (trapezoid)");
    else
        ROW("macro AUC", sb_strdupf("%.3f (over %d classes)", auc, used), "one-vs-rest ROC AUC (trapezoid), mean over classes with positives and negatives");
    ROW("mean confidence", pct_or_undef(mean_conf, "no image"), "mean softmax probability of the predicted class");
    ROW("ECE", isnan(ece) ? strdup("undefined (no image)") : sb_strdupf("%.3f", ece),
        "expected calibration error, 15 equal-width confidence bins");
#undef ROW
}

static void batch_backends(const cJSON *res, sb_doc *d, const char *ds, const char *model) {
    static const char *h[] = {"backend", "images", "latency median", "latency p95", "throughput", "energy / image",
                              "total batch energy", "predictions vs first backend"};
    sb_table *t = sb_doc_table(d, "Latency, throughput and energy per backend", 8, h);
    const cJSON *j, *ref = NULL;
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        char *r[8];
        const cJSON *e = metric(j, "energy_mj_per_image"), *s, *q;
        double ev = sb_fig_value(e), n = sb_json_num(j, "n_images");
        int i, diff = 0, cmp = 0;
        if (strcmp(sb_json_str(j, "dataset", ""), ds) || strcmp(sb_json_str(j, "model", ""), model)) continue;
        r[0] = sb_strdupf("%s (%s)", sb_json_str(j, "backend", "?"), sb_json_str(j, "status", "?"));
        r[1] = sb_strdupf("%.0f", n);
        r[2] = sb_fig_cell(t, metric(j, "latency_ms_median"), 1, "%.4g", "ms");
        r[3] = sb_fig_cell(t, metric(j, "latency_ms_p95"), 1, "%.4g", "ms");
        r[4] = sb_fig_cell(t, metric(j, "throughput_ips"), 1, "%.4g", "images/s");
        r[5] = sb_fig_cell(t, e, 1, "%.4g", "mJ");
        r[6] = isnan(ev) ? sb_strdupf("unavailable: %s", sb_fig_note(e) ? sb_fig_note(e) : "no energy")
                         : sb_strdupf("%.4g mJ (%s: %.0f images x energy / image)", ev * n, sb_fig_prov(e), n);
        if (strcmp(sb_json_str(j, "status", ""), "ok")) r[7] = strdup("-");
        else if (!ref) ref = j, r[7] = strdup("reference");
        else {
            /* same model file -> bit-identical logits on every backend */
            for (s = cJSON_GetArrayItem(J(j, "samples"), 0), q = cJSON_GetArrayItem(J(ref, "samples"), 0); s && q;
                 s = s->next, q = q->next, cmp++)
                diff += sb_json_num(s, "pred") != sb_json_num(q, "pred") || sb_json_num(s, "index") != sb_json_num(q, "index");
            r[7] = sb_strdupf("%d of %d differ", diff, cmp);
        }
        sb_table_row(t, (const char *const *)r);
        for (i = 0; i < 8; i++) free(r[i]);
    }
}

static void batch_charts(sb_doc *d, const char *dir, int render, const cls_data *c, const char **names, int idx) {
    int64_t cm[SB_MAX_CLASSES * SB_MAX_CLASSES] = {0};
    sb_class_stats st[SB_MAX_CLASSES];
    sb_cls_summary sum;
    sb_buf data = {0}, xt = {0};
    char stem[64], *script;
    int a, b, k = c->k;
    sb_confusion(c->label, c->pred, c->n, k, cm);
    sb_class_stats_from_cm(cm, k, st, &sum);
    /* confusion heat map: row-normalised %, counts written in the cells */
    for (a = 0; a < k; a++)
        for (b = 0; b < k; b++)
            sb_buf_printf(&data, "%d %d %.4f %lld\n", b, a, st[a].support ? 100.0 * (double)cm[a * k + b] / (double)st[a].support : 0.0,
                          (long long)cm[a * k + b]);
    for (a = 0; a < k; a++) {
        char *q = sb_gp_quote(names[a] ? names[a] : "?");
        sb_buf_printf(&xt, "%s'%s' %d", a ? ", " : "", q, a);
        free(q);
    }
    snprintf(stem, sizeof stem, "confusion-%d", idx);
    script = sb_strdupf(SB_CHART_STYLE
                        "unset grid\nset title 'Confusion matrix (colour: %% of the true class; numbers: images)'\n"
                        "set xlabel 'predicted class'\nset ylabel 'true class'\nset cblabel 'share of the true class (%%)'\n"
                        "set xtics (%s)\nset ytics (%s)\nset yrange [%d.5:-0.5]\nset xrange [-0.5:%d.5]\n"
                        "set cbrange [0:100]\nset palette defined (0 '#ffffff', 50 '#6699cc', 100 '#08306b')\n"
                        "set size ratio -1\n"
                        "plot '%s.dat' using 1:2:3 with image notitle, "
                        "'' using 1:2:($3 > 55 ? sprintf('%%d', $4) : '') with labels tc rgb 'white' notitle, "
                        "'' using 1:2:($3 > 55 ? '' : sprintf('%%d', $4)) with labels tc rgb 'black' notitle\n",
                        xt.s, xt.s, k - 1, k - 1, stem);
    sb_doc_chart_render(d, dir, render, stem, "Confusion matrix heat map", data.s ? data.s : "", script, 760, 680);
    free(script);
    sb_buf_free(&data);
    /* per-class accuracy bars */
    for (a = 0; a < k; a++) {
        char *q = sb_gp_quote(names[a] ? names[a] : "?");
        sb_buf_printf(&data, "\"%s (n=%lld)\" %.4f\n", q, (long long)st[a].support, isnan(st[a].recall) ? 0.0 : 100 * st[a].recall);
        free(q);
    }
    snprintf(stem, sizeof stem, "class-accuracy-%d", idx);
    script = sb_strdupf(SB_CHART_STYLE
                        "set title 'Accuracy per class (recall)'\nset ylabel 'accuracy (%%)'\nset xlabel 'true class (images)'\n"
                        "set yrange [0:105]\nset style data histograms\nset boxwidth 0.7\nset key off\n"
                        "plot '%s.dat' using 2:xtic(1) lc rgb '#4477aa', '' using 0:($2 + 3):(sprintf('%%.0f%%%%', $2)) with labels notitle\n",
                        stem);
    sb_doc_chart_render(d, dir, render, stem, "Per-class accuracy", data.s ? data.s : "", script, 900, 480);
    free(script);
    sb_buf_free(&data);
    sb_buf_free(&xt);
}

void sb_view_batch(const cJSON *res, sb_doc *d, const char *dir, int charts) {
    const cJSON *j, *k;
    int idx = 0, listed = 0;
    sb_doc_heading(d, "Batch test: classification and cost");
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        const char *names[SB_MAX_CLASSES] = {0};
        int nk, seen = 0;
        cls_data c;
        if (strcmp(sb_json_str(j, "status", ""), "ok")) continue;
        cJSON_ArrayForEach(k, J(res, "jobs")) {
            if (k == j) break;
            if (!strcmp(sb_json_str(k, "status", ""), "ok") && !strcmp(sb_json_str(k, "dataset", ""), sb_json_str(j, "dataset", "")) &&
                !strcmp(sb_json_str(k, "model", ""), sb_json_str(j, "model", "")))
                seen = 1;
        }
        if (seen) continue;
        {
            /* The run said why there is no accuracy (a model with random
             * weights): no confusion matrix or recall either, only costs. */
            const cJSON *acc = J(J(j, "metrics"), "accuracy");
            if (acc && cJSON_IsNull(J(acc, "value")) && cJSON_IsString(J(acc, "note"))) {
                sb_doc_para(d, "Dataset %s, model %s: classification figures not shown: %s.", sb_json_str(j, "dataset", ""),
                            sb_json_str(j, "model", ""), sb_json_str(acc, "note", ""));
                batch_backends(res, d, sb_json_str(j, "dataset", ""), sb_json_str(j, "model", ""));
                listed++;
                continue;
            }
        }
        nk = class_names(res, sb_json_str(j, "dataset", NULL), names, SB_MAX_CLASSES);
        if (nk <= 0) {
            sb_doc_para(d, "Dataset %s: no class list in results.json: classification figures unavailable", sb_json_str(j, "dataset", "?"));
            continue;
        }
        if (cls_load(j, nk, &c) < 0) {
            cls_free(&c);
            continue;
        }
        sb_doc_para(d, "Dataset %s, model %s: %zu images; classification figures from backend %s (every backend runs the "
                       "same INT8 model file, so their predictions must agree: see the last column below).",
                    sb_json_str(j, "dataset", ""), sb_json_str(j, "model", ""), c.n, sb_json_str(j, "backend", ""));
        batch_summary(d, &c);
        batch_class_tables(d, &c, names, NULL);
        batch_charts(d, dir, charts, &c, names, idx++);
        batch_backends(res, d, sb_json_str(j, "dataset", ""), sb_json_str(j, "model", ""));
        listed++;
        cls_free(&c);
    }
    if (!listed) sb_doc_para(d, "No job finished: no classification figures.");
}
