/* sb_sweep.c - evaluate design points asynchronously (sb_sweep.h). */
#include "sb_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sb_metrics.h"
#include "sb_util.h"

void sb_sweep_hw(const sb_sweep *s, const sb_sweep_point *p, sb_sim_hw *hw) {
    const sb_sim_hw *b = &s->base;
    double wscale = (double)p->word_bits / (double)b->word_bits;
    *hw = *b;
    hw->capacity_bytes = p->capacity_bytes;
    hw->word_bits = p->word_bits;
    hw->ports = p->ports;
    hw->rf_bytes = p->rf_bytes;
    hw->macs_per_cycle = p->macs_per_cycle;
    hw->period_ns = 1e3 / p->clock_mhz;
    /* the presets' assumption: energy per accessed bit and leakage per bit
     * cell carry over to other sizes */
    hw->read_pj = b->read_pj * wscale;
    hw->write_pj = b->write_pj * wscale;
    hw->idle_clock_pj = b->idle_clock_pj * wscale;
    hw->leakage_uw = b->leakage_uw * (double)p->capacity_bytes / (double)b->capacity_bytes;
    hw->flash = s->extmem[p->extmem].flash;
    hw->psram = s->extmem[p->extmem].psram;
}

static void set_result(sb_sweep_point *p, const sb_sim_report *rep) {
    p->latency_ns = rep->latency_ns;
    p->energy_pj = rep->energy_pj;
    p->avg_power_mw = rep->avg_power_mw;
    p->bound_latency_ns = rep->bounds.latency_ns;
    p->bound_energy_pj = rep->bounds.energy_pj;
    p->sram_peak_bytes = rep->sram_peak_bytes;
}

static void set_error(sb_sweep_point *p, int rc, const char *msg) {
    p->rc = rc;
    p->error = strdup(msg);
    p->latency_ns = p->energy_pj = p->avg_power_mw = p->bound_latency_ns = p->bound_energy_pj = NAN;
}

/* Points that differ only in MACs per cycle and clock share their memory
 * configuration: one work item holds them, so that one thread schedules
 * them one after another (the pool balances items of very different cost:
 * the tile search grows with capacity). */
static int same_memory(const sb_sweep_point *a, const sb_sweep_point *b) {
    return a->model == b->model && a->extmem == b->extmem && a->capacity_bytes == b->capacity_bytes &&
           a->word_bits == b->word_bits && a->ports == b->ports && a->rf_bytes == b->rf_bytes;
}

/* The scheduler's buffers, one per worker thread at most: a work item
 * takes one and gives it back (allocating them per item or per op costs
 * page faults and system time). */
typedef struct scratch_pool {
    uv_mutex_t lock;
    sb_sim_scratch **idle;
    size_t n;
} scratch_pool;

static sb_sim_scratch *scratch_take(scratch_pool *p) {
    sb_sim_scratch *t = NULL;
    uv_mutex_lock(&p->lock);
    if (p->n) t = p->idle[--p->n];
    uv_mutex_unlock(&p->lock);
    return t ? t : sb_sim_scratch_new(); /* NULL: the analysis allocates its own */
}

/* The pool has room for every scratch (one per work item at most). */
static void scratch_give(scratch_pool *p, sb_sim_scratch *t) {
    if (!t) return;
    uv_mutex_lock(&p->lock);
    p->idle[p->n++] = t;
    uv_mutex_unlock(&p->lock);
}

typedef struct chunk {
    uv_work_t req;
    sb_sweep *s;
    scratch_pool *pool;
    size_t lo, hi;
    size_t n_scheduled;
} chunk;

/* A clock the macro cannot run is no design point, whatever it would cost. */
static int clock_refused(const sb_sweep *s, sb_sweep_point *p) {
    char msg[160];
    if (!sb_sim_clock_too_fast(&s->base, 1e3 / p->clock_mhz)) return 0;
    snprintf(msg, sizeof msg, "clock %g MHz: faster than sram.min_period_ns = %g (%.4g MHz), the macro's fastest",
             p->clock_mhz, s->base.min_period_ns, 1e3 / s->base.min_period_ns);
    set_error(p, SB_EINVAL, msg);
    return 1;
}

/* A point's hardware, or 0 with the point marked infeasible: a clock the
 * macro cannot run, or hardware the sram backend would refuse (the same
 * rules: a capacity of whole words, the ranges the options take). */
static int point_hw(const sb_sweep *s, sb_sweep_point *p, sb_sim_hw *hw) {
    sb_error err = {0};
    /* a point may be evaluated again (another run of the sweep) */
    free(p->error);
    p->error = NULL;
    p->rc = 0;
    if (clock_refused(s, p)) return 0;
    sb_sweep_hw(s, p, hw);
    if ((p->rc = sb_sim_hw_check(hw, &err)) < 0) {
        set_error(p, p->rc, err.msg);
        return 0;
    }
    return 1;
}

/* The reports of the m analysed points into the points at[0..m). */
static void store_results(sb_sweep *s, const size_t *at, size_t m, sb_sim_report *rep, const int *rc,
                          const sb_error *err) {
    for (size_t k = 0; k < m; k++) {
        sb_sweep_point *p = &s->pts[at[k]];
        if (rc[k] < 0) {
            set_error(p, rc[k], err[k].msg);
            continue;
        }
        set_result(p, &rep[k]);
        sb_sim_report_free(&rep[k]);
    }
}

/* The points of one work item, each scheduled for its own hardware: the
 * figures are those of sb_sim_analyze on sb_sweep_hw(p), value for value
 * (sb_sim_analyze_group shares only the counting of tried schedules). */
static void work_cb(uv_work_t *req) {
    chunk *c = req->data;
    size_t n = c->hi - c->lo, m = 0, k;
    sb_sim_hw *hw = calloc(n, sizeof *hw);
    sb_sim_report *rep = calloc(n, sizeof *rep);
    sb_error *err = calloc(n, sizeof *err);
    size_t *at = calloc(n, sizeof *at);
    int *rc = calloc(n, sizeof *rc);
    for (k = c->lo; k < c->hi; k++) {
        if (hw && rep && err && at && rc) {
            if (point_hw(c->s, &c->s->pts[k], &hw[m])) at[m++] = k;
            continue;
        }
        free(c->s->pts[k].error);
        set_error(&c->s->pts[k], SB_ENOMEM, "sweep: out of memory");
    }
    if (m) {
        sb_sim_scratch *t = scratch_take(c->pool);
        sb_sim_analyze_group(hw, (int)m, c->s->graphs[c->s->pts[c->lo].model], t, rep, rc, err);
        scratch_give(c->pool, t);
        store_results(c->s, at, m, rep, rc, err);
    }
    c->n_scheduled += m;
    free(hw);
    free(rep);
    free(err);
    free(at);
    free(rc);
}

#define SB_SWEEP_PROGRESS_NS 200000000ull /* a terminal line redrawn at most 5 times a second */

/* Points done / total, rate and ETA over one terminal line, redrawn in
 * place; the first and the last are always shown. */
static void show_progress(sb_sweep *s) {
    uint64_t now = sb_now_ns();
    double el_s = (double)(now - s->t0_ns) * 1e-9;
    double rate = el_s > 0 ? (double)s->n_done / el_s : 0;
    double eta_s = rate > 0 ? (double)(s->n_pts - s->n_done) / rate : 0;
    int last = s->n_done == s->n_pts;
    if (!s->progress || (s->shown_ns && !last && now - s->shown_ns < SB_SWEEP_PROGRESS_NS)) return;
    s->shown_ns = now;
    fprintf(stderr, "\r\033[Ksrambench sweep: %zu/%zu points, %.0f points/s, ETA %.0f s", s->n_done, s->n_pts, rate,
            eta_s);
    if (last) fputs("\r\033[K", stderr); /* the summary line takes its place */
}

/* On the loop thread: the points carry their own results; count them. */
static void after_cb(uv_work_t *req, int status) {
    chunk *c = req->data;
    (void)status;
    c->s->n_done += c->hi - c->lo;
    show_progress(c->s);
}

/* One work item per run of points of one memory configuration. */
static size_t make_chunks(sb_sweep *s, scratch_pool *pool, chunk *chunks) {
    size_t n = 0, i, j;
    for (i = 0; i < s->n_pts; i = j) {
        for (j = i + 1; j < s->n_pts && same_memory(&s->pts[i], &s->pts[j]); j++) {}
        chunks[n].s = s;
        chunks[n].pool = pool;
        chunks[n].lo = i;
        chunks[n].hi = j;
        chunks[n].req.data = &chunks[n];
        n++;
    }
    return n;
}

static int run_chunks(sb_sweep *s, chunk *chunks, size_t n_chunks, sb_error *err) {
    uv_loop_t loop;
    uint64_t t0;
    size_t i;
    int rc;
    if ((rc = uv_loop_init(&loop)) != 0) return sb_error_set(err, SB_EIO, "sweep: uv_loop_init: %s", uv_strerror(rc));
    t0 = sb_now_ns();
    s->t0_ns = t0;
    s->n_done = 0;
    s->shown_ns = 0;
    for (i = 0; i < n_chunks && rc == 0; i++) rc = uv_queue_work(&loop, &chunks[i].req, work_cb, after_cb);
    uv_run(&loop, UV_RUN_DEFAULT); /* what was queued finishes either way */
    s->wall_s = (double)(sb_now_ns() - t0) * 1e-9;
    uv_loop_close(&loop);
    if (rc != 0) return sb_error_set(err, SB_EIO, "sweep: uv_queue_work: %s", uv_strerror(rc));
    return 0;
}

int sb_sweep_run(sb_sweep *s, sb_error *err) {
    scratch_pool pool = {0};
    size_t n_chunks, i, cap = s->n_pts ? s->n_pts : 1;
    chunk *chunks = calloc(cap, sizeof *chunks);
    int rc;
    pool.idle = calloc(cap, sizeof *pool.idle);
    if (!chunks || !pool.idle || uv_mutex_init(&pool.lock) != 0) {
        free(chunks);
        free(pool.idle);
        return sb_error_set(err, SB_ENOMEM, "sweep: out of memory for %zu work items", s->n_pts);
    }
    n_chunks = make_chunks(s, &pool, chunks);
    rc = run_chunks(s, chunks, n_chunks, err);
    for (i = 0, s->n_scheduled = 0; i < n_chunks; i++) s->n_scheduled += chunks[i].n_scheduled;
    for (i = 0; i < pool.n; i++) sb_sim_scratch_free(pool.idle[i]);
    uv_mutex_destroy(&pool.lock);
    free(pool.idle);
    free(chunks);
    return rc;
}

long sb_sweep_mark(sb_sweep *s, double latency_budget_ms, double energy_budget_mj) {
    double *x = calloc(s->n_pts + 1, sizeof *x), *y = calloc(s->n_pts + 1, sizeof *y);
    unsigned char *f = malloc(s->n_pts + 1);
    size_t *idx = malloc((s->n_pts + 1) * sizeof *idx), n = 0, i;
    long front = -1;
    if (!x || !y || !f || !idx) goto out;
    /* fronts over the feasible points only */
    for (i = 0; i < s->n_pts; i++) {
        sb_sweep_point *p = &s->pts[i];
        p->pareto_le = p->pareto_ae = 0;
        p->meets = p->rc == 0 && (isnan(latency_budget_ms) || p->latency_ns * 1e-6 <= latency_budget_ms) &&
                   (isnan(energy_budget_mj) || p->energy_pj * 1e-9 <= energy_budget_mj);
        if (p->rc == 0) x[n] = p->latency_ns, y[n] = p->energy_pj, idx[n++] = i;
    }
    front = sb_pareto_min2(x, y, n, f);
    for (i = 0; i < n; i++) s->pts[idx[i]].pareto_le = f[i];
    /* accuracy vs energy: minimise (1 - accuracy, energy) where known */
    n = 0;
    for (i = 0; i < s->n_pts; i++) {
        sb_sweep_point *p = &s->pts[i];
        if (p->rc == 0 && !isnan(s->accuracy[p->model])) x[n] = 1.0 - s->accuracy[p->model], y[n] = p->energy_pj, idx[n++] = i;
    }
    if (sb_pareto_min2(x, y, n, f) >= 0)
        for (i = 0; i < n; i++) s->pts[idx[i]].pareto_ae = f[i];
out:
    free(x), free(y), free(f), free(idx);
    return front;
}
