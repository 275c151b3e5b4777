/*
 * test_sram.c - the SRAM simulator (backends/sim) on random layers, random
 * hardware and the two presets:
 *   - executed counts == closed-form counts, layer by layer;
 *   - logits bit-identical to sb_graph_run_int8 (the CPU reference);
 *   - latency and energy never below the lower bounds;
 *   - SB_ECAPACITY names the layer and the smallest capacity, which works;
 *   - option errors name the key; the presets are complete and sourced.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sr_check.h"

#ifndef SRAM_DIR
#define SRAM_DIR "backends/sram"
#endif

static void hw_of(sr_opts *p, sb_sim_hw *hw) {
    sb_error err = {0};
    int rc = sb_sim_hw_from_options(&p->o, hw, &err);
    if (rc) fail_msg("options: %s", err.msg);
}

/* Every op type, many shapes, many hardware descriptions. */
static void test_random_layers(void **state) {
    (void)state;
    int ran = 0, skipped = 0;
    sr_seed = 12345;
    for (int it = 0; it < 400; it++) {
        sr_opts p;
        sb_sim_hw hw;
        sr_graph s;
        sr_random_hw(&p, it % 3 ? 160 : 600);
        hw_of(&p, &hw);
        sr_random_op(&s, it);
        if (sr_check_graph(&hw, &s.g, 1) == SB_ECAPACITY) skipped++;
        else ran++;
        sr_free(&s);
    }
    print_message("random layers: %d checked, %d did not fit\n", ran, skipped);
    assert_true(ran > 300);
}

static void test_random_nets(void **state) {
    (void)state;
    sr_seed = 777;
    int ran = 0;
    for (int it = 0; it < 24; it++) {
        sr_opts p;
        sb_sim_hw hw;
        sr_graph s;
        sr_random_hw(&p, 400);
        sr_set(&p, "scheduler.fusion", SB_OPT_STRING, 0, it % 2 ? "none" : "elementwise");
        hw_of(&p, &hw);
        sr_random_net(&s, sr_range(5, 20));
        if (sr_check_graph(&hw, &s.g, 1) == 0) ran++;
        sr_free(&s);
    }
    assert_true(ran > 15);
}

/* Each loop order forced alone (scheduler.loop_order), so that the
 * psum-spill order is executed and counted even where the scheduler would
 * not choose it: counts == closed form, bit-exact logits, bounds hold, and
 * on conv/fc layers with several reduction chunks the partial sums really
 * make PSRAM round trips (both ways, equal bytes). */
static void test_forced_orders(void **state) {
    (void)state;
    const char *ord[3] = {"spatial_outer", "channel_outer", "psum_spill"};
    sr_seed = 9001;
    int spilled = 0, ran = 0;
    for (int it = 0; it < 240; it++) {
        sr_opts p;
        sb_sim_hw hw;
        sr_graph s;
        sr_random_hw(&p, it % 2 ? 96 : 400);
        int o = it % 3;
        sr_set(&p, "scheduler.loop_order", SB_OPT_STRING, 0, ord[o]);
        hw_of(&p, &hw);
        assert_int_equal(hw.only_order, 1 + o);
        if (it % 8 == 7) sr_random_net(&s, sr_range(5, 12));
        else sr_random_op(&s, it % 4 == 1 ? 2 : 0); /* conv, fc */
        sb_sim_report rep;
        sb_error err = {0};
        int rc = sb_sim_analyze(&hw, &s.g, &rep, &err);
        if (rc == 0) {
            for (int i = 0; i < rep.n_layers; i++) {
                const sb_sim_layer *L = &rep.layers[i];
                if (L->fused) continue; /* computed in its producer's output stage */
                if (L->s.kind <= SB_SIM_K_POOL) assert_int_equal(L->s.order, o);
                int64_t rd = L->c.ext_rd_bytes[SB_SIM_PSUM], wr = L->c.ext_wr_bytes[SB_SIM_PSUM];
                assert_int_equal(rd, wr);
                if (rd > 0) { assert_int_equal(o, 2); assert_int_equal(L->s.kind, SB_SIM_K_CONV); }
                if (o == 2 && L->s.kind == SB_SIM_K_CONV && rd > 0) spilled++;
            }
            sb_sim_report_free(&rep);
        } else if (rc != SB_ECAPACITY) fail_msg("analyze: %s", err.msg);
        if (sr_check_graph(&hw, &s.g, 1) == 0) ran++;
        sr_free(&s);
    }
    print_message("forced orders: %d graphs checked, %d conv/fc layers with spilled partial sums\n", ran, spilled);
    assert_true(ran > 150);
    assert_true(spilled >= 20);
}

static double objective_of(const sb_sim_hw *hw, const sb_sim_layer *L) {
    switch (hw->objective) {
    case SB_SIM_OBJ_LATENCY: return L->latency_ns + 1e-9 * L->energy_pj;
    case SB_SIM_OBJ_EDP: return L->latency_ns * L->energy_pj;
    default: return L->energy_pj + 1e-9 * L->latency_ns;
    }
}

/* The scheduler searches a candidate grid and refines by descent (it must
 * stay fast at any capacity); against every integer tile of small convs it
 * may lose a little, never much (measured: none on these 40). Also: it is never better than the best
 * schedule that exists (that would be a counting bug). */
static void test_search_vs_brute_force(void **state) {
    (void)state;
    sr_seed = 4242;
    double worst = 1, sum = 0;
    int n = 0, n_spill_best = 0, n_spill_got = 0;
    for (int it = 0; it < 40; it++) {
        sr_opts p;
        sb_sim_hw hw;
        sr_graph s;
        sb_sim_report rep;
        sb_error err = {0};
        sb_geom G;
        sr_random_hw(&p, it % 2 ? 96 : 400);
        hw_of(&p, &hw);
        sr_random_op(&s, it % 2 ? 0 : 1); /* conv, dwconv */
        if (sb_sim_analyze(&hw, &s.g, &rep, &err)) { sr_free(&s); continue; }
        if (sb_geom_of(&hw, &s.g, &s.g.ops[0], &G, &err)) fail_msg("%s", err.msg);
        double best = INFINITY;
        sb_sim_sched bs;
        memset(&bs, 0, sizeof bs);
        int conv = G.kind == SB_SIM_K_CONV;
        for (int tc = 1; tc <= G.OC; tc++)
        for (int tk = 1; tk <= (conv ? G.C : 1); tk++)
        for (int x = 0; x < 2 * SB_SIM_NORDER; x++) {
            sb_sim_layer L;
            memset(&L, 0, sizeof L);
            L.s.kind = G.kind; L.s.tc = tc; L.s.tk = conv ? tk : tc; L.s.db = x & 1; L.s.order = x >> 1;
            if (L.s.db > hw.double_buffer || (!conv && L.s.order == SB_SIM_ORDER_PSUM_SPILL)) continue;
            L.s.r = sb_rf_group(&hw, &G, L.s.tc, L.s.tk);
            if (L.s.r < 1) continue;
            for (L.s.th = 1; L.s.th <= G.OH; L.s.th++)
                for (L.s.tw = 1; L.s.tw <= G.OW; L.s.tw++) {
                    L.s.sram_bytes = sb_sched_bytes(&G, &L.s);
                    if (L.s.sram_bytes > hw.capacity_bytes) break;
                    if (!sb_sched_valid(&G, &L.s)) continue;
                    sb_analyze_op(&G, &L.s, &L.c);
                    sb_sim_layer_cost(&hw, &L);
                    double o = objective_of(&hw, &L);
                    if (o < best) { best = o; bs = L.s; }
                }
        }
        double got = objective_of(&hw, &rep.layers[0]);
        assert_true(got >= best * (1 - 1e-12));
        if (got / best > 1.01) {
            const sb_sim_sched *a = &rep.layers[0].s;
            print_message("layer %d (kind %d, %dx%dx%d -> %dx%dx%d, cap %lld B): ratio %.4f; chosen th%d tw%d tc%d tk%d db%d order%d, best th%d tw%d tc%d tk%d db%d order%d\n",
                          it, G.kind, G.H, G.W, G.C, G.OH, G.OW, G.OC, (long long)hw.capacity_bytes, got / best,
                          a->th, a->tw, a->tc, a->tk, a->db, a->order, bs.th, bs.tw, bs.tc, bs.tk, bs.db, bs.order);
        }
        if (got / best > worst) worst = got / best;
        n_spill_best += bs.order == SB_SIM_ORDER_PSUM_SPILL && bs.tk < G.C;
        n_spill_got += rep.layers[0].s.order == SB_SIM_ORDER_PSUM_SPILL && rep.layers[0].s.tk < G.C;
        sum += got / best;
        n++;
        sb_sim_report_free(&rep);
        sr_free(&s);
    }
    print_message("search vs every integer tile: %d layers, mean ratio %.4f, worst %.4f; psum spill best on %d, chosen on %d\n",
                  n, sum / n, worst, n_spill_best, n_spill_got);
    assert_true(n >= 20);
    assert_true(worst <= 1.02);
}

static void load_preset(sr_opts *p, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SRAM_DIR, name);
    if (sr_load_preset(p, path)) fail_msg("cannot read %s", path);
}

/* The presets: complete, sourced, and the networks run on them. */
static void test_presets(void **state) {
    (void)state;
    const char *names[2] = {"sram256.toml", "sram1k.toml"};
    for (int i = 0; i < 2; i++) {
        sr_opts p;
        sb_sim_hw hw;
        load_preset(&p, names[i]);
        hw_of(&p, &hw);
        /* every figure of the spec present in the preset has a non-empty source */
        for (const sb_option_spec *s = sb_sim_option_spec; s->name; s++) {
            if (!(s->flags & SB_OPT_SOURCED) || !sb_opt_find(&p.o, s->name)) continue;
            char k[128];
            snprintf(k, sizeof k, "%s_source", s->name);
            const char *src = sb_opt_str(&p.o, k, "");
            if (strlen(src) < 12) fail_msg("%s: %s has no real source ('%s')", names[i], s->name, src);
        }
        sr_seed = 99 + (uint64_t)i;
        for (int it = 0; it < 6; it++) {
            sr_graph s;
            sr_random_net(&s, 16 + 8 * it);
            assert_int_equal(sr_check_graph(&hw, &s.g, 1), 0);
            sr_free(&s);
        }
        for (int it = 0; it < 60; it++) {
            sr_graph s;
            sr_random_op(&s, it);
            assert_int_equal(sr_check_graph(&hw, &s.g, 1), 0);
            sr_free(&s);
        }
    }
    /* the figures the issue fixes */
    sr_opts p;
    sb_sim_hw hw;
    load_preset(&p, "sram256.toml");
    hw_of(&p, &hw);
    assert_int_equal(hw.capacity_bytes, 256);
    assert_int_equal(hw.word_bits, 16);
    assert_int_equal(hw.ports, 1);
    assert_true(fabs(hw.period_ns - 10.0) < 1e-9);
    load_preset(&p, "sram1k.toml");
    hw_of(&p, &hw);
    assert_int_equal(hw.capacity_bytes, 1024);
    assert_int_equal(hw.word_bits, 32);
    assert_int_equal(hw.ports, 2);
    assert_true(fabs(hw.period_ns - 6.875) < 1e-9);
    /* power x period: (2.39 + 2.21) / 2 mW x 6.875 ns */
    assert_true(fabs(hw.read_pj - 2.30 * 6.875) < 0.01);
    assert_true(fabs(hw.leakage_uw - 0.91) < 1e-9);
}

/* A layer that cannot fit: the error names it and the smallest capacity,
 * and that capacity works. */
static void test_capacity_error(void **state) {
    (void)state;
    sr_seed = 4242;
    sr_graph s;
    sr_init(&s, SB_REQUANT_FIXED);
    int x = sr_input(&s, 9, 9, 16);
    int y = sr_conv(&s, x, 12, 3, 1, 1, 1, 0);
    sr_finish(&s, sr_conv(&s, y, 8, 5, 1, 2, 1, 0));
    sr_opts p;
    sb_sim_hw hw;
    sr_random_hw(&p, 64);
    sr_num(&p, "sram.word_bits", SB_OPT_INT, 8);
    sr_num(&p, "regfile.bytes", SB_OPT_INT, 128);
    int64_t lo = 1, hi = 4096, needed = -1;
    for (int64_t cap = 8; cap <= 200; cap++) {
        sr_num(&p, "sram.capacity_bytes", SB_OPT_INT, (double)cap);
        sr_num(&p, "sram.words", SB_OPT_INT, (double)cap);
        hw_of(&p, &hw);
        sb_sim_report rep;
        sb_error err = {0};
        int rc = sb_sim_analyze(&hw, &s.g, &rep, &err);
        if (rc == 0) { needed = cap; sb_sim_report_free(&rep); break; }
        assert_int_equal(rc, SB_ECAPACITY);
        assert_non_null(strstr(err.msg, "layer 'op"));
        const char *q = strstr(err.msg, "smallest capacity that works is ");
        assert_non_null(q);
        long long claimed = atoll(q + strlen("smallest capacity that works is "));
        if (claimed > lo) lo = claimed;
        (void)hi;
    }
    assert_true(needed > 0);
    assert_int_equal(needed, lo); /* the claimed smallest capacity is the one that works */
    sr_free(&s);
}

static void test_option_errors(void **state) {
    (void)state;
    sr_opts p;
    sb_sim_hw hw;
    sb_error err = {0};
    load_preset(&p, "sram256.toml");
    sr_set(&p, "sram.words", SB_OPT_INT, 100, NULL);
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "sram.capacity_bytes"));
    load_preset(&p, "sram256.toml");
    sr_set(&p, "mac.energy_pj_source", SB_OPT_STRING, 0, "");
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "mac.energy_pj_source"));
    load_preset(&p, "sram256.toml");
    sr_set(&p, "scheduler.objective", SB_OPT_STRING, 0, "speed");
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "scheduler.objective"));
    load_preset(&p, "sram256.toml");
    sr_num(&p, "sram.period_ns", SB_OPT_FLOAT, 10);
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "exactly one"));
    /* the macro's fastest clock: 145.45 MHz passes (1000 / 6.875 rounds), 146 does not */
    load_preset(&p, "sram256.toml");
    sr_set(&p, "sram.clock_mhz", SB_OPT_FLOAT, 1000.0 / 6.875, NULL);
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), 0);
    sr_set(&p, "sram.clock_mhz", SB_OPT_FLOAT, 146, NULL);
    assert_int_equal(sb_sim_hw_from_options(&p.o, &hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "'sram.clock_mhz' = 146"));
    assert_non_null(strstr(err.msg, "sram.min_period_ns"));
}

/* Every number has an upper bound, checked as written before the cast to
 * its field: no wrapped value in a message, no inf energy reported as a
 * figure; every range message names the file:line of the key. */
static void expect_refused(sr_opts *p, const char *key, const char *value, const char *expected) {
    sb_sim_hw hw;
    sb_error err = {0};
    char want[256];
    const sb_option *o = sb_opt_find(&p->o, key);
    assert_non_null(o);
    assert_int_equal(sb_sim_hw_from_options(&p->o, &hw, &err), SB_EINVAL);
    snprintf(want, sizeof want, "%s:%d: '%s' = %s: expected %s", o->file, o->line, key, value, expected);
    if (!strstr(err.msg, want)) fail_msg("'%s' lacks '%s'", err.msg, want);
}

static void test_option_bounds(void **state) {
    (void)state;
    sr_opts p;
    static const struct {
        const char *key;
        sb_opt_type type;
        double f;
        int64_t i;
        const char *value, *expected;
    } bad[] = {
        {"sram.capacity_bytes", SB_OPT_INT, 0, INT64_MAX, "9223372036854775807", "an integer in 1..1099511627776"},
        {"sram.capacity_bytes", SB_OPT_INT, 0, ((int64_t)1 << 40) + 1, "1099511627777", "an integer in 1.."},
        {"sram.words", SB_OPT_INT, 0, INT64_MAX, "9223372036854775807", "an integer in 1..1099511627776"},
        {"regfile.bytes", SB_OPT_INT, 0, INT64_MAX, "9223372036854775807", "an integer in 1..1024"},
        {"sram.word_bits", SB_OPT_INT, 0, (int64_t)1 << 31, "2147483648", "8, 16, 32 or 64"},
        {"sram.word_bits", SB_OPT_INT, 0, 12, "12", "8, 16, 32 or 64"},
        {"sram.ports", SB_OPT_INT, 0, 1000000, "1000000", "1 (1RW) or 2 (1RW+1R)"},
        {"mac.macs_per_cycle", SB_OPT_INT, 0, INT64_MAX, "9223372036854775807", "an integer in 1..1048576"},
        {"flash.burst_bytes", SB_OPT_INT, 0, INT64_MAX, "9223372036854775807", "an integer in 1..4294967296"},
        {"sram.read_energy_pj", SB_OPT_FLOAT, 1e308, 0, "1e+308", "a number in 0..1e+06 (pJ)"},
        {"sram.write_energy_pj", SB_OPT_FLOAT, 1e7, 0, "1e+07", "a number in 0..1e+06 (pJ)"},
        {"regfile.read_energy_pj", SB_OPT_FLOAT, 1e308, 0, "1e+308", "a number in 0..1e+06 (pJ)"},
        {"sram.leakage_uw", SB_OPT_FLOAT, 1e300, 0, "1e+300", "a number in 0..1e+09 (uW)"},
        {"mac.energy_pj", SB_OPT_FLOAT, NAN, 0, "nan", "a number in 0..1e+06 (pJ)"},
        {"psram.write_energy_pj_per_byte", SB_OPT_FLOAT, 1e308, 0, "1e+308", "a number in 0..1e+06 (pJ/B)"},
        {"flash.bandwidth_mbytes_per_s", SB_OPT_FLOAT, INFINITY, 0, "inf", "a number in 1e-06..1e+09"},
        {"sram.clock_mhz", SB_OPT_FLOAT, 1e300, 0, "1e+300", "a number in 1e-06..1e+06 (MHz)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        load_preset(&p, "sram1k.toml");
        sr_set(&p, bad[k].key, bad[k].type, bad[k].f, NULL);
        for (size_t i = 0; i < p.o.n; i++) /* exact, where a double would round */
            if (!strcmp(p.it[i].key, bad[k].key) && bad[k].type == SB_OPT_INT) p.it[i].i = bad[k].i;
        expect_refused(&p, bad[k].key, bad[k].value, bad[k].expected);
    }
    /* the string choices name their line too */
    load_preset(&p, "sram1k.toml");
    sr_set(&p, "scheduler.objective", SB_OPT_STRING, 0, "speed");
    expect_refused(&p, "scheduler.objective", "\"speed\"", "energy, latency or edp");
    load_preset(&p, "sram1k.toml");
    sr_set(&p, "scheduler.loop_order", SB_OPT_STRING, 0, "sideways");
    expect_refused(&p, "scheduler.loop_order", "\"sideways\"", "any, spatial_outer");
    /* the bounds themselves pass: 64 words of 64 bit, 1024 B of register file */
    sb_sim_hw hw;
    sb_error err = {0};
    load_preset(&p, "sram1k.toml");
    sr_set(&p, "sram.word_bits", SB_OPT_INT, 64, NULL);
    sr_set(&p, "sram.words", SB_OPT_INT, 128, NULL);
    sr_set(&p, "regfile.bytes", SB_OPT_INT, 1024, NULL);
    sr_set(&p, "sram.read_energy_pj", SB_OPT_FLOAT, 1e6, NULL);
    if (sb_sim_hw_from_options(&p.o, &hw, &err)) fail_msg("%s", err.msg);
    /* a description filled in code (a sweep's point) is held to the same rules */
    assert_int_equal(sb_sim_hw_check(&hw, &err), 0);
    hw.word_bits = 12;
    assert_int_equal(sb_sim_hw_check(&hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "sram.word_bits = 12: expected 8, 16, 32 or 64"));
    hw.word_bits = 64, hw.capacity_bytes = 1028;
    assert_int_equal(sb_sim_hw_check(&hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "whole number of 64-bit words"));
    hw.capacity_bytes = 1024, hw.ports = 7;
    assert_int_equal(sb_sim_hw_check(&hw, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "sram.ports = 7"));
    const char *exp;
    assert_int_equal(sb_sim_check_value("sram.capacity_bytes", 300.7, &exp), SB_EINVAL);
    assert_non_null(strstr(exp, "an integer"));
    assert_int_equal(sb_sim_check_value("sram.capacity_bytes", 300, &exp), 0);
}

/* Tiling and fusion never change a result, whatever the objective,
 * buffering and fusion mode. */
static void test_objectives_same_logits(void **state) {
    (void)state;
    const char *obj[3] = {"energy", "latency", "edp"}, *fusion[2] = {"none", "elementwise"};
    sr_seed = 31337;
    sr_graph s;
    sr_random_net(&s, 18);
    for (int o = 0; o < 3; o++)
        for (int db = 0; db < 2; db++)
            for (int f = 0; f < 2; f++) {
                sr_opts p;
                sb_sim_hw hw;
                load_preset(&p, o == 1 ? "sram1k.toml" : "sram256.toml");
                sr_set(&p, "scheduler.objective", SB_OPT_STRING, 0, obj[o]);
                sr_set(&p, "scheduler.double_buffer", SB_OPT_BOOL, db, NULL);
                sr_set(&p, "scheduler.fusion", SB_OPT_STRING, 0, fusion[f]);
                hw_of(&p, &hw);
                assert_int_equal(hw.fusion, f);
                assert_int_equal(sr_check_graph(&hw, &s.g, 1), 0);
            }
    sr_free(&s);
}

/* The compulsory bound of one fc layer, by hand: the graph input (I bytes)
 * and every constant byte (O x I weights + 3 x 4 x O parameters) come in
 * once and are read once; the O logits are written once and go out once. */
static void test_bounds_golden(void **state) {
    (void)state;
    sr_seed = 5;
    sr_graph s;
    sr_init(&s, SB_REQUANT_FIXED);
    int I = 40, O = 7;
    int x = sr_input(&s, 1, 1, I);
    sr_finish(&s, sr_fc(&s, x, O));
    sr_opts p;
    sb_sim_hw hw;

    {
        char path[512];
        snprintf(path, sizeof path, "%s/sram256.toml", SRAM_DIR);
        if (sr_load_preset(&p, path)) fail_msg("cannot read %s", path);
    }
    hw_of(&p, &hw);
    sb_sim_report rep;
    sb_error err = {0};
    if (sb_sim_analyze(&hw, &s.g, &rep, &err)) fail_msg("%s", err.msg);
    double wbytes = O * I + 12.0 * O, wb = 2;
    double rd = (wbytes + I) / wb + O / wb, wr = O / wb + (wbytes + I) / wb;
    assert_true(fabs(rep.bounds.comp_flash_bytes - wbytes) < 1e-9);
    assert_true(fabs(rep.bounds.comp_psram_bytes - (I + O)) < 1e-9);
    assert_true(fabs(rep.bounds.comp_port_rd_words - rd) < 1e-9);
    assert_true(fabs(rep.bounds.comp_port_wr_words - wr) < 1e-9);
    assert_true(fabs(rep.bounds.comp_port_ns - (rd + wr) * 10.0) < 1e-6); /* one port, 10 ns */
    double ext_ns = wbytes / 40e-3 + (I + O) / 52e-3;                  /* 40 and 52 MB/s */
    assert_true(fabs(rep.bounds.comp_ext_ns - ext_ns) < 1e-6);
    /* a zero-point correction per output and reduction chunk (element ops),
     * a requantisation per output; the bound keeps only the latter */
    const sb_sim_layer *L = &rep.layers[0];
    int64_t nk = (I + L->s.tk - 1) / L->s.tk;
    assert_int_equal(L->c.macs, I * O);
    assert_int_equal(L->c.ops, O * nk);
    assert_int_equal(L->c.requants, O);
    assert_true(fabs(L->e_rq_pj - O * 36.0) < 1e-9); /* mac.requant_energy_pj of the preset */
    assert_true(fabs(rep.bounds.compute_ns - ceil((I * O + O) / 4.0) * 10.0) < 1e-6);
    assert_true(rep.bounds.hk_ext_bytes == 0); /* 280 MACs fit one segment */
    assert_true(rep.latency_ns >= rep.bounds.latency_ns);
    sb_sim_report_free(&rep);
    sr_free(&s);

}

/* Layer k of a group's report equals sb_sim_analyze's, value for value:
 * schedule (nfuse and pro included), counts, figures, fused_into. */
static void check_layer_equal(const sb_sim_layer *a, const sb_sim_layer *b) {
    assert_int_equal(a->op_index, b->op_index);
    assert_int_equal(a->fused, b->fused);
    assert_int_equal(a->fused_into, b->fused_into);
    assert_memory_equal(&a->s, &b->s, sizeof a->s);
    assert_true(sb_sim_counts_equal(&a->c, &b->c));
    assert_true(a->params == b->params);
    assert_true(a->latency_ns == b->latency_ns && a->serial_ns == b->serial_ns);
    assert_true(a->energy_pj == b->energy_pj && a->e_leak_pj == b->e_leak_pj);
    assert_int_equal(a->critical, b->critical);
}

/* Analyses descriptions 0..n-1 of hw as one group (with scratch t, or
 * none) and checks each report against sb_sim_analyze of its description
 * alone (a description that does not fit: the same error); the last must
 * be refused when `refused`. Returns how many layers some description
 * fused into another producer than the first feasible one did (so that
 * whether an input mul was still free differed between them). */
static int check_group(const sb_sim_hw *hw, int n, const sb_graph *g, sb_sim_scratch *t, int refused) {
    sb_sim_report rep[8], one;
    sb_error err[8];
    int rc[8], moved = 0, first = -1;
    assert_true(n <= 8);
    memset(err, 0, sizeof err);
    assert_int_equal(sb_sim_analyze_group(hw, n, g, t, rep, rc, err), 0);
    if (refused) {
        assert_int_equal(rc[n - 1], SB_EINVAL);
        assert_non_null(strstr(err[n - 1].msg, "another memory configuration"));
        n--;
    }
    for (int k = 0; k < n; k++) {
        sb_error e1 = {0};
        assert_int_equal(rc[k], sb_sim_analyze(&hw[k], g, &one, &e1));
        if (rc[k]) continue;
        if (first < 0) first = k;
        assert_int_equal(rep[k].n_layers, one.n_layers);
        for (int i = 0; i < one.n_layers; i++) {
            const sb_sim_layer *L = &rep[k].layers[i], *F = &rep[first].layers[i];
            check_layer_equal(L, &one.layers[i]);
            moved += L->fused && F->fused && L->fused_into != F->fused_into;
        }
        assert_true(rep[k].latency_ns == one.latency_ns && rep[k].energy_pj == one.energy_pj);
        assert_true(rep[k].bounds.latency_ns == one.bounds.latency_ns);
        assert_true(rep[k].bounds.energy_pj == one.bounds.energy_pj);
        sb_sim_report_free(&one);
    }
    for (int k = 0; k < n; k++)
        if (rc[k] == 0) sb_sim_report_free(&rep[k]);
    return moved;
}

/* The descriptions of a group: hw[0] and n-1 that differ from it in MACs,
 * clock, ports, costs and objective, not in memory. */
static void vary_hw(sb_sim_hw *hw, int n) {
    for (int k = 1; k < n; k++) {
        hw[k] = hw[0];
        hw[k].macs_per_cycle = (int64_t)1 << sr_range(0, 6);
        hw[k].period_ns = 1e3 / sr_range(1, 145);
        hw[k].ports = sr_range(1, 2);
        hw[k].leakage_uw *= sr_range(1, 1000);
        hw[k].read_pj *= sr_range(1, 4);
        hw[k].mac_pj *= sr_range(1, 4);
        hw[k].objective = sr_range(0, 2);
        hw[k].psram.bandwidth_mbytes_per_s *= 0.1 * sr_range(1, 40);
        hw[k].psram.write_pj_per_byte *= 0.1 * sr_range(1, 40);
        hw[k].flash.burst_setup_ns *= 0.1 * sr_range(1, 40);
    }
}

/* sb_sim_analyze_group: descriptions of one memory configuration that
 * differ in MACs, clock, ports, costs and objective each get exactly
 * sb_sim_analyze's report (schedules, counts, figures), whichever comes
 * first in the group and with a scratch reused across calls; one of another
 * memory configuration is refused. */
static void test_analyze_group(void **state) {
    (void)state;
    sr_seed = 4242;
    sb_sim_scratch *t = sb_sim_scratch_new();
    assert_non_null(t);
    for (int it = 0; it < 4; it++) {
        enum { N = 6 };
        sr_graph s;
        sr_opts p;
        sb_sim_hw hw[N];
        sr_random_net(&s, sr_range(8, 20));
        load_preset(&p, it % 2 ? "sram1k.toml" : "sram256.toml");
        hw_of(&p, &hw[0]);
        vary_hw(hw, N);
        hw[N - 1].capacity_bytes *= 2; /* another memory configuration */
        check_group(hw, N, &s.g, it % 2 ? t : NULL, 1);
        sr_free(&s);
    }
    sb_sim_scratch_free(t);
}

/* A broadcast mul that two producers can take: the dwconv before it in its
 * output stage, or the 1x1 conv after it in its input stage. Which one
 * does depends on the costs, so the descriptions of a group differ in
 * whether the mul is still free when the 1x1 conv's turn comes. */
static void mul_between(sr_graph *s, int size) {
    sr_init(s, sr_rand() % 2 ? SB_REQUANT_FIXED : SB_REQUANT_FLOAT);
    int x = sr_input(s, size, size, 8);
    int a = sr_lut(s, sr_conv(s, x, 16, 3, 1, 1, 1, 0));
    int v = sr_gavg(s, a);
    int b = sr_conv(s, a, 0, 3, 1, 1, 1, 1);
    int c = sr_mul(s, b, v);
    int d = sr_lut(s, sr_conv(s, c, sr_range(8, 24), 1, 1, 0, 1, 0));
    sr_finish(s, sr_fc(s, sr_gavg(s, d), 5));
}

/* The same with scheduler.fusion = elementwise: the fused variants'
 * tried schedules are shared between the descriptions too, and each
 * description still chooses its own variants (fused layers, fused_into,
 * nfuse and pro as sb_sim_analyze's). */
static void test_analyze_group_fusion(void **state) {
    (void)state;
    sr_seed = 1818;
    sb_sim_scratch *t = sb_sim_scratch_new();
    int moved = 0, fused = 0, pro = 0;
    assert_non_null(t);
    for (int it = 0; it < 30; it++) {
        enum { N = 7 };
        sr_graph s;
        sr_opts p;
        sb_sim_hw hw[N];
        if (it % 3) { /* random memories: some fit no variant, some only a few */
            mul_between(&s, sr_range(4, 16));
            sr_random_hw(&p, it % 2 ? 160 : 600);
        } else {
            sr_random_net(&s, sr_range(8, 16));
            load_preset(&p, it % 2 ? "sram1k.toml" : "sram256.toml");
        }
        sr_set(&p, "scheduler.fusion", SB_OPT_STRING, 0, "elementwise");
        sr_set(&p, "scheduler.double_buffer", SB_OPT_BOOL, it % 4 < 2, NULL);
        hw_of(&p, &hw[0]);
        assert_int_equal(hw[0].fusion, SB_SIM_FUSION_ELEMENTWISE);
        vary_hw(hw, N);
        hw[N - 1].fusion = SB_SIM_FUSION_NONE; /* fusion is part of the memory configuration */
        moved += check_group(hw, N, &s.g, it % 2 ? t : NULL, 1);
        sb_sim_report r;
        sb_error e = {0};
        if (sb_sim_analyze(&hw[0], &s.g, &r, &e) == 0) {
            for (int i = 0; i < r.n_layers; i++) {
                fused += r.layers[i].fused;
                pro += r.layers[i].s.pro;
            }
            sb_sim_report_free(&r);
        }
        sr_free(&s);
    }
    sb_sim_scratch_free(t);
    print_message("group with fusion: %d fused layers, %d input muls; %d layers fused into another producer than "
                  "in the group's first description\n", fused, pro, moved);
    assert_true(fused > 0 && pro > 0);
    assert_true(moved > 0); /* each description's own choice of the input mul is exercised */
}

/* The scheduler minimises what it is asked to, layer by layer, over a
 * candidate set that double buffering only enlarges (without fusion, which
 * changes which layers exist: test_sram_fusion compares it). */
static void test_scheduler_objectives(void **state) {
    (void)state;
    sr_seed = 8080;
    for (int it = 0; it < 6; it++) {
        sr_graph s;
        sr_random_net(&s, sr_range(8, 24));
        sb_sim_report r[4];
        const char *obj[2] = {"energy", "latency"};
        for (int k = 0; k < 4; k++) {
            sr_opts p;
            sb_sim_hw hw;
            char path[512];
            sb_error err = {0};
            snprintf(path, sizeof path, "%s/%s", SRAM_DIR, it % 2 ? "sram1k.toml" : "sram256.toml");
            if (sr_load_preset(&p, path)) fail_msg("cannot read %s", path);
            sr_set(&p, "scheduler.objective", SB_OPT_STRING, 0, obj[k % 2]);
            sr_set(&p, "scheduler.double_buffer", SB_OPT_BOOL, k / 2, NULL);
            sr_set(&p, "scheduler.fusion", SB_OPT_STRING, 0, "none");
            hw_of(&p, &hw);
            if (sb_sim_analyze(&hw, &s.g, &r[k], &err)) fail_msg("%s", err.msg);
        }
        for (int i = 0; i < s.g.n_ops; i++) {
            /* energy-optimal has the least energy, latency-optimal the least time */
            assert_true(r[0].layers[i].energy_pj <= r[1].layers[i].energy_pj * (1 + 1e-12));
            assert_true(r[1].layers[i].latency_ns <= r[0].layers[i].latency_ns * (1 + 1e-12));
            /* allowing double buffering never makes the optimum worse */
            assert_true(r[2].layers[i].energy_pj <= r[0].layers[i].energy_pj * (1 + 1e-12));
            assert_true(r[3].layers[i].latency_ns <= r[1].layers[i].latency_ns * (1 + 1e-12));
        }
        for (int k = 0; k < 4; k++) sb_sim_report_free(&r[k]);
        sr_free(&s);
    }
}

/* Overlap (docs/sram-model.md section 6): on random layers and hardware,
 * each buffering forced in turn, the executed counts give the closed form's
 * latency, overlapped <= serial, no layer below a bound, and single-buffered
 * layers serial; double-buffered ones must beat serial on some layers. */
static void test_overlap_random(void **state) {
    (void)state;
    for (int db = 0; db < 2; db++) {
        int ran = 0;
        sr_seed = 4242;
        sr_overlap_wins = 0;
        for (int it = 0; it < 200; it++) {
            sr_opts p;
            sb_sim_hw hw;
            sr_graph s;
            sr_random_hw(&p, it % 3 ? 160 : 600);
            sr_set(&p, "scheduler.double_buffer", SB_OPT_BOOL, db, NULL);
            hw_of(&p, &hw);
            sr_random_op(&s, it);
            ran += sr_check_graph(&hw, &s.g, 1) == 0;
            sr_free(&s);
        }
        print_message("double_buffer %d: %d layers checked, overlapped < serial on %d\n", db, ran, sr_overlap_wins);
        assert_true(ran > 150);
        /* not every layer: where the port or one step's fill sets the time,
         * overlap cannot pay, and the scheduler may keep a layer single-buffered */
        assert_true(db ? sr_overlap_wins > ran / 5 : sr_overlap_wins == 0);
    }
}

/* One fc on sram1k, 64 -> 512: 38 KB of weights and parameters from flash
 * in short runs (1.2 ms) against 30 us of compute and 110 us of port words.
 * Single-buffered the DMA and the datapath take turns; double-buffered the
 * datapath works while the flash streams: strictly less, flash critical. */
static void test_overlap_fc(void **state) {
    (void)state;
    sr_seed = 8;
    double lat[2];
    for (int db = 0; db < 2; db++) {
        sr_graph s;
        sr_opts p;
        sb_sim_hw hw;
        sb_sim_report rep;
        sb_error err = {0};
        sr_init(&s, SB_REQUANT_FIXED);
        sr_fc(&s, sr_input(&s, 1, 1, 64), 512);
        load_preset(&p, "sram1k.toml");
        sr_set(&p, "scheduler.double_buffer", SB_OPT_BOOL, db, NULL);
        sr_set(&p, "scheduler.objective", SB_OPT_STRING, 0, "latency");
        hw_of(&p, &hw);
        assert_int_equal(sr_check_graph(&hw, &s.g, 1), 0);
        if (sb_sim_analyze(&hw, &s.g, &rep, &err)) fail_msg("%s", err.msg);
        const sb_sim_layer *L = &rep.layers[0];
        assert_int_equal(L->s.db, db);
        assert_true(L->c.steps >= 2 && L->compute_ns > 0 && L->ext_ns > 0);
        assert_int_equal(L->critical, SB_SIM_RES_FLASH);
        assert_true(db ? L->latency_ns < L->serial_ns : L->latency_ns == L->serial_ns);
        assert_true(L->latency_ns >= rep.bounds.latency_ns);
        lat[db] = L->latency_ns;
        sb_sim_report_free(&rep);
        sr_free(&s);
    }
    print_message("fc 64 -> 512 on sram1k: %.1f us single-buffered, %.1f us double-buffered\n", lat[0] * 1e-3,
                  lat[1] * 1e-3);
    assert_true(lat[1] < lat[0]);
}

/* The pipeline formula by hand (docs/sram-model.md section 6), 10 ns clock,
 * 1 port, 1 MAC/cycle, flash 40 MB/s (25 ns/B), PSRAM 50 MB/s (20 ns/B).
 * (a) 2 steps, flash-bound: 4000 B of weights (100 us, 50 us a step), 500 B
 * of outputs (10 us), 2000 MACs and 2000 port words (20 us, 10 us a step).
 * Pipeline: fill 50 + max(10, 50) + max(10, 5) + drain 5 = 115 us; serial
 * 110 + 20 = 130 us. (b) 4 steps, port-bound: 20000 port words (200 us)
 * against 400 B of flash (10 us): every slot is the port's, plus the fill;
 * more than serial's 200 us, so the layer takes serial's 200 us. */
static void test_overlap_by_hand(void **state) {
    (void)state;
    sb_sim_hw hw = {0};
    hw.ports = 1;
    hw.period_ns = 10;
    hw.macs_per_cycle = 1;
    hw.flash.bandwidth_mbytes_per_s = 40;
    hw.psram.bandwidth_mbytes_per_s = 50;
    sb_sim_layer L = {0};
    L.s.db = 1;
    L.c.steps = 2;
    L.c.ext_rd_bytes[SB_SIM_W] = 4000;
    L.c.ext_wr_bytes[SB_SIM_OUT] = 500;
    L.c.macs = 2000;
    L.c.sram_rd_words[SB_SIM_W] = 1000;
    L.c.sram_wr_words[SB_SIM_W] = 1000;
    L.c.dma_sram_wr_words = 1000;
    sb_sim_layer_cost(&hw, &L);
    assert_true(fabs(L.latency_ns - 115000) < 1e-6 && fabs(L.serial_ns - 130000) < 1e-6);
    assert_int_equal(L.critical, SB_SIM_RES_FLASH);
    L.s.db = 0;
    sb_sim_layer_cost(&hw, &L);
    assert_true(fabs(L.latency_ns - 130000) < 1e-6);
    sb_sim_layer P = {0};
    P.s.db = 1;
    P.c.steps = 4;
    P.c.ext_rd_bytes[SB_SIM_W] = 400;
    P.c.macs = 100;
    P.c.sram_rd_words[SB_SIM_IN] = 10000;
    P.c.sram_wr_words[SB_SIM_IN] = 10000;
    P.c.dma_sram_wr_words = 10000;
    sb_sim_layer_cost(&hw, &P);
    assert_true(fabs(P.latency_ns - 200000) < 1e-6 && P.latency_ns == P.serial_ns);
    assert_int_equal(P.critical, SB_SIM_RES_PORT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_option_bounds),
        cmocka_unit_test(test_bounds_golden),
        cmocka_unit_test(test_scheduler_objectives),
        cmocka_unit_test(test_analyze_group),
        cmocka_unit_test(test_analyze_group_fusion),
        cmocka_unit_test(test_search_vs_brute_force),
        cmocka_unit_test(test_forced_orders),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_capacity_error),
        cmocka_unit_test(test_objectives_same_logits),
        cmocka_unit_test(test_random_layers),
        cmocka_unit_test(test_random_nets),
        cmocka_unit_test(test_overlap_random),
        cmocka_unit_test(test_overlap_fc),
        cmocka_unit_test(test_overlap_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
