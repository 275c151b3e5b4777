/*
 * cpu-bench - time the CPU backend plugin on one .sbm model (a benchmark
 * driver, not a test):
 *
 *   cpu-bench PLUGIN.so MODEL.sbm [--precision int8|fp32] [--threads T]
 *             [--threads-per-image K] [--images N] [--warmup W]
 *
 * T threads share N random images (one image per run() call, as the runner
 * does), after W warm-up images per thread. Prints one JSON line: per-image
 * latency (the backend's measured latency_ns: median, p95), wall-clock
 * throughput, and process CPU time per image (less sensitive than wall time
 * to other processes on a shared machine).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb_model_file.h"
#include "sb_plugin.h"

typedef struct bench {
    const sb_backend_plugin *be;
    void *prog;
    const int8_t *inputs;   /* 8 distinct images, reused */
    size_t in_bytes, out_bytes;
    int n_images, warmup;
    atomic_int next;
    double *lat_ns;
    int failed;
} bench;

static void *worker(void *p) {
    bench *b = p;
    int8_t logits[4096];
    sb_error err = {0};
    for (int i = 0; i < b->warmup; i++) {
        sb_metrics m = {0};
        if (b->be->run(b->prog, b->inputs + (size_t)(i % 8) * b->in_bytes, logits, &m, &err)) goto fail;
    }
    for (;;) {
        int i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n_images) break;
        sb_metrics m = {0};
        if (b->be->run(b->prog, b->inputs + (size_t)(i % 8) * b->in_bytes, logits, &m, &err)) goto fail;
        for (int k = 0; k < m.n; k++)
            if (strcmp(m.items[k].name, SB_M_LATENCY_NS) == 0) b->lat_ns[i] = m.items[k].value;
    }
    return NULL;
fail:
    fprintf(stderr, "cpu-bench: %s\n", err.msg);
    b->failed = 1;
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: cpu-bench PLUGIN.so MODEL.sbm [--precision int8|fp32] [--threads T] [--threads-per-image K] [--images N] [--warmup W]\n");
        return 2;
    }
    const char *precision = "int8";
    int threads = 1, n_images = 20, warmup = 3, per_image = 1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--precision") == 0) precision = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads-per-image") == 0) per_image = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--images") == 0) n_images = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "cpu-bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || n_images < 1) return 2;
    void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "cpu-bench: %s\n", dlerror());
        return 1;
    }
    const sb_plugin_header *const *entry = dlsym(dl, SB_PLUGIN_ENTRY_SYMBOL);
    if (!entry || (*entry)->kind != SB_KIND_BACKEND) {
        fprintf(stderr, "cpu-bench: %s: not a backend plugin\n", argv[1]);
        return 1;
    }
    bench b = {0};
    b.be = (const sb_backend_plugin *)(const void *)*entry;
    sb_error err = {0};
    sb_model_file *mf;
    if (sb_model_file_load(argv[2], &mf, &err)) {
        fprintf(stderr, "cpu-bench: %s\n", err.msg);
        return 1;
    }
    const sb_graph *g = sb_model_file_graph(mf);
    sb_option opt[2] = {{"precision", SB_OPT_STRING, precision, 0, 0, 0, NULL, 0, NULL, 0, 0},
                        {"threads_per_image", SB_OPT_INT, NULL, per_image, per_image, 0, NULL, 0, NULL, 0, 0}};
    sb_options opts = {opt, 2, "cpu"};
    sb_host host = {SB_ABI_MAJOR, SB_ABI_MINOR, NULL, NULL, "/tmp", "."};
    void *be;
    if (b.be->open(&host, &opts, &be, &err) || b.be->prepare(be, g, &b.prog, &err)) {
        fprintf(stderr, "cpu-bench: %s\n", err.msg);
        return 1;
    }
    const int32_t *s = g->tensors[g->input].shape;
    b.in_bytes = (size_t)s[1] * s[2] * s[3];
    int8_t *inputs = malloc(8 * b.in_bytes);
    unsigned seed = 12345;
    for (size_t i = 0; i < 8 * b.in_bytes; i++) inputs[i] = (int8_t)((seed = seed * 1103515245u + 12345u) >> 24);
    b.inputs = inputs;
    b.n_images = n_images;
    b.warmup = warmup;
    b.lat_ns = calloc((size_t)n_images, sizeof(double));
    pthread_t th[64];
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, worker, &b);
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double wall = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    int total = n_images + warmup * threads;
    if (b.failed) return 1;
    qsort(b.lat_ns, (size_t)n_images, sizeof(double), cmp_d);
    double med = b.lat_ns[n_images / 2], p95 = b.lat_ns[(int)((n_images - 1) * 0.95)];
    /* wall and CPU time cover the warm-up images too: divide by all of them */
    printf("{\"model\":\"%s\",\"precision\":\"%s\",\"threads\":%d,\"threads_per_image\":%d,\"images\":%d,"
           "\"median_ms\":%.3f,\"p95_ms\":%.3f,\"wall_s\":%.3f,\"images_per_s\":%.2f,"
           "\"cpu_ms_per_image\":%.3f}\n",
           g->name, precision, threads, per_image, n_images, med * 1e-6, p95 * 1e-6, wall, (double)total / wall,
           cpu * 1e3 / total);
    b.be->release(b.prog);
    b.be->close(be);
    sb_model_file_free(mf);
    free(inputs);
    free(b.lat_ns);
    return 0;
}
