/*
 * sb_resize.c - area-averaging resize in exact integer arithmetic.
 *
 * Measure both axes in units of 1/(src*dst) of the image: source pixel i
 * spans [i*dst, (i+1)*dst), output pixel x spans [x*src, (x+1)*src). The
 * weight of source pixel i in output x is the length of the overlap, an
 * integer; the weights of one output pixel sum to src. Rows are resampled
 * first (sums up to 255*src_w, u32), then columns (sums up to
 * 255*src_w*src_h, u64), then one division by src_w*src_h rounded half up.
 * No floating point anywhere, so every machine gives the same bytes.
 */
#include <stdlib.h>

#include "sb_image.h"

/* For output index x: the first source index and the overlap weights. */
typedef struct span {
    int first;
    int n;
    uint32_t *w;
} span;

static void free_spans(span *s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i].w);
    free(s);
}

static span *make_spans(int src, int dst) {
    span *s = calloc((size_t)dst, sizeof *s);
    if (!s) return NULL;
    for (int x = 0; x < dst; x++) {
        uint64_t lo = (uint64_t)x * (uint64_t)src, hi = lo + (uint64_t)src;
        int first = (int)(lo / (uint64_t)dst);
        int last = (int)((hi - 1) / (uint64_t)dst);
        s[x].first = first;
        s[x].n = last - first + 1;
        s[x].w = malloc((size_t)s[x].n * sizeof *s[x].w);
        if (!s[x].w) {
            free_spans(s, dst);
            return NULL;
        }
        for (int i = first; i <= last; i++) {
            uint64_t a = (uint64_t)i * (uint64_t)dst, b = a + (uint64_t)dst;
            uint64_t l = a > lo ? a : lo, r = b < hi ? b : hi;
            s[x].w[i - first] = (uint32_t)(r - l);
        }
    }
    return s;
}

int sb_resize_area(const uint8_t *src, int src_w, int src_h, int channels,
                   uint8_t *dst, int dst_w, int dst_h, sb_error *err) {
    span *sx, *sy;
    uint32_t *rows;
    uint64_t total;
    if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0 || channels <= 0 ||
        src_w > 65535 || src_h > 65535 || dst_w > 65535 || dst_h > 65535) {
        return sb_error_set(err, SB_EINVAL, "resize %dx%d -> %dx%d (%d channels): expected sizes 1..65535",
                            src_w, src_h, dst_w, dst_h, channels);
    }
    sx = make_spans(src_w, dst_w);
    sy = make_spans(src_h, dst_h);
    rows = malloc((size_t)dst_w * (size_t)src_h * (size_t)channels * sizeof *rows);
    if (!sx || !sy || !rows) {
        free_spans(sx, dst_w);
        free_spans(sy, dst_h);
        free(rows);
        return sb_error_set(err, SB_ENOMEM, "resize: out of memory");
    }
    /* Horizontal pass: rows[y][x][c] = sum_i w(x,i) * src[y][i][c]. */
    for (int y = 0; y < src_h; y++) {
        const uint8_t *in = src + (size_t)y * (size_t)src_w * (size_t)channels;
        uint32_t *out = rows + (size_t)y * (size_t)dst_w * (size_t)channels;
        for (int x = 0; x < dst_w; x++) {
            for (int c = 0; c < channels; c++) {
                uint32_t acc = 0;
                for (int k = 0; k < sx[x].n; k++)
                    acc += sx[x].w[k] * in[(size_t)(sx[x].first + k) * (size_t)channels + (size_t)c];
                out[(size_t)x * (size_t)channels + (size_t)c] = acc;
            }
        }
    }
    /* Vertical pass and the single rounding division. */
    total = (uint64_t)src_w * (uint64_t)src_h;
    for (int y = 0; y < dst_h; y++) {
        for (int x = 0; x < dst_w; x++) {
            for (int c = 0; c < channels; c++) {
                uint64_t acc = 0;
                for (int k = 0; k < sy[y].n; k++) {
                    size_t r = (size_t)(sy[y].first + k);
                    acc += (uint64_t)sy[y].w[k] *
                           rows[(r * (size_t)dst_w + (size_t)x) * (size_t)channels + (size_t)c];
                }
                dst[((size_t)y * (size_t)dst_w + (size_t)x) * (size_t)channels + (size_t)c] =
                    (uint8_t)((acc + total / 2) / total);
            }
        }
    }
    free_spans(sx, dst_w);
    free_spans(sy, dst_h);
    free(rows);
    return SB_OK;
}
