/*
 * fuzz_hmnist.c - the hmnist-csv dataset plugin's loader (Kaggle
 * hmnist_*.csv). The plugin's source is included so the very functions the
 * plugin runs are called; the input is written to a file, as the plugin reads
 * one.
 */
#include "../../datasets/hmnist-csv/hmnist_csv.c"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_option opt = {0};
    sb_options opts = {&opt, 1, "fuzz"};
    opt.key = "path";
    opt.type = SB_OPT_STRING;
    opt.s = fuzz_write("hmnist.csv", data, size);
    return fuzz_dataset(&plugin, &opts, N_CLASSES);
}
