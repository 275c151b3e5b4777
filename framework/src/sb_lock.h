/*
 * sb_lock.h - one writer per results folder.
 *
 * Two runs writing one folder (the same --output-dir, or a resume of a run
 * still going) would each rewrite results.json whole: the last writer's
 * wins and the charts mix both runs. So whatever writes a run folder (run,
 * resume, batch, compare, flow, infer, sweep) first takes an exclusive
 * flock() on <dir>/.lock, held until its process ends, and writes its pid
 * and command line there; a second writer is refused at once (SB_EIO, exit
 * 4), naming the holder. Once it holds the lock it removes the temp files
 * ("<file>.tmp.<pid>") that writers killed mid-write left there.
 *
 * flock() locks belong to the open file, not to a process: the children the
 * supervisor forks (sb_isolate.c) share a lock it took, and the lock goes
 * with the last process holding it however that ends (no stale lock after a
 * crash or a kill -9). This process remembers the locks it holds, so that
 * taking one again (a child resuming its parent's folder) is a no-op.
 */
#ifndef SB_LOCK_H
#define SB_LOCK_H

#include "sb_plugin.h"

/* The command line written into the lock files this process takes, and the
 * pid to name: main()'s, which the user started (the supervisor's, also
 * in its children). */
void sb_lock_set_command(int argc, char **argv);

/* Lock <dir>/.lock (created if absent; never through a link) for the rest
 * of this process. 0, or SB_EIO naming the folder and, when another process
 * holds it, that process's pid and command. */
int sb_lock_dir(const char *dir, sb_error *err);

/* sb_lock_dir for a run being resumed: only a folder holding results.json
 * is a run's (nothing is created elsewhere; the resume then says what is
 * missing). */
int sb_lock_run_dir(const char *dir, sb_error *err);

#endif /* SB_LOCK_H */
