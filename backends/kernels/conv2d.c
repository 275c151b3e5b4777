/*
 * conv2d.c - 2-D convolution, NHWC input, weights [O][KH][KW][I].
 *
 *   acc = bias[o] + sum over valid taps of (x - zi) * w;  y = out_conv(acc)
 *
 * The fast path turns the convolution into a GEMM over int16 rows of
 * (x - zi): for a 1x1 stride-1 unpadded conv the rows are the input pixels
 * themselves, otherwise an im2col row per output pixel (padding taps hold 0,
 * which is what "valid taps only" means once zi is subtracted).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

void sb_conv2d_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *tw = SB_T(g, op->inputs[1]);
    const sb_tensor *to = SB_T(g, op->output);
    const int8_t *w = tw->data;
    const int32_t *bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? SB_T(g, op->inputs[2])->data : NULL;
    int32_t H = ti->shape[1], W = ti->shape[2], I = ti->shape[3];
    int32_t O = tw->shape[0], KH = tw->shape[1], KW = tw->shape[2];
    int32_t OH = to->shape[1], OW = to->shape[2], zi = ti->zero_point;

    for (int32_t oy = 0; oy < OH; oy++)
        for (int32_t ox = 0; ox < OW; ox++)
            for (int32_t o = 0; o < O; o++) {
                int32_t acc = bias ? bias[o] : 0;
                for (int32_t ky = 0; ky < KH; ky++) {
                    int32_t iy = oy * op->stride_h - op->pad_top + ky * op->dilation_h;
                    if (iy < 0 || iy >= H) continue;
                    for (int32_t kx = 0; kx < KW; kx++) {
                        int32_t ix = ox * op->stride_w - op->pad_left + kx * op->dilation_w;
                        if (ix < 0 || ix >= W) continue;
                        const int8_t *xp = x + ((size_t)iy * W + ix) * I;
                        const int8_t *wp = w + (((size_t)o * KH + ky) * KW + kx) * I;
                        for (int32_t i = 0; i < I; i++) acc += ((int32_t)xp[i] - zi) * wp[i];
                    }
                }
                y[((size_t)oy * OW + ox) * O + o] = sb_out_conv(g, op, o, acc);
            }
}

/* Is this conv a plain GEMM over the input pixels? */
static int conv_is_pointwise(const sb_graph *g, const sb_op *op) {
    const sb_tensor *tw = SB_T(g, op->inputs[1]);
    return tw->shape[1] == 1 && tw->shape[2] == 1 && op->stride_h == 1 && op->stride_w == 1 &&
           op->pad_top == 0 && op->pad_left == 0 && op->pad_bottom == 0 && op->pad_right == 0;
}

/* Output pixels per block: one task of the thread split, and the im2col
 * scratch (rows of K2 int16) of one thread. */
#define CONV_ROWS_PER_BLOCK 128

size_t sb_conv2d_scratch_bytes(const sb_graph *g, const sb_op *op) {
    const sb_tensor *tw = SB_T(g, op->inputs[1]);
    size_t K = sb_size_mul(sb_size_mul((size_t)tw->shape[1], (size_t)tw->shape[2]), (size_t)tw->shape[3]);
    size_t K2 = sb_size_add(K, 1) & ~(size_t)1;
    return sb_size_mul(sb_size_mul(CONV_ROWS_PER_BLOCK, K2), sizeof(int16_t));
}

/* x - zi widened to int16, rows of K2 (the odd tail padded with 0); written
 * once, compiled for AVX-512/AVX2/x86-64 (the vectoriser does the widening). */
__attribute__((always_inline))
static inline void widen_rows_body(const int8_t *restrict x, int32_t zi, int32_t P, int32_t K, int32_t K2,
                                   int16_t *restrict out) {
    for (int32_t p = 0; p < P; p++) {
        const int8_t *restrict xr = x + (size_t)p * K;
        int16_t *restrict orow = out + (size_t)p * K2;
        for (int32_t k = 0; k < K; k++) orow[k] = (int16_t)(xr[k] - zi);
        if (K2 > K) orow[K] = 0;
    }
}

static void widen_rows_plain(const int8_t *x, int32_t zi, int32_t P, int32_t K, int32_t K2, int16_t *out) {
    widen_rows_body(x, zi, P, K, K2, out);
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2")))
static void widen_rows_avx2(const int8_t *x, int32_t zi, int32_t P, int32_t K, int32_t K2, int16_t *out) {
    widen_rows_body(x, zi, P, K, K2, out);
}
__attribute__((target("avx512f,avx512bw")))
static void widen_rows_avx512(const int8_t *x, int32_t zi, int32_t P, int32_t K, int32_t K2, int16_t *out) {
    widen_rows_body(x, zi, P, K, K2, out);
}
#endif

static void widen_rows(const int8_t *x, int32_t zi, int32_t P, int32_t K, int32_t K2, int16_t *out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    switch (sb_isa_now()) {
    case SB_ISA_AVX512VNNI: widen_rows_avx512(x, zi, P, K, K2, out); return;
    case SB_ISA_AVX2: widen_rows_avx2(x, zi, P, K, K2, out); return;
    default: break;
    }
#endif
    widen_rows_plain(x, zi, P, K, K2, out);
}

/* One im2col row: the KH x KW x I window of output pixel (oy, ox). */
static void im2col_row(const sb_graph *g, const sb_op *op, const int8_t *x, int32_t oy, int32_t ox,
                       int16_t *row, int32_t K2) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *tw = SB_T(g, op->inputs[1]);
    int32_t H = ti->shape[1], W = ti->shape[2], I = ti->shape[3], zi = ti->zero_point;
    int32_t KH = tw->shape[1], KW = tw->shape[2];
    int16_t *r = row;
    for (int32_t ky = 0; ky < KH; ky++) {
        int32_t iy = oy * op->stride_h - op->pad_top + ky * op->dilation_h;
        for (int32_t kx = 0; kx < KW; kx++, r += I) {
            int32_t ix = ox * op->stride_w - op->pad_left + kx * op->dilation_w;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                memset(r, 0, (size_t)I * sizeof *r);
                continue;
            }
            const int8_t *xp = x + ((size_t)iy * W + ix) * I;
            for (int32_t i = 0; i < I; i++) r[i] = (int16_t)(xp[i] - zi);
        }
    }
    for (int32_t k = (int32_t)(r - row); k < K2; k++) row[k] = 0;
}

typedef struct conv_job {
    const sb_graph *g;
    const sb_op *op;
    const sb_packed_w *pw;
    const int8_t *x;
    int8_t *y;
    int32_t P, OW, pointwise;
} conv_job;

/* One block of output pixels: its int16 rows in this thread's scratch, then
 * the GEMM. Blocks are independent, so threads may take any of them. */
static void conv_block(void *ctx, int32_t task, void *scratch) {
    const conv_job *j = ctx;
    const sb_packed_w *pw = j->pw;
    int32_t p0 = task * CONV_ROWS_PER_BLOCK, n = j->P - p0 < CONV_ROWS_PER_BLOCK ? j->P - p0 : CONV_ROWS_PER_BLOCK;
    int16_t *x16 = scratch;
    if (j->pointwise) {
        widen_rows(j->x + (size_t)p0 * pw->K, SB_T(j->g, j->op->inputs[0])->zero_point, n, pw->K, pw->K2, x16);
    } else {
        for (int32_t r = 0; r < n; r++)
            im2col_row(j->g, j->op, j->x, (p0 + r) / j->OW, (p0 + r) % j->OW, x16 + (size_t)r * pw->K2, pw->K2);
    }
    sb_gemm_s16(j->g, j->op, pw, x16, n, j->y + (size_t)p0 * pw->O);
}

void sb_conv2d_fast(const sb_graph *g, const sb_op *op, const sb_packed_w *pw,
                    const int8_t *x, int8_t *y, const sb_exec *ex) {
    const sb_tensor *to = SB_T(g, op->output);
    conv_job j = {g, op, pw, x, y, to->shape[1] * to->shape[2], to->shape[2], conv_is_pointwise(g, op)};
    sb_exec_for(ex, (j.P + CONV_ROWS_PER_BLOCK - 1) / CONV_ROWS_PER_BLOCK, conv_block, &j);
}
