/*
 * test_isolate.c - the crash supervisor (sb_isolate.c) and the user's stop.
 *
 * The child's work is a function of this file rather than a bench, so that
 * each signal arrives at a known point: the child sends the user's Ctrl-C
 * to its parent (the supervisor, which forwards it as it does a terminal's)
 * and waits for it to come back. Nothing sleeps: the waits are sigsuspend()
 * on the signal itself, bounded by alarm() only so that a broken supervisor
 * fails the test instead of hanging it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "sb_cmd.h"
#include "sb_config.h"
#include "sb_isolate.h"
#include "sb_report.h"
#include "sb_runner.h"
#include "sb_util.h"

static char tmp[64];
static sb_cfg_dataset ds = {.inst = {.name = "d", .plugin = "dp"}};
static sb_cfg_inst model = {.name = "m", .plugin = "mp"}, backend = {.name = "b", .plugin = "bp"};
static sb_config cfg = {.datasets = &ds, .n_datasets = 1, .models = &model, .n_models = 1, .backends = &backend,
                        .n_backends = 1};

/* A results.json as the child would have left it: one job not finished,
 * not (yet) marked interrupted. */
static int setup(void **state) {
    static const char text[] = "{\"schema_version\": 1, \"complete\": false, \"interrupted\": false, \"jobs\": "
                               "[{\"dataset\": \"d\", \"model\": \"m\", \"backend\": \"b\", \"status\": \"pending\", "
                               "\"error\": null, \"samples\": [], \"metrics\": {}}]}";
    char path[128];
    sb_error err = {0};
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/sb-isolate-XXXXXX");
    if (!mkdtemp(tmp)) return -1;
    snprintf(path, sizeof path, "%s/results.json", tmp);
    return sb_write_atomic(path, text, strlen(text), &err);
}

static int teardown(void **state) {
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static cJSON *results(void) {
    cJSON *res = NULL;
    sb_error err = {0};
    assert_int_equal(sb_report_load(tmp, &res, &err), 0);
    return res;
}

/* ------------------------------------------------ in the child process */

static volatile sig_atomic_t g_got;
static void on_int(int sig) { g_got = sig; }

/* The user's Ctrl-C, sent through the supervisor; returns once it came back
 * to this process and was caught (the runner's handler, while jobs run). */
static void ctrl_c_caught(void) {
    struct sigaction sa;
    sigset_t block, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    kill(getppid(), SIGINT);
    alarm(10);
    while (!g_got) sigsuspend(&old);
    alarm(0);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The same Ctrl-C while nothing listens for it (SIGINT at its default, as
 * once the runner has stopped its handlers): it ends this process. */
static void ctrl_c_uncaught(void) {
    sigset_t none;
    signal(SIGINT, SIG_DFL);
    kill(getppid(), SIGINT);
    sigemptyset(&none);
    alarm(10);
    for (;;) sigsuspend(&none);
}

/* A second child means the supervisor went on from results.json. It
 * leaves with _exit: this process is a copy of the test's, whose heap
 * LeakSanitizer (make check-sanitize) would report at exit(). */
#define WENT_ON 42

static int went_on(void) {
    sb_runner_event("exit");
    _exit(WENT_ON);
}

/* A second Ctrl-C after the last job, when the runner no longer listens:
 * the child dies of SIGINT outside any job. */
static int stop_after_last_job(void *ud, const char *resume_dir) {
    (void)ud;
    if (resume_dir) return went_on();
    sb_runner_event("dir %s", tmp);
    sb_runner_event("job 0 done");
    ctrl_c_uncaught();
    return 0;
}

/* Ctrl-C twice during a job: the runner's "quit at once" (_exit(130) after
 * saying "exit"), before it wrote "interrupted" into results.json. */
static int quit_at_once(void *ud, const char *resume_dir) {
    (void)ud;
    if (resume_dir) return went_on();
    sb_runner_event("dir %s", tmp);
    sb_runner_event("job 0 images");
    ctrl_c_caught();
    sb_runner_event("exit");
    _exit(SB_EXIT_INTERRUPTED);
}

/* Ctrl-C, then a plugin crashes while the job stops: still a crash. */
static int crash_after_stop(void *ud, const char *resume_dir) {
    (void)ud;
    if (resume_dir) return went_on();
    sb_runner_event("dir %s", tmp);
    sb_runner_event("job 0 images");
    ctrl_c_caught();
    signal(SIGSEGV, SIG_DFL); /* not cmocka's handler, inherited from the test */
    raise(SIGSEGV);
    return 0;
}

/* A crash with no stop asked: the run goes on in a new child. */
static int crash_alone(void *ud, const char *resume_dir) {
    (void)ud;
    if (resume_dir) return went_on();
    sb_runner_event("dir %s", tmp);
    sb_runner_event("job 0 images");
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 0;
}

/* Issue 19: the job process killed from outside (the OOM killer, kill -9)
 * while the dataset plugin was opening: no plugin is at fault. The child
 * going on must know it does (it keeps the killed job, not run it again at
 * once): it exits 42 only then. */
static int g_kill_sig = SIGKILL;
static int killed_in_dataset(void *ud, const char *resume_dir) {
    (void)ud;
    if (resume_dir && sb_isolate_continuing()) return went_on();
    if (resume_dir) _exit(7);
    sb_runner_event("dir %s", tmp);
    sb_runner_event("job 0 dataset");
    signal(g_kill_sig, SIG_DFL);
    raise(g_kill_sig);
    return 0;
}

/* The same phase, a fault signal: the dataset plugin is blamed. */
static int segv_in_dataset(void *ud, const char *resume_dir) {
    (void)ud;
    if (resume_dir) return went_on();
    sb_runner_event("dir %s", tmp);
    sb_runner_event("job 0 dataset");
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 0;
}

/* No child could be made (no file descriptor left for the pipe): the work
 * runs in the test's own process, with the caller's signal handling. */
static int g_in_process;
static int ctrl_c_here(void *ud, const char *resume_dir) {
    (void)ud, (void)resume_dir;
    g_in_process = 1;
    raise(SIGINT); /* before a runner would install its own handler */
    return 0;
}

/* ------------------------------------------------------------- tests */

static void test_no_child_keeps_the_callers_signals(void **state) {
    struct sigaction sa, prev;
    struct rlimit lim, none;
    (void)state;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int; /* the caller's (the program's) disposition */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &prev);
    g_got = 0;
    g_in_process = 0;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
    none = lim;
    none.rlim_cur = 0; /* pipe2 fails: EMFILE */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
    int code = sb_isolate_run(&cfg, ctrl_c_here, NULL, NULL);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    sigaction(SIGINT, &prev, NULL);
    assert_int_equal(code, 0);
    assert_true(g_in_process);
    /* the Ctrl-C reached the caller's handler, not a forwarder with no child */
    assert_int_equal(g_got, SIGINT);
}

static void test_stop_after_last_job(void **state) {
    cJSON *res;
    (void)state;
    assert_int_equal(sb_isolate_run(&cfg, stop_after_last_job, NULL, NULL), SB_EXIT_INTERRUPTED);
    res = results();
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res, "interrupted")));
    cJSON_Delete(res);
}

static void test_quit_at_once_marks_interrupted(void **state) {
    cJSON *res;
    (void)state;
    assert_int_equal(sb_isolate_run(&cfg, quit_at_once, NULL, NULL), SB_EXIT_INTERRUPTED);
    res = results();
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res, "interrupted")));
    /* the job itself is left for a resume */
    assert_string_equal(sb_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 0), "status", ""), "pending");
    cJSON_Delete(res);
}

static void test_crash_after_stop_is_a_crash(void **state) {
    cJSON *res, *job;
    (void)state;
    assert_int_equal(sb_isolate_run(&cfg, crash_after_stop, NULL, NULL), SB_EXIT_INTERRUPTED);
    res = results();
    job = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 0);
    assert_string_equal(sb_json_str(job, "status", ""), "failed");
    assert_non_null(strstr(sb_json_str(job, "error", ""), "crashed (signal 11"));
    assert_non_null(strstr(sb_json_str(job, "error", ""), "the run was being stopped, so it did not go on"));
    /* set although the job as written had no n_images */
    assert_true(sb_json_num(job, "n_images") == 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res, "interrupted")));
    cJSON_Delete(res);
}

static void test_crash_goes_on(void **state) {
    cJSON *res, *job;
    (void)state;
    assert_int_equal(sb_isolate_run(&cfg, crash_alone, NULL, NULL), WENT_ON);
    res = results();
    job = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 0);
    assert_string_equal(sb_json_str(job, "status", ""), "failed");
    assert_non_null(strstr(sb_json_str(job, "error", ""), "the run went on in a new process"));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(res, "interrupted")));
    cJSON_Delete(res);
}

static void test_killed_is_no_plugins_fault(void **state) {
    cJSON *res, *job;
    (void)state;
    assert_int_equal(sb_isolate_run(&cfg, killed_in_dataset, NULL, NULL), WENT_ON);
    res = results();
    job = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 0);
    assert_string_equal(sb_json_str(job, "status", ""), "killed");
    assert_string_equal(sb_json_str(job, "error", ""),
                        "the job process was killed by SIGKILL (the OOM killer or kill -9)");
    cJSON_Delete(res);
}

/* Any signal that is no fault of the process's own (here SIGUSR1) alike. */
static void test_outside_signal_is_killed(void **state) {
    cJSON *res, *job;
    char want[64];
    (void)state;
    snprintf(want, sizeof want, "killed by signal %d (", SIGUSR1);
    g_kill_sig = SIGUSR1;
    assert_int_equal(sb_isolate_run(&cfg, killed_in_dataset, NULL, NULL), WENT_ON);
    g_kill_sig = SIGKILL;
    res = results();
    job = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 0);
    assert_string_equal(sb_json_str(job, "status", ""), "killed");
    assert_non_null(strstr(sb_json_str(job, "error", ""), want));
    assert_non_null(strstr(sb_json_str(job, "error", ""), "sent from outside srambench"));
    cJSON_Delete(res);
}

static void test_fault_blames_the_plugin(void **state) {
    cJSON *res, *job;
    (void)state;
    assert_int_equal(sb_isolate_run(&cfg, segv_in_dataset, NULL, NULL), WENT_ON);
    res = results();
    job = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 0);
    assert_string_equal(sb_json_str(job, "status", ""), "failed");
    assert_non_null(strstr(sb_json_str(job, "error", ""), "crashed (signal 11"));
    assert_non_null(strstr(sb_json_str(job, "error", ""), "the dataset plugin 'dp'"));
    cJSON_Delete(res);
}

/* Issue 19, item 8: the supervisor killed outright (SIGKILL) while its
 * child is busy with a SIGTERM handler installed, as the runner's graceful
 * stop has: the child must die too, not stay (blocked on a FIFO) for ever. */
static int g_pid_fd = -1;
static void on_term(int sig) { (void)sig; }

static int busy_forever(void *ud, const char *resume_dir) {
    struct sigaction sa;
    pid_t me = getpid();
    (void)ud, (void)resume_dir;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    if (write(g_pid_fd, &me, sizeof me) != (ssize_t)sizeof me) _exit(3);
    for (;;) pause();
}

/* Gone, or a zombie that its new parent has not reaped yet. */
static int process_gone(pid_t pid) {
    char path[64], buf[512], *p;
    size_t n;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (!(f = fopen(path, "r"))) return 1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    return p && (p[2] == 'Z' || p[2] == 'X');
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void test_child_dies_with_its_supervisor(void **state) {
    int fds[2], st, gone = 0;
    pid_t sup, child = 0;
    double deadline;
    const struct timespec tick = {0, 10 * 1000 * 1000};
    (void)state;
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    sup = fork();
    assert_true(sup >= 0);
    if (sup == 0) {
        close(fds[0]);
        g_pid_fd = fds[1];
        sb_isolate_run(&cfg, busy_forever, NULL, NULL);
        _exit(0);
    }
    close(fds[1]);
    /* the child is busy once it said its pid */
    assert_int_equal(read(fds[0], &child, sizeof child), (ssize_t)sizeof child);
    close(fds[0]);
    assert_true(child != sup); /* a child ran it, not the supervisor itself */
    assert_int_equal(kill(sup, SIGKILL), 0);
    assert_int_equal(waitpid(sup, &st, 0), sup);
    for (deadline = now_s() + 10; !(gone = process_gone(child)) && now_s() < deadline;)
        nanosleep(&tick, NULL);
    if (!gone) kill(child, SIGKILL); /* leave nothing behind, then fail */
    assert_true(gone);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_after_last_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_at_once_marks_interrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_stop_is_a_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_child_keeps_the_callers_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_is_no_plugins_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_signal_is_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_blames_the_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_dies_with_its_supervisor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
