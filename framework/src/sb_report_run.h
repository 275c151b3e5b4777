/* sb_report_run.h - running a narrowed bench.toml for the view commands. */
#ifndef SB_REPORT_RUN_H
#define SB_REPORT_RUN_H

#include <stddef.h>

#include "sb_plugin.h"

#define SB_VIEWS_MAX_BACKENDS 16

typedef struct sb_views_run_opts {
    const char *config;      /* bench.toml                                   */
    const char *out_dir;     /* NULL: <output>/<stamp>-<name>-<command>      */
    const char *command;     /* names the folder: batch, compare, flow       */
    long per_class, limit;   /* -1: as in bench.toml                         */
    int no_shuffle;
    const char *split;       /* dataset subset to open, NULL: as configured  */
    const char *model;       /* only this [[model]], NULL: all               */
    const char *backends[SB_VIEWS_MAX_BACKENDS]; /* only these [[backend]]s  */
    size_t n_backends;
    int workers, quiet;
} sb_views_run_opts;

/* Run; out_dir receives the results folder and *n_failed how many jobs
 * failed (the run still finished: its views are rendered, the command then
 * exits 1 as `run` does). */
int sb_views_run(const sb_views_run_opts *o, char *out_dir, size_t out_len, size_t *n_failed, sb_error *err);
/* The exit code (sb_cmd.h) of an SB_E* code. */
int sb_views_exit_code(int rc);

#endif /* SB_REPORT_RUN_H */
