/*
 * sb_report_flow.c - the flow view (layer by layer, from the backend's
 * report in results.json), the infer view, and rendering a stored run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb_charts.h"
#include "sb_report.h"
#include "sb_file.h"
#include "sb_util.h"

#define J(o, k) cJSON_GetObjectItemCaseSensitive((o), (k))

static char *shape(const cJSON *a) {
    sb_buf b = {0};
    const cJSON *x;
    if (!cJSON_IsArray(a)) return strdup("-");
    cJSON_ArrayForEach(x, a) sb_buf_printf(&b, "%s%.0f", x == a->child ? "" : "x", x->valuedouble);
    return b.s ? b.s : strdup("-");
}

static double cls_sum(const cJSON *counts, const char *field, const char *const *cls) {
    double s = 0;
    for (; *cls; cls++) s += sb_json_num(J(counts, *cls), field);
    return s;
}

static char *tile_text(const cJSON *t) {
    if (!t) return strdup("-");
    if (J(t, "rows"))
        return sb_strdupf("%.0fx%.0f px x %.0f ch%s%s", sb_json_num(t, "rows"), sb_json_num(t, "cols"), sb_json_num(t, "channels"),
                          cJSON_IsTrue(J(t, "double_buffered")) ? ", double-buffered" : "", "");
    return sb_strdupf("%.0f px x %.0f ch%s", sb_json_num(t, "pixels"), sb_json_num(t, "channels"),
                      cJSON_IsTrue(J(t, "double_buffered")) ? ", double-buffered" : "");
}

static const char *const all_cls[] = {"weights", "input", "output", "psum", NULL};

/* Layer table of a simulated backend (sb_sim report) or what a measured
 * backend reports (names, types, MACs) with the rest unavailable. */
static void flow_table(sb_doc *d, const cJSON *job, const cJSON *rep) {
    static const char *h[] = {"#", "layer", "type", "input", "output", "params (B)", "MACs", "tile",
                              "SRAM used (B, %)", "external read / write (B)", "SRAM reads / writes (words)",
                              "cycles (compute / port)", "time (ms)", "energy (uJ)", "critical resource"};
    const cJSON *L;
    /* a backend without per-layer counts gets the first 7 columns only */
    int sim = J(rep, "total") && J(J(rep, "layers")->child, "counts") != NULL, i = 0, ncols = sim ? 15 : 7;
    char *cap = sb_strdupf("Layers of %s on %s: %s", sb_json_str(job, "model", "?"), sb_json_str(job, "backend", "?"),
                           sim ? "simulated (counted events x per-event costs of the hardware in results.json)"
                               : "as the backend reports them");
    sb_table *t;
    if (!sim)
        sb_doc_para(d, "%s on %s: shapes, tiles, SRAM use, accesses, cycles, time and energy per layer are unavailable: "
                       "the %s backend reports no per-layer figure of this kind (it measures whole inferences; see the "
                       "comparison table).", sb_json_str(job, "model", "?"), sb_json_str(job, "backend", "?"), sb_json_str(job, "backend_plugin", "?"));
    t = sb_doc_table(d, cap, ncols, h);
    free(cap);
    cJSON_ArrayForEach(L, J(rep, "layers")) {
        char *r[15];
        const cJSON *c = J(L, "counts");
        int k;
        r[0] = sb_strdupf("%d", i++);
        r[1] = strdup(sb_json_str(L, "name", "?"));
        r[2] = strdup(sb_json_str(L, "kind", sb_json_str(L, "type", "?")));
        r[3] = shape(J(L, "input_shape"));
        r[4] = shape(J(L, "output_shape"));
        r[5] = !isnan(sb_json_num(L, "param_bytes")) ? sb_strdupf("%.0f", sb_json_num(L, "param_bytes"))
               : !isnan(sb_json_num(L, "weight_bytes")) ? sb_strdupf("%.0f", sb_json_num(L, "weight_bytes")) : strdup("-");
        r[6] = !isnan(sb_json_num(c, "macs")) ? sb_strdupf("%.0f", sb_json_num(c, "macs"))
               : !isnan(sb_json_num(L, "macs")) ? sb_strdupf("%.0f", sb_json_num(L, "macs")) : strdup("-");
        if (sim && c) {
            r[7] = tile_text(J(L, "tile"));
            r[8] = sb_strdupf("%.0f (%.1f%%)", sb_json_num(L, "sram_bytes"), sb_json_num(L, "sram_occupancy_pct"));
            r[9] = sb_strdupf("%.0f / %.0f", cls_sum(c, "ext_read_bytes", all_cls), cls_sum(c, "ext_write_bytes", all_cls));
            r[10] = sb_strdupf("%.0f / %.0f", cls_sum(c, "sram_read_words", all_cls), cls_sum(c, "sram_write_words", all_cls));
            r[11] = sb_strdupf("%.0f / %.0f", sb_json_num(L, "compute_cycles"), sb_json_num(L, "sram_port_cycles"));
            r[12] = sb_strdupf("%.4f (simulated)", sb_json_num(L, "latency_ns") * 1e-6);
            r[13] = sb_strdupf("%.2f (simulated)", sb_json_num(L, "energy_pj") * 1e-6);
            /* the resource that sets the layer's time (docs/sram-model.md section 6); older reports lack it */
            r[14] = strdup(sb_json_str(L, "critical_resource", "-"));
        } else {
            for (k = 7; k < 15; k++) r[k] = NULL;
            /* scheduler.fusion: its figures are its producer's */
            if (J(L, "fused_into")) r[7] = sb_strdupf("fused: in the output stage of %s", sb_json_str(L, "fused_into", "?"));
        }
        sb_table_row(t, (const char *const *)r);
        for (k = 0; k < 15; k++) free(r[k]);
    }
}

static void flow_charts(sb_doc *d, const char *dir, int render, const cJSON *job, const cJSON *rep, int idx) {
    sb_buf tdata = {0}, mdata = {0};
    const cJSON *L, *hw = J(rep, "hardware");
    double period_ns = sb_json_num(hw, "sram.period_ns"), t_ms = 0, cap = sb_json_num(hw, "sram.capacity_bytes");
    int i = 0, n;
    char stem[64], *script, *title;
    const char *const w_cls[] = {"weights", NULL}, *const a_cls[] = {"input", "output", "psum", NULL};
    sb_buf_printf(&tdata, "# layer compute_ms stall_ms sram_uj ext_uj mac_uj reg_uj leak_uj idle_uj requant_uj\n");
    sb_buf_printf(&mdata, "# t_ms flash_rd_KiB psram_rd_KiB psram_wr_KiB sram_used_B\n");
    cJSON_ArrayForEach(L, J(rep, "layers")) {
        const cJSON *c = J(L, "counts");
        double lat = sb_json_num(L, "latency_ns"), comp = sb_json_num(L, "compute_cycles") * period_ns;
        if (!c) continue;
        if (isnan(comp) || comp > lat) comp = lat;
        sb_buf_printf(&tdata, "%d %.6g %.6g %.6g %.6g %.6g %.6g %.6g %.6g %.6g\n", i, comp * 1e-6, (lat - comp) * 1e-6,
                      sb_json_num(L, "energy_sram_pj") * 1e-6, sb_json_num(L, "energy_external_pj") * 1e-6, sb_json_num(L, "energy_mac_pj") * 1e-6,
                      sb_json_num(L, "energy_regfile_pj") * 1e-6, sb_json_num(L, "energy_leakage_pj") * 1e-6,
                      sb_json_num(L, "energy_idle_clock_pj") * 1e-6, sb_json_num(L, "energy_requant_pj") * 1e-6);
        /* one step per layer: its traffic spread over its duration */
        sb_buf_printf(&mdata, "%.9g %.6g %.6g %.6g %.0f\n", t_ms, cls_sum(c, "ext_read_bytes", w_cls) / 1024.0,
                      cls_sum(c, "ext_read_bytes", a_cls) / 1024.0, cls_sum(c, "ext_write_bytes", a_cls) / 1024.0,
                      sb_json_num(L, "sram_bytes"));
        t_ms += lat * 1e-6;
        i++;
    }
    n = i;
    if (!n) {
        sb_buf_free(&tdata), sb_buf_free(&mdata);
        return;
    }
    sb_buf_printf(&mdata, "%.9g 0 0 0 0\n", t_ms);
    title = sb_strdupf("%s on %s", sb_json_str(job, "model", "?"), sb_json_str(job, "backend", "?"));
    {
        char *q = sb_gp_quote(title);
        free(title);
        title = q;
    }
    snprintf(stem, sizeof stem, "flow-time-%d", idx);
    script = sb_strdupf(SB_CHART_STYLE
                        "set title 'Time per layer, %s (simulated)'\nset xlabel 'layer index (graph order)'\n"
                        "set ylabel 'time (ms)'\nset style data histograms\nset style histogram rowstacked\n"
                        "set boxwidth 0.9\nset key outside top center horizontal\nset xtics %d\nset xrange [-1:%d]\n"
                        "plot '%s.dat' using 2 title 'compute (MAC array busy)' lc rgb '#4477aa', "
                        "'' using 3 title 'memory + DMA stall' lc rgb '#ee7733'\n",
                        title, n > 40 ? 10 : n > 15 ? 5 : 1, n, stem);
    sb_doc_chart_render(d, dir, render, stem, "Time per layer, stacked: compute and memory/DMA stall", tdata.s, script, 1300, 520);
    free(script);
    snprintf(stem, sizeof stem, "flow-energy-%d", idx);
    script = sb_strdupf(SB_CHART_STYLE
                        "set title 'Energy per layer, %s (simulated)'\nset xlabel 'layer index (graph order)'\n"
                        "set ylabel 'energy (uJ)'\nset style data histograms\nset style histogram rowstacked\n"
                        "set boxwidth 0.9\nset key outside top center horizontal\nset xtics %d\nset xrange [-1:%d]\n"
                        "plot '%s.dat' using 4 title 'SRAM accesses' lc rgb '#4477aa', '' using 5 title 'external memory' lc rgb '#cc6677', "
                        "'' using 6 title 'MACs' lc rgb '#228833', '' using 7 title 'register file' lc rgb '#ccbb44', "
                        "'' using 8 title 'leakage' lc rgb '#66ccee', '' using 9 title 'idle clock' lc rgb '#aa3377', "
                        "'' using 10 title 'requantisation' lc rgb '#999933'\n",
                        title, n > 40 ? 10 : n > 15 ? 5 : 1, n, stem);
    sb_doc_chart_render(d, dir, render, stem, "Energy per layer, stacked by where it is spent", tdata.s, script, 1300, 520);
    free(script);
    snprintf(stem, sizeof stem, "flow-timeline-%d", idx);
    script = sb_strdupf(SB_CHART_STYLE
                        "set multiplot layout 2,1 title 'Memory-access timeline, %s (simulated; one step per layer)'\n"
                        "set xlabel 'time since the start of the inference (ms)'\nset ylabel 'traffic in the layer (KiB)'\n"
                        "set logscale y\nset key outside right\nset lmargin at screen 0.08\nset rmargin at screen 0.76\n"
                        "plot '%s.dat' using 1:($2 > 0 ? $2 : 1/0) with steps lw 2 title 'flash read (weights)', "
                        "'' using 1:($3 > 0 ? $3 : 1/0) with steps lw 2 title 'PSRAM read (activations)', "
                        "'' using 1:($4 > 0 ? $4 : 1/0) with steps lw 2 title 'PSRAM write (activations)'\n"
                        "unset logscale y\nset ylabel 'SRAM used (B)'\nset yrange [0:%.0f]\n"
                        "plot '%s.dat' using 1:5 with steps lw 2 lc rgb '#228833' title 'SRAM occupied by tiles', "
                        "%.0f with lines dt 2 lc rgb '#999999' title 'capacity (%.0f B)'\n"
                        "unset multiplot\n",
                        title, stem, cap * 1.1, stem, cap, cap);
    sb_doc_chart_render(d, dir, render, stem, "Memory-access timeline: external traffic and SRAM occupancy per layer", mdata.s, script, 1300, 760);
    free(script), free(title);
    sb_buf_free(&tdata), sb_buf_free(&mdata);
}

void sb_view_flow(const cJSON *res, sb_doc *d, const char *dir, int charts, const char *model, const char *backend) {
    const cJSON *j;
    int idx = 0;
    sb_doc_heading(d, "Flow: layer by layer");
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        const cJSON *rep = J(j, "backend_report"), *tot;
        if (model && strcmp(sb_json_str(j, "model", ""), model)) continue;
        if (backend && strcmp(sb_json_str(j, "backend", ""), backend)) continue;
        if (!cJSON_IsArray(J(rep, "layers"))) {
            sb_doc_para(d, "%s on %s: unavailable: the backend's report has no layer list (status %s%s%s)", sb_json_str(j, "model", "?"),
                        sb_json_str(j, "backend", "?"), sb_json_str(j, "status", "?"), sb_json_str(j, "error", NULL) ? ": " : "", sb_json_str(j, "error", ""));
            continue;
        }
        flow_table(d, j, rep);
        if ((tot = J(rep, "total")))
            sb_doc_para(d, "Total (simulated): %.4g ms = compute %.4g ms + memory %.4g ms + DMA %.4g ms; %.4g mJ "
                           "(SRAM %.4g, external %.4g, MAC %.4g, requantisation %.4g, register file %.4g, leakage %.4g, idle clock %.4g mJ); "
                           "peak SRAM use %.0f B of %.0f B.",
                        sb_json_num(tot, "latency_ns") * 1e-6, sb_json_num(tot, "latency_compute_ns") * 1e-6, sb_json_num(tot, "latency_memory_ns") * 1e-6,
                        sb_json_num(tot, "latency_dma_ns") * 1e-6, sb_json_num(tot, "energy_pj") * 1e-9, sb_json_num(tot, "energy_sram_pj") * 1e-9,
                        sb_json_num(tot, "energy_external_pj") * 1e-9, sb_json_num(tot, "energy_mac_pj") * 1e-9,
                        sb_json_num(tot, "energy_requant_pj") * 1e-9, sb_json_num(tot, "energy_regfile_pj") * 1e-9,
                        sb_json_num(tot, "energy_leakage_pj") * 1e-9, sb_json_num(tot, "energy_idle_clock_pj") * 1e-9,
                        sb_json_num(tot, "sram_peak_bytes"), sb_json_num(J(rep, "hardware"), "sram.capacity_bytes"));
        if (J(rep, "total")) flow_charts(d, dir, charts, j, rep, idx++);
    }
}

/* ------------------------------------------------------------ infer */

/* The name of class c of the first dataset; "?" when it has none (no
 * datasets, or an index that is not a number: sb_report_check refuses
 * those, this only keeps the view from reading past them). */
static const char *class_name(const cJSON *res, int c) {
    const cJSON *x;
    cJSON_ArrayForEach(x, J(cJSON_GetArrayItem(J(res, "datasets"), 0), "classes")) if (sb_json_num(x, "index") == c) return sb_json_str(x, "name", "?");
    return "?";
}

/* A class index read from results.json, -1 when it is not one. */
static int class_index(const cJSON *o, const char *key) {
    double v = sb_json_num(o, key);
    return v >= 0 && v <= 1e9 ? (int)v : -1;
}

void sb_view_infer(const cJSON *res, sb_doc *d) {
    static const char *h[] = {"backend", "prediction", "top 3", "latency", "memory", "compute", "DMA", "power", "energy"};
    const cJSON *j;
    sb_table *t;
    sb_doc_heading(d, "Inference of single images");
    if (cJSON_IsArray(J(res, "preprocessing"))) {
        const cJSON *st;
        int n = 1;
        sb_doc_para(d, "Image: %s. Preprocessing, step by step:", sb_json_str(res, "image", "?"));
        cJSON_ArrayForEach(st, J(res, "preprocessing")) sb_doc_para(d, "%d. %s", n++, cJSON_IsString(st) ? st->valuestring : "?");
    } else {
        sb_doc_para(d, "Preprocessing (docs/dataset-cache.md): JPEG decoded by libjpeg (ISLOW, fancy upsampling) to 8-bit RGB; "
                       "squashed to the model's input size by area averaging (integer, round half up); int8 input q = pixel - 128.");
    }
    t = sb_doc_table(d, "Prediction and cost per backend", 9, h);
    cJSON_ArrayForEach(j, J(res, "jobs")) {
        const cJSON *s;
        cJSON_ArrayForEach(s, J(j, "samples")) {
            char *r[9];
            const cJSON *bm = J(j, "backend_metrics"), *p;
            sb_buf top = {0};
            int k;
            cJSON_ArrayForEach(p, J(s, "top3"))
                sb_buf_printf(&top, "%s%s %.1f%%", p == J(s, "top3")->child ? "" : ", ", class_name(res, class_index(p, "class")), 100 * sb_json_num(p, "p"));
            r[0] = sb_strdupf("%s / %s (image %s)", sb_json_str(j, "backend", "?"), sb_json_str(j, "model", "?"), sb_json_str(s, "id", "?"));
            r[1] = sb_strdupf("%s, confidence %.1f%% (label: %s)", class_name(res, class_index(s, "pred")), 100 * sb_json_num(s, "confidence"),
                              sb_json_num(s, "label") >= 0 ? class_name(res, class_index(s, "label")) : "none, a file outside the dataset");
            r[2] = top.s ? top.s : strdup("-");
            r[3] = sb_fig_cell(t, J(bm, "latency_ns"), 1e-6, "%.4g", "ms");
            {
                static const char *const parts[3] = {"latency_memory_ns", "latency_compute_ns", "latency_dma_ns"};
                for (k = 0; k < 3; k++)
                    r[4 + k] = J(bm, parts[k]) ? sb_fig_cell(t, J(bm, parts[k]), 1e-6, "%.4g", "ms")
                                               : sb_strdupf("unavailable: the %s backend does not split its latency",
                                                            sb_json_str(j, "backend_plugin", "?"));
            }
            r[7] = sb_fig_cell(t, J(J(j, "metrics"), "power_mw_avg"), 1, "%.4g", "mW");
            r[8] = sb_fig_cell(t, J(bm, "energy_pj"), 1e-9, "%.4g", "mJ");
            sb_table_row(t, (const char *const *)r);
            for (k = 0; k < 9; k++) free(r[k]);
        }
        if (!cJSON_GetArraySize(J(j, "samples"))) {
            char *r[9];
            int k;
            r[0] = sb_strdupf("%s / %s", sb_json_str(j, "backend", "?"), sb_json_str(j, "model", "?"));
            r[1] = sb_strdupf("unavailable: %s", sb_json_str(j, "error", sb_json_str(j, "status", "no image ran")));
            for (k = 2; k < 9; k++) r[k] = sb_strdupf("unavailable: %s, see the prediction column", sb_json_str(j, "status", "not run"));
            sb_table_row(t, (const char *const *)r);
            for (k = 0; k < 9; k++) free(r[k]);
        }
    }
}

/* ------------------------------------------------------------- files */

int sb_report_load(const char *dir, cJSON **res, sb_error *err) {
    char *path = sb_strdupf("%s/results.json", dir), *text = NULL;
    FILE *f = NULL;
    long n = -1;
    /* a directory fails only at the read, and that is no I/O error; a FIFO
     * or a device would block it for ever */
    int rc = path ? sb_fopen_regular(path, "the results.json file of a run", &f, err) : SB_ENOMEM;
    *res = NULL;
    if (rc == SB_EINVAL) {
        free(path);
        return SB_EFORMAT;
    }
    if (rc < 0) {
        sb_error_set(err, SB_ENOENT, "%s: cannot open: expected the results folder of a run (with results.json)", path ? path : dir);
        free(path);
        return SB_ENOENT;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
        fread(text, 1, (size_t)n, f) == (size_t)n)
        text[n] = 0;
    else free(text), text = NULL;
    fclose(f);
    if (!text) {
        sb_error_set(err, SB_EIO, "%s: read failed", path);
        free(path);
        return SB_EIO;
    }
    *res = cJSON_Parse(text);
    if (!*res || !cJSON_IsArray(J(*res, "jobs"))) {
        const char *at = cJSON_GetErrorPtr();
        char what[64] = "no \"jobs\" array";
        if (!*res) snprintf(what, sizeof what, "invalid JSON at byte %ld", at ? (long)(at - text) : 0L);
        sb_error_set(err, SB_EFORMAT, "%s: %s: expected results.json (docs/results-schema.md) with a \"jobs\" array",
                     path, what);
        cJSON_Delete(*res);
        *res = NULL;
        free(text), free(path);
        return SB_EFORMAT;
    }
    free(text), free(path);
    return 0;
}

int sb_report_write_ref(const char *dir, const char *stem, const sb_view_opts *o, const char *ref_dir, FILE *out,
                        sb_error *err) {
    cJSON *res;
    sb_doc *d;
    char *md, *html, *p;
    char *path;
    int rc = sb_report_load(dir, &res, err);
    if (rc < 0) return rc;
    path = sb_strdupf("%s/results.json", dir);
    rc = path ? sb_report_check(res, path, err) : sb_error_set(err, SB_ENOMEM, "out of memory");
    free(path);
    if (rc < 0) {
        cJSON_Delete(res);
        return rc;
    }
    d = sb_doc_new(sb_json_str(res, "name", "srambench run"));
    sb_doc_para(d, "Run %s started %s, srambench %s, results.json schema %.0f%s.", sb_json_str(res, "name", "?"),
                sb_json_str(res, "started_utc", "?"), sb_json_str(res, "srambench_version", "?"), sb_json_num(res, "schema_version"),
                cJSON_IsTrue(J(res, "complete")) ? "" : " (INCOMPLETE: the run did not reach its end)");
    if (J(J(res, "environment"), "cores")) /* infer's environment has only the host's state */
        sb_doc_para(d, "Host: %s, %.0f online CPUs, %s, built with %s.", sb_json_str(J(res, "environment"), "cpu_model", "unknown CPU"),
                    sb_json_num(J(res, "environment"), "cores"), sb_json_str(J(res, "environment"), "os", "unknown OS"),
                    sb_json_str(J(res, "environment"), "compiler", "unknown compiler"));
    if (o->views & SB_VIEW_INFER) sb_view_infer(res, d);
    if (o->views & SB_VIEW_COMPARE) sb_view_compare_ref(res, d, dir, o->charts, ref_dir);
    if (o->views & SB_VIEW_BATCH) sb_view_batch(res, d, dir, o->charts);
    if (o->views & SB_VIEW_FLOW) sb_view_flow(res, d, dir, o->charts, o->model, o->backend);
    md = sb_doc_markdown(d);
    html = sb_doc_html(d, dir);
    if (!md || !html) rc = sb_error_set(err, SB_ENOMEM, "out of memory rendering the report of %s", dir);
    if (!rc && (p = sb_strdupf("%s/%s.md", dir, stem))) rc = sb_write_atomic(p, md, strlen(md), err), free(p);
    if (!rc && (p = sb_strdupf("%s/%s.html", dir, stem))) rc = sb_write_atomic(p, html, strlen(html), err), free(p);
    if (!rc && out) fputs(md, out);
    free(md), free(html);
    sb_doc_free(d);
    cJSON_Delete(res);
    return rc;
}

int sb_report_write(const char *dir, const char *stem, const sb_view_opts *o, FILE *out, sb_error *err) {
    return sb_report_write_ref(dir, stem, o, NULL, out, err);
}
