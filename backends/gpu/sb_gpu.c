/*
 * sb_gpu.c - the GPU reference backend plugin: open/close (driver, device,
 * kernels, NVML). The graph side is in sb_gpu_prog.c.
 *
 * Nothing here links against CUDA: libcuda.so.1 and libnvidia-ml.so.1 are
 * dlopen()ed, and the kernels are a fatbin embedded at build time (when nvcc
 * was found). Whatever is missing makes open() return SB_EUNAVAILABLE with
 * the reason, and the runner goes on with the other backends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_gpu_internal.h"

#ifdef SB_GPU_HAVE_FATBIN
extern const unsigned char sb_gpu_fatbin[];
extern const size_t sb_gpu_fatbin_len;
#endif

int sb_gpu_cuerr(sb_gpu_backend *be, sb_cu_result r, const char *what, sb_error *err) {
    char buf[256];
    return sb_error_set(err, SB_EIO, "gpu: %s: %s", what, sb_cuda_errstr(&be->cu, r, buf, sizeof buf));
}

int sb_gpu_ctx(sb_gpu_backend *be, sb_error *err) {
    sb_cu_result r = be->cu.CtxSetCurrent(be->ctx);
    return r ? sb_gpu_cuerr(be, r, "cuCtxSetCurrent", err) : 0;
}

static int sb_gpu_unavailable(sb_error *err, const char *why) {
#ifdef SB_GPU_HAVE_FATBIN
    return sb_error_set(err, SB_EUNAVAILABLE, "gpu backend unavailable: %s", why);
#else
    return sb_error_set(err, SB_EUNAVAILABLE,
                        "gpu backend unavailable: %s; also, this build has no CUDA kernels "
                        "(nvcc was not found when it was configured)", why);
#endif
}

/* driver_lib and nvml_lib come from bench.toml, which must not be able to
 * load code from anywhere (issue 19): a bare library name only, found on the
 * dynamic loader's own search path, as libcuda.so.1 is. */
static int sb_gpu_check_lib_name(const sb_options *o, const char *key, sb_error *err) {
    const sb_option *v = sb_opt_find(o, key);
    const char *s = v ? v->s : NULL;
    size_t i, n = s ? strlen(s) : 0;
    if (!v) return 0;
    int ok = s && n > 0 && n <= 128 && s[0] != '.';
    for (i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-' || c == '+';
    }
    if (ok) return 0;
    return sb_error_set(err, SB_EINVAL,
                        "%s:%d: %s = \"%s\": expected a library name such as libcuda.so.1 "
                        "(letters, digits, . _ - +; no '/'), found on the dynamic loader's search "
                        "path: a path in bench.toml could load any code",
                        v->file ? v->file : "?", v->line, key, s ? s : "");
}

static int sb_gpu_check_options(const sb_options *o, sb_gpu_backend *be, sb_error *err) {
    const sb_option *v;
    int rc;
    if ((rc = sb_gpu_check_lib_name(o, "driver_lib", err)) < 0) return rc;
    if ((rc = sb_gpu_check_lib_name(o, "nvml_lib", err)) < 0) return rc;
    be->batch = (int)sb_opt_int(o, "batch", 1);
    be->idle_ms = (int)sb_opt_int(o, "idle_ms", 1000);
    if (be->batch < 1 || be->batch > 65536) {
        v = sb_opt_find(o, "batch");
        return sb_error_set(err, SB_EINVAL, "%s:%d: batch = %d: expected 1 to 65536 images per launch",
                            v ? v->file : "?", v ? v->line : 0, be->batch);
    }
    const char *prec = sb_opt_str(o, "precision", "int8");
    be->fp32 = strcmp(prec, "fp32") == 0;
    if (!be->fp32 && strcmp(prec, "int8") != 0) {
        v = sb_opt_find(o, "precision");
        return sb_error_set(err, SB_EINVAL, "%s:%d: precision = \"%s\": expected \"int8\" or \"fp32\"",
                            v ? v->file : "?", v ? v->line : 0, prec);
    }
    if (be->idle_ms < 0 || be->idle_ms > 60000) {
        v = sb_opt_find(o, "idle_ms");
        return sb_error_set(err, SB_EINVAL, "%s:%d: idle_ms = %d: expected 0 to 60000 ms",
                            v ? v->file : "?", v ? v->line : 0, be->idle_ms);
    }
    if (sb_opt_int(o, "device", 0) < 0) {
        v = sb_opt_find(o, "device");
        return sb_error_set(err, SB_EINVAL, "%s:%d: device: expected a CUDA device ordinal >= 0",
                            v ? v->file : "?", v ? v->line : 0);
    }
    return 0;
}

/* Pick the device and read what identifies it. */
static int sb_gpu_device(sb_gpu_backend *be, int ordinal, sb_error *err) {
    sb_cuda_api *cu = &be->cu;
    int count = 0;
    char why[512];
    sb_cu_result r = cu->DeviceGetCount(&count);
    if (r || count == 0) return sb_gpu_unavailable(err, "the NVIDIA driver sees no CUDA device");
    be->n_devices = count;
    if (ordinal >= count) {
        snprintf(why, sizeof why, "device %d requested, %d present", ordinal, count);
        return sb_gpu_unavailable(err, why);
    }
    if ((r = cu->DeviceGet(&be->dev, ordinal))) return sb_gpu_cuerr(be, r, "cuDeviceGet", err);
    cu->DeviceGetName(be->name, (int)sizeof be->name, be->dev);
    cu->DeviceGetAttribute(&be->cc_major, SB_CU_ATTR_CC_MAJOR, be->dev);
    cu->DeviceGetAttribute(&be->cc_minor, SB_CU_ATTR_CC_MINOR, be->dev);
    cu->DeviceGetAttribute(&be->sm_count, SB_CU_ATTR_SM_COUNT, be->dev);
    cu->DeviceTotalMem(&be->mem_bytes, be->dev);
    cu->DeviceGetPCIBusId(be->bus_id, (int)sizeof be->bus_id, be->dev);
    cu->DriverGetVersion(&be->cuda_driver_version);
    snprintf(be->driver, sizeof be->driver, "CUDA driver API %d.%d", be->cuda_driver_version / 1000,
             be->cuda_driver_version % 1000 / 10);
    if (be->cc_major * 10 + be->cc_minor < 61) {   /* __dp4a needs sm_61 */
        snprintf(why, sizeof why, "%s is compute capability %d.%d: the INT8 kernels need 6.1 or later",
                 be->name, be->cc_major, be->cc_minor);
        return sb_gpu_unavailable(err, why);
    }
    return 0;
}

static int sb_gpu_kernels(sb_gpu_backend *be, sb_error *err) {
#ifdef SB_GPU_HAVE_FATBIN
    static const char *const sb_gpu_kernel_names[SB_GPU_K_COUNT] = SB_GPU_KERNEL_NAMES;
    char why[512], buf[256];
    sb_cu_result r = be->cu.ModuleLoadData(&be->mod, sb_gpu_fatbin);
    if (r) {
        snprintf(why, sizeof why, "cuModuleLoadData of the embedded kernels (%zu bytes, sm_90 + PTX) on %s: %s",
                 sb_gpu_fatbin_len, be->name, sb_cuda_errstr(&be->cu, r, buf, sizeof buf));
        return sb_gpu_unavailable(err, why);
    }
    for (int k = 0; k < SB_GPU_K_COUNT; k++)
        if ((r = be->cu.ModuleGetFunction(&be->fn[k], be->mod, sb_gpu_kernel_names[k])))
            return sb_gpu_cuerr(be, r, sb_gpu_kernel_names[k], err);
    return 0;
#else
    (void)be;
    return sb_error_set(err, SB_EUNAVAILABLE,
                        "gpu backend unavailable: this build has no CUDA kernels "
                        "(nvcc was not found when it was configured)");
#endif
}

/* NVML is optional: without it, latency is measured and energy unavailable.
 * The device is matched by PCI bus id; in a VM whose NVML reports other bus
 * ids, by ordinal, but only when CUDA sees a single device (no ambiguity). */
static void sb_gpu_nvml(sb_gpu_backend *be, const char *path, int ordinal, int n_cuda_devices) {
    unsigned long long mj;
    char v[80];
    if (sb_nvml_load(&be->nv, path, be->nvml_why, sizeof be->nvml_why)) return;
    sb_nvml_return r = be->nv.DeviceGetHandleByPciBusId(be->bus_id, &be->nvdev);
    if (r && n_cuda_devices == 1 && be->nv.DeviceGetHandleByIndex((unsigned)ordinal, &be->nvdev) == 0) r = 0;
    if (r) {
        snprintf(be->nvml_why, sizeof be->nvml_why, "NVML has no device at PCI %s: %s", be->bus_id,
                 be->nv.ErrorString(r));
        sb_nvml_unload(&be->nv);
        return;
    }
    be->have_nvml = 1;
    be->energy_counter_ok = be->nv.DeviceGetTotalEnergyConsumption(be->nvdev, &mj) == 0;
    if (be->nv.SystemGetDriverVersion(v, sizeof v) == 0)
        snprintf(be->driver, sizeof be->driver, "%s (CUDA %d.%d)", v, be->cuda_driver_version / 1000,
                 be->cuda_driver_version % 1000 / 10);
}

static void sb_gpu_close(void *p) {
    sb_gpu_backend *be = p;
    if (!be) return;
    if (be->mod && sb_gpu_ctx(be, NULL) == 0) be->cu.ModuleUnload(be->mod);
    if (be->ctx) be->cu.DevicePrimaryCtxRelease(be->dev);
    if (be->have_nvml) sb_nvml_unload(&be->nv);
    if (be->cu.lib) sb_cuda_unload(&be->cu);
    free(be);
}

static int sb_gpu_open(const sb_host *host, const sb_options *opts, void **out, sb_error *err) {
    char why[768];
    sb_gpu_backend *be = calloc(1, sizeof *be);
    if (!be) return sb_error_set(err, SB_ENOMEM, "gpu: out of memory");
    be->host = host;
    int rc = sb_gpu_check_options(opts, be, err);
    if (!rc && sb_cuda_load(&be->cu, sb_opt_str(opts, "driver_lib", NULL), why, sizeof why))
        rc = sb_gpu_unavailable(err, why);
    if (!rc) rc = sb_gpu_device(be, (int)sb_opt_int(opts, "device", 0), err);
    if (!rc) {
        sb_cu_result r = be->cu.DevicePrimaryCtxRetain(&be->ctx, be->dev);
        if (r) be->ctx = NULL;
        rc = r ? sb_gpu_cuerr(be, r, "cuDevicePrimaryCtxRetain", err) : sb_gpu_ctx(be, err);
    }
    if (!rc) rc = sb_gpu_kernels(be, err);
    if (rc) {
        sb_gpu_close(be);
        return rc;
    }
    sb_gpu_nvml(be, sb_opt_str(opts, "nvml_lib", NULL), (int)sb_opt_int(opts, "device", 0), be->n_devices);
    if (host && host->log)
        host->log(SB_LOG_INFO, "gpu: %s (sm_%d%d, %d SMs), driver %s, power %s", be->name, be->cc_major,
                  be->cc_minor, be->sm_count, be->driver, be->have_nvml ? "from NVML" : be->nvml_why);
    *out = be;
    return 0;
}

static const sb_option_spec sb_gpu_options[] = {
    {"precision", SB_OPT_STRING, 0, "\"int8\" (default, bit-exact with the CPU) or \"fp32\": which path runs"},
    {"device", SB_OPT_INT, 0, "CUDA device ordinal (default 0)"},
    {"batch", SB_OPT_INT, 0, "images per launch: each image runs inside a batch of this many (default 1)"},
    {"idle_ms", SB_OPT_INT, 0, "window of the idle-power measurement in prepare(), ms (default 1000)"},
    {"driver_lib", SB_OPT_STRING, 0, "CUDA driver library name to dlopen, no '/' (default libcuda.so.1)"},
    {"nvml_lib", SB_OPT_STRING, 0, "NVML library name to dlopen, no '/' (default libnvidia-ml.so.1)"},
    {NULL, 0, 0, NULL}};

/* sb_gpu_prog.c */
int sb_gpu_prepare(void *be, const sb_graph *graph, void **prog, sb_error *err);
void sb_gpu_release(void *prog);
int sb_gpu_run(void *prog, const int8_t *input, int8_t *logits, sb_metrics *metrics, sb_error *err);
char *sb_gpu_report_json(void *prog);

static const sb_backend_plugin sb_gpu_plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "gpu", "1.0.0",
                          "INT8 graph on an NVIDIA GPU (CUDA driver API, dp4a kernels); latency by CUDA "
                          "events, energy from NVML; unavailable without a driver",
                          sb_gpu_options),
    sb_gpu_open, sb_gpu_close, sb_gpu_prepare, sb_gpu_release, sb_gpu_run, sb_gpu_report_json};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &sb_gpu_plugin.hdr;
