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

#endif
