/*
 * sram-vs-cpu: wall time of the simulated SRAM backend against the CPU
 * backend's kernels for the same model, side by side in one process, with
 * the simulated figures and bounds of the configuration.
 *
 *   sram-vs-cpu MODEL.sbm PRESET.toml [IMAGES]
 *
 * Both paths run the same random images (fixed seed) and must give the same
 * logits; the ratio printed is simulated wall time / CPU wall time. Each
 * scheduler.fusion mode (none, elementwise) is simulated in turn, and a
 * table puts their figures side by side (docs/sram-model.md section 8).
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

/* The figures of one fusion mode, for the side-by-side table. */
typedef struct mode_figs {
    double lat_ns, e_pj, ext[SB_SIM_NCLASS], bound_comp_ns, bound_hk_ns, bound_compute_ns, bound_e_pj;
    int fused, same, counted;
} mode_figs;

static int run_mode(const sb_graph *g, sr_opts *p, const char *preset, const char *fusion, int n, mode_figs *F) {
    sb_error err = {0};
    sb_sim_hw hw;
    sb_sim_report rep;
    sr_set(p, "scheduler.fusion", SB_OPT_STRING, 0, fusion);
    if (sb_sim_hw_from_options(&p->o, &hw, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
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
    if (!cnt || !x || !ys || !yc) { fprintf(stderr, "out of memory\n"); return 1; }
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
    memset(F, 0, sizeof *F);
    for (int l = 0; l < rep.n_layers; l++) F->fused += rep.layers[l].fused;
    printf("\n== scheduler.fusion = %s: model %s, preset %s, %d images (same random inputs on both); %d ops fused\n",
           fusion, g->name, preset, n, F->fused);
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
    for (int k = 0; k < SB_SIM_NCLASS; k++) F->ext[k] = (double)(rep.total.ext_rd_bytes[k] + rep.total.ext_wr_bytes[k]);
    F->lat_ns = rep.latency_ns;
    F->e_pj = rep.energy_pj;
    F->bound_comp_ns = B->comp_latency_ns;
    F->bound_hk_ns = B->hk_latency_ns;
    F->bound_compute_ns = B->compute_ns;
    F->bound_e_pj = B->energy_pj;
    F->same = same;
    F->counted = counted;
    sb_workspace_free(ws);
    sb_sim_report_free(&rep);
    free(x); free(ys); free(yc); free(cnt);
    return 0;
}

static double sum_ext(const mode_figs *F) { return F->ext[0] + F->ext[1] + F->ext[2] + F->ext[3]; }

/* Markdown, ready for docs/sram-model.md section 8. */
static void side_by_side(const mode_figs *F, const char *const *names) {
    printf("\n| fusion | ops fused | latency | energy | ext. traffic (weights / inputs / outputs / partial sums) |"
           " latency / compulsory, Hong-Kung, compute bound | energy / bound | logits = cpu, counts = closed form |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int m = 0; m < 2; m++) {
        const mode_figs *f = &F[m];
        printf("| %s | %d | %.2f ms | %.3f mJ | %.2f MB (%.2f / %.2f / %.2f / %.2f) | %.2f, %.2f, %.2f | %.2f | %s, %s |\n",
               names[m], f->fused, f->lat_ns * 1e-6, f->e_pj * 1e-9, sum_ext(f) * 1e-6, f->ext[SB_SIM_W] * 1e-6,
               f->ext[SB_SIM_IN] * 1e-6, f->ext[SB_SIM_OUT] * 1e-6, f->ext[SB_SIM_PSUM] * 1e-6,
               f->lat_ns / f->bound_comp_ns, f->bound_hk_ns > 0 ? f->lat_ns / f->bound_hk_ns : 0,
               f->bound_compute_ns > 0 ? f->lat_ns / f->bound_compute_ns : 0, f->e_pj / f->bound_e_pj,
               f->same ? "yes" : "NO", f->counted ? "yes" : "NO");
    }
    printf("\nelementwise / none: latency %.3f, energy %.3f, external traffic %.3f\n", F[1].lat_ns / F[0].lat_ns,
           F[1].e_pj / F[0].e_pj, sum_ext(&F[1]) / sum_ext(&F[0]));
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.sbm PRESET.toml [IMAGES]\n", argv[0]);
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 3;
    sb_error err = {0};
    sb_model_file *mf = NULL;
    sr_opts p;
    static const char *const modes[2] = {"none", "elementwise"};
    mode_figs F[2];
    if (sb_model_file_load(argv[1], &mf, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    const sb_graph *g = sb_model_file_graph(mf);
    if (sr_load_preset(&p, argv[2])) { fprintf(stderr, "%s: cannot read\n", argv[2]); return 1; }
    for (int m = 0; m < 2; m++)
        if (run_mode(g, &p, argv[2], modes[m], n, &F[m])) return 1;
    side_by_side(F, modes);
    sb_model_file_free(mf);
    return F[0].same && F[0].counted && F[1].same && F[1].counted ? 0 : 1;
}
