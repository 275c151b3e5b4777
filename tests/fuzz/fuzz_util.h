/*
 * fuzz_util.h - helpers shared by the fuzz targets: the parsers under test
 * read files, so each input is written to a private temporary folder first.
 * Header-only (static functions) so each target stays one translation unit.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One temporary folder per process, removed at exit. */
static char fuzz_dir[256];

static inline void fuzz_rmdir(void) {
    char cmd[300];
    if (!fuzz_dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
}

static inline const char *fuzz_tmpdir(void) {
    if (!fuzz_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/sbfuzz.XXXXXX", base && strlen(base) < 200 ? base : "/tmp");
        if (!mkdtemp(fuzz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_rmdir);
    }
    return fuzz_dir;
}

/* Write data to <tmpdir>/<name>; returns the path (static storage per slot). */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    static char paths[4][320];
    static int slot;
    char *p = paths[slot++ & 3];
    FILE *f;
    snprintf(p, sizeof paths[0], "%s/%s", fuzz_tmpdir(), name);
    if (!(f = fopen(p, "wb")) || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

/* Split data at the first occurrence of sep: the part before and after (the
 * targets that need two files take one input holding both). */
static inline void fuzz_split(const uint8_t *data, size_t size, const char *sep, const uint8_t **a, size_t *na,
                       const uint8_t **b, size_t *nb) {
    size_t ns = strlen(sep);
    for (size_t i = 0; i + ns <= size; i++) {
        if (memcmp(data + i, sep, ns) == 0) {
            *a = data; *na = i;
            *b = data + i + ns; *nb = size - i - ns;
            return;
        }
    }
    *a = data; *na = size;
    *b = NULL; *nb = 0;
}

#ifdef SB_PLUGIN_H
/* Open a dataset plugin through its own table: a refusal must carry a
 * message; what it accepts must give in-range labels, ids and the first
 * images. The fuzz target aborts on any breach, as libFuzzer expects. */
static inline int fuzz_dataset(const sb_dataset_plugin *p, const sb_options *opts, int n_classes) {
    static uint8_t out[8 * 8 * 3];
    sb_error err = {0, ""};
    void *ds = NULL;
    if (p->open(NULL, opts, &ds, &err) != SB_OK) {
        if (err.msg[0] == 0) abort();
        return 0;
    }
    for (size_t i = 0; i < p->count(ds) && i < 4; i++) {
        if (p->label(ds, i) < 0 || p->label(ds, i) >= n_classes || !p->sample_id(ds, i)) abort();
        if (p->get(ds, i, 8, out, &err) != SB_OK) abort();
    }
    p->close(ds);
    return 0;
}
#endif

#endif
