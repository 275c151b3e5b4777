/*
 * sb_flatbuf.h - a small, bounds-checked reader of FlatBuffers binaries
 * (the container of .tflite files; https://flatbuffers.dev/internals/).
 *
 * The input is hostile: every offset, vtable and vector length is checked
 * against the buffer with overflow-free arithmetic before it is followed.
 * Nothing is copied; accessors read little-endian scalars byte by byte, so
 * unaligned or odd-sized buffers are fine. A failed check returns SB_EFORMAT
 * with a message naming `what` (the schema path, "subgraphs[0].tensors[3]").
 */
#ifndef SB_FLATBUF_H
#define SB_FLATBUF_H

#include <stddef.h>
#include <stdint.h>

#include "sb_plugin.h"

typedef struct sb_fb {
    const uint8_t *buf;
    size_t size_bytes;
} sb_fb;

/* A table: its position and its vtable's, with the vtable's field count. */
typedef struct sb_fb_table {
    const sb_fb *fb;
    size_t pos;
    size_t vtable;
    uint32_t n_fields;
} sb_fb_table;

/* A vector: the position of element 0 and the element count. */
typedef struct sb_fb_vec {
    const sb_fb *fb;
    size_t pos;
    uint32_t len;
    uint32_t elem_bytes;
} sb_fb_vec;

/* The root table (offset at byte 0). */
int sb_fb_root(const sb_fb *fb, sb_fb_table *root, sb_error *err);

/* Non-zero when the field is present in the table. */
int sb_fb_has(const sb_fb_table *t, uint32_t field);

/* Scalars: the default when absent; SB_EFORMAT when the field runs past
 * the buffer. */
int sb_fb_u8(const sb_fb_table *t, uint32_t field, uint8_t dflt, uint8_t *v, const char *what, sb_error *err);
int sb_fb_i32(const sb_fb_table *t, uint32_t field, int32_t dflt, int32_t *v, const char *what, sb_error *err);
int sb_fb_u32(const sb_fb_table *t, uint32_t field, uint32_t dflt, uint32_t *v, const char *what, sb_error *err);
int sb_fb_u64(const sb_fb_table *t, uint32_t field, uint64_t dflt, uint64_t *v, const char *what, sb_error *err);
int sb_fb_f32(const sb_fb_table *t, uint32_t field, float dflt, float *v, const char *what, sb_error *err);

/* A sub-table; absent: *present = 0 and SB_OK. */
int sb_fb_sub(const sb_fb_table *t, uint32_t field, sb_fb_table *sub, int *present, const char *what,
              sb_error *err);
/* A vector of elem_bytes-sized elements (tables: 4, their offsets); absent
 * gives an empty vector. */
int sb_fb_vector(const sb_fb_table *t, uint32_t field, uint32_t elem_bytes, sb_fb_vec *v, const char *what,
                 sb_error *err);
/* A string (not NUL-checked: the bytes and their length); absent: "" */
int sb_fb_string(const sb_fb_table *t, uint32_t field, const char **s, uint32_t *len, const char *what,
                 sb_error *err);

/* Element i of a vector (i < len, checked by the caller's loop bound). */
int sb_fb_vec_table(const sb_fb_vec *v, uint32_t i, sb_fb_table *t, const char *what, sb_error *err);
int32_t sb_fb_vec_i32(const sb_fb_vec *v, uint32_t i);
int64_t sb_fb_vec_i64(const sb_fb_vec *v, uint32_t i);
float sb_fb_vec_f32(const sb_fb_vec *v, uint32_t i);
const uint8_t *sb_fb_vec_bytes(const sb_fb_vec *v);

#endif /* SB_FLATBUF_H */
