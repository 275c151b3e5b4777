/*
 * sb_gpu_kernels.cu - the GPU backend's INT8 kernels: one thread per output
 * element, grid-stride, each thread calling the shared element function of
 * sb_gpu_ops.h (so the host tests check the very code that runs here).
 *
 * Built by nvcc into a fatbin (sm_90 machine code + PTX) that the plugin
 * embeds and loads with cuModuleLoadData. Build with -fmad=false: float-mode
 * requantisation must not fuse multiply and add (docs/model-format.md).
 * extern "C": the plugin looks the kernels up by these plain names.
 * __grid_constant__: the element functions take the argument struct's
 * address; this keeps it in the constant parameter space instead of a copy
 * in every thread's local memory (sm_70 and later).
 */
#include "sb_gpu_ops.h"

#define SB_GPU_GRID_STRIDE(n_)                                                     \
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < (n_);   \
         e += (int64_t)gridDim.x * blockDim.x)

extern "C" __global__ void sb_gpu_conv(const __grid_constant__ sb_gpu_conv_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.oh * a.ow * a.oc) sb_gpu_conv_one(&a, e);
}

extern "C" __global__ void sb_gpu_dwconv(const __grid_constant__ sb_gpu_conv_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.oh * a.ow * a.oc) sb_gpu_dwconv_one(&a, e);
}

extern "C" __global__ void sb_gpu_add(const __grid_constant__ sb_gpu_eltwise_args a) {
    SB_GPU_GRID_STRIDE(a.n_elems) sb_gpu_add_one(&a, e);
}

extern "C" __global__ void sb_gpu_mul(const __grid_constant__ sb_gpu_eltwise_args a) {
    SB_GPU_GRID_STRIDE(a.n_elems) sb_gpu_mul_one(&a, e);
}

extern "C" __global__ void sb_gpu_lut(const __grid_constant__ sb_gpu_eltwise_args a) {
    SB_GPU_GRID_STRIDE(a.n_elems) sb_gpu_lut_one(&a, e);
}

extern "C" __global__ void sb_gpu_gavgpool(const __grid_constant__ sb_gpu_pool_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.c) sb_gpu_gavgpool_one(&a, e);
}

extern "C" __global__ void sb_gpu_maxpool(const __grid_constant__ sb_gpu_pool_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.oh * a.ow * a.c) sb_gpu_maxpool_one(&a, e);
}

/* fp32 path */
extern "C" __global__ void sb_gpu_fconv(const __grid_constant__ sb_gpu_fconv_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.oh * a.ow * a.oc) sb_gpu_fconv_one(&a, e, 0);
}

extern "C" __global__ void sb_gpu_fdwconv(const __grid_constant__ sb_gpu_fconv_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.oh * a.ow * a.oc) sb_gpu_fconv_one(&a, e, 1);
}

extern "C" __global__ void sb_gpu_fadd(const __grid_constant__ sb_gpu_felt_args a) {
    SB_GPU_GRID_STRIDE(a.n_elems) sb_gpu_felt_one(&a, e, 0);
}

extern "C" __global__ void sb_gpu_fmul(const __grid_constant__ sb_gpu_felt_args a) {
    SB_GPU_GRID_STRIDE(a.n_elems) sb_gpu_felt_one(&a, e, 1);
}

extern "C" __global__ void sb_gpu_fact(const __grid_constant__ sb_gpu_felt_args a) {
    SB_GPU_GRID_STRIDE(a.n_elems) sb_gpu_felt_one(&a, e, 2);
}

extern "C" __global__ void sb_gpu_fgavgpool(const __grid_constant__ sb_gpu_fpool_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.c) sb_gpu_fgavgpool_one(&a, e);
}

extern "C" __global__ void sb_gpu_fmaxpool(const __grid_constant__ sb_gpu_fpool_args a) {
    SB_GPU_GRID_STRIDE((int64_t)a.n * a.oh * a.ow * a.c) sb_gpu_fmaxpool_one(&a, e);
}
