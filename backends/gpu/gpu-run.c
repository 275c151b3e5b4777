/*
 * gpu-run - run one .sbm model on the GPU backend plugin, check its INT8
 * logits bit for bit against the CPU kernels (sb_graph_run_int8), time whole
 * batches and read their energy, and write the result as JSON.
 *
 * It is what bench/gpu_check.sh carries to a GPU machine, so it needs only
 * libc and libdl there: the model reader and the CPU kernels are linked in
 * statically, the plugin is dlopen()ed like the framework does.
 *
 *   gpu-run --plugin srambench-backend-gpu.so --model effnet.sbm
 *           [--batch 1,256] [--check 8] [--iters 50] [--seconds 3]
 *           [--idle-ms 1000] [--json out.json]
 *           [--driver-lib libcuda.so.1] [--nvml-lib libnvidia-ml.so.1]
 *   gpu-run --emulate --model effnet.sbm [--batch 2] [--check 2]
 *       runs the GPU plan and element kernels on the host instead (no GPU,
 *       no plugin): the same bit-exactness check of the code nvcc compiles.
 * --model may name a folder: its first .sbm file (by name) is used.
 * --skip-missing: a missing model exits 77 (a test's "skipped").
 * --precision fp32 runs the float path instead; its logits (quantised to
 * int8) are compared with the CPU's fp32 path and may differ by one step
 * (expf is not bit-exact across devices): more than that counts as differing.
 * Exit: 0 ok, 1 error, 2 logits differ from the CPU, 3 backend unavailable.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sb_file.h"
#include "sb_model_file.h"
#include "sb_gpu.h"
#include "sb_gpu_plan.h"
#include "sb_kernels.h"

typedef struct gr_args {
    const char *plugin, *model, *json, *driver_lib, *nvml_lib, *precision;
    int batches[8], n_batches;
    int check, iters, idle_ms, emulate, skip_missing;
    char model_buf[4096];
    double seconds;
} gr_args;

static void gr_log(int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gpu-run [%d]: ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
static int gr_not_cancelled(void) { return 0; }

static int gr_usage(const char *why) {
    fprintf(stderr, "gpu-run: %s\nusage: gpu-run --plugin PATH.so --model FILE.sbm [--batch 1,256] "
                    "[--check N] [--iters N] [--seconds S] [--idle-ms MS] [--json OUT] [--driver-lib SO] "
                    "[--nvml-lib SO]\n       gpu-run --emulate --model FILE.sbm [--batch B] [--check N]\n", why);
    return 1;
}

static int gr_parse(int argc, char **argv, gr_args *a) {
    *a = (gr_args){.check = 8, .iters = 50, .seconds = 3.0, .idle_ms = 1000, .n_batches = 1, .batches = {1},
                   .precision = "int8"};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--emulate") || !strcmp(k, "--skip-missing")) {
            *(k[2] == 'e' ? &a->emulate : &a->skip_missing) = 1;
            continue;
        }
        if (!v) return gr_usage("every option takes a value");
        i++;
        if (!strcmp(k, "--plugin")) a->plugin = v;
        else if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--json")) a->json = v;
        else if (!strcmp(k, "--driver-lib")) a->driver_lib = v;
        else if (!strcmp(k, "--precision")) a->precision = v;
        else if (!strcmp(k, "--nvml-lib")) a->nvml_lib = v;
        else if (!strcmp(k, "--check")) a->check = atoi(v);
        else if (!strcmp(k, "--iters")) a->iters = atoi(v);
        else if (!strcmp(k, "--seconds")) a->seconds = atof(v);
        else if (!strcmp(k, "--idle-ms")) a->idle_ms = atoi(v);
        else if (!strcmp(k, "--batch")) {
            char *end = (char *)v;
            for (a->n_batches = 0; *end && a->n_batches < 8;) {
                a->batches[a->n_batches++] = (int)strtol(end, &end, 10);
                if (*end == ',') end++;
            }
        } else return gr_usage("unknown option");
    }
    if ((!a->plugin && !a->emulate) || !a->model) return gr_usage("--plugin (or --emulate) and --model are required");
    if (a->check < 1 || a->iters < 1 || a->seconds < 0) return gr_usage("--check, --iters >= 1, --seconds >= 0");
    if (strcmp(a->precision, "int8") && strcmp(a->precision, "fp32")) return gr_usage("--precision: int8 or fp32");
    for (int i = 0; i < a->n_batches; i++)
        if (a->batches[i] < 1) return gr_usage("--batch: expected sizes >= 1, comma separated");
    return 0;
}

/* A folder stands for the first .sbm inside it (sorted by name). */
static const char *gr_model_path(gr_args *a) {
    DIR *d = opendir(a->model);
    if (!d) return a->model;
    struct dirent *e;
    char best[1024] = "";
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".sbm") && n < sizeof best && (!best[0] || strcmp(e->d_name, best) < 0))
            memcpy(best, e->d_name, n + 1);
    }
    closedir(d);
    if (!best[0]) return NULL;
    snprintf(a->model_buf, sizeof a->model_buf, "%s/%s", a->model, best);
    return a->model_buf;
}

/* Deterministic images: uint8 pixels from xorshift, as q = pixel - 128. */
static void gr_image(int8_t *q, size_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        q[i] = (int8_t)((int)(s >> 24) - 128);
    }
}

/* int8: any difference; fp32: more than one int8 step anywhere. */
static int gr_differ(const int8_t *gpu, const int8_t *cpu, size_t n, const char *precision) {
    int tol = strcmp(precision, "fp32") == 0 ? 1 : 0;
    for (size_t i = 0; i < n; i++)
        if (abs((int)gpu[i] - (int)cpu[i]) > tol) return 1;
    return 0;
}

typedef struct gr_batch_result {
    int batch, images_checked, images_differ;
    sb_gpu_bench_result bench;
    char *report;
} gr_batch_result;

/* Open, prepare, check against the CPU logits, bench: one batch size. */
static int gr_one(const gr_args *a, const sb_backend_plugin *be_plugin, sb_gpu_bench_fn bench,
                  const sb_graph *g, const int8_t *inputs, const int8_t *cpu_logits, int batch,
                  gr_batch_result *out, sb_error *err) {
    sb_host host = {SB_ABI_MAJOR, SB_ABI_MINOR, gr_log, gr_not_cancelled, "/tmp", "."};
    sb_option o[5] = {{.key = "batch", .type = SB_OPT_INT, .i = batch, .f = batch, .file = "gpu-run"},
                      {.key = "idle_ms", .type = SB_OPT_INT, .i = a->idle_ms, .f = a->idle_ms, .file = "gpu-run"},
                      {.key = "precision", .type = SB_OPT_STRING, .s = a->precision, .file = "gpu-run"}};
    sb_options opts = {o, 3, "gpu"};
    if (a->driver_lib)
        o[opts.n++] = (sb_option){.key = "driver_lib", .type = SB_OPT_STRING, .s = a->driver_lib, .file = "gpu-run"};
    if (a->nvml_lib)
        o[opts.n++] = (sb_option){.key = "nvml_lib", .type = SB_OPT_STRING, .s = a->nvml_lib, .file = "gpu-run"};
    void *be = NULL, *prog = NULL;
    size_t in_n = (size_t)sb_tensor_elems(&g->tensors[g->input]);
    size_t out_n = (size_t)g->n_classes;
    int8_t logits[4096];
    out->batch = batch;
    int rc = be_plugin->open(&host, &opts, &be, err);
    if (!rc) rc = be_plugin->prepare(be, g, &prog, err);
    for (int i = 0; !rc && i < a->check; i++) {
        sb_metrics m = {0};
        rc = be_plugin->run(prog, inputs + (size_t)i * in_n, logits, &m, err);
        if (!rc && gr_differ(logits, cpu_logits + (size_t)i * out_n, out_n, a->precision)) {
            out->images_differ++;
            fprintf(stderr, "gpu-run: batch %d, image %d: GPU logits differ from the CPU's\n", batch, i);
        }
        out->images_checked += !rc;
    }
    if (!rc) rc = bench(prog, a->iters, a->seconds, &out->bench, err);
    if (!rc && be_plugin->report_json) out->report = be_plugin->report_json(prog);
    if (prog) be_plugin->release(prog);
    if (be) be_plugin->close(be);
    return rc;
}

static void gr_print(const gr_batch_result *r, const char *precision) {
    const sb_gpu_bench_result *b = &r->bench;
    printf("%s batch %4d: latency/batch median %.3f ms (min %.3f), per image %.1f us, %.0f img/s; "
           "%s %d/%d images", precision, r->batch, b->batch_ns_median * 1e-6, b->batch_ns_min * 1e-6,
           b->batch_ns_median * 1e-3 / r->batch, b->img_per_s,
           strcmp(precision, "fp32") ? "bit-exact with the CPU" : "within one int8 step of the CPU's fp32",
           r->images_checked - r->images_differ,
           r->images_checked);
    if (b->energy_source != SB_GPU_ENERGY_NONE)
        printf("; energy/image %.3f mJ (%.3f mJ above idle), mean power %.1f W, idle %.1f W\n",
               b->energy_per_img_mj, b->energy_above_idle_per_img_mj, b->mean_power_mw * 1e-3,
               b->idle_power_mw * 1e-3);
    else
        printf("; energy unavailable: %s\n", b->note);
}

static void gr_json_run(FILE *f, const gr_batch_result *r, int last) {
    const sb_gpu_bench_result *b = &r->bench;
    static const char *const src[] = {"unavailable", "nvml energy counter", "nvml power samples"};
    fprintf(f, "    {\"batch\": %d, \"iterations\": %d, \"images_checked\": %d, \"images_differ\": %d,\n"
               "     \"latency_batch_ns\": {\"min\": %.0f, \"median\": %.0f, \"mean\": %.0f},\n"
               "     \"latency_per_image_ns\": %.1f, \"throughput_img_per_s\": %.1f, \"energy_wall_ns\": %.0f,\n"
               "     \"energy_source\": \"%s\", \"energy_per_image_mj\": %.6f, "
               "\"energy_above_idle_per_image_mj\": %.6f,\n"
               "     \"energy_counter_mj\": %.1f, \"energy_power_samples_mj\": %.1f, \"power_samples\": %d,\n"
               "     \"mean_power_mw\": %.1f, \"idle_power_mw\": %.1f,\n     \"backend_report\": %s}%s\n",
            r->batch, b->iterations, r->images_checked, r->images_differ, b->batch_ns_min, b->batch_ns_median,
            b->batch_ns_mean, b->batch_ns_median / r->batch, b->img_per_s, b->wall_ns, src[b->energy_source],
            b->energy_per_img_mj, b->energy_above_idle_per_img_mj, b->energy_counter_mj, b->energy_power_mj,
            b->n_power_samples, b->mean_power_mw, b->idle_power_mw, r->report ? r->report : "null",
            last ? "" : ",");
}

/* Written in memory, then through a temp file and rename: no link planted
 * at either name is followed, and no half file is left. */
static int gr_json(const gr_args *a, const sb_graph *g, const gr_batch_result *r, int n, double cpu_ms) {
    char *text = NULL;
    size_t len = 0;
    sb_error err = {0, ""};
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fprintf(stderr, "gpu-run: cannot write %s: out of memory\n", a->json);
        return 1;
    }
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "{\n  \"tool\": \"gpu-run\", \"date\": \"%s\", \"precision\": \"%s\", \"model_name\": \"%s\", "
               "\"model_file\": \"%s\",\n"
               "  \"cpu_reference_ms_per_image\": %.1f,\n  \"runs\": [\n", date, a->precision, g->name ? g->name : "",
            a->model, cpu_ms);
    for (int i = 0; i < n; i++) gr_json_run(f, &r[i], i == n - 1);
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0 || sb_file_write_atomic(a->json, text, len, &err) < 0) {
        fprintf(stderr, "gpu-run: cannot write %s: %s\n", a->json, err.msg[0] ? err.msg : "out of memory");
        free(text);
        return 1;
    }
    free(text);
    return 0;
}

/* The CPU's logits for every check image. */
/* fp32 logits -> int8, as the CPU backend's and the GPU plugin's fp32 path. */
static void gr_quantise(const sb_tensor *t, const float *x, int8_t *q, int n) {
    for (int i = 0; i < n; i++) {
        float v = rintf(x[i] / t->scale) + (float)t->zero_point;
        q[i] = (int8_t)(v < -128.0f ? -128 : v > 127.0f ? 127 : (int32_t)v);
    }
}

static int gr_cpu(const sb_graph *g, const int8_t *inputs, int n, int fp32, int8_t *logits, double *ms,
                  sb_error *err) {
    sb_workspace *ws = NULL;
    size_t in_n = (size_t)sb_tensor_elems(&g->tensors[g->input]);
    struct timespec t0, t1;
    float f[4096];
    int rc = sb_workspace_new(g, &ws, err);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; !rc && i < n; i++) {
        int8_t *out = logits + (size_t)i * g->n_classes;
        if (!fp32) {
            rc = sb_graph_run_int8(g, ws, inputs + (size_t)i * in_n, out, err);
            continue;
        }
        rc = sb_graph_run_f32(g, ws, inputs + (size_t)i * in_n, f, err);
        gr_quantise(&g->tensors[g->output], f, out, g->n_classes);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6) / n;
    sb_workspace_free(ws);
    return rc;
}

/* Host emulation of the GPU plan: malloc'd "device" memory. */
typedef struct gr_mem { void **p; int n, cap; } gr_mem;
static int gr_alloc(void *ctx, size_t bytes, uint64_t *addr, sb_error *err) {
    gr_mem *m = ctx;
    if (m->n == m->cap) {
        void **q = realloc(m->p, (size_t)(m->cap = m->cap ? 2 * m->cap : 256) * sizeof *q);
        if (!q) return sb_error_set(err, SB_ENOMEM, "gpu-run: out of memory");
        m->p = q;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) return sb_error_set(err, SB_ENOMEM, "gpu-run: out of memory (%zu bytes)", bytes);
    m->p[m->n++] = p;
    *addr = (uint64_t)(uintptr_t)p;
    return 0;
}
static int gr_upload(void *ctx, const void *src, size_t bytes, uint64_t *addr, sb_error *err) {
    int rc = gr_alloc(ctx, bytes, addr, err);
    if (!rc) memcpy((void *)(uintptr_t)*addr, src, bytes);
    return rc;
}

/* Images in batches of `batch` through the emulated GPU kernels. */
static int gr_emulate(const sb_graph *g, const int8_t *inputs, const int8_t *cpu, int n, int batch, int fp32,
                      sb_error *err) {
    gr_mem m = {0};
    sb_gpu_mem mem = {&m, gr_alloc, gr_upload};
    uint64_t *ta = calloc((size_t)g->n_tensors, sizeof *ta);
    sb_gpu_launch *l = calloc((size_t)g->n_ops, sizeof *l);
    size_t in_n = (size_t)sb_tensor_elems(&g->tensors[g->input]), out_n = (size_t)g->n_classes;
    int rc = ta && l ? sb_gpu_plan(g, batch, fp32, &mem, ta, l, err) : SB_ENOMEM, differ = 0;
    for (int i0 = 0; !rc && i0 < n; i0 += batch) {
        for (int b = 0; b < batch; b++) {  /* slots past n repeat the last image */
            const int8_t *q = inputs + (size_t)(i0 + b < n ? i0 + b : n - 1) * in_n;
            if (!fp32) memcpy((int8_t *)(uintptr_t)ta[g->input] + b * in_n, q, in_n);
            for (size_t k = 0; fp32 && k < in_n; k++)   /* real = (q + 128) / 255 */
                ((float *)(uintptr_t)ta[g->input])[b * in_n + k] = (float)((int32_t)q[k] + 128) / 255.0f;
        }
        sb_gpu_emulate(l, g->n_ops);
        for (int b = 0; b < batch && i0 + b < n; b++) {
            int8_t got[4096];
            if (fp32) gr_quantise(&g->tensors[g->output], (float *)(uintptr_t)ta[g->output] + b * out_n, got, (int)out_n);
            else memcpy(got, (int8_t *)(uintptr_t)ta[g->output] + b * out_n, out_n);
            int same = !gr_differ(got, cpu + (size_t)(i0 + b) * out_n, out_n, fp32 ? "fp32" : "int8");
            differ += !same;
            printf("emulated GPU kernels (%s), batch %d, image %d: logits %s the CPU's\n", fp32 ? "fp32" : "int8",
                   batch, i0 + b, same ? (fp32 ? "within one int8 step of" : "bit-identical to") : "DIFFER from");
        }
    }
    for (int i = 0; i < m.n; i++) free(m.p[i]);
    free(m.p);
    free(ta);
    free(l);
    return rc ? rc : differ ? 2 : 0;
}

static int gr_plugin(const char *path, void **lib, const sb_backend_plugin **p, sb_gpu_bench_fn *bench) {
    *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*lib) {
        fprintf(stderr, "gpu-run: %s: %s\n", path, dlerror());
        return 1;
    }
    void *e = dlsym(*lib, SB_PLUGIN_ENTRY_SYMBOL), *b = dlsym(*lib, SB_GPU_BENCH_SYMBOL);
    const sb_plugin_header *h = e ? *(const sb_plugin_header *const *)e : NULL;
    if (!h || h->kind != SB_KIND_BACKEND || h->abi_major != SB_ABI_MAJOR || !b) {
        fprintf(stderr, "gpu-run: %s: expected the GPU backend plugin (ABI %d, with %s)\n", path, SB_ABI_MAJOR,
                SB_GPU_BENCH_SYMBOL);
        return 1;
    }
    *p = (const sb_backend_plugin *)h;
    memcpy(bench, &b, sizeof b);
    return 0;
}

int main(int argc, char **argv) {
    gr_args a;
    sb_error err = {0};
    sb_model_file *mf = NULL;
    void *lib = NULL;
    const sb_backend_plugin *plugin = NULL;
    sb_gpu_bench_fn bench = NULL;
    gr_batch_result res[8] = {{0}};
    double cpu_ms = 0;
    if (gr_parse(argc, argv, &a)) return 1;
    if (!a.emulate && gr_plugin(a.plugin, &lib, &plugin, &bench)) return 1;
    const char *model = gr_model_path(&a);
    if (!model || access(model, R_OK) != 0) {
        fprintf(stderr, "gpu-run: %s: no readable .sbm model there%s\n", a.model,
                a.skip_missing ? " (skipped)" : "");
        return a.skip_missing ? 77 : 1;
    }
    a.model = model;
    if (sb_model_file_load(a.model, &mf, &err)) {
        fprintf(stderr, "gpu-run: %s\n", err.msg);
        return 1;
    }
    const sb_graph *g = sb_model_file_graph(mf);
    size_t in_n = (size_t)sb_tensor_elems(&g->tensors[g->input]);
    int8_t *inputs = malloc(in_n * (size_t)a.check), *cpu = malloc((size_t)g->n_classes * (size_t)a.check);
    if (!inputs || !cpu || g->n_classes > 4096) return 1;
    for (int i = 0; i < a.check; i++) gr_image(inputs + (size_t)i * in_n, in_n, (uint32_t)i + 1);
    int fp32 = strcmp(a.precision, "fp32") == 0;
    int rc = gr_cpu(g, inputs, a.check, fp32, cpu, &cpu_ms, &err);
    if (!rc && a.emulate) {
        rc = gr_emulate(g, inputs, cpu, a.check, a.batches[0], fp32, &err);
        if (rc < 0) fprintf(stderr, "gpu-run: %s\n", err.msg);
        free(inputs);
        free(cpu);
        sb_model_file_free(mf);
        return rc < 0 ? 1 : rc;
    }
    int differ = 0, n = 0;
    for (; !rc && n < a.n_batches; n++) {
        rc = gr_one(&a, plugin, bench, g, inputs, cpu, a.batches[n], &res[n], &err);
        if (!rc) gr_print(&res[n], a.precision);
        differ += res[n].images_differ;
    }
    if (rc) {
        fprintf(stderr, "gpu-run: %s\n", err.msg);
        return rc == SB_EUNAVAILABLE ? 3 : 1;
    }
    if (a.json && gr_json(&a, g, res, n, cpu_ms)) return 1;
    for (int i = 0; i < n; i++) free(res[i].report);
    free(inputs);
    free(cpu);
    sb_model_file_free(mf);
    return differ ? 2 : 0;
}
