/*
 * test_ham10000_data.c - the ham10000 plugin on the real HAM10000 folder,
 * against the numbers of its README. Skipped (exit 77) when it is absent.
 *
 * usage: test_ds_ham10000_data <srambench-dataset-ham10000.so> <repo root>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ds_testutil.h"
#include "sb_image.h"

static const sb_dataset_plugin *P;
static const char *repo_root;
static char cache_dir[4200];

static const int all_counts[7] = {327, 514, 1099, 115, 1113, 6705, 142};
static const int test_counts[7] = {66, 103, 220, 23, 223, 1341, 29};

static void *open_ok(const char *split, const char *subset, int64_t seed) {
    static sb_host h; /* the ABI: valid for the plugin's whole life */
    h = tu_host(cache_dir, repo_root);
    tu_opts o;
    void *ds = NULL;
    sb_error e = {0, ""};
    int rc;
    tu_opts_init(&o);  /* no path: $HAM10000_DIR or ../shared/data/ham10000 */
    tu_opt_s(&o, "split", split);
    tu_opt_s(&o, "subset", subset);
    tu_opt_i(&o, "split_seed", seed);
    tu_opt_b(&o, "cache", 0);
    rc = P->open(&h, &o.o, &ds, &e);
    if (rc) fprintf(stderr, "open: %s\n", e.msg);
    assert_int_equal(rc, SB_OK);
    return ds;
}

static void class_counts(void *ds, int *counts) {
    for (int c = 0; c < 7; c++) counts[c] = 0;
    for (size_t i = 0; i < P->count(ds); i++) counts[P->label(ds, i)]++;
}

static void counts_per_class_overall(void **state) {
    void *ds = open_ok("all", "all", 0);
    int counts[7];
    (void)state;
    assert_int_equal(P->count(ds), 10015);
    class_counts(ds, counts);
    assert_memory_equal(counts, all_counts, sizeof counts);
    P->close(ds);
}

static void dermamnist_split_counts(void **state) {
    void *tr = open_ok("dermamnist", "train", 0), *va = open_ok("dermamnist", "val", 0),
         *te = open_ok("dermamnist", "test", 0);
    int counts[7];
    (void)state;
    assert_int_equal(P->count(tr), 7007);
    assert_int_equal(P->count(va), 1003);
    assert_int_equal(P->count(te), 2005);
    class_counts(te, counts);
    assert_memory_equal(counts, test_counts, sizeof counts);
    /* The official split is by image: 641 lesions have images in train and test. */
    {
        int crossing = 0;
        for (size_t i = 0; i < P->count(te); i++) {
            const char *les = tu_meta(P->sample_meta(te, i), "lesion_id");
            int seen_before = 0;
            for (size_t j = 0; j < i && !seen_before; j++)
                seen_before = strcmp(tu_meta(P->sample_meta(te, j), "lesion_id"), les) == 0;
            if (seen_before) continue;
            for (size_t k = 0; k < P->count(tr); k++)
                if (strcmp(tu_meta(P->sample_meta(tr, k), "lesion_id"), les) == 0) {
                    crossing++;
                    break;
                }
        }
        assert_int_equal(crossing, 641);
    }
    P->close(tr);
    P->close(va);
    P->close(te);
}

/* subset (0..2) per image index of the `all` order, for a seed. */
static void lesion_split(int64_t seed, int *subset_of, void *all) {
    const char *subs[3] = {"train", "val", "test"};
    for (size_t i = 0; i < P->count(all); i++) subset_of[i] = -1;
    for (int s = 0; s < 3; s++) {
        void *ds = open_ok("lesion", subs[s], seed);
        size_t j = 0;
        /* Both lists are in metadata order: walk them together. */
        for (size_t k = 0; k < P->count(ds); k++) {
            while (strcmp(P->sample_id(all, j), P->sample_id(ds, k)) != 0) j++;
            assert_int_equal(subset_of[j], -1);
            subset_of[j] = s;
        }
        P->close(ds);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void lesion_split_is_disjoint_stratified_seeded(void **state) {
    void *all = open_ok("all", "all", 0);
    size_t n = P->count(all);
    int *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    int per[7][3] = {{0}}, differ = 0;
    const double frac[3] = {0.7, 0.1, 0.2};
    char **keys = malloc(n * sizeof *keys);
    (void)state;
    lesion_split(0, a, all);
    lesion_split(0, b, all);
    lesion_split(1, c, all);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(a[i], -1);
        assert_int_equal(a[i], b[i]);
        differ += a[i] != c[i];
        per[P->label(all, i)][a[i]]++;
        keys[i] = malloc(48);
        snprintf(keys[i], 48, "%s %d", tu_meta(P->sample_meta(all, i), "lesion_id"), a[i]);
    }
    assert_true(differ > 100);
    /* No lesion in two subsets: after sorting "lesion subset" keys, equal
     * lesions are adjacent and must carry the same subset. */
    qsort(keys, n, sizeof *keys, cmp_str);
    for (size_t i = 1; i < n; i++) {
        size_t l0 = strcspn(keys[i - 1], " "), l1 = strcspn(keys[i], " ");
        if (l0 == l1 && strncmp(keys[i - 1], keys[i], l0) == 0) assert_string_equal(keys[i - 1], keys[i]);
    }
    for (size_t i = 0; i < n; i++) free(keys[i]);
    free(keys);
    /* Stratified: every class close to 0.7 / 0.1 / 0.2 of its images. */
    for (int k = 0; k < 7; k++)
        for (int s = 0; s < 3; s++) {
            double f = (double)per[k][s] / all_counts[k];
            if (f < frac[s] - 0.03 || f > frac[s] + 0.03) fprintf(stderr, "class %d subset %d: %.3f\n", k, s, f);
            assert_true(f >= frac[s] - 0.03 && f <= frac[s] + 0.03);
        }
    free(a); free(b); free(c);
    P->close(all);
}

static void duplicates_share_a_lesion(void **state) {
    void *all = open_ok("all", "all", 0);
    const char *pairs[2][2] = {{"ISIC_0024366", "ISIC_0029861"}, {"ISIC_0024777", "ISIC_0029938"}};
    (void)state;
    for (int p = 0; p < 2; p++) {
        const char *les[2] = {NULL, NULL};
        for (size_t i = 0; i < P->count(all); i++)
            for (int k = 0; k < 2; k++)
                if (strcmp(P->sample_id(all, i), pairs[p][k]) == 0)
                    les[k] = tu_meta(P->sample_meta(all, i), "lesion_id");
        assert_non_null(les[0]);
        assert_non_null(les[1]);
        assert_string_equal(les[0], les[1]);  /* so the lesion split keeps them together */
    }
    P->close(all);
}

static void get_matches_the_shared_decoder(void **state) {
    void *ds = open_ok("dermamnist", "test", 0);
    uint8_t got[64 * 64 * 3], want[64 * 64 * 3];
    char path[8400];
    const char *dir = getenv("HAM10000_DIR");
    sb_error e = {0, ""};
    (void)state;
    assert_int_equal(P->get(ds, 0, 64, got, &e), SB_OK);
    for (int k = 0; k < 3; k++) {
        const char *sub[3] = {"images_200x150", "HAM10000_images_part_1", "HAM10000_images_part_2"};
        if (dir && dir[0]) snprintf(path, sizeof path, "%s/%s/%s.jpg", dir, sub[k], P->sample_id(ds, 0));
        else snprintf(path, sizeof path, "%s/../shared/data/ham10000/%s/%s.jpg", repo_root, sub[k], P->sample_id(ds, 0));
        if (access(path, R_OK) == 0) break;
    }
    assert_int_equal(sb_image_load(path, 64, want, &e), SB_OK);
    assert_memory_equal(got, want, sizeof got);
    P->close(ds);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_per_class_overall),
        cmocka_unit_test(dermamnist_split_counts),
        cmocka_unit_test(lesion_split_is_disjoint_stratified_seeded),
        cmocka_unit_test(duplicates_share_a_lesion),
        cmocka_unit_test(get_matches_the_shared_decoder),
    };
    char meta[8400];
    const char *dir = getenv("HAM10000_DIR");
    if (argc != 3) {
        fprintf(stderr, "usage: %s <ham10000 plugin .so> <repo root>\n", argv[0]);
        return 1;
    }
    repo_root = argv[2];
    if (dir && dir[0]) snprintf(meta, sizeof meta, "%s/HAM10000_metadata.csv", dir);
    else snprintf(meta, sizeof meta, "%s/../shared/data/ham10000/HAM10000_metadata.csv", repo_root);
    if (access(meta, R_OK) != 0) {
        printf("SKIP: HAM10000 not found (%s); set HAM10000_DIR or put it at ../shared/data/ham10000\n", meta);
        return 77;
    }
    snprintf(cache_dir, sizeof cache_dir, "/nonexistent-cache-dir-unused");
    P = tu_load_dataset_plugin(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
