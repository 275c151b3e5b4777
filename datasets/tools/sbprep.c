/*
 * sbprep - build or validate the ham10000 .sbc cache and write a split
 * manifest, for the Python training tool (tools/train), so that training
 * reads exactly the pixels and the split that the benchmark uses.
 *
 *   sbprep --dataset-dir DIR --size N [--cache-dir D] [--split dermamnist|lesion|all]
 *          [--seed S] [--fractions a,b,c] [--skip-unreadable] [--threads T] --manifest out.csv
 *
 * The manifest is CSV `index,image_id,lesion_id,label,split`, one row per
 * readable image, index = record index in the .sbc file. The cache file's
 * path is the last line on stdout. Logs go to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ham_meta.h"
#include "sb_file.h"
#include "sb_image.h"

typedef struct args {
    const char *dataset_dir, *cache_dir, *split, *manifest;
    int size_px, skip_unreadable, n_threads;
    uint64_t seed;
    double frac[3];
} args;

static void log_stderr(int level, const char *fmt, ...) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    va_list ap;
    fprintf(stderr, "sbprep: %s: ", names[level >= 0 && level <= 3 ? level : 3]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define SBPREP_USAGE \
    "usage: sbprep --dataset-dir DIR --size N [--cache-dir D] [--split dermamnist|lesion|all]\n" \
    "              [--seed S] [--fractions a,b,c] [--skip-unreadable] [--threads T] --manifest out.csv\n"

/* opt: the option at fault (NULL: none); why: what was expected. Exit code 2. */
static int usage(const char *opt, const char *why) {
    fprintf(stderr, "sbprep: %s%s%s\n" SBPREP_USAGE, opt ? opt : "", opt ? ": " : "", why);
    return 2;
}

static int parse_args(int argc, char **argv, args *a) {
    memset(a, 0, sizeof *a);
    a->split = "dermamnist";
    a->n_threads = 2;
    a->frac[0] = 0.7; a->frac[1] = 0.1; a->frac[2] = 0.2;
    a->cache_dir = getenv("SRAMBENCH_CACHE_DIR");
    if (!a->cache_dir || !a->cache_dir[0]) a->cache_dir = ".cache";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(k, "--skip-unreadable") == 0) { a->skip_unreadable = 1; continue; }
        if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) {
            fputs(SBPREP_USAGE, stdout);
            return -1; /* asked for: exit 0 */
        }
        if (!v) return usage(k, "expected a value after it");
        i++;
        if (strcmp(k, "--dataset-dir") == 0) a->dataset_dir = v;
        else if (strcmp(k, "--cache-dir") == 0) a->cache_dir = v;
        else if (strcmp(k, "--split") == 0) a->split = v;
        else if (strcmp(k, "--manifest") == 0) a->manifest = v;
        else if (strcmp(k, "--size") == 0) {
            long s = strtol(v, &end, 10);
            if (*end || s < 1 || s > 4096) return usage(k, "expected an integer 1..4096");
            a->size_px = (int)s;
        } else if (strcmp(k, "--threads") == 0) {
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 16) return usage(k, "expected an integer 1..16");
            a->n_threads = (int)t;
        } else if (strcmp(k, "--seed") == 0) {
            errno = 0;
            a->seed = strtoull(v, &end, 10);
            if (*end || errno) return usage(k, "expected a non-negative integer");
        } else if (strcmp(k, "--fractions") == 0) {
            if (sscanf(v, "%lf,%lf,%lf", &a->frac[0], &a->frac[1], &a->frac[2]) != 3)
                return usage(k, "expected three numbers a,b,c (train,val,test)");
        } else {
            return usage(k, "unknown option");
        }
    }
    if (!a->dataset_dir || !a->manifest || !a->size_px)
        return usage(NULL, "--dataset-dir, --size and --manifest are required");
    return 0;
}

static int write_manifest(const char *path, const ham_meta *m, const sb_cache *c) {
    char tmp[4200];
    FILE *f;
    int fd;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    /* no link planted at the predictable name is followed (sb_file.h) */
    fd = sb_create_temp(tmp, O_WRONLY);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        log_stderr(SB_LOG_ERROR, "%s: cannot write: %s", tmp, strerror(e));
        return -1;
    }
    fprintf(f, "index,image_id,lesion_id,label,split\n");
    for (size_t i = 0; i < m->n; i++) {
        if (sb_cache_status(c, (uint32_t)i) != SB_CACHE_STATUS_OK) continue;
        fprintf(f, "%zu,%s,%s,%d,%s\n", i, m->s[i].image_id, m->s[i].lesion_id, m->s[i].label,
                ham_subset_name(m->s[i].subset));
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        log_stderr(SB_LOG_ERROR, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    args a;
    ham_meta m;
    ham_split_kind kind;
    sb_cache_item *items = NULL;
    sb_cache_spec spec;
    sb_cache *c = NULL;
    sb_error err = {0, ""};
    int rc;
    signal(SIGXFSZ, SIG_IGN); /* past ulimit -f: EFBIG with the file named, not a kill */
    if ((rc = parse_args(argc, argv, &a)) != 0) return rc < 0 ? 0 : rc;
    if (ham_parse_split(a.split, &kind) < 0) return usage("--split", "expected dermamnist, lesion or all");
    if (ham_meta_load(a.dataset_dir, &m, &err) < 0) {
        log_stderr(SB_LOG_ERROR, "%s", err.msg);
        return 1;
    }
    rc = ham_split(&m, kind, a.seed, a.frac, &err);
    if (rc == 0) rc = ham_cache_items(&m, &items, &err);
    if (rc == 0) {
        memset(&spec, 0, sizeof spec);
        spec.dataset = "ham10000";
        spec.cache_dir = a.cache_dir;
        spec.list_file = m.meta_path;
        spec.size_px = a.size_px;
        spec.items = items;
        spec.n_items = (uint32_t)m.n;
        spec.skip_unreadable = a.skip_unreadable;
        spec.n_threads = a.n_threads;
        spec.log = log_stderr;
        rc = sb_cache_open(&spec, &c, &err);
    }
    if (rc < 0) {
        log_stderr(SB_LOG_ERROR, "%s", err.msg);
    } else if (write_manifest(a.manifest, &m, c) < 0) {
        rc = -1;
    } else {
        log_stderr(SB_LOG_INFO, "%s: %u images at %dpx (%s); manifest %s", sb_cache_path(c), sb_cache_count(c),
                   a.size_px, sb_cache_was_built(c) ? "built" : "reused", a.manifest);
        printf("%s\n", sb_cache_path(c));
    }
    sb_cache_close(c);
    free(items);
    ham_meta_free(&m);
    return rc < 0 ? 1 : 0;
}
