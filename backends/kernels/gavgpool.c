/* gavgpool.c - global average pool [1,H,W,C] -> [1,1,1,C]:
 * sum over H,W of (x - zi), requantised by a multiplier that encodes
 * si / (so * H * W) (sb_out_gavgpool). */
#include <stdlib.h>

#include "kernels_internal.h"

void sb_gavgpool_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    int32_t HW = ti->shape[1] * ti->shape[2], C = ti->shape[3], zi = ti->zero_point;
    for (int32_t c = 0; c < C; c++) {
        int32_t sum = 0;
        for (int32_t p = 0; p < HW; p++) sum += (int32_t)x[(size_t)p * C + c] - zi;
        y[c] = sb_out_gavgpool(g, op, sum);
    }
}

size_t sb_gavgpool_scratch_bytes(const sb_graph *g, const sb_op *op) {
    return (size_t)SB_T(g, op->inputs[0])->shape[3] * sizeof(int32_t);
}

/* Fast path: pixel-major (NHWC rows are contiguous), the sums as a row. */
void sb_gavgpool_fast(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y, void *scratch) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    int32_t HW = ti->shape[1] * ti->shape[2], C = ti->shape[3], zi = ti->zero_point;
    int32_t *restrict sum = scratch;
    for (int32_t c = 0; c < C; c++) sum[c] = -zi * HW;
    for (int32_t p = 0; p < HW; p++) {
        const int8_t *restrict xr = x + (size_t)p * C;
        for (int32_t c = 0; c < C; c++) sum[c] += xr[c];
    }
    if (op->avg_count > 0) {
        for (int32_t c = 0; c < C; c++) y[c] = sb_out_gavgpool(g, op, sum[c]);
        return;
    }
    sb_requant_row(sb_fixed_kind(g, op), sum, C, op->multiplier, op->shift, op->scale_f32, 0,
                   SB_T(g, op->output)->zero_point, op->act_min, op->act_max, y);
}
