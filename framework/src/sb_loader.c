/* sb_loader.c - plugin search and dlopen/dlsym (see sb_loader.h). */
#include "sb_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb_util.h"

#define SB_SCAN_MAX_DEPTH 4

const char *sb_kind_name(sb_kind kind) {
    switch (kind) {
    case SB_KIND_DATASET: return "dataset";
    case SB_KIND_MODEL: return "model";
    case SB_KIND_BACKEND: return "backend";
    }
    return "unknown";
}

const char *sb_path_origin_name(sb_path_origin o) {
    switch (o) {
    case SB_PATH_ENV: return "SRAMBENCH_PLUGIN_PATH";
    case SB_PATH_CONFIG: return "[run] plugin_path";
    case SB_PATH_DEFAULT: return "built-in default";
    }
    return "unknown";
}

int sb_plugin_name_ok(const char *name) {
    const char *c;
    if (!name || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'))) return 0;
    for (c = name + 1; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) return 0;
    return 1;
}

static int sp_add(sb_search_path *sp, const char *dir, int depth, sb_path_origin origin) {
    char **d = realloc(sp->dirs, (sp->n + 1) * sizeof *d);
    int *dp;
    sb_path_origin *o;
    if (!d) return SB_ENOMEM;
    sp->dirs = d;
    dp = realloc(sp->depth, (sp->n + 1) * sizeof *dp);
    if (!dp) return SB_ENOMEM;
    sp->depth = dp;
    o = realloc(sp->origin, (sp->n + 1) * sizeof *o);
    if (!o) return SB_ENOMEM;
    sp->origin = o;
    if (!(sp->dirs[sp->n] = strdup(dir))) return SB_ENOMEM;
    sp->origin[sp->n] = origin;
    sp->depth[sp->n++] = depth;
    return 0;
}

int sb_search_path_init(sb_search_path *sp, const char *const *extra, size_t n_extra, sb_error *err) {
    const char *env = getenv("SRAMBENCH_PLUGIN_PATH");
    char *exe;
    size_t i;
    int rc = 0;
    memset(sp, 0, sizeof *sp);
    if (env && *env) {
        char *copy = strdup(env), *save = NULL, *tok;
        if (!copy) return sb_error_set(err, SB_ENOMEM, "out of memory");
        for (tok = strtok_r(copy, ":", &save); tok && rc == 0; tok = strtok_r(NULL, ":", &save))
            rc = sp_add(sp, tok, 0, SB_PATH_ENV);
        free(copy);
    }
    for (i = 0; i < n_extra && rc == 0; i++) rc = sp_add(sp, extra[i], 0, SB_PATH_CONFIG);
    if (rc == 0 && (exe = sb_exe_dir()) != NULL) {
        rc = sp_add(sp, exe, SB_SCAN_MAX_DEPTH, SB_PATH_DEFAULT);
        free(exe);
    }
    if (rc < 0) {
        sb_search_path_free(sp);
        return sb_error_set(err, rc, "out of memory building the plugin search path");
    }
    return 0;
}

void sb_search_path_free(sb_search_path *sp) {
    size_t i;
    for (i = 0; i < sp->n; i++) free(sp->dirs[i]);
    free(sp->dirs);
    free(sp->depth);
    free(sp->origin);
    memset(sp, 0, sizeof *sp);
}

/* A function pointer of a descriptor and whether the plugin set it. */
typedef struct sb_member {
    const char *name;
    int present;
} sb_member;

/* The names of the unset members, "a(), b()", into out; 0 if none. */
static int list_missing(const sb_member *m, size_t n, char *out, size_t out_bytes) {
    size_t i, used = 0;
    int missing = 0;
    out[0] = 0;
    for (i = 0; i < n; i++) {
        if (m[i].present) continue;
        if (used < out_bytes)
            used += (size_t)snprintf(out + used, out_bytes - used, "%s%s()", missing ? ", " : "", m[i].name);
        missing++;
    }
    return missing;
}

/* The required members of each kind (sb_plugin.h says which are optional):
 * the host calls these without a NULL check, so a plugin that leaves one
 * unset would crash its job mid-run instead of being refused here. */
static int dataset_missing(const sb_dataset_plugin *d, char *out, size_t out_bytes) {
    const sb_member m[] = {{"open", d->open != NULL}, {"close", d->close != NULL},
                           {"count", d->count != NULL}, {"n_classes", d->n_classes != NULL},
                           {"label", d->label != NULL}, {"get", d->get != NULL}};
    return list_missing(m, sizeof m / sizeof *m, out, out_bytes);
}

static int model_missing(const sb_model_plugin *p, char *out, size_t out_bytes) {
    const sb_member m[] = {{"load", p->load != NULL}, {"unload", p->unload != NULL}};
    return list_missing(m, sizeof m / sizeof *m, out, out_bytes);
}

static int backend_missing(const sb_backend_plugin *b, char *out, size_t out_bytes) {
    const sb_member m[] = {{"open", b->open != NULL}, {"close", b->close != NULL},
                           {"prepare", b->prepare != NULL}, {"release", b->release != NULL},
                           {"run", b->run != NULL}};
    return list_missing(m, sizeof m / sizeof *m, out, out_bytes);
}

/* Refuses a plugin that leaves a required function NULL, naming them all. */
static int check_required(const char *file, const sb_plugin_header *hdr, sb_error *err) {
    char names[256];
    int n = 0;
    if (hdr->kind == SB_KIND_DATASET) n = dataset_missing((const sb_dataset_plugin *)hdr, names, sizeof names);
    if (hdr->kind == SB_KIND_MODEL) n = model_missing((const sb_model_plugin *)hdr, names, sizeof names);
    if (hdr->kind == SB_KIND_BACKEND) n = backend_missing((const sb_backend_plugin *)hdr, names, sizeof names);
    if (n == 0) return 0;
    return sb_error_set(err, SB_EABI, "plugin %s: %s plugin '%s' leaves %s NULL: expected every required "
                        "function of sb_%s_plugin to be set (sb_plugin.h)", file, sb_kind_name(hdr->kind),
                        hdr->name, names, sb_kind_name(hdr->kind));
}

/* An ELF shared object starts with \x7fELF and has e_type ET_DYN (3). */
static int looks_like_so(const char *file) {
    unsigned char h[18];
    FILE *f = fopen(file, "rb");
    size_t n;
    if (!f) return 0;
    n = fread(h, 1, sizeof h, f);
    fclose(f);
    return n == sizeof h && h[0] == 0x7f && h[1] == 'E' && h[2] == 'L' && h[3] == 'F' &&
           (h[5] == 1 ? h[16] : h[17]) == 3;
}

int sb_plugin_open(const char *file, sb_kind want, sb_plugin *out, sb_error *err) {
    struct stat st;
    void *dl, *sym;
    const sb_plugin_header *hdr;
    memset(out, 0, sizeof *out);
    if (stat(file, &st) != 0)
        return sb_error_set(err, SB_ENOENT, "plugin %s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode) || !looks_like_so(file))
        return sb_error_set(err, SB_EFORMAT, "plugin %s: not a shared object: expected an ELF .so built with plugin_kwargs", file);
    dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!dl) return sb_error_set(err, SB_EFORMAT, "plugin %s: cannot load: %s", file, dlerror());
    sym = dlsym(dl, SB_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(dl);
        return sb_error_set(err, SB_ENOENT, "plugin %s: missing symbol '%s': expected "
                            "'SB_EXPORT const sb_plugin_header *sb_plugin_entry = &my_plugin.hdr;'",
                            file, SB_PLUGIN_ENTRY_SYMBOL);
    }
    hdr = *(const sb_plugin_header *const *)sym;
    if (!hdr) {
        dlclose(dl);
        return sb_error_set(err, SB_EFORMAT, "plugin %s: '%s' is NULL: expected a pointer to the plugin's header",
                            file, SB_PLUGIN_ENTRY_SYMBOL);
    }
    if (hdr->abi_major != SB_ABI_MAJOR) {
        sb_error_set(err, SB_EABI, "plugin %s: built for ABI %u.%u, this srambench has ABI %d.%d: "
                     "expected ABI major %d (rebuild the plugin)", file, hdr->abi_major, hdr->abi_minor,
                     SB_ABI_MAJOR, SB_ABI_MINOR, SB_ABI_MAJOR);
        dlclose(dl);
        return SB_EABI;
    }
    if (hdr->kind != SB_KIND_DATASET && hdr->kind != SB_KIND_MODEL && hdr->kind != SB_KIND_BACKEND) {
        sb_error_set(err, SB_EABI, "plugin %s: unknown kind %d: expected dataset, model or backend", file, (int)hdr->kind);
        dlclose(dl);
        return SB_EABI;
    }
    if (want && hdr->kind != want) {
        sb_error_set(err, SB_EABI, "plugin %s: is a %s plugin: expected a %s plugin", file,
                     sb_kind_name(hdr->kind), sb_kind_name(want));
        dlclose(dl);
        return SB_EABI;
    }
    if (!hdr->name || !hdr->name[0]) {
        dlclose(dl);
        return sb_error_set(err, SB_EFORMAT, "plugin %s: header has no name", file);
    }
    /* The file name is what `plugin = "x"` finds (sb_plugin_find), the header
     * what runs and what results are labelled with: a copied or renamed .so
     * would run one plugin under another's name. They must agree. */
    {
        const char *base = strrchr(file, '/');
        char *want_name = sb_strdupf("srambench-%s-%s.so", sb_kind_name(hdr->kind), hdr->name);
        base = base ? base + 1 : file;
        if (!want_name || strcmp(base, want_name) != 0) {
            const char *stem = strncmp(base, "srambench-", 10) == 0 ? base + 10 : NULL;
            const char *dash = stem ? strchr(stem, '-') : NULL;
            const char *dot = dash ? strrchr(dash, '.') : NULL;
            int rc;
            if (!want_name)
                rc = sb_error_set(err, SB_ENOMEM, "out of memory");
            else if (dash && dot && dot > dash + 1 && strcmp(dot, ".so") == 0)
                rc = sb_error_set(err, SB_EABI, "%s: declares %s '%s': expected %.*s '%.*s' as its file name says "
                             "(a renamed or copied plugin?)", file, sb_kind_name(hdr->kind), hdr->name,
                             (int)(dash - stem), stem, (int)(dot - dash - 1), dash + 1);
            else
                rc = sb_error_set(err, SB_EABI, "%s: declares %s '%s': expected the file to be named %s", file,
                             sb_kind_name(hdr->kind), hdr->name, want_name);
            free(want_name);
            dlclose(dl);
            return rc;
        }
        free(want_name);
    }
    if (check_required(file, hdr, err) < 0) {
        dlclose(dl);
        return SB_EABI;
    }
    out->dl = dl;
    out->hdr = hdr;
    if (!(out->file = strdup(file))) {
        dlclose(dl);
        return sb_error_set(err, SB_ENOMEM, "out of memory");
    }
    return 0;
}

void sb_plugin_close(sb_plugin *p) {
    if (p->dl) dlclose(p->dl);
    free(p->file);
    memset(p, 0, sizeof *p);
}

/* 0 when file, links resolved, lies inside dir (links resolved): a plugin
 * is loaded only from where the search path says, never through a link or
 * a `..` out of it, because loading runs the library's constructors. */
static int inside_dir(const char *dir, const char *file, sb_error *err) {
    char *rdir = realpath(dir, NULL), *rfile = realpath(file, NULL);
    size_t n = rdir ? strlen(rdir) : 0;
    int rc = 0;
    if (!rdir || !rfile)
        rc = sb_error_set(err, SB_ENOENT, "plugin %s: %s", file, strerror(errno));
    else if (strncmp(rfile, rdir, n) != 0 || (rfile[n] != '/' && strcmp(rdir, "/") != 0))
        rc = sb_error_set(err, SB_EINVAL, "plugin %s: resolves to %s, outside its search folder %s: "
                          "expected the file inside the folder (a link or '..' out of it is refused)",
                          file, rfile, rdir);
    free(rdir);
    free(rfile);
    return rc;
}

static int skip_dir(const char *name) {
    return name[0] == '.' || strcmp(name, "tests") == 0 || strncmp(name, "meson-", 6) == 0;
}

/* Depth-first search for a file name under dir; malloc'd path or NULL. */
static char *find_under(const char *dir, const char *fname, int depth) {
    char *direct = sb_strdupf("%s/%s", dir, fname), *hit = NULL;
    struct stat st;
    DIR *d;
    struct dirent *e;
    if (direct && stat(direct, &st) == 0 && S_ISREG(st.st_mode)) return direct;
    free(direct);
    if (depth <= 0 || !(d = opendir(dir))) return NULL;
    while (!hit && (e = readdir(d)) != NULL) {
        char *sub;
        if (skip_dir(e->d_name)) continue;
        sub = sb_strdupf("%s/%s", dir, e->d_name);
        if (sub && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) hit = find_under(sub, fname, depth - 1);
        free(sub);
    }
    closedir(d);
    return hit;
}

int sb_plugin_find(const sb_search_path *sp, sb_kind kind, const char *name, sb_plugin *out, sb_error *err) {
    char *fname;
    size_t i;
    memset(out, 0, sizeof *out);
    if (!sb_plugin_name_ok(name))
        return sb_error_set(err, SB_EINVAL, "%s plugin name '%s': expected [a-z0-9][a-z0-9-]* (lower-case letters, "
                            "digits and '-': a name, not a path)", sb_kind_name(kind), name ? name : "");
    if (!(fname = sb_strdupf("srambench-%s-%s.so", sb_kind_name(kind), name)))
        return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (i = 0; i < sp->n; i++) {
        char *file = find_under(sp->dirs[i], fname, sp->depth[i]);
        if (file) {
            int rc = inside_dir(sp->dirs[i], file, err);
            if (rc == 0) rc = sb_plugin_open(file, kind, out, err);
            free(file);
            free(fname);
            return rc;
        }
    }
    {
        sb_buf where = {0};
        for (i = 0; i < sp->n; i++) sb_buf_printf(&where, "%s%s", i ? ", " : "", sp->dirs[i]);
        sb_error_set(err, SB_ENOENT, "%s plugin '%s' not found: expected a file %s in %s "
                     "(see `srambench plugins`; set SRAMBENCH_PLUGIN_PATH or [run] plugin_path)",
                     sb_kind_name(kind), name, fname, where.s ? where.s : "(empty search path)");
        sb_buf_free(&where);
    }
    free(fname);
    return SB_ENOENT;
}

/* ---------------------------------------------------------------- scan */

typedef struct seen_set {
    char **names;
    size_t n;
} seen_set;

static int seen_add(seen_set *s, const char *name) {
    size_t i;
    char **nn;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) return 0;
    if (!(nn = realloc(s->names, (s->n + 1) * sizeof *nn))) return 0;
    s->names = nn;
    if (!(s->names[s->n] = strdup(name))) return 0;
    s->n++;
    return 1;
}

static int is_plugin_name(const char *n) {
    size_t len = strlen(n);
    return strncmp(n, "srambench-", 10) == 0 && len > 13 && strcmp(n + len - 3, ".so") == 0;
}

static void scan_dir(const char *root, const char *dir, int depth, seen_set *seen, sb_plugin_visit_fn fn, void *ud) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char **subs = NULL;
    size_t n_subs = 0, i;
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char *path;
        if (e->d_name[0] == '.') continue;
        if (!(path = sb_strdupf("%s/%s", dir, e->d_name))) continue;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            char **ns;
            if (depth > 0 && !skip_dir(e->d_name) && (ns = realloc(subs, (n_subs + 1) * sizeof *ns))) {
                subs = ns;
                subs[n_subs++] = path;
                continue;
            }
        } else if (is_plugin_name(e->d_name) && seen_add(seen, e->d_name)) {
            sb_plugin p;
            sb_error err = {0};
            if (inside_dir(root, path, &err) == 0 && sb_plugin_open(path, 0, &p, &err) == 0) {
                fn(path, &p, NULL, ud);
                sb_plugin_close(&p);
            } else {
                fn(path, NULL, &err, ud);
            }
        }
        free(path);
    }
    closedir(d);
    for (i = 0; i < n_subs; i++) {
        scan_dir(root, subs[i], depth - 1, seen, fn, ud);
        free(subs[i]);
    }
    free(subs);
}

void sb_plugin_scan(const sb_search_path *sp, sb_plugin_visit_fn fn, void *ud) {
    seen_set seen = {0};
    size_t i;
    for (i = 0; i < sp->n; i++) scan_dir(sp->dirs[i], sp->dirs[i], sp->depth[i], &seen, fn, ud);
    for (i = 0; i < seen.n; i++) free(seen.names[i]);
    free(seen.names);
}
