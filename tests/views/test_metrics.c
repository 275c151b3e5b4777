/* test_metrics.c - the views' metrics against hand-computed values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sb_metrics.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

/* labels 0,0,1,1,2,2 / preds 0,1,1,1,0,0: class 2 is never predicted.
 * cm = [[1,1,0],[0,2,0],[2,0,0]] */
static const int L6[] = {0, 0, 1, 1, 2, 2}, P6[] = {0, 1, 1, 1, 0, 0};

static void test_confusion(void **state) {
    int64_t cm[9] = {0};
    const int lab[] = {0, 0, 1, 1, 2, 2, 7}, pred[] = {0, 1, 1, 1, 0, 0, 1};
    (void)state;
    assert_int_equal(sb_confusion(lab, pred, 7, 3, cm), 1); /* label 7 skipped */
    const int64_t want[9] = {1, 1, 0, 0, 2, 0, 2, 0, 0};
    assert_memory_equal(cm, want, sizeof want);
}

static void test_prf_never_predicted(void **state) {
    int64_t cm[9] = {0};
    sb_class_stats st[3];
    sb_cls_summary sum;
    (void)state;
    sb_confusion(L6, P6, 6, 3, cm);
    sb_class_stats_from_cm(cm, 3, st, &sum);
    /* class 0: TP 1, predicted 3, support 2 */
    NEAR(st[0].precision, 1.0 / 3), NEAR(st[0].recall, 0.5), NEAR(st[0].f1, 0.4);
    /* class 1: TP 2, predicted 3, support 2 */
    NEAR(st[1].precision, 2.0 / 3), NEAR(st[1].recall, 1.0), NEAR(st[1].f1, 0.8);
    /* class 2: never predicted: precision undefined, recall 0, F1 0 */
    assert_true(isnan(st[2].precision));
    NEAR(st[2].recall, 0.0), NEAR(st[2].f1, 0.0);
    assert_int_equal(st[2].predicted, 0);
    assert_int_equal(sum.n, 6);
    NEAR(sum.accuracy, 0.5);
    NEAR(sum.balanced_accuracy, 0.5);
    NEAR(sum.macro_f1, (0.4 + 0.8 + 0.0) / 3);
}

static void test_prf_absent_class(void **state) {
    /* class 1 has no image and is never predicted: everything undefined,
     * and it must not drag the balanced accuracy down */
    const int lab[] = {0, 2, 2}, pred[] = {0, 2, 0};
    int64_t cm[9] = {0};
    sb_class_stats st[3];
    sb_cls_summary sum;
    (void)state;
    sb_confusion(lab, pred, 3, 3, cm);
    sb_class_stats_from_cm(cm, 3, st, &sum);
    assert_true(isnan(st[1].precision) && isnan(st[1].recall) && isnan(st[1].f1));
    NEAR(sum.balanced_accuracy, (1.0 + 0.5) / 2);
}

static void test_auc(void **state) {
    /* two classes; scores of class 1: positives 0.9, 0.4; negatives 0.5,
     * 0.1 -> 3 of 4 pairs ordered: AUC 0.75 (class 0 mirrors it) */
    const double sc[] = {0.1, 0.9, 0.6, 0.4, 0.5, 0.5, 0.9, 0.1};
    const int lab[] = {1, 1, 0, 0};
    int used = 0;
    (void)state;
    NEAR(sb_auc_ovr(sc, lab, 4, 2, 1), 0.75);
    NEAR(sb_auc_ovr(sc, lab, 4, 2, 0), 0.75);
    NEAR(sb_auc_macro(sc, lab, 4, 2, &used), 0.75);
    assert_int_equal(used, 2);
}

static void test_auc_ties_and_undefined(void **state) {
    /* class 1: positive 0.5; negatives 0.5 (tie: half) and 0.2 -> 0.75.
     * class 2 has no positive: undefined and left out of the macro mean. */
    const double sc[] = {0.2, 0.5, 0.3, 0.4, 0.5, 0.1, 0.7, 0.2, 0.1};
    const int lab[] = {1, 0, 0};
    int used = 0;
    (void)state;
    NEAR(sb_auc_ovr(sc, lab, 3, 3, 1), 0.75);
    assert_true(isnan(sb_auc_ovr(sc, lab, 3, 3, 2)));
    /* class 0: positives 0.4, 0.7 vs negative 0.2 -> 1.0 */
    NEAR(sb_auc_macro(sc, lab, 3, 3, &used), (1.0 + 0.75) / 2);
    assert_int_equal(used, 2);
}

static void test_ece(void **state) {
    /* bins of 1/15: 0.95 -> bin 14 (two images, one correct: |0.5 - 0.95|
     * x 2/4), 0.55 -> bin 8 (|1 - 0.55| x 1/4), 0 -> bin 0 (|0 - 0| x 1/4) */
    const double conf[] = {0.95, 0.95, 0.55, 0.0};
    const int ok[] = {1, 0, 1, 0};
    int64_t n[SB_ECE_BINS];
    double acc[SB_ECE_BINS], mc[SB_ECE_BINS];
    (void)state;
    NEAR(sb_ece(conf, ok, 4, SB_ECE_BINS, n, acc, mc), 0.45 * 0.5 + 0.45 * 0.25);
    assert_int_equal(n[14], 2), assert_int_equal(n[8], 1), assert_int_equal(n[0], 1);
    NEAR(acc[14], 0.5), NEAR(mc[14], 0.95);
    assert_true(isnan(acc[3]));
    /* perfectly calibrated: every confidence 1.0 and every answer right */
    const double one[] = {1.0, 1.0};
    const int yes[] = {1, 1};
    NEAR(sb_ece(one, yes, 2, SB_ECE_BINS, NULL, NULL, NULL), 0.0);
    assert_true(isnan(sb_ece(one, yes, 0, SB_ECE_BINS, NULL, NULL, NULL)));
    /* out of range: binned at the ends, never converted to int out of range
     * (the sanitizer build fails the conversion if it were) */
    const double odd[] = {NAN, 1e300, -1e300};
    const int any[] = {0, 1, 0};
    sb_ece(odd, any, 3, SB_ECE_BINS, n, NULL, NULL);
    assert_int_equal(n[0], 2), assert_int_equal(n[SB_ECE_BINS - 1], 1);
}

static void test_pareto(void **state) {
    /* (3,4) is beaten by (2,3), (5,1) by (4,1), (4,2) by (4,1); the two
     * copies of (2,3) are both on the front */
    const double x[] = {1, 2, 3, 4, 2, 5, 4}, y[] = {5, 3, 4, 1, 3, 1, 2};
    const unsigned char want[] = {1, 1, 0, 1, 1, 0, 0};
    unsigned char f[7];
    (void)state;
    assert_int_equal(sb_pareto_min2(x, y, 7, f), 4);
    assert_memory_equal(f, want, sizeof want);
    assert_int_equal(sb_pareto_min2(x, y, 0, f), 0);
}

static void test_pareto_brute_force(void **state) {
    /* against the O(n^2) definition on a pseudo-random set with ties */
    double x[200], y[200];
    unsigned char f[200];
    uint32_t r = 12345;
    size_t i, j;
    (void)state;
    for (i = 0; i < 200; i++) {
        r = r * 1103515245u + 12345u;
        x[i] = (double)((r >> 16) % 30);
        r = r * 1103515245u + 12345u;
        y[i] = (double)((r >> 16) % 30);
    }
    sb_pareto_min2(x, y, 200, f);
    for (i = 0; i < 200; i++) {
        int dominated = 0;
        for (j = 0; j < 200; j++)
            if (x[j] <= x[i] && y[j] <= y[i] && (x[j] < x[i] || y[j] < y[i])) dominated = 1;
        assert_int_equal(f[i], !dominated);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confusion),        cmocka_unit_test(test_prf_never_predicted),
        cmocka_unit_test(test_prf_absent_class), cmocka_unit_test(test_auc),
        cmocka_unit_test(test_auc_ties_and_undefined), cmocka_unit_test(test_ece),
        cmocka_unit_test(test_pareto),           cmocka_unit_test(test_pareto_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
