/*
 * sb_gpu_ops.h - one output element of each INT8 op, as code that compiles
 * both as CUDA device code (sb_gpu_kernels.cu wraps each in a __global__
 * kernel, one thread per output element) and as plain C11 (the tests run the
 * same functions on the host over every element and compare with
 * sb_graph_run_int8: the indexing and rounding are checked without a GPU).
 *
 * Output stages: the same formulas as sb_out_conv / sb_out_add / ... in
 * backends/kernels/sb_kernels.h, over the SB_HD fixed-point primitives, but
 * reading the parameters from these flat structs (device memory) instead of
 * the host's sb_graph. Integer sums do not depend on their order, so the dp4a
 * decomposition below (sum x*w - zi * sum w) gives the CPU's accumulator.
 *
 * Layout: activations NHWC with a batch of n images, image b at b * H*W*C.
 * The argument structs are passed by value to the kernels, so they hold only
 * plain integers, floats and device pointers (same layout in gcc and nvcc).
 */
#ifndef SB_GPU_OPS_H
#define SB_GPU_OPS_H

#include <stdint.h>

#include "sb_kernels.h"

typedef struct sb_gpu_out {          /* the requantisation of one op */
    const int32_t *mult;             /* per channel (conv/dw/fc) or [1]    */
    const int32_t *shift;
    const float *scale_f32;          /* float mode                          */
    int32_t fixed;                   /* sb_fixed_kind: 0 float, 1 fixed, 2 fixed rounded once */
    int32_t zo, act_min, act_max;
} sb_gpu_out;

typedef struct sb_gpu_conv_args {    /* conv2d, dwconv2d, fc (1x1 on 1x1)  */
    const int8_t *x;
    const int8_t *wt;                /* conv/fc [O,KH,KW,I], dw [1,KH,KW,C] */
    const int32_t *bias;             /* may be NULL                         */
    int8_t *y;
    sb_gpu_out out;
    int32_t n, h, w, c;              /* input                               */
    int32_t oh, ow, oc;              /* output                              */
    int32_t kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t zi;
} sb_gpu_conv_args;

typedef struct sb_gpu_eltwise_args { /* add, mul (b may broadcast), lut   */
    const int8_t *a, *b;
    const int8_t *lut;               /* lut: 256 entries                    */
    int8_t *y;
    sb_gpu_out out;
    int64_t n_elems;                 /* of y, whole batch                   */
    int32_t per_image;               /* elements of one image of a          */
    int32_t b_channels;              /* mul: 0 same shape, else C (broadcast) */
    int32_t za, zb;
    int32_t left_shift, mult_b, shift_b, mult_out, shift_out; /* add, fixed */
    float scale_b_f32;               /* add, float                          */
} sb_gpu_eltwise_args;

typedef struct sb_gpu_pool_args {    /* gavgpool, maxpool                   */
    const int8_t *x;
    int8_t *y;
    sb_gpu_out out;                  /* maxpool uses only act_min/act_max   */
    int32_t n, h, w, c, oh, ow;
    int32_t kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t zi;
    int32_t avg_count;               /* gavgpool: sb_op.avg_count           */
} sb_gpu_pool_args;

/* __dp4a where the hardware has it (sm_61+), the same sum elsewhere. */
SB_HD static inline int32_t sb_gpu_dp4a(int32_t a, int32_t b, int32_t acc) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 610
    return __dp4a(a, b, acc);
#else
    for (int i = 0; i < 4; i++)
        acc += (int32_t)(int8_t)(uint8_t)((uint32_t)a >> (8 * i)) *
               (int32_t)(int8_t)(uint8_t)((uint32_t)b >> (8 * i));
    return acc;
#endif
}

/* Four int8 as one int32 (little-endian, like the GPU's 32-bit load). */
SB_HD static inline int32_t sb_gpu_load4(const int8_t *p) {
#if defined(__CUDA_ARCH__)
    return *(const int32_t *)p;      /* p is 4-byte aligned: see sb_gpu_conv_one */
#else
    return (int32_t)((uint32_t)(uint8_t)p[0] | (uint32_t)(uint8_t)p[1] << 8 |
                     (uint32_t)(uint8_t)p[2] << 16 | (uint32_t)(uint8_t)p[3] << 24);
#endif
}

/* Output element e of an NHWC tensor [n, oh, ow, c]: its channel, and its
 * image b, row oy and column ox through the pointers. */
SB_HD static inline int32_t sb_gpu_nhwc(int64_t e, int32_t oh, int32_t ow, int32_t c,
                                        int32_t *b, int32_t *oy, int32_t *ox) {
    int64_t r = e / c;
    *ox = (int32_t)(r % ow);
    r /= ow;
    *oy = (int32_t)(r % oh);
    *b = (int32_t)(r / oh);
    return (int32_t)(e % c);
}

SB_HD static inline int8_t sb_gpu_requant(const sb_gpu_out *o, int32_t ch, int32_t acc) {
    int32_t r = o->fixed ? sb_mbqm_kind(o->fixed, acc, o->mult[ch], o->shift[ch]) : sb_fmul_round(acc, o->scale_f32[ch]);
    return sb_clamp8(sb_add_zp(o->zo, r), o->act_min, o->act_max);
}

/* sum over i < len of x[i] * w[i] into acc, and of w[i] into *wsum. */
SB_HD static inline int32_t sb_gpu_dot(const int8_t *x, const int8_t *w, int32_t len, int32_t acc, int32_t *wsum) {
    int32_t i = 0, s = *wsum;
    /* dp4a needs 4-byte aligned rows: true when len % 4 == 0, since every row
     * starts at a multiple of len from a 256-byte aligned allocation. */
    if ((len & 3) == 0) {
        for (; i < len; i += 4) {
            int32_t w4 = sb_gpu_load4(w + i);
            acc = sb_gpu_dp4a(sb_gpu_load4(x + i), w4, acc);
            s = sb_gpu_dp4a(0x01010101, w4, s);
        }
    }
    for (; i < len; i++) {
        acc += (int32_t)x[i] * (int32_t)w[i];
        s += w[i];
    }
    *wsum = s;
    return acc;
}

/* conv2d and fc: output element e of [n, oh, ow, oc]. */
SB_HD static inline void sb_gpu_conv_one(const sb_gpu_conv_args *a, int64_t e) {
    int32_t b, oy, ox, o = sb_gpu_nhwc(e, a->oh, a->ow, a->oc, &b, &oy, &ox);
    int32_t acc = a->bias ? a->bias[o] : 0, wsum = 0;
    for (int32_t ky = 0; ky < a->kh; ky++) {
        int32_t iy = oy * a->sh - a->pt + ky * a->dh;
        if (iy < 0 || iy >= a->h) continue;
        for (int32_t kx = 0; kx < a->kw; kx++) {
            int32_t ix = ox * a->sw - a->pl + kx * a->dw;
            if (ix < 0 || ix >= a->w) continue;
            const int8_t *xp = a->x + (((int64_t)b * a->h + iy) * a->w + ix) * a->c;
            const int8_t *wp = a->wt + (((int64_t)o * a->kh + ky) * a->kw + kx) * a->c;
            acc = sb_gpu_dot(xp, wp, a->c, acc, &wsum);
        }
    }
    /* sum (x - zi) * w = sum x * w - zi * sum w, over the valid taps only */
    acc -= a->zi * wsum;
    a->y[e] = sb_gpu_requant(&a->out, o, acc);
}

/* dwconv2d (multiplier 1): output element e of [n, oh, ow, c]. */
SB_HD static inline void sb_gpu_dwconv_one(const sb_gpu_conv_args *a, int64_t e) {
    int32_t b, oy, ox, ch = sb_gpu_nhwc(e, a->oh, a->ow, a->oc, &b, &oy, &ox);
    int32_t acc = a->bias ? a->bias[ch] : 0;
    for (int32_t ky = 0; ky < a->kh; ky++) {
        int32_t iy = oy * a->sh - a->pt + ky * a->dh;
        if (iy < 0 || iy >= a->h) continue;
        for (int32_t kx = 0; kx < a->kw; kx++) {
            int32_t ix = ox * a->sw - a->pl + kx * a->dw;
            if (ix < 0 || ix >= a->w) continue;
            int32_t xv = a->x[(((int64_t)b * a->h + iy) * a->w + ix) * a->c + ch];
            acc += (xv - a->zi) * (int32_t)a->wt[((int64_t)ky * a->kw + kx) * a->c + ch];
        }
    }
    a->y[e] = sb_gpu_requant(&a->out, ch, acc);
}

/* add: as sb_out_add. */
SB_HD static inline void sb_gpu_add_one(const sb_gpu_eltwise_args *a, int64_t e) {
    int32_t da = (int32_t)a->a[e] - a->za, db = (int32_t)a->b[e] - a->zb, r;
    if (a->out.fixed) {
        int k = a->out.fixed;
        int32_t la = sb_mbqm_kind(k, (int32_t)((uint32_t)da << a->left_shift), a->out.mult[0], a->out.shift[0]);
        int32_t lb = sb_mbqm_kind(k, (int32_t)((uint32_t)db << a->left_shift), a->mult_b, a->shift_b);
        r = sb_mbqm_kind(k, (int32_t)((uint32_t)la + (uint32_t)lb), a->mult_out, a->shift_out); /* as sb_out_add */
    } else {
        float fa = a->out.scale_f32[0] * (float)da;
        float fb = a->scale_b_f32 * (float)db;
        r = sb_round_i32(fa + fb);  /* nvcc -fmad=false: no fused multiply-add */
    }
    a->y[e] = sb_clamp8(sb_add_zp(a->out.zo, r), a->out.act_min, a->out.act_max);
}

/* mul: as sb_out_mul; b is [n,H,W,C] or [n,1,1,C] (broadcast over H, W). */
SB_HD static inline void sb_gpu_mul_one(const sb_gpu_eltwise_args *a, int64_t e) {
    int64_t eb = e;
    if (a->b_channels) {
        int64_t img = e / a->per_image;
        eb = img * a->b_channels + (e % a->per_image) % a->b_channels;
    }
    int32_t p = ((int32_t)a->a[e] - a->za) * ((int32_t)a->b[eb] - a->zb);
    a->y[e] = sb_gpu_requant(&a->out, 0, p);
}

SB_HD static inline void sb_gpu_lut_one(const sb_gpu_eltwise_args *a, int64_t e) {
    a->y[e] = a->lut[(int32_t)a->a[e] + 128];
}

/* gavgpool: element e of [n, c]: the sum over H, W of (x - zi). */
SB_HD static inline void sb_gpu_gavgpool_one(const sb_gpu_pool_args *a, int64_t e) {
    int32_t ch = (int32_t)(e % a->c);
    int64_t b = e / a->c;
    const int8_t *xp = a->x + b * a->h * a->w * a->c + ch;
    int32_t sum = 0;
    for (int32_t i = 0; i < a->h * a->w; i++) sum += (int32_t)xp[(int64_t)i * a->c] - a->zi;
    if (a->avg_count > 0) { /* TFLite's division, as sb_out_gavgpool */
        int32_t raw = sum + a->avg_count * a->zi;
        a->y[e] = sb_clamp8(sb_div_round_away(raw, a->avg_count), a->out.act_min, a->out.act_max);
        return;
    }
    a->y[e] = sb_gpu_requant(&a->out, 0, sum);
}

/* maxpool: max over the window's valid positions, then the clamp. */
SB_HD static inline void sb_gpu_maxpool_one(const sb_gpu_pool_args *a, int64_t e) {
    int32_t b, oy, ox, ch = sb_gpu_nhwc(e, a->oh, a->ow, a->c, &b, &oy, &ox);
    int32_t m = -129;   /* below any int8: a window with no valid tap clamps to act_min */
    for (int32_t ky = 0; ky < a->kh; ky++) {
        int32_t iy = oy * a->sh - a->pt + ky * a->dh;
        if (iy < 0 || iy >= a->h) continue;
        for (int32_t kx = 0; kx < a->kw; kx++) {
            int32_t ix = ox * a->sw - a->pl + kx * a->dw;
            if (ix < 0 || ix >= a->w) continue;
            int32_t v = a->x[(((int64_t)b * a->h + iy) * a->w + ix) * a->c + ch];
            m = v > m ? v : m;
        }
    }
    a->y[e] = sb_clamp8(m, a->out.act_min, a->out.act_max);
}

/* ------------------------------------------------------------ fp32 path
 * The float32 path of the same graph, as sb_graph_run_f32 (fp32.c): float
 * weights (weights_f32, or int8 x channel scale), the same summation order
 * (bias, then the taps in ky, kx, channel order), fused relu/relu6, the LUT
 * ops' functions computed in float. Not bit-exact across devices (expf). */

enum { SB_GPU_ACT_NONE, SB_GPU_ACT_RELU, SB_GPU_ACT_RELU6, SB_GPU_ACT_SIGMOID, SB_GPU_ACT_SILU,
       SB_GPU_ACT_HARDSWISH, SB_GPU_ACT_HARDSIGMOID, SB_GPU_ACT_TANH };

SB_HD static inline float sb_gpu_act(int32_t act, float v) {
    float r;
    switch (act) {
    case SB_GPU_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case SB_GPU_ACT_RELU6: return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
    case SB_GPU_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case SB_GPU_ACT_SILU: return v / (1.0f + expf(-v));
    case SB_GPU_ACT_HARDSWISH: r = v + 3.0f; r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r; return v * r / 6.0f;
    case SB_GPU_ACT_HARDSIGMOID: r = v + 3.0f; r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r; return r / 6.0f;
    case SB_GPU_ACT_TANH: return tanhf(v);
    default: return v;
    }
}

typedef struct sb_gpu_fconv_args {   /* conv2d, dwconv2d, fc               */
    const float *x, *wt, *bias;      /* weights in the file's layout        */
    float *y;
    int32_t n, h, w, c, oh, ow, oc;
    int32_t kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t act;                     /* SB_GPU_ACT_NONE / RELU / RELU6      */
} sb_gpu_fconv_args;

typedef struct sb_gpu_felt_args {    /* add, mul (broadcast), act (lut op)  */
    const float *a, *b;
    float *y;
    int64_t n_elems;
    int32_t per_image, b_channels, act;
} sb_gpu_felt_args;

typedef struct sb_gpu_fpool_args {   /* gavgpool, maxpool                   */
    const float *x;
    float *y;
    int32_t n, h, w, c, oh, ow;
    int32_t kh, kw, sh, sw, dh, dw, pt, pl;
} sb_gpu_fpool_args;

SB_HD static inline void sb_gpu_fconv_one(const sb_gpu_fconv_args *a, int64_t e, int depthwise) {
    int32_t b, oy, ox, o = sb_gpu_nhwc(e, a->oh, a->ow, a->oc, &b, &oy, &ox);
    float acc = a->bias[o];
    for (int32_t ky = 0; ky < a->kh; ky++) {
        int32_t iy = oy * a->sh - a->pt + ky * a->dh;
        if (iy < 0 || iy >= a->h) continue;
        for (int32_t kx = 0; kx < a->kw; kx++) {
            int32_t ix = ox * a->sw - a->pl + kx * a->dw;
            if (ix < 0 || ix >= a->w) continue;
            const float *xp = a->x + (((int64_t)b * a->h + iy) * a->w + ix) * a->c;
            if (depthwise) {
                acc += xp[o] * a->wt[((int64_t)ky * a->kw + kx) * a->c + o];
                continue;
            }
            const float *wp = a->wt + (((int64_t)o * a->kh + ky) * a->kw + kx) * a->c;
            for (int32_t i = 0; i < a->c; i++) acc += xp[i] * wp[i];
        }
    }
    a->y[e] = sb_gpu_act(a->act, acc);
}

SB_HD static inline void sb_gpu_felt_one(const sb_gpu_felt_args *a, int64_t e, int kernel_add_mul_act) {
    if (kernel_add_mul_act == 0) {
        a->y[e] = a->a[e] + a->b[e];
    } else if (kernel_add_mul_act == 1) {
        int64_t eb = e;
        if (a->b_channels) eb = e / a->per_image * a->b_channels + (e % a->per_image) % a->b_channels;
        a->y[e] = a->a[e] * a->b[eb];
    } else {
        a->y[e] = sb_gpu_act(a->act, a->a[e]);
    }
}

SB_HD static inline void sb_gpu_fgavgpool_one(const sb_gpu_fpool_args *a, int64_t e) {
    int32_t ch = (int32_t)(e % a->c);
    int64_t b = e / a->c;
    const float *xp = a->x + b * a->h * a->w * a->c + ch;
    float sum = 0.0f;
    for (int32_t i = 0; i < a->h * a->w; i++) sum += xp[(int64_t)i * a->c];
    a->y[e] = sum / (float)(a->h * a->w);
}

SB_HD static inline void sb_gpu_fmaxpool_one(const sb_gpu_fpool_args *a, int64_t e) {
    int32_t b, oy, ox, ch = sb_gpu_nhwc(e, a->oh, a->ow, a->c, &b, &oy, &ox);
    float m = -INFINITY;   /* as fp32.c: a window with no valid tap stays here */
    for (int32_t ky = 0; ky < a->kh; ky++) {
        int32_t iy = oy * a->sh - a->pt + ky * a->dh;
        if (iy < 0 || iy >= a->h) continue;
        for (int32_t kx = 0; kx < a->kw; kx++) {
            int32_t ix = ox * a->sw - a->pl + kx * a->dw;
            if (ix < 0 || ix >= a->w) continue;
            float v = a->x[(((int64_t)b * a->h + iy) * a->w + ix) * a->c + ch];
            m = v > m ? v : m;
        }
    }
    a->y[e] = m;
}

#endif /* SB_GPU_OPS_H */
