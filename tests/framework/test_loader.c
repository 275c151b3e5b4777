/* The plugin loader: a good plugin, and the refusals (missing file, not a
 * shared object, missing symbol, wrong kind, another ABI major). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb_loader.h"

#define DIR SB_TEST_PLUGIN_DIR

static void expect_refusal(const char *file, sb_kind want, int code, const char *says) {
    sb_plugin p;
    sb_error err = {0};
    int rc = sb_plugin_open(file, want, &p, &err);
    if (rc != code || !strstr(err.msg, says)) print_error("%s: rc=%d %s\n", file, rc, err.msg);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err.msg, file)); /* the message names the file */
    assert_non_null(strstr(err.msg, says));
    assert_null(p.dl);
}

static void test_good(void **state) {
    sb_plugin p;
    sb_error err = {0};
    const sb_backend_plugin *be;
    (void)state;
    assert_int_equal(sb_plugin_open(DIR "/srambench-backend-fake.so", SB_KIND_BACKEND, &p, &err), 0);
    assert_int_equal(p.hdr->kind, SB_KIND_BACKEND);
    assert_int_equal(p.hdr->abi_major, SB_ABI_MAJOR);
    assert_string_equal(p.hdr->name, "fake");
    assert_string_equal(p.hdr->version, "1.0.0");
    assert_string_equal(p.file, DIR "/srambench-backend-fake.so");
    be = (const sb_backend_plugin *)p.hdr;
    assert_non_null(be->run);
    assert_string_equal(p.hdr->options[0].name, "fail");
    sb_plugin_close(&p);
    assert_null(p.dl);
    /* want = 0 accepts any kind */
    assert_int_equal(sb_plugin_open(DIR "/srambench-dataset-fake.so", 0, &p, &err), 0);
    assert_int_equal(p.hdr->kind, SB_KIND_DATASET);
    sb_plugin_close(&p);
}

static void test_missing_file(void **state) {
    (void)state;
    expect_refusal(DIR "/srambench-backend-nothere.so", SB_KIND_BACKEND, SB_ENOENT, "No such file");
}

static void test_not_a_so(void **state) {
    char path[] = "/tmp/srambench-backend-textXXXXXX";
    int fd = mkstemp(path);
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not an ELF file at all\n", 23), 23);
    close(fd);
    expect_refusal(path, SB_KIND_BACKEND, SB_EFORMAT, "not a shared object");
    unlink(path);
    /* a folder is not a plugin either */
    expect_refusal("/tmp", SB_KIND_BACKEND, SB_EFORMAT, "not a shared object");
    /* an ELF executable that is not a shared object cannot be loaded */
    expect_refusal("/bin/sh", SB_KIND_BACKEND, SB_EFORMAT, "");
}

static void test_missing_symbol(void **state) {
    (void)state;
    expect_refusal(DIR "/srambench-backend-nosym.so", SB_KIND_BACKEND, SB_ENOENT, "missing symbol 'sb_plugin_entry'");
}

static void test_wrong_kind(void **state) {
    (void)state;
    expect_refusal(DIR "/srambench-backend-wrongkind.so", SB_KIND_BACKEND, SB_EABI,
                   "is a dataset plugin: expected a backend plugin");
    expect_refusal(DIR "/srambench-model-fake.so", SB_KIND_DATASET, SB_EABI, "is a model plugin");
    /* any kind asked for: the header's kind must still be the file name's */
    expect_refusal(DIR "/srambench-backend-wrongkind.so", 0, SB_EABI,
                   "declares dataset 'wrongkind': expected backend 'wrongkind'");
}

/* A plugin copied under another plugin's file name would run as that one and
 * label results with its name: refused, naming both. */
static void test_misnamed(void **state) {
    sb_search_path sp;
    sb_plugin p;
    sb_error err = {0};
    const char *extra[] = {DIR};
    (void)state;
    expect_refusal(DIR "/srambench-backend-misnamed.so", SB_KIND_BACKEND, SB_EABI,
                   "declares backend 'fake': expected backend 'misnamed'");
    unsetenv("SRAMBENCH_PLUGIN_PATH");
    assert_int_equal(sb_search_path_init(&sp, extra, 1, &err), 0);
    assert_int_equal(sb_plugin_find(&sp, SB_KIND_BACKEND, "misnamed", &p, &err), SB_EABI);
    assert_non_null(strstr(err.msg, "srambench-backend-misnamed.so: declares backend 'fake'"));
    assert_null(p.dl);
    sb_search_path_free(&sp);
}

static void test_wrong_abi(void **state) {
    char want[64];
    (void)state;
    snprintf(want, sizeof want, "built for ABI %d.0", SB_ABI_MAJOR + 1);
    expect_refusal(DIR "/srambench-backend-badabi.so", SB_KIND_BACKEND, SB_EABI, want);
    expect_refusal(DIR "/srambench-backend-badabi.so", 0, SB_EABI, "rebuild the plugin");
}

/* A plugin that leaves a required function NULL is refused at load, naming
 * the file, the kind and every missing function, before any is called (the
 * plugin's other functions abort). */
static void test_null_required(void **state) {
    sb_search_path sp;
    sb_plugin p;
    sb_error err = {0};
    const char *extra[] = {DIR};
    (void)state;
    expect_refusal(DIR "/srambench-backend-norun.so", SB_KIND_BACKEND, SB_EABI,
                   "backend plugin 'norun' leaves prepare(), run() NULL: expected every required "
                   "function of sb_backend_plugin to be set");
    unsetenv("SRAMBENCH_PLUGIN_PATH");
    assert_int_equal(sb_search_path_init(&sp, extra, 1, &err), 0);
    assert_int_equal(sb_plugin_find(&sp, SB_KIND_BACKEND, "norun", &p, &err), SB_EABI);
    assert_non_null(strstr(err.msg, "srambench-backend-norun.so: backend plugin 'norun' leaves"));
    assert_null(p.dl);
    sb_search_path_free(&sp);
}

/* Minor versions: a plugin of a newer minor (its descriptor has a member
 * this host does not know) is loaded and used through the members the host
 * knows; another major is refused (test_wrong_abi). */
static void test_newer_minor(void **state) {
    sb_plugin p;
    sb_error err = {0};
    const sb_backend_plugin *be;
    sb_options none = {NULL, 0, "newminor"};
    void *h = NULL;
    (void)state;
    assert_int_equal(sb_plugin_open(DIR "/srambench-backend-newminor.so", SB_KIND_BACKEND, &p, &err), 0);
    assert_int_equal(p.hdr->abi_major, SB_ABI_MAJOR);
    assert_int_equal(p.hdr->abi_minor, SB_ABI_MINOR + 1);
    be = (const sb_backend_plugin *)p.hdr;
    assert_int_equal(be->open(NULL, &none, &h, &err), 0);
    be->close(h);
    sb_plugin_close(&p);
}

static void test_find_on_path(void **state) {
    sb_search_path sp;
    sb_plugin p;
    sb_error err = {0};
    const char *extra[] = {"/nonexistent-first"};
    (void)state;
    setenv("SRAMBENCH_PLUGIN_PATH", "/nonexistent-env:" DIR, 1);
    assert_int_equal(sb_search_path_init(&sp, extra, 1, &err), 0);
    assert_true(sp.n >= 3);
    assert_string_equal(sp.dirs[0], "/nonexistent-env"); /* env first */
    assert_string_equal(sp.dirs[1], DIR);
    assert_string_equal(sp.dirs[2], "/nonexistent-first"); /* then bench.toml's */
    assert_int_equal(sb_plugin_find(&sp, SB_KIND_MODEL, "fake", &p, &err), 0);
    assert_int_equal(p.hdr->kind, SB_KIND_MODEL);
    sb_plugin_close(&p);
    assert_int_equal(sb_plugin_find(&sp, SB_KIND_BACKEND, "nosuch", &p, &err), SB_ENOENT);
    assert_non_null(strstr(err.msg, "backend plugin 'nosuch' not found: expected a file srambench-backend-nosuch.so"));
    assert_non_null(strstr(err.msg, "/nonexistent-env"));
    assert_int_equal(sb_plugin_find(&sp, SB_KIND_BACKEND, "badabi", &p, &err), SB_EABI);
    assert_int_equal(sp.origin[0], SB_PATH_ENV);
    assert_int_equal(sp.origin[2], SB_PATH_CONFIG);
    assert_int_equal(sp.origin[sp.n - 1], SB_PATH_DEFAULT);
    sb_search_path_free(&sp);
    unsetenv("SRAMBENCH_PLUGIN_PATH");
}

/* Issue 19: a plugin name is a name, not a path; refused by the loader
 * too (infer and sweep name plugins without bench.toml's check). */
static void test_name_not_a_path(void **state) {
    sb_search_path sp;
    sb_plugin p;
    sb_error err = {0};
    const char *extra[] = {DIR};
    static const char *const bad[] = {"fake.so.p/../fake", "../fake", "Fake", "-x", "a_b", "", "a.b"};
    size_t i;
    (void)state;
    assert_int_equal(sb_search_path_init(&sp, extra, 1, &err), 0);
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sb_plugin_find(&sp, SB_KIND_BACKEND, bad[i], &p, &err), SB_EINVAL);
        assert_non_null(strstr(err.msg, "expected [a-z0-9][a-z0-9-]*"));
    }
    assert_true(sb_plugin_name_ok("hmnist-csv") && sb_plugin_name_ok("ham10000") && sb_plugin_name_ok("0x"));
    sb_search_path_free(&sp);
}

typedef struct seen {
    int fake_backend, fake_dataset, refused_abi, refused_sym, refused_kind, refused_name;
} seen;

static void visit(const char *file, const sb_plugin *p, const sb_error *refused, void *ud) {
    seen *s = ud;
    if (p && p->hdr->kind == SB_KIND_BACKEND && strcmp(p->hdr->name, "fake") == 0) s->fake_backend++;
    if (p && p->hdr->kind == SB_KIND_DATASET && strcmp(p->hdr->name, "fake") == 0) s->fake_dataset++;
    if (!p && strstr(file, "badabi") && refused->code == SB_EABI) s->refused_abi++;
    if (!p && strstr(file, "nosym") && refused->code == SB_ENOENT) s->refused_sym++;
    /* a header that contradicts its file name is refused, not listed as what it says */
    if (!p && strstr(file, "wrongkind") && strstr(refused->msg, "declares dataset 'wrongkind'")) s->refused_kind++;
    if (!p && strstr(file, "misnamed") && strstr(refused->msg, "declares backend 'fake'")) s->refused_name++;
}

static void test_scan(void **state) {
    sb_search_path sp;
    sb_error err = {0};
    seen s = {0};
    const char *extra[] = {DIR, DIR}; /* the same folder twice: each file once */
    (void)state;
    unsetenv("SRAMBENCH_PLUGIN_PATH");
    assert_int_equal(sb_search_path_init(&sp, extra, 2, &err), 0);
    sb_plugin_scan(&sp, visit, &s);
    assert_int_equal(s.fake_backend, 1);
    assert_int_equal(s.fake_dataset, 1);
    assert_int_equal(s.refused_abi, 1);
    assert_int_equal(s.refused_sym, 1);
    assert_int_equal(s.refused_kind, 1);
    assert_int_equal(s.refused_name, 1);
    sb_search_path_free(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_a_so),    cmocka_unit_test(test_missing_symbol),
        cmocka_unit_test(test_wrong_kind),  cmocka_unit_test(test_wrong_abi),
        cmocka_unit_test(test_find_on_path), cmocka_unit_test(test_scan),
        cmocka_unit_test(test_misnamed),    cmocka_unit_test(test_name_not_a_path),
        cmocka_unit_test(test_null_required), cmocka_unit_test(test_newer_minor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
