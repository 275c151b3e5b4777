/*
 * fuzz_ham_meta.c - HAM10000's metadata CSV reader and both splits. One input
 * holds HAM10000_metadata.csv and, after a line "#split", the
 * dermamnist_split_info.csv; both are written to a temporary dataset folder.
 */
#include <stdlib.h>

#include "fuzz_util.h"
#include "ham_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *meta, *split;
    size_t n_meta, n_split;
    const double frac[3] = {0.7, 0.1, 0.2};
    ham_meta m;
    sb_error err = {0, ""};
    sb_cache_item *items = NULL;
    fuzz_split(data, size, "\n#split\n", &meta, &n_meta, &split, &n_split);
    fuzz_write(HAM_META_FILE, meta, n_meta);
    fuzz_write(HAM_SPLIT_FILE, split ? split : (const uint8_t *)"", n_split);
    if (ham_meta_load(fuzz_tmpdir(), &m, &err) != SB_OK) {
        if (err.msg[0] == 0) abort();
        return 0;
    }
    if (ham_split(&m, HAM_SPLIT_LESION, 42, frac, &err) != SB_OK) abort();
    for (size_t i = 0; i < m.n; i++)
        if (m.s[i].subset < HAM_TRAIN || m.s[i].subset > HAM_TEST || m.s[i].label < 0 ||
            m.s[i].label >= HAM_N_CLASSES)
            abort();
    err.msg[0] = 0;
    if (ham_split(&m, HAM_SPLIT_DERMAMNIST, 0, frac, &err) != SB_OK && err.msg[0] == 0) abort();
    if (ham_cache_items(&m, &items, &err) != SB_OK) abort();
    free(items);
    ham_meta_free(&m);
    return 0;
}
