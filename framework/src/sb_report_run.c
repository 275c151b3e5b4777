/*
 * sb_report_run.c - what the view commands share: load bench.toml, narrow
 * it (images, models, backends), run it with the framework's runner, then
 * render views from the results.json the run wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_cmd.h"
#include "sb_report.h"
#include "sb_report_run.h"
#include "sb_runner.h"
#include "sb_toml.h"

/* Move the instance called `name` to the front and show only it; the
 * others stay in the array (hidden by *n) so that sb_config_free frees
 * them once *n is restored. */
static int keep_only(sb_cfg_inst *v, size_t *n, const char *name, const char *what, sb_error *err) {
    size_t i;
    for (i = 0; i < *n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            sb_cfg_inst t = v[0];
            v[0] = v[i], v[i] = t;
            *n = 1;
            return 0;
        }
    }
    return sb_error_set(err, SB_ENOENT, "--%s '%s': no [[%s]] of that name in the bench.toml", what, name, what);
}

/* key = "value" into table, as if bench.toml said so; `origin` (the option
 * that gave it) stands for the file name in any later message about it. */
static int set_string(sb_toml *table, const char *key, const char *value, const char *origin, sb_error *err) {
    sb_toml *root = NULL, *kid;
    char *text = malloc(strlen(key) + strlen(value) + 16);
    int rc;
    if (!text) return SB_ENOMEM;
    snprintf(text, strlen(key) + strlen(value) + 16, "%s = \"%s\"\n", key, value);
    rc = sb_toml_parse(text, strlen(text), origin, &root, err);
    free(text);
    if (rc < 0) return rc;
    kid = sb_toml_clone(root->kids[0]);
    sb_toml_free(root);
    return kid ? sb_toml_set(table, kid) : SB_ENOMEM;
}

int sb_views_run(const sb_views_run_opts *o, char *out_dir, size_t out_len, size_t *n_failed, sb_error *err) {
    sb_config cfg;
    sb_run_opts ro = {0};
    sb_run_summary sum;
    size_t n_models, n_backends, i;
    int rc;
    *n_failed = 0;
    if ((rc = sb_config_load(o->config, &cfg, err)) < 0) return rc;
    n_models = cfg.n_models, n_backends = cfg.n_backends;
    for (i = 0; i < cfg.n_datasets; i++) {
        if (o->per_class >= 0) cfg.datasets[i].per_class = o->per_class;
        if (o->limit >= 0) cfg.datasets[i].limit = o->limit;
        if (o->no_shuffle) cfg.datasets[i].shuffle = 0;
        if (o->split && (rc = set_string(cfg.datasets[i].inst.table, "subset", o->split, "--split on the command line", err)) < 0) goto done;
    }
    if (o->model && (rc = keep_only(cfg.models, &cfg.n_models, o->model, "model", err)) < 0) goto done;
    if (o->n_backends) {
        /* several --backend: keep them in the order given */
        size_t kept = 0, j;
        for (j = 0; j < o->n_backends; j++) {
            size_t rest = n_backends - kept;
            if ((rc = keep_only(cfg.backends + kept, &rest, o->backends[j], "backend", err)) < 0) goto done;
            kept++;
        }
        cfg.n_backends = kept;
    }
    if (o->workers) cfg.workers = o->workers;
    sb_runner_set_workers(cfg.workers);
    ro.out_dir = o->out_dir;
    ro.dir_suffix = o->command;
    ro.quiet = o->quiet;
    ro.no_charts = 1; /* the views draw their own charts */
    rc = sb_run_bench(&cfg, &ro, &sum, err);
    if (rc == 0) snprintf(out_dir, out_len, "%s", sum.out_dir), *n_failed = sum.n_failed;
    if (rc == 0 && sum.interrupted) rc = sb_error_set(err, SB_ECANCELED, "interrupted: finished jobs are in %s", sum.out_dir);
done:
    cfg.n_models = n_models, cfg.n_backends = n_backends;
    sb_config_free(&cfg);
    return rc;
}

int sb_views_exit_code(int rc) {
    switch (rc) {
    case 0: return SB_EXIT_OK;
    case SB_EIO: return SB_EXIT_IO;
    case SB_ECANCELED: return SB_EXIT_INTERRUPTED;
    default: return SB_EXIT_CONFIG;
    }
}
