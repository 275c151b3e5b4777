/*
 * sb_hash.h - the project's one CRC-32 and one FNV-1a 64.
 *
 * libsbhash is the lowest shared library: the .sbm reader (plugins/sbm) and
 * the image library (datasets/common) both link it, and neither may link the
 * other's library. sb_fnv1a64 is inline so that the framework shares it
 * through this header alone, without a link dependency on a plugin-side
 * library (the framework links only libuv, cJSON, libdl and the ABI).
 */
#ifndef SB_HASH_H
#define SB_HASH_H

#include <stddef.h>
#include <stdint.h>

/* zlib's crc32 (IEEE 802.3, reflected polynomial 0xEDB88320), continuing
 * from `crc` (start with 0): Python checks it with zlib.crc32. */
uint32_t sb_crc32(uint32_t crc, const void *data, size_t n_bytes);

#define SB_FNV1A64_INIT 0xcbf29ce484222325ull
#define SB_FNV1A64_PRIME 0x100000001b3ull

/* FNV-1a 64 of n_bytes at data, continuing from h (start with
 * SB_FNV1A64_INIT). */
static inline uint64_t sb_fnv1a64(uint64_t h, const void *data, size_t n_bytes) {
    const uint8_t *p = (const uint8_t *)data;
    size_t i;
    for (i = 0; i < n_bytes; i++) {
        h ^= p[i];
        h *= SB_FNV1A64_PRIME;
    }
    return h;
}

#endif /* SB_HASH_H */
