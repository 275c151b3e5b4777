/*
 * cpu_backend.c - srambench-backend-cpu: runs the graph natively on the host
 * with the kernels of backends/kernels, and measures what it can.
 *
 * - Latency per image: CLOCK_MONOTONIC around the inference (measured).
 * - Energy per image: RAPL powercap energy counters read before and after
 *   (measured, but package-wide: every process and core on the package is in
 *   it), or unavailable with the reason when the host has no readable RAPL.
 * - precision = "fp32" runs the float32 path of the same file; its float
 *   logits are quantised to the output tensor's int8 scale/zero point, since
 *   the ABI returns int8 logits (docs/kernels.md).
 *
 * run() is thread-safe: each calling thread borrows a workspace from a
 * mutex-protected free list (created on demand); the packed weights are
 * shared read-only.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb_kernels.h"
#include "sb_plugin.h"

#define RAPL_MAX_ZONES 8

static const sb_option_spec cpu_options[] = {
    {"precision", SB_OPT_STRING, 0, "\"int8\" (default) or \"fp32\": which path of the model runs"},
    {"threads_per_image", SB_OPT_INT, 0,
     "threads splitting one image's conv and depthwise layers (default 1; the runner's threads run images in parallel)"},
    {"powercap_root", SB_OPT_STRING, 0, "where the RAPL powercap zones are (default /sys/class/powercap)"},
    {NULL, 0, 0, NULL}};

typedef struct rapl {
    int n;                              /* readable package zones; 0: unavailable */
    char path[RAPL_MAX_ZONES][300];     /* .../intel-rapl:N/energy_uj */
    double range_uj[RAPL_MAX_ZONES];    /* max_energy_range_uj: the counter wraps there */
    char note[512];                     /* provenance note, or why it is unavailable */
} rapl;

typedef struct cpu_be {
    const sb_host *host;
    int fp32;
    int threads_per_image;
    rapl rapl;
    /* Inferences of this backend: starts so far (high 32 bits) and in flight
     * (low 32 bits), in one word so that one atomic step reads both. The
     * package counter cannot tell concurrent images apart. */
    _Atomic uint64_t runs;
} cpu_be;

typedef struct ws_node {
    sb_workspace *ws;
    float *logits_f32;
    struct ws_node *next;
} ws_node;

typedef struct cpu_prog {
    cpu_be *be;
    const sb_graph *g;
    sb_pack *pk;
    pthread_mutex_t mu;
    ws_node *free_list;
} cpu_prog;

/* ----------------------------------------------------------------- RAPL */

static int read_u64_file(const char *path, double *out) {
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    unsigned long long v;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    if (!ok) return -EINVAL;
    *out = (double)v;
    return 0;
}

/* Find the package zones intel-rapl:N (not the sub-zones intel-rapl:N:M). */
static void rapl_probe(rapl *r, const char *root) {
    memset(r, 0, sizeof *r);
    DIR *d = opendir(root);
    if (!d) {
        snprintf(r->note, sizeof r->note, "no RAPL powercap interface on this host: %s %s", root,
                 errno == ENOENT ? "missing" : strerror(errno));
        return;
    }
    struct dirent *e;
    char why[400] = "";
    while ((e = readdir(d)) && r->n < RAPL_MAX_ZONES) {
        unsigned pkg;
        char tail;
        if (sscanf(e->d_name, "intel-rapl:%u%c", &pkg, &tail) != 1) continue;
        char *p = r->path[r->n], range[300];
        double v;
        snprintf(p, sizeof r->path[0], "%s/%s/energy_uj", root, e->d_name);
        snprintf(range, sizeof range, "%s/%s/max_energy_range_uj", root, e->d_name);
        int rc = read_u64_file(p, &v);
        if (rc) {
            snprintf(why, sizeof why, "%s not readable: %s", p, strerror(-rc));
            continue;
        }
        if (read_u64_file(range, &r->range_uj[r->n])) r->range_uj[r->n] = 0;
        r->n++;
    }
    closedir(d);
    if (r->n == 0)
        snprintf(r->note, sizeof r->note, "no readable RAPL package zone under %s%s%s", root, why[0] ? ": " : "", why);
    else
        snprintf(r->note, sizeof r->note,
                 "RAPL powercap, %d package zone(s) (%s...): package-wide counters, so they include every "
                 "core and process on the package, not only this image",
                 r->n, r->path[0]);
}

/* Sum of the package counters in microjoules; -1 if a read fails. */
static double rapl_read_uj(const rapl *r, double *each) {
    double total = 0;
    for (int i = 0; i < r->n; i++) {
        if (read_u64_file(r->path[i], &each[i])) return -1;
        total += each[i];
    }
    return total;
}

static double rapl_delta_uj(const rapl *r, const double *before, const double *after) {
    double d = 0;
    for (int i = 0; i < r->n; i++) {
        double x = after[i] - before[i];
        if (x < 0 && r->range_uj[i] > 0) x += r->range_uj[i]; /* the counter wrapped */
        d += x;
    }
    return d;
}

/* -------------------------------------------------------------- plugin */

static int cpu_open(const sb_host *host, const sb_options *opts, void **out, sb_error *err) {
    cpu_be *be = calloc(1, sizeof *be);
    if (!be) return sb_error_set(err, SB_ENOMEM, "cpu: out of memory");
    be->host = host;
    atomic_init(&be->runs, 0);
    const char *prec = sb_opt_str(opts, "precision", "int8");
    const sb_option *po = sb_opt_find(opts, "precision");
    if (strcmp(prec, "int8") == 0) be->fp32 = 0;
    else if (strcmp(prec, "fp32") == 0) be->fp32 = 1;
    else {
        free(be);
        return sb_error_set(err, SB_EINVAL, "%s:%d: precision = \"%s\": expected \"int8\" or \"fp32\"",
                            po && po->file ? po->file : "options", po ? po->line : 0, prec);
    }
    int64_t t = sb_opt_int(opts, "threads_per_image", 1);
    if (t < 1 || t > 64) {
        const sb_option *to = sb_opt_find(opts, "threads_per_image");
        free(be);
        return sb_error_set(err, SB_EINVAL, "%s:%d: threads_per_image = %lld: expected 1..64",
                            to && to->file ? to->file : "options", to ? to->line : 0, (long long)t);
    }
    be->threads_per_image = (int)t;
    rapl_probe(&be->rapl, sb_opt_str(opts, "powercap_root", "/sys/class/powercap"));
    *out = be;
    return SB_OK;
}

static void cpu_close(void *p) { free(p); }

static int cpu_prepare(void *p, const sb_graph *g, void **out, sb_error *err) {
    cpu_be *be = p;
    cpu_prog *pg = calloc(1, sizeof *pg);
    if (!pg) return sb_error_set(err, SB_ENOMEM, "cpu: out of memory");
    pg->be = be;
    pg->g = g;
    int rc = sb_pack_new(g, be->fp32 ? SB_PACK_F32 : SB_PACK_INT8, &pg->pk, err);
    if (rc) {
        free(pg);
        return rc;
    }
    pthread_mutex_init(&pg->mu, NULL);
    *out = pg;
    return SB_OK;
}

static void cpu_release(void *p) {
    cpu_prog *pg = p;
    if (!pg) return;
    while (pg->free_list) {
        ws_node *n = pg->free_list;
        pg->free_list = n->next;
        sb_workspace_free(n->ws);
        free(n->logits_f32);
        free(n);
    }
    pthread_mutex_destroy(&pg->mu);
    sb_pack_free(pg->pk);
    free(pg);
}

static int ws_take(cpu_prog *pg, ws_node **out, sb_error *err) {
    *out = NULL;
    pthread_mutex_lock(&pg->mu);
    ws_node *n = pg->free_list;
    if (n) pg->free_list = n->next;
    pthread_mutex_unlock(&pg->mu);
    if (!n) { /* a new thread (or more at once than before): one more workspace */
        n = calloc(1, sizeof *n);
        size_t n_out = (size_t)sb_tensor_elems(&pg->g->tensors[pg->g->output]);
        if (!n || !(n->logits_f32 = malloc(n_out * sizeof(float)))) {
            free(n);
            return sb_error_set(err, SB_ENOMEM, "cpu: out of memory for a workspace (%zu bytes of logits)",
                                n_out * sizeof(float));
        }
        int rc = sb_workspace_new_shared(pg->g, pg->pk, &n->ws, err);
        if (rc == SB_OK && pg->be->threads_per_image > 1)
            rc = sb_workspace_set_threads(n->ws, pg->be->threads_per_image, err);
        if (rc) {
            sb_workspace_free(n->ws);
            free(n->logits_f32);
            free(n);
            return rc;
        }
    }
    *out = n;
    return SB_OK;
}

static void ws_give(cpu_prog *pg, ws_node *n) {
    pthread_mutex_lock(&pg->mu);
    n->next = pg->free_list;
    pg->free_list = n;
    pthread_mutex_unlock(&pg->mu);
}

/* fp32 logits -> the output tensor's int8 domain, round half to even. */
static void quantise_logits(const sb_tensor *t, const float *x, int8_t *q, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = rintf(x[i] / t->scale) + (float)t->zero_point;
        q[i] = (int8_t)(v < -128.0f ? -128 : v > 127.0f ? 127 : (int32_t)v);
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cpu_run(void *p, const int8_t *input, int8_t *logits, sb_metrics *metrics, sb_error *err) {
    cpu_prog *pg = p;
    const rapl *r = &pg->be->rapl;
    ws_node *n = NULL;
    int rc = ws_take(pg, &n, err);
    if (rc) return rc;
    double e0[RAPL_MAX_ZONES], e1[RAPL_MAX_ZONES];
    /* Alone = nothing in flight when this one started, and nothing started
     * or still running when it ended: then, and only then, the counter's
     * delta is this image's (plus whatever else ran on the package). */
    uint64_t before = atomic_fetch_add(&pg->be->runs, ((uint64_t)1 << 32) + 1);
    int have_energy = r->n > 0 && rapl_read_uj(r, e0) >= 0;
    double t0 = now_ns();
    if (pg->be->fp32) {
        rc = sb_graph_run_f32(pg->g, n->ws, input, n->logits_f32, err);
        if (rc == SB_OK)
            quantise_logits(&pg->g->tensors[pg->g->output], n->logits_f32, logits,
                            sb_tensor_elems(&pg->g->tensors[pg->g->output]));
    } else {
        rc = sb_graph_run_int8(pg->g, n->ws, input, logits, err);
    }
    double t1 = now_ns();
    have_energy = have_energy && rapl_read_uj(r, e1) >= 0;
    uint64_t after = atomic_fetch_sub(&pg->be->runs, 1);
    int alone = (before & 0xffffffffu) == 0 && (after & 0xffffffffu) == 1 && (after >> 32) == (before >> 32) + 1;
    ws_give(pg, n);
    if (rc) return rc;
    if (metrics) {
        sb_metrics_add(metrics, SB_M_LATENCY_NS, "ns", t1 - t0, SB_PROV_MEASURED,
                       "CLOCK_MONOTONIC around one inference on this host");
        if (have_energy && alone)
            sb_metrics_add(metrics, SB_M_ENERGY_PJ, "pJ", rapl_delta_uj(r, e0, e1) * 1e6, SB_PROV_MEASURED, r->note);
        else
            sb_metrics_add(metrics, SB_M_ENERGY_PJ, "pJ", 0.0, SB_PROV_UNAVAILABLE,
                           !r->n ? r->note
                           : have_energy ? "other images ran on this backend at the same time: the RAPL package counter "
                                           "cannot tell them apart (run with workers = 1 to measure energy per image)"
                                         : "RAPL counter read failed during the run");
    }
    return SB_OK;
}

static int64_t tensor_bytes(const sb_graph *g, int32_t t) {
    return t >= 0 && g->tensors[t].data ? (int64_t)g->tensors[t].nbytes : 0;
}

static char *cpu_report(void *p) {
    static const char *types[] = {"", "conv2d", "dwconv2d", "fc", "add", "mul", "gavgpool", "maxpool", "lut"};
    cpu_prog *pg = p;
    const sb_graph *g = pg->g;
    static const char *isas[] = {"portable C", "AVX2", "AVX-512 VNNI"};
    cJSON *root = cJSON_CreateObject(), *layers = cJSON_CreateArray();
    int64_t macs = 0, params = 0, wbytes = 0;
    for (int32_t i = 0; i < g->n_ops; i++) {
        const sb_op *op = &g->ops[i];
        int64_t m = sb_op_macs(g, op), par = 0, wb = 0;
        if (op->type <= SB_OP_FC) {
            par = sb_tensor_elems(&g->tensors[op->inputs[1]]) +
                  (op->n_inputs > 2 && op->inputs[2] >= 0 ? sb_tensor_elems(&g->tensors[op->inputs[2]]) : 0);
            wb = tensor_bytes(g, op->inputs[1]) + (op->n_inputs > 2 ? tensor_bytes(g, op->inputs[2]) : 0);
        } else if (op->type == SB_OP_LUT) {
            wb = 256;
        }
        cJSON *l = cJSON_CreateObject();
        cJSON_AddNumberToObject(l, "index", i);
        cJSON_AddStringToObject(l, "name", op->name ? op->name : "");
        cJSON_AddStringToObject(l, "type", types[op->type]);
        cJSON_AddNumberToObject(l, "macs", (double)m);
        cJSON_AddNumberToObject(l, "params", (double)par);
        cJSON_AddNumberToObject(l, "weight_bytes", (double)wb);
        cJSON_AddItemToArray(layers, l);
        macs += m;
        params += par;
        wbytes += wb;
    }
    cJSON_AddStringToObject(root, "backend", "cpu");
    cJSON_AddStringToObject(root, "precision", pg->be->fp32 ? "fp32" : "int8");
    if (pg->be->fp32)
        cJSON_AddStringToObject(root, "fp32_weights", sb_graph_f32_dequantised(g)
                                ? "int8 weights dequantised with channel_scales (no weights_f32 in the file)"
                                : "weights_f32/bias_f32 from the file");
    cJSON_AddStringToObject(root, "isa", isas[sb_kernels_isa()]);
    cJSON_AddNumberToObject(root, "threads_per_image", pg->be->threads_per_image);
    cJSON_AddStringToObject(root, "energy", pg->be->rapl.note);
    cJSON_AddNumberToObject(root, "macs", (double)macs);
    cJSON_AddNumberToObject(root, "params", (double)params);
    cJSON_AddNumberToObject(root, "weight_bytes", (double)wbytes);
    cJSON_AddItemToObject(root, "layers", layers);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

static const sb_backend_plugin cpu_plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "cpu", "1.0.0",
                          "the host CPU running the INT8 (or fp32) graph natively; measured latency, RAPL energy",
                          cpu_options),
    cpu_open, cpu_close, cpu_prepare, cpu_release, cpu_run, cpu_report};

SB_EXPORT const sb_plugin_header *sb_plugin_entry = &cpu_plugin.hdr;
