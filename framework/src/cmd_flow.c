/* cmd_flow.c - `srambench flow`: one model layer by layer on a backend. */
#include "sb_cmd.h"
#include "sb_viewcmd.h"

static int flow_main(int argc, char **argv) {
    sb_viewcmd vc;
    sb_view_opts o = {SB_VIEW_FLOW, NULL, NULL, 1};
    int rc = sb_viewcmd_parse("flow", argc, argv, &vc, NULL);
    if (rc) return rc;
    /* the layer report does not depend on the data: one image is enough */
    vc.run.per_class = 0, vc.run.limit = 1;
    return sb_viewcmd_exec("flow", &vc, "flow", &o);
}

const sb_command sb_cmd_flow = {
    "flow", "one model layer by layer: shapes, tiles, SRAM use, accesses, time, energy",
    "usage: srambench flow [--model M] [--backend B] [options]\n"
    "\n"
    "Runs one image through the chosen model and backends and writes flow.md and flow.html\n"
    "from the backend's report: per layer the type, shapes, parameters, MACs, tile, SRAM\n"
    "occupancy, external and SRAM accesses, cycles, time and energy, with stacked time and\n"
    "energy bars per layer and a memory-access timeline. Backends that report no per-layer\n"
    "figures show what they have, the rest marked unavailable.\n"
    "\n"
    "options:\n" SB_VIEWCMD_OPTIONS_HELP
    "\n"
    "exit codes: 0 ok, 1 some job failed (the views are written and say why), 2 usage,\n"
    "            3 bad config, plugin or stored results.json, 4 not written, 130 interrupted\n",
    flow_main};
