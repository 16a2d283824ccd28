/* Crops of a feature map by boxes: odrt.CropAndResize (TF's crops as two-stage TF OD API exports
 * compute them, src/crop_coord.h; what odrt puts in place of an export's crop) and ONNX RoiAlign
 * (what `odrt convert` writes for TensorRT). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"
#include "crop_coord.h"

/* odrt.CropAndResize(X NCHW [B, C, H, W], boxes [B, P, 4] or [B * P, 4] normalised y1 x1 y2 x2
 * [, box_ind [B * P]]) -> [B * P, C, crop_height, crop_width]; box n is cropped from image n / P,
 * or from image box_ind[n] when given (TensorFlow's CropAndResize, read from a TF graph).
 * attrs: crop_height, crop_width, mode ("roi_align" | "crop_and_resize"), extrapolation_value */
int ex_crop_mode_code(const char *s) {
    return !strcmp(s, "roi_align") ? CROP_ROI_ALIGN : !strcmp(s, "crop_and_resize") ? CROP_TF : -1;
}

static odrt_status_t k_crop(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *bx = &c->in[1]->t;
    int64_t ch = ir_attr_int(c->node, "crop_height", 0), cw = ir_attr_int(c->node, "crop_width", 0);
    int mode = ex_crop_mode_code(ir_attr_str(c->node, "mode", "roi_align"));
    float extra = ir_attr_float(c->node, "extrapolation_value", 0.0f);
    if (x->dtype != ODRT_DT_FLOAT || x->rank != 4 || bx->dtype != ODRT_DT_FLOAT || ex_numel(c->in[1]) % 4)
        return ex_fail_node(c, ODRT_ERR_SHAPE, "expects float X [B,C,H,W] and float boxes [.., 4]");
    if (ch < 1 || cw < 1 || ch > 4096 || cw > 4096 || mode < 0)
        return ex_fail_node(c, ODRT_ERR_INVALID, "crop size %lldx%lld or mode bad", (long long)ch, (long long)cw);
    int64_t B = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], NB = ex_numel(c->in[1]) / 4;
    if (B < 1 || NB % B) return ex_fail_node(c, ODRT_ERR_SHAPE, "%lld boxes for a batch of %lld", (long long)NB, (long long)B);
    int64_t od[4] = {NB, C, ch, cw};
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, 4, od));
    const float *X = x->data, *boxes = bx->data;
    float *Y = c->out[0]->t.data;
    if (c->n_in < 3 || !c->in[2]) {
        crop_nchw(mode, X, B, C, H, W, boxes, NB, ch, cw, extra, Y);
        return ODRT_OK;
    }
    int64_t *ind, n_ind;
    ODRT_TRY(ex_read_ints(c, 2, &ind, &n_ind));
    odrt_status_t rc = ODRT_OK;
    if (n_ind != NB) rc = ex_fail_node(c, ODRT_ERR_SHAPE, "%lld box indices for %lld boxes", (long long)n_ind, (long long)NB);
    for (int64_t n = 0; n < NB && rc == ODRT_OK; n++) {
        if (ind[n] < 0 || ind[n] >= B) rc = ex_fail_node(c, ODRT_ERR_INVALID, "box %lld: image index %lld of %lld", (long long)n, (long long)ind[n], (long long)B);
        else crop_nchw(mode, X + ind[n] * C * H * W, 1, C, H, W, boxes + 4 * n, 1, ch, cw, extra, Y + n * C * ch * cw);
    }
    free(ind);
    return rc;
}

/* ONNX RoiAlign (opset 10, 16): X [N, C, H, W], rois [R, 4] (x1, y1, x2, y2), batch_indices [R] ->
 * [R, C, output_height, output_width]; each bin the average (or max) of its grid of bilinear
 * samples (sampling_ratio^2, adaptive ceil(roi / out) when 0), as ONNX's reference computes them:
 * a sample outside [-1, H] x [-1, W] weighs nothing; max mode takes the largest weighted corner */
typedef struct {
    int64_t pos[4];
    float w[4];
} roi_tap;

static roi_tap roi_sample(int64_t H, int64_t W, float y, float x) {
    roi_tap t;
    memset(&t, 0, sizeof t);
    if (y < -1.0f || y > (float)H || x < -1.0f || x > (float)W) return t;
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= H - 1) y1 = y0 = H - 1, y = (float)y0;
    else y1 = y0 + 1;
    if (x0 >= W - 1) x1 = x0 = W - 1, x = (float)x0;
    else x1 = x0 + 1;
    float ly = y - (float)y0, lx = x - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
    t.pos[0] = y0 * W + x0, t.pos[1] = y0 * W + x1, t.pos[2] = y1 * W + x0, t.pos[3] = y1 * W + x1;
    t.w[0] = hy * hx, t.w[1] = hy * lx, t.w[2] = ly * hx, t.w[3] = ly * lx;
    return t;
}

static odrt_status_t k_roialign(ex_node_ctx *c) {
    for (int k = 0; k < 3; k++) ODRT_TRY(ex_need(c, k));
    const odrt_tensor_t *x = &c->in[0]->t, *ro = &c->in[1]->t;
    if (x->dtype != ODRT_DT_FLOAT || x->rank != 4 || ro->dtype != ODRT_DT_FLOAT || ro->rank != 2 || ro->dims[1] != 4)
        return ex_fail_node(c, ODRT_ERR_SHAPE, "expects float X [N,C,H,W] and rois [R,4]");
    int64_t *bi = NULL, nbi;
    ODRT_TRY(ex_read_ints(c, 2, &bi, &nbi));
    int64_t R = ro->dims[0], N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t oh = ir_attr_int(c->node, "output_height", 1), ow = ir_attr_int(c->node, "output_width", 1);
    int64_t sr = ir_attr_int(c->node, "sampling_ratio", 0);
    float scale = ir_attr_float(c->node, "spatial_scale", 1.0f);
    int max_mode = !strcmp(ir_attr_str(c->node, "mode", "avg"), "max");
    /* opset 16 added coordinate_transformation_mode (default half_pixel); opset 10 is output_half_pixel */
    int half = c->opset >= 16 && !strcmp(ir_attr_str(c->node, "coordinate_transformation_mode", "half_pixel"), "half_pixel");
    odrt_status_t rc = ODRT_OK;
    if (nbi != R) rc = ex_fail_node(c, ODRT_ERR_SHAPE, "%lld batch indices for %lld rois", (long long)nbi, (long long)R);
    if (rc == ODRT_OK && (oh < 1 || ow < 1 || oh > 4096 || ow > 4096 || sr < 0 || sr > 64 || H < 1 || W < 1))
        rc = ex_fail_node(c, ODRT_ERR_INVALID, "output size or sampling_ratio bad");
    for (int64_t r = 0; rc == ODRT_OK && r < R; r++)
        if (bi[r] < 0 || bi[r] >= N) rc = ex_fail_node(c, ODRT_ERR_INVALID, "batch index %lld out of range", (long long)bi[r]);
    int64_t od[4] = {R, C, oh, ow};
    if (rc == ODRT_OK) rc = ex_out(c, 0, ODRT_DT_FLOAT, 4, od);
    roi_tap *taps = NULL;
    for (int64_t r = 0; rc == ODRT_OK && r < R; r++) {
        const float *b = (const float *)ro->data + r * 4;
        float off = half ? 0.5f : 0.0f;
        float x1 = b[0] * scale - off, y1 = b[1] * scale - off, x2 = b[2] * scale - off, y2 = b[3] * scale - off;
        float rw = x2 - x1, rh = y2 - y1;
        if (!half) rw = rw > 1.0f ? rw : 1.0f, rh = rh > 1.0f ? rh : 1.0f;
        float bh = rh / (float)oh, bw = rw / (float)ow;
        double gyd = sr > 0 ? (double)sr : ceil((double)rh / (double)oh), gxd = sr > 0 ? (double)sr : ceil((double)rw / (double)ow);
        int64_t gy = gyd >= 1 && gyd < 4096 ? (int64_t)gyd : gyd >= 4096 ? 4096 : 0;
        int64_t gx = gxd >= 1 && gxd < 4096 ? (int64_t)gxd : gxd >= 4096 ? 4096 : 0;
        int64_t per = oh * ow * gy * gx, count = gy * gx > 1 ? gy * gx : 1;
        roi_tap *nt = realloc(taps, sizeof *taps * (size_t)(per + 1));
        if (!nt) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        taps = nt;
        for (int64_t i = 0, q = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                for (int64_t sy = 0; sy < gy; sy++) {
                    float yy = y1 + (float)i * bh + ((float)sy + 0.5f) * bh / (float)gy;
                    for (int64_t sx = 0; sx < gx; sx++)
                        taps[q++] = roi_sample(H, W, yy, x1 + (float)j * bw + ((float)sx + 0.5f) * bw / (float)gx);
                }
        for (int64_t k = 0; k < C; k++) {
            const float *p = (const float *)x->data + (bi[r] * C + k) * H * W;
            float *y = (float *)c->out[0]->t.data + (r * C + k) * oh * ow;
            for (int64_t o = 0; o < oh * ow; o++) {
                const roi_tap *t = taps + o * gy * gx;
                float acc = 0;
                for (int64_t s = 0; s < gy * gx; s++) {
                    float a = t[s].w[0] * p[t[s].pos[0]], bb = t[s].w[1] * p[t[s].pos[1]];
                    float cc = t[s].w[2] * p[t[s].pos[2]], d = t[s].w[3] * p[t[s].pos[3]];
                    if (max_mode) {
                        float v = fmaxf(fmaxf(a, bb), fmaxf(cc, d));
                        acc = s == 0 || v > acc ? v : acc;
                    } else {
                        acc += a + bb + cc + d;
                    }
                }
                y[o] = max_mode ? acc : acc / (float)count;
            }
        }
    }
    free(taps);
    free(bi);
    return rc;
}

const ex_kernel ex_kernels_crop[] = {
    {"odrt", "CropAndResize", k_crop, sh_crop},
    {"", "RoiAlign", k_roialign, sh_crop},
    {NULL, NULL, NULL, NULL},
};
