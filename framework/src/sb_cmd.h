/*
 * sb_cmd.h - the srambench commands.
 *
 * A command is one file, framework/src/cmd_<name>.c, defining an sb_command;
 * it is registered by one line in the table of commands.c (and one source
 * line in framework/meson.build). main() only dispatches.
 */
#ifndef SB_CMD_H
#define SB_CMD_H

#include <stdio.h>

#include "sb_runner.h"

/* Exit codes (docs/errors.md). */
enum {
    SB_EXIT_OK = 0,          /* everything ran (unavailable backends are fine) */
    SB_EXIT_JOBS_FAILED = 1, /* the run finished but some job failed          */
    SB_EXIT_USAGE = 2,       /* bad command line                              */
    SB_EXIT_CONFIG = 3,      /* bad bench.toml, plugin missing or refused     */
    SB_EXIT_IO = 4,          /* results could not be written                  */
    SB_EXIT_INTERRUPTED = 130 /* SIGINT/SIGTERM: finished jobs are written    */
};

typedef struct sb_command {
    const char *name;
    const char *summary;            /* one line for `srambench --help`   */
    const char *usage;              /* full text for `<cmd> --help`      */
    int (*main)(int argc, char **argv); /* argv[0] is the command name   */
} sb_command;

extern const sb_command *const sb_commands[];

struct sb_config;
/* run and resume (cmd_run.c): the bench in a supervised child process
 * (sb_isolate.h) unless in_process; returns the exit code. */
int sb_cmd_bench(const struct sb_config *cfg, const struct sb_run_opts *opts, const char *resume_dir, int in_process);
/* The command line of run and resume: -q, --no-charts, --in-process,
 * --workers N, one option with a value (value_opt) and one argument. */
typedef struct sb_bench_args {
    const char *arg_what, *value_opt; /* in: "<bench.toml>", "--output-dir" */
    const char *flag_opt;             /* in: one option without a value, or NULL */
    const char *arg, *value;          /* out                               */
    int flag;                         /* out: flag_opt was given           */
    sb_run_opts opts;
    int workers;
    int in_process;
} sb_bench_args;
/* Their shared lines of --help. */
#define SB_BENCH_OPTIONS_HELP \
    "  --workers N       worker threads (overrides [run] workers)\n" \
    "  --no-charts       do not call gnuplot (scripts are still written)\n" \
    "  --in-process      no child process (for debuggers); a crashing plugin ends the run\n" \
    "  -q, --quiet       no progress line and no table on the terminal\n" \
    "  -h, --help        this text\n"
/* 0, or the exit code after saying what is wrong. */
int sb_cmd_bench_args(const char *cmd, int argc, char **argv, sb_bench_args *a);

/* `--workers s` of command cmd: 0 with *out set, or -1 after saying what is
 * wrong (an integer 1..1024, as [run] workers). */
int sb_cmd_parse_workers(const char *cmd, const char *s, int *out);

/* `opt path` of command cmd, a folder the user named (--reference DIR): 0,
 * or SB_EXIT_CONFIG after saying that it is missing, not a folder or not
 * readable, and what was `expected`. */
int sb_cmd_check_folder(const char *cmd, const char *opt, const char *path, const char *expected);
#define SB_REFERENCE_EXPECTED "a folder of recorded GPU runs (*.json, as results/reference/)"

/* 1 if argv holds -h or --help. */
int sb_cmd_wants_help(int argc, char **argv);
int sb_cmd_print_help(const sb_command *c, FILE *out);

#endif /* SB_CMD_H */
