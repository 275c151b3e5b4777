/*
 * kernels_internal.h - what the op files and graph.c share; not public.
 *
 * Each op has a straightforward reference kernel (`*_ref`, the text of
 * docs/model-format.md as loops) and, for the hot ones, a fast kernel that
 * must give the same bytes (tests/kernels cross-checks them).
 */
#ifndef SB_KERNELS_INTERNAL_H
#define SB_KERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sb_kernels.h"

#define SB_ALIGN_BYTES 64

/* Byte counts, saturating: SIZE_MAX stands for "more than size_t holds", so
 * a product that would wrap can never turn into a small allocation. */
static inline size_t sb_size_mul(size_t a, size_t b) {
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}
static inline size_t sb_size_add(size_t a, size_t b) {
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}
/* A workspace (activations + scratch) above this is refused before any
 * allocation, with its size: a real model needs megabytes; a file with an
 * absurd padding asks for terabytes, and malloc's failure would not say why. */
#define SB_WORKSPACE_MAX_BYTES ((size_t)1 << 34)
/* Output channels per packed weight block: one AVX-512 register of int32,
 * two AVX2 registers. */
#define SB_OB 16

/* Shortcuts into the graph. */
#define SB_T(g, i) (&(g)->tensors[(i)])

/* Weights of a conv/fc repacked as int16 pairs, ready for pmaddwd:
 * w16[ob][kp][lane][2] = (w[ob*16+lane][2kp], w[ob*16+lane][2kp+1]); channels
 * past O and the odd tail of K are zero. */
typedef struct sb_packed_w {
    int32_t O, K, K2;          /* K2 = K rounded up to even */
    int32_t n_ob;              /* blocks of SB_OB output channels */
    int16_t *w16;              /* n_ob * (K2/2) * SB_OB * 2 */
    int32_t *bias;             /* O, zero when the op has no bias */
} sb_packed_w;

/* Depthwise weights widened to int16, [KH*KW][C] (portable path), and as
 * horizontal tap pairs for pmaddwd/vpdpwssd: wpair[ky][j][c][2] =
 * (w[ky][2j][c], w[ky][2j+1][c]), channels padded to C16 (a multiple of 16)
 * and the odd tap's partner zero. */
typedef struct sb_packed_dw {
    int16_t *w16;
    int16_t *wpair;
    int32_t *bias;             /* C16 entries, zero past C */
    int32_t C16, nkp;          /* padded channels, tap pairs per kernel row */
} sb_packed_dw;

/* Float weights of a conv/dw/fc for the fp32 path: conv/fc transposed to
 * [K][O] (the output-channel loop vectorises), dw as [KH*KW][C]. */
typedef struct sb_f32_w {
    float *w;
    float *b;
} sb_f32_w;

/* Per-op prepared data for the fast path (NULL members when unused). */
typedef struct sb_op_pack {
    sb_packed_w pw;
    sb_packed_dw dw;
    sb_f32_w f32;
} sb_op_pack;

struct sb_pack {
    unsigned what;             /* SB_PACK_INT8 | SB_PACK_F32 */
    int32_t n_ops;
    sb_op_pack *ops;
    size_t scratch_bytes;      /* private scratch per thread the fast path needs */
    size_t shared_bytes;       /* scratch all threads of one op share (dw planes) */
    int32_t scratch_op, shared_op; /* the ops that need them (-1: none) */
};

/* How a fast kernel runs: its tasks go to sb_exec_for, which runs them on
 * this thread or on the workspace's helper threads too (threads_per_image). */
typedef void (*sb_task_fn)(void *ctx, int32_t task, void *scratch);
typedef struct sb_pool sb_pool;
typedef struct sb_exec {
    void *shared;              /* pack->shared_bytes */
    void *scratch;             /* the calling thread's private scratch */
    sb_pool *pool;             /* NULL: one thread */
} sb_exec;
/* Run fn(ctx, t, private scratch) for t in [0, n); returns when all are done. */
void sb_exec_for(const sb_exec *ex, int32_t n, sb_task_fn fn, void *ctx);

/* NULL for SIZE_MAX (a saturated size) as for any size that cannot be had. */
void *sb_aligned_alloc(size_t nbytes);

/* Reference kernels: x/a/b inputs, y output (int8 activation buffers). */
void sb_conv2d_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y);
void sb_dwconv2d_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y);
void sb_fc_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y);
void sb_add_ref(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y);
void sb_mul_ref(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y);
void sb_gavgpool_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y);
void sb_maxpool_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y);
void sb_lut_ref(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y);

/* Fast kernels (same results). `scratch` holds pack->scratch_bytes (private to
 * the calling thread); conv and dwconv take an sb_exec and may split their work
 * over the workspace threads (dwconv puts its padded plane in ex->shared). */
int sb_pack_conv(const sb_graph *g, const sb_op *op, sb_packed_w *pw);
int sb_pack_dw(const sb_graph *g, const sb_op *op, sb_packed_dw *dw);
size_t sb_conv2d_scratch_bytes(const sb_graph *g, const sb_op *op);
size_t sb_dwconv2d_scratch_bytes(const sb_graph *g, const sb_op *op);
size_t sb_dwconv2d_shared_bytes(const sb_graph *g, const sb_op *op);
void sb_conv2d_fast(const sb_graph *g, const sb_op *op, const sb_packed_w *pw,
                    const int8_t *x, int8_t *y, const sb_exec *ex);
void sb_fc_fast(const sb_graph *g, const sb_op *op, const sb_packed_w *pw,
                const int8_t *x, int8_t *y, void *scratch);
void sb_dwconv2d_fast(const sb_graph *g, const sb_op *op, const sb_packed_dw *dw,
                      const int8_t *x, int8_t *y, const sb_exec *ex);

/* The int16 GEMM core: rows of X (P rows of K2 int16, (x - zi) already
 * subtracted) times packed weights; acc[p][o] = bias[o] + sum, then the
 * conv output stage into y[p * O + o]. */
void sb_gemm_s16(const sb_graph *g, const sb_op *op, const sb_packed_w *pw,
                 const int16_t *x16, int32_t P, int8_t *y);

/* y[j] = out_conv(channel o0 + j, acc[j]) for j < n: the output stage of a
 * row of accumulators, invariants hoisted. Same bytes as sb_out_conv. */
void sb_out_conv_row(const sb_graph *g, const sb_op *op, const int32_t *acc, int32_t o0, int32_t n,
                     int8_t *y);

/* fp32 path (fp32.c). */
int sb_pack_f32(const sb_graph *g, const sb_op *op, sb_f32_w *fw, sb_error *err);
size_t sb_f32_scratch_bytes(const sb_graph *g, const sb_op *op);
int sb_op_run_f32(const sb_graph *g, int32_t op_index, const sb_f32_w *fw, float *const *act,
                  void *scratch, sb_error *err);

/* A row of requantisations (outstage.c): per_channel ? m[j] : m[0] (and s,
 * f); fixed selects MBQM (1 double, 2 single rounding: sb_fixed_kind), else the float scale. Same bytes as the inline
 * output stages. */
void sb_requant_row(int fixed, const int32_t *acc, int32_t n, const int32_t *m, const int32_t *s, const float *f,
                    int per_channel, int32_t zo, int32_t lo, int32_t hi, int8_t *y);
void sb_add_fast(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y);
void sb_mul_fast(const sb_graph *g, const sb_op *op, const int8_t *a, const int8_t *b, int8_t *y, void *scratch);
size_t sb_mul_scratch_bytes(const sb_graph *g, const sb_op *op);
void sb_lut_fast(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y);
void sb_gavgpool_fast(const sb_graph *g, const sb_op *op, const int8_t *x, int8_t *y, void *scratch);
size_t sb_gavgpool_scratch_bytes(const sb_graph *g, const sb_op *op);

/* The instruction set the fast kernels use now (SB_ISA_*). */
int sb_isa_now(void);

#endif
