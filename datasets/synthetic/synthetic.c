/*
 * synthetic.c - the synthetic dataset: n seeded random inputs, no labels
 * (issue 18). For costing models whose data is not here (latency, energy,
 * traffic and memory need no labels; docs/tflite.md): every sample is
 * unlabelled, so the framework runs them for cost only and reports no
 * accuracy. Bytes uniform over 0..255 (int8 inputs uniform over -128..127);
 * a model whose input is not an image (keyword spotting's 49x10x1 MFCC, an
 * autoencoder's 640-vector) reads the first H*W*C bytes of an S x S image.
 * Sample i is a function of (seed, i) only, so any order, worker count or
 * resume gives the same bytes. Options: n (samples), data_seed, classes (the
 * model's output size).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sb_plugin.h"

typedef struct syn_ds {
    size_t n;
    uint64_t seed;
    int classes;
    char (*ids)[32];
    char (*names)[16];
} syn_ds;

static const sb_option_spec syn_options[] = {
    {"n", SB_OPT_INT, 0, "number of samples (default 20, 1..1000000)"},
    {"data_seed", SB_OPT_INT, 0, "seed of the random bytes (default 1; `seed` is the framework's shuffle)"},
    {"classes", SB_OPT_INT, SB_OPT_REQUIRED, "number of classes: the model's output elements (1..100000)"},
    {NULL, 0, 0, NULL}};

/* splitmix64: one independent stream per (seed, sample). */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int range_error(const sb_options *o, const char *key, int64_t v, const char *want, sb_error *err) {
    const sb_option *opt = sb_opt_find(o, key);
    return sb_error_set(err, SB_EINVAL, "%s:%d: %s = %lld: expected %s", opt && opt->file ? opt->file : "bench.toml",
                        opt ? opt->line : 0, key, (long long)v, want);
}

static int syn_open(const sb_host *host, const sb_options *o, void **out, sb_error *err) {
    (void)host;
    int64_t n = sb_opt_int(o, "n", 20), classes = sb_opt_int(o, "classes", 0);
    if (n < 1 || n > 1000000) return range_error(o, "n", n, "1..1000000", err);
    if (classes < 1 || classes > 100000) return range_error(o, "classes", classes, "1..100000", err);
    syn_ds *d = calloc(1, sizeof *d);
    if (!d) return sb_error_set(err, SB_ENOMEM, "synthetic: out of memory");
    d->n = (size_t)n;
    d->seed = (uint64_t)sb_opt_int(o, "data_seed", 1);
    d->classes = (int)classes;
    d->ids = calloc(d->n, sizeof *d->ids);
    d->names = calloc((size_t)d->classes, sizeof *d->names);
    if (!d->ids || !d->names) {
        free(d->ids);
        free(d->names);
        free(d);
        return sb_error_set(err, SB_ENOMEM, "synthetic: out of memory");
    }
    for (size_t i = 0; i < d->n; i++) snprintf(d->ids[i], sizeof d->ids[i], "synthetic_%06zu", i);
    for (int c = 0; c < d->classes; c++) snprintf(d->names[c], sizeof d->names[c], "%d", c);
    *out = d;
    return SB_OK;
}

static void syn_close(void *h) {
    syn_ds *d = h;
    if (!d) return;
    free(d->ids);
    free(d->names);
    free(d);
}

static size_t syn_count(void *h) { return ((syn_ds *)h)->n; }
static int syn_n_classes(void *h) { return ((syn_ds *)h)->classes; }
static const char *syn_class_name(void *h, int c) { return ((syn_ds *)h)->names[c]; }
static int syn_label(void *h, size_t i) { (void)h; (void)i; return -1; /* unlabelled: never scored */ }
static const char *syn_sample_id(void *h, size_t i) { return ((syn_ds *)h)->ids[i]; }

/* n uniform random bytes of sample `index`. */
static int fill(const syn_ds *d, size_t index, uint8_t *out, size_t n, sb_error *err) {
    if (index >= d->n) return sb_error_set(err, SB_EINVAL, "synthetic: sample %zu: expected < %zu", index, d->n);
    uint64_t s = d->seed * 0xD1B54A32D192ED03ull ^ (uint64_t)index;
    for (size_t k = 0; k < n; k += 8) {
        uint64_t r = splitmix64(&s);
        for (size_t b = 0; b < 8 && k + b < n; b++) out[k + b] = (uint8_t)(r >> (8 * b));
    }
    return SB_OK;
}

/* An image (q = pixel - 128 is then uniform over -128..127). */
static int syn_get(void *h, size_t index, int size_px, uint8_t *rgb_out, sb_error *err) {
    return fill(h, index, rgb_out, (size_t)size_px * (size_t)size_px * 3, err);
}



static const sb_dataset_plugin syn_plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_DATASET, "synthetic", "1.0.0",
                          "seeded random int8 inputs of the model's input size, unlabelled (for costing)", syn_options),
    syn_open, syn_close, syn_count, syn_n_classes, syn_class_name, syn_label, syn_sample_id, NULL, NULL, syn_get};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &syn_plugin.hdr;
