/*
 * sb_tflite.h - load a .tflite file (TensorFlow Lite FlatBuffer, schema v3)
 * as an INT8 sb_graph (docs/tflite.md).
 *
 * The file is parsed by a bounds-checked reader (sb_flatbuf.h) and every
 * operator is mapped onto the engine's ops with TFLite's own integer
 * parameters (QuantizeMultiplier of the same doubles, the same activation
 * ranges), so the kernels compute TFLite's reference results bit for bit.
 * A final SOFTMAX is not part of the graph (the engine has no softmax): the
 * graph ends at its int8 input, and sb_tfl_softmax computes TFLite's
 * reference int8 softmax of those logits.
 */
#ifndef SB_TFLITE_H
#define SB_TFLITE_H

#include <stddef.h>
#include <stdint.h>

#include "sb_plugin.h"

typedef struct sb_tfl_model sb_tfl_model;

/* Limits on hostile files (docs/tflite.md). */
#define SB_TFL_MAX_FILE_BYTES ((size_t)1 << 30)
#define SB_TFL_MAX_TENSORS 100000
#define SB_TFL_MAX_OPS 100000
#define SB_TFL_MAX_DIM 1048576
#define SB_TFL_MAX_TENSOR_ELEMS ((int64_t)1 << 28)

/* Parse `size_bytes` bytes (copied; `name` names the file in errors). */
int sb_tfl_load_mem(const uint8_t *buf, size_t size_bytes, const char *name, sb_tfl_model **m, sb_error *err);
int sb_tfl_load_file(const char *path, sb_tfl_model **m, sb_error *err);
void sb_tfl_free(sb_tfl_model *m);

/* The graph; sb_tfl_from_graph(sb_tfl_graph(m)) == m. */
const sb_graph *sb_tfl_graph(const sb_tfl_model *m);
sb_tfl_model *sb_tfl_from_graph(const sb_graph *g);

/* Non-zero when the file's last op is a SOFTMAX left out of the graph. */
int sb_tfl_has_softmax(const sb_tfl_model *m);
/* TFLite's reference int8 softmax of the graph's output (n = elements),
 * with the file's beta and output quantization. Without a softmax it copies. */
void sb_tfl_softmax(const sb_tfl_model *m, const int8_t *logits, int8_t *out, int32_t n);

/* TFLite's QuantizeMultiplier (exposed for tests). */
void sb_tfl_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift);

#endif /* SB_TFLITE_H */
