/*
 * sb_gpu.h - what the GPU backend plugin exports besides sb_plugin_entry,
 * for the standalone check program (gpu-run) only: a timed loop over whole
 * batches with the NVML energy of that loop. The framework never needs it
 * (it calls run() per image), so it lives outside the plugin ABI. gpu-run
 * finds it with dlsym(plugin, SB_GPU_BENCH_SYMBOL).
 */
#ifndef SB_GPU_H
#define SB_GPU_H

#include "sb_plugin.h"

#define SB_GPU_BENCH_SYMBOL "sb_gpu_bench"

typedef enum {
    SB_GPU_ENERGY_NONE = 0,      /* no NVML: energy unavailable            */
    SB_GPU_ENERGY_COUNTER = 1,   /* nvmlDeviceGetTotalEnergyConsumption    */
    SB_GPU_ENERGY_POWER = 2      /* integral of nvmlDeviceGetPowerUsage    */
} sb_gpu_energy_source;

typedef struct sb_gpu_bench_result {
    int batch;                   /* images per launch of the graph          */
    int iterations;              /* batches timed for latency               */
    double batch_ns_min, batch_ns_median, batch_ns_mean; /* CUDA events, kernels only */
    double wall_ns;              /* host clock over the whole timed loop    */
    double img_per_s;            /* batch * iterations / wall time           */
    sb_gpu_energy_source energy_source;
    double energy_mj;            /* board energy over the sampling window    */
    double energy_power_mj;      /* power samples integrated (trapezoid)    */
    double energy_counter_mj;    /* counter delta, -1 when not supported    */
    double mean_power_mw;        /* energy_mj / the sampling window          */
    double idle_power_mw;        /* measured in prepare(), before any work  */
    double energy_per_img_mj;    /* mean power x loop time / images          */
    double energy_above_idle_per_img_mj; /* (mean - idle power) x loop time / images */
    int n_power_samples;
    char note[256];              /* why energy is unavailable, if it is     */
} sb_gpu_bench_result;

/* After 3 warm-up batches, on the input already uploaded by the last run():
 * (1) latency: `iterations` batches timed one by one by CUDA events (fewer,
 *     at least 3, once min_wall_s has passed);
 * (2) throughput and energy: batches queued back to back (synchronised every
 *     8) for at least min_wall_s, with NVML sampled every 10 ms. */
typedef int (*sb_gpu_bench_fn)(void *prog, int iterations, double min_wall_s,
                               sb_gpu_bench_result *res, sb_error *err);

#endif /* SB_GPU_H */
