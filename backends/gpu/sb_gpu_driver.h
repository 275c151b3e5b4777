/*
 * sb_gpu_driver.h - the parts of the CUDA driver API and NVML that the GPU
 * backend uses, loaded at run time with dlopen().
 *
 * Why not link libcuda: the plugin must build and load on hosts without the
 * CUDA toolkit or an NVIDIA driver (CI), and then report itself unavailable
 * with the reason. So the few types are declared here (ABI-compatible with
 * cuda.h / nvml.h, which are stable C ABIs) and every entry point is looked up
 * by its exported, versioned name.
 */
#ifndef SB_GPU_DRIVER_H
#define SB_GPU_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ CUDA driver */

typedef int sb_cu_result;                 /* CUresult; 0 = CUDA_SUCCESS   */
typedef int sb_cu_device;                 /* CUdevice                     */
typedef struct sb_cu_ctx_st *sb_cu_context;
typedef struct sb_cu_mod_st *sb_cu_module;
typedef struct sb_cu_func_st *sb_cu_function;
typedef struct sb_cu_stream_st *sb_cu_stream;
typedef struct sb_cu_event_st *sb_cu_event;
typedef unsigned long long sb_cu_deviceptr; /* CUdeviceptr (64-bit hosts) */

/* CUdevice_attribute values used (cuda.h). */
#define SB_CU_ATTR_CC_MAJOR 75
#define SB_CU_ATTR_CC_MINOR 76
#define SB_CU_ATTR_SM_COUNT 16
#define SB_CU_ERROR_NO_DEVICE 100

typedef struct sb_cuda_api {
    void *lib;                            /* dlopen handle of libcuda.so.1 */
    sb_cu_result (*Init)(unsigned flags);
    sb_cu_result (*DriverGetVersion)(int *v);
    sb_cu_result (*DeviceGetCount)(int *n);
    sb_cu_result (*DeviceGet)(sb_cu_device *d, int ordinal);
    sb_cu_result (*DeviceGetName)(char *name, int len, sb_cu_device d);
    sb_cu_result (*DeviceGetAttribute)(int *v, int attr, sb_cu_device d);
    sb_cu_result (*DeviceTotalMem)(size_t *bytes, sb_cu_device d);
    sb_cu_result (*DeviceGetPCIBusId)(char *id, int len, sb_cu_device d);
    sb_cu_result (*DevicePrimaryCtxRetain)(sb_cu_context *c, sb_cu_device d);
    sb_cu_result (*DevicePrimaryCtxRelease)(sb_cu_device d);
    sb_cu_result (*CtxSetCurrent)(sb_cu_context c);
    sb_cu_result (*CtxSynchronize)(void);
    sb_cu_result (*ModuleLoadData)(sb_cu_module *m, const void *image);
    sb_cu_result (*ModuleUnload)(sb_cu_module m);
    sb_cu_result (*ModuleGetFunction)(sb_cu_function *f, sb_cu_module m, const char *name);
    sb_cu_result (*MemAlloc)(sb_cu_deviceptr *p, size_t bytes);
    sb_cu_result (*MemFree)(sb_cu_deviceptr p);
    sb_cu_result (*MemcpyHtoD)(sb_cu_deviceptr dst, const void *src, size_t bytes);
    sb_cu_result (*MemcpyDtoH)(void *dst, sb_cu_deviceptr src, size_t bytes);
    sb_cu_result (*MemsetD8)(sb_cu_deviceptr p, unsigned char v, size_t n);
    sb_cu_result (*EventCreate)(sb_cu_event *e, unsigned flags);
    sb_cu_result (*EventDestroy)(sb_cu_event e);
    sb_cu_result (*EventRecord)(sb_cu_event e, sb_cu_stream s);
    sb_cu_result (*EventSynchronize)(sb_cu_event e);
    sb_cu_result (*EventElapsedTime)(float *ms, sb_cu_event a, sb_cu_event b);
    sb_cu_result (*LaunchKernel)(sb_cu_function f, unsigned gx, unsigned gy, unsigned gz,
                                 unsigned bx, unsigned by, unsigned bz, unsigned shmem_bytes,
                                 sb_cu_stream s, void **params, void **extra);
    sb_cu_result (*GetErrorName)(sb_cu_result r, const char **s);
    sb_cu_result (*GetErrorString)(sb_cu_result r, const char **s);
} sb_cuda_api;

/* Load libcuda (path NULL = "libcuda.so.1") and cuInit(0) it. On failure
 * returns SB_EUNAVAILABLE and writes the reason into why[why_len]. */
int sb_cuda_load(sb_cuda_api *cu, const char *path, char *why, size_t why_len);
void sb_cuda_unload(sb_cuda_api *cu);
/* "CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected" */
const char *sb_cuda_errstr(const sb_cuda_api *cu, sb_cu_result r, char *buf, size_t len);

/* ------------------------------------------------------------------ NVML */

typedef int sb_nvml_return;               /* nvmlReturn_t; 0 = success   */
typedef struct sb_nvml_dev_st *sb_nvml_device;
#define SB_NVML_ERROR_NOT_SUPPORTED 3

typedef struct sb_nvml_api {
    void *lib;
    sb_nvml_return (*Init)(void);
    sb_nvml_return (*Shutdown)(void);
    const char *(*ErrorString)(sb_nvml_return r);
    sb_nvml_return (*SystemGetDriverVersion)(char *v, unsigned len);
    sb_nvml_return (*DeviceGetHandleByPciBusId)(const char *bus_id, sb_nvml_device *d);
    sb_nvml_return (*DeviceGetHandleByIndex)(unsigned index, sb_nvml_device *d);
    sb_nvml_return (*DeviceGetPowerUsage)(sb_nvml_device d, unsigned *milliwatts);
    sb_nvml_return (*DeviceGetTotalEnergyConsumption)(sb_nvml_device d, unsigned long long *millijoules);
} sb_nvml_api;

/* Load libnvidia-ml (path NULL = "libnvidia-ml.so.1") and nvmlInit it. */
int sb_nvml_load(sb_nvml_api *nv, const char *path, char *why, size_t why_len);
void sb_nvml_unload(sb_nvml_api *nv);

#endif /* SB_GPU_DRIVER_H */
