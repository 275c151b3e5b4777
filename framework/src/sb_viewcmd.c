/* sb_viewcmd.c - option parsing and the run-then-render of the view commands. */
#include "sb_viewcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sb_cmd.h"
#include "sb_lock.h"

int sb_viewcmd_parse(const char *cmd, int argc, char **argv, sb_viewcmd *vc,
                     int (*extra)(int argc, char **argv, int i, sb_viewcmd *vc)) {
    int i, used;
    memset(vc, 0, sizeof *vc);
    vc->run.config = "bench.toml";
    vc->run.per_class = vc->run.limit = -1;
    vc->reference = "results/reference";
    vc->charts = 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (extra && (used = extra(argc, argv, i, vc)) != 0) {
            if (used < 0) return SB_EXIT_USAGE;
            i += used - 1;
        } else if (!strcmp(a, "--config") && v) vc->run.config = v, vc->run_opt = a, i++;
        else if (!strcmp(a, "--model") && v) vc->run.model = v, vc->filter_opt = a, i++;
        else if (!strcmp(a, "--backend") && v) {
            vc->filter_opt = a;
            if (vc->run.n_backends == SB_VIEWS_MAX_BACKENDS) {
                fprintf(stderr, "srambench %s: at most %d --backend\n", cmd, SB_VIEWS_MAX_BACKENDS);
                return SB_EXIT_USAGE;
            }
            vc->run.backends[vc->run.n_backends++] = v, i++;
        } else if (!strcmp(a, "--from") && v) vc->from = v, i++;
        else if (!strcmp(a, "--reference") && v) vc->reference = v, vc->reference_given = 1, i++;
        else if (!strcmp(a, "--output-dir") && v) vc->run.out_dir = v, vc->run_opt = a, i++;
        else if (!strcmp(a, "--workers") && v) {
            vc->run_opt = a;
            if (sb_cmd_parse_workers(cmd, v, &vc->run.workers) < 0) return SB_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--no-charts")) vc->charts = 0;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) vc->run.quiet = 1;
        else {
            fprintf(stderr, "srambench %s: unexpected argument '%s'%s (see srambench %s --help)\n", cmd, a,
                    a[0] == '-' && !v ? " or its value missing" : "", cmd);
            return SB_EXIT_USAGE;
        }
    }
    return SB_EXIT_OK;
}

/* --from renders a stored run: an option that only says what to run would
 * be ignored there. Flow filters its view by --model and one --backend. */
static int from_ignores(const char *cmd, const sb_viewcmd *vc, const sb_view_opts *views) {
    const char *opt = vc->run_opt;
    if (!opt && vc->filter_opt && (!(views->views & SB_VIEW_FLOW) || vc->run.n_backends > 1))
        opt = vc->filter_opt;
    if (!opt) return 0;
    fprintf(stderr, "srambench %s: %s with --from %s: --from renders that stored run and runs nothing, so %s "
                    "would be ignored: expected one or the other\n", cmd, opt, vc->from, opt);
    return SB_EXIT_USAGE;
}

/* The datasets of a stored run as its config had them: [dataset] is one
 * table, [[dataset]] an array. */
static const cJSON *stored_dataset(const cJSON *res, int i) {
    const cJSON *d = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "config"), "dataset");
    return cJSON_IsArray(d) ? cJSON_GetArrayItem(d, i) : i == 0 ? d : NULL;
}

/* batch --split S / --per-class N with --from: the stored run must have
 * been made so (they choose images, they cannot change a stored run). */
static int selection_differs(const char *cmd, const sb_viewcmd *vc, const cJSON *res) {
    const cJSON *ds;
    int i = 0;
    cJSON_ArrayForEach(ds, cJSON_GetObjectItem(res, "datasets")) {
        const cJSON *sel = cJSON_GetObjectItem(ds, "selection");
        const char *name = sb_json_str(ds, "name", "?");
        const char *sub = sb_json_str(stored_dataset(res, i++), "subset", NULL);
        double pc = sb_json_num(sel, "per_class"), lim = sb_json_num(sel, "limit");
        if (vc->run.split && (!sub || strcmp(sub, vc->run.split))) {
            fprintf(stderr, "srambench %s: --split %s: the run in %s used %s%s%s of dataset '%s': expected the same "
                            "subset, or no --split (--from renders the stored run)\n", cmd, vc->run.split, vc->from,
                    sub ? "subset '" : "its plugin's default subset", sub ? sub : "", sub ? "'" : "", name);
            return SB_EXIT_USAGE;
        }
        if ((vc->run.per_class < 0 || pc == (double)vc->run.per_class) &&
            (vc->run.limit < 0 || lim == (double)vc->run.limit))
            continue;
        if (vc->run.split && vc->run.per_class == 0)
            fprintf(stderr, "srambench %s: --split %s: the run in %s selected per_class = %g, limit = %g of dataset "
                            "'%s', not every image of the subset: expected no --split (--from renders the stored "
                            "run)\n", cmd, vc->run.split, vc->from, pc, lim, name);
        else
            fprintf(stderr, "srambench %s: --per-class %ld: the run in %s was made with per_class = %g (dataset "
                            "'%s'): expected the same, or no --per-class (--from renders the stored run)\n",
                    cmd, vc->run.per_class, vc->from, pc, name);
        return SB_EXIT_USAGE;
    }
    return 0;
}

static int from_conflicts(const char *cmd, const sb_viewcmd *vc, const sb_view_opts *views) {
    cJSON *res = NULL;
    sb_error err = {0};
    int rc = from_ignores(cmd, vc, views);
    if (rc || !vc->selection_given) return rc;
    /* an unreadable results.json is reported by the rendering, as without
     * these options */
    if (sb_report_load(vc->from, &res, &err) < 0) return 0;
    rc = selection_differs(cmd, vc, res);
    cJSON_Delete(res);
    return rc;
}

int sb_viewcmd_exec(const char *cmd, sb_viewcmd *vc, const char *stem, const sb_view_opts *views) {
    char dir[4096];
    sb_view_opts o = *views;
    sb_error err = {0};
    size_t n_failed = 0;
    int rc;
    /* before any job runs: a mistyped folder would silently show no rows */
    if (vc->reference_given && !(views->views & SB_VIEW_COMPARE)) {
        fprintf(stderr, "srambench %s: --reference: its views show no recorded GPU runs (compare and batch "
                        "do): expected no --reference\n", cmd);
        return SB_EXIT_USAGE;
    }
    if (vc->reference_given && (rc = sb_cmd_check_folder(cmd, "--reference", vc->reference, SB_REFERENCE_EXPECTED)))
        return rc;
    if (vc->from && (rc = from_conflicts(cmd, vc, views))) return rc;
    if (vc->from && sb_lock_run_dir(vc->from, &err) < 0) { /* a run still writing it */
        fprintf(stderr, "srambench %s: %s\n", cmd, err.msg);
        return SB_EXIT_IO;
    }
    vc->run.command = cmd;
    if (vc->from) snprintf(dir, sizeof dir, "%s", vc->from);
    else if ((rc = sb_views_run(&vc->run, dir, sizeof dir, &n_failed, &err)) < 0) {
        fprintf(stderr, "srambench %s: %s\n", cmd, err.msg);
        return sb_views_exit_code(rc);
    }
    o.charts = vc->charts;
    if (!o.model) o.model = vc->run.model;
    if (!o.backend && vc->run.n_backends == 1) o.backend = vc->run.backends[0];
    if ((rc = sb_report_write_ref(dir, stem, &o, vc->reference, vc->run.quiet ? NULL : stdout, &err)) < 0) {
        fprintf(stderr, "srambench %s: %s\n", cmd, err.msg);
        return rc == SB_EIO ? SB_EXIT_IO : SB_EXIT_CONFIG;
    }
    fprintf(stderr, "srambench %s: wrote %s/%s.md and %s/%s.html\n", cmd, dir, stem, dir, stem);
    /* the views of a run with failed jobs are written (they say why), but
     * the run did not do what was asked: exit 1, as `run` does. A stored
     * run (--from) is only rendered: nothing ran, nothing failed now. */
    if (n_failed) {
        fprintf(stderr, "srambench %s: %zu job%s failed (see %s/results.json)\n", cmd, n_failed, n_failed == 1 ? "" : "s", dir);
        return SB_EXIT_JOBS_FAILED;
    }
    return SB_EXIT_OK;
}
