/*
 * sb_isolate.h - running a bench in a child process, so that a plugin that
 * crashes (SIGSEGV, abort(), exit() in a library) costs one job, not the run.
 *
 * The child runs the jobs and tells the parent which job and phase is under
 * way (sb_runner_event). When it dies in the middle of a job, the parent
 * marks that job failed in results.json, naming the plugin and the signal
 * (a signal its own action raises: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
 * SIGTRAP, SIGSYS, SIGPIPE; or exit()), or
 * `killed` by any other signal (SIGKILL: the OOM killer, kill -9), which is
 * no plugin's fault, and resumes the run in a new child (sb_resume.h): the
 * jobs finished before are kept as written and the ones after still run.
 */
#ifndef SB_ISOLATE_H
#define SB_ISOLATE_H

#include "sb_config.h"

/* The work of one child: run (resume_dir NULL) or resume the bench; returns
 * the process exit code (sb_cmd.h). */
typedef int (*sb_isolated_fn)(void *ud, const char *resume_dir);

/* Run fn in child processes until the bench is complete; returns the exit
 * code of the last child, or 1 when a job crashed and the rest went well.
 * After the user's SIGINT/SIGTERM/SIGHUP (forwarded to the child) it
 * returns 130 and results.json says "interrupted", also when the child died
 * of that signal, and no new child starts; a child dying of another signal
 * still fails its job as a crash. cfg names the jobs in messages. */
int sb_isolate_run(const sb_config *cfg, sb_isolated_fn fn, void *ud, const char *resume_dir);

/* 1 in a child that goes on after another died (a crash, a kill): it keeps
 * every job that ended, the failed and killed ones too, which a user's
 * `srambench resume` may run again (sb_resume.h). */
int sb_isolate_continuing(void);

#endif /* SB_ISOLATE_H */
