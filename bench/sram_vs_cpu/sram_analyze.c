/*
 * sram-analyze: the analytical path alone, for a model and a preset, at the
 * preset's capacity or at each capacity given (words scale, word width and
 * every per-access cost stay as the preset says). Prints the schedule's
 * figures, its ratio to the largest lower bound, and the CPU time of
 * sb_sim_analyze (the sweep's cost per design point).
 *
 *   sram-analyze MODEL.sbm PRESET.toml [CAPACITY_BYTES...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sb_model_file.h"
#include "sb_sim.h"
#include "sr_opts.h"

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int one(const sb_sim_hw *hw, const sb_graph *g) {
    sb_sim_report rep;
    sb_error err = {0};
    double c0 = cpu_s();
    if (sb_sim_analyze(hw, g, &rep, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double dt = cpu_s() - c0;
    int64_t ext = 0;
    for (int k = 0; k < SB_SIM_NCLASS; k++) ext += rep.total.ext_rd_bytes[k] + rep.total.ext_wr_bytes[k];
    int64_t psum = rep.total.ext_rd_bytes[SB_SIM_PSUM] + rep.total.ext_wr_bytes[SB_SIM_PSUM];
    int spill = 0;
    for (int i = 0; i < rep.n_layers; i++)
        spill += rep.layers[i].s.kind == SB_SIM_K_CONV && rep.layers[i].s.order == SB_SIM_ORDER_PSUM_SPILL &&
                 rep.layers[i].c.ext_rd_bytes[SB_SIM_PSUM] > 0;
    printf("%9lld %12.3f %10.3f %9.2f %9.2f %9.2f %6d %7.2f %7.2f %9.4f\n", (long long)hw->capacity_bytes,
           rep.latency_ns * 1e-6, rep.energy_pj * 1e-9, ext * 1e-6, rep.total.ext_rd_bytes[SB_SIM_W] * 1e-6,
           psum * 1e-6, spill,
           rep.latency_ns / rep.bounds.latency_ns, rep.energy_pj / rep.bounds.energy_pj, dt);
    sb_sim_report_free(&rep);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.sbm PRESET.toml [CAPACITY_BYTES...]\n", argv[0]);
        return 2;
    }
    sb_error err = {0};
    sb_model_file *mf = NULL;
    sr_opts p;
    sb_sim_hw hw;
    if (sb_model_file_load(argv[1], &mf, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    const sb_graph *g = sb_model_file_graph(mf);
    if (sr_load_preset(&p, argv[2])) { fprintf(stderr, "%s: cannot read\n", argv[2]); return 1; }
    if (sb_sim_hw_from_options(&p.o, &hw, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    printf("model %s, preset %s\n%9s %12s %10s %9s %9s %9s %6s %7s %7s %9s\n", g->name, argv[2], "cap_B", "latency_ms",
           "energy_mJ", "ext_MB", "wts_MB", "psum_MB", "spill", "lat/bd", "E/bd", "analyze_s");
    int rc = 0;
    if (argc == 3) rc |= one(&hw, g);
    for (int i = 3; i < argc; i++) {
        hw.capacity_bytes = atoll(argv[i]);
        rc |= one(&hw, g);
    }
    sb_model_file_free(mf);
    return rc;
}
