/* maxpool.c - max over each window's valid positions (padding never wins);
 * input and output share scale and zero point, so no requantisation, then
 * the clamp [act_min, act_max]. */
#include "kernels_internal.h"

void sb_maxpool_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y) {
    const sb_tensor *ti = SB_T(g, op->inputs[0]), *to = SB_T(g, op->output);
    int32_t H = ti->shape[1], W = ti->shape[2], C = ti->shape[3];
    int32_t OH = to->shape[1], OW = to->shape[2];
    for (int32_t oy = 0; oy < OH; oy++)
        for (int32_t ox = 0; ox < OW; ox++)
            for (int32_t c = 0; c < C; c++) {
                int32_t m = -129; /* below any int8: a window with no valid tap stays here */
                for (int32_t ky = 0; ky < op->kernel_h; ky++) {
                    int32_t iy = oy * op->stride_h - op->pad_top + ky * op->dilation_h;
                    if (iy < 0 || iy >= H) continue;
                    for (int32_t kx = 0; kx < op->kernel_w; kx++) {
                        int32_t ix = ox * op->stride_w - op->pad_left + kx * op->dilation_w;
                        if (ix < 0 || ix >= W) continue;
                        int32_t v = x[((size_t)iy * W + ix) * C + c];
                        if (v > m) m = v;
                    }
                }
                y[((size_t)oy * OW + ox) * C + c] = sb_clamp8(m, op->act_min, op->act_max);
            }
}
