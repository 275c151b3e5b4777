/*
 * ds_testutil.h - helpers for the dataset tests: temporary folders, JPEG and
 * CSV writers, a host that records log lines, loading a plugin by path.
 */
#ifndef DS_TESTUTIL_H
#define DS_TESTUTIL_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "sb_plugin.h"

#define TU_UNUSED __attribute__((unused))

/* ------------------------------------------------------------- log capture */

TU_UNUSED static char tu_log_buf[1 << 16];
TU_UNUSED static size_t tu_log_len;

TU_UNUSED static void tu_log(int level, const char *fmt, ...) {
    va_list ap;
    int n;
    (void)level;
    va_start(ap, fmt);
    n = vsnprintf(tu_log_buf + tu_log_len, sizeof tu_log_buf - tu_log_len, fmt, ap);
    va_end(ap);
    if (n > 0) tu_log_len += (size_t)n;
    if (tu_log_len > sizeof tu_log_buf - 2) tu_log_len = sizeof tu_log_buf - 2;
    tu_log_buf[tu_log_len++] = '\n';
    tu_log_buf[tu_log_len] = 0;
}
TU_UNUSED static void tu_log_clear(void) {
    tu_log_len = 0;
    tu_log_buf[0] = 0;
}
TU_UNUSED static int tu_not_cancelled(void) { return 0; }

TU_UNUSED static sb_host tu_host(const char *cache_dir, const char *repo_root) {
    sb_host h;
    memset(&h, 0, sizeof h);
    h.abi_major = SB_ABI_MAJOR;
    h.abi_minor = SB_ABI_MINOR;
    h.log = tu_log;
    h.cancelled = tu_not_cancelled;
    h.cache_dir = cache_dir;
    h.repo_root = repo_root;
    return h;
}

/* ------------------------------------------------------------------ files */

TU_UNUSED static char *tu_mkdtemp(void) {
    const char *base = getenv("TMPDIR");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/sbds-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(p)) {
        perror("mkdtemp");
        abort();
    }
    return p;
}

TU_UNUSED static void tu_rm_rf(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

TU_UNUSED static void tu_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

TU_UNUSED static void tu_write_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }

/* Write a w x h JPEG; components 3 (RGB) or 1 (gray); pixels HWC. */
TU_UNUSED static void tu_write_jpeg(const char *path, const uint8_t *px, int w, int h, int components) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * (size_t)components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* A w x h RGB JPEG of one colour. */
TU_UNUSED static void tu_write_solid_jpeg(const char *path, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    for (int i = 0; i < w * h; i++) {
        px[3 * i] = r;
        px[3 * i + 1] = g;
        px[3 * i + 2] = b;
    }
    tu_write_jpeg(path, px, w, h, 3);
    free(px);
}

TU_UNUSED static int tu_file_contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    char buf[1 << 16];
    size_t n;
    if (!f) return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

/* ---------------------------------------------------------------- plugins */

TU_UNUSED static const sb_dataset_plugin *tu_load_dataset_plugin(const char *so_path) {
    void *h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    const sb_plugin_header *const *entry;
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", so_path, dlerror());
        abort();
    }
    entry = (const sb_plugin_header *const *)dlsym(h, SB_PLUGIN_ENTRY_SYMBOL);
    if (!entry || !*entry || (*entry)->kind != SB_KIND_DATASET || (*entry)->abi_major != SB_ABI_MAJOR) {
        fprintf(stderr, "%s: no dataset plugin entry\n", so_path);
        abort();
    }
    return (const sb_dataset_plugin *)*entry;
}

/* Options from "key", type, value triples built by the test. */
typedef struct tu_opts {
    sb_option items[16];
    sb_options o;
} tu_opts;

TU_UNUSED static void tu_opts_init(tu_opts *t) {
    memset(t, 0, sizeof *t);
    t->o.items = t->items;
    t->o.name = "test";
}
TU_UNUSED static void tu_opt_s(tu_opts *t, const char *k, const char *v) {
    sb_option *o = &t->items[t->o.n++];
    o->key = k; o->type = SB_OPT_STRING; o->s = v; o->file = "test.toml"; o->line = (int)t->o.n;
}
TU_UNUSED static void tu_opt_i(tu_opts *t, const char *k, int64_t v) {
    sb_option *o = &t->items[t->o.n++];
    o->key = k; o->type = SB_OPT_INT; o->i = v; o->f = (double)v; o->file = "test.toml"; o->line = (int)t->o.n;
}
TU_UNUSED static void tu_opt_f(tu_opts *t, const char *k, double v) {
    sb_option *o = &t->items[t->o.n++];
    o->key = k; o->type = SB_OPT_FLOAT; o->f = v; o->file = "test.toml"; o->line = (int)t->o.n;
}
TU_UNUSED static void tu_opt_b(tu_opts *t, const char *k, int v) {
    sb_option *o = &t->items[t->o.n++];
    o->key = k; o->type = SB_OPT_BOOL; o->b = v; o->file = "test.toml"; o->line = (int)t->o.n;
}

/* The value of key in a sample_meta list, or NULL. */
TU_UNUSED static const char *tu_meta(const char *const *kv, const char *key) {
    size_t n = strlen(key);
    for (; kv && *kv; kv++)
        if (strncmp(*kv, key, n) == 0 && (*kv)[n] == '=') return *kv + n + 1;
    return NULL;
}

#endif /* DS_TESTUTIL_H */
