/*
 * sb_report_check.c - is a results.json fit for the views?
 *
 * results.json is user input: it can be edited, truncated by hand or come
 * from another tool. The views read it trusting its shape (arrays walked by
 * their first child, numbers turned into class indices), so the shape they
 * rely on is checked once here, and a damaged file is refused with the
 * field that is wrong rather than read past (docs/results-schema.md).
 * Fields the views read through sb_json_str / sb_json_num / sb_fig_* need
 * no check: those fall back to a default or "unavailable".
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "sb_report.h"

#define J(o, k) cJSON_GetObjectItemCaseSensitive((o), (k))

typedef struct chk {
    const char *path;   /* the results.json, for the message */
    sb_error *err;
} chk;

/* What was found instead, for the message. */
static void describe(const cJSON *v, char *buf, size_t len) {
    if (!v) snprintf(buf, len, "missing");
    else if (cJSON_IsNull(v)) snprintf(buf, len, "null");
    else if (cJSON_IsBool(v)) snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v)) snprintf(buf, len, "%.17g", v->valuedouble);
    else if (cJSON_IsString(v)) snprintf(buf, len, "the string \"%.40s\"", v->valuestring);
    else if (cJSON_IsArray(v)) snprintf(buf, len, "an array");
    else snprintf(buf, len, "an object");
}

/* The field at fault, `v` what it holds; the field's name is printf'd
 * ("jobs[1] (d x m x b).samples[3].pred"). */
static int bad(chk *c, const cJSON *v, const char *expected, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(chk *c, const cJSON *v, const char *expected, const char *fmt, ...) {
    char found[80], where[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
    describe(v, found, sizeof found);
    return sb_error_set(c->err, SB_EFORMAT, "%s: %s is %s: expected %s (docs/results-schema.md)", c->path, where, found,
                        expected);
}

/* An integer the views can turn into an int (a class index). */
static int is_int(const cJSON *v, double lo) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
           v->valuedouble <= INT_MAX;
}

static int check_classes(chk *c, const cJSON *classes, int d) {
    const cJSON *x;
    int i = 0;
    if (!classes || cJSON_IsNull(classes)) return 0; /* the dataset never opened */
    if (!cJSON_IsArray(classes))
        return bad(c, classes, "an array of {\"index\", \"name\"} or null", "datasets[%d].classes", d);
    cJSON_ArrayForEach(x, classes) {
        if (!is_int(J(x, "index"), 0)) return bad(c, J(x, "index"), "an integer >= 0", "datasets[%d].classes[%d].index", d, i);
        if (!cJSON_IsString(J(x, "name"))) return bad(c, J(x, "name"), "a string", "datasets[%d].classes[%d].name", d, i);
        i++;
    }
    return 0;
}

static int check_datasets(chk *c, const cJSON *res) {
    const cJSON *ds = J(res, "datasets"), *x;
    int d = 0, rc;
    if (!cJSON_IsArray(ds)) return bad(c, ds, "an array (one entry per [dataset])", "\"datasets\"");
    cJSON_ArrayForEach(x, ds) {
        if (!cJSON_IsObject(x)) return bad(c, x, "an object", "datasets[%d]", d);
        if ((rc = check_classes(c, J(x, "classes"), d)) < 0) return rc;
        d++;
    }
    return 0;
}

/* The name of sample i of job j in messages. */
#define AT "jobs[%d] (%s x %s x %s).samples[%d]"
#define AT_ARGS(job, j, i) (j), sb_json_str((job), "dataset", "?"), sb_json_str((job), "model", "?"), sb_json_str((job), "backend", "?"), (i)

static int check_top3(chk *c, const cJSON *job, int j, const cJSON *s, int i) {
    const cJSON *top = J(s, "top3"), *x;
    int k = 0;
    if (!top) return 0;
    if (!cJSON_IsArray(top)) return bad(c, top, "an array of {\"class\", \"p\"}", AT ".top3", AT_ARGS(job, j, i));
    cJSON_ArrayForEach(x, top) {
        if (!is_int(J(x, "class"), 0))
            return bad(c, J(x, "class"), "a class index (an integer >= 0)", AT ".top3[%d].class", AT_ARGS(job, j, i), k);
        if (!cJSON_IsNumber(J(x, "p")))
            return bad(c, J(x, "p"), "a probability (a number)", AT ".top3[%d].p", AT_ARGS(job, j, i), k);
        k++;
    }
    return 0;
}

static int check_sample(chk *c, const cJSON *job, int j, const cJSON *s, int i) {
    const cJSON *v, *x;
    int k = 0;
    if (!cJSON_IsObject(s)) return bad(c, s, "an object (one image's record)", AT, AT_ARGS(job, j, i));
    /* a negative label is an image outside the dataset (infer) */
    if (!is_int(v = J(s, "label"), INT_MIN))
        return bad(c, v, "an integer (the true class, -1 for none)", AT ".label", AT_ARGS(job, j, i));
    if (!is_int(v = J(s, "pred"), 0)) return bad(c, v, "a class index (an integer >= 0)", AT ".pred", AT_ARGS(job, j, i));
    v = J(s, "confidence");
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
        return bad(c, v, "a probability (a number in [0, 1])", AT ".confidence", AT_ARGS(job, j, i));
    if ((v = J(s, "probs")) != NULL) {
        if (!cJSON_IsArray(v)) return bad(c, v, "an array of numbers", AT ".probs", AT_ARGS(job, j, i));
        cJSON_ArrayForEach(x, v) {
            if (!cJSON_IsNumber(x)) return bad(c, x, "a probability (a number)", AT ".probs[%d]", AT_ARGS(job, j, i), k);
            k++;
        }
    }
    return check_top3(c, job, j, s, i);
}

static int check_job(chk *c, const cJSON *job, int j) {
    const cJSON *samples, *s;
    int i = 0, rc;
    if (!cJSON_IsObject(job)) return bad(c, job, "an object (one job)", "jobs[%d]", j);
    /* every job has it, empty when no image finished */
    samples = J(job, "samples");
    if (!cJSON_IsArray(samples))
        return bad(c, samples, "an array of per-image records", "jobs[%d] (%s x %s x %s).samples", j,
                   sb_json_str(job, "dataset", "?"), sb_json_str(job, "model", "?"), sb_json_str(job, "backend", "?"));
    cJSON_ArrayForEach(s, samples) if ((rc = check_sample(c, job, j, s, i++)) < 0) return rc;
    return 0;
}

int sb_report_check(const cJSON *res, const char *path, sb_error *err) {
    chk c = {path, err};
    const cJSON *job;
    int j = 0, rc;
    if ((rc = check_datasets(&c, res)) < 0) return rc;
    cJSON_ArrayForEach(job, J(res, "jobs")) if ((rc = check_job(&c, job, j++)) < 0) return rc;
    return 0;
}
