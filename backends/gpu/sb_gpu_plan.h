/*
 * sb_gpu_plan.h - turn an sb_graph into a list of kernel launches, with no
 * CUDA in sight: memory comes from the caller's allocator, so the same plan
 * runs on the GPU (cuMemAlloc) and in the host emulation the tests use
 * (malloc, then sb_gpu_emulate over every thread index).
 */
#ifndef SB_GPU_PLAN_H
#define SB_GPU_PLAN_H

#include <stdint.h>

#include "sb_gpu_internal.h"

typedef struct sb_gpu_launch {
    int kernel;                  /* SB_GPU_K_*                             */
    int64_t n_threads;           /* output elements of the whole batch     */
    int32_t op_index;
    union {
        sb_gpu_conv_args conv;
        sb_gpu_eltwise_args elt;
        sb_gpu_pool_args pool;
        sb_gpu_fconv_args fconv;
        sb_gpu_felt_args felt;
        sb_gpu_fpool_args fpool;
    } a;
} sb_gpu_launch;

/* Where device (or emulated) memory comes from. Both return 0 or SB_E*. */
typedef struct sb_gpu_mem {
    void *ctx;
    int (*alloc)(void *ctx, size_t bytes, uint64_t *addr, sb_error *err);
    int (*upload)(void *ctx, const void *src, size_t bytes, uint64_t *addr, sb_error *err);
} sb_gpu_mem;

/* Plan graph g for `batch` images per launch, on the INT8 path or (fp32
 * non-zero) the float32 path, whose activations are float.
 * tensor_addr[n_tensors] receives
 * the address of each activation (batch images, NHWC, image after image) and
 * of each uploaded constant (0 for tensors no op reads); launches[n_ops]
 * receives one launch per op. Names the op and field at fault on error. */
int sb_gpu_plan(const sb_graph *g, int batch, int fp32, const sb_gpu_mem *mem, uint64_t *tensor_addr,
                sb_gpu_launch *launches, sb_error *err);

/* Elements of tensor t (one image). */
int64_t sb_gpu_elems(const sb_tensor *t);

/* Run launches on the host, thread by thread (tests; no GPU needed). */
void sb_gpu_emulate(const sb_gpu_launch *launches, int n);

#endif /* SB_GPU_PLAN_H */
