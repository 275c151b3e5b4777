/* cmd_compare.c - `srambench compare`: the original tool's comparison table,
 * every cell labelled measured / simulated / recorded with its source. */
#include "sb_cmd.h"
#include "sb_viewcmd.h"

static int compare_main(int argc, char **argv) {
    sb_viewcmd vc;
    sb_view_opts o = {SB_VIEW_COMPARE, NULL, NULL, 1};
    int rc = sb_viewcmd_parse("compare", argc, argv, &vc, NULL);
    if (rc) return rc;
    return sb_viewcmd_exec("compare", &vc, "compare", &o);
}

const sb_command sb_cmd_compare = {
    "compare", "compare backends: latency, power, energy, speedup, efficiency, accuracy",
    "usage: srambench compare [options]\n"
    "\n"
    "Runs the bench.toml (or reads a stored run with --from) and writes compare.md and\n"
    "compare.html into the results folder: per dataset and model, one row per backend with\n"
    "median latency, average power, energy per image, speedup against the cpu backend,\n"
    "energy efficiency (inferences per joule), accuracy and throughput. Every cell says\n"
    "measured, simulated or recorded and points to its source; unavailable cells say why.\n"
    "Recorded GPU runs (results/reference/*.json) of the same model are extra rows,\n"
    "labelled \"recorded on <GPU>, <date>\".\n"
    "\n"
    "options:\n" SB_VIEWCMD_OPTIONS_HELP
    "  --reference DIR   recorded GPU runs (default results/reference)\n"
    "\n"
    "exit codes: 0 ok, 1 some job failed (the views are written and say why), 2 usage,\n"
    "            3 bad config, plugin or stored results.json, 4 not written, 130 interrupted\n",
    compare_main};
