/*
 * sb_results.c - writes the files of a run (docs/results-schema.md).
 *
 * results.json is the contract with users' scripts: fields are only ever
 * added, never renamed or removed, without bumping schema_version.
 */
#include "sb_results.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sb_config.h"
#include "sb_timed.h"
#include "sb_util.h"

#ifndef SB_VERSION
#define SB_VERSION "0.1.0"
#endif

/* ------------------------------------------------------------ helpers */

/* Appends raw bytes: a PNG on stdout holds NULs, where "%.*s" would stop. */
static void buf_append(sb_buf *b, const char *p, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *s;
        while (cap < b->len + n + 1) cap *= 2;
        if (!(s = realloc(b->s, cap))) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

int sb_run_program(const char *dir, char *const argv[], char **out) {
    return sb_run_capture(dir, argv, out, NULL);
}

int sb_run_capture(const char *dir, char *const argv[], char **out, size_t *out_len) {
    int pfd[2], status = 0;
    pid_t pid;
    sb_buf b = {0};
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (pipe(pfd) != 0) return -1;
    pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(pfd[1], 1);
        /* children's chatter (git's "not a repository", gnuplot's range
         * warnings) is not ours to show; the exit status says enough */
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);
            if (!out) dup2(devnull, 1);
        }
        close(pfd[0]);
        close(pfd[1]);
        if (dir && chdir(dir) != 0) _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        char buf[512];
        ssize_t n = read(pfd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf_append(&b, buf, (size_t)n);
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (b.oom) sb_buf_free(&b);
    if (out_len) *out_len = b.len;
    if (out) *out = b.s;
    else sb_buf_free(&b);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void chomp(char *s) {
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) s[--n] = 0;
}

/* ------------------------------------------------------------ environment */

static char *cpu_model(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    if (!f) return NULL;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                fclose(f);
                c++;
                while (*c == ' ' || *c == '\t') c++;
                chomp(c);
                return strdup(c);
            }
        }
    }
    fclose(f);
    return NULL;
}

static cJSON *environment(const sb_run *run) {
    cJSON *env = cJSON_CreateObject();
    char *cpu = cpu_model(), *rev = NULL, *dirty = NULL;
    char *git_rev[] = {"git", "-C", run->cfg->dir, "rev-parse", "HEAD", NULL};
    char *git_st[] = {"git", "-C", run->cfg->dir, "status", "--porcelain", "--untracked-files=no", NULL};
    struct utsname u;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpu) cJSON_AddStringToObject(env, "cpu_model", cpu);
    else cJSON_AddNullToObject(env, "cpu_model");
    cJSON_AddNumberToObject(env, "cores", (double)cores);
#if defined(__clang__)
    cJSON_AddStringToObject(env, "compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
    cJSON_AddStringToObject(env, "compiler", "gcc " __VERSION__);
#else
    cJSON_AddStringToObject(env, "compiler", "unknown");
#endif
    if (sb_run_program(NULL, git_rev, &rev) == 0 && rev) {
        chomp(rev);
        cJSON_AddStringToObject(env, "git_revision", rev);
        if (sb_run_program(NULL, git_st, &dirty) == 0)
            cJSON_AddBoolToObject(env, "git_dirty", dirty && dirty[0] != 0);
        else
            cJSON_AddNullToObject(env, "git_dirty");
    } else {
        cJSON_AddNullToObject(env, "git_revision");
        cJSON_AddNullToObject(env, "git_dirty");
    }
    if (uname(&u) == 0) {
        char *os = sb_strdupf("%s %s %s", u.sysname, u.release, u.machine);
        cJSON_AddStringToObject(env, "os", os ? os : "");
        free(os);
    }
    cJSON_AddNumberToObject(env, "workers", run->cfg->workers);
    sb_host_state_json(env);
    free(cpu);
    free(rev);
    free(dirty);
    return env;
}

/* ------------------------------------------------------------ config */

cJSON *sb_results_config_json(const sb_toml *t) {
    size_t i;
    cJSON *j;
    switch (t->type) {
    case SB_TOML_STRING: return cJSON_CreateString(t->s);
    case SB_TOML_INT: return cJSON_CreateNumber((double)t->i);
    case SB_TOML_FLOAT: return isfinite(t->f) ? cJSON_CreateNumber(t->f) : cJSON_CreateNull();
    case SB_TOML_BOOL: return cJSON_CreateBool(t->b);
    case SB_TOML_ARRAY:
        j = cJSON_CreateArray();
        for (i = 0; i < t->n; i++) cJSON_AddItemToArray(j, sb_results_config_json(t->kids[i]));
        return j;
    case SB_TOML_TABLE:
        j = cJSON_CreateObject();
        for (i = 0; i < t->n; i++) cJSON_AddItemToObject(j, t->kids[i]->key, sb_results_config_json(t->kids[i]));
        return j;
    }
    return cJSON_CreateNull();
}

/* ------------------------------------------------------------ jobs */

static cJSON *fig_json(const sb_fig *f) {
    cJSON *o = cJSON_CreateObject();
    if (f->has && isfinite(f->value)) cJSON_AddNumberToObject(o, "value", f->value);
    else cJSON_AddNullToObject(o, "value");
    if (f->has && f->prov) cJSON_AddStringToObject(o, "provenance", f->prov);
    else cJSON_AddNullToObject(o, "provenance");
    cJSON_AddStringToObject(o, "unit", f->unit ? f->unit : "");
    if (f->note) cJSON_AddStringToObject(o, "note", f->note);
    else cJSON_AddNullToObject(o, "note");
    return o;
}

static cJSON *sample_json(const sb_run_dataset *ds, const sb_job *job, size_t i) {
    const sb_sample *s = &job->samples[i];
    const char *id = ds->api->sample_id ? ds->api->sample_id(ds->h, ds->sel[i]) : NULL;
    cJSON *o = cJSON_CreateObject(), *top = cJSON_CreateArray(), *m = cJSON_CreateObject();
    int k;
    cJSON_AddNumberToObject(o, "index", (double)ds->sel[i]);
    if (id) cJSON_AddStringToObject(o, "id", id);
    else cJSON_AddNullToObject(o, "id");
    cJSON_AddNumberToObject(o, "label", ds->api->label(ds->h, ds->sel[i]));
    cJSON_AddNumberToObject(o, "pred", s->pred);
    cJSON_AddNumberToObject(o, "confidence", s->confidence);
    for (k = 0; k < 3 && s->top_cls[k] >= 0; k++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "class", s->top_cls[k]);
        cJSON_AddNumberToObject(t, "p", s->top_p[k]);
        cJSON_AddItemToArray(top, t);
    }
    cJSON_AddItemToObject(o, "top3", top);
    if (s->n_out > 0) {
        cJSON *lg = cJSON_AddArrayToObject(o, "logits"), *pr = cJSON_AddArrayToObject(o, "probs");
        for (k = 0; k < s->n_out; k++) {
            cJSON_AddItemToArray(lg, cJSON_CreateNumber(s->logits[k]));
            cJSON_AddItemToArray(pr, cJSON_CreateNumber(s->probs[k]));
        }
    }
    for (k = 0; k < s->metrics.n; k++) {
        const sb_metric *x = &s->metrics.items[k];
        if (!x->name) continue;
        if (x->prov == SB_PROV_UNAVAILABLE || !isfinite(x->value)) cJSON_AddNullToObject(m, x->name);
        else cJSON_AddNumberToObject(m, x->name, x->value);
    }
    cJSON_AddItemToObject(o, "metrics", m);
    return o;
}

/* The images the dataset marked unreadable: not scored, listed. */
static void skipped_json(cJSON *o, const sb_run_dataset *ds, const sb_job *job) {
    cJSON *arr = cJSON_CreateArray();
    size_t i;
    for (i = 0; job->samples && ds->h && i < job->n; i++) {
        const char *id;
        cJSON *x;
        if (!job->samples[i].skipped) continue;
        id = ds->api->sample_id ? ds->api->sample_id(ds->h, ds->sel[i]) : NULL;
        x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "index", (double)ds->sel[i]);
        if (id) cJSON_AddStringToObject(x, "id", id);
        else cJSON_AddNullToObject(x, "id");
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddNumberToObject(o, "n_skipped", (double)cJSON_GetArraySize(arr));
    cJSON_AddItemToObject(o, "skipped", arr);
}

/* Inline values over sourced figures given no source: key -> the source
 * the framework recorded ("user override, unsourced (bench.toml:12)"). */
static cJSON *unsourced_json(const sb_options *o) {
    cJSON *u = cJSON_CreateObject();
    char key[256];
    for (size_t i = 0; o && i < o->n; i++) {
        size_t stem = sb_option_unsourced_stem(&o->items[i]);
        if (!stem) continue;
        snprintf(key, sizeof key, "%.*s", (int)stem, o->items[i].key);
        cJSON_AddStringToObject(u, key, o->items[i].s);
    }
    return u;
}

static void prefix_simulated_notes(cJSON *figs, const char *keys) {
    cJSON *f;
    cJSON_ArrayForEach(f, figs) {
        const cJSON *prov = cJSON_GetObjectItemCaseSensitive(f, "provenance");
        const cJSON *note = cJSON_GetObjectItemCaseSensitive(f, "note");
        char *text;
        if (!cJSON_IsString(prov) || strcmp(prov->valuestring, "simulated") != 0) continue;
        text = sb_strdupf("simulated (with unsourced overrides: %s)%s%s", keys, cJSON_IsString(note) ? "; " : "",
                          cJSON_IsString(note) ? note->valuestring : "");
        if (text) cJSON_ReplaceItemInObjectCaseSensitive(f, "note", cJSON_CreateString(text));
        free(text);
    }
}

void sb_results_note_unsourced(cJSON *job, const sb_options *o) {
    char *keys = sb_options_unsourced(o);
    cJSON_AddItemToObject(job, "unsourced_overrides", unsourced_json(o));
    if (!keys) return;
    prefix_simulated_notes(cJSON_GetObjectItemCaseSensitive(job, "metrics"), keys);
    prefix_simulated_notes(cJSON_GetObjectItemCaseSensitive(job, "backend_metrics"), keys);
    free(keys);
}

/* The softmax temperature the confidences were computed with (1 when the
 * model file has none), so that an ECE can be read against it; null when
 * the model did not load. */
static void add_temperature(cJSON *o, const sb_graph *g) {
    if (!g) cJSON_AddNullToObject(o, "temperature");
    else cJSON_AddNumberToObject(o, "temperature", g->temperature > 0 ? (double)g->temperature : 1.0);
}

static cJSON *job_json(const sb_run *run, const sb_job *job) {
    const sb_run_dataset *ds = &run->datasets[job->ds];
    cJSON *o, *metrics, *bm, *samples;
    size_t i;
    if (job->restored) return cJSON_Duplicate(job->restored, 1); /* resume: as it was written */
    o = cJSON_CreateObject();
    metrics = cJSON_CreateObject();
    bm = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dataset", ds->cfg->inst.name);
    cJSON_AddStringToObject(o, "model", run->models[job->model].cfg->name);
    cJSON_AddStringToObject(o, "backend", run->backends[job->be].cfg->name);
    cJSON_AddStringToObject(o, "backend_plugin", run->backends[job->be].cfg->plugin);
    cJSON_AddStringToObject(o, "model_plugin", run->models[job->model].cfg->plugin);
    cJSON_AddItemToObject(o, "unsourced_overrides", unsourced_json(&run->backends[job->be].opts.opts));
    add_temperature(o, run->models[job->model].graph);
    cJSON_AddStringToObject(o, "status", sb_job_status_name(job->status));
    if (job->err.msg[0]) cJSON_AddStringToObject(o, "error", job->err.msg);
    else cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "n_images", (double)atomic_load(&((sb_job *)job)->n_done));
    cJSON_AddNumberToObject(o, "n_selected", (double)job->n);
    skipped_json(o, ds, job);
    if (job->t1_ns > job->t0_ns && job->t0_ns) cJSON_AddNumberToObject(o, "wall_s", (double)(job->t1_ns - job->t0_ns) * 1e-9);
    else cJSON_AddNullToObject(o, "wall_s");
    for (i = 0; i < SB_FIG_COUNT; i++) {
        sb_fig pending = {0, 0, NULL, sb_fig_units[i], (char *)"job not finished"};
        cJSON_AddItemToObject(metrics, sb_fig_names[i], fig_json(job->figs[i].unit ? &job->figs[i] : &pending));
    }
    cJSON_AddItemToObject(o, "metrics", metrics);
    cJSON_AddItemToObject(o, "timing", sb_timing_json(job->n_warmed, job->repeats, job->timed_ns,
                                                      job->timed_ns ? job->n * (size_t)job->repeats : 0));
    for (i = 0; i < job->n_bm; i++) cJSON_AddItemToObject(bm, job->bm_names[i], fig_json(&job->bm[i]));
    cJSON_AddItemToObject(o, "backend_metrics", bm);
    if (job->warning) {
        cJSON *w = cJSON_AddArrayToObject(o, "warnings");
        cJSON_AddItemToArray(w, cJSON_CreateString(job->warning));
    }
    if (job->report_json) {
        cJSON *rep = cJSON_Parse(job->report_json);
        if (rep) cJSON_AddItemToObject(o, "backend_report", rep);
        else cJSON_AddStringToObject(o, "backend_report_unparsed", job->report_json);
    }
    if (!cJSON_GetObjectItem(o, "backend_report")) cJSON_AddNullToObject(o, "backend_report");
    samples = cJSON_AddArrayToObject(o, "samples");
    for (i = 0; job->samples && ds->h && i < job->n; i++)
        if (job->samples[i].done) cJSON_AddItemToArray(samples, sample_json(ds, job, i));
    return o;
}

static cJSON *datasets_json(const sb_run *run) {
    cJSON *arr = cJSON_CreateArray();
    size_t i;
    int c;
    for (i = 0; i < run->cfg->n_datasets; i++) {
        const sb_run_dataset *ds = &run->datasets[i];
        cJSON *o, *sel, *cls;
        if (!ds->h && ds->restored) { /* resume: not opened again, as it was written */
            cJSON_AddItemToArray(arr, cJSON_Duplicate(ds->restored, 1));
            continue;
        }
        o = cJSON_CreateObject();
        sel = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", ds->cfg->inst.name);
        cJSON_AddStringToObject(o, "plugin", ds->cfg->inst.plugin);
        cJSON_AddNumberToObject(sel, "per_class", (double)ds->cfg->per_class);
        cJSON_AddNumberToObject(sel, "limit", (double)ds->cfg->limit);
        cJSON_AddBoolToObject(sel, "shuffle", ds->cfg->shuffle);
        cJSON_AddNumberToObject(sel, "seed", (double)ds->cfg->seed);
        cJSON_AddItemToObject(o, "selection", sel);
        if (!ds->h) {
            cJSON_AddNullToObject(o, "n_available");
            cJSON_AddNullToObject(o, "n_selected");
            cJSON_AddNullToObject(o, "classes");
            if (ds->open_rc < 0) cJSON_AddStringToObject(o, "error", ds->err.msg);
        } else {
            cJSON_AddNumberToObject(o, "n_available", (double)ds->api->count(ds->h));
            cJSON_AddNumberToObject(o, "n_selected", (double)ds->n_sel);
            cls = cJSON_AddArrayToObject(o, "classes");
            for (c = 0; c < ds->n_classes; c++) {
                cJSON *x = cJSON_CreateObject();
                const char *name = ds->api->class_name ? ds->api->class_name(ds->h, c) : NULL;
                cJSON_AddNumberToObject(x, "index", c);
                if (name) cJSON_AddStringToObject(x, "name", name);
                else cJSON_AddNullToObject(x, "name");
                cJSON_AddNumberToObject(x, "count", (double)ds->class_counts[c]);
                cJSON_AddItemToArray(cls, x);
            }
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* bench.toml's absolute path: as typed it would be relative to the folder
 * the run was started in, and `srambench resume DIR` from any other folder
 * could not find it. Only its folder is resolved: a bench.toml that is a
 * link keeps its own name, as relative paths inside it are from the link's
 * folder (sb_config_load). NULL when the folder does not resolve (a config
 * given as text): then it is written as it is. */
static char *absolute_config_path(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    char real[PATH_MAX], *out = dir && realpath(dir, real) ? sb_path_join(real, slash ? slash + 1 : path) : NULL;
    free(dir);
    return out;
}

static char *results_json(const sb_run *run, int final) {
    cJSON *root = cJSON_CreateObject(), *jobs;
    char now[32], *text, *real = absolute_config_path(run->cfg->path);
    time_t t = time(NULL);
    struct tm tm;
    size_t i;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddNumberToObject(root, "schema_version", SB_RESULTS_SCHEMA_VERSION);
    cJSON_AddStringToObject(root, "srambench_version", SB_VERSION);
    cJSON_AddStringToObject(root, "name", run->cfg->name);
    cJSON_AddStringToObject(root, "started_utc", run->started_utc);
    cJSON_AddStringToObject(root, "written_utc", now);
    cJSON_AddBoolToObject(root, "complete", final);
    cJSON_AddBoolToObject(root, "interrupted", run->interrupted);
    if (run->resumed_utc) cJSON_AddItemToObject(root, "resumed_utc", cJSON_Duplicate(run->resumed_utc, 1));
    cJSON_AddStringToObject(root, "config_file", real ? real : run->cfg->path);
    free(real);
    cJSON_AddItemToObject(root, "config", sb_results_config_json(run->cfg->root));
    if (run->inputs) cJSON_AddItemToObject(root, "inputs", cJSON_Duplicate(run->inputs, 1));
    cJSON_AddItemToObject(root, "environment", environment(run));
    cJSON_AddItemToObject(root, "datasets", datasets_json(run));
    jobs = cJSON_AddArrayToObject(root, "jobs");
    for (i = 0; i < run->n_jobs; i++) cJSON_AddItemToArray(jobs, job_json(run, &run->jobs[i]));
    text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

/* ------------------------------------------------------------ csv, table */

static void csv_str(sb_buf *b, const char *s) {
    sb_buf_printf(b, "\"");
    for (; s && *s; s++) sb_buf_printf(b, *s == '"' ? "\"\"" : "%c", *s == '\n' ? ' ' : *s);
    sb_buf_printf(b, "\"");
}

static char *results_csv(const sb_run *run) {
    sb_buf b = {0};
    size_t i, k;
    sb_buf_printf(&b, "dataset,model,backend,status,n_images");
    for (k = 0; k < SB_FIG_COUNT; k++) sb_buf_printf(&b, ",%s,%s_provenance", sb_fig_names[k], sb_fig_names[k]);
    sb_buf_printf(&b, ",error\n");
    for (i = 0; i < run->n_jobs; i++) {
        const sb_job *j = &run->jobs[i];
        csv_str(&b, run->datasets[j->ds].cfg->inst.name);
        sb_buf_printf(&b, ",");
        csv_str(&b, run->models[j->model].cfg->name);
        sb_buf_printf(&b, ",");
        csv_str(&b, run->backends[j->be].cfg->name);
        sb_buf_printf(&b, ",%s,%zu", sb_job_status_name(j->status), atomic_load(&((sb_job *)j)->n_done));
        for (k = 0; k < SB_FIG_COUNT; k++) {
            const sb_fig *f = &j->figs[k];
            if (f->has) sb_buf_printf(&b, ",%.6g,%s", f->value, f->prov ? f->prov : "");
            else sb_buf_printf(&b, ",,");
        }
        sb_buf_printf(&b, ",");
        csv_str(&b, j->err.msg);
        sb_buf_printf(&b, "\n");
    }
    return b.oom ? (sb_buf_free(&b), NULL) : b.s;
}

static void md_fig(sb_buf *b, const sb_fig *f, const char *fmt) {
    if (!f->has) {
        sb_buf_printf(b, " n/a |");
        return;
    }
    sb_buf_printf(b, " ");
    sb_buf_printf(b, fmt, f->value);
    /* one letter of provenance: readers should never mistake a model for a measurement */
    sb_buf_printf(b, " %s |", !f->prov ? "" : f->prov[0] == 'm' ? "(m)" : f->prov[0] == 's' ? "(sim)" : "(rec)");
}

/* A measured latency whose runs spread widely says so under the table. */
static size_t note_spread_md(sb_buf *b, const sb_run *run, const sb_job *j, size_t n_notes) {
    size_t n_timed = j->timed_ns ? j->n * (size_t)j->repeats : 0;
    cJSON *t = sb_timing_json(j->n_warmed, j->repeats, j->timed_ns, n_timed);
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(t, "note");
    size_t added = cJSON_IsString(note);
    if (added) {
        if (!n_notes) sb_buf_printf(b, "\n");
        sb_buf_printf(b, "- %s x %s: latency: %s\n", run->models[j->model].cfg->name,
                      run->backends[j->be].cfg->name, note->valuestring);
    }
    cJSON_Delete(t);
    return added;
}

/* A simulated figure from an unsourced override is not traceable: say so under the table. */
static size_t note_unsourced_md(sb_buf *b, const sb_run *run, const sb_job *j, size_t n_notes) {
    char *keys = sb_options_unsourced(&run->backends[j->be].opts.opts);
    if (!keys) return 0;
    if (!n_notes) sb_buf_printf(b, "\n");
    sb_buf_printf(b, "- %s x %s: simulated (with unsourced overrides: %s): bench.toml overrides these "
                     "figures of the backend's config file without a `<key>_source` (results.json "
                     "unsourced_overrides)\n", run->models[j->model].cfg->name, run->backends[j->be].cfg->name, keys);
    free(keys);
    return 1;
}

char *sb_results_table_md(const sb_run *run) {
    sb_buf b = {0};
    size_t i, n_notes = 0;
    sb_buf_printf(&b, "| dataset | model | backend | status | images | accuracy | balanced acc. | latency ms "
                      "(median) | latency ms (p95) | throughput img/s | energy mJ/img | power mW |\n");
    sb_buf_printf(&b, "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (i = 0; i < run->n_jobs; i++) {
        const sb_job *j = &run->jobs[i];
        sb_buf_printf(&b, "| %s | %s | %s | %s | %zu |", run->datasets[j->ds].cfg->inst.name,
                      run->models[j->model].cfg->name, run->backends[j->be].cfg->name,
                      sb_job_status_name(j->status), atomic_load(&((sb_job *)j)->n_done));
        md_fig(&b, &j->figs[SB_FIG_ACCURACY], "%.3f");
        md_fig(&b, &j->figs[SB_FIG_BALANCED_ACCURACY], "%.3f");
        md_fig(&b, &j->figs[SB_FIG_LATENCY_MS_MEDIAN], "%.4g");
        md_fig(&b, &j->figs[SB_FIG_LATENCY_MS_P95], "%.4g");
        md_fig(&b, &j->figs[SB_FIG_THROUGHPUT_IPS], "%.4g");
        md_fig(&b, &j->figs[SB_FIG_ENERGY_MJ_PER_IMAGE], "%.4g");
        md_fig(&b, &j->figs[SB_FIG_POWER_MW_AVG], "%.4g");
        sb_buf_printf(&b, "\n");
    }
    sb_buf_printf(&b, "\n(m) measured on this host, (sim) simulated from counted events x sourced costs, "
                      "(rec) recorded elsewhere; n/a: could not be had (see below and results.json).\n");
    for (i = 0; i < run->n_jobs; i++) {
        const sb_job *j = &run->jobs[i];
        static const int why_null[] = {SB_FIG_LATENCY_MS_MEDIAN, SB_FIG_ENERGY_MJ_PER_IMAGE};
        size_t k;
        size_t n_skipped = atomic_load(&((sb_job *)j)->n_skipped);
        if (n_skipped) {
            if (!n_notes++) sb_buf_printf(&b, "\n");
            sb_buf_printf(&b, "- %s x %s: %zu image%s skipped, not scored: the dataset marks them unreadable "
                              "(listed in results.json)\n", run->models[j->model].cfg->name,
                          run->backends[j->be].cfg->name, n_skipped, n_skipped == 1 ? "" : "s");
        }
        n_notes += note_unsourced_md(&b, run, j, n_notes);
        n_notes += note_spread_md(&b, run, j, n_notes);
        if (j->status == SB_JOB_OK) {
            /* an n/a in the table deserves its reason right under it */
            for (k = 0; k < 2; k++) {
                const sb_fig *f = &j->figs[why_null[k]];
                if (f->has || !f->note) continue;
                if (!n_notes++) sb_buf_printf(&b, "\n");
                sb_buf_printf(&b, "- %s x %s: %s n/a: %s\n", run->models[j->model].cfg->name,
                              run->backends[j->be].cfg->name, sb_fig_names[why_null[k]], f->note);
            }
            continue;
        }
        if (!j->err.msg[0]) continue;
        if (!n_notes++) sb_buf_printf(&b, "\n");
        {
            long same = sb_job_same_error_as(run, i);
            if (same >= 0)
                sb_buf_printf(&b, "- %s x %s: %s: same error as %s x %s\n", run->models[j->model].cfg->name,
                              run->backends[j->be].cfg->name, sb_job_status_name(j->status),
                              run->models[run->jobs[same].model].cfg->name, run->backends[run->jobs[same].be].cfg->name);
            else
                sb_buf_printf(&b, "- %s x %s: %s: %s\n", run->models[j->model].cfg->name,
                              run->backends[j->be].cfg->name, sb_job_status_name(j->status), j->err.msg);
        }
    }
    return b.oom ? (sb_buf_free(&b), NULL) : b.s;
}

void sb_results_print_table(const sb_run *run, FILE *out) {
    char *t = sb_results_table_md(run);
    if (t) fputs(t, out);
    free(t);
    fprintf(out, "\nresults: %s\n", run->out_dir);
}

static int write_text(const char *dir, const char *name, const char *text, sb_error *err) {
    char *path = sb_strdupf("%s/%s", dir, name);
    int rc;
    if (!path || !text) {
        free(path);
        return sb_error_set(err, SB_ENOMEM, "out of memory writing %s", name);
    }
    rc = sb_write_atomic(path, text, strlen(text), err);
    free(path);
    return rc;
}

/* ------------------------------------------------------------ all */

void sb_results_snap_free(sb_results_snap *snap) {
    free(snap->json);
    free(snap->csv);
    free(snap->md);
    memset(snap, 0, sizeof *snap);
}

int sb_results_snap_take(const sb_run *run, int final, sb_results_snap *snap, sb_error *err) {
    snap->json = results_json(run, final);
    snap->csv = results_csv(run);
    snap->md = sb_results_table_md(run);
    if (snap->json && snap->csv && snap->md) return SB_OK;
    sb_results_snap_free(snap);
    return sb_error_set(err, SB_ENOMEM, "out of memory writing results.json");
}

int sb_results_snap_write(const char *out_dir, const sb_results_snap *snap, sb_error *err) {
    int rc = write_text(out_dir, "results.json", snap->json, err);
    if (rc == 0) rc = write_text(out_dir, "results.csv", snap->csv, err);
    if (rc == 0) rc = write_text(out_dir, "table.md", snap->md, err);
    return rc;
}

int sb_results_write(const sb_run *run, int final, sb_error *err) {
    sb_results_snap snap = {0};
    int rc = sb_results_snap_take(run, final, &snap, err);
    if (rc == 0) rc = sb_results_snap_write(run->out_dir, &snap, err);
    sb_results_snap_free(&snap);
    return rc;
}
