/*
 * sb_loader.h - finding and loading plugins.
 *
 * A plugin is `srambench-<kind>-<name>.so` exporting `sb_plugin_entry`. The
 * search path, in order: each folder of SRAMBENCH_PLUGIN_PATH (colon-
 * separated), each folder of bench.toml's [run] plugin_path, then the folder
 * of the srambench executable searched recursively (depth <= 4, skipping
 * hidden folders, meson's private folders and `tests`, whose plugins are fakes).
 */
#ifndef SB_LOADER_H
#define SB_LOADER_H

#include "sb_plugin.h"

typedef struct sb_plugin {
    void *dl;                       /* dlopen handle                    */
    char *file;                     /* the .so it came from             */
    const sb_plugin_header *hdr;    /* kind, name, version, options     */
} sb_plugin;

typedef struct sb_search_path {
    char **dirs;
    int *depth;                     /* how deep to search each folder */
    size_t n;
} sb_search_path;

/* Build the path: env SRAMBENCH_PLUGIN_PATH, then `extra` (n_extra folders,
 * may be NULL), then the executable's folder. */
int sb_search_path_init(sb_search_path *sp, const char *const *extra, size_t n_extra, sb_error *err);
void sb_search_path_free(sb_search_path *sp);

/* "dataset", "model", "backend". */
const char *sb_kind_name(sb_kind kind);

/* Load one file; want = 0 accepts any kind. Refuses (SB_ENOENT, SB_EFORMAT,
 * SB_EABI) a missing file, a file that is not a shared object, a missing
 * symbol, a wrong kind, another ABI major. */
int sb_plugin_open(const char *file, sb_kind want, sb_plugin *out, sb_error *err);
void sb_plugin_close(sb_plugin *p);

/* Find srambench-<kind>-<name>.so on the path and load it. */
int sb_plugin_find(const sb_search_path *sp, sb_kind kind, const char *name, sb_plugin *out, sb_error *err);

/* Call `fn` for every plugin file on the path (the first of each file name
 * only, as a lookup would). `fn` gets the loaded plugin or, when it was
 * refused, NULL and the error. */
typedef void (*sb_plugin_visit_fn)(const char *file, const sb_plugin *p, const sb_error *refused, void *ud);
void sb_plugin_scan(const sb_search_path *sp, sb_plugin_visit_fn fn, void *ud);

#endif /* SB_LOADER_H */
