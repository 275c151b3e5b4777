/* mul.c - elementwise multiply; b is either a's shape or [1,1,1,C],
 * broadcast over H and W (squeeze-and-excitation scaling). */
#include "kernels_internal.h"

void sb_mul_ref(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y) {
    int64_t n = sb_tensor_elems(SB_T(g, op->output));
    int64_t nb = sb_tensor_elems(SB_T(g, op->inputs[1]));
    if (nb == n) {
        for (int64_t i = 0; i < n; i++) y[i] = sb_out_mul(g, op, a[i], b[i]);
        return;
    }
    for (int64_t i = 0; i < n; i += nb) /* nb = C: one pixel at a time */
        for (int64_t c = 0; c < nb; c++) y[i + c] = sb_out_mul(g, op, a[i + c], b[c]);
}

size_t sb_mul_scratch_bytes(const sb_graph *g, const sb_op *op) {
    return (size_t)SB_T(g, op->inputs[0])->shape[SB_T(g, op->inputs[0])->rank - 1] * sizeof(int32_t);
}

/* Fast path: one pixel (C products) at a time, requantised as a row. */
void sb_mul_fast(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y, void *scratch) {
    const sb_tensor *ta = SB_T(g, op->inputs[0]);
    int64_t n = sb_tensor_elems(SB_T(g, op->output)), nb = sb_tensor_elems(SB_T(g, op->inputs[1]));
    int32_t C = ta->shape[ta->rank - 1];
    int32_t za = ta->zero_point, zb = SB_T(g, op->inputs[1])->zero_point;
    int32_t zo = SB_T(g, op->output)->zero_point, fixed = sb_fixed_kind(g, op);
    int32_t *restrict p = scratch;
    for (int64_t i = 0; i < n; i += C) {
        const int8_t *restrict ar = a + i, *restrict br = nb == n ? b + i : b;
        for (int32_t c = 0; c < C; c++) p[c] = ((int32_t)ar[c] - za) * ((int32_t)br[c] - zb);
        sb_requant_row(fixed, p, C, op->multiplier, op->shift, op->scale_f32, 0, zo, op->act_min, op->act_max, y + i);
    }
}
