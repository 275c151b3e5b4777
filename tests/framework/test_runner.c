/* The runner and the results writer, with the fake plugins of this folder:
 * all jobs complete with all their records, a failing job does not stop the
 * others, a stop (the SIGINT path) keeps finished results, files are written
 * atomically and results.json reads back with the documented fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_classes.h"
#include "sb_config.h"
#include "sb_results.h"
#include "sb_runner.h"
#include "sb_util.h"

static char tmpdir[256];
static int n_runs;

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sbfw-runner-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    buf[n] = 0;
    fclose(f);
    return buf;
}

static cJSON *read_json(const char *dir) {
    char path[600], *text;
    cJSON *j;
    snprintf(path, sizeof path, "%s/results.json", dir);
    text = read_file(path);
    assert_non_null(text);
    j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

/* Write bench.toml (with the fake plugins' folder) and load it. */
static void load_cfg(const char *body, sb_config *cfg) {
    char path[400], text[4096];
    sb_error err = {0};
    FILE *f;
    snprintf(path, sizeof path, "%s/bench-%d.toml", tmpdir, n_runs);
    snprintf(text, sizeof text, "[run]\nname = \"t\"\nworkers = 2\nplugin_path = [\"%s\"]\n%s", SB_TEST_PLUGIN_DIR, body);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    if (sb_config_load(path, cfg, &err) < 0) print_error("%s\n", err.msg);
    assert_int_equal(err.code, 0);
}

static int run_cfg(const char *body, sb_run_opts *opts, sb_run_summary *sum, char *out_dir, sb_error *err) {
    sb_config cfg;
    sb_run_opts local = {0};
    int rc;
    if (!opts) opts = &local;
    n_runs++;
    snprintf(out_dir, 512, "%s/out-%d", tmpdir, n_runs);
    opts->out_dir = out_dir;
    opts->quiet = 1;
    opts->no_charts = 1;
    load_cfg(body, &cfg);
    rc = sb_run_bench(&cfg, opts, sum, err);
    sb_config_free(&cfg);
    return rc;
}

static const cJSON *job_at(const cJSON *root, int i) {
    const cJSON *jobs = cJSON_GetObjectItem(root, "jobs");
    assert_true(cJSON_IsArray(jobs));
    return cJSON_GetArrayItem(jobs, i);
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double metric(const cJSON *job, const char *name, const char **prov) {
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(job, "metrics"), name), *v, *p;
    assert_non_null(m);
    v = cJSON_GetObjectItem(m, "value");
    p = cJSON_GetObjectItem(m, "provenance");
    assert_non_null(cJSON_GetObjectItem(m, "unit"));
    assert_non_null(cJSON_GetObjectItem(m, "note"));
    if (prov) *prov = cJSON_IsString(p) ? p->valuestring : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The fake dataset's labels, computed here independently. */
static int fake_label(int i, int classes) {
    int k = i % (classes + 1);
    return k == classes ? 0 : k;
}

static const char *ds_block = "[dataset]\nplugin = \"fake\"\nn = 20\nclasses = 3\n";

static void test_all_jobs_complete(void **state) {
    char body[2048], out[512], path[700], *csv;
    sb_run_summary sum;
    sb_error err = {0};
    cJSON *root;
    int j, i, correct = 0, hit[3] = {0}, tot[3] = {0};
    const char *prov;
    (void)state;
    snprintf(body, sizeof body, "%s"
             "[[model]]\nname = \"m4\"\nplugin = \"fake\"\nsize = 4\n"
             "[[model]]\nname = \"m6\"\nplugin = \"fake\"\nsize = 6\n"
             "[[backend]]\nname = \"exact\"\nplugin = \"fake\"\n"
             "[[backend]]\nname = \"wrong2\"\nplugin = \"fake\"\nmisclassify = 2\n"
             "latency_ns = 2000\nlatency_ns_source = \"assumption: test\"\n"
             "[[backend]]\nname = \"meas\"\nplugin = \"fake\"\nmeasured = true\n", ds_block);
    assert_int_equal(run_cfg(body, NULL, &sum, out, &err), 0);
    assert_int_equal(sum.n_ok, 6);
    assert_int_equal(sum.n_failed + sum.n_cancelled + sum.n_unavailable, 0);
    assert_int_equal(sum.interrupted, 0);
    root = read_json(out);
    assert_int_equal(cJSON_GetObjectItem(root, "schema_version")->valueint, 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "complete")));
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(root, "config")));
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "config"), "dataset"), "n")->valueint, 20);
    {
        const cJSON *env = cJSON_GetObjectItem(root, "environment");
        assert_non_null(cJSON_GetObjectItem(env, "cpu_model"));
        assert_true(cJSON_GetObjectItem(env, "cores")->valueint >= 1);
        assert_true(cJSON_IsString(cJSON_GetObjectItem(env, "compiler")));
        assert_non_null(cJSON_GetObjectItem(env, "git_revision"));
    }
    {
        const cJSON *ds = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "datasets"), 0);
        const cJSON *cls = cJSON_GetObjectItem(ds, "classes");
        assert_int_equal(cJSON_GetObjectItem(ds, "n_selected")->valueint, 20);
        assert_int_equal(cJSON_GetArraySize(cls), 3);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cls, 0), "count")->valueint, 10);
        assert_string_equal(jstr(cJSON_GetArrayItem(cls, 2), "name"), "c2");
    }
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "jobs")), 6);
    for (j = 0; j < 6; j++) {
        const cJSON *job = job_at(root, j), *samples = cJSON_GetObjectItem(job, "samples");
        assert_string_equal(jstr(job, "status"), "ok");
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(job, "error")));
        assert_int_equal(cJSON_GetObjectItem(job, "n_images")->valueint, 20);
        assert_int_equal(cJSON_GetArraySize(samples), 20);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(job, "backend_report"), "fake")));
        for (i = 0; i < 20; i++) {
            const cJSON *s = cJSON_GetArrayItem(samples, i);
            char id[32];
            snprintf(id, sizeof id, "fake_%04d", i);
            assert_string_equal(jstr(s, "id"), id);
            assert_int_equal(cJSON_GetObjectItem(s, "label")->valueint, fake_label(i, 3));
            assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "top3")), 3);
            assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "metrics"), "latency_ns")));
        }
    }
    assert_string_equal(jstr(job_at(root, 0), "model"), "m4");
    assert_string_equal(jstr(job_at(root, 1), "backend"), "wrong2");
    assert_string_equal(jstr(job_at(root, 5), "model"), "m6");

    /* exact backend: all correct; confidence = softmax of logits 10 vs 0, 0 */
    assert_true(metric(job_at(root, 0), "accuracy", &prov) == 1.0);
    assert_string_equal(prov, "measured");
    {
        const cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(job_at(root, 0), "samples"), 0);
        double want = exp(10.0) / (exp(10.0) + 2.0);
        const cJSON *lg = cJSON_GetObjectItem(s0, "logits"), *pr = cJSON_GetObjectItem(s0, "probs");
        int k;
        double psum = 0;
        assert_true(fabs(cJSON_GetObjectItem(s0, "confidence")->valuedouble - want) < 1e-9);
        /* the whole output is kept: raw logits and their softmax */
        assert_int_equal(cJSON_GetArraySize(lg), 3);
        assert_int_equal(cJSON_GetArraySize(pr), 3);
        for (k = 0; k < 3; k++) psum += cJSON_GetArrayItem(pr, k)->valuedouble;
        assert_true(fabs(psum - 1.0) < 1e-6);
        k = cJSON_GetObjectItem(s0, "pred")->valueint;
        assert_true(fabs(cJSON_GetArrayItem(pr, k)->valuedouble - want) < 1e-6);
    }
    assert_true(fabs(metric(job_at(root, 0), "latency_ms_median", &prov) - 0.001) < 1e-12);
    assert_string_equal(prov, "simulated");
    assert_true(fabs(metric(job_at(root, 0), "throughput_ips", &prov) - 1e6) < 1e-3);
    assert_string_equal(prov, "simulated");
    assert_true(fabs(metric(job_at(root, 0), "energy_mj_per_image", &prov) - 5e-7) < 1e-15);
    assert_true(fabs(metric(job_at(root, 0), "power_mw_avg", &prov) - 0.5) < 1e-12);
    assert_string_equal(prov, "simulated");

    /* class 2 answered wrongly: accuracy and balanced accuracy differ */
    for (i = 0; i < 20; i++) {
        int l = fake_label(i, 3);
        tot[l]++;
        if (l != 2) {
            hit[l]++;
            correct++;
        }
    }
    assert_true(fabs(metric(job_at(root, 1), "accuracy", NULL) - correct / 20.0) < 1e-12);
    assert_true(fabs(metric(job_at(root, 1), "balanced_accuracy", NULL) -
                     ((double)hit[0] / tot[0] + (double)hit[1] / tot[1] + 0.0) / 3) < 1e-12);
    assert_true(fabs(metric(job_at(root, 1), "power_mw_avg", NULL) - 0.25) < 1e-12);

    /* measured latency: throughput from the wall clock, labelled measured */
    metric(job_at(root, 2), "throughput_ips", &prov);
    assert_string_equal(prov, "measured");
    metric(job_at(root, 2), "latency_ms_median", &prov);
    assert_string_equal(prov, "measured");
    cJSON_Delete(root);

    snprintf(path, sizeof path, "%s/results.csv", out);
    csv = read_file(path);
    assert_non_null(csv);
    assert_int_equal(strncmp(csv, "dataset,model,backend,status,n_images,accuracy,", 47), 0);
    for (i = 0, j = 0; csv[i]; i++) j += csv[i] == '\n';
    assert_int_equal(j, 7);
    free(csv);
    snprintf(path, sizeof path, "%s/table.md", out);
    csv = read_file(path);
    assert_non_null(strstr(csv, "| fake | m4 | wrong2 | ok | 20 | 0.750 (m) | 0.667 (m) |"));
    free(csv);
}

static void test_failing_jobs_do_not_stop_others(void **state) {
    char body[2048], out[512];
    sb_run_summary sum;
    sb_error err = {0};
    cJSON *root;
    const char *prov;
    (void)state;
    snprintf(body, sizeof body, "%s"
             "[[model]]\nname = \"ok\"\nplugin = \"fake\"\n"
             "[[model]]\nname = \"broken\"\nplugin = \"fake\"\nfail_load = true\n"
             "[[backend]]\nname = \"noprep\"\nplugin = \"fake\"\nfail = \"prepare\"\n"
             "[[backend]]\nname = \"norun\"\nplugin = \"fake\"\nfail = \"run\"\n"
             "[[backend]]\nname = \"absent\"\nplugin = \"fake\"\nunavailable = true\n"
             "[[backend]]\nname = \"good\"\nplugin = \"fake\"\nno_energy = true\n", ds_block);
    assert_int_equal(run_cfg(body, NULL, &sum, out, &err), 0);
    assert_int_equal(sum.n_ok, 1);
    assert_int_equal(sum.n_unavailable, 1);
    assert_int_equal(sum.n_failed, 6);
    root = read_json(out);
    assert_string_equal(jstr(job_at(root, 0), "status"), "failed");
    assert_non_null(strstr(jstr(job_at(root, 0), "error"), "does not fit"));
    assert_string_equal(jstr(job_at(root, 1), "status"), "failed");
    assert_non_null(strstr(jstr(job_at(root, 1), "error"), "told to fail in run"));
    assert_string_equal(jstr(job_at(root, 2), "status"), "unavailable");
    assert_non_null(strstr(jstr(job_at(root, 2), "error"), "no such device"));
    assert_true(isnan(metric(job_at(root, 2), "latency_ms_median", &prov)));
    assert_null(prov);
    assert_string_equal(jstr(job_at(root, 3), "status"), "ok");
    assert_true(metric(job_at(root, 3), "accuracy", NULL) == 1.0);
    /* no energy: null with the backend's reason, never a guess */
    assert_true(isnan(metric(job_at(root, 3), "energy_mj_per_image", NULL)));
    assert_non_null(strstr(jstr(cJSON_GetObjectItem(cJSON_GetObjectItem(job_at(root, 3), "metrics"),
                                                    "energy_mj_per_image"), "note"), "no power meter"));
    assert_false(isnan(metric(job_at(root, 3), "latency_ms_median", NULL)));
    /* the broken model fails each of its jobs with its error */
    assert_string_equal(jstr(job_at(root, 7), "status"), "failed");
    assert_non_null(strstr(jstr(job_at(root, 7), "error"), "told to fail in load"));
    cJSON_Delete(root);
}

static void test_failing_image(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    cJSON *root;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nn = 30\nfail_get_at = 17\n"
                             "[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\n", NULL, &sum, out, &err), 0);
    assert_int_equal(sum.n_failed, 1);
    root = read_json(out);
    assert_non_null(strstr(jstr(job_at(root, 0), "error"), "image 17"));
    cJSON_Delete(root);
}

/* A backend metric whose images disagree on its provenance is not averaged
 * under one label: null, with the reason (docs/results-schema.md). */
static void test_mixed_provenance_is_null(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    const cJSON *bm, *extra;
    cJSON *root;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nn = 6\nclasses = 3\n"
                             "[[model]]\nplugin = \"fake\"\n"
                             "[[backend]]\nplugin = \"fake\"\nmixed_extra = true\n", NULL, &sum, out, &err), 0);
    root = read_json(out);
    bm = cJSON_GetObjectItem(job_at(root, 0), "backend_metrics");
    extra = cJSON_GetObjectItem(bm, "extra_pj");
    assert_non_null(extra);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(extra, "value")));
    assert_non_null(strstr(jstr(extra, "note"), "mixed provenances"));
    /* the energy, one provenance throughout, is still averaged */
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(bm, SB_M_ENERGY_PJ), "value")));
    cJSON_Delete(root);
}

/* More metrics than the SB_MAX_METRICS slots: the job says how many were
 * not stored, in results.json, instead of dropping them silently; the
 * overflow mark is no backend metric. latency + energy + 35 extras = 37,
 * of which 31 fit beside the mark: 6 not stored per image. */
static void test_metrics_overflow_recorded(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    const cJSON *job, *bm, *w;
    cJSON *root;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nn = 6\nclasses = 3\n"
                             "[[model]]\nplugin = \"fake\"\n"
                             "[[backend]]\nname = \"many\"\nplugin = \"fake\"\nextra_metrics = 35\n"
                             "[[backend]]\nname = \"few\"\nplugin = \"fake\"\nextra_metrics = 30\n",
                             NULL, &sum, out, &err), 0);
    root = read_json(out);
    job = job_at(root, 0);
    w = cJSON_GetObjectItem(job, "warnings");
    assert_true(cJSON_IsArray(w));
    assert_int_equal(cJSON_GetArraySize(w), 1);
    assert_non_null(strstr(cJSON_GetArrayItem(w, 0)->valuestring, "backend 'many' reported more metrics than the 32 "
                           "slots of sb_metrics for 6 image(s): up to 6 per image not stored"));
    bm = cJSON_GetObjectItem(job, "backend_metrics");
    assert_null(cJSON_GetObjectItem(bm, SB_M_DROPPED));
    assert_non_null(cJSON_GetObjectItem(bm, "extra_28"));
    assert_null(cJSON_GetObjectItem(bm, "extra_29"));
    /* 2 + 30 = 32 metrics fill the slots exactly: nothing lost, no warning */
    job = job_at(root, 1);
    assert_null(cJSON_GetObjectItem(job, "warnings"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(job, "backend_metrics"), "extra_29"));
    cJSON_Delete(root);
}

/* Minor versions in a run: a backend of the next minor runs as any other;
 * one built for ABI 1.0, whose sb_metrics_add dropped silently, that fills
 * every slot gets a warning that metrics may have been lost. */
static void test_minor_versions_run(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    const cJSON *w;
    cJSON *root;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nn = 6\nclasses = 3\n"
                             "[[model]]\nplugin = \"fake\"\n"
                             "[[backend]]\nplugin = \"newminor\"\nextra_metrics = 35\n"
                             "[[backend]]\nplugin = \"oldminor\"\nextra_metrics = 35\n",
                             NULL, &sum, out, &err), 0);
    root = read_json(out);
    assert_string_equal(jstr(job_at(root, 0), "status"), "ok");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(
        cJSON_GetObjectItem(job_at(root, 0), "metrics"), "latency_ms_median"), "value")));
    w = cJSON_GetObjectItem(job_at(root, 0), "warnings");
    assert_non_null(strstr(cJSON_GetArrayItem(w, 0)->valuestring, "up to 6 per image not stored"));
    w = cJSON_GetObjectItem(job_at(root, 1), "warnings");
    assert_true(cJSON_IsArray(w));
    assert_non_null(strstr(cJSON_GetArrayItem(w, 0)->valuestring, "(plugin ABI 1.0) filled all 32 metric slots "
                           "for 6 image(s): metrics past the first 32, if any, were dropped unseen"));
    cJSON_Delete(root);
}

/* A model whose provenance says its weights are random has no accuracy:
 * null with the reason, while its costs are still reported. */
static void test_random_weights_no_accuracy(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    const char *prov;
    const cJSON *acc;
    cJSON *root;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nn = 6\n"
                             "[[model]]\nplugin = \"fake\"\nrandom_weights = true\n"
                             "[[model]]\nname = \"trained\"\nplugin = \"fake\"\n"
                             "[[backend]]\nplugin = \"fake\"\n", NULL, &sum, out, &err), 0);
    root = read_json(out);
    acc = cJSON_GetObjectItem(cJSON_GetObjectItem(job_at(root, 0), "metrics"), "accuracy");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(acc, "value")));
    assert_non_null(strstr(jstr(acc, "note"), "random"));
    acc = cJSON_GetObjectItem(cJSON_GetObjectItem(job_at(root, 0), "metrics"), "balanced_accuracy");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(acc, "value")));
    assert_true(metric(job_at(root, 0), "latency_ms_median", &prov) > 0);
    /* the same fake model without the claim keeps its accuracy */
    assert_true(metric(job_at(root, 1), "accuracy", &prov) >= 0);
    assert_string_equal(prov, "measured");
    cJSON_Delete(root);
}

/* Logits without a usable scale cannot be turned into confidences: the
 * job fails naming the model and the field, rather than softmaxing the raw
 * logits (as a fallback scale of 1 did) or NaN. */
static void test_bad_output_scale(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    cJSON *root;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nn = 6\n"
                             "[[model]]\nname = \"zero\"\nplugin = \"fake\"\noutput_scale = 0.0\n"
                             "[[model]]\nname = \"neg\"\nplugin = \"fake\"\noutput_scale = -1.0\n"
                             "[[model]]\nname = \"good\"\nplugin = \"fake\"\n"
                             "[[backend]]\nplugin = \"fake\"\n", NULL, &sum, out, &err), 0);
    assert_int_equal(sum.n_failed, 2);
    assert_int_equal(sum.n_ok, 1);
    root = read_json(out);
    for (int i = 0; i < 2; i++) {
        const char *e = jstr(job_at(root, i), "error");
        assert_string_equal(jstr(job_at(root, i), "status"), "failed");
        assert_non_null(strstr(e, i ? "model 'neg'" : "model 'zero'"));
        assert_non_null(strstr(e, "output tensor 'logits': scale"));
        assert_non_null(strstr(e, "expected a positive finite float32"));
    }
    assert_string_equal(jstr(job_at(root, 2), "status"), "ok");
    cJSON_Delete(root);
}

/* A graph's temperature divides the dequantised logits before the softmax:
 * the confidences follow it, the predictions do not (a misclassifying
 * backend, so that both right and wrong predictions are compared), and a
 * temperature out of range fails the job naming the model and the field. */
static void test_temperature(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    cJSON *root;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nn = 9\n"
                             "[[model]]\nname = \"plain\"\nplugin = \"fake\"\n"
                             "[[model]]\nname = \"warm\"\nplugin = \"fake\"\ntemperature = 2.0\n"
                             "[[model]]\nname = \"hot\"\nplugin = \"fake\"\ntemperature = 50.0\n"
                             "[[backend]]\nplugin = \"fake\"\nmisclassify = 1\n", NULL, &sum, out, &err), 0);
    assert_int_equal(sum.n_ok, 2);
    assert_int_equal(sum.n_failed, 1);
    root = read_json(out);
    const cJSON *plain = cJSON_GetObjectItem(job_at(root, 0), "samples");
    const cJSON *warm = cJSON_GetObjectItem(job_at(root, 1), "samples");
    double want_plain = exp(10.0) / (exp(10.0) + 2.0), want_warm = exp(5.0) / (exp(5.0) + 2.0);
    int n_wrong = 0;
    for (int i = 0; i < 9; i++) {
        const cJSON *a = cJSON_GetArrayItem(plain, i), *b = cJSON_GetArrayItem(warm, i);
        int pred = cJSON_GetObjectItem(a, "pred")->valueint;
        assert_int_equal(cJSON_GetObjectItem(b, "pred")->valueint, pred);
        n_wrong += pred != cJSON_GetObjectItem(a, "label")->valueint;
        assert_true(fabs(cJSON_GetObjectItem(a, "confidence")->valuedouble - want_plain) < 1e-9);
        assert_true(fabs(cJSON_GetObjectItem(b, "confidence")->valuedouble - want_warm) < 1e-9);
        assert_true(fabs(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "probs"), pred)->valuedouble - want_warm) < 1e-6);
    }
    assert_true(n_wrong > 0 && n_wrong < 9);
    /* results.json says which temperature the confidences (and ECE) used */
    assert_true(cJSON_GetObjectItem(job_at(root, 0), "temperature")->valuedouble == 1.0);
    assert_true(cJSON_GetObjectItem(job_at(root, 1), "temperature")->valuedouble == 2.0);
    const char *e = jstr(job_at(root, 2), "error");
    assert_non_null(strstr(e, "model 'hot': temperature 50"));
    assert_non_null(strstr(e, "expected 0 (none) or a finite number in [0.05, 20]"));
    cJSON_Delete(root);
}

static void test_failing_dataset(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    cJSON *root;
    int j;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nfail_open = true\n[[model]]\nplugin = \"fake\"\n"
                             "[[backend]]\nname = \"a\"\nplugin = \"fake\"\n[[backend]]\nname = \"b\"\nplugin = \"fake\"\n",
                             NULL, &sum, out, &err), 0);
    assert_int_equal(sum.n_failed, 2);
    root = read_json(out);
    for (j = 0; j < 2; j++)
        assert_string_equal(jstr(job_at(root, j), "error"), "dataset 'fake': fake dataset: told to fail in open");
    assert_non_null(strstr(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "datasets"), 0), "error"), "told to fail"));
    cJSON_Delete(root);
    {
        /* the table says the shared error once, then refers to it */
        char path[600], *md;
        const char *first;
        snprintf(path, sizeof path, "%s/table.md", out);
        md = read_file(path);
        assert_non_null(md);
        first = strstr(md, "told to fail in open");
        assert_non_null(first);
        assert_null(strstr(first + 1, "told to fail in open"));
        assert_non_null(strstr(md, "- fake x b: failed: same error as fake x a"));
        free(md);
    }
}

/* --------------------------------------------------------------- stop */

typedef struct stop_ctx {
    int calls;
    int use_signal;
    char out[512];
    int first_on_disk_ok;
} stop_ctx;

static void stop_after_first(sb_runner *r, size_t job, void *ud) {
    stop_ctx *c = ud;
    c->calls++;
    if (job == 0 && c->use_signal) {
        raise(SIGINT); /* seen by the loop later: check_stopped checks the end */
        c->first_on_disk_ok = 1;
    } else if (job == 0) {
        /* writes are batched (at most one a second), but a stop writes the
         * finished jobs at once: whole and readable now */
        sb_runner_stop(r);
        cJSON *root = read_json(c->out);
        c->first_on_disk_ok = strcmp(jstr(job_at(root, 0), "status"), "ok") == 0 &&
                              cJSON_IsFalse(cJSON_GetObjectItem(root, "complete"));
        cJSON_Delete(root);
    }
}

static void check_stopped(stop_ctx *c, const sb_run_summary *sum, int exact) {
    cJSON *root = read_json(c->out);
    assert_true(c->first_on_disk_ok);
    assert_true(sum->interrupted);
    assert_int_equal(sum->n_ok + sum->n_cancelled, 3);
    assert_true(sum->n_ok >= 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "interrupted")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "complete")));
    assert_string_equal(jstr(job_at(root, 0), "status"), "ok");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(job_at(root, 0), "samples")), 20);
    assert_true(metric(job_at(root, 0), "accuracy", NULL) == 1.0);
    assert_string_equal(jstr(job_at(root, 2), "status"), "cancelled");
    assert_non_null(strstr(jstr(job_at(root, 2), "error"), "interrupted"));
    assert_true(isnan(metric(job_at(root, 2), "accuracy", NULL)));
    if (exact) {
        assert_int_equal(sum->n_ok, 1);
        assert_string_equal(jstr(job_at(root, 1), "status"), "cancelled");
    }
    cJSON_Delete(root);
}

static const char *three_jobs = "[dataset]\nplugin = \"fake\"\nn = 20\n[[model]]\nplugin = \"fake\"\n"
                                "[[backend]]\nname = \"a\"\nplugin = \"fake\"\n[[backend]]\nname = \"b\"\nplugin = \"fake\"\n"
                                "[[backend]]\nname = \"c\"\nplugin = \"fake\"\n";

static void test_stop_keeps_finished(void **state) {
    stop_ctx c = {0};
    sb_run_opts o = {0};
    sb_run_summary sum;
    sb_error err = {0};
    (void)state;
    o.on_job_done = stop_after_first;
    o.ud = &c;
    snprintf(c.out, sizeof c.out, "%s/out-%d", tmpdir, n_runs + 1);
    assert_int_equal(run_cfg(three_jobs, &o, &sum, c.out, &err), 0);
    check_stopped(&c, &sum, 1);
}

static void test_sigint_keeps_finished(void **state) {
    stop_ctx c = {0};
    sb_run_opts o = {0};
    sb_run_summary sum;
    sb_error err = {0};
    (void)state;
    c.use_signal = 1;
    o.on_job_done = stop_after_first;
    o.ud = &c;
    snprintf(c.out, sizeof c.out, "%s/out-%d", tmpdir, n_runs + 1);
    assert_int_equal(run_cfg(three_jobs, &o, &sum, c.out, &err), 0);
    /* job b may have finished before the signal reached the loop; c cannot */
    check_stopped(&c, &sum, 0);
}

/* ------------------------------------------------------------ atomicity */

static void test_atomic_write(void **state) {
    char path[400], blocker[500], *text;
    sb_error err = {0};
    DIR *d;
    struct dirent *e;
    int leftovers = 0;
    (void)state;
    snprintf(path, sizeof path, "%s/atomic.json", tmpdir);
    assert_int_equal(sb_write_atomic(path, "old", 3, &err), 0);
    assert_int_equal(sb_write_atomic(path, "{\"new\": 1}", 10, &err), 0);
    text = read_file(path);
    assert_string_equal(text, "{\"new\": 1}");
    free(text);
    /* When the temporary cannot be written, the old file stays whole. */
    snprintf(blocker, sizeof blocker, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(mkdir(blocker, 0755), 0);
    assert_int_equal(sb_write_atomic(path, "half", 4, &err), SB_EIO);
    assert_non_null(strstr(err.msg, "cannot create"));
    text = read_file(path);
    assert_string_equal(text, "{\"new\": 1}");
    free(text);
    rmdir(blocker);
    /* no temporary left behind */
    d = opendir(tmpdir);
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) leftovers++;
    closedir(d);
    assert_int_equal(leftovers, 0);
}

/* A link planted at the predictable temp name (issue 19, item 6) must not
 * make the write overwrite its target: the victim stays as it was, and the
 * new file is a regular file in its place. */
static void test_atomic_write_ignores_planted_link(void **state) {
    char path[400], tmp[500], victim[400], *text;
    sb_error err = {0};
    struct stat st;
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s/planted.json", tmpdir);
    snprintf(victim, sizeof victim, "%s/victim.txt", tmpdir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    assert_non_null(f = fopen(victim, "w"));
    fputs("precious", f);
    fclose(f);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(sb_write_atomic(path, "{\"new\": 1}", 10, &err), 0);
    text = read_file(victim);
    assert_string_equal(text, "precious");
    free(text);
    text = read_file(path);
    assert_string_equal(text, "{\"new\": 1}");
    free(text);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(tmp, &st), -1);
}

static void test_results_folder(void **state) {
    char body[1024], path[700];
    sb_config cfg;
    sb_run_opts o = {0};
    sb_run_summary sum;
    sb_error err = {0};
    struct stat st;
    const char *files[] = {"results.json", "results.csv", "table.md"};
    size_t i;
    (void)state;
    n_runs++;
    snprintf(body, sizeof body, "[dataset]\nplugin = \"fake\"\nn = 8\n[[model]]\nplugin = \"fake\"\n"
             "[[backend]]\nname = \"a\"\nplugin = \"fake\"\n[[backend]]\nname = \"b\"\nplugin = \"fake\"\n"
             "energy_pj = 9000\nenergy_pj_source = \"assumption: test\"\n");
    load_cfg(body, &cfg);
    o.quiet = 1;
    assert_int_equal(sb_run_bench(&cfg, &o, &sum, &err), 0);
    sb_config_free(&cfg);
    /* <output>/<YYYYmmdd-HHMMSS>-<name> */
    snprintf(path, sizeof path, "%s/results/", tmpdir);
    assert_int_equal(strncmp(sum.out_dir, path, strlen(path)), 0);
    assert_int_equal(strlen(sum.out_dir), strlen(path) + 15 + 2);
    assert_string_equal(sum.out_dir + strlen(sum.out_dir) - 2, "-t");
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", sum.out_dir, files[i]);
        if (stat(path, &st) != 0) print_error("missing %s\n", path);
        assert_int_equal(stat(path, &st), 0);
    }
    /* A name past NAME_MAX (bench.toml refuses one, a caller may not): the
     * reason is said at once, not "cannot create" after 99 tries. */
    load_cfg(body, &cfg);
    free(cfg.name);
    cfg.name = malloc(301);
    assert_non_null(cfg.name);
    memset(cfg.name, 'n', 300);
    cfg.name[300] = 0;
    assert_int_equal(sb_run_bench(&cfg, &o, &sum, &err), SB_EIO);
    sb_config_free(&cfg);
    snprintf(path, sizeof path, "%s/results/", tmpdir);
    if (!strstr(err.msg, "cannot create the results folder: File name too long")) print_error("%s\n", err.msg);
    assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
    assert_non_null(strstr(err.msg, "nnn: cannot create the results folder: File name too long"));
}

static void test_no_git_on_path(void **state) {
    char out[512], path[700], *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    sb_run_opts o = {0};
    sb_run_summary sum;
    sb_error err = {0};
    struct stat st;
    (void)state;
    o.no_charts = 0;
    setenv("PATH", "/nonexistent", 1); /* no git to be found */
    snprintf(out, sizeof out, "%s/out-%d", tmpdir, n_runs + 1);
    {
        sb_config cfg;
        n_runs++;
        load_cfg("[dataset]\nplugin = \"fake\"\nn = 4\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\n", &cfg);
        o.out_dir = out;
        o.quiet = 1;
        assert_int_equal(sb_run_bench(&cfg, &o, &sum, &err), 0);
        sb_config_free(&cfg);
    }
    if (old_path) setenv("PATH", old_path, 1);
    free(old_path);
    snprintf(path, sizeof path, "%s/results.json", out);
    assert_int_equal(stat(path, &st), 0);
    {
        cJSON *root = read_json(out);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "environment"), "git_revision")));
        cJSON_Delete(root);
    }
}

static void test_selection(void **state) {
    char out[512], out2[512];
    sb_run_summary sum;
    sb_error err = {0};
    cJSON *a, *b;
    const cJSON *sa, *sb_;
    int i;
    const char *body = "[dataset]\nplugin = \"fake\"\nn = 40\nclasses = 3\nper_class = 4\nlimit = 10\nshuffle = true\nseed = 9\n"
                       "[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\n";
    (void)state;
    assert_int_equal(run_cfg(body, NULL, &sum, out, &err), 0);
    assert_int_equal(run_cfg(body, NULL, &sum, out2, &err), 0);
    a = read_json(out);
    b = read_json(out2);
    sa = cJSON_GetObjectItem(job_at(a, 0), "samples");
    sb_ = cJSON_GetObjectItem(job_at(b, 0), "samples");
    assert_int_equal(cJSON_GetArraySize(sa), 10);
    {
        int count[3] = {0}, ordered = 1;
        for (i = 0; i < 10; i++) {
            const cJSON *s = cJSON_GetArrayItem(sa, i);
            count[cJSON_GetObjectItem(s, "label")->valueint]++;
            /* same seed, same selection */
            assert_int_equal(cJSON_GetObjectItem(s, "index")->valueint,
                             cJSON_GetObjectItem(cJSON_GetArrayItem(sb_, i), "index")->valueint);
            if (i && cJSON_GetObjectItem(s, "index")->valueint < cJSON_GetObjectItem(cJSON_GetArrayItem(sa, i - 1), "index")->valueint)
                ordered = 0;
        }
        for (i = 0; i < 3; i++) assert_true(count[i] <= 4);
        assert_false(ordered); /* shuffled */
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void test_config_errors_before_any_job(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    struct stat st;
    (void)state;
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"nosuch\"\n",
                             NULL, &sum, out, &err), SB_ENOENT);
    assert_non_null(strstr(err.msg, ":9:1: backend 'nosuch': backend plugin 'nosuch' not found"));
    assert_int_equal(stat(out, &st), -1); /* nothing written */
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nsizee = 3\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\n",
                             NULL, &sum, out, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, ":7:1: unknown option 'sizee' for dataset plugin 'fake'"));
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"fake\"\nlatency_ns = 5\n",
                             NULL, &sum, out, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "latency_ns_source"));
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\n[[model]]\nplugin = \"fake\"\n[[backend]]\nplugin = \"badabi\"\n",
                             NULL, &sum, out, &err), SB_EABI);
}

/* A model whose classes are not the dataset's (in number, names or order)
 * is a config error before any job or results folder: it was a failed job
 * (count) or, for names in another order, wrong figures with exit 0. */
static void expect_class_error(const char *model, const char *says) {
    char out[512], text[512];
    sb_run_summary sum;
    sb_error err = {0};
    struct stat st;
    snprintf(text, sizeof text, "[dataset]\nplugin = \"fake\"\nclasses = 3\n[[model]]\nplugin = \"fake\"\n%s\n"
             "[[backend]]\nplugin = \"fake\"\n", model);
    assert_int_equal(run_cfg(text, NULL, &sum, out, &err), SB_EINVAL);
    if (!strstr(err.msg, ":1: model 'fake' ") || !strstr(err.msg, says)) fail_msg("message: %s", err.msg);
    assert_int_equal(stat(out, &st), -1); /* nothing written */
}

static void test_class_mismatch(void **state) {
    char out[512];
    sb_run_summary sum;
    sb_error err = {0};
    (void)state;
    expect_class_error("classes = 4", "model 'fake' has 4 classes but dataset 'fake' has 3: expected the same");
    expect_class_error("class_names = [\"c1\", \"c0\", \"c2\"]",
                       "model 'fake' classes [c1, c0, c2] are not dataset 'fake' classes [c0, c1, c2]: class 0 is "
                       "'c1' in the model, 'c0' in the dataset: expected the same classes in the same order");
    /* the same names, in another case: the same classes */
    assert_int_equal(run_cfg("[dataset]\nplugin = \"fake\"\nclasses = 3\n[[model]]\nplugin = \"fake\"\n"
                             "class_names = [\"C0\", \"c1\", \"C2\"]\n[[backend]]\nplugin = \"fake\"\n",
                             NULL, &sum, out, &err), 0);
    assert_int_equal(sum.n_ok, 1);
}

/* The alias table: HAM10000's dx codes and their long names. */
static void test_class_aliases(void **state) {
    (void)state;
    assert_true(sb_class_same("MEL", "mel"));
    assert_true(sb_class_same("melanocytic nevi", "nv"));
    assert_true(sb_class_same("Actinic keratoses", "actinic keratoses and intraepithelial carcinoma"));
    assert_true(sb_class_same("benign keratosis", "BKL"));
    assert_false(sb_class_same("melanoma", "nv"));
    assert_false(sb_class_same("c0", "c1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_jobs_complete),
        cmocka_unit_test(test_failing_jobs_do_not_stop_others),
        cmocka_unit_test(test_failing_image),
        cmocka_unit_test(test_random_weights_no_accuracy),
        cmocka_unit_test(test_bad_output_scale),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_mixed_provenance_is_null),
        cmocka_unit_test(test_metrics_overflow_recorded),
        cmocka_unit_test(test_minor_versions_run),
        cmocka_unit_test(test_failing_dataset),
        cmocka_unit_test(test_stop_keeps_finished),
        cmocka_unit_test(test_sigint_keeps_finished),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_atomic_write_ignores_planted_link),
        cmocka_unit_test(test_results_folder),
        cmocka_unit_test(test_no_git_on_path),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_config_errors_before_any_job),
        cmocka_unit_test(test_class_mismatch),
        cmocka_unit_test(test_class_aliases),
    };
    unsetenv("SRAMBENCH_PLUGIN_PATH");
    sb_runner_set_workers(2);
    return cmocka_run_group_tests(tests, setup, teardown);
}
