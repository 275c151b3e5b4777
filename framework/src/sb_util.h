/* sb_util.h - small helpers shared by the framework: files, paths, text. */
#ifndef SB_UTIL_H
#define SB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sb_plugin.h"

/* Write `len` bytes to `path` through a temporary file in the same folder,
 * fsync and rename, so a reader sees the old file or the whole new one. */
int sb_write_atomic(const char *path, const void *data, size_t len, sb_error *err);
/* mkdir -p; an existing path (or a part of it) that is not a directory is an
 * error naming it. */
int sb_mkdirs(const char *path, sb_error *err);
/* Folder part of a path ("." when none); malloc'd. */
char *sb_dirname(const char *path);
/* `rel` resolved against folder `base` unless absolute; malloc'd. */
char *sb_path_join(const char *base, const char *rel);
/* Folder holding the running executable; malloc'd, NULL if unknown. */
char *sb_exe_dir(void);
/* malloc'd printf. */
char *sb_strdupf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A growing text buffer. */
typedef struct sb_buf {
    char *s;
    size_t len, cap;
    int oom;
} sb_buf;
void sb_buf_printf(sb_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sb_buf_free(sb_buf *b);

/* Monotonic clock in nanoseconds. */
uint64_t sb_now_ns(void);

#endif /* SB_UTIL_H */
