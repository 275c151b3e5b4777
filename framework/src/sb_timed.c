/* sb_timed.c - warm-up, repeats, median and spread of measured latency. */
#include "sb_timed.h"

#include <cjson/cJSON.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_util.h"

static const sb_metric *latency_of(const sb_metrics *m) {
    for (int k = 0; k < m->n; k++)
        if (m->items[k].name && strcmp(m->items[k].name, SB_M_LATENCY_NS) == 0) return &m->items[k];
    return NULL;
}

static int measured(const sb_metrics *m) {
    const sb_metric *l = latency_of(m);
    return l && l->prov == SB_PROV_MEASURED && isfinite(l->value);
}

static int one_run(const sb_backend_plugin *be, void *prog, const int8_t *in, int8_t *logits, sb_metrics *m,
                   sb_error *err) {
    memset(m, 0, sizeof *m);
    return be->run(prog, in, logits, m, err);
}

/* Index of the lower median of v[0..n). */
static int median_index(const double *v, int n) {
    for (int i = 0; i < n; i++) {
        int below = 0, same_before = 0;
        for (int j = 0; j < n; j++) {
            below += v[j] < v[i];
            same_before += j < i && v[j] == v[i];
        }
        if (below + same_before == (n - 1) / 2) return i;
    }
    return 0;
}

int sb_run_timed(const sb_backend_plugin *be, void *prog, const int8_t *in, int8_t *logits, sb_timed_run *t,
                 sb_metrics *m, sb_error *err) {
    sb_metrics *runs;
    int rc = one_run(be, prog, in, logits, m, err), k, warm;
    t->n_warmed = 0;
    t->n_timed = 0;
    if (rc < 0 || !measured(m)) return rc;
    if (!(runs = calloc((size_t)t->repeats, sizeof *runs))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    /* The first run was cold: it is a warm-up when there are any. */
    warm = t->warmup > 0;
    if (!warm) runs[t->n_timed++] = *m;
    for (; warm < t->warmup && rc >= 0; warm++) rc = one_run(be, prog, in, logits, m, err);
    while (rc >= 0 && t->n_timed < t->repeats) {
        rc = one_run(be, prog, in, logits, &runs[t->n_timed], err);
        if (rc >= 0) t->n_timed++;
    }
    t->n_warmed = warm;
    for (k = 0; rc >= 0 && k < t->n_timed; k++) {
        const sb_metric *l = latency_of(&runs[k]);
        t->lat_ns[k] = l ? l->value : NAN;
    }
    if (rc >= 0) *m = runs[median_index(t->lat_ns, t->n_timed)];
    free(runs);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double rank(const double *v, size_t n, double p) {
    size_t k = (size_t)ceil(p * (double)n);
    return v[k ? k - 1 : 0];
}

cJSON *sb_timing_json(int warmup, int repeats, const double *lat_ns, size_t n) {
    double *v = malloc((n ? n : 1) * sizeof *v), med, p5, p95;
    size_t m = 0;
    cJSON *o;
    for (size_t i = 0; v && i < n; i++)
        if (isfinite(lat_ns[i])) v[m++] = lat_ns[i];
    if (!m) {
        free(v);
        return cJSON_CreateNull();
    }
    qsort(v, m, sizeof *v, cmp_double);
    med = m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
    p5 = rank(v, m, 0.05);
    p95 = rank(v, m, 0.95);
    free(v);
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "warmup", warmup);
    cJSON_AddNumberToObject(o, "repeats", repeats);
    cJSON_AddNumberToObject(o, "n_timed", (double)m);
    cJSON_AddNumberToObject(o, "latency_ms_p5", p5 * 1e-6);
    cJSON_AddNumberToObject(o, "latency_ms_median", med * 1e-6);
    cJSON_AddNumberToObject(o, "latency_ms_p95", p95 * 1e-6);
    cJSON_AddNumberToObject(o, "p95_over_median", med > 0 ? p95 / med : 0);
    if (med > 0 && p95 / med > SB_SPREAD_LARGE) {
        char *note = sb_strdupf("large spread: p95 / median = %.2f > %.1f: the host was busy or its clock changed "
                                "(environment load_avg, cpu_governor); the median is the figure to quote",
                                p95 / med, SB_SPREAD_LARGE);
        cJSON_AddStringToObject(o, "note", note ? note : "large spread");
        free(note);
    } else {
        cJSON_AddNullToObject(o, "note");
    }
    return o;
}

/* The governors of every CPU: one word, "mixed: ...", or "unavailable". */
static char *governor(void) {
    glob_t g;
    sb_buf seen = {0};
    char word[64];
    if (glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor", 0, NULL, &g) != 0)
        return strdup("unavailable");
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        int ok = f && fscanf(f, "%63s", word) == 1;
        if (f) fclose(f);
        if (!ok) continue;
        if (seen.s && strstr(seen.s, word)) continue;
        sb_buf_printf(&seen, "%s%s", seen.len ? ", " : "", word);
    }
    globfree(&g);
    if (!seen.s || seen.oom) {
        sb_buf_free(&seen);
        return strdup("unavailable");
    }
    if (strchr(seen.s, ',')) {
        char *mixed = sb_strdupf("mixed: %s", seen.s);
        sb_buf_free(&seen);
        return mixed;
    }
    return seen.s;
}

void sb_host_state_json(cJSON *env) {
    double load[3];
    char *gov = governor();
    if (getloadavg(load, 3) == 3) cJSON_AddItemToObject(env, "load_avg", cJSON_CreateDoubleArray(load, 3));
    else cJSON_AddNullToObject(env, "load_avg");
    cJSON_AddStringToObject(env, "cpu_governor", gov ? gov : "unavailable");
    free(gov);
}
