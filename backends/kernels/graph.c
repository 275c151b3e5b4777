/*
 * graph.c - graph checks (shapes chain), MAC counts, workspaces and the
 * int8 graph run (fast kernels) plus the straightforward reference run.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

/* In 64 bits: dilation x (kernel - 1), or an input plus its padding, can pass
 * int32 (a wrapped dil * (k - 1) once let an impossible output shape through
 * validation, and the kernels read out of bounds). -1: no valid size. */
int32_t sb_conv_out_dim(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad_a, int32_t pad_b) {
    if (stride <= 0 || dil <= 0 || k <= 0 || in < 0 || pad_a < 0 || pad_b < 0) return -1;
    int64_t span = (int64_t)in + pad_a + pad_b - (int64_t)dil * (k - 1) - 1;
    if (span < 0) return 0;
    int64_t out = span / stride + 1;
    return out > INT32_MAX ? -1 : (int32_t)out;
}

int64_t sb_tensor_elems(const sb_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

static const char *op_type_name(sb_op_type t) {
    switch (t) {
    case SB_OP_CONV2D: return "conv2d";
    case SB_OP_DWCONV2D: return "dwconv2d";
    case SB_OP_FC: return "fc";
    case SB_OP_ADD: return "add";
    case SB_OP_MUL: return "mul";
    case SB_OP_GAVGPOOL: return "gavgpool";
    case SB_OP_MAXPOOL: return "maxpool";
    case SB_OP_LUT: return "lut";
    }
    return "?";
}

static void shape_str(const sb_tensor *t, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ",%d" : "%d", (int)t->shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* ------------------------------------------------------------ validation */

typedef struct vctx {
    const sb_graph *g;
    int32_t index;            /* op index */
    const sb_op *op;
    char *ready;              /* per tensor: 1 once computed (or the input) */
    sb_error *err;
} vctx;

#define VFAIL(v, ...) vfail((v), __VA_ARGS__)
__attribute__((format(printf, 2, 3)))
static int vfail(vctx *v, const char *fmt, ...) {
    char what[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sb_error_set(v->err, SB_EFORMAT, "graph '%s': op %d (%s '%s'): %s",
                        v->g->name ? v->g->name : "?", (int)v->index, op_type_name(v->op->type),
                        v->op->name ? v->op->name : "", what);
}

/* An activation input: exists, int8, computed before this op. */
static int check_act_in(vctx *v, int slot) {
    int32_t t = v->op->inputs[slot];
    if (t < 0 || t >= v->g->n_tensors)
        return VFAIL(v, "inputs[%d] = %d: expected a tensor index in 0..%d", slot, (int)t, (int)v->g->n_tensors - 1);
    const sb_tensor *x = SB_T(v->g, t);
    if (x->data || x->dtype != SB_DT_INT8)
        return VFAIL(v, "inputs[%d] = tensor %d '%s': expected an int8 activation", slot, (int)t, x->name ? x->name : "");
    if (!v->ready[t])
        return VFAIL(v, "inputs[%d] = tensor %d '%s': expected the graph input or an earlier op's output",
                     slot, (int)t, x->name ? x->name : "");
    return SB_OK;
}

/* A constant input of a given dtype. */
static int check_const_in(vctx *v, int slot, sb_dtype dt, const char *what) {
    int32_t t = v->op->inputs[slot];
    if (t < 0 || t >= v->g->n_tensors)
        return VFAIL(v, "inputs[%d] = %d (%s): expected a tensor index in 0..%d", slot, (int)t, what,
                     (int)v->g->n_tensors - 1);
    const sb_tensor *c = SB_T(v->g, t);
    if (!c->data || c->dtype != dt)
        return VFAIL(v, "inputs[%d] = tensor %d '%s' (%s): expected constant %s data", slot, (int)t,
                     c->name ? c->name : "", what, dt == SB_DT_INT8 ? "int8" : "int32");
    return SB_OK;
}

static int expect_shape(vctx *v, const sb_tensor *t, const char *role, int rank, const int32_t *want) {
    int ok = t->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = t->shape[i] == want[i];
    if (ok) return SB_OK;
    char got[64], exp[64];
    sb_tensor w = {0};
    w.rank = rank;
    memcpy(w.shape, want, (size_t)rank * sizeof *want);
    shape_str(t, got, sizeof got);
    shape_str(&w, exp, sizeof exp);
    return VFAIL(v, "%s '%s' has shape %s: expected %s", role, t->name ? t->name : "", got, exp);
}

static int check_requant(vctx *v, int32_t n) {
    const sb_op *op = v->op;
    if (op->n_requant < n) return VFAIL(v, "n_requant = %d: expected %d", (int)op->n_requant, (int)n);
    if (v->g->requant == SB_REQUANT_FIXED) {
        if (!op->multiplier || !op->shift) return VFAIL(v, "requant fixed: expected multiplier and shift");
        for (int32_t i = 0; i < n; i++) {
            if (op->multiplier[i] != 0 && op->multiplier[i] < (1 << 30))
                return VFAIL(v, "multiplier[%d] = %d: expected 0 or in [2^30, 2^31)", (int)i, (int)op->multiplier[i]);
            if (op->shift[i] < -31 || op->shift[i] > 30)
                return VFAIL(v, "shift[%d] = %d: expected -31..30", (int)i, (int)op->shift[i]);
        }
        if (op->type == SB_OP_ADD) {
            if (op->left_shift < 0 || op->left_shift > 22)
                return VFAIL(v, "left_shift = %d: expected 0..22 (20 as TFLite)", (int)op->left_shift);
            int32_t m[2] = {op->multiplier_b, op->multiplier_out}, s[2] = {op->shift_b, op->shift_out};
            for (int i = 0; i < 2; i++) {
                if ((m[i] != 0 && m[i] < (1 << 30)) || s[i] < -31 || s[i] > 30)
                    return VFAIL(v, "%s = %d, %s = %d: expected a multiplier 0 or in [2^30, 2^31), a shift in -31..30",
                                 i ? "multiplier_out" : "multiplier_b", (int)m[i], i ? "shift_out" : "shift_b", (int)s[i]);
            }
        }
    } else if (!op->scale_f32) {
        return VFAIL(v, "requant float: expected scale_f32");
    }
    return SB_OK;
}

/* The padded input must be a tensor the kernels could hold (fewer than 2^31
 * elements): the fast depthwise and fp32 kernels build it, and every index
 * into it (oy * stride - pad + ky * dilation) is then an int32. */
static int check_padded(vctx *v, const sb_tensor *x) {
    const sb_op *op = v->op;
    int64_t hp = (int64_t)x->shape[1] + op->pad_top + op->pad_bottom;
    int64_t wp = (int64_t)x->shape[2] + op->pad_left + op->pad_right;
    int64_t lim = ((int64_t)1 << 31) - 1;
    if (hp > lim || wp > lim || hp * wp > lim || hp * wp * x->shape[3] > lim)
        return VFAIL(v, "padded input [1,%lld,%lld,%d]: expected fewer than 2^31 elements", (long long)hp,
                     (long long)wp, (int)x->shape[3]);
    return SB_OK;
}

/* The dilated kernel, dilation * (k - 1) + 1 positions, must fit the padded
 * input (64 bits: the product passes int32 for kernel 32770, dilation 65536). */
static int check_span(vctx *v, const char *dim, int32_t in, int32_t k, int32_t dil, int32_t pad_a,
                      int32_t pad_b) {
    int64_t span = (int64_t)dil * (k - 1) + 1;
    int64_t padded = (int64_t)in + pad_a + pad_b;
    if (span > padded)
        return VFAIL(v, "%s: kernel %d with dilation %d spans %lld positions: "
                     "expected at most the padded input's %lld", dim, (int)k, (int)dil, (long long)span,
                     (long long)padded);
    return SB_OK;
}

static int check_window(vctx *v, const sb_tensor *x, const sb_tensor *y, int32_t kh, int32_t kw, int32_t c) {
    const sb_op *op = v->op;
    if (op->stride_h < 1 || op->stride_w < 1 || op->dilation_h < 1 || op->dilation_w < 1 || kh < 1 || kw < 1)
        return VFAIL(v, "kernel %dx%d stride %dx%d dilation %dx%d: expected all >= 1", (int)kh, (int)kw,
                     (int)op->stride_h, (int)op->stride_w, (int)op->dilation_h, (int)op->dilation_w);
    if (op->pad_top < 0 || op->pad_left < 0 || op->pad_bottom < 0 || op->pad_right < 0)
        return VFAIL(v, "padding [%d,%d,%d,%d]: expected >= 0", (int)op->pad_top, (int)op->pad_left,
                     (int)op->pad_bottom, (int)op->pad_right);
    if (x->rank != 4 || x->shape[0] != 1) return VFAIL(v, "input must be [1,H,W,C]");
    int rc = check_padded(v, x);
    if (rc == SB_OK) rc = check_span(v, "height", x->shape[1], kh, op->dilation_h, op->pad_top, op->pad_bottom);
    if (rc == SB_OK) rc = check_span(v, "width", x->shape[2], kw, op->dilation_w, op->pad_left, op->pad_right);
    if (rc) return rc;
    int32_t oh = sb_conv_out_dim(x->shape[1], kh, op->stride_h, op->dilation_h, op->pad_top, op->pad_bottom);
    int32_t ow = sb_conv_out_dim(x->shape[2], kw, op->stride_w, op->dilation_w, op->pad_left, op->pad_right);
    if (oh < 1 || ow < 1) return VFAIL(v, "window %dx%d does not fit the input", (int)kh, (int)kw);
    int32_t want[4] = {1, oh, ow, c};
    return expect_shape(v, y, "output", 4, want);
}

/* Sums must fit int32: K * 255 * 128 < 2^31. */
static int check_depth(vctx *v, int64_t k) {
    if (k * SB_TAP_MAX >= ((int64_t)1 << 31))
        return VFAIL(v, "%lld taps per output: expected at most %lld (int32 sums)", (long long)k,
                     (long long)((((int64_t)1 << 31) - 1) / (255 * 128)));
    return SB_OK;
}

/* The int32 accumulator starts at the bias and adds k taps of
 * |x - zi| <= 255 times |w| <= 128: the two together must fit. */
static int check_bias(vctx *v, int32_t O, int64_t k) {
    if (v->op->n_inputs < 3 || v->op->inputs[2] < 0) return SB_OK;
    int rc = check_const_in(v, 2, SB_DT_INT32, "bias");
    if (rc) return rc;
    const sb_tensor *b = SB_T(v->g, v->op->inputs[2]);
    int32_t want[1] = {O};
    if ((rc = expect_shape(v, b, "bias", 1, want))) return rc;
    int64_t lim = INT32_MAX - k * SB_TAP_MAX;
    const int32_t *bias = b->data;
    for (int32_t o = 0; o < O; o++)
        if (llabs((long long)bias[o]) > lim)
            return VFAIL(v, "bias '%s'[%d] = %d: expected |bias| <= %lld (the int32 accumulator adds %lld taps "
                         "of up to 255 x 128 to it)", b->name ? b->name : "", (int)o, (int)bias[o], (long long)lim,
                         (long long)k);
    return SB_OK;
}

static int check_conv(vctx *v, const sb_tensor *y) {
    const sb_op *op = v->op;
    int rc;
    if ((rc = check_act_in(v, 0)) || (rc = check_const_in(v, 1, SB_DT_INT8, "weights"))) return rc;
    const sb_tensor *x = SB_T(v->g, op->inputs[0]), *w = SB_T(v->g, op->inputs[1]);
    if (x->rank != 4) return VFAIL(v, "input must be [1,H,W,C]");
    int32_t C = x->shape[3];
    if (op->type == SB_OP_CONV2D) {
        if (w->rank != 4 || w->shape[3] != C)
            return VFAIL(v, "weights must be [O,KH,KW,%d] (input channels %d)", (int)C, (int)C);
        if ((rc = check_window(v, x, y, w->shape[1], w->shape[2], w->shape[0]))) return rc;
        if ((rc = check_depth(v, (int64_t)w->shape[1] * w->shape[2] * C))) return rc;
        if ((rc = check_bias(v, w->shape[0], (int64_t)w->shape[1] * w->shape[2] * C))) return rc;
        return check_requant(v, w->shape[0]);
    }
    if (w->rank != 4 || w->shape[0] != 1 || w->shape[3] != C)
        return VFAIL(v, "weights must be [1,KH,KW,%d] (channel multiplier 1)", (int)C);
    if ((rc = check_window(v, x, y, w->shape[1], w->shape[2], C))) return rc;
    if ((rc = check_depth(v, (int64_t)w->shape[1] * w->shape[2]))) return rc;
    if ((rc = check_bias(v, C, (int64_t)w->shape[1] * w->shape[2]))) return rc;
    return check_requant(v, C);
}

static int check_fc(vctx *v, const sb_tensor *y) {
    const sb_op *op = v->op;
    int rc;
    if ((rc = check_act_in(v, 0)) || (rc = check_const_in(v, 1, SB_DT_INT8, "weights"))) return rc;
    const sb_tensor *x = SB_T(v->g, op->inputs[0]), *w = SB_T(v->g, op->inputs[1]);
    int64_t I = sb_tensor_elems(x);
    if (w->rank != 2 || w->shape[1] != I)
        return VFAIL(v, "weights must be [O,%lld] (input elements)", (long long)I);
    int32_t want[2] = {1, w->shape[0]};
    if ((rc = expect_shape(v, y, "output", 2, want)) || (rc = check_depth(v, I)) ||
        (rc = check_bias(v, w->shape[0], I)))
        return rc;
    return check_requant(v, w->shape[0]);
}

static int check_binary(vctx *v, const sb_tensor *y) {
    const sb_op *op = v->op;
    int rc;
    if ((rc = check_act_in(v, 0)) || (rc = check_act_in(v, 1))) return rc;
    const sb_tensor *a = SB_T(v->g, op->inputs[0]), *b = SB_T(v->g, op->inputs[1]);
    if ((rc = expect_shape(v, y, "output", a->rank, a->shape))) return rc;
    int same = b->rank == a->rank && memcmp(b->shape, a->shape, (size_t)a->rank * sizeof(int32_t)) == 0;
    if (!same) {
        if (op->type == SB_OP_ADD) return expect_shape(v, b, "input b", a->rank, a->shape);
        if (a->rank != 4) return VFAIL(v, "input a must be [1,H,W,C] to broadcast b");
        int32_t want[4] = {1, 1, 1, a->shape[3]};
        if ((rc = expect_shape(v, b, "input b", 4, want))) return rc;
    }
    return check_requant(v, 1);
}

static int check_op(vctx *v) {
    const sb_op *op = v->op;
    const sb_graph *g = v->g;
    static const int n_in[] = {0, 3, 3, 3, 2, 2, 1, 1, 1};
    if (op->type < SB_OP_CONV2D || op->type > SB_OP_LUT) return VFAIL(v, "type %d: unknown", (int)op->type);
    int need = n_in[op->type], is_wop = op->type <= SB_OP_FC;
    if (!(op->n_inputs == need || (is_wop && op->n_inputs == 2)))
        return VFAIL(v, "%d inputs: expected %d", (int)op->n_inputs, need);
    if (op->output < 0 || op->output >= g->n_tensors)
        return VFAIL(v, "output = %d: expected a tensor index in 0..%d", (int)op->output, (int)g->n_tensors - 1);
    const sb_tensor *y = SB_T(g, op->output);
    if (y->data || y->dtype != SB_DT_INT8)
        return VFAIL(v, "output tensor %d '%s': expected an int8 activation", (int)op->output, y->name ? y->name : "");
    if (v->ready[op->output])
        return VFAIL(v, "output tensor %d '%s' is already computed (or is the graph input): expected a new tensor",
                     (int)op->output, y->name ? y->name : "");
    if (op->act_min < -128 || op->act_max > 127 || op->act_min > op->act_max)
        return VFAIL(v, "act_min %d act_max %d: expected -128 <= act_min <= act_max <= 127",
                     (int)op->act_min, (int)op->act_max);
    int rc = SB_OK;
    const sb_tensor *x;
    switch (op->type) {
    case SB_OP_CONV2D:
    case SB_OP_DWCONV2D: rc = check_conv(v, y); break;
    case SB_OP_FC: rc = check_fc(v, y); break;
    case SB_OP_ADD:
    case SB_OP_MUL: rc = check_binary(v, y); break;
    case SB_OP_GAVGPOOL:
        if ((rc = check_act_in(v, 0))) break;
        x = SB_T(g, op->inputs[0]);
        if (x->rank != 4) { rc = VFAIL(v, "input must be [1,H,W,C]"); break; }
        {
            int32_t want[4] = {1, 1, 1, x->shape[3]};
            if ((rc = expect_shape(v, y, "output", 4, want)) || (rc = check_depth(v, (int64_t)x->shape[1] * x->shape[2])))
                break;
        }
        if (op->avg_count != 0 && op->avg_count != x->shape[1] * x->shape[2]) {
            rc = VFAIL(v, "avg_count %d: expected 0 or H*W = %d", (int)op->avg_count, (int)(x->shape[1] * x->shape[2]));
            break;
        }
        rc = check_requant(v, 1);
        break;
    case SB_OP_MAXPOOL:
        if ((rc = check_act_in(v, 0))) break;
        x = SB_T(g, op->inputs[0]);
        if (x->rank != 4) { rc = VFAIL(v, "input must be [1,H,W,C]"); break; }
        if ((rc = check_window(v, x, y, op->kernel_h, op->kernel_w, x->shape[3]))) break;
        if (x->zero_point != y->zero_point)
            rc = VFAIL(v, "output zero point %d: expected the input's %d", (int)y->zero_point, (int)x->zero_point);
        break;
    case SB_OP_LUT:
        if ((rc = check_act_in(v, 0))) break;
        x = SB_T(g, op->inputs[0]);
        if ((rc = expect_shape(v, y, "output", x->rank, x->shape))) break;
        if (!op->lut) rc = VFAIL(v, "expected a 256-entry table");
        break;
    }
    if (rc == SB_OK) v->ready[op->output] = 1;
    return rc;
}

static int check_tensors(const sb_graph *g, sb_error *err) {
    for (int32_t t = 0; t < g->n_tensors; t++) {
        const sb_tensor *x = SB_T(g, t);
        if (x->rank < 1 || x->rank > 4)
            return sb_error_set(err, SB_EFORMAT, "graph '%s': tensor %d '%s': rank %d: expected 1..4",
                                g->name ? g->name : "?", (int)t, x->name ? x->name : "", x->rank);
        int64_t n = 1; /* checked at each step: four int32 dimensions can pass int64 */
        for (int i = 0; i < x->rank; i++) {
            if (x->shape[i] < 1)
                return sb_error_set(err, SB_EFORMAT, "graph '%s': tensor %d '%s': shape[%d] = %d: expected >= 1",
                                    g->name ? g->name : "?", (int)t, x->name ? x->name : "", i, (int)x->shape[i]);
            if (n <= INT32_MAX) n *= x->shape[i];
        }
        if (n > INT32_MAX)
            return sb_error_set(err, SB_EFORMAT, "graph '%s': tensor %d '%s': too many elements",
                                g->name ? g->name : "?", (int)t, x->name ? x->name : "");
    }
    return SB_OK;
}

int sb_graph_validate(const sb_graph *g, sb_error *err) {
    int rc = check_tensors(g, err);
    if (rc) return rc;
    const char *gn = g->name ? g->name : "?";
    if (g->requant != SB_REQUANT_FIXED && g->requant != SB_REQUANT_FLOAT)
        return sb_error_set(err, SB_EFORMAT, "graph '%s': requant %d: expected fixed or float", gn, (int)g->requant);
    if (g->input < 0 || g->input >= g->n_tensors || g->output < 0 || g->output >= g->n_tensors)
        return sb_error_set(err, SB_EFORMAT, "graph '%s': input %d / output %d: expected tensor indices in 0..%d",
                            gn, (int)g->input, (int)g->output, (int)g->n_tensors - 1);
    const sb_tensor *in = SB_T(g, g->input);
    /* Any channel count here, so tests can feed one op directly; the model
     * file reader insists on the RGB [1,H,W,3] of docs/model-format.md. */
    if (in->data || in->dtype != SB_DT_INT8 || in->rank != 4 || in->shape[0] != 1)
        return sb_error_set(err, SB_EFORMAT, "graph '%s': input tensor %d '%s': expected an int8 activation [1,H,W,C]",
                            gn, (int)g->input, in->name ? in->name : "");
    char *ready = calloc((size_t)g->n_tensors, 1);
    if (!ready) return sb_error_set(err, SB_ENOMEM, "graph '%s': out of memory", gn);
    ready[g->input] = 1;
    vctx v = {g, 0, NULL, ready, err};
    for (int32_t i = 0; i < g->n_ops && rc == SB_OK; i++) {
        v.index = i;
        v.op = &g->ops[i];
        rc = check_op(&v);
    }
    if (rc == SB_OK && !ready[g->output])
        rc = sb_error_set(err, SB_EFORMAT, "graph '%s': output tensor %d: expected the output of an op", gn, (int)g->output);
    free(ready);
    if (rc) return rc;
    const sb_tensor *out = SB_T(g, g->output);
    if (g->n_classes > 0 && sb_tensor_elems(out) != g->n_classes)
        return sb_error_set(err, SB_EFORMAT, "graph '%s': %d classes but the output tensor has %lld elements",
                            gn, (int)g->n_classes, (long long)sb_tensor_elems(out));
    return SB_OK;
}

int64_t sb_op_macs(const sb_graph *g, const sb_op *op) {
    const sb_tensor *y = SB_T(g, op->output);
    switch (op->type) {
    case SB_OP_CONV2D:
    case SB_OP_FC: {
        const sb_tensor *w = SB_T(g, op->inputs[1]);
        return sb_tensor_elems(y) * (sb_tensor_elems(w) / w->shape[0]);
    }
    case SB_OP_DWCONV2D: {
        const sb_tensor *w = SB_T(g, op->inputs[1]);
        return sb_tensor_elems(y) * w->shape[1] * w->shape[2];
    }
    case SB_OP_MUL: return sb_tensor_elems(y); /* one multiply per element */
    default: return 0;
    }
}

int64_t sb_op_acc_bound(const sb_graph *g, const sb_op *op, int32_t ch) {
    const sb_tensor *x = SB_T(g, op->inputs[0]);
    const int32_t *bias = NULL;
    int64_t taps = 0;
    switch (op->type) {
    case SB_OP_CONV2D:
    case SB_OP_FC: {
        const sb_tensor *w = SB_T(g, op->inputs[1]);
        taps = sb_tensor_elems(w) / w->shape[0];
        break;
    }
    case SB_OP_DWCONV2D: {
        const sb_tensor *w = SB_T(g, op->inputs[1]);
        taps = (int64_t)w->shape[1] * w->shape[2];
        break;
    }
    case SB_OP_ADD: return 2 * 255; /* two products summed: each scale x 510 <= 2^30 */
    case SB_OP_MUL: return 255 * 255;
    case SB_OP_GAVGPOOL: return (int64_t)x->shape[1] * x->shape[2] * 255;
    default: return 0;
    }
    if (op->n_inputs > 2 && op->inputs[2] >= 0) bias = SB_T(g, op->inputs[2])->data;
    return (bias ? llabs((long long)bias[ch]) : 0) + taps * SB_TAP_MAX;
}

/* ------------------------------------------------------------- running */

int sb_op_run_int8(const sb_graph *g, int32_t op_index, int8_t *const *act, sb_error *err) {
    if (op_index < 0 || op_index >= g->n_ops)
        return sb_error_set(err, SB_EINVAL, "op index %d: expected 0..%d", (int)op_index, (int)g->n_ops - 1);
    const sb_op *op = &g->ops[op_index];
    const int8_t *a = act[op->inputs[0]];
    const int8_t *b = op->n_inputs > 1 ? act[op->inputs[1]] : NULL;
    int8_t *y = act[op->output];
    switch (op->type) {
    case SB_OP_CONV2D: sb_conv2d_ref(g, op, a, y); break;
    case SB_OP_DWCONV2D: sb_dwconv2d_ref(g, op, a, y); break;
    case SB_OP_FC: sb_fc_ref(g, op, a, y); break;
    case SB_OP_ADD: sb_add_ref(g, op, a, b, y); break;
    case SB_OP_MUL: sb_mul_ref(g, op, a, b, y); break;
    case SB_OP_GAVGPOOL: sb_gavgpool_ref(g, op, a, y); break;
    case SB_OP_MAXPOOL: sb_maxpool_ref(g, op, a, y); break;
    case SB_OP_LUT: sb_lut_ref(g, op, a, y); break;
    default:
        return sb_error_set(err, SB_EUNSUPPORTED, "op %d '%s': type %d not supported", (int)op_index,
                            op->name ? op->name : "", (int)op->type);
    }
    return SB_OK;
}
