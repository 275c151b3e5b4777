/*
 * main.c - srambench's entry point: dispatches to the commands of
 * commands.c. Exit codes are listed in sb_cmd.h and docs/errors.md.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sb_cmd.h"
#include "sb_lock.h"
#include "sb_plugin.h"

static void usage(FILE *out) {
    const sb_command *const *c;
    fprintf(out,
            "usage: srambench <command> [options]\n"
            "\n"
            "Benchmarks INT8 networks on simulated on-chip SRAM, a CPU and a GPU, with real images.\n"
            "\n"
            "commands:\n");
    for (c = sb_commands; *c; c++) fprintf(out, "  %-10s %s\n", (*c)->name, (*c)->summary);
    fprintf(out,
            "\n"
            "`srambench <command> --help` explains a command.\n"
            "\n"
            "exit codes:\n"
            "  0    success (unavailable backends are reported, not failures)\n"
            "  1    the run finished but at least one job failed\n"
            "  2    bad command line\n"
            "  3    bad bench.toml, or a plugin missing or refused\n"
            "  4    results could not be written\n"
            "  130  interrupted (SIGINT/SIGTERM); finished jobs are written\n"
            "\n"
            "environment: SRAMBENCH_PLUGIN_PATH (colon-separated plugin folders),\n"
            "             SRAMBENCH_CACHE_DIR (image cache), SRAMBENCH_DEBUG (debug log).\n"
            "plugin ABI %d.%d\n",
            SB_ABI_MAJOR, SB_ABI_MINOR);
}

int main(int argc, char **argv) {
    const sb_command *const *c;
    /* A write past RLIMIT_FSIZE (ulimit -f) is then EFBIG, reported with the
     * file it was for, instead of SIGXFSZ killing the run (its children too) */
    signal(SIGXFSZ, SIG_IGN);
    sb_lock_set_command(argc, argv); /* who holds a results folder (sb_lock.h) */
    if (argc < 2) {
        usage(stderr);
        return SB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0)
            for (c = sb_commands; *c; c++)
                if (strcmp((*c)->name, argv[2]) == 0) return sb_cmd_print_help(*c, stdout);
        usage(stdout);
        return SB_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("srambench 0.1.0 (plugin ABI %d.%d)\n", SB_ABI_MAJOR, SB_ABI_MINOR);
        return SB_EXIT_OK;
    }
    for (c = sb_commands; *c; c++) {
        if (strcmp((*c)->name, argv[1]) == 0) {
            if (sb_cmd_wants_help(argc - 1, argv + 1)) return sb_cmd_print_help(*c, stdout);
            return (*c)->main(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "srambench: unknown command '%s': expected one of", argv[1]);
    for (c = sb_commands; *c; c++) fprintf(stderr, " %s", (*c)->name);
    fprintf(stderr, " (see srambench --help)\n");
    return SB_EXIT_USAGE;
}
