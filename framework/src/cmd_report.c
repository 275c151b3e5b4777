/* cmd_report.c - `srambench report <results-dir>`: every view of a stored run. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sb_cmd.h"
#include "sb_lock.h"
#include "sb_report.h"

static int parse_views(const char *s) {
    int v = 0;
    if (strstr(s, "all")) v |= SB_VIEW_ALL;
    if (strstr(s, "compare")) v |= SB_VIEW_COMPARE;
    if (strstr(s, "batch")) v |= SB_VIEW_BATCH;
    if (strstr(s, "flow")) v |= SB_VIEW_FLOW;
    if (strstr(s, "infer")) v |= SB_VIEW_INFER;
    return v;
}

/* Name characters a results folder can hold whatever --model/--backend say. */
static void stem_add(char *stem, size_t cap, const char *part) {
    size_t n = strlen(stem);
    if (n + 1 < cap) stem[n++] = '-';
    for (; *part && n + 1 < cap; part++) {
        int ok = isalnum((unsigned char)*part) || *part == '.' || *part == '_';
        stem[n++] = ok ? *part : '_';
    }
    stem[n] = 0;
}

/* The full report is "report"; a partial one is named after what it shows
 * ("report-flow-tiny-sram1k") so that it never replaces the run's full report. */
static void report_stem(const sb_view_opts *o, int force, char *stem, size_t cap) {
    static const char *const names[] = {"compare", "batch", "flow", "infer"};
    int full = o->views == SB_VIEW_DEFAULT && !o->model && !o->backend;
    snprintf(stem, cap, "report");
    if (full || force) return;
    for (int k = 0; k < 4; k++)
        if (o->views & (1 << k)) stem_add(stem, cap, names[k]);
    if (o->model) stem_add(stem, cap, o->model);
    if (o->backend) stem_add(stem, cap, o->backend);
}

static int report_main(int argc, char **argv) {
    sb_view_opts o = {SB_VIEW_DEFAULT, NULL, NULL, 1};
    const char *dir = NULL, *ref = "results/reference";
    sb_error err = {0};
    char stem[160];
    int i, quiet = 0, ref_given = 0, force = 0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-charts") == 0) o.charts = 0;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) quiet = 1;
        else if (strcmp(argv[i], "--force") == 0) force = 1;
        else if (strcmp(argv[i], "--views") == 0 && i + 1 < argc) {
            if (!(o.views = parse_views(argv[++i]))) {
                fprintf(stderr, "srambench report: --views '%s': expected a list of compare,batch,flow,infer,all\n", argv[i]);
                return SB_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) o.model = argv[++i];
        else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) o.backend = argv[++i];
        else if (strcmp(argv[i], "--reference") == 0 && i + 1 < argc) ref = argv[++i], ref_given = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "srambench report: unknown option '%s' (see srambench report --help)\n", argv[i]);
            return SB_EXIT_USAGE;
        } else if (!dir) dir = argv[i];
        else {
            fprintf(stderr, "srambench report: one results folder expected, got '%s' too\n", argv[i]);
            return SB_EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "srambench report: missing <results-dir> (see srambench report --help)\n");
        return SB_EXIT_USAGE;
    }
    if (ref_given && !(o.views & SB_VIEW_COMPARE)) {
        fprintf(stderr, "srambench report: --reference: --views without compare show no recorded GPU runs: "
                        "expected compare in --views, or no --reference\n");
        return SB_EXIT_USAGE;
    }
    if (ref_given && (i = sb_cmd_check_folder("report", "--reference", ref, SB_REFERENCE_EXPECTED)))
        return i;
    /* a run still writing the folder would overwrite or mix the views */
    if (sb_lock_run_dir(dir, &err) < 0) {
        fprintf(stderr, "srambench report: %s\n", err.msg);
        return SB_EXIT_IO;
    }
    report_stem(&o, force, stem, sizeof stem);
    if (sb_report_write_ref(dir, stem, &o, ref, quiet ? NULL : stdout, &err) < 0) {
        fprintf(stderr, "srambench report: %s\n", err.msg);
        return err.code == SB_EIO ? SB_EXIT_IO : SB_EXIT_CONFIG;
    }
    if (!quiet) fprintf(stderr, "srambench report: wrote %s/%s.md and %s/%s.html\n", dir, stem, dir, stem);
    return SB_EXIT_OK;
}

const sb_command sb_cmd_report = {
    "report", "render the views of a stored run (tables, charts, one HTML file)",
    "usage: srambench report [options] <results-dir>\n"
    "\n"
    "Reads <results-dir>/results.json (docs/results-schema.md) and writes report.md and\n"
    "report.html (self-contained: charts embedded, no network, no script) beside it, with\n"
    "gnuplot charts as .gp/.dat/.png/.svg. Nothing is re-run: every view of a stored run can\n"
    "be regenerated. docs/views.md describes the views. A partial report (other --views,\n"
    "--model, --backend) is written beside the full one, named after what it shows\n"
    "(report-flow-tiny-sram1k.md/.html), unless --force.\n"
    "\n"
    "options:\n"
    "  --views LIST      compare,batch,flow,infer or all (default compare,batch,flow)\n"
    "  --model M         flow: only model M\n"
    "  --backend B       flow: only backend B\n"
    "  --reference DIR   recorded GPU runs to show in compare (default results/reference)\n"
    "  --force           write a partial report as report.md/.html, over the full one\n"
    "  --no-charts       do not call gnuplot (scripts are still written)\n"
    "  -q, --quiet       do not print the markdown\n"
    "  -h, --help        this text\n"
    "\n"
    "exit codes: 0 ok, 2 usage, 3 not a results folder or a damaged results.json,\n"
    "            4 report not written\n",
    report_main};
