/*
 * test_sbm_limits.c - crafted .sbm files with extreme but legal-looking
 * values (issue 19, items 1 and 7): window sizes whose int32 arithmetic once
 * wrapped, accumulators a bias can overflow, and non-finite or absurd float
 * tensors. Each must be refused at load, naming the op, tensor and index
 * (docs/model-format.md, "Limits").
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sb_kernels.h"
#include "sb_model_file.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sb-test-limits-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_raw(const char *path, const char *json, const void *data, size_t n) {
    sb_error err = {0};
    if (sb_model_file_write_raw(path, json, data, n, &err)) fail_msg("%s", err.msg);
}

/* Load must fail with a message containing every non-NULL `want`. */
static void expect_refusal(const char *path, const char *want1, const char *want2) {
    sb_model_file *mf = NULL;
    sb_error err = {0};
    int rc = sb_model_file_load(path, &mf, &err);
    if (rc == SB_OK) {
        sb_model_file_free(mf);
        fail_msg("%s: accepted, expected a refusal naming '%s'", path, want1);
    }
    print_message("refused as expected: %s\n", err.msg);
    if (!strstr(err.msg, path)) fail_msg("message does not name the file: %s", err.msg);
    if (want1 && !strstr(err.msg, want1)) fail_msg("message lacks '%s': %s", want1, err.msg);
    if (want2 && !strstr(err.msg, want2)) fail_msg("message lacks '%s': %s", want2, err.msg);
}

static void expect_load(const char *path) {
    sb_model_file *mf = NULL;
    sb_error err = {0};
    if (sb_model_file_load(path, &mf, &err)) fail_msg("%s", err.msg);
    sb_model_file_free(mf);
}

/* ------------------------------------------------------------ item 1 */

/* dilation 65536 x (kernel 32770 - 1) is 2^31 + 65536: wrapped in int32 it
 * gave 32768 output rows, which validation accepted. */
static void test_out_dim_64bit(void **state) {
    (void)state;
    assert_int_equal(sb_conv_out_dim(4, 32770, 65536, 65536, 0, 0), 0);
    assert_int_equal(sb_conv_out_dim(4, 65536, 65536, 65536, 0, 0), 0);
    assert_int_equal(sb_conv_out_dim(INT32_MAX, 1, 1, 1, INT32_MAX, INT32_MAX), -1); /* > int32 */
    assert_int_equal(sb_conv_out_dim(INT32_MAX, 2, 2, 1, 0, 0), 1073741823);
}

#define DW_KH 32770
#define DW_W_BYTES (DW_KH * 3)
#define DW_B_OFF 98368 /* DW_W_BYTES rounded up to 64 */

/* The crash of issue 19: a dwconv whose wrapped window let the fast kernel
 * read far past its padded plane (exit 139 in srambench infer). */
static void test_dwconv_dilation_overflow(void **state) {
    (void)state;
    const char *path = tmp_path("dil.sbm");
    char json[2048];
    snprintf(json, sizeof json,
             "{\"format\":\"srambench-model\",\"name\":\"dil\",\"requant\":\"fixed\",\"input\":0,\"output\":5,"
             "\"tensors\":["
             "{\"name\":\"input\",\"dtype\":\"int8\",\"shape\":[1,4,4,3],\"scale\":0.00392157,\"zero_point\":-128},"
             "{\"name\":\"w\",\"dtype\":\"int8\",\"shape\":[1,%d,1,3],\"offset\":0,\"nbytes\":%d},"
             "{\"name\":\"b\",\"dtype\":\"int32\",\"shape\":[3],\"offset\":%d,\"nbytes\":12},"
             "{\"name\":\"m\",\"dtype\":\"int32\",\"shape\":[3],\"offset\":%d,\"nbytes\":12},"
             "{\"name\":\"s\",\"dtype\":\"int32\",\"shape\":[3],\"offset\":%d,\"nbytes\":12},"
             "{\"name\":\"y\",\"dtype\":\"int8\",\"shape\":[1,32768,4,3],\"scale\":0.1,\"zero_point\":0}],"
             "\"ops\":[{\"type\":\"dwconv2d\",\"name\":\"d0\",\"inputs\":[0,1,2],\"output\":5,"
             "\"stride\":[65536,1],\"dilation\":[65536,1],\"padding\":[0,0,0,0],\"multiplier\":3,\"shift\":4}]}",
             DW_KH, DW_W_BYTES, DW_B_OFF, DW_B_OFF + 64, DW_B_OFF + 128);
    size_t n = DW_B_OFF + 192;
    uint8_t *data = calloc(1, n);
    assert_non_null(data);
    int32_t m[3] = {1 << 30, 1 << 30, 1 << 30}, s[3] = {-3, -3, -3};
    memcpy(data + DW_B_OFF + 64, m, sizeof m);
    memcpy(data + DW_B_OFF + 128, s, sizeof s);
    write_raw(path, json, data, n);
    free(data);
    expect_refusal(path, "op 0 (dwconv2d 'd0'): height: kernel 32770 with dilation 65536 spans 2147549185",
                   "expected at most the padded input's 4");
}

/* maxpool: 65536 x 65535 wrapped to -65536 (undefined in C). */
static void test_maxpool_dilation_overflow(void **state) {
    (void)state;
    const char *path = tmp_path("pool.sbm");
    write_raw(path,
              "{\"format\":\"srambench-model\",\"name\":\"pool\",\"requant\":\"fixed\",\"input\":0,\"output\":1,"
              "\"tensors\":["
              "{\"name\":\"input\",\"dtype\":\"int8\",\"shape\":[1,4,4,3],\"scale\":0.00392157,\"zero_point\":-128},"
              "{\"name\":\"y\",\"dtype\":\"int8\",\"shape\":[1,2,4,3],\"scale\":0.00392157,\"zero_point\":-128}],"
              "\"ops\":[{\"type\":\"maxpool\",\"name\":\"p0\",\"inputs\":[0],\"output\":1,\"kernel\":[65536,1],"
              "\"stride\":[65536,1],\"dilation\":[65536,1],\"padding\":[0,0,0,0]}]}",
              NULL, 0);
    expect_refusal(path, "op 0 (maxpool 'p0'): height: kernel 65536 with dilation 65536", "spans 4294901761");
}

/* Huge padding with a huge stride: a 3x3 output, but the fast depthwise
 * kernel would build a 131076 x 131076 padded plane. */
static void test_padded_input_too_large(void **state) {
    (void)state;
    const char *path = tmp_path("pad.sbm");
    uint8_t data[256] = {0};
    int32_t m[3] = {1 << 30, 1 << 30, 1 << 30}, s[3] = {-3, -3, -3};
    memcpy(data + 128, m, sizeof m);
    memcpy(data + 192, s, sizeof s);
    write_raw(path,
              "{\"format\":\"srambench-model\",\"name\":\"pad\",\"requant\":\"fixed\",\"input\":0,\"output\":5,"
              "\"tensors\":["
              "{\"name\":\"input\",\"dtype\":\"int8\",\"shape\":[1,4,4,3],\"scale\":0.00392157,\"zero_point\":-128},"
              "{\"name\":\"w\",\"dtype\":\"int8\",\"shape\":[1,1,1,3],\"offset\":0,\"nbytes\":3},"
              "{\"name\":\"b\",\"dtype\":\"int32\",\"shape\":[3],\"offset\":64,\"nbytes\":12},"
              "{\"name\":\"m\",\"dtype\":\"int32\",\"shape\":[3],\"offset\":128,\"nbytes\":12},"
              "{\"name\":\"s\",\"dtype\":\"int32\",\"shape\":[3],\"offset\":192,\"nbytes\":12},"
              "{\"name\":\"y\",\"dtype\":\"int8\",\"shape\":[1,3,3,3],\"scale\":0.1,\"zero_point\":0}],"
              "\"ops\":[{\"type\":\"dwconv2d\",\"name\":\"d0\",\"inputs\":[0,1,2],\"output\":5,"
              "\"stride\":[65536,65536],\"padding\":[65536,65536,65536,65536],\"multiplier\":3,\"shift\":4}]}",
              data, sizeof data);
    expect_refusal(path, "op 0 (dwconv2d 'd0'): padded input [1,131076,131076,3]",
                   "expected fewer than 2^31 elements");
}

/* ------------------------------------------- item 7: the float model */

/* A float-mode conv -> add -> mul -> gavgpool graph with every kind of
 * float value: a per-channel scale_f32 tensor, channel_scales, weights_f32,
 * bias_f32 (data), and the scalars of add, mul and gavgpool (JSON). */
typedef struct fmodel {
    float scale[2], cs[2], wf[6], bf[2];
    int32_t bias[2];
    const char *add_a, *add_b, *mul, *gap;
} fmodel;

static fmodel fmodel_ok(void) {
    fmodel f = {{0.01f, 0.02f}, {0.01f, 0.01f}, {0.5f, -0.5f, 0.25f, 0.1f, 0.2f, 0.3f}, {0.1f, -0.1f},
                {100, -100}, "0.5", "0.25", "0.001", "0.0625"};
    return f;
}

static void write_fmodel(const char *path, const fmodel *f) {
    char json[3072];
    snprintf(json, sizeof json,
             "{\"format\":\"srambench-model\",\"name\":\"fl\",\"requant\":\"float\",\"input\":0,\"output\":10,"
             "\"tensors\":["
             "{\"name\":\"input\",\"dtype\":\"int8\",\"shape\":[1,4,4,3],\"scale\":0.00392157,\"zero_point\":-128},"
             "{\"name\":\"w\",\"dtype\":\"int8\",\"shape\":[2,1,1,3],\"offset\":0,\"nbytes\":6,\"channel_scales\":6},"
             "{\"name\":\"b\",\"dtype\":\"int32\",\"shape\":[2],\"offset\":64,\"nbytes\":8},"
             "{\"name\":\"f\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":128,\"nbytes\":8},"
             "{\"name\":\"y\",\"dtype\":\"int8\",\"shape\":[1,4,4,2],\"scale\":0.1,\"zero_point\":0},"
             "{\"name\":\"wf\",\"dtype\":\"float32\",\"shape\":[2,1,1,3],\"offset\":192,\"nbytes\":24},"
             "{\"name\":\"cs\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":256,\"nbytes\":8},"
             "{\"name\":\"bf\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":320,\"nbytes\":8},"
             "{\"name\":\"a.out\",\"dtype\":\"int8\",\"shape\":[1,4,4,2],\"scale\":0.1,\"zero_point\":0},"
             "{\"name\":\"m.out\",\"dtype\":\"int8\",\"shape\":[1,4,4,2],\"scale\":0.1,\"zero_point\":0},"
             "{\"name\":\"g.out\",\"dtype\":\"int8\",\"shape\":[1,1,1,2],\"scale\":0.1,\"zero_point\":0}],"
             "\"ops\":["
             "{\"type\":\"conv2d\",\"name\":\"c0\",\"inputs\":[0,1,2],\"output\":4,\"scale_f32\":3,"
             "\"weights_f32\":5,\"bias_f32\":7},"
             "{\"type\":\"add\",\"name\":\"a0\",\"inputs\":[4,4],\"output\":8,\"scale_f32\":%s,\"scale_b_f32\":%s},"
             "{\"type\":\"mul\",\"name\":\"m0\",\"inputs\":[8,8],\"output\":9,\"scale_f32\":%s},"
             "{\"type\":\"gavgpool\",\"name\":\"g0\",\"inputs\":[9],\"output\":10,\"scale_f32\":%s}]}",
             f->add_a, f->add_b, f->mul, f->gap);
    uint8_t data[384] = {1, 2, 3, 4, 5, 6};
    memcpy(data + 64, f->bias, sizeof f->bias);
    memcpy(data + 128, f->scale, sizeof f->scale);
    memcpy(data + 192, f->wf, sizeof f->wf);
    memcpy(data + 256, f->cs, sizeof f->cs);
    memcpy(data + 320, f->bf, sizeof f->bf);
    write_raw(path, json, data, sizeof data);
}

static void test_float_model_ok(void **state) {
    (void)state;
    const char *path = tmp_path("fl-ok.sbm");
    fmodel f = fmodel_ok();
    write_fmodel(path, &f);
    expect_load(path);
    /* the largest scale the bound allows passes: 2^30 / (100 + 3 x 255 x 128) */
    f.scale[0] = (float)(1073741824.0 / (100 + 3 * 255 * 128)) * 0.999f;
    write_fmodel(path, &f);
    expect_load(path);
}

static void test_float_tensors_refused(void **state) {
    (void)state;
    const char *path = tmp_path("fl-bad.sbm");
    static const float bad[] = {NAN, INFINITY, 1e30f, 1e10f};
    static const char *shown[] = {"nan", "inf", "1e+30", "1e+10"};
    char want[128];
    for (int i = 0; i < 4; i++) {
        fmodel f = fmodel_ok();
        f.scale[1] = bad[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "ops[0] 'c0'.scale_f32: tensor 3 'f'[1] = %s: expected", shown[i]);
        expect_refusal(path, want, "the largest |value| it multiplies");
        f = fmodel_ok();
        f.cs[1] = bad[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "tensors[1] 'w'.channel_scales: tensor 6 'cs'[1] = %s: expected", shown[i]);
        expect_refusal(path, want, NULL);
        f = fmodel_ok();
        f.wf[4] = -bad[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "ops[0] 'c0'.weights_f32: tensor 5 'wf'[4] = -%s: expected", shown[i]);
        expect_refusal(path, i ? want : "ops[0] 'c0'.weights_f32: tensor 5 'wf'[4] = ", NULL);
        f = fmodel_ok();
        f.bf[0] = bad[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "ops[0] 'c0'.bias_f32: tensor 7 'bf'[0] = %s: expected", shown[i]);
        expect_refusal(path, want, NULL);
    }
    /* negative scales: no quantiser makes them */
    fmodel f = fmodel_ok();
    f.scale[0] = -0.01f;
    write_fmodel(path, &f);
    expect_refusal(path, "tensor 3 'f'[0] = -0.01: expected a finite float32 0..", NULL);
    f = fmodel_ok();
    f.cs[0] = 0.0f;
    write_fmodel(path, &f);
    expect_refusal(path, "tensor 6 'cs'[0] = 0: expected a finite float32 positive", NULL);
}

/* add/mul/gavgpool scales are JSON numbers (no NaN or Inf there; 1e300 is
 * refused as beyond float32 already). 1e10 in a float-mode add was an
 * undefined float->int conversion (sb_out_add). */
static void test_float_scalars_refused(void **state) {
    (void)state;
    const char *path = tmp_path("fl-scalar.sbm");
    static const char *vals[] = {"1e10", "1e30", "-1"};
    static const char *shown[] = {"1e+10", "1e+30", "-1"};
    char want[128];
    for (int i = 0; i < 3; i++) {
        fmodel f = fmodel_ok();
        f.add_a = vals[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "ops[1] 'a0'.scale_f32: %s: expected a finite float32 0..", shown[i]);
        expect_refusal(path, want, "2^30 / 510");
        f = fmodel_ok();
        f.add_b = vals[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "ops[1] 'a0'.scale_b_f32: %s: expected", shown[i]);
        expect_refusal(path, want, NULL);
        f = fmodel_ok();
        f.mul = vals[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "ops[2] 'm0'.scale_f32: %s: expected", shown[i]);
        expect_refusal(path, want, "2^30 / 65025");
        f = fmodel_ok();
        f.gap = vals[i];
        write_fmodel(path, &f);
        snprintf(want, sizeof want, "ops[3] 'g0'.scale_f32: %s: expected", shown[i]);
        expect_refusal(path, want, "2^30 / 4080");
    }
}

/* A bias that overflows the int32 accumulator (undefined in the kernels). */
static void test_bias_overflow_refused(void **state) {
    (void)state;
    const char *path = tmp_path("fl-bias.sbm");
    fmodel f = fmodel_ok();
    f.bias[1] = INT32_MAX;
    write_fmodel(path, &f);
    expect_refusal(path, "op 0 (conv2d 'c0'): bias 'b'[1] = 2147483647: expected |bias| <= 2147385727", NULL);
    f.bias[1] = INT32_MIN;
    write_fmodel(path, &f);
    expect_refusal(path, "bias 'b'[1] = -2147483648", NULL);
}

/* The kernels stay defined for a graph that skipped the reader: an out of
 * range float add gives INT32_MIN, as sb_fmul_round does. */
static void test_round_out_of_range(void **state) {
    (void)state;
    assert_int_equal(sb_round_i32(1e10f), INT32_MIN);
    assert_int_equal(sb_round_i32(-1e10f), INT32_MIN);
    assert_int_equal(sb_round_i32(NAN), INT32_MIN);
    assert_int_equal(sb_round_i32(2.5f), 2);
    assert_int_equal(sb_round_i32(-2147483648.0f), INT32_MIN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_dim_64bit),
        cmocka_unit_test(test_dwconv_dilation_overflow),
        cmocka_unit_test(test_maxpool_dilation_overflow),
        cmocka_unit_test(test_padded_input_too_large),
        cmocka_unit_test(test_float_model_ok),
        cmocka_unit_test(test_float_tensors_refused),
        cmocka_unit_test(test_float_scalars_refused),
        cmocka_unit_test(test_bias_overflow_refused),
        cmocka_unit_test(test_round_out_of_range),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
