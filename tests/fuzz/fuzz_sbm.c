/*
 * fuzz_sbm.c - the .sbm model-file loader (docs/model-format.md).
 *
 * A stored CRC32 would stop nearly every mutation at the checksum, so the
 * target re-stamps it: an input starting with "SBMODEL\0" is a whole file
 * whose CRC is recomputed over what the header says it covers; any other
 * input is "<JSON header>\n#data\n<data block>", written with the library's
 * own sb_model_file_write_raw. Loaded graphs are walked so that every
 * pointer the loader hands out is touched, and small ones are run: the fast
 * and the reference INT8 kernels must give the same bytes (a graph the
 * loader accepts must be one the kernels can run), and the fp32 path must
 * not crash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sb_kernels.h"
#include "sb_model_file.h"

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static const char *write_raw_restamped(const uint8_t *data, size_t size) {
    uint8_t *b = malloc(size);
    const char *path;
    if (!b) abort();
    memcpy(b, data, size);
    if (size >= SB_SBM_FIXED_BYTES) {
        uint64_t doff = le64(b + 24), dlen = le64(b + 32);
        if (doff >= SB_SBM_FIXED_BYTES && doff <= size && dlen <= size - doff) {
            uint32_t crc = sb_crc32(0, b + SB_SBM_FIXED_BYTES, (size_t)(doff + dlen) - SB_SBM_FIXED_BYTES);
            for (int i = 0; i < 4; i++) b[40 + i] = (uint8_t)(crc >> (8 * i));
        }
    }
    path = fuzz_write("fuzz.sbm", b, size);
    free(b);
    return path;
}

static const char *write_split(const uint8_t *data, size_t size) {
    const uint8_t *json, *blob;
    size_t n_json, n_blob;
    char *j;
    sb_error err = {0, ""};
    const char *path = fuzz_write("fuzz.sbm", (const uint8_t *)"", 0);
    fuzz_split(data, size, "\n#data\n", &json, &n_json, &blob, &n_blob);
    if (!(j = malloc(n_json + 1))) abort();
    memcpy(j, json, n_json);
    j[n_json] = 0;   /* an embedded NUL just ends the JSON early */
    if (sb_model_file_write_raw(path, j, blob, n_blob, &err) != SB_OK) abort();
    free(j);
    return path;
}

/* Read every byte the graph points at (ASan checks the bounds). */
static unsigned walk(const sb_graph *g) {
    unsigned acc = 0;
    for (int32_t t = 0; t < g->n_tensors; t++) {
        const sb_tensor *x = &g->tensors[t];
        for (size_t k = 0; x->data && k < x->nbytes; k++) acc += ((const uint8_t *)x->data)[k];
        for (int32_t c = 0; x->channel_scales && c < x->n_channel_scales; c++) acc += x->channel_scales[c] != 0.0f;
        acc += (unsigned)strlen(x->name ? x->name : "");
    }
    for (int32_t i = 0; i < g->n_ops; i++) {
        const sb_op *op = &g->ops[i];
        for (int32_t k = 0; k < op->n_inputs && k < 3; k++)
            if (op->inputs[k] < 0 || op->inputs[k] >= g->n_tensors) abort();
        if (op->output < 0 || op->output >= g->n_tensors) abort();
        for (int32_t k = 0; k < op->n_requant; k++) {
            if (op->multiplier) acc += (unsigned)op->multiplier[k];
            if (op->shift) acc += (unsigned)op->shift[k];
            if (op->scale_f32) acc += op->scale_f32[k] != 0.0f;
        }
        for (int k = 0; op->lut && k < 256; k++) acc += (unsigned)op->lut[k];
    }
    for (int32_t c = 0; g->class_names && c < g->n_classes; c++) acc += (unsigned)strlen(g->class_names[c]);
    return acc;
}

/* Keeps the walk from being optimised away. */
volatile unsigned fuzz_sbm_sink;

/* Run graphs up to this size only, so an input stays fast. */
#define RUN_MAX_MACS 2000000
#define RUN_MAX_ELEMS 1000000

static void run_graph(const sb_graph *g) {
    int64_t macs = 0, elems = 0, in_n, out_n;
    sb_workspace *ws = NULL;
    sb_error err = {0, ""};
    int8_t *in, *fast, *ref;
    float *f32;
    int rc_fast, rc_ref;
    for (int32_t i = 0; i < g->n_ops; i++) macs += sb_op_macs(g, &g->ops[i]);
    for (int32_t t = 0; t < g->n_tensors; t++) elems += sb_tensor_elems(&g->tensors[t]);
    in_n = sb_tensor_elems(&g->tensors[g->input]);
    out_n = sb_tensor_elems(&g->tensors[g->output]);
    if (macs > RUN_MAX_MACS || elems > RUN_MAX_ELEMS) return;
    if (sb_workspace_new(g, &ws, &err) != SB_OK) return;
    in = malloc((size_t)in_n);
    fast = calloc((size_t)out_n, 1);
    ref = calloc((size_t)out_n, 1);
    f32 = calloc((size_t)out_n, sizeof *f32);
    if (!in || !fast || !ref || !f32) abort();
    for (int64_t k = 0; k < in_n; k++) in[k] = (int8_t)(k * 37 + 11);
    rc_fast = sb_graph_run_int8(g, ws, in, fast, &err);
    rc_ref = sb_graph_run_int8_ref(g, ws, in, ref, &err);
    if (rc_fast != rc_ref || (rc_fast == SB_OK && memcmp(fast, ref, (size_t)out_n) != 0)) {
        fprintf(stderr, "fuzz_sbm: fast and reference kernels disagree (rc %d vs %d)\n", rc_fast, rc_ref);
        abort();
    }
    (void)sb_graph_run_f32(g, ws, in, f32, &err);
    sb_workspace_free(ws);
    free(in); free(fast); free(ref); free(f32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_model_file *mf = NULL;
    sb_error err = {0, ""};
    const char *path = size >= 8 && memcmp(data, SB_SBM_MAGIC, 8) == 0 ? write_raw_restamped(data, size)
                                                                       : write_split(data, size);
    if (sb_model_file_load(path, &mf, &err) != SB_OK) {
        if (err.msg[0] == 0) abort();
        return 0;
    }
    fuzz_sbm_sink = walk(sb_model_file_graph(mf));
    run_graph(sb_model_file_graph(mf));
    sb_model_file_free(mf);
    return 0;
}
