/*
 * fake_cuda_emu.c - a test double of libcuda.so.1 AND libnvidia-ml.so.1 that
 * "runs" the GPU backend on the host: memory is malloc, a kernel launch runs
 * the plan's element functions over every thread index (sb_gpu_emulate),
 * events read CLOCK_MONOTONIC, and NVML reports a constant 50 W with an
 * energy counter that grows at that rate.
 *
 * It lets the tests drive the real plugin code (open, prepare, run, bench,
 * report_json) and gpu-run end to end without a GPU. Its device calls itself
 * "emulated", so nothing it produces can pass for a measurement.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb_gpu_plan.h"

#define API __attribute__((visibility("default")))
#define FAKE_POWER_MW 50000u

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

API int cuInit(unsigned f) { (void)f; return 0; }
API int cuDriverGetVersion(int *v) { *v = 13000; return 0; }
API int cuDeviceGetCount(int *n) { *n = 1; return 0; }
API int cuDeviceGet(int *d, int i) { *d = i; return 0; }
API int cuDeviceGetName(char *s, int len, int d) {
    (void)d;
    strncpy(s, "emulated CUDA device (srambench tests)", (size_t)len - 1);
    s[len - 1] = 0;
    return 0;
}
API int cuDeviceGetAttribute(int *v, int attr, int d) {
    (void)d;
    *v = attr == 75 ? 9 : attr == 76 ? 0 : 1;
    return 0;
}
API int cuDeviceTotalMem_v2(size_t *b, int d) { (void)d; *b = (size_t)1 << 30; return 0; }
API int cuDeviceGetPCIBusId(char *s, int len, int d) {
    (void)d;
    strncpy(s, "00000000:00:00.0", (size_t)len - 1);
    s[len - 1] = 0;
    return 0;
}
static int ctx_token;
API int cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; *c = &ctx_token; return 0; }
API int cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return 0; }
API int cuCtxSetCurrent(void *c) { (void)c; return 0; }
API int cuCtxSynchronize(void) { return 0; }
API int cuModuleLoadData(void **m, const void *img) { (void)img; *m = &ctx_token; return 0; }
API int cuModuleUnload(void *m) { (void)m; return 0; }

static const char *const names[SB_GPU_K_COUNT] = SB_GPU_KERNEL_NAMES;
static int kernel_ids[SB_GPU_K_COUNT];
API int cuModuleGetFunction(void **f, void *m, const char *name) {
    (void)m;
    for (int k = 0; k < SB_GPU_K_COUNT; k++)
        if (!strcmp(name, names[k])) {
            kernel_ids[k] = k;
            *f = &kernel_ids[k];
            return 0;
        }
    return 500; /* CUDA_ERROR_NOT_FOUND */
}
API int cuMemAlloc_v2(unsigned long long *p, size_t n) {
    void *q = calloc(1, n);
    *p = (unsigned long long)(uintptr_t)q;
    return q ? 0 : 2;
}
API int cuMemFree_v2(unsigned long long p) { free((void *)(uintptr_t)p); return 0; }
API int cuMemcpyHtoD_v2(unsigned long long d, const void *s, size_t n) { memcpy((void *)(uintptr_t)d, s, n); return 0; }
API int cuMemcpyDtoH_v2(void *d, unsigned long long s, size_t n) { memcpy(d, (void *)(uintptr_t)s, n); return 0; }
API int cuMemsetD8_v2(unsigned long long d, unsigned char v, size_t n) { memset((void *)(uintptr_t)d, v, n); return 0; }
API int cuEventCreate(double **e, unsigned f) { (void)f; *e = calloc(1, sizeof **e); return *e ? 0 : 2; }
API int cuEventDestroy_v2(double *e) { free(e); return 0; }
API int cuEventRecord(double *e, void *s) { (void)s; *e = now_ms(); return 0; }
API int cuEventSynchronize(double *e) { (void)e; return 0; }
API int cuEventElapsedTime_v2(float *ms, double *a, double *b) { *ms = (float)(*b - *a); return 0; }

/* The thread count each kernel covers, as in sb_gpu_kernels.cu. */
API int cuLaunchKernel(int *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned sh, void *s, void **params, void **extra) {
    (void)gx; (void)gy; (void)gz; (void)bx; (void)by; (void)bz; (void)sh; (void)s; (void)extra;
    sb_gpu_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = *f;
    memcpy(&l.a, params[0], sizeof l.a);
    switch (l.kernel) {
    case SB_GPU_K_CONV: case SB_GPU_K_DWCONV:
        l.n_threads = (int64_t)l.a.conv.n * l.a.conv.oh * l.a.conv.ow * l.a.conv.oc; break;
    case SB_GPU_K_GAVGPOOL: l.n_threads = (int64_t)l.a.pool.n * l.a.pool.c; break;
    case SB_GPU_K_MAXPOOL: l.n_threads = (int64_t)l.a.pool.n * l.a.pool.oh * l.a.pool.ow * l.a.pool.c; break;
    case SB_GPU_K_FCONV: case SB_GPU_K_FDWCONV:
        l.n_threads = (int64_t)l.a.fconv.n * l.a.fconv.oh * l.a.fconv.ow * l.a.fconv.oc; break;
    case SB_GPU_K_FADD: case SB_GPU_K_FMUL: case SB_GPU_K_FACT: l.n_threads = l.a.felt.n_elems; break;
    case SB_GPU_K_FGAVGPOOL: l.n_threads = (int64_t)l.a.fpool.n * l.a.fpool.c; break;
    case SB_GPU_K_FMAXPOOL: l.n_threads = (int64_t)l.a.fpool.n * l.a.fpool.oh * l.a.fpool.ow * l.a.fpool.c; break;
    default: l.n_threads = l.a.elt.n_elems;
    }
    sb_gpu_emulate(&l, 1);
    return 0;
}
API int cuGetErrorName(int r, const char **s) { (void)r; *s = "CUDA_ERROR_EMULATED"; return 0; }
API int cuGetErrorString(int r, const char **s) { (void)r; *s = "emulated error"; return 0; }

/* ------------------------------------------------------------------ NVML */
static double nvml_t0_ms;
static int nvml_token;
API int nvmlInit_v2(void) { nvml_t0_ms = now_ms(); return 0; }
API int nvmlShutdown(void) { return 0; }
API const char *nvmlErrorString(int r) { (void)r; return "emulated NVML error"; }
API int nvmlSystemGetDriverVersion(char *v, unsigned len) {
    strncpy(v, "emulated", len - 1);
    v[len - 1] = 0;
    return 0;
}
API int nvmlDeviceGetHandleByPciBusId_v2(const char *id, void **d) { (void)id; *d = &nvml_token; return 0; }
API int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d) { (void)i; *d = &nvml_token; return 0; }
API int nvmlDeviceGetPowerUsage(void *d, unsigned *mw) { (void)d; *mw = FAKE_POWER_MW; return 0; }
/* 50 W = 50 mJ per ms. */
API int nvmlDeviceGetTotalEnergyConsumption(void *d, unsigned long long *mj) {
    (void)d;
    *mj = (unsigned long long)((now_ms() - nvml_t0_ms) * (FAKE_POWER_MW / 1000.0));
    return 0;
}
