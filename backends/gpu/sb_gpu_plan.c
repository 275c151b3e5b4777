/*
 * sb_gpu_plan.c - from an sb_graph to kernel launches (see sb_gpu_plan.h).
 *
 * Every per-op parameter the kernels read (weights, bias, multipliers,
 * shifts, scales, LUT) is uploaded once here, so a run only copies the input
 * in and the logits out.
 */
#include "sb_gpu_plan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int64_t sb_gpu_elems(const sb_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

/* H, W, C of an activation: NHWC [1,H,W,C], or [1,N] as 1 x 1 x N. */
static void sb_gpu_hwc(const sb_tensor *t, int32_t *h, int32_t *w, int32_t *c) {
    if (t->rank == 4) {
        *h = t->shape[1]; *w = t->shape[2]; *c = t->shape[3];
    } else {
        *h = 1; *w = 1; *c = (int32_t)sb_gpu_elems(t);
    }
}

static const int8_t *sb_gpu_p8(uint64_t a) { return (const int8_t *)(uintptr_t)a; }
static const int32_t *sb_gpu_p32(uint64_t a) { return (const int32_t *)(uintptr_t)a; }

/* Constant tensor idx (weights, bias): uploaded on first use. */
static int sb_gpu_const(const sb_graph *g, const sb_op *op, int idx, const sb_gpu_mem *mem,
                        uint64_t *tensor_addr, sb_error *err) {
    if (idx < 0 || idx >= g->n_tensors || !g->tensors[idx].data)
        return sb_error_set(err, SB_EFORMAT, "op '%s': input tensor %d: expected constant data", op->name, idx);
    if (!tensor_addr[idx])
        return mem->upload(mem->ctx, g->tensors[idx].data, g->tensors[idx].nbytes, &tensor_addr[idx], err);
    return 0;
}

/* The op's requantisation: n entries (per channel, or 1), uploaded. */
static int sb_gpu_plan_out(const sb_graph *g, const sb_op *op, int32_t n, const sb_gpu_mem *mem,
                           sb_gpu_out *o, sb_error *err) {
    uint64_t m = 0, s = 0, f = 0;
    int rc = 0;
    memset(o, 0, sizeof *o);
    o->fixed = sb_fixed_kind(g, op);
    o->zo = g->tensors[op->output].zero_point;
    o->act_min = op->act_min;
    o->act_max = op->act_max;
    if (op->type == SB_OP_MAXPOOL || op->type == SB_OP_LUT) return 0;
    if (op->n_requant < n)
        return sb_error_set(err, SB_EFORMAT, "op '%s': n_requant %d: expected at least %d entries",
                            op->name, op->n_requant, n);
    if (o->fixed) {
        if (!op->multiplier || !op->shift)
            return sb_error_set(err, SB_EFORMAT, "op '%s': multiplier/shift: expected arrays (fixed mode)", op->name);
        rc = mem->upload(mem->ctx, op->multiplier, (size_t)n * sizeof(int32_t), &m, err);
        if (!rc) rc = mem->upload(mem->ctx, op->shift, (size_t)n * sizeof(int32_t), &s, err);
    } else {
        if (!op->scale_f32)
            return sb_error_set(err, SB_EFORMAT, "op '%s': scale_f32: expected an array (float mode)", op->name);
        rc = mem->upload(mem->ctx, op->scale_f32, (size_t)n * sizeof(float), &f, err);
    }
    o->mult = sb_gpu_p32(m);
    o->shift = sb_gpu_p32(s);
    o->scale_f32 = (const float *)(uintptr_t)f;
    return rc;
}

static int sb_gpu_plan_conv(const sb_graph *g, const sb_op *op, int batch, const sb_gpu_mem *mem,
                            uint64_t *ta, sb_gpu_launch *l, sb_error *err) {
    const sb_tensor *x = &g->tensors[op->inputs[0]], *w = &g->tensors[op->inputs[1]];
    const sb_tensor *y = &g->tensors[op->output];
    sb_gpu_conv_args *a = &l->a.conv;
    int rc = sb_gpu_const(g, op, op->inputs[1], mem, ta, err);
    if (!rc && op->n_inputs > 2 && op->inputs[2] >= 0) rc = sb_gpu_const(g, op, op->inputs[2], mem, ta, err);
    if (rc) return rc;
    a->x = sb_gpu_p8(ta[op->inputs[0]]);
    a->wt = sb_gpu_p8(ta[op->inputs[1]]);
    a->bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? sb_gpu_p32(ta[op->inputs[2]]) : NULL;
    a->y = (int8_t *)(uintptr_t)ta[op->output];
    a->n = batch;
    a->zi = x->zero_point;
    sb_gpu_hwc(y, &a->oh, &a->ow, &a->oc);
    if (op->type == SB_OP_FC) {        /* 1x1 over the flattened input */
        a->h = a->w = 1;
        a->c = (int32_t)sb_gpu_elems(x);
        a->kh = a->kw = a->sh = a->sw = a->dh = a->dw = 1;
        if (w->rank != 2 || w->shape[1] != a->c || w->shape[0] != a->oc)
            return sb_error_set(err, SB_EFORMAT, "op '%s': fc weights: expected [%d, %d]", op->name, a->oc, a->c);
    } else {
        sb_gpu_hwc(x, &a->h, &a->w, &a->c);
        if (w->rank != 4)
            return sb_error_set(err, SB_EFORMAT, "op '%s': weights '%s': expected rank 4", op->name, w->name);
        a->kh = w->shape[1]; a->kw = w->shape[2];   /* as the CPU kernels: from the weights */
        a->sh = op->stride_h; a->sw = op->stride_w;
        a->dh = op->dilation_h > 0 ? op->dilation_h : 1;
        a->dw = op->dilation_w > 0 ? op->dilation_w : 1;
        a->pt = op->pad_top; a->pl = op->pad_left;
    }
    l->kernel = op->type == SB_OP_DWCONV2D ? SB_GPU_K_DWCONV : SB_GPU_K_CONV;
    l->n_threads = (int64_t)batch * sb_gpu_elems(y);
    return sb_gpu_plan_out(g, op, a->oc, mem, &a->out, err);
}

static int sb_gpu_plan_eltwise(const sb_graph *g, const sb_op *op, int batch, const sb_gpu_mem *mem,
                               uint64_t *ta, sb_gpu_launch *l, sb_error *err) {
    const sb_tensor *x = &g->tensors[op->inputs[0]], *y = &g->tensors[op->output];
    sb_gpu_eltwise_args *a = &l->a.elt;
    a->a = sb_gpu_p8(ta[op->inputs[0]]);
    a->y = (int8_t *)(uintptr_t)ta[op->output];
    a->n_elems = (int64_t)batch * sb_gpu_elems(y);
    a->per_image = (int32_t)sb_gpu_elems(x);
    a->za = x->zero_point;
    l->n_threads = a->n_elems;
    if (op->type == SB_OP_LUT) {
        if (!op->lut) return sb_error_set(err, SB_EFORMAT, "op '%s': lut: expected a 256-entry table", op->name);
        uint64_t t = 0;
        int rc = mem->upload(mem->ctx, op->lut, 256, &t, err);
        a->lut = sb_gpu_p8(t);
        l->kernel = SB_GPU_K_LUT;
        if (!rc) rc = sb_gpu_plan_out(g, op, 1, mem, &a->out, err);
        return rc;
    }
    const sb_tensor *b = &g->tensors[op->inputs[1]];
    a->b = sb_gpu_p8(ta[op->inputs[1]]);
    a->zb = b->zero_point;
    if (op->type == SB_OP_ADD) {
        l->kernel = SB_GPU_K_ADD;
        a->left_shift = op->left_shift;
        a->mult_b = op->multiplier_b; a->shift_b = op->shift_b;
        a->mult_out = op->multiplier_out; a->shift_out = op->shift_out;
        a->scale_b_f32 = op->scale_b_f32;
    } else {
        l->kernel = SB_GPU_K_MUL;
        int32_t bh, bw, bc;
        sb_gpu_hwc(b, &bh, &bw, &bc);
        a->b_channels = sb_gpu_elems(b) == sb_gpu_elems(x) ? 0 : bc;
    }
    return sb_gpu_plan_out(g, op, 1, mem, &a->out, err);
}

static int sb_gpu_plan_pool(const sb_graph *g, const sb_op *op, int batch, const sb_gpu_mem *mem,
                            uint64_t *ta, sb_gpu_launch *l, sb_error *err) {
    const sb_tensor *x = &g->tensors[op->inputs[0]], *y = &g->tensors[op->output];
    sb_gpu_pool_args *a = &l->a.pool;
    int32_t oc;
    a->x = sb_gpu_p8(ta[op->inputs[0]]);
    a->y = (int8_t *)(uintptr_t)ta[op->output];
    a->n = batch;
    a->zi = x->zero_point;
    a->avg_count = op->type == SB_OP_GAVGPOOL ? op->avg_count : 0;
    sb_gpu_hwc(x, &a->h, &a->w, &a->c);
    sb_gpu_hwc(y, &a->oh, &a->ow, &oc);
    a->kh = op->kernel_h; a->kw = op->kernel_w;
    a->sh = op->stride_h; a->sw = op->stride_w;
    a->dh = op->dilation_h > 0 ? op->dilation_h : 1;
    a->dw = op->dilation_w > 0 ? op->dilation_w : 1;
    a->pt = op->pad_top; a->pl = op->pad_left;
    l->kernel = op->type == SB_OP_GAVGPOOL ? SB_GPU_K_GAVGPOOL : SB_GPU_K_MAXPOOL;
    l->n_threads = (int64_t)batch * sb_gpu_elems(y);
    return sb_gpu_plan_out(g, op, 1, mem, &a->out, err);
}

/* ------------------------------------------------------------ fp32 path */

static int sb_gpu_act_id(const char *s) {
    static const struct { const char *name; int id; } tab[] = {
        {"none", SB_GPU_ACT_NONE}, {"identity", SB_GPU_ACT_NONE}, {"relu", SB_GPU_ACT_RELU},
        {"relu6", SB_GPU_ACT_RELU6}, {"sigmoid", SB_GPU_ACT_SIGMOID}, {"silu", SB_GPU_ACT_SILU},
        {"swish", SB_GPU_ACT_SILU}, {"hardswish", SB_GPU_ACT_HARDSWISH}, {"hard_swish", SB_GPU_ACT_HARDSWISH},
        {"hardsigmoid", SB_GPU_ACT_HARDSIGMOID}, {"hard_sigmoid", SB_GPU_ACT_HARDSIGMOID},
        {"tanh", SB_GPU_ACT_TANH}};
    if (!s) return SB_GPU_ACT_NONE;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].name) == 0) return tab[i].id;
    return -1;
}

/* Float weights in the file's layout and float bias, as fp32.c packs them:
 * weights_f32 / bias_f32, else int8 x channel scale, bias x s_in x scale. */
static int sb_gpu_fweights(const sb_graph *g, const sb_op *op, int32_t O, const sb_gpu_mem *mem,
                           uint64_t *w_addr, uint64_t *b_addr, sb_error *err) {
    const sb_tensor *tw = &g->tensors[op->inputs[1]], *ti = &g->tensors[op->inputs[0]];
    const int32_t *bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? g->tensors[op->inputs[2]].data : NULL;
    int64_t n = sb_gpu_elems(tw);
    int dw = op->type == SB_OP_DWCONV2D;
    if (!op->weights_f32 && (!tw->channel_scales || tw->n_channel_scales != O))
        return sb_error_set(err, SB_EFORMAT, "op '%s': fp32 path: no weights_f32 and no channel_scales "
                            "(one per output channel) to dequantise the weights", op->name);
    float *w = malloc((size_t)n * sizeof *w), *b = malloc((size_t)O * sizeof *b);
    int rc = w && b ? 0 : sb_error_set(err, SB_ENOMEM, "op '%s': out of memory for fp32 weights", op->name);
    for (int64_t i = 0; !rc && i < n; i++) {
        int32_t o = (int32_t)(dw ? i % O : i / (n / O));
        w[i] = op->weights_f32 ? op->weights_f32[i] : (float)((const int8_t *)tw->data)[i] * tw->channel_scales[o];
    }
    for (int32_t o = 0; !rc && o < O; o++)
        b[o] = op->bias_f32 ? op->bias_f32[o]
               : bias ? (float)((double)bias[o] * ti->scale * tw->channel_scales[o]) : 0.0f;
    if (!rc) rc = mem->upload(mem->ctx, w, (size_t)n * sizeof *w, w_addr, err);
    if (!rc) rc = mem->upload(mem->ctx, b, (size_t)O * sizeof *b, b_addr, err);
    free(w);
    free(b);
    return rc;
}

static int sb_gpu_fplan_conv(const sb_graph *g, const sb_op *op, int batch, const sb_gpu_mem *mem,
                             uint64_t *ta, sb_gpu_launch *l, sb_error *err) {
    const sb_tensor *x = &g->tensors[op->inputs[0]], *w = &g->tensors[op->inputs[1]];
    sb_gpu_fconv_args *a = &l->a.fconv;
    uint64_t wa = 0, ba = 0;
    a->act = sb_gpu_act_id(op->act);
    if (a->act != SB_GPU_ACT_NONE && a->act != SB_GPU_ACT_RELU && a->act != SB_GPU_ACT_RELU6)
        return sb_error_set(err, SB_EUNSUPPORTED, "op '%s': act \"%s\": expected none, relu or relu6",
                            op->name, op->act);
    a->x = (const float *)(uintptr_t)ta[op->inputs[0]];
    a->y = (float *)(uintptr_t)ta[op->output];
    a->n = batch;
    sb_gpu_hwc(&g->tensors[op->output], &a->oh, &a->ow, &a->oc);
    if (op->type == SB_OP_FC) {
        a->h = a->w = 1;
        a->c = (int32_t)sb_gpu_elems(x);
        a->kh = a->kw = a->sh = a->sw = a->dh = a->dw = 1;
    } else {
        if (w->rank != 4)
            return sb_error_set(err, SB_EFORMAT, "op '%s': weights '%s': expected rank 4", op->name, w->name);
        sb_gpu_hwc(x, &a->h, &a->w, &a->c);
        a->kh = w->shape[1]; a->kw = w->shape[2];
        a->sh = op->stride_h; a->sw = op->stride_w;
        a->dh = op->dilation_h > 0 ? op->dilation_h : 1;
        a->dw = op->dilation_w > 0 ? op->dilation_w : 1;
        a->pt = op->pad_top; a->pl = op->pad_left;
    }
    int rc = sb_gpu_fweights(g, op, a->oc, mem, &wa, &ba, err);
    a->wt = (const float *)(uintptr_t)wa;
    a->bias = (const float *)(uintptr_t)ba;
    l->kernel = op->type == SB_OP_DWCONV2D ? SB_GPU_K_FDWCONV : SB_GPU_K_FCONV;
    l->n_threads = (int64_t)batch * sb_gpu_elems(&g->tensors[op->output]);
    return rc;
}

static int sb_gpu_fplan_other(const sb_graph *g, const sb_op *op, int batch, uint64_t *ta, sb_gpu_launch *l,
                              sb_error *err) {
    const sb_tensor *x = &g->tensors[op->inputs[0]], *y = &g->tensors[op->output];
    l->n_threads = (int64_t)batch * sb_gpu_elems(y);
    if (op->type == SB_OP_GAVGPOOL || op->type == SB_OP_MAXPOOL) {
        sb_gpu_fpool_args *a = &l->a.fpool;
        int32_t oc;
        a->x = (const float *)(uintptr_t)ta[op->inputs[0]];
        a->y = (float *)(uintptr_t)ta[op->output];
        a->n = batch;
        sb_gpu_hwc(x, &a->h, &a->w, &a->c);
        sb_gpu_hwc(y, &a->oh, &a->ow, &oc);
        a->kh = op->kernel_h; a->kw = op->kernel_w;
        a->sh = op->stride_h; a->sw = op->stride_w;
        a->dh = op->dilation_h > 0 ? op->dilation_h : 1;
        a->dw = op->dilation_w > 0 ? op->dilation_w : 1;
        a->pt = op->pad_top; a->pl = op->pad_left;
        l->kernel = op->type == SB_OP_GAVGPOOL ? SB_GPU_K_FGAVGPOOL : SB_GPU_K_FMAXPOOL;
        return 0;
    }
    sb_gpu_felt_args *a = &l->a.felt;
    a->a = (const float *)(uintptr_t)ta[op->inputs[0]];
    a->y = (float *)(uintptr_t)ta[op->output];
    a->n_elems = l->n_threads;
    a->per_image = (int32_t)sb_gpu_elems(x);
    if (op->type == SB_OP_LUT) {
        a->act = sb_gpu_act_id(op->act);
        if (a->act < 0)
            return sb_error_set(err, SB_EUNSUPPORTED, "op '%s': lut act \"%s\": expected sigmoid, silu, "
                                "hardswish, hardsigmoid, relu, relu6, tanh or none", op->name, op->act);
        l->kernel = SB_GPU_K_FACT;
        return 0;
    }
    const sb_tensor *b = &g->tensors[op->inputs[1]];
    int32_t bh, bw, bc;
    sb_gpu_hwc(b, &bh, &bw, &bc);
    a->b = (const float *)(uintptr_t)ta[op->inputs[1]];
    a->b_channels = op->type == SB_OP_MUL && sb_gpu_elems(b) != sb_gpu_elems(x) ? bc : 0;
    l->kernel = op->type == SB_OP_ADD ? SB_GPU_K_FADD : SB_GPU_K_FMUL;
    return 0;
}

/* Every activation: int8, batch images, allocated once. */
static int sb_gpu_plan_activations(const sb_graph *g, int batch, int fp32, const sb_gpu_mem *mem,
                                   uint64_t *ta, sb_error *err) {
    for (int32_t t = 0; t < g->n_tensors; t++) {
        const sb_tensor *x = &g->tensors[t];
        if (x->data) continue;
        if (x->dtype != SB_DT_INT8)
            return sb_error_set(err, SB_EUNSUPPORTED, "tensor %d '%s': dtype %d: expected an int8 activation",
                                t, x->name, (int)x->dtype);
        size_t bytes = (size_t)batch * (size_t)sb_gpu_elems(x) * (fp32 ? sizeof(float) : 1);
        int rc = mem->alloc(mem->ctx, bytes, &ta[t], err);
        if (rc) return rc;
    }
    return 0;
}

int sb_gpu_plan(const sb_graph *g, int batch, int fp32, const sb_gpu_mem *mem, uint64_t *tensor_addr,
                sb_gpu_launch *launches, sb_error *err) {
    memset(tensor_addr, 0, (size_t)g->n_tensors * sizeof *tensor_addr);
    memset(launches, 0, (size_t)g->n_ops * sizeof *launches);
    int rc = sb_gpu_plan_activations(g, batch, fp32, mem, tensor_addr, err);
    for (int32_t i = 0; !rc && i < g->n_ops; i++) {
        const sb_op *op = &g->ops[i];
        launches[i].op_index = i;
        if (fp32 && op->type >= SB_OP_CONV2D && op->type <= SB_OP_LUT) {
            rc = op->type <= SB_OP_FC ? sb_gpu_fplan_conv(g, op, batch, mem, tensor_addr, &launches[i], err)
                                      : sb_gpu_fplan_other(g, op, batch, tensor_addr, &launches[i], err);
            continue;
        }
        switch (op->type) {
        case SB_OP_CONV2D: case SB_OP_DWCONV2D: case SB_OP_FC:
            rc = sb_gpu_plan_conv(g, op, batch, mem, tensor_addr, &launches[i], err); break;
        case SB_OP_ADD: case SB_OP_MUL: case SB_OP_LUT:
            rc = sb_gpu_plan_eltwise(g, op, batch, mem, tensor_addr, &launches[i], err); break;
        case SB_OP_GAVGPOOL: case SB_OP_MAXPOOL:
            rc = sb_gpu_plan_pool(g, op, batch, mem, tensor_addr, &launches[i], err); break;
        default:
            rc = sb_error_set(err, SB_EUNSUPPORTED, "op %d '%s': type %d: not handled by the GPU backend",
                              i, op->name, (int)op->type);
        }
    }
    return rc;
}

void sb_gpu_emulate(const sb_gpu_launch *launches, int n) {
    for (int i = 0; i < n; i++) {
        const sb_gpu_launch *l = &launches[i];
        for (int64_t e = 0; e < l->n_threads; e++) {
            switch (l->kernel) {
            case SB_GPU_K_CONV: sb_gpu_conv_one(&l->a.conv, e); break;
            case SB_GPU_K_DWCONV: sb_gpu_dwconv_one(&l->a.conv, e); break;
            case SB_GPU_K_ADD: sb_gpu_add_one(&l->a.elt, e); break;
            case SB_GPU_K_MUL: sb_gpu_mul_one(&l->a.elt, e); break;
            case SB_GPU_K_LUT: sb_gpu_lut_one(&l->a.elt, e); break;
            case SB_GPU_K_GAVGPOOL: sb_gpu_gavgpool_one(&l->a.pool, e); break;
            case SB_GPU_K_MAXPOOL: sb_gpu_maxpool_one(&l->a.pool, e); break;
            case SB_GPU_K_FCONV: sb_gpu_fconv_one(&l->a.fconv, e, 0); break;
            case SB_GPU_K_FDWCONV: sb_gpu_fconv_one(&l->a.fconv, e, 1); break;
            case SB_GPU_K_FADD: sb_gpu_felt_one(&l->a.felt, e, 0); break;
            case SB_GPU_K_FMUL: sb_gpu_felt_one(&l->a.felt, e, 1); break;
            case SB_GPU_K_FACT: sb_gpu_felt_one(&l->a.felt, e, 2); break;
            case SB_GPU_K_FGAVGPOOL: sb_gpu_fgavgpool_one(&l->a.fpool, e); break;
            case SB_GPU_K_FMAXPOOL: sb_gpu_fmaxpool_one(&l->a.fpool, e); break;
            default: break;
            }
        }
    }
}
