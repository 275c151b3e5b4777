/*
 * sb_inputs.h - fingerprints of a run's model and dataset files, recorded in
 * results.json ("inputs") so that `srambench resume` refuses to complete a
 * run whose files changed under it (see sb_inputs.c).
 */
#ifndef SB_INPUTS_H
#define SB_INPUTS_H

#include "sb_run.h"

struct cJSON;

/* One entry per model or dataset with a `path` option:
 * {"section", "name", "path" (absolute), "fingerprint"}. */
struct cJSON *sb_inputs_json(const sb_run *run);

/* Every model's and dataset's `path` option names an existing file or
 * folder: else SB_EINVAL naming its bench.toml line, before any job runs
 * or any results folder is made (a config error, not a failed job). */
int sb_inputs_check_paths(const sb_run *run, sb_error *err);

/* 0 if every entry of `now` has the same fingerprint in `then` (results.json's
 * "inputs"; NULL for a run from before they were recorded: accepted), else
 * SB_EINVAL naming the instance and the file. `results` names results.json. */
int sb_inputs_check(const struct cJSON *then, const struct cJSON *now, const char *results, sb_error *err);

#endif /* SB_INPUTS_H */
