/*
 * test_arith.c - golden values of the output-stage primitives, worked out by
 * hand from docs/model-format.md (comments show the arithmetic).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sb_kernels.h"

#define Q30 (1 << 30) /* multiplier 0.5 */

static void test_srdhm(void **state) {
    (void)state;
    assert_int_equal(sb_srdhm(INT32_MIN, INT32_MIN), INT32_MAX); /* the one overflow */
    assert_int_equal(sb_srdhm(Q30, Q30), 536870912);             /* (2^60 + 2^30) / 2^31 = 2^29 + 0.5 -> 2^29 */
    assert_int_equal(sb_srdhm(INT32_MIN, Q30), -1073741824);     /* -2^61 / 2^31 = -2^30 exactly */
    assert_int_equal(sb_srdhm(INT32_MAX, INT32_MAX), 2147483646); /* 2^31 - 2 + (2^30 + 1) / 2^31 */
    assert_int_equal(sb_srdhm(3, Q30), 2);   /* 1.5: (3 * 2^30 + 2^30) / 2^31 = 2 */
    assert_int_equal(sb_srdhm(-3, Q30), -1); /* -1.5: (-3 * 2^30 + 1 - 2^30) / 2^31 = -1.99.. -> -1 */
    assert_int_equal(sb_srdhm(5, Q30), 3);   /* 2.5 -> 3 */
    assert_int_equal(sb_srdhm(-5, Q30), -2); /* -2.5 -> -2.99.. -> -2 */
    assert_int_equal(sb_srdhm(-7, Q30), -3); /* -3.5 -> -3 */
    assert_int_equal(sb_srdhm(12345, 0), 0);
}

static void test_rdbp(void **state) {
    (void)state;
    assert_int_equal(sb_rdbp(5, 1), 3);    /* 2.5 -> 3, half away from zero */
    assert_int_equal(sb_rdbp(-5, 1), -3);  /* -2.5 -> -3 */
    assert_int_equal(sb_rdbp(-6, 2), -2);  /* -1.5 -> -2 */
    assert_int_equal(sb_rdbp(-7, 2), -2);  /* -1.75 -> -2 */
    assert_int_equal(sb_rdbp(-5, 2), -1);  /* -1.25 -> -1 */
    assert_int_equal(sb_rdbp(6, 2), 2);    /* 1.5 -> 2 */
    assert_int_equal(sb_rdbp(-7, 0), -7);  /* shift 0: identity */
    assert_int_equal(sb_rdbp(7, 0), 7);
    assert_int_equal(sb_rdbp(INT32_MIN, 0), INT32_MIN);
    assert_int_equal(sb_rdbp(INT32_MIN, 31), -1); /* -2^31 / 2^31 */
    assert_int_equal(sb_rdbp(INT32_MAX, 31), 1);  /* 0.99.. -> 1 */
    assert_int_equal(sb_rdbp(Q30, 31), 1);        /* 0.5 -> 1 */
    assert_int_equal(sb_rdbp(-Q30, 31), -1);      /* -0.5 -> -1 */
    assert_int_equal(sb_rdbp(Q30 - 1, 31), 0);    /* just under 0.5 -> 0 */
}

static void test_mbqm(void **state) {
    (void)state;
    assert_int_equal(sb_mbqm(100, Q30, 0), 50);
    assert_int_equal(sb_mbqm(3, Q30, 1), 3);          /* 3 * 2 * 0.5 */
    assert_int_equal(sb_mbqm(1000, Q30, -3), 63);     /* 500 / 8 = 62.5 -> 63 */
    assert_int_equal(sb_mbqm(-1000, Q30, -3), -63);   /* -500 / 8 = -62.5 -> -63 */
    assert_int_equal(sb_mbqm(-1001, Q30, -3), -63);   /* srdhm: -500.5 -> -500; -62.5 -> -63 */
    assert_int_equal(sb_mbqm(987654, 0, -5), 0);      /* multiplier 0: scale too small */
    assert_int_equal(sb_mbqm(1, Q30, 30), 536870912); /* left shift 30: 2^30 * 0.5 */
    assert_int_equal(sb_mbqm(INT32_MAX, INT32_MAX, -31), 1);
    assert_int_equal(sb_mbqm(INT32_MIN, INT32_MIN, 0), INT32_MAX);
    assert_int_equal(sb_mbqm(INT32_MIN, INT32_MIN, -31), 1); /* INT32_MAX / 2^31 -> 1 */
    /* 1518500250 / 2^31 = 0.7071...: 1000 * 0.7071 = 707.1 -> 707 */
    assert_int_equal(sb_mbqm(1000, 1518500250, 0), 707);
    assert_int_equal(sb_mbqm(-1000, 1518500250, 0), -707);
}

static void test_float_mode_ties(void **state) {
    (void)state;
    assert_int_equal(sb_fmul_round(1, 0.5f), 0);   /* 0.5 -> 0 */
    assert_int_equal(sb_fmul_round(3, 0.5f), 2);   /* 1.5 -> 2 */
    assert_int_equal(sb_fmul_round(5, 0.5f), 2);   /* 2.5 -> 2 */
    assert_int_equal(sb_fmul_round(-5, 0.5f), -2); /* -2.5 -> -2 */
    assert_int_equal(sb_fmul_round(7, 0.5f), 4);   /* 3.5 -> 4 */
    assert_int_equal(sb_fmul_round(-1, 0.5f), 0);  /* -0.5 -> -0 */
    /* 0.1f is 0.100000001490116...: 25 * 0.1f = 2.5000000373 in float
     * arithmetic rounds to the float 2.5 exactly, a tie -> 2 */
    assert_int_equal(sb_fmul_round(25, 0.1f), 2);
}

static void test_clamp(void **state) {
    (void)state;
    assert_int_equal(sb_clamp8(300, -128, 127), 127);
    assert_int_equal(sb_clamp8(-300, -128, 127), -128);
    assert_int_equal(sb_clamp8(5, 0, 6), 5);
    assert_int_equal(sb_clamp8(-1, 0, 6), 0);
    assert_int_equal(sb_conv_out_dim(224, 3, 2, 1, 0, 1), 112);
    assert_int_equal(sb_conv_out_dim(7, 3, 1, 2, 2, 2), 7);
    assert_int_equal(sb_conv_out_dim(5, 5, 2, 1, 0, 0), 1);
    assert_int_equal(sb_conv_out_dim(3, 5, 1, 1, 0, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srdhm), cmocka_unit_test(test_rdbp), cmocka_unit_test(test_mbqm),
        cmocka_unit_test(test_float_mode_ties), cmocka_unit_test(test_clamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
