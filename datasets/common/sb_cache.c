/*
 * sb_cache.c - the `.sbc` file of preprocessed images (docs/dataset-cache.md).
 *
 * Opening computes the key from the inputs as they are on disk (ids, labels,
 * file sizes, mtimes), looks for <dataset>-<size>px-<key>.sbc, and checks it
 * completely (header fields, ids, CRC of everything after the header) before
 * trusting it. Anything else is rebuilt: JPEGs are decoded by worker threads
 * straight into a memory-mapped temporary file, which is renamed into place
 * only when complete, so readers never see half a cache.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_file.h"
#include "sb_image.h"

#define HDR_BYTES 64u
#define REC_BYTES 32u
static const char MAGIC[8] = {'S', 'B', 'C', 'A', 'C', 'H', 'E', 0};

struct sb_cache {
    char path[4096];
    uint8_t *map;
    size_t map_bytes;
    uint32_t size_px, n;
    uint64_t key, pixels_offset;
    int built;
};

/* ------------------------------------------------------------ little endian */

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}
static uint64_t hash_u32(uint64_t h, uint32_t v) {
    uint8_t b[4];
    put_u32(b, v);
    return sb_fnv1a64(h, b, 4);
}
static uint64_t hash_u64(uint64_t h, uint64_t v) {
    uint8_t b[8];
    put_u64(b, v);
    return sb_fnv1a64(h, b, 8);
}

static uint64_t pixels_offset_for(uint32_t n) {
    uint64_t end = HDR_BYTES + (uint64_t)REC_BYTES * n;
    return (end + 63u) & ~(uint64_t)63u;
}
static uint64_t image_bytes(uint32_t size_px) { return (uint64_t)size_px * size_px * 3u; }

/* ------------------------------------------------------------------ key */

int sb_cache_compute_key(const sb_cache_spec *spec, uint64_t *key, sb_error *err) {
    uint64_t h = sb_fnv1a64(SB_FNV1A64_INIT, SB_PREPROCESS_VERSION, sizeof SB_PREPROCESS_VERSION);
    h = hash_u32(h, (uint32_t)spec->size_px);
    h = hash_u32(h, spec->n_items);
    for (uint32_t i = 0; i < spec->n_items; i++) {
        const sb_cache_item *it = &spec->items[i];
        struct stat st;
        uint64_t size_bytes = UINT64_MAX, mtime_ns = 0;
        if (stat(it->path, &st) == 0) {
            size_bytes = (uint64_t)st.st_size;
            mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
        } else if (!spec->skip_unreadable) {
            return sb_error_set(err, SB_ENOENT, "%s:%d: image %s: missing image file %s: %s",
                                spec->list_file, it->row, it->id, it->path, strerror(errno));
        }
        h = sb_fnv1a64(h, it->id, strlen(it->id) + 1);
        h = hash_u32(h, (uint32_t)it->label);
        h = hash_u64(h, size_bytes);
        h = hash_u64(h, mtime_ns);
    }
    *key = h;
    return SB_OK;
}

/* --------------------------------------------------------------- reading */

void sb_cache_close(sb_cache *c) {
    if (!c) return;
    if (c->map) munmap(c->map, c->map_bytes);
    free(c);
}

static int ids_terminated(const sb_cache *c) {
    for (uint32_t i = 0; i < c->n; i++)
        if (!memchr(c->map + HDR_BYTES + (uint64_t)REC_BYTES * i, 0, SB_CACHE_ID_BYTES)) return 0;
    return 1;
}

/* Map and check a file. `why` receives the reason when it is unusable. */
static int map_and_check(const char *path, sb_cache **out, char *why, size_t why_len) {
    struct stat st;
    /* a FIFO planted at the cache's name would block open() and mmap */
    int fd = sb_open_regular_fd(path, &st);
    sb_cache *c;
    const uint8_t *m;
    uint64_t data_end;
    if (fd == SB_FILE_NOT_REGULAR) {
        snprintf(why, why_len, "%s", sb_file_kind(st.st_mode));
        return SB_EFORMAT;
    }
    if (fd < 0) {
        snprintf(why, why_len, "%s", strerror(errno));
        return errno == ENOENT ? SB_ENOENT : SB_EIO;
    }
    if ((size_t)st.st_size < HDR_BYTES) {
        close(fd);
        snprintf(why, why_len, "file shorter than the 64-byte header");
        return SB_EFORMAT;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return SB_ENOMEM;
    }
    c->map_bytes = (size_t)st.st_size;
    c->map = mmap(NULL, c->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (c->map == MAP_FAILED) {
        c->map = NULL;
        free(c);
        snprintf(why, why_len, "mmap failed: %s", strerror(errno));
        return SB_EIO;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    m = c->map;
    c->size_px = get_u32(m + 12);
    c->n = get_u32(m + 20);
    c->key = get_u64(m + 24);
    c->pixels_offset = get_u64(m + 40);
    data_end = c->pixels_offset + (uint64_t)c->n * image_bytes(c->size_px);
    if (memcmp(m, MAGIC, 8) != 0) {
        snprintf(why, why_len, "bad magic: expected SBCACHE");
    } else if (get_u32(m + 8) != 1) {
        snprintf(why, why_len, "version %u: expected 1", get_u32(m + 8));
    } else if (get_u32(m + 16) != 3) {
        snprintf(why, why_len, "%u channels: expected 3", get_u32(m + 16));
    } else if (c->size_px == 0 || c->size_px > 4096) {
        /* The limits sb_cache_open puts on spec->size_px. Without them
         * n * size_px^2 * 3 can wrap in u64 (n 4, size_px 2^31: 3 * 2^64), so
         * a 192-byte file passed the size check below and sb_cache_pixels
         * pointed at 12 EiB "images"; sb_cache_size_px also went negative.
         * Found by review while adding tests/fuzz/fuzz_sbc.c. */
        snprintf(why, why_len, "size %u px: expected 1..4096", c->size_px);
    } else if (get_u64(m + 32) != HDR_BYTES || c->pixels_offset != pixels_offset_for(c->n)) {
        snprintf(why, why_len, "index/pixel offsets do not match n_images %u", c->n);
    } else if (data_end != c->map_bytes) {
        snprintf(why, why_len, "file is %zu bytes: expected %llu", c->map_bytes,
                 (unsigned long long)data_end);
    } else if (sb_crc32(0, m + HDR_BYTES, c->map_bytes - HDR_BYTES) != get_u32(m + 48)) {
        snprintf(why, why_len, "CRC mismatch (corrupt)");
    } else if (!ids_terminated(c)) {
        snprintf(why, why_len, "an image id is not NUL-terminated within %d bytes", SB_CACHE_ID_BYTES);
    } else {
        *out = c;
        return SB_OK;
    }
    sb_cache_close(c);
    return SB_EFORMAT;
}

int sb_cache_open_file(const char *path, sb_cache **cache, sb_error *err) {
    char why[256];
    int rc = map_and_check(path, cache, why, sizeof why);
    if (rc < 0) return sb_error_set(err, rc, "%s: unusable cache file: %s", path, why);
    return SB_OK;
}

/* Does an opened file hold exactly spec's images? */
static int matches_spec(const sb_cache *c, const sb_cache_spec *spec, uint64_t key,
                        char *why, size_t why_len) {
    if (c->key != key || c->size_px != (uint32_t)spec->size_px || c->n != spec->n_items) {
        snprintf(why, why_len, "key/size/count differ from the inputs (stale)");
        return 0;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        if (strncmp(sb_cache_id(c, i), spec->items[i].id, SB_CACHE_ID_BYTES) != 0 ||
            sb_cache_label(c, i) != spec->items[i].label) {
            snprintf(why, why_len, "record %u is %s: expected %s (stale)", i, sb_cache_id(c, i),
                     spec->items[i].id);
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------- building */

typedef struct build_job {
    const sb_cache_spec *spec;
    uint8_t *map;
    uint64_t pixels_offset;
    atomic_uint next;
    atomic_int stop;
    pthread_mutex_t lock;
    uint32_t err_index;   /* lowest failing index seen (under lock) */
    sb_error err;
} build_job;

static void job_fail(build_job *job, uint32_t i, const sb_error *e) {
    pthread_mutex_lock(&job->lock);
    if (i < job->err_index) {
        job->err_index = i;
        job->err = *e;
    }
    pthread_mutex_unlock(&job->lock);
    atomic_store(&job->stop, 1);
}

/* Decode + resize image i into its slot; unreadable images stay zero. */
static void build_one(build_job *job, uint32_t i) {
    const sb_cache_spec *spec = job->spec;
    const sb_cache_item *it = &spec->items[i];
    uint8_t *rec = job->map + HDR_BYTES + (uint64_t)REC_BYTES * i;
    uint8_t *px = job->map + job->pixels_offset + (uint64_t)i * image_bytes((uint32_t)spec->size_px);
    sb_error e = {0, ""};
    int rc = sb_image_load(it->path, spec->size_px, px, &e);
    if (rc == SB_OK) return;
    memset(px, 0, image_bytes((uint32_t)spec->size_px));
    if (spec->skip_unreadable) {
        put_u32(rec + 28, SB_CACHE_STATUS_UNREADABLE);
        if (spec->log)
            spec->log(SB_LOG_WARN, "%s:%d: image %s unreadable, skipped: %s", spec->list_file,
                      it->row, it->id, e.msg);
        return;
    }
    {
        sb_error full;
        sb_error_set(&full, rc, "%s:%d: image %s: %s", spec->list_file, it->row, it->id, e.msg);
        job_fail(job, i, &full);
    }
}

static void *build_worker(void *arg) {
    build_job *job = arg;
    for (;;) {
        uint32_t i;
        if (atomic_load(&job->stop)) break;
        i = atomic_fetch_add(&job->next, 1u);
        if (i >= job->spec->n_items) break;
        if (job->spec->cancelled && (i & 63u) == 0 && job->spec->cancelled()) {
            sb_error e;
            sb_error_set(&e, SB_ECANCELED, "building cache: cancelled");
            job_fail(job, 0, &e);
            break;
        }
        build_one(job, i);
    }
    return NULL;
}

static void write_header_and_index(const sb_cache_spec *spec, uint8_t *map, uint64_t key) {
    memcpy(map, MAGIC, 8);
    put_u32(map + 8, 1);
    put_u32(map + 12, (uint32_t)spec->size_px);
    put_u32(map + 16, 3);
    put_u32(map + 20, spec->n_items);
    put_u64(map + 24, key);
    put_u64(map + 32, HDR_BYTES);
    put_u64(map + 40, pixels_offset_for(spec->n_items));
    for (uint32_t i = 0; i < spec->n_items; i++) {
        uint8_t *rec = map + HDR_BYTES + (uint64_t)REC_BYTES * i;
        strncpy((char *)rec, spec->items[i].id, SB_CACHE_ID_BYTES);
        put_u32(rec + 24, (uint32_t)spec->items[i].label);
        put_u32(rec + 28, SB_CACHE_STATUS_OK);
    }
}

static int run_workers(build_job *job, int n_threads) {
    pthread_t th[16];
    int started = 0;
    if (n_threads <= 0) n_threads = 2;
    if (n_threads > 16) n_threads = 16;
    for (int t = 1; t < n_threads; t++) {
        if (pthread_create(&th[started], NULL, build_worker, job) != 0) break;
        started++;
    }
    build_worker(job);  /* the calling thread works too */
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    return job->err_index == UINT32_MAX ? SB_OK : job->err.code;
}

/* Give the file `total` bytes of real disk blocks, or return an errno. The
 * workers write through a MAP_SHARED mapping, and a store into a page the
 * file system cannot back (a sparse file from ftruncate on a full disk) is a
 * SIGBUS that kills the process and leaves the temp file behind: so the
 * space is claimed here, where running out is an ordinary error. */
static int reserve(int fd, off_t total) {
    static const uint8_t zeros[65536];
    int rc = posix_fallocate(fd, 0, total);
    /* no space, too large, quota, I/O: real errors; anything else (no
     * support, or a sandbox refusing the call) means write the zeros */
    if (rc == 0 || rc == ENOSPC || rc == EFBIG || rc == EDQUOT || rc == EIO) return rc;
    /* The file system cannot preallocate: write the zeros ourselves. */
    for (off_t at = 0; at < total;) {
        size_t chunk = total - at < (off_t)sizeof zeros ? (size_t)(total - at) : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, chunk, at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        at += w;
    }
    return 0;
}

/* sb_create_temp (no link followed at the predictable name), locked until
 * renamed: the lock tells remove_stale_temps that a builder still works on
 * the file (one on another host sharing the folder, whose pid means
 * nothing here). */
static int create_temp(const char *tmp) {
    int fd = sb_create_temp(tmp, O_RDWR);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    return fd;
}

static int build_file(const sb_cache_spec *spec, uint64_t key, const char *path, sb_error *err) {
    char tmp[4200];
    uint64_t total = pixels_offset_for(spec->n_items) + (uint64_t)spec->n_items * image_bytes((uint32_t)spec->size_px);
    build_job job;
    int fd, rc;
    static atomic_uint serial;
    /* pid + serial: two builders in one process never share a temp file. */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&serial, 1u));
    fd = create_temp(tmp);
    if (fd < 0) return sb_error_set(err, SB_EIO, "%s: cannot create cache file: %s", tmp, strerror(errno));
    if ((rc = reserve(fd, (off_t)total)) != 0) {
        rc = sb_error_set(err, SB_EIO, "%s: cannot reserve %llu bytes for the cache file: %s", path,
                          (unsigned long long)total, strerror(rc));
        close(fd);
        unlink(tmp);
        return rc;
    }
    memset(&job, 0, sizeof job);
    job.spec = spec;
    job.map = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (job.map == MAP_FAILED) {
        rc = sb_error_set(err, SB_EIO, "%s: mmap failed: %s", tmp, strerror(errno));
        unlink(tmp);
        close(fd);
        return rc;
    }
    job.pixels_offset = pixels_offset_for(spec->n_items);
    job.err_index = UINT32_MAX;
    pthread_mutex_init(&job.lock, NULL);
    write_header_and_index(spec, job.map, key);
    rc = run_workers(&job, spec->n_threads);
    pthread_mutex_destroy(&job.lock);
    if (rc == SB_OK)
        put_u32(job.map + 48, sb_crc32(0, job.map + HDR_BYTES, (size_t)(total - HDR_BYTES)));
    munmap(job.map, (size_t)total);
    if (rc < 0) {
        unlink(tmp);
        close(fd);
        *err = job.err;
        return rc;
    }
    if (rename(tmp, path) != 0) {
        rc = sb_error_set(err, SB_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
    }
    close(fd);
    return rc;
}

/* ------------------------------------------------------------- opening */

static int mkdir_p(const char *dir, sb_error *err) {
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return sb_error_set(err, SB_EINVAL, "cache dir '%s': bad path", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char saved = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return sb_error_set(err, SB_EIO, "%s: cannot create cache folder: %s", buf, strerror(errno));
            buf[i] = saved;
        }
    }
    /* mkdir() says EEXIST for a file too: without this, a file named as the
     * cache folder showed as "stale or corrupt (Not a directory)" and then
     * failed on the temporary file inside it. */
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sb_error_set(err, SB_EIO, "cache folder %s: not a directory: expected a folder for the image cache",
                            dir);
    return SB_OK;
}

/* The pid in "<name>.sbc.tmp.<pid>.<n>" (build_file's temp name), or 0 when
 * `name` is not exactly such a name. */
static long temp_pid(const char *name) {
    const char *t = strstr(name, ".sbc.tmp.");
    char *end;
    long pid;
    if (!t || t == name) return 0;
    t += strlen(".sbc.tmp.");
    if (*t < '1' || *t > '9') return 0;
    errno = 0;
    pid = strtol(t, &end, 10);
    if (errno || *end != '.' || end[1] < '0' || end[1] > '9') return 0;
    for (end++; *end >= '0' && *end <= '9'; end++) {}
    return *end == 0 ? pid : 0;
}

/* Remove `name` if it is a temp file of a builder that is gone: ours (not
 * another user's), a regular file (not a link, which O_NOFOLLOW refuses),
 * its pid dead and its lock free. */
static int remove_if_stale(int dfd, const char *name) {
    long pid = temp_pid(name);
    struct stat st, again;
    int fd, gone = 0;
    if (pid <= 0 || (pid_t)pid != pid || kill((pid_t)pid, 0) == 0 || errno != ESRCH) return 0;
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        flock(fd, LOCK_EX | LOCK_NB) == 0 && fstatat(dfd, name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
        again.st_ino == st.st_ino && again.st_dev == st.st_dev)
        gone = unlinkat(dfd, name, 0) == 0;
    close(fd);
    return gone;
}

/* A builder killed (SIGKILL, a power cut) leaves its temp file behind, as
 * large as the cache; the next open in the folder removes it. */
static void remove_stale_temps(const sb_cache_spec *spec) {
    DIR *d = opendir(spec->cache_dir);
    struct dirent *e;
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (remove_if_stale(dirfd(d), e->d_name) && spec->log)
            spec->log(SB_LOG_INFO, "cache: removed %s/%s: a temporary file left by a build that was killed",
                      spec->cache_dir, e->d_name);
    }
    closedir(d);
}

/* Old files of the same dataset and size are left alone (they may belong to
 * another copy of the data) but named, so that the disk use is visible. */
static void log_other_caches(const sb_cache_spec *spec, const char *keep_name) {
    char prefix[256];
    DIR *d;
    struct dirent *e;
    if (!spec->log || !(d = opendir(spec->cache_dir))) return;
    snprintf(prefix, sizeof prefix, "%s-%dpx-", spec->dataset, spec->size_px);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strcmp(e->d_name, keep_name) != 0 &&
            strstr(e->d_name, ".tmp.") == NULL)
            spec->log(SB_LOG_INFO, "cache: older file %s/%s kept (delete it if unused)",
                      spec->cache_dir, e->d_name);
    }
    closedir(d);
}

/* Without skip_unreadable a cache holding unreadable images is an error:
 * decode the first one again to report the precise reason. */
static int check_unreadable(const sb_cache *c, const sb_cache_spec *spec, sb_error *err) {
    for (uint32_t i = 0; i < c->n; i++) {
        if (sb_cache_status(c, i) == SB_CACHE_STATUS_OK) continue;
        {
            const sb_cache_item *it = &spec->items[i];
            uint8_t *px = malloc(image_bytes(c->size_px));
            sb_error e = {0, ""};
            int rc = px ? sb_image_load(it->path, spec->size_px, px, &e) : SB_ENOMEM;
            free(px);
            if (rc == SB_OK) sb_error_set(&e, SB_EIO, "%s: unreadable when the cache was built", it->path);
            return sb_error_set(err, rc < 0 ? rc : SB_EIO, "%s:%d: image %s: %s", spec->list_file,
                                it->row, it->id, e.msg);
        }
    }
    return SB_OK;
}

int sb_cache_open(const sb_cache_spec *spec, sb_cache **cache, sb_error *err) {
    char path[4096], name[256], why[256];
    uint64_t key;
    sb_cache *c = NULL;
    int rc;
    *cache = NULL;
    if (spec->size_px <= 0 || spec->size_px > 4096)
        return sb_error_set(err, SB_EINVAL, "cache: size %d px: expected 1..4096", spec->size_px);
    for (uint32_t i = 0; i < spec->n_items; i++) {
        if (strlen(spec->items[i].id) >= SB_CACHE_ID_BYTES)
            return sb_error_set(err, SB_EFORMAT, "%s:%d: image id '%s' is too long: expected < %d bytes",
                                spec->list_file, spec->items[i].row, spec->items[i].id, SB_CACHE_ID_BYTES);
    }
    if ((rc = sb_cache_compute_key(spec, &key, err)) < 0) return rc;
    if ((rc = mkdir_p(spec->cache_dir, err)) < 0) return rc;
    remove_stale_temps(spec);
    snprintf(name, sizeof name, "%s-%dpx-%016llx.sbc", spec->dataset, spec->size_px, (unsigned long long)key);
    snprintf(path, sizeof path, "%s/%s", spec->cache_dir, name);

    rc = map_and_check(path, &c, why, sizeof why);
    if (rc == SB_OK && !matches_spec(c, spec, key, why, sizeof why)) {
        sb_cache_close(c);
        c = NULL;
        rc = SB_EFORMAT;
    }
    if (rc != SB_OK) {
        if (spec->log) {
            if (rc == SB_ENOENT)
                spec->log(SB_LOG_INFO, "cache: %s absent: decoding %u images at %dpx", path, spec->n_items, spec->size_px);
            else
                spec->log(SB_LOG_WARN, "cache: %s stale or corrupt (%s): rebuilding", path, why);
        }
        if ((rc = build_file(spec, key, path, err)) < 0) return rc;
        if ((rc = map_and_check(path, &c, why, sizeof why)) < 0)
            return sb_error_set(err, rc, "%s: cache unusable right after building it: %s", path, why);
        c->built = 1;
        log_other_caches(spec, name);
    }
    if (!spec->skip_unreadable && (rc = check_unreadable(c, spec, err)) < 0) {
        sb_cache_close(c);
        return rc;
    }
    *cache = c;
    return SB_OK;
}

/* -------------------------------------------------------------- access */

const char *sb_cache_path(const sb_cache *c) { return c->path; }
uint32_t sb_cache_count(const sb_cache *c) { return c->n; }
int sb_cache_size_px(const sb_cache *c) { return (int)c->size_px; }
uint64_t sb_cache_key(const sb_cache *c) { return c->key; }
int sb_cache_was_built(const sb_cache *c) { return c->built; }

/* The id field is NUL-padded to 24 bytes and holds a NUL (checked on open). */
const char *sb_cache_id(const sb_cache *c, uint32_t i) {
    return (const char *)(c->map + HDR_BYTES + (uint64_t)REC_BYTES * i);
}
int32_t sb_cache_label(const sb_cache *c, uint32_t i) {
    return (int32_t)get_u32(c->map + HDR_BYTES + (uint64_t)REC_BYTES * i + 24);
}
int32_t sb_cache_status(const sb_cache *c, uint32_t i) {
    return (int32_t)get_u32(c->map + HDR_BYTES + (uint64_t)REC_BYTES * i + 28);
}
const uint8_t *sb_cache_pixels(const sb_cache *c, uint32_t i) {
    return c->map + c->pixels_offset + (uint64_t)i * image_bytes(c->size_px);
}
