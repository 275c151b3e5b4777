/*
 * test_sbm.c - the .sbm reader and writer: round trip, and every refusal of
 * docs/model-format.md giving a clear message.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "sb_model_file.h"
#include "tnet.h"

#ifndef SBM_PLUGIN_PATH
#error "SBM_PLUGIN_PATH must name the built srambench-model-sbm.so"
#endif

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sb-test-sbm-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return (size_t)n;
}

static void patch(const char *path, long off, const void *bytes, size_t n) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, off, SEEK_SET);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* Load must fail with `code` and a message containing every `want`. */
static void expect_refusal(const char *path, int code, const char *want1, const char *want2) {
    sb_model_file *mf = NULL;
    sb_error err = {0};
    int rc = sb_model_file_load(path, &mf, &err);
    if (rc != code) fail_msg("%s: rc %d, expected %d (%s)", path, rc, code, err.msg);
    assert_null(mf);
    print_message("refused as expected: %s\n", err.msg);
    if (!strstr(err.msg, path)) fail_msg("message does not name the file: %s", err.msg);
    if (want1 && !strstr(err.msg, want1)) fail_msg("message lacks '%s': %s", want1, err.msg);
    if (want2 && !strstr(err.msg, want2)) fail_msg("message lacks '%s': %s", want2, err.msg);
}

static void write_tnet(const char *path, sb_requant_mode mode) {
    tgraph tg;
    tnet_build(&tg, 3, mode, 13, 11);
    sb_error err = {0};
    if (sb_model_file_write(path, tg_graph(&tg), &err)) fail_msg("%s", err.msg);
    tg_free(&tg);
}

static void assert_tensor_equal(const sb_tensor *a, const sb_tensor *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->rank, b->rank);
    assert_memory_equal(a->shape, b->shape, sizeof(int32_t) * (size_t)a->rank);
    assert_true(a->scale == b->scale);
    assert_int_equal(a->zero_point, b->zero_point);
    assert_int_equal(a->data == NULL, b->data == NULL);
    assert_int_equal(a->n_channel_scales, b->n_channel_scales);
    if (a->data) {
        assert_int_equal(a->nbytes, b->nbytes);
        assert_memory_equal(a->data, b->data, a->nbytes);
        assert_int_equal((uintptr_t)b->data % 64, 0); /* aligned for the kernels */
    }
}

static void test_round_trip(void **state) {
    (void)state;
    for (int mode = SB_REQUANT_FIXED; mode <= SB_REQUANT_FLOAT; mode++) {
        tgraph tg;
        tnet_build(&tg, 3, (sb_requant_mode)mode, 13, 11);
        const sb_graph *g = tg_graph(&tg);
        const char *path = tmp_path("rt.sbm");
        sb_error err = {0};
        if (sb_model_file_write(path, g, &err)) fail_msg("%s", err.msg);
        sb_model_file *mf;
        if (sb_model_file_load(path, &mf, &err)) fail_msg("%s", err.msg);
        const sb_graph *h = sb_model_file_graph(mf);
        assert_ptr_equal(sb_model_file_from_graph(h), mf);
        assert_string_equal(h->name, g->name);
        assert_int_equal(h->requant, g->requant);
        assert_int_equal(h->n_tensors, g->n_tensors);
        assert_int_equal(h->n_ops, g->n_ops);
        assert_int_equal(h->input, g->input);
        assert_int_equal(h->output, g->output);
        assert_int_equal(h->n_classes, 7);
        assert_string_equal(h->class_names[4], "mel");
        assert_non_null(strstr(h->provenance_json, "tnet random"));
        for (int32_t t = 0; t < g->n_tensors; t++) assert_tensor_equal(&g->tensors[t], &h->tensors[t]);
        for (int32_t i = 0; i < g->n_ops; i++) {
            const sb_op *a = &g->ops[i], *b = &h->ops[i];
            assert_int_equal(a->type, b->type);
            assert_string_equal(a->name, b->name);
            assert_memory_equal(a->inputs, b->inputs, sizeof a->inputs);
            assert_int_equal(a->output, b->output);
            assert_int_equal(a->kernel_h, b->kernel_h);
            assert_int_equal(a->stride_w, b->stride_w);
            assert_int_equal(a->pad_bottom, b->pad_bottom);
            assert_int_equal(a->act_min, b->act_min);
            assert_int_equal(a->act_max, b->act_max);
            assert_string_equal(a->act, b->act);
            assert_int_equal(a->n_requant, b->n_requant);
            if (mode == SB_REQUANT_FIXED && a->n_requant) {
                assert_memory_equal(a->multiplier, b->multiplier, 4 * (size_t)a->n_requant);
                assert_memory_equal(a->shift, b->shift, 4 * (size_t)a->n_requant);
            }
            if (a->scale_f32) assert_memory_equal(a->scale_f32, b->scale_f32, 4 * (size_t)a->n_requant);
            if (a->type == SB_OP_ADD) {
                assert_int_equal(a->multiplier_out, b->multiplier_out);
                assert_int_equal(a->shift_b, b->shift_b);
                assert_true(a->scale_b_f32 == b->scale_b_f32);
            }
            if (a->lut) assert_memory_equal(a->lut, b->lut, 256);
        }
        /* and the same bytes out */
        int8_t in[13 * 11 * 3], o1[7], o2[7];
        trng r = {99};
        trng_fill8(&r, in, sizeof in, -128, 127);
        sb_workspace *w1, *w2;
        assert_int_equal(sb_workspace_new(g, &w1, &err), 0);
        assert_int_equal(sb_workspace_new(h, &w2, &err), 0);
        assert_int_equal(sb_graph_run_int8(g, w1, in, o1, &err), 0);
        assert_int_equal(sb_graph_run_int8(h, w2, in, o2, &err), 0);
        assert_memory_equal(o1, o2, 7);
        sb_workspace_free(w1);
        sb_workspace_free(w2);
        sb_model_file_free(mf);
        tg_free(&tg);
    }
}

static void test_truncated(void **state) {
    (void)state;
    const char *path = tmp_path("trunc.sbm");
    write_tnet(path, SB_REQUANT_FIXED);
    assert_int_equal(truncate(path, (off_t)file_size(path) - 10), 0);
    expect_refusal(path, SB_EFORMAT, "truncated", "data_offset + data_len");
    assert_int_equal(truncate(path, 20), 0);
    expect_refusal(path, SB_EFORMAT, "truncated", "64-byte header");
}

static void test_bad_crc(void **state) {
    (void)state;
    const char *path = tmp_path("crc.sbm");
    write_tnet(path, SB_REQUANT_FIXED);
    uint8_t x = 0x5A;
    patch(path, (long)file_size(path) - 70, &x, 1); /* a weight byte */
    expect_refusal(path, SB_ECHECKSUM, "crc32 mismatch", NULL);
}

static void test_bad_magic(void **state) {
    (void)state;
    const char *path = tmp_path("magic.sbm");
    write_tnet(path, SB_REQUANT_FIXED);
    patch(path, 0, "SBMODEX", 7);
    expect_refusal(path, SB_EFORMAT, "bad magic", "SBMODEL");
}

/* data_len = 2^64 - 1: the sum with data_offset wrapped and was printed as
 * the size expected ("expected data_offset + data_len = 36031"). */
static void test_data_len_overflow(void **state) {
    (void)state;
    const char *path = tmp_path("dlen.sbm");
    write_tnet(path, SB_REQUANT_FIXED);
    uint8_t all_ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    patch(path, 32, all_ones, 8);
    expect_refusal(path, SB_EFORMAT, "data_len 18446744073709551615: data_offset (", "overflows 64 bits");
}

static void test_versions(void **state) {
    (void)state;
    const char *path = tmp_path("version.sbm");
    write_tnet(path, SB_REQUANT_FIXED);
    uint8_t minor[4] = {7, 0, 0, 0}, major[4] = {2, 0, 0, 0};
    patch(path, 12, minor, 4); /* a later minor version is read */
    sb_model_file *mf;
    sb_error err = {0};
    if (sb_model_file_load(path, &mf, &err)) fail_msg("minor 7 refused: %s", err.msg);
    sb_model_file_free(mf);
    patch(path, 8, major, 4);
    expect_refusal(path, SB_EFORMAT, "version_major 2", "expected 1");
}

/* A one-conv graph as JSON text; `out_shape`, `w_offset` and `y_quant` (the
 * output's quantisation) let a test break it. */
static void write_conv_json_q(const char *path, const char *out_shape, int w_offset, size_t data_len, const char *extra,
                              const char *y_quant) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"format\":\"srambench-model\",\"name\":\"c\",\"requant\":\"fixed\",\"input\":0,\"output\":5,%s"
             "\"tensors\":["
             "{\"name\":\"input\",\"dtype\":\"int8\",\"shape\":[1,4,4,3],\"scale\":0.00392157,\"zero_point\":-128},"
             "{\"name\":\"w\",\"dtype\":\"int8\",\"shape\":[2,1,1,3],\"offset\":%d,\"nbytes\":6},"
             "{\"name\":\"b\",\"dtype\":\"int32\",\"shape\":[2],\"offset\":64,\"nbytes\":8},"
             "{\"name\":\"m\",\"dtype\":\"int32\",\"shape\":[2],\"offset\":128,\"nbytes\":8},"
             "{\"name\":\"s\",\"dtype\":\"int32\",\"shape\":[2],\"offset\":192,\"nbytes\":8},"
             "{\"name\":\"y\",\"dtype\":\"int8\",\"shape\":%s%s}],"
             "\"ops\":[{\"type\":\"conv2d\",\"name\":\"c0\",\"inputs\":[0,1,2],\"output\":5,"
             "\"multiplier\":3,\"shift\":4,\"future_key\":[1,2]}]}",
             extra ? extra : "", w_offset, out_shape, y_quant);
    uint8_t data[512] = {0};
    int32_t m[2] = {1 << 30, 1 << 30}, s[2] = {-3, -3};
    memcpy(data + 128, m, 8);
    memcpy(data + 192, s, 8);
    sb_error err = {0};
    if (sb_model_file_write_raw(path, json, data, data_len, &err)) fail_msg("%s", err.msg);
}

static void write_conv_json(const char *path, const char *out_shape, int w_offset, size_t data_len, const char *extra) {
    write_conv_json_q(path, out_shape, w_offset, data_len, extra, ",\"scale\":0.1,\"zero_point\":0");
}

static void test_hand_written_file(void **state) {
    (void)state;
    const char *path = tmp_path("hand.sbm");
    write_conv_json(path, "[1,4,4,2]", 0, 256, NULL);
    sb_model_file *mf;
    sb_error err = {0};
    if (sb_model_file_load(path, &mf, &err)) fail_msg("%s", err.msg); /* unknown keys ignored */
    const sb_graph *g = sb_model_file_graph(mf);
    assert_int_equal(g->n_classes, 8 * 4); /* no classes: the output's size */
    assert_int_equal(g->ops[0].stride_h, 1);
    assert_int_equal(g->ops[0].dilation_w, 1);
    sb_model_file_free(mf);
}

/* The optional softmax temperature: absent reads as 0 (meaning 1), a value
 * in range is kept and written back, NaN-like or out-of-range values are
 * refused naming the field (they would scale every confidence). */
static void test_temperature(void **state) {
    (void)state;
    char path[512], copy[512];
    sb_model_file *mf, *mf2;
    sb_error err = {0};
    snprintf(path, sizeof path, "%s", tmp_path("temp.sbm")); /* tmp_path's buffer is shared */
    snprintf(copy, sizeof copy, "%s", tmp_path("temp2.sbm"));
    write_conv_json(path, "[1,4,4,2]", 0, 256, NULL);
    if (sb_model_file_load(path, &mf, &err)) fail_msg("%s", err.msg);
    assert_true(sb_model_file_graph(mf)->temperature == 0.0f);
    sb_model_file_free(mf);
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"temperature\":1.5,");
    if (sb_model_file_load(path, &mf, &err)) fail_msg("%s", err.msg);
    assert_true(sb_model_file_graph(mf)->temperature == 1.5f);
    if (sb_model_file_write(copy, sb_model_file_graph(mf), &err)) fail_msg("%s", err.msg);
    if (sb_model_file_load(copy, &mf2, &err)) fail_msg("%s", err.msg);
    assert_true(sb_model_file_graph(mf2)->temperature == 1.5f);
    sb_model_file_free(mf2);
    sb_model_file_free(mf);
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"temperature\":0,");
    expect_refusal(path, SB_EFORMAT, "temperature: 0: expected a finite number in [0.05, 20]", NULL);
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"temperature\":1e300,");
    expect_refusal(path, SB_EFORMAT, "temperature: 1e+300", "[0.05, 20]");
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"temperature\":\"2\",");
    expect_refusal(path, SB_EFORMAT, "temperature: expected a finite number", NULL);
}

static void test_tensor_past_end(void **state) {
    (void)state;
    const char *path = tmp_path("past.sbm");
    write_conv_json(path, "[1,4,4,2]", 256, 256, NULL); /* w at 256 + 6 > data_len 256 */
    expect_refusal(path, SB_EFORMAT, "tensors[1]", "past the end");
}

static void test_shapes_do_not_chain(void **state) {
    (void)state;
    const char *path = tmp_path("chain.sbm");
    write_conv_json(path, "[1,4,4,5]", 0, 256, NULL);
    expect_refusal(path, SB_EFORMAT, "op 0 (conv2d 'c0')", "expected [1,4,4,2]");
}

static void test_bad_fields(void **state) {
    (void)state;
    const char *path = tmp_path("fields.sbm");
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"classes\":[\"a\",3],");
    expect_refusal(path, SB_EFORMAT, "classes", "expected a string");
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"classes\":[\"a\",\"b\"],");
    expect_refusal(path, SB_EFORMAT, "2 classes", "32 elements");
    /* class names are shown raw in tables and file names (issue 19, item 10's class) */
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"classes\":[\"a\",\"b\\nc\"],");
    expect_refusal(path, SB_EFORMAT, "classes: element 1: U+000A at byte 1", "without control");
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"classes\":[\"ne\\u202Evi\"],");
    expect_refusal(path, SB_EFORMAT, "classes: element 0: U+202E at byte 2", "bidirectional");
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"classes\":[\"x\\u2067\"],");
    expect_refusal(path, SB_EFORMAT, "classes: element 0: U+2067 at byte 1", NULL);
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"classes\":[\"\"],");
    expect_refusal(path, SB_EFORMAT, "classes: element 0: empty", NULL);
    /* Text that is not UTF-8 (cJSON takes any bytes) once went straight into
     * results.json, which then did not parse: refused, naming the field. */
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"provenance\":{\"tool\":\"t\xff\xfe\"},");
    expect_refusal(path, SB_EFORMAT, "provenance.tool: invalid UTF-8 (byte 0xff at byte 1", "expected UTF-8");
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"classes\":[\"a\",\"\xc0\xaf\"],"); /* overlong '/' */
    expect_refusal(path, SB_EFORMAT, "classes[1]: invalid UTF-8", NULL);
    write_conv_json(path, "[1,4,4,2]", 0, 256, "\"k\xed\xa0\x80\":1,"); /* a surrogate */
    expect_refusal(path, SB_EFORMAT, "header: a key: invalid UTF-8 (byte 0xed at byte 1", NULL);
    /* a reference to a tensor of the wrong dtype, where any count will do:
     * the message once ended "expected constant float32 data0" */
    sb_error err = {0};
    sb_model_file *mf = NULL;
    assert_int_equal(sb_model_file_write_raw(path, "{\"format\":\"srambench-model\",\"requant\":\"fixed\","
        "\"input\":0,\"output\":0,\"tensors\":[{\"name\":\"x\",\"dtype\":\"int8\",\"shape\":[1,4,4,3],\"scale\":0.5,\"zero_point\":0,"
        "\"channel_scales\":1},{\"name\":\"b\",\"dtype\":\"int32\",\"shape\":[2],\"offset\":0,\"nbytes\":8}],"
        "\"ops\":[]}", "\0\0\0\0\0\0\0\0", 8, &err), 0);
    assert_int_equal(sb_model_file_load(path, &mf, &err), SB_EFORMAT);
    const char *tail = "tensors[0] 'x'.channel_scales: tensor 1 'b': expected constant float32 data";
    if (strcmp(err.msg + strlen(err.msg) - strlen(tail), tail) != 0) fail_msg("message: %s", err.msg);
    /* a JSON syntax error */
    assert_int_equal(sb_model_file_write_raw(path, "{\"format\": ", "", 0, &err), 0);
    expect_refusal(path, SB_EFORMAT, "JSON header", NULL);
    /* a missing file */
    expect_refusal(tmp_path("absent.sbm"), SB_ENOENT, "cannot open", NULL);
}

/* Every activation carries a positive finite float32 scale and a zero point
 * in -128..127: a bad output scale would otherwise give NaN probabilities
 * and class 0 for every image, or confidences off by the missing factor. */
static void test_bad_quantisation(void **state) {
    (void)state;
    const char *path = tmp_path("quant.sbm");
    static const struct {
        const char *y_quant, *field, *want;
    } bad[] = {
        {",\"scale\":1e300,\"zero_point\":0", "scale", "1e+300: expected a positive finite float32"}, /* inf as float32 */
        {",\"scale\":1e-60,\"zero_point\":0", "scale", "1e-60: expected a positive finite float32"},  /* 0 as float32 */
        {",\"scale\":0,\"zero_point\":0", "scale", "0: expected a positive finite float32"},
        {",\"scale\":-1,\"zero_point\":0", "scale", "-1: expected a positive finite float32"},
        {",\"scale\":\"0.1\",\"zero_point\":0", "scale", "expected a positive finite float32"},
        {",\"zero_point\":0", "scale", "missing: expected a positive finite float32"},
        {",\"scale\":0.1", "zero_point", "missing: expected an integer"},
        {",\"scale\":0.1,\"zero_point\":128", "zero_point", "expected an integer in -128..127"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char field[64];
        snprintf(field, sizeof field, "tensors[5].%s: ", bad[i].field);
        write_conv_json_q(path, "[1,4,4,2]", 0, 256, NULL, bad[i].y_quant);
        expect_refusal(path, SB_EFORMAT, field, bad[i].want);
    }
    /* the range is float32's: its largest finite scale passes */
    write_conv_json_q(path, "[1,4,4,2]", 0, 256, NULL, ",\"scale\":3.4e38,\"zero_point\":-128");
    sb_model_file *mf;
    sb_error err = {0};
    if (sb_model_file_load(path, &mf, &err)) fail_msg("%s", err.msg);
    sb_model_file_free(mf);
}

/* The model plugin: a path relative to the host's repo_root, and a bad path
 * naming the bench.toml line it came from. */
static void test_plugin(void **state) {
    (void)state;
    write_tnet(tmp_path("plug.sbm"), SB_REQUANT_FIXED);
    void *dl = dlopen(SBM_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!dl) fail_msg("dlopen %s: %s", SBM_PLUGIN_PATH, dlerror());
    const sb_plugin_header *const *entry = dlsym(dl, SB_PLUGIN_ENTRY_SYMBOL);
    assert_non_null(entry);
    assert_int_equal((*entry)->kind, SB_KIND_MODEL);
    assert_string_equal((*entry)->name, "sbm");
    const sb_model_plugin *mp = (const sb_model_plugin *)(const void *)*entry;
    sb_host host = {SB_ABI_MAJOR, SB_ABI_MINOR, NULL, NULL, tmpdir, tmpdir};
    sb_option o = {"path", SB_OPT_STRING, "plug.sbm", 0, 0, 0, NULL, 0, "bench.toml", 7, 1};
    sb_options opts = {&o, 1, "tnet"};
    const sb_graph *g = NULL;
    sb_error err = {0};
    if (mp->load(&host, &opts, &g, &err)) fail_msg("%s", err.msg);
    assert_int_equal(g->n_classes, 7);
    assert_string_equal(g->name, "tnet");
    mp->unload(g);
    o.s = "absent.sbm";
    assert_int_equal(mp->load(&host, &opts, &g, &err), SB_ENOENT);
    assert_non_null(strstr(err.msg, "bench.toml:7"));
    assert_non_null(strstr(err.msg, "absent.sbm"));
    dlclose(dl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_crc),         cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_versions),        cmocka_unit_test(test_data_len_overflow),        cmocka_unit_test(test_hand_written_file),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_tensor_past_end), cmocka_unit_test(test_shapes_do_not_chain),
        cmocka_unit_test(test_bad_fields),      cmocka_unit_test(test_bad_quantisation),
        cmocka_unit_test(test_plugin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
