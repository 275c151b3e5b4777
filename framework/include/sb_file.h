/*
 * sb_file.h - opening a file the user named, for reading, without hanging.
 *
 * A path from bench.toml or the command line may name a FIFO or a device:
 * open() then blocks until a writer comes and read() never ends, so a check
 * of the type after fopen() comes too late. Here the open does not block
 * (O_NONBLOCK) and fstat() decides before a byte is read.
 *
 * Header-only: the framework, the dataset library (sbimage) and the .sbm
 * reader share it, and none of them may link another's library.
 */
#ifndef SB_FILE_H
#define SB_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_plugin.h"

/* sb_open_regular_fd's result for a path that is no regular file. */
#define SB_FILE_NOT_REGULAR (-2)

/* What a path that is no regular file is, for messages. */
static inline const char *sb_file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "is a directory";
    if (S_ISFIFO(mode)) return "is not a regular file (a FIFO)";
    if (S_ISSOCK(mode)) return "is not a regular file (a socket)";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "is not a regular file (a device)";
    return "is not a regular file";
}

/* Opens `path` read-only (O_CLOEXEC, blocking again once open). Returns the
 * fd; -1 with errno when open() fails; SB_FILE_NOT_REGULAR when the path is
 * anything but a regular file, its type in *st (sb_file_kind names it). */
static inline int sb_open_regular_fd(const char *path, struct stat *st) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int flags;
    if (fd < 0) return -1;
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return SB_FILE_NOT_REGULAR;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

/* sb_open_regular_fd as a FILE, with the message: "<path>: cannot open:
 * <why>" (SB_ENOENT or SB_EIO, errno kept), or "<path>: is a directory:
 * expected <what>", "<path>: is not a regular file (a FIFO): expected
 * <what>" (SB_EINVAL). */
static inline int sb_fopen_regular(const char *path, const char *what, FILE **out, sb_error *err) {
    struct stat st;
    int fd = sb_open_regular_fd(path, &st);
    *out = NULL;
    if (fd == SB_FILE_NOT_REGULAR)
        return sb_error_set(err, SB_EINVAL, "%s: %s: expected %s", path, sb_file_kind(st.st_mode), what);
    if (fd < 0) {
        int e = errno;
        sb_error_set(err, e == ENOENT ? SB_ENOENT : SB_EIO, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return e == ENOENT ? SB_ENOENT : SB_EIO;
    }
    if (!(*out = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        return sb_error_set(err, SB_ENOMEM, "%s: cannot open: %s", path, strerror(e));
    }
    return 0;
}

/* Creates the temporary file `tmp` for writing (0644, O_CLOEXEC). The name
 * is predictable, so O_EXCL | O_NOFOLLOW: a link planted there would make us
 * overwrite its target. A file already there has our pid in its name, so
 * the process that left it is gone: that name (a link, not its target) is
 * removed once. Returns the fd, or -1 with errno. */
static inline int sb_create_temp(const char *tmp, int flags) {
    int fd;
    flags |= O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    fd = open(tmp, flags, 0644);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) fd = open(tmp, flags, 0644);
    return fd;
}

/* Writes all of data to the temporary file `tmp` (fd); fsyncs it if asked. */
static inline int sb_file_write_fd(int fd, const char *tmp, const void *data, size_t len, int sync,
                                   sb_error *err) {
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return sb_error_set(err, SB_EIO, "%s: write failed: %s", tmp, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    /* fsync before rename: after a crash the new name never points at a
     * file whose blocks were not written. */
    if (sync && fsync(fd) != 0) return sb_error_set(err, SB_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    return 0;
}

static inline int sb_file_write_via_temp(const char *path, const void *data, size_t len, int sync,
                                         sb_error *err) {
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    int fd, rc;
    if (!tmp) return sb_error_set(err, SB_ENOMEM, "out of memory writing %s", path);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    if ((fd = sb_create_temp(tmp, O_WRONLY)) < 0) {
        sb_error_set(err, SB_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return SB_EIO;
    }
    rc = sb_file_write_fd(fd, tmp, data, len, sync, err);
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sb_error_set(err, SB_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc < 0) unlink(tmp);
    free(tmp);
    return rc < 0 ? SB_EIO : 0;
}

/* Writes `len` bytes to `path` through "<path>.tmp.<pid>" in the same
 * folder (sb_create_temp), fsync and rename, so a reader sees the old file
 * or the whole new one, and a link at either name is replaced, never
 * followed. Messages name the temporary file: "cannot create", "write
 * failed", "fsync failed", "cannot rename to <path>" (SB_EIO). */
static inline int sb_file_write_atomic(const char *path, const void *data, size_t len, sb_error *err) {
    return sb_file_write_via_temp(path, data, len, 1, err);
}

/* The same without the fsync, for a file whose loss in a power cut costs a
 * rerun only (a model a tool writes, the fuzzer's inputs), where an fsync
 * per file (milliseconds) would be most of the time spent. */
static inline int sb_file_write_atomic_nosync(const char *path, const void *data, size_t len, sb_error *err) {
    return sb_file_write_via_temp(path, data, len, 0, err);
}

#endif
