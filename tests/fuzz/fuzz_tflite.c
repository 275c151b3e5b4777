/*
 * fuzz_tflite.c - the tflite plugin's FlatBuffer reader and TFLite mapping
 * (plugins/tflite, docs/tflite.md), from memory (sb_tfl_load_mem). A model
 * the loader accepts is walked (every pointer it hands out is read) and,
 * when small, run: the fast and reference INT8 kernels must give the same
 * bytes, and the softmax runs on the logits. Seeds: tests/tflite/make_tflite.py
 * (the tiny network of every mapped operator and its broken variants).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_graph.h"
#include "fuzz_util.h"
#include "sb_kernels.h"
#include "sb_tflite.h"

volatile unsigned fuzz_tflite_sink;

static void run_graph(const sb_tfl_model *m) {
    const sb_graph *g = sb_tfl_graph(m);
    if (!fuzz_graph_small(g)) return;
    int64_t in_n = sb_tensor_elems(&g->tensors[g->input]), out_n = g->n_classes;
    sb_workspace *ws = NULL;
    sb_error err = {0, ""};
    if (sb_workspace_new(g, &ws, &err) != SB_OK) return;
    int8_t *in = malloc((size_t)in_n), *fast = calloc((size_t)out_n, 1), *ref = calloc((size_t)out_n, 1);
    int8_t *probs = calloc((size_t)out_n, 1);
    if (!in || !fast || !ref || !probs) abort();
    for (int64_t k = 0; k < in_n; k++) in[k] = (int8_t)(k * 37 + 11);
    int rc_fast = sb_graph_run_int8(g, ws, in, fast, &err);
    int rc_ref = sb_graph_run_int8_ref(g, ws, in, ref, &err);
    if (rc_fast != rc_ref || (rc_fast == SB_OK && memcmp(fast, ref, (size_t)out_n) != 0)) {
        fprintf(stderr, "fuzz_tflite: fast and reference kernels disagree (rc %d vs %d)\n", rc_fast, rc_ref);
        abort();
    }
    sb_tfl_softmax(m, fast, probs, (int32_t)out_n);
    sb_workspace_free(ws);
    free(in);
    free(fast);
    free(ref);
    free(probs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_tfl_model *m = NULL;
    sb_error err = {0, ""};
    if (sb_tfl_load_mem(data, size, "fuzz.tflite", &m, &err) != SB_OK) {
        if (err.msg[0] == 0) abort(); /* every refusal says why */
        return 0;
    }
    fuzz_tflite_sink = fuzz_walk_graph(sb_tfl_graph(m));
    run_graph(m);
    sb_tfl_free(m);
    return 0;
}
