/*
 * test_image.c - decoding, the area resize (golden values) and the hashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>

#include "ds_testutil.h"
#include "sb_image.h"

static char *tmp;

static void resize1(const uint8_t *src, int sw, int sh, int ch, uint8_t *dst, int dw, int dh) {
    sb_error e = {0, ""};
    assert_int_equal(sb_resize_area(src, sw, sh, ch, dst, dw, dh, &e), SB_OK);
}

static void constant_stays_constant(void **state) {
    static uint8_t src[600 * 450 * 3], dst[64 * 64 * 3];
    (void)state;
    for (uint8_t v = 0;; v = (uint8_t)(v + 85)) {  /* 0, 85, 170, 255 (255: overflow check) */
        memset(src, v, sizeof src);
        resize1(src, 600, 450, 3, dst, 64, 64);
        for (size_t i = 0; i < sizeof dst; i++) assert_int_equal(dst[i], v);
        resize1(src, 7, 5, 3, dst, 3, 3);
        for (size_t i = 0; i < 27; i++) assert_int_equal(dst[i], v);
        if (v == 255) break;
    }
}

static void four_by_four_to_two_by_two(void **state) {
    uint8_t src[16], dst[4];
    const uint8_t want[4] = {3, 5, 11, 13};  /* means 2.5, 4.5, 10.5, 12.5 rounded half up */
    (void)state;
    for (int i = 0; i < 16; i++) src[i] = (uint8_t)i;
    resize1(src, 4, 4, 1, dst, 2, 2);
    assert_memory_equal(dst, want, 4);
}

static void fractional_coverage(void **state) {
    /* 3 -> 2: output 0 covers pixel 0 and half of pixel 1: (0 + 30/2) / 1.5 = 10;
     * output 1: (30/2 + 90) / 1.5 = 70. */
    const uint8_t src[3] = {0, 30, 90}, want[2] = {10, 70};
    uint8_t dst[2];
    (void)state;
    resize1(src, 3, 1, 1, dst, 2, 1);
    assert_memory_equal(dst, want, 2);
    /* Same along the other axis. */
    resize1(src, 1, 3, 1, dst, 1, 2);
    assert_memory_equal(dst, want, 2);
}

static void enlarging_is_a_box_filter(void **state) {
    const uint8_t src[2] = {10, 20}, want4[4] = {10, 10, 20, 20}, want3[3] = {10, 15, 20};
    uint8_t dst[4];
    (void)state;
    resize1(src, 2, 1, 1, dst, 4, 1);
    assert_memory_equal(dst, want4, 4);
    resize1(src, 2, 1, 1, dst, 3, 1);
    assert_memory_equal(dst, want3, 3);
}

static void channels_are_independent_and_squashed(void **state) {
    /* 4x2 RGB -> 1x1: each channel its own mean; aspect is not kept. */
    uint8_t src[4 * 2 * 3], dst[3];
    (void)state;
    for (int i = 0; i < 8; i++) {
        src[3 * i] = 10;
        src[3 * i + 1] = (uint8_t)(i * 10);  /* mean 35 */
        src[3 * i + 2] = i < 4 ? 0 : 255;    /* mean 127.5 -> 128 */
    }
    resize1(src, 4, 2, 3, dst, 1, 1);
    assert_int_equal(dst[0], 10);
    assert_int_equal(dst[1], 35);
    assert_int_equal(dst[2], 128);
}

static void rejects_bad_sizes(void **state) {
    uint8_t b[4] = {0, 0, 0, 0};
    sb_error e = {0, ""};
    (void)state;
    assert_int_equal(sb_resize_area(b, 0, 2, 1, b, 1, 1, &e), SB_EINVAL);
    assert_non_null(strstr(e.msg, "expected"));
    assert_int_equal(sb_resize_area(b, 2, 2, 1, b, 1, -1, &e), SB_EINVAL);
}

static void hashes_match_reference_vectors(void **state) {
    (void)state;
    assert_int_equal(sb_crc32(0, "123456789", 9), 0xCBF43926u);  /* zlib check value */
    assert_int_equal(sb_crc32(sb_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    {
        /* The sliced loop must agree with the byte loop at every length/offset. */
        uint8_t buf[100];
        for (int i = 0; i < 100; i++) buf[i] = (uint8_t)(i * 37 + 11);
        for (size_t n = 0; n < 40; n++) {
            uint32_t whole = sb_crc32(0, buf + 3, n), parts = 0;
            for (size_t k = 0; k < n; k++) parts = sb_crc32(parts, buf + 3 + k, 1);
            assert_int_equal(whole, parts);
        }
    }
    assert_true(sb_fnv1a64(SB_FNV1A64_INIT, "", 0) == 0xcbf29ce484222325ull);
    assert_true(sb_fnv1a64(SB_FNV1A64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
}

static void decodes_rgb_and_gray(void **state) {
    char path[4200];
    uint8_t *rgb = NULL, gray[8 * 6];
    int w = 0, h = 0;
    sb_error e = {0, ""};
    (void)state;
    snprintf(path, sizeof path, "%s/solid.jpg", tmp);
    tu_write_solid_jpeg(path, 20, 10, 200, 100, 50);
    assert_int_equal(sb_jpeg_decode_file(path, &rgb, &w, &h, &e), SB_OK);
    assert_int_equal(w, 20);
    assert_int_equal(h, 10);
    for (int i = 0; i < w * h; i++) {
        assert_in_range(rgb[3 * i], 197, 203);
        assert_in_range(rgb[3 * i + 1], 97, 103);
        assert_in_range(rgb[3 * i + 2], 47, 53);
    }
    free(rgb);
    for (int i = 0; i < 48; i++) gray[i] = 77;
    snprintf(path, sizeof path, "%s/gray.jpg", tmp);
    tu_write_jpeg(path, gray, 8, 6, 1);
    assert_int_equal(sb_jpeg_decode_file(path, &rgb, &w, &h, &e), SB_OK);
    for (int i = 0; i < w * h; i++) {
        assert_int_equal(rgb[3 * i], rgb[3 * i + 1]);
        assert_int_equal(rgb[3 * i], rgb[3 * i + 2]);
        assert_in_range(rgb[3 * i], 75, 79);
    }
    free(rgb);
}

static void load_squashes_to_size(void **state) {
    char path[4200];
    uint8_t out[5 * 5 * 3];
    sb_error e = {0, ""};
    (void)state;
    snprintf(path, sizeof path, "%s/wide.jpg", tmp);
    tu_write_solid_jpeg(path, 40, 8, 0, 255, 0);
    assert_int_equal(sb_image_load(path, 5, out, &e), SB_OK);
    for (int i = 0; i < 25; i++) {
        assert_in_range(out[3 * i], 0, 3);
        assert_in_range(out[3 * i + 1], 252, 255);
    }
}

static void errors_name_the_file(void **state) {
    char path[4200], trunc[4200];
    uint8_t *rgb = NULL, *data;
    int w, h;
    long n;
    FILE *f;
    sb_error e = {0, ""};
    (void)state;
    snprintf(path, sizeof path, "%s/nothere.jpg", tmp);
    assert_int_equal(sb_jpeg_decode_file(path, &rgb, &w, &h, &e), SB_ENOENT);
    assert_non_null(strstr(e.msg, path));

    /* A directory opens with fopen; its ftell is LLONG_MAX ("out of memory"). */
    snprintf(path, sizeof path, "%s/adir.jpg", tmp);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(sb_jpeg_decode_file(path, &rgb, &w, &h, &e), SB_EIO);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "is a directory: expected a file"));
    assert_int_equal(sb_jpeg_check_header(path, &e), SB_EIO);

    /* A FIFO: fopen waited for a writer, forever (the test timed out). */
    snprintf(path, sizeof path, "%s/afifo.jpg", tmp);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(sb_jpeg_decode_file(path, &rgb, &w, &h, &e), SB_EIO);
    assert_non_null(strstr(e.msg, "is not a regular file (a FIFO): expected a file"));

    snprintf(path, sizeof path, "%s/garbage.jpg", tmp);
    tu_write_text(path, "this is not a JPEG at all, just text");
    assert_int_equal(sb_jpeg_decode_file(path, &rgb, &w, &h, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "corrupt JPEG"));
    assert_int_equal(sb_jpeg_check_header(path, &e), SB_EFORMAT);

    snprintf(path, sizeof path, "%s/empty.jpg", tmp);
    tu_write_text(path, "");
    assert_int_equal(sb_jpeg_decode_file(path, &rgb, &w, &h, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, path));

    /* A truncated JPEG: libjpeg only warns (premature end); we fail. */
    snprintf(path, sizeof path, "%s/full.jpg", tmp);
    {
        uint8_t px[64 * 64 * 3];
        for (int i = 0; i < 64 * 64 * 3; i++) px[i] = (uint8_t)(i * 7);
        tu_write_jpeg(path, px, 64, 64, 3);
    }
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    snprintf(trunc, sizeof trunc, "%s/truncated.jpg", tmp);
    tu_write_file(trunc, data, (size_t)n / 2);
    free(data);
    assert_int_equal(sb_jpeg_check_header(trunc, &e), SB_OK);  /* the header is intact */
    assert_int_equal(sb_jpeg_decode_file(trunc, &rgb, &w, &h, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, trunc));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(constant_stays_constant),
        cmocka_unit_test(four_by_four_to_two_by_two),
        cmocka_unit_test(fractional_coverage),
        cmocka_unit_test(enlarging_is_a_box_filter),
        cmocka_unit_test(channels_are_independent_and_squashed),
        cmocka_unit_test(rejects_bad_sizes),
        cmocka_unit_test(hashes_match_reference_vectors),
        cmocka_unit_test(decodes_rgb_and_gray),
        cmocka_unit_test(load_squashes_to_size),
        cmocka_unit_test(errors_name_the_file),
    };
    int rc;
    tmp = tu_mkdtemp();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rm_rf(tmp);
    free(tmp);
    return rc;
}
