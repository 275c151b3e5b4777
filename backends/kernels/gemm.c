/*
 * gemm.c - the int16 GEMM at the heart of conv2d, pointwise conv and fc.
 *
 * Y[p][o] = bias[o] + sum_k X[p][k] * W[o][k], X already holding (x - zi) as
 * int16 (|x - zi| <= 255, |w| <= 128, so a pair of products fits an int32
 * lane: pmaddwd and vpdpwssd never saturate). Weights are packed in blocks of
 * 16 output channels x pairs of k, so one vector load gives the 16 channels'
 * pair and one broadcast gives a row's pair.
 *
 * Three micro-kernels with identical integer results: portable C, AVX2
 * (pmaddwd), AVX-512 VNNI (vpdpwssd); integer sums do not depend on order.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"
#include "outstage_x86.h"

void *sb_aligned_alloc(size_t nbytes) {
    void *p = NULL;
    if (nbytes == 0) nbytes = SB_ALIGN_BYTES;
    if (nbytes > SIZE_MAX - SB_ALIGN_BYTES) return NULL; /* rounding up would wrap to 0 */
    if (posix_memalign(&p, SB_ALIGN_BYTES, (nbytes + SB_ALIGN_BYTES - 1) & ~(size_t)(SB_ALIGN_BYTES - 1)))
        return NULL;
    return p;
}

/* ------------------------------------------------------------ dispatch */

static int isa_forced = -1;
static int isa_cached = -1; /* the CPUID probe is not free: once (a benign race) */

static int isa_probe(void) {
#ifdef SB_HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return SB_ISA_AVX512VNNI;
    if (__builtin_cpu_supports("avx2")) return SB_ISA_AVX2;
#endif
    return SB_ISA_PORTABLE;
}

static int isa_best(void) {
    if (isa_cached < 0) isa_cached = isa_probe();
    return isa_cached;
}

int sb_kernels_isa(void) { return isa_best(); }

int sb_kernels_set_isa(int isa) {
    int best = isa_best();
    isa_forced = isa < 0 || isa > best ? -1 : isa;
    return sb_isa_now();
}

int sb_isa_now(void) { return isa_forced >= 0 ? isa_forced : isa_best(); }

/* ------------------------------------------------------------- packing */

int sb_pack_conv(const sb_graph *g, const sb_op *op, sb_packed_w *pw) {
    const sb_tensor *tw = SB_T(g, op->inputs[1]);
    const int8_t *w = tw->data;
    const int32_t *bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? SB_T(g, op->inputs[2])->data : NULL;
    int32_t O = tw->shape[0];
    int32_t K = (int32_t)(sb_tensor_elems(tw) / O);
    pw->O = O;
    pw->K = K;
    pw->K2 = (K + 1) & ~1;
    pw->n_ob = (O + SB_OB - 1) / SB_OB;
    size_t n = (size_t)pw->n_ob * pw->K2 * SB_OB;
    pw->w16 = sb_aligned_alloc(n * sizeof(int16_t));
    pw->bias = sb_aligned_alloc((size_t)pw->n_ob * SB_OB * sizeof(int32_t));
    if (!pw->w16 || !pw->bias) return SB_ENOMEM;
    memset(pw->w16, 0, n * sizeof(int16_t));
    memset(pw->bias, 0, (size_t)pw->n_ob * SB_OB * sizeof(int32_t));
    for (int32_t o = 0; o < O; o++) {
        int16_t *blk = pw->w16 + (size_t)(o / SB_OB) * pw->K2 * SB_OB;
        int32_t lane = o % SB_OB;
        for (int32_t k = 0; k < K; k++)
            blk[(size_t)(k / 2) * SB_OB * 2 + lane * 2 + (k & 1)] = w[(size_t)o * K + k];
        pw->bias[o] = bias ? bias[o] : 0;
    }
    return SB_OK;
}

/* ---------------------------------------------------------- micro-kernels */

/* Each computes acc[r][0..15] = bias + sum over k pairs, for rows xr[0..PB). */
typedef void (*kern_fn)(const int16_t *const *xr, const int16_t *w, int32_t nkp,
                        const int32_t *bias, int32_t (*acc)[SB_OB]);

#define PB_PORTABLE 4
static void kern_portable(const int16_t *const *xr, const int16_t *w, int32_t nkp,
                          const int32_t *bias, int32_t (*acc)[SB_OB]) {
    for (int r = 0; r < PB_PORTABLE; r++)
        for (int l = 0; l < SB_OB; l++) acc[r][l] = bias[l];
    for (int32_t kp = 0; kp < nkp; kp++) {
        const int16_t *wk = w + (size_t)kp * SB_OB * 2;
        for (int r = 0; r < PB_PORTABLE; r++) {
            int32_t x0 = xr[r][2 * kp], x1 = xr[r][2 * kp + 1];
            for (int l = 0; l < SB_OB; l++) acc[r][l] += x0 * wk[2 * l] + x1 * wk[2 * l + 1];
        }
    }
}

#ifdef SB_HAVE_X86
static inline int32_t ld_pair(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define PB_AVX2 4
__attribute__((target("avx2")))
static void kern_avx2(const int16_t *const *xr, const int16_t *w, int32_t nkp,
                      const int32_t *bias, int32_t (*acc)[SB_OB]) {
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)bias);
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(bias + 8));
    __m256i a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    const int16_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
    for (int32_t kp = 0; kp < nkp; kp++) {
        const __m256i *wk = (const __m256i *)(const void *)(w + (size_t)kp * SB_OB * 2);
        __m256i w0 = _mm256_load_si256(wk), w1 = _mm256_load_si256(wk + 1), x;
        x = _mm256_set1_epi32(ld_pair(x0 + 2 * kp));
        a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(x, w0));
        a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(x, w1));
        x = _mm256_set1_epi32(ld_pair(x1 + 2 * kp));
        a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(x, w0));
        a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(x, w1));
        x = _mm256_set1_epi32(ld_pair(x2 + 2 * kp));
        a20 = _mm256_add_epi32(a20, _mm256_madd_epi16(x, w0));
        a21 = _mm256_add_epi32(a21, _mm256_madd_epi16(x, w1));
        x = _mm256_set1_epi32(ld_pair(x3 + 2 * kp));
        a30 = _mm256_add_epi32(a30, _mm256_madd_epi16(x, w0));
        a31 = _mm256_add_epi32(a31, _mm256_madd_epi16(x, w1));
    }
    _mm256_storeu_si256((__m256i *)(void *)acc[0], a00);
    _mm256_storeu_si256((__m256i *)(void *)(acc[0] + 8), a01);
    _mm256_storeu_si256((__m256i *)(void *)acc[1], a10);
    _mm256_storeu_si256((__m256i *)(void *)(acc[1] + 8), a11);
    _mm256_storeu_si256((__m256i *)(void *)acc[2], a20);
    _mm256_storeu_si256((__m256i *)(void *)(acc[2] + 8), a21);
    _mm256_storeu_si256((__m256i *)(void *)acc[3], a30);
    _mm256_storeu_si256((__m256i *)(void *)(acc[3] + 8), a31);
}

#define PB_VNNI 8
#define VNNI_ROW(r) \
    a##r = _mm512_dpwssd_epi32(a##r, _mm512_set1_epi32(ld_pair(xr[r] + 2 * kp)), wv)

/* The VNNI kernel with the output stage fused: the 8 x 16 accumulators are
 * requantised in registers and stored as int8 (n valid channels, np rows). */
typedef struct fuse_ctx {
    int fixed;
    int32_t zo, lo, hi;
} fuse_ctx;

#define FUSED_ROW(r) \
    if (np > r) _mm_mask_storeu_epi8(yr[r], k, sb_oc16_apply(&oc, a##r, vm, vs, vf))
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
static void kern_vnni_fused(const int16_t *const *xr, const int16_t *w, int32_t nkp, const int32_t *bias,
                            const fuse_ctx *fc, const int32_t *m, const int32_t *s, const float *f, int32_t n,
                            int8_t *const *yr, int np) {
    __m512i b = _mm512_loadu_si512((const void *)bias);
    __m512i a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
    for (int32_t kp = 0; kp < nkp; kp++) {
        __m512i wv = _mm512_load_si512((const void *)(w + (size_t)kp * SB_OB * 2));
        VNNI_ROW(0); VNNI_ROW(1); VNNI_ROW(2); VNNI_ROW(3);
        VNNI_ROW(4); VNNI_ROW(5); VNNI_ROW(6); VNNI_ROW(7);
    }
    __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    sb_oc16 oc;
    sb_oc16_init(&oc, fc->fixed, fc->zo, fc->lo, fc->hi);
    __m512i vm = _mm512_setzero_si512(), vs = vm;
    __m512 vf = _mm512_setzero_ps();
    if (fc->fixed) {
        vm = _mm512_maskz_loadu_epi32(k, m);
        vs = _mm512_maskz_loadu_epi32(k, s);
    } else {
        vf = _mm512_maskz_loadu_ps(k, f);
    }
    FUSED_ROW(0); FUSED_ROW(1); FUSED_ROW(2); FUSED_ROW(3);
    FUSED_ROW(4); FUSED_ROW(5); FUSED_ROW(6); FUSED_ROW(7);
}
#endif

/* --------------------------------------------------------------- driver */

#define PB_MAX 8
/* Rows per chunk: the chunk's X rows stay in L2 while every weight block
 * (K2 * 64 bytes, in L1) sweeps over them. */
#define ROWS_PER_CHUNK 64

#ifdef SB_HAVE_X86
static void gemm_vnni_fused(const sb_graph *g, const sb_op *op, const sb_packed_w *pw, const int16_t *x16,
                            int32_t P, int8_t *y) {
    fuse_ctx fc = {sb_fixed_kind(g, op), g->tensors[op->output].zero_point, op->act_min, op->act_max};
    const int16_t *xr[PB_VNNI];
    int8_t *yr[PB_VNNI];
    int32_t nkp = pw->K2 / 2;
    for (int32_t c0 = 0; c0 < P; c0 += ROWS_PER_CHUNK) {
        int32_t c1 = c0 + ROWS_PER_CHUNK < P ? c0 + ROWS_PER_CHUNK : P;
        for (int32_t ob = 0; ob < pw->n_ob; ob++) {
            const int16_t *wblk = pw->w16 + (size_t)ob * pw->K2 * SB_OB;
            int32_t o0 = ob * SB_OB, no = pw->O - o0 < SB_OB ? pw->O - o0 : SB_OB;
            const int32_t *m = fc.fixed ? op->multiplier + o0 : NULL, *s = fc.fixed ? op->shift + o0 : NULL;
            const float *f = fc.fixed ? NULL : op->scale_f32 + o0;
            for (int32_t p0 = c0; p0 < c1; p0 += PB_VNNI) {
                int np = c1 - p0 < PB_VNNI ? c1 - p0 : PB_VNNI;
                for (int r = 0; r < PB_VNNI; r++) {
                    int32_t p = p0 + (r < np ? r : np - 1); /* a short block repeats its last row */
                    xr[r] = x16 + (size_t)p * pw->K2;
                    yr[r] = y + (size_t)p * pw->O + o0;
                }
                kern_vnni_fused(xr, wblk, nkp, pw->bias + o0, &fc, m, s, f, no, yr, np);
            }
        }
    }
}
#endif

void sb_gemm_s16(const sb_graph *g, const sb_op *op, const sb_packed_w *pw,
                 const int16_t *x16, int32_t P, int8_t *y) {
#ifdef SB_HAVE_X86
    /* the fused output stage has TFLite's double rounding only */
    if (sb_isa_now() == SB_ISA_AVX512VNNI && !op->single_round) {
        gemm_vnni_fused(g, op, pw, x16, P, y);
        return;
    }
#endif
    kern_fn kern = kern_portable;
    int pb = PB_PORTABLE;
#ifdef SB_HAVE_X86
    switch (sb_isa_now()) {
    case SB_ISA_AVX2: kern = kern_avx2; pb = PB_AVX2; break;
    default: break;
    }
#endif
    int32_t acc[PB_MAX][SB_OB];
    const int16_t *xr[PB_MAX];
    int32_t nkp = pw->K2 / 2;
    for (int32_t c0 = 0; c0 < P; c0 += ROWS_PER_CHUNK) {
        int32_t c1 = c0 + ROWS_PER_CHUNK < P ? c0 + ROWS_PER_CHUNK : P;
        for (int32_t ob = 0; ob < pw->n_ob; ob++) {
            const int16_t *wblk = pw->w16 + (size_t)ob * pw->K2 * SB_OB;
            int32_t o0 = ob * SB_OB, no = pw->O - o0 < SB_OB ? pw->O - o0 : SB_OB;
            for (int32_t p0 = c0; p0 < c1; p0 += pb) {
                int32_t np = c1 - p0 < pb ? c1 - p0 : pb;
                /* a short last block repeats its last row; only np are stored */
                for (int r = 0; r < pb; r++) xr[r] = x16 + (size_t)(p0 + (r < np ? r : np - 1)) * pw->K2;
                kern(xr, wblk, nkp, pw->bias + o0, acc);
                for (int32_t r = 0; r < np; r++)
                    sb_out_conv_row(g, op, acc[r], o0, no, y + (size_t)(p0 + r) * pw->O + o0);
            }
        }
    }
}
