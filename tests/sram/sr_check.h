/*
 * sr_check.h - one graph through the simulator, checked: executed counts ==
 * closed forms layer by layer, logits == the CPU reference, the schedule
 * within the capacity, and (optionally) nothing below a bound. Include after
 * cmocka.h.
 */
#ifndef SR_CHECK_H
#define SR_CHECK_H

#include <math.h>

#include "sr_graph.h"
#include "sb_sim_int.h"

/* Layers whose overlapped latency is strictly below the serial one (the
 * double-buffered tests count them: overlap must pay somewhere). */
static int sr_overlap_wins;

/* The timing of layer L from the executed counts e: the executor's counted
 * latency equals the closed form's; overlapped <= serial (equal when single-
 * buffered); the critical resource is the one with the most busy time. */
static void sr_check_timing(const sb_sim_hw *hw, const sb_sim_layer *L, const sb_sim_counts *e) {
    sb_sim_layer X = *L;
    X.c = *e;
    sb_sim_layer_cost(hw, &X);
    assert_true(X.latency_ns == L->latency_ns && X.serial_ns == L->serial_ns && X.critical == L->critical);
    assert_true(L->latency_ns <= L->serial_ns);
    if (!L->s.db) assert_true(L->latency_ns == L->serial_ns);
    sr_overlap_wins += L->latency_ns < L->serial_ns;
    double busy[4] = {L->compute_ns, L->port_cycles * hw->period_ns, L->ext_ns, L->ext_ns};
    for (int k = 0; k < 4; k++) assert_true(busy[L->critical] >= busy[k]);
    if (L->critical >= SB_SIM_RES_FLASH)
        assert_true(L->critical == SB_SIM_RES_FLASH ? L->flash_ns >= L->psram_ns : L->psram_ns > L->flash_ns);
    assert_true(fabs(L->flash_ns + L->psram_ns - L->ext_ns) <= 1e-9 * L->ext_ns);
}

/* Runs graph g on hw: analyze, execute, compare counts and logits. Returns
 * SB_ECAPACITY untouched so callers can skip configurations that do not fit. */
static int sr_check_graph(const sb_sim_hw *hw, const sb_graph *g, int check_bounds) {
    sb_sim_report rep;
    sb_error err = {0};
    int rc = sb_sim_analyze(hw, g, &rep, &err);
    if (rc == SB_ECAPACITY) return rc;
    if (rc) fail_msg("analyze: %s", err.msg);
    const sb_tensor *in = &g->tensors[g->input];
    int64_t nin = sb_tensor_elems(in), nout = sb_tensor_elems(&g->tensors[g->output]);
    int8_t *x = malloc((size_t)nin), *y = malloc((size_t)nout), *ref = malloc((size_t)nout);
    for (int64_t i = 0; i < nin; i++) x[i] = (int8_t)sr_range(-128, 127);
    sb_sim_counts *c = calloc((size_t)g->n_ops, sizeof *c);
    rc = sb_sim_execute(&rep, g, x, y, c, NULL, &err);
    if (rc) fail_msg("execute: %s", err.msg);
    for (int i = 0; i < g->n_ops; i++) {
        const sb_sim_counts *a = &rep.layers[i].c, *e = &c[i];
        if (!sb_sim_counts_equal(a, e)) {
            print_error("layer %d kind %d fused %d nfuse %d: tile th%d tw%d tp%d tc%d tk%d r%d tt%d db%d order%d\n", i,
                        rep.layers[i].s.kind, rep.layers[i].fused, rep.layers[i].s.nfuse, rep.layers[i].s.th, rep.layers[i].s.tw, rep.layers[i].s.tp,
                        rep.layers[i].s.tc, rep.layers[i].s.tk, rep.layers[i].s.r, rep.layers[i].s.tt,
                        rep.layers[i].s.db, rep.layers[i].s.order);
            for (int k = 0; k < SB_SIM_NCLASS; k++)
                print_error("  class %d: ext rd %lld/%lld wr %lld/%lld bursts %lld/%lld xfers %lld/%lld sram rd %lld/%lld wr %lld/%lld\n",
                            k, (long long)a->ext_rd_bytes[k], (long long)e->ext_rd_bytes[k],
                            (long long)a->ext_wr_bytes[k], (long long)e->ext_wr_bytes[k],
                            (long long)a->ext_bursts[k], (long long)e->ext_bursts[k],
                            (long long)a->dma_xfers[k], (long long)e->dma_xfers[k],
                            (long long)a->sram_rd_words[k], (long long)e->sram_rd_words[k],
                            (long long)a->sram_wr_words[k], (long long)e->sram_wr_words[k]);
            print_error("  macs %lld/%lld ops %lld/%lld reg %lld/%lld steps %lld/%lld dma rd %lld/%lld wr %lld/%lld\n",
                        (long long)a->macs, (long long)e->macs, (long long)a->ops, (long long)e->ops,
                        (long long)a->reg_reads, (long long)e->reg_reads, (long long)a->steps, (long long)e->steps,
                        (long long)a->dma_sram_rd_words, (long long)e->dma_sram_rd_words,
                        (long long)a->dma_sram_wr_words, (long long)e->dma_sram_wr_words);
            fail_msg("layer %d: executed counts differ from the closed form", i);
        }
        assert_true(rep.layers[i].s.sram_bytes <= hw->capacity_bytes);
        if (!rep.layers[i].fused) sr_check_timing(hw, &rep.layers[i], e);
    }
    sb_workspace *ws = NULL;
    if (sb_workspace_new(g, &ws, &err) || sb_graph_run_int8(g, ws, x, ref, &err)) fail_msg("reference: %s", err.msg);
    sb_workspace_free(ws);
    if (memcmp(y, ref, (size_t)nout)) {
        for (int64_t i = 0; i < nout; i++)
            if (y[i] != ref[i]) fail_msg("logit %lld: simulated %d, reference %d", (long long)i, y[i], ref[i]);
    }
    if (check_bounds) {
        const sb_sim_bounds *B = &rep.bounds;
        /* relative slack for the floating-point sums only */
        double eps = 1e-9;
        if (rep.latency_ns < B->latency_ns * (1 - eps) || rep.energy_pj < B->energy_pj * (1 - eps))
            fail_msg("below a bound: latency %g < %g (comp %g hk %g compute %g) or energy %g < %g",
                     rep.latency_ns, B->latency_ns, B->comp_latency_ns, B->hk_latency_ns, B->compute_ns,
                     rep.energy_pj, B->energy_pj);
        if (!(B->comp_latency_ns > 0 && B->compute_ns >= 0 && B->comp_energy_pj > 0))
            fail_msg("bounds not positive: comp %g compute %g energy %g (op 0 type %d)", B->comp_latency_ns,
                     B->compute_ns, B->comp_energy_pj, g->ops[0].type);
        /* every layer too: its own time covers its port and compute time */
        for (int i = 0; i < rep.n_layers; i++) {
            const sb_sim_layer *L = &rep.layers[i];
            assert_true(L->latency_ns + 1e-6 >= L->port_cycles * hw->period_ns);
            assert_true(L->latency_ns + 1e-6 >= L->compute_cycles * hw->period_ns);
            assert_true(L->latency_ns + 1e-6 >= L->ext_ns);
            assert_true(L->memory_ns >= -1e-6 && L->dma_ns >= -1e-6);
        }
    }
    free(c); free(x); free(y); free(ref);
    sb_sim_report_free(&rep);
    return 0;
}

#endif
