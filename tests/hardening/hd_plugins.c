/*
 * hd_plugins.c - misbehaving backend plugins for the bad-input tests; which
 * one is chosen by -D at build time (tests/hardening/meson.build).
 *   HD_FAIL_OPEN  "hd-failopen": open() fails with a message.
 *   HD_CRASH_OPEN "hd-crash":    open() dies of SIGSEGV.
 *   HD_EVIL       "hd-evil":     a library's constructor, which runs on
 *                 dlopen before any check, creates the file $HD_EVIL_MARKER:
 *                 the loader must refuse a file out of its search path
 *                 before loading it (case plugin_path_escape).
 *   HD_CRASH_LOAD "hd-crashload": a model plugin whose load() dies of SIGSEGV.
 *   (default)     "hd-signal":   a backend that answers class 0 for every
 *                 image and, when its `after_images`-th image runs, sends its
 *                 own process `signal` ("int" or "term"; "abort": abort()): an interrupt that
 *                 arrives mid-run at a known point, with no sleeping; not
 *                 when HD_SIGNAL_OFF is set (the resume test). "block":
 *                 write the process's pid into the FIFO `fifo` and wait
 *                 there for the test to kill the process (case
 *                 job_killed_resumed).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sb_plugin.h"

#if defined(HD_EVIL)
__attribute__((constructor)) static void hd_evil(void) {
    const char *marker = getenv("HD_EVIL_MARKER");
    int fd = marker ? open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (fd >= 0) close(fd);
}
#define HD_FAIL_OPEN
#endif

#if defined(HD_CRASH_LOAD)
static int m_load(const sb_host *host, const sb_options *opts, const sb_graph **g, sb_error *err) {
    (void)host; (void)opts; (void)g; (void)err;
    raise(SIGSEGV);
    return SB_ECRASH;
}
static void m_unload(const sb_graph *g) { (void)g; }
static const sb_model_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_MODEL, "hd-crashload", "1.0.0", "test: crashes in load", NULL), m_load, m_unload};
#elif defined(HD_FAIL_OPEN) || defined(HD_CRASH_OPEN)
static int be_open(const sb_host *host, const sb_options *opts, void **be, sb_error *err) {
    (void)host; (void)opts; (void)be;
#if defined(HD_CRASH_OPEN)
    raise(SIGSEGV);
#endif
    return sb_error_set(err, SB_EIO, "hd-failopen: open refused on purpose (test plugin)");
}
static void be_close(void *be) { (void)be; }
/* Never reached (open fails), but required: the loader refuses NULL ones. */
static int be_prepare(void *be, const sb_graph *g, void **prog, sb_error *err) {
    (void)be; (void)g; (void)prog;
    return sb_error_set(err, SB_EINVAL, "hd plugin: prepare() after a failed open()");
}
static void be_release(void *prog) { (void)prog; }
static int be_run(void *prog, const int8_t *in, int8_t *out, sb_metrics *m, sb_error *err) {
    (void)prog; (void)in; (void)out; (void)m;
    return sb_error_set(err, SB_EINVAL, "hd plugin: run() after a failed open()");
}
static const sb_backend_plugin plugin = {
#if defined(HD_CRASH_OPEN)
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "hd-crash", "1.0.0", "test: crashes in open", NULL),
#elif defined(HD_EVIL)
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "hd-evil", "1.0.0", "test: a constructor that leaves a mark", NULL),
#else
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "hd-failopen", "1.0.0", "test: fails in open", NULL),
#endif
    be_open, be_close, be_prepare, be_release, be_run, NULL};
#else
static const sb_option_spec options[] = {
    {"signal", SB_OPT_STRING, 0, "int | term | abort | int2 (Ctrl-C twice) | hup (to the parent) | block (default int)"},
    {"fifo", SB_OPT_STRING, 0, "block: the FIFO the pid is written to"},
    {"after_images", SB_OPT_INT, 0, "the image whose run sends the signal, 1-based (default 3)"},
    {"prepare_ms", SB_OPT_INT, 0, "prepare() takes this long (default 0): a preparing phase the progress "
                                  "line can show"},
    {"fake_latency", SB_OPT_BOOL, 0, "report a measured latency_ns by run number k (from 0): 1e9 for k < 3, "
                                     "10000 when k % 3 == 0, else 1000 (warm-up and spread tests)"},
    {NULL, 0, 0, NULL}};

typedef struct hd_be {
    const sb_host *host;
    int sig;                  /* 0: block */
    int twice;                /* "int2": a second SIGINT once the first is seen */
    const char *fifo;
    long after;
    int fake_latency;
    long prepare_ms;
    atomic_long seen;
    int n_classes;
} hd_be;

static int be_open(const sb_host *host, const sb_options *opts, void **out, sb_error *err) {
    const char *s = sb_opt_str(opts, "signal", "int");
    hd_be *b = calloc(1, sizeof *b);
    if (!b) return sb_error_set(err, SB_ENOMEM, "hd-signal: out of memory");
    b->host = host;
    b->sig = strcmp(s, "term") == 0    ? SIGTERM
             : strcmp(s, "abort") == 0 ? SIGABRT
             : strcmp(s, "block") == 0 ? 0
             : strcmp(s, "hup") == 0   ? SIGHUP
                                       : SIGINT;
    b->twice = strcmp(s, "int2") == 0;
    b->fifo = sb_opt_str(opts, "fifo", NULL);
    b->after = (long)sb_opt_int(opts, "after_images", 3);
    b->fake_latency = sb_opt_bool(opts, "fake_latency", 0);
    b->prepare_ms = (long)sb_opt_int(opts, "prepare_ms", 0);
    *out = b;
    return SB_OK;
}
static void be_close(void *be) { free(be); }

/* The test learns which process to kill from the FIFO (its read returns
 * once this wrote and closed), then kills it while it waits here. The wait
 * is bounded (60 s, or a Ctrl-C) only so that a broken test cannot leave
 * the process behind. */
static void block_here(const hd_be *b) {
    char line[32];
    int fd = b->fifo ? open(b->fifo, O_WRONLY | O_CLOEXEC) : -1;
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (fd >= 0 && write(fd, line, (size_t)n) < 0) { /* the test will say it got no pid */ }
    if (fd >= 0) close(fd);
    for (int ms = 0; ms < 60000 && !(b->host && b->host->cancelled && b->host->cancelled()); ms += 10)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
}

static int be_prepare(void *be, const sb_graph *g, void **prog, sb_error *err) {
    hd_be *b = be;
    (void)err;
    b->n_classes = g->n_classes;
    if (b->prepare_ms > 0)
        nanosleep(&(struct timespec){b->prepare_ms / 1000, (b->prepare_ms % 1000) * 1000000}, NULL);
    *prog = b;
    return SB_OK;
}
static void be_release(void *prog) { (void)prog; }
static int be_run(void *prog, const int8_t *input, int8_t *logits, sb_metrics *m, sb_error *err) {
    hd_be *b = prog;
    long k = atomic_fetch_add(&b->seen, 1);
    (void)input; (void)err;
    memset(logits, 0, (size_t)b->n_classes);
    logits[0] = 100;
    if (b->fake_latency)
        sb_metrics_add(m, SB_M_LATENCY_NS, "ns", k < 3 ? 1e9 : k % 3 == 0 ? 10000 : 1000, SB_PROV_MEASURED,
                       "test: fake measured latency");
    /* HD_SIGNAL_OFF: the same config, resumed, runs through (`srambench resume`
     * must be given the bench.toml the run started with). */
    if (k + 1 == b->after && !getenv("HD_SIGNAL_OFF")) {
        if (b->sig == 0) {
            block_here(b);
            return SB_OK;
        }
        if (b->sig == SIGABRT) abort(); /* a plugin dying half-way through its images */
        /* a terminal's hangup reaches the supervisor, which forwards it */
        kill(b->sig == SIGHUP ? getppid() : getpid(), b->sig);
        /* A user's Ctrl-C arrives while an image is in flight. The runner sees
         * the signal on its loop thread some time later; wait until it has
         * (bounded: 10 s), or on a loaded machine this job's last images, and
         * the next job's, could all finish first. */
        for (int ms = 0; ms < 10000 && b->host && b->host->cancelled && !b->host->cancelled(); ms++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        /* "int2": the second Ctrl-C quits at once (_exit on the loop thread);
         * this image stays in flight until then, so the runner still
         * listens (bounded: 10 s). */
        if (b->twice) kill(getpid(), SIGINT);
        for (int ms = 0; b->twice && ms < 10000; ms++) nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return SB_OK;
}
static const sb_backend_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "hd-signal", "1.0.0", "test: signals itself mid-run", options),
    be_open, be_close, be_prepare, be_release, be_run, NULL};
#endif

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
