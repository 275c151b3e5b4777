/*
 * sb_resume.c - completing a run from its results.json.
 *
 * Finished jobs are kept as the JSON they were written as (job_json()
 * writes them back verbatim), so a resume can never change a figure that
 * was already reported; their table figures are read back from it.
 */
#include "sb_resume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "sb_inputs.h"
#include "sb_report.h"
#include "sb_results.h"
#include "sb_util.h"

static const char *jstr(const cJSON *o, const char *key) { return sb_json_str(o, key, NULL); }

/* The first place where two configs differ, as a dotted path ("backend[1].
 * sram.capacity_bytes"), written into buf. */
static void first_difference(const cJSON *a, const cJSON *b, char *buf, size_t len) {
    size_t used = strlen(buf);
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, a) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (y && cJSON_Compare(x, y, 1)) continue;
            snprintf(buf + used, len - used, "%s%s", used ? "." : "", x->string);
            if (y) first_difference(x, y, buf, len);
            return;
        }
        cJSON_ArrayForEach(x, b)
            if (!cJSON_GetObjectItemCaseSensitive(a, x->string)) {
                snprintf(buf + used, len - used, "%s%s", used ? "." : "", x->string);
                return;
            }
    } else if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
        int i, n = cJSON_GetArraySize(a);
        for (i = 0; i < n; i++)
            if (!cJSON_Compare(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), 1)) {
                snprintf(buf + used, len - used, "[%d]", i);
                first_difference(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), buf, len);
                return;
            }
    }
}

static int same_config(const sb_run *run, const cJSON *res, const char *path, sb_error *err) {
    cJSON *now = sb_results_config_json(run->cfg->root);
    const cJSON *then = cJSON_GetObjectItemCaseSensitive(res, "config");
    char where[512] = "";
    int same = now && then && cJSON_Compare(now, then, 1);
    if (!same && now && then) first_difference(then, now, where, sizeof where);
    cJSON_Delete(now);
    if (same) return 0;
    return sb_error_set(err, SB_EINVAL,
                        "%s: the run was made with another config than %s (first difference: %s): expected the "
                        "bench.toml as it was when the run started (srambench resume --config FILE)",
                        path, run->cfg->path, where[0] ? where : "the whole config");
}

/* 1 when a job that ended so is kept as written, 0 when it runs again. */
static int final_status(const char *s, unsigned rerun, sb_job_status *st) {
    if (!s) return 0;
    if (strcmp(s, "ok") == 0) *st = SB_JOB_OK;
    else if (strcmp(s, "failed") == 0 && !(rerun & SB_RESUME_RERUN_FAILED)) *st = SB_JOB_FAILED;
    else if (strcmp(s, "unavailable") == 0) *st = SB_JOB_UNAVAILABLE;
    else if (strcmp(s, "killed") == 0 && !(rerun & SB_RESUME_RERUN_KILLED)) *st = SB_JOB_KILLED;
    else return 0;
    return 1;
}

/* A count field: 0 when absent, negative or beyond any count (it is
 * converted to size_t, which a NaN or 1e300 must not reach). */
static double jnum(const cJSON *o, const char *key) {
    double v = sb_json_num(o, key);
    return v >= 0 && v <= 1e15 ? v : 0; /* NaN too */
}

static int restore_jobs(sb_run *run, const cJSON *jobs, const char *path, unsigned rerun, sb_error *err) {
    size_t i;
    if (cJSON_GetArraySize(jobs) != (int)run->n_jobs)
        return sb_error_set(err, SB_EINVAL, "%s: %d jobs, but the config makes %zu: expected the same jobs", path,
                            cJSON_GetArraySize(jobs), run->n_jobs);
    for (i = 0; i < run->n_jobs; i++) {
        sb_job *job = &run->jobs[i];
        const cJSON *o = cJSON_GetArrayItem(jobs, (int)i);
        const char *names[3] = {run->datasets[job->ds].cfg->inst.name, run->models[job->model].cfg->name,
                                run->backends[job->be].cfg->name};
        const char *keys[3] = {"dataset", "model", "backend"};
        const char *err_msg = jstr(o, "error");
        int k;
        for (k = 0; k < 3; k++)
            if (!jstr(o, keys[k]) || strcmp(jstr(o, keys[k]), names[k]) != 0)
                return sb_error_set(err, SB_EINVAL, "%s: jobs[%zu].%s is '%s': expected '%s' as the config says",
                                    path, i, keys[k], jstr(o, keys[k]) ? jstr(o, keys[k]) : "(missing)", names[k]);
        if (!final_status(jstr(o, "status"), rerun, &job->status)) continue; /* runs again */
        if (!(job->restored = cJSON_Duplicate(o, 1))) return sb_error_set(err, SB_ENOMEM, "out of memory");
        snprintf(job->err.msg, sizeof job->err.msg, "%s", err_msg ? err_msg : "");
        job->err.code = err_msg ? SB_ECRASH : 0;
        job->n = (size_t)jnum(o, "n_selected");
        atomic_store(&job->n_done, (size_t)jnum(o, "n_images"));
        atomic_store(&job->n_skipped, (size_t)jnum(o, "n_skipped"));
        sb_job_figs_from_json(job, cJSON_GetObjectItemCaseSensitive(o, "metrics"));
    }
    return 0;
}

int sb_resume_restore(sb_run *run, const char *dir, unsigned rerun, sb_error *err) {
    cJSON *res = NULL;
    const cJSON *ds, *prev, *sv;
    char *path = sb_strdupf("%s/results.json", dir), now[32];
    time_t t = time(NULL);
    struct tm tm;
    size_t i;
    int rc;
    if (!path) return sb_error_set(err, SB_ENOMEM, "out of memory");
    if ((rc = sb_report_load(dir, &res, err)) < 0) goto out;
    sv = cJSON_GetObjectItemCaseSensitive(res, "schema_version");
    if (!cJSON_IsNumber(sv) || sv->valuedouble != SB_RESULTS_SCHEMA_VERSION) {
        /* say what was there: a string "1" or a missing field is not version 0 */
        char *found = !sv                 ? strdup("no \"schema_version\"")
                      : cJSON_IsNumber(sv) ? sb_strdupf("schema_version %g", sv->valuedouble)
                      : cJSON_IsString(sv) ? sb_strdupf("schema_version is the string \"%.40s\"", sv->valuestring)
                                           : strdup("schema_version is not a number");
        rc = sb_error_set(err, SB_EFORMAT, "%s: %s: expected the number %d (docs/results-schema.md)", path,
                          found ? found : "schema_version", SB_RESULTS_SCHEMA_VERSION);
        free(found);
        goto out;
    }
    if ((rc = same_config(run, res, path, err)) < 0 ||
        (rc = sb_inputs_check(cJSON_GetObjectItemCaseSensitive(res, "inputs"), run->inputs, path, err)) < 0 ||
        (rc = restore_jobs(run, cJSON_GetObjectItemCaseSensitive(res, "jobs"), path, rerun, err)) < 0)
        goto out;
    ds = cJSON_GetObjectItemCaseSensitive(res, "datasets");
    for (i = 0; i < run->cfg->n_datasets && i < (size_t)cJSON_GetArraySize(ds); i++)
        run->datasets[i].restored = cJSON_Duplicate(cJSON_GetArrayItem(ds, (int)i), 1);
    snprintf(run->started_utc, sizeof run->started_utc, "%s", jstr(res, "started_utc") ? jstr(res, "started_utc") : "");
    prev = cJSON_GetObjectItemCaseSensitive(res, "resumed_utc");
    run->resumed_utc = cJSON_IsArray(prev) ? cJSON_Duplicate(prev, 1) : cJSON_CreateArray();
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddItemToArray(run->resumed_utc, cJSON_CreateString(now));
    if (!(run->out_dir = strdup(dir))) rc = sb_error_set(err, SB_ENOMEM, "out of memory");
out:
    cJSON_Delete(res);
    free(path);
    return rc;
}

/* o[key] = v, whether or not o had it (a results.json may lack a field:
 * replacing alone would drop v, and leak it). */
static void set_item(cJSON *o, const char *key, cJSON *v) {
    if (!cJSON_ReplaceItemInObjectCaseSensitive(o, key, v) && !cJSON_AddItemToObject(o, key, v)) cJSON_Delete(v);
}

/* Every figure null with the reason, as sb_job_compute() does for a failed job. */
static void null_metrics(cJSON *job, const char *status, const char *why) {
    cJSON *m = cJSON_GetObjectItemCaseSensitive(job, "metrics"), *f;
    char *note = sb_strdupf("job %s: %s", status, why);
    cJSON_ArrayForEach(f, m) {
        if (!cJSON_IsObject(f)) continue;
        set_item(f, "value", cJSON_CreateNull());
        set_item(f, "provenance", cJSON_CreateNull());
        set_item(f, "note", note ? cJSON_CreateString(note) : cJSON_CreateNull());
    }
    free(note);
}

/* results.json of dir, rewritten whole from res (atomically, as the runner writes it). */
static int write_back(const cJSON *res, const char *path, sb_error *err) {
    char *text = cJSON_Print(res);
    int rc = text ? sb_write_atomic(path, text, strlen(text), err) : sb_error_set(err, SB_ENOMEM, "out of memory");
    free(text);
    return rc;
}

int sb_resume_mark_failed(const char *dir, size_t job, const char *why, sb_error *err) {
    return sb_resume_mark_job(dir, job, "failed", why, err);
}

int sb_resume_mark_job(const char *dir, size_t job, const char *status, const char *why, sb_error *err) {
    cJSON *res = NULL, *o;
    char *path = sb_strdupf("%s/results.json", dir);
    int rc;
    if (!path) return sb_error_set(err, SB_ENOMEM, "out of memory");
    if ((rc = sb_report_load(dir, &res, err)) < 0) goto out;
    if (!(o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "jobs"), (int)job))) {
        rc = sb_error_set(err, SB_EFORMAT, "%s: no job %zu", path, job);
        goto out;
    }
    set_item(o, "status", cJSON_CreateString(status));
    set_item(o, "error", cJSON_CreateString(why));
    set_item(o, "n_images", cJSON_CreateNumber(0));
    set_item(o, "samples", cJSON_CreateArray());
    null_metrics(o, status, why);
    rc = write_back(res, path, err);
out:
    cJSON_Delete(res);
    free(path);
    return rc;
}

int sb_resume_mark_interrupted(const char *dir, sb_error *err) {
    cJSON *res = NULL;
    char *path = sb_strdupf("%s/results.json", dir);
    int rc;
    if (!path) return sb_error_set(err, SB_ENOMEM, "out of memory");
    if ((rc = sb_report_load(dir, &res, err)) == 0 && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "interrupted"))) {
        set_item(res, "interrupted", cJSON_CreateTrue());
        rc = write_back(res, path, err);
    }
    cJSON_Delete(res);
    free(path);
    return rc < 0 ? rc : 0;
}

char *sb_resume_config_file(const char *dir, sb_error *err) {
    cJSON *res = NULL;
    char *file = NULL;
    if (sb_report_load(dir, &res, err) < 0) return NULL;
    if (!jstr(res, "config_file"))
        sb_error_set(err, SB_EFORMAT, "%s/results.json: no \"config_file\": give the bench.toml with --config", dir);
    else if (!(file = strdup(jstr(res, "config_file"))))
        sb_error_set(err, SB_ENOMEM, "out of memory");
    cJSON_Delete(res);
    return file;
}
