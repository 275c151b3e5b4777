/*
 * sram-vs-cpu: wall time of the simulated SRAM backend against the CPU
 * backend's kernels for the same model, side by side in one process, with
 * the simulated figures and bounds of the configuration.
 *
 *   sram-vs-cpu MODEL.sbm PRESET.toml [IMAGES]
 *
 * Both paths run the same random images (fixed seed) and must give the same
 * logits; the ratio printed is simulated wall time / CPU wall time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb_kernels.h"
#include "sb_model_file.h"
#include "sb_sim.h"
#include "sr_opts.h"

static double clk(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now_s(void) { return clk(CLOCK_MONOTONIC); }
/* CPU time of this thread: the machine is shared, wall time is noisy. */
static double cpu_s(void) { return clk(CLOCK_THREAD_CPUTIME_ID); }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.sbm PRESET.toml [IMAGES]\n", argv[0]);
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 3;
    sb_error err = {0};
    sb_model_file *mf = NULL;
    sr_opts p;
    sb_sim_hw hw;
    sb_sim_report rep;
    if (sb_model_file_load(argv[1], &mf, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    const sb_graph *g = sb_model_file_graph(mf);
    if (sr_load_preset(&p, argv[2])) { fprintf(stderr, "%s: cannot read\n", argv[2]); return 1; }
    if (sb_sim_hw_from_options(&p.o, &hw, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double t0 = now_s();
    if (sb_sim_analyze(&hw, g, &rep, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double t_prep = now_s() - t0;
    int64_t nin = sb_tensor_elems(&g->tensors[g->input]), nout = sb_tensor_elems(&g->tensors[g->output]);
    int8_t *x = malloc((size_t)nin), *ys = malloc((size_t)nout), *yc = malloc((size_t)nout);
    sb_workspace *ws = NULL;
    if (sb_workspace_new(g, &ws, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double t_sim = 0, t_cpu = 0, c_sim = 0, c_cpu = 0, c0;
    int same = 1, counted = 1;
    sb_sim_counts *cnt = calloc((size_t)g->n_ops, sizeof *cnt);
    if (!cnt) { fprintf(stderr, "out of memory\n"); return 1; }
    srand(1);
    for (int i = 0; i < n; i++) {
        for (int64_t k = 0; k < nin; k++) x[k] = (int8_t)(rand() % 256 - 128);
        t0 = now_s(); c0 = cpu_s();
        if (sb_graph_run_int8(g, ws, x, yc, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        t_cpu += now_s() - t0; c_cpu += cpu_s() - c0;
        t0 = now_s(); c0 = cpu_s();
        if (sb_sim_execute(&rep, g, x, ys, cnt, NULL, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        t_sim += now_s() - t0; c_sim += cpu_s() - c0;
        for (int l = 0; l < g->n_ops; l++) counted &= sb_sim_counts_equal(&cnt[l], &rep.layers[l].c);
        same &= memcmp(ys, yc, (size_t)nout) == 0;
    }
    const sb_sim_bounds *B = &rep.bounds;
    printf("model %s, preset %s, %d images (same random inputs on both)\n", g->name, argv[2], n);
    printf("wall: simulated %.3f s/image, cpu %.4f s/image, ratio sim/cpu %.1f; schedule+analysis %.3f s once\n",
           t_sim / n, t_cpu / n, t_sim / t_cpu, t_prep);
    printf("cpu time: simulated %.3f s/image, cpu backend kernels %.4f s/image, ratio %.1f\n",
           c_sim / n, c_cpu / n, c_sim / c_cpu);
    printf("logits identical: %s; executed counts == closed form on all %d layers: %s\n", same ? "yes" : "NO",
           g->n_ops, counted ? "yes" : "NO");
    printf("simulated: latency %.3f ms (compute %.3f, sram port stalls %.3f, dma %.3f), energy %.3f mJ, avg power %.2f mW\n",
           rep.latency_ns * 1e-6, rep.compute_ns * 1e-6, rep.memory_ns * 1e-6, rep.dma_ns * 1e-6,
           rep.energy_pj * 1e-9, rep.avg_power_mw);
    printf("energy: sram %.3f mJ, external %.3f mJ, mac %.3f mJ, requantisation %.3f mJ, regfile %.3f mJ, leakage %.4f mJ, "
           "idle clock %.3f mJ\n",
           rep.e_sram_pj * 1e-9, rep.e_ext_pj * 1e-9, rep.e_mac_pj * 1e-9, rep.e_rq_pj * 1e-9, rep.e_reg_pj * 1e-9, rep.e_leak_pj * 1e-9,
           rep.e_idle_pj * 1e-9);
    int64_t ext = 0, srd = 0, swr = 0;
    for (int k = 0; k < SB_SIM_NCLASS; k++) {
        ext += rep.total.ext_rd_bytes[k] + rep.total.ext_wr_bytes[k];
        srd += rep.total.sram_rd_words[k]; swr += rep.total.sram_wr_words[k];
    }
    printf("counts: macs %lld, external %.2f MB (weights %.2f MB, partial sums %.2f MB), sram words read %lld written %lld\n",
           (long long)rep.total.macs, ext * 1e-6, rep.total.ext_rd_bytes[SB_SIM_W] * 1e-6,
           (rep.total.ext_rd_bytes[SB_SIM_PSUM] + rep.total.ext_wr_bytes[SB_SIM_PSUM]) * 1e-6, (long long)srd, (long long)swr);
    printf("bounds: compulsory %.3f ms (port %.3f, external %.3f; %.2f MB flash + %.2f MB psram), Hong-Kung %.3f ms (%.2f MB), compute %.3f ms\n",
           B->comp_latency_ns * 1e-6, B->comp_port_ns * 1e-6, B->comp_ext_ns * 1e-6, B->comp_flash_bytes * 1e-6,
           B->comp_psram_bytes * 1e-6, B->hk_latency_ns * 1e-6, B->hk_ext_bytes * 1e-6, B->compute_ns * 1e-6);
    printf("ratios: latency / compulsory %.2f, / Hong-Kung %.2f, / compute %.2f; energy / bound %.2f\n",
           rep.latency_ns / B->comp_latency_ns, B->hk_latency_ns > 0 ? rep.latency_ns / B->hk_latency_ns : 0,
           B->compute_ns > 0 ? rep.latency_ns / B->compute_ns : 0, rep.energy_pj / B->energy_pj);
    sb_workspace_free(ws);
    sb_sim_report_free(&rep);
    sb_model_file_free(mf);
    free(x); free(ys); free(yc); free(cnt);
    return same && counted ? 0 : 1;
}
