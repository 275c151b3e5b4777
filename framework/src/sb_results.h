/*
 * sb_results.h - the files of a run (docs/results-schema.md): results.json,
 * results.csv and table.md (charts and the report are the views' job:
 * sb_report.h). Every file goes to a temporary name first and is renamed,
 * so no reader sees half a file.
 */
#ifndef SB_RESULTS_H
#define SB_RESULTS_H

#include <stdio.h>

#include "sb_run.h"

#define SB_RESULTS_SCHEMA_VERSION 1

/* Write results.json, results.csv and table.md into run->out_dir. `final`
 * marks results.json complete. */
int sb_results_write(const sb_run *run, int final, sb_error *err);

/* The same three files as text, taken on the loop thread between jobs (when
 * nothing else touches the run) and written later: the runner saves at most
 * once a second, and a signal or the timer writes the last snapshot taken. */
typedef struct sb_results_snap {
    char *json, *csv, *md;
} sb_results_snap;

int sb_results_snap_take(const sb_run *run, int final, sb_results_snap *snap, sb_error *err);
int sb_results_snap_write(const char *out_dir, const sb_results_snap *snap, sb_error *err);
void sb_results_snap_free(sb_results_snap *snap);

/* The config as run, as results.json's "config" holds it. */
struct cJSON *sb_results_config_json(const sb_toml *t);
/* infer's job: `unsourced_overrides` from the backend's options, and the
 * notes of its simulated figures prefixed as the runner's (sb_figures.c). */
void sb_results_note_unsourced(struct cJSON *job, const sb_options *o);

/* The markdown comparison table (as in table.md); malloc'd. */
char *sb_results_table_md(const sb_run *run);
void sb_results_print_table(const sb_run *run, FILE *out);

/* Run a program with arguments in folder `dir`, stdout captured (malloc'd,
 * may be NULL). Returns its exit status, or -1 if it could not start. */
int sb_run_program(const char *dir, char *const argv[], char **out);
/* The same, binary-safe: *out_len bytes captured (0 and NULL out of memory). */
int sb_run_capture(const char *dir, char *const argv[], char **out, size_t *out_len);

#endif /* SB_RESULTS_H */
