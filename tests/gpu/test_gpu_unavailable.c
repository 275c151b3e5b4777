/*
 * test_gpu_unavailable.c - the GPU backend plugin on a host that cannot run
 * it (the path CI takes): it loads, describes itself, and open() returns
 * SB_EUNAVAILABLE with the reason - no driver library, a driver without a
 * GPU, a driver too old - and rejects bad options naming file:line.
 *
 * argv[1]: the plugin; argv[2]: fake libcuda (cuInit -> no device);
 * argv[3]: fake libcuda without cuLaunchKernel. The fakes are named by file
 * name only (driver_lib takes no path): meson puts their folder in
 * LD_LIBRARY_PATH.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sb_plugin.h"

static const char *plugin_path, *fake_nodev, *fake_old;
static void *lib;
static const sb_backend_plugin *be;

static int setup(void **state) {
    (void)state;
    lib = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) fprintf(stderr, "dlopen %s: %s\n", plugin_path, dlerror());
    assert_non_null(lib);
    const sb_plugin_header *const *entry = dlsym(lib, SB_PLUGIN_ENTRY_SYMBOL);
    assert_non_null(entry);
    be = (const sb_backend_plugin *)*entry;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dlclose(lib);
    return 0;
}

/* Open with one string option (driver_lib) and optionally batch. */
static int open_with(const char *driver_lib, int64_t batch, void **h, sb_error *err) {
    sb_option o[2] = {{.key = "driver_lib", .type = SB_OPT_STRING, .s = driver_lib, .file = "bench.toml", .line = 6},
                      {.key = "batch", .type = SB_OPT_INT, .i = batch, .f = (double)batch, .file = "bench.toml",
                       .line = 7}};
    sb_options opts = {driver_lib ? o : o + 1, driver_lib ? 2 : 1, "gpu"};
    *h = NULL;
    return be->open(NULL, &opts, h, err);
}

static void test_header(void **state) {
    (void)state;
    assert_int_equal(be->hdr.kind, SB_KIND_BACKEND);
    assert_int_equal(be->hdr.abi_major, SB_ABI_MAJOR);
    assert_string_equal(be->hdr.name, "gpu");
    int seen = 0;
    for (const sb_option_spec *s = be->hdr.options; s->name; s++) seen += !strcmp(s->name, "batch");
    assert_int_equal(seen, 1);
    assert_non_null(be->open);
    assert_non_null(be->run);
    assert_non_null(dlsym(lib, "sb_gpu_bench"));
}

static void test_no_driver_library(void **state) {
    (void)state;
    void *h;
    sb_error err = {0};
    assert_int_equal(open_with("libsb-nonexistent-cuda.so.1", 1, &h, &err), SB_EUNAVAILABLE);
    assert_null(h);
    assert_int_equal(err.code, SB_EUNAVAILABLE);
    assert_non_null(strstr(err.msg, "libsb-nonexistent-cuda.so.1 not found: no NVIDIA driver on this host"));
}

/* bench.toml must not be able to load code from anywhere (issue 19): a path,
 * even to a real fake driver, is refused before any dlopen. */
static void test_driver_lib_path_refused(void **state) {
    (void)state;
    static const char *bad[] = {"/tmp/x/libcuda.so.1", "../libcuda.so.1", "./libcuda.so", "", "lib cuda"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *h = NULL;
        sb_error err = {0};
        assert_int_equal(open_with(bad[i], 1, &h, &err), SB_EINVAL);
        assert_null(h);
        assert_non_null(strstr(err.msg, "bench.toml:6: driver_lib = "));
        assert_non_null(strstr(err.msg, "expected a library name such as libcuda.so.1"));
    }
}

static void test_driver_without_gpu(void **state) {
    (void)state;
    void *h;
    sb_error err = {0};
    assert_int_equal(open_with(fake_nodev, 1, &h, &err), SB_EUNAVAILABLE);
    assert_null(h);
    assert_non_null(strstr(err.msg, "cuInit failed: CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected"));
    assert_non_null(strstr(err.msg, "driver present, no GPU visible"));
}

static void test_driver_too_old(void **state) {
    (void)state;
    void *h;
    sb_error err = {0};
    assert_int_equal(open_with(fake_old, 1, &h, &err), SB_EUNAVAILABLE);
    assert_non_null(strstr(err.msg, "has no symbol cuLaunchKernel: driver too old"));
}

/* This host's own driver: on CI none, so unavailable with a reason; on a GPU
 * host the backend opens. Either way never a crash or a silent success. */
static void test_this_host(void **state) {
    (void)state;
    void *h;
    sb_error err = {0};
    int rc = open_with(NULL, 1, &h, &err);
    if (rc == 0) {
        assert_non_null(h);
        be->close(h);
        return;
    }
    assert_int_equal(rc, SB_EUNAVAILABLE);
    assert_null(h);
    assert_true(strncmp(err.msg, "gpu backend unavailable: ", 25) == 0);
    assert_true(strlen(err.msg) > 40);
}

static void test_bad_batch(void **state) {
    (void)state;
    void *h;
    sb_error err = {0};
    assert_int_equal(open_with("libsb-nonexistent-cuda.so.1", 0, &h, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "bench.toml:7: batch = 0: expected 1 to 65536"));
}

static void test_bad_precision(void **state) {
    (void)state;
    sb_option o = {.key = "precision", .type = SB_OPT_STRING, .s = "fp8", .file = "bench.toml", .line = 9};
    sb_options opts = {&o, 1, "gpu"};
    sb_error err = {0};
    void *h = NULL;
    assert_int_equal(be->open(NULL, &opts, &h, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "bench.toml:9: precision = \"fp8\": expected \"int8\" or \"fp32\""));
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s plugin.so fake-nodev.so fake-old.so\n", argv[0]);
        return 1;
    }
    plugin_path = argv[1];
    fake_nodev = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
    fake_old = strrchr(argv[3], '/') ? strrchr(argv[3], '/') + 1 : argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_no_driver_library),
        cmocka_unit_test(test_driver_lib_path_refused),
        cmocka_unit_test(test_driver_without_gpu),
        cmocka_unit_test(test_driver_too_old),
        cmocka_unit_test(test_this_host),
        cmocka_unit_test(test_bad_batch),
        cmocka_unit_test(test_bad_precision),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
