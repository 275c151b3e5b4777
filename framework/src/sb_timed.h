/*
 * sb_timed.h - measured latency worth reporting: warm-up runs that are not
 * counted, repeated counted runs, their median and spread, and the state of
 * the host (load, CPU frequency governor) the measurement was taken in.
 * Used by the runner and by `infer`; any backend whose latency is measured
 * gets it, a simulated one (the same figures every run) runs once.
 */
#ifndef SB_TIMED_H
#define SB_TIMED_H

#include <stddef.h>

#include "sb_plugin.h"

struct cJSON;

/* Defaults of [[backend]] warmup / repeats (docs/bench-toml.md). */
#define SB_WARMUP_DEFAULT 3
#define SB_REPEATS_RUN_DEFAULT 1
#define SB_REPEATS_INFER_DEFAULT 20
/* p95 / median above this: the timing note says the spread is large. */
#define SB_SPREAD_LARGE 1.5

typedef struct sb_timed_run {
    int warmup;        /* uncounted runs before the counted ones (0..)    */
    int repeats;       /* counted runs (1..)                              */
    int n_warmed;      /* out: warm-up runs done (0: latency not measured) */
    int n_timed;       /* out: counted latencies in lat_ns                 */
    double *lat_ns;    /* out (caller's, `repeats` long): counted latencies */
} sb_timed_run;

/* Run one image: when the first run's latency is measured, `warmup` runs
 * (the first included) are discarded and `repeats` counted; `m` gets the
 * metrics of the counted run with the median latency. Otherwise the first
 * run is the result (n_warmed = n_timed = 0). */
int sb_run_timed(const sb_backend_plugin *be, void *prog, const int8_t *in, int8_t *logits, sb_timed_run *t,
                 sb_metrics *m, sb_error *err);

/* {"warmup", "repeats", "n_timed", "latency_ms_p5", "latency_ms_median",
 * "latency_ms_p95", "p95_over_median", "note"} over the finite values of
 * lat_ns; NULL (JSON null) when none were timed. */
struct cJSON *sb_timing_json(int warmup, int repeats, const double *lat_ns, size_t n);

/* Adds "load_avg" ([1, 5, 15 min] or null) and "cpu_governor" (the
 * scaling_governor of the CPUs, "mixed: a, b" or "unavailable") to `env`. */
void sb_host_state_json(struct cJSON *env);

#endif /* SB_TIMED_H */
