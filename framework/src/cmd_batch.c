/* cmd_batch.c - `srambench batch`: the original tool's batch test done for
 * real: per-class accuracy, confusion matrix, P/R/F1, AUC, calibration,
 * cost per backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_cmd.h"
#include "sb_viewcmd.h"

static int batch_opt(int argc, char **argv, int i, sb_viewcmd *vc) {
    if (!strcmp(argv[i], "--per-class")) {
        char *end;
        long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
        if (i + 1 >= argc || *end || n < 1) {
            fprintf(stderr, "srambench batch: --per-class: expected a positive integer\n");
            return -1;
        }
        vc->run.per_class = n;
        vc->selection_given = 1;
        return 2;
    }
    if (!strcmp(argv[i], "--split")) {
        if (i + 1 >= argc) {
            fprintf(stderr, "srambench batch: --split: expected a subset name (e.g. test)\n");
            return -1;
        }
        /* the whole subset: no per-class cap, no limit */
        vc->run.split = argv[i + 1];
        vc->run.per_class = 0, vc->run.limit = 0;
        vc->selection_given = 1;
        return 2;
    }
    return 0;
}

static int batch_main(int argc, char **argv) {
    sb_viewcmd vc;
    sb_view_opts o = {SB_VIEW_BATCH | SB_VIEW_COMPARE, NULL, NULL, 1};
    int rc = sb_viewcmd_parse("batch", argc, argv, &vc, batch_opt);
    if (rc) return rc;
    return sb_viewcmd_exec("batch", &vc, "batch", &o);
}

const sb_command sb_cmd_batch = {
    "batch", "batch test: per-class accuracy, confusion matrix, P/R/F1, AUC, ECE, cost",
    "usage: srambench batch [--per-class N | --split SUBSET] [options]\n"
    "\n"
    "Runs the bench.toml's dataset through its models and backends and writes batch.md and\n"
    "batch.html: per-class accuracy with bars, the confusion matrix (counts and %),\n"
    "precision/recall/F1 per class, accuracy, balanced accuracy, macro F1, macro AUC\n"
    "(one-vs-rest, trapezoid), mean confidence and ECE (15 bins), and per backend latency,\n"
    "throughput, energy per image and total batch energy, with charts.\n"
    "\n"
    "options:\n"
    "  --per-class N     at most N images per class (overrides per_class)\n"
    "  --split SUBSET    every image of the dataset's SUBSET (e.g. test)\n" SB_VIEWCMD_OPTIONS_HELP
    "\n"
    "exit codes: 0 ok, 1 some job failed (the views are written and say why), 2 usage,\n"
    "            3 bad config, plugin or stored results.json, 4 not written, 130 interrupted\n",
    batch_main};
