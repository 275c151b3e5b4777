/*
 * sb_inputs.c - fingerprints of the files a run reads (results.json "inputs").
 *
 * bench.toml is recorded whole in results.json, so a resume notices when it
 * changed; but a model or dataset is named there by its path only, and a file
 * replaced under the same name would let `srambench resume` mix the figures of
 * two models (or datasets) in one run without a word. So each instance's
 * `path` file is fingerprinted when the run starts, and a resume refuses when
 * a fingerprint differs.
 *
 * What is fingerprinted, and why (docs/results-schema.md "inputs"):
 *   model file      size + FNV-1a 64 of its content: models are small (MB),
 *                   and a content hash does not mind a copy that kept the bytes.
 *   dataset file    size + mtime: such files can be GBs (dermamnist 224 npz),
 *                   and reading them whole at every start would cost seconds;
 *                   size + mtime is what make and rsync trust.
 *   dataset folder  size + mtime of each regular file directly in it (sorted
 *                   by name): catches an edited metadata or split table
 *                   (HAM10000_metadata.csv) without walking 10000 images.
 */
#include "sb_inputs.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_file.h"
#include "sb_hash.h" /* header-only use: sb_fnv1a64 is inline, nothing linked */
#include "sb_util.h"

static uint64_t mtime_ns(const struct stat *st) {
    return (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
}

/* "content <size> <fnv>" of a regular file, or "unreadable: why". */
static char *content_fp(const char *path, const struct stat *st) {
    enum { BUF = 1 << 16 };
    unsigned char *buf = malloc(BUF);
    uint64_t h = SB_FNV1A64_INIT;
    ssize_t n = 0;
    struct stat now;
    /* the file may have become a FIFO since the caller's stat */
    int fd = sb_open_regular_fd(path, &now), e;
    if (fd == SB_FILE_NOT_REGULAR) {
        free(buf);
        return strdup("not a regular file");
    }
    if (fd < 0 || !buf) {
        e = fd < 0 ? errno : ENOMEM;
        if (fd >= 0) close(fd);
        free(buf);
        return sb_strdupf("unreadable: %s", strerror(e));
    }
    while ((n = read(fd, buf, BUF)) > 0) h = sb_fnv1a64(h, buf, (size_t)n);
    e = errno;
    close(fd);
    free(buf);
    if (n < 0) return sb_strdupf("unreadable: %s", strerror(e));
    return sb_strdupf("content size %lld fnv1a64 %016" PRIx64, (long long)st->st_size, h);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "folder <n files> <fnv of name, size, mtime of each>", or "unreadable: why". */
static char *folder_fp(const char *path) {
    DIR *d = opendir(path);
    struct dirent *e;
    char **names = NULL, *fp;
    size_t n = 0, cap = 0, i;
    uint64_t h = SB_FNV1A64_INIT;
    if (!d) return sb_strdupf("unreadable: %s", strerror(errno));
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') { /* hidden files: editors' and tools' droppings */
            if (n == cap) {
                char **x = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
                if (!x) break;
                names = x;
            }
            if (!(names[n] = strdup(e->d_name))) break;
            n++;
        }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name); /* names is NULL for an empty folder */
    size_t n_files = 0;
    for (i = 0; i < n; i++) {
        struct stat st;
        char *f = sb_strdupf("%s/%s", path, names[i]);
        if (f && stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
            uint64_t sz = (uint64_t)st.st_size, mt = mtime_ns(&st);
            h = sb_fnv1a64(h, names[i], strlen(names[i]) + 1);
            h = sb_fnv1a64(h, &sz, sizeof sz);
            h = sb_fnv1a64(h, &mt, sizeof mt);
            n_files++;
        }
        free(f);
        free(names[i]);
    }
    free(names);
    fp = sb_strdupf("folder files %zu stat-fnv1a64 %016" PRIx64, n_files, h);
    return fp;
}

/* The entry of one instance whose `path` option is `p`, or NULL if it has none. */
static cJSON *entry(const char *section, const char *name, const char *root, const char *p, int content) {
    cJSON *o;
    char *joined, *fp, real[PATH_MAX];
    struct stat st;
    if (!p || !p[0]) return NULL;
    if (!(joined = p[0] == '/' || !root ? strdup(p) : sb_path_join(root, p))) return NULL;
    const char *abs = realpath(joined, real) ? real : joined;
    if (stat(abs, &st) != 0) fp = sb_strdupf("missing: %s", strerror(errno));
    else if (S_ISDIR(st.st_mode)) fp = folder_fp(abs);
    else if (!S_ISREG(st.st_mode)) fp = strdup("not a regular file"); /* a FIFO would block the read */
    else if (content) fp = content_fp(abs, &st);
    else fp = sb_strdupf("stat size %lld mtime_ns %" PRIu64, (long long)st.st_size, mtime_ns(&st));
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "section", section);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "path", abs);
    cJSON_AddStringToObject(o, "fingerprint", fp ? fp : "unknown: out of memory");
    free(fp);
    free(joined);
    return o;
}

cJSON *sb_inputs_json(const sb_run *run) {
    cJSON *arr = cJSON_CreateArray(), *o;
    size_t i;
    for (i = 0; i < run->cfg->n_models; i++) {
        const sb_run_model *m = &run->models[i];
        if ((o = entry("model", m->cfg->name, run->cfg->dir, sb_opt_str(&m->opts.opts, "path", NULL), 1)))
            cJSON_AddItemToArray(arr, o);
    }
    for (i = 0; i < run->cfg->n_datasets; i++) {
        const sb_run_dataset *d = &run->datasets[i];
        if ((o = entry("dataset", d->cfg->inst.name, run->cfg->dir, sb_opt_str(&d->opts.opts, "path", NULL), 0)))
            cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* One instance's `path`: 0, or SB_EINVAL naming the bench.toml line. */
static int check_path(const char *section, const char *name, const char *root, const sb_option *o, sb_error *err) {
    char *joined;
    struct stat st;
    const char *why = NULL;
    int rc = 0;
    if (!o || o->type != SB_OPT_STRING || !o->s || !o->s[0]) return 0; /* the plugin's default, or its own error */
    if (!(joined = o->s[0] == '/' || !root ? strdup(o->s) : sb_path_join(root, o->s)))
        return sb_error_set(err, SB_ENOMEM, "out of memory");
    if (stat(joined, &st) != 0) why = strerror(errno);
    else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) why = "not a regular file or folder (a device, FIFO or socket)";
    if (why)
        rc = sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s '%s': path = \"%s\": %s: %s: expected an existing file or "
                          "folder (a relative path is relative to %s)", o->file, o->line, o->col, section, name, o->s,
                          joined, why, root ? root : ".");
    free(joined);
    return rc;
}

int sb_inputs_check_paths(const sb_run *run, sb_error *err) {
    size_t i;
    int rc = 0;
    for (i = 0; rc == 0 && i < run->cfg->n_models; i++) {
        const sb_run_model *m = &run->models[i];
        rc = check_path("[[model]]", m->cfg->name, run->cfg->dir, sb_opt_find(&m->opts.opts, "path"), err);
    }
    for (i = 0; rc == 0 && i < run->cfg->n_datasets; i++) {
        const sb_run_dataset *d = &run->datasets[i];
        rc = check_path("[dataset]", d->cfg->inst.name, run->cfg->dir, sb_opt_find(&d->opts.opts, "path"), err);
    }
    return rc;
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int sb_inputs_check(const cJSON *then, const cJSON *now, const char *results, sb_error *err) {
    const cJSON *a, *b;
    if (!then) return 0; /* written before srambench recorded inputs: nothing to compare */
    if (!cJSON_IsArray(then))
        return sb_error_set(err, SB_EFORMAT, "%s: \"inputs\" is not an array: expected the fingerprints of the "
                                             "run's model and dataset files (docs/results-schema.md)", results);
    cJSON_ArrayForEach(b, now) {
        const char *sec = str(b, "section"), *name = str(b, "name"), *path = str(b, "path"), *fp = str(b, "fingerprint");
        const char *was = NULL;
        cJSON_ArrayForEach(a, then)
            if (str(a, "section") && str(a, "name") && strcmp(str(a, "section"), sec) == 0 &&
                strcmp(str(a, "name"), name) == 0) {
                was = str(a, "fingerprint");
                break;
            }
        if (!was || strcmp(was, fp) != 0)
            return sb_error_set(err, SB_EINVAL,
                                "%s: %s '%s': %s changed since the run started (then: %s; now: %s): expected the "
                                "same file, else its jobs would mix two %ss in one run: start a new run",
                                results, sec, name, path, was ? was : "not recorded", fp, sec);
    }
    return 0;
}
