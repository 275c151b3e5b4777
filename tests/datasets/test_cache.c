/*
 * test_cache.c - the .sbc cache: built, reused without decoding, rebuilt when
 * an input changes or the file is corrupt, and unreadable images handled.
 * Runs on a small synthetic dataset written to a temporary folder.
 */
/* unshare() and the CLONE_* flags are Linux (GNU) extensions. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ds_testutil.h"
#include "sb_image.h"

#define N 6
#define SIZE 8

static char *tmp, cache_dir[4200], paths[N][4200], ids[N][16];
static sb_cache_item items[N];

static void make_images(void) {
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "IMG_%d", i);
        snprintf(paths[i], sizeof paths[i], "%s/IMG_%d.jpg", tmp, i);
        tu_write_solid_jpeg(paths[i], 30 + i, 20, (uint8_t)(40 * i), 100, (uint8_t)(250 - 40 * i));
        items[i].id = ids[i];
        items[i].path = paths[i];
        items[i].label = i % 3;
        items[i].row = i + 2;
    }
}

static sb_cache_spec spec_for(sb_cache_item *it, int skip) {
    sb_cache_spec s;
    memset(&s, 0, sizeof s);
    s.dataset = "synthetic";
    s.cache_dir = cache_dir;
    s.list_file = "list.csv";
    s.size_px = SIZE;
    s.items = it;
    s.n_items = N;
    s.skip_unreadable = skip;
    s.n_threads = 2;
    s.log = tu_log;
    return s;
}

static int setup(void **state) {
    (void)state;
    tmp = tu_mkdtemp();
    snprintf(cache_dir, sizeof cache_dir, "%s/cache/sub", tmp);  /* created on demand */
    make_images();
    return 0;
}
static int teardown(void **state) {
    (void)state;
    tu_rm_rf(tmp);
    free(tmp);
    return 0;
}

/* The cache holds exactly what sb_image_load gives. */
static void assert_pixels_match_decoder(const sb_cache *c) {
    uint8_t want[SIZE * SIZE * 3];
    sb_error e = {0, ""};
    for (int i = 0; i < N; i++) {
        assert_int_equal(sb_image_load(paths[i], SIZE, want, &e), SB_OK);
        assert_memory_equal(sb_cache_pixels(c, (uint32_t)i), want, sizeof want);
        assert_string_equal(sb_cache_id(c, (uint32_t)i), ids[i]);
        assert_int_equal(sb_cache_label(c, (uint32_t)i), items[i].label);
        assert_int_equal(sb_cache_status(c, (uint32_t)i), SB_CACHE_STATUS_OK);
    }
}

static sb_cache *open_ok(const sb_cache_spec *s) {
    sb_cache *c = NULL;
    sb_error e = {0, ""};
    int rc = sb_cache_open(s, &c, &e);
    if (rc != SB_OK) fprintf(stderr, "sb_cache_open: %s\n", e.msg);
    assert_int_equal(rc, SB_OK);
    return c;
}

static void built_then_reused_without_decoding(void **state) {
    sb_cache_spec s = spec_for(items, 0);
    sb_cache *c;
    uint64_t before;
    char first_path[4200];
    (void)state;
    before = sb_jpeg_decode_count();
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 1);
    assert_int_equal(sb_jpeg_decode_count() - before, N);
    assert_int_equal(sb_cache_count(c), N);
    assert_pixels_match_decoder(c);
    snprintf(first_path, sizeof first_path, "%s", sb_cache_path(c));
    sb_cache_close(c);

    before = sb_jpeg_decode_count();
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 0);
    assert_int_equal(sb_jpeg_decode_count(), before);  /* nothing decoded */
    assert_string_equal(sb_cache_path(c), first_path);
    sb_cache_close(c);

    /* A standalone reader (as the Python tool would be) accepts it. */
    {
        sb_error e = {0, ""};
        assert_int_equal(sb_cache_open_file(first_path, &c, &e), SB_OK);
        assert_int_equal(sb_cache_size_px(c), SIZE);
        sb_cache_close(c);
    }
}

static void image_change_invalidates(void **state) {
    sb_cache_spec s = spec_for(items, 0);
    sb_cache *c = open_ok(&s);
    uint8_t old_px[SIZE * SIZE * 3];
    uint64_t old_key = sb_cache_key(c), before;
    struct timespec ts[2];
    (void)state;
    memcpy(old_px, sb_cache_pixels(c, 2), sizeof old_px);
    sb_cache_close(c);
    /* New content; same byte size is possible, so also move the mtime. */
    tu_write_solid_jpeg(paths[2], 32, 20, 0, 0, 255);
    ts[0].tv_sec = ts[1].tv_sec = 1000000000;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    assert_int_equal(utimensat(AT_FDCWD, paths[2], ts, 0), 0);
    before = sb_jpeg_decode_count();
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 1);
    assert_true(sb_jpeg_decode_count() > before);
    assert_true(sb_cache_key(c) != old_key);
    assert_memory_not_equal(sb_cache_pixels(c, 2), old_px, sizeof old_px);
    assert_pixels_match_decoder(c);
    sb_cache_close(c);
}

static void label_change_invalidates(void **state) {
    sb_cache_item it[N];
    sb_cache_spec s;
    sb_cache *c;
    (void)state;
    memcpy(it, items, sizeof it);
    it[4].label = 6;
    s = spec_for(it, 0);
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 1);
    assert_int_equal(sb_cache_label(c, 4), 6);
    sb_cache_close(c);
}

static void flip_byte(const char *path, long offset) {
    FILE *f = fopen(path, "r+b");
    int ch;
    assert_non_null(f);
    fseek(f, offset, SEEK_SET);
    ch = fgetc(f);
    fseek(f, offset, SEEK_SET);
    fputc(ch ^ 0x01, f);
    fclose(f);
}

static void corrupt_file_is_rebuilt(void **state) {
    sb_cache_spec s = spec_for(items, 0);
    sb_cache *c = open_ok(&s);
    char path[4200];
    struct stat st;
    uint64_t before;
    (void)state;
    snprintf(path, sizeof path, "%s", sb_cache_path(c));
    sb_cache_close(c);
    assert_int_equal(stat(path, &st), 0);
    flip_byte(path, (long)st.st_size - 5);  /* a pixel byte */
    tu_log_clear();
    before = sb_jpeg_decode_count();
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 1);
    assert_int_equal(sb_jpeg_decode_count() - before, N);
    assert_non_null(strstr(tu_log_buf, "CRC mismatch"));
    assert_non_null(strstr(tu_log_buf, path));
    assert_pixels_match_decoder(c);
    sb_cache_close(c);

    /* A truncated file too. */
    assert_int_equal(truncate(path, 100), 0);
    tu_log_clear();
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 1);
    assert_non_null(strstr(tu_log_buf, "rebuilding"));
    sb_cache_close(c);

    /* A corrupt header field (the stored key) as well. */
    flip_byte(path, 24);
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 1);
    sb_cache_close(c);
}

static void open_file_rejects_garbage(void **state) {
    char path[4200];
    sb_cache *c = NULL;
    sb_error e = {0, ""};
    uint8_t junk[200];
    (void)state;
    memset(junk, 'x', sizeof junk);
    snprintf(path, sizeof path, "%s/junk.sbc", tmp);
    tu_write_file(path, junk, sizeof junk);
    assert_int_equal(sb_cache_open_file(path, &c, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "magic"));
}

static void unreadable_images(void **state) {
    sb_cache_item it[N];
    sb_cache_spec s;
    sb_cache *c = NULL;
    sb_error e = {0, ""};
    char bad[4200], missing[4200];
    (void)state;
    memcpy(it, items, sizeof it);
    snprintf(bad, sizeof bad, "%s/BAD.jpg", tmp);
    tu_write_text(bad, "not a jpeg");
    snprintf(missing, sizeof missing, "%s/MISSING.jpg", tmp);
    it[1].path = bad;
    s = spec_for(it, 0);
    assert_int_equal(sb_cache_open(&s, &c, &e), SB_EFORMAT);
    assert_null(c);
    assert_non_null(strstr(e.msg, "list.csv:3"));  /* row of item 1 */
    assert_non_null(strstr(e.msg, bad));
    assert_non_null(strstr(e.msg, "corrupt JPEG"));

    it[3].path = missing;
    assert_int_equal(sb_cache_open(&s, &c, &e), SB_ENOENT);
    assert_non_null(strstr(e.msg, "list.csv:5"));
    assert_non_null(strstr(e.msg, missing));

    /* Skipping: both marked unreadable, zero pixels, the rest intact. */
    s = spec_for(it, 1);
    tu_log_clear();
    c = open_ok(&s);
    assert_int_equal(sb_cache_status(c, 1), SB_CACHE_STATUS_UNREADABLE);
    assert_int_equal(sb_cache_status(c, 3), SB_CACHE_STATUS_UNREADABLE);
    assert_int_equal(sb_cache_status(c, 0), SB_CACHE_STATUS_OK);
    for (int k = 0; k < SIZE * SIZE * 3; k++) assert_int_equal(sb_cache_pixels(c, 1)[k], 0);
    assert_non_null(strstr(tu_log_buf, "list.csv:3"));
    sb_cache_close(c);

    /* The same cache opened without skipping is an error naming the file. */
    it[3].path = paths[3];
    s = spec_for(it, 1);
    c = open_ok(&s);
    sb_cache_close(c);
    s = spec_for(it, 0);
    assert_int_equal(sb_cache_open(&s, &c, &e), SB_EFORMAT);
    assert_non_null(strstr(e.msg, bad));
    assert_non_null(strstr(e.msg, "list.csv:3"));
}

/* In a child: a private mount namespace (in a new user namespace when not
 * root) with a 64 KiB tmpfs at dir, i.e. a nearly full disk without needing
 * one. Returns 0, or -1 when the system does not allow it. */
static int small_tmpfs(const char *dir) {
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNS) != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return -1;
        /* Map ourselves, or files created on the tmpfs have no owner. */
        tu_write_text("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
        tu_write_text("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
        tu_write_text("/proc/self/gid_map", map);
    }
    /* Private first, or the tmpfs would show up in the caller's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) return -1;
    return 0;
}

/* A cache bigger than the free space: a clean error naming the cache and
 * the shortage, no SIGBUS from storing into unbacked pages of the mapping,
 * and no temporary file left. Runs in a child so that a crash is a failure
 * seen here, and so the tmpfs goes away with it. */
static void full_disk_is_a_clean_error(void **state) {
    char dir[4200];
    pid_t pid;
    int st;
    (void)state;
    snprintf(dir, sizeof dir, "%s/full", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sb_cache_spec s = spec_for(items, 0);
        sb_cache *c = NULL;
        sb_error e = {0, ""};
        DIR *d;
        struct dirent *de;
        int rc;
        signal(SIGBUS, SIG_DFL);  /* cmocka's handler would hide the crash */
        if (small_tmpfs(dir) != 0) _exit(77);
        s.cache_dir = dir;
        s.size_px = 256;  /* 6 x 192 KiB: far more than 64 KiB */
        rc = sb_cache_open(&s, &c, &e);
        if (rc != SB_EIO || !strstr(e.msg, dir) || !strstr(e.msg, "cannot reserve") ||
            !strstr(e.msg, strerror(ENOSPC))) {
            fprintf(stderr, "rc %d, message: %s\n", rc, e.msg);
            _exit(1);
        }
        if (!(d = opendir(dir))) _exit(2);
        while ((de = readdir(d)) != NULL)
            if (strstr(de->d_name, ".tmp.")) {
                fprintf(stderr, "left behind: %s\n", de->d_name);
                _exit(3);
            }
        closedir(d);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) fprintf(stderr, "the cache build died of signal %d\n", WTERMSIG(st));
    assert_false(WIFSIGNALED(st));
    if (WEXITSTATUS(st) == 77) skip();  /* no namespaces here: cannot make a small disk */
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Issue 19, item 6: a link planted at the predictable temp name (every
 * serial a build in this process could use) must not make the build write
 * through it: the victim keeps its bytes and the cache is built anyway. */
static void planted_link_is_not_followed(void **state) {
    sb_cache_spec s = spec_for(items, 0);
    char dir[4200], victim[4200], link[4400];
    sb_cache *c;
    sb_error e = {0, ""};
    uint64_t key;
    (void)state;
    snprintf(dir, sizeof dir, "%s/planted", tmp);
    snprintf(victim, sizeof victim, "%s/victim.txt", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    tu_write_text(victim, "precious");
    s.cache_dir = dir;
    assert_int_equal(sb_cache_compute_key(&s, &key, &e), SB_OK);
    for (unsigned serial = 0; serial < 64; serial++) {
        snprintf(link, sizeof link, "%s/synthetic-%dpx-%016llx.sbc.tmp.%ld.%u", dir, SIZE,
                 (unsigned long long)key, (long)getpid(), serial);
        assert_int_equal(symlink(victim, link), 0);
    }
    c = open_ok(&s);
    assert_int_equal(sb_cache_was_built(c), 1);
    assert_pixels_match_decoder(c);
    sb_cache_close(c);
    assert_true(tu_file_contains(victim, "precious"));
    {
        struct stat st;
        assert_int_equal(stat(victim, &st), 0);
        assert_int_equal(st.st_size, 8);
    }
}

/* A temp file name in the cache folder, for the pid given. */
static void temp_name(char *out, size_t n, const char *dir, long pid, const char *tail) {
    snprintf(out, n, "%s/synthetic-%dpx-0123456789abcdef.sbc.tmp.%ld%s", dir, SIZE, pid, tail);
}

/* Issue 19, item 9: a build killed with SIGKILL leaves its temp file; the
 * next open in the folder removes the temp files of dead builders, and only
 * those: a live builder's (ours), a link, other names stay. */
static void stale_temp_of_dead_builder_is_removed(void **state) {
    sb_cache_spec s = spec_for(items, 0);
    char dir[4200], dead[4400], live[4400], link[4400], other[4400], victim[4200];
    sb_cache *c;
    pid_t child;
    int st;
    struct stat sb;
    (void)state;
    snprintf(dir, sizeof dir, "%s/stale", tmp);
    snprintf(victim, sizeof victim, "%s/victim2.txt", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    tu_write_text(victim, "precious");
    /* a pid that is certainly dead: a child reaped here */
    fflush(NULL);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(0);
    assert_int_equal(waitpid(child, &st, 0), child);
    temp_name(dead, sizeof dead, dir, (long)child, ".0");
    temp_name(live, sizeof live, dir, (long)getpid(), ".7");
    temp_name(link, sizeof link, dir, (long)child, ".1");
    temp_name(other, sizeof other, dir, (long)child, ".2.bak");
    tu_write_text(dead, "left by a killed build");
    tu_write_text(live, "being built");
    tu_write_text(other, "not a temp name");
    assert_int_equal(symlink(victim, link), 0);
    s.cache_dir = dir;
    c = open_ok(&s);
    sb_cache_close(c);
    assert_int_equal(lstat(dead, &sb), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(lstat(live, &sb), 0);
    assert_int_equal(lstat(other, &sb), 0);
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(tu_file_contains(victim, "precious"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(built_then_reused_without_decoding),
        cmocka_unit_test(image_change_invalidates),
        cmocka_unit_test(label_change_invalidates),
        cmocka_unit_test(corrupt_file_is_rebuilt),
        cmocka_unit_test(open_file_rejects_garbage),
        cmocka_unit_test(unreadable_images),
        cmocka_unit_test(full_disk_is_a_clean_error),
        cmocka_unit_test(planted_link_is_not_followed),
        cmocka_unit_test(stale_temp_of_dead_builder_is_removed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
