/*
 * ham10000.c - the `ham10000` dataset plugin: HAM10000 in its original
 * layout, labels from dx, splits dermamnist | lesion | all, preprocessed
 * pixels from the shared .sbc cache (docs/dataset-cache.md, docs/datasets.md).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ham_meta.h"
#include "sb_image.h"
#include "sb_plugin.h"

#define N_META 10
#define MAX_SIZES 8

static const sb_option_spec options[] = {
    {"path", SB_OPT_STRING, 0, "dataset folder (default: $HAM10000_DIR, else ../shared/data/ham10000 from bench.toml's folder)"},
    {"split", SB_OPT_STRING, 0, "dermamnist (official, by image) | lesion (lesion-disjoint, stratified) | all; default dermamnist"},
    {"subset", SB_OPT_STRING, 0, "train | val | test | all; default test (all for split = all)"},
    {"train_fraction", SB_OPT_FLOAT, 0, "lesion split: fraction of each class's images for train (default 0.7)"},
    {"val_fraction", SB_OPT_FLOAT, 0, "lesion split: fraction for val (default 0.1)"},
    {"test_fraction", SB_OPT_FLOAT, 0, "lesion split: fraction for test (default 0.2)"},
    {"split_seed", SB_OPT_INT, 0, "lesion split: PRNG seed (default 0)"},
    {"skip_unreadable", SB_OPT_BOOL, 0, "skip missing/corrupt images (listed, meta status=unreadable) instead of failing; default false"},
    {"cache", SB_OPT_BOOL, 0, "keep preprocessed pixels in the .sbc cache; default true"},
    {NULL, 0, 0, NULL}};

typedef struct ham_ds {
    const sb_host *host;
    ham_meta meta;
    size_t *sel;          /* indices into meta.s of the opened subset */
    size_t n_sel;
    int *unreadable;      /* per meta sample */
    const char **meta_kv; /* n_sel x (N_META + 1) */
    char *meta_buf;
    int use_cache, skip_unreadable;
    pthread_mutex_t lock; /* guards caches[] */
    sb_cache *caches[MAX_SIZES];
    int n_caches;
} ham_ds;

static void no_log(int level, const char *fmt, ...) {
    (void)level;
    (void)fmt;
}

/* "where=file:line" for option messages. */
static int opt_error(const sb_options *o, const char *key, int code, const char *what, sb_error *err) {
    const sb_option *v = sb_opt_find(o, key);
    if (v && v->file)
        return sb_error_set(err, code, "%s:%d: ham10000 option %s: %s", v->file, v->line, key, what);
    return sb_error_set(err, code, "ham10000 option %s: %s", key, what);
}

static char *default_path(const sb_host *host) {
    const char *env = getenv("HAM10000_DIR");
    const char *root = host && host->repo_root ? host->repo_root : ".";
    char *p;
    if (env && env[0]) return strdup(env);
    p = malloc(strlen(root) + 32);
    if (p) sprintf(p, "%s/../shared/data/ham10000", root);
    return p;
}

static char *resolve_path(const sb_host *host, const char *path) {
    const char *root = host && host->repo_root ? host->repo_root : ".";
    char *p;
    if (path[0] == '/') return strdup(path);
    p = malloc(strlen(root) + strlen(path) + 2);
    if (p) sprintf(p, "%s/%s", root, path);
    return p;
}

/* Per-sample "key=value" strings, built once so pointers stay valid. */
static int build_meta(ham_ds *d, sb_error *err) {
    size_t bytes = 0, off = 0;
    for (size_t k = 0; k < d->n_sel; k++) {
        const ham_sample *s = &d->meta.s[d->sel[k]];
        bytes += strlen(s->image_id) + strlen(s->lesion_id) + strlen(s->dx) + strlen(s->dx_type) +
                 strlen(s->age) + strlen(s->sex) + strlen(s->localization) + 128;
    }
    d->meta_buf = malloc(bytes + 1);
    d->meta_kv = calloc(d->n_sel * (N_META + 1) + 1, sizeof *d->meta_kv);
    if (!d->meta_buf || !d->meta_kv) return sb_error_set(err, SB_ENOMEM, "ham10000: out of memory");
    for (size_t k = 0; k < d->n_sel; k++) {
        const ham_sample *s = &d->meta.s[d->sel[k]];
        const char **kv = d->meta_kv + k * (N_META + 1);
        const char *keys[N_META - 2] = {"image_id", "lesion_id", "dx", "dx_type", "age", "sex", "localization", "split"};
        const char *vals[N_META - 2] = {s->image_id, s->lesion_id, s->dx, s->dx_type, s->age, s->sex,
                                        s->localization, ham_subset_name(s->subset)};
        for (int j = 0; j < N_META - 2; j++) {
            kv[j] = d->meta_buf + off;
            off += (size_t)sprintf(d->meta_buf + off, "%s=%s", keys[j], vals[j]) + 1;
        }
        kv[N_META - 2] = d->meta_buf + off;
        off += (size_t)sprintf(d->meta_buf + off, "row=%d", s->row) + 1;
        kv[N_META - 1] = d->unreadable[d->sel[k]] ? "status=unreadable" : "status=ok";
        kv[N_META] = NULL;
    }
    return SB_OK;
}

static void ds_close(void *p) {
    ham_ds *d = p;
    if (!d) return;
    for (int i = 0; i < d->n_caches; i++) sb_cache_close(d->caches[i]);
    pthread_mutex_destroy(&d->lock);
    ham_meta_free(&d->meta);
    free(d->sel);
    free(d->unreadable);
    free(d->meta_kv);
    free(d->meta_buf);
    free(d);
}

static int read_options(const sb_host *host, const sb_options *o, char **path, ham_split_kind *kind,
                        int *subset, double frac[3], uint64_t *seed, sb_error *err) {
    const char *split = sb_opt_str(o, "split", "dermamnist"), *sub;
    const char *p = sb_opt_str(o, "path", NULL);
    if (ham_parse_split(split, kind) < 0)
        return opt_error(o, "split", SB_EINVAL, "expected dermamnist, lesion or all", err);
    sub = sb_opt_str(o, "subset", *kind == HAM_SPLIT_ALL ? "all" : "test");
    if (ham_parse_subset(sub, subset) < 0)
        return opt_error(o, "subset", SB_EINVAL, "expected train, val, test or all", err);
    if (*kind == HAM_SPLIT_ALL && *subset != HAM_NO_SUBSET)
        return opt_error(o, "subset", SB_EINVAL, "split = \"all\" has no subsets: expected subset = \"all\"", err);
    frac[0] = sb_opt_float(o, "train_fraction", 0.7);
    frac[1] = sb_opt_float(o, "val_fraction", 0.1);
    frac[2] = sb_opt_float(o, "test_fraction", 0.2);
    *seed = (uint64_t)sb_opt_int(o, "split_seed", 0);
    *path = p ? resolve_path(host, p) : default_path(host);
    return *path ? SB_OK : sb_error_set(err, SB_ENOMEM, "ham10000: out of memory");
}

static int select_subset(ham_ds *d, int subset, sb_error *err) {
    d->sel = malloc((d->meta.n ? d->meta.n : 1) * sizeof *d->sel);
    if (!d->sel) return sb_error_set(err, SB_ENOMEM, "ham10000: out of memory");
    for (size_t i = 0; i < d->meta.n; i++)
        if (subset == HAM_NO_SUBSET || d->meta.s[i].subset == subset) d->sel[d->n_sel++] = i;
    return SB_OK;
}

/* Missing files are known at open: fail naming file and row, or (skip)
 * mark and list them. Corrupt JPEGs are found when decoding (prepare/get). */
static int check_missing(ham_ds *d, sb_error *err) {
    size_t n_missing = 0;
    for (size_t i = 0; i < d->meta.n; i++) {
        const ham_sample *s = &d->meta.s[i];
        if (!s->missing) continue;
        if (!d->skip_unreadable && s->why)
            return sb_error_set(err, SB_EIO, "%s:%d: image %s: %s: %s: expected a JPEG file", d->meta.meta_path,
                                s->row, s->image_id, s->path, s->why);
        if (!d->skip_unreadable)
            return sb_error_set(err, SB_ENOENT, "%s:%d: image %s: missing image file %s",
                                d->meta.meta_path, s->row, s->image_id, s->path);
        d->unreadable[i] = 1;
        n_missing++;
        if (d->host && d->host->log)
            d->host->log(SB_LOG_WARN, "%s:%d: image %s%s%s, skipped", d->meta.meta_path, s->row, s->image_id,
                         s->why ? ": " : " ", s->why ? s->why : "missing");
    }
    if (n_missing && d->host && d->host->log)
        d->host->log(SB_LOG_WARN, "ham10000: %zu missing images skipped (skip_unreadable)", n_missing);
    return SB_OK;
}

static int ds_open(const sb_host *host, const sb_options *opts, void **out, sb_error *err) {
    ham_ds *d = calloc(1, sizeof *d);
    char *path = NULL;
    ham_split_kind kind = HAM_SPLIT_DERMAMNIST;
    int subset = HAM_TEST, rc;
    double frac[3] = {0, 0, 0};
    uint64_t seed = 0;
    if (!d) return sb_error_set(err, SB_ENOMEM, "ham10000: out of memory");
    pthread_mutex_init(&d->lock, NULL);
    d->host = host;
    d->use_cache = sb_opt_bool(opts, "cache", 1);
    d->skip_unreadable = sb_opt_bool(opts, "skip_unreadable", 0);
    rc = read_options(host, opts, &path, &kind, &subset, frac, &seed, err);
    if (rc == 0) rc = ham_meta_load(path, &d->meta, err);
    if (rc == 0) rc = ham_split(&d->meta, kind, seed, frac, err);
    if (rc == 0 && !(d->unreadable = calloc(d->meta.n, sizeof *d->unreadable)))
        rc = sb_error_set(err, SB_ENOMEM, "ham10000: out of memory");
    if (rc == 0) rc = check_missing(d, err);
    if (rc == 0) rc = select_subset(d, subset, err);
    if (rc == 0) rc = build_meta(d, err);
    free(path);
    if (rc < 0) {
        ds_close(d);
        return rc;
    }
    *out = d;
    return SB_OK;
}

static size_t ds_count(void *p) { return ((ham_ds *)p)->n_sel; }
static int ds_n_classes(void *p) { (void)p; return HAM_N_CLASSES; }
static const char *ds_class_name(void *p, int c) {
    (void)p;
    return c >= 0 && c < HAM_N_CLASSES ? ham_class_names[c] : NULL;
}
static int ds_label(void *p, size_t i) {
    ham_ds *d = p;
    return i < d->n_sel ? d->meta.s[d->sel[i]].label : -1;
}
static const char *ds_sample_id(void *p, size_t i) {
    ham_ds *d = p;
    return i < d->n_sel ? d->meta.s[d->sel[i]].image_id : NULL;
}
static const char *const *ds_sample_meta(void *p, size_t i) {
    ham_ds *d = p;
    return i < d->n_sel ? d->meta_kv + i * (N_META + 1) : NULL;
}

static sb_cache *find_cache(ham_ds *d, int size_px) {
    for (int i = 0; i < d->n_caches; i++)
        if (sb_cache_size_px(d->caches[i]) == size_px) return d->caches[i];
    return NULL;
}

/* Build or reuse the cache for size_px (whole folder), then record which
 * samples are unreadable. Caller holds d->lock. */
static int prepare_locked(ham_ds *d, int size_px, sb_error *err) {
    sb_cache_spec spec;
    sb_cache_item *items = NULL;
    sb_cache *c = NULL;
    int rc;
    if (!d->use_cache || find_cache(d, size_px)) return SB_OK;
    if (d->n_caches == MAX_SIZES)
        return sb_error_set(err, SB_ECAPACITY, "ham10000: more than %d image sizes in one run", MAX_SIZES);
    if ((rc = ham_cache_items(&d->meta, &items, err)) < 0) return rc;
    memset(&spec, 0, sizeof spec);
    spec.dataset = "ham10000";
    spec.cache_dir = d->host && d->host->cache_dir ? d->host->cache_dir : ".cache";
    spec.list_file = d->meta.meta_path;
    spec.size_px = size_px;
    spec.items = items;
    spec.n_items = (uint32_t)d->meta.n;
    spec.skip_unreadable = d->skip_unreadable;
    spec.n_threads = 2;
    spec.log = d->host && d->host->log ? d->host->log : no_log;
    spec.cancelled = d->host ? d->host->cancelled : NULL;
    rc = sb_cache_open(&spec, &c, err);
    free(items);
    if (rc < 0) return rc;
    d->caches[d->n_caches++] = c;
    for (size_t k = 0; k < d->n_sel; k++) {
        size_t i = d->sel[k];
        if (sb_cache_status(c, (uint32_t)i) != SB_CACHE_STATUS_OK && !d->unreadable[i]) {
            d->unreadable[i] = 1;
            d->meta_kv[k * (N_META + 1) + N_META - 1] = "status=unreadable";
        }
    }
    return SB_OK;
}

static int ds_prepare(void *p, int size_px, sb_error *err) {
    ham_ds *d = p;
    int rc;
    pthread_mutex_lock(&d->lock);
    rc = prepare_locked(d, size_px, err);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static int ds_get(void *p, size_t index, int size_px, uint8_t *rgb_out, sb_error *err) {
    ham_ds *d = p;
    const ham_sample *s;
    sb_cache *c;
    int rc;
    if (index >= d->n_sel)
        return sb_error_set(err, SB_EINVAL, "ham10000: sample %zu: expected < %zu", index, d->n_sel);
    s = &d->meta.s[d->sel[index]];
    pthread_mutex_lock(&d->lock);
    rc = prepare_locked(d, size_px, err);
    c = find_cache(d, size_px);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0) return rc;
    if (d->unreadable[d->sel[index]])
        return sb_error_set(err, SB_EIO, "%s:%d: image %s unreadable (skipped: skip_unreadable)",
                            d->meta.meta_path, s->row, s->image_id);
    if (c) {
        memcpy(rgb_out, sb_cache_pixels(c, (uint32_t)d->sel[index]), (size_t)size_px * (size_t)size_px * 3u);
        return SB_OK;
    }
    {
        sb_error e = {0, ""};
        rc = sb_image_load(s->path, size_px, rgb_out, &e);
        if (rc < 0)
            return sb_error_set(err, rc, "%s:%d: image %s: %s", d->meta.meta_path, s->row, s->image_id, e.msg);
    }
    return SB_OK;
}

static const sb_dataset_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_DATASET, "ham10000", "1.0.0",
                          "HAM10000 (CC BY-NC-SA 4.0, Tschandl et al. 2018) in its original layout; "
                          "7 classes from dx; dermamnist/lesion/all splits",
                          options),
    ds_open, ds_close, ds_count, ds_n_classes, ds_class_name, ds_label, ds_sample_id,
    ds_sample_meta, ds_prepare, ds_get};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
