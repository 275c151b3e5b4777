/*
 * tflite_plugin.c - the tflite model plugin: loads an INT8 .tflite file
 * (docs/tflite.md). Options: `path` (relative to bench.toml's folder) and
 * `classes`, the class names (the file has none; without them only their
 * count is checked against the dataset's).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "sb_plugin.h"
#include "sb_tflite.h"

static const sb_option_spec tfl_options[] = {
    {"path", SB_OPT_STRING, SB_OPT_REQUIRED, "the .tflite model file; relative to bench.toml's folder"},
    {"classes", SB_OPT_STRINGS, 0, "class names, as many as the output has elements (default: none; only the count is checked against the dataset)"},
    {NULL, 0, 0, NULL}};

/* The class names: from `classes`, or none (the file has none): the
 * framework then checks only their count against the dataset's, and says
 * so, rather than comparing invented names. */
static int set_classes(sb_tfl_model *m, const sb_options *opts, const char *path, sb_error *err) {
    sb_graph *g = (sb_graph *)sb_tfl_graph(m);
    const sb_option *o = sb_opt_find(opts, "classes");
    if (!o || o->type != SB_OPT_STRINGS) return SB_OK;
    if ((int64_t)o->n_strings != g->n_classes)
        return sb_error_set(err, SB_EINVAL, "%s:%d: classes: %zu names: expected %d (the output of %s)",
                            o->file ? o->file : "?", o->line, o->n_strings, (int)g->n_classes, path);
    g->class_names = o->strings;
    return SB_OK;
}

static int tfl_load(const sb_host *host, const sb_options *opts, const sb_graph **graph, sb_error *err) {
    const sb_option *o = sb_opt_find(opts, "path");
    if (!o || o->type != SB_OPT_STRING || !o->s || !o->s[0])
        return sb_error_set(err, SB_EINVAL, "model '%s': option path: expected the .tflite file to load",
                            opts && opts->name ? opts->name : "tflite");
    char full[PATH_MAX];
    if (o->s[0] != '/' && host && host->repo_root)
        snprintf(full, sizeof full, "%s/%s", host->repo_root, o->s);
    else
        snprintf(full, sizeof full, "%s", o->s);
    sb_tfl_model *m;
    sb_error e = {0};
    int rc = sb_tfl_load_file(full, &m, &e);
    if (rc == SB_OK && (rc = set_classes(m, opts, full, &e)) < 0) sb_tfl_free(m);
    if (rc < 0) {
        if (o->file) return sb_error_set(err, rc, "%s:%d: path = \"%s\": %s", o->file, o->line, o->s, e.msg);
        return sb_error_set(err, rc, "%s", e.msg);
    }
    *graph = sb_tfl_graph(m);
    return SB_OK;
}

static void tfl_unload(const sb_graph *graph) {
    if (graph) sb_tfl_free(sb_tfl_from_graph(graph));
}

static const sb_model_plugin tfl_plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_MODEL, "tflite", "1.0.0",
                          "an INT8 TensorFlow Lite model (.tflite), TFLite's integer arithmetic (docs/tflite.md)",
                          tfl_options),
    tfl_load, tfl_unload};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &tfl_plugin.hdr;
