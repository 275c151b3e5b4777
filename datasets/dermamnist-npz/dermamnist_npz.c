/*
 * dermamnist_npz.c - the `dermamnist-npz` dataset plugin: MedMNIST's
 * dermamnist.npz (28 px) and dermamnist_64/128/224.npz, a zip of .npy arrays
 * train_images [N,H,W,3] uint8, train_labels [N,1] uint8, and val_*, test_*.
 *
 * The zip is read with libzip; the .npy headers (versions 1-3) are parsed
 * here: descr '|u1', fortran_order False, and the shape are checked, and any
 * mismatch is an error naming the array and the file. Pixels stay in memory
 * at their stored size; get() resizes with the shared area resize.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zip.h>

#include "sb_image.h"
#include "sb_plugin.h"

#define N_CLASSES 7
static const char *const class_names[N_CLASSES] = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"};
static const char *const subsets[3] = {"train", "val", "test"};

static const sb_option_spec options[] = {
    {"path", SB_OPT_STRING, SB_OPT_REQUIRED, "dermamnist*.npz (relative to bench.toml's folder)"},
    {"subset", SB_OPT_STRING, 0, "train | val | test | all (default test)"},
    {NULL, 0, 0, NULL}};

typedef struct npy {
    int rank;
    int64_t shape[8];
    const uint8_t *data;   /* into buf */
    size_t data_bytes;
    uint8_t *buf;
} npy;

typedef struct npz_ds {
    char *path;
    int side_px, channels;
    size_t n;
    uint8_t *px;          /* n x side x side x channels */
    uint8_t *label;
    char *strings;
    const char **ids;
    const char **meta;    /* n x 3 */
} npz_ds;

/* ------------------------------------------------------------ .npy header */

/* The value text after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *h, const char *key) {
    char pat[32];
    const char *p;
    snprintf(pat, sizeof pat, "'%s'", key);
    if (!(p = strstr(h, pat))) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p++ != ':') return NULL;
    while (*p == ' ') p++;
    return p;
}

static int parse_shape(const char *v, npy *a) {
    a->rank = 0;
    if (*v++ != '(') return -1;
    for (;;) {
        char *end;
        long long x;
        while (*v == ' ') v++;
        if (*v == ')') return 0;
        x = strtoll(v, &end, 10);
        if (end == v || x < 0 || a->rank == 8) return -1;
        a->shape[a->rank++] = x;
        v = end;
        while (*v == ' ') v++;
        if (*v == ',') v++;
        else if (*v != ')') return -1;
    }
}

/* Parse a .npy held in buf (takes ownership). */
static int parse_npy(uint8_t *buf, size_t n, const char *file, const char *name, npy *a, sb_error *err) {
    size_t hlen, start;
    char *h;
    const char *v;
    uint64_t count = 1;
    memset(a, 0, sizeof *a);
    a->buf = buf;
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return sb_error_set(err, SB_EFORMAT, "%s: %s.npy: bad magic: expected \\x93NUMPY", file, name);
    if (buf[6] == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if ((buf[6] == 2 || buf[6] == 3) && n >= 12) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    } else {
        return sb_error_set(err, SB_EFORMAT, "%s: %s.npy: format version %d: expected 1, 2 or 3", file, name, buf[6]);
    }
    if (start + hlen > n) return sb_error_set(err, SB_EFORMAT, "%s: %s.npy: header runs past the end", file, name);
    if (!(h = malloc(hlen + 1))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    memcpy(h, buf + start, hlen);
    h[hlen] = 0;
    if (!(v = dict_value(h, "descr")) || (strncmp(v, "'|u1'", 5) != 0 && strncmp(v, "'u1'", 4) != 0)) {
        char got[16] = "?";
        if (v) sscanf(v, "%15[^,}]", got);
        free(h);
        return sb_error_set(err, SB_EFORMAT, "%s: %s.npy: dtype %s: expected '|u1' (uint8)", file, name, got);
    }
    if (!(v = dict_value(h, "fortran_order")) || strncmp(v, "False", 5) != 0) {
        free(h);
        return sb_error_set(err, SB_EFORMAT, "%s: %s.npy: fortran_order: expected False (C order)", file, name);
    }
    if (!(v = dict_value(h, "shape")) || parse_shape(v, a) < 0) {
        free(h);
        return sb_error_set(err, SB_EFORMAT, "%s: %s.npy: unreadable shape: expected a tuple of integers", file, name);
    }
    free(h);
    for (int i = 0; i < a->rank; i++) count *= (uint64_t)a->shape[i];
    a->data = buf + start + hlen;
    a->data_bytes = n - start - hlen;
    if (count != a->data_bytes)
        return sb_error_set(err, SB_EFORMAT, "%s: %s.npy: %zu data bytes: expected %llu for its shape", file, name,
                            a->data_bytes, (unsigned long long)count);
    return SB_OK;
}

/* Read member `name`.npy from the zip. */
static int read_member(zip_t *z, const char *file, const char *name, npy *a, sb_error *err) {
    char member[64];
    zip_stat_t st;
    zip_file_t *zf;
    uint8_t *buf, extra;
    zip_int64_t got;
    snprintf(member, sizeof member, "%s.npy", name);
    memset(a, 0, sizeof *a);
    if (zip_stat(z, member, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return sb_error_set(err, SB_ENOENT, "%s: no array %s: expected a MedMNIST dermamnist npz", file, member);
    {
        /* A zip may hold a name twice; libzip finds the first, np.load the
         * last, so which array is "the" one is ambiguous: refuse. */
        zip_int64_t n = zip_get_num_entries(z, 0), seen = 0;
        for (zip_int64_t i = 0; i < n; i++) {
            const char *nm = zip_get_name(z, (zip_uint64_t)i, 0);
            if (nm && strcmp(nm, member) == 0) seen++;
        }
        if (seen > 1)
            return sb_error_set(err, SB_EFORMAT, "%s: %s appears %lld times: expected one member of that name",
                                file, member, (long long)seen);
    }
    if (!(buf = malloc(st.size ? (size_t)st.size : 1))) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", file);
    if (!(zf = zip_fopen(z, member, 0)) || zip_fread(zf, buf, st.size) != (zip_int64_t)st.size) {
        /* A read error is recorded on the member, not the archive (whose
         * message would be "No error"); a short read records none at all. */
        int rc = sb_error_set(err, SB_EIO, "%s: %s: read failed: %s", file, member,
                              !zf ? zip_strerror(z)
                              : zip_error_code_zip(zip_file_get_error(zf)) != ZIP_ER_OK ? zip_file_strerror(zf)
                                                                                         : "the data ends early");
        if (zf) zip_fclose(zf);
        free(buf);
        return rc;
    }
    /* libzip checks the member's CRC only when a read reaches its end, and
     * reading exactly st.size bytes stops just short of it: without this
     * read a flipped byte (in a stored member, or in a deflate stream that
     * still inflates) would give wrong pixels or labels with no error. */
    got = zip_fread(zf, &extra, 1);
    if (got != 0) {
        int crc = got < 0 && zip_error_code_zip(zip_file_get_error(zf)) == ZIP_ER_CRC;
        int rc;
        if (crc)
            rc = sb_error_set(err, SB_EFORMAT, "%s: %s: CRC mismatch: the member is corrupt", file, member);
        else if (got < 0)
            rc = sb_error_set(err, SB_EIO, "%s: %s: read failed: %s", file, member, zip_file_strerror(zf));
        else
            rc = sb_error_set(err, SB_EFORMAT, "%s: %s: more data than the %llu bytes its zip entry states: the member is corrupt",
                         file, member, (unsigned long long)st.size);
        zip_fclose(zf);
        free(buf);
        return rc;
    }
    zip_fclose(zf);
    return parse_npy(buf, (size_t)st.size, file, name, a, err);
}

/* ------------------------------------------------------------ plugin */

static void ds_close(void *p) {
    npz_ds *d = p;
    if (!d) return;
    free(d->path); free(d->px); free(d->label); free(d->strings); free(d->ids); free(d->meta);
    free(d);
}

static int check_pair(const npz_ds *d, const char *sub, const npy *im, const npy *lb, sb_error *err) {
    int rgb = im->rank == 4 && im->shape[3] == 3, gray = im->rank == 3;
    if ((!rgb && !gray) || im->shape[1] != im->shape[2] || im->shape[1] < 1 || im->shape[1] > 4096)
        return sb_error_set(err, SB_EFORMAT, "%s: %s_images.npy: shape of rank %d: expected [N,H,W,3] with H = W",
                            d->path, sub, im->rank);
    if (d->side_px && (im->shape[1] != d->side_px || (rgb ? 3 : 1) != d->channels))
        return sb_error_set(err, SB_EFORMAT, "%s: %s_images.npy: images %lldx%lld: expected %dx%d as the other subsets",
                            d->path, sub, (long long)im->shape[1], (long long)im->shape[2], d->side_px, d->side_px);
    if (!((lb->rank == 2 && lb->shape[1] == 1) || lb->rank == 1) || lb->shape[0] != im->shape[0])
        return sb_error_set(err, SB_EFORMAT, "%s: %s_labels.npy: shape of rank %d: expected [%lld,1]",
                            d->path, sub, lb->rank, (long long)im->shape[0]);
    for (int64_t i = 0; i < lb->shape[0]; i++)
        if (lb->data[i] >= N_CLASSES)
            return sb_error_set(err, SB_EFORMAT, "%s: %s_labels.npy: label %u at index %lld: expected 0..6",
                                d->path, sub, lb->data[i], (long long)i);
    return SB_OK;
}

static int append_subset(npz_ds *d, zip_t *z, int s, sb_error *err) {
    char name[32];
    npy im, lb;
    int rc;
    size_t n, img_bytes, old = d->n;
    snprintf(name, sizeof name, "%s_images", subsets[s]);
    if ((rc = read_member(z, d->path, name, &im, err)) < 0) {
        free(im.buf);
        return rc;
    }
    snprintf(name, sizeof name, "%s_labels", subsets[s]);
    if ((rc = read_member(z, d->path, name, &lb, err)) < 0 || (rc = check_pair(d, subsets[s], &im, &lb, err)) < 0) {
        free(im.buf);
        free(lb.buf);
        return rc;
    }
    d->side_px = (int)im.shape[1];
    d->channels = im.rank == 4 ? 3 : 1;
    n = (size_t)im.shape[0];
    img_bytes = (size_t)d->side_px * (size_t)d->side_px * (size_t)d->channels;
    {
        uint8_t *px = realloc(d->px, (old + n) * img_bytes + 1), *label = realloc(d->label, old + n + 1);
        if (px) d->px = px;
        if (label) d->label = label;
        if (!px || !label) rc = sb_error_set(err, SB_ENOMEM, "%s: out of memory", d->path);
    }
    if (rc == 0) {
        memcpy(d->px + old * img_bytes, im.data, n * img_bytes);
        memcpy(d->label + old, lb.data, n);
        d->n = old + n;
    }
    free(im.buf);
    free(lb.buf);
    return rc;
}

static int build_strings(npz_ds *d, const size_t *first, sb_error *err) {
    size_t per = 48, off = 0;
    d->strings = malloc(d->n * per * 3 + 1);
    d->ids = malloc((d->n + 1) * sizeof *d->ids);
    d->meta = malloc((d->n * 3 + 1) * sizeof *d->meta);
    if (!d->strings || !d->ids || !d->meta) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", d->path);
    for (int s = 0; s < 3; s++) {
        for (size_t i = first[s]; i < first[s + 1]; i++) {
            d->ids[i] = d->strings + off;
            off += (size_t)snprintf(d->strings + off, per, "%s-%zu", subsets[s], i - first[s]) + 1;
            d->meta[3 * i] = d->strings + off;
            off += (size_t)snprintf(d->strings + off, per, "subset=%s", subsets[s]) + 1;
            d->meta[3 * i + 1] = d->strings + off;
            off += (size_t)snprintf(d->strings + off, per, "index=%zu", i - first[s]) + 1;
            d->meta[3 * i + 2] = NULL;
        }
    }
    return SB_OK;
}

static int load(npz_ds *d, const char *subset, sb_error *err) {
    int zerr = 0, rc = SB_OK, want = -1;
    size_t first[4] = {0, 0, 0, 0};
    zip_t *z;
    for (int s = 0; s < 3; s++)
        if (strcmp(subset, subsets[s]) == 0) want = s;
    if (want < 0 && strcmp(subset, "all") != 0)
        return sb_error_set(err, SB_EINVAL, "dermamnist-npz: subset '%s': expected train, val, test or all", subset);
    struct stat st;
    /* libzip says "Operation not supported" for a folder */
    if (stat(d->path, &st) == 0 && !S_ISREG(st.st_mode))
        return sb_error_set(err, SB_EFORMAT, "%s: %s: expected an .npz file", d->path,
                            S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    if (!(z = zip_open(d->path, ZIP_RDONLY, &zerr))) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        rc = sb_error_set(err, zerr == ZIP_ER_NOENT ? SB_ENOENT : SB_EFORMAT,
                          "%s: cannot open as npz (zip): %s", d->path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    for (int s = 0; s < 3 && rc == 0; s++) {
        first[s] = d->n;
        if (want < 0 || want == s) rc = append_subset(d, z, s, err);
    }
    first[3] = d->n;
    zip_discard(z);
    if (rc < 0) return rc;
    /* Subsets not loaded have first[s] == first[s + 1]: no ids. */
    return build_strings(d, first, err);
}

static int ds_open(const sb_host *host, const sb_options *opts, void **out, sb_error *err) {
    const char *p = sb_opt_str(opts, "path", NULL), *root = host && host->repo_root ? host->repo_root : ".";
    npz_ds *d;
    int rc;
    if (!p) return sb_error_set(err, SB_EINVAL, "dermamnist-npz: option path: expected the .npz file");
    if (!(d = calloc(1, sizeof *d)) || !(d->path = malloc(strlen(root) + strlen(p) + 2))) {
        ds_close(d);
        return sb_error_set(err, SB_ENOMEM, "dermamnist-npz: out of memory");
    }
    if (p[0] == '/') strcpy(d->path, p);
    else sprintf(d->path, "%s/%s", root, p);
    if ((rc = load(d, sb_opt_str(opts, "subset", "test"), err)) < 0) {
        ds_close(d);
        return rc;
    }
    *out = d;
    return SB_OK;
}

static size_t ds_count(void *p) { return ((npz_ds *)p)->n; }
static int ds_n_classes(void *p) { (void)p; return N_CLASSES; }
static const char *ds_class_name(void *p, int c) {
    (void)p;
    return c >= 0 && c < N_CLASSES ? class_names[c] : NULL;
}
static int ds_label(void *p, size_t i) {
    npz_ds *d = p;
    return i < d->n ? d->label[i] : -1;
}
static const char *ds_sample_id(void *p, size_t i) {
    npz_ds *d = p;
    return i < d->n ? d->ids[i] : NULL;
}
static const char *const *ds_sample_meta(void *p, size_t i) {
    npz_ds *d = p;
    return i < d->n ? d->meta + 3 * i : NULL;
}

static int ds_get(void *p, size_t i, int size_px, uint8_t *rgb_out, sb_error *err) {
    npz_ds *d = p;
    size_t img = (size_t)d->side_px * (size_t)d->side_px;
    const uint8_t *src;
    uint8_t *rgb = NULL;
    int rc;
    if (i >= d->n) return sb_error_set(err, SB_EINVAL, "dermamnist-npz: sample %zu: expected < %zu", i, d->n);
    src = d->px + i * img * (size_t)d->channels;
    if (d->channels == 1) {  /* grayscale arrays: replicate to RGB */
        if (!(rgb = malloc(img * 3))) return sb_error_set(err, SB_ENOMEM, "out of memory");
        for (size_t k = 0; k < img; k++) rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] = src[k];
        src = rgb;
    }
    if (size_px == d->side_px) {
        memcpy(rgb_out, src, img * 3);
        rc = SB_OK;
    } else {
        rc = sb_resize_area(src, d->side_px, d->side_px, 3, rgb_out, size_px, size_px, err);
    }
    free(rgb);
    return rc;
}

static const sb_dataset_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_DATASET, "dermamnist-npz", "1.0.0",
                          "MedMNIST DermaMNIST .npz (28/64/128/224 px; from HAM10000, CC BY-NC-SA 4.0)",
                          options),
    ds_open, ds_close, ds_count, ds_n_classes, ds_class_name, ds_label, ds_sample_id,
    ds_sample_meta, NULL, ds_get};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
