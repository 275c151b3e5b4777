/* cmd_run.c - `srambench run <bench.toml>`: run every job of a bench.toml. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb_cmd.h"
#include "sb_config.h"
#include "sb_report.h"
#include "sb_isolate.h"
#include "sb_lock.h"
#include "sb_resume.h"
#include "sb_runner.h"
#include "sb_util.h"

/* Every run ends with its report (compare, batch and flow views, one HTML
 * file), rendered from the results.json just written, exactly as
 * `srambench report <dir>` would. A report that cannot be written is said,
 * but the results stay: they are what the run produced. */
static void write_report(const sb_config *cfg, const sb_run_opts *opts, const char *out_dir) {
    sb_view_opts v = {SB_VIEW_COMPARE | SB_VIEW_BATCH | SB_VIEW_FLOW, NULL, NULL, !opts->no_charts};
    sb_error err = {0};
    char *ref = sb_strdupf("%s/results/reference", cfg->dir);
    if (ref && sb_report_write_ref(out_dir, "report", &v, ref, NULL, &err) < 0)
        fprintf(stderr, "srambench: warning: report not written: %s\n", err.msg);
    else if (ref && !opts->quiet)
        fprintf(stderr, "srambench: report: %s/report.html\n", out_dir);
    free(ref);
}

typedef struct bench_args {
    const sb_config *cfg;
    const sb_run_opts *opts;
} bench_args;

/* One process's work: run (or resume) and write the report. */
static int bench_in_process(void *ud, const char *resume_dir) {
    const bench_args *a = ud;
    sb_run_opts o = *a->opts;
    sb_run_summary sum;
    sb_error err = {0};
    int rc;
    o.resume_dir = resume_dir;
    /* a user's resume runs the killed jobs again (and the failed ones when
     * asked); a child going on after a crash keeps them (sb_isolate.h) */
    o.resume_rerun = sb_isolate_continuing() ? 0
                     : SB_RESUME_RERUN_KILLED | (o.retry_failed ? SB_RESUME_RERUN_FAILED : 0);
    rc = sb_run_bench(a->cfg, &o, &sum, &err);
    if (rc >= 0 && !sum.interrupted) write_report(a->cfg, &o, sum.out_dir);
    if (rc < 0) {
        fprintf(stderr, "srambench: %s\n", err.msg);
        return rc == SB_EIO ? SB_EXIT_IO : SB_EXIT_CONFIG;
    }
    if (sum.interrupted) return SB_EXIT_INTERRUPTED;
    return sum.n_failed ? SB_EXIT_JOBS_FAILED : SB_EXIT_OK;
}

/* A results folder that is there already is locked here, before any child:
 * the children share the lock (sb_lock.h), so no other run can take the
 * folder between a crashed child and the next. One still to be made is
 * locked by the child that makes it. 0, or the exit code. */
static int lock_known_dir(const char *out_dir, const char *resume_dir) {
    struct stat st;
    sb_error err = {0};
    int rc = 0;
    if (resume_dir) rc = sb_lock_run_dir(resume_dir, &err);
    else if (out_dir && stat(out_dir, &st) == 0 && S_ISDIR(st.st_mode)) rc = sb_lock_dir(out_dir, &err);
    if (rc == 0) return 0;
    fprintf(stderr, "srambench: %s\n", err.msg);
    return rc == SB_EIO ? SB_EXIT_IO : SB_EXIT_CONFIG;
}

int sb_cmd_bench(const sb_config *cfg, const sb_run_opts *opts, const char *resume_dir, int in_process) {
    bench_args a = {cfg, opts};
    int rc;
    /* libuv sizes its pool on first use: set it before anything else. */
    sb_runner_set_workers(cfg->workers);
    if ((rc = lock_known_dir(opts->out_dir, resume_dir)) != 0) return rc;
    if (in_process) return bench_in_process(&a, resume_dir);
    return sb_isolate_run(cfg, bench_in_process, &a, resume_dir);
}

int sb_cmd_bench_args(const char *cmd, int argc, char **argv, sb_bench_args *a) {
    int i;
    for (i = 1; i < argc; i++) {
        const char *x = argv[i];
        if (strcmp(x, "--quiet") == 0 || strcmp(x, "-q") == 0) a->opts.quiet = 1;
        else if (strcmp(x, "--no-charts") == 0) a->opts.no_charts = 1;
        else if (strcmp(x, "--in-process") == 0) a->in_process = 1;
        else if (a->flag_opt && strcmp(x, a->flag_opt) == 0) a->flag = 1;
        else if (strcmp(x, "--workers") == 0 && i + 1 < argc) {
            if (sb_cmd_parse_workers(cmd, argv[++i], &a->workers) < 0) return SB_EXIT_USAGE;
        } else if (a->value_opt && strcmp(x, a->value_opt) == 0 && i + 1 < argc) a->value = argv[++i];
        else if (x[0] == '-' && x[1]) {
            fprintf(stderr, "srambench %s: unknown option '%s' (see srambench %s --help)\n", cmd, x, cmd);
            return SB_EXIT_USAGE;
        } else if (!a->arg) a->arg = x;
        else {
            fprintf(stderr, "srambench %s: one %s expected, got '%s' too\n", cmd, a->arg_what, x);
            return SB_EXIT_USAGE;
        }
    }
    if (!a->arg) {
        fprintf(stderr, "srambench %s: missing %s (see srambench %s --help)\n", cmd, a->arg_what, cmd);
        return SB_EXIT_USAGE;
    }
    return 0;
}

static int run_main(int argc, char **argv) {
    sb_bench_args a = {.arg_what = "<bench.toml>", .value_opt = "--output-dir"};
    sb_config cfg;
    sb_error err = {0};
    int rc;
    if ((rc = sb_cmd_bench_args("run", argc, argv, &a)) != 0) return rc;
    if (a.value && !a.value[0]) {
        fprintf(stderr, "srambench run: --output-dir '': expected a folder name\n");
        return SB_EXIT_USAGE;
    }
    a.opts.out_dir = a.value;
    if (sb_config_load(a.arg, &cfg, &err) < 0) {
        fprintf(stderr, "srambench: %s\n", err.msg);
        return SB_EXIT_CONFIG;
    }
    if (a.workers) cfg.workers = a.workers;
    rc = sb_cmd_bench(&cfg, &a.opts, NULL, a.in_process);
    sb_config_free(&cfg);
    return rc;
}

const sb_command sb_cmd_run = {
    "run", "run every dataset x model x backend job of a bench.toml",
    "usage: srambench run [options] <bench.toml>\n"
    "\n"
    "Runs the cross product of the [dataset]s, [[model]]s and [[backend]]s of a\n"
    "bench.toml (docs/bench-toml.md) and writes results/<YYYYmmdd-HHMMSS>-<name>/:\n"
    "results.json (docs/results-schema.md), results.csv, table.md, and report.md +\n"
    "report.html with their gnuplot charts (the views of `srambench report`, docs/views.md).\n"
    "Results are rewritten as jobs finish (at most once a second, and on Ctrl-C), so\n"
    "an interrupted run keeps what finished and `srambench resume <dir>` completes\n"
    "it. Ctrl-C once: finish the images in flight, write, exit 130. Twice: write\n"
    "the finished jobs, exit at once.\n"
    "The jobs run in a child process: a plugin that crashes fails its job (the error\n"
    "names the plugin and the signal) and the run goes on in a new child.\n"
    "One run writes a results folder at a time: another run, resume or view command\n"
    "on the same folder is refused (exit 4), naming the holder (the folder's .lock).\n"
    "\n"
    "options:\n"
    "  --output-dir DIR  write the results exactly into DIR\n"
    SB_BENCH_OPTIONS_HELP
    "\n"
    "exit codes: 0 ok, 1 some job failed, 2 usage, 3 bad config or plugin,\n"
    "            4 results not written, 130 interrupted\n",
    run_main};
