/*
 * test_ds_regress.c - regression tests for the fixes hardening made in
 * datasets/ (each found by a fuzz target; the inputs are in
 * tests/fuzz/regressions/). Plain C: argv[1] is the source tests/fuzz folder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ham_meta.h"
#include "sb_image.h"

static int failures;

#define EXPECT(cond, ...)                                          \
    do {                                                           \
        if (!(cond)) {                                             \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                          \
            fputc('\n', stderr);                                   \
            failures++;                                            \
        }                                                          \
    } while (0)

/* A 700-byte JPEG whose header claims 60000 x 60000 pixels: refused before
 * the 10.8 GB allocation (sb_jpeg.c, SB_JPEG_MAX_PIXELS). */
static void test_jpeg_huge_header(const char *fuzz_dir) {
    char path[4096];
    uint8_t *rgb = NULL;
    int w = 0, h = 0, rc;
    sb_error err = {0, ""};
    snprintf(path, sizeof path, "%s/regressions/jpeg/huge-dimensions-oom", fuzz_dir);
    rc = sb_jpeg_decode_file(path, &rgb, &w, &h, &err);
    EXPECT(rc == SB_EUNSUPPORTED, "decode: rc %d (%s), want SB_EUNSUPPORTED", rc, err.msg);
    EXPECT(strstr(err.msg, "60000x60000 pixels") && strstr(err.msg, path), "message: %s", err.msg);
    EXPECT(rgb == NULL, "no pixels returned");
    err.msg[0] = 0;
    rc = sb_jpeg_check_header(path, &err);
    EXPECT(rc == SB_EUNSUPPORTED, "check_header: rc %d (%s)", rc, err.msg);
}

/* An empty dermamnist_split_info.csv: an error naming the first image, not
 * qsort/bsearch on a NULL table (ham_meta.c, split_dermamnist). */
static void test_empty_split_file(void) {
    char dir[] = "/tmp/sbhdreg.XXXXXX", p[256];
    FILE *f;
    ham_meta m;
    sb_error err = {0, ""};
    int rc;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(p, sizeof p, "%s/%s", dir, HAM_META_FILE);
    f = fopen(p, "w");
    fputs("lesion_id,image_id,dx,dx_type,age,sex,localization\nL1,IMG_1,nv,histo,40.0,male,back\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/%s", dir, HAM_SPLIT_FILE);
    fclose(fopen(p, "w"));
    rc = ham_meta_load(dir, &m, &err);
    EXPECT(rc == SB_OK, "load: %s", err.msg);
    if (rc == SB_OK) {
        rc = ham_split(&m, HAM_SPLIT_DERMAMNIST, 0, NULL, &err);
        EXPECT(rc == SB_EFORMAT && strstr(err.msg, "IMG_1") && strstr(err.msg, HAM_SPLIT_FILE),
               "split: rc %d: %s", rc, err.msg);
        ham_meta_free(&m);
    }
    unlink(p);
    snprintf(p, sizeof p, "%s/%s", dir, HAM_META_FILE);
    unlink(p);
    rmdir(dir);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s TESTS_FUZZ_DIR\n", argv[0]);
        return 2;
    }
    test_jpeg_huge_header(argv[1]);
    test_empty_split_file();
    if (!failures) printf("ok: 2 dataset regression tests\n");
    return failures ? 1 : 0;
}
