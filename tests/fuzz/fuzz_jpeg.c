/*
 * fuzz_jpeg.c - the JPEG path every image takes: decode from memory, then the
 * area resize to a small and to a model-sized square (as the datasets do).
 */
#include <stdlib.h>

#include "fuzz_util.h"
#include "sb_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t small[16 * 16 * 3], big[224 * 224 * 3];
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    sb_error err = {0, ""};
    if (sb_jpeg_decode_mem(data, size, "fuzz.jpg", &rgb, &w, &h, &err) == SB_OK) {
        if (sb_resize_area(rgb, w, h, 3, small, 16, 16, &err) != SB_OK) abort();
        if ((size_t)w * (size_t)h <= 1024u * 1024u && sb_resize_area(rgb, w, h, 3, big, 224, 224, &err) != SB_OK)
            abort();
        free(rgb);
    } else if (err.code >= 0 || err.msg[0] == 0) {
        abort(); /* a failure must say why */
    }
    return 0;
}
