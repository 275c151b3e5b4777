/* sb_util.c - files, paths and text helpers (see sb_util.h). */
#include "sb_util.h"
#include "sb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One implementation for the program, the plugins and the tools: sb_file.h. */
int sb_write_atomic(const char *path, const void *data, size_t len, sb_error *err) {
    return sb_file_write_atomic(path, data, len, err);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sb_mkdirs(const char *path, sb_error *err) {
    char *p, *q;
    if (!path[0]) return sb_error_set(err, SB_EINVAL, "empty folder name: expected a path");
    if (!(p = strdup(path))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (q = p + 1; ; q++) {
        if (*q == '/' || *q == 0) {
            char c = *q;
            *q = 0;
            /* EEXIST also means a file of that name: say so now, rather than
             * let the first write into it fail after the work is done. */
            int e = mkdir(p, 0755) == 0 ? 0 : errno;
            if (e && (e != EEXIST || !is_dir(p))) {
                if (e == EEXIST) sb_error_set(err, SB_EIO, "%s: exists and is not a directory: expected a folder", p);
                else sb_error_set(err, SB_EIO, "%s: cannot create folder: %s", p, strerror(e));
                free(p);
                return SB_EIO;
            }
            *q = c;
            if (!c) break;
        }
    }
    free(p);
    return 0;
}

char *sb_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *sb_path_join(const char *base, const char *rel) {
    if (rel[0] == '/' || !base || !base[0]) return strdup(rel);
    return sb_strdupf("%s/%s", base, rel);
}

char *sb_exe_dir(void) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return NULL;
    buf[n] = 0;
    return sb_dirname(buf);
}

char *sb_strdupf(const char *fmt, ...) {
    va_list ap;
    int n;
    char *s;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(s = malloc((size_t)n + 1))) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void sb_buf_printf(sb_buf *b, const char *fmt, ...) {
    va_list ap;
    int n;
    if (b->oom) return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *s;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        if (!(s = realloc(b->s, cap))) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_buf_free(sb_buf *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

uint64_t sb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
