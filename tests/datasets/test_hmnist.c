/*
 * test_hmnist.c - the hmnist-csv plugin on small files of Kaggle's format
 * written here: label remapping, RGB and grayscale, resize, bad input.
 *
 * usage: test_ds_hmnist <srambench-dataset-hmnist-csv.so>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>

#include "ds_testutil.h"

static const sb_dataset_plugin *P;
static char *tmp;

/* Header for S*S*C pixels: pixel0000,...,label. */
static size_t header(char *buf, int n_px) {
    size_t o = 0;
    for (int k = 0; k < n_px; k++) o += (size_t)sprintf(buf + o, "pixel%04d,", k);
    return o + (size_t)sprintf(buf + o, "label\n");
}

static void write_csv(const char *name, const char *text, char *path, size_t n) {
    snprintf(path, n, "%s/%s", tmp, name);
    tu_write_text(path, text);
}

static int open_csv(const char *path, void **ds, sb_error *e) {
    static sb_host h; /* the ABI: valid for the plugin's whole life */
    h = tu_host("/unused", "/");
    tu_opts o;
    tu_opts_init(&o);
    tu_opt_s(&o, "path", path);
    memset(e, 0, sizeof *e);
    *ds = NULL;
    return P->open(&h, &o.o, ds, e);
}

static void remaps_labels_rgb(void **state) {
    char text[8192], path[4200];
    size_t o = header(text, 12);
    void *ds;
    sb_error e;
    uint8_t px[12], one[3];
    /* hmnist order 0 akiec 1 bcc 2 bkl 3 df 4 nv 5 vasc 6 mel -> ours. */
    const int want[7] = {0, 1, 2, 3, 5, 6, 4};
    const char *const hmnist_names[7] = {"akiec", "bcc", "bkl", "df", "nv", "vasc", "mel"};
    (void)state;
    for (int l = 0; l < 7; l++) {
        for (int k = 0; k < 12; k++) o += (size_t)sprintf(text + o, "%d,", l * 30 + k);
        o += (size_t)sprintf(text + o, "%d\r\n", l);
    }
    write_csv("rgb.csv", text, path, sizeof path);
    assert_int_equal(open_csv(path, &ds, &e), SB_OK);
    assert_int_equal(P->count(ds), 7);
    for (int l = 0; l < 7; l++) {
        assert_int_equal(P->label(ds, (size_t)l), want[l]);
        assert_string_equal(P->class_name(ds, P->label(ds, (size_t)l)), hmnist_names[l]);
        assert_int_equal(atoi(tu_meta(P->sample_meta(ds, (size_t)l), "hmnist_label")), l);
        assert_int_equal(atoi(tu_meta(P->sample_meta(ds, (size_t)l), "row")), l + 2);
    }
    /* 2x2 RGB, HWC, returned as stored at its own size. */
    assert_int_equal(P->get(ds, 6, 2, px, &e), SB_OK);
    for (int k = 0; k < 12; k++) assert_int_equal(px[k], 180 + k);
    /* Resized with the shared area resize: 1x1 = per-channel mean, half up:
     * channel c holds 180 + c + {0, 3, 6, 9} -> mean 184.5 + c -> 185 + c. */
    assert_int_equal(P->get(ds, 6, 1, one, &e), SB_OK);
    assert_int_equal(one[0], 185);
    assert_int_equal(one[1], 186);
    assert_int_equal(one[2], 187);
    P->close(ds);
}

static void grayscale_is_replicated(void **state) {
    char text[4096], path[4200];
    size_t o = header(text, 4);
    void *ds;
    sb_error e;
    uint8_t px[12];
    (void)state;
    o += (size_t)sprintf(text + o, "10,20,30,40,6\n");
    write_csv("gray_L.csv", text, path, sizeof path);
    assert_int_equal(open_csv(path, &ds, &e), SB_OK);
    assert_int_equal(P->label(ds, 0), 4);  /* 6 mel -> our 4 */
    assert_int_equal(P->get(ds, 0, 2, px, &e), SB_OK);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(px[3 * k], 10 * (k + 1));
        assert_int_equal(px[3 * k + 1], 10 * (k + 1));
        assert_int_equal(px[3 * k + 2], 10 * (k + 1));
    }
    P->close(ds);
}

/* A 2x2 grayscale file whose row 3 is `bad`; expect the message parts. */
static void expect_error(const char *bad, const char *n1, const char *n2) {
    char text[4096], path[4200], where[4300];
    size_t o = header(text, 4);
    void *ds;
    sb_error e;
    o += (size_t)sprintf(text + o, "1,2,3,4,0\n%s\n", bad);
    write_csv("bad.csv", text, path, sizeof path);
    assert_int_equal(open_csv(path, &ds, &e), SB_EFORMAT);
    assert_null(ds);
    snprintf(where, sizeof where, "%s:3", path);
    if (!strstr(e.msg, where) || !strstr(e.msg, n1) || (n2 && !strstr(e.msg, n2))) fprintf(stderr, "message: %s\n", e.msg);
    assert_non_null(strstr(e.msg, where));
    assert_non_null(strstr(e.msg, n1));
    if (n2) assert_non_null(strstr(e.msg, n2));
}

static void bad_rows_name_file_and_row(void **state) {
    (void)state;
    expect_error("1,2,3,0", "4 columns", "expected 5");
    expect_error("1,2,3,4,5,0", "6 columns", "expected 5");
    expect_error("1,2x,3,4,0", "column 2", "integer 0..255");
    expect_error("1,2,,4,0", "column 3", "integer 0..255");
    expect_error("1,2,256,4,0", "column 3", "integer 0..255");
    expect_error("1,2,3,4,7", "label '7'", "0..6");
    expect_error("1,2,3,4,-1", "label '-1'", "0..6");
    expect_error("1,2,3,4,nv", "label 'nv'", "0..6");
}

static void bad_files(void **state) {
    char path[4200];
    void *ds;
    sb_error e;
    (void)state;
    snprintf(path, sizeof path, "%s/absent.csv", tmp);
    assert_int_equal(open_csv(path, &ds, &e), SB_ENOENT);
    assert_non_null(strstr(e.msg, path));
    /* A directory opens with fopen; its ftell is LLONG_MAX ("out of memory"). */
    snprintf(path, sizeof path, "%s/adir.csv", tmp);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(open_csv(path, &ds, &e), SB_EIO);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "is a directory: expected a file"));
    /* A FIFO: fopen waited for a writer, forever (the test timed out). */
    snprintf(path, sizeof path, "%s/afifo.csv", tmp);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(open_csv(path, &ds, &e), SB_EIO);
    assert_non_null(strstr(e.msg, "is not a regular file (a FIFO): expected a file"));
    write_csv("empty.csv", "", path, sizeof path);
    assert_int_equal(open_csv(path, &ds, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, path));
    write_csv("nolabel.csv", "pixel0000,pixel0001,pixel0002,pixel0003,target\n1,2,3,4,0\n", path, sizeof path);
    assert_int_equal(open_csv(path, &ds, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, ":1:"));
    write_csv("odd.csv", "pixel0000,pixel0001,label\n1,2,0\n", path, sizeof path);  /* 2 pixels: no S */
    assert_int_equal(open_csv(path, &ds, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, ":1:"));
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(remaps_labels_rgb),
        cmocka_unit_test(grayscale_is_replicated),
        cmocka_unit_test(bad_rows_name_file_and_row),
        cmocka_unit_test(bad_files),
    };
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: %s <hmnist-csv plugin .so>\n", argv[0]);
        return 1;
    }
    P = tu_load_dataset_plugin(argv[1]);
    tmp = tu_mkdtemp();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rm_rf(tmp);
    free(tmp);
    return rc;
}
