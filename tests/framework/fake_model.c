/* A fake model for the framework tests: input [1,size,size,3], `classes`
 * int8 logits with scale 0.25, no ops (the fake backend computes logits). */
#include <stdlib.h>
#include <string.h>

#include "sb_plugin.h"

static const sb_option_spec options[] = {
    {"size", SB_OPT_INT, 0, "input size in pixels"},
    {"classes", SB_OPT_INT, 0, "number of classes"},
    {"fail_load", SB_OPT_BOOL, 0, "fail in load()"},
    {"random_weights", SB_OPT_BOOL, 0, "provenance says the weights are random"},
    {"output_scale", SB_OPT_FLOAT, 0, "the logits' scale (default 0.25)"},
    {"temperature", SB_OPT_FLOAT, 0, "the graph's softmax temperature (default 0: none)"},
    {"class_names", SB_OPT_STRINGS, 0, "the classes' names (default: none); their number sets classes"},
    {NULL, 0, 0, NULL}};

typedef struct fake_graph {
    sb_graph g;
    sb_tensor t[2];
} fake_graph;

static int m_load(const sb_host *host, const sb_options *o, const sb_graph **out, sb_error *err) {
    fake_graph *f;
    int size = (int)sb_opt_int(o, "size", 4);
    (void)host;
    if (sb_opt_bool(o, "fail_load", 0)) return sb_error_set(err, SB_EFORMAT, "fake model: told to fail in load");
    f = calloc(1, sizeof *f);
    f->t[0].name = "input";
    f->t[0].dtype = SB_DT_INT8;
    f->t[0].rank = 4;
    f->t[0].shape[0] = 1;
    f->t[0].shape[1] = size;
    f->t[0].shape[2] = size;
    f->t[0].shape[3] = 3;
    f->t[0].scale = 1.0f / 128;
    f->t[1].name = "logits";
    f->t[1].dtype = SB_DT_INT8;
    f->t[1].rank = 2;
    f->t[1].shape[0] = 1;
    f->t[1].shape[1] = (int32_t)sb_opt_int(o, "classes", 3);
    f->t[1].scale = (float)sb_opt_float(o, "output_scale", 0.25);
    f->g.name = "fake";
    f->g.requant = SB_REQUANT_FIXED;
    f->g.tensors = f->t;
    f->g.n_tensors = 2;
    f->g.input = 0;
    f->g.output = 1;
    f->g.n_classes = f->t[1].shape[1];
    f->g.temperature = (float)sb_opt_float(o, "temperature", 0);
    if (sb_opt_find(o, "class_names")) { /* the strings live as long as the options */
        f->g.class_names = sb_opt_find(o, "class_names")->strings;
        f->g.n_classes = f->t[1].shape[1] = (int32_t)sb_opt_find(o, "class_names")->n_strings;
    }
    if (sb_opt_bool(o, "random_weights", 0)) f->g.provenance_json = "{\"weights\": \"random\"}";
    *out = &f->g;
    return 0;
}

static void m_unload(const sb_graph *g) { free((void *)g); }

static const sb_model_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_MODEL, "fake", "1.0.0", "fake model for tests", options), m_load, m_unload};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
