/* cmd_resume.c - `srambench resume <run folder>`: complete an interrupted run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_cmd.h"
#include "sb_config.h"
#include "sb_resume.h"
#include "sb_runner.h"

static int resume_main(int argc, char **argv) {
    sb_run_opts opts = {0};
    sb_config cfg;
    sb_error err = {0};
    const char *dir = NULL, *config = NULL;
    char *recorded = NULL;
    long workers = 0;
    int i, rc, in_process = 0, k;
    for (i = 1; i < argc; i++) {
        if ((k = sb_cmd_bench_option("resume", argc, argv, &i, &opts, &workers, &in_process)) < 0)
            return SB_EXIT_USAGE;
        else if (k) continue;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "srambench resume: unknown option '%s' (see srambench resume --help)\n", argv[i]);
            return SB_EXIT_USAGE;
        } else if (!dir) dir = argv[i];
        else {
            fprintf(stderr, "srambench resume: one results folder expected, got '%s' too\n", argv[i]);
            return SB_EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "srambench resume: missing <results folder> (see srambench resume --help)\n");
        return SB_EXIT_USAGE;
    }
    if (!config && !(config = recorded = sb_resume_config_file(dir, &err))) {
        fprintf(stderr, "srambench: %s\n", err.msg);
        return SB_EXIT_CONFIG;
    }
    if (sb_config_load(config, &cfg, &err) < 0) {
        fprintf(stderr, "srambench: %s%s\n", err.msg,
                recorded ? " (the bench.toml recorded in results.json; another one can be given with --config)" : "");
        free(recorded);
        return SB_EXIT_CONFIG;
    }
    if (workers) cfg.workers = (int)workers;
    rc = sb_cmd_bench(&cfg, &opts, dir, in_process);
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
    "come from one process). The bench.toml must be the one the run started with:\n"
    "a differing key is named and nothing runs. Results, table and report are\n"
    "rewritten in the same folder; results.json lists each resume in resumed_utc.\n"
    "\n"
    "options:\n"
    "  --config FILE     the bench.toml, if not where results.json says it was\n"
    "  --workers N       worker threads (overrides [run] workers)\n"
    "  --no-charts       do not call gnuplot (scripts are still written)\n"
    "  --in-process      no child process (for debuggers); a crashing plugin ends the run\n"
    "  -q, --quiet       no progress line and no table on the terminal\n"
    "  -h, --help        this text\n"
    "\n"
    "exit codes: as srambench run: 0 ok, 1 some job failed, 2 usage, 3 bad config\n"
    "            or another config than the run's, 4 results not written, 130 interrupted\n",
    resume_main};
