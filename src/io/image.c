/* JPEG (libjpeg-turbo) and PNG (libpng) decoding into uint8 [1,H,W,3] RGB, optional resize. */
#include <stddef.h>
#include <stdio.h>
/* jpeglib.h needs size_t and FILE first */
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_SIDE 32768

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void jpeg_on_error(j_common_ptr cinfo) {
    jerr_t *e = (jerr_t *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

static odrt_status_t decode_jpeg(const char *path, const uint8_t *buf, size_t len, uint8_t **px, int *w, int *h) {
    struct jpeg_decompress_struct ci;
    jerr_t je;
    uint8_t *volatile out = NULL;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        free(out);
        return odrt_fail(ODRT_ERR_PARSE, "'%s': bad JPEG: %s", path, je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    if (ci.output_width > MAX_SIDE || ci.output_height > MAX_SIDE || ci.output_components != 3) {
        jpeg_destroy_decompress(&ci);
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s': %ux%u image with %d components", path, ci.output_width,
                         ci.output_height, ci.output_components);
    }
    size_t stride = (size_t)ci.output_width * 3;
    out = malloc(stride * ci.output_height + 1);
    if (!out) {
        jpeg_destroy_decompress(&ci);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory decoding '%s'", path);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = out + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    *w = (int)ci.output_width;
    *h = (int)ci.output_height;
    jpeg_destroy_decompress(&ci);
    *px = out;
    return ODRT_OK;
}

static odrt_status_t decode_png(const char *path, const uint8_t *buf, size_t len, uint8_t **px, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, buf, len))
        return odrt_fail(ODRT_ERR_PARSE, "'%s': bad PNG: %s", path, img.message);
    if (img.width > MAX_SIDE || img.height > MAX_SIDE) {
        png_image_free(&img);
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s': %ux%u image is too large", path, img.width, img.height);
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *out = malloc(PNG_IMAGE_SIZE(img) + 1);
    if (!out) {
        png_image_free(&img);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory decoding '%s'", path);
    }
    if (!png_image_finish_read(&img, NULL, out, 0, NULL)) {
        free(out);
        return odrt_fail(ODRT_ERR_PARSE, "'%s': bad PNG: %s", path, img.message);
    }
    *w = (int)img.width;
    *h = (int)img.height;
    *px = out;
    return ODRT_OK;
}

/* bilinear, half-pixel centres, edge clamped; rounds to nearest */
static void resize_bilinear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * (float)sh / (float)dh - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float wy = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * (float)sw / (float)dw - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float wx = fx - (float)x0;
            for (int ch = 0; ch < 3; ch++) {
                float a = src[((size_t)y0 * (size_t)sw + (size_t)x0) * 3 + (size_t)ch], b = src[((size_t)y0 * (size_t)sw + (size_t)x1) * 3 + (size_t)ch];
                float cc = src[((size_t)y1 * (size_t)sw + (size_t)x0) * 3 + (size_t)ch], d = src[((size_t)y1 * (size_t)sw + (size_t)x1) * 3 + (size_t)ch];
                float v = (a * (1 - wx) + b * wx) * (1 - wy) + (cc * (1 - wx) + d * wx) * wy;
                dst[((size_t)y * (size_t)dw + (size_t)x) * 3 + (size_t)ch] = (uint8_t)(v + 0.5f);
            }
        }
    }
}

odrt_status_t odrt_image_load(const char *path, int out_h, int out_w, odrt_tensor_t **out) {
    *out = NULL;
    uint8_t *buf, *px = NULL;
    size_t len;
    ODRT_TRY(odrt_read_file(path, (size_t)1 << 30, &buf, &len));
    int w = 0, h = 0;
    odrt_status_t rc;
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff) rc = decode_jpeg(path, buf, len, &px, &w, &h);
    else if (len >= 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8)) rc = decode_png(path, buf, len, &px, &w, &h);
    else rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "'%s' is neither JPEG nor PNG", path);
    free(buf);
    if (rc != ODRT_OK) return rc;
    int oh = out_h > 0 ? out_h : h, ow = out_w > 0 ? out_w : w;
    int64_t dims[4] = {1, oh, ow, 3};
    odrt_tensor_t *t;
    if ((rc = odrt_tensor_create(ODRT_DT_UINT8, 4, dims, &t)) != ODRT_OK) {
        free(px);
        return rc;
    }
    if (oh == h && ow == w) memcpy(t->data, px, t->nbytes);
    else resize_bilinear(px, w, h, t->data, ow, oh);
    free(px);
    *out = t;
    return ODRT_OK;
}
