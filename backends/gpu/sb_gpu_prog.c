/*
 * sb_gpu_prog.c - a graph prepared on the GPU: upload once, run per image,
 * and the batch benchmark that gpu-run calls (sb_gpu.h).
 *
 * One prepared program owns device memory for `batch` images of every
 * activation. run() puts its image into the next slot of the batch, runs the
 * whole batch and reads that slot's logits back: each image is processed in a
 * real batch of that size, so the per-image figures (latency of the batch,
 * energy of the batch / batch) are those of batched serving. Calls are
 * serialised by a mutex: one GPU, and concurrent launches would blur timings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_gpu_plan.h"

typedef struct sb_gpu_prog {
    sb_gpu_backend *be;
    const sb_graph *g;
    int batch;
    pthread_mutex_t lock;
    sb_gpu_launch *launches;
    uint64_t *ta;                 /* device address per tensor              */
    sb_cu_deviceptr *allocs;
    int n_allocs, cap_allocs;
    sb_cu_event ev[4];
    unsigned next_slot;
    size_t in_bytes, out_bytes;   /* one image                               */
    float *fin, *fout;            /* fp32 path: the input and logits, float  */
    double idle_mw;
    int have_idle;
    char note_lat[640], note_comp[640], note_img[640], note_energy[768], note_idle[640], note_power[640];
} sb_gpu_prog;

/* ---------------------------------------------------------------- memory */

static int sb_gpu_alloc(void *ctx, size_t bytes, uint64_t *addr, sb_error *err) {
    sb_gpu_prog *p = ctx;
    if (p->n_allocs == p->cap_allocs) {
        int cap = p->cap_allocs ? 2 * p->cap_allocs : 256;
        sb_cu_deviceptr *a = realloc(p->allocs, (size_t)cap * sizeof *a);
        if (!a) return sb_error_set(err, SB_ENOMEM, "gpu: out of host memory");
        p->allocs = a;
        p->cap_allocs = cap;
    }
    sb_cu_deviceptr d = 0;
    sb_cu_result r = p->be->cu.MemAlloc(&d, bytes ? bytes : 1);
    if (r) {
        char what[96];
        snprintf(what, sizeof what, "cuMemAlloc of %zu bytes", bytes);
        return sb_gpu_cuerr(p->be, r, what, err);
    }
    p->allocs[p->n_allocs++] = d;
    *addr = d;
    return 0;
}

static int sb_gpu_upload(void *ctx, const void *src, size_t bytes, uint64_t *addr, sb_error *err) {
    sb_gpu_prog *p = ctx;
    int rc = sb_gpu_alloc(ctx, bytes, addr, err);
    if (rc) return rc;
    sb_cu_result r = p->be->cu.MemcpyHtoD(*addr, src, bytes);
    return r ? sb_gpu_cuerr(p->be, r, "cuMemcpyHtoD", err) : 0;
}

/* ---------------------------------------------------------------- launch */

static int sb_gpu_launch_all(sb_gpu_prog *p, sb_error *err) {
    const unsigned block = 256;
    for (int i = 0; i < p->g->n_ops; i++) {
        sb_gpu_launch *l = &p->launches[i];
        int64_t blocks = (l->n_threads + block - 1) / block;
        unsigned grid = (unsigned)(blocks < (1 << 20) ? (blocks > 0 ? blocks : 1) : (1 << 20)); /* grid-stride beyond */
        void *params[1] = {&l->a};
        sb_cu_result r = p->be->cu.LaunchKernel(p->be->fn[l->kernel], grid, 1, 1, block, 1, 1, 0, NULL, params, NULL);
        if (r) {
            char what[160];
            snprintf(what, sizeof what, "launch of op %d '%s'", i, p->g->ops[i].name);
            return sb_gpu_cuerr(p->be, r, what, err);
        }
    }
    return 0;
}

static int sb_gpu_sync(sb_gpu_prog *p, sb_error *err) {
    sb_cu_result r = p->be->cu.CtxSynchronize();
    return r ? sb_gpu_cuerr(p->be, r, "kernel execution (cuCtxSynchronize)", err) : 0;
}

/* --------------------------------------------------------------- prepare */

void sb_gpu_release(void *prog) {
    sb_gpu_prog *p = prog;
    if (!p) return;
    if (sb_gpu_ctx(p->be, NULL) == 0) {
        for (int i = 0; i < p->n_allocs; i++) p->be->cu.MemFree(p->allocs[i]);
        for (int i = 0; i < 4; i++)
            if (p->ev[i]) p->be->cu.EventDestroy(p->ev[i]);
    }
    pthread_mutex_destroy(&p->lock);
    free(p->allocs);
    free(p->fin);
    free(p->fout);
    free(p->launches);
    free(p->ta);
    free(p);
}

static void sb_gpu_notes(sb_gpu_prog *p) {
    sb_gpu_backend *be = p->be;
    snprintf(p->note_lat, sizeof p->note_lat,
             "CUDA events on %s: input copy + kernels of a batch of %d + logits copy", be->name, p->batch);
    snprintf(p->note_comp, sizeof p->note_comp, "CUDA events on %s: %s kernels of a batch of %d", be->name,
             be->fp32 ? "fp32" : "int8", p->batch);
    snprintf(p->note_img, sizeof p->note_img, "kernels of a batch of %d on %s / %d (throughput view)",
             p->batch, be->name, p->batch);
    if (be->have_nvml)
        snprintf(p->note_energy, sizeof p->note_energy,
                 "NVML board power of %s (the driver's ~1 s average, read after the run) x CUDA-event "
                 "latency / batch %d; includes idle power, which is reported apart", be->name, p->batch);
    else
        snprintf(p->note_energy, sizeof p->note_energy, "%s", be->nvml_why);
    snprintf(p->note_power, sizeof p->note_power, "NVML nvmlDeviceGetPowerUsage on %s", be->name);
    snprintf(p->note_idle, sizeof p->note_idle, "NVML over %d ms with no work, before the first run (%s)",
             be->idle_ms, be->energy_counter_ok ? "energy counter" : "power samples");
}

int sb_gpu_prepare(void *bep, const sb_graph *g, void **out, sb_error *err) {
    sb_gpu_backend *be = bep;
    sb_gpu_prog *p = calloc(1, sizeof *p);
    if (!p) return sb_error_set(err, SB_ENOMEM, "gpu: out of memory");
    p->be = be;
    p->g = g;
    p->batch = be->batch;
    pthread_mutex_init(&p->lock, NULL);
    p->launches = calloc((size_t)g->n_ops + 1, sizeof *p->launches);
    p->ta = calloc((size_t)g->n_tensors + 1, sizeof *p->ta);
    int rc = p->launches && p->ta ? sb_gpu_ctx(be, err) : sb_error_set(err, SB_ENOMEM, "gpu: out of memory");
    if (!rc) {
        sb_gpu_mem mem = {p, sb_gpu_alloc, sb_gpu_upload};
        rc = sb_gpu_plan(g, p->batch, be->fp32, &mem, p->ta, p->launches, err);
    }
    for (int i = 0; !rc && i < 4; i++) {
        sb_cu_result r = be->cu.EventCreate(&p->ev[i], 0);
        if (r) rc = sb_gpu_cuerr(be, r, "cuEventCreate", err);
    }
    if (rc) {
        sb_gpu_release(p);
        return rc;
    }
    size_t elem_bytes = be->fp32 ? sizeof(float) : 1;
    p->in_bytes = (size_t)sb_gpu_elems(&g->tensors[g->input]) * elem_bytes;
    p->out_bytes = (size_t)sb_gpu_elems(&g->tensors[g->output]) * elem_bytes;
    if (be->fp32) {
        p->fin = malloc(p->in_bytes);
        p->fout = malloc(p->out_bytes);
        if (!p->fin || !p->fout) {
            sb_gpu_release(p);
            return sb_error_set(err, SB_ENOMEM, "gpu: out of memory");
        }
    }
    /* Idle power first, while nothing of ours has run; then zero the inputs
     * and run the batch once so that run() never pays the first launch. */
    p->have_idle = sb_gpu_idle_power_mw(be, be->idle_ms, &p->idle_mw) == 0;
    sb_cu_result r = be->cu.MemsetD8(p->ta[g->input], 0, p->in_bytes * (size_t)p->batch);
    rc = r ? sb_gpu_cuerr(be, r, "cuMemsetD8", err) : sb_gpu_launch_all(p, err);
    if (!rc) rc = sb_gpu_sync(p, err);
    if (rc) {
        sb_gpu_release(p);
        return rc;
    }
    sb_gpu_notes(p);
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------- run */

/* fp32 path: input real = pixel / 255 with pixel = q + 128 (as fp32.c). */
static void sb_gpu_input_f32(const int8_t *q, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((int32_t)q[i] + 128) / 255.0f;
}

/* fp32 logits -> the output tensor's int8 domain, round half to even (as
 * the CPU backend's fp32 path). */
static void sb_gpu_quantise(const sb_tensor *t, const float *x, int8_t *q, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = rintf(x[i] / t->scale) + (float)t->zero_point;
        q[i] = (int8_t)(v < -128.0f ? -128 : v > 127.0f ? 127 : (int32_t)v);
    }
}

static int sb_gpu_run_locked(sb_gpu_prog *p, const int8_t *input, int8_t *logits, float *total_ms,
                             float *compute_ms, sb_error *err) {
    sb_cuda_api *cu = &p->be->cu;
    unsigned slot = p->next_slot++ % (unsigned)p->batch;
    sb_cu_result r;
    int rc = sb_gpu_ctx(p->be, err);
    if (rc) return rc;
    if (p->fin) sb_gpu_input_f32(input, p->fin, p->in_bytes / sizeof(float));
    cu->EventRecord(p->ev[0], NULL);
    if ((r = cu->MemcpyHtoD(p->ta[p->g->input] + slot * p->in_bytes, p->fin ? (const void *)p->fin : input,
                            p->in_bytes)))
        return sb_gpu_cuerr(p->be, r, "input cuMemcpyHtoD", err);
    cu->EventRecord(p->ev[1], NULL);
    if ((rc = sb_gpu_launch_all(p, err))) return rc;
    cu->EventRecord(p->ev[2], NULL);
    if ((r = cu->MemcpyDtoH(p->fout ? (void *)p->fout : logits, p->ta[p->g->output] + slot * p->out_bytes,
                            p->out_bytes)))
        return sb_gpu_cuerr(p->be, r, "kernels or logits cuMemcpyDtoH", err);
    cu->EventRecord(p->ev[3], NULL);
    if ((r = cu->EventSynchronize(p->ev[3]))) return sb_gpu_cuerr(p->be, r, "cuEventSynchronize", err);
    cu->EventElapsedTime(total_ms, p->ev[0], p->ev[3]);
    cu->EventElapsedTime(compute_ms, p->ev[1], p->ev[2]);
    if (p->fout) sb_gpu_quantise(&p->g->tensors[p->g->output], p->fout, logits, p->out_bytes / sizeof(float));
    return 0;
}

int sb_gpu_run(void *prog, const int8_t *input, int8_t *logits, sb_metrics *m, sb_error *err) {
    sb_gpu_prog *p = prog;
    float total_ms = 0, compute_ms = 0;
    double power_mw = 0;
    pthread_mutex_lock(&p->lock);
    int rc = sb_gpu_run_locked(p, input, logits, &total_ms, &compute_ms, err);
    int have_power = rc == 0 && sb_gpu_power_mw(p->be, &power_mw) == 0;
    pthread_mutex_unlock(&p->lock);
    if (rc) return rc;
    double total_ns = total_ms * 1e6, compute_ns = compute_ms * 1e6;
    sb_metrics_add(m, SB_M_LATENCY_NS, "ns", total_ns, SB_PROV_MEASURED, p->note_lat);
    sb_metrics_add(m, SB_M_LATENCY_COMPUTE_NS, "ns", compute_ns, SB_PROV_MEASURED, p->note_comp);
    sb_metrics_add(m, "latency_per_image_ns", "ns", compute_ns / p->batch, SB_PROV_MEASURED, p->note_img);
    sb_metrics_add(m, "batch", "1", p->batch, SB_PROV_MEASURED, "images per launch (option batch)");
    sb_metrics_add(m, "throughput_img_per_s", "1/s", p->batch / (total_ns * 1e-9), SB_PROV_MEASURED, p->note_lat);
    /* mW x ns = 1e-12 J = 1 pJ */
    sb_metrics_add(m, SB_M_ENERGY_PJ, "pJ", have_power ? power_mw * total_ns / p->batch : 0,
                   have_power ? SB_PROV_MEASURED : SB_PROV_UNAVAILABLE, p->note_energy);
    sb_metrics_add(m, "energy_above_idle_pj", "pJ",
                   have_power && p->have_idle ? (power_mw - p->idle_mw) * total_ns / p->batch : 0,
                   have_power && p->have_idle ? SB_PROV_MEASURED : SB_PROV_UNAVAILABLE, p->note_energy);
    sb_metrics_add(m, "power_mw", "mW", power_mw, have_power ? SB_PROV_MEASURED : SB_PROV_UNAVAILABLE,
                   have_power ? p->note_power : p->note_energy);
    sb_metrics_add(m, "idle_power_mw", "mW", p->idle_mw, p->have_idle ? SB_PROV_MEASURED : SB_PROV_UNAVAILABLE,
                   p->have_idle ? p->note_idle : p->note_energy);
    return 0;
}

/* ---------------------------------------------------------------- report */

char *sb_gpu_report_json(void *prog) {
    sb_gpu_prog *p = prog;
    sb_gpu_backend *be = p->be;
    size_t len = 2048;
    char *s = malloc(len), idle[32] = "null";
    if (!s) return NULL;
    if (p->have_idle) snprintf(idle, sizeof idle, "%.1f", p->idle_mw);
    /* Names come from the driver: printable ASCII, no quotes. */
    snprintf(s, len,
             "{\"backend\": \"gpu\", \"gpu\": \"%s\", \"compute_capability\": \"%d.%d\", \"sm_count\": %d, "
             "\"memory_bytes\": %zu, \"pci_bus_id\": \"%s\", \"driver\": \"%s\", \"cuda_driver_api\": %d, "
             "\"precision\": \"%s\", \"batch\": %d, \"kernel_launches_per_batch\": %d, \"idle_power_mw\": %s, "
             "\"energy_source\": \"%s\", \"kernels\": \"one thread per output element; int8: int32 accumulation, "
             "dp4a when channels %% 4 == 0; fp32: float, fp32.c's order\"}",
             be->name, be->cc_major, be->cc_minor, be->sm_count, be->mem_bytes, be->bus_id, be->driver,
             be->cuda_driver_version, be->fp32 ? "fp32" : "int8", p->batch, p->g->n_ops, idle,
             !be->have_nvml ? "none" : be->energy_counter_ok ? "nvml energy counter" : "nvml power samples");
    return s;
}

/* ----------------------------------------------------------------- bench */

static int sb_gpu_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Per-batch latency: each batch timed alone (synchronised); `iterations`
 * of them, or fewer (at least 3) once max_wall_s has passed. */
static int sb_gpu_bench_latency(sb_gpu_prog *p, int iterations, double max_wall_s, sb_gpu_bench_result *res,
                                sb_error *err) {
    sb_cuda_api *cu = &p->be->cu;
    double *t = calloc((size_t)iterations, sizeof *t), sum = 0, t0 = sb_gpu_now_ns();
    int rc = t ? 0 : sb_error_set(err, SB_ENOMEM, "gpu: out of memory"), n = 0;
    for (; !rc && n < iterations && (n < 3 || sb_gpu_now_ns() - t0 < max_wall_s * 1e9); n++) {
        float ms = 0;
        sb_cu_result r;
        cu->EventRecord(p->ev[1], NULL);
        rc = sb_gpu_launch_all(p, err);
        cu->EventRecord(p->ev[2], NULL);
        if (!rc && (r = cu->EventSynchronize(p->ev[2]))) rc = sb_gpu_cuerr(p->be, r, "kernel execution", err);
        cu->EventElapsedTime(&ms, p->ev[1], p->ev[2]);
        t[n] = ms * 1e6;
        sum += t[n];
    }
    if (!rc) {
        qsort(t, (size_t)n, sizeof *t, sb_gpu_cmp_double);
        res->iterations = n;
        res->batch_ns_min = t[0];
        res->batch_ns_median = t[n / 2];
        res->batch_ns_mean = sum / n;
    }
    free(t);
    return rc;
}

/* Throughput and energy: batches queued back to back for min_wall_s. */
static int sb_gpu_bench_energy(sb_gpu_prog *p, double min_wall_s, sb_gpu_bench_result *res, sb_error *err) {
    sb_gpu_sampler s;
    int rc = 0, n = 0, sampling = p->be->have_nvml && sb_gpu_sampler_start(&s, p->be, 10) == 0;
    double t0 = sb_gpu_now_ns(), t1 = t0;
    while (!rc && (t1 - t0) < min_wall_s * 1e9) {
        for (int k = 0; !rc && k < 8; k++, n++) rc = sb_gpu_launch_all(p, err);
        if (!rc) rc = sb_gpu_sync(p, err);  /* keep the queue short and the clock honest */
        t1 = sb_gpu_now_ns();
    }
    if (sampling) sb_gpu_sampler_stop(&s);
    if (rc) return rc;
    double wall_s = (t1 - t0) * 1e-9, images = (double)n * p->batch;
    res->wall_ns = t1 - t0;
    res->img_per_s = images / wall_s;
    res->idle_power_mw = p->have_idle ? p->idle_mw : -1;
    res->energy_counter_mj = sampling && s.counter_ok ? (double)(s.counter1_mj - s.counter0_mj) : -1;
    res->energy_power_mj = sampling ? s.energy_mj : -1;
    res->n_power_samples = sampling ? s.n_samples : 0;
    res->energy_source = !sampling ? SB_GPU_ENERGY_NONE
                         : s.counter_ok ? SB_GPU_ENERGY_COUNTER : SB_GPU_ENERGY_POWER;
    if (!sampling) {
        snprintf(res->note, sizeof res->note, "%.250s", p->be->nvml_why);
        return 0;
    }
    /* Power over the sampler's own window (it brackets the loop by the
     * thread start and join); throughput over the loop's. */
    double window_s = (s.t1_ns - s.t0_ns) * 1e-9;
    res->energy_mj = s.counter_ok ? res->energy_counter_mj : res->energy_power_mj;
    res->mean_power_mw = res->energy_mj / window_s;      /* mJ / s = mW */
    res->energy_per_img_mj = res->mean_power_mw * wall_s / images;
    res->energy_above_idle_per_img_mj =
        p->have_idle ? (res->mean_power_mw - p->idle_mw) * wall_s / images : -1;
    return 0;
}

SB_EXPORT int sb_gpu_bench(void *prog, int iterations, double min_wall_s, sb_gpu_bench_result *res,
                           sb_error *err);
SB_EXPORT int sb_gpu_bench(void *prog, int iterations, double min_wall_s, sb_gpu_bench_result *res,
                           sb_error *err) {
    sb_gpu_prog *p = prog;
    memset(res, 0, sizeof *res);
    if (iterations < 1) return sb_error_set(err, SB_EINVAL, "gpu bench: iterations %d: expected >= 1", iterations);
    res->batch = p->batch;
    res->iterations = iterations;
    pthread_mutex_lock(&p->lock);
    int rc = sb_gpu_ctx(p->be, err);
    for (int i = 0; !rc && i < 3; i++) rc = sb_gpu_launch_all(p, err);   /* warm-up */
    if (!rc) rc = sb_gpu_sync(p, err);
    if (!rc) rc = sb_gpu_bench_latency(p, iterations, min_wall_s, res, err);
    if (!rc) rc = sb_gpu_bench_energy(p, min_wall_s, res, err);
    pthread_mutex_unlock(&p->lock);
    return rc;
}
