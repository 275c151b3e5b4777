/*
 * fc.c - fully connected: x flattened in NHWC order ([1, I]), w [O][I].
 *   acc = bias[o] + sum_i (x[i] - zi) * w[o][i];  y[o] = out_conv(acc)
 */
#include "kernels_internal.h"

void sb_fc_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *tw = SB_T(g, op->inputs[1]);
    const int8_t *w = tw->data;
    const int32_t *bias = op->n_inputs > 2 && op->inputs[2] >= 0 ? SB_T(g, op->inputs[2])->data : NULL;
    int32_t I = (int32_t)sb_tensor_elems(ti), O = tw->shape[0], zi = ti->zero_point;
    for (int32_t o = 0; o < O; o++) {
        int32_t acc = bias ? bias[o] : 0;
        for (int32_t i = 0; i < I; i++) acc += ((int32_t)x[i] - zi) * w[(size_t)o * I + i];
        y[o] = sb_out_conv(g, op, o, acc);
    }
}

void sb_fc_fast(const sb_graph *g, const sb_op *op, const sb_packed_w *pw,
                const int8_t *x, int8_t *y, void *scratch) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]);
    int16_t *x16 = scratch;
    for (int32_t k = 0; k < pw->K; k++) x16[k] = (int16_t)(x[k] - ti->zero_point);
    if (pw->K2 > pw->K) x16[pw->K] = 0;
    sb_gemm_s16(g, op, pw, x16, 1, y);
}
