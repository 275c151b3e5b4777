/*
 * sb_runner.c - runs the jobs of a bench.toml under libuv.
 *
 * Only the loop thread touches the run's bookkeeping; worker threads fill the
 * sample slots of their own chunk (each slot has exactly one writer) and bump
 * atomic counters. Set-up of a job (open dataset, load model, open and
 * prepare backend) also runs in the pool so the progress timer and signal
 * handlers stay responsive while a backend tiles a large network.
 */
#include "sb_runner.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "sb_classes.h"
#include "sb_inputs.h"
#include "sb_lock.h"
#include "sb_resume.h"
#include "sb_results.h"
#include "sb_timed.h"
#include "sb_util.h"

#define SB_CHUNK_MAX_IMAGES 8
#define SB_PROGRESS_MS 500
/* results.json is saved at most this often: each save is three fsync()ed
 * files, which cost more than a fast job (1000 jobs of 1 image spent most
 * of their time there). The last snapshot waits in memory for the timer,
 * a signal or the end of the run. */
#define SB_SAVE_INTERVAL_NS 1000000000ull
#define SB_PROGRESS_LOG_NS 10000000000ull /* when stderr is not a terminal */

/* --------------------------------------------------------------- host */

static atomic_int g_cancel;
static int g_verbose_log = -1;
static int g_progress_fd = -1;

void sb_runner_set_progress_fd(int fd) { g_progress_fd = fd; }

static int g_class_check = 1;

void sb_runner_set_class_check(int on) { g_class_check = on; }

/* One line to the supervising process (sb_isolate.c): which job and phase
 * is under way, so that a crash can be pinned on the plugin at fault. One
 * write() of less than PIPE_BUF bytes is atomic, so worker threads may
 * call it too. */
void sb_runner_event(const char *fmt, ...) {
    char line[512];
    va_list ap;
    int n;
    if (g_progress_fd < 0) return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(g_progress_fd, line, (size_t)n) < 0) { /* the supervisor is gone: nothing to tell */ }
}

static void host_log(int level, const char *fmt, ...) {
    static const char *const tag[] = {"error", "warning", "info", "debug"};
    va_list ap;
    if (g_verbose_log < 0) g_verbose_log = getenv("SRAMBENCH_DEBUG") != NULL;
    if (level >= SB_LOG_DEBUG && !g_verbose_log) return;
    if (level < 0 || level > SB_LOG_DEBUG) level = SB_LOG_INFO;
    fprintf(stderr, "srambench: %s: ", tag[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int host_cancelled(void) { return atomic_load(&g_cancel); }

static sb_host g_host = {SB_ABI_MAJOR, SB_ABI_MINOR, host_log, host_cancelled, NULL, NULL};

const sb_host *sb_runner_host(void) { return &g_host; }

void sb_runner_set_workers(int workers) {
    char buf[16];
    snprintf(buf, sizeof buf, "%d", workers > 0 ? workers : 1);
    setenv("UV_THREADPOOL_SIZE", buf, 1);
}

/* ------------------------------------------------------------- runner */

typedef struct chunk {
    uv_work_t req;
    sb_runner *r;
    sb_job *job;
    size_t lo, hi;
} chunk;

struct sb_runner {
    uv_loop_t loop;
    uv_timer_t timer;
    uv_signal_t sigint, sigterm, sighup;
    uv_work_t setup_req;
    sb_run run;
    const sb_run_opts *opts;
    size_t cur;            /* job being run                            */
    int stopping;          /* first signal seen: no new work           */
    int n_signals;
    size_t chunks_left;
    chunk *chunks;
    int tty;
    uint64_t last_log_ns;
    int write_rc;          /* first failure writing results            */
    sb_error write_err;
    sb_results_snap unsaved; /* taken after a job, not yet on disk      */
    uint64_t saved_ns;     /* when results were last written           */
    unsigned n_saves;      /* results written (SRAMBENCH_DEBUG)         */
    int progress_shown;
    int prep_shown;   /* "preparing" is said once a run, not once a job */
};

static void next_job(sb_runner *r);

/* ------------------------------------------------------- set-up (pool) */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The framework's selection: optional seeded shuffle, then at most
 * per_class of each class, then at most limit in all. */
static int select_samples(sb_run_dataset *ds, sb_error *err) {
    const sb_cfg_dataset *c = ds->cfg;
    size_t n = ds->api->count(ds->h), i, *order = malloc((n + 1) * sizeof *order);
    uint64_t seed = c->seed;
    ds->n_classes = ds->api->n_classes(ds->h);
    if (ds->n_classes <= 0)
        return sb_error_set(err, SB_EFORMAT, "dataset '%s': plugin reports %d classes: expected at least 1",
                            c->inst.name, ds->n_classes);
    ds->class_counts = calloc((size_t)ds->n_classes, sizeof *ds->class_counts);
    ds->sel = malloc((n + 1) * sizeof *ds->sel);
    if (!order || !ds->class_counts || !ds->sel) {
        free(order);
        return sb_error_set(err, SB_ENOMEM, "out of memory selecting samples");
    }
    for (i = 0; i < n; i++) order[i] = i;
    if (c->shuffle)
        for (i = n; i > 1; i--) {
            size_t j = (size_t)(splitmix64(&seed) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
    /* a dataset without any label (synthetic inputs) is run for cost only */
    int any_label = 0;
    for (i = 0; i < n && !any_label; i++) {
        int lbl = ds->api->label(ds->h, i);
        any_label = lbl >= 0 && lbl < ds->n_classes;
    }
    ds->unlabelled = !any_label;
    for (i = 0; i < n; i++) {
        int lbl = ds->api->label(ds->h, order[i]);
        if (!any_label) {
            if (c->limit && ds->n_sel >= (size_t)c->limit) break;
            ds->sel[ds->n_sel++] = order[i];
            continue;
        }
        if (lbl < 0 || lbl >= ds->n_classes) continue; /* unlabelled: cannot be scored */
        if (c->per_class && ds->class_counts[lbl] >= (size_t)c->per_class) continue;
        if (c->limit && ds->n_sel >= (size_t)c->limit) break;
        ds->class_counts[lbl]++;
        ds->sel[ds->n_sel++] = order[i];
    }
    free(order);
    return 0;
}

static int ensure_dataset(sb_run_dataset *ds, sb_error *err) {
    if (ds->h) return 0;
    if (ds->open_rc < 0) return sb_error_set(err, ds->open_rc, "%s", ds->err.msg);
    ds->open_rc = ds->api->open(&g_host, &ds->opts.opts, &ds->h, &ds->err);
    if (ds->open_rc == 0 && (ds->open_rc = select_samples(ds, &ds->err)) < 0) {
        ds->api->close(ds->h);
        ds->h = NULL;
    }
    if (ds->open_rc < 0) {
        sb_error inner = ds->err; /* vsnprintf must not read what it writes */
        sb_error_set(&ds->err, ds->open_rc, "dataset '%s': %s", ds->cfg->inst.name, inner.msg);
        return sb_error_set(err, ds->open_rc, "%s", ds->err.msg);
    }
    return 0;
}

static int ensure_model(sb_run_model *m, sb_error *err) {
    if (m->graph) return 0;
    if (m->load_rc < 0) return sb_error_set(err, m->load_rc, "%s", m->err.msg);
    m->load_rc = m->api->load(&g_host, &m->opts.opts, &m->graph, &m->err);
    if (m->load_rc == 0 && !m->graph) m->load_rc = sb_error_set(&m->err, SB_ECRASH, "load returned no graph");
    if (m->load_rc < 0) {
        sb_error inner = m->err; /* vsnprintf must not read what it writes */
        sb_error_set(&m->err, m->load_rc, "model '%s': %s", m->cfg->name, inner.msg);
        return sb_error_set(err, m->load_rc, "%s", m->err.msg);
    }
    return 0;
}

int sb_runner_check_graph(const sb_graph *g, const char *model, sb_error *err) {
    const sb_tensor *in, *out;
    if (g->input < 0 || g->input >= g->n_tensors || g->output < 0 || g->output >= g->n_tensors)
        return sb_error_set(err, SB_EFORMAT, "model '%s': input/output tensor index out of range", model);
    in = &g->tensors[g->input];
    out = &g->tensors[g->output];
    if (in->dtype != SB_DT_INT8 || in->rank != 4 || in->shape[0] != 1 || in->shape[1] <= 0 || in->shape[2] <= 0 ||
        in->shape[3] <= 0)
        return sb_error_set(err, SB_EFORMAT, "model '%s': input tensor '%s': expected int8 [1,H,W,C]",
                            model, in->name ? in->name : "?");
    if (out->dtype != SB_DT_INT8 || g->n_classes <= 0)
        return sb_error_set(err, SB_EFORMAT, "model '%s': output tensor: expected int8 logits", model);
    /* the softmax dequantises with it: no scale, no confidences */
    if (!(out->scale > 0 && isfinite(out->scale)))
        return sb_error_set(err, SB_EFORMAT, "model '%s': output tensor '%s': scale %g: expected a positive finite "
                            "float32", model, out->name ? out->name : "?", (double)out->scale);
    /* divides every logit: NaN, 0 or 1e30 would make every confidence meaningless */
    if (g->temperature != 0 && !(g->temperature >= SB_TEMPERATURE_MIN && g->temperature <= SB_TEMPERATURE_MAX))
        return sb_error_set(err, SB_EFORMAT, "model '%s': temperature %g: expected 0 (none) or a finite number in "
                            "[%g, %g]", model, (double)g->temperature, SB_TEMPERATURE_MIN, SB_TEMPERATURE_MAX);
    return 0;
}

/* Elements of a checked [1,H,W,C] input. */
static size_t input_elems(const sb_tensor *t) {
    return (size_t)t->shape[1] * (size_t)t->shape[2] * (size_t)t->shape[3];
}

double sb_runner_logit_scale(const sb_graph *g) {
    double t = g->temperature > 0 ? (double)g->temperature : 1.0;
    return (double)g->tensors[g->output].scale / t;
}

/* The graph must also give logits that match the dataset's classes. */
static int check_graph(const sb_run_dataset *ds, const sb_run_model *m, int *size_px, sb_error *err) {
    const sb_graph *g = m->graph;
    int rc = sb_runner_check_graph(g, m->cfg->name, err);
    if (rc < 0) return rc;
    if (g->n_classes != ds->n_classes)
        return sb_error_set(err, SB_EINVAL, "model '%s' has %d classes but dataset '%s' has %d: expected the same",
                            m->cfg->name, g->n_classes, ds->cfg->inst.name, ds->n_classes);
    const int32_t *s = g->tensors[g->input].shape;
    if (s[3] == 3 && s[1] == s[2]) {
        *size_px = s[1];
        return 0;
    }
    /* Not an image (keyword spotting's [1,49,10,1], an autoencoder's
     * [1,1,1,640]): only a dataset without labels (synthetic inputs, run for
     * cost) may feed it, with the first H*W*C bytes of its S x S images. */
    if (!ds->unlabelled)
        return sb_error_set(err, SB_EINVAL,
                            "model '%s': input [1,%d,%d,%d] is not an image [1,S,S,3]: dataset '%s' has labelled "
                            "images; a non-image input takes a dataset without labels (e.g. synthetic)",
                            m->cfg->name, (int)s[1], (int)s[2], (int)s[3], ds->cfg->inst.name);
    size_t need = (input_elems(&g->tensors[g->input]) + 2) / 3, side = 1;
    while (side * side < need) side++;
    if (side > 16384)
        return sb_error_set(err, SB_EINVAL, "model '%s': input of %zu elements: too large", m->cfg->name,
                            input_elems(&g->tensors[g->input]));
    *size_px = (int)side;
    return 0;
}

/* The first job of dataset d x model m still to run (resume: not restored),
 * or n_jobs when there is none. */
static size_t first_pending(const sb_run *run, size_t d, size_t m) {
    size_t j;
    for (j = 0; j < run->n_jobs; j++)
        if (run->jobs[j].ds == d && run->jobs[j].model == m && !run->jobs[j].restored) return j;
    return run->n_jobs;
}

/* One pair, opened as its first job would (a crash is pinned on that job's
 * plugin): a dataset or model that fails to open is left to the jobs to
 * report; classes that do not match are the config's error. */
static int check_pair(sb_run *run, size_t d, size_t m, sb_error *err) {
    sb_run_dataset *ds = &run->datasets[d];
    sb_run_model *mo = &run->models[m];
    size_t k = first_pending(run, d, m);
    sb_error e = {0};
    int rc, unnamed = 0;
    if (k == run->n_jobs) return 0;
    sb_runner_event("job %zu dataset", k);
    rc = ensure_dataset(ds, &e);
    sb_runner_event("job %zu model", k);
    if (rc == 0) rc = ensure_model(mo, &e);
    sb_runner_event("job %zu done", k);
    if (rc < 0 || sb_runner_check_graph(mo->graph, mo->cfg->name, &e) < 0) return 0;
    if (sb_classes_check(mo->graph, mo->cfg->name, ds->api, ds->h, ds->cfg->inst.name, &unnamed, &e) < 0)
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s", mo->cfg->file, mo->cfg->line, mo->cfg->col,
                            e.msg);
    if (unnamed) sb_classes_warn(mo->cfg->name, ds->cfg->inst.name, unnamed, ds->n_classes);
    return 0;
}

/* Before any job or results folder: each model's classes against each
 * dataset's. A model exported with another class order was scored against
 * the wrong labels, with exit 0. */
static int check_classes(sb_run *run, sb_error *err) {
    size_t d, m;
    int rc;
    if (!g_class_check) return 0;
    for (d = 0; d < run->cfg->n_datasets; d++)
        for (m = 0; m < run->cfg->n_models; m++)
            if ((rc = check_pair(run, d, m, err)) < 0) return rc;
    return 0;
}

/* Warm-up and repeats of the job's backend; room for every counted latency. */
static int timing_setup(sb_job *job, const sb_cfg_inst *be) {
    size_t i, n;
    job->warmup = be->warmup >= 0 ? (int)be->warmup : SB_WARMUP_DEFAULT;
    job->repeats = be->repeats >= 1 ? (int)be->repeats : SB_REPEATS_RUN_DEFAULT;
    n = job->n * (size_t)job->repeats;
    if (n && !(job->timed_ns = malloc(n * sizeof *job->timed_ns)))
        return sb_error_set(&job->err, SB_ENOMEM, "out of memory for %zu x %d latencies", job->n, job->repeats);
    for (i = 0; i < n; i++) job->timed_ns[i] = NAN;
    return 0;
}

static void setup_work(uv_work_t *req) {
    sb_runner *r = req->data;
    sb_job *job = &r->run.jobs[r->cur];
    sb_run_dataset *ds = &r->run.datasets[job->ds];
    sb_run_model *m = &r->run.models[job->model];
    sb_run_backend *b = &r->run.backends[job->be];
    sb_error e = {0};
    int rc;
    sb_runner_event("job %zu dataset", r->cur);
    if ((rc = ensure_dataset(ds, &job->err)) < 0) goto fail;
    sb_runner_event("job %zu model", r->cur);
    if ((rc = ensure_model(m, &job->err)) < 0 || (rc = check_graph(ds, m, &job->size_px, &job->err)) < 0) goto fail;
    sb_runner_event("job %zu dataset", r->cur);
    if (ds->api->prepare && ds->prepared_size_px != job->size_px) {
        if ((rc = ds->api->prepare(ds->h, job->size_px, &e)) < 0) {
            sb_error_set(&job->err, rc, "dataset '%s' at %d px: %s", ds->cfg->inst.name, job->size_px, e.msg);
            goto fail;
        }
        ds->prepared_size_px = job->size_px;
    }
    sb_runner_event("job %zu backend-open", r->cur);
    if ((rc = b->api->open(&g_host, &b->opts.opts, &job->be_handle, &e)) < 0) {
        job->be_handle = NULL;
        if (rc == SB_EUNAVAILABLE) {
            job->status = SB_JOB_UNAVAILABLE;
            sb_error_set(&job->err, rc, "%s", e.msg);
            return;
        }
        sb_error_set(&job->err, rc, "backend '%s': open: %s", b->cfg->name, e.msg);
        goto fail;
    }
    sb_runner_event("job %zu backend-prepare", r->cur);
    if ((rc = b->api->prepare(job->be_handle, m->graph, &job->prog, &e)) < 0) {
        job->prog = NULL;
        sb_error_set(&job->err, rc, "backend '%s': prepare model '%s': %s", b->cfg->name, m->cfg->name, e.msg);
        goto fail;
    }
    if (b->api->report_json) job->report_json = b->api->report_json(job->prog);
    job->n = ds->n_sel;
    if (job->n && !(job->samples = calloc(job->n, sizeof *job->samples))) {
        rc = sb_error_set(&job->err, SB_ENOMEM, "out of memory for %zu samples", job->n);
        goto fail;
    }
    if ((rc = timing_setup(job, b->cfg)) < 0) goto fail;
    return;
fail:
    job->status = rc == SB_ECANCELED ? SB_JOB_CANCELLED : SB_JOB_FAILED;
}

/* ------------------------------------------------------- images (pool) */

/* Dequantise int8 logits, softmax in double, top-3. */
static void postprocess(const sb_graph *g, const int8_t *logits, sb_sample *s) {
    const sb_tensor *out = &g->tensors[g->output];
    double scale = sb_runner_logit_scale(g), mx = -HUGE_VAL, sum = 0, p[256]; /* checked: sb_runner_check_graph */
    int n = g->n_classes < 256 ? g->n_classes : 256, c, k;
    for (c = 0; c < n; c++) {
        p[c] = scale * ((double)logits[c] - (double)out->zero_point);
        if (p[c] > mx) mx = p[c];
    }
    for (c = 0; c < n; c++) sum += (p[c] = exp(p[c] - mx));
    for (k = 0; k < 3; k++) {
        s->top_cls[k] = -1;
        s->top_p[k] = 0;
    }
    for (c = 0; c < n; c++) {
        double pc = p[c] / sum;
        for (k = 0; k < 3; k++) {
            if (s->top_cls[k] < 0 || pc > s->top_p[k]) { /* ties keep the lower class */
                memmove(&s->top_cls[k + 1], &s->top_cls[k], (size_t)(2 - k) * sizeof s->top_cls[0]);
                memmove(&s->top_p[k + 1], &s->top_p[k], (size_t)(2 - k) * sizeof s->top_p[0]);
                s->top_cls[k] = c;
                s->top_p[k] = pc;
                break;
            }
        }
    }
    s->pred = s->top_cls[0];
    s->confidence = s->top_p[0];
    s->n_out = n <= SB_SAMPLE_MAX_CLASSES ? n : 0;
    for (c = 0; c < s->n_out; c++) {
        s->logits[c] = logits[c];
        s->probs[c] = (float)(p[c] / sum);
    }
}

/* The dataset says why get() failed: status=unreadable in its metadata
 * (docs/datasets.md), which it sets only when asked to skip such images. */
static int marked_unreadable(const sb_run_dataset *ds, size_t index) {
    const char *const *kv = ds->api->sample_meta ? ds->api->sample_meta(ds->h, index) : NULL;
    for (; kv && *kv; kv++)
        if (strcmp(*kv, "status=unreadable") == 0) return 1;
    return 0;
}

static void chunk_fail(sb_job *job, int rc, const char *what, size_t idx, const sb_error *e) {
    int zero = 0;
    /* The first failing image names the error; the rest of the job stops. */
    if (atomic_compare_exchange_strong(&job->img_failed, &zero, 1))
        sb_error_set(&job->err, rc, "image %zu: %s: %s", idx, what, e->msg);
}

/* Metrics the backend could not store for one image: the SB_M_DROPPED
 * mark's count (the mark is removed: it is no metric) from plugins of ABI
 * 1.1 on; -1 when an ABI 1.0 plugin filled every slot, which may or may not
 * have dropped some (its sb_metrics_add did so silently). */
static int take_dropped(sb_metrics *m, uint32_t plugin_minor) {
    const sb_metric *last = &m->items[SB_MAX_METRICS - 1];
    if (m->n < SB_MAX_METRICS) return 0;
    if (plugin_minor < 1) return -1;
    if (!sb_metric_is_dropped_mark(last)) return 0;
    m->n--;
    return (int)last->value;
}

static void note_dropped(sb_job *job, int dropped) {
    int max;
    if (dropped == 0) return;
    atomic_fetch_add(&job->n_metrics_overflow, 1);
    max = atomic_load(&job->metrics_dropped_max);
    while (dropped > max && !atomic_compare_exchange_weak(&job->metrics_dropped_max, &max, dropped)) {}
}

static void chunk_work(uv_work_t *req) {
    chunk *ch = req->data;
    sb_job *job = ch->job;
    sb_run *run = &ch->r->run;
    sb_run_dataset *ds = &run->datasets[job->ds];
    const sb_graph *g = run->models[job->model].graph;
    const sb_backend_plugin *be = run->backends[job->be].api;
    /* a non-image input reads the first of these bytes (check_graph) */
    size_t px = (size_t)job->size_px * (size_t)job->size_px * 3, i, k;
    size_t n_out = (size_t)(g->n_classes > 0 ? g->n_classes : 1);
    uint8_t *rgb = malloc(px);
    int8_t *in = malloc(px), *logits = calloc(n_out < 256 ? 256 : n_out, 1);
    sb_timed_run t;
    sb_error e;
    if (!rgb || !in || !logits) {
        e.code = SB_ENOMEM;
        snprintf(e.msg, sizeof e.msg, "out of memory");
        chunk_fail(job, SB_ENOMEM, "buffers", ch->lo, &e);
        goto out;
    }
    for (i = ch->lo; i < ch->hi; i++) {
        sb_sample *s = &job->samples[i];
        int rc;
        if (atomic_load(&g_cancel) || atomic_load(&job->img_failed)) break;
        memset(&e, 0, sizeof e);
        if ((rc = ds->api->get(ds->h, ds->sel[i], job->size_px, rgb, &e)) < 0) {
            if (marked_unreadable(ds, ds->sel[i])) { /* skip_unreadable: listed, not scored */
                s->skipped = 1;
                atomic_fetch_add(&job->n_skipped, 1);
                continue;
            }
            chunk_fail(job, rc, "dataset get", ds->sel[i], &e);
            break;
        }
        /* docs/model-format.md: the input is q = pixel - 128 */
        for (k = 0; k < px; k++) in[k] = (int8_t)((int)rgb[k] - 128);
        /* the job's first image warms the backend up (sb_timed.h) */
        t.warmup = i == 0 ? job->warmup : 0;
        t.repeats = job->repeats;
        t.lat_ns = &job->timed_ns[i * (size_t)job->repeats];
        rc = sb_run_timed(be, job->prog, in, logits, &t, &s->metrics, &e);
        if (i == 0) job->n_warmed = t.n_warmed;
        if (rc < 0) {
            if (rc == SB_ECANCELED) break;
            chunk_fail(job, rc, "backend run", ds->sel[i], &e);
            break;
        }
        note_dropped(job, take_dropped(&s->metrics, be->hdr.abi_minor));
        postprocess(g, logits, s);
        s->done = 1;
        atomic_fetch_add(&job->n_done, 1);
    }
out:
    free(rgb);
    free(in);
    free(logits);
}

/* --------------------------------------------------------- loop thread */

static void note_write(sb_runner *r, int rc, const sb_error *e) {
    r->saved_ns = sb_now_ns();
    r->n_saves++;
    if (rc < 0 && r->write_rc == 0) {
        r->write_rc = rc;
        r->write_err = *e;
        fprintf(stderr, "srambench: error: writing results: %s\n", e->msg);
    }
}

static void write_results(sb_runner *r, int final) {
    sb_error e = {0};
    sb_results_snap_free(&r->unsaved); /* this write supersedes it */
    note_write(r, sb_results_write(&r->run, final, &e), &e);
}

/* Writes the snapshot taken after the last job, if any. Safe while a job
 * runs: the snapshot is text, the run is not read. */
static void save_unsaved(sb_runner *r) {
    sb_error e = {0};
    if (!r->unsaved.json) return;
    note_write(r, sb_results_snap_write(r->run.out_dir, &r->unsaved, &e), &e);
    sb_results_snap_free(&r->unsaved);
}

static int save_due(const sb_runner *r) {
    return sb_now_ns() - r->saved_ns >= SB_SAVE_INTERVAL_NS;
}

/* After a job, between jobs (nothing else reads or writes the run): take
 * the snapshot now, write it now only if the last write is a second old. */
static void save_after_job(sb_runner *r) {
    sb_error e = {0};
    int rc;
    sb_results_snap_free(&r->unsaved);
    if ((rc = sb_results_snap_take(&r->run, 0, &r->unsaved, &e)) < 0) {
        note_write(r, rc, &e);
        return;
    }
    if (save_due(r) || r->stopping) save_unsaved(r);
}

static void clear_progress(sb_runner *r) {
    if (r->tty && r->progress_shown) {
        fputs("\r\033[K", stderr);
        r->progress_shown = 0;
    }
}

/* Never silent: metrics that did not fit become the job's warning, on
 * stderr and in results.json (docs/results-schema.md, "warnings"). */
static void warn_dropped(sb_job *job, const sb_run_backend *b) {
    size_t n = atomic_load(&job->n_metrics_overflow);
    int max = atomic_load(&job->metrics_dropped_max);
    if (n == 0) return;
    if (max > 0)
        job->warning = sb_strdupf("backend '%s' reported more metrics than the %d slots of "
                                  "sb_metrics for %zu image(s): up to %d per image not stored: "
                                  "expected at most %d (SB_MAX_METRICS)",
                                  b->cfg->name, SB_MAX_METRICS, n, max, SB_MAX_METRICS);
    else
        job->warning = sb_strdupf("backend '%s' (plugin ABI %u.%u) filled all %d metric slots for "
                                  "%zu image(s): metrics past the first %d, if any, were dropped "
                                  "unseen: expected at most %d (SB_MAX_METRICS; a plugin built for "
                                  "ABI 1.1 says how many)", b->cfg->name, b->api->hdr.abi_major,
                                  b->api->hdr.abi_minor, SB_MAX_METRICS, n, SB_MAX_METRICS,
                                  SB_MAX_METRICS);
    if (job->warning) fprintf(stderr, "srambench: warning: %s\n", job->warning);
}

static void job_finished(sb_runner *r) {
    sb_job *job = &r->run.jobs[r->cur];
    const sb_run_backend *b = &r->run.backends[job->be];
    size_t n_done = atomic_load(&job->n_done);
    if (job->status == SB_JOB_RUNNING) {
        if (atomic_load(&job->img_failed)) job->status = SB_JOB_FAILED;
        else if (n_done + atomic_load(&job->n_skipped) < job->n) {
            job->status = SB_JOB_CANCELLED;
            sb_error_set(&job->err, SB_ECANCELED, "interrupted after %zu of %zu images", n_done, job->n);
        } else job->status = SB_JOB_OK;
    }
    /* Figures copy the backend's notes, so compute them before release. */
    sb_job_compute(&r->run, job);
    clear_progress(r);
    warn_dropped(job, b);
    if (job->prog) b->api->release(job->prog);
    if (job->be_handle) b->api->close(job->be_handle);
    job->prog = job->be_handle = NULL;
    clear_progress(r);
    if (!r->opts->quiet || job->status != SB_JOB_OK) {
        long same = sb_job_same_error_as(&r->run, r->cur);
        char ref[64];
        snprintf(ref, sizeof ref, "same error as job %ld", same + 1);
        fprintf(stderr, "srambench: job %zu/%zu %s x %s x %s: %s%s%s\n", r->cur + 1, r->run.n_jobs,
                r->run.datasets[job->ds].cfg->inst.name, r->run.models[job->model].cfg->name, b->cfg->name,
                sb_job_status_name(job->status), job->err.msg[0] ? ": " : "", same >= 0 ? ref : job->err.msg);
    }
    save_after_job(r);
    sb_runner_event("job %zu done", r->cur);
    if (r->opts->on_job_done) r->opts->on_job_done(r, r->cur, r->opts->ud);
    r->cur++;
    next_job(r);
}

static void chunk_after(uv_work_t *req, int status) {
    chunk *ch = req->data;
    sb_runner *r = ch->r;
    (void)status;
    if (--r->chunks_left == 0) {
        ch->job->t1_ns = sb_now_ns();
        free(r->chunks);
        r->chunks = NULL;
        job_finished(r);
    }
}

static void setup_after(uv_work_t *req, int status) {
    sb_runner *r = req->data;
    sb_job *job = &r->run.jobs[r->cur];
    size_t per, n_chunks, c;
    (void)status;
    if (job->status != SB_JOB_RUNNING || r->stopping || job->n == 0) {
        job_finished(r);
        return;
    }
    /* Chunks small enough that every worker has several: a slow image does
     * not leave the other workers idle, and a stop takes effect quickly. */
    per = job->n / ((size_t)r->run.cfg->workers * 4);
    if (per < 1) per = 1;
    if (per > SB_CHUNK_MAX_IMAGES) per = SB_CHUNK_MAX_IMAGES;
    n_chunks = (job->n + per - 1) / per;
    if (!(r->chunks = calloc(n_chunks, sizeof *r->chunks))) {
        job->status = SB_JOB_FAILED;
        sb_error_set(&job->err, SB_ENOMEM, "out of memory queueing work");
        job_finished(r);
        return;
    }
    job->t0_ns = sb_now_ns();
    r->chunks_left = n_chunks;
    sb_runner_event("job %zu images", r->cur);
    for (c = 0; c < n_chunks; c++) {
        chunk *ch = &r->chunks[c];
        ch->r = r;
        ch->job = job;
        ch->lo = c * per;
        ch->hi = ch->lo + per < job->n ? ch->lo + per : job->n;
        ch->req.data = ch;
        uv_queue_work(&r->loop, &ch->req, chunk_work, chunk_after);
    }
}

static void close_handles(sb_runner *r) {
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, NULL);
    uv_signal_stop(&r->sigint);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_signal_stop(&r->sigterm);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_signal_stop(&r->sighup);
    uv_close((uv_handle_t *)&r->sighup, NULL);
}

static void next_job(sb_runner *r) {
    while (r->cur < r->run.n_jobs && r->run.jobs[r->cur].restored) r->cur++; /* resume: finished before */
    while (r->cur < r->run.n_jobs && r->stopping) {
        sb_job *job = &r->run.jobs[r->cur++];
        job->status = SB_JOB_CANCELLED;
        sb_error_set(&job->err, SB_ECANCELED, "not started: the run was interrupted");
        sb_job_compute(&r->run, job);
    }
    if (r->cur >= r->run.n_jobs) {
        close_handles(r);
        return;
    }
    r->run.jobs[r->cur].status = SB_JOB_RUNNING;
    r->setup_req.data = r;
    uv_queue_work(&r->loop, &r->setup_req, setup_work, setup_after);
}

static void on_timer(uv_timer_t *t) {
    sb_runner *r = t->data;
    sb_job *job;
    size_t done;
    double el_s, rate;
    uint64_t now = sb_now_ns();
    char line[256];
    if (r->unsaved.json && save_due(r)) save_unsaved(r);
    if (r->opts->quiet || r->cur >= r->run.n_jobs) return;
    job = &r->run.jobs[r->cur];
    if (!r->tty && now - r->last_log_ns < SB_PROGRESS_LOG_NS) return;
    /* every job prepares its backend: the first says so, the others would
     * only repeat it between their "ok" lines */
    if (!job->t0_ns && r->prep_shown) return;
    r->last_log_ns = now;
    done = atomic_load(&job->n_done);
    el_s = job->t0_ns ? (double)(now - job->t0_ns) * 1e-9 : 0;
    rate = el_s > 0 ? (double)done / el_s : 0;
    r->prep_shown |= !job->t0_ns;
    if (!job->t0_ns)
        snprintf(line, sizeof line, "job %zu/%zu %s x %s: preparing", r->cur + 1, r->run.n_jobs,
                 r->run.models[job->model].cfg->name, r->run.backends[job->be].cfg->name);
    else
        snprintf(line, sizeof line, "job %zu/%zu %s x %s: %zu/%zu images, %.1f img/s, ETA %.0f s%s", r->cur + 1,
                 r->run.n_jobs, r->run.models[job->model].cfg->name, r->run.backends[job->be].cfg->name, done,
                 job->n, rate, rate > 0 ? (double)(job->n - done) / rate : 0.0, r->stopping ? " (stopping)" : "");
    if (r->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        r->progress_shown = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
}

void sb_runner_stop(sb_runner *r) {
    if (r->stopping) return;
    r->stopping = 1;
    r->run.interrupted = 1;
    atomic_store(&g_cancel, 1);
    save_unsaved(r); /* the jobs finished so far, whatever happens next */
    clear_progress(r);
    fprintf(stderr, "srambench: stopping: finishing the images in flight and writing the results "
                    "(interrupt again to quit at once)\n");
}

static void on_signal(uv_signal_t *h, int signum) {
    sb_runner *r = h->data;
    (void)signum;
    if (++r->n_signals == 1) {
        sb_runner_stop(r);
        return;
    }
    /* Results are rewritten atomically, so what is on disk is whole; the
     * jobs finished since the last write are in the snapshot. */
    save_unsaved(r);
    fprintf(stderr, "\nsrambench: interrupted again: exiting now; finished jobs are in %s\n", r->run.out_dir);
    fflush(NULL);
    sb_runner_event("exit");
    _exit(130);
}

/* A hangup ends the run as it always did (the signal's default action; the
 * supervisor counts it as the stop it is), but the jobs finished since the
 * last write are written first. */
static void on_hangup(uv_signal_t *h, int signum) {
    sb_runner *r = h->data;
    save_unsaved(r);
    fflush(NULL);
    uv_signal_stop(h); /* libuv puts the default action back */
    raise(signum);
}

/* --------------------------------------------------------- preparation */

static int load_plugin(const sb_search_path *sp, const sb_cfg_inst *inst, sb_kind kind,
                       const char *const *fw_keys, sb_plugin *p, sb_opts_owned *opts, sb_error *err) {
    sb_error e = {0};
    int rc = sb_plugin_find(sp, kind, inst->plugin, p, &e);
    const sb_option_spec *s;
    size_t k;
    if (rc < 0)
        return sb_error_set(err, rc, "%s:%d:%d: %s '%s': %s", inst->file, inst->line, inst->col, inst->section,
                            inst->name, e.msg);
    /* A plugin option named like a framework key can never be set: say so
     * rather than let the user believe it was. */
    for (s = p->hdr->options; s && s->name; s++)
        for (k = 0; fw_keys[k]; k++)
            if (strcmp(s->name, fw_keys[k]) == 0)
                fprintf(stderr, "srambench: warning: %s plugin '%s' declares option '%s', which bench.toml "
                                "reserves for the framework: the plugin never receives it\n",
                        inst->section, inst->plugin, s->name);
    return sb_options_build(inst, fw_keys, p->hdr->options, opts, err);
}

static int prepare_run(sb_runner *r, const sb_config *cfg, sb_error *err) {
    sb_run *run = &r->run;
    sb_search_path sp;
    size_t i, d, m, b, j = 0;
    int rc;
    run->cfg = cfg;
    run->datasets = calloc(cfg->n_datasets, sizeof *run->datasets);
    run->models = calloc(cfg->n_models, sizeof *run->models);
    run->backends = calloc(cfg->n_backends, sizeof *run->backends);
    run->n_jobs = cfg->n_datasets * cfg->n_models * cfg->n_backends;
    run->jobs = calloc(run->n_jobs, sizeof *run->jobs);
    if (!run->datasets || !run->models || !run->backends || !run->jobs)
        return sb_error_set(err, SB_ENOMEM, "out of memory");
    if ((rc = sb_search_path_init(&sp, (const char *const *)cfg->plugin_path, cfg->n_plugin_path, err)) < 0) return rc;
    for (i = 0; i < cfg->n_datasets && rc == 0; i++) {
        sb_run_dataset *x = &run->datasets[i];
        x->cfg = &cfg->datasets[i];
        rc = load_plugin(&sp, &x->cfg->inst, SB_KIND_DATASET, sb_cfg_dataset_keys, &x->plugin, &x->opts, err);
        x->api = (const sb_dataset_plugin *)x->plugin.hdr;
    }
    for (i = 0; i < cfg->n_models && rc == 0; i++) {
        sb_run_model *x = &run->models[i];
        x->cfg = &cfg->models[i];
        rc = load_plugin(&sp, x->cfg, SB_KIND_MODEL, sb_cfg_model_keys, &x->plugin, &x->opts, err);
        x->api = (const sb_model_plugin *)x->plugin.hdr;
    }
    for (i = 0; i < cfg->n_backends && rc == 0; i++) {
        sb_run_backend *x = &run->backends[i];
        x->cfg = &cfg->backends[i];
        rc = load_plugin(&sp, x->cfg, SB_KIND_BACKEND, sb_cfg_backend_keys, &x->plugin, &x->opts, err);
        x->api = (const sb_backend_plugin *)x->plugin.hdr;
    }
    sb_search_path_free(&sp);
    if (rc < 0) return rc;
    for (d = 0; d < cfg->n_datasets; d++)
        for (m = 0; m < cfg->n_models; m++)
            for (b = 0; b < cfg->n_backends; b++, j++) {
                run->jobs[j].ds = d;
                run->jobs[j].model = m;
                run->jobs[j].be = b;
            }
    return 0;
}

/* results/<YYYYmmdd-HHMMSS>-<name>[-<command>], with -2, -3 ... if taken:
 * a view command's folder says which command made it. The name is safe in
 * a path as it is: sb_config.c allows only A-Z a-z 0-9 . _ - */
static int make_out_dir(sb_runner *r, const sb_config *cfg, const char *fixed, sb_error *err) {
    const char *cmd = r->opts->dir_suffix;
    char stamp[32];
    char *name;
    time_t now = time(NULL);
    struct tm tm;
    int k, e, rc;
    gmtime_r(&now, &tm);
    strftime(r->run.started_utc, sizeof r->run.started_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (fixed) {
        r->run.out_dir = strdup(fixed);
        return sb_mkdirs(fixed, err);
    }
    if ((rc = sb_mkdirs(cfg->output, err)) < 0) return rc;
    name = cmd ? sb_strdupf("%s-%s", cfg->name, cmd) : strdup(cfg->name);
    if (!name) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (k = 1, e = EEXIST; k < 100 && e == EEXIST; k++) { /* only a taken name is worth another try */
        free(r->run.out_dir);
        r->run.out_dir = k == 1 ? sb_strdupf("%s/%s-%s", cfg->output, stamp, name)
                                : sb_strdupf("%s/%s-%s-%d", cfg->output, stamp, name, k);
        if (!r->run.out_dir) e = ENOMEM;
        else e = mkdir(r->run.out_dir, 0755) == 0 ? 0 : errno;
    }
    rc = 0;
    if (e == ENOMEM) rc = sb_error_set(err, SB_ENOMEM, "out of memory");
    else if (e == EEXIST)
        rc = sb_error_set(err, SB_EIO, "%s: cannot create a results folder: %s-%s to -99 are all taken",
                          cfg->output, stamp, name);
    else if (e)
        rc = sb_error_set(err, SB_EIO, "%s: cannot create the results folder: %s", r->run.out_dir, strerror(e));
    free(name);
    return rc;
}

/* The run to resume, locked before its results.json is read (sb_lock.h);
 * nothing to do for a new run. */
static int open_resume_dir(sb_runner *r, sb_error *err) {
    const char *resume = r->opts->resume_dir;
    int rc;
    if (!resume) return 0;
    if ((rc = sb_lock_run_dir(resume, err)) < 0) return rc;
    return sb_resume_restore(&r->run, resume, r->opts->resume_rerun, err);
}

/* A new run's folder, made (or named) and locked for this run; nothing to do
 * when resuming. It comes after every config check, so a refused config
 * leaves no folder behind. */
static int open_new_dir(sb_runner *r, const sb_config *cfg, sb_error *err) {
    int rc;
    if (r->opts->resume_dir) return 0;
    if ((rc = make_out_dir(r, cfg, r->opts->out_dir, err)) < 0) return rc;
    return sb_lock_dir(r->run.out_dir, err);
}

static void teardown(sb_runner *r) {
    sb_run *run = &r->run;
    size_t i;
    for (i = 0; i < run->n_jobs; i++) {
        sb_job_clear_figs(&run->jobs[i]);
        cJSON_Delete(run->jobs[i].restored);
        free(run->jobs[i].samples);
        free(run->jobs[i].timed_ns);
        free(run->jobs[i].report_json);
        free(run->jobs[i].warning);
    }
    for (i = 0; run->models && i < run->cfg->n_models; i++) {
        sb_run_model *m = &run->models[i];
        if (m->graph && m->api->unload) m->api->unload(m->graph);
        sb_options_free(&m->opts);
        sb_plugin_close(&m->plugin);
    }
    for (i = 0; run->datasets && i < run->cfg->n_datasets; i++) {
        sb_run_dataset *d = &run->datasets[i];
        if (d->h) d->api->close(d->h);
        cJSON_Delete(d->restored);
        free(d->sel);
        free(d->class_counts);
        sb_options_free(&d->opts);
        sb_plugin_close(&d->plugin);
    }
    for (i = 0; run->backends && i < run->cfg->n_backends; i++) {
        sb_options_free(&run->backends[i].opts);
        sb_plugin_close(&run->backends[i].plugin);
    }
    free(run->jobs);
    free(run->datasets);
    free(run->models);
    free(run->backends);
    free(run->out_dir);
    cJSON_Delete(run->resumed_utc);
    cJSON_Delete(run->inputs);
}

static void summarise(const sb_runner *r, sb_run_summary *sum) {
    size_t i;
    memset(sum, 0, sizeof *sum);
    snprintf(sum->out_dir, sizeof sum->out_dir, "%s", r->run.out_dir ? r->run.out_dir : "");
    sum->interrupted = r->run.interrupted;
    for (i = 0; i < r->run.n_jobs; i++) {
        switch (r->run.jobs[i].status) {
        case SB_JOB_OK: sum->n_ok++; break;
        case SB_JOB_UNAVAILABLE: sum->n_unavailable++; break;
        case SB_JOB_CANCELLED: sum->n_cancelled++; break;
        default: sum->n_failed++; break;
        }
    }
}

int sb_run_bench(const sb_config *cfg, const sb_run_opts *opts, sb_run_summary *sum, sb_error *err) {
    static const sb_run_opts no_opts = {0};
    sb_runner *r = calloc(1, sizeof *r);
    sb_error e = {0};
    int rc;
    if (!r) return sb_error_set(err, SB_ENOMEM, "out of memory");
    r->opts = opts ? opts : &no_opts;
    r->tty = isatty(2);
    atomic_store(&g_cancel, 0);
    g_host.cache_dir = cfg->cache_dir;
    g_host.repo_root = cfg->dir;
    /* The files' fingerprints are taken before any job reads them: a resume
     * compares them with the ones the run started with (sb_inputs.c). */
    if ((rc = prepare_run(r, cfg, err)) < 0 || (rc = sb_inputs_check_paths(&r->run, err)) < 0 ||
        (!(r->run.inputs = sb_inputs_json(&r->run)) && (rc = sb_error_set(err, SB_ENOMEM, "out of memory")) < 0) ||
        (rc = open_resume_dir(r, err)) < 0 || (rc = check_classes(&r->run, err)) < 0 ||
        (rc = open_new_dir(r, cfg, err)) < 0) {
        teardown(r);
        free(r);
        return rc;
    }
    /* The config and environment are on disk from the start. If they cannot
     * be written, no job's results could be either: run none. */
    if ((rc = sb_results_write(&r->run, 0, &e)) < 0) {
        sb_error_set(err, rc, "writing results: %s (no job was run)", e.msg);
        teardown(r);
        free(r);
        return rc;
    }
    r->saved_ns = sb_now_ns();
    r->n_saves = 1;
    if ((rc = uv_loop_init(&r->loop)) != 0) {
        teardown(r);
        free(r);
        return sb_error_set(err, SB_EIO, "libuv: %s", uv_strerror(rc));
    }
    sb_runner_event("dir %s", r->run.out_dir);
    uv_timer_init(&r->loop, &r->timer);
    uv_signal_init(&r->loop, &r->sigint);
    uv_signal_init(&r->loop, &r->sigterm);
    uv_signal_init(&r->loop, &r->sighup);
    r->timer.data = r->sigint.data = r->sigterm.data = r->sighup.data = r;
    uv_timer_start(&r->timer, on_timer, SB_PROGRESS_MS, SB_PROGRESS_MS);
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    uv_signal_start(&r->sighup, on_hangup, SIGHUP);
    next_job(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    clear_progress(r);
    write_results(r, 1);
    host_log(SB_LOG_DEBUG, "results.json written %u times for %zu jobs", r->n_saves, r->run.n_jobs);
    if (!r->opts->quiet) sb_results_print_table(&r->run, stdout);
    summarise(r, sum);
    rc = r->write_rc;
    if (rc < 0) *err = r->write_err;
    teardown(r);
    free(r);
    return rc;
}

sb_run *sb_runner_run(sb_runner *r) { return &r->run; }
