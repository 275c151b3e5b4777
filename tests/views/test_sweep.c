/* test_sweep.c - Pareto and budget marking of a sweep, and every point
 * (the optimum and the front included) against a single sb_sim_analyze. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sb_sweep.h"
/* the SRAM area's test helpers: a small EfficientNet-like graph and the
 * preset reader */
#include "../sram/sr_graph.h"
#include "../sram/sr_opts.h"

static void test_mark(void **state) {
    /* latency (ms), energy (mJ): (1,5) (2,3) (3,4) (4,1) infeasible (0,0) */
    const double lat[] = {1, 2, 3, 4, 0}, en[] = {5, 3, 4, 1, 0};
    double acc[2] = {0.9, 0.5};
    sb_sweep_point pts[5];
    sb_sweep s;
    int i;
    (void)state;
    memset(&s, 0, sizeof s);
    memset(pts, 0, sizeof pts);
    for (i = 0; i < 5; i++) {
        pts[i].latency_ns = lat[i] * 1e6;
        pts[i].energy_pj = en[i] * 1e9;
        pts[i].model = i == 3; /* the cheapest design runs the less accurate model */
    }
    pts[4].rc = SB_ECAPACITY; /* must not sit on any front though (0,0) */
    s.pts = pts, s.n_pts = 5, s.accuracy = acc, s.n_models = 2;
    assert_int_equal(sb_sweep_mark(&s, 3.5, 4.5), 3);
    assert_int_equal(pts[0].pareto_le, 1), assert_int_equal(pts[1].pareto_le, 1);
    assert_int_equal(pts[2].pareto_le, 0), assert_int_equal(pts[3].pareto_le, 1);
    assert_int_equal(pts[4].pareto_le, 0);
    /* budget: latency <= 3.5 ms and energy <= 4.5 mJ */
    assert_int_equal(pts[0].meets, 0), assert_int_equal(pts[1].meets, 1);
    assert_int_equal(pts[2].meets, 1), assert_int_equal(pts[3].meets, 0);
    assert_int_equal(pts[4].meets, 0);
    /* accuracy-energy: (1-0.9, 3) beats (0.1, 4) and (0.1, 5); (0.5, 1) stays */
    assert_int_equal(pts[1].pareto_ae, 1), assert_int_equal(pts[3].pareto_ae, 1);
    assert_int_equal(pts[0].pareto_ae, 0), assert_int_equal(pts[2].pareto_ae, 0);
    /* no budget: everything feasible meets it */
    sb_sweep_mark(&s, NAN, NAN);
    for (i = 0; i < 4; i++) assert_int_equal(pts[i].meets, 1);
}

/* A sweep of 4 points of one random network on the sram256 preset; the
 * caller fills the points' hardware. */
typedef struct fixture {
    sr_graph g;
    sr_opts o;
    const sb_graph *graphs[1];
    const char *names[1];
    double acc[1];
    sb_sweep_extmem ext[1];
    sb_sweep_point pts[4];
    sb_sweep s;
} fixture;

static void fixture_init(fixture *f) {
    sb_error err = {0};
    memset(f, 0, sizeof *f);
    sr_random_net(&f->g, 16);
    f->graphs[0] = &f->g.g;
    f->names[0] = "net";
    f->acc[0] = NAN;
    assert_int_equal(sr_load_preset(&f->o, SB_VIEWS_FIXTURE "/../../../backends/sram/sram256.toml"), 0);
    assert_int_equal(sb_sim_hw_from_options(&f->o.o, &f->s.base, &err), 0);
    f->ext[0].flash = f->s.base.flash, f->ext[0].psram = f->s.base.psram;
    f->s.graphs = f->graphs, f->s.model_names = f->names, f->s.accuracy = f->acc, f->s.n_models = 1;
    f->s.extmem = f->ext, f->s.n_extmem = 1, f->s.pts = f->pts, f->s.n_pts = 4, f->s.workers = 2;
    for (int i = 0; i < 4; i++) f->pts[i].rf_bytes = f->s.base.rf_bytes;
}

/* Every point the sweep reports, the optimum and the front included, is a
 * single run of its own hardware: sb_sim_analyze of sb_sweep_hw, here on
 * this thread (the sweep ran on the pool), value for value. The points
 * differ only in MACs per cycle, clock and register file within one memory
 * configuration: a sweep that scheduled one of them and re-costed the
 * others (the old default) fails here. */
static void test_exact(void **state) {
    static fixture f;
    sb_sweep_point *pts = f.pts;
    sb_sweep *sw = &f.s;
    sb_error err = {0};
    int i, best = -1;
    (void)state;
    fixture_init(&f);
    for (i = 0; i < 4; i++) {
        pts[i].capacity_bytes = 1024, pts[i].word_bits = 16, pts[i].ports = 1;
        pts[i].rf_bytes = i == 2 ? 32 : 64;
        pts[i].macs_per_cycle = i < 2 ? 1 : 64;
        pts[i].clock_mhz = i == 1 ? 1 : 100;
    }
    assert_int_equal(sb_sweep_run(sw, &err), 0);
    assert_true(sb_sweep_mark(sw, NAN, NAN) >= 1);
    assert_int_equal(sw->n_scheduled, 4);
    for (i = 0; i < 4; i++) {
        sb_sim_hw hw;
        sb_sim_report rep;
        assert_int_equal(pts[i].rc, 0);
        sb_sweep_hw(sw, &pts[i], &hw);
        assert_int_equal(hw.rf_bytes, pts[i].rf_bytes);
        assert_int_equal(sb_sim_analyze(&hw, f.graphs[0], &rep, &err), 0);
        if (pts[i].latency_ns != rep.latency_ns || pts[i].energy_pj != rep.energy_pj)
            fail_msg("point %d%s: sweep %.17g ns %.17g pJ, single run %.17g ns %.17g pJ", i,
                     pts[i].pareto_le ? " (on the front)" : "", pts[i].latency_ns, pts[i].energy_pj, rep.latency_ns,
                     rep.energy_pj);
        assert_true(pts[i].avg_power_mw == rep.avg_power_mw);
        assert_true(pts[i].bound_latency_ns == rep.bounds.latency_ns);
        assert_true(pts[i].bound_energy_pj == rep.bounds.energy_pj);
        assert_int_equal(pts[i].sram_peak_bytes, rep.sram_peak_bytes);
        assert_true(pts[i].bound_latency_ns > 0 && pts[i].latency_ns >= pts[i].bound_latency_ns &&
                    pts[i].energy_pj >= pts[i].bound_energy_pj);
        if (best < 0 || pts[i].energy_pj < pts[best].energy_pj) best = i;
        sb_sim_report_free(&rep);
    }
    assert_int_equal(pts[best].pareto_le, 1); /* the least energy is on the front */
    for (i = 0; i < 4; i++) free(pts[i].error);
    sr_free(&f.g);
}

/* A point whose hardware the sram backend would refuse gets no figures:
 * infeasible with the rule it breaks, whatever the caller put in it. */
static void test_refused_hardware(void **state) {
    static fixture f;
    sb_sweep_point *pts = f.pts;
    sb_error err = {0};
    static const char *why[4] = {NULL, "sram.word_bits = 12: expected 8, 16, 32 or 64",
                                 "sram.ports = 7: expected 1 (1RW) or 2", "whole number of 32-bit words"};
    (void)state;
    fixture_init(&f);
    for (int i = 0; i < 4; i++) {
        pts[i].capacity_bytes = i == 3 ? 1026 : 1024, pts[i].word_bits = i == 1 ? 12 : i == 3 ? 32 : 16;
        pts[i].ports = i == 2 ? 7 : 1, pts[i].macs_per_cycle = 4, pts[i].clock_mhz = 100;
    }
    assert_int_equal(sb_sweep_run(&f.s, &err), 0);
    assert_int_equal(pts[0].rc, 0);
    assert_true(pts[0].latency_ns > 0);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(pts[i].rc, SB_EINVAL);
        assert_true(isnan(pts[i].latency_ns) && isnan(pts[i].energy_pj));
        if (!pts[i].error || !strstr(pts[i].error, why[i])) fail_msg("point %d: '%s' lacks '%s'", i, pts[i].error, why[i]);
    }
    for (int i = 0; i < 4; i++) free(pts[i].error);
    sr_free(&f.g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_mark), cmocka_unit_test(test_exact),
                                       cmocka_unit_test(test_refused_hardware)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
