/*
 * fuzz_toml.c - the bench.toml path: the TOML parser on the raw bytes (a copy
 * with no terminating NUL, so a read past `len` is caught), then the config
 * checks on the same text when it is NUL-free.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sb_config.h"
#include "sb_toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size ? size : 1), *z;
    sb_toml *root = NULL;
    sb_error err = {0, ""};
    sb_config cfg;
    char path[320];
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    if (sb_toml_parse(text, size, "fuzz.toml", &root, &err) == SB_OK) {
        sb_toml *copy = sb_toml_clone(root);
        if (!copy) abort();
        sb_toml_free(copy);
        sb_toml_free(root);
    } else if (err.msg[0] == 0) {
        abort();
    }
    free(text);
    if (memchr(data, 0, size) || !(z = malloc(size + 1))) return 0;
    memcpy(z, data, size);
    z[size] = 0;
    snprintf(path, sizeof path, "%s/bench.toml", fuzz_tmpdir());
    err.msg[0] = 0;
    if (sb_config_parse(z, path, &cfg, &err) < 0 && err.msg[0] == 0) abort();
    sb_config_free(&cfg);
    free(z);
    return 0;
}
