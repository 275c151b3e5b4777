/*
 * dwconv2d.c - depthwise convolution, NHWC, weights [1][KH][KW][C]:
 * output channel c reads only input channel c (channel multiplier 1).
 *
 * The fast path copies (x - zi) into a zero-bordered int16 plane once, so
 * the tap loops need no bounds checks and the channel loop (contiguous in
 * NHWC) vectorises.
 */
#include <string.h>

#include "kernels_internal.h"

void sb_dwconv2d_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *tw = SB_T(g, op->inputs[1]);
    const sb_tensor *to = SB_T(g, op->output);
    const int8_t *w = tw->data;
    const int32_t *bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? SB_T(g, op->inputs[2])->data : NULL;
    int32_t H = ti->shape[1], W = ti->shape[2], C = ti->shape[3];
    int32_t KH = tw->shape[1], KW = tw->shape[2];
    int32_t OH = to->shape[1], OW = to->shape[2], zi = ti->zero_point;

    for (int32_t oy = 0; oy < OH; oy++)
        for (int32_t ox = 0; ox < OW; ox++)
            for (int32_t c = 0; c < C; c++) {
                int32_t acc = bias ? bias[c] : 0;
                for (int32_t ky = 0; ky < KH; ky++) {
                    int32_t iy = oy * op->stride_h - op->pad_top + ky * op->dilation_h;
                    if (iy < 0 || iy >= H) continue;
                    for (int32_t kx = 0; kx < KW; kx++) {
                        int32_t ix = ox * op->stride_w - op->pad_left + kx * op->dilation_w;
                        if (ix < 0 || ix >= W) continue;
                        acc += ((int32_t)x[((size_t)iy * W + ix) * C + c] - zi) *
                               w[((size_t)ky * KW + kx) * C + c];
                    }
                }
                y[((size_t)oy * OW + ox) * C + c] = sb_out_conv(g, op, c, acc);
            }
}

int sb_pack_dw(const sb_graph *g, const sb_op *op, sb_packed_dw *dw) {
    const sb_tensor *tw = SB_T(g, op->inputs[1]);
    const int32_t *bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? SB_T(g, op->inputs[2])->data : NULL;
    int32_t C = tw->shape[3], KH = tw->shape[1], KW = tw->shape[2], T = KH * KW;
    const int8_t *w = tw->data;
    dw->C16 = (C + 15) & ~15;
    dw->nkp = (KW + 1) / 2;
    dw->w16 = sb_aligned_alloc((size_t)T * C * sizeof(int16_t));
    dw->wpair = sb_aligned_alloc((size_t)KH * dw->nkp * dw->C16 * 2 * sizeof(int16_t));
    dw->bias = sb_aligned_alloc((size_t)dw->C16 * sizeof(int32_t));
    if (!dw->w16 || !dw->wpair || !dw->bias) return SB_ENOMEM;
    for (int32_t i = 0; i < T * C; i++) dw->w16[i] = w[i];
    memset(dw->wpair, 0, (size_t)KH * dw->nkp * dw->C16 * 2 * sizeof(int16_t));
    for (int32_t ky = 0; ky < KH; ky++)
        for (int32_t kx = 0; kx < KW; kx++)
            for (int32_t c = 0; c < C; c++)
                dw->wpair[(((size_t)ky * dw->nkp + kx / 2) * dw->C16 + c) * 2 + (kx & 1)] =
                    w[((size_t)ky * KW + kx) * C + c];
    for (int32_t c = 0; c < dw->C16; c++) dw->bias[c] = bias && c < C ? bias[c] : 0;
    return SB_OK;
}

static void padded_dims(const sb_graph *g, const sb_op *op, int32_t *Hp, int32_t *Wp) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    *Hp = ti->shape[1] + op->pad_top + op->pad_bottom;
    *Wp = ti->shape[2] + op->pad_left + op->pad_right;
}

/* The plane all threads read (either layout: the int16 plane or the pair
 * plane, twice as big with C16 channels), and each thread's accumulators. */
size_t sb_dwconv2d_shared_bytes(const sb_graph *g, const sb_op *op) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    size_t hp = (size_t)ti->shape[1] + (size_t)op->pad_top + (size_t)op->pad_bottom; /* each < 2^31 */
    size_t wp = (size_t)ti->shape[2] + (size_t)op->pad_left + (size_t)op->pad_right;
    size_t c16 = ((size_t)ti->shape[3] + 15) & ~(size_t)15;
    return sb_size_mul(sb_size_mul(sb_size_mul(hp, wp), c16), 2 * sizeof(int16_t));
}

size_t sb_dwconv2d_scratch_bytes(const sb_graph *g, const sb_op *op) {
    return (((size_t)SB_T(g, op->inputs[0])->shape[3] + 15) & ~(size_t)15) * sizeof(int32_t);
}

/* (x - zi) into the middle of a zeroed [Hp][Wp][C] int16 plane. */
static void fill_padded(const sb_graph *g, const sb_op *op, const int8_t *x, int16_t *xp) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    int32_t H = ti->shape[1], W = ti->shape[2], C = ti->shape[3], zi = ti->zero_point, Hp, Wp;
    padded_dims(g, op, &Hp, &Wp);
    memset(xp, 0, (size_t)Hp * Wp * C * sizeof *xp);
    for (int32_t iy = 0; iy < H; iy++) {
        const int8_t *src = x + (size_t)iy * W * C;
        int16_t *dst = xp + ((size_t)(iy + op->pad_top) * Wp + op->pad_left) * C;
        for (int32_t k = 0; k < W * C; k++) dst[k] = (int16_t)(src[k] - zi);
    }
}

/* One output pixel, all channels: written once, compiled for three ISAs
 * (the channel loop is what the vectoriser widens). */
__attribute__((always_inline))
static inline void dw_pixel_body(const int16_t *restrict xp, const int16_t *restrict w16, int32_t *restrict acc,
                                 const int32_t *restrict bias, int32_t C, int32_t KH, int32_t KW,
                                 size_t row_step, size_t col_step) {
    for (int32_t c = 0; c < C; c++) acc[c] = bias[c];
    for (int32_t ky = 0; ky < KH; ky++)
        for (int32_t kx = 0; kx < KW; kx++) {
            const int16_t *restrict xr = xp + ky * row_step + kx * col_step;
            const int16_t *restrict wr = w16 + ((size_t)ky * KW + kx) * C;
            for (int32_t c = 0; c < C; c++) acc[c] += (int32_t)xr[c] * wr[c];
        }
}

typedef void (*dw_fn)(const int16_t *, const int16_t *, int32_t *, const int32_t *, int32_t, int32_t, int32_t,
                      size_t, size_t);

static void dw_pixel_plain(const int16_t *xp, const int16_t *w16, int32_t *acc, const int32_t *bias, int32_t C,
                           int32_t KH, int32_t KW, size_t rs, size_t cs) {
    dw_pixel_body(xp, w16, acc, bias, C, KH, KW, rs, cs);
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2")))
static void dw_pixel_avx2(const int16_t *xp, const int16_t *w16, int32_t *acc, const int32_t *bias, int32_t C,
                          int32_t KH, int32_t KW, size_t rs, size_t cs) {
    dw_pixel_body(xp, w16, acc, bias, C, KH, KW, rs, cs);
}
__attribute__((target("avx512f,avx512bw")))
static void dw_pixel_avx512(const int16_t *xp, const int16_t *w16, int32_t *acc, const int32_t *bias, int32_t C,
                            int32_t KH, int32_t KW, size_t rs, size_t cs) {
    dw_pixel_body(xp, w16, acc, bias, C, KH, KW, rs, cs);
}
#endif

static dw_fn dw_pick(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    switch (sb_isa_now()) {
    case SB_ISA_AVX512VNNI: return dw_pixel_avx512;
    case SB_ISA_AVX2: return dw_pixel_avx2;
    default: break;
    }
#endif
    return dw_pixel_plain;
}

/* ------------------------------------------------ tap pairs (AVX2, VNNI) */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* The pair plane: xq[py][px][c] = (x(py, px, c) - zi, x(py, px + 1, c) - zi),
 * zero in the padding and past C, so one pmaddwd lane sums two horizontal
 * taps of one channel (needs dilation_w == 1). Every position is written
 * once, 16 channels a step: widen, subtract zi, interleave the pixel with its
 * right neighbour (unpack, then fix the 128-bit lane order). */
__attribute__((target("avx2")))
static void fill_pairs_avx2(const sb_graph *g, const sb_op *op, const int8_t *x, int32_t C16, int16_t *xq) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    int32_t H = ti->shape[1], W = ti->shape[2], C = ti->shape[3], zi = ti->zero_point, Hp, Wp;
    padded_dims(g, op, &Hp, &Wp);
    const __m256i vzi = _mm256_set1_epi16((int16_t)zi), zero = _mm256_setzero_si256();
    for (int32_t py = 0; py < Hp; py++) {
        int16_t *row = xq + (size_t)py * Wp * C16 * 2;
        int32_t iy = py - op->pad_top;
        if (iy < 0 || iy >= H) {
            memset(row, 0, (size_t)Wp * C16 * 2 * sizeof *row);
            continue;
        }
        const int8_t *srow = x + (size_t)iy * W * C;
        for (int32_t px = 0; px < Wp; px++) {
            int32_t ix = px - op->pad_left;
            const int8_t *pa = ix >= 0 && ix < W ? srow + (size_t)ix * C : NULL;
            const int8_t *pb = ix + 1 >= 0 && ix + 1 < W ? srow + (size_t)(ix + 1) * C : NULL;
            int16_t *d = row + (size_t)px * C16 * 2;
            int32_t c = 0;
            for (; c + 16 <= C; c += 16) {
                __m256i a = pa ? _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(pa + c))), vzi) : zero;
                __m256i b = pb ? _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(pb + c))), vzi) : zero;
                __m256i ul = _mm256_unpacklo_epi16(a, b), uh = _mm256_unpackhi_epi16(a, b);
                _mm256_storeu_si256((__m256i *)(void *)(d + 2 * c), _mm256_permute2x128_si256(ul, uh, 0x20));
                _mm256_storeu_si256((__m256i *)(void *)(d + 2 * c + 16), _mm256_permute2x128_si256(ul, uh, 0x31));
            }
            for (; c < C; c++) {
                d[2 * c] = (int16_t)(pa ? pa[c] - zi : 0);
                d[2 * c + 1] = (int16_t)(pb ? pb[c] - zi : 0);
            }
            for (; c < C16; c++) d[2 * c] = d[2 * c + 1] = 0;
        }
    }
}

/* acc[c] = bias[c] + sum over rows ky and tap pairs j, 16 channels a step. */
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void dw_pairs_vnni(const int16_t *xq, const int16_t *wq, const int32_t *bias, int32_t C16, int32_t KH,
                          int32_t nkp, size_t row_step, int32_t *acc) {
    for (int32_t cb = 0; cb < C16; cb += 16) {
        __m512i a = _mm512_loadu_si512((const void *)(bias + cb));
        for (int32_t ky = 0; ky < KH; ky++)
            for (int32_t j = 0; j < nkp; j++) {
                const int16_t *xv = xq + ky * row_step + ((size_t)j * 2 * C16 + cb) * 2;
                const int16_t *wv = wq + (((size_t)ky * nkp + j) * C16 + cb) * 2;
                a = _mm512_dpwssd_epi32(a, _mm512_loadu_si512((const void *)xv), _mm512_loadu_si512((const void *)wv));
            }
        _mm512_storeu_si512((void *)(acc + cb), a);
    }
}

__attribute__((target("avx2")))
static void dw_pairs_avx2(const int16_t *xq, const int16_t *wq, const int32_t *bias, int32_t C16, int32_t KH,
                          int32_t nkp, size_t row_step, int32_t *acc) {
    for (int32_t cb = 0; cb < C16; cb += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(bias + cb));
        for (int32_t ky = 0; ky < KH; ky++)
            for (int32_t j = 0; j < nkp; j++) {
                const int16_t *xv = xq + ky * row_step + ((size_t)j * 2 * C16 + cb) * 2;
                const int16_t *wv = wq + (((size_t)ky * nkp + j) * C16 + cb) * 2;
                a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)xv),
                                                          _mm256_loadu_si256((const __m256i *)(const void *)wv)));
            }
        _mm256_storeu_si256((__m256i *)(void *)(acc + cb), a);
    }
}

typedef void (*dw_pairs_fn)(const int16_t *, const int16_t *, const int32_t *, int32_t, int32_t, int32_t, size_t,
                            int32_t *);
#endif

/* One output row of a depthwise conv, from the shared plane (pairs or
 * plain), accumulators in the thread's scratch. Rows are independent. */
typedef struct dw_job {
    const sb_graph *g;
    const sb_op *op;
    const sb_packed_dw *dw;
    const int16_t *plane;
    int8_t *y;
    int32_t C, KH, KW, OW, Wp;
    int pairs;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    dw_pairs_fn pairs_kern;
#endif
    dw_fn pixel_kern;
} dw_job;

static void dw_row(void *ctx, int32_t oy, void *scratch) {
    const dw_job *j = ctx;
    const sb_op *op = j->op;
    int32_t *acc = scratch;
    int32_t C = j->C;
    for (int32_t ox = 0; ox < j->OW; ox++) {
        size_t pix = (size_t)oy * op->stride_h * j->Wp + (size_t)ox * op->stride_w;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        if (j->pairs) {
            int32_t C16 = j->dw->C16;
            size_t row_step = (size_t)op->dilation_h * j->Wp * C16 * 2;
            j->pairs_kern(j->plane + pix * C16 * 2, j->dw->wpair, j->dw->bias, C16, j->KH, j->dw->nkp, row_step, acc);
        } else
#endif
        {
            size_t row_step = (size_t)op->dilation_h * j->Wp * C, col_step = (size_t)op->dilation_w * C;
            j->pixel_kern(j->plane + pix * C, j->dw->w16, acc, j->dw->bias, C, j->KH, j->KW, row_step, col_step);
        }
        sb_out_conv_row(j->g, op, acc, 0, C, j->y + ((size_t)oy * j->OW + ox) * C);
    }
}

void sb_dwconv2d_fast(const sb_graph *g, const sb_op *op, const sb_packed_dw *dw,
                      const int8_t *x, int8_t *y, const sb_exec *ex) {
    const sb_tensor *tw = SB_T(g, op->inputs[1]), *to = SB_T(g, op->output);
    int32_t Hp, Wp;
    padded_dims(g, op, &Hp, &Wp);
    dw_job j;
    memset(&j, 0, sizeof j);
    j.g = g;
    j.op = op;
    j.dw = dw;
    j.plane = ex->shared;
    j.y = y;
    j.C = tw->shape[3];
    j.KH = tw->shape[1];
    j.KW = tw->shape[2];
    j.OW = to->shape[2];
    j.Wp = Wp;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    int isa = sb_isa_now();
    if (op->dilation_w == 1 && isa >= SB_ISA_AVX2) {
        j.pairs = 1;
        j.pairs_kern = isa == SB_ISA_AVX512VNNI ? dw_pairs_vnni : dw_pairs_avx2;
        fill_pairs_avx2(g, op, x, dw->C16, ex->shared);
    }
#endif
    if (!j.pairs) {
        j.pixel_kern = dw_pick();
        fill_padded(g, op, x, ex->shared);
    }
    sb_exec_for(ex, to->shape[1], dw_row, &j);
}
