/*
 * sb_gpu_driver.c - dlopen() loaders for the CUDA driver API and NVML.
 *
 * Each entry point is looked up by the exported name that cuda.h / nvml.h
 * map the plain name to (cuMemAlloc -> cuMemAlloc_v2): those versioned names
 * are the stable ABI a driver keeps for old binaries.
 */
#include "sb_gpu_driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "sb_plugin.h"

/* dlsym into a function pointer without the object/function cast warning. */
static int sb_sym(void *lib, const char *name, void *fp_out, char *why, size_t why_len, const char *libname) {
    void *p = dlsym(lib, name);
    if (!p) {
        snprintf(why, why_len, "%s has no symbol %s: driver too old for this backend", libname, name);
        return SB_EUNAVAILABLE;
    }
    memcpy(fp_out, &p, sizeof p);
    return 0;
}

#define SB_SYM(lib, field, name, libname)                                            \
    do {                                                                             \
        int rc_ = sb_sym((lib), (name), &(field), why, why_len, (libname));          \
        if (rc_) return rc_;                                                         \
    } while (0)

static int sb_cuda_syms(sb_cuda_api *cu, char *why, size_t why_len) {
    const char *L = "libcuda";
    void *h = cu->lib;
    SB_SYM(h, cu->Init, "cuInit", L);
    SB_SYM(h, cu->DriverGetVersion, "cuDriverGetVersion", L);
    SB_SYM(h, cu->DeviceGetCount, "cuDeviceGetCount", L);
    SB_SYM(h, cu->DeviceGet, "cuDeviceGet", L);
    SB_SYM(h, cu->DeviceGetName, "cuDeviceGetName", L);
    SB_SYM(h, cu->DeviceGetAttribute, "cuDeviceGetAttribute", L);
    SB_SYM(h, cu->DeviceTotalMem, "cuDeviceTotalMem_v2", L);
    SB_SYM(h, cu->DeviceGetPCIBusId, "cuDeviceGetPCIBusId", L);
    SB_SYM(h, cu->DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", L);
    SB_SYM(h, cu->DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", L);
    SB_SYM(h, cu->CtxSetCurrent, "cuCtxSetCurrent", L);
    SB_SYM(h, cu->CtxSynchronize, "cuCtxSynchronize", L);
    SB_SYM(h, cu->ModuleLoadData, "cuModuleLoadData", L);
    SB_SYM(h, cu->ModuleUnload, "cuModuleUnload", L);
    SB_SYM(h, cu->ModuleGetFunction, "cuModuleGetFunction", L);
    SB_SYM(h, cu->MemAlloc, "cuMemAlloc_v2", L);
    SB_SYM(h, cu->MemFree, "cuMemFree_v2", L);
    SB_SYM(h, cu->MemcpyHtoD, "cuMemcpyHtoD_v2", L);
    SB_SYM(h, cu->MemcpyDtoH, "cuMemcpyDtoH_v2", L);
    SB_SYM(h, cu->MemsetD8, "cuMemsetD8_v2", L);
    SB_SYM(h, cu->EventCreate, "cuEventCreate", L);
    SB_SYM(h, cu->EventDestroy, "cuEventDestroy_v2", L);
    SB_SYM(h, cu->EventRecord, "cuEventRecord", L);
    SB_SYM(h, cu->EventSynchronize, "cuEventSynchronize", L);
    /* CUDA 12.8+ headers map cuEventElapsedTime to _v2; older drivers lack it. */
    if (sb_sym(h, "cuEventElapsedTime_v2", &cu->EventElapsedTime, why, why_len, L))
        SB_SYM(h, cu->EventElapsedTime, "cuEventElapsedTime", L);
    SB_SYM(h, cu->LaunchKernel, "cuLaunchKernel", L);
    SB_SYM(h, cu->GetErrorName, "cuGetErrorName", L);
    SB_SYM(h, cu->GetErrorString, "cuGetErrorString", L);
    return 0;
}

const char *sb_cuda_errstr(const sb_cuda_api *cu, sb_cu_result r, char *buf, size_t len) {
    const char *name = NULL, *text = NULL;
    if (cu && cu->GetErrorName) cu->GetErrorName(r, &name);
    if (cu && cu->GetErrorString) cu->GetErrorString(r, &text);
    snprintf(buf, len, "%s (%d): %s", name ? name : "CUDA error", r, text ? text : "no description");
    return buf;
}

int sb_cuda_load(sb_cuda_api *cu, const char *path, char *why, size_t why_len) {
    const char *lib = path ? path : "libcuda.so.1";
    memset(cu, 0, sizeof *cu);
    cu->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!cu->lib) {
        const char *e = dlerror();
        snprintf(why, why_len, "%s not found: no NVIDIA driver on this host (dlopen: %s)", lib,
                 e ? e : "unknown error");
        return SB_EUNAVAILABLE;
    }
    int rc = sb_cuda_syms(cu, why, why_len);
    if (rc) {
        sb_cuda_unload(cu);
        return rc;
    }
    sb_cu_result r = cu->Init(0);
    if (r != 0) {
        char buf[256];
        snprintf(why, why_len, "cuInit failed: %s%s", sb_cuda_errstr(cu, r, buf, sizeof buf),
                 r == SB_CU_ERROR_NO_DEVICE ? " (driver present, no GPU visible)" : "");
        sb_cuda_unload(cu);
        return SB_EUNAVAILABLE;
    }
    return 0;
}

void sb_cuda_unload(sb_cuda_api *cu) {
    if (cu->lib) dlclose(cu->lib);
    memset(cu, 0, sizeof *cu);
}

static int sb_nvml_syms(sb_nvml_api *nv, char *why, size_t why_len) {
    const char *L = "libnvidia-ml";
    void *h = nv->lib;
    SB_SYM(h, nv->Init, "nvmlInit_v2", L);
    SB_SYM(h, nv->Shutdown, "nvmlShutdown", L);
    SB_SYM(h, nv->ErrorString, "nvmlErrorString", L);
    SB_SYM(h, nv->SystemGetDriverVersion, "nvmlSystemGetDriverVersion", L);
    SB_SYM(h, nv->DeviceGetHandleByPciBusId, "nvmlDeviceGetHandleByPciBusId_v2", L);
    SB_SYM(h, nv->DeviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2", L);
    SB_SYM(h, nv->DeviceGetPowerUsage, "nvmlDeviceGetPowerUsage", L);
    SB_SYM(h, nv->DeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption", L);
    return 0;
}

int sb_nvml_load(sb_nvml_api *nv, const char *path, char *why, size_t why_len) {
    const char *lib = path ? path : "libnvidia-ml.so.1";
    memset(nv, 0, sizeof *nv);
    nv->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!nv->lib) {
        const char *e = dlerror();
        snprintf(why, why_len, "%s not found: no NVML, GPU power cannot be read (dlopen: %s)", lib,
                 e ? e : "unknown error");
        return SB_EUNAVAILABLE;
    }
    int rc = sb_nvml_syms(nv, why, why_len);
    if (rc == 0) {
        sb_nvml_return r = nv->Init();
        if (r != 0) {
            snprintf(why, why_len, "nvmlInit failed: %s (%d)", nv->ErrorString(r), r);
            rc = SB_EUNAVAILABLE;
        }
    }
    if (rc) {
        dlclose(nv->lib);
        memset(nv, 0, sizeof *nv);
    }
    return rc;
}

void sb_nvml_unload(sb_nvml_api *nv) {
    if (nv->lib) {
        nv->Shutdown();
        dlclose(nv->lib);
    }
    memset(nv, 0, sizeof *nv);
}
