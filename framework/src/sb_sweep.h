/*
 * sb_sweep.h - design-space sweeps on the analytical path of the SRAM
 * simulator (backends/sim/sb_sim.h: sb_sim_analyze, closed forms, no data).
 *
 * A design point is a base hardware description (a preset such as
 * backends/sram/sram256.toml) with some axes changed: SRAM capacity, word
 * width, ports, register-file bytes, MACs per cycle, clock, external
 * memories, and the model. Every point is scheduled for its own hardware
 * (sb_sim_analyze): its figures are exactly those of a single run.
 * Per-event costs follow the preset's own scaling assumptions
 * (docs/views.md): energy per accessed bit and leakage per bit cell carry
 * over, so read/write/idle-clock energy scale with the word width and
 * leakage with the capacity.
 */
#ifndef SB_SWEEP_H
#define SB_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "sb_sim.h"

typedef struct sb_sweep_point {
    /* inputs */
    int model;                 /* index into the sweep's models          */
    int extmem;                /* index into the sweep's external memories */
    int64_t capacity_bytes;
    int word_bits, ports;
    int64_t rf_bytes;          /* register file (regfile.bytes, 1..1024) */
    int64_t macs_per_cycle;
    double clock_mhz;
    /* outputs */
    int rc;                    /* 0, or SB_E* (e.g. SB_ECAPACITY)        */
    char *error;               /* malloc'd, when rc < 0                  */
    double latency_ns, energy_pj, avg_power_mw;
    double bound_latency_ns, bound_energy_pj;
    int64_t sram_peak_bytes;
    unsigned char pareto_le;   /* on the latency-energy front           */
    unsigned char pareto_ae;   /* on the (1 - accuracy)-energy front     */
    unsigned char meets;       /* within the budgets                     */
} sb_sweep_point;

typedef struct sb_sweep_extmem {
    char label[80];
    sb_sim_extmem flash, psram;
} sb_sweep_extmem;

typedef struct sb_sweep {
    sb_sim_hw base;                 /* the preset                          */
    const sb_graph **graphs;        /* models                              */
    const char **model_names;
    double *accuracy;               /* per model, NaN when unknown         */
    int n_models;
    sb_sweep_extmem *extmem;
    int n_extmem;
    sb_sweep_point *pts;
    size_t n_pts;
    double wall_s;                  /* evaluation phase                    */
    int workers;
    size_t n_scheduled;             /* sb_sim_analyze calls made           */
    /* a progress line on stderr (a terminal; not with -q), as `run` has */
    int progress;
    size_t n_done;                  /* points evaluated so far             */
    uint64_t t0_ns, shown_ns;       /* start, last progress line           */
} sb_sweep;

/* The hardware of one point. */
void sb_sweep_hw(const sb_sweep *s, const sb_sweep_point *p, sb_sim_hw *hw);

/* Evaluate every point on the libuv thread pool: each is scheduled for its
 * own hardware (sb_sim_analyze of sb_sweep_hw), so its figures equal a
 * single run's. Adjacent points that differ only in MACs per cycle and
 * clock go to one work item. Returns 0 (points carry their own errors) or
 * SB_E*. */
int sb_sweep_run(sb_sweep *s, sb_error *err);

/* Mark Pareto fronts and budgets (NaN budget: none). Returns the number
 * of points on the latency-energy front. */
long sb_sweep_mark(sb_sweep *s, double latency_budget_ms, double energy_budget_mj);

#endif /* SB_SWEEP_H */
