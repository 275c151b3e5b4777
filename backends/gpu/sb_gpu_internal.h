/* sb_gpu_internal.h - state shared by the GPU backend's source files. */
#ifndef SB_GPU_INTERNAL_H
#define SB_GPU_INTERNAL_H

#include <pthread.h>

#include "sb_gpu.h"
#include "sb_gpu_driver.h"
#include "sb_gpu_ops.h"
#include "sb_plugin.h"

/* Kernels, in the order of SB_GPU_KERNEL_NAMES. */
enum { SB_GPU_K_CONV, SB_GPU_K_DWCONV, SB_GPU_K_ADD, SB_GPU_K_MUL, SB_GPU_K_LUT,
       SB_GPU_K_GAVGPOOL, SB_GPU_K_MAXPOOL,
       SB_GPU_K_FCONV, SB_GPU_K_FDWCONV, SB_GPU_K_FADD, SB_GPU_K_FMUL, SB_GPU_K_FACT,
       SB_GPU_K_FGAVGPOOL, SB_GPU_K_FMAXPOOL, SB_GPU_K_COUNT };
#define SB_GPU_KERNEL_NAMES                                                            \
    {"sb_gpu_conv", "sb_gpu_dwconv", "sb_gpu_add", "sb_gpu_mul", "sb_gpu_lut",        \
     "sb_gpu_gavgpool", "sb_gpu_maxpool", "sb_gpu_fconv", "sb_gpu_fdwconv",           \
     "sb_gpu_fadd", "sb_gpu_fmul", "sb_gpu_fact", "sb_gpu_fgavgpool", "sb_gpu_fmaxpool"}

typedef struct sb_gpu_backend {
    const sb_host *host;
    sb_cuda_api cu;
    sb_nvml_api nv;
    int have_nvml;
    char nvml_why[512];          /* why power/energy is unavailable        */
    sb_nvml_device nvdev;
    int energy_counter_ok;       /* nvmlDeviceGetTotalEnergyConsumption works */
    sb_cu_device dev;
    sb_cu_context ctx;
    sb_cu_module mod;
    sb_cu_function fn[SB_GPU_K_COUNT];
    char name[256];              /* "NVIDIA H200"                          */
    char bus_id[32];
    char driver[160];            /* NVML's driver version, else CUDA's     */
    int cuda_driver_version;     /* 13000 = CUDA 13.0                      */
    int cc_major, cc_minor, sm_count;
    int n_devices;               /* CUDA devices visible                   */
    size_t mem_bytes;
    int batch;                   /* images per launch                       */
    int fp32;                    /* option precision = "fp32"               */
    int idle_ms;                 /* idle-power window in prepare()          */
} sb_gpu_backend;

/* Make the backend's context current on the calling thread. */
int sb_gpu_ctx(sb_gpu_backend *be, sb_error *err);
/* Turn a CUDA result into SB_EIO with "<what>: <CUDA error>". */
int sb_gpu_cuerr(sb_gpu_backend *be, sb_cu_result r, const char *what, sb_error *err);

/* ----------------------------------------------------------- power (NVML) */

/* Board power now, mW (NVML averages it over about 1 s on Ampere and later). */
int sb_gpu_power_mw(sb_gpu_backend *be, double *mw);
/* Idle power: the energy counter (or mean power samples) over idle_ms with
 * nothing running. */
int sb_gpu_idle_power_mw(sb_gpu_backend *be, int idle_ms, double *mw);

typedef struct sb_gpu_sampler {
    sb_gpu_backend *be;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int period_ms;
    double energy_mj;            /* trapezoid integral of the samples       */
    double last_mw, last_ns;
    int n_samples;
    unsigned long long counter0_mj, counter1_mj;
    int counter_ok;
    double t0_ns, t1_ns;         /* the window: first and last sample     */
} sb_gpu_sampler;

int sb_gpu_sampler_start(sb_gpu_sampler *s, sb_gpu_backend *be, int period_ms);
void sb_gpu_sampler_stop(sb_gpu_sampler *s);

double sb_gpu_now_ns(void);

#endif /* SB_GPU_INTERNAL_H */
