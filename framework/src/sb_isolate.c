/*
 * sb_isolate.c - the crash supervisor (sb_isolate.h).
 *
 * Why a process and not a signal handler: after a SIGSEGV inside a plugin
 * the heap may be corrupt, so nothing run afterwards in that process could
 * be trusted. results.json is rewritten atomically (after a job, at most
 * once a second), so the dead child leaves a whole file behind (the jobs of
 * its last second, not yet written, run again), and resuming from it is the same
 * code as `srambench resume`.
 *
 * The child gets a process group of its own, so that a terminal's Ctrl-C
 * reaches it once, through the parent, and keeps its meaning (first: finish
 * and write; second: quit). The child only listens for it while its jobs
 * run (libuv's handlers); before and after, the signal kills it outright.
 * So the parent remembers that the user asked to stop: a child killed by
 * that signal was interrupted, not crashed (exit 130, results.json says
 * "interrupted"), and no new child is started after it.
 */
#define _GNU_SOURCE
#include "sb_isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "sb_cmd.h"
#include "sb_lock.h"
#include "sb_resume.h"
#include "sb_runner.h"
#include "sb_util.h"

static volatile sig_atomic_t g_child;
/* The user's stop signal once one came (0: none), and one that came while
 * no child was there to forward it to. */
static volatile sig_atomic_t g_stop, g_unsent;
/* This child goes on after a crash (sb_isolate_continuing). */
static int g_continuing;

int sb_isolate_continuing(void) { return g_continuing; }

static void forward(int sig) {
    g_stop = sig;
    if (g_child > 0) kill((pid_t)g_child, sig);
    else g_unsent = sig;
}

static const int g_sigs[3] = {SIGINT, SIGTERM, SIGHUP};
/* The caller's dispositions, and the forwarding one installed over them. */
static struct sigaction g_old[3], g_fw;

/* What the child said last. */
typedef struct watch {
    char dir[4096];
    long job;          /* -1: between jobs */
    char phase[32];
    int exited;        /* it said "exit": it ended as it meant to */
} watch;

static void on_line(watch *w, const char *line) {
    long k;
    char phase[32];
    if (strncmp(line, "dir ", 4) == 0) snprintf(w->dir, sizeof w->dir, "%s", line + 4);
    else if (strcmp(line, "exit") == 0) w->exited = 1;
    else if (sscanf(line, "job %ld %31s", &k, phase) == 2) {
        w->job = strcmp(phase, "done") == 0 ? -1 : k;
        snprintf(w->phase, sizeof w->phase, "%s", phase);
    }
}

static void read_events(int fd, watch *w) {
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        char *p, *nl;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = 0;
        for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
            *nl = 0;
            on_line(w, p);
        }
        have -= (size_t)(p - buf);
        memmove(buf, p, have);
        if (have == sizeof buf - 1) have = 0; /* a line this long is not ours */
    }
}

/* The dataset, model and backend of job k: the runner numbers the jobs
 * dataset-major, then model, then backend (prepare_run in sb_runner.c). */
static void job_insts(const sb_config *cfg, size_t k, const sb_cfg_inst **d, const sb_cfg_inst **m,
                      const sb_cfg_inst **b) {
    size_t nb = cfg->n_backends, nm = cfg->n_models;
    *d = &cfg->datasets[k / (nm * nb)].inst;
    *m = &cfg->models[(k / nb) % nm];
    *b = &cfg->backends[k % nb];
}

/* The plugin that was being called in this phase of job k. */
static void culprit(const sb_config *cfg, size_t k, const char *phase, char *out, size_t len) {
    const sb_cfg_inst *d, *m, *b;
    job_insts(cfg, k, &d, &m, &b);
    if (strcmp(phase, "dataset") == 0)
        snprintf(out, len, "the dataset plugin '%s' (dataset '%s'), opening or preparing it", d->plugin, d->name);
    else if (strcmp(phase, "model") == 0)
        snprintf(out, len, "the model plugin '%s' (model '%s'), loading it", m->plugin, m->name);
    else if (strcmp(phase, "backend-open") == 0)
        snprintf(out, len, "the backend plugin '%s' (backend '%s'), in open", b->plugin, b->name);
    else if (strcmp(phase, "backend-prepare") == 0)
        snprintf(out, len, "the backend plugin '%s' (backend '%s'), preparing model '%s'", b->plugin, b->name, m->name);
    else
        snprintf(out, len, "a plugin while the images ran (backend plugin '%s' run, or dataset plugin '%s' get)",
                 b->plugin, d->plugin);
}

static void how_it_ended(int status, char *out, size_t len) {
    if (WIFSIGNALED(status))
        snprintf(out, len, "signal %d, %s", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, len, "exit(%d) called from inside it", WEXITSTATUS(status));
}

static pid_t start_child(sb_isolated_fn fn, void *ud, const char *dir, int fds[2]) {
    pid_t pid, parent = getpid();
    fflush(NULL); /* nothing buffered twice */
    if ((pid = fork()) != 0) return pid;
    close(fds[0]);
    setpgid(0, 0);
#if defined(__linux__)
    /* The parent killed outright: die too. SIGKILL, as the runner turns
     * SIGTERM into a graceful stop that never comes while a read blocks
     * (a FIFO). A parent gone before the prctl sends nothing: check. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) raise(SIGKILL);
#endif
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sb_runner_set_progress_fd(fds[1]);
    {
        int code = fn(ud, dir);
        sb_runner_event("exit");
        exit(code);
    }
}

/* No child could be made: run in this process, unguarded, with the caller's
 * signal handling (the forwarder would have no child to forward to, and the
 * runner installs its own once it starts). A stop that came before is kept. */
static int run_here(sb_isolated_fn fn, void *ud, const char *dir) {
    int i, code;
    if (g_stop) return SB_EXIT_INTERRUPTED;
    for (i = 0; i < 3; i++) sigaction(g_sigs[i], &g_old[i], NULL);
    code = fn(ud, dir);
    for (i = 0; i < 3; i++) sigaction(g_sigs[i], &g_fw, NULL);
    return code;
}

/* One child from fork to wait; the child's exit code, or -1 when it died in
 * the middle of a job (w says which). */
static int one_child(sb_isolated_fn fn, void *ud, const char *dir, watch *w, int *status) {
    int fds[2], st = 0;
    pid_t pid;
    if (pipe2(fds, O_CLOEXEC) < 0) return run_here(fn, ud, dir); /* no pipe */
    if ((pid = start_child(fn, ud, dir, fds)) < 0) {
        close(fds[0]);
        close(fds[1]);
        return run_here(fn, ud, dir);
    }
    setpgid(pid, pid); /* also here: whichever of the two runs first */
    g_child = pid;
    if (g_unsent) kill(pid, g_unsent), g_unsent = 0; /* came during the fork */
    close(fds[1]);
    w->job = -1;
    w->exited = 0;
    read_events(fds[0], w);
    close(fds[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    g_child = 0;
    *status = st;
    if (w->exited && WIFEXITED(st)) return WEXITSTATUS(st);
    if (w->exited) return SB_EXIT_INTERRUPTED; /* killed after saying goodbye */
    return -1;
}

/* The child died of the signal the user sent to stop the run (forwarded to
 * it) while it was not listening for it: an interruption. Any other signal,
 * even after a Ctrl-C, is a crash. */
static int killed_by_stop(int status) {
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return g_stop && (sig == SIGINT || sig == SIGTERM || sig == SIGHUP);
}

/* The run was stopped by the user: exit 130, and results.json says
 * "interrupted" even when the child died before it could write so itself
 * (docs/errors.md); `how` (may be NULL) is how the child ended. */
static int interrupted(const watch *w, const char *how) {
    sb_error err = {0};
    if (how)
        fprintf(stderr, "srambench: interrupted (%s)%s%s\n", how,
                w->dir[0] ? "; finished jobs are in " : " before any result was written", w->dir);
    /* no results.json yet (ENOENT): nothing to mark */
    if (w->dir[0] && sb_resume_mark_interrupted(w->dir, &err) < 0 && err.code != SB_ENOENT) {
        fprintf(stderr, "srambench: error: could not record the interruption: %s\n", err.msg);
        return SB_EXIT_IO;
    }
    return SB_EXIT_INTERRUPTED;
}

/* A signal that the process's own action raises (a fault, abort(), a
 * write to a closed pipe, a forbidden system call). Any other (SIGKILL from
 * the OOM killer or kill -9, a SIGTERM sent to the child) came from outside,
 * whatever plugin was running then. */
static int fault_signal(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT || sig == SIGTRAP ||
           sig == SIGSYS || sig == SIGPIPE;
}

/* The child was killed from outside in the middle of job w->job: mark it
 * killed, which names no plugin and which `srambench resume` runs again.
 * 0, or the exit code when that could not be recorded. */
static int record_killed(const sb_config *cfg, const watch *w, int sig, size_t n_jobs) {
    const sb_cfg_inst *d, *m, *b;
    char why[256];
    sb_error err = {0};
    if (sig == SIGKILL)
        snprintf(why, sizeof why, "the job process was killed by SIGKILL (the OOM killer or kill -9)");
    else
        snprintf(why, sizeof why, "the job process was killed by signal %d (%s), sent from outside srambench", sig,
                 strsignal(sig));
    job_insts(cfg, (size_t)w->job, &d, &m, &b);
    fprintf(stderr, "srambench: job %ld/%zu %s x %s x %s: killed: %s; %s (srambench resume runs it again)\n",
            w->job + 1, n_jobs, d->name, m->name, b->name, why,
            g_stop ? "the run was being stopped, so it did not go on" : "the run went on in a new process");
    if (sb_resume_mark_job(w->dir, (size_t)w->job, "killed", why, &err) < 0) {
        fprintf(stderr, "srambench: error: could not record the kill: %s\n", err.msg);
        return SB_EXIT_IO;
    }
    return 0;
}

/* A child died in the middle of job w->job: mark it failed in results.json.
 * 0, or the exit code when that could not be recorded. */
static int record_crash(const sb_config *cfg, const watch *w, const char *how, size_t n_jobs) {
    const sb_cfg_inst *d, *m, *b;
    char who[512], *why;
    sb_error err = {0};
    culprit(cfg, (size_t)w->job, w->phase, who, sizeof who);
    why = sb_strdupf("crashed (%s): %s; %s", how, who,
                     g_stop ? "the run was being stopped, so it did not go on" : "the run went on in a new process");
    job_insts(cfg, (size_t)w->job, &d, &m, &b);
    fprintf(stderr, "srambench: job %ld/%zu %s x %s x %s: failed: %s\n", w->job + 1, n_jobs, d->name, m->name, b->name,
            why ? why : how);
    if (!why || sb_resume_mark_failed(w->dir, (size_t)w->job, why, &err) < 0) {
        fprintf(stderr, "srambench: error: could not record the crash: %s\n", why ? err.msg : "out of memory");
        free(why);
        return SB_EXIT_IO;
    }
    free(why);
    return 0;
}

/* A plugin crashed before any job, while the runner checked the classes of
 * the datasets and models (sb_runner.c): run again without that check, so
 * the same crash happens in its job, which is recorded and the run goes on. */
static void check_crashed(const sb_config *cfg, const watch *w, const char *how) {
    char who[512];
    culprit(cfg, (size_t)w->job, w->phase, who, sizeof who);
    fprintf(stderr, "srambench: warning: %s crashed (%s) while the classes of models and datasets were checked, "
            "before any job: running without that check\n", who, how);
    sb_runner_set_class_check(0);
}

static int supervise(const sb_config *cfg, sb_isolated_fn fn, void *ud, const char *resume_dir) {
    size_t n_jobs = cfg->n_datasets * cfg->n_models * cfg->n_backends, tries;
    int class_check = 1;
    watch w;
    char dir[4096] = "";
    memset(&w, 0, sizeof w);
    if (resume_dir) snprintf(dir, sizeof dir, "%s", resume_dir);
    for (tries = 0; tries <= n_jobs; tries++) {
        int status = 0, code;
        char how[128];
        sb_error lock_err = {0};
        /* asked to stop while a crash was being recorded: do not go on */
        if (tries > 0 && g_stop) return interrupted(&w, NULL);
        code = one_child(fn, ud, dir[0] ? dir : NULL, &w, &status);
        if (code == SB_EXIT_INTERRUPTED) return interrupted(&w, NULL);
        if (code >= 0) return code;
        how_it_ended(status, how, sizeof how);
        if (killed_by_stop(status)) return interrupted(&w, how);
        if (class_check && w.job >= 0 && !w.dir[0]) {
            check_crashed(cfg, &w, how);
            class_check = 0;
            continue;
        }
        if (w.job < 0 || !w.dir[0]) {
            fprintf(stderr, "srambench: error: the run ended abruptly (%s) outside any job%s%s\n", how,
                    w.dir[0] ? "; finished jobs are in " : "", w.dir);
            return SB_EXIT_JOBS_FAILED;
        }
        /* a folder the dead child had locked itself is free now: take it
         * before writing, for this process and its next children */
        if (sb_lock_dir(w.dir, &lock_err) < 0) {
            fprintf(stderr, "srambench: error: %s\n", lock_err.msg);
            return SB_EXIT_IO;
        }
        if (WIFSIGNALED(status) && !fault_signal(WTERMSIG(status)))
            code = record_killed(cfg, &w, WTERMSIG(status), n_jobs);
        else
            code = record_crash(cfg, &w, how, n_jobs);
        if (code != 0) return code;
        g_continuing = 1;
        snprintf(dir, sizeof dir, "%s", w.dir);
    }
    fprintf(stderr, "srambench: error: more crashes than jobs; giving up (results in %s)\n", dir);
    return SB_EXIT_JOBS_FAILED;
}

int sb_isolate_run(const sb_config *cfg, sb_isolated_fn fn, void *ud, const char *resume_dir) {
    int i, code;
    /* for the whole supervision, so that a stop between two children is
     * not lost */
    memset(&g_fw, 0, sizeof g_fw);
    g_fw.sa_handler = forward;
    sigemptyset(&g_fw.sa_mask);
    g_stop = g_unsent = 0;
    g_continuing = 0;
    for (i = 0; i < 3; i++) sigaction(g_sigs[i], &g_fw, &g_old[i]);
    code = supervise(cfg, fn, ud, resume_dir);
    for (i = 0; i < 3; i++) sigaction(g_sigs[i], &g_old[i], NULL);
    return code;
}
