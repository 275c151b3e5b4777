/*
 * sb_image.h - the one preprocessing path of srambench: JPEG decode, squash
 * to a square with an antialiased (area-averaging) resize, and the `.sbc`
 * cache of preprocessed images (docs/dataset-cache.md).
 *
 * Every dataset plugin, the `infer` command and `sbprep` (which the Python
 * training tool calls) go through these functions, so training and benchmark
 * see identical pixels.
 */
#ifndef SB_IMAGE_H
#define SB_IMAGE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "sb_hash.h"
#include "sb_plugin.h"

/* Changes whenever the pixels produced for the same input could change; it is
 * hashed into every cache key, so old caches become stale automatically. */
#define SB_PREPROCESS_VERSION "sbprep-1: libjpeg ISLOW fancy-upsampling; area resize u64 round-half-up"

/* ------------------------------------------------------------ decoding */

/* Decode a JPEG file to 8-bit RGB, HWC (grayscale is replicated to RGB).
 * *rgb is malloc'd (free() it). Errors name the file. Never exits. */
int sb_jpeg_decode_file(const char *path, uint8_t **rgb, int *width, int *height, sb_error *err);

/* Decode from memory; `name` is used in error messages. */
int sb_jpeg_decode_mem(const uint8_t *data, size_t n_bytes, const char *name,
                       uint8_t **rgb, int *width, int *height, sb_error *err);

/* Read only the JPEG header: a cheap readability check (file opens, markers
 * parse, 1 or 3 components). */
int sb_jpeg_check_header(const char *path, sb_error *err);

/* JPEG files decoded so far by this copy of the library (a test hook: it
 * proves that a cache hit decodes nothing). */
uint64_t sb_jpeg_decode_count(void);

/* ------------------------------------------------------------- resize */

/*
 * Squash src (src_w x src_h x channels, HWC) to dst (dst_size x dst_size x
 * channels) by area averaging: each output pixel is the mean of the source
 * area it covers, with exact fractional coverage, in integer arithmetic,
 * rounded half up. Antialiased when shrinking, a box filter when enlarging.
 * The algorithm is spelled out in docs/dataset-cache.md.
 */
int sb_resize_area(const uint8_t *src, int src_w, int src_h, int channels,
                   uint8_t *dst, int dst_w, int dst_h, sb_error *err);

/* Decode one JPEG and squash it to size_px x size_px RGB (rgb_out holds
 * size_px*size_px*3 bytes). Used by `infer <image.jpg>`. */
int sb_image_load(const char *path, int size_px, uint8_t *rgb_out, sb_error *err);

/* ------------------------------------------------------------- hashing */

/* sb_crc32 and sb_fnv1a64: sb_hash.h (libsbhash, shared with the .sbm reader) */

/* --------------------------------------------------------------- cache */

#define SB_CACHE_ID_BYTES 24
#define SB_CACHE_STATUS_OK 0
#define SB_CACHE_STATUS_UNREADABLE 1

/* One input image of a cache. */
typedef struct sb_cache_item {
    const char *id;      /* "ISIC_0024306", < 24 bytes */
    const char *path;    /* the JPEG file */
    int32_t label;       /* class index, -1 if none */
    int row;             /* line in the list file, for error messages */
} sb_cache_item;

typedef struct sb_cache_spec {
    const char *dataset;     /* file-name prefix: "ham10000" */
    const char *cache_dir;   /* created if missing */
    const char *list_file;   /* the file the items come from (messages) */
    int size_px;
    const sb_cache_item *items;
    uint32_t n_items;
    int skip_unreadable;     /* unreadable images: zero pixels, status 1 */
    int n_threads;           /* decoding threads (2 when <= 0) */
    void (*log)(int level, const char *fmt, ...);  /* may be NULL */
    int (*cancelled)(void);                         /* may be NULL */
} sb_cache_spec;

typedef struct sb_cache sb_cache;

/* Open the cache for spec, building (or rebuilding, when stale or corrupt)
 * it first. Without skip_unreadable, any unreadable image is an error naming
 * the file and the list file's row. */
int sb_cache_open(const sb_cache_spec *spec, sb_cache **cache, sb_error *err);
void sb_cache_close(sb_cache *cache);

/* Open an existing .sbc file without any inputs (checks magic, version, CRC). */
int sb_cache_open_file(const char *path, sb_cache **cache, sb_error *err);

const char *sb_cache_path(const sb_cache *c);
uint32_t sb_cache_count(const sb_cache *c);
int sb_cache_size_px(const sb_cache *c);
uint64_t sb_cache_key(const sb_cache *c);
/* 1 when sb_cache_open built the file, 0 when it reused it. */
int sb_cache_was_built(const sb_cache *c);
const char *sb_cache_id(const sb_cache *c, uint32_t i);   /* NUL-terminated */
int32_t sb_cache_label(const sb_cache *c, uint32_t i);
int32_t sb_cache_status(const sb_cache *c, uint32_t i);
const uint8_t *sb_cache_pixels(const sb_cache *c, uint32_t i); /* size*size*3 */

/* The key of spec's inputs as they are on disk now (stat of every file). */
int sb_cache_compute_key(const sb_cache_spec *spec, uint64_t *key, sb_error *err);

#endif /* SB_IMAGE_H */
