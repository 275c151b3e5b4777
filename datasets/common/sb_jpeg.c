/*
 * sb_jpeg.c - JPEG decoding with libjpeg(-turbo), errors returned, never exit().
 *
 * libjpeg reports fatal errors through error_exit, which by default calls
 * exit(); we longjmp back instead and turn the message into an sb_error that
 * names the file. Settings are pinned (ISLOW DCT, fancy upsampling) because
 * they change pixels and the cache key assumes they do not.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "sb_file.h"
#include "sb_image.h"

/* Largest image decoded: 64 Mpixel (192 MiB of RGB), far above any
 * dermoscopy image (HAM10000: 600 x 450). */
#define SB_JPEG_MAX_PIXELS (1ull << 26)

static atomic_uint_fast64_t decode_count;

uint64_t sb_jpeg_decode_count(void) { return (uint64_t)atomic_load(&decode_count); }

typedef struct jerr_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr_ctx;

static void on_error_exit(j_common_ptr cinfo) {
    jerr_ctx *j = (jerr_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, j->msg);
    longjmp(j->jump, 1);
}

/* Warnings (e.g. "premature end of data") mean corrupt data: treat as errors
 * so that a damaged image is never silently half grey. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) on_error_exit(cinfo);
}

static int read_whole_file(const char *path, uint8_t **data, size_t *n_bytes, sb_error *err) {
    FILE *f;
    long n;
    /* no FIFO or device: a read of one never ends (sb_file.h) */
    int rc = sb_fopen_regular(path, "a file", &f, err);
    if (rc == SB_EINVAL) return err->code = SB_EIO; /* the dataset's code for it */
    if (rc < 0) {
        return sb_error_set(err, rc, "%s: cannot open image: %s", path, strerror(errno));
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return sb_error_set(err, SB_EIO, "%s: cannot read image size", path);
    }
    *data = malloc(n > 0 ? (size_t)n : 1);
    if (!*data) {
        fclose(f);
        return sb_error_set(err, SB_ENOMEM, "%s: out of memory (%ld bytes)", path, n);
    }
    if (n > 0 && fread(*data, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*data);
        *data = NULL;
        return sb_error_set(err, SB_EIO, "%s: short read", path);
    }
    fclose(f);
    *n_bytes = (size_t)n;
    return SB_OK;
}

/* The image format a file's first bytes say, when not JPEG (NULL: JPEG, or
 * unknown: libjpeg says what it finds). A PNG renamed .jpg is a common
 * mistake; "corrupt JPEG: Not a JPEG file" sent the user looking for damage. */
static const char *other_format(const uint8_t *d, size_t n) {
    static const struct {
        size_t off, len;
        const char *magic, *name;
    } fmt[] = {
        {0, 8, "\x89PNG\r\n\x1a\n", "a PNG"}, {0, 6, "GIF87a", "a GIF"}, {0, 6, "GIF89a", "a GIF"},
        {8, 4, "WEBP", "a WebP"}, {0, 4, "II*\0", "a TIFF"}, {0, 4, "MM\0*", "a TIFF"},
        {4, 8, "ftypavif", "an AVIF"}, {4, 8, "ftypheic", "a HEIC"}, {4, 8, "ftypmif1", "a HEIF"},
        {0, 12, "\0\0\0\x0cjP  \r\n\x87\n", "a JPEG 2000"}, {0, 12, "\0\0\0\x0cJXL \r\n\x87\n", "a JPEG XL"},
        {0, 2, "\xff\x0a", "a JPEG XL"}, {0, 4, "8BPS", "a Photoshop (PSD)"}, {0, 2, "BM", "a BMP"},
    };
    size_t i;
    if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8) return NULL; /* SOI, as libjpeg checks */
    for (i = 0; i < sizeof fmt / sizeof fmt[0]; i++)
        if (n >= fmt[i].off + fmt[i].len && memcmp(d + fmt[i].off, fmt[i].magic, fmt[i].len) == 0) return fmt[i].name;
    return NULL;
}

/* The decoder proper; `volatile` keeps rgb valid across longjmp. */
static int decode(const uint8_t *data, size_t n_bytes, const char *name, int header_only,
                  uint8_t **rgb_out, int *width, int *height, sb_error *err) {
    struct jpeg_decompress_struct cinfo;
    jerr_ctx jerr;
    uint8_t *volatile rgb = NULL;
    const char *fmt = other_format(data, n_bytes);

    if (n_bytes == 0) return sb_error_set(err, SB_EFORMAT, "%s: corrupt JPEG: empty file", name);
    if (fmt) return sb_error_set(err, SB_EUNSUPPORTED, "%s: is %s image: only JPEG is supported", name, fmt);
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error_exit;
    jerr.pub.emit_message = on_emit_message;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        return sb_error_set(err, SB_EFORMAT, "%s: corrupt JPEG: %s", name, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)n_bytes);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.num_components != 1 && cinfo.num_components != 3) {
        int nc = cinfo.num_components;
        jpeg_destroy_decompress(&cinfo);
        return sb_error_set(err, SB_EUNSUPPORTED,
                            "%s: JPEG with %d components: expected 1 (gray) or 3 (colour)", name, nc);
    }
    /* The header alone sets the allocation: a 700-byte file can claim
     * 60000 x 60000 pixels (10.8 GB). Refuse before allocating (fuzz_jpeg). */
    if ((uint64_t)cinfo.image_width * cinfo.image_height > SB_JPEG_MAX_PIXELS) {
        unsigned w = cinfo.image_width, h = cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        return sb_error_set(err, SB_EUNSUPPORTED, "%s: JPEG of %ux%u pixels: expected at most %llu pixels",
                            name, w, h, (unsigned long long)SB_JPEG_MAX_PIXELS);
    }
    if (header_only) {
        jpeg_destroy_decompress(&cinfo);
        return SB_OK;
    }
    cinfo.out_color_space = JCS_RGB;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    {
        size_t stride = (size_t)cinfo.output_width * 3;
        rgb = malloc(stride * cinfo.output_height);
        if (!rgb) {
            jpeg_destroy_decompress(&cinfo);
            return sb_error_set(err, SB_ENOMEM, "%s: out of memory", name);
        }
        while (cinfo.output_scanline < cinfo.output_height) {
            JSAMPROW row = rgb + stride * cinfo.output_scanline;
            jpeg_read_scanlines(&cinfo, &row, 1);
        }
    }
    jpeg_finish_decompress(&cinfo);
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *rgb_out = rgb;
    atomic_fetch_add(&decode_count, 1);
    return SB_OK;
}

int sb_jpeg_decode_mem(const uint8_t *data, size_t n_bytes, const char *name,
                       uint8_t **rgb, int *width, int *height, sb_error *err) {
    return decode(data, n_bytes, name, 0, rgb, width, height, err);
}

int sb_jpeg_decode_file(const char *path, uint8_t **rgb, int *width, int *height, sb_error *err) {
    uint8_t *data = NULL;
    size_t n = 0;
    int rc = read_whole_file(path, &data, &n, err);
    if (rc < 0) return rc;
    rc = decode(data, n, path, 0, rgb, width, height, err);
    free(data);
    return rc;
}

int sb_jpeg_check_header(const char *path, sb_error *err) {
    uint8_t *data = NULL;
    size_t n = 0;
    int rc = read_whole_file(path, &data, &n, err);
    if (rc < 0) return rc;
    rc = decode(data, n, path, 1, NULL, NULL, NULL, err);
    free(data);
    return rc;
}

int sb_image_load(const char *path, int size_px, uint8_t *rgb_out, sb_error *err) {
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    int rc = sb_jpeg_decode_file(path, &rgb, &w, &h, err);
    if (rc < 0) return rc;
    rc = sb_resize_area(rgb, w, h, 3, rgb_out, size_px, size_px, err);
    free(rgb);
    return rc;
}
