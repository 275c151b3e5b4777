/* sb_viewcmd.h - option parsing shared by the view commands that run jobs
 * (compare, batch, flow): one place, so they accept the same spelling. */
#ifndef SB_VIEWCMD_H
#define SB_VIEWCMD_H

#include "sb_report.h"
#include "sb_report_run.h"

typedef struct sb_viewcmd {
    sb_views_run_opts run;
    const char *from;        /* render a stored run instead of running   */
    const char *reference;   /* recorded GPU runs                          */
    int reference_given;     /* --reference: must exist (the default may not) */
    const char *run_opt;     /* first option that only a run uses (--config) */
    const char *filter_opt;  /* --model or --backend, if given               */
    int selection_given;     /* batch's --split or --per-class               */
    int charts;
} sb_viewcmd;

/* Parse argv; `extra` (may be NULL) handles a command's own options and
 * returns how many arguments it used (0: not its option, < 0: error). */
int sb_viewcmd_parse(const char *cmd, int argc, char **argv, sb_viewcmd *vc,
                     int (*extra)(int argc, char **argv, int i, sb_viewcmd *vc));
/* Run (unless --from) then render `views` into <dir>/<stem>.md/.html. */
int sb_viewcmd_exec(const char *cmd, sb_viewcmd *vc, const char *stem, const sb_view_opts *views);

#define SB_VIEWCMD_OPTIONS_HELP                                                             \
    "  --config FILE     bench.toml to run (default ./bench.toml)\n"                          \
    "  --model M         only the [[model]] named M\n"                                        \
    "  --backend B       only the [[backend]] named B (repeat for several)\n"                 \
    "  --from DIR        render a stored run (results folder) instead of running\n"           \
    "  --output-dir DIR  write the results exactly into DIR\n"                                \
    "  --workers N       worker threads\n"                                                    \
    "  --no-charts       do not call gnuplot (scripts are still written)\n"                   \
    "  -q, --quiet       no progress line, no markdown on the terminal\n"                     \
    "  -h, --help        this text\n"

#endif /* SB_VIEWCMD_H */
