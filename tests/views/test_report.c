/*
 * test_report.c - views rendered from a stored results.json (fixture/):
 * labelled cells, unavailable figures with reasons and no number, the
 * recorded GPU row, the HTML file self-contained.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "sb_report.h"
#include "sb_util.h"

static char tmp[256];

static char *slurp(const char *dir, const char *name) {
    char path[512];
    FILE *f;
    long n;
    char *s;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    fclose(f);
    return s;
}

static int setup(void **state) {
    char *src = slurp(SB_VIEWS_FIXTURE, "results.json");
    char path[512];
    sb_error err = {0};
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/sb-views-XXXXXX");
    if (!src || !mkdtemp(tmp)) return -1;
    snprintf(path, sizeof path, "%s/results.json", tmp);
    if (sb_write_atomic(path, src, strlen(src), &err) < 0) return -1;
    free(src);
    return 0;
}

static int teardown(void **state) {
    char cmd[600];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static char *render(int views, const char *ref, int charts) {
    sb_view_opts o = {views, NULL, NULL, charts};
    sb_error err = {0};
    int rc = sb_report_write_ref(tmp, "report", &o, ref, NULL, &err);
    if (rc < 0) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return slurp(tmp, "report.md");
}

/* Every markdown table cell that starts with "unavailable" gives a reason
 * and holds no digit: an unavailable figure never shows a number. */
static void check_unavailable_cells(const char *md, int *n_cells) {
    const char *p = md;
    *n_cells = 0;
    while ((p = strstr(p, "| unavailable")) != NULL) {
        const char *end = strstr(p + 1, " |");
        const char *q;
        assert_non_null(end);
        assert_true(p[13] == ':'); /* "unavailable: <why>" */
        assert_true(end - p > 16);
        for (q = p; q < end; q++)
            if (isdigit((unsigned char)*q)) fail_msg("digit in an unavailable cell: %.*s", (int)(end - p), p);
        (*n_cells)++;
        p = end;
    }
}

static void test_compare(void **state) {
    char *md = render(SB_VIEW_COMPARE, SB_VIEWS_FIXTURE "/reference", 0);
    int n = 0;
    (void)state;
    assert_non_null(md);
    /* labelled cells: simulated, measured, with a note letter */
    assert_non_null(strstr(md, "2500 ms (simulated [a])"));
    assert_non_null(strstr(md, "125 ms (measured ["));
    assert_non_null(strstr(md, "40 mJ (simulated [a])"));
    /* speedup against the cpu, with both provenances */
    assert_non_null(strstr(md, "0.05x (simulated / measured ["));
    /* efficiency = 1 / 40 mJ */
    assert_non_null(strstr(md, "25 inferences/J (simulated"));
    /* reasons for what is missing */
    assert_non_null(strstr(md, "unavailable: backend: no RAPL powercap interface on this host"));
    assert_non_null(strstr(md, "unavailable: backend unavailable: gpu backend unavailable: no NVIDIA driver"));
    check_unavailable_cells(md, &n);
    assert_true(n >= 10);
    /* the recorded GPU run: its own row, labelled with GPU and date */
    assert_non_null(strstr(md, "gpu (recorded on NVIDIA H200, 2026-11-29)"));
    assert_non_null(strstr(md, "0.45 ms (recorded ["));
    assert_null(strstr(md, "(measured) 0.45")); /* never passed off as measured */
    assert_non_null(strstr(md, "Tschandl"));
    free(md);
}

static void test_batch(void **state) {
    char *md = render(SB_VIEW_BATCH, NULL, 0);
    (void)state;
    assert_non_null(md);
    /* mel is never predicted: its precision is undefined, not 0 or a number */
    assert_non_null(strstr(md, "| mel | 1 | 0 | undefined (never predicted) | 0.0% | 0.000 |"));
    assert_non_null(strstr(md, "| akiec | 2 | 1 | 100.0% | 50.0% | 0.667 |"));
    /* confusion matrix row of akiec: one right, one as bcc */
    assert_non_null(strstr(md, "| akiec | 1 (50.0%) | 1 (50.0%) | 0 (0.0%) |"));
    assert_non_null(strstr(md, "| accuracy | 50.0% |"));
    assert_non_null(strstr(md, "| balanced accuracy | 50.0% |"));
    /* probs are in the fixture: every class separable -> AUC 1 */
    assert_non_null(strstr(md, "| macro AUC | 1.000 (over 3 classes) |"));
    /* total batch energy = 4 images x 40 mJ */
    assert_non_null(strstr(md, "160 mJ (simulated: 4 images x energy / image)"));
    assert_non_null(strstr(md, "0 of 4 differ"));
    free(md);
}

/* A job whose accuracy the run left null with a reason (random weights):
 * the batch view shows no accuracy, recall or confusion matrix for it, only
 * the reason and the costs. */
static void test_batch_no_accuracy(void **state) {
    char *src = slurp(tmp, "results.json"), *text, *md, dir[300], path[512];
    cJSON *root = cJSON_Parse(src), *job;
    sb_view_opts o = {SB_VIEW_BATCH, NULL, NULL, 0};
    sb_error err = {0};
    (void)state;
    assert_non_null(root);
    cJSON_ArrayForEach(job, cJSON_GetObjectItem(root, "jobs")) {
        cJSON *m = cJSON_GetObjectItem(job, "metrics"), *acc = cJSON_CreateObject();
        cJSON_AddNullToObject(acc, "value");
        cJSON_AddNullToObject(acc, "provenance");
        cJSON_AddStringToObject(acc, "note", "the model's weights are random");
        cJSON_ReplaceItemInObject(m, "accuracy", acc);
    }
    text = cJSON_Print(root);
    snprintf(dir, sizeof dir, "%s/noacc", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/results.json", dir);
    assert_int_equal(sb_write_atomic(path, text, strlen(text), &err), 0);
    assert_int_equal(sb_report_write_ref(dir, "report", &o, NULL, NULL, &err), 0);
    md = slurp(dir, "report.md");
    assert_non_null(md);
    assert_non_null(strstr(md, "classification figures not shown: the model's weights are random"));
    assert_null(strstr(md, "| accuracy |"));
    assert_null(strstr(md, "Confusion matrix"));
    assert_null(strstr(md, "No job finished"));
    assert_non_null(strstr(md, "160 mJ (simulated: 4 images x energy / image)"));
    free(md);
    free(text);
    free(src);
    cJSON_Delete(root);
}

static void test_flow(void **state) {
    char *md = render(SB_VIEW_FLOW, NULL, 0);
    (void)state;
    assert_non_null(md);
    assert_non_null(strstr(md, "| 0 | features.0 | conv | 1x8x8x3 | 1x4x4x8 | 224 | 20000 |"));
    assert_non_null(strstr(md, "| 1250.0000 (simulated) | 20000.00 (simulated) |"));
    /* the resource that sets each layer's time; a report without it says "-" */
    assert_non_null(strstr(md, "| 20000.00 (simulated) | compute |"));
    assert_non_null(strstr(md, "| 20000.00 (simulated) | - |"));
    /* the cpu reports names and MACs only: the rest says why */
    assert_non_null(strstr(md, "are unavailable: the cpu backend reports no per-layer figure"));
    assert_non_null(strstr(md, "| 0 | features.0 | conv2d | - | - | 224 | 20000 |"));
    /* the unavailable gpu has no layer list */
    assert_non_null(strstr(md, "toy on gpu: unavailable"));
    free(md);
}

static void test_html_self_contained(void **state) {
    char *md = render(SB_VIEW_ALL, SB_VIEWS_FIXTURE "/reference", 1), *html = slurp(tmp, "report.html");
    (void)state;
    free(md);
    assert_non_null(html);
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_non_null(strstr(html, "CC BY-NC-SA 4.0"));
    assert_non_null(strstr(html, "<td class=\"na\">unavailable: "));
    if (access("/usr/bin/gnuplot", X_OK) == 0 || access("/usr/local/bin/gnuplot", X_OK) == 0) {
        /* charts rendered and embedded: PNG as a data URI, SVG inline */
        assert_non_null(strstr(html, "src=\"data:image/png;base64,iVBORw0KGgo"));
        assert_non_null(strstr(html, "<svg"));
        assert_null(strstr(html, "chart not rendered"));
    } else {
        assert_non_null(strstr(html, "chart not rendered"));
    }
    free(html);
}

static void test_infer_view(void **state) {
    char *md = render(SB_VIEW_INFER, NULL, 0);
    (void)state;
    assert_non_null(md);
    /* prediction with class name and confidence, top 3, split latency */
    assert_non_null(strstr(md, "| sram256 / toy (image ISIC_0000000) | akiec, confidence 70.0% (label: akiec) | "
                               "akiec 70.0%, bcc 20.0%, mel 10.0% | 2500 ms (simulated [a]) | 400 ms (simulated [a]) |"));
    assert_non_null(strstr(md, "unavailable: the cpu backend does not split its latency"));
    assert_non_null(strstr(md, "| gpu / toy | unavailable: gpu backend unavailable: no NVIDIA driver on this host |"));
    free(md);
}

/* Set (or delete, when json is NULL) the value at `path` ("jobs/1/samples",
 * numbers index arrays) of a copy of the fixture, in <tmp>/<name>. */
static void write_damaged(const char *name, const char *path, const char *json, char *dir, size_t len) {
    char *src = slurp(SB_VIEWS_FIXTURE, "results.json"), *text, file[512], seg[64];
    cJSON *root = cJSON_Parse(src), *parent = NULL, *node = root;
    const char *p = path, *slash;
    sb_error err = {0};
    assert_non_null(root);
    while (*p) {
        size_t n = (slash = strchr(p, '/')) ? (size_t)(slash - p) : strlen(p);
        snprintf(seg, sizeof seg, "%.*s", (int)n, p);
        p += n + (slash != NULL);
        parent = node;
        node = cJSON_IsArray(parent) ? cJSON_GetArrayItem(parent, atoi(seg)) : cJSON_GetObjectItem(parent, seg);
        assert_non_null(node);
    }
    if (!json && cJSON_IsArray(parent)) cJSON_DeleteItemFromArray(parent, atoi(seg));
    else if (!json) cJSON_DeleteItemFromObject(parent, seg);
    else if (cJSON_IsArray(parent)) cJSON_ReplaceItemInArray(parent, atoi(seg), cJSON_Parse(json));
    else cJSON_ReplaceItemInObject(parent, seg, cJSON_Parse(json));
    text = cJSON_Print(root);
    snprintf(dir, len, "%s/%s", tmp, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(file, sizeof file, "%s/results.json", dir);
    assert_int_equal(sb_write_atomic(file, text, strlen(text), &err), 0);
    free(text), free(src);
    cJSON_Delete(root);
}

/* A damaged results.json (it is user input) is refused before any view
 * reads it: SB_EFORMAT naming the file, the field and what was expected,
 * never a crash or a number made from garbage. */
static void test_damaged_results(void **state) {
    static const struct {
        const char *path, *json, *msg;
    } cases[] = {
        {"jobs/1/samples", NULL, "jobs[1] (ham10000 x toy x cpu).samples is missing: expected an array"},
        {"jobs/0/samples", "{}", "jobs[0] (ham10000 x toy x sram256).samples is an object: expected an array"},
        {"datasets", NULL, "\"datasets\" is missing: expected an array"},
        {"datasets/0/classes/1/index", NULL, "datasets[0].classes[1].index is missing: expected an integer >= 0"},
        {"datasets/0/classes/0/name", "7", "datasets[0].classes[0].name is 7: expected a string"},
        {"jobs/0/samples/2/confidence", "\"high\"", "samples[2].confidence is the string \"high\": expected a probability"},
        {"jobs/0/samples/2/confidence", "1.5", "samples[2].confidence is 1.5: expected a probability (a number in [0, 1])"},
        {"jobs/1/samples/0/pred", "1e300", "jobs[1] (ham10000 x toy x cpu).samples[0].pred is 1.0000000000000001e+300"},
        {"jobs/0/samples/3/label", "0.5", "samples[3].label is 0.5: expected an integer"},
        {"jobs/0/samples/0/top3/1/class", "null", "samples[0].top3[1].class is null: expected a class index"},
        {"jobs/1/samples/1/probs/2", "\"x\"", "samples[1].probs[2] is the string \"x\": expected a probability"},
        {"jobs/0/samples/0", "[]", "samples[0] is an array: expected an object"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_view_opts o = {SB_VIEW_ALL, NULL, NULL, 0};
        sb_error err = {0};
        char dir[300], name[32], file[512];
        snprintf(name, sizeof name, "damaged-%zu", i);
        write_damaged(name, cases[i].path, cases[i].json, dir, sizeof dir);
        assert_int_equal(sb_report_write_ref(dir, "report", &o, NULL, NULL, &err), SB_EFORMAT);
        snprintf(file, sizeof file, "%s/results.json: ", dir);
        if (strncmp(err.msg, file, strlen(file)) || !strstr(err.msg, cases[i].msg))
            fail_msg("case %s: '%s': expected '%s...%s'", cases[i].path, err.msg, file, cases[i].msg);
        /* nothing rendered from it */
        snprintf(file, sizeof file, "%s/report.md", dir);
        assert_int_not_equal(access(file, F_OK), 0);
    }
}

/* The views called directly on a file sb_report_check would refuse: no
 * crash, no NaN converted to int (the sanitizer build fails on one). */
static void test_views_unchecked(void **state) {
    char *src = slurp(SB_VIEWS_FIXTURE, "results.json");
    cJSON *res = cJSON_Parse(src), *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 0), "samples"), 0);
    sb_doc *d = sb_doc_new("unchecked");
    (void)state;
    assert_non_null(s0);
    cJSON_ReplaceItemInObject(s0, "label", cJSON_CreateString("x"));
    cJSON_ReplaceItemInObject(s0, "pred", cJSON_CreateNumber(1e300));
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "datasets"), 0), "classes"), 0), "index");
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "jobs"), 1), "samples");
    sb_view_batch(res, d, tmp, 0);
    sb_view_infer(res, d);
    cJSON_DeleteItemFromObject(res, "datasets");
    sb_view_infer(res, d);
    sb_doc_free(d);
    cJSON_Delete(res);
    free(src);
}

static void test_bad_folder(void **state) {
    sb_view_opts o = {SB_VIEW_ALL, NULL, NULL, 0};
    sb_error err = {0};
    (void)state;
    assert_int_equal(sb_report_write("/nonexistent/sb-views", "report", &o, NULL, &err), SB_ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/sb-views/results.json"));
}

/* results.json that is {} or [] (once "no \"jobs\" array, 0: expected ..."),
 * not JSON, or a directory (once exit 4 "read failed"). */
static void test_bad_results_json(void **state) {
    static const struct { const char *text, *says; } cases[] = {
        {"{}", "results.json: no \"jobs\" array: expected results.json (docs/results-schema.md) with a \"jobs\" array"},
        {"[]", "results.json: no \"jobs\" array: expected results.json"},
        {"{\"jobs\": [}", "results.json: invalid JSON at byte 10: expected results.json"},
        {NULL, "results.json: is a directory: expected the results.json file of a run"},
    };
    sb_view_opts o = {SB_VIEW_ALL, NULL, NULL, 0};
    char dir[300], path[340];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_error err = {0};
        snprintf(dir, sizeof dir, "%s/bad%zu", tmp, i);
        snprintf(path, sizeof path, "%s/results.json", dir);
        assert_int_equal(mkdir(dir, 0755), 0);
        if (cases[i].text) {
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            fputs(cases[i].text, f);
            fclose(f);
        } else
            assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(sb_report_write(dir, "report", &o, NULL, &err), SB_EFORMAT);
        if (strncmp(err.msg, dir, strlen(dir)) || !strstr(err.msg, cases[i].says))
            print_error("case %zu: %s\n", i, err.msg);
        assert_int_equal(strncmp(err.msg, dir, strlen(dir)), 0);
        assert_non_null(strstr(err.msg, cases[i].says));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare), cmocka_unit_test(test_batch), cmocka_unit_test(test_batch_no_accuracy),
        cmocka_unit_test(test_flow),
        cmocka_unit_test(test_html_self_contained), cmocka_unit_test(test_infer_view),
        cmocka_unit_test(test_bad_folder), cmocka_unit_test(test_bad_results_json),
        cmocka_unit_test(test_damaged_results), cmocka_unit_test(test_views_unchecked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
