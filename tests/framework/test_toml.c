/* The TOML subset parser: every construct, and malformed inputs that must be
 * refused at the exact line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_toml.h"

static sb_toml *parse_ok(const char *text) {
    sb_toml *root = NULL;
    sb_error err = {0};
    int rc = sb_toml_parse(text, strlen(text), "t.toml", &root, &err);
    if (rc != 0) print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(root);
    return root;
}

static const sb_toml *at(const sb_toml *t, const char *key, sb_toml_type type) {
    const sb_toml *v = sb_toml_get(t, key);
    if (!v) print_error("missing key %s\n", key);
    assert_non_null(v);
    assert_int_equal(v->type, type);
    return v;
}

static void test_scalars(void **state) {
    (void)state;
    sb_toml *r = parse_ok("# comment\n"
                          "s = \"hello\" # trailing comment\n"
                          "lit = 'C:\\path\\x'\n"
                          "esc = \"a\\tb\\n\\\"q\\\" \\\\ \\u00e9 \\U0001F600\"\n"
                          "i = 42\n"
                          "neg = -17\n"
                          "plus = +3\n"
                          "big = 1_000_000\n"
                          "hex = 0xff\n"
                          "oct = 0o17\n"
                          "bin = 0b101\n"
                          "f = 3.25\n"
                          "e = 1e3\n"
                          "fe = -2.5E-2\n"
                          "fi = inf\n"
                          "fn = nan\n"
                          "t = true\n"
                          "fl = false\n"
                          "\"quoted key\" = 1\n"
                          "bare-key_2 = 2\n"
                          "raw = \"caf\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbf\" # UTF-8 as it is \xe2\x9c\x93\n");
    assert_string_equal(at(r, "s", SB_TOML_STRING)->s, "hello");
    assert_string_equal(at(r, "lit", SB_TOML_STRING)->s, "C:\\path\\x");
    assert_string_equal(at(r, "esc", SB_TOML_STRING)->s, "a\tb\n\"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(at(r, "raw", SB_TOML_STRING)->s, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbf");
    assert_int_equal(at(r, "i", SB_TOML_INT)->i, 42);
    assert_int_equal(at(r, "neg", SB_TOML_INT)->i, -17);
    assert_int_equal(at(r, "plus", SB_TOML_INT)->i, 3);
    assert_int_equal(at(r, "big", SB_TOML_INT)->i, 1000000);
    assert_int_equal(at(r, "hex", SB_TOML_INT)->i, 255);
    assert_int_equal(at(r, "oct", SB_TOML_INT)->i, 15);
    assert_int_equal(at(r, "bin", SB_TOML_INT)->i, 5);
    assert_true(at(r, "f", SB_TOML_FLOAT)->f == 3.25);
    assert_true(at(r, "e", SB_TOML_FLOAT)->f == 1000.0);
    assert_true(at(r, "fe", SB_TOML_FLOAT)->f == -0.025);
    assert_true(isinf(at(r, "fi", SB_TOML_FLOAT)->f));
    assert_true(isnan(at(r, "fn", SB_TOML_FLOAT)->f));
    assert_int_equal(at(r, "t", SB_TOML_BOOL)->b, 1);
    assert_int_equal(at(r, "fl", SB_TOML_BOOL)->b, 0);
    assert_int_equal(at(r, "quoted key", SB_TOML_INT)->i, 1);
    assert_int_equal(at(r, "bare-key_2", SB_TOML_INT)->i, 2);
    /* positions are those of the key */
    assert_int_equal(at(r, "i", SB_TOML_INT)->line, 5);
    assert_int_equal(at(r, "i", SB_TOML_INT)->col, 1);
    assert_string_equal(at(r, "i", SB_TOML_INT)->file, "t.toml");
    sb_toml_free(r);
}

static void test_int64_limits(void **state) {
    (void)state;
    sb_toml *r = parse_ok("max = 9223372036854775807\nmin = -9223372036854775808\n");
    assert_true(at(r, "max", SB_TOML_INT)->i == INT64_MAX);
    assert_true(at(r, "min", SB_TOML_INT)->i == INT64_MIN);
    sb_toml_free(r);
}

static void test_arrays(void **state) {
    (void)state;
    sb_toml *r = parse_ok("a = [1, 2, 3]\n"
                          "e = []\n"
                          "s = [\"x\", 'y',]\n"
                          "m = [\n  1, # one\n  2.5,\n\n  [true, false],\n]\n");
    const sb_toml *a = at(r, "a", SB_TOML_ARRAY), *m = at(r, "m", SB_TOML_ARRAY);
    assert_int_equal(a->n, 3);
    assert_int_equal(a->kids[2]->i, 3);
    assert_int_equal(at(r, "e", SB_TOML_ARRAY)->n, 0);
    assert_int_equal(at(r, "s", SB_TOML_ARRAY)->n, 2);
    assert_string_equal(at(r, "s", SB_TOML_ARRAY)->kids[1]->s, "y");
    assert_int_equal(m->n, 3);
    assert_int_equal(m->kids[1]->type, SB_TOML_FLOAT);
    assert_int_equal(m->kids[2]->type, SB_TOML_ARRAY);
    assert_int_equal(m->kids[2]->kids[1]->b, 0);
    sb_toml_free(r);
}

static void test_tables(void **state) {
    (void)state;
    sb_toml *r = parse_ok("top = 1\n"
                          "[run]\n"
                          "name = \"x\"\n"
                          "[a.b.c]\n"
                          "deep = 1\n"
                          "[a]\n"  /* an implicit table may get its own header once */
                          "shallow = 2\n"
                          "dotted.key = 3\n"
                          "[ \"q t\" . 'r' ]\n"
                          "z = 4\n");
    const sb_toml *a = at(r, "a", SB_TOML_TABLE), *c;
    assert_string_equal(at(at(r, "run", SB_TOML_TABLE), "name", SB_TOML_STRING)->s, "x");
    c = at(at(a, "b", SB_TOML_TABLE), "c", SB_TOML_TABLE);
    assert_int_equal(at(c, "deep", SB_TOML_INT)->i, 1);
    assert_int_equal(at(a, "shallow", SB_TOML_INT)->i, 2);
    assert_int_equal(at(at(a, "dotted", SB_TOML_TABLE), "key", SB_TOML_INT)->i, 3);
    assert_int_equal(at(at(at(r, "q t", SB_TOML_TABLE), "r", SB_TOML_TABLE), "z", SB_TOML_INT)->i, 4);
    assert_int_equal(a->line, 6); /* the header that defined it */
    assert_int_equal(at(r, "top", SB_TOML_INT)->i, 1);
    sb_toml_free(r);
}

static void test_array_of_tables(void **state) {
    (void)state;
    sb_toml *r = parse_ok("[[model]]\nname = \"a\"\n[model.opts]\nk = 1\n"
                          "[[model]]\nname = \"b\"\n"
                          "[[model.sub]]\nx = 1\n[[model.sub]]\nx = 2\n");
    const sb_toml *m = at(r, "model", SB_TOML_ARRAY);
    assert_true(m->flags & SB_TOML_F_AOT);
    assert_int_equal(m->n, 2);
    assert_string_equal(at(m->kids[0], "name", SB_TOML_STRING)->s, "a");
    assert_int_equal(at(at(m->kids[0], "opts", SB_TOML_TABLE), "k", SB_TOML_INT)->i, 1);
    assert_string_equal(at(m->kids[1], "name", SB_TOML_STRING)->s, "b");
    assert_int_equal(at(m->kids[1], "sub", SB_TOML_ARRAY)->n, 2);
    assert_int_equal(at(m->kids[1], "sub", SB_TOML_ARRAY)->kids[1]->kids[0]->i, 2);
    assert_int_equal(m->kids[1]->line, 5);
    sb_toml_free(r);
}

static void test_crlf_and_no_final_newline(void **state) {
    (void)state;
    sb_toml *r = parse_ok("a = 1\r\n[t]\r\nb = \"x\"");
    assert_int_equal(at(r, "a", SB_TOML_INT)->i, 1);
    assert_string_equal(at(at(r, "t", SB_TOML_TABLE), "b", SB_TOML_STRING)->s, "x");
    assert_int_equal(at(at(r, "t", SB_TOML_TABLE), "b", SB_TOML_STRING)->line, 3);
    sb_toml_free(r);
}

static void test_clone_set_remove(void **state) {
    (void)state;
    sb_toml *r = parse_ok("[t]\na = 1\nb = [\"x\"]\n"), *c = sb_toml_clone(sb_toml_get(r, "t"));
    sb_toml *nv = sb_toml_clone(sb_toml_get(c, "a"));
    assert_non_null(c);
    nv->i = 7;
    assert_int_equal(sb_toml_set(c, nv), 0);
    assert_int_equal(at(c, "a", SB_TOML_INT)->i, 7);
    assert_int_equal(at(sb_toml_get(r, "t"), "a", SB_TOML_INT)->i, 1);
    sb_toml_remove(c, "b");
    assert_null(sb_toml_get(c, "b"));
    assert_int_equal(c->n, 1);
    sb_toml_free(c);
    sb_toml_free(r);
}

/* ------------------------------------------------------------ malformed */

typedef struct bad_case {
    const char *text;
    int line, col;
    const char *says; /* a piece of the message */
} bad_case;

static const bad_case bad[] = {
    {"a = \n", 1, 5, "expected a value"},
    {"a = 1 2\n", 1, 7, "expected end of line after the value"},
    {"[a\n", 1, 3, "expected ']' closing the table header"},
    {"[[a]\n", 1, 4, "expected ']]'"},
    {"a = \"abc\n", 1, 9, "closing '\"'"},
    {"a = \"\\q\"\n", 1, 6, "unknown escape"},
    {"a = 1\na = 2\n", 2, 1, "duplicate key 'a'"},
    {"[t]\nx = 1\n[t]\n", 3, 1, "cannot define table 't'"},
    {"a = [1, 2\n", 2, 1, "expected ',' or ']' in array, found end of file"},
    {"a = [1 2]\n", 1, 8, "expected ',' or ']'"},
    {"a = {x = 1}\n", 1, 5, "inline tables are not supported"},
    {"a = \"\"\"x\"\"\"\n", 1, 5, "multi-line strings are not supported"},
    {"a = 1979-05-27\n", 1, 5, "dates and times are not supported"},
    {"a = 012\n", 1, 5, "leading zeros"},
    {"a = 1__2\n", 1, 5, "expected an integer"},
    {"a = 1.\n", 1, 7, "digits after the decimal point"},
    {"a = 1e\n", 1, 7, "digits of the exponent"},
    {"a = tru\n", 1, 5, "expected a value"},
    {"a = 99999999999999999999\n", 1, 5, "out of range"},
    {"= 1\n", 1, 1, "expected a key"},
    {"a 1\n", 1, 3, "expected '=' after the key"},
    {"a = 1\na.b = 2\n", 2, 1, "cannot use key 'a': already defined as an integer at t.toml:1:1"},
    {"a = [1]\n[a]\n", 2, 1, "cannot define table 'a': already defined as an array at t.toml:1:1"},
    {"a = 'x'\na = 2\n", 2, 1, "duplicate key 'a': already defined as a string at t.toml:1:1"},
    {"a = 1\n[a]\n", 2, 1, "cannot define table 'a'"},
    {"[a]\nx = 1\n[[a]]\n", 3, 1, "cannot append a table to 'a'"},
    {"a = 'abc\n", 1, 9, "closing \"'\""},
    {"a = \"\\u12\"\n", 1, 10, "4 hex digits after \\u"},
    {"[a]]\n", 1, 4, "expected end of line after the [header]"},
    {"[a.]\n", 1, 4, "expected a key"},
    {"a = +0x10\n", 1, 5, "sign is not allowed"},
    {"x = 1\n  # fine\nb = [1,,2]\n", 3, 8, "expected a value"},
    {"a = \"x\x01\"\n", 1, 7, "control character in string"},
    {"[t]\nk = 1\n\n[t.k]\n", 4, 1, "cannot define table 't.k'"},
    {"a = 1 # ok\nb = true false\n", 2, 10, "expected end of line"},
    {"[[m]]\n[m]\n", 2, 1, "cannot define table 'm'"},
    {"a = 1.5.3\n", 1, 5, "at most one '.'"},
    {"\n\n    k = @\n", 3, 9, "expected a value (string, number, boolean or array), found '@'"},
    /* TOML is UTF-8; other bytes once went straight into results.json. */
    {"a = 1\nname = \"t\xff\xfe\"\n", 2, 10, "invalid UTF-8 (byte 0xff): expected UTF-8 text"},
    {"# caf\xe9\n", 1, 6, "invalid UTF-8 (byte 0xe9)"},
    {"k = 'a\xc0\xaf" "b'\n", 1, 7, "invalid UTF-8 (byte 0xc0)"},         /* overlong '/' */
    {"k = \"\xed\xa0\x80\"\n", 1, 6, "invalid UTF-8 (byte 0xed)"},   /* a surrogate */
    {"k = \"\xf4\x90\x80\x80\"\n", 1, 6, "invalid UTF-8"},           /* past U+10FFFF */
    {"k = \"\xe2\x82\"\n", 1, 6, "invalid UTF-8"},                     /* cut short */
    /* a NUL once cut the string short: "a\u0000b" became "a" */
    {"k = \"a\\u0000b\"\n", 1, 7, "escape of U+0000 (NUL): expected another character"},
    {"k = \"\\U00000000\"\n", 1, 6, "U+0000"},
};

static void test_malformed(void **state) {
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sb_toml *r = NULL;
        sb_error err = {0};
        char want[64];
        int rc = sb_toml_parse(bad[i].text, strlen(bad[i].text), "t.toml", &r, &err);
        snprintf(want, sizeof want, "t.toml:%d:%d: ", bad[i].line, bad[i].col);
        if (rc >= 0 || strncmp(err.msg, want, strlen(want)) != 0 || !strstr(err.msg, bad[i].says))
            print_error("case %zu: %s\n  want %s...%s\n  got rc=%d %s\n", i, bad[i].text, want, bad[i].says, rc,
                        err.msg);
        assert_true(rc == SB_EFORMAT);
        assert_null(r);
        assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
        assert_non_null(strstr(err.msg, bad[i].says));
    }
    assert_true(sizeof bad / sizeof bad[0] >= 20);
}

static void test_nul_byte(void **state) {
    sb_toml *r = NULL;
    sb_error err = {0};
    (void)state;
    assert_int_equal(sb_toml_parse("a = 1\0b", 7, "t.toml", &r, &err), SB_EFORMAT);
    assert_non_null(strstr(err.msg, "NUL"));
}

/* parse_value and parse_array recurse: 100000 '[' once overflowed the stack
 * (exit 139). Now refused at the first level past the limit; 64 still parse. */
static void test_nesting_limit(void **state) {
    enum { DEEP = 100000 };
    char *text = malloc(DEEP * 2 + 32), *p = text;
    sb_toml *r = NULL;
    sb_error err = {0};
    int i, rc;
    (void)state;
    assert_non_null(text);
    p += sprintf(p, "\na = ");
    for (i = 0; i < DEEP; i++) *p++ = '[';
    for (i = 0; i < DEEP; i++) *p++ = ']';
    *p++ = '\n';
    rc = sb_toml_parse(text, (size_t)(p - text), "t.toml", &r, &err);
    assert_int_equal(rc, SB_EFORMAT);
    assert_null(r);
    assert_string_equal(err.msg, "t.toml:2:69: arrays nested too deep: expected at most 64 levels");
    /* 64 levels, each array holding the next: accepted. */
    p = text + sprintf(text, "a = ");
    for (i = 0; i < 64; i++) *p++ = '[';
    for (i = 0; i < 64; i++) *p++ = ']';
    r = NULL;
    rc = sb_toml_parse(text, (size_t)(p - text), "t.toml", &r, &err);
    assert_int_equal(rc, 0);
    sb_toml_free(r);
    free(text);
}

static void test_missing_file(void **state) {
    sb_toml *r = NULL;
    sb_error err = {0};
    (void)state;
    assert_int_equal(sb_toml_parse_file("/nonexistent/x.toml", &r, &err), SB_ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/x.toml"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),       cmocka_unit_test(test_int64_limits),
        cmocka_unit_test(test_arrays),        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_array_of_tables), cmocka_unit_test(test_crlf_and_no_final_newline),
        cmocka_unit_test(test_clone_set_remove), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nul_byte),      cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_nesting_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
