/*
 * fuzz_hmnist.c - the hmnist-csv dataset plugin's loader (Kaggle
 * hmnist_*.csv). The plugin's source is included so the very functions the
 * plugin runs are called; the input is written to a file, as the plugin reads
 * one.
 */
#include "../../datasets/hmnist-csv/hmnist_csv.c"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t out[8 * 8 * 3];
    sb_option opt = {0};
    sb_options opts = {&opt, 1, "fuzz"};
    sb_error err = {0, ""};
    void *ds = NULL;
    opt.key = "path";
    opt.type = SB_OPT_STRING;
    opt.s = fuzz_write("hmnist.csv", data, size);
    if (ds_open(NULL, &opts, &ds, &err) != SB_OK) {
        if (err.msg[0] == 0) abort();
        return 0;
    }
    for (size_t i = 0; i < ds_count(ds) && i < 4; i++) {
        if (ds_label(ds, i) < 0 || ds_label(ds, i) >= N_CLASSES || !ds_sample_id(ds, i)) abort();
        if (ds_get(ds, i, 8, out, &err) != SB_OK) abort();
    }
    ds_close(ds);
    return 0;
}
