/*
 * fp32.c - the float32 path of a graph, for the fp32 vs INT8 comparison.
 *
 * Same ops, same layouts, real values instead of int8: weights_f32/bias_f32
 * when the file has them, else w_int8 * channel_scale[o] and
 * bias_int32 * s_in * channel_scale[o]. Fused relu/relu6 and the LUT ops'
 * functions are computed in float. No requantisation anywhere.
 *
 * The hot loops are written once (always_inline) and compiled for AVX-512,
 * AVX2 and plain x86-64, picked at run time like the int8 kernels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SB_HAVE_X86 1
#endif

enum { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_SIGMOID, ACT_SILU, ACT_HARDSWISH, ACT_HARDSIGMOID, ACT_TANH };

static int act_parse(const char *s) {
    static const struct { const char *name; int id; } tab[] = {
        {"none", ACT_NONE}, {"identity", ACT_NONE}, {"relu", ACT_RELU}, {"relu6", ACT_RELU6},
        {"sigmoid", ACT_SIGMOID}, {"silu", ACT_SILU}, {"swish", ACT_SILU},
        {"hardswish", ACT_HARDSWISH}, {"hard_swish", ACT_HARDSWISH},
        {"hardsigmoid", ACT_HARDSIGMOID}, {"hard_sigmoid", ACT_HARDSIGMOID}, {"tanh", ACT_TANH}};
    if (!s) return ACT_NONE;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].name) == 0) return tab[i].id;
    return -1;
}

static inline float act_apply(int act, float v) {
    switch (act) {
    case ACT_RELU: return v > 0.0f ? v : 0.0f;
    case ACT_RELU6: return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case ACT_SILU: return v / (1.0f + expf(-v));
    case ACT_HARDSWISH: { float r = v + 3.0f; r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r; return v * r / 6.0f; }
    case ACT_HARDSIGMOID: { float r = v + 3.0f; r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r; return r / 6.0f; }
    case ACT_TANH: return tanhf(v);
    default: return v;
    }
}

/* Fused activation of conv/dw/fc outputs: only clamps, vectorisable. */
static void act_row(int act, float *y, int32_t n) {
    if (act == ACT_RELU)
        for (int32_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    else if (act == ACT_RELU6)
        for (int32_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i] > 6.0f ? 6.0f : y[i];
}

/* ---------------------------------------------------------------- packing */

static int op_fail(const sb_graph *g, const sb_op *op, sb_error *err, int code, const char *what) {
    return sb_error_set(err, code, "graph '%s': op %d '%s': %s", g->name ? g->name : "?",
                        (int)(op - g->ops), op->name ? op->name : "", what);
}

int sb_pack_f32(const sb_graph *g, const sb_op *op, sb_f32_w *fw, sb_error *err) {
    if (op->type != SB_OP_CONV2D && op->type != SB_OP_DWCONV2D && op->type != SB_OP_FC) {
        if (op->type == SB_OP_LUT && act_parse(op->act) < 0)
            return op_fail(g, op, err, SB_EUNSUPPORTED,
                           "lut act: expected sigmoid, silu, hardswish, hardsigmoid, relu, relu6, tanh or none");
        return SB_OK;
    }
    int a = act_parse(op->act);
    if (a != ACT_NONE && a != ACT_RELU && a != ACT_RELU6)
        return op_fail(g, op, err, SB_EUNSUPPORTED, "fused act: expected none, relu or relu6");
    const sb_tensor *tw = SB_T(g, op->inputs[1]), *ti = SB_T(g, op->inputs[0]);
    const int32_t *bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? SB_T(g, op->inputs[2])->data : NULL;
    int dw = op->type == SB_OP_DWCONV2D;
    int32_t O = dw ? tw->shape[3] : tw->shape[0];
    int32_t K = (int32_t)(sb_tensor_elems(tw) / O); /* dw: taps */
    int have_cs = tw->channel_scales && tw->n_channel_scales == O;
    if (!op->weights_f32 && !have_cs)
        return op_fail(g, op, err, SB_EFORMAT,
                       "fp32 path: no weights_f32 and the weights have no channel_scales (one per output channel) to dequantise");
    /* weights_f32 alone is not enough: an int32 bias is dequantised with them
     * too (a crafted file once crashed here on the missing scales) */
    if (bias && !op->bias_f32 && !have_cs)
        return op_fail(g, op, err, SB_EFORMAT,
                       "fp32 path: no bias_f32 and the weights have no channel_scales (one per output channel) to "
                       "dequantise the bias");
    fw->w = sb_aligned_alloc((size_t)K * O * sizeof(float));
    fw->b = sb_aligned_alloc((size_t)O * sizeof(float));
    if (!fw->w || !fw->b) return op_fail(g, op, err, SB_ENOMEM, "out of memory for fp32 weights");
    const int8_t *w8 = tw->data;
    for (int32_t o = 0; o < O; o++)
        for (int32_t k = 0; k < K; k++) {
            /* source index in the file's layout: [O][K] or dw [K][C] */
            size_t src = dw ? (size_t)k * O + o : (size_t)o * K + k;
            float v = op->weights_f32 ? op->weights_f32[src] : (float)w8[src] * tw->channel_scales[o];
            fw->w[(size_t)k * O + o] = v; /* [K][O] for both */
        }
    for (int32_t o = 0; o < O; o++) {
        if (op->bias_f32) fw->b[o] = op->bias_f32[o];
        else fw->b[o] = bias ? (float)((double)bias[o] * ti->scale * tw->channel_scales[o]) : 0.0f;
    }
    return SB_OK;
}

int sb_graph_f32_dequantised(const sb_graph *g) {
    for (int32_t i = 0; i < g->n_ops; i++) {
        sb_op_type t = g->ops[i].type;
        if ((t == SB_OP_CONV2D || t == SB_OP_DWCONV2D || t == SB_OP_FC) && !g->ops[i].weights_f32) return 1;
    }
    return 0;
}

#define F_ROWS 64 /* im2col rows per block */

size_t sb_f32_scratch_bytes(const sb_graph *g, const sb_op *op) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    if (op->type == SB_OP_CONV2D) {
        const sb_tensor *tw = SB_T(g, op->inputs[1]);
        return sb_size_mul(F_ROWS * sizeof(float), (size_t)(sb_tensor_elems(tw) / tw->shape[0]));
    }
    if (op->type == SB_OP_DWCONV2D) {
        size_t hp = (size_t)ti->shape[1] + (size_t)op->pad_top + (size_t)op->pad_bottom; /* each < 2^31 */
        size_t wp = (size_t)ti->shape[2] + (size_t)op->pad_left + (size_t)op->pad_right;
        size_t plane = sb_size_mul(sb_size_add(sb_size_mul(hp, wp), 1), (size_t)ti->shape[3]);
        return sb_size_add(sb_size_mul(plane, sizeof(float)), SB_ALIGN_BYTES);
    }
    return 0;
}

/* ------------------------------------------------------------ hot loops */

/* Y[p][o] = b[o] + sum_k X[p][k] * Wt[k][o], four rows at a time so each
 * weight row loaded serves four outputs. */
__attribute__((always_inline))
static inline void fgemm_body(const float *X, int32_t P, int32_t K, const float *Wt, const float *b,
                              int32_t O, float *Y) {
    int32_t p = 0;
    for (; p + 4 <= P; p += 4) {
        float *restrict y0 = Y + (size_t)p * O, *restrict y1 = y0 + O, *restrict y2 = y1 + O, *restrict y3 = y2 + O;
        const float *x0 = X + (size_t)p * K, *x1 = x0 + K, *x2 = x1 + K, *x3 = x2 + K;
        for (int32_t o = 0; o < O; o++) y0[o] = y1[o] = y2[o] = y3[o] = b[o];
        for (int32_t k = 0; k < K; k++) {
            const float *restrict w = Wt + (size_t)k * O;
            float a0 = x0[k], a1 = x1[k], a2 = x2[k], a3 = x3[k];
            for (int32_t o = 0; o < O; o++) {
                y0[o] += a0 * w[o];
                y1[o] += a1 * w[o];
                y2[o] += a2 * w[o];
                y3[o] += a3 * w[o];
            }
        }
    }
    for (; p < P; p++) {
        float *restrict y = Y + (size_t)p * O;
        const float *x = X + (size_t)p * K;
        for (int32_t o = 0; o < O; o++) y[o] = b[o];
        for (int32_t k = 0; k < K; k++) {
            const float *restrict w = Wt + (size_t)k * O;
            float a = x[k];
            for (int32_t o = 0; o < O; o++) y[o] += a * w[o];
        }
    }
}

/* One depthwise output pixel: acc[c] = b[c] + sum over taps. */
__attribute__((always_inline))
static inline void fdw_body(const float *xp, const float *w, const float *b, float *restrict y, int32_t C,
                            int32_t KH, int32_t KW, size_t row_step, size_t col_step) {
    for (int32_t c = 0; c < C; c++) y[c] = b[c];
    for (int32_t ky = 0; ky < KH; ky++)
        for (int32_t kx = 0; kx < KW; kx++) {
            const float *restrict xr = xp + ky * row_step + kx * col_step;
            const float *restrict wr = w + ((size_t)ky * KW + kx) * C;
            for (int32_t c = 0; c < C; c++) y[c] += xr[c] * wr[c];
        }
}

static void fgemm_plain(const float *X, int32_t P, int32_t K, const float *Wt, const float *b, int32_t O, float *Y) {
    fgemm_body(X, P, K, Wt, b, O, Y);
}
static void fdw_plain(const float *xp, const float *w, const float *b, float *y, int32_t C, int32_t KH,
                      int32_t KW, size_t rs, size_t cs) {
    fdw_body(xp, w, b, y, C, KH, KW, rs, cs);
}
#ifdef SB_HAVE_X86
__attribute__((target("avx2")))
static void fgemm_avx2(const float *X, int32_t P, int32_t K, const float *Wt, const float *b, int32_t O, float *Y) {
    fgemm_body(X, P, K, Wt, b, O, Y);
}
__attribute__((target("avx2")))
static void fdw_avx2(const float *xp, const float *w, const float *b, float *y, int32_t C, int32_t KH,
                     int32_t KW, size_t rs, size_t cs) {
    fdw_body(xp, w, b, y, C, KH, KW, rs, cs);
}
__attribute__((target("avx512f")))
static void fgemm_avx512(const float *X, int32_t P, int32_t K, const float *Wt, const float *b, int32_t O, float *Y) {
    fgemm_body(X, P, K, Wt, b, O, Y);
}
__attribute__((target("avx512f")))
static void fdw_avx512(const float *xp, const float *w, const float *b, float *y, int32_t C, int32_t KH,
                       int32_t KW, size_t rs, size_t cs) {
    fdw_body(xp, w, b, y, C, KH, KW, rs, cs);
}
#endif

static void fgemm(const float *X, int32_t P, int32_t K, const float *Wt, const float *b, int32_t O, float *Y) {
#ifdef SB_HAVE_X86
    switch (sb_isa_now()) {
    case SB_ISA_AVX512VNNI: fgemm_avx512(X, P, K, Wt, b, O, Y); return;
    case SB_ISA_AVX2: fgemm_avx2(X, P, K, Wt, b, O, Y); return;
    default: break;
    }
#endif
    fgemm_plain(X, P, K, Wt, b, O, Y);
}

static void fdw(const float *xp, const float *w, const float *b, float *y, int32_t C, int32_t KH, int32_t KW,
                size_t rs, size_t cs) {
#ifdef SB_HAVE_X86
    switch (sb_isa_now()) {
    case SB_ISA_AVX512VNNI: fdw_avx512(xp, w, b, y, C, KH, KW, rs, cs); return;
    case SB_ISA_AVX2: fdw_avx2(xp, w, b, y, C, KH, KW, rs, cs); return;
    default: break;
    }
#endif
    fdw_plain(xp, w, b, y, C, KH, KW, rs, cs);
}

/* -------------------------------------------------------------------- ops */

static void conv_f32(const sb_graph *g, const sb_op *op, const sb_f32_w *fw, const float *x, float *y, float *scratch) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *tw = SB_T(g, op->inputs[1]), *to = SB_T(g, op->output);
    int32_t H = ti->shape[1], W = ti->shape[2], I = ti->shape[3];
    int32_t O = tw->shape[0], KH = tw->shape[1], KW = tw->shape[2], K = KH * KW * I;
    int32_t OW = to->shape[2], P = to->shape[1] * OW;
    if (KH == 1 && KW == 1 && op->stride_h == 1 && op->stride_w == 1 && !op->pad_top && !op->pad_left &&
        !op->pad_bottom && !op->pad_right) {
        fgemm(x, P, K, fw->w, fw->b, O, y);
        return;
    }
    for (int32_t p0 = 0; p0 < P; p0 += F_ROWS) {
        int32_t n = P - p0 < F_ROWS ? P - p0 : F_ROWS;
        for (int32_t j = 0; j < n; j++) {
            int32_t oy = (p0 + j) / OW, ox = (p0 + j) % OW;
            float *r = scratch + (size_t)j * K;
            for (int32_t ky = 0; ky < KH; ky++) {
                int32_t iy = oy * op->stride_h - op->pad_top + ky * op->dilation_h;
                for (int32_t kx = 0; kx < KW; kx++, r += I) {
                    int32_t ix = ox * op->stride_w - op->pad_left + kx * op->dilation_w;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) memset(r, 0, (size_t)I * sizeof *r);
                    else memcpy(r, x + ((size_t)iy * W + ix) * I, (size_t)I * sizeof *r);
                }
            }
        }
        fgemm(scratch, n, K, fw->w, fw->b, O, y + (size_t)p0 * O);
    }
}

static void dwconv_f32(const sb_graph *g, const sb_op *op, const sb_f32_w *fw, const float *x, float *y, float *scratch) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *tw = SB_T(g, op->inputs[1]), *to = SB_T(g, op->output);
    int32_t H = ti->shape[1], W = ti->shape[2], C = ti->shape[3], KH = tw->shape[1], KW = tw->shape[2];
    int32_t Hp = H + op->pad_top + op->pad_bottom, Wp = W + op->pad_left + op->pad_right;
    int32_t OH = to->shape[1], OW = to->shape[2];
    float *xp = scratch;
    memset(xp, 0, (size_t)Hp * Wp * C * sizeof *xp);
    for (int32_t iy = 0; iy < H; iy++)
        memcpy(xp + ((size_t)(iy + op->pad_top) * Wp + op->pad_left) * C, x + (size_t)iy * W * C,
               (size_t)W * C * sizeof *xp);
    size_t rs = (size_t)op->dilation_h * Wp * C, cs = (size_t)op->dilation_w * C;
    for (int32_t oy = 0; oy < OH; oy++)
        for (int32_t ox = 0; ox < OW; ox++)
            fdw(xp + ((size_t)oy * op->stride_h * Wp + (size_t)ox * op->stride_w) * C, fw->w, fw->b,
                y + ((size_t)oy * OW + ox) * C, C, KH, KW, rs, cs);
}

static void maxpool_f32(const sb_graph *g, const sb_op *op, const float *x, float *y) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *to = SB_T(g, op->output);
    int32_t H = ti->shape[1], W = ti->shape[2], C = ti->shape[3], OH = to->shape[1], OW = to->shape[2];
    for (int32_t oy = 0; oy < OH; oy++)
        for (int32_t ox = 0; ox < OW; ox++)
            for (int32_t c = 0; c < C; c++) {
                float m = -INFINITY;
                for (int32_t ky = 0; ky < op->kernel_h; ky++) {
                    int32_t iy = oy * op->stride_h - op->pad_top + ky * op->dilation_h;
                    if (iy < 0 || iy >= H) continue;
                    for (int32_t kx = 0; kx < op->kernel_w; kx++) {
                        int32_t ix = ox * op->stride_w - op->pad_left + kx * op->dilation_w;
                        if (ix < 0 || ix >= W) continue;
                        float v = x[((size_t)iy * W + ix) * C + c];
                        if (v > m) m = v;
                    }
                }
                y[((size_t)oy * OW + ox) * C + c] = m;
            }
}

int sb_op_run_f32(const sb_graph *g, int32_t i, const sb_f32_w *fw, float *const *act, void *scratch,
                  sb_error *err) {
    const sb_op *op = &g->ops[i];
    const float *a = act[op->inputs[0]];
    const float *b = op->n_inputs > 1 ? act[op->inputs[1]] : NULL;
    float *y = act[op->output];
    int64_t n = sb_tensor_elems(SB_T(g, op->output));
    int act_id = act_parse(op->act);
    if (act_id < 0) return op_fail(g, op, err, SB_EUNSUPPORTED, "act: unknown function for the fp32 path");
    switch (op->type) {
    case SB_OP_CONV2D: conv_f32(g, op, fw, a, y, scratch); break;
    case SB_OP_DWCONV2D: dwconv_f32(g, op, fw, a, y, scratch); break;
    case SB_OP_FC: fgemm(a, 1, (int32_t)sb_tensor_elems(SB_T(g, op->inputs[0])), fw->w, fw->b, (int32_t)n, y); break;
    case SB_OP_ADD:
        for (int64_t k = 0; k < n; k++) y[k] = a[k] + b[k];
        break;
    case SB_OP_MUL: {
        int64_t nb = sb_tensor_elems(SB_T(g, op->inputs[1]));
        for (int64_t k = 0; k < n; k++) y[k] = a[k] * b[nb == n ? k : k % nb];
        break;
    }
    case SB_OP_GAVGPOOL: {
        const sb_tensor *ti = SB_T(g, op->inputs[0]);
        int32_t HW = ti->shape[1] * ti->shape[2], C = ti->shape[3];
        for (int32_t c = 0; c < C; c++) y[c] = 0.0f;
        for (int32_t p = 0; p < HW; p++)
            for (int32_t c = 0; c < C; c++) y[c] += a[(size_t)p * C + c];
        for (int32_t c = 0; c < C; c++) y[c] /= (float)HW;
        break;
    }
    case SB_OP_MAXPOOL: maxpool_f32(g, op, a, y); break;
    case SB_OP_LUT:
        for (int64_t k = 0; k < n; k++) y[k] = act_apply(act_id, a[k]);
        return SB_OK;
    }
    if (op->type <= SB_OP_FC) act_row(act_id, y, (int32_t)n);
    return SB_OK;
}
