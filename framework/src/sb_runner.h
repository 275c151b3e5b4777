/*
 * sb_runner.h - running a bench.toml under libuv.
 *
 * Jobs run one after another; the images of a job run in chunks on the uv
 * thread pool (UV_THREADPOOL_SIZE = [run] workers). The loop thread collects
 * results, prints progress from a uv_timer and handles SIGINT/SIGTERM.
 * Results are rewritten (atomically) after every job.
 */
#ifndef SB_RUNNER_H
#define SB_RUNNER_H

#include "sb_config.h"
#include "sb_run.h"

typedef struct sb_runner sb_runner;

typedef struct sb_run_opts {
    const char *out_dir;   /* write exactly here instead of <output>/<stamp>-<name> */
    const char *dir_suffix; /* the view command: <output>/<stamp>-<name>-<suffix> */
    const char *resume_dir; /* complete the run in this folder (sb_resume.h) */
    unsigned resume_rerun; /* which ended jobs it runs again: SB_RESUME_RERUN_* */
    int retry_failed;      /* `resume --retry-failed` (cmd_resume.c)          */
    int quiet;             /* no progress line, no table on the terminal */
    int no_charts;         /* the report after the run: no gnuplot (cmd_run.c) */
    /* Called on the loop thread after each job's results are written. */
    void (*on_job_done)(sb_runner *r, size_t job_index, void *ud);
    void *ud;
} sb_run_opts;

typedef struct sb_run_summary {
    char out_dir[4096];
    size_t n_ok, n_failed, n_unavailable, n_cancelled;
    int interrupted;
} sb_run_summary;

/* Run everything. Returns 0 when the run went through (jobs may still have
 * failed: see the summary), < 0 for errors before any job ran (plugin not
 * found, bad option) or when results could not be written. */
int sb_run_bench(const sb_config *cfg, const sb_run_opts *opts, sb_run_summary *sum, sb_error *err);

/* What the first SIGINT/SIGTERM does: no new work, finish what is in flight,
 * write everything finished. Loop thread only. */
void sb_runner_stop(sb_runner *r);

/* The run being executed (for the on_job_done hook). */
sb_run *sb_runner_run(sb_runner *r);

/* Where to tell a supervising process what is under way (sb_isolate.h):
 * lines "dir PATH", "job K PHASE" and "exit". -1: nobody listens. */
void sb_runner_set_progress_fd(int fd);

/* Before any job, sb_run_bench opens each dataset and loads each model to
 * check that their classes match (exit 3 when not). 0 turns that off: the
 * supervisor does, for the next child, when a plugin crashed there, so that
 * the crash is the failed job it would have been (sb_isolate.c). */
void sb_runner_set_class_check(int on);
void sb_runner_event(const char *fmt, ...);

/* What every command needs of a model plugin's graph, whatever the
 * dataset: an int8 [1,S,S,3] input and int8 logits with a positive finite
 * scale (the softmax dequantises with it). Names `model` and the field. */
int sb_runner_check_graph(const sb_graph *g, const char *model, sb_error *err);

/* What the softmax multiplies (q - zero_point) of a logit by: the output
 * scale divided by the graph's temperature (0 meaning 1). A positive factor,
 * so the argmax is that of the int8 logits. */
double sb_runner_logit_scale(const sb_graph *g);

/* The host services handed to plugins. */
const sb_host *sb_runner_host(void);

/* Set UV_THREADPOOL_SIZE; must happen before the first libuv call of the
 * process, which is why main() calls it as soon as the config is read. */
void sb_runner_set_workers(int workers);

#endif /* SB_RUNNER_H */
