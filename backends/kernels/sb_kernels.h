/*
 * sb_kernels.h - INT8 kernels shared by every backend that executes a graph.
 *
 * Two layers:
 *   1. The output stage (requantise, add the zero point, clamp) of every op,
 *      as static inline functions below. The CPU kernels and the SRAM tile
 *      executor both call these, so any two backends agree bit for bit as long
 *      as their integer accumulators agree, and integer sums do not depend on
 *      the order (or tiling) in which they are formed.
 *   2. Whole-op and whole-graph execution: one reference kernel per op file
 *      (sb_op_run_int8, sb_graph_run_int8_ref), the fast kernels of the same
 *      results (sb_graph_run_int8: gemm.c, outstage.c, packed weights), the
 *      float32 path (fp32.c), graph checks and workspaces (graph.c,
 *      workspace.c). docs/kernels.md describes them.
 *
 * The arithmetic is specified in docs/model-format.md; tools/reference is an
 * independent numpy implementation of the same text.
 */
#ifndef SB_KERNELS_H
#define SB_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "sb_plugin.h"

/* The fixed-point primitives also compile as CUDA device code (backends/gpu),
 * so the GPU rounds exactly as the CPU does. */
#ifdef __CUDACC__
#define SB_HD __host__ __device__
#else
#define SB_HD
#endif

/* ---------------------------------------------------- fixed-point primitives */

/* TFLite SaturatingRoundingDoublingHighMul. */
SB_HD static inline int32_t sb_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* truncates toward zero */
}

/* TFLite RoundingDivideByPOT: x / 2^e rounded half away from zero. */
SB_HD static inline int32_t sb_rdbp(int32_t x, int32_t e) {
    int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier; shift > 0 is a left shift. */
SB_HD static inline int32_t sb_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    return sb_rdbp(sb_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* TFLite's MultiplyByQuantizedMultiplier built with TFLITE_SINGLE_ROUNDING
 * (LiteRT): x * m / 2^(31 - shift) rounded half up, in one step. */
SB_HD static inline int32_t sb_mbqm_sr(int32_t x, int32_t multiplier, int32_t shift) {
    int32_t total = 31 - shift;                 /* 1..62 for shift in -31..30 */
    int64_t round = (int64_t)1 << (total - 1);
    int64_t r = ((int64_t)x * multiplier + round) >> total; /* arithmetic shift: floor */
    return (int32_t)r;
}

/* An op's requantisation: 0 float, 1 fixed with TFLite's double rounding,
 * 2 fixed with single rounding (sb_op.single_round). */
static inline int sb_fixed_kind(const sb_graph *g, const sb_op *op) {
    return g->requant != SB_REQUANT_FIXED ? 0 : op->single_round ? 2 : 1;
}

SB_HD static inline int32_t sb_mbqm_kind(int kind, int32_t x, int32_t multiplier, int32_t shift) {
    return kind == 2 ? sb_mbqm_sr(x, multiplier, shift) : sb_mbqm(x, multiplier, shift);
}

/* Float mode: round half to even of a float32 product (no FMA: the build
 * uses -ffp-contract=off). */
SB_HD static inline int32_t sb_round_i32(float v) {
    float p = rintf(v);
    /* Outside int32 (only with absurd scales, or NaN; the model reader
     * refuses those): INT32_MIN, what x86's cvtps2dq returns, so the scalar
     * and vector paths still agree and no conversion is undefined. */
    if (!(p >= -2147483648.0f && p < 2147483648.0f)) return INT32_MIN;
    return (int32_t)p;
}

SB_HD static inline int32_t sb_fmul_round(int32_t acc, float f) {
    return sb_round_i32((float)acc * f);
}

/* zero point + requantised value, wrapping as the vector paths' 32-bit adds
 * do (only an out-of-range sb_fmul_round result can get near the edge). */
SB_HD static inline int32_t sb_add_zp(int32_t zp, int32_t r) {
    return (int32_t)((uint32_t)zp + (uint32_t)r);
}

SB_HD static inline int8_t sb_clamp8(int32_t v, int32_t lo, int32_t hi) {
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* ------------------------------------------------------- output stages */

/* conv2d / dwconv2d / fc: acc already holds bias + sum (x - zi) * w. */
static inline int8_t sb_out_conv(const sb_graph *g, const sb_op *op, int32_t ch, int32_t acc) {
    int32_t zo = g->tensors[op->output].zero_point;
    int32_t r = g->requant == SB_REQUANT_FIXED ? sb_mbqm_kind(sb_fixed_kind(g, op), acc, op->multiplier[ch], op->shift[ch])
                                               : sb_fmul_round(acc, op->scale_f32[ch]);
    return sb_clamp8(sb_add_zp(zo, r), op->act_min, op->act_max);
}

static inline int8_t sb_out_add(const sb_graph *g, const sb_op *op, int8_t a, int8_t b) {
    int32_t za = g->tensors[op->inputs[0]].zero_point;
    int32_t zb = g->tensors[op->inputs[1]].zero_point;
    int32_t zo = g->tensors[op->output].zero_point;
    int32_t r;
    if (g->requant == SB_REQUANT_FIXED) {
        int k = sb_fixed_kind(g, op);
        int32_t la = sb_mbqm_kind(k, (int32_t)((uint32_t)(a - za) << op->left_shift), op->multiplier[0], op->shift[0]);
        int32_t lb = sb_mbqm_kind(k, (int32_t)((uint32_t)(b - zb) << op->left_shift), op->multiplier_b, op->shift_b);
        /* wrapping, as the vector path's 32-bit add (validated scales keep
         * the sum in range; absurd shifts must not make it undefined) */
        r = sb_mbqm_kind(k, (int32_t)((uint32_t)la + (uint32_t)lb), op->multiplier_out, op->shift_out);
    } else {
        float fa = op->scale_f32[0] * (float)(a - za);
        float fb = op->scale_b_f32 * (float)(b - zb);
        r = sb_round_i32(fa + fb);
    }
    return sb_clamp8(sb_add_zp(zo, r), op->act_min, op->act_max);
}

static inline int8_t sb_out_mul(const sb_graph *g, const sb_op *op, int8_t a, int8_t b) {
    int32_t za = g->tensors[op->inputs[0]].zero_point;
    int32_t zb = g->tensors[op->inputs[1]].zero_point;
    int32_t zo = g->tensors[op->output].zero_point;
    int32_t p = (a - za) * (b - zb);
    int32_t r = g->requant == SB_REQUANT_FIXED ? sb_mbqm_kind(sb_fixed_kind(g, op), p, op->multiplier[0], op->shift[0])
                                               : sb_fmul_round(p, op->scale_f32[0]);
    return sb_clamp8(sb_add_zp(zo, r), op->act_min, op->act_max);
}

/* TFLite's rounded division of the average pool: num / den rounded half
 * away from zero (reference_integer_ops::AveragePool). */
SB_HD static inline int32_t sb_div_round_away(int32_t num, int32_t den) {
    return num > 0 ? (num + den / 2) / den : (num - den / 2) / den;
}

/* gavgpool: sum already holds sum over H,W of (x - zi). */
static inline int8_t sb_out_gavgpool(const sb_graph *g, const sb_op *op, int32_t sum) {
    if (op->avg_count > 0) {
        /* TFLite sums the raw values: add back the zero point of each term */
        int32_t raw = sum + op->avg_count * g->tensors[op->inputs[0]].zero_point;
        return sb_clamp8(sb_div_round_away(raw, op->avg_count), op->act_min, op->act_max);
    }
    int32_t zo = g->tensors[op->output].zero_point;
    int32_t r = g->requant == SB_REQUANT_FIXED ? sb_mbqm_kind(sb_fixed_kind(g, op), sum, op->multiplier[0], op->shift[0])
                                               : sb_fmul_round(sum, op->scale_f32[0]);
    return sb_clamp8(sb_add_zp(zo, r), op->act_min, op->act_max);
}

static inline int8_t sb_out_lut(const sb_op *op, int8_t x) {
    return op->lut[(int32_t)x + 128];
}

/* --------------------------------------------------- whole ops and graphs */

/* Shapes of an op's output for conv/dwconv/maxpool (docs/model-format.md). */
int32_t sb_conv_out_dim(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad_a, int32_t pad_b);

/* Largest |(x - zi) * w| of one conv/dw/fc tap: 255 x 128. */
#define SB_TAP_MAX (255 * 128)

/* Largest |value| the requantisation of channel ch of a validated op can
 * see, for any input: conv/dw/fc |bias[ch]| + taps x SB_TAP_MAX, mul 255 x
 * 255, gavgpool H x W x 255, add 2 x 255 (two scaled inputs summed); 0 for ops without
 * one. Float-mode scales times it must stay within 2^30 (docs/model-format.md). */
int64_t sb_op_acc_bound(const sb_graph *g, const sb_op *op, int32_t ch);

/* Number of elements of a tensor. */
int64_t sb_tensor_elems(const sb_tensor *t);

/* Check that a graph chains (docs/model-format.md); names the op at fault. */
int sb_graph_validate(const sb_graph *g, sb_error *err);

/* Multiply-accumulates of one op (0 for ops without MACs). */
int64_t sb_op_macs(const sb_graph *g, const sb_op *op);

/* Run one op, reading and writing the int8 activation buffers in `act`
 * (act[t] is the buffer of tensor t, NULL for constants). */
int sb_op_run_int8(const sb_graph *g, int32_t op_index, int8_t *const *act, sb_error *err);

/* Run the whole graph: input -> output logits. The workspace owns one
 * buffer per activation tensor; reuse it across images on one thread. */
typedef struct sb_workspace sb_workspace;
int sb_workspace_new(const sb_graph *g, sb_workspace **ws, sb_error *err);
void sb_workspace_free(sb_workspace *ws);
int sb_graph_run_int8(const sb_graph *g, sb_workspace *ws, const int8_t *input, int8_t *logits, sb_error *err);

/* ------------------------------------------------ additions (area "kn") */

/* The straightforward path: every op through sb_op_run_int8 (the text of
 * docs/model-format.md as loops). sb_graph_run_int8 uses the fast kernels;
 * tests check that both give the same bytes. */
int sb_graph_run_int8_ref(const sb_graph *g, sb_workspace *ws, const int8_t *input, int8_t *logits,
                          sb_error *err);

/* Float32 path of the same graph: weights_f32/bias_f32 when present, else the
 * int8 weights dequantised with channel_scales; fused relu/relu6 and the LUT
 * ops' `act` function computed in float. Input real = pixel / 255 with
 * pixel = q + 128; logits are float. */
int sb_graph_run_f32(const sb_graph *g, sb_workspace *ws, const int8_t *input, float *logits,
                     sb_error *err);
/* Non-zero when the fp32 path had to dequantise int8 weights (no weights_f32). */
int sb_graph_f32_dequantised(const sb_graph *g);

/* Prepacked weights, shareable read-only by many workspaces (threads).
 * sb_workspace_new packs its own; sb_workspace_new_shared borrows `pk`,
 * which must outlive the workspace. */
typedef struct sb_pack sb_pack;
enum { SB_PACK_INT8 = 1, SB_PACK_F32 = 2 };
int sb_pack_new(const sb_graph *g, unsigned what, sb_pack **pk, sb_error *err);
void sb_pack_free(sb_pack *pk);
int sb_workspace_new_shared(const sb_graph *g, const sb_pack *pk, sb_workspace **ws, sb_error *err);

/* Split the heavy ops of one image (conv, depthwise) over n_threads
 * threads of this workspace (the caller plus n_threads - 1 helpers);
 * results are identical for any n. 1 (the default) stops the helpers. */
int sb_workspace_set_threads(sb_workspace *ws, int n_threads, sb_error *err);

/* Activation buffers after a run (for dumps): int8, or float after run_f32;
 * NULL for constants. */
const int8_t *sb_workspace_act(const sb_workspace *ws, int32_t t);
const float *sb_workspace_act_f32(const sb_workspace *ws, int32_t t);

/* Instruction set of the fast kernels. Tests force lower ones to check every
 * path; set_isa returns the one in use (a request above the host's best is
 * ignored). Not thread-safe: call before running. */
enum { SB_ISA_PORTABLE = 0, SB_ISA_AVX2 = 1, SB_ISA_AVX512VNNI = 2 };
int sb_kernels_isa(void);
int sb_kernels_set_isa(int isa);

#endif /* SB_KERNELS_H */
