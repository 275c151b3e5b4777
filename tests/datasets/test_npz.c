/*
 * test_npz.c - the dermamnist-npz plugin on small .npz files written here
 * with libzip (stored, as np.savez, and deflated, as np.savez_compressed).
 *
 * usage: test_ds_npz <srambench-dataset-dermamnist-npz.so>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zip.h>

#include "ds_testutil.h"

static const sb_dataset_plugin *P;
static char *tmp;

typedef struct member {
    const char *name;    /* "train_images" */
    const char *descr;   /* "|u1" */
    const char *shape;   /* "(3, 2, 2, 3)" */
    const char *fortran; /* "False" */
    const uint8_t *data;
    size_t n;
    int version;         /* 1 or 2 */
} member;

/* A .npy file as numpy writes it: header padded to a multiple of 64. */
static uint8_t *npy_bytes(const member *m, size_t *n_out) {
    char dict[256];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", m->descr,
                      m->fortran ? m->fortran : "False", m->shape);
    size_t pre = m->version == 2 ? 12 : 10, hlen = (size_t)dl + 1;
    uint8_t *b;
    while ((pre + hlen) % 64) hlen++;
    b = malloc(pre + hlen + m->n);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)m->version;
    b[7] = 0;
    if (m->version == 2) {
        for (int k = 0; k < 4; k++) b[8 + k] = (uint8_t)(hlen >> (8 * k));
    } else {
        b[8] = (uint8_t)hlen;
        b[9] = (uint8_t)(hlen >> 8);
    }
    memset(b + pre, ' ', hlen);
    memcpy(b + pre, dict, (size_t)dl);
    b[pre + hlen - 1] = '\n';
    memcpy(b + pre + hlen, m->data, m->n);
    *n_out = pre + hlen + m->n;
    return b;
}

static void write_npz(const char *path, const member *ms, int n, int deflate) {
    int zerr;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    assert_non_null(z);
    for (int i = 0; i < n; i++) {
        char name[64];
        size_t len;
        uint8_t *b = npy_bytes(&ms[i], &len);
        zip_source_t *src = zip_source_buffer(z, b, len, 1);  /* libzip frees b */
        zip_int64_t idx;
        snprintf(name, sizeof name, "%s.npy", ms[i].name);
        assert_non_null(src);
        idx = zip_file_add(z, name, src, ZIP_FL_OVERWRITE);
        assert_true(idx >= 0);
        assert_int_equal(zip_set_file_compression(z, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0), 0);
    }
    assert_int_equal(zip_close(z), 0);
}

/* train: 3 images, val: 1, test: 2; 2x2 RGB; pixel = 40*image + k. */
static uint8_t train_px[3 * 12], val_px[12], test_px[2 * 12];
static const uint8_t train_lb[3] = {0, 5, 6}, val_lb[1] = {4}, test_lb[2] = {1, 3};

static void good_members(member *m) {
    for (int k = 0; k < 36; k++) train_px[k] = (uint8_t)(40 * (k / 12) + k % 12);
    for (int k = 0; k < 12; k++) val_px[k] = (uint8_t)(120 + k);
    for (int k = 0; k < 24; k++) test_px[k] = (uint8_t)(160 + 40 * (k / 12) + k % 12);
    m[0] = (member){"train_images", "|u1", "(3, 2, 2, 3)", NULL, train_px, 36, 1};
    m[1] = (member){"train_labels", "|u1", "(3, 1)", NULL, train_lb, 3, 1};
    m[2] = (member){"val_images", "|u1", "(1, 2, 2, 3)", NULL, val_px, 12, 2};
    m[3] = (member){"val_labels", "|u1", "(1, 1)", NULL, val_lb, 1, 1};
    m[4] = (member){"test_images", "|u1", "(2, 2, 2, 3)", NULL, test_px, 24, 1};
    m[5] = (member){"test_labels", "|u1", "(2, 1)", NULL, test_lb, 2, 1};
}

static int open_npz(const char *path, const char *subset, void **ds, sb_error *e) {
    static sb_host h; /* the ABI: valid for the plugin's whole life */
    h = tu_host("/unused", "/");
    tu_opts o;
    tu_opts_init(&o);
    tu_opt_s(&o, "path", path);
    if (subset) tu_opt_s(&o, "subset", subset);
    memset(e, 0, sizeof *e);
    *ds = NULL;
    return P->open(&h, &o.o, ds, e);
}

static void reads_subsets(void **state) {
    member m[6];
    char path[4200];
    void *ds;
    sb_error e;
    uint8_t px[12], one[3];
    (void)state;
    good_members(m);
    for (int deflate = 0; deflate < 2; deflate++) {
        snprintf(path, sizeof path, "%s/good%d.npz", tmp, deflate);
        write_npz(path, m, 6, deflate);
        assert_int_equal(open_npz(path, NULL, &ds, &e), SB_OK);  /* default: test */
        assert_int_equal(P->count(ds), 2);
        assert_int_equal(P->label(ds, 0), 1);
        assert_int_equal(P->label(ds, 1), 3);
        assert_string_equal(P->sample_id(ds, 1), "test-1");
        assert_string_equal(tu_meta(P->sample_meta(ds, 1), "subset"), "test");
        assert_int_equal(P->get(ds, 1, 2, px, &e), SB_OK);
        assert_memory_equal(px, test_px + 12, 12);
        /* 1x1: per-channel mean of 200 + c + {0,3,6,9}: 204.5 + c -> 205 + c */
        assert_int_equal(P->get(ds, 1, 1, one, &e), SB_OK);
        assert_int_equal(one[0], 205);
        assert_int_equal(one[2], 207);
        P->close(ds);

        assert_int_equal(open_npz(path, "all", &ds, &e), SB_OK);
        assert_int_equal(P->count(ds), 6);
        {
            const int want[6] = {0, 5, 6, 4, 1, 3};
            const char *ids[6] = {"train-0", "train-1", "train-2", "val-0", "test-0", "test-1"};
            for (int i = 0; i < 6; i++) {
                assert_int_equal(P->label(ds, (size_t)i), want[i]);
                assert_string_equal(P->sample_id(ds, (size_t)i), ids[i]);
            }
        }
        assert_int_equal(P->get(ds, 3, 2, px, &e), SB_OK);
        assert_memory_equal(px, val_px, 12);
        P->close(ds);
    }
}

/* Replace member `which` of the good set; expect an error naming it. */
static void expect_error(int which, member repl, const char *subset, int code, const char *n1, const char *n2) {
    member m[6];
    char path[4200];
    void *ds;
    sb_error e;
    good_members(m);
    m[which] = repl;
    snprintf(path, sizeof path, "%s/bad.npz", tmp);
    write_npz(path, m, 6, 0);
    assert_int_equal(open_npz(path, subset, &ds, &e), code);
    assert_null(ds);
    if (!strstr(e.msg, path) || !strstr(e.msg, n1) || (n2 && !strstr(e.msg, n2))) fprintf(stderr, "message: %s\n", e.msg);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, n1));
    if (n2) assert_non_null(strstr(e.msg, n2));
}

static void bad_arrays_name_array_and_file(void **state) {
    static const float f4[2] = {0, 0};
    (void)state;
    expect_error(4, (member){"test_images", "<f4", "(2, 2, 2, 3)", NULL, test_px, 24, 1}, "test", SB_EFORMAT,
                 "test_images.npy", "dtype '<f4'");
    expect_error(5, (member){"test_labels", "<f4", "(2, 1)", NULL, (const uint8_t *)f4, 8, 1}, "test", SB_EFORMAT,
                 "test_labels.npy", "dtype");
    expect_error(5, (member){"test_labels", "|u1", "(1, 2)", NULL, test_lb, 2, 1}, "test", SB_EFORMAT,
                 "test_labels.npy", "expected [2,1]");
    expect_error(4, (member){"test_images", "|u1", "(2, 2, 3, 2)", NULL, test_px, 24, 1}, "test", SB_EFORMAT,
                 "test_images.npy", "expected [N,H,W,3]");
    expect_error(4, (member){"test_images", "|u1", "(2, 2, 2, 3)", NULL, test_px, 20, 1}, "test", SB_EFORMAT,
                 "test_images.npy", "data bytes");
    expect_error(4, (member){"test_images", "|u1", "(2, 2, 2, 3)", "True", test_px, 24, 1}, "test", SB_EFORMAT,
                 "test_images.npy", "fortran_order");
    expect_error(1, (member){"train_labels", "|u1", "(3, 1)", NULL, (const uint8_t *)"\x00\x07\x01", 3, 1}, "train",
                 SB_EFORMAT, "train_labels.npy", "label 7 at index 1");
    /* val images of another size than train's. */
    expect_error(2, (member){"val_images", "|u1", "(1, 1, 1, 3)", NULL, val_px, 3, 1}, "all", SB_EFORMAT,
                 "val_images.npy", "expected 2x2");
    /* A missing array. */
    expect_error(3, (member){"val_labelz", "|u1", "(1, 1)", NULL, val_lb, 1, 1}, "val", SB_ENOENT, "val_labels.npy", NULL);
}

/* The bytes of the file at path; *n gets the size. */
static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    uint8_t *b;
    long len;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    b = malloc((size_t)len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Offset of the first occurrence of needle in hay, or (size_t)-1. */
static size_t find_bytes(const uint8_t *hay, size_t n, const void *needle, size_t k) {
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return i;
    return (size_t)-1;
}

/* A byte flipped inside a member's data, where the zip structure and (for
 * deflate) the stream still read cleanly: only the CRC tells, and a reader
 * that never reads to the member's end sees wrong pixels and no error. The
 * images are pseudo-random so that zlib keeps them in a stored block, where
 * the flipped byte can be found verbatim in the compressed file too. */
static void corrupt_member_is_a_crc_error(void **state) {
    static uint8_t px[2 * 16 * 16 * 3];
    member m[2];
    char path[4200];
    void *ds;
    sb_error e;
    uint32_t x = 12345;
    (void)state;
    for (size_t k = 0; k < sizeof px; k++) {
        x = x * 1103515245u + 12345u;
        px[k] = (uint8_t)(x >> 24);
    }
    m[0] = (member){"test_images", "|u1", "(2, 16, 16, 3)", NULL, px, sizeof px, 1};
    m[1] = (member){"test_labels", "|u1", "(2, 1)", NULL, test_lb, 2, 1};
    for (int deflate = 0; deflate < 2; deflate++) {
        size_t n, at;
        uint8_t *b;
        snprintf(path, sizeof path, "%s/flip%d.npz", tmp, deflate);
        write_npz(path, m, 2, deflate);
        assert_int_equal(open_npz(path, "test", &ds, &e), SB_OK);
        P->close(ds);
        b = read_all(path, &n);
        at = find_bytes(b, n, px + 700, 32);
        assert_true(at != (size_t)-1);
        b[at + 5] ^= 0x01;
        tu_write_file(path, b, n);
        free(b);
        assert_int_equal(open_npz(path, "test", &ds, &e), SB_EFORMAT);
        assert_null(ds);
        if (!strstr(e.msg, "CRC mismatch")) fprintf(stderr, "message: %s\n", e.msg);
        assert_non_null(strstr(e.msg, path));
        assert_non_null(strstr(e.msg, "test_images.npy: CRC mismatch"));
    }
}

/* A deflate stream that does not inflate (its first block header made an
 * invalid block type): the message gives zlib's reason from the member,
 * not the archive's "No error". */
static void undecodable_member_says_why(void **state) {
    static const uint8_t zeros[2 * 32 * 32 * 3];
    member m[2];
    char path[4200];
    void *ds;
    sb_error e;
    size_t n, at, data;
    uint8_t *b;
    (void)state;
    m[0] = (member){"test_images", "|u1", "(2, 32, 32, 3)", NULL, zeros, sizeof zeros, 1};
    m[1] = (member){"test_labels", "|u1", "(2, 1)", NULL, test_lb, 2, 1};
    snprintf(path, sizeof path, "%s/garbage.npz", tmp);
    write_npz(path, m, 2, 1);
    b = read_all(path, &n);
    /* The first name is in the local header, 30 bytes in; the data follows
     * the name and the extra field (its length at offset 28). */
    at = find_bytes(b, n, "test_images.npy", 15);
    assert_true(at != (size_t)-1 && at >= 30);
    data = at + 15 + ((size_t)b[at - 30 + 28] | (size_t)b[at - 30 + 29] << 8);
    assert_true(data < n);
    b[data] = 0xff;  /* BFINAL 1, BTYPE 11: reserved */
    tu_write_file(path, b, n);
    free(b);
    assert_int_equal(open_npz(path, "test", &ds, &e), SB_EIO);
    assert_null(ds);
    if (strstr(e.msg, "No error")) fprintf(stderr, "message: %s\n", e.msg);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "test_images.npy: read failed: "));
    assert_null(strstr(e.msg, "No error"));
}

/* Two members named test_labels.npy (libzip refuses to write that, so the
 * second is written as test_labelX.npy and renamed in the bytes, in both the
 * local and the central header). */
static void repeated_member_is_refused(void **state) {
    static const uint8_t other_lb[2] = {6, 6};
    member m[3];
    char path[4200];
    void *ds;
    sb_error e;
    size_t n, at, renamed = 0;
    uint8_t *b;
    (void)state;
    m[0] = (member){"test_images", "|u1", "(2, 2, 2, 3)", NULL, test_px, 24, 1};
    m[1] = (member){"test_labels", "|u1", "(2, 1)", NULL, test_lb, 2, 1};
    m[2] = (member){"test_labelX", "|u1", "(2, 1)", NULL, other_lb, 2, 1};
    snprintf(path, sizeof path, "%s/dup.npz", tmp);
    write_npz(path, m, 3, 0);
    b = read_all(path, &n);
    while ((at = find_bytes(b, n, "test_labelX.npy", 15)) != (size_t)-1) {
        b[at + 10] = 's';
        renamed++;
    }
    assert_int_equal(renamed, 2);
    tu_write_file(path, b, n);
    free(b);
    assert_int_equal(open_npz(path, "test", &ds, &e), SB_EFORMAT);
    assert_null(ds);
    if (!strstr(e.msg, "appears 2 times")) fprintf(stderr, "message: %s\n", e.msg);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "test_labels.npy appears 2 times"));
}

static void bad_files(void **state) {
    char path[4200];
    void *ds;
    sb_error e;
    (void)state;
    snprintf(path, sizeof path, "%s/absent.npz", tmp);
    assert_true(open_npz(path, NULL, &ds, &e) < 0);
    assert_non_null(strstr(e.msg, path));
    snprintf(path, sizeof path, "%s/text.npz", tmp);
    tu_write_text(path, "not a zip file");
    assert_int_equal(open_npz(path, NULL, &ds, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, path));
    assert_int_equal(open_npz(tmp, NULL, &ds, &e), SB_EFORMAT); /* a folder */
    assert_non_null(strstr(e.msg, "is a directory: expected an .npz file"));
    snprintf(path, sizeof path, "%s/good0.npz", tmp);
    assert_int_equal(open_npz(path, "everything", &ds, &e), SB_EINVAL);
    assert_non_null(strstr(e.msg, "subset"));
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_subsets),
        cmocka_unit_test(bad_arrays_name_array_and_file),
        cmocka_unit_test(bad_files),
        cmocka_unit_test(corrupt_member_is_a_crc_error),
        cmocka_unit_test(undecodable_member_says_why),
        cmocka_unit_test(repeated_member_is_refused),
    };
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: %s <dermamnist-npz plugin .so>\n", argv[0]);
        return 1;
    }
    P = tu_load_dataset_plugin(argv[1]);
    tmp = tu_mkdtemp();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rm_rf(tmp);
    free(tmp);
    return rc;
}
