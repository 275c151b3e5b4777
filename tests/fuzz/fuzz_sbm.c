/*
 * fuzz_sbm.c - the .sbm model-file loader (docs/model-format.md).
 *
 * A stored CRC32 would stop nearly every mutation at the checksum, so the
 * target re-stamps it: an input starting with "SBMODEL\0" is a whole file
 * whose CRC is recomputed over what the header says it covers; any other
 * input is "<JSON header>\n#data\n<data block>", written with the library's
 * own sb_model_file_write_raw. Loaded graphs are walked so that every
 * pointer the loader hands out is touched, and small ones are run: the fast
 * and the reference INT8 kernels must give the same bytes (a graph the
 * loader accepts must be one the kernels can run), and the fp32 path must
 * not crash.
 *
 * An input starting with "SBGEN1" drives a structure-aware generator
 * instead (issue 19): its bytes pick a chain of ops with extreme but
 * legal-looking kernels, strides, dilations, paddings, biases and float
 * scales, and output shapes from the exact formula, from its int32-wrapped
 * form or from the bytes, so that two large values meet (dilation x kernel
 * past int32 was never reached by mutating JSON text). Every graph the
 * loader accepts is checked against an independent 64-bit oracle of the
 * window sizes and for non-finite float values.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_graph.h"
#include "fuzz_util.h"
#include "sb_kernels.h"
#include "sb_model_file.h"

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static const char *write_raw_restamped(const uint8_t *data, size_t size) {
    uint8_t *b = malloc(size);
    const char *path;
    if (!b) abort();
    memcpy(b, data, size);
    if (size >= SB_SBM_FIXED_BYTES) {
        uint64_t doff = le64(b + 24), dlen = le64(b + 32);
        if (doff >= SB_SBM_FIXED_BYTES && doff <= size && dlen <= size - doff) {
            uint32_t crc = sb_crc32(0, b + SB_SBM_FIXED_BYTES, (size_t)(doff + dlen) - SB_SBM_FIXED_BYTES);
            for (int i = 0; i < 4; i++) b[40 + i] = (uint8_t)(crc >> (8 * i));
        }
    }
    path = fuzz_write("fuzz.sbm", b, size);
    free(b);
    return path;
}

static const char *write_split(const uint8_t *data, size_t size) {
    const uint8_t *json, *blob;
    size_t n_json, n_blob;
    char *j;
    sb_error err = {0, ""};
    const char *path = fuzz_write("fuzz.sbm", (const uint8_t *)"", 0);
    fuzz_split(data, size, "\n#data\n", &json, &n_json, &blob, &n_blob);
    if (!(j = malloc(n_json + 1))) abort();
    memcpy(j, json, n_json);
    j[n_json] = 0;   /* an embedded NUL just ends the JSON early */
    if (sb_model_file_write_raw(path, j, blob, n_blob, &err) != SB_OK) abort();
    free(j);
    return path;
}

/* ------------------------------------------------ the structure generator */

#define GEN_MAGIC "SBGEN1"
#define GEN_TEXT_BYTES 32768
#define GEN_DATA_BYTES (1 << 19)
#define GEN_WEIGHT_BYTES (1 << 18)

typedef struct gen_buf {
    char s[GEN_TEXT_BYTES];
    size_t len;
} gen_buf;

typedef struct gen {
    const uint8_t *p;
    size_t n, i;
    gen_buf tensors, ops;
    uint8_t *data;
    size_t dlen;
    int nt, nops;            /* tensors and ops written */
    int fixed;
} gen;

/* The graph's running activation. */
typedef struct gen_act {
    int t, rank;
    int32_t shape[4];
    int32_t zp;
} gen_act;

static uint32_t g_byte(gen *g) { return g->i < g->n ? g->p[g->i++] : 0; }

static int32_t g_pick(gen *g, const int32_t *tab, int n) { return tab[g_byte(g) % (uint32_t)n]; }

__attribute__((format(printf, 2, 3)))
static void g_put(gen_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->len, sizeof b->s - b->len, fmt, ap);
    va_end(ap);
    if (k > 0 && (size_t)k < sizeof b->s - b->len) b->len += (size_t)k;
}

static const int32_t g_small[] = {1, 2, 3, 4, 5, 7, 8, 16};
static const int32_t g_huge[] = {32767, 32768, 65535, 65536, 1 << 20, INT32_MAX};
static const int32_t g_step[] = {1, 1, 2, 3, 255, 256, 32767, 32768, 32769, 65535, 65536};
static const int32_t g_pad[] = {0, 0, 1, 2, 255, 32768, 65535, 65536};
static const int32_t g_kern[] = {1, 2, 3, 5, 7, 256, 32769, 32770, 65535, 65536};
static const int32_t g_bias[] = {0, 100, -100, 1 << 30, INT32_MAX, INT32_MIN, 2147385727};
static const int32_t g_mult[] = {0, 1 << 30, INT32_MAX, (1 << 30) + 12345};
static const int32_t g_shift[] = {-31, -8, -3, -1, 0, 1, 30};
static const float g_float[] = {0.0f, 1e-6f, 0.01f, 0.5f, 1.0f, 255.0f, 1e4f, 1e10f, 1e30f, INFINITY, NAN, -1.0f};
static const char *const g_fscalar[] = {"0", "1e-06", "0.01", "0.5", "1", "255", "16512", "1e10", "1e30", "-1",
                                        "3.4e38"};

static int32_t g_dim(gen *g) { return g_byte(g) % 8 ? g_pick(g, g_small, 8) : g_pick(g, g_huge, 6); }

static void g_shape(gen_buf *b, int rank, const int32_t *shape) {
    g_put(b, "\"shape\":[");
    for (int i = 0; i < rank; i++) g_put(b, i ? ",%d" : "%d", (int)shape[i]);
    g_put(b, "]");
}

static int g_act(gen *g, int rank, const int32_t *shape, int32_t zp) {
    static const char *const scales[] = {"0.05", "0.1", "1", "0.00392157", "1e-05"};
    g_put(&g->tensors, "%s{\"name\":\"a%d\",\"dtype\":\"int8\",", g->nt ? "," : "", g->nt);
    g_shape(&g->tensors, rank, shape);
    g_put(&g->tensors, ",\"scale\":%s,\"zero_point\":%d}", scales[g_byte(g) % 5], (int)zp);
    return g->nt++;
}

/* Constant data, 64-aligned: src, or bytes of the input when src is NULL. */
static int g_const(gen *g, const char *dtype, int rank, const int32_t *shape, const void *src, size_t nbytes,
                   int cs) {
    size_t off = (g->dlen + 63) & ~(size_t)63;
    if (off + nbytes > GEN_DATA_BYTES) off = 0; /* left out: it runs past data_len, a refusal */
    else {
        for (size_t k = 0; k < nbytes; k++)
            g->data[off + k] = src ? ((const uint8_t *)src)[k] : (uint8_t)g_byte(g);
        g->dlen = off + nbytes;
    }
    g_put(&g->tensors, "%s{\"name\":\"c%d\",\"dtype\":\"%s\",", g->nt ? "," : "", g->nt, dtype);
    g_shape(&g->tensors, rank, shape);
    g_put(&g->tensors, ",\"offset\":%zu,\"nbytes\":%zu", off, nbytes);
    if (cs >= 0) g_put(&g->tensors, ",\"channel_scales\":%d", cs);
    g_put(&g->tensors, "}");
    return g->nt++;
}

static int g_floats(gen *g, int32_t n) {
    float v[64] = {0};
    int32_t shape[1] = {n};
    for (int32_t k = 0; k < n && k < 64; k++) v[k] = g_float[g_byte(g) % 12];
    return g_const(g, "float32", 1, shape, v, (size_t)(n < 64 ? n : 64) * sizeof(float), -1);
}

static int g_ints(gen *g, int32_t n, const int32_t *tab, int ntab) {
    int32_t v[64] = {0};
    int32_t shape[1] = {n};
    for (int32_t k = 0; k < n && k < 64; k++) v[k] = g_pick(g, tab, ntab);
    return g_const(g, "int32", 1, shape, v, (size_t)(n < 64 ? n : 64) * sizeof(int32_t), -1);
}

/* An output size: the exact formula, its int32-wrapped form (what a
 * validator that overflows would expect), or any size. */
static int32_t g_out(gen *g, int32_t in, int32_t k, int32_t s, int32_t d, int32_t pa, int32_t pb) {
    switch (g_byte(g) % 3) {
    case 0: {
        int64_t span = (int64_t)in + pa + pb - (int64_t)d * (k - 1) - 1;
        int64_t o = span < 0 ? 1 : span / s + 1;
        return o > INT32_MAX ? INT32_MAX : (int32_t)o;
    }
    case 1: {
        uint32_t span = (uint32_t)in + (uint32_t)pa + (uint32_t)pb - (uint32_t)d * (uint32_t)(k - 1) - 1u;
        return (int32_t)span < 0 ? 1 : (int32_t)span / s + 1;
    }
    default: return g_dim(g);
    }
}

/* Requantisation fields of a conv/dw/fc op with O channels. */
static void g_requant_wop(gen *g, int32_t O, int64_t wsize) {
    if (g->fixed) {
        int m = g_ints(g, O, g_mult, 4), s = g_ints(g, O, g_shift, 7);
        g_put(&g->ops, ",\"multiplier\":%d,\"shift\":%d", m, s);
    } else {
        g_put(&g->ops, ",\"scale_f32\":%d", g_floats(g, O));
    }
    if (g_byte(g) % 2) g_put(&g->ops, ",\"bias_f32\":%d", g_floats(g, O));
    if (wsize <= 64 && g_byte(g) % 2) g_put(&g->ops, ",\"weights_f32\":%d", g_floats(g, (int32_t)wsize));
}

static void g_requant_scalar(gen *g, int add) {
    if (g->fixed)
        g_put(&g->ops, ",\"multiplier\":%d,\"shift\":%d", (int)g_pick(g, g_mult, 4), (int)g_pick(g, g_shift, 7));
    else
        g_put(&g->ops, ",\"scale_f32\":%s", g_fscalar[g_byte(g) % 11]);
    if (!add) return;
    g_put(&g->ops, ",\"left_shift\":%d,\"multiplier_b\":%d,\"shift_b\":%d,\"multiplier_out\":%d,\"shift_out\":%d",
          (int)(g_byte(g) % 23), (int)g_pick(g, g_mult, 4), (int)g_pick(g, g_shift, 7), (int)g_pick(g, g_mult, 4),
          (int)g_pick(g, g_shift, 7));
    if (!g->fixed) g_put(&g->ops, ",\"scale_b_f32\":%s", g_fscalar[g_byte(g) % 11]);
}

static void g_op_head(gen *g, const char *type, const int *in, int n_in, int out) {
    int k = g->nops++;
    g_put(&g->ops, "%s{\"type\":\"%s\",\"name\":\"o%d\",\"inputs\":[", k ? "," : "", type, k);
    for (int i = 0; i < n_in; i++) g_put(&g->ops, i ? ",%d" : "%d", in[i]);
    g_put(&g->ops, "],\"output\":%d", out);
}

/* conv2d (type 1), dwconv2d (2) or maxpool (7) on x. */
static gen_act g_window(gen *g, const gen_act *x, int type) {
    int32_t C = x->shape[3], KH = g_pick(g, g_kern, 10), KW = g_byte(g) % 4 ? 1 : g_pick(g, g_kern, 10);
    int32_t sh = g_pick(g, g_step, 11), sw = g_pick(g, g_step, 11);
    int32_t dh = g_pick(g, g_step, 11), dw = g_pick(g, g_step, 11);
    int32_t pt = g_pick(g, g_pad, 8), pl = g_pick(g, g_pad, 8), pb = g_pick(g, g_pad, 8), pr = g_pick(g, g_pad, 8);
    int32_t O = type == 1 ? g_pick(g, g_small, 8) : C;
    int64_t wbytes = (int64_t)(type == 1 ? O : 1) * KH * KW * C;
    gen_act y = {0, 4, {1, 0, 0, O}, type == 7 ? x->zp : (int32_t)(g_byte(g) % 256) - 128};
    if (type != 7 && wbytes > GEN_WEIGHT_BYTES) {
        KH = KW = 1;
        wbytes = (int64_t)(type == 1 ? O : 1) * C;
    }
    y.shape[1] = g_out(g, x->shape[1], KH, sh, dh, pt, pb);
    y.shape[2] = g_out(g, x->shape[2], KW, sw, dw, pl, pr);
    int in[3] = {x->t, -1, -1};
    if (type != 7) {
        int32_t ws[4] = {type == 1 ? O : 1, KH, KW, C};
        int cs = g->fixed || g_byte(g) % 2 ? -1 : g_floats(g, O);
        in[1] = g_const(g, "int8", 4, ws, NULL, (size_t)wbytes, cs);
        in[2] = g_ints(g, O, g_bias, 7);
    }
    y.t = g_act(g, 4, y.shape, y.zp);
    g_op_head(g, type == 1 ? "conv2d" : type == 2 ? "dwconv2d" : "maxpool", in, type == 7 ? 1 : 3, y.t);
    if (type == 7) g_put(&g->ops, ",\"kernel\":[%d,%d]", (int)KH, (int)KW);
    g_put(&g->ops, ",\"stride\":[%d,%d],\"dilation\":[%d,%d],\"padding\":[%d,%d,%d,%d]", (int)sh, (int)sw, (int)dh,
          (int)dw, (int)pt, (int)pl, (int)pb, (int)pr);
    if (type != 7) g_requant_wop(g, O, wbytes);
    g_put(&g->ops, "}");
    return y;
}

/* add (3), mul (4), gavgpool (5), fc (6) or lut (0) on x. */
static gen_act g_other(gen *g, const gen_act *x, int type) {
    gen_act y = *x;
    int in[3] = {x->t, x->t, -1};
    int64_t n = 1;
    for (int i = 0; i < x->rank; i++)
        if (n < 4096) n *= x->shape[i]; /* only whether it is small matters (fc) */
    y.zp = (int32_t)(g_byte(g) % 256) - 128;
    if (type == 5) y.shape[1] = y.shape[2] = 1;
    if (type == 6) {
        int32_t O = g_pick(g, g_small, 8), ws[2] = {O, (int32_t)(n < 4096 ? n : 1)};
        in[1] = g_const(g, "int8", 2, ws, NULL, (size_t)O * (size_t)ws[1], -1);
        in[2] = g_ints(g, O, g_bias, 7);
        y.rank = 2;
        y.shape[0] = 1;
        y.shape[1] = O;
        y.t = g_act(g, 2, y.shape, y.zp);
        g_op_head(g, "fc", in, 3, y.t);
        g_requant_wop(g, O, (int64_t)O * ws[1]);
    } else if (type == 0) {
        int32_t ts[1] = {256};
        int lut = g_const(g, "int8", 1, ts, NULL, 256, -1);
        y.t = g_act(g, y.rank, y.shape, y.zp);
        g_op_head(g, "lut", in, 1, y.t);
        g_put(&g->ops, ",\"table\":%d", lut);
    } else {
        y.t = g_act(g, y.rank, y.shape, y.zp);
        g_op_head(g, type == 3 ? "add" : type == 4 ? "mul" : "gavgpool", in, type == 5 ? 1 : 2, y.t);
        g_requant_scalar(g, type == 3);
    }
    g_put(&g->ops, "}");
    return y;
}

/* Writes the generated model to a file; returns its path. */
static const char *write_generated(const uint8_t *data, size_t size) {
    gen *g = calloc(1, sizeof *g);
    sb_error err = {0, ""};
    const char *path = fuzz_write("fuzz.sbm", (const uint8_t *)"", 0);
    if (!g || !(g->data = calloc(1, GEN_DATA_BYTES))) abort();
    g->p = data + strlen(GEN_MAGIC);
    g->n = size - strlen(GEN_MAGIC);
    g->fixed = g_byte(g) % 2;
    gen_act x = {0, 4, {1, g_dim(g), g_dim(g), 3}, -128};
    x.t = g_act(g, 4, x.shape, x.zp);
    int n_ops = 1 + (int)(g_byte(g) % 4);
    for (int i = 0; i < n_ops && x.rank == 4; i++) {
        int type = (int)(g_byte(g) % 8);
        x = type == 1 || type == 2 || type == 7 ? g_window(g, &x, type) : g_other(g, &x, type);
    }
    char *json = malloc(2 * GEN_TEXT_BYTES + 256);
    if (!json) abort();
    snprintf(json, 2 * GEN_TEXT_BYTES + 256,
             "{\"format\":\"srambench-model\",\"name\":\"gen\",\"requant\":\"%s\",\"input\":0,\"output\":%d,"
             "\"tensors\":[%s],\"ops\":[%s]}", g->fixed ? "fixed" : "float", x.t, g->tensors.s, g->ops.s);
    if (sb_model_file_write_raw(path, json, g->data, g->dlen, &err) != SB_OK) abort();
    free(json);
    free(g->data);
    free(g);
    return path;
}

/* ---------------------------------------------------------- the oracles */

/* The output size of a window in 64 bits, written apart from the kernels'
 * sb_conv_out_dim (0: the window does not fit). */
static int64_t oracle_out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pa, int64_t pb) {
    int64_t span = in + pa + pb - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

/* A graph the loader accepted must have window outputs of the exact size
 * and finite float values (issue 19: both once passed). */
static void oracle(const sb_graph *g) {
    for (int32_t i = 0; i < g->n_ops; i++) {
        const sb_op *op = &g->ops[i];
        const sb_tensor *x = &g->tensors[op->inputs[0]], *y = &g->tensors[op->output];
        int win = op->type == SB_OP_CONV2D || op->type == SB_OP_DWCONV2D || op->type == SB_OP_MAXPOOL;
        if (win) {
            const sb_tensor *w = op->type == SB_OP_MAXPOOL ? NULL : &g->tensors[op->inputs[1]];
            int64_t kh = w ? w->shape[1] : op->kernel_h, kw = w ? w->shape[2] : op->kernel_w;
            if (y->shape[1] != oracle_out_dim(x->shape[1], kh, op->stride_h, op->dilation_h, op->pad_top,
                                              op->pad_bottom) ||
                y->shape[2] != oracle_out_dim(x->shape[2], kw, op->stride_w, op->dilation_w, op->pad_left,
                                              op->pad_right)) {
                fprintf(stderr, "fuzz_sbm: op %d: output [%d,%d] accepted, not the window's size\n", (int)i,
                        (int)y->shape[1], (int)y->shape[2]);
                abort();
            }
        }
        for (int32_t k = 0; g->requant == SB_REQUANT_FLOAT && op->scale_f32 && k < op->n_requant; k++)
            if (!isfinite(op->scale_f32[k])) abort();
        if (op->type == SB_OP_ADD && g->requant == SB_REQUANT_FLOAT && !isfinite(op->scale_b_f32)) abort();
        for (int32_t k = 0; op->bias_f32 && k < op->n_requant; k++)
            if (!isfinite(op->bias_f32[k])) abort();
    }
    for (int32_t t = 0; t < g->n_tensors; t++)
        for (int32_t c = 0; c < g->tensors[t].n_channel_scales; c++)
            if (!isfinite(g->tensors[t].channel_scales[c])) abort();
}

/* Keeps the walk from being optimised away. */
volatile unsigned fuzz_sbm_sink;

static void run_graph(const sb_graph *g) {
    int64_t in_n, out_n;
    sb_workspace *ws = NULL;
    sb_error err = {0, ""};
    int8_t *in, *fast, *ref;
    float *f32;
    int rc_fast, rc_ref;
    if (!fuzz_graph_small(g)) return;
    in_n = sb_tensor_elems(&g->tensors[g->input]);
    out_n = sb_tensor_elems(&g->tensors[g->output]);
    if (sb_workspace_new(g, &ws, &err) != SB_OK) return;
    in = malloc((size_t)in_n);
    fast = calloc((size_t)out_n, 1);
    ref = calloc((size_t)out_n, 1);
    f32 = calloc((size_t)out_n, sizeof *f32);
    if (!in || !fast || !ref || !f32) abort();
    for (int64_t k = 0; k < in_n; k++) in[k] = (int8_t)(k * 37 + 11);
    rc_fast = sb_graph_run_int8(g, ws, in, fast, &err);
    rc_ref = sb_graph_run_int8_ref(g, ws, in, ref, &err);
    if (rc_fast != rc_ref || (rc_fast == SB_OK && memcmp(fast, ref, (size_t)out_n) != 0)) {
        fprintf(stderr, "fuzz_sbm: fast and reference kernels disagree (rc %d vs %d)\n", rc_fast, rc_ref);
        abort();
    }
    (void)sb_graph_run_f32(g, ws, in, f32, &err);
    sb_workspace_free(ws);
    free(in); free(fast); free(ref); free(f32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_model_file *mf = NULL;
    sb_error err = {0, ""};
    const char *path;
    if (size >= 6 && memcmp(data, GEN_MAGIC, 6) == 0) path = write_generated(data, size);
    else if (size >= 8 && memcmp(data, SB_SBM_MAGIC, 8) == 0) path = write_raw_restamped(data, size);
    else path = write_split(data, size);
    if (sb_model_file_load(path, &mf, &err) != SB_OK) {
        if (err.msg[0] == 0) abort();
        return 0;
    }
    oracle(sb_model_file_graph(mf));
    fuzz_sbm_sink = fuzz_walk_graph(sb_model_file_graph(mf));
    run_graph(sb_model_file_graph(mf));
    sb_model_file_free(mf);
    return 0;
}
