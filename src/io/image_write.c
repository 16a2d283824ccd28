/* Writing uint8 [1,H,W,3] RGB images as PNG (libpng) or JPEG (libjpeg-turbo), by file extension. */
#include <stddef.h>
#include <stdio.h>
/* jpeglib.h needs size_t and FILE first */
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} jerr_w;

static void jpeg_w_error(j_common_ptr cinfo) { longjmp(((jerr_w *)cinfo->err)->jb, 1); }

static odrt_status_t write_jpeg(FILE *f, const uint8_t *px, int w, int h) {
    struct jpeg_compress_struct ci;
    jerr_w je;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_w_error;
    if (setjmp(je.jb)) {
        jpeg_destroy_compress(&ci);
        return ODRT_ERR_IO;
    }
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w, ci.image_height = (JDIMENSION)h, ci.input_components = 3, ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return ODRT_OK;
}

static odrt_status_t write_png(FILE *f, const uint8_t *px, int w, int h) {
    png_structp ps = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop pi = ps ? png_create_info_struct(ps) : NULL;
    if (!ps || !pi) {
        png_destroy_write_struct(&ps, &pi);
        return ODRT_ERR_NOMEM;
    }
    if (setjmp(png_jmpbuf(ps))) {
        png_destroy_write_struct(&ps, &pi);
        return ODRT_ERR_IO;
    }
    png_init_io(ps, f);
    png_set_IHDR(ps, pi, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(ps, pi);
    for (int y = 0; y < h; y++) png_write_row(ps, (png_const_bytep)(px + (size_t)y * (size_t)w * 3));
    png_write_end(ps, NULL);
    png_destroy_write_struct(&ps, &pi);
    return ODRT_OK;
}

odrt_status_t odrt_image_save(const char *path, const odrt_tensor_t *img) {
    if (!path || !img) return odrt_fail(ODRT_ERR_ARG, "odrt_image_save: NULL argument");
    if (img->dtype != ODRT_DT_UINT8 || img->rank != 4 || img->dims[0] != 1 || img->dims[3] != 3 || img->dims[1] < 1 ||
        img->dims[2] < 1 || img->dims[1] > 65535 || img->dims[2] > 65535)
        return odrt_fail(ODRT_ERR_SHAPE, "odrt_image_save: expected a uint8 [1,H,W,3] image");
    const char *dot = strrchr(path, '.');
    int jpg = dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
    int png = dot && !strcasecmp(dot, ".png");
    if (!jpg && !png) return odrt_fail(ODRT_ERR_ARG, "'%s': image files end in .png, .jpg or .jpeg", path);
    FILE *f = fopen(path, "wb");
    if (!f) return odrt_fail(ODRT_ERR_IO, "cannot write '%s'", path);
    int w = (int)img->dims[2], h = (int)img->dims[1];
    odrt_status_t rc = jpg ? write_jpeg(f, img->data, w, h) : write_png(f, img->data, w, h);
    if (fclose(f) != 0 && rc == ODRT_OK) rc = ODRT_ERR_IO;
    if (rc != ODRT_OK) {
        remove(path);
        return odrt_fail(rc, "cannot write '%s'", path);
    }
    return ODRT_OK;
}
