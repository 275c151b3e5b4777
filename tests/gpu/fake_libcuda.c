/*
 * fake_libcuda.c - a stand-in libcuda.so.1 for the "driver installed, no GPU"
 * path: every entry point the GPU backend looks up exists, and cuInit says
 * CUDA_ERROR_NO_DEVICE, as a real driver does on a host whose GPU is gone or
 * hidden. Built with -DFAKE_OLD_DRIVER it lacks cuLaunchKernel (a driver
 * older than the backend needs).
 */
#define FAKE_NO_DEVICE 100

#if defined(__GNUC__)
#define FAKE_API __attribute__((visibility("default")))
#else
#define FAKE_API
#endif

#define FAKE(name) FAKE_API int name(void); int name(void) { return FAKE_NO_DEVICE; }

FAKE_API int cuInit(unsigned flags);
int cuInit(unsigned flags) { (void)flags; return FAKE_NO_DEVICE; }

FAKE_API int cuGetErrorName(int r, const char **s);
int cuGetErrorName(int r, const char **s) {
    *s = r == FAKE_NO_DEVICE ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN";
    return 0;
}
FAKE_API int cuGetErrorString(int r, const char **s);
int cuGetErrorString(int r, const char **s) {
    *s = r == FAKE_NO_DEVICE ? "no CUDA-capable device is detected" : "unknown error";
    return 0;
}

FAKE(cuDriverGetVersion) FAKE(cuDeviceGetCount) FAKE(cuDeviceGet) FAKE(cuDeviceGetName)
FAKE(cuDeviceGetAttribute) FAKE(cuDeviceTotalMem_v2) FAKE(cuDeviceGetPCIBusId)
FAKE(cuDevicePrimaryCtxRetain) FAKE(cuDevicePrimaryCtxRelease_v2) FAKE(cuCtxSetCurrent)
FAKE(cuCtxSynchronize) FAKE(cuModuleLoadData) FAKE(cuModuleUnload) FAKE(cuModuleGetFunction)
FAKE(cuMemAlloc_v2) FAKE(cuMemFree_v2) FAKE(cuMemcpyHtoD_v2) FAKE(cuMemcpyDtoH_v2) FAKE(cuMemsetD8_v2)
FAKE(cuEventCreate) FAKE(cuEventDestroy_v2) FAKE(cuEventRecord) FAKE(cuEventSynchronize)
FAKE(cuEventElapsedTime)
#ifndef FAKE_OLD_DRIVER
FAKE(cuLaunchKernel)
#endif
