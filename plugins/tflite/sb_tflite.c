/*
 * sb_tflite.c - .tflite (schema v3) to sb_graph (sb_tflite.h, docs/tflite.md).
 *
 * Two passes: read every tensor of subgraph 0 (shape, type, quantization,
 * constant bytes), then map the operators in order onto engine ops. RESHAPE
 * and SQUEEZE alias their input (NHWC bytes do not move); a final SOFTMAX is
 * kept aside (sb_tfl_softmax). The integer parameters are derived from the
 * file's float32 scales exactly as TFLite's Prepare functions derive them
 * (kernel_util.cc, quantization_util.cc), so the engine's kernels, which
 * implement TFLite's MultiplyByQuantizedMultiplier, give TFLite's bytes.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_flatbuf.h"
#include "sb_kernels.h"
#include "sb_tflite.h"

/* TFLite schema: field ids (schema.fbs order) and enum values used here. */
enum { M_VERSION = 0, M_OPCODES = 1, M_SUBGRAPHS = 2, M_BUFFERS = 4 };
enum { OC_DEPRECATED = 0, OC_BUILTIN = 3 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum { T_SHAPE = 0, T_TYPE = 1, T_BUFFER = 2, T_NAME = 3, T_QUANT = 4, T_SPARSITY = 6 };
enum { Q_SCALE = 2, Q_ZERO_POINT = 3, Q_DIM = 6 };
enum { B_DATA = 0, B_OFFSET = 1 };
enum { O_OPCODE = 0, O_INPUTS = 1, O_OUTPUTS = 2, O_OPTIONS_TYPE = 3, O_OPTIONS = 4 };
/* BuiltinOptions union types */
enum { BT_CONV = 1, BT_DEPTHWISE = 2, BT_POOL = 5, BT_FC = 8, BT_SOFTMAX = 9, BT_ADD = 11, BT_RESHAPE = 17, BT_MUL = 21 };
enum { TT_FLOAT32 = 0, TT_INT32 = 2, TT_INT8 = 9 };
enum {
    BO_ADD = 0, BO_AVERAGE_POOL_2D = 1, BO_CONV_2D = 3, BO_DEPTHWISE_CONV_2D = 4, BO_FULLY_CONNECTED = 9,
    BO_MAX_POOL_2D = 17, BO_MUL = 18, BO_RESHAPE = 22, BO_SOFTMAX = 25, BO_SQUEEZE = 43, BO_QUANTIZE = 114
};
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };
enum { PAD_SAME = 0, PAD_VALID = 1 };

/* One tensor of the file. */
typedef struct tfl_tensor {
    int type;
    int rank;
    int32_t shape[4];
    int64_t elems;
    const char *name;
    int32_t n_scales;
    float *scales;          /* owned */
    int32_t zero_point;     /* per-tensor (every per-channel zero point must be 0) */
    int32_t quant_dim;      /* the dimension of per-channel scales */
    const uint8_t *data;    /* constant bytes inside the file copy, or NULL */
    size_t nbytes;
    int32_t engine;         /* engine tensor index, -1 before use */
} tfl_tensor;

struct sb_tfl_model {
    sb_graph g;             /* first member: sb_tfl_from_graph */
    uint8_t *file;          /* the file's bytes */
    size_t file_bytes;
    char *name;
    sb_tensor *tensors;
    int32_t n_tensors, cap_tensors;
    sb_op *ops;
    int32_t n_ops;
    void **blocks;          /* every other allocation, freed with the model */
    size_t n_blocks, cap_blocks;
    int softmax;
    float softmax_beta;
    float softmax_in_scale;
    int32_t softmax_multiplier, softmax_left_shift, softmax_diff_min;
    int32_t softmax_out_zp;
    float softmax_out_scale;
};

/* The loader's state. */
typedef struct ctx {
    sb_tfl_model *m;
    sb_fb fb;
    sb_fb_vec opcodes, buffers;
    tfl_tensor *t;
    uint32_t n_t;
    sb_error *err;
    const char *file;
    char what[160];
} ctx;

/* ------------------------------------------------------------ memory */

static void *keep(sb_tfl_model *m, size_t bytes) {
    if (m->n_blocks == m->cap_blocks) {
        size_t cap = m->cap_blocks ? m->cap_blocks * 2 : 64;
        void **b = realloc(m->blocks, cap * sizeof *b);
        if (!b) return NULL;
        m->blocks = b;
        m->cap_blocks = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (p) m->blocks[m->n_blocks++] = p;
    return p;
}

static int oom(ctx *c) {
    return sb_error_set(c->err, SB_ENOMEM, "%s: out of memory", c->file);
}

/* Prefix an error from a helper with the file name. */
static int fail(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ctx *c, int code, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sb_error_set(c->err, code, "%s: %s", c->file, msg);
}

/* A flatbuffer error already names the schema path; add the file. */
static int fb_fail(ctx *c, int rc) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", c->err->msg);
    return sb_error_set(c->err, rc, "%s: %s", c->file, msg);
}
#define FB(c, call)                         \
    do {                                    \
        int rc_ = (call);                   \
        if (rc_ < 0) return fb_fail(c, rc_); \
    } while (0)

/* ------------------------------------------------------ quantization */

void sb_tfl_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift) {
    int e = 0;
    if (real == 0.0) {
        *multiplier = 0;
        *shift = 0;
        return;
    }
    double q = frexp(real, &e);
    int64_t q_fixed = (int64_t)round(q * (double)((int64_t)1 << 31));
    if (q_fixed == ((int64_t)1 << 31)) {
        q_fixed /= 2;
        e++;
    }
    if (e < -31) {
        e = 0;
        q_fixed = 0;
    }
    *multiplier = (int32_t)q_fixed;
    *shift = e;
}

/* A multiplier the engine can apply: shift <= 30 (a larger left shift
 * would overflow int32 for any input). */
static int requant(ctx *c, int32_t op_index, double real, int32_t *m, int32_t *s) {
    if (!(real > 0.0) || !isfinite(real) || real >= (double)(1 << 30))
        return fail(c, SB_EUNSUPPORTED, "operator %d: effective scale %g: expected a positive scale below 2^30",
                    (int)op_index, real);
    sb_tfl_quantize_multiplier(real, m, s);
    return SB_OK;
}

/* TFLite's CalculateActivationRangeQuantized for int8. */
static int act_range(ctx *c, int32_t op_index, int act, const tfl_tensor *y, int32_t *lo, int32_t *hi,
                     const char **name) {
    double scale = y->scales[0];
    float lim[2] = {0.0f, 6.0f};
    int32_t q[2];
    *lo = -128;
    *hi = 127;
    *name = "none";
    if (act == ACT_NONE) return SB_OK;
    if (act == ACT_RELU_N1_TO_1) {
        lim[0] = -1.0f;
        lim[1] = 1.0f;
    } else if (act != ACT_RELU && act != ACT_RELU6)
        return fail(c, SB_EUNSUPPORTED, "operator %d: fused activation %d: expected NONE, RELU, RELU_N1_TO_1 or RELU6",
                    (int)op_index, act);
    for (int i = 0; i < 2; i++) {
        float r = roundf(lim[i] / (float)scale);
        if (!(fabsf(r) < 1e6f)) r = r > 0 ? 1e6f : -1e6f;
        q[i] = y->zero_point + (int32_t)r;
    }
    *lo = q[0] > -128 ? q[0] : -128;
    if (act != ACT_RELU) *hi = q[1] < 127 ? q[1] : 127;
    if (*lo > *hi) *lo = *hi;
    *name = act == ACT_RELU ? "relu" : act == ACT_RELU6 ? "relu6" : "relu_n1_to_1";
    return SB_OK;
}

/* ------------------------------------------------------------ tensors */

static int read_quant(ctx *c, const sb_fb_table *tt, tfl_tensor *x, uint32_t i) {
    sb_fb_table q;
    sb_fb_vec sc, zp;
    int present;
    snprintf(c->what, sizeof c->what, "subgraphs[0].tensors[%u].quantization", i);
    FB(c, sb_fb_sub(tt, T_QUANT, &q, &present, c->what, c->err));
    if (!present) return SB_OK;
    FB(c, sb_fb_vector(&q, Q_SCALE, 4, &sc, c->what, c->err));
    FB(c, sb_fb_vector(&q, Q_ZERO_POINT, 8, &zp, c->what, c->err));
    FB(c, sb_fb_i32(&q, Q_DIM, 0, &x->quant_dim, c->what, c->err));
    if (sc.len == 0) return SB_OK;
    if (zp.len != sc.len)
        return fail(c, SB_EFORMAT, "tensor %u '%s': %u scales and %u zero points: expected as many", i, x->name, sc.len,
                    zp.len);
    if (sc.len > SB_TFL_MAX_DIM) return fail(c, SB_EFORMAT, "tensor %u '%s': %u scales: too many", i, x->name, sc.len);
    if (!(x->scales = keep(c->m, (size_t)sc.len * sizeof(float)))) return oom(c);
    x->n_scales = (int32_t)sc.len;
    for (uint32_t k = 0; k < sc.len; k++) {
        float s = sb_fb_vec_f32(&sc, k);
        int64_t z = sb_fb_vec_i64(&zp, k);
        if (!(s > 0.0f) || !isfinite(s))
            return fail(c, SB_EFORMAT, "tensor %u '%s': scale[%u] = %g: expected a positive finite float32", i, x->name,
                        k, (double)s);
        if (z < -128 || z > 127 || (sc.len > 1 && z != 0))
            return fail(c, SB_EFORMAT, "tensor %u '%s': zero_point[%u] = %lld: expected -128..127 (0 per channel)", i,
                        x->name, k, (long long)z);
        x->scales[k] = s;
    }
    x->zero_point = (int32_t)sb_fb_vec_i64(&zp, 0);
    return SB_OK;
}

static int read_buffer(ctx *c, uint32_t b, tfl_tensor *x, uint32_t i) {
    sb_fb_table bt;
    sb_fb_vec data;
    uint64_t off = 0;
    if (b >= c->buffers.len)
        return fail(c, SB_EFORMAT, "tensor %u '%s': buffer %u: expected an index below %u", i, x->name, b,
                    c->buffers.len);
    snprintf(c->what, sizeof c->what, "buffers[%u]", b);
    FB(c, sb_fb_vec_table(&c->buffers, b, &bt, c->what, c->err));
    FB(c, sb_fb_u64(&bt, B_OFFSET, 0, &off, c->what, c->err));
    if (off > 1)
        return fail(c, SB_EUNSUPPORTED, "buffers[%u]: data outside the FlatBuffer (offset %llu): not supported", b,
                    (unsigned long long)off);
    FB(c, sb_fb_vector(&bt, B_DATA, 1, &data, c->what, c->err));
    if (data.len == 0) return SB_OK;
    x->data = sb_fb_vec_bytes(&data);
    x->nbytes = data.len;
    return SB_OK;
}

static int read_shape(ctx *c, const sb_fb_table *tt, tfl_tensor *x, uint32_t i) {
    sb_fb_vec sh;
    snprintf(c->what, sizeof c->what, "subgraphs[0].tensors[%u].shape", i);
    FB(c, sb_fb_vector(tt, T_SHAPE, 4, &sh, c->what, c->err));
    if (sh.len > 4) return fail(c, SB_EUNSUPPORTED, "tensor %u '%s': rank %u: expected 0..4", i, x->name, sh.len);
    x->rank = (int)sh.len;
    x->elems = 1;
    for (uint32_t k = 0; k < sh.len; k++) {
        int32_t d = sb_fb_vec_i32(&sh, k);
        if (d < 1 || d > SB_TFL_MAX_DIM)
            return fail(c, SB_EFORMAT, "tensor %u '%s': shape[%u] = %d: expected 1..%d", i, x->name, k, (int)d,
                        SB_TFL_MAX_DIM);
        x->shape[k] = d;
        x->elems *= d;
        if (x->elems > SB_TFL_MAX_TENSOR_ELEMS)
            return fail(c, SB_EUNSUPPORTED, "tensor %u '%s': more than %lld elements", i, x->name,
                        (long long)SB_TFL_MAX_TENSOR_ELEMS);
    }
    return SB_OK;
}

static int read_tensor(ctx *c, const sb_fb_vec *tv, uint32_t i) {
    sb_fb_table tt;
    tfl_tensor *x = &c->t[i];
    uint8_t type;
    uint32_t buffer, name_len;
    const char *name;
    x->engine = -1;
    snprintf(c->what, sizeof c->what, "subgraphs[0].tensors[%u]", i);
    FB(c, sb_fb_vec_table(tv, i, &tt, c->what, c->err));
    FB(c, sb_fb_u8(&tt, T_TYPE, 0, &type, c->what, c->err));
    FB(c, sb_fb_u32(&tt, T_BUFFER, 0, &buffer, c->what, c->err));
    FB(c, sb_fb_string(&tt, T_NAME, &name, &name_len, c->what, c->err));
    if (sb_fb_has(&tt, T_SPARSITY)) return fail(c, SB_EUNSUPPORTED, "tensor %u: sparse tensors are not supported", i);
    /* a copy: the file's string need not end in NUL, and results.json needs UTF-8 */
    char *nm = keep(c->m, (size_t)name_len + 1);
    if (!nm) return oom(c);
    memcpy(nm, name, sb_utf8_valid_prefix(name, name_len));
    x->name = nm;
    x->type = type;
    int rc = read_shape(c, &tt, x, i);
    if (rc == SB_OK) rc = read_quant(c, &tt, x, i);
    if (rc == SB_OK) rc = read_buffer(c, buffer, x, i);
    return rc;
}

/* ------------------------------------------------------ engine tensors */

static int new_engine_tensor(ctx *c, sb_tensor **out) {
    sb_tfl_model *m = c->m;
    if (m->n_tensors == m->cap_tensors) {
        int32_t cap = m->cap_tensors ? m->cap_tensors * 2 : 64;
        sb_tensor *t = realloc(m->tensors, (size_t)cap * sizeof *t);
        if (!t) return oom(c);
        m->tensors = t;
        m->cap_tensors = cap;
    }
    *out = &m->tensors[m->n_tensors];
    memset(*out, 0, sizeof **out);
    return m->n_tensors++;
}

/* "operator 3: ", or "" for the graph's own tensors (op_index -1). */
static const char *at_op(int32_t op_index, char *buf, size_t n) {
    if (op_index < 0) snprintf(buf, n, "%s", "");
    else snprintf(buf, n, "operator %d: ", (int)op_index);
    return buf;
}

static int check_index(ctx *c, int32_t op_index, int32_t ti, const char *role) {
    char at[32];
    if (ti < 0 || (uint32_t)ti >= c->n_t)
        return fail(c, SB_EFORMAT, "%s%s tensor %d: expected an index below %u", at_op(op_index, at, sizeof at), role,
                    (int)ti, c->n_t);
    return SB_OK;
}

/* An int8 activation with one scale. */
static int check_act(ctx *c, int32_t op_index, int32_t ti, const char *role) {
    char at[32];
    int rc = check_index(c, op_index, ti, role);
    if (rc < 0) return rc;
    const tfl_tensor *x = &c->t[ti];
    if (x->type != TT_INT8)
        return fail(c, SB_EUNSUPPORTED, "%s%s tensor %d '%s': type %d: expected INT8 (9)", at_op(op_index, at, sizeof at),
                    role, (int)ti, x->name, x->type);
    if (x->n_scales != 1)
        return fail(c, SB_EUNSUPPORTED, "%s%s tensor %d '%s': expected one quantization scale, got %d",
                    at_op(op_index, at, sizeof at), role, (int)ti, x->name, (int)x->n_scales);
    if (x->data)
        return fail(c, SB_EUNSUPPORTED, "%s%s tensor %d '%s': constant: expected an activation",
                    at_op(op_index, at, sizeof at), role, (int)ti, x->name);
    return SB_OK;
}

/* The engine index of an activation; created (as rank 1..4) on first use. */
static int engine_act(ctx *c, int32_t ti) {
    tfl_tensor *x = &c->t[ti];
    sb_tensor *e;
    if (x->engine >= 0) return x->engine;
    int idx = new_engine_tensor(c, &e);
    if (idx < 0) return idx;
    e->name = x->name;
    e->dtype = SB_DT_INT8;
    e->rank = x->rank ? x->rank : 1;
    for (int k = 0; k < 4; k++) e->shape[k] = k < x->rank ? x->shape[k] : 1;
    e->scale = x->scales[0];
    e->zero_point = x->zero_point;
    x->engine = idx;
    return idx;
}

/* A constant: its bytes copied (aligned for the kernels' int32 loads). */
static int engine_const(ctx *c, int32_t op_index, int32_t ti, int type, int64_t elems, const char *role) {
    tfl_tensor *x = &c->t[ti];
    size_t el_bytes = type == TT_INT32 ? 4 : 1;
    sb_tensor *e;
    if (x->type != type || !x->data)
        return fail(c, SB_EUNSUPPORTED, "operator %d: %s tensor %d '%s': type %d%s: expected a constant %s",
                    (int)op_index, role, (int)ti, x->name, x->type, x->data ? "" : " without data",
                    type == TT_INT32 ? "INT32" : "INT8");
    if (x->elems != elems || x->nbytes != (size_t)elems * el_bytes)
        return fail(c, SB_EFORMAT, "operator %d: %s tensor %d '%s': %lld elements in %zu bytes: expected %lld",
                    (int)op_index, role, (int)ti, x->name, (long long)x->elems, x->nbytes, (long long)elems);
    if (x->engine >= 0) return x->engine;
    void *data = keep(c->m, x->nbytes);
    if (!data) return oom(c);
    memcpy(data, x->data, x->nbytes);
    int idx = new_engine_tensor(c, &e);
    if (idx < 0) return idx;
    e->name = x->name;
    e->dtype = type == TT_INT32 ? SB_DT_INT32 : SB_DT_INT8;
    e->rank = x->rank;
    memcpy(e->shape, x->shape, sizeof e->shape);
    e->data = data;
    e->nbytes = x->nbytes;
    x->engine = idx;
    return idx;
}

/* --------------------------------------------------------------- ops */

/* One operator of the file. */
typedef struct tfl_op {
    int32_t index;
    int32_t code;
    int32_t in[4];
    int32_t n_in;
    int32_t out;
    sb_fb_table opt;
    int has_opt;
} tfl_op;

static const char *op_name(int32_t code) {
    switch (code) {
    case BO_ADD: return "ADD";
    case BO_AVERAGE_POOL_2D: return "AVERAGE_POOL_2D";
    case BO_CONV_2D: return "CONV_2D";
    case BO_DEPTHWISE_CONV_2D: return "DEPTHWISE_CONV_2D";
    case BO_FULLY_CONNECTED: return "FULLY_CONNECTED";
    case BO_MAX_POOL_2D: return "MAX_POOL_2D";
    case BO_MUL: return "MUL";
    case BO_RESHAPE: return "RESHAPE";
    case BO_SOFTMAX: return "SOFTMAX";
    case BO_SQUEEZE: return "SQUEEZE";
    case BO_QUANTIZE: return "QUANTIZE";
    default: return NULL;
    }
}

/* The BuiltinOptions type each mapped operator reads. */
static int options_type(int32_t code) {
    switch (code) {
    case BO_CONV_2D: return BT_CONV;
    case BO_DEPTHWISE_CONV_2D: return BT_DEPTHWISE;
    case BO_AVERAGE_POOL_2D:
    case BO_MAX_POOL_2D: return BT_POOL;
    case BO_FULLY_CONNECTED: return BT_FC;
    case BO_SOFTMAX: return BT_SOFTMAX;
    case BO_ADD: return BT_ADD;
    case BO_RESHAPE: return BT_RESHAPE;
    case BO_MUL: return BT_MUL;
    default: return -1;
    }
}

static int opt_i32(ctx *c, const tfl_op *o, uint32_t field, int32_t dflt, int32_t *v) {
    *v = dflt;
    if (!o->has_opt) return SB_OK;
    snprintf(c->what, sizeof c->what, "operators[%d].builtin_options", (int)o->index);
    FB(c, sb_fb_i32(&o->opt, field, dflt, v, c->what, c->err));
    return SB_OK;
}

static int opt_u8(ctx *c, const tfl_op *o, uint32_t field, uint8_t dflt, int32_t *v) {
    uint8_t u = dflt;
    if (o->has_opt) {
        snprintf(c->what, sizeof c->what, "operators[%d].builtin_options", (int)o->index);
        FB(c, sb_fb_u8(&o->opt, field, dflt, &u, c->what, c->err));
    }
    *v = u;
    return SB_OK;
}

/* A new engine op writing tfl tensor `out`. */
static int new_op(ctx *c, const tfl_op *o, sb_op_type type, sb_op **op) {
    sb_tfl_model *m = c->m;
    sb_op *ops = realloc(m->ops, (size_t)(m->n_ops + 1) * sizeof *ops);
    if (!ops) return oom(c);
    m->ops = ops;
    *op = &ops[m->n_ops++];
    memset(*op, 0, sizeof **op);
    (*op)->type = type;
    (*op)->name = c->t[o->out].name;
    (*op)->inputs[0] = (*op)->inputs[1] = (*op)->inputs[2] = -1;
    (*op)->dilation_h = (*op)->dilation_w = 1;
    (*op)->stride_h = (*op)->stride_w = 1;
    (*op)->act_min = -128;
    (*op)->act_max = 127;
    (*op)->act = "none";
    int e = engine_act(c, o->out);
    if (e < 0) return e;
    (*op)->output = e;
    return SB_OK;
}

/* Requantisation arrays of n entries. */
static int requant_arrays(ctx *c, sb_op *op, int32_t n) {
    int32_t *mult = keep(c->m, (size_t)n * sizeof(int32_t));
    int32_t *shift = keep(c->m, (size_t)n * sizeof(int32_t));
    float *f = keep(c->m, (size_t)n * sizeof(float));
    if (!mult || !shift || !f) return oom(c);
    op->n_requant = n;
    op->multiplier = mult;
    op->shift = shift;
    op->scale_f32 = f;
    return SB_OK;
}

/* TFLite's SAME/VALID padding (ComputePaddingHeightWidth), checked against
 * the output size the file states. */
static int padding(ctx *c, const tfl_op *o, int pad, int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t out,
                   int32_t *before, int32_t *after) {
    int64_t eff = (int64_t)(k - 1) * dil + 1;
    int64_t want = pad == PAD_SAME ? ((int64_t)in + stride - 1) / stride : ((int64_t)in - eff + stride) / stride;
    if (pad != PAD_SAME && pad != PAD_VALID)
        return fail(c, SB_EUNSUPPORTED, "operator %d: padding %d: expected SAME (0) or VALID (1)", (int)o->index, pad);
    if (want != out)
        return fail(c, SB_EFORMAT, "operator %d: output size %d: expected %lld from input %d, kernel %d, stride %d",
                    (int)o->index, (int)out, (long long)want, (int)in, (int)k, (int)stride);
    int64_t total = (out - 1) * (int64_t)stride + eff - in;
    if (pad == PAD_VALID || total < 0) total = 0;
    *before = (int32_t)(total / 2);
    *after = (int32_t)(total - total / 2);
    return SB_OK;
}

/* The window fields of conv / depthwise / pools. */
static int window(ctx *c, const tfl_op *o, sb_op *op, int32_t kh, int32_t kw, uint32_t f_pad, uint32_t f_sw,
                  uint32_t f_sh, int32_t dh, int32_t dw) {
    int32_t pad, sw, sh;
    int rc;
    const tfl_tensor *x = &c->t[o->in[0]], *y = &c->t[o->out];
    if ((rc = opt_u8(c, o, f_pad, 0, &pad)) || (rc = opt_i32(c, o, f_sw, 0, &sw)) || (rc = opt_i32(c, o, f_sh, 0, &sh)))
        return rc;
    if (sw < 1 || sh < 1 || sw > 1024 || sh > 1024 || dh < 1 || dw < 1 || dh > 1024 || dw > 1024)
        return fail(c, SB_EUNSUPPORTED, "operator %d: stride %dx%d dilation %dx%d: expected 1..1024", (int)o->index,
                    (int)sh, (int)sw, (int)dh, (int)dw);
    if (x->rank != 4 || y->rank != 4 || x->shape[0] != 1)
        return fail(c, SB_EUNSUPPORTED, "operator %d: expected [1,H,W,C] input and output", (int)o->index);
    op->kernel_h = kh;
    op->kernel_w = kw;
    op->stride_h = sh;
    op->stride_w = sw;
    op->dilation_h = dh;
    op->dilation_w = dw;
    if ((rc = padding(c, o, pad, x->shape[1], kh, sh, dh, y->shape[1], &op->pad_top, &op->pad_bottom))) return rc;
    return padding(c, o, pad, x->shape[2], kw, sw, dw, y->shape[2], &op->pad_left, &op->pad_right);
}

/* conv / depthwise / fc: weights, bias, per-channel requantisation. */
static int weighted(ctx *c, const tfl_op *o, sb_op *op, int32_t n_out, int64_t w_elems, int64_t taps) {
    const tfl_tensor *x = &c->t[o->in[0]], *w = &c->t[o->in[1]], *y = &c->t[o->out];
    int rc;
    if (w->n_scales != 1 && w->n_scales != n_out)
        return fail(c, SB_EUNSUPPORTED, "operator %d: weights '%s': %d scales: expected 1 or %d", (int)o->index, w->name,
                    (int)w->n_scales, (int)n_out);
    if (w->zero_point != 0)
        return fail(c, SB_EUNSUPPORTED, "operator %d: weights '%s': zero point %d: expected 0 (symmetric)",
                    (int)o->index, w->name, (int)w->zero_point);
    /* per-channel scales run along the output channels: dimension 0 of
     * conv / fc weights [O,...], 3 of depthwise weights [1,KH,KW,C] */
    int32_t want_dim = op->type == SB_OP_DWCONV2D ? 3 : 0;
    if (w->n_scales > 1 && w->quant_dim != want_dim)
        return fail(c, SB_EUNSUPPORTED, "operator %d: weights '%s': quantized_dimension %d: expected %d",
                    (int)o->index, w->name, (int)w->quant_dim, (int)want_dim);
    int ew = engine_const(c, o->index, o->in[1], TT_INT8, w_elems, "weights");
    if (ew < 0) return ew;
    op->inputs[0] = c->t[o->in[0]].engine;
    op->inputs[1] = ew;
    op->n_inputs = 2;
    if (o->n_in > 2 && o->in[2] >= 0) {
        if ((rc = check_index(c, o->index, o->in[2], "bias")) < 0) return rc;
        int eb = engine_const(c, o->index, o->in[2], TT_INT32, n_out, "bias");
        if (eb < 0) return eb;
        /* bias + the largest sum must fit int32, as in the engine's kernels */
        int64_t room = INT32_MAX - taps * 255 * 128;
        const int32_t *b = c->m->tensors[eb].data;
        for (int32_t k = 0; k < n_out; k++)
            if (b[k] > room || -(int64_t)b[k] > room)
                return fail(c, SB_EUNSUPPORTED, "operator %d: bias[%d] = %d: expected |bias| <= %lld (int32 sums)",
                            (int)o->index, (int)k, (int)b[k], (long long)room);
        op->inputs[2] = eb;
        op->n_inputs = 3;
    }
    if ((rc = requant_arrays(c, op, n_out))) return rc;
    float *cs = keep(c->m, (size_t)n_out * sizeof(float));
    if (!cs) return oom(c);
    for (int32_t k = 0; k < n_out; k++) {
        cs[k] = w->scales[w->n_scales == 1 ? 0 : k];
        /* PopulateConvolutionQuantizationParams: double(s_in) * double(s_w) / double(s_out) */
        double real = (double)x->scales[0] * (double)cs[k] / (double)y->scales[0];
        if ((rc = requant(c, o->index, real, (int32_t *)&op->multiplier[k], (int32_t *)&op->shift[k]))) return rc;
        ((float *)op->scale_f32)[k] = (float)real;
    }
    sb_tensor *et = &c->m->tensors[ew];
    et->channel_scales = cs;
    et->n_channel_scales = n_out;
    return SB_OK;
}

static int map_conv(ctx *c, const tfl_op *o, int depthwise) {
    int rc;
    int32_t dh, dw, act, mult = 1;
    sb_op *op;
    if (o->n_in < 2) return fail(c, SB_EFORMAT, "operator %d: %d inputs: expected 2 or 3", (int)o->index, (int)o->n_in);
    if ((rc = check_act(c, o->index, o->in[0], "input")) || (rc = check_act(c, o->index, o->out, "output")) ||
        (rc = check_index(c, o->index, o->in[1], "weights")))
        return rc;
    const tfl_tensor *x = &c->t[o->in[0]], *w = &c->t[o->in[1]], *y = &c->t[o->out];
    uint32_t f_act = depthwise ? 4 : 3, f_dw = depthwise ? 5 : 4, f_dh = depthwise ? 6 : 5;
    if ((rc = opt_i32(c, o, f_dw, 1, &dw)) || (rc = opt_i32(c, o, f_dh, 1, &dh)) || (rc = opt_u8(c, o, f_act, 0, &act)))
        return rc;
    if (depthwise && (rc = opt_i32(c, o, 3, 1, &mult))) return rc;
    if (w->rank != 4 || x->rank != 4 || y->rank != 4)
        return fail(c, SB_EUNSUPPORTED, "operator %d: expected 4-d input, weights and output", (int)o->index);
    int32_t C = x->shape[3], O = y->shape[3];
    if (depthwise ? (w->shape[0] != 1 || w->shape[3] != C || O != C) : (w->shape[0] != O || w->shape[3] != C))
        return fail(c, SB_EUNSUPPORTED, "operator %d: weights '%s' [%d,%d,%d,%d] for %d -> %d channels: expected %s",
                    (int)o->index, w->name, (int)w->shape[0], (int)w->shape[1], (int)w->shape[2], (int)w->shape[3],
                    (int)C, (int)O, depthwise ? "[1,KH,KW,C] (depth multiplier 1)" : "[O,KH,KW,I]");
    if ((rc = engine_act(c, o->in[0])) < 0) return rc;
    if ((rc = new_op(c, o, depthwise ? SB_OP_DWCONV2D : SB_OP_CONV2D, &op))) return rc;
    if ((rc = window(c, o, op, w->shape[1], w->shape[2], 0, 1, 2, dh, dw))) return rc;
    int64_t taps = (int64_t)w->shape[1] * w->shape[2] * (depthwise ? 1 : C);
    if ((rc = weighted(c, o, op, O, (int64_t)w->shape[0] * w->shape[1] * w->shape[2] * w->shape[3], taps))) return rc;
    return act_range(c, o->index, act, y, &op->act_min, &op->act_max, &op->act);
}

static int map_fc(ctx *c, const tfl_op *o) {
    int rc;
    int32_t act, fmt, keep_dims;
    sb_op *op;
    if (o->n_in < 2) return fail(c, SB_EFORMAT, "operator %d: %d inputs: expected 2 or 3", (int)o->index, (int)o->n_in);
    if ((rc = check_act(c, o->index, o->in[0], "input")) || (rc = check_act(c, o->index, o->out, "output")) ||
        (rc = check_index(c, o->index, o->in[1], "weights")))
        return rc;
    if ((rc = opt_u8(c, o, 0, 0, &act)) || (rc = opt_u8(c, o, 1, 0, &fmt)) || (rc = opt_u8(c, o, 2, 0, &keep_dims)))
        return rc;
    const tfl_tensor *x = &c->t[o->in[0]], *w = &c->t[o->in[1]], *y = &c->t[o->out];
    if (fmt != 0) return fail(c, SB_EUNSUPPORTED, "operator %d: weights format %d: expected DEFAULT (0)", (int)o->index, (int)fmt);
    if (w->rank != 2 || w->shape[1] != x->elems || y->elems != w->shape[0])
        return fail(c, SB_EUNSUPPORTED, "operator %d: weights '%s': expected [%lld outputs, %lld inputs] (batch 1)",
                    (int)o->index, w->name, (long long)y->elems, (long long)x->elems);
    if ((rc = engine_act(c, o->in[0])) < 0) return rc;
    if (c->t[o->out].engine < 0 && (y->rank != 2 || y->shape[0] != 1))
        return fail(c, SB_EUNSUPPORTED, "operator %d: output '%s': expected [1, %d]", (int)o->index, y->name,
                    (int)w->shape[0]);
    if ((rc = new_op(c, o, SB_OP_FC, &op))) return rc;
    /* LiteRT's FULLY_CONNECTED rounds x * m / 2^(31 - shift) once, where its
     * CONV_2D / DEPTHWISE_CONV_2D / ADD round twice (measured against
     * ai-edge-litert's reference kernels: docs/tflite.md) */
    op->single_round = 1;
    if ((rc = weighted(c, o, op, w->shape[0], (int64_t)w->shape[0] * w->shape[1], w->shape[1]))) return rc;
    return act_range(c, o->index, act, y, &op->act_min, &op->act_max, &op->act);
}

static int same_shape(const tfl_tensor *a, const tfl_tensor *b) {
    return a->rank == b->rank && memcmp(a->shape, b->shape, (size_t)a->rank * sizeof(int32_t)) == 0;
}

/* What ADD and MUL check first: two int8 activation inputs, an int8
 * activation output, and the fused activation (option 0). */
static int two_inputs(ctx *c, const tfl_op *o, int32_t *act) {
    int rc;
    if (o->n_in != 2) return fail(c, SB_EFORMAT, "operator %d: %d inputs: expected 2", (int)o->index, (int)o->n_in);
    if ((rc = check_act(c, o->index, o->in[0], "input")) || (rc = check_act(c, o->index, o->in[1], "input")) ||
        (rc = check_act(c, o->index, o->out, "output")))
        return rc;
    return opt_u8(c, o, 0, 0, act);
}

/* ADD: TFLite's PrepareInt8AddSub (left shift 20). */
static int map_add(ctx *c, const tfl_op *o) {
    int rc;
    int32_t act;
    sb_op *op;
    if ((rc = two_inputs(c, o, &act))) return rc;
    const tfl_tensor *a = &c->t[o->in[0]], *b = &c->t[o->in[1]], *y = &c->t[o->out];
    if (!same_shape(a, b) || !same_shape(a, y))
        return fail(c, SB_EUNSUPPORTED, "operator %d: ADD with broadcasting: expected inputs and output of one shape",
                    (int)o->index);
    if ((rc = engine_act(c, o->in[0])) < 0 || (rc = engine_act(c, o->in[1])) < 0) return rc;
    if ((rc = new_op(c, o, SB_OP_ADD, &op)) || (rc = requant_arrays(c, op, 1))) return rc;
    op->inputs[0] = a->engine;
    op->inputs[1] = b->engine;
    op->n_inputs = 2;
    op->left_shift = 20;
    double twice_max = 2.0 * (double)(a->scales[0] > b->scales[0] ? a->scales[0] : b->scales[0]);
    double out = twice_max / ((double)(1 << 20) * (double)y->scales[0]);
    if ((rc = requant(c, o->index, (double)a->scales[0] / twice_max, (int32_t *)op->multiplier, (int32_t *)op->shift)) ||
        (rc = requant(c, o->index, (double)b->scales[0] / twice_max, &op->multiplier_b, &op->shift_b)) ||
        (rc = requant(c, o->index, out, &op->multiplier_out, &op->shift_out)))
        return rc;
    if (op->shift_out > 0)
        return fail(c, SB_EUNSUPPORTED, "operator %d: output scale too small for TFLite's ADD (multiplier >= 1)",
                    (int)o->index);
    ((float *)op->scale_f32)[0] = (float)(a->scales[0] / y->scales[0]);
    op->scale_b_f32 = (float)(b->scales[0] / y->scales[0]);
    return act_range(c, o->index, act, y, &op->act_min, &op->act_max, &op->act);
}

/* AVERAGE_POOL_2D over the whole input (the engine's gavgpool) with TFLite's
 * rounded division (sb_op.avg_count); MAX_POOL_2D as the engine's maxpool. */
static int map_pool(ctx *c, const tfl_op *o, int is_max) {
    int rc;
    int32_t fw, fh, act;
    sb_op *op;
    if (o->n_in != 1) return fail(c, SB_EFORMAT, "operator %d: %d inputs: expected 1", (int)o->index, (int)o->n_in);
    if ((rc = check_act(c, o->index, o->in[0], "input")) || (rc = check_act(c, o->index, o->out, "output")) ||
        (rc = opt_i32(c, o, 3, 0, &fw)) || (rc = opt_i32(c, o, 4, 0, &fh)) || (rc = opt_u8(c, o, 5, 0, &act)))
        return rc;
    const tfl_tensor *x = &c->t[o->in[0]], *y = &c->t[o->out];
    if (fw < 1 || fh < 1 || fw > 4096 || fh > 4096)
        return fail(c, SB_EUNSUPPORTED, "operator %d: filter %dx%d: expected 1..4096", (int)o->index, (int)fh, (int)fw);
    if (x->scales[0] != y->scales[0] || x->zero_point != y->zero_point)
        return fail(c, SB_EUNSUPPORTED, "operator %d: expected input and output of the same quantization",
                    (int)o->index);
    if ((rc = engine_act(c, o->in[0])) < 0) return rc;
    if ((rc = new_op(c, o, is_max ? SB_OP_MAXPOOL : SB_OP_GAVGPOOL, &op))) return rc;
    op->inputs[0] = x->engine;
    op->n_inputs = 1;
    if ((rc = window(c, o, op, fh, fw, 0, 1, 2, 1, 1))) return rc;
    if (!is_max) {
        if (fh != x->shape[1] || fw != x->shape[2] || y->shape[1] != 1 || y->shape[2] != 1)
            return fail(c, SB_EUNSUPPORTED,
                        "operator %d: AVERAGE_POOL_2D %dx%d on %dx%d: only a window over the whole input is supported",
                        (int)o->index, (int)fh, (int)fw, (int)x->shape[1], (int)x->shape[2]);
        if ((rc = requant_arrays(c, op, 1))) return rc;
        op->kernel_h = op->kernel_w = op->stride_h = op->stride_w = 1;
        op->avg_count = fh * fw;
        /* unused by the TFLite division; kept valid for the checks and fp32 */
        sb_tfl_quantize_multiplier(1.0 / (fh * fw), (int32_t *)op->multiplier, (int32_t *)op->shift);
        ((float *)op->scale_f32)[0] = 1.0f / (float)(fh * fw);
    }
    return act_range(c, o->index, act, y, &op->act_min, &op->act_max, &op->act);
}

/* MUL: TFLite's MulElementwise / BroadcastMul (b [1,1,1,C] over H, W). */
static int map_mul(ctx *c, const tfl_op *o) {
    int rc;
    int32_t act;
    sb_op *op;
    if ((rc = two_inputs(c, o, &act))) return rc;
    const tfl_tensor *a = &c->t[o->in[0]], *b = &c->t[o->in[1]], *y = &c->t[o->out];
    int bcast = a->rank == 4 && b->rank == 4 && b->shape[0] == 1 && b->shape[1] == 1 && b->shape[2] == 1 &&
                b->shape[3] == a->shape[3];
    if (!same_shape(a, y) || !(same_shape(a, b) || bcast))
        return fail(c, SB_EUNSUPPORTED, "operator %d: MUL: expected inputs of one shape, or b [1,1,1,C]", (int)o->index);
    if ((rc = engine_act(c, o->in[0])) < 0 || (rc = engine_act(c, o->in[1])) < 0) return rc;
    if ((rc = new_op(c, o, SB_OP_MUL, &op)) || (rc = requant_arrays(c, op, 1))) return rc;
    op->inputs[0] = a->engine;
    op->inputs[1] = b->engine;
    op->n_inputs = 2;
    double real = (double)a->scales[0] * (double)b->scales[0] / (double)y->scales[0];
    if ((rc = requant(c, o->index, real, (int32_t *)op->multiplier, (int32_t *)op->shift))) return rc;
    ((float *)op->scale_f32)[0] = (float)real;
    return act_range(c, o->index, act, y, &op->act_min, &op->act_max, &op->act);
}

/* QUANTIZE int8 -> int8 (TFLite's Requantize): a 256-entry table of
 * zo + MBQM(q - zi, m, s), exact for every input. */
static int map_quantize(ctx *c, const tfl_op *o) {
    int rc;
    sb_op *op;
    if (o->n_in != 1) return fail(c, SB_EFORMAT, "operator %d: %d inputs: expected 1", (int)o->index, (int)o->n_in);
    if ((rc = check_act(c, o->index, o->in[0], "input")) || (rc = check_act(c, o->index, o->out, "output"))) return rc;
    const tfl_tensor *x = &c->t[o->in[0]], *y = &c->t[o->out];
    if (!same_shape(x, y)) return fail(c, SB_EFORMAT, "operator %d: QUANTIZE changes the shape", (int)o->index);
    int32_t m, sh;
    if ((rc = requant(c, o->index, (double)x->scales[0] / (double)y->scales[0], &m, &sh))) return rc;
    int8_t *table = keep(c->m, 256);
    if (!table) return oom(c);
    for (int32_t q = -128; q < 128; q++) {
        int32_t v = y->zero_point + sb_mbqm(q - x->zero_point, m, sh);
        table[q + 128] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
    if ((rc = engine_act(c, o->in[0])) < 0) return rc;
    if ((rc = new_op(c, o, SB_OP_LUT, &op))) return rc;
    op->inputs[0] = x->engine;
    op->n_inputs = 1;
    op->lut = table;
    op->act = "identity";
    return SB_OK;
}

/* RESHAPE / SQUEEZE: the output is the input's bytes. */
static int map_alias(ctx *c, const tfl_op *o) {
    int rc;
    if (o->n_in < 1) return fail(c, SB_EFORMAT, "operator %d: no input", (int)o->index);
    if ((rc = check_act(c, o->index, o->in[0], "input")) || (rc = check_act(c, o->index, o->out, "output"))) return rc;
    tfl_tensor *x = &c->t[o->in[0]], *y = &c->t[o->out];
    if (x->elems != y->elems || x->scales[0] != y->scales[0] || x->zero_point != y->zero_point)
        return fail(c, SB_EUNSUPPORTED, "operator %d: %lld -> %lld elements: expected the same elements and quantization",
                    (int)o->index, (long long)x->elems, (long long)y->elems);
    if (y->engine >= 0) return fail(c, SB_EFORMAT, "operator %d: output '%s' written twice", (int)o->index, y->name);
    if ((rc = engine_act(c, o->in[0])) < 0) return rc;
    y->engine = x->engine;
    return SB_OK;
}

/* SOFTMAX: only as the last operator, on the graph output. */
static int map_softmax(ctx *c, const tfl_op *o, int is_last) {
    int rc;
    if (!is_last) return fail(c, SB_EUNSUPPORTED, "operator %d: SOFTMAX before the last operator", (int)o->index);
    if (o->n_in != 1) return fail(c, SB_EFORMAT, "operator %d: %d inputs: expected 1", (int)o->index, (int)o->n_in);
    if ((rc = check_act(c, o->index, o->in[0], "input")) || (rc = check_act(c, o->index, o->out, "output"))) return rc;
    float beta = 1.0f;
    if (o->has_opt) {
        snprintf(c->what, sizeof c->what, "operators[%d].builtin_options", (int)o->index);
        FB(c, sb_fb_f32(&o->opt, 0, 0.0f, &beta, c->what, c->err));
    }
    if (!(beta > 0.0f) || !isfinite(beta))
        return fail(c, SB_EUNSUPPORTED, "operator %d: SOFTMAX beta %g: expected positive", (int)o->index, (double)beta);
    /* one row (the int32 sum of exps in Q12.19 holds 4095 terms) */
    const tfl_tensor *x = &c->t[o->in[0]];
    if (x->elems != x->shape[x->rank ? x->rank - 1 : 0] || x->elems > 4095)
        return fail(c, SB_EUNSUPPORTED, "operator %d: SOFTMAX over %lld elements: expected one row of at most 4095",
                    (int)o->index, (long long)x->elems);
    /* PreprocessSoftmaxScaling and CalculateInputRadius, 5 integer bits */
    double real = (double)beta * (double)c->t[o->in[0]].scales[0] * (double)(1 << 26);
    if (real > (double)(((int64_t)1 << 31) - 1)) real = (double)(((int64_t)1 << 31) - 1);
    sb_tfl_quantize_multiplier(real, &c->m->softmax_multiplier, &c->m->softmax_left_shift);
    if (c->m->softmax_left_shift < 0 || c->m->softmax_left_shift > 30 || c->t[o->out].zero_point != -128 ||
        c->t[o->out].scales[0] != 1.0f / 256.0f)
        return fail(c, SB_EUNSUPPORTED, "operator %d: SOFTMAX with input scale %g, output scale %g, zero point %d: "
                    "expected an input scale above 2^-26 / beta and the output 1/256, -128", (int)o->index,
                    (double)c->t[o->in[0]].scales[0], (double)c->t[o->out].scales[0], (int)c->t[o->out].zero_point);
    double radius = 31.0 * (double)((int64_t)1 << 26) / (double)((int64_t)1 << c->m->softmax_left_shift);
    c->m->softmax_diff_min = -(int32_t)floor(radius > 1e9 ? 1e9 : radius);
    c->m->softmax = 1;
    c->m->softmax_beta = beta;
    c->m->softmax_in_scale = c->t[o->in[0]].scales[0];
    c->m->softmax_out_scale = c->t[o->out].scales[0];
    c->m->softmax_out_zp = c->t[o->out].zero_point;
    return engine_act(c, o->in[0]) < 0 ? SB_ENOMEM : SB_OK;
}

static int read_op(ctx *c, const sb_fb_vec *ov, uint32_t i, tfl_op *o) {
    sb_fb_table ot, oc;
    sb_fb_vec in, out;
    uint32_t opcode;
    uint8_t dep;
    int32_t code;
    memset(o, 0, sizeof *o);
    o->index = (int32_t)i;
    snprintf(c->what, sizeof c->what, "subgraphs[0].operators[%u]", i);
    FB(c, sb_fb_vec_table(ov, i, &ot, c->what, c->err));
    FB(c, sb_fb_u32(&ot, O_OPCODE, 0, &opcode, c->what, c->err));
    FB(c, sb_fb_vector(&ot, O_INPUTS, 4, &in, c->what, c->err));
    FB(c, sb_fb_vector(&ot, O_OUTPUTS, 4, &out, c->what, c->err));
    FB(c, sb_fb_sub(&ot, O_OPTIONS, &o->opt, &o->has_opt, c->what, c->err));
    if (opcode >= c->opcodes.len)
        return fail(c, SB_EFORMAT, "operator %u: opcode_index %u: expected an index below %u", i, opcode,
                    c->opcodes.len);
    snprintf(c->what, sizeof c->what, "operator_codes[%u]", opcode);
    FB(c, sb_fb_vec_table(&c->opcodes, opcode, &oc, c->what, c->err));
    FB(c, sb_fb_u8(&oc, OC_DEPRECATED, 0, &dep, c->what, c->err));
    FB(c, sb_fb_i32(&oc, OC_BUILTIN, 0, &code, c->what, c->err));
    /* schema 3a: the larger of the two fields is the operator */
    o->code = (int8_t)dep > code ? (int8_t)dep : code;
    /* options of another type than the operator's are absent, as TFLite
     * reads them (builtin_options_as_...) */
    uint8_t opt_type;
    snprintf(c->what, sizeof c->what, "subgraphs[0].operators[%u]", i);
    FB(c, sb_fb_u8(&ot, O_OPTIONS_TYPE, 0, &opt_type, c->what, c->err));
    if (opt_type != options_type(o->code)) o->has_opt = 0;
    if (in.len > 4 || out.len != 1)
        return fail(c, SB_EUNSUPPORTED, "operator %u (%s): %u inputs, %u outputs: expected at most 4 and 1", i,
                    op_name(o->code) ? op_name(o->code) : "?", in.len, out.len);
    o->n_in = (int32_t)in.len;
    for (uint32_t k = 0; k < in.len; k++) o->in[k] = sb_fb_vec_i32(&in, k);
    o->out = sb_fb_vec_i32(&out, 0);
    return check_index(c, o->index, o->out, "output");
}

static int map_op(ctx *c, const tfl_op *o, int is_last) {
    switch (o->code) {
    case BO_CONV_2D: return map_conv(c, o, 0);
    case BO_DEPTHWISE_CONV_2D: return map_conv(c, o, 1);
    case BO_FULLY_CONNECTED: return map_fc(c, o);
    case BO_ADD: return map_add(c, o);
    case BO_AVERAGE_POOL_2D: return map_pool(c, o, 0);
    case BO_MAX_POOL_2D: return map_pool(c, o, 1);
    case BO_RESHAPE:
    case BO_SQUEEZE: return map_alias(c, o);
    case BO_SOFTMAX: return map_softmax(c, o, is_last);
    case BO_MUL: return map_mul(c, o);
    case BO_QUANTIZE: return map_quantize(c, o);
    default: {
        const tfl_tensor *y = &c->t[o->out];
        return fail(c, SB_EUNSUPPORTED, "operator %d: builtin operator %d%s%s%s (output tensor %d '%s'): not supported "
                    "(docs/tflite.md lists the supported operators)", (int)o->index, (int)o->code,
                    op_name(o->code) ? " (" : "", op_name(o->code) ? op_name(o->code) : "", op_name(o->code) ? ")" : "",
                    (int)o->out, y->name);
    }
    }
}

/* The engine's graph input is [1,H,W,C]: [1,H,W] becomes [1,H,W,1], any
 * other shape one vector [1,1,1,N] (the same bytes; an FC flattens its
 * input, and the tflite shapes stay in the file for conv inputs). */
static void as_nhwc(sb_tensor *e, const tfl_tensor *x) {
    int32_t s[4] = {1, 1, 1, (int32_t)x->elems};
    if (x->rank == 4) return;
    if (x->rank == 3 && x->shape[0] == 1) {
        s[1] = x->shape[1];
        s[2] = x->shape[2];
        s[3] = 1;
    }
    e->rank = 4;
    memcpy(e->shape, s, sizeof s);
}

/* Subgraph 0: tensors, then operators in order. */
static int read_subgraph(ctx *c, const sb_fb_table *sg) {
    sb_fb_vec tv, ov, inputs, outputs;
    tfl_op o;
    int rc;
    FB(c, sb_fb_vector(sg, SG_TENSORS, 4, &tv, "subgraphs[0].tensors", c->err));
    FB(c, sb_fb_vector(sg, SG_OPERATORS, 4, &ov, "subgraphs[0].operators", c->err));
    FB(c, sb_fb_vector(sg, SG_INPUTS, 4, &inputs, "subgraphs[0].inputs", c->err));
    FB(c, sb_fb_vector(sg, SG_OUTPUTS, 4, &outputs, "subgraphs[0].outputs", c->err));
    if (tv.len > SB_TFL_MAX_TENSORS || ov.len > SB_TFL_MAX_OPS || ov.len == 0)
        return fail(c, SB_EUNSUPPORTED, "%u tensors, %u operators: expected at most %d and 1..%d", tv.len, ov.len,
                    SB_TFL_MAX_TENSORS, SB_TFL_MAX_OPS);
    if (inputs.len != 1 || outputs.len != 1)
        return fail(c, SB_EUNSUPPORTED, "%u inputs, %u outputs: expected one of each", inputs.len, outputs.len);
    if (!(c->t = keep(c->m, (size_t)tv.len * sizeof *c->t))) return oom(c);
    c->n_t = tv.len;
    for (uint32_t i = 0; i < tv.len; i++)
        if ((rc = read_tensor(c, &tv, i)) < 0) return rc;
    int32_t in = sb_fb_vec_i32(&inputs, 0), out = sb_fb_vec_i32(&outputs, 0);
    if ((rc = check_act(c, -1, in, "graph input")) < 0) return rc;
    if ((rc = engine_act(c, in)) < 0) return rc;
    c->m->g.input = rc;
    as_nhwc(&c->m->tensors[rc], &c->t[in]);
    for (uint32_t i = 0; i < ov.len; i++) {
        if ((rc = read_op(c, &ov, i, &o)) < 0) return rc;
        if ((rc = map_op(c, &o, i + 1 == ov.len)) < 0) return rc;
        if (i + 1 == ov.len && o.out != out)
            return fail(c, SB_EUNSUPPORTED, "the last operator writes tensor %d, the graph output is %d: expected the same",
                        (int)o.out, (int)out);
    }
    int32_t final = c->m->softmax ? o.in[0] : out;
    if (c->t[final].engine < 0 || c->t[final].engine == c->m->g.input)
        return fail(c, SB_EUNSUPPORTED, "the graph output is not computed by an operator");
    c->m->g.output = c->t[final].engine;
    return SB_OK;
}

static int read_model(ctx *c) {
    sb_fb_table root, sg;
    sb_fb_vec sgs;
    uint32_t version;
    FB(c, sb_fb_root(&c->fb, &root, c->err));
    if (c->fb.size_bytes < 8 || memcmp(c->fb.buf + 4, "TFL3", 4) != 0)
        return fail(c, SB_EFORMAT, "file identifier: expected \"TFL3\" at byte 4 (a TensorFlow Lite model)");
    FB(c, sb_fb_u32(&root, M_VERSION, 0, &version, "model", c->err));
    if (version != 3) return fail(c, SB_EUNSUPPORTED, "schema version %u: expected 3", version);
    FB(c, sb_fb_vector(&root, M_OPCODES, 4, &c->opcodes, "operator_codes", c->err));
    FB(c, sb_fb_vector(&root, M_BUFFERS, 4, &c->buffers, "buffers", c->err));
    FB(c, sb_fb_vector(&root, M_SUBGRAPHS, 4, &sgs, "subgraphs", c->err));
    if (sgs.len != 1) return fail(c, SB_EUNSUPPORTED, "%u subgraphs: expected 1", sgs.len);
    FB(c, sb_fb_vec_table(&sgs, 0, &sg, "subgraphs[0]", c->err));
    return read_subgraph(c, &sg);
}

/* ------------------------------------------------------------- public */

static int finish_graph(ctx *c) {
    sb_tfl_model *m = c->m;
    sb_graph *g = &m->g;
    g->name = m->name;
    g->requant = SB_REQUANT_FIXED;
    g->tensors = m->tensors;
    g->n_tensors = m->n_tensors;
    g->ops = m->ops;
    g->n_ops = m->n_ops;
    g->n_classes = (int32_t)sb_tensor_elems(&m->tensors[g->output]);
    if (m->n_ops == 0) return fail(c, SB_EUNSUPPORTED, "no operator to run (only reshapes)");
    sb_error e = {0};
    int rc = sb_graph_validate(g, &e);
    if (rc < 0) return fail(c, rc, "%s", e.msg);
    return SB_OK;
}

int sb_tfl_load_mem(const uint8_t *buf, size_t size_bytes, const char *name, sb_tfl_model **out, sb_error *err) {
    ctx c;
    memset(&c, 0, sizeof c);
    *out = NULL;
    if (size_bytes > SB_TFL_MAX_FILE_BYTES)
        return sb_error_set(err, SB_EUNSUPPORTED, "%s: %zu bytes: expected at most %zu", name, size_bytes,
                            SB_TFL_MAX_FILE_BYTES);
    sb_tfl_model *m = calloc(1, sizeof *m);
    if (!m) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", name);
    m->file = malloc(size_bytes ? size_bytes : 1);
    const char *base = strrchr(name, '/');
    m->name = strdup(base ? base + 1 : name);
    if (!m->file || !m->name) {
        sb_tfl_free(m);
        return sb_error_set(err, SB_ENOMEM, "%s: out of memory", name);
    }
    char *dot = strrchr(m->name, '.');
    if (dot && dot != m->name) *dot = 0;
    if (size_bytes) memcpy(m->file, buf, size_bytes);
    m->file_bytes = size_bytes;
    c.m = m;
    c.fb.buf = m->file;
    c.fb.size_bytes = size_bytes;
    c.err = err;
    c.file = name;
    int rc = read_model(&c);
    if (rc == SB_OK) rc = finish_graph(&c);
    if (rc < 0) {
        sb_tfl_free(m);
        return rc;
    }
    *out = m;
    return SB_OK;
}

int sb_tfl_load_file(const char *path, sb_tfl_model **m, sb_error *err) {
    FILE *f = fopen(path, "rb");
    *m = NULL;
    if (!f) return sb_error_set(err, SB_ENOENT, "%s: cannot open", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            if (cap > SB_TFL_MAX_FILE_BYTES + 1) cap = SB_TFL_MAX_FILE_BYTES + 1;
            uint8_t *b = n < cap ? realloc(buf, cap) : NULL;
            if (!b) break;
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return sb_error_set(err, SB_EIO, "%s: read failed", path);
    }
    int rc = sb_tfl_load_mem(buf, n, path, m, err);
    free(buf);
    return rc;
}

void sb_tfl_free(sb_tfl_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_blocks; i++) free(m->blocks[i]);
    free(m->blocks);
    free(m->tensors);
    free(m->ops);
    free(m->file);
    free(m->name);
    free(m);
}

const sb_graph *sb_tfl_graph(const sb_tfl_model *m) {
    return &m->g;
}

sb_tfl_model *sb_tfl_from_graph(const sb_graph *g) {
    return (sb_tfl_model *)(uintptr_t)g;
}

int sb_tfl_has_softmax(const sb_tfl_model *m) {
    return m->softmax;
}

/* ------------------------------------------------------------ softmax */

/* TFLite's reference int8 softmax (reference_ops::Softmax with gemmlowp's
 * fixed point), spelled out: Q5.26 scaled differences, exp on [-1/4, 0) by a
 * Taylor polynomial and a barrel shifter of exp(-2^k) constants, a Q12.19 sum,
 * its reciprocal by Newton-Raphson, the output in units of 1/256. */

/* SaturatingRoundingMultiplyByPOT with a positive exponent: a saturating
 * left shift. */
static int32_t sat_shl(int32_t x, int e) {
    int32_t threshold = (int32_t)((1u << (31 - e)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << e);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_quarter(int32_t a) {
    const int32_t exp_minus_1_8 = 1895147668, one_third = 715827883;
    int32_t x = a + (1 << 28); /* a + 1/8 */
    int32_t x2 = sb_srdhm(x, x);
    int32_t x3 = sb_srdhm(x2, x);
    int32_t x4 = sb_srdhm(x2, x2);
    int32_t x4_over_4 = sb_rdbp(x4, 2);
    int32_t poly = sb_rdbp(sb_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_1_8 + sb_srdhm(exp_minus_1_8, x + poly);
}

/* gemmlowp's exp_on_negative_values of a Q5.26 value a <= 0, in Q0.31. */
static int32_t exp_negative_q5(int32_t a) {
    static const int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t quarter = 1 << 24, mask = quarter - 1;
    int32_t mod_minus_quarter = (a & mask) - quarter;
    int32_t result = exp_quarter(sat_shl(mod_minus_quarter, 5));
    int32_t remainder = mod_minus_quarter - a;
    for (int k = 0; k < 7; k++) /* exponent k - 2: bit 26 + k - 2 of the remainder */
        if (remainder & (1 << (24 + k))) result = sb_srdhm(result, mult[k]);
    return a == 0 ? INT32_MAX : result;
}

/* gemmlowp's one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out. */
static int32_t one_over_one_plus_x(int32_t a) {
    int64_t sum = (int64_t)a + INT32_MAX;
    int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_17 = 1515870810, cneg32_17 = -1010580540, one_q2 = 1 << 29;
    int32_t x = c48_17 + sb_srdhm(half_den, cneg32_17); /* Q2.29 */
    for (int i = 0; i < 3; i++) {
        int32_t hd_x = sb_srdhm(half_den, x);
        int32_t one_minus = one_q2 - hd_x;
        x = x + sat_shl(sb_srdhm(x, one_minus), 2);
    }
    return sat_shl(x, 1);
}

static int count_leading_zeros(uint32_t x) {
    int n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

void sb_tfl_softmax(const sb_tfl_model *m, const int8_t *logits, int8_t *out, int32_t n) {
    if (!m->softmax) {
        memcpy(out, logits, (size_t)n);
        return;
    }
    int32_t max_in = -128, sum = 0; /* sum in Q12.19 */
    for (int32_t c = 0; c < n; c++) max_in = logits[c] > max_in ? logits[c] : max_in;
    for (int32_t c = 0; c < n; c++) {
        int32_t diff = logits[c] - max_in;
        if (diff < m->softmax_diff_min) continue;
        int32_t scaled = sb_srdhm((int32_t)((uint32_t)diff << m->softmax_left_shift), m->softmax_multiplier);
        sum += sb_rdbp(exp_negative_q5(scaled), 12);
    }
    int headroom_plus_one = count_leading_zeros((uint32_t)sum);
    int bits_over_unit = 12 - headroom_plus_one;
    int32_t shifted_minus_one = (int32_t)(((uint32_t)sum << headroom_plus_one) - (1u << 31));
    int32_t scale = one_over_one_plus_x(shifted_minus_one);
    int exponent = bits_over_unit + 31 - 8;
    for (int32_t c = 0; c < n; c++) {
        int32_t diff = logits[c] - max_in;
        if (diff < m->softmax_diff_min) {
            out[c] = -128;
            continue;
        }
        int32_t scaled = sb_srdhm((int32_t)((uint32_t)diff << m->softmax_left_shift), m->softmax_multiplier);
        int32_t v = sb_rdbp(sb_srdhm(scale, exp_negative_q5(scaled)), exponent) - 128;
        out[c] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
}

