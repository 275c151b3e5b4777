/*
 * sb_report.h - the views of a finished run (docs/views.md).
 *
 * results.json is the interface: every view reads a stored run, so any view
 * can be regenerated later (`srambench report <results-dir>`). A view fills
 * an sb_doc (headings, paragraphs, tables, charts); the doc is rendered as
 * markdown (report.md, also printed) and as one self-contained HTML file
 * (report.html: PNGs as data URIs, SVGs inline, no network, no script).
 *
 * Every figure cell carries its provenance (measured / simulated /
 * recorded) and a note letter for its source; a figure that is unavailable
 * says why and shows no number.
 */
#ifndef SB_REPORT_H
#define SB_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "sb_plugin.h"

#define SB_HAM10000_ATTRIBUTION                                                                   \
    "HAM10000: Tschandl P., Rosendahl C., Kittler H., The HAM10000 dataset, a large collection of " \
    "multi-source dermatoscopic images of common pigmented skin lesions, Scientific Data 5, 180161 " \
    "(2018), doi:10.1038/sdata.2018.161; licence CC BY-NC-SA 4.0 (non-commercial use)."

/* --------------------------------------------------------------- doc */

typedef struct sb_table sb_table;
typedef struct sb_doc sb_doc;

sb_doc *sb_doc_new(const char *title);
void sb_doc_free(sb_doc *d);
void sb_doc_heading(sb_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_doc_para(sb_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A chart rendered (by sb_charts) as <dir>/<stem>.png and .svg. */
void sb_doc_chart(sb_doc *d, const char *stem, const char *caption);
/* Write <dir>/<stem>.gp and its data, render them when `render` (sb_charts.h)
 * and add the chart; one that cannot be rendered leaves a paragraph saying
 * why. */
void sb_doc_chart_render(sb_doc *d, const char *dir, int render, const char *stem, const char *caption,
                         const char *data, const char *script, int width_px, int height_px);
/* A table with ncols columns; head holds ncols strings. */
sb_table *sb_doc_table(sb_doc *d, const char *caption, int ncols, const char *const *head);
/* Append a row: ncols strings (copied; NULL prints as empty). */
void sb_table_row(sb_table *t, const char *const *cells);
/* A note under the table; identical texts share one letter, which is
 * returned ("a", "b", ... "aa"); the string lives as long as the table. */
const char *sb_table_note(sb_table *t, const char *text);

/* Renderers; malloc'd text. The HTML embeds <dir>/<stem>.png (base64) and
 * <dir>/<stem>.svg (inline) for each chart; a missing file is shown as
 * "chart not rendered" with the reason. */
char *sb_doc_markdown(const sb_doc *d);
char *sb_doc_html(const sb_doc *d, const char *dir);

/* ------------------------------------------------------------ figures */

/* A figure object {"value","provenance","unit","note"} as a table cell:
 * "<value> <unit> (<provenance> [note])", or "unavailable: <why>".
 * `scale` multiplies the value, `unit` (may be NULL: the figure's) and
 * `fmt` (printf for a double) format it. malloc'd. */
char *sb_fig_cell(sb_table *t, const cJSON *fig, double scale, const char *fmt, const char *unit);
/* results.json fields: a string (dflt when absent or not a string), a
 * number (NaN when absent or not a number). */
const char *sb_json_str(const cJSON *o, const char *key, const char *dflt);
double sb_json_num(const cJSON *o, const char *key);
/* The value of a figure, or NaN when null/absent. */
double sb_fig_value(const cJSON *fig);
const char *sb_fig_prov(const cJSON *fig);
const char *sb_fig_note(const cJSON *fig);

/* ------------------------------------------------------------- views */

enum { SB_VIEW_COMPARE = 1, SB_VIEW_BATCH = 2, SB_VIEW_FLOW = 4, SB_VIEW_INFER = 8, SB_VIEW_ALL = 15,
       SB_VIEW_DEFAULT = SB_VIEW_COMPARE | SB_VIEW_BATCH | SB_VIEW_FLOW };

typedef struct sb_view_opts {
    int views;            /* SB_VIEW_* mask                              */
    const char *model;    /* flow/infer: only this model (NULL: all)     */
    const char *backend;  /* flow: only this backend (NULL: all)         */
    int charts;           /* render gnuplot charts                       */
} sb_view_opts;

void sb_view_compare(const cJSON *res, sb_doc *d, const char *dir, int charts);
void sb_view_batch(const cJSON *res, sb_doc *d, const char *dir, int charts);
void sb_view_flow(const cJSON *res, sb_doc *d, const char *dir, int charts, const char *model,
                  const char *backend);
void sb_view_infer(const cJSON *res, sb_doc *d);
/* compare, with the recorded GPU runs of `ref_dir` (results/reference/;
 * NULL: none) as rows of their own. */
void sb_view_compare_ref(const cJSON *res, sb_doc *d, const char *dir, int charts, const char *ref_dir);

/* Load <dir>/results.json (errors name the file and the offset). */
int sb_report_load(const char *dir, cJSON **res, sb_error *err);
/* 0 if the views can read `res` (the results.json at `path`), else
 * SB_EFORMAT with the field that is missing or malformed and what was
 * expected: datasets[].classes, every job's samples (label, pred,
 * confidence, probs, top3). sb_report_write checks before rendering. */
int sb_report_check(const cJSON *res, const char *path, sb_error *err);
/* Render the chosen views of the run in `dir` into <dir>/<stem>.md and
 * <dir>/<stem>.html (charts beside them); `out` (may be NULL) gets the
 * markdown. */
int sb_report_write(const char *dir, const char *stem, const sb_view_opts *o, FILE *out, sb_error *err);

int sb_report_write_ref(const char *dir, const char *stem, const sb_view_opts *o, const char *ref_dir, FILE *out,
                        sb_error *err);

#endif /* SB_REPORT_H */
