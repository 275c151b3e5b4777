/* sb_flatbuf.c - bounds-checked FlatBuffers access (sb_flatbuf.h).
 * Positions are size_t; every sum of a position and a 32-bit offset is
 * compared against size_bytes by subtraction, so none can wrap. */
#include <string.h>

#include "sb_flatbuf.h"

static uint32_t rd_u16(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(const uint8_t *p) {
    return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
}

/* Non-zero when [pos, pos + n) lies inside the buffer. */
static int in_bounds(const sb_fb *fb, size_t pos, size_t n) {
    return pos <= fb->size_bytes && n <= fb->size_bytes - pos;
}

static int oob(sb_error *err, const char *what, const char *part, size_t pos, size_t size) {
    return sb_error_set(err, SB_EFORMAT, "%s: %s at byte %zu runs past the end of the file (%zu bytes)", what,
                        part, pos, size);
}

/* The table whose soffset sits at pos. */
static int table_at(const sb_fb *fb, size_t pos, sb_fb_table *t, const char *what, sb_error *err) {
    if (!in_bounds(fb, pos, 4)) return oob(err, what, "table", pos, fb->size_bytes);
    int32_t soff = (int32_t)rd_u32(fb->buf + pos);
    int64_t vt = (int64_t)pos - (int64_t)soff;
    if (vt < 0 || !in_bounds(fb, (size_t)vt, 4))
        return sb_error_set(err, SB_EFORMAT, "%s: vtable offset %d of the table at byte %zu points outside the file",
                            what, soff, pos);
    uint32_t vt_bytes = rd_u16(fb->buf + vt);
    uint32_t table_bytes = rd_u16(fb->buf + vt + 2);
    if (vt_bytes < 4 || vt_bytes % 2 != 0 || !in_bounds(fb, (size_t)vt, vt_bytes))
        return sb_error_set(err, SB_EFORMAT, "%s: vtable at byte %lld: size %u: expected an even size >= 4 inside the file",
                            what, (long long)vt, vt_bytes);
    if (table_bytes < 4 || !in_bounds(fb, pos, table_bytes))
        return sb_error_set(err, SB_EFORMAT, "%s: table at byte %zu: size %u: expected >= 4 bytes inside the file", what,
                            pos, table_bytes);
    t->fb = fb;
    t->pos = pos;
    t->vtable = (size_t)vt;
    t->n_fields = (vt_bytes - 4) / 2;
    return SB_OK;
}

/* The field's offset inside the table (0: absent); -1 when it would end
 * past the table's inline size. */
static int64_t field_off(const sb_fb_table *t, uint32_t field, uint32_t width) {
    if (field >= t->n_fields) return 0;
    uint32_t fo = rd_u16(t->fb->buf + t->vtable + 4 + 2 * (size_t)field);
    if (fo == 0) return 0;
    uint32_t table_bytes = rd_u16(t->fb->buf + t->vtable + 2);
    if (fo < 4 || width > table_bytes || fo > table_bytes - width) return -1;
    return fo;
}

static int bad_field(sb_error *err, const char *what, uint32_t field, const sb_fb_table *t) {
    return sb_error_set(err, SB_EFORMAT, "%s: field %u of the table at byte %zu lies outside the table", what, field,
                        t->pos);
}

int sb_fb_root(const sb_fb *fb, sb_fb_table *root, sb_error *err) {
    if (!in_bounds(fb, 0, 8))
        return sb_error_set(err, SB_EFORMAT, "file of %zu bytes: expected a FlatBuffer (at least 8 bytes)",
                            fb->size_bytes);
    return table_at(fb, rd_u32(fb->buf), root, "root table", err);
}

int sb_fb_has(const sb_fb_table *t, uint32_t field) {
    return field_off(t, field, 1) != 0;
}

/* The bytes of a scalar field, or NULL when absent; *rc < 0 when bad. */
static const uint8_t *scalar(const sb_fb_table *t, uint32_t field, uint32_t width, const char *what, sb_error *err,
                             int *rc) {
    int64_t fo = field_off(t, field, width);
    *rc = SB_OK;
    if (fo < 0) *rc = bad_field(err, what, field, t);
    if (fo <= 0) return NULL;
    return t->fb->buf + t->pos + (size_t)fo;
}

int sb_fb_u8(const sb_fb_table *t, uint32_t field, uint8_t dflt, uint8_t *v, const char *what, sb_error *err) {
    int rc;
    const uint8_t *p = scalar(t, field, 1, what, err, &rc);
    *v = p ? p[0] : dflt;
    return rc;
}

int sb_fb_u32(const sb_fb_table *t, uint32_t field, uint32_t dflt, uint32_t *v, const char *what, sb_error *err) {
    int rc;
    const uint8_t *p = scalar(t, field, 4, what, err, &rc);
    *v = p ? rd_u32(p) : dflt;
    return rc;
}

int sb_fb_i32(const sb_fb_table *t, uint32_t field, int32_t dflt, int32_t *v, const char *what, sb_error *err) {
    uint32_t u;
    int rc = sb_fb_u32(t, field, (uint32_t)dflt, &u, what, err);
    *v = (int32_t)u;
    return rc;
}

int sb_fb_u64(const sb_fb_table *t, uint32_t field, uint64_t dflt, uint64_t *v, const char *what, sb_error *err) {
    int rc;
    const uint8_t *p = scalar(t, field, 8, what, err, &rc);
    *v = p ? rd_u64(p) : dflt;
    return rc;
}

int sb_fb_f32(const sb_fb_table *t, uint32_t field, float dflt, float *v, const char *what, sb_error *err) {
    uint32_t u;
    int rc = sb_fb_u32(t, field, 0, &u, what, err);
    if (rc < 0 || !sb_fb_has(t, field)) {
        *v = dflt;
        return rc;
    }
    memcpy(v, &u, sizeof *v);
    return SB_OK;
}

/* Follow the uoffset stored at byte p; the target must leave `need` bytes. */
static int follow(const sb_fb *fb, size_t p, size_t need, size_t *target, const char *what, sb_error *err) {
    uint32_t off = rd_u32(fb->buf + p);
    if (off > fb->size_bytes - p || !in_bounds(fb, p + off, need))
        return sb_error_set(err, SB_EFORMAT, "%s: offset %u at byte %zu points outside the file (%zu bytes)", what, off,
                            p, fb->size_bytes);
    *target = p + off;
    return SB_OK;
}

/* The target of a reference field, or *present = 0. */
static int ref_field(const sb_fb_table *t, uint32_t field, size_t need, size_t *target, int *present, const char *what,
                     sb_error *err) {
    int64_t fo = field_off(t, field, 4);
    *present = 0;
    if (fo < 0) return bad_field(err, what, field, t);
    if (fo == 0) return SB_OK;
    *present = 1;
    return follow(t->fb, t->pos + (size_t)fo, need, target, what, err);
}

int sb_fb_sub(const sb_fb_table *t, uint32_t field, sb_fb_table *sub, int *present, const char *what,
              sb_error *err) {
    size_t target;
    int rc = ref_field(t, field, 4, &target, present, what, err);
    if (rc < 0 || !*present) return rc;
    return table_at(t->fb, target, sub, what, err);
}

int sb_fb_vector(const sb_fb_table *t, uint32_t field, uint32_t elem_bytes, sb_fb_vec *v, const char *what,
                 sb_error *err) {
    size_t target;
    int present;
    int rc = ref_field(t, field, 4, &target, &present, what, err);
    v->fb = t->fb;
    v->pos = 0;
    v->len = 0;
    v->elem_bytes = elem_bytes;
    if (rc < 0 || !present) return rc;
    uint32_t len = rd_u32(t->fb->buf + target);
    size_t room = t->fb->size_bytes - (target + 4);
    if (len > room / elem_bytes)
        return sb_error_set(err, SB_EFORMAT,
                            "%s: vector of %u elements of %u bytes at byte %zu runs past the end of the file (%zu bytes)",
                            what, len, elem_bytes, target, t->fb->size_bytes);
    v->pos = target + 4;
    v->len = len;
    return SB_OK;
}

int sb_fb_string(const sb_fb_table *t, uint32_t field, const char **s, uint32_t *len, const char *what,
                 sb_error *err) {
    sb_fb_vec v;
    int rc = sb_fb_vector(t, field, 1, &v, what, err);
    *s = v.len ? (const char *)t->fb->buf + v.pos : "";
    *len = v.len;
    return rc;
}

int sb_fb_vec_table(const sb_fb_vec *v, uint32_t i, sb_fb_table *t, const char *what, sb_error *err) {
    size_t target;
    int rc = follow(v->fb, v->pos + (size_t)i * 4, 4, &target, what, err);
    if (rc < 0) return rc;
    return table_at(v->fb, target, t, what, err);
}

int32_t sb_fb_vec_i32(const sb_fb_vec *v, uint32_t i) {
    return (int32_t)rd_u32(v->fb->buf + v->pos + (size_t)i * 4);
}

int64_t sb_fb_vec_i64(const sb_fb_vec *v, uint32_t i) {
    return (int64_t)rd_u64(v->fb->buf + v->pos + (size_t)i * 8);
}

float sb_fb_vec_f32(const sb_fb_vec *v, uint32_t i) {
    uint32_t u = rd_u32(v->fb->buf + v->pos + (size_t)i * 4);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

const uint8_t *sb_fb_vec_bytes(const sb_fb_vec *v) {
    return v->fb->buf + v->pos;
}
