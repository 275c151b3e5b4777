/*
 * test_ham10000.c - the ham10000 plugin and sbprep on a small synthetic
 * HAM10000 folder written here (original layout: HAM10000_images_part_1/2,
 * HAM10000_metadata.csv, dermamnist_split_info.csv).
 *
 * usage: test_ds_ham10000 <srambench-dataset-ham10000.so> <sbprep>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ds_testutil.h"
#include "sb_image.h"

#define N_LESIONS 70
static const char *const dx_names[7] = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"};

static const sb_dataset_plugin *P;
static const char *sbprep_path;
static char *tmp;
static char good_dir[4200], cache_dir[4200];
static int n_images;
static int want_label[400];
static char want_lesion[400][16];

/* Lesion l has 1 + l % 3 images, class l % 7; image i is in part_1 when
 * i is even. The DermaMNIST split file puts image i in test when i % 5 == 0,
 * val when i % 5 == 1, else train. Extra rows (for bad-input tests) are
 * appended to the metadata by the caller. */
static void make_dataset(const char *dir, const char *extra_rows) {
    char p[4400], *meta = malloc(1 << 16), *split = malloc(1 << 16);
    size_t mo = 0, so = 0;
    int i = 0;
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/HAM10000_images_part_1", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/HAM10000_images_part_2", dir);
    mkdir(p, 0755);
    mo += (size_t)sprintf(meta + mo, "lesion_id,image_id,dx,dx_type,age,sex,localization\r\n");
    so += (size_t)sprintf(split + so, "split,index,image_id\n");
    for (int l = 0; l < N_LESIONS; l++) {
        for (int k = 0; k <= l % 3; k++, i++) {
            snprintf(p, sizeof p, "%s/HAM10000_images_part_%d/ISIC_%07d.jpg", dir, 1 + (i & 1), i);
            tu_write_solid_jpeg(p, 12, 9, (uint8_t)(i * 3), (uint8_t)(l * 3), (uint8_t)(k * 80));
            mo += (size_t)sprintf(meta + mo, "HAM_%07d,ISIC_%07d,%s,histo,%d.0,%s,back\r\n", l, i, dx_names[l % 7],
                                  20 + i % 50, i % 2 ? "female" : "male");
            so += (size_t)sprintf(split + so, "%s,%d,ISIC_%07d\n", i % 5 == 0 ? "test" : i % 5 == 1 ? "val" : "train", i, i);
            want_label[i] = l % 7;
            snprintf(want_lesion[i], sizeof want_lesion[i], "HAM_%07d", l);
        }
    }
    n_images = i;
    if (extra_rows) mo += (size_t)sprintf(meta + mo, "%s", extra_rows);
    snprintf(p, sizeof p, "%s/HAM10000_metadata.csv", dir);
    tu_write_text(p, meta);
    snprintf(p, sizeof p, "%s/dermamnist_split_info.csv", dir);
    tu_write_text(p, split);
    free(meta);
    free(split);
}

static int open_ds(const char *dir, const char *split, const char *subset, int64_t seed, int skip, int cache,
                   void **ds, sb_error *e) {
    static sb_host h; /* the ABI: valid for the plugin's whole life */
    h = tu_host(cache_dir, "/nonexistent-repo-root");
    tu_opts o;
    tu_opts_init(&o);
    if (dir) tu_opt_s(&o, "path", dir);
    tu_opt_s(&o, "split", split);
    tu_opt_s(&o, "subset", subset);
    tu_opt_i(&o, "split_seed", seed);
    tu_opt_b(&o, "skip_unreadable", skip);
    tu_opt_b(&o, "cache", cache);
    memset(e, 0, sizeof *e);
    *ds = NULL;
    return P->open(&h, &o.o, ds, e);
}

static void *open_ok(const char *dir, const char *split, const char *subset, int64_t seed) {
    void *ds;
    sb_error e;
    int rc = open_ds(dir, split, subset, seed, 0, 1, &ds, &e);
    if (rc) fprintf(stderr, "open: %s\n", e.msg);
    assert_int_equal(rc, SB_OK);
    return ds;
}

static int setup(void **state) {
    (void)state;
    tmp = tu_mkdtemp();
    snprintf(good_dir, sizeof good_dir, "%s/good", tmp);
    snprintf(cache_dir, sizeof cache_dir, "%s/cache", tmp);
    make_dataset(good_dir, NULL);
    return 0;
}
static int teardown(void **state) {
    (void)state;
    tu_rm_rf(tmp);
    free(tmp);
    return 0;
}

static void all_samples_labels_and_meta(void **state) {
    void *ds = open_ok(good_dir, "all", "all", 0);
    char id[32];
    (void)state;
    assert_int_equal(P->count(ds), (size_t)n_images);
    assert_int_equal(P->n_classes(ds), 7);
    for (int c = 0; c < 7; c++) assert_string_equal(P->class_name(ds, c), dx_names[c]);
    for (int i = 0; i < n_images; i++) {
        const char *const *kv = P->sample_meta(ds, (size_t)i);
        snprintf(id, sizeof id, "ISIC_%07d", i);
        assert_string_equal(P->sample_id(ds, (size_t)i), id);
        assert_int_equal(P->label(ds, (size_t)i), want_label[i]);
        assert_string_equal(tu_meta(kv, "image_id"), id);
        assert_string_equal(tu_meta(kv, "lesion_id"), want_lesion[i]);
        assert_string_equal(tu_meta(kv, "dx"), dx_names[want_label[i]]);
        assert_string_equal(tu_meta(kv, "dx_type"), "histo");
        assert_string_equal(tu_meta(kv, "sex"), i % 2 ? "female" : "male");
        assert_string_equal(tu_meta(kv, "localization"), "back");
        assert_non_null(tu_meta(kv, "age"));
        assert_string_equal(tu_meta(kv, "status"), "ok");
    }
    P->close(ds);
}

static void dermamnist_split_follows_the_file(void **state) {
    const char *subs[3] = {"train", "val", "test"};
    size_t total = 0;
    (void)state;
    for (int s = 0; s < 3; s++) {
        void *ds = open_ok(good_dir, "dermamnist", subs[s], 0);
        for (size_t k = 0; k < P->count(ds); k++) {
            int i = atoi(P->sample_id(ds, k) + 5);
            const char *want = i % 5 == 0 ? "test" : i % 5 == 1 ? "val" : "train";
            assert_string_equal(want, subs[s]);
            assert_string_equal(tu_meta(P->sample_meta(ds, k), "split"), subs[s]);
        }
        total += P->count(ds);
        P->close(ds);
    }
    assert_int_equal(total, (size_t)n_images);
}

/* subset of each image id (index into ids) under the lesion split. */
static void lesion_subsets(int64_t seed, int *subset_of) {
    const char *subs[3] = {"train", "val", "test"};
    for (int i = 0; i < n_images; i++) subset_of[i] = -1;
    for (int s = 0; s < 3; s++) {
        void *ds = open_ok(good_dir, "lesion", subs[s], seed);
        for (size_t k = 0; k < P->count(ds); k++) {
            int i = atoi(P->sample_id(ds, k) + 5);
            assert_int_equal(subset_of[i], -1);  /* in one subset only */
            subset_of[i] = s;
        }
        P->close(ds);
    }
}

static void lesion_split_is_disjoint_and_seeded(void **state) {
    int a[400], b[400], c[400], differ = 0, per[3] = {0, 0, 0};
    (void)state;
    lesion_subsets(7, a);
    lesion_subsets(7, b);
    lesion_subsets(8, c);
    for (int i = 0; i < n_images; i++) {
        assert_int_not_equal(a[i], -1);
        assert_int_equal(a[i], b[i]);  /* same seed, same split */
        differ += a[i] != c[i];
        per[a[i]]++;
        for (int j = 0; j < i; j++)  /* a lesion never straddles subsets */
            if (strcmp(want_lesion[i], want_lesion[j]) == 0) assert_int_equal(a[i], a[j]);
    }
    assert_true(differ > 0);  /* another seed, another split */
    /* 0.7 / 0.1 / 0.2 of 140 images, within a lesion or two per class. */
    assert_in_range(per[0], 84, 112);
    assert_in_range(per[1], 6, 22);
    assert_in_range(per[2], 18, 38);
}

static void prepare_builds_then_reuses_cache(void **state) {
    void *ds = open_ok(good_dir, "all", "all", 0);
    uint8_t got[16 * 16 * 3], want[16 * 16 * 3];
    char p[4400], cache_file[4400] = "";
    struct stat st1, st2;
    sb_error e = {0, ""};
    (void)state;
    tu_log_clear();
    assert_int_equal(P->prepare(ds, 16, &e), SB_OK);
    assert_non_null(strstr(tu_log_buf, "decoding"));
    for (int i = 0; i < n_images; i += 7) {
        snprintf(p, sizeof p, "%s/HAM10000_images_part_%d/ISIC_%07d.jpg", good_dir, 1 + (i & 1), i);
        assert_int_equal(P->get(ds, (size_t)i, 16, got, &e), SB_OK);
        assert_int_equal(sb_image_load(p, 16, want, &e), SB_OK);
        assert_memory_equal(got, want, sizeof got);
    }
    P->close(ds);
    {
        /* Find the one cache file of size 16. */
        FILE *ls;
        char cmd[4500];
        snprintf(cmd, sizeof cmd, "ls '%s'/ham10000-16px-*.sbc", cache_dir);
        ls = popen(cmd, "r");
        assert_non_null(fgets(cache_file, sizeof cache_file, ls));
        pclose(ls);
        cache_file[strcspn(cache_file, "\n")] = 0;
    }
    assert_int_equal(stat(cache_file, &st1), 0);
    ds = open_ok(good_dir, "dermamnist", "test", 0);
    tu_log_clear();
    assert_int_equal(P->prepare(ds, 16, &e), SB_OK);
    assert_null(strstr(tu_log_buf, "decoding"));   /* not rebuilt: */
    assert_int_equal(stat(cache_file, &st2), 0);   /* same file, same mtime */
    assert_int_equal(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);
    assert_int_equal(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
    assert_int_equal(st1.st_ino, st2.st_ino);
    /* get() at an unprepared size prepares it on the way. */
    assert_int_equal(P->get(ds, 0, 5, got, &e), SB_OK);
    P->close(ds);
}

static void changed_image_invalidates_cache(void **state) {
    char dir[4400], p[4500];
    void *ds;
    sb_error e = {0, ""};
    uint8_t before[8 * 8 * 3], after[8 * 8 * 3];
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    (void)state;
    snprintf(dir, sizeof dir, "%s/changing", tmp);
    make_dataset(dir, NULL);
    ds = open_ok(dir, "all", "all", 0);
    assert_int_equal(P->prepare(ds, 8, &e), SB_OK);
    assert_int_equal(P->get(ds, 5, 8, before, &e), SB_OK);
    P->close(ds);
    snprintf(p, sizeof p, "%s/HAM10000_images_part_2/ISIC_%07d.jpg", dir, 5);
    tu_write_solid_jpeg(p, 12, 9, 255, 255, 255);
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);  /* a distinct mtime even on coarse clocks */
    ds = open_ok(dir, "all", "all", 0);
    tu_log_clear();
    assert_int_equal(P->prepare(ds, 8, &e), SB_OK);
    assert_non_null(strstr(tu_log_buf, "decoding"));  /* a new key: rebuilt */
    assert_int_equal(P->get(ds, 5, 8, after, &e), SB_OK);
    assert_memory_not_equal(before, after, sizeof after);
    assert_in_range(after[0], 250, 255);
    P->close(ds);
}

static void bad_split_file_rows(void **state) {
    const char *cases[][3] = {
        {"split,index,image_id\ntrain,0,ISIC_0000000\ntrain,1\n", "dermamnist_split_info.csv:3", "2 columns"},
        {"split,index,image_id\nholdout,0,ISIC_0000000\n", "dermamnist_split_info.csv:2", "split 'holdout'"},
        {"split,index,image_id\ntrain,0,ISIC_0000000\n", "HAM10000_metadata.csv:3", "ISIC_0000001 is not in"},
        /* once accepted: an index that is no index */
        {"split,index,image_id\ntrain,0,ISIC_0000000\ntrain,abc,ISIC_0000001\n", "dermamnist_split_info.csv:3",
         "index 'abc': expected a decimal integer 0, 1, 2, ..."},
        {"split,index,image_id\ntrain,-3,ISIC_0000000\n", "dermamnist_split_info.csv:2", "index '-3': expected"},
        {"split,idx,image_id\ntrain,0,ISIC_0000000\n", "dermamnist_split_info.csv:1", "expected 'split,index,image_id'"},
    };
    char dir[4400], p[4500];
    void *ds;
    sb_error e;
    (void)state;
    snprintf(dir, sizeof dir, "%s/badsplit", tmp);
    make_dataset(dir, NULL);
    snprintf(p, sizeof p, "%s/dermamnist_split_info.csv", dir);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tu_write_text(p, cases[k][0]);
        assert_int_equal(open_ds(dir, "dermamnist", "test", 0, 0, 1, &ds, &e), SB_EFORMAT);
        if (!strstr(e.msg, cases[k][1]) || !strstr(e.msg, cases[k][2])) fprintf(stderr, "message: %s\n", e.msg);
        assert_non_null(strstr(e.msg, cases[k][1]));
        assert_non_null(strstr(e.msg, cases[k][2]));
    }
    /* the whole split, with image 1 (val, line 3) also listed as test at
     * the end: leakage, whichever row a lookup would have found */
    make_dataset(dir, NULL);
    FILE *f = fopen(p, "a");
    assert_non_null(f);
    fprintf(f, "test,%d,ISIC_0000001\n", n_images);
    fclose(f);
    char where[64];
    snprintf(where, sizeof where, "dermamnist_split_info.csv:%d", n_images + 2);
    assert_int_equal(open_ds(dir, "dermamnist", "test", 0, 0, 1, &ds, &e), SB_EFORMAT);
    if (!strstr(e.msg, where) || !strstr(e.msg, "image_id 'ISIC_0000001' is listed again (first on line 3, as val; "
                                                 "here as test): expected each image once"))
        fail_msg("message: %s", e.msg);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(open_ds(dir, "dermamnist", "test", 0, 0, 1, &ds, &e), SB_ENOENT);
    assert_non_null(strstr(e.msg, p));
    /* Other splits do not need the file. */
    assert_int_equal(open_ds(dir, "lesion", "test", 0, 0, 1, &ds, &e), SB_OK);
    P->close(ds);
}

/* Prefix a file with a UTF-8 byte order mark, as a spreadsheet saves it. */
static void prepend_bom(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 16);
    size_t n;
    assert_non_null(f);
    assert_non_null(buf);
    memcpy(buf, "\xEF\xBB\xBF", 3);
    n = 3 + fread(buf + 3, 1, (1 << 16) - 4, f);
    fclose(f);
    buf[n] = 0;
    tu_write_text(path, buf);
    free(buf);
}

/* The metadata and split files with a byte order mark open as without one
 * (the metadata once failed: "column 1 is 'lesion_id': expected 'lesion_id'"). */
static void byte_order_marks_are_skipped(void **state) {
    char dir[4400], p[4500];
    void *ds;
    (void)state;
    snprintf(dir, sizeof dir, "%s/bom", tmp);
    make_dataset(dir, NULL);
    snprintf(p, sizeof p, "%s/HAM10000_metadata.csv", dir);
    prepend_bom(p);
    snprintf(p, sizeof p, "%s/dermamnist_split_info.csv", dir);
    prepend_bom(p);
    ds = open_ok(dir, "dermamnist", "all", 0);
    assert_int_equal(P->count(ds), (size_t)n_images);
    assert_string_equal(tu_meta(P->sample_meta(ds, 0), "lesion_id"), "HAM_0000000");
    P->close(ds);
}

static void no_cache_decodes_directly(void **state) {
    void *ds;
    sb_error e;
    uint8_t got[10 * 10 * 3], want[10 * 10 * 3];
    char p[4400];
    (void)state;
    assert_int_equal(open_ds(good_dir, "all", "all", 0, 0, 0, &ds, &e), SB_OK);
    assert_int_equal(P->get(ds, 3, 10, got, &e), SB_OK);
    snprintf(p, sizeof p, "%s/HAM10000_images_part_2/ISIC_%07d.jpg", good_dir, 3);
    assert_int_equal(sb_image_load(p, 10, want, &e), SB_OK);
    assert_memory_equal(got, want, sizeof got);
    P->close(ds);
}

/* Open a copy of the dataset with extra metadata rows; expect an error. */
static void expect_open_error(const char *name, const char *extra, int code, const char *needle1, const char *needle2) {
    char dir[4400];
    void *ds;
    sb_error e;
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    make_dataset(dir, extra);
    assert_int_equal(open_ds(dir, "all", "all", 0, 0, 1, &ds, &e), code);
    assert_null(ds);
    if (!strstr(e.msg, needle1) || (needle2 && !strstr(e.msg, needle2))) fprintf(stderr, "message: %s\n", e.msg);
    assert_non_null(strstr(e.msg, needle1));
    if (needle2) assert_non_null(strstr(e.msg, needle2));
}

static void bad_metadata_rows_name_file_and_row(void **state) {
    char where[64];
    (void)state;
    /* The header is line 1, so the first extra row is line n_images + 2. */
    snprintf(where, sizeof where, "HAM10000_metadata.csv:%d", n_images + 2);
    expect_open_error("baddx", "HAM_9,ISIC_0000000,melanoma,histo,1.0,male,back\n", SB_EFORMAT, where, "unknown dx 'melanoma'");
    expect_open_error("badcols", "HAM_9,ISIC_0000000,mel,histo,1.0,male\n", SB_EFORMAT, where, "6 columns: expected 7");
    expect_open_error("missing", "HAM_9,ISIC_9999999,mel,histo,1.0,male,back\n", SB_ENOENT, where, "ISIC_9999999.jpg");
    /* an image twice (here: its row repeated) would be scored twice */
    expect_open_error("duplicate", "HAM_0000001,ISIC_0000002,bcc,histo,1.0,male,back\n", SB_EFORMAT, where,
                      "image_id 'ISIC_0000002' is listed again (first on line 4): expected each image once");
}

static void corrupt_jpeg_fails_prepare_or_is_skipped(void **state) {
    char dir[4400], p[4500], where[64];
    void *ds;
    sb_error e;
    uint8_t px[8 * 8 * 3];
    size_t bad = 4, gone = 9;
    (void)state;
    snprintf(dir, sizeof dir, "%s/corrupt", tmp);
    make_dataset(dir, NULL);
    snprintf(p, sizeof p, "%s/HAM10000_images_part_1/ISIC_%07zu.jpg", dir, bad);
    tu_write_text(p, "garbage");
    snprintf(where, sizeof where, "HAM10000_metadata.csv:%zu", bad + 2);
    assert_int_equal(open_ds(dir, "all", "all", 0, 0, 1, &ds, &e), SB_OK);
    assert_int_equal(P->prepare(ds, 8, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, where));
    assert_non_null(strstr(e.msg, p));
    P->close(ds);
    /* Without the cache, get() reports the same. */
    assert_int_equal(open_ds(dir, "all", "all", 0, 0, 0, &ds, &e), SB_OK);
    assert_int_equal(P->get(ds, bad, 8, px, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, where));
    P->close(ds);

    /* skip_unreadable: one corrupt, one missing; both listed and refused by get(). */
    snprintf(p, sizeof p, "%s/HAM10000_images_part_2/ISIC_%07zu.jpg", dir, gone);
    assert_int_equal(unlink(p), 0);
    tu_log_clear();
    assert_int_equal(open_ds(dir, "all", "all", 0, 1, 1, &ds, &e), SB_OK);
    assert_int_equal(P->count(ds), (size_t)n_images);
    assert_string_equal(tu_meta(P->sample_meta(ds, gone), "status"), "unreadable");
    assert_int_equal(P->prepare(ds, 8, &e), SB_OK);
    assert_string_equal(tu_meta(P->sample_meta(ds, bad), "status"), "unreadable");
    assert_string_equal(tu_meta(P->sample_meta(ds, 0), "status"), "ok");
    assert_int_equal(P->get(ds, bad, 8, px, &e), SB_EIO);
    assert_non_null(strstr(e.msg, "unreadable"));
    assert_int_equal(P->get(ds, gone, 8, px, &e), SB_EIO);
    assert_int_equal(P->get(ds, 0, 8, px, &e), SB_OK);
    assert_non_null(strstr(tu_log_buf, "ISIC_0000004"));
    assert_non_null(strstr(tu_log_buf, "ISIC_0000009"));
    P->close(ds);
}

/* Image 4 of a fresh copy replaced by what make_odd makes at its path: the
 * message says what is there, not "missing image file". */
static void expect_odd_image(const char *name, void (*make_odd)(const char *path), const char *says) {
    char dir[4400], p[4500], where[4600];
    void *ds;
    sb_error e;
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    make_dataset(dir, NULL);
    snprintf(p, sizeof p, "%s/HAM10000_images_part_1/ISIC_0000004.jpg", dir);
    assert_int_equal(unlink(p), 0);
    make_odd(p);
    snprintf(where, sizeof where, "HAM10000_metadata.csv:6: image ISIC_0000004: %s: %s: expected a JPEG file", p, says);
    assert_int_not_equal(open_ds(dir, "all", "all", 0, 0, 1, &ds, &e), SB_OK);
    if (!strstr(e.msg, where) || strstr(e.msg, "missing")) fail_msg("message: %s", e.msg);
    /* skip_unreadable: listed as unreadable, as a missing one is */
    tu_log_clear();
    assert_int_equal(open_ds(dir, "all", "all", 0, 1, 1, &ds, &e), SB_OK);
    assert_string_equal(tu_meta(P->sample_meta(ds, 4), "status"), "unreadable");
    if (!strstr(tu_log_buf, says)) fail_msg("log: %s", tu_log_buf);
    P->close(ds);
}

static void make_folder(const char *p) { assert_int_equal(mkdir(p, 0755), 0); }
static void make_loop(const char *p) { assert_int_equal(symlink(p, p), 0); }
static void make_device(const char *p) { assert_int_equal(symlink("/dev/zero", p), 0); }

static void image_that_is_no_file_says_what_it_is(void **state) {
    (void)state;
    expect_odd_image("odd-dir", make_folder, "is a directory");
    expect_odd_image("odd-loop", make_loop, "too many levels of symbolic links");
    expect_odd_image("odd-dev", make_device, "is not a regular file");
}

static void missing_folder_says_what_to_download(void **state) {
    void *ds;
    sb_error e;
    char dir[4400];
    (void)state;
    snprintf(dir, sizeof dir, "%s/nothing-here", tmp);
    assert_int_equal(open_ds(dir, "all", "all", 0, 0, 1, &ds, &e), SB_ENOENT);
    assert_non_null(strstr(e.msg, dir));
    assert_non_null(strstr(e.msg, "doi:10.7910/DVN/DBW86T"));
    assert_non_null(strstr(e.msg, "HAM10000_metadata.csv"));
    assert_non_null(strstr(e.msg, "dermamnist_split_info.csv"));
    assert_non_null(strstr(e.msg, "HAM10000_DIR"));
    /* The default path is resolved against the repo root. */
    assert_int_equal(open_ds(NULL, "all", "all", 0, 0, 1, &ds, &e), SB_ENOENT);
    assert_non_null(strstr(e.msg, "/nonexistent-repo-root/../shared/data/ham10000"));
}

static void bad_options_name_their_line(void **state) {
    void *ds;
    sb_error e;
    (void)state;
    assert_int_equal(open_ds(good_dir, "random", "all", 0, 0, 1, &ds, &e), SB_EINVAL);
    assert_non_null(strstr(e.msg, "test.toml:2"));  /* split is the 2nd option */
    assert_int_equal(open_ds(good_dir, "lesion", "everything", 0, 0, 1, &ds, &e), SB_EINVAL);
    assert_non_null(strstr(e.msg, "test.toml:3"));
    {
        static sb_host h; /* the ABI: valid for the plugin's whole life */
    h = tu_host(cache_dir, "/");
        tu_opts o;
        tu_opts_init(&o);
        tu_opt_s(&o, "path", good_dir);
        tu_opt_s(&o, "split", "lesion");
        tu_opt_f(&o, "train_fraction", 0.9);
        assert_int_equal(P->open(&h, &o.o, &ds, &e), SB_EINVAL);
        assert_non_null(strstr(e.msg, "sum to 1.2"));
    }
}

/* Run sbprep; returns its exit status, stdout's last line in last. */
static int run_sbprep(const char *args, char *last, size_t n) {
    char cmd[17000], line[4400];
    FILE *f;
    int st;
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", sbprep_path, args);
    f = popen(cmd, "r");
    assert_non_null(f);
    last[0] = 0;
    while (fgets(line, sizeof line, f)) snprintf(last, n, "%s", line);
    last[strcspn(last, "\n")] = 0;
    st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void sbprep_manifest_matches_plugin(void **state) {
    char args[16384], last[4400], manifest[4400], line[256];
    int subset_of[400];
    FILE *f;
    int rows = 0;
    sb_cache *c;
    sb_error e = {0, ""};
    (void)state;
    snprintf(manifest, sizeof manifest, "%s/manifest.csv", tmp);
    snprintf(args, sizeof args, "--dataset-dir '%s' --size 12 --cache-dir '%s' --split lesion --seed 7 --manifest '%s'",
             good_dir, cache_dir, manifest);
    assert_int_equal(run_sbprep(args, last, sizeof last), 0);
    assert_int_equal(sb_cache_open_file(last, &c, &e), SB_OK);  /* stdout's last line is the cache */
    assert_int_equal(sb_cache_count(c), (uint32_t)n_images);
    lesion_subsets(7, subset_of);
    f = fopen(manifest, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "index,image_id,lesion_id,label,split\n");
    while (fgets(line, sizeof line, f)) {
        int index, label;
        char id[32], lesion[32], split[16];
        const char *subs[3] = {"train", "val", "test"};
        assert_int_equal(sscanf(line, "%d,%31[^,],%31[^,],%d,%15s", &index, id, lesion, &label, split), 5);
        assert_string_equal(sb_cache_id(c, (uint32_t)index), id);
        assert_int_equal(sb_cache_label(c, (uint32_t)index), label);
        assert_int_equal(label, want_label[atoi(id + 5)]);
        assert_string_equal(lesion, want_lesion[atoi(id + 5)]);
        assert_string_equal(split, subs[subset_of[atoi(id + 5)]]);  /* same split code as the plugin */
        rows++;
    }
    fclose(f);
    sb_cache_close(c);
    assert_int_equal(rows, n_images);

    snprintf(args, sizeof args, "--dataset-dir '%s/none' --size 12 --cache-dir '%s' --manifest '%s'", tmp, cache_dir, manifest);
    assert_int_equal(run_sbprep(args, last, sizeof last), 1);
    assert_int_equal(run_sbprep("--size 12", last, sizeof last), 2);
    assert_int_equal(run_sbprep("--size", last, sizeof last), 2);
    assert_int_equal(run_sbprep("--help", last, sizeof last), 0);  /* usage on stdout */
    assert_non_null(strstr(last, "--manifest out.csv"));
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_samples_labels_and_meta),
        cmocka_unit_test(dermamnist_split_follows_the_file),
        cmocka_unit_test(lesion_split_is_disjoint_and_seeded),
        cmocka_unit_test(prepare_builds_then_reuses_cache),
        cmocka_unit_test(changed_image_invalidates_cache),
        cmocka_unit_test(bad_split_file_rows),
        cmocka_unit_test(byte_order_marks_are_skipped),
        cmocka_unit_test(no_cache_decodes_directly),
        cmocka_unit_test(bad_metadata_rows_name_file_and_row),
        cmocka_unit_test(corrupt_jpeg_fails_prepare_or_is_skipped),
        cmocka_unit_test(image_that_is_no_file_says_what_it_is),
        cmocka_unit_test(missing_folder_says_what_to_download),
        cmocka_unit_test(bad_options_name_their_line),
        cmocka_unit_test(sbprep_manifest_matches_plugin),
    };
    if (argc != 3) {
        fprintf(stderr, "usage: %s <ham10000 plugin .so> <sbprep>\n", argv[0]);
        return 1;
    }
    P = tu_load_dataset_plugin(argv[1]);
    sbprep_path = argv[2];
    return cmocka_run_group_tests(tests, setup, teardown);
}
