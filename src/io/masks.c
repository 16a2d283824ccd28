/* Instance masks on the frame: a box mask (Mask R-CNN's, in its detection's box) pasted into the
 * frame as the TF OD API does it (utils/ops.reframe_box_masks_to_image_masks: the image's corners
 * reframed into the box's coordinates, tf.image.crop_and_resize of the box mask to the frame's
 * size, bilinear, 0 outside; then > threshold), COCO's run-length encoding of a binary mask
 * (column-major runs starting with zeros; the compressed string form of COCO results files), and
 * masks drawn over a picture. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "crop_coord.h"
#include "io/io.h"

odrt_status_t odrt_mask_paste(const float *box_mask, int mh, int mw, const odrt_detection_t *d, int H, int W, float threshold,
                              uint8_t *out) {
    if (!box_mask || !d || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_mask_paste: NULL argument");
    if (mh < 1 || mw < 1 || H < 1 || W < 1) return odrt_fail(ODRT_ERR_ARG, "odrt_mask_paste: empty mask or frame");
    /* the frame's corners (0, 0, 1, 1) in the box's frame, heights and widths at least 1e-4 */
    float bh = fmaxf(d->ymax - d->ymin, 1e-4f), bw = fmaxf(d->xmax - d->xmin, 1e-4f);
    float y1 = (0 - d->ymin) / bh, x1 = (0 - d->xmin) / bw, y2 = (1 - d->ymin) / bh, x2 = (1 - d->xmin) / bw;
    crop_tap *tx = malloc(sizeof(crop_tap) * (size_t)W);
    if (!tx) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int j = 0; j < W; j++) tx[j] = crop_axis_tap(CROP_TF, x1, x2, j, W, mw);
    for (int i = 0; i < H; i++) {
        crop_tap ty = crop_axis_tap(CROP_TF, y1, y2, i, H, mh);
        uint8_t *row = out + (size_t)i * (size_t)W;
        if (ty.outside) {
            memset(row, 0, (size_t)W);
            continue;
        }
        const float *r0 = box_mask + ty.i0 * mw, *r1 = box_mask + ty.i1 * mw;
        for (int j = 0; j < W; j++) {
            const crop_tap *t = &tx[j];
            float v = t->outside ? 0.0f : crop_mix(CROP_TF, &ty, t, r0[t->i0], r0[t->i1], r1[t->i0], r1[t->i1], 0.0f);
            row[j] = v > threshold;
        }
    }
    free(tx);
    return ODRT_OK;
}

/* one count in COCO's string form: 5 bits a character (+48), a continuation bit, sign-extended */
static void put_count(odrt_sb_t *sb, long long x) {
    for (int more = 1; more;) {
        long long c = x & 0x1f;
        x >>= 5;
        more = (c & 0x10) ? x != -1 : x != 0;
        if (more) c |= 0x20;
        char ch[2] = {(char)(c + 48), 0};
        odrt_sb_puts(sb, ch);
    }
}

odrt_status_t odrt_mask_rle(const uint8_t *mask, int H, int W, char **counts) {
    if (!mask || !counts) return odrt_fail(ODRT_ERR_ARG, "odrt_mask_rle: NULL argument");
    *counts = NULL;
    odrt_sb_t sb = {0};
    long long prev2 = 0, prev1 = 0, run = 0;
    int n = 0, val = 0;
    for (long long p = 0; p < (long long)H * W; p++) { /* column-major */
        int v = mask[(p % H) * W + p / H] != 0;
        if (v != val) {
            long long x = n > 2 ? run - prev2 : run; /* COCO deltas from the fourth count on */
            put_count(&sb, x);
            prev2 = prev1, prev1 = run, run = 0, val = v, n++;
        }
        run++;
    }
    put_count(&sb, n > 2 ? run - prev2 : run);
    *counts = odrt_sb_take(&sb);
    return *counts ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
}

odrt_status_t odrt_image_draw_mask(odrt_tensor_t *img, const uint8_t *mask, int class_id) {
    if (!img || !mask) return odrt_fail(ODRT_ERR_ARG, "odrt_image_draw_mask: NULL argument");
    if (img->dtype != ODRT_DT_UINT8 || img->rank != 4 || img->dims[0] != 1 || img->dims[3] != 3)
        return odrt_fail(ODRT_ERR_SHAPE, "odrt_image_draw_mask: expected a uint8 [1,H,W,3] image");
    const uint8_t *col = io_class_colour(class_id);
    uint8_t *px = img->data;
    for (int64_t i = 0; i < img->dims[1] * img->dims[2]; i++)
        if (mask[i])
            for (int c = 0; c < 3; c++) px[i * 3 + c] = (uint8_t)((px[i * 3 + c] + col[c] + 1) / 2);
    return ODRT_OK;
}
