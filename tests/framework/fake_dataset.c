/* A fake dataset for the framework tests: n images, `classes` classes,
 * class 0 twice as frequent as the others. Each image's pixels all equal
 * label*10 + 5, so the fake backend can "classify" it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_plugin.h"

typedef struct fake_ds {
    size_t n;
    int classes;
    long fail_get_at;
    char (*ids)[32];
    char (*names)[24];
} fake_ds;

static const sb_option_spec options[] = {
    {"n", SB_OPT_INT, 0, "number of images"},
    {"classes", SB_OPT_INT, 0, "number of classes"},
    {"fail_open", SB_OPT_BOOL, 0, "fail in open()"},
    {"fail_get_at", SB_OPT_INT, 0, "fail get() for this index"},
    {NULL, 0, 0, NULL}};

static int ds_open(const sb_host *host, const sb_options *o, void **out, sb_error *err) {
    fake_ds *d;
    size_t i;
    (void)host;
    if (sb_opt_bool(o, "fail_open", 0)) return sb_error_set(err, SB_EIO, "fake dataset: told to fail in open");
    d = calloc(1, sizeof *d);
    d->n = (size_t)sb_opt_int(o, "n", 20);
    d->classes = (int)sb_opt_int(o, "classes", 3);
    d->fail_get_at = (long)sb_opt_int(o, "fail_get_at", -1);
    d->ids = calloc(d->n + 1, sizeof *d->ids);
    d->names = calloc((size_t)d->classes, sizeof *d->names);
    for (i = 0; i < d->n; i++) snprintf(d->ids[i], sizeof d->ids[i], "fake_%04zu", i);
    for (i = 0; i < (size_t)d->classes; i++) snprintf(d->names[i], sizeof d->names[i], "c%zu", i);
    *out = d;
    return 0;
}

static void ds_close(void *h) {
    fake_ds *d = h;
    free(d->ids);
    free(d->names);
    free(d);
}

static size_t ds_count(void *h) { return ((fake_ds *)h)->n; }
static int ds_n_classes(void *h) { return ((fake_ds *)h)->classes; }
static const char *ds_class_name(void *h, int c) { return ((fake_ds *)h)->names[c]; }

static int ds_label(void *h, size_t i) {
    fake_ds *d = h;
    int k = (int)(i % (size_t)(d->classes + 1));
    return k == d->classes ? 0 : k;
}

static const char *ds_sample_id(void *h, size_t i) { return ((fake_ds *)h)->ids[i]; }

static int ds_get(void *h, size_t i, int size, uint8_t *rgb, sb_error *err) {
    fake_ds *d = h;
    if ((long)i == d->fail_get_at) return sb_error_set(err, SB_EIO, "fake dataset: told to fail get(%zu)", i);
    memset(rgb, ds_label(h, i) * 10 + 5, (size_t)size * (size_t)size * 3);
    return 0;
}

static const sb_dataset_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_DATASET, "fake", "1.0.0", "fake dataset for tests", options),
    ds_open, ds_close, ds_count, ds_n_classes, ds_class_name, ds_label, ds_sample_id, NULL, NULL, ds_get};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
