/*
 * outstage.c - rows of output stages (requantise, add zo, clamp), scalar
 * and AVX2. The AVX2 path computes exactly sb_mbqm / sb_fmul_round:
 *
 *   SRDHM(x, m) = trunc((x*m + nudge) / 2^31) equals floor((x*m + 2^30) / 2^31)
 *   for both signs (for x*m < 0, trunc((v + 1 - 2^30) / 2^31) =
 *   floor((v + 1 - 2^30 + 2^31 - 1) / 2^31)); its low 32 bits are bits 31..62
 *   of x*m + 2^30, which a logical 64-bit shift extracts. The one saturating
 *   case (x = m = INT32_MIN) cannot occur: validated multipliers are >= 0.
 *   RDBP uses per-lane variable shifts, exactly as written in the doc.
 *   Float mode: cvtdq2ps, mulps and cvtps2dq round to nearest even like
 *   (float)acc, the float product and rintf in the default rounding mode.
 *
 * tests/kernels cross-checks every path against the scalar inline stages.
 */
#include <string.h>

#include "kernels_internal.h"
#include "outstage_x86.h"

static void requant_row_scalar(int fixed, const int32_t *acc, int32_t n, const int32_t *m, const int32_t *s,
                               const float *f, int per_channel, int32_t zo, int32_t lo, int32_t hi, int8_t *y) {
    for (int32_t j = 0; j < n; j++) {
        int32_t k = per_channel ? j : 0;
        int32_t r = fixed ? sb_mbqm_kind(fixed, acc[j], m[k], s[k]) : sb_fmul_round(acc[j], f[k]);
        y[j] = sb_clamp8(sb_add_zp(zo, r), lo, hi);
    }
}

#ifdef SB_HAVE_X86
/* Exact MBQM of 8 lanes (multipliers >= 0). */
__attribute__((target("avx2"))) static inline __m256i mbqm8(__m256i x, __m256i m, __m256i s) {
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
    __m256i left = _mm256_max_epi32(s, zero), right = _mm256_max_epi32(_mm256_sub_epi32(zero, s), zero);
    x = _mm256_sllv_epi32(x, left);
    const __m256i half = _mm256_set1_epi64x((int64_t)1 << 30);
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, m), half);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), half);
    __m256i hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    /* RDBP(hi, right) */
    __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
    __m256i rem = _mm256_and_si256(hi, mask);
    __m256i neg = _mm256_cmpgt_epi32(zero, hi); /* -1 where hi < 0 */
    __m256i thr = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), neg);
    __m256i q = _mm256_srav_epi32(hi, right);
    return _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, thr));
}

__attribute__((target("avx2"))) static inline void store8(int8_t *y, __m256i v) {
    __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)(void *)y, _mm_packs_epi16(p16, p16));
}

__attribute__((target("avx2")))
static void requant_row_avx2(int fixed, const int32_t *acc, int32_t n, const int32_t *m, const int32_t *s,
                             const float *f, int per_channel, int32_t zo, int32_t lo, int32_t hi, int8_t *y) {
    const __m256i vzo = _mm256_set1_epi32(zo), vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    __m256i vm = _mm256_setzero_si256(), vs = vm;
    __m256 vf = _mm256_setzero_ps();
    if (!per_channel) {
        if (fixed) {
            vm = _mm256_set1_epi32(m[0]);
            vs = _mm256_set1_epi32(s[0]);
        } else {
            vf = _mm256_set1_ps(f[0]);
        }
    }
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(acc + j)), r;
        if (fixed) {
            if (per_channel) {
                vm = _mm256_loadu_si256((const __m256i *)(const void *)(m + j));
                vs = _mm256_loadu_si256((const __m256i *)(const void *)(s + j));
            }
            r = mbqm8(a, vm, vs);
        } else {
            if (per_channel) vf = _mm256_loadu_ps(f + j);
            r = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(a), vf));
        }
        r = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, vzo), vlo), vhi);
        store8(y + j, r);
    }
    if (j < n) { /* the tail; only the mode's own arrays exist (no arithmetic on NULL) */
        int32_t k = per_channel ? j : 0;
        requant_row_scalar(fixed, acc + j, n - j, fixed ? m + k : NULL, fixed ? s + k : NULL, fixed ? NULL : f + k,
                           per_channel, zo, lo, hi, y + j);
    }
}

/* add: la = MBQM((a-za) << ls, m, s), lb likewise, out = MBQM(la + lb). */
__attribute__((target("avx2")))
static void add_row_avx2(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int64_t n, int8_t *y) {
    int32_t za = g->tensors[op->inputs[0]].zero_point, zb = g->tensors[op->inputs[1]].zero_point;
    int32_t zo = g->tensors[op->output].zero_point;
    const __m256i vza = _mm256_set1_epi32(za), vzb = _mm256_set1_epi32(zb), vzo = _mm256_set1_epi32(zo);
    const __m256i vlo = _mm256_set1_epi32(op->act_min), vhi = _mm256_set1_epi32(op->act_max);
    const __m256i ma = _mm256_set1_epi32(op->multiplier[0]), sa = _mm256_set1_epi32(op->shift[0]);
    const __m256i mb = _mm256_set1_epi32(op->multiplier_b), sb = _mm256_set1_epi32(op->shift_b);
    const __m256i mo = _mm256_set1_epi32(op->multiplier_out), so = _mm256_set1_epi32(op->shift_out);
    const __m128i ls = _mm_cvtsi32_si128(op->left_shift);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i va = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(a + i)));
        __m256i vb = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(b + i)));
        __m256i la = mbqm8(_mm256_sll_epi32(_mm256_sub_epi32(va, vza), ls), ma, sa);
        __m256i lb = mbqm8(_mm256_sll_epi32(_mm256_sub_epi32(vb, vzb), ls), mb, sb);
        __m256i r = mbqm8(_mm256_add_epi32(la, lb), mo, so);
        r = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, vzo), vlo), vhi);
        store8(y + i, r);
    }
    for (; i < n; i++) y[i] = sb_out_add(g, op, a[i], b[i]);
}
#endif

#ifdef SB_HAVE_X86
/* ---------------------------------------------------------- AVX-512 */

SB_T512 static void requant_row_avx512(int fixed, const int32_t *acc, int32_t n, const int32_t *m, const int32_t *s,
                                    const float *f, int per_channel, int32_t zo, int32_t lo, int32_t hi, int8_t *y) {
    sb_oc16 oc;
    sb_oc16_init(&oc, fixed, zo, lo, hi);
    __m512i vm = _mm512_setzero_si512(), vs = vm;
    __m512 vf = _mm512_setzero_ps();
    if (!per_channel) {
        if (fixed) {
            vm = _mm512_set1_epi32(m[0]);
            vs = _mm512_set1_epi32(s[0]);
        } else {
            vf = _mm512_set1_ps(f[0]);
        }
    }
    for (int32_t j = 0; j < n; j += 16) {
        __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512i a = _mm512_maskz_loadu_epi32(k, acc + j);
        if (per_channel) {
            if (fixed) {
                vm = _mm512_maskz_loadu_epi32(k, m + j);
                vs = _mm512_maskz_loadu_epi32(k, s + j);
            } else {
                vf = _mm512_maskz_loadu_ps(k, f + j);
            }
        }
        _mm_mask_storeu_epi8(y + j, k, sb_oc16_apply(&oc, a, vm, vs, vf));
    }
}
#endif

void sb_requant_row(int fixed, const int32_t *acc, int32_t n, const int32_t *m, const int32_t *s, const float *f,
                    int per_channel, int32_t zo, int32_t lo, int32_t hi, int8_t *y) {
#ifdef SB_HAVE_X86
    int isa = fixed == 2 ? SB_ISA_PORTABLE : sb_isa_now(); /* single rounding: scalar only */
    if (isa >= SB_ISA_AVX512VNNI) {
        requant_row_avx512(fixed, acc, n, m, s, f, per_channel, zo, lo, hi, y);
        return;
    }
    if (isa >= SB_ISA_AVX2) {
        requant_row_avx2(fixed, acc, n, m, s, f, per_channel, zo, lo, hi, y);
        return;
    }
#endif
    requant_row_scalar(fixed, acc, n, m, s, f, per_channel, zo, lo, hi, y);
}

void sb_out_conv_row(const sb_graph *g, const sb_op *op, const int32_t *acc, int32_t o0, int32_t n, int8_t *y) {
    int fixed = sb_fixed_kind(g, op);
    sb_requant_row(fixed, acc, n, fixed ? op->multiplier + o0 : NULL, fixed ? op->shift + o0 : NULL,
                   fixed ? NULL : op->scale_f32 + o0, 1, g->tensors[op->output].zero_point, op->act_min,
                   op->act_max, y);
}

void sb_add_fast(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y) {
    int64_t n = sb_tensor_elems(SB_T(g, op->output));
#ifdef SB_HAVE_X86
    if (g->requant == SB_REQUANT_FIXED && !op->single_round && sb_isa_now() >= SB_ISA_AVX2) {
        add_row_avx2(g, op, a, b, n, y);
        return;
    }
#endif
    sb_add_ref(g, op, a, b, y);
}
