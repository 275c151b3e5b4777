/*
 * cmd_infer.c - `srambench infer <image.jpg | dataset:index>`: one image
 * through one model on each backend, the counterpart of the original tool's
 * sram_inference_results.json. Writes a results.json in the run schema
 * (docs/results-schema.md; one job per backend, one sample each) and
 * renders the infer view from it, so `srambench report` can redo it.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sb_classes.h"
#include "sb_cmd.h"
#include "sb_config.h"
#include "sb_image.h"
#include "sb_loader.h"
#include "sb_lock.h"
#include "sb_report.h"
#include "sb_run.h"
#include "sb_results.h"
#include "sb_runner.h"
#include "sb_timed.h"
#include "sb_util.h"

#define MAX_BE 16
#ifndef SB_VERSION
#define SB_VERSION "0.1.0"
#endif

typedef struct infer_args {
    const char *what, *config, *model, *out_dir;
    const char *backends[MAX_BE];
    int n_backends, charts, quiet;
} infer_args;

typedef struct image {
    uint8_t *rgb;
    int size_px, label;
    char id[256], source[512];
    cJSON *steps;   /* preprocessing, as shown */
} image;

static int parse(int argc, char **argv, infer_args *a) {
    int i;
    memset(a, 0, sizeof *a);
    a->config = "bench.toml";
    a->charts = 1;
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--config") && v) a->config = v, i++;
        else if (!strcmp(o, "--model") && v) a->model = v, i++;
        else if (!strcmp(o, "--backend") && v && a->n_backends < MAX_BE) a->backends[a->n_backends++] = v, i++;
        else if (!strcmp(o, "--output-dir") && v) a->out_dir = v, i++;
        else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) a->quiet = 1;
        else if (o[0] == '-' || a->what) {
            fprintf(stderr, "srambench infer: unexpected argument '%s' (see srambench infer --help)\n", o);
            return -1;
        } else a->what = o;
    }
    if (!a->what) {
        fprintf(stderr, "srambench infer: missing <image.jpg | dataset:index> (see srambench infer --help)\n");
        return -1;
    }
    return 0;
}

static void step(image *im, const char *fmt, double a, double b) {
    char *s = sb_strdupf(fmt, a, b);
    cJSON_AddItemToArray(im->steps, cJSON_CreateString(s ? s : "?"));
    free(s);
}

/* A JPEG file: decode, area-resize to the model's input (the one
 * preprocessing path, datasets/common/sb_image.h). */
static int load_jpeg(const char *path, image *im, sb_error *err) {
    uint8_t *rgb = NULL;
    int w, h, rc;
    if ((rc = sb_jpeg_decode_file(path, &rgb, &w, &h, err)) < 0) return rc;
    step(im, "decoded the JPEG with libjpeg (ISLOW, fancy upsampling): %.0f x %.0f pixels, 8-bit RGB", w, h);
    rc = sb_resize_area(rgb, w, h, 3, im->rgb, im->size_px, im->size_px, err);
    free(rgb);
    if (rc < 0) return rc;
    step(im, "squashed to %.0f x %.0f pixels by area averaging (integer, round half up; aspect ratio not kept)",
         im->size_px, im->size_px);
    im->label = -1;
    snprintf(im->id, sizeof im->id, "%s", path);
    snprintf(im->source, sizeof im->source, "%s", path);
    return 0;
}

/* The image's label means the model's class of that number only when the
 * two name the same classes in the same order (sb_classes.h). */
static int check_classes(const sb_cfg_inst *mi, const sb_graph *g, const sb_dataset_plugin *api, void *h,
                         const sb_cfg_dataset *d, sb_error *err) {
    sb_error e = {0};
    int unnamed = 0;
    if (sb_classes_check(g, mi->name, api, h, d->inst.name, &unnamed, &e) < 0)
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s", mi->file, mi->line, mi->col, e.msg);
    if (unnamed) sb_classes_warn(mi->name, d->inst.name, unnamed, g->n_classes);
    return 0;
}

/* Image `index` of the open dataset h into im, as a run would get it. */
static int serve_image(const sb_dataset_plugin *api, void *h, const sb_cfg_dataset *d, const char *what, size_t index,
                       image *im, sb_error *err) {
    const char *id;
    char *t;
    int rc;
    if (api->count(h) == 0) return sb_error_set(err, SB_EINVAL, "'%s': the opened split has no images", what);
    if (index >= api->count(h))
        return sb_error_set(err, SB_EINVAL, "'%s': index out of range: the opened split has %zu images: expected "
                            "0..%zu", what, api->count(h), api->count(h) - 1);
    id = api->sample_id ? api->sample_id(h, index) : NULL;
    rc = api->get(h, index, im->size_px, im->rgb, err);
    if (rc < 0 && api->prepare && api->prepare(h, im->size_px, err) == 0)
        rc = api->get(h, index, im->size_px, im->rgb, err);
    im->label = api->label(h, index);
    snprintf(im->id, sizeof im->id, "%s", id ? id : "");
    snprintf(im->source, sizeof im->source, "%s:%zu (%s)", d->inst.name, index, id ? id : "no id");
    t = sb_strdupf("image %zu of dataset '%s' (plugin %s, %s): decoded with libjpeg and squashed to %d x %d pixels by "
                   "area averaging (docs/dataset-cache.md), from the image cache when present", index, d->inst.name,
                   d->inst.plugin, id ? id : "no id", im->size_px, im->size_px);
    cJSON_AddItemToArray(im->steps, cJSON_CreateString(t ? t : "?"));
    free(t);
    return rc;
}

/* dataset:index - the image as the dataset plugin serves it to a run. */
static int load_dataset(const sb_cfg_inst *mi, const sb_graph *g, const sb_search_path *sp, const sb_host *host,
                        const sb_cfg_dataset *d, const char *what, size_t index, image *im, sb_error *err) {
    sb_plugin p;
    sb_opts_owned oo;
    const sb_dataset_plugin *api;
    void *h = NULL;
    int rc;
    if ((rc = sb_plugin_find(sp, SB_KIND_DATASET, d->inst.plugin, &p, err)) < 0) return rc;
    api = (const sb_dataset_plugin *)p.hdr;
    if ((rc = sb_options_build(&d->inst, sb_cfg_dataset_keys, p.hdr->options, &oo, err)) == 0) {
        if ((rc = api->open(host, &oo.opts, &h, err)) == 0) {
            rc = check_classes(mi, g, api, h, d, err);
            if (rc == 0) rc = serve_image(api, h, d, what, index, im, err);
            api->close(h);
        }
        sb_options_free(&oo);
    }
    sb_plugin_close(&p);
    return rc;
}

/* The index of dataset:index. strtoull alone takes "-1" and wraps it to
 * 2^64-1, which the messages then showed: decimal digits only. */
static int parse_index(const char *what, const char *s, size_t *idx, sb_error *err) {
    char *end;
    unsigned long long v;
    if (!isdigit((unsigned char)s[0]))
        return sb_error_set(err, SB_EINVAL, "'%s': index '%s': expected <dataset>:<index> with a decimal index 0, 1, 2, ...",
                            what, s);
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end)
        return sb_error_set(err, SB_EINVAL, "'%s': index '%s': expected <dataset>:<index> with a decimal index 0, 1, 2, ...",
                            what, s);
    *idx = errno == ERANGE || v > SIZE_MAX ? SIZE_MAX : (size_t)v; /* out of range: said once the split is open */
    return 0;
}

/* An argument that looks like dataset:index but names no dataset is said so,
 * rather than tried as an image file ("cannot open image nods:1"). */
static int unknown_dataset(const sb_config *cfg, const char *what, const char *colon, sb_error *err) {
    sb_buf names = {0};
    size_t k;
    int rc;
    for (k = 0; k < cfg->n_datasets; k++) sb_buf_printf(&names, "%s%s", k ? ", " : "", cfg->datasets[k].inst.name);
    rc = sb_error_set(err, SB_ENOENT, "'%s': no dataset named '%.*s' in %s (it has: %s): expected <dataset>:<index> "
                      "naming one of them, or an image file", what, (int)(colon - what), what, cfg->path,
                      names.s ? names.s : "none");
    sb_buf_free(&names);
    return rc;
}

/* <image.jpg | dataset:index>: a dataset of bench.toml by its name, else a file. */
static int load_what(const sb_config *cfg, const sb_cfg_inst *mi, const sb_graph *g, const sb_search_path *sp,
                     const sb_host *host, const char *what, image *im, sb_error *err) {
    const char *colon = strrchr(what, ':');
    size_t k, idx = 0;
    int rc;
    for (k = 0; colon && k < cfg->n_datasets; k++) {
        const sb_cfg_dataset *d = &cfg->datasets[k];
        if (strlen(d->inst.name) != (size_t)(colon - what) || strncmp(d->inst.name, what, (size_t)(colon - what))) continue;
        if ((rc = parse_index(what, colon + 1, &idx, err)) < 0) return rc;
        return load_dataset(mi, g, sp, host, d, what, idx, im, err);
    }
    if (colon && colon[1] && strspn(colon + 1, "+-0123456789") == strlen(colon + 1) && access(what, F_OK) != 0)
        return unknown_dataset(cfg, what, colon, err);
    return load_jpeg(what, im, err);
}

/* ------------------------------------------------------------ figures */

static cJSON *fig(double v, const char *prov, const char *unit, const char *note) {
    cJSON *o = cJSON_CreateObject();
    if (prov && isfinite(v)) cJSON_AddNumberToObject(o, "value", v), cJSON_AddStringToObject(o, "provenance", prov);
    else cJSON_AddNullToObject(o, "value"), cJSON_AddNullToObject(o, "provenance");
    cJSON_AddStringToObject(o, "unit", unit);
    if (note) cJSON_AddStringToObject(o, "note", note);
    else cJSON_AddNullToObject(o, "note");
    return o;
}

static const sb_metric *find_metric(const sb_metrics *m, const char *name) {
    int i;
    for (i = 0; i < m->n; i++)
        if (m->items[i].name && !strcmp(m->items[i].name, name)) return &m->items[i];
    return NULL;
}

static cJSON *metric_fig(const sb_metric *x, double scale, const char *unit, const char *why) {
    if (!x) return fig(NAN, NULL, unit, why);
    if (x->prov == SB_PROV_UNAVAILABLE) return fig(NAN, NULL, unit, x->note ? x->note : why);
    return fig(x->value * scale, sb_prov_name(x->prov), unit, x->note);
}

/* The standard figures of one image (docs/results-schema.md). */
static cJSON *std_metrics(const sb_metrics *m, const char *why_na) {
    cJSON *o = cJSON_CreateObject();
    const sb_metric *lat = m ? find_metric(m, SB_M_LATENCY_NS) : NULL, *en = m ? find_metric(m, SB_M_ENERGY_PJ) : NULL;
    const char *na = why_na ? why_na : "the backend did not report it";
    cJSON_AddItemToObject(o, "accuracy", fig(NAN, NULL, "1", why_na ? why_na : "one image: see the prediction and its label"));
    cJSON_AddItemToObject(o, "balanced_accuracy", fig(NAN, NULL, "1", why_na ? why_na : "one image"));
    cJSON_AddItemToObject(o, "latency_ms_median", metric_fig(lat, 1e-6, "ms", na));
    cJSON_AddItemToObject(o, "latency_ms_p95", metric_fig(lat, 1e-6, "ms", na));
    cJSON_AddItemToObject(o, "throughput_ips", fig(NAN, NULL, "images/s", why_na ? why_na : "one image: no throughput"));
    cJSON_AddItemToObject(o, "energy_mj_per_image", metric_fig(en, 1e-9, "mJ", na));
    if (lat && en && lat->prov != SB_PROV_UNAVAILABLE && en->prov != SB_PROV_UNAVAILABLE && lat->value > 0) {
        /* pJ / ns = mW; simulated if either input is */
        const char *prov = lat->prov == SB_PROV_SIMULATED || en->prov == SB_PROV_SIMULATED ? "simulated" : sb_prov_name(en->prov);
        char *note = sb_strdupf("energy_pj (%s) / latency_ns (%s)", sb_prov_name(en->prov), sb_prov_name(lat->prov));
        cJSON_AddItemToObject(o, "power_mw_avg", fig(en->value / lat->value, prov, "mW", note));
        free(note);
    } else {
        cJSON_AddItemToObject(o, "power_mw_avg", fig(NAN, NULL, "mW", en && en->prov == SB_PROV_UNAVAILABLE && en->note ? en->note : na));
    }
    return o;
}

/* Softmax of the dequantised logits, as the runner computes it. */
static cJSON *sample_json(const sb_graph *g, const int8_t *logits, const image *im, const sb_metrics *m) {
    const sb_tensor *out = &g->tensors[g->output];
    double scale = sb_runner_logit_scale(g), mx = -HUGE_VAL, sum = 0, p[256]; /* checked: sb_runner_check_graph */
    int n = g->n_classes < 256 ? g->n_classes : 256, c, k, best[3] = {-1, -1, -1};
    cJSON *o = cJSON_CreateObject(), *top = cJSON_CreateArray(), *pr = cJSON_CreateArray(), *mm = cJSON_CreateObject();
    for (c = 0; c < n; c++) {
        p[c] = scale * ((double)logits[c] - (double)out->zero_point);
        if (p[c] > mx) mx = p[c];
    }
    for (c = 0; c < n; c++) sum += (p[c] = exp(p[c] - mx));
    for (c = 0; c < n; c++) p[c] /= sum;
    for (k = 0; k < 3 && k < n; k++) /* ties keep the lower class */
        for (c = 0; c < n; c++)
            if ((k < 1 || c != best[0]) && (k < 2 || c != best[1]) && (best[k] < 0 || p[c] > p[best[k]])) best[k] = c;
    cJSON_AddNumberToObject(o, "index", 0);
    cJSON_AddStringToObject(o, "id", im->id);
    cJSON_AddNumberToObject(o, "label", im->label);
    cJSON_AddNumberToObject(o, "pred", best[0]);
    cJSON_AddNumberToObject(o, "confidence", p[best[0]]);
    for (k = 0; k < 3 && k < n; k++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "class", best[k]);
        cJSON_AddNumberToObject(t, "p", p[best[k]]);
        cJSON_AddItemToArray(top, t);
    }
    for (c = 0; c < n; c++) cJSON_AddItemToArray(pr, cJSON_CreateNumber(p[c]));
    cJSON_AddItemToObject(o, "top3", top);
    cJSON_AddItemToObject(o, "probs", pr);
    for (k = 0; k < m->n; k++) {
        const sb_metric *x = &m->items[k];
        if (!x->name) continue;
        if (x->prov == SB_PROV_UNAVAILABLE || !isfinite(x->value)) cJSON_AddNullToObject(mm, x->name);
        else cJSON_AddNumberToObject(mm, x->name, x->value);
    }
    cJSON_AddItemToObject(o, "metrics", mm);
    return o;
}

/* ------------------------------------------------------------ backends */

/* The latency figure says it is the median of warm runs. */
static void timed_note(sb_metrics *m, const sb_timed_run *t, char *buf, size_t cap) {
    for (int k = 0; k < m->n; k++) {
        sb_metric *x = &m->items[k];
        if (!x->name || strcmp(x->name, SB_M_LATENCY_NS) != 0) continue;
        snprintf(buf, cap, "%s; median of %d runs after %d warm-up runs (results.json timing)",
                 x->note ? x->note : "measured", t->n_timed, t->n_warmed);
        x->note = buf;
    }
}

static cJSON *run_backend(const sb_search_path *sp, const sb_host *host, const sb_cfg_inst *be, const sb_cfg_inst *mi,
                          const sb_graph *g, const image *im, const int8_t *input) {
    cJSON *job = cJSON_CreateObject(), *bm = cJSON_CreateObject(), *samples = cJSON_CreateArray();
    sb_plugin p = {0};
    sb_opts_owned oo;
    sb_error err = {0};
    sb_metrics m;
    const sb_backend_plugin *api = NULL;
    void *h = NULL, *prog = NULL;
    int8_t logits[256];
    sb_timed_run t = {0};
    char lat_note[400];
    const char *status = "failed";
    int rc, k, have_opts = 0;
    memset(&m, 0, sizeof m);
    cJSON_AddStringToObject(job, "dataset", "image");
    cJSON_AddStringToObject(job, "model", mi->name);
    cJSON_AddStringToObject(job, "backend", be->name);
    cJSON_AddStringToObject(job, "backend_plugin", be->plugin);
    cJSON_AddStringToObject(job, "model_plugin", mi->plugin);
    rc = sb_plugin_find(sp, SB_KIND_BACKEND, be->plugin, &p, &err);
    if (rc == 0) api = (const sb_backend_plugin *)p.hdr;
    if (rc == 0 && (rc = sb_options_build(be, sb_cfg_backend_keys, p.hdr->options, &oo, &err)) == 0) have_opts = 1;
    if (rc == 0) rc = api->open(host, &oo.opts, &h, &err);
    if (rc == 0) rc = api->prepare(h, g, &prog, &err);
    /* one image: the figure is the median of warm runs, not one cold run */
    t.warmup = be->warmup >= 0 ? (int)be->warmup : SB_WARMUP_DEFAULT;
    t.repeats = be->repeats >= 1 ? (int)be->repeats : SB_REPEATS_INFER_DEFAULT;
    t.n_warmed = t.n_timed = 0;
    if (rc == 0 && !(t.lat_ns = calloc((size_t)t.repeats, sizeof *t.lat_ns)))
        rc = sb_error_set(&err, SB_ENOMEM, "out of memory");
    if (rc == 0) rc = sb_run_timed(api, prog, input, logits, &t, &m, &err);
    if (rc == 0 && t.n_timed) timed_note(&m, &t, lat_note, sizeof lat_note);
    if (rc == 0) {
        char *rep = api->report_json ? api->report_json(prog) : NULL;
        cJSON *r = rep ? cJSON_Parse(rep) : NULL;
        cJSON_AddItemToObject(job, "backend_report", r ? r : cJSON_CreateNull());
        free(rep);
        status = "ok";
        cJSON_AddItemToArray(samples, sample_json(g, logits, im, &m));
        for (k = 0; k < m.n; k++)
            if (m.items[k].name) cJSON_AddItemToObject(bm, m.items[k].name, metric_fig(&m.items[k], 1, m.items[k].unit ? m.items[k].unit : "", "unavailable"));
    } else {
        cJSON_AddNullToObject(job, "backend_report");
        if (rc == SB_EUNAVAILABLE) status = "unavailable";
    }
    cJSON_AddStringToObject(job, "status", status);
    if (rc) cJSON_AddStringToObject(job, "error", err.msg);
    else cJSON_AddNullToObject(job, "error");
    cJSON_AddNumberToObject(job, "n_images", rc ? 0 : 1);
    cJSON_AddNumberToObject(job, "n_selected", 1);
    cJSON_AddNullToObject(job, "wall_s");
    {
        char *why = rc ? sb_strdupf("%s: %s", status, err.msg) : NULL;
        cJSON_AddItemToObject(job, "metrics", std_metrics(rc ? NULL : &m, why));
        free(why);
    }
    cJSON_AddItemToObject(job, "backend_metrics", bm);
    if (have_opts) sb_results_note_unsourced(job, &oo.opts);
    cJSON_AddItemToObject(job, "timing", sb_timing_json(t.n_warmed, t.repeats, t.lat_ns, (size_t)t.n_timed));
    free(t.lat_ns);
    cJSON_AddItemToObject(job, "samples", samples);
    if (prog) api->release(prog);
    if (h) api->close(h);
    if (have_opts) sb_options_free(&oo);
    if (p.dl) sb_plugin_close(&p);
    return job;
}

/* ---------------------------------------------------------------- main */

static const sb_cfg_inst *pick(const sb_cfg_inst *v, size_t n, const char *name) {
    size_t i;
    for (i = 0; i < n; i++)
        if (!name || !strcmp(v[i].name, name)) return &v[i];
    return NULL;
}

static int wanted(const infer_args *a, const char *name) {
    int i;
    if (!a->n_backends) return 1;
    for (i = 0; i < a->n_backends; i++)
        if (!strcmp(a->backends[i], name)) return 1;
    return 0;
}

static cJSON *results_json(const sb_graph *g, const image *im, cJSON *jobs) {
    cJSON *r = cJSON_CreateObject(), *ds = cJSON_CreateArray(), *d = cJSON_CreateObject(), *cls = cJSON_CreateArray();
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int c;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddNumberToObject(r, "schema_version", 1);
    cJSON_AddStringToObject(r, "srambench_version", SB_VERSION);
    cJSON_AddStringToObject(r, "name", "infer");
    cJSON_AddStringToObject(r, "started_utc", stamp);
    cJSON_AddBoolToObject(r, "complete", 1);
    cJSON_AddStringToObject(r, "image", im->source);
    cJSON_AddItemToObject(r, "preprocessing", cJSON_Duplicate(im->steps, 1));
    cJSON_AddItemToObject(r, "environment", cJSON_CreateObject());
    sb_host_state_json(cJSON_GetObjectItem(r, "environment"));
    cJSON_AddStringToObject(d, "name", "image");
    for (c = 0; c < g->n_classes; c++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "index", c);
        cJSON_AddStringToObject(x, "name", g->class_names && g->class_names[c] ? g->class_names[c] : "?");
        cJSON_AddNumberToObject(x, "count", im->label == c);
        cJSON_AddItemToArray(cls, x);
    }
    cJSON_AddItemToObject(d, "classes", cls);
    cJSON_AddItemToArray(ds, d);
    cJSON_AddItemToObject(r, "datasets", ds);
    cJSON_AddItemToObject(r, "jobs", jobs);
    return r;
}

/* Jobs that failed (not unavailable: a backend that cannot run here is
 * no failure, docs/errors.md). */
static int count_failed(const cJSON *jobs) {
    const cJSON *j;
    int n = 0;
    cJSON_ArrayForEach(j, jobs) n += strcmp(sb_json_str(j, "status", ""), "failed") == 0;
    return n;
}

static int infer_main(int argc, char **argv) {
    infer_args a;
    sb_config cfg;
    sb_search_path sp;
    sb_host host;
    sb_error err = {0};
    sb_plugin mp = {0};
    sb_opts_owned mo;
    const sb_model_plugin *mapi = NULL;
    const sb_graph *g = NULL;
    const sb_cfg_inst *mi;
    image im;
    int8_t *input = NULL;
    cJSON *jobs, *res;
    char *dir = NULL, *text = NULL, *path = NULL;
    int rc = SB_EXIT_CONFIG, have_mo = 0, i, n_failed;
    if (parse(argc, argv, &a) < 0) return SB_EXIT_USAGE;
    if (sb_config_load(a.config, &cfg, &err) < 0) {
        fprintf(stderr, "srambench infer: %s\n", err.msg);
        return SB_EXIT_CONFIG;
    }
    memset(&im, 0, sizeof im);
    im.steps = cJSON_CreateArray();
    if (sb_search_path_init(&sp, (const char *const *)cfg.plugin_path, cfg.n_plugin_path, &err) < 0) goto fail_cfg;
    host = *sb_runner_host();
    host.cache_dir = cfg.cache_dir;
    host.repo_root = cfg.dir;
    if (!(mi = pick(cfg.models, cfg.n_models, a.model))) {
        sb_error_set(&err, SB_ENOENT, "%s: no [[model]] named '%s'", a.config, a.model ? a.model : "(any)");
        goto fail;
    }
    if (sb_plugin_find(&sp, SB_KIND_MODEL, mi->plugin, &mp, &err) < 0) goto fail;
    mapi = (const sb_model_plugin *)mp.hdr;
    if (sb_options_build(mi, sb_cfg_model_keys, mp.hdr->options, &mo, &err) < 0) goto fail;
    have_mo = 1;
    if (mapi->load(&host, &mo.opts, &g, &err) < 0 || sb_runner_check_graph(g, mi->name, &err) < 0) goto fail;
    im.size_px = g->tensors[g->input].shape[1];
    im.rgb = malloc((size_t)im.size_px * (size_t)im.size_px * 3);
    input = malloc((size_t)im.size_px * (size_t)im.size_px * 3);
    if (!im.rgb || !input) goto fail;
    if (load_what(&cfg, mi, g, &sp, &host, a.what, &im, &err) < 0) goto fail;
    for (i = 0; i < im.size_px * im.size_px * 3; i++) input[i] = (int8_t)(im.rgb[i] - 128);
    step(&im, "int8 input q = pixel - 128 (%.0f x %.0f x 3, the model's input tensor)", im.size_px, im.size_px);
    jobs = cJSON_CreateArray();
    for (size_t k = 0; k < cfg.n_backends; k++)
        if (wanted(&a, cfg.backends[k].name)) cJSON_AddItemToArray(jobs, run_backend(&sp, &host, &cfg.backends[k], mi, g, &im, input));
    n_failed = count_failed(jobs);
    res = results_json(g, &im, jobs);
    if (a.out_dir) dir = strdup(a.out_dir);
    else {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        dir = sb_strdupf("%s/%s-%s-infer", cfg.output, stamp, cfg.name);
    }
    text = cJSON_Print(res);
    cJSON_Delete(res);
    path = dir ? sb_strdupf("%s/results.json", dir) : NULL;
    rc = SB_EXIT_IO;
    if (!text || !path || sb_mkdirs(dir, &err) < 0 || sb_lock_dir(dir, &err) < 0 ||
        sb_write_atomic(path, text, strlen(text), &err) < 0)
        goto fail;
    {
        sb_view_opts o = {SB_VIEW_INFER, NULL, NULL, 0};
        if (sb_report_write(dir, "infer", &o, a.quiet ? NULL : stdout, &err) < 0) goto fail;
    }
    fprintf(stderr, "srambench infer: wrote %s (results.json, infer.md, infer.html)\n", dir);
    /* as run, batch, compare and flow: written, but a backend failed */
    if (n_failed) fprintf(stderr, "srambench infer: %d backend%s failed (see %s/results.json)\n", n_failed, n_failed == 1 ? "" : "s", dir);
    rc = n_failed ? SB_EXIT_JOBS_FAILED : SB_EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "srambench infer: %s\n", err.msg[0] ? err.msg : "out of memory");
done:
    free(text), free(path), free(dir), free(input), free(im.rgb);
    cJSON_Delete(im.steps);
    if (g && mapi) mapi->unload(g);
    if (have_mo) sb_options_free(&mo);
    if (mp.dl) sb_plugin_close(&mp);
    sb_search_path_free(&sp);
    sb_config_free(&cfg);
    return rc;
fail_cfg:
    fprintf(stderr, "srambench infer: %s\n", err.msg);
    cJSON_Delete(im.steps);
    sb_config_free(&cfg);
    return SB_EXIT_CONFIG;
}

const sb_command sb_cmd_infer = {
    "infer", "one image through a model on each backend: prediction, top 3, cost",
    "usage: srambench infer <image.jpg | dataset:index> [options]\n"
    "\n"
    "Runs one image (a JPEG file, or image <index> of the bench.toml's [dataset] named\n"
    "<dataset>, e.g. ham10000:42) through one model on every [[backend]] of the bench.toml\n"
    "and shows the preprocessing steps, the prediction with class name and confidence, the\n"
    "top 3, and per backend the latency (memory / compute / DMA where the backend splits\n"
    "it), power and energy, each labelled measured / simulated / recorded, or unavailable\n"
    "with the reason. Writes results.json (run schema, with \"probs\"), infer.md, infer.html.\n"
    "\n"
    "options:\n"
    "  --config FILE     bench.toml (default ./bench.toml)\n"
    "  --model M         the [[model]] named M (default: the first)\n"
    "  --backend B       only the [[backend]] named B (repeat for several)\n"
    "  --output-dir DIR  default <output>/<YYYYmmdd-HHMMSS>-<name>-infer\n"
    "  -q, --quiet       do not print the markdown\n"
    "  -h, --help        this text\n"
    "\n"
    "exit codes: 0 ok (unavailable backends included), 1 a backend failed (written, with\n"
    "            the reason), 2 usage, 3 bad config, model, image or index, 4 results not written\n",
    infer_main};
