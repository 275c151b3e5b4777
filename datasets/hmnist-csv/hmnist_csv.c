/*
 * hmnist_csv.c - the `hmnist-csv` dataset plugin: Kaggle's hmnist_28_28_RGB.csv,
 * hmnist_8_8_RGB.csv, hmnist_28_28_L.csv, hmnist_8_8_L.csv (the files the
 * original tool read).
 *
 * Format: a header row of pixel names and "label", then one image per row:
 * S*S*C pixel values (row-major HWC, C = 3 for RGB, 1 for _L) and the label
 * last. The side S and C follow from the column count (S*S*3 and S*S cannot
 * both hold: 3 is not a square). Its labels use another order than ours
 * (0 akiec, 1 bcc, 2 bkl, 3 df, 4 nv, 5 vasc, 6 mel): they are remapped.
 * Grayscale is replicated to RGB; resizing uses the shared area resize.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_csv.h"
#include "sb_image.h"
#include "sb_plugin.h"

#define N_CLASSES 7

static const char *const class_names[N_CLASSES] = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"};
/* hmnist label -> our label: its 4 nv, 5 vasc, 6 mel are our 5, 6, 4. */
static const int hmnist_to_ours[N_CLASSES] = {0, 1, 2, 3, 5, 6, 4};

static const sb_option_spec options[] = {
    {"path", SB_OPT_STRING, SB_OPT_REQUIRED, "the hmnist_*.csv file (relative to bench.toml's folder)"},
    {NULL, 0, 0, NULL}};

typedef struct hmnist_ds {
    char *path;
    int side_px, channels;
    size_t n, cap;
    uint8_t *rgb;       /* n x side x side x 3 */
    int *label;         /* ours */
    int *row;           /* CSV line */
    char *strings;      /* ids and meta */
    const char **ids;
    const char **meta;  /* n x 3 */
} hmnist_ds;

static void ds_close(void *p) {
    hmnist_ds *d = p;
    if (!d) return;
    free(d->path); free(d->rgb); free(d->label); free(d->row);
    free(d->strings); free(d->ids); free(d->meta);
    free(d);
}

/* Pixel layout from the column count of the header. */
static int layout_from_columns(const sb_csv *csv, int n_cols, int *side, int *channels, sb_error *err) {
    int n_px = n_cols - 1;
    for (int c = 3; c >= 1; c -= 2) {
        int s = (int)lround(sqrt((double)n_px / c));
        if (n_px > 0 && s * s * c == n_px) {
            *side = s;
            *channels = c;
            return SB_OK;
        }
    }
    return sb_error_set(err, SB_EFORMAT, "%s:%d: %d columns: expected S*S*3 (RGB) or S*S (_L) pixel columns and a label",
                        csv->path, csv->line, n_cols);
}

static int grow(hmnist_ds *d, sb_error *err) {
    size_t nc = d->cap ? d->cap * 2 : 1024, px = (size_t)d->side_px * (size_t)d->side_px * 3u;
    uint8_t *rgb = realloc(d->rgb, nc * px);
    int *label, *row;
    if (!rgb) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", d->path);
    d->rgb = rgb;
    label = realloc(d->label, nc * sizeof *label);
    if (!label) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", d->path);
    d->label = label;
    row = realloc(d->row, nc * sizeof *row);
    if (!row) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", d->path);
    d->row = row;
    d->cap = nc;
    return SB_OK;
}

static int add_row(hmnist_ds *d, const sb_csv *csv, char **f, int n, sb_error *err) {
    int n_px = d->side_px * d->side_px * d->channels, rc;
    long v;
    uint8_t *out;
    if (n != n_px + 1)
        return sb_error_set(err, SB_EFORMAT, "%s:%d: %d columns: expected %d (%d pixels and the label, as the header)",
                            csv->path, csv->line, n, n_px + 1, n_px);
    if (d->n == d->cap && (rc = grow(d, err)) < 0) return rc;
    out = d->rgb + d->n * (size_t)d->side_px * (size_t)d->side_px * 3u;
    for (int k = 0; k < n_px; k++) {
        if (sb_csv_int(f[k], 0, 255, &v) < 0)
            return sb_error_set(err, SB_EFORMAT, "%s:%d: column %d is '%s': expected an integer 0..255",
                                csv->path, csv->line, k + 1, f[k]);
        if (d->channels == 3) {
            out[k] = (uint8_t)v;
        } else {
            out[3 * k] = out[3 * k + 1] = out[3 * k + 2] = (uint8_t)v;
        }
    }
    if (sb_csv_int(f[n_px], 0, N_CLASSES - 1, &v) < 0)
        return sb_error_set(err, SB_EFORMAT, "%s:%d: label '%s' (column %d): expected an integer 0..6",
                            csv->path, csv->line, f[n_px], n_px + 1);
    d->label[d->n] = hmnist_to_ours[v];
    d->row[d->n] = csv->line;
    d->n++;
    return SB_OK;
}

static int build_strings(hmnist_ds *d, sb_error *err) {
    size_t per = 64, off = 0;
    d->strings = malloc(d->n * per * 3 + 1);
    d->ids = malloc((d->n + 1) * sizeof *d->ids);
    d->meta = malloc((d->n * 3 + 1) * sizeof *d->meta);
    if (!d->strings || !d->ids || !d->meta) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", d->path);
    for (size_t i = 0; i < d->n; i++) {
        int hm = 0;
        for (int k = 0; k < N_CLASSES; k++)
            if (hmnist_to_ours[k] == d->label[i]) hm = k;
        d->ids[i] = d->strings + off;
        off += (size_t)snprintf(d->strings + off, per, "row%d", d->row[i]) + 1;
        d->meta[3 * i] = d->strings + off;
        off += (size_t)snprintf(d->strings + off, per, "row=%d", d->row[i]) + 1;
        d->meta[3 * i + 1] = d->strings + off;
        off += (size_t)snprintf(d->strings + off, per, "hmnist_label=%d", hm) + 1;
        d->meta[3 * i + 2] = NULL;
    }
    return SB_OK;
}

static int load(hmnist_ds *d, sb_error *err) {
    sb_csv csv;
    char **f;
    int n, rc;
    if ((rc = sb_csv_open(d->path, &csv, err)) < 0) return rc;
    rc = sb_csv_next(&csv, &f, &n, err);
    if (rc == 0) rc = sb_error_set(err, SB_EFORMAT, "%s: empty file: expected a header row and images", d->path);
    if (rc == 1 && strcmp(f[n - 1], "label") != 0)
        rc = sb_error_set(err, SB_EFORMAT, "%s:%d: last header column is '%s': expected 'label'", csv.path, csv.line, f[n - 1]);
    if (rc == 1) rc = layout_from_columns(&csv, n, &d->side_px, &d->channels, err);
    while (rc >= 0 && (rc = sb_csv_next(&csv, &f, &n, err)) == 1) rc = add_row(d, &csv, f, n, err);
    sb_csv_close(&csv);
    if (rc == 0 && d->n == 0) rc = sb_error_set(err, SB_EFORMAT, "%s: no image rows", d->path);
    return rc < 0 ? rc : build_strings(d, err);
}

static int ds_open(const sb_host *host, const sb_options *opts, void **out, sb_error *err) {
    const char *p = sb_opt_str(opts, "path", NULL), *root = host && host->repo_root ? host->repo_root : ".";
    hmnist_ds *d;
    int rc;
    if (!p) return sb_error_set(err, SB_EINVAL, "hmnist-csv: option path: expected the hmnist_*.csv file");
    if (!(d = calloc(1, sizeof *d))) return sb_error_set(err, SB_ENOMEM, "hmnist-csv: out of memory");
    d->path = malloc(strlen(root) + strlen(p) + 2);
    if (!d->path) {
        ds_close(d);
        return sb_error_set(err, SB_ENOMEM, "hmnist-csv: out of memory");
    }
    if (p[0] == '/') strcpy(d->path, p);
    else sprintf(d->path, "%s/%s", root, p);
    if ((rc = load(d, err)) < 0) {
        ds_close(d);
        return rc;
    }
    if (host && host->log)
        host->log(SB_LOG_INFO, "hmnist-csv: %s: %zu images, %dx%d %s", d->path, d->n, d->side_px, d->side_px,
                  d->channels == 3 ? "RGB" : "grayscale (replicated to RGB)");
    *out = d;
    return SB_OK;
}

static size_t ds_count(void *p) { return ((hmnist_ds *)p)->n; }
static int ds_n_classes(void *p) { (void)p; return N_CLASSES; }
static const char *ds_class_name(void *p, int c) {
    (void)p;
    return c >= 0 && c < N_CLASSES ? class_names[c] : NULL;
}
static int ds_label(void *p, size_t i) {
    hmnist_ds *d = p;
    return i < d->n ? d->label[i] : -1;
}
static const char *ds_sample_id(void *p, size_t i) {
    hmnist_ds *d = p;
    return i < d->n ? d->ids[i] : NULL;
}
static const char *const *ds_sample_meta(void *p, size_t i) {
    hmnist_ds *d = p;
    return i < d->n ? d->meta + 3 * i : NULL;
}

static int ds_get(void *p, size_t i, int size_px, uint8_t *rgb_out, sb_error *err) {
    hmnist_ds *d = p;
    const uint8_t *src;
    if (i >= d->n) return sb_error_set(err, SB_EINVAL, "hmnist-csv: sample %zu: expected < %zu", i, d->n);
    src = d->rgb + i * (size_t)d->side_px * (size_t)d->side_px * 3u;
    if (size_px == d->side_px) {
        memcpy(rgb_out, src, (size_t)size_px * (size_t)size_px * 3u);
        return SB_OK;
    }
    return sb_resize_area(src, d->side_px, d->side_px, 3, rgb_out, size_px, size_px, err);
}

static const sb_dataset_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_DATASET, "hmnist-csv", "1.0.0",
                          "Kaggle hmnist_*_RGB.csv / *_L.csv (HAM10000, CC BY-NC-SA 4.0); labels remapped to akiec..vasc",
                          options),
    ds_open, ds_close, ds_count, ds_n_classes, ds_class_name, ds_label, ds_sample_id,
    ds_sample_meta, NULL, ds_get};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
