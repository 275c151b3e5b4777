/*
 * sb_model_file.c - the .sbm reader and writer (docs/model-format.md).
 */
#include "sb_model_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sb_file.h"
#include "sb_kernels.h"

struct sb_model_file {
    sb_graph g;               /* first: the plugin's unload gets &g */
    char *path;
    uint8_t *buf;             /* the whole file, 64-byte aligned */
    size_t size;
    cJSON *root;              /* names and strings point into it */
    sb_tensor *tensors;
    sb_op *ops;
    const char **class_names;
    char *provenance;
    int32_t *scalars;         /* add/mul/gavgpool multiplier and shift, 2 per op */
    float *fscalars;          /* their scale_f32, 1 per op */
};

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* ---------------------------------------------------------- JSON helpers */

typedef struct rd {
    sb_model_file *mf;
    const char *path;
    sb_error *err;
    size_t data_len;
    const uint8_t *data;
    char where[160];          /* "tensors[3]", "ops[7] 'conv0'" */
} rd;

__attribute__((format(printf, 3, 4)))
static int rfail(rd *r, const char *field, const char *fmt, ...) {
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sb_error_set(r->err, SB_EFORMAT, "%s: %s%s%s: %s", r->path, r->where, r->where[0] && field ? "." : "",
                        field ? field : "", what);
}

static int get_int(rd *r, const cJSON *obj, const char *key, int required, int64_t dflt, int64_t lo, int64_t hi,
                   int64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) return rfail(r, key, "missing: expected an integer");
        *out = dflt;
        return SB_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d == floor(d)) || d < (double)lo || d > (double)hi)
        return rfail(r, key, "expected an integer in %lld..%lld", (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return SB_OK;
}

static int get_i32(rd *r, const cJSON *obj, const char *key, int required, int32_t dflt, int32_t lo, int32_t hi,
                   int32_t *out) {
    int64_t v = dflt;
    int rc = get_int(r, obj, key, required, dflt, lo, hi, &v);
    if (rc == SB_OK) *out = (int32_t)v;
    return rc;
}

static int get_float(rd *r, const cJSON *obj, const char *key, int required, float dflt, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) return rfail(r, key, "missing: expected a number");
        *out = dflt;
        return SB_OK;
    }
    /* beyond FLT_MAX the double is finite but the float32 is not */
    if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= FLT_MAX)) return rfail(r, key, "expected a finite float32");
    *out = (float)v->valuedouble;
    return SB_OK;
}

/* A quantisation scale, real = scale * (q - zero_point): a positive finite
 * float32. Zero, a negative or an infinite scale (1e300 is finite only as a
 * double) would make every logit the same or NaN, and the predictions with
 * them; a tiny one that rounds to 0 as float32 as well. */
static int get_scale(rd *r, const cJSON *obj, int required, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "scale");
    if (!v) {
        if (required) return rfail(r, "scale", "missing: expected a positive finite float32");
        *out = 0.0f;
        return SB_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d > 0 && d <= FLT_MAX && (float)d > 0)) {
        if (cJSON_IsNumber(v)) return rfail(r, "scale", "%g: expected a positive finite float32", d);
        return rfail(r, "scale", "expected a positive finite float32");
    }
    *out = (float)d;
    return SB_OK;
}

/* The optional softmax temperature (fitted on val by tools/train/calibrate.py):
 * every confidence is divided by it, so NaN, 0 or 1e30 would make them all
 * meaningless. Absent means 1, stored as 0 (sb_graph). */
static int get_temperature(rd *r, const cJSON *root, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    *out = 0.0f;
    if (!v) return SB_OK;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (d >= SB_TEMPERATURE_MIN && d <= SB_TEMPERATURE_MAX) {
        *out = (float)d;
        return SB_OK;
    }
    if (cJSON_IsNumber(v))
        return rfail(r, "temperature", "%g: expected a finite number in [%g, %g]", d, SB_TEMPERATURE_MIN, SB_TEMPERATURE_MAX);
    return rfail(r, "temperature", "expected a finite number in [%g, %g]", SB_TEMPERATURE_MIN, SB_TEMPERATURE_MAX);
}

/* An array of n integers (n_min..n_max long). */
static int get_ints(rd *r, const cJSON *obj, const char *key, int n_min, int n_max, int64_t lo, int64_t hi,
                    int32_t *out, int *n_out) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n < n_min || n > n_max)
        return rfail(r, key, "expected an array of %d to %d integers in %lld..%lld", n_min, n_max, (long long)lo,
                     (long long)hi);
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!(d == floor(d)) || d < (double)lo || d > (double)hi)
            return rfail(r, key, "element %d: expected an integer in %lld..%lld", i, (long long)lo, (long long)hi);
        out[i++] = (int32_t)d;
    }
    *n_out = n;
    return SB_OK;
}

static const char *get_str(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* ------------------------------------------------------------- tensors */

static size_t dtype_bytes(sb_dtype d) { return d == SB_DT_INT8 ? 1 : 4; }

static int read_tensor(rd *r, const cJSON *j, sb_tensor *t) {
    int rc, n;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    t->name = cJSON_IsString(name) ? name->valuestring : "";
    const char *dt = get_str(j, "dtype", NULL);
    if (!dt) return rfail(r, "dtype", "missing: expected \"int8\", \"int32\" or \"float32\"");
    if (strcmp(dt, "int8") == 0) t->dtype = SB_DT_INT8;
    else if (strcmp(dt, "int32") == 0) t->dtype = SB_DT_INT32;
    else if (strcmp(dt, "float32") == 0) t->dtype = SB_DT_FLOAT32;
    else return rfail(r, "dtype", "\"%s\": expected \"int8\", \"int32\" or \"float32\"", dt);
    if ((rc = get_ints(r, j, "shape", 1, 4, 1, INT32_MAX, t->shape, &n))) return rc;
    t->rank = n;
    /* activations carry their quantisation; constants may, unused */
    int activation = !cJSON_GetObjectItemCaseSensitive(j, "offset");
    if ((rc = get_scale(r, j, activation, &t->scale))) return rc;
    if ((rc = get_i32(r, j, "zero_point", activation, 0, -128, 127, &t->zero_point))) return rc;
    int64_t elems = 1;
    for (int i = 0; i < t->rank; i++) {
        elems *= t->shape[i];
        if (elems > INT32_MAX) return rfail(r, "shape", "too many elements: expected fewer than 2^31");
    }
    if (activation) return SB_OK;
    int64_t off, nbytes;
    if ((rc = get_int(r, j, "offset", 1, 0, 0, INT64_MAX / 2, &off)) ||
        (rc = get_int(r, j, "nbytes", 1, 0, 0, INT64_MAX / 2, &nbytes)))
        return rc;
    if ((uint64_t)nbytes != (uint64_t)elems * dtype_bytes(t->dtype))
        return rfail(r, "nbytes", "%lld: expected %lld (%lld elements of %s)", (long long)nbytes,
                     (long long)(elems * (int64_t)dtype_bytes(t->dtype)), (long long)elems, dt);
    if (off % SB_SBM_ALIGN_BYTES) return rfail(r, "offset", "%lld: expected a multiple of 64", (long long)off);
    if ((uint64_t)off + (uint64_t)nbytes > r->data_len)
        return rfail(r, "offset", "tensor runs past the end of the data: offset %lld + nbytes %lld > data_len %zu",
                     (long long)off, (long long)nbytes, r->data_len);
    t->data = r->data + off;
    t->nbytes = (size_t)nbytes;
    return SB_OK;
}

/* A reference to a constant tensor: index, dtype, element count (-1: any). */
static int get_ref(rd *r, const cJSON *obj, const char *key, int required, sb_dtype dt, int64_t elems,
                   const void **out, int64_t *elems_out) {
    int64_t idx;
    const sb_graph *g = &r->mf->g;
    int rc = get_int(r, obj, key, required, -1, -1, g->n_tensors - 1, &idx);
    if (rc) return rc;
    *out = NULL;
    if (idx < 0) {
        if (required) return rfail(r, key, "expected a tensor index");
        return SB_OK;
    }
    const sb_tensor *t = &g->tensors[idx];
    int64_t n = sb_tensor_elems(t);
    static const char *dn[] = {"", "int8", "int32", "float32"};
    if (!t->data || t->dtype != dt || (elems >= 0 && n != elems)) {
        char count[48] = ""; /* no count when any number of elements will do */
        if (elems >= 0) snprintf(count, sizeof count, " of %lld elements", (long long)elems);
        return rfail(r, key, "tensor %lld '%s': expected constant %s data%s", (long long)idx, t->name, dn[dt], count);
    }
    *out = t->data;
    if (elems_out) *elems_out = n;
    return SB_OK;
}

static int read_tensors(rd *r, const cJSON *arr) {
    sb_model_file *mf = r->mf;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 1) return rfail(r, "tensors", "expected a non-empty array");
    mf->tensors = calloc((size_t)n, sizeof *mf->tensors);
    if (!mf->tensors) return sb_error_set(r->err, SB_ENOMEM, "%s: out of memory", r->path);
    mf->g.tensors = mf->tensors;
    mf->g.n_tensors = n;
    int i = 0, rc;
    const cJSON *j;
    cJSON_ArrayForEach(j, arr) {
        snprintf(r->where, sizeof r->where, "tensors[%d]", i);
        if (!cJSON_IsObject(j)) return rfail(r, NULL, "expected an object");
        if ((rc = read_tensor(r, j, &mf->tensors[i]))) return rc;
        i++;
    }
    /* channel_scales refer to other tensors: a second pass */
    i = 0;
    cJSON_ArrayForEach(j, arr) {
        snprintf(r->where, sizeof r->where, "tensors[%d] '%s'", i, mf->tensors[i].name);
        const void *p;
        int64_t ne = 0;
        if ((rc = get_ref(r, j, "channel_scales", 0, SB_DT_FLOAT32, -1, &p, &ne))) return rc;
        mf->tensors[i].channel_scales = p;
        mf->tensors[i].n_channel_scales = p ? (int32_t)ne : 0;
        i++;
    }
    return SB_OK;
}

/* ------------------------------------------------------------------ ops */

static int op_type(const char *s, sb_op_type *t) {
    static const char *names[] = {NULL, "conv2d", "dwconv2d", "fc", "add", "mul", "gavgpool", "maxpool", "lut"};
    for (int i = 1; i <= SB_OP_LUT; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *t = (sb_op_type)i;
            return 1;
        }
    return 0;
}

/* Output channels of a conv/dw/fc from its weights (0 when unknown yet). */
static int32_t op_channels(const sb_graph *g, const sb_op *op) {
    if (op->n_inputs < 2 || op->inputs[1] < 0 || op->inputs[1] >= g->n_tensors) return 0;
    const sb_tensor *w = &g->tensors[op->inputs[1]];
    return op->type == SB_OP_DWCONV2D ? w->shape[w->rank - 1] : w->shape[0];
}

static int read_requant_wop(rd *r, const cJSON *j, sb_op *op) {
    const sb_graph *g = &r->mf->g;
    int32_t O = op_channels(g, op);
    int fixed = g->requant == SB_REQUANT_FIXED;
    const void *p;
    int rc;
    if ((rc = get_ref(r, j, "multiplier", fixed, SB_DT_INT32, O, &p, NULL))) return rc;
    op->multiplier = p;
    if ((rc = get_ref(r, j, "shift", fixed, SB_DT_INT32, O, &p, NULL))) return rc;
    op->shift = p;
    if ((rc = get_ref(r, j, "scale_f32", !fixed, SB_DT_FLOAT32, O, &p, NULL))) return rc;
    op->scale_f32 = p;
    op->n_requant = O;
    const sb_tensor *w = &g->tensors[op->inputs[1]];
    if ((rc = get_ref(r, j, "weights_f32", 0, SB_DT_FLOAT32, sb_tensor_elems(w), &p, NULL))) return rc;
    op->weights_f32 = p;
    if ((rc = get_ref(r, j, "bias_f32", 0, SB_DT_FLOAT32, O, &p, NULL))) return rc;
    op->bias_f32 = p;
    return SB_OK;
}

static int read_requant_scalar(rd *r, const cJSON *j, sb_op *op, int32_t *ints, float *flt) {
    int fixed = r->mf->g.requant == SB_REQUANT_FIXED, rc;
    if ((rc = get_i32(r, j, "multiplier", fixed, 0, 0, INT32_MAX, &ints[0])) ||
        (rc = get_i32(r, j, "shift", fixed, 0, -31, 30, &ints[1])) ||
        (rc = get_float(r, j, "scale_f32", !fixed, 0.0f, flt)))
        return rc;
    op->multiplier = &ints[0];
    op->shift = &ints[1];
    op->scale_f32 = flt;
    op->n_requant = 1;
    if (op->type != SB_OP_ADD) return SB_OK;
    if ((rc = get_i32(r, j, "left_shift", 0, 20, 0, 30, &op->left_shift)) ||
        (rc = get_i32(r, j, "multiplier_b", fixed, 0, 0, INT32_MAX, &op->multiplier_b)) ||
        (rc = get_i32(r, j, "shift_b", fixed, 0, -31, 30, &op->shift_b)) ||
        (rc = get_i32(r, j, "multiplier_out", fixed, 0, 0, INT32_MAX, &op->multiplier_out)) ||
        (rc = get_i32(r, j, "shift_out", fixed, 0, -31, 30, &op->shift_out)) ||
        (rc = get_float(r, j, "scale_b_f32", !fixed, 0.0f, &op->scale_b_f32)))
        return rc;
    return SB_OK;
}

static int read_op(rd *r, const cJSON *j, sb_op *op, int32_t *ints, float *flt) {
    const sb_graph *g = &r->mf->g;
    int rc, n;
    int32_t v[4];
    const char *type = get_str(j, "type", NULL);
    if (!op_type(type, &op->type))
        return rfail(r, "type", "\"%s\": expected conv2d, dwconv2d, fc, add, mul, gavgpool, maxpool or lut",
                     type ? type : "(missing)");
    if ((rc = get_ints(r, j, "inputs", 1, 3, 0, g->n_tensors - 1, op->inputs, &n))) return rc;
    op->n_inputs = n;
    for (int i = n; i < 3; i++) op->inputs[i] = -1;
    if ((rc = get_i32(r, j, "output", 1, 0, 0, g->n_tensors - 1, &op->output))) return rc;
    op->kernel_h = op->kernel_w = 1;
    if (cJSON_GetObjectItemCaseSensitive(j, "kernel")) {
        if ((rc = get_ints(r, j, "kernel", 2, 2, 1, 1 << 16, v, &n))) return rc;
        op->kernel_h = v[0];
        op->kernel_w = v[1];
    } else if (op->type == SB_OP_MAXPOOL) {
        return rfail(r, "kernel", "missing: expected [KH, KW]");
    }
    v[0] = v[1] = 1;
    if (cJSON_GetObjectItemCaseSensitive(j, "stride") && (rc = get_ints(r, j, "stride", 2, 2, 1, 1 << 16, v, &n)))
        return rc;
    op->stride_h = v[0];
    op->stride_w = v[1];
    v[0] = v[1] = 1;
    if (cJSON_GetObjectItemCaseSensitive(j, "dilation") && (rc = get_ints(r, j, "dilation", 2, 2, 1, 1 << 16, v, &n)))
        return rc;
    op->dilation_h = v[0];
    op->dilation_w = v[1];
    v[0] = v[1] = v[2] = v[3] = 0;
    if (cJSON_GetObjectItemCaseSensitive(j, "padding") && (rc = get_ints(r, j, "padding", 4, 4, 0, 1 << 16, v, &n)))
        return rc;
    op->pad_top = v[0];
    op->pad_left = v[1];
    op->pad_bottom = v[2];
    op->pad_right = v[3];
    op->act = get_str(j, "act", "none");
    if ((rc = get_i32(r, j, "act_min", 0, -128, -128, 127, &op->act_min)) ||
        (rc = get_i32(r, j, "act_max", 0, 127, -128, 127, &op->act_max)))
        return rc;
    const void *p;
    switch (op->type) {
    case SB_OP_CONV2D:
    case SB_OP_DWCONV2D:
    case SB_OP_FC:
        if (op->n_inputs < 2) return rfail(r, "inputs", "expected [x, weights, bias]");
        if (op->type != SB_OP_FC) {
            const sb_tensor *w = &g->tensors[op->inputs[1]];
            if (w->rank == 4) {
                op->kernel_h = w->shape[1];
                op->kernel_w = w->shape[2];
            }
        }
        return read_requant_wop(r, j, op);
    case SB_OP_ADD:
    case SB_OP_MUL:
    case SB_OP_GAVGPOOL: return read_requant_scalar(r, j, op, ints, flt);
    case SB_OP_LUT:
        if ((rc = get_ref(r, j, "table", 1, SB_DT_INT8, 256, &p, NULL))) return rc;
        op->lut = p;
        return SB_OK;
    case SB_OP_MAXPOOL: return SB_OK;
    }
    return SB_OK;
}

static int read_ops(rd *r, const cJSON *arr) {
    sb_model_file *mf = r->mf;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 1) return rfail(r, "ops", "expected a non-empty array");
    mf->ops = calloc((size_t)n, sizeof *mf->ops);
    mf->scalars = calloc((size_t)n * 2, sizeof *mf->scalars);
    mf->fscalars = calloc((size_t)n, sizeof *mf->fscalars);
    if (!mf->ops || !mf->scalars || !mf->fscalars) return sb_error_set(r->err, SB_ENOMEM, "%s: out of memory", r->path);
    mf->g.ops = mf->ops;
    mf->g.n_ops = n;
    int i = 0, rc;
    const cJSON *j;
    cJSON_ArrayForEach(j, arr) {
        sb_op *op = &mf->ops[i];
        op->name = get_str(j, "name", "");
        snprintf(r->where, sizeof r->where, "ops[%d] '%s'", i, op->name);
        if (!cJSON_IsObject(j)) return rfail(r, NULL, "expected an object");
        if ((rc = read_op(r, j, op, &mf->scalars[2 * i], &mf->fscalars[i]))) return rc;
        i++;
    }
    return SB_OK;
}

/* ----------------------------------------------------------------- text */

/* Every key and string of the header must be UTF-8: names and provenance are
 * copied into results.json, which no longer parses otherwise (cJSON takes
 * any bytes). `path` holds the field reached so far, "tensors[3].name". */
static int check_utf8(rd *r, const cJSON *j, char *path, size_t len, size_t cap) {
    const cJSON *c;
    int i = 0, rc;
    if (cJSON_IsString(j)) {
        size_t n = strlen(j->valuestring), ok = sb_utf8_valid_prefix(j->valuestring, n);
        if (ok < n)
            return rfail(r, path, "invalid UTF-8 (byte 0x%02x at byte %zu of the string): expected UTF-8 text",
                         (unsigned char)j->valuestring[ok], ok);
        return SB_OK;
    }
    cJSON_ArrayForEach(c, j) {
        size_t m;
        if (cJSON_IsObject(j)) {
            size_t n = strlen(c->string), ok = sb_utf8_valid_prefix(c->string, n);
            if (ok < n)
                return rfail(r, len ? path : "header", "a key: invalid UTF-8 (byte 0x%02x at byte %zu of the key): "
                             "expected UTF-8 text", (unsigned char)c->string[ok], ok);
            m = (size_t)snprintf(path + len, cap - len, "%s%s", len ? "." : "", c->string);
        } else
            m = (size_t)snprintf(path + len, cap - len, "[%d]", i);
        if ((rc = check_utf8(r, c, path, len + m < cap ? len + m : cap - 1, cap))) return rc;
        path[len] = 0;
        i++;
    }
    return SB_OK;
}

/* --------------------------------------------------------- float values */

/* Float tensors hold scales and fp32 weights. NaN, an infinity or an absurd
 * value (1e30) passes every shape check but gives constant predictions (or an
 * out-of-range float->int conversion), so each value is checked after the
 * shapes, naming the op or tensor, the tensor and the index
 * (docs/model-format.md, "Limits"). */
#define SB_F32_DATA_MAX 16777216.0    /* 2^24: weights, biases, channel scales */
#define SB_RQ_PRODUCT_MAX 1073741824.0 /* 2^30: requant scale x accumulator */

static int32_t tensor_of(const sb_graph *g, const void *p);

/* v in [lo, hi] (NaN is not); names tensor t's element i, or the field. */
static int check_f32(rd *r, const char *field, const float *v, int32_t i, double lo, double hi,
                     const char *why) {
    if (v[i] >= lo && v[i] <= hi) return SB_OK;
    const sb_graph *g = &r->mf->g;
    int32_t t = tensor_of(g, v);
    char range[64];
    if (lo > 0)
        snprintf(range, sizeof range, "positive, at most %.9g", hi);
    else
        snprintf(range, sizeof range, "%.9g..%.9g", lo, hi);
    if (t < 0)
        return rfail(r, field, "%g: expected a finite float32 %s%s", (double)v[i], range, why);
    return rfail(r, field, "tensor %d '%s'[%d] = %g: expected a finite float32 %s%s", (int)t, g->tensors[t].name,
                 (int)i, (double)v[i], range, why);
}

/* A requantisation scale of channel ch: scale x the largest |value| it can
 * multiply stays within 2^30, so (int32) rintf(acc * scale) is always in
 * range with room for float32 rounding. */
static int check_rq_scale(rd *r, const sb_op *op, const char *field, const float *v, int32_t i, int32_t ch) {
    const sb_graph *g = &r->mf->g;
    int64_t bound = sb_op_acc_bound(g, op, ch);
    double hi = SB_RQ_PRODUCT_MAX / (double)(bound > 0 ? bound : 1);
    char why[128];
    snprintf(why, sizeof why, " (2^30 / %lld, the largest |value| it multiplies)", (long long)bound);
    return check_f32(r, field, v, i, 0.0, hi, why);
}

static int check_op_floats(rd *r, const sb_op *op) {
    int rc = SB_OK;
    for (int32_t i = 0; op->scale_f32 && i < op->n_requant && rc == SB_OK; i++)
        rc = check_rq_scale(r, op, "scale_f32", op->scale_f32, i, i);
    if (rc == SB_OK && op->type == SB_OP_ADD)
        rc = check_rq_scale(r, op, "scale_b_f32", &op->scale_b_f32, 0, 0);
    if (op->type > SB_OP_FC) return rc;
    const sb_tensor *w = &r->mf->g.tensors[op->inputs[1]];
    int64_t nw = op->weights_f32 ? sb_tensor_elems(w) : 0;
    for (int64_t i = 0; i < nw && rc == SB_OK; i++)
        rc = check_f32(r, "weights_f32", op->weights_f32, (int32_t)i, -SB_F32_DATA_MAX, SB_F32_DATA_MAX, "");
    for (int32_t i = 0; op->bias_f32 && i < op->n_requant && rc == SB_OK; i++)
        rc = check_f32(r, "bias_f32", op->bias_f32, i, -SB_F32_DATA_MAX, SB_F32_DATA_MAX, "");
    return rc;
}

static int check_floats(rd *r) {
    const sb_graph *g = &r->mf->g;
    int rc = SB_OK;
    for (int32_t t = 0; t < g->n_tensors && rc == SB_OK; t++) {
        const sb_tensor *x = &g->tensors[t];
        snprintf(r->where, sizeof r->where, "tensors[%d] '%s'", (int)t, x->name);
        for (int32_t i = 0; i < x->n_channel_scales && rc == SB_OK; i++)
            rc = check_f32(r, "channel_scales", x->channel_scales, i, FLT_MIN, SB_F32_DATA_MAX,
                           " (a symmetric weight scale)");
    }
    for (int32_t i = 0; i < g->n_ops && rc == SB_OK; i++) {
        snprintf(r->where, sizeof r->where, "ops[%d] '%s'", (int)i, g->ops[i].name);
        rc = check_op_floats(r, &g->ops[i]);
    }
    r->where[0] = 0;
    return rc;
}

/* ---------------------------------------------------------------- graph */

/* A class name reaches tables, charts and file names raw: no control
 * character and no bidirectional control (U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069: they reorder the text shown after them). The byte offset
 * of the first such character of a valid UTF-8 name (its code point in
 * *cp), or -1. */
static long bad_name_char(const char *s, unsigned *cp) {
    const unsigned char *u = (const unsigned char *)s;
    for (long i = 0; u[i]; i++) {
        int bidi = u[i] == 0xe2 && ((u[i + 1] == 0x80 && ((u[i + 2] >= 0x8e && u[i + 2] <= 0x8f) ||
                                                           (u[i + 2] >= 0xaa && u[i + 2] <= 0xae))) ||
                                    (u[i + 1] == 0x81 && u[i + 2] >= 0xa6 && u[i + 2] <= 0xa9));
        if (u[i] < 0x20 || u[i] == 0x7f) *cp = u[i];
        else if (bidi) *cp = 0x2000u + ((unsigned)(u[i + 1] & 0x3fu) << 6) + (u[i + 2] & 0x3fu);
        else continue;
        return i;
    }
    return -1;
}

static int read_graph(rd *r, const cJSON *root) {
    sb_model_file *mf = r->mf;
    sb_graph *g = &mf->g;
    int rc;
    r->where[0] = 0;
    if (!cJSON_IsObject(root)) return rfail(r, "header", "expected a JSON object");
    char path[160] = "";
    if ((rc = check_utf8(r, root, path, 0, sizeof path))) return rc;
    const char *fmt = get_str(root, "format", NULL);
    if (!fmt || strcmp(fmt, "srambench-model") != 0)
        return rfail(r, "format", "\"%s\": expected \"srambench-model\"", fmt ? fmt : "(missing)");
    g->name = get_str(root, "name", "");
    const char *rq = get_str(root, "requant", NULL);
    if (rq && strcmp(rq, "fixed") == 0) g->requant = SB_REQUANT_FIXED;
    else if (rq && strcmp(rq, "float") == 0) g->requant = SB_REQUANT_FLOAT;
    else return rfail(r, "requant", "\"%s\": expected \"fixed\" or \"float\"", rq ? rq : "(missing)");
    if ((rc = read_tensors(r, cJSON_GetObjectItemCaseSensitive(root, "tensors")))) return rc;
    r->where[0] = 0;
    if ((rc = get_i32(r, root, "input", 1, 0, 0, g->n_tensors - 1, &g->input)) ||
        (rc = get_i32(r, root, "output", 1, 0, 0, g->n_tensors - 1, &g->output)))
        return rc;
    if ((rc = read_ops(r, cJSON_GetObjectItemCaseSensitive(root, "ops")))) return rc;
    r->where[0] = 0;
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (classes) {
        int n = cJSON_IsArray(classes) ? cJSON_GetArraySize(classes) : -1;
        if (n < 1) return rfail(r, "classes", "expected a non-empty array of strings");
        mf->class_names = calloc((size_t)n, sizeof *mf->class_names);
        if (!mf->class_names) return sb_error_set(r->err, SB_ENOMEM, "%s: out of memory", r->path);
        int i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, classes) {
            unsigned cp = 0;
            long at;
            if (!cJSON_IsString(c)) return rfail(r, "classes", "element %d: expected a string", i);
            if (!c->valuestring[0]) return rfail(r, "classes", "element %d: empty: expected a class name", i);
            if ((at = bad_name_char(c->valuestring, &cp)) >= 0)
                return rfail(r, "classes", "element %d: U+%04X at byte %ld: expected a class name without control "
                             "or bidirectional-override characters (it is shown in tables and file names)",
                             i, cp, at);
            mf->class_names[i++] = c->valuestring;
        }
        g->n_classes = n;
        g->class_names = mf->class_names;
    } else {
        g->n_classes = (int32_t)sb_tensor_elems(&g->tensors[g->output]);
    }
    if ((rc = get_temperature(r, root, &g->temperature))) return rc;
    const cJSON *prov = cJSON_GetObjectItemCaseSensitive(root, "provenance");
    if (prov) {
        if (!cJSON_IsObject(prov)) return rfail(r, "provenance", "expected an object");
        mf->provenance = cJSON_PrintUnformatted(prov);
        g->provenance_json = mf->provenance;
    }
    const sb_tensor *in = &g->tensors[g->input];
    if (in->rank != 4 || in->shape[0] != 1 || in->shape[3] != 3 || in->dtype != SB_DT_INT8 || in->data)
        return rfail(r, "input", "tensor %d '%s': expected an int8 activation [1,H,W,3] (RGB)", (int)g->input, in->name);
    sb_error verr = {0};
    if ((rc = sb_graph_validate(g, &verr)))
        return sb_error_set(r->err, rc, "%s: shapes do not chain: %s", r->path, verr.msg);
    return check_floats(r);
}

/* ------------------------------------------------------------- loading */

static int read_file(const char *path, uint8_t **buf, size_t *size, sb_error *err) {
    FILE *f;
    /* a FIFO or a device is refused before the read that would never end */
    int rc = sb_fopen_regular(path, "an .sbm model file", &f, err);
    if (rc < 0) return rc;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return sb_error_set(err, SB_EIO, "%s: cannot determine the file size", path);
    }
    void *p = NULL;
    if (posix_memalign(&p, SB_SBM_ALIGN_BYTES, (size_t)n + 1)) {
        fclose(f);
        return sb_error_set(err, SB_ENOMEM, "%s: out of memory for %ld bytes", path, n);
    }
    size_t got = fread(p, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        free(p);
        return sb_error_set(err, SB_EIO, "%s: read %zu of %ld bytes", path, got, n);
    }
    *buf = p;
    *size = (size_t)n;
    return SB_OK;
}

/* The fixed 64-byte header: magic, version, lengths, CRC. */
static int check_fixed(const char *path, const uint8_t *b, size_t size, uint64_t *hlen, uint64_t *doff,
                       uint64_t *dlen, sb_error *err) {
    if (size < SB_SBM_FIXED_BYTES)
        return sb_error_set(err, SB_EFORMAT, "%s: truncated: %zu bytes, expected at least the 64-byte header", path, size);
    if (memcmp(b, SB_SBM_MAGIC, 8) != 0)
        return sb_error_set(err, SB_EFORMAT, "%s: bad magic: expected \"SBMODEL\\0\" at offset 0 (not an .sbm file)", path);
    uint32_t major = rd32(b + 8), minor = rd32(b + 12);
    if (major != SB_SBM_VERSION_MAJOR)
        return sb_error_set(err, SB_EFORMAT, "%s: version_major %u.%u: expected %d (this reader reads %d.x)", path,
                            major, minor, SB_SBM_VERSION_MAJOR, SB_SBM_VERSION_MAJOR);
    *hlen = rd64(b + 16);
    *doff = rd64(b + 24);
    *dlen = rd64(b + 32);
    /* Checked first and alone: 64 + header_len would wrap around for a huge
     * header_len and slip past the data_offset check below. */
    if (*hlen > size - SB_SBM_FIXED_BYTES)
        return sb_error_set(err, SB_EFORMAT, "%s: header_len %llu: expected at most the file's %zu bytes after the 64-byte header",
                            path, (unsigned long long)*hlen, size - SB_SBM_FIXED_BYTES);
    if (*doff % SB_SBM_ALIGN_BYTES || *doff < SB_SBM_FIXED_BYTES + *hlen || *doff > size)
        return sb_error_set(err, SB_EFORMAT,
                            "%s: data_offset %llu: expected a multiple of 64, at least 64 + header_len (%llu), within the file (%zu bytes)",
                            path, (unsigned long long)*doff, (unsigned long long)*hlen, size);
    /* data_offset + data_len can wrap around: say so rather than print the
     * wrapped sum as the size expected. */
    if (*dlen > UINT64_MAX - *doff)
        return sb_error_set(err, SB_EFORMAT, "%s: data_len %llu: data_offset (%llu) + data_len overflows 64 bits: "
                            "expected at most the file's %zu bytes after data_offset", path,
                            (unsigned long long)*dlen, (unsigned long long)*doff, size - (size_t)*doff);
    if (*dlen > size - *doff)
        return sb_error_set(err, SB_EFORMAT, "%s: truncated: %zu bytes, expected data_offset + data_len = %llu", path,
                            size, (unsigned long long)(*doff + *dlen));
    uint32_t want = rd32(b + 40), got = sb_crc32(0, b + SB_SBM_FIXED_BYTES, (size_t)(*doff + *dlen) - SB_SBM_FIXED_BYTES);
    if (want != got)
        return sb_error_set(err, SB_ECHECKSUM, "%s: crc32 mismatch: header says 0x%08x, bytes [64, %llu) give 0x%08x (corrupt file)",
                            path, want, (unsigned long long)(*doff + *dlen), got);
    return SB_OK;
}

int sb_model_file_load(const char *path, sb_model_file **out, sb_error *err) {
    sb_model_file *mf = calloc(1, sizeof *mf);
    if (!mf) return sb_error_set(err, SB_ENOMEM, "%s: out of memory", path);
    mf->path = strdup(path);
    int rc = mf->path ? read_file(path, &mf->buf, &mf->size, err) : sb_error_set(err, SB_ENOMEM, "out of memory");
    uint64_t hlen = 0, doff = 0, dlen = 0;
    if (rc == SB_OK) rc = check_fixed(path, mf->buf, mf->size, &hlen, &doff, &dlen, err);
    if (rc == SB_OK) {
        mf->root = cJSON_ParseWithLength((const char *)mf->buf + SB_SBM_FIXED_BYTES, (size_t)hlen);
        if (!mf->root) {
            const char *at = cJSON_GetErrorPtr();
            long pos = at ? (long)(at - ((const char *)mf->buf + SB_SBM_FIXED_BYTES)) : -1;
            rc = sb_error_set(err, SB_EFORMAT, "%s: JSON header: syntax error near byte %ld of %llu: expected valid JSON",
                              path, pos, (unsigned long long)hlen);
        }
    }
    if (rc == SB_OK) {
        rd r = {mf, path, err, (size_t)dlen, mf->buf + doff, {0}};
        rc = read_graph(&r, mf->root);
    }
    if (rc) {
        sb_model_file_free(mf);
        return rc;
    }
    *out = mf;
    return SB_OK;
}

const sb_graph *sb_model_file_graph(const sb_model_file *mf) { return &mf->g; }

sb_model_file *sb_model_file_from_graph(const sb_graph *g) { return (sb_model_file *)(void *)(uintptr_t)g; }

void sb_model_file_free(sb_model_file *mf) {
    if (!mf) return;
    free(mf->path);
    free(mf->buf);
    cJSON_Delete(mf->root);
    free(mf->tensors);
    free(mf->ops);
    free(mf->class_names);
    free(mf->provenance);
    free(mf->scalars);
    free(mf->fscalars);
    free(mf);
}

/* -------------------------------------------------------------- writing */

int sb_model_file_write_raw(const char *path, const char *json, const void *data, size_t data_len, sb_error *err) {
    size_t hlen = strlen(json);
    size_t doff = (SB_SBM_FIXED_BYTES + hlen + SB_SBM_ALIGN_BYTES - 1) & ~(size_t)(SB_SBM_ALIGN_BYTES - 1);
    size_t total = doff + data_len;
    uint8_t *b = calloc(1, total ? total : 1);
    if (!b) return sb_error_set(err, SB_ENOMEM, "%s: out of memory for %zu bytes", path, total);
    memcpy(b, SB_SBM_MAGIC, 8);
    wr32(b + 8, SB_SBM_VERSION_MAJOR);
    wr32(b + 12, SB_SBM_VERSION_MINOR);
    wr64(b + 16, hlen);
    wr64(b + 24, doff);
    wr64(b + 32, data_len);
    memcpy(b + SB_SBM_FIXED_BYTES, json, hlen);
    if (data_len) memcpy(b + doff, data, data_len);
    wr32(b + 40, sb_crc32(0, b + SB_SBM_FIXED_BYTES, total - SB_SBM_FIXED_BYTES));
    /* temp file and rename: a reader never sees half a model, and a link
     * planted at either name is not followed (no fsync: the fuzzer writes
     * a model per input) */
    int rc = sb_file_write_atomic_nosync(path, b, total, err);
    free(b);
    return rc;
}

/* Index of the tensor whose data is p, -1 if none. */
static int32_t tensor_of(const sb_graph *g, const void *p) {
    for (int32_t t = 0; p && t < g->n_tensors; t++)
        if (g->tensors[t].data == p) return t;
    return -1;
}

static int add_ref(cJSON *o, const char *key, const sb_graph *g, int32_t i, const void *p, int required,
                   const char *path, sb_error *err) {
    if (!p && !required) return SB_OK;
    int32_t t = tensor_of(g, p);
    if (t < 0)
        return sb_error_set(err, SB_EINVAL, "%s: op %d '%s': %s does not point at any tensor's data: expected one",
                            path, (int)i, g->ops[i].name ? g->ops[i].name : "", key);
    cJSON_AddNumberToObject(o, key, t);
    return SB_OK;
}

static cJSON *int_array(const int32_t *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static int write_op(cJSON *ops, const sb_graph *g, int32_t i, const char *path, sb_error *err) {
    static const char *names[] = {NULL, "conv2d", "dwconv2d", "fc", "add", "mul", "gavgpool", "maxpool", "lut"};
    const sb_op *op = &g->ops[i];
    int fixed = g->requant == SB_REQUANT_FIXED, rc = SB_OK;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(ops, o);
    cJSON_AddStringToObject(o, "type", names[op->type]);
    cJSON_AddStringToObject(o, "name", op->name ? op->name : "");
    cJSON_AddItemToObject(o, "inputs", int_array(op->inputs, op->n_inputs));
    cJSON_AddNumberToObject(o, "output", op->output);
    int32_t k[2] = {op->kernel_h, op->kernel_w}, s[2] = {op->stride_h, op->stride_w};
    int32_t d[2] = {op->dilation_h, op->dilation_w};
    int32_t p[4] = {op->pad_top, op->pad_left, op->pad_bottom, op->pad_right};
    cJSON_AddItemToObject(o, "kernel", int_array(k, 2));
    cJSON_AddItemToObject(o, "stride", int_array(s, 2));
    cJSON_AddItemToObject(o, "dilation", int_array(d, 2));
    cJSON_AddItemToObject(o, "padding", int_array(p, 4));
    cJSON_AddStringToObject(o, "act", op->act ? op->act : "none");
    cJSON_AddNumberToObject(o, "act_min", op->act_min);
    cJSON_AddNumberToObject(o, "act_max", op->act_max);
    switch (op->type) {
    case SB_OP_CONV2D:
    case SB_OP_DWCONV2D:
    case SB_OP_FC:
        if ((rc = add_ref(o, "multiplier", g, i, op->multiplier, fixed, path, err)) ||
            (rc = add_ref(o, "shift", g, i, op->shift, fixed, path, err)) ||
            (rc = add_ref(o, "scale_f32", g, i, op->scale_f32, !fixed, path, err)) ||
            (rc = add_ref(o, "weights_f32", g, i, op->weights_f32, 0, path, err)) ||
            (rc = add_ref(o, "bias_f32", g, i, op->bias_f32, 0, path, err)))
            return rc;
        break;
    case SB_OP_ADD:
    case SB_OP_MUL:
    case SB_OP_GAVGPOOL:
        if (op->multiplier) cJSON_AddNumberToObject(o, "multiplier", op->multiplier[0]);
        if (op->shift) cJSON_AddNumberToObject(o, "shift", op->shift[0]);
        if (op->scale_f32) cJSON_AddNumberToObject(o, "scale_f32", op->scale_f32[0]);
        if (op->type != SB_OP_ADD) break;
        cJSON_AddNumberToObject(o, "left_shift", op->left_shift);
        cJSON_AddNumberToObject(o, "multiplier_b", op->multiplier_b);
        cJSON_AddNumberToObject(o, "shift_b", op->shift_b);
        cJSON_AddNumberToObject(o, "multiplier_out", op->multiplier_out);
        cJSON_AddNumberToObject(o, "shift_out", op->shift_out);
        cJSON_AddNumberToObject(o, "scale_b_f32", op->scale_b_f32);
        break;
    case SB_OP_LUT: rc = add_ref(o, "table", g, i, op->lut, 1, path, err); break;
    case SB_OP_MAXPOOL: break;
    }
    return rc;
}

static cJSON *tensor_json(const sb_graph *g, int32_t t, size_t offset) {
    static const char *dn[] = {"", "int8", "int32", "float32"};
    const sb_tensor *x = &g->tensors[t];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", x->name ? x->name : "");
    cJSON_AddStringToObject(o, "dtype", dn[x->dtype]);
    cJSON_AddItemToObject(o, "shape", int_array(x->shape, x->rank));
    if (x->data) {
        cJSON_AddNumberToObject(o, "offset", (double)offset);
        cJSON_AddNumberToObject(o, "nbytes", (double)x->nbytes);
        int32_t cs = tensor_of(g, x->channel_scales);
        if (cs >= 0) cJSON_AddNumberToObject(o, "channel_scales", cs);
    } else {
        cJSON_AddNumberToObject(o, "scale", x->scale);
        cJSON_AddNumberToObject(o, "zero_point", x->zero_point);
    }
    return o;
}

int sb_model_file_write(const char *path, const sb_graph *g, sb_error *err) {
    sb_error verr = {0};
    int rc = sb_graph_validate(g, &verr);
    if (rc) return sb_error_set(err, rc, "%s: not written: %s", path, verr.msg);
    size_t data_len = 0;
    size_t *offs = calloc((size_t)g->n_tensors, sizeof *offs);
    cJSON *root = cJSON_CreateObject(), *ts = cJSON_CreateArray(), *ops = cJSON_CreateArray();
    if (!offs || !root) {
        free(offs);
        cJSON_Delete(root);
        return sb_error_set(err, SB_ENOMEM, "%s: out of memory", path);
    }
    cJSON_AddStringToObject(root, "format", "srambench-model");
    cJSON_AddStringToObject(root, "name", g->name ? g->name : "");
    cJSON_AddStringToObject(root, "requant", g->requant == SB_REQUANT_FIXED ? "fixed" : "float");
    cJSON_AddNumberToObject(root, "input", g->input);
    cJSON_AddNumberToObject(root, "output", g->output);
    if (g->class_names) {
        cJSON *c = cJSON_CreateArray();
        for (int32_t i = 0; i < g->n_classes; i++) cJSON_AddItemToArray(c, cJSON_CreateString(g->class_names[i]));
        cJSON_AddItemToObject(root, "classes", c);
    }
    if (g->temperature != 0) cJSON_AddNumberToObject(root, "temperature", g->temperature);
    if (g->provenance_json) {
        cJSON *p = cJSON_Parse(g->provenance_json);
        if (p) cJSON_AddItemToObject(root, "provenance", p);
    }
    for (int32_t t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].data) {
            offs[t] = data_len;
            data_len = (data_len + g->tensors[t].nbytes + SB_SBM_ALIGN_BYTES - 1) & ~(size_t)(SB_SBM_ALIGN_BYTES - 1);
        }
        cJSON_AddItemToArray(ts, tensor_json(g, t, offs[t]));
    }
    cJSON_AddItemToObject(root, "tensors", ts);
    cJSON_AddItemToObject(root, "ops", ops);
    for (int32_t i = 0; i < g->n_ops && rc == SB_OK; i++) rc = write_op(ops, g, i, path, err);
    uint8_t *data = rc == SB_OK ? calloc(1, data_len ? data_len : 1) : NULL;
    char *json = data ? cJSON_PrintUnformatted(root) : NULL;
    if (rc == SB_OK && (!data || !json)) rc = sb_error_set(err, SB_ENOMEM, "%s: out of memory", path);
    if (rc == SB_OK) {
        for (int32_t t = 0; t < g->n_tensors; t++)
            if (g->tensors[t].data) memcpy(data + offs[t], g->tensors[t].data, g->tensors[t].nbytes);
        rc = sb_model_file_write_raw(path, json, data, data_len, err);
    }
    free(json);
    free(data);
    free(offs);
    cJSON_Delete(root);
    return rc;
}
