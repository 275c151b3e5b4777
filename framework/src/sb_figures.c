/*
 * sb_figures.c - a job's reported figures from its per-image records.
 *
 * Every figure says where it comes from. A figure that cannot be had is null
 * with the reason, never a guess: a simulated backend's host wall time, for
 * instance, says nothing about the simulated chip, so its throughput is
 * derived from the simulated latency instead.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sb_config.h"
#include "sb_run.h"
#include "sb_util.h"

const char *const sb_fig_names[SB_FIG_COUNT] = {
    "accuracy", "balanced_accuracy", "latency_ms_median", "latency_ms_p95",
    "throughput_ips", "energy_mj_per_image", "power_mw_avg"};

const char *const sb_fig_units[SB_FIG_COUNT] = {"1", "1", "ms", "ms", "images/s", "mJ", "mW"};

const char *sb_job_status_name(sb_job_status s) {
    switch (s) {
    case SB_JOB_PENDING: return "pending";
    case SB_JOB_RUNNING: return "running";
    case SB_JOB_OK: return "ok";
    case SB_JOB_FAILED: return "failed";
    case SB_JOB_UNAVAILABLE: return "unavailable";
    case SB_JOB_CANCELLED: return "cancelled";
    case SB_JOB_KILLED: return "killed";
    }
    return "?";
}

long sb_job_same_error_as(const sb_run *run, size_t i) {
    size_t k;
    if (!run->jobs[i].err.msg[0]) return -1;
    for (k = 0; k < i; k++)
        if (run->jobs[k].status == run->jobs[i].status && strcmp(run->jobs[k].err.msg, run->jobs[i].err.msg) == 0)
            return (long)k;
    return -1;
}

const char *sb_prov_name(sb_provenance p) {
    switch (p) {
    case SB_PROV_MEASURED: return "measured";
    case SB_PROV_SIMULATED: return "simulated";
    case SB_PROV_RECORDED: return "recorded";
    case SB_PROV_UNAVAILABLE: break;
    }
    return "unavailable";
}

void sb_job_clear_figs(sb_job *job) {
    size_t i;
    for (i = 0; i < SB_FIG_COUNT; i++) {
        free(job->figs[i].note);
        memset(&job->figs[i], 0, sizeof job->figs[i]);
    }
    for (i = 0; i < job->n_bm; i++) free(job->bm[i].note);
    free(job->bm);
    free(job->bm_names);
    job->bm = NULL;
    job->bm_names = NULL;
    job->n_bm = 0;
}

static void set_null(sb_fig *f, int idx, const char *why) {
    free(f->note);
    f->has = 0;
    f->value = 0;
    f->prov = NULL;
    f->unit = sb_fig_units[idx];
    f->note = strdup(why);
}

static void set_val(sb_fig *f, int idx, double v, const char *prov, const char *note) {
    free(f->note);
    f->has = 1;
    f->value = v;
    f->prov = prov;
    f->unit = sb_fig_units[idx];
    f->note = note ? strdup(note) : NULL;
}

static const sb_metric *find_metric(const sb_metrics *m, const char *name) {
    int i;
    for (i = 0; i < m->n; i++)
        if (m->items[i].name && strcmp(m->items[i].name, name) == 0) return &m->items[i];
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Collect one metric over the finished samples. Returns the count with a
 * value; prov and note from the first sample; missing_note from the first
 * sample without a value. */
typedef struct series {
    double *v;
    size_t n, n_missing;
    sb_provenance prov;
    int mixed;
    const char *note, *missing_note, *unit;
} series;

static void collect(const sb_job *job, const char *name, series *s) {
    size_t i;
    memset(s, 0, sizeof *s);
    s->v = malloc((job->n + 1) * sizeof *s->v);
    for (i = 0; s->v && i < job->n; i++) {
        const sb_sample *sm = &job->samples[i];
        const sb_metric *m;
        if (!sm->done) continue;
        m = find_metric(&sm->metrics, name);
        if (!m || m->prov == SB_PROV_UNAVAILABLE) {
            if (!s->n_missing++) s->missing_note = m && m->note ? m->note : NULL;
            continue;
        }
        if (s->n == 0) {
            s->prov = m->prov;
            s->note = m->note;
            s->unit = m->unit;
        } else if (m->prov != s->prov) {
            s->mixed = 1;
        }
        s->v[s->n++] = m->value;
    }
}

static double mean_of(const series *s) {
    double sum = 0;
    size_t i;
    for (i = 0; i < s->n; i++) sum += s->v[i];
    return s->n ? sum / (double)s->n : 0;
}

static char *why_missing(const series *s, const char *name) {
    if (s->mixed) return sb_strdupf("the backend mixed provenances of %s across images", name);
    if (s->n == 0 && s->missing_note) return sb_strdupf("backend: %s", s->missing_note);
    if (s->n == 0) return sb_strdupf("the backend reported no %s", name);
    return sb_strdupf("the backend reported %s for only %zu of %zu images%s%s", name, s->n, s->n + s->n_missing,
                      s->missing_note ? ": " : "", s->missing_note ? s->missing_note : "");
}

/* A model whose provenance says its weights are random (a hardware-cost
 * workload such as the untrained effnet-b0-224) has no accuracy worth
 * printing: 1 and the reason's value when so. */
static int weights_random(const sb_graph *g) {
    cJSON *p = g && g->provenance_json ? cJSON_Parse(g->provenance_json) : NULL;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(p, "weights");
    int random = cJSON_IsString(w) && strcmp(w->valuestring, "random") == 0;
    cJSON_Delete(p);
    return random;
}

static void accuracy(const sb_run *run, sb_job *job, size_t n_done) {
    const sb_run_dataset *ds = &run->datasets[job->ds];
    if (weights_random(run->models[job->model].graph)) {
        const char *why = "the model's weights are random (provenance \"weights\": \"random\"): "
                          "it is a hardware-cost workload and has no accuracy";
        set_null(&job->figs[SB_FIG_ACCURACY], SB_FIG_ACCURACY, why);
        set_null(&job->figs[SB_FIG_BALANCED_ACCURACY], SB_FIG_BALANCED_ACCURACY, why);
        return;
    }
    int nc = ds->n_classes > 0 ? ds->n_classes : 1, c, used = 0;
    size_t *hit = calloc((size_t)nc, sizeof *hit), *tot = calloc((size_t)nc, sizeof *tot), i, correct = 0;
    double bal = 0;
    char note[128];
    if (!hit || !tot) goto out;
    for (i = 0; i < job->n; i++) {
        int lbl;
        if (!job->samples[i].done) continue;
        lbl = ds->api->label(ds->h, ds->sel[i]);
        if (lbl < 0 || lbl >= nc) continue;
        tot[lbl]++;
        if (job->samples[i].pred == lbl) {
            hit[lbl]++;
            correct++;
        }
    }
    for (c = 0; c < nc; c++)
        if (tot[c]) {
            bal += (double)hit[c] / (double)tot[c];
            used++;
        }
    if (used == 0 && n_done > 0) { /* a dataset without labels (synthetic inputs): cost only */
        const char *why = "the dataset has no labels (synthetic inputs): a hardware-cost workload, no accuracy";
        set_null(&job->figs[SB_FIG_ACCURACY], SB_FIG_ACCURACY, why);
        set_null(&job->figs[SB_FIG_BALANCED_ACCURACY], SB_FIG_BALANCED_ACCURACY, why);
        goto out;
    }
    snprintf(note, sizeof note, "%zu of %zu images correct", correct, n_done);
    set_val(&job->figs[SB_FIG_ACCURACY], SB_FIG_ACCURACY, (double)correct / (double)n_done, "measured", note);
    snprintf(note, sizeof note, "mean recall over the %d classes present", used);
    set_val(&job->figs[SB_FIG_BALANCED_ACCURACY], SB_FIG_BALANCED_ACCURACY, used ? bal / used : 0, "measured", note);
out:
    free(hit);
    free(tot);
}

/* How a measured latency was taken (sb_timed.h), after the backend's note. */
static char *timed_note(const sb_job *job, const char *note) {
    if (!job->timed_ns) return NULL;
    return sb_strdupf("%s; per image the median of %d run(s), after %d warm-up run(s) of the first "
                      "(results.json timing)", note ? note : "measured", job->repeats, job->n_warmed);
}

static void latency(sb_job *job, series *lat, int workers) {
    char *why;
    if (lat->n == 0 || lat->n_missing) {
        why = why_missing(lat, SB_M_LATENCY_NS);
        set_null(&job->figs[SB_FIG_LATENCY_MS_MEDIAN], SB_FIG_LATENCY_MS_MEDIAN, why);
        set_null(&job->figs[SB_FIG_LATENCY_MS_P95], SB_FIG_LATENCY_MS_P95, why);
        set_null(&job->figs[SB_FIG_THROUGHPUT_IPS], SB_FIG_THROUGHPUT_IPS, why);
        free(why);
        return;
    }
    qsort(lat->v, lat->n, sizeof *lat->v, cmp_double);
    {
        double med = lat->n % 2 ? lat->v[lat->n / 2] : (lat->v[lat->n / 2 - 1] + lat->v[lat->n / 2]) / 2;
        size_t k = (size_t)ceil(0.95 * (double)lat->n);
        const char *prov = sb_prov_name(lat->prov);
        char *note = lat->prov == SB_PROV_MEASURED ? timed_note(job, lat->note) : NULL;
        set_val(&job->figs[SB_FIG_LATENCY_MS_MEDIAN], SB_FIG_LATENCY_MS_MEDIAN, med * 1e-6, prov,
                note ? note : lat->note);
        free(note);
        set_val(&job->figs[SB_FIG_LATENCY_MS_P95], SB_FIG_LATENCY_MS_P95, lat->v[k ? k - 1 : 0] * 1e-6, prov,
                "nearest-rank 95th percentile");
    }
    if (lat->prov == SB_PROV_MEASURED) {
        double wall_s = (double)(job->t1_ns - job->t0_ns) * 1e-9;
        char *note = sb_strdupf("%zu images / %.3f s wall time of the job, %d workers", lat->n, wall_s, workers);
        if (wall_s > 0) set_val(&job->figs[SB_FIG_THROUGHPUT_IPS], SB_FIG_THROUGHPUT_IPS, (double)lat->n / wall_s, "measured", note);
        else set_null(&job->figs[SB_FIG_THROUGHPUT_IPS], SB_FIG_THROUGHPUT_IPS, "wall time of the job was zero");
        free(note);
    } else {
        double mean = mean_of(lat);
        if (mean > 0)
            set_val(&job->figs[SB_FIG_THROUGHPUT_IPS], SB_FIG_THROUGHPUT_IPS, 1e9 / mean, sb_prov_name(lat->prov),
                    "1e9 / mean latency_ns: one image at a time");
        else
            set_null(&job->figs[SB_FIG_THROUGHPUT_IPS], SB_FIG_THROUGHPUT_IPS, "mean latency is zero");
    }
}

static void energy(sb_job *job, series *lat, series *en) {
    char *why;
    if (en->n == 0 || en->n_missing) {
        why = why_missing(en, SB_M_ENERGY_PJ);
        set_null(&job->figs[SB_FIG_ENERGY_MJ_PER_IMAGE], SB_FIG_ENERGY_MJ_PER_IMAGE, why);
        set_null(&job->figs[SB_FIG_POWER_MW_AVG], SB_FIG_POWER_MW_AVG, why);
        free(why);
        return;
    }
    set_val(&job->figs[SB_FIG_ENERGY_MJ_PER_IMAGE], SB_FIG_ENERGY_MJ_PER_IMAGE, mean_of(en) * 1e-9,
            sb_prov_name(en->prov), en->note);
    if (lat->n == 0 || lat->n_missing || mean_of(lat) <= 0) {
        set_null(&job->figs[SB_FIG_POWER_MW_AVG], SB_FIG_POWER_MW_AVG, "no latency to divide the energy by");
        return;
    }
    /* pJ / ns = mW. Simulated if either input is. */
    {
        const char *prov = en->prov == lat->prov ? sb_prov_name(en->prov)
                           : (en->prov == SB_PROV_SIMULATED || lat->prov == SB_PROV_SIMULATED) ? "simulated"
                                                                                                  : "recorded";
        char *note = sb_strdupf("mean energy_pj (%s) / mean latency_ns (%s)", sb_prov_name(en->prov),
                                sb_prov_name(lat->prov));
        set_val(&job->figs[SB_FIG_POWER_MW_AVG], SB_FIG_POWER_MW_AVG, mean_of(en) / mean_of(lat), prov, note);
        free(note);
    }
}

/* Every metric name the backend reported, averaged. */
static void backend_metrics(sb_job *job) {
    size_t i, cap = 0;
    int k;
    for (i = 0; i < job->n; i++) {
        if (!job->samples[i].done) continue;
        for (k = 0; k < job->samples[i].metrics.n; k++) {
            const char *name = job->samples[i].metrics.items[k].name;
            size_t j;
            series s;
            if (!name) continue;
            for (j = 0; j < job->n_bm && strcmp(job->bm_names[j], name) != 0; j++) {}
            if (j < job->n_bm) continue;
            if (job->n_bm == cap) {
                size_t nc = cap ? cap * 2 : 16;
                const char **nn = realloc(job->bm_names, nc * sizeof *nn);
                sb_fig *nf;
                if (nn) job->bm_names = nn;
                nf = nn ? realloc(job->bm, nc * sizeof *nf) : NULL;
                if (!nf) return;
                job->bm = nf;
                cap = nc;
            }
            collect(job, name, &s);
            memset(&job->bm[job->n_bm], 0, sizeof job->bm[0]);
            job->bm_names[job->n_bm] = name;
            if (s.n && !s.n_missing && !s.mixed) {
                job->bm[job->n_bm].has = 1;
                job->bm[job->n_bm].value = mean_of(&s);
                job->bm[job->n_bm].prov = sb_prov_name(s.prov);
                job->bm[job->n_bm].note = s.note ? strdup(s.note) : NULL;
            } else {
                job->bm[job->n_bm].note = why_missing(&s, name);
            }
            job->bm[job->n_bm].unit = s.unit ? s.unit : job->samples[i].metrics.items[k].unit;
            job->n_bm++;
            free(s.v);
        }
    }
}

/* A simulated figure computed from a value nobody sourced says so. */
static void note_unsourced(sb_fig *f, const char *keys) {
    char *note;
    if (!f->has || !f->prov || strcmp(f->prov, "simulated") != 0) return;
    note = sb_strdupf("simulated (with unsourced overrides: %s)%s%s", keys, f->note ? "; " : "",
                      f->note ? f->note : "");
    if (!note) return;
    free(f->note);
    f->note = note;
}

static void note_unsourced_all(const sb_run *run, sb_job *job) {
    char *keys = sb_options_unsourced(&run->backends[job->be].opts.opts);
    size_t i;
    if (!keys) return;
    for (i = 0; i < SB_FIG_COUNT; i++) note_unsourced(&job->figs[i], keys);
    for (i = 0; i < job->n_bm; i++) note_unsourced(&job->bm[i], keys);
    free(keys);
}

void sb_job_compute(const sb_run *run, sb_job *job) {
    size_t n_done = atomic_load(&job->n_done), i;
    series lat, en;
    char *why = NULL;
    sb_job_clear_figs(job);
    if (job->status != SB_JOB_OK) {
        if (job->status == SB_JOB_CANCELLED) why = sb_strdupf("job cancelled after %zu of %zu images", n_done, job->n);
        else if (job->status == SB_JOB_UNAVAILABLE) why = sb_strdupf("backend unavailable: %s", job->err.msg);
        else if (job->status == SB_JOB_FAILED) why = sb_strdupf("job failed: %s", job->err.msg);
        else why = strdup("job did not run");
        for (i = 0; i < SB_FIG_COUNT; i++) set_null(&job->figs[i], (int)i, why ? why : "");
        free(why);
        if (job->status == SB_JOB_CANCELLED) backend_metrics(job);
        note_unsourced_all(run, job);
        return;
    }
    if (n_done == 0) {
        for (i = 0; i < SB_FIG_COUNT; i++) set_null(&job->figs[i], (int)i, "no images selected");
        return;
    }
    accuracy(run, job, n_done);
    collect(job, SB_M_LATENCY_NS, &lat);
    collect(job, SB_M_ENERGY_PJ, &en);
    latency(job, &lat, run->cfg->workers);
    energy(job, &lat, &en);
    if (lat.mixed || en.mixed) {
        /* Mixed provenance within one job would make one label a lie. */
        for (i = SB_FIG_LATENCY_MS_MEDIAN; i < SB_FIG_COUNT; i++)
            set_null(&job->figs[i], (int)i, "the backend mixed provenances across images");
    }
    free(lat.v);
    free(en.v);
    backend_metrics(job);
    note_unsourced_all(run, job);
}

/* The provenance word as one of our own constants (sb_fig.prov is never
 * freed), or NULL for anything else. */
static const char *known_prov(const char *s) {
    static const char *const words[] = {"measured", "simulated", "recorded"};
    size_t i;
    for (i = 0; s && i < sizeof words / sizeof words[0]; i++)
        if (strcmp(s, words[i]) == 0) return words[i];
    return NULL;
}

void sb_job_figs_from_json(sb_job *job, const cJSON *metrics) {
    size_t i;
    sb_job_clear_figs(job);
    for (i = 0; i < SB_FIG_COUNT; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(metrics, sb_fig_names[i]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "value");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "provenance");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "note");
        const char *note = cJSON_IsString(n) ? n->valuestring : NULL;
        if (cJSON_IsNumber(v) && known_prov(cJSON_IsString(p) ? p->valuestring : NULL))
            set_val(&job->figs[i], (int)i, v->valuedouble, known_prov(p->valuestring), note);
        else
            set_null(&job->figs[i], (int)i, note ? note : "not in the results being resumed");
    }
}
