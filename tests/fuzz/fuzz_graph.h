/*
 * fuzz_graph.h - what the model-loading fuzz targets (fuzz_sbm, fuzz_tflite)
 * do with a graph their reader accepted: read every byte it points at, so
 * that ASan checks the bounds the reader promised. Header-only, as
 * fuzz_util.h.
 */
#ifndef FUZZ_GRAPH_H
#define FUZZ_GRAPH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"
#include "sb_kernels.h"
#include "sb_plugin.h"

/* Run graphs up to this size only, so that an input stays fast and inside
 * libFuzzer's memory limit (-rss_limit_mb 2048, tools/fuzz.sh). */
#define FUZZ_RUN_MAX_MACS 2000000
#define FUZZ_RUN_MAX_ELEMS 1000000
#define FUZZ_RUN_MAX_SCRATCH_BYTES ((size_t)256 << 20)

/* The kernels' scratch of one op: small tensors can still need a big one (a
 * huge padding makes a huge padded depthwise plane, a valid model the
 * program would run with GBs of workspace; the fuzzer must not). */
static inline size_t fuzz_op_scratch_bytes(const sb_graph *g, const sb_op *op) {
    size_t f32 = sb_f32_scratch_bytes(g, op);
    size_t int8 = 0;
    if (op->type == SB_OP_CONV2D) int8 = sb_conv2d_scratch_bytes(g, op);
    if (op->type == SB_OP_DWCONV2D)
        int8 = sb_size_add(sb_dwconv2d_scratch_bytes(g, op), sb_dwconv2d_shared_bytes(g, op));
    return int8 > f32 ? int8 : f32;
}

/* Whether a graph the reader accepted is small enough for the target to run. */
static inline int fuzz_graph_small(const sb_graph *g) {
    int64_t macs = 0, elems = 0;
    for (int32_t i = 0; i < g->n_ops; i++) {
        macs += sb_op_macs(g, &g->ops[i]);
        if (fuzz_op_scratch_bytes(g, &g->ops[i]) > FUZZ_RUN_MAX_SCRATCH_BYTES) return 0;
    }
    for (int32_t t = 0; t < g->n_tensors; t++) elems += sb_tensor_elems(&g->tensors[t]);
    return macs <= FUZZ_RUN_MAX_MACS && elems <= FUZZ_RUN_MAX_ELEMS;
}

/* Read every byte the graph points at (ASan checks the bounds). */
static inline unsigned fuzz_walk_graph(const sb_graph *g) {
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

#endif /* FUZZ_GRAPH_H */
