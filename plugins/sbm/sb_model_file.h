/*
 * sb_model_file.h - read and write .sbm model files (docs/model-format.md).
 *
 * The reader checks everything the format promises (magic, major version,
 * lengths, CRC32, tensor bounds, dtype/shape/nbytes, the graph chaining) and
 * builds an sb_graph whose pointers stay valid until sb_model_file_free.
 * Errors name the file, the JSON field or tensor/op index, and what was
 * expected.
 */
#ifndef SB_MODEL_FILE_H
#define SB_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "sb_hash.h" /* sb_crc32: libsbhash, shared with the image library */
#include "sb_plugin.h"

#define SB_SBM_MAGIC "SBMODEL"   /* 8 bytes with the NUL */
#define SB_SBM_VERSION_MAJOR 1
#define SB_SBM_VERSION_MINOR 0
#define SB_SBM_FIXED_BYTES 64    /* fixed header before the JSON */
#define SB_SBM_ALIGN_BYTES 64    /* data_offset and every tensor offset */

typedef struct sb_model_file sb_model_file;

int sb_model_file_load(const char *path, sb_model_file **mf, sb_error *err);
/* The graph inside; the graph pointer is also the first member of the file
 * object, so sb_model_file_from_graph(sb_model_file_graph(mf)) == mf. */
const sb_graph *sb_model_file_graph(const sb_model_file *mf);
sb_model_file *sb_model_file_from_graph(const sb_graph *g);
void sb_model_file_free(sb_model_file *mf);

/* Serialise a graph. Every requantisation array, table, channel_scales and
 * weights_f32/bias_f32 pointer of an op must point at some tensor's data
 * (that is how the file refers to them). */
int sb_model_file_write(const char *path, const sb_graph *g, sb_error *err);

/* Low level: the fixed header, `json` and the data block (placed at the
 * first multiple of 64 after the JSON), with the CRC. Tests use it to craft
 * broken files. */
int sb_model_file_write_raw(const char *path, const char *json, const void *data, size_t data_len,
                            sb_error *err);

#endif
