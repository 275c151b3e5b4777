/* cmd_resume.c - `srambench resume <run folder>`: complete an interrupted run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_cmd.h"
#include "sb_config.h"
#include "sb_resume.h"
#include "sb_runner.h"

static int resume_main(int argc, char **argv) {
    sb_bench_args a = {.arg_what = "<results folder>", .value_opt = "--config", .flag_opt = "--retry-failed"};
    sb_config cfg;
    sb_error err = {0};
    const char *config;
    char *recorded = NULL;
    int rc;
    if ((rc = sb_cmd_bench_args("resume", argc, argv, &a)) != 0) return rc;
    if (!(config = a.value) && !(config = recorded = sb_resume_config_file(a.arg, &err))) {
        fprintf(stderr, "srambench: %s\n", err.msg);
        return SB_EXIT_CONFIG;
    }
    if (sb_config_load(config, &cfg, &err) < 0) {
        fprintf(stderr, "srambench: %s%s\n", err.msg,
                recorded ? " (the bench.toml recorded in results.json; another one can be given with --config)" : "");
        free(recorded);
        return SB_EXIT_CONFIG;
    }
    if (a.workers) cfg.workers = (int)a.workers;
    a.opts.retry_failed = a.flag;
    rc = sb_cmd_bench(&cfg, &a.opts, a.arg, a.in_process);
    sb_config_free(&cfg);
    free(recorded);
    return rc;
}

const sb_command sb_cmd_resume = {
    "resume", "complete an interrupted run in its own results folder",
    "usage: srambench resume [options] <results folder>\n"
    "\n"
    "Completes a run that was interrupted (Ctrl-C, SIGTERM, a crash): jobs that\n"
    "ended (ok, failed, unavailable) are kept exactly as results.json has them; the\n"
    "others run, a job that was cut part-way from its first image (its timings must\n"
    "come from one process), and so do jobs `killed` (their process got SIGKILL: the\n"
    "OOM killer, kill -9). The bench.toml must be the one the run started with:\n"
    "a differing key is named and nothing runs. Results, table and report are\n"
    "rewritten in the same folder; results.json lists each resume in resumed_utc.\n"
    "\n"
    "options:\n"
    "  --config FILE     the bench.toml, if not where results.json says it was\n"
    "  --retry-failed    also run the failed jobs again (a plugin that crashed, an\n"
    "                    error), from their first image\n"
    SB_BENCH_OPTIONS_HELP
    "\n"
    "exit codes: as srambench run: 0 ok, 1 some job failed, 2 usage, 3 bad config\n"
    "            or another config than the run's, 4 results not written, 130 interrupted\n",
    resume_main};
