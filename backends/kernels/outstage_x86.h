/*
 * outstage_x86.h - the 16-lane (AVX-512) output stage, shared by the
 * requantisation rows (outstage.c) and the fused VNNI GEMM kernel (gemm.c).
 * Exactness argument: see outstage.c (same steps as the AVX2 mbqm8).
 */
#ifndef SB_OUTSTAGE_X86_H
#define SB_OUTSTAGE_X86_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SB_HAVE_X86 1
#include <immintrin.h>

#define SB_T512 __attribute__((target("avx512f,avx512bw,avx512vl")))

typedef struct sb_oc16 {
    int fixed;
    __m512i zo, lo, hi;
} sb_oc16;

SB_T512 static inline void sb_oc16_init(sb_oc16 *oc, int fixed, int32_t zo, int32_t lo, int32_t hi) {
    oc->fixed = fixed;
    oc->zo = _mm512_set1_epi32(zo);
    oc->lo = _mm512_set1_epi32(lo);
    oc->hi = _mm512_set1_epi32(hi);
}

/* Exact MBQM of 16 lanes (multipliers >= 0). */
SB_T512 static inline __m512i sb_mbqm16(__m512i x, __m512i m, __m512i s) {
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
    const __m512i half = _mm512_set1_epi64((int64_t)1 << 30);
    __m512i left = _mm512_max_epi32(s, zero), right = _mm512_max_epi32(_mm512_sub_epi32(zero, s), zero);
    x = _mm512_sllv_epi32(x, left);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, m), half);
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)), half);
    __m512i h = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
    __m512i rem = _mm512_and_si512(h, mask);
    __m512i thr = _mm512_srli_epi32(mask, 1);
    thr = _mm512_mask_add_epi32(thr, _mm512_cmplt_epi32_mask(h, zero), thr, one);
    __m512i q = _mm512_srav_epi32(h, right);
    return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, one);
}

/* Requantise 16 accumulators and narrow to int8. */
SB_T512 static inline __m128i sb_oc16_apply(const sb_oc16 *oc, __m512i acc, __m512i m, __m512i s, __m512 f) {
    __m512i r = oc->fixed ? sb_mbqm16(acc, m, s) : _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), f));
    r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, oc->zo), oc->lo), oc->hi);
    return _mm512_cvtsepi32_epi8(r);
}
#endif

#endif
