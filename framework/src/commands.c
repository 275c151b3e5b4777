/* commands.c - the table of srambench commands: add yours here. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb_cmd.h"

extern const sb_command sb_cmd_run, sb_cmd_resume;
extern const sb_command sb_cmd_plugins;
extern const sb_command sb_cmd_report, sb_cmd_compare, sb_cmd_batch, sb_cmd_flow, sb_cmd_sweep, sb_cmd_infer; /* views (vw) */

const sb_command *const sb_commands[] = {
    &sb_cmd_run,
    &sb_cmd_resume,
    &sb_cmd_plugins,
    &sb_cmd_compare,
    &sb_cmd_batch,
    &sb_cmd_flow,
    &sb_cmd_report,
    &sb_cmd_sweep,
    &sb_cmd_infer,
    NULL};

int sb_cmd_parse_workers(const char *cmd, const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 1024) {
        fprintf(stderr, "srambench %s: --workers '%s': expected an integer 1..1024\n", cmd, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int sb_cmd_check_folder(const char *cmd, const char *opt, const char *path, const char *expected) {
    struct stat st;
    const char *why = NULL;
    DIR *d;
    if (stat(path, &st) < 0) why = errno == ENOENT ? "no such folder" : strerror(errno);
    else if (!S_ISDIR(st.st_mode)) why = "not a folder";
    else if (!(d = opendir(path))) why = strerror(errno);
    else closedir(d);
    if (!why) return 0;
    fprintf(stderr, "srambench %s: %s %s: %s: expected %s\n", cmd, opt, path, why, expected);
    return SB_EXIT_CONFIG;
}

int sb_cmd_wants_help(int argc, char **argv) {
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

int sb_cmd_print_help(const sb_command *c, FILE *out) {
    fprintf(out, "%s", c->usage);
    return SB_EXIT_OK;
}
