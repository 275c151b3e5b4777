/*
 * sb_loader.h - finding and loading plugins.
 *
 * A plugin is `srambench-<kind>-<name>.so` exporting `sb_plugin_entry`. The
 * search path, in order: each folder of SRAMBENCH_PLUGIN_PATH (colon-
 * separated), each folder of bench.toml's [run] plugin_path, then the folder
 * of the srambench executable searched recursively (depth <= 4, skipping
 * hidden folders, meson's private folders and `tests`, whose plugins are fakes).
 *
 * The search path is trusted like code: a library's constructors run when
 * it is loaded, before any check of its header. So a plugin name is a plain
 * name (sb_plugin_name_ok), and a plugin file must lie inside its search
 * folder once links are resolved; both are checked before dlopen.
 */
#ifndef SB_LOADER_H
#define SB_LOADER_H

#include "sb_plugin.h"

typedef struct sb_plugin {
    void *dl;                       /* dlopen handle                    */
    char *file;                     /* the .so it came from             */
    const sb_plugin_header *hdr;    /* kind, name, version, options     */
} sb_plugin;

/* The setting that put a folder on the search path. */
typedef enum {
    SB_PATH_ENV,                    /* SRAMBENCH_PLUGIN_PATH            */
    SB_PATH_CONFIG,                 /* bench.toml's [run] plugin_path   */
    SB_PATH_DEFAULT                 /* the srambench program's folder   */
} sb_path_origin;

typedef struct sb_search_path {
    char **dirs;
    int *depth;                     /* how deep to search each folder */
    sb_path_origin *origin;         /* which setting named it         */
    size_t n;
} sb_search_path;

/* Build the path: env SRAMBENCH_PLUGIN_PATH, then `extra` (n_extra folders,
 * may be NULL), then the executable's folder. */
int sb_search_path_init(sb_search_path *sp, const char *const *extra, size_t n_extra, sb_error *err);
void sb_search_path_free(sb_search_path *sp);

/* "SRAMBENCH_PLUGIN_PATH", "[run] plugin_path", "built-in default". */
const char *sb_path_origin_name(sb_path_origin o);

/* 1 if name is a plugin name, [a-z0-9][a-z0-9-]*: no path, no dots. */
int sb_plugin_name_ok(const char *name);

/* "dataset", "model", "backend". */
const char *sb_kind_name(sb_kind kind);

/* Load one file; want = 0 accepts any kind. Refuses (SB_ENOENT, SB_EFORMAT,
 * SB_EABI) a missing file, a file that is not a shared object, a missing
 * symbol, a wrong kind, another ABI major. */
int sb_plugin_open(const char *file, sb_kind want, sb_plugin *out, sb_error *err);
void sb_plugin_close(sb_plugin *p);

/* Find srambench-<kind>-<name>.so on the path and load it. Refuses
 * (SB_EINVAL) a name that is not sb_plugin_name_ok and a file that resolves
 * outside its search folder, before loading anything. */
int sb_plugin_find(const sb_search_path *sp, sb_kind kind, const char *name, sb_plugin *out, sb_error *err);

/* Call `fn` for every plugin file on the path (the first of each file name
 * only, as a lookup would). `fn` gets the loaded plugin or, when it was
 * refused, NULL and the error. */
typedef void (*sb_plugin_visit_fn)(const char *file, const sb_plugin *p, const sb_error *refused, void *ud);
void sb_plugin_scan(const sb_search_path *sp, sb_plugin_visit_fn fn, void *ud);

#endif /* SB_LOADER_H */
