/*
 * sbm_plugin.c - the generic model plugin: loads any .sbm file.
 * Option `path`: the file; a relative path is resolved against the folder of
 * bench.toml (host->repo_root).
 */
#include <limits.h>
#include <stdio.h>

#include "sb_model_file.h"
#include "sb_plugin.h"

static const sb_option_spec sbm_options[] = {
    {"path", SB_OPT_STRING, SB_OPT_REQUIRED, "the .sbm model file; relative to bench.toml's folder"},
    {NULL, 0, 0, NULL}};

static int sbm_load(const sb_host *host, const sb_options *opts, const sb_graph **graph, sb_error *err) {
    const sb_option *o = sb_opt_find(opts, "path");
    if (!o || o->type != SB_OPT_STRING || !o->s || !o->s[0])
        return sb_error_set(err, SB_EINVAL, "model '%s': option path: expected the .sbm file to load",
                            opts && opts->name ? opts->name : "sbm");
    char full[PATH_MAX];
    if (o->s[0] != '/' && host && host->repo_root)
        snprintf(full, sizeof full, "%s/%s", host->repo_root, o->s);
    else
        snprintf(full, sizeof full, "%s", o->s);
    sb_model_file *mf;
    sb_error e = {0};
    int rc = sb_model_file_load(full, &mf, &e);
    if (rc) {
        if (o->file) return sb_error_set(err, rc, "%s:%d: path = \"%s\": %s", o->file, o->line, o->s, e.msg);
        return sb_error_set(err, rc, "%s", e.msg);
    }
    *graph = sb_model_file_graph(mf);
    return SB_OK;
}

static void sbm_unload(const sb_graph *graph) {
    if (graph) sb_model_file_free(sb_model_file_from_graph(graph));
}

static const sb_model_plugin sbm_plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_MODEL, "sbm", "1.0.0", "any network stored as an .sbm file (docs/model-format.md)",
                          sbm_options),
    sbm_load, sbm_unload};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &sbm_plugin.hdr;
