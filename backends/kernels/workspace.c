/*
 * workspace.c - prepacked weights (shared, read-only) and per-thread
 * workspaces (activation buffers + scratch), and the graph runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

/* Helper threads of one workspace (threads_per_image > 1): they sleep on
 * `go`, take tasks of the posted job from an atomic counter, and the last
 * one to finish signals `done`. The mutex hand-off orders their writes
 * before the caller reads the op's output. */
struct sb_pool {
    int n;                    /* helper threads (the caller is one more) */
    pthread_t *th;
    void **scratch;           /* one private scratch each */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen;             /* bumped per job */
    int busy, stop;
    sb_task_fn fn;
    void *ctx;
    int32_t n_tasks;
    atomic_int next;
};

typedef struct helper_arg {
    sb_pool *pool;
    int index;
} helper_arg;

static void run_tasks(sb_pool *p, void *scratch) {
    for (;;) {
        int32_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t, scratch);
    }
}

static void *helper_main(void *arg) {
    helper_arg *h = arg;
    sb_pool *p = h->pool;
    void *scratch = p->scratch[h->index];
    unsigned seen = 0;
    free(h);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, scratch);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void sb_exec_for(const sb_exec *ex, int32_t n, sb_task_fn fn, void *ctx) {
    sb_pool *p = ex->pool;
    if (!p || n <= 1) {
        for (int32_t t = 0; t < n; t++) fn(ctx, t, ex->scratch);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n;
    atomic_store(&p->next, 0);
    p->busy = p->n;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, ex->scratch);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void pool_free(sb_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++) pthread_join(p->th[i], NULL);
    for (int i = 0; i < p->n; i++) free(p->scratch[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p->scratch);
    free(p);
}

static int pool_new(int helpers, size_t scratch_bytes, sb_pool **out) {
    sb_pool *p = calloc(1, sizeof *p);
    if (!p) return SB_ENOMEM;
    p->th = calloc((size_t)helpers, sizeof *p->th);
    p->scratch = calloc((size_t)helpers, sizeof *p->scratch);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (!p->th || !p->scratch) {
        pool_free(p);
        return SB_ENOMEM;
    }
    for (int i = 0; i < helpers; i++) {
        helper_arg *h = malloc(sizeof *h);
        p->scratch[i] = sb_aligned_alloc(scratch_bytes);
        if (!h || !p->scratch[i]) {
            free(h);
            pool_free(p);
            return SB_ENOMEM;
        }
        h->pool = p;
        h->index = i;
        if (pthread_create(&p->th[i], NULL, helper_main, h) != 0) {
            free(h);
            pool_free(p);
            return SB_ENOMEM;
        }
        p->n++;
    }
    *out = p;
    return SB_OK;
}

struct sb_workspace {
    const sb_graph *g;
    const sb_pack *pk;
    sb_pack *own_pk;          /* when the workspace packed for itself */
    int8_t **act;             /* per tensor, NULL for constants */
    int8_t *arena;
    void *scratch;            /* this thread's private scratch */
    void *shared;             /* shared by the threads of one op */
    sb_pool *pool;            /* helper threads, NULL when one thread */
    float **actf;             /* fp32 path, allocated on first use */
    float *arenaf;
    void *fscratch;
};

static void op_pack_free(sb_op_pack *p) {
    free(p->pw.w16);
    free(p->pw.bias);
    free(p->dw.w16);
    free(p->dw.wpair);
    free(p->dw.bias);
    free(p->f32.w);
    free(p->f32.b);
}

void sb_pack_free(sb_pack *pk) {
    if (!pk) return;
    for (int32_t i = 0; i < pk->n_ops; i++) op_pack_free(&pk->ops[i]);
    free(pk->ops);
    free(pk);
}

static int pack_int8_op(const sb_graph *g, int32_t i, sb_op_pack *p, sb_pack *pk) {
    const sb_op *op = &g->ops[i];
    size_t need = 0, need_shared = 0;
    int rc = SB_OK;
    switch (op->type) {
    case SB_OP_CONV2D:
        rc = sb_pack_conv(g, op, &p->pw);
        need = sb_conv2d_scratch_bytes(g, op);
        break;
    case SB_OP_FC:
        rc = sb_pack_conv(g, op, &p->pw);
        need = (size_t)p->pw.K2 * sizeof(int16_t);
        break;
    case SB_OP_DWCONV2D:
        rc = sb_pack_dw(g, op, &p->dw);
        need = sb_dwconv2d_scratch_bytes(g, op);
        need_shared = sb_dwconv2d_shared_bytes(g, op);
        break;
    case SB_OP_MUL: need = sb_mul_scratch_bytes(g, op); break;
    case SB_OP_GAVGPOOL: need = sb_gavgpool_scratch_bytes(g, op); break;
    default: break;
    }
    if (need > pk->scratch_bytes) pk->scratch_bytes = need, pk->scratch_op = i;
    if (need_shared > pk->shared_bytes) pk->shared_bytes = need_shared, pk->shared_op = i;
    return rc;
}

int sb_pack_new(const sb_graph *g, unsigned what, sb_pack **out, sb_error *err) {
    int rc = sb_graph_validate(g, err);
    if (rc) return rc;
    sb_pack *pk = calloc(1, sizeof *pk);
    if (!pk || !(pk->ops = calloc((size_t)g->n_ops + 1, sizeof *pk->ops))) {
        free(pk);
        return sb_error_set(err, SB_ENOMEM, "graph '%s': out of memory packing weights", g->name ? g->name : "?");
    }
    pk->n_ops = g->n_ops;
    pk->what = what;
    pk->scratch_op = pk->shared_op = -1;
    for (int32_t i = 0; i < g->n_ops && rc == SB_OK; i++) {
        const sb_op *op = &g->ops[i];
        if (what & SB_PACK_INT8) {
            rc = pack_int8_op(g, i, &pk->ops[i], pk);
            if (rc) sb_error_set(err, rc, "graph '%s': op %d '%s': out of memory packing weights",
                                 g->name ? g->name : "?", (int)i, op->name ? op->name : "");
        }
        if (rc == SB_OK && (what & SB_PACK_F32)) rc = sb_pack_f32(g, op, &pk->ops[i].f32, err);
    }
    if (rc) {
        sb_pack_free(pk);
        return rc;
    }
    *out = pk;
    return SB_OK;
}

/* A byte count for a message: SIZE_MAX is a saturated one. */
static const char *bytes_str(size_t n, char buf[32]) {
    if (n == SIZE_MAX) return "over 2^64";
    snprintf(buf, 32, "%zu", n);
    return buf;
}

/* Refused before allocating: says what the request was and which op makes
 * it that big (a padding of 20000 asks for a 100 GB depthwise plane). */
static int ws_too_large(const sb_graph *g, const sb_pack *pk, size_t act, size_t all, sb_error *err) {
    char a[32], sc[32], sh[32];
    int32_t i = pk->shared_bytes > pk->scratch_bytes ? pk->shared_op : pk->scratch_op;
    const char *op = i >= 0 && g->ops[i].name ? g->ops[i].name : "";
    return sb_error_set(err, SB_EUNSUPPORTED, "graph '%s': a workspace of %s bytes (activations %zu, scratch %s, "
                        "shared %s; most for op %d '%s'): too large, expected at most %zu bytes",
                        g->name ? g->name : "?", bytes_str(all, a), act, bytes_str(pk->scratch_bytes, sc),
                        bytes_str(pk->shared_bytes, sh), (int)i, op, (size_t)SB_WORKSPACE_MAX_BYTES);
}

static int ws_alloc(sb_workspace *ws, sb_error *err) {
    const sb_graph *g = ws->g;
    const sb_pack *pk = ws->pk;
    size_t total = 0, all;
    for (int32_t t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].data) total += ((size_t)sb_tensor_elems(&g->tensors[t]) + 63) & ~(size_t)63;
    all = sb_size_add(sb_size_add(total, pk->scratch_bytes), pk->shared_bytes);
    if (all > SB_WORKSPACE_MAX_BYTES) return ws_too_large(g, pk, total, all, err);
    ws->act = calloc((size_t)g->n_tensors, sizeof *ws->act);
    ws->arena = sb_aligned_alloc(total);
    ws->scratch = sb_aligned_alloc(pk->scratch_bytes);
    ws->shared = sb_aligned_alloc(pk->shared_bytes);
    if (!ws->act || !ws->arena || !ws->scratch || !ws->shared)
        return sb_error_set(err, SB_ENOMEM, "graph '%s': out of memory for a workspace of %zu bytes (activations "
                            "%zu, scratch %zu, shared %zu)", g->name ? g->name : "?", all, total,
                            pk->scratch_bytes, pk->shared_bytes);
    int8_t *p = ws->arena;
    for (int32_t t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].data) {
            ws->act[t] = p;
            p += ((size_t)sb_tensor_elems(&g->tensors[t]) + 63) & ~(size_t)63;
        }
    return SB_OK;
}

int sb_workspace_new_shared(const sb_graph *g, const sb_pack *pk, sb_workspace **out, sb_error *err) {
    sb_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) return sb_error_set(err, SB_ENOMEM, "out of memory for a workspace (%zu bytes)", sizeof *ws);
    ws->g = g;
    ws->pk = pk;
    int rc = ws_alloc(ws, err);
    if (rc) {
        sb_workspace_free(ws);
        return rc;
    }
    *out = ws;
    return SB_OK;
}

int sb_workspace_new(const sb_graph *g, sb_workspace **out, sb_error *err) {
    sb_pack *pk = NULL;
    int rc = sb_pack_new(g, SB_PACK_INT8, &pk, err); /* fp32 weights on first run_f32 */
    if (rc) return rc;
    rc = sb_workspace_new_shared(g, pk, out, err);
    if (rc) {
        sb_pack_free(pk);
        return rc;
    }
    (*out)->own_pk = pk;
    return SB_OK;
}

int sb_workspace_set_threads(sb_workspace *ws, int n_threads, sb_error *err) {
    if (n_threads < 1 || n_threads > 256)
        return sb_error_set(err, SB_EINVAL, "threads per image %d: expected 1..256", n_threads);
    pool_free(ws->pool);
    ws->pool = NULL;
    if (n_threads == 1) return SB_OK;
    if (pool_new(n_threads - 1, ws->pk->scratch_bytes, &ws->pool))
        return sb_error_set(err, SB_ENOMEM, "graph '%s': cannot start %d helper threads (scratch %zu bytes each)",
                            ws->g->name ? ws->g->name : "?", n_threads - 1, ws->pk->scratch_bytes);
    return SB_OK;
}

void sb_workspace_free(sb_workspace *ws) {
    if (!ws) return;
    pool_free(ws->pool);
    free(ws->shared);
    free(ws->act);
    free(ws->arena);
    free(ws->scratch);
    free(ws->actf);
    free(ws->arenaf);
    free(ws->fscratch);
    sb_pack_free(ws->own_pk);
    free(ws);
}

const int8_t *sb_workspace_act(const sb_workspace *ws, int32_t t) {
    return t >= 0 && t < ws->g->n_tensors ? ws->act[t] : NULL;
}

const float *sb_workspace_act_f32(const sb_workspace *ws, int32_t t) {
    return ws->actf && t >= 0 && t < ws->g->n_tensors ? ws->actf[t] : NULL;
}

static int check_ws(const sb_graph *g, const sb_workspace *ws, sb_error *err) {
    if (!ws || ws->g != g)
        return sb_error_set(err, SB_EINVAL, "graph '%s': the workspace was made for another graph",
                            g->name ? g->name : "?");
    return SB_OK;
}

static void run_op_fast(const sb_graph *g, const sb_workspace *ws, int32_t i) {
    const sb_op *op = &g->ops[i];
    const sb_op_pack *p = &ws->pk->ops[i];
    const int8_t *x = ws->act[op->inputs[0]];
    int8_t *y = ws->act[op->output];
    sb_exec ex = {ws->shared, ws->scratch, ws->pool};
    switch (op->type) {
    case SB_OP_CONV2D: sb_conv2d_fast(g, op, &p->pw, x, y, &ex); break;
    case SB_OP_FC: sb_fc_fast(g, op, &p->pw, x, y, ws->scratch); break;
    case SB_OP_DWCONV2D: sb_dwconv2d_fast(g, op, &p->dw, x, y, &ex); break;
    case SB_OP_ADD: sb_add_fast(g, op, x, ws->act[op->inputs[1]], y); break;
    case SB_OP_MUL: sb_mul_fast(g, op, x, ws->act[op->inputs[1]], y, ws->scratch); break;
    case SB_OP_GAVGPOOL: sb_gavgpool_fast(g, op, x, y, ws->scratch); break;
    case SB_OP_LUT: sb_lut_fast(g, op, x, y); break;
    default: sb_op_run_int8(g, i, ws->act, NULL); break; /* cheap ops: the reference is the kernel */
    }
}

static int run_int8(const sb_graph *g, sb_workspace *ws, const int8_t *input, int8_t *logits,
                    int fast, sb_error *err) {
    int rc = check_ws(g, ws, err);
    if (rc) return rc;
    if (fast && !(ws->pk->what & SB_PACK_INT8))
        return sb_error_set(err, SB_EINVAL, "graph '%s': the workspace's weights were not packed for int8",
                            g->name ? g->name : "?");
    memcpy(ws->act[g->input], input, (size_t)sb_tensor_elems(&g->tensors[g->input]));
    for (int32_t i = 0; i < g->n_ops; i++) {
        if (fast) run_op_fast(g, ws, i);
        else if ((rc = sb_op_run_int8(g, i, ws->act, err))) return rc;
    }
    memcpy(logits, ws->act[g->output], (size_t)sb_tensor_elems(&g->tensors[g->output]));
    return SB_OK;
}

int sb_graph_run_int8(const sb_graph *g, sb_workspace *ws, const int8_t *input, int8_t *logits, sb_error *err) {
    return run_int8(g, ws, input, logits, 1, err);
}

int sb_graph_run_int8_ref(const sb_graph *g, sb_workspace *ws, const int8_t *input, int8_t *logits,
                          sb_error *err) {
    return run_int8(g, ws, input, logits, 0, err);
}

static int ws_alloc_f32(sb_workspace *ws, sb_error *err) {
    const sb_graph *g = ws->g;
    size_t total = 0, scratch = 0;
    for (int32_t t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].data) total += ((size_t)sb_tensor_elems(&g->tensors[t]) + 15) & ~(size_t)15;
    for (int32_t i = 0; i < g->n_ops; i++) {
        size_t s = sb_f32_scratch_bytes(g, &g->ops[i]);
        if (s > scratch) scratch = s;
    }
    size_t act_bytes = total * sizeof(float), all = sb_size_add(act_bytes, scratch);
    char a[32], sc[32];
    if (all > SB_WORKSPACE_MAX_BYTES)
        return sb_error_set(err, SB_EUNSUPPORTED, "graph '%s': fp32 buffers of %s bytes (activations %zu, scratch "
                            "%s): too large, expected at most %zu bytes", g->name ? g->name : "?",
                            bytes_str(all, a), act_bytes, bytes_str(scratch, sc), (size_t)SB_WORKSPACE_MAX_BYTES);
    ws->actf = calloc((size_t)g->n_tensors, sizeof *ws->actf);
    ws->arenaf = sb_aligned_alloc(act_bytes);
    ws->fscratch = sb_aligned_alloc(scratch);
    if (!ws->actf || !ws->arenaf || !ws->fscratch)
        return sb_error_set(err, SB_ENOMEM, "graph '%s': out of memory for fp32 buffers of %zu bytes",
                            g->name ? g->name : "?", all);
    float *p = ws->arenaf;
    for (int32_t t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].data) {
            ws->actf[t] = p;
            p += ((size_t)sb_tensor_elems(&g->tensors[t]) + 15) & ~(size_t)15;
        }
    return SB_OK;
}

int sb_graph_run_f32(const sb_graph *g, sb_workspace *ws, const int8_t *input, float *logits, sb_error *err) {
    int rc = check_ws(g, ws, err);
    if (rc) return rc;
    if (!(ws->pk->what & SB_PACK_F32) && ws->own_pk) {
        for (int32_t i = 0; i < g->n_ops; i++)
            if ((rc = sb_pack_f32(g, &g->ops[i], &ws->own_pk->ops[i].f32, err))) return rc;
        ws->own_pk->what |= SB_PACK_F32;
    }
    if (!(ws->pk->what & SB_PACK_F32))
        return sb_error_set(err, SB_EINVAL, "graph '%s': the workspace's weights were not packed for fp32",
                            g->name ? g->name : "?");
    if (!ws->actf && (rc = ws_alloc_f32(ws, err))) return rc;
    int64_t n_in = sb_tensor_elems(&g->tensors[g->input]);
    float *x = ws->actf[g->input];
    for (int64_t i = 0; i < n_in; i++) x[i] = (float)((int32_t)input[i] + 128) / 255.0f; /* pixel / 255 */
    for (int32_t i = 0; i < g->n_ops; i++)
        if ((rc = sb_op_run_f32(g, i, &ws->pk->ops[i].f32, ws->actf, ws->fscratch, err))) return rc;
    memcpy(logits, ws->actf[g->output], (size_t)sb_tensor_elems(&g->tensors[g->output]) * sizeof(float));
    return SB_OK;
}
