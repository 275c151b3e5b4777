/*
 * sb_resume.h - completing a run from its results.json (`srambench resume`,
 * and the crash supervisor of sb_isolate.h).
 *
 * A job that ended (ok, failed or unavailable) is kept exactly as written;
 * every other job (pending, or cancelled part-way: its figures would mix two
 * processes' timings) is run again from its first image. A job whose
 * process was killed (`killed`: the OOM killer, kill -9) and a failed one
 * run again when the caller says so (sb_resume_rerun).
 */
#ifndef SB_RESUME_H
#define SB_RESUME_H

#include <stddef.h>

#include "sb_run.h"

/* Which ended jobs a resume runs again: `srambench resume` runs the killed
 * ones, and the failed ones with --retry-failed; the supervisor going on
 * after a crash (sb_isolate.c) none, or it would run them again at once. */
typedef enum {
    SB_RESUME_RERUN_KILLED = 1,
    SB_RESUME_RERUN_FAILED = 2
} sb_resume_rerun;

/* Load <dir>/results.json into a freshly prepared run of the same config:
 * the config must be the one the run was started with (a differing key is
 * named), the jobs the same. Sets out_dir, started_utc and resumed_utc.
 * rerun: SB_RESUME_RERUN_* flags. */
int sb_resume_restore(sb_run *run, const char *dir, unsigned rerun, sb_error *err);

/* Mark job `job` of <dir>/results.json with `status` ("failed", "killed")
 * and `why` (rewritten atomically), so that a resume knows how it ended. */
int sb_resume_mark_job(const char *dir, size_t job, const char *status, const char *why, sb_error *err);

/* sb_resume_mark_job(dir, job, "failed", why, err). */
int sb_resume_mark_failed(const char *dir, size_t job, const char *why, sb_error *err);

/* Set "interrupted": true in <dir>/results.json unless it says so already
 * (the supervisor, when the child was stopped by the user's signal before it
 * could write that itself). Nothing else changes: a resume completes it. */
int sb_resume_mark_interrupted(const char *dir, sb_error *err);

/* The config file a run was started with, from <dir>/results.json;
 * malloc'd. */
char *sb_resume_config_file(const char *dir, sb_error *err);

#endif /* SB_RESUME_H */
