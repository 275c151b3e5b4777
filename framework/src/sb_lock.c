/* sb_lock.c - one writer per results folder (see sb_lock.h). */
#include "sb_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_util.h"

#define SB_LOCK_MAX_HELD 8
#define SB_LOCK_NOTE_BYTES 1024

typedef struct held_lock {
    dev_t dev;
    ino_t ino;
} held_lock;

/* The locks this process holds; their descriptors stay open until it ends. */
static held_lock g_held[SB_LOCK_MAX_HELD];
static size_t g_n_held;
static char g_note[SB_LOCK_NOTE_BYTES];

void sb_lock_set_command(int argc, char **argv) {
    size_t used;
    int i;
    snprintf(g_note, sizeof g_note, "pid %ld: srambench", (long)getpid());
    for (i = 1; i < argc; i++) {
        used = strlen(g_note);
        snprintf(g_note + used, sizeof g_note - used, " %s", argv[i]);
    }
}

static int is_held(const struct stat *st) {
    size_t i;
    for (i = 0; i < g_n_held; i++)
        if (g_held[i].dev == st->st_dev && g_held[i].ino == st->st_ino) return 1;
    return 0;
}

/* O_EXCL first: a file made here is this process's; an existing one is
 * opened without following a link (O_NOFOLLOW), so .lock cannot point the
 * lock, or the note written into it, at another file. */
static int open_lock_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    return fd;
}

/* The holder's note: "pid N: srambench run ...", or why there is none. */
static void read_holder(int fd, char *out, size_t len) {
    ssize_t n = pread(fd, out, len - 1, 0);
    char *nl;
    out[n > 0 ? n : 0] = 0;
    if ((nl = strchr(out, '\n'))) *nl = 0;
    if (!out[0]) snprintf(out, len, "a process that has not written its pid yet");
}

static void write_note(int fd) {
    char line[SB_LOCK_NOTE_BYTES + 64];
    int n;
    if (!g_note[0]) snprintf(g_note, sizeof g_note, "pid %ld: srambench", (long)getpid());
    n = snprintf(line, sizeof line, "%s\n", g_note);
    if (ftruncate(fd, 0) < 0 || n < 0 || pwrite(fd, line, strlen(line), 0) < 0) {
        /* the lock holds all the same; only the note naming it is missing */
    }
}

static int locked_by_other(int fd, const char *dir, sb_error *err) {
    char holder[SB_LOCK_NOTE_BYTES];
    read_holder(fd, holder, sizeof holder);
    close(fd);
    return sb_error_set(err, SB_EIO, "%s: in use by another srambench (%s): expected a results folder that no other "
                        "run writes; wait until it ends, or choose another --output-dir", dir, holder);
}

/* The pid of a "<name>.tmp.<pid>" temp file (sb_file.h), or 0. */
static long temp_pid(const char *name) {
    const char *t = strstr(name, ".tmp.");
    char *end;
    long pid;
    while (t && strstr(t + 1, ".tmp.")) t = strstr(t + 1, ".tmp.");
    if (!t || t[5] < '0' || t[5] > '9') return 0;
    errno = 0;
    pid = strtol(t + 5, &end, 10);
    return errno || *end || pid <= 0 ? 0 : pid;
}

/* A writer killed mid-write (SIGKILL, the OOM killer) leaves its
 * "results.json.tmp.<pid>" behind, and no later run would remove it. With
 * the folder's lock held no other srambench writes here, so a temp file of
 * a process that is gone is stale: removed (a regular file, never a link). */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat st;
    if (!d) return;
    while ((e = readdir(d))) {
        long pid = temp_pid(e->d_name);
        if (!pid || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

int sb_lock_dir(const char *dir, sb_error *err) {
    char *path = sb_strdupf("%s/.lock", dir);
    struct stat st;
    int fd, e;
    if (!path) return sb_error_set(err, SB_ENOMEM, "out of memory");
    fd = open_lock_file(path);
    e = errno;
    free(path);
    if (fd < 0)
        return sb_error_set(err, SB_EIO, "%s/.lock: cannot open the results folder's lock file: %s", dir,
                            e == ELOOP ? "it is a symbolic link" : strerror(e));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sb_error_set(err, SB_EIO, "%s/.lock: not a regular file: expected the results folder's lock file", dir);
    }
    if (is_held(&st)) {
        close(fd); /* ours already (a child shares its parent's) */
        return 0;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) return locked_by_other(fd, dir, err);
        e = errno;
        close(fd);
        return sb_error_set(err, SB_EIO, "%s/.lock: cannot lock the results folder: %s", dir, strerror(e));
    }
    write_note(fd);
    remove_stale_temps(dir);
    if (g_n_held < SB_LOCK_MAX_HELD) {
        g_held[g_n_held].dev = st.st_dev;
        g_held[g_n_held++].ino = st.st_ino;
    }
    return 0; /* fd stays open: the lock lasts as long as the process */
}

int sb_lock_run_dir(const char *dir, sb_error *err) {
    char *results = sb_strdupf("%s/results.json", dir);
    struct stat st;
    int is_run;
    if (!results) return sb_error_set(err, SB_ENOMEM, "out of memory");
    is_run = stat(results, &st) == 0;
    free(results);
    return is_run ? sb_lock_dir(dir, err) : 0;
}
