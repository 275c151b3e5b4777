/* The srambench program itself: help, exit codes, plugin listing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb_results.h"

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sbfw-cli-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Run srambench with up to 4 arguments; returns its exit status. */
static int sb(char **out, const char *a, const char *b, const char *c, const char *d) {
    char *argv[] = {SB_PROGRAM, (char *)a, (char *)b, (char *)c, (char *)d, NULL};
    char *o = NULL;
    int st = sb_run_program(NULL, argv, &o);
    if (out) *out = o;
    else free(o);
    return st;
}

static const char *bench(const char *name, const char *body) {
    static char path[400];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "[run]\nplugin_path = [\"%s\"]\n%s", SB_TEST_PLUGIN_DIR, body);
    fclose(f);
    return path;
}

static void test_help(void **state) {
    char *out;
    (void)state;
    assert_int_equal(sb(&out, "--help", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "exit codes"));
    assert_non_null(strstr(out, "run "));
    assert_non_null(strstr(out, "plugins "));
    free(out);
    assert_int_equal(sb(&out, "run", "--help", NULL, NULL), 0);
    assert_non_null(strstr(out, "usage: srambench run"));
    free(out);
    assert_int_equal(sb(&out, "plugins", "-h", NULL, NULL), 0);
    assert_non_null(strstr(out, "usage: srambench plugins"));
    free(out);
    assert_int_equal(sb(&out, "help", "run", NULL, NULL), 0);
    assert_non_null(strstr(out, "usage: srambench run"));
    free(out);
}

static void test_usage_errors(void **state) {
    (void)state;
    assert_int_equal(sb(NULL, NULL, NULL, NULL, NULL), 2);
    assert_int_equal(sb(NULL, "bogus", NULL, NULL, NULL), 2);
    assert_int_equal(sb(NULL, "run", NULL, NULL, NULL), 2);
    assert_int_equal(sb(NULL, "run", "--bogus", "x.toml", NULL), 2);
    assert_int_equal(sb(NULL, "run", "--workers", "0", "x.toml"), 2);
    assert_int_equal(sb(NULL, "run", "--output-dir", "", "x.toml"), 2);
}

static void test_exit_codes(void **state) {
    char out_dir[400];
    const char *ok = "[dataset]\nplugin = \"fake\"\nn = 6\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\n"
                     "[[backend]]\nname = \"away\"\nplugin = \"fake\"\nunavailable = true\n";
    (void)state;
    assert_int_equal(sb(NULL, "run", "/nonexistent/bench.toml", NULL, NULL), 3);
    assert_int_equal(sb(NULL, "run", bench("bad.toml", "[dataset\n"), NULL, NULL), 3);
    assert_int_equal(sb(NULL, "run", bench("noplugin.toml", "[dataset]\nplugin = \"nosuch\"\n[[model]]\nplugin = \"fake\"\n"
                                                            "[[backend]]\nplugin = \"fake\"\n"), NULL, NULL), 3);
    snprintf(out_dir, sizeof out_dir, "%s/out-ok", tmpdir);
    /* an unavailable backend is not a failure */
    {
        char *argv[] = {SB_PROGRAM, "run", "-q", "--no-charts", "--output-dir", out_dir, (char *)bench("ok.toml", ok), NULL};
        char path[4200];
        assert_int_equal(sb_run_program(NULL, argv, NULL), 0);
        /* every run ends with its report, beside results.json */
        snprintf(path, sizeof path, "%s/report.html", out_dir);
        assert_int_equal(access(path, R_OK), 0);
        snprintf(path, sizeof path, "%s/report.md", out_dir);
        assert_int_equal(access(path, R_OK), 0);
    }
    snprintf(out_dir, sizeof out_dir, "%s/out-fail", tmpdir);
    {
        char *argv[] = {SB_PROGRAM, "run", "-q", "--no-charts", "--output-dir", out_dir,
                        (char *)bench("fail.toml", "[dataset]\nplugin = \"fake\"\n[[model]]\nplugin = \"fake\"\n"
                                                   "[[backend]]\nplugin = \"fake\"\nfail = \"run\"\n"), NULL};
        assert_int_equal(sb_run_program(NULL, argv, NULL), 1);
    }
    snprintf(out_dir, sizeof out_dir, "/proc/sbfw-not-writable/x");
    {
        char *argv[] = {SB_PROGRAM, "run", "-q", "--output-dir", out_dir, (char *)bench("ok.toml", ok), NULL};
        assert_int_equal(sb_run_program(NULL, argv, NULL), 4);
    }
}

static void test_plugins_listing(void **state) {
    char *out;
    (void)state;
    unsetenv("SRAMBENCH_PLUGIN_PATH");
    /* the program's own folder: the template backend, never the test fakes */
    assert_int_equal(sb(&out, "plugins", "-v", NULL, NULL), 0);
    assert_non_null(strstr(out, "srambench-backend-template.so"));
    assert_non_null(strstr(out, "mac_energy_pj"));
    assert_null(strstr(out, "srambench-backend-fake.so"));
    free(out);
    /* with a bench.toml's plugin_path: the fakes, and the refused ones with reasons */
    assert_int_equal(sb(&out, "plugins", "--config",
                        bench("list.toml", "[dataset]\nplugin = \"fake\"\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\n"),
                        NULL), 0);
    assert_non_null(strstr(out, "srambench-backend-fake.so"));
    assert_non_null(strstr(out, "refused:"));
    assert_non_null(strstr(out, "missing symbol 'sb_plugin_entry'"));
    assert_non_null(strstr(out, "expected ABI major"));
    free(out);
    /* -v: each plugin's ABI; a newer minor is listed, not refused */
    assert_int_equal(sb(&out, "plugins", "-v", "--config", bench("list-v.toml",
                        "[dataset]\nplugin = \"fake\"\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\n")), 0);
    assert_non_null(strstr(out, "newminor"));
    assert_non_null(strstr(out, "(newer than this srambench's"));
    assert_null(strstr(out, "srambench-backend-newminor.so: "));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help), cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_exit_codes), cmocka_unit_test(test_plugins_listing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
