/*
 * sbm-run - run one .sbm model on one input, for the reference tests and by
 * hand:
 *
 *   sbm-run MODEL.sbm INPUT.bin OUTPUT.bin [--dump DIR] [--fp32] [--ref]
 *
 * INPUT.bin: the graph input's raw int8 bytes ([1,H,W,3], q = pixel - 128).
 * OUTPUT.bin: the int8 logits, or float32 logits (little-endian) with --fp32.
 * --dump DIR: every activation tensor t as DIR/t<t>.bin (int8 bytes, float32
 * with --fp32). --ref: the straightforward kernels instead of the fast ones.
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_file.h"
#include "sb_kernels.h"
#include "sb_model_file.h"

static int usage(void) {
    fprintf(stderr, "usage: sbm-run MODEL.sbm INPUT.bin OUTPUT.bin [--dump DIR] [--fp32] [--ref]\n");
    return 2;
}

/* temp file and rename: no link planted at either name is followed */
static int write_bytes(const char *path, const void *p, size_t n, sb_error *err) {
    return sb_file_write_atomic(path, p, n, err);
}

static int read_input(const char *path, const sb_graph *g, int8_t **out, sb_error *err) {
    size_t want = (size_t)sb_tensor_elems(&g->tensors[g->input]);
    FILE *f;
    int rc = sb_fopen_regular(path, "an input file", &f, err);
    if (rc < 0) return rc;
    int8_t *buf = malloc(want + 1);
    size_t got = buf ? fread(buf, 1, want + 1, f) : 0;
    fclose(f);
    if (got != want) {
        const int32_t *s = g->tensors[g->input].shape;
        free(buf);
        return sb_error_set(err, SB_EFORMAT, "%s: %zu%s bytes: expected %zu (int8 [1,%d,%d,%d])", path, got,
                            got > want ? " or more" : "", want, (int)s[1], (int)s[2], (int)s[3]);
    }
    *out = buf;
    return SB_OK;
}

static int dump(const char *dir, const sb_graph *g, const sb_workspace *ws, int fp32, sb_error *err) {
    char path[4096];
    for (int32_t t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].data) continue;
        size_t n = (size_t)sb_tensor_elems(&g->tensors[t]);
        const void *p = fp32 ? (const void *)sb_workspace_act_f32(ws, t) : (const void *)sb_workspace_act(ws, t);
        snprintf(path, sizeof path, "%s/t%d.bin", dir, (int)t);
        int rc = write_bytes(path, p, fp32 ? n * sizeof(float) : n, err);
        if (rc) return rc;
    }
    return SB_OK;
}

int main(int argc, char **argv) {
    const char *pos[3] = {0}, *dump_dir = NULL;
    int npos = 0, fp32 = 0, ref = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) dump_dir = argv[++i];
        else if (strcmp(argv[i], "--fp32") == 0) fp32 = 1;
        else if (strcmp(argv[i], "--ref") == 0) ref = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return usage();
        else if (npos < 3) pos[npos++] = argv[i];
        else return usage();
    }
    if (npos != 3) return usage();
    sb_error err = {0};
    sb_model_file *mf = NULL;
    sb_workspace *ws = NULL;
    int8_t *in = NULL;
    void *out = NULL;
    int rc = sb_model_file_load(pos[0], &mf, &err);
    const sb_graph *g = rc ? NULL : sb_model_file_graph(mf);
    if (rc == SB_OK) rc = read_input(pos[1], g, &in, &err);
    if (rc == SB_OK) rc = sb_workspace_new(g, &ws, &err);
    size_t n_out = g ? (size_t)sb_tensor_elems(&g->tensors[g->output]) : 0;
    if (rc == SB_OK && !(out = malloc(n_out * sizeof(float)))) rc = sb_error_set(&err, SB_ENOMEM, "out of memory");
    if (rc == SB_OK) {
        if (fp32) rc = sb_graph_run_f32(g, ws, in, out, &err);
        else if (ref) rc = sb_graph_run_int8_ref(g, ws, in, out, &err);
        else rc = sb_graph_run_int8(g, ws, in, out, &err);
    }
    if (rc == SB_OK) rc = write_bytes(pos[2], out, fp32 ? n_out * sizeof(float) : n_out, &err);
    if (rc == SB_OK && dump_dir) rc = dump(dump_dir, g, ws, fp32, &err);
    if (rc) fprintf(stderr, "sbm-run: %s\n", err.msg);
    free(out);
    free(in);
    sb_workspace_free(ws);
    sb_model_file_free(mf);
    return rc ? 1 : 0;
}
