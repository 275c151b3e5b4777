/* lut.c - int8 -> int8 through a 256-entry table built by the exporter
 * from the quantisation parameters (sigmoid, SiLU, hard-swish, ...). */
#include "kernels_internal.h"

void sb_lut_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y) {
    int64_t n = sb_tensor_elems(SB_T(g, op->output));
    const int8_t *t = op->lut + 128; /* t[x] == sb_out_lut(op, x) */
    for (int64_t i = 0; i < n; i++) y[i] = t[x[i]];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* 64 lookups a step without a byte permute over 256 entries (no VBMI on
 * many hosts): the table as 16 rows of 16 bytes; idx = x + 128; the low
 * nibble picks within a row (pshufb), the high nibble picks the row (one
 * masked shuffle per row). */
__attribute__((target("avx512f,avx512bw")))
static int64_t lut_avx512(const int8_t *table, const int8_t *x, int8_t *y, int64_t n) {
    __m512i rows[16];
    for (int h = 0; h < 16; h++) rows[h] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(table + 16 * h)));
    const __m512i sign = _mm512_set1_epi8((char)0x80), nib = _mm512_set1_epi8(0x0F);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i idx = _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + i)), sign);
        __m512i lo = _mm512_and_si512(idx, nib), hi = _mm512_and_si512(_mm512_srli_epi16(idx, 4), nib);
        __m512i r = _mm512_setzero_si512();
        for (int h = 0; h < 16; h++)
            r = _mm512_mask_shuffle_epi8(r, _mm512_cmpeq_epi8_mask(hi, _mm512_set1_epi8((char)h)), rows[h], lo);
        _mm512_storeu_si512((void *)(y + i), r);
    }
    return i;
}
#endif

void sb_lut_fast(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y) {
    int64_t n = sb_tensor_elems(SB_T(g, op->output)), i = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (sb_isa_now() >= SB_ISA_AVX512VNNI) i = lut_avx512(op->lut, x, y, n);
#endif
    const int8_t *t = op->lut + 128;
    for (; i < n; i++) y[i] = t[x[i]];
}
