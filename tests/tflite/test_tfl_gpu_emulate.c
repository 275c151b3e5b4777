/*
 * test_tfl_gpu_emulate.c - .tflite graphs (with sb_op.single_round and
 * avg_count) through the GPU backend's plan and its host emulation of the
 * CUDA kernels (backends/gpu/sb_gpu_ops.h, the same code nvcc compiles)
 * against the CPU kernels: the output bytes of a batch of seeded inputs.
 *
 *   test_tfl_gpu_emulate MODEL.tflite...   (absent files are skipped)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb_gpu_plan.h"
#include "sb_kernels.h"
#include "sb_tflite.h"

#define BATCH 2

typedef struct host_mem {
    void *p[4096];
    int n;
} host_mem;

static int hm_alloc(void *ctx, size_t bytes, uint64_t *addr, sb_error *err) {
    host_mem *m = ctx;
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || m->n == 4096) return sb_error_set(err, SB_ENOMEM, "host memory");
    m->p[m->n++] = p;
    *addr = (uint64_t)(uintptr_t)p;
    return 0;
}

static int hm_upload(void *ctx, const void *src, size_t bytes, uint64_t *addr, sb_error *err) {
    int rc = hm_alloc(ctx, bytes, addr, err);
    if (!rc) memcpy((void *)(uintptr_t)*addr, src, bytes);
    return rc;
}

/* Differing output bytes over the batch, or -1 on an error. */
static long compare(const sb_graph *g) {
    static host_mem hm;
    sb_gpu_mem mem = {&hm, hm_alloc, hm_upload};
    sb_error err = {0};
    uint64_t *ta = calloc((size_t)g->n_tensors, sizeof *ta);
    sb_gpu_launch *launches = calloc((size_t)g->n_ops, sizeof *launches);
    sb_workspace *ws = NULL;
    long differ = -1;
    size_t in_n = (size_t)sb_tensor_elems(&g->tensors[g->input]), out_n = (size_t)g->n_classes;
    int8_t *img = malloc(BATCH * in_n), *cpu = malloc(out_n);
    hm.n = 0;
    if (sb_gpu_plan(g, BATCH, 0, &mem, ta, launches, &err) || sb_workspace_new(g, &ws, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        goto out;
    }
    uint32_t s = 12345;
    for (size_t i = 0; i < BATCH * in_n; i++) img[i] = (int8_t)((s = s * 1103515245u + 12345u) >> 16);
    memcpy((void *)(uintptr_t)ta[g->input], img, BATCH * in_n);
    sb_gpu_emulate(launches, g->n_ops);
    differ = 0;
    for (int b = 0; b < BATCH; b++) {
        if (sb_graph_run_int8(g, ws, img + b * in_n, cpu, &err)) {
            differ = -1;
            break;
        }
        const int8_t *gpu = (const int8_t *)(uintptr_t)ta[g->output] + b * out_n;
        for (size_t i = 0; i < out_n; i++) differ += gpu[i] != cpu[i];
    }
out:
    for (int i = 0; i < hm.n; i++) free(hm.p[i]);
    sb_workspace_free(ws);
    free(ta);
    free(launches);
    free(img);
    free(cpu);
    return differ;
}

int main(int argc, char **argv) {
    int fails = 0, ran = 0;
    for (int i = 1; i < argc; i++) {
        sb_tfl_model *m;
        sb_error err = {0};
        if (access(argv[i], R_OK) != 0) {
            printf("%s: absent, skipped\n", argv[i]);
            continue;
        }
        if (sb_tfl_load_file(argv[i], &m, &err)) {
            printf("FAIL %s\n", err.msg);
            fails++;
            continue;
        }
        long d = compare(sb_tfl_graph(m));
        printf("%s: %ld differing output bytes over %d inputs (GPU plan, emulated, vs CPU)\n", argv[i], d, BATCH);
        fails += d != 0;
        ran++;
        sb_tfl_free(m);
    }
    return fails ? 1 : ran ? 0 : 77;
}
