/*
 * fuzz_npz.c - the dermamnist-npz plugin's .npy parsing and array checks.
 * One input holds up to six .npy members separated by a line "#npy"
 * (train_images, train_labels, val_images, val_labels, test_images,
 * test_labels); they are stored in a real zip (libzip) that the plugin opens,
 * so the fuzzer mutates the arrays, not the zip's CRCs. The plugin's source
 * is included so the very functions it runs are called.
 */
#include "../../datasets/dermamnist-npz/dermamnist_npz.c"

#include "fuzz_util.h"

static const char *const members[6] = {"train_images.npy", "train_labels.npy", "val_images.npy",
                                       "val_labels.npy", "test_images.npy", "test_labels.npy"};

/* Store the parts in <tmp>/fuzz.npz (uncompressed); returns the part count. */
static int write_npz(const char *path, const uint8_t *data, size_t size) {
    int zerr = 0, n = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z) abort();
    while (data && n < 6) {
        const uint8_t *part, *rest;
        size_t n_part, n_rest;
        zip_source_t *src;
        zip_int64_t idx;
        fuzz_split(data, size, "\n#npy\n", &part, &n_part, &rest, &n_rest);
        if (!(src = zip_source_buffer(z, part, n_part, 0))) abort();
        if ((idx = zip_file_add(z, members[n], src, ZIP_FL_OVERWRITE)) < 0) abort();
        zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
        n++;
        data = rest;
        size = n_rest;
    }
    if (zip_close(z) != 0) abort();
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_option opt[2] = {{0}, {0}};
    sb_options opts = {opt, 2, "fuzz"};
    char path[320];
    int parts;
    snprintf(path, sizeof path, "%s/fuzz.npz", fuzz_tmpdir());
    parts = write_npz(path, data, size);
    opt[0].key = "path";
    opt[0].type = SB_OPT_STRING;
    opt[0].s = path;
    opt[1].key = "subset";
    opt[1].type = SB_OPT_STRING;
    opt[1].s = parts == 6 ? "all" : "train";
    return fuzz_dataset(&plugin, &opts, N_CLASSES);
}
