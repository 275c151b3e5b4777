/* add.c - elementwise add of two int8 tensors of one shape (residuals):
 * each input rescaled to a common fixed-point domain (left_shift 20), summed,
 * requantised to the output (sb_out_add). */
#include "kernels_internal.h"

void sb_add_ref(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y) {
    int64_t n = sb_tensor_elems(SB_T(g, op->output));
    for (int64_t i = 0; i < n; i++) y[i] = sb_out_add(g, op, a[i], b[i]);
}
