/*
 * fuzz_sbc.c - the .sbc preprocessed-image cache reader, sb_cache_open_file()
 * (docs/dataset-cache.md). The cache is a file on disk that the plugins,
 * sbprep and the training tool trust once it passes the reader's checks, so
 * a damaged or hostile file must be refused, never read out of bounds.
 *
 * The header's CRC32 (bytes 48..51) covers everything after the 64-byte
 * header, i.e. [64, end of file); it would stop nearly every mutation, so the
 * target re-stamps it over the input before writing the file. Opened caches
 * are walked: every id is strlen()ed, every label and status read and every
 * pixel byte of every image touched, after checking that the images the
 * reader promises fit in the file (the mapping is not ASan-poisoned, so a
 * read past it is caught only when it leaves the mapped pages).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sb_image.h"

#define SBC_HDR_BYTES 64u
#define SBC_REC_BYTES 32u

static const char *write_restamped(const uint8_t *data, size_t size) {
    uint8_t *b = malloc(size ? size : 1);
    const char *path;
    if (!b) abort();
    memcpy(b, data, size);
    if (size >= SBC_HDR_BYTES) {
        uint32_t crc = sb_crc32(0, b + SBC_HDR_BYTES, size - SBC_HDR_BYTES);
        for (int i = 0; i < 4; i++) b[48 + i] = (uint8_t)(crc >> (8 * i));
    }
    path = fuzz_write("fuzz.sbc", b, size);
    free(b);
    return path;
}

/* Keeps the walk from being optimised away. */
volatile unsigned fuzz_sbc_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_cache *c = NULL;
    sb_error err = {0, ""};
    const char *path = write_restamped(data, size);
    uint32_t n;
    int size_px;
    uint64_t img, acc = 0;
    if (sb_cache_open_file(path, &c, &err) != SB_OK) {
        if (err.code >= 0 || err.msg[0] == 0) abort(); /* a failure must say why */
        return 0;
    }
    n = sb_cache_count(c);
    size_px = sb_cache_size_px(c);
    acc += sb_cache_key(c) + strlen(sb_cache_path(c)) + (unsigned)sb_cache_was_built(c);
    if (size_px < 0) {
        fprintf(stderr, "fuzz_sbc: accepted size_px %d\n", size_px);
        abort();
    }
    img = (uint64_t)size_px * (uint64_t)size_px * 3u;
    /* Header, index and all pixels must lie inside the file. */
    if ((uint64_t)n > (size - SBC_HDR_BYTES) / SBC_REC_BYTES ||
        (img && (uint64_t)n > (size - SBC_HDR_BYTES - (uint64_t)n * SBC_REC_BYTES) / img)) {
        fprintf(stderr, "fuzz_sbc: %u images of %d px do not fit in %zu bytes\n", n, size_px, size);
        abort();
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *px = sb_cache_pixels(c, i);
        acc += strlen(sb_cache_id(c, i));
        acc += (uint32_t)sb_cache_label(c, i);
        acc += (uint32_t)sb_cache_status(c, i);
        for (uint64_t k = 0; k < img; k++) acc += px[k];
    }
    fuzz_sbc_sink = (unsigned)acc;
    sb_cache_close(c);
    return 0;
}
