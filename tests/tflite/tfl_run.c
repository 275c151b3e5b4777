/*
 * tfl-run - run a .tflite model on many inputs, for the reference tests:
 *
 *   tfl-run MODEL.tflite INPUTS.bin OUT.bin [--ref] [--backend PLUGIN.so [--preset TOML]]
 *   tfl-run MODEL.tflite --info
 *
 * INPUTS.bin: inputs of the graph's input size, back to back. OUT.bin: for
 * each input, the graph's int8 output then the model's final output (the
 * TFLite softmax of it when the file ends in SOFTMAX, else the same bytes).
 * Default: the engine's fast kernels; --ref the straightforward ones;
 * --backend a backend plugin (opened with the options of --preset, a TOML
 * file of the SRAM presets' form, or none), as `srambench run` uses it.
 * --info prints input shape, zero point, scale, output elements, softmax.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sram/sr_opts.h"
#include "sb_kernels.h"
#include "sb_tflite.h"

typedef struct runner {
    const sb_graph *g;
    sb_workspace *ws;
    int ref;
    const sb_backend_plugin *be;
    void *be_h, *prog;
} runner;

static int die(const char *what, const sb_error *e) {
    fprintf(stderr, "tfl-run: %s: %s\n", what, e ? e->msg : "");
    return 1;
}

static int open_backend(runner *r, const char *so, const char *preset, sb_error *e) {
    static sr_opts opts;
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!h) return sb_error_set(e, SB_ENOENT, "dlopen %s: %s", so, dlerror());
    const sb_plugin_header *const *entry = dlsym(h, SB_PLUGIN_ENTRY_SYMBOL);
    if (!entry || (*entry)->kind != SB_KIND_BACKEND) return sb_error_set(e, SB_EABI, "%s: not a backend plugin", so);
    r->be = (const sb_backend_plugin *)*entry;
    memset(&opts, 0, sizeof opts);
    opts.o.name = "tfl-run";
    if (preset && sr_load_preset(&opts, preset)) return sb_error_set(e, SB_ENOENT, "%s: cannot read", preset);
    opts.o.name = "tfl-run";
    int rc = r->be->open(NULL, &opts.o, &r->be_h, e);
    if (rc == SB_OK) rc = r->be->prepare(r->be_h, r->g, &r->prog, e);
    return rc;
}

static int run_one(runner *r, const int8_t *in, int8_t *out, sb_error *e) {
    if (r->be) {
        sb_metrics m = {0};
        return r->be->run(r->prog, in, out, &m, e);
    }
    return r->ref ? sb_graph_run_int8_ref(r->g, r->ws, in, out, e) : sb_graph_run_int8(r->g, r->ws, in, out, e);
}

/* Every activation of the last input as DIR/<name>.bin (debugging). */
static void dump_acts(const sb_graph *g, const sb_workspace *ws, const char *dir) {
    for (int32_t t = 0; t < g->n_tensors; t++) {
        const int8_t *a = sb_workspace_act(ws, t);
        char path[4096], name[256];
        if (!a) continue;
        snprintf(name, sizeof name, "%s", g->tensors[t].name);
        for (char *p = name; *p; p++)
            if (*p == '/' || *p == ';' || *p == ' ') *p = '_';
        snprintf(path, sizeof path, "%s/%s.bin", dir, name);
        FILE *f = fopen(path, "wb");
        if (!f) continue;
        fwrite(a, 1, (size_t)sb_tensor_elems(&g->tensors[t]), f);
        fclose(f);
    }
}

static void info(const sb_tfl_model *m) {
    const sb_graph *g = sb_tfl_graph(m);
    const sb_tensor *x = &g->tensors[g->input];
    printf("input");
    for (int i = 0; i < x->rank; i++) printf(" %d", (int)x->shape[i]);
    printf("\ninput_zero_point %d\ninput_scale %.9g\noutputs %d\nsoftmax %d\nops %d\n", (int)x->zero_point,
           (double)x->scale, (int)g->n_classes, sb_tfl_has_softmax(m), (int)g->n_ops);
}

int main(int argc, char **argv) {
    sb_error e = {0};
    sb_tfl_model *m;
    runner r = {0};
    const char *so = NULL, *preset = NULL, *dump = NULL;
    if (argc < 3) return fprintf(stderr, "usage: tfl-run MODEL.tflite INPUTS.bin OUT.bin [--ref] [--backend SO [--preset TOML]]\n"), 2;
    if (sb_tfl_load_file(argv[1], &m, &e)) return die("load", &e);
    if (!strcmp(argv[2], "--info")) return info(m), sb_tfl_free(m), 0;
    if (argc < 4) return 2;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--ref")) r.ref = 1;
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) so = argv[++i];
        else if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
        else return fprintf(stderr, "tfl-run: unknown argument %s\n", argv[i]), 2;
    }
    r.g = sb_tfl_graph(m);
    size_t n_in = (size_t)sb_tensor_elems(&r.g->tensors[r.g->input]), n_out = (size_t)r.g->n_classes;
    FILE *f = fopen(argv[2], "rb");
    if (!f) return die(argv[2], NULL);
    fseek(f, 0, SEEK_END);
    size_t bytes = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    int8_t *in = malloc(bytes + 1), *out = malloc(2 * n_out);
    if (!in || !out || fread(in, 1, bytes, f) != bytes || bytes % n_in) return die(argv[2], NULL);
    fclose(f);
    if (so ? open_backend(&r, so, preset, &e) : sb_workspace_new(r.g, &r.ws, &e)) return die("backend", &e);
    FILE *o = fopen(argv[3], "wb");
    if (!o) return die(argv[3], NULL);
    for (size_t k = 0; k < bytes / n_in; k++) {
        if (run_one(&r, in + k * n_in, out, &e)) return die("run", &e);
        sb_tfl_softmax(m, out, out + n_out, (int32_t)n_out);
        if (dump && !r.be) dump_acts(r.g, r.ws, dump);
        fwrite(out, 1, 2 * n_out, o);
    }
    if (fclose(o)) return die(argv[3], NULL);
    if (r.be) {
        r.be->release(r.prog);
        r.be->close(r.be_h);
    } else
        sb_workspace_free(r.ws);
    free(in);
    free(out);
    sb_tfl_free(m);
    return 0;
}
