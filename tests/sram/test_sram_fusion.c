/*
 * test_sram_fusion.c - scheduler.fusion (docs/sram-model.md sections 4, 7):
 *   - fusion = none reproduces the figures of the code before fusion;
 *   - every fusion mode: logits bit-identical to the CPU reference, executed
 *     counts == closed forms, nothing below a bound, on the shipped tiny
 *     models and on random layers and chains;
 *   - elementwise: fused consumers' PSRAM traffic disappears and the
 *     objective never gets worse.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sb_model_file.h"
#include "sr_check.h"

#ifndef SRAM_DIR
#define SRAM_DIR "backends/sram"
#endif

typedef struct golden {
    const char *model, *preset;
    double lat_ns, e_pj, b_lat_ns, b_e_pj, c_lat_ns, c_e_pj, ext_bytes;
} golden;

static const golden goldens[] = {
#include "sr_golden_none.h"
    {NULL, NULL, 0, 0, 0, 0, 0, 0, 0}};

static const char *models[] = {"tests/fuzz/corpus/sbm/tiny_fixed.sbm", "tests/fuzz/corpus/sbm/tiny_float.sbm",
                               "plugins/models/tiny/tiny.sbm", NULL};
static const char *presets[] = {"sram256.toml", "sram1k.toml", NULL};

static void hw_preset(const char *name, const char *fusion, sb_sim_hw *hw) {
    sr_opts p;
    char path[512];
    sb_error err = {0};
    snprintf(path, sizeof path, "%s/%s", SRAM_DIR, name);
    if (sr_load_preset(&p, path)) fail_msg("cannot read %s", path);
    if (fusion) sr_set(&p, "scheduler.fusion", SB_OPT_STRING, 0, fusion);
    if (sb_sim_hw_from_options(&p.o, hw, &err)) fail_msg("options: %s", err.msg);
}

static sb_model_file *load_model(const char *rel) {
    char path[1024];
    sb_model_file *mf = NULL;
    sb_error err = {0};
    snprintf(path, sizeof path, "%s/%s", SRC_ROOT, rel);
    if (sb_model_file_load(path, &mf, &err)) fail_msg("%s: %s", path, err.msg);
    return mf;
}

static double ext_bytes(const sb_sim_report *r) {
    double e = 0;
    for (int k = 0; k < SB_SIM_NCLASS; k++) e += (double)(r->total.ext_rd_bytes[k] + r->total.ext_wr_bytes[k]);
    return e;
}

/* fusion = none: the figures of the code before fusion, exactly. */
static void test_none_is_today(void **state) {
    (void)state;
    int print = getenv("SB_PRINT_GOLDEN") != NULL, n = 0;
    for (int m = 0; models[m]; m++) {
        sb_model_file *mf = load_model(models[m]);
        const sb_graph *g = sb_model_file_graph(mf);
        for (int q = 0; presets[q]; q++) {
            sb_sim_hw hw;
            sb_sim_report r;
            sb_error err = {0};
            hw_preset(presets[q], "none", &hw);
            if (sb_sim_analyze(&hw, g, &r, &err)) fail_msg("%s", err.msg);
            const sb_sim_bounds *B = &r.bounds;
            double f[7] = {r.latency_ns, r.energy_pj, B->latency_ns, B->energy_pj, B->comp_latency_ns,
                           B->comp_energy_pj, ext_bytes(&r)};
            if (print) {
                printf("    {\"%s\", \"%s\"", models[m], presets[q]);
                for (int i = 0; i < 7; i++) printf(", %a", f[i]);
                printf("},\n");
            }
            for (const golden *G = goldens; !print && G->model; G++) {
                if (strcmp(G->model, models[m]) || strcmp(G->preset, presets[q])) continue;
                double want[7] = {G->lat_ns, G->e_pj, G->b_lat_ns, G->b_e_pj, G->c_lat_ns, G->c_e_pj, G->ext_bytes};
                for (int i = 0; i < 7; i++)
                    if (f[i] != want[i]) fail_msg("%s on %s: figure %d is %.17g, before fusion %.17g", models[m], presets[q], i, f[i], want[i]);
                n++;
            }
            sb_sim_report_free(&r);
        }
        sb_model_file_free(mf);
    }
    if (!print) assert_int_equal(n, 6);
}

static int hw_is_1k(const char *preset) { return !strcmp(preset, "sram1k.toml"); }

static int n_fused(const sb_sim_report *r) {
    int n = 0;
    for (int i = 0; i < r->n_layers; i++) n += r->layers[i].fused;
    return n;
}

static double objective_sum(const sb_sim_report *r) {
    double o = 0;
    for (int i = 0; i < r->n_layers; i++) {
        const sb_sim_layer *L = &r->layers[i];
        switch (r->hw.objective) {
        case SB_SIM_OBJ_LATENCY: o += L->latency_ns + 1e-9 * L->energy_pj; break;
        case SB_SIM_OBJ_EDP: o += L->latency_ns * L->energy_pj; break;
        default: o += L->energy_pj + 1e-9 * L->latency_ns; break;
        }
    }
    return o;
}

/* A fused consumer has no traffic of its own; its producer's schedule says
 * how many it took, and they are the chain sb_fuse_chain names. */
static void check_fused_layers(const sb_sim_hw *hw, const sb_graph *g, const sb_sim_report *r) {
    for (int i = 0; i < r->n_layers; i++) {
        const sb_sim_layer *L = &r->layers[i];
        int chain[SB_SIM_FUSE_MAX], n = sb_fuse_chain(hw, g, i, chain);
        assert_true(L->s.nfuse <= n);
        for (int f = 0; f < L->s.nfuse; f++) {
            const sb_sim_layer *C = &r->layers[chain[f]];
            assert_int_equal(C->fused, 1);
            assert_int_equal(C->fused_into, i);
            sb_sim_counts zero;
            memset(&zero, 0, sizeof zero);
            assert_true(sb_sim_counts_equal(&C->c, &zero));
            assert_true(C->energy_pj == 0 && C->latency_ns == 0);
        }
        if (L->s.pro) {
            int m = sb_fuse_input(hw, g, i);
            assert_true(m >= 0);
            assert_int_equal(r->layers[m].fused, 1);
            assert_int_equal(r->layers[m].fused_into, i);
        }
        if (L->fused) {
            const sb_sim_layer *P = &r->layers[L->fused_into];
            assert_true(P->s.nfuse > 0 || P->s.pro);
        }
        if (hw->fusion == SB_SIM_FUSION_NONE) {
            assert_int_equal(L->fused, 0);
            assert_int_equal(L->s.nfuse, 0);
            assert_int_equal(L->s.pro, 0);
        }
    }
}

/* The shipped tiny models on both presets, each fusion mode: logits ==
 * the CPU backend's, counts == closed forms, nothing below a bound; with
 * elementwise fusion some ops fuse, the PSRAM traffic and the objective
 * drop, and the figures are never worse than without. */
/* Overlap on the test models (docs/sram-model.md section 6): with double
 * buffering off and on, the executor's counted latency equals the closed
 * form's on every layer (sr_check_timing), nothing falls below a bound, and
 * allowing double buffering makes the whole network faster, never slower. */
static void test_models_overlap(void **state) {
    (void)state;
    sr_seed = 2027;
    for (int m = 0; models[m]; m++) {
        sb_model_file *mf = load_model(models[m]);
        const sb_graph *g = sb_model_file_graph(mf);
        for (int q = 0; presets[q]; q++) {
            double lat[2];
            int n_db = 0;
            for (int db = 0; db < 2; db++) {
                sr_opts p;
                sb_sim_hw hw;
                sb_sim_report r;
                sb_error err = {0};
                char path[512];
                snprintf(path, sizeof path, "%s/%s", SRAM_DIR, presets[q]);
                if (sr_load_preset(&p, path)) fail_msg("cannot read %s", path);
                sr_set(&p, "scheduler.double_buffer", SB_OPT_BOOL, db, NULL);
                sr_set(&p, "scheduler.objective", SB_OPT_STRING, 0, "latency");
                if (sb_sim_hw_from_options(&p.o, &hw, &err)) fail_msg("options: %s", err.msg);
                sr_overlap_wins = 0;
                assert_int_equal(sr_check_graph(&hw, g, 1), 0);
                assert_true(db || sr_overlap_wins == 0);
                if (sb_sim_analyze(&hw, g, &r, &err)) fail_msg("%s", err.msg);
                lat[db] = r.latency_ns;
                for (int i = 0; i < r.n_layers; i++) n_db += r.layers[i].s.db;
                sb_sim_report_free(&r);
            }
            print_message("%s on %s: %.4g ns single-buffered, %.4g ns with double buffering (%d layers)\n", models[m],
                          presets[q], lat[0], lat[1], n_db);
            /* equal only where the scheduler double-buffers no layer (256 B) */
            assert_true(n_db ? lat[1] < lat[0] : lat[1] == lat[0]);
        }
        sb_model_file_free(mf);
    }
}

static void test_models_fusion_modes(void **state) {
    (void)state;
    sr_seed = 2026;
    for (int m = 0; models[m]; m++) {
        sb_model_file *mf = load_model(models[m]);
        const sb_graph *g = sb_model_file_graph(mf);
        for (int q = 0; presets[q]; q++) {
            sb_sim_report r[2];
            const char *mode[2] = {"none", "elementwise"};
            for (int k = 0; k < 2; k++) {
                sb_sim_hw hw;
                sb_error err = {0};
                hw_preset(presets[q], mode[k], &hw);
                assert_int_equal(sr_check_graph(&hw, g, 1), 0);
                if (sb_sim_analyze(&hw, g, &r[k], &err)) fail_msg("%s", err.msg);
                check_fused_layers(&hw, g, &r[k]);
            }
            print_message("%s on %s: %d ops fused; energy %.4g -> %.4g pJ, latency %.4g -> %.4g ns, external %.0f -> %.0f B\n",
                          models[m], presets[q], n_fused(&r[1]), r[0].energy_pj, r[1].energy_pj, r[0].latency_ns,
                          r[1].latency_ns, ext_bytes(&r[0]), ext_bytes(&r[1]));
            assert_int_equal(n_fused(&r[0]), 0);
            assert_true(objective_sum(&r[1]) <= objective_sum(&r[0]));
            /* 256 B cannot hold a LUT table beside a conv's tile: only the
             * residual add of tiny may fuse there; at 1 kB every lut after
             * a conv or dw does */
            if (hw_is_1k(presets[q]) || n_fused(&r[1]) > 0) {
                assert_true(n_fused(&r[1]) > 0);
                assert_true(ext_bytes(&r[1]) < ext_bytes(&r[0]));
                assert_true(objective_sum(&r[1]) < objective_sum(&r[0]));
            }
            /* the corpus models' only chain is dw -> lut, whose table
             * cannot sit beside a tile in 256 B: nothing may stay on chip,
             * so the bounds are the unfused ones (section 7) */
            if (!hw_is_1k(presets[q]) && m < 2) {
                assert_true(r[1].bounds.latency_ns == r[0].bounds.latency_ns);
                assert_true(r[1].bounds.energy_pj == r[0].bounds.energy_pj);
            }
            /* the default is elementwise */
            sb_sim_hw hw;
            hw_preset(presets[q], NULL, &hw);
            assert_int_equal(hw.fusion, SB_SIM_FUSION_ELEMENTWISE);
            for (int k = 0; k < 2; k++) sb_sim_report_free(&r[k]);
        }
        sb_model_file_free(mf);
    }
}

/* A conv, dw or fc followed by a random chain of lut, add (the other
 * operand on either side), mul by a tensor and mul broadcast by a channel
 * vector; sometimes an intermediate is read twice or the other operand is
 * produced after the producer (neither may fuse there). */
static void random_chain(sr_graph *s) {
    sr_init(s, sr_rand() % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT);
    int H = sr_range(1, 10), W = sr_range(1, 10), C = sr_range(1, 24), OC = sr_range(1, 24);
    int kind = sr_range(0, 2), k = sr_rand() % 2 ? 3 : 1;
    int x = sr_input(s, H, W, C), r, v, y;
    if (kind == 2) {
        r = sr_fc(s, x, OC);
        v = r;
        y = sr_fc(s, x, OC);
    } else {
        r = sr_conv(s, x, OC, 1, 1, 0, 1, 0);
        v = sr_gavg(s, r);
        y = sr_conv(s, r, OC, k, 1, k / 2, 1, kind);
    }
    int late = sr_rand() % 4 == 0 ? sr_lut(s, r) : r; /* produced after y's producer */
    int n = sr_range(1, 5), mid = -1;
    for (int i = 0; i < n; i++) {
        switch (sr_range(0, 4)) {
        case 0: y = sr_lut(s, y); break;
        case 1: y = sr_add(s, y, late); break;
        case 2: y = sr_add(s, late, y); break;
        case 3: y = sr_mul(s, y, kind == 2 ? late : v); break;
        default: y = sr_mul(s, y, late); break;
        }
        if (i == 0) mid = y;
    }
    if (sr_rand() % 4 == 0 && mid != y) y = sr_add(s, y, mid); /* mid read twice */
    if (kind != 2 && sr_rand() % 2) { /* squeeze-excitation: its mul may run in the 1x1 conv's input stage */
        int q = sr_lut(s, sr_conv(s, sr_gavg(s, y), OC, 1, 1, 0, 1, 0));
        y = sr_conv(s, sr_mul(s, y, q), sr_range(1, 24), 1, 1, 0, 1, 0);
        if (sr_rand() % 2) y = sr_lut(s, y);
    }
    sr_finish(s, y);
}

/* Random chains on random hardware: with fusion, counts == closed forms,
 * logits == reference and nothing below a bound (the bound of section 7
 * covers fused schedules); the objective is never worse than without. */
static void test_random_chains(void **state) {
    (void)state;
    int ran = 0, fused = 0, by_order[SB_SIM_NORDER] = {0}, pro_order[SB_SIM_NORDER] = {0};
    sr_seed = 1717;
    for (int it = 0; it < 300; it++) {
        sr_opts p;
        sb_sim_hw hw, hn;
        sr_graph s;
        sb_sim_report r, rn;
        sb_error err = {0};
        sr_random_hw(&p, it % 3 ? 160 : 600);
        /* every loop order carries the fused regions and operand loads */
        const char *ord[4] = {"any", "spatial_outer", "channel_outer", "psum_spill"};
        sr_set(&p, "scheduler.loop_order", SB_OPT_STRING, 0, ord[it % 4]);
        if (sb_sim_hw_from_options(&p.o, &hw, &err)) fail_msg("%s", err.msg);
        random_chain(&s);
        if (sr_check_graph(&hw, &s.g, 1) == SB_ECAPACITY) { sr_free(&s); continue; }
        hn = hw;
        hn.fusion = SB_SIM_FUSION_NONE;
        assert_int_equal(sr_check_graph(&hn, &s.g, 1), 0);
        if (sb_sim_analyze(&hw, &s.g, &r, &err) || sb_sim_analyze(&hn, &s.g, &rn, &err)) fail_msg("%s", err.msg);
        check_fused_layers(&hw, &s.g, &r);
        assert_true(objective_sum(&r) <= objective_sum(&rn) * (1 + 1e-12));
        /* the fusion-aware bound is never above the unfused one */
        assert_true(r.bounds.latency_ns <= rn.bounds.latency_ns * (1 + 1e-12));
        assert_true(r.bounds.energy_pj <= rn.bounds.energy_pj * (1 + 1e-12));
        /* a fused report's bounds under a description without fusion (a
         * sweep re-costing it) stay those of its schedules */
        sb_sim_bounds Bn;
        sb_sim_bounds_of(&hn, &s.g, &r, &Bn);
        if (n_fused(&r)) assert_true(Bn.latency_ns == r.bounds.latency_ns && Bn.energy_pj == r.bounds.energy_pj);
        fused += n_fused(&r);
        for (int i = 0; i < r.n_layers; i++) {
            const sb_sim_layer *L = &r.layers[i];
            if (L->s.nfuse) by_order[L->s.order]++;
            if (L->s.pro) pro_order[L->s.order]++;
        }
        ran++;
        sb_sim_report_free(&r);
        sb_sim_report_free(&rn);
        sr_free(&s);
    }
    print_message("random chains: %d checked, %d ops fused; fused producers by loop order %d / %d / %d; "
                  "fused input muls %d / %d / %d\n", ran, fused, by_order[0], by_order[1], by_order[2], pro_order[0],
                  pro_order[1], pro_order[2]);
    assert_true(ran > 200);
    assert_true(fused > 150);
    for (int o = 0; o < SB_SIM_NORDER; o++) assert_true(by_order[o] >= 10);
    for (int o = 0; o < SB_SIM_NORDER; o++) assert_true(pro_order[o] >= 5);
}

/* A squeeze-excitation product over a large tensor, read by a 1x1 conv:
 * fused into the conv's input stage, its product never leaves the chip, and
 * the bound must not count it out and back in (section 7). */
static void test_input_mul_bound(void **state) {
    (void)state;
    sr_seed = 606;
    for (int q = 0; presets[q]; q++) {
        sr_graph s;
        sb_sim_hw hw;
        sb_sim_report r;
        sb_error err = {0};
        sr_init(&s, SB_REQUANT_FIXED);
        int x = sr_input(&s, 24, 24, 16);
        int e = sr_lut(&s, sr_conv(&s, x, 16, 1, 1, 0, 1, 0));
        int v = sr_lut(&s, sr_conv(&s, sr_gavg(&s, e), 16, 1, 1, 0, 1, 0));
        sr_finish(&s, sr_conv(&s, sr_mul(&s, e, v), 8, 1, 1, 0, 1, 0));
        hw_preset(presets[q], "elementwise", &hw);
        assert_int_equal(sr_check_graph(&hw, &s.g, 1), 0);
        if (sb_sim_analyze(&hw, &s.g, &r, &err)) fail_msg("%s", err.msg);
        check_fused_layers(&hw, &s.g, &r);
        const sb_sim_layer *L = &r.layers[s.g.n_ops - 1];
        print_message("%s: input mul fused %d; latency %.4g ns, bound %.4g ns (compulsory %.4g)\n", presets[q], L->s.pro,
                      r.latency_ns, r.bounds.latency_ns, r.bounds.comp_latency_ns);
        assert_int_equal(L->s.pro, 1);
        sb_sim_report_free(&r);
        sr_free(&s);
    }
}

/* The option: its values, its default, its message. */
static void test_fusion_option(void **state) {
    (void)state;
    sr_opts p;
    sb_sim_hw hw;
    sb_error err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/sram256.toml", SRAM_DIR);
    if (sr_load_preset(&p, path)) fail_msg("cannot read %s", path);
    sr_set(&p, "scheduler.fusion", SB_OPT_STRING, 0, "depth_first");
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "'scheduler.fusion' = \"depth_first\": expected elementwise or none"));
    sr_set(&p, "scheduler.fusion", SB_OPT_STRING, 0, "none");
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), 0);
    assert_int_equal(hw.fusion, SB_SIM_FUSION_NONE);
    int documented = 0;
    for (const sb_option_spec *o = sb_sim_option_spec; o->name; o++) documented |= !strcmp(o->name, "scheduler.fusion");
    assert_true(documented);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_is_today),
        cmocka_unit_test(test_fusion_option),
        cmocka_unit_test(test_models_fusion_modes),
        cmocka_unit_test(test_models_overlap),
        cmocka_unit_test(test_random_chains),
        cmocka_unit_test(test_input_mul_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
