/* `odrt convert` of Faster / Mask R-CNN exports (what passes/rcnn.c found): the export's two NMS
 * regions and crops rebuilt batch-agnostic from TensorRT-ready pieces, the networks kept:
 *   first stage: objectness = softmax(logits)[.., 1], the NMS flavour asked for (EfficientNMS_TRT
 *     decoding against the anchors, BatchedNMS_TRT or ONNX NonMaxSuppression on explicitly decoded
 *     boxes) as one class, then TF's clip to the frame's window (pixels), boxes without area
 *     dropped, the best kept, normalised by the network input size: the proposals;
 *   crops: TF's bilinear sampling (crop_coord.h) written with Gather, Floor and arithmetic, as the
 *     export's own use_matmul_crop_and_resize is (every TensorRT version parses these; ONNX
 *     RoiAlign samples half a pixel off TF and clamps at the border, and TensorRT 8.4 lacks it);
 *   second stage: its codes decoded against the proposals in pixels, class scores by the score
 *     converter without the background column, the image's padded proposals scored -1, the NMS
 *     flavour per class, TF's clip to the window, best max_total, renormalised to the window;
 *   masks (Mask R-CNN): the third stage's crop reads the detections' boxes; each detection's class
 *     channel of the mask logits, through a sigmoid: detection_masks [B, T, mh, mw]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/tfod.h"
#include "passes/convert.h"
#include "passes/rewrite.h"

typedef struct {
    ir_value *codes;       /* [B, N, 4], or [B, N, K, 4] */
    int per_class;         /* codes one per class */
    ir_value *scores;      /* [B, N, C], converted */
    ir_value *anchors;     /* [1 or B, N, 4] centres and sizes */
    ir_value *a_yx, *a_hw; /* the same split, [1 or B, N, (1,) 2], for the explicit decode */
    const float *scales;
    int64_t N, C;
    float score_thr, iou_thr;
    int64_t max_per_class, keep;
} stage_nms;

static ir_value *ints1(bld *b, const char *name, int64_t v) { return b_ints(b, name, 1, &v); }

static ir_value *reshape(bld *b, const char *name, ir_value *x, int n, const int64_t *shape) {
    return b_op2(b, "Reshape", name, x, b_ints(b, "odrt/rcnn/shape", n, shape));
}

/* the NMS of one stage in p's flavour; out: num [B, 1] int32, boxes [B, M, 4], scores [B, M],
 * classes [B, M] (int32 or float) of the kept, best first, zero-padded */
static void run_nms(bld *b, const conv_plan *p, const stage_nms *s, ir_value *out[4]) {
    if (!strcmp(p->nms, "efficient")) {
        int64_t d[1] = {4};
        float r[4];
        for (int c = 0; c < 4; c++) r[c] = 1.0f / s->scales[c];
        ir_value *in[3] = {b_op2(b, "Mul", "odrt/rcnn/scaled_codes", s->codes, b_const(b, "odrt/rcnn/inv_scales", ODRT_DT_FLOAT, 1, d, r)),
                           s->scores, s->anchors};
        ir_node *n = b_node(b, "EfficientNMS_TRT", "trt.plugins", "odrt/rcnn/efficient_nms", 3, in, 4);
        if (b->rc != ODRT_OK) return;
        ir_value *o0 = n->out[0];
        b_attr_f(b, o0, "score_threshold", s->score_thr);
        b_attr_f(b, o0, "iou_threshold", s->iou_thr);
        b_attr_i(b, o0, "max_output_boxes", s->keep);
        b_attr_i(b, o0, "background_class", -1);
        b_attr_i(b, o0, "score_activation", 0);
        b_attr_i(b, o0, "class_agnostic", 0);
        b_attr_i(b, o0, "box_coding", 1);
        b_attr_s(b, o0, "plugin_version", "1");
        for (int i = 0; i < 4; i++) out[i] = n->out[i];
        if (s->C > 1 && s->max_per_class < s->keep) out[2] = tfod_cap_per_class(b, out[2], out[3], s->C, s->max_per_class);
        return;
    }
    ir_value *boxes = tfod_decode_boxes(b, s->codes, s->a_yx, s->a_hw, s->scales);
    if (!strcmp(p->nms, "batched")) {
        if (!s->per_class) boxes = b_op2(b, "Unsqueeze", "odrt/rcnn/boxes_per_class", boxes, ints1(b, "odrt/rcnn/axis2", 2));
        ir_value *in[2] = {boxes, s->scores};
        ir_node *n = b_node(b, "BatchedNMS_TRT", "trt.plugins", "odrt/rcnn/batched_nms", 2, in, 4);
        if (b->rc != ODRT_OK) return;
        ir_value *o0 = n->out[0];
        int64_t top_k = s->N < 4096 ? s->N : 4096;
        b_attr_i(b, o0, "shareLocation", !s->per_class);
        b_attr_i(b, o0, "backgroundLabelId", -1);
        b_attr_i(b, o0, "numClasses", s->C);
        b_attr_i(b, o0, "topK", top_k);
        b_attr_i(b, o0, "keepTopK", s->keep < top_k ? s->keep : top_k);
        b_attr_f(b, o0, "scoreThreshold", s->score_thr);
        b_attr_f(b, o0, "iouThreshold", s->iou_thr);
        b_attr_i(b, o0, "isNormalized", 1); /* no +1 on sizes: the boxes are in pixels, IoU as TF's */
        b_attr_i(b, o0, "clipBoxes", 0);
        b_attr_s(b, o0, "plugin_version", "1");
        for (int i = 0; i < 4; i++) out[i] = n->out[i];
        if (s->C > 1 && s->max_per_class < s->keep) out[2] = tfod_cap_per_class(b, out[2], out[3], s->C, s->max_per_class);
        return;
    }
    /* ONNX NonMaxSuppression, batch 1: per-class boxes go in as one "batch" per class */
    int64_t z = 0, one = 1, two = 2, K = s->keep, perm[3] = {0, 2, 1}, dk4[2] = {K, 4};
    ir_value *bx, *sc;
    if (s->per_class) {
        int64_t pm[4] = {0, 2, 1, 3}, sh3[3] = {-1, s->N, 4}, shs[3] = {-1, 1, s->N};
        bx = reshape(b, "odrt/rcnn/boxes_cn", b_transpose(b, "odrt/rcnn/boxes_t", boxes, 4, pm), 3, sh3);
        sc = reshape(b, "odrt/rcnn/scores_cn", b_transpose(b, "odrt/rcnn/scores_t", s->scores, 3, perm), 3, shs);
    } else {
        bx = boxes;
        sc = b_transpose(b, "odrt/rcnn/scores_cn", s->scores, 3, perm);
    }
    ir_value *nin[5] = {bx, sc, ints1(b, "odrt/rcnn/max_per_class", s->max_per_class),
                        b_const(b, "odrt/rcnn/iou", ODRT_DT_FLOAT, 1, &one, &s->iou_thr),
                        b_const(b, "odrt/rcnn/score", ODRT_DT_FLOAT, 1, &one, &s->score_thr)};
    ir_value *sel = b_op(b, "NonMaxSuppression", "odrt/rcnn/nms", 5, nin);
    /* per-class layout: (class as batch, 0, box); shared: (0, class, box) */
    ir_value *cls = b_op2(b, "Gather", "odrt/rcnn/sel_class", sel, b_scalar_i64(b, "odrt/rcnn/c_cls", s->per_class ? 0 : 1));
    b_attr_i(b, cls, "axis", 1);
    ir_value *bidx = b_op2(b, "Gather", "odrt/rcnn/sel_box", sel, b_scalar_i64(b, "odrt/rcnn/c_box", two));
    b_attr_i(b, bidx, "axis", 1);
    ir_value *sel_scores = b_op2(b, "GatherND", "odrt/rcnn/sel_scores", sc, sel);
    ir_value *sel_boxes;
    if (s->per_class) {
        ir_value *pair = b_op2(b, "Concat", "odrt/rcnn/cls_box", b_op2(b, "Unsqueeze", "odrt/rcnn/cls1", cls, ints1(b, "odrt/rcnn/ax1", 1)),
                               b_op2(b, "Unsqueeze", "odrt/rcnn/box1", bidx, ints1(b, "odrt/rcnn/ax1b", 1)));
        b_attr_i(b, pair, "axis", 1);
        sel_boxes = b_op2(b, "GatherND", "odrt/rcnn/sel_boxes", bx, pair);
    } else {
        sel_boxes = b_op2(b, "Gather", "odrt/rcnn/sel_boxes", b_op2(b, "Squeeze", "odrt/rcnn/boxes0", bx, ints1(b, "odrt/rcnn/ax0", z)), bidx);
    }
    /* K zero rows of padding (pruned by the window step) so that its TopK has a constant K */
    ir_value *sp = b_op2(b, "Concat", "odrt/rcnn/scores_pad", sel_scores, b_const(b, "odrt/rcnn/pad_scores", ODRT_DT_FLOAT, 1, &K, NULL));
    b_attr_i(b, sp, "axis", 0);
    ir_value *bp = b_op2(b, "Concat", "odrt/rcnn/boxes_pad", sel_boxes, b_const(b, "odrt/rcnn/pad_boxes", ODRT_DT_FLOAT, 2, dk4, NULL));
    b_attr_i(b, bp, "axis", 0);
    ir_value *cp = b_op2(b, "Concat", "odrt/rcnn/classes_pad", cls, b_const(b, "odrt/rcnn/pad_classes", ODRT_DT_INT64, 1, &K, NULL));
    b_attr_i(b, cp, "axis", 0);
    ir_value *ax0 = ints1(b, "odrt/rcnn/ax0b", z);
    out[0] = NULL;
    out[1] = b_op2(b, "Unsqueeze", "odrt/rcnn/boxes_b", bp, ax0);
    out[2] = b_op2(b, "Unsqueeze", "odrt/rcnn/scores_b", sp, ax0);
    out[3] = b_cast(b, "odrt/rcnn/classes_b", b_op2(b, "Unsqueeze", "odrt/rcnn/classes_b1", cp, ax0), ODRT_DT_INT32);
}

/* TF's crop (crop_coord.h) of F NCHW [B, C, H, W] by normalised boxes [B, P, 4], as Gathers of the
 * four neighbours from the map's rows (NHWC, an extrapolation row first) -> NCHW [B * P, C, ch, cw] */
static ir_value *crop_axis(bld *b, ir_value *lo, ir_value *hi, int64_t n, int64_t L, int mode, ir_value **i0, ir_value **i1,
                           ir_value **w0, ir_value **w1, ir_value **v0, ir_value **v1) {
    int64_t dl[3] = {1, 1, n};
    float *lin = malloc(sizeof(float) * (size_t)n + 4);
    if (!lin) {
        if (b->rc == ODRT_OK) b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    float sl = (float)(L - 1);
    ir_value *g;
    if (mode == CROP_ROI_ALIGN) { /* lo (L - 1) + lin_i (hi - lo) (L - 1) */
        float step = n > 1 ? 1.0f / (float)(n - 1) : 0.0f;
        for (int64_t o = 0; o < n; o++) lin[o] = n > 1 ? (o == n - 1 ? 1.0f : step * (float)o) : 0.0f;
        ir_value *a = b_op2(b, "Mul", "odrt/rcnn/crop_lo", lo, b_scalar_f(b, "odrt/rcnn/crop_scale", sl));
        ir_value *len = b_op2(b, "Sub", "odrt/rcnn/crop_len", b_op2(b, "Mul", "odrt/rcnn/crop_hi", hi, b_scalar_f(b, "odrt/rcnn/crop_scale", sl)), a);
        if (n == 1) a = b_op2(b, "Add", "odrt/rcnn/crop_mid", a, b_op2(b, "Div", "odrt/rcnn/crop_half", len, b_scalar_f(b, "odrt/rcnn/two", 2)));
        g = b_op2(b, "Add", "odrt/rcnn/crop_grid", a, b_op2(b, "Mul", "odrt/rcnn/crop_step", b_const(b, "odrt/rcnn/lin", ODRT_DT_FLOAT, 3, dl, lin), len));
    } else { /* lo (L - 1) + ((o (hi - lo)) (L - 1)) / (n - 1), in that order (crop_coord.h); the middle when n = 1 */
        for (int64_t o = 0; o < n; o++) lin[o] = (float)o;
        if (n > 1) {
            ir_value *od = b_op2(b, "Mul", "odrt/rcnn/crop_od", b_const(b, "odrt/rcnn/steps", ODRT_DT_FLOAT, 3, dl, lin),
                                 b_op2(b, "Sub", "odrt/rcnn/crop_d", hi, lo));
            ir_value *sc = b_op2(b, "Div", "odrt/rcnn/crop_step", b_op2(b, "Mul", "odrt/rcnn/crop_span", od, b_scalar_f(b, "odrt/rcnn/crop_scale", sl)),
                                 b_scalar_f(b, "odrt/rcnn/crop_n1", (float)(n - 1)));
            g = b_op2(b, "Add", "odrt/rcnn/crop_grid", b_op2(b, "Mul", "odrt/rcnn/crop_lo", lo, b_scalar_f(b, "odrt/rcnn/crop_scale", sl)), sc);
        } else {
            g = b_op2(b, "Mul", "odrt/rcnn/crop_mid", b_op2(b, "Mul", "odrt/rcnn/crop_sum", b_op2(b, "Add", "odrt/rcnn/crop_s", lo, hi),
                                                                    b_scalar_f(b, "odrt/rcnn/half", 0.5f)),
                      b_scalar_f(b, "odrt/rcnn/crop_scale", sl));
        }
    }
    free(lin);
    ir_value *f0 = b_op1(b, "Floor", "odrt/rcnn/crop_f0", g);
    ir_value *f1 = mode == CROP_ROI_ALIGN ? b_op1(b, "Floor", "odrt/rcnn/crop_f1", b_op2(b, "Add", "odrt/rcnn/crop_g1", g, b_scalar_f(b, "odrt/rcnn/one", 1)))
                                          : b_op1(b, "Ceil", "odrt/rcnn/crop_f1", g);
    *w1 = b_op2(b, "Sub", "odrt/rcnn/crop_l", g, f0);
    *w0 = b_op2(b, "Sub", "odrt/rcnn/crop_h", b_scalar_f(b, "odrt/rcnn/one", 1), *w1);
    *i0 = b_cast(b, "odrt/rcnn/crop_i0", f0, ODRT_DT_INT64), *i1 = b_cast(b, "odrt/rcnn/crop_i1", f1, ODRT_DT_INT64);
    ir_value *zero = b_scalar_f(b, "odrt/rcnn/zero", 0), *top = b_scalar_f(b, "odrt/rcnn/crop_top", sl);
    if (mode == CROP_ROI_ALIGN) { /* each neighbour inside the map */
        *v0 = b_op2(b, "And", "odrt/rcnn/crop_v0", b_op2(b, "GreaterOrEqual", "odrt/rcnn/crop_v0a", f0, zero),
                    b_op2(b, "LessOrEqual", "odrt/rcnn/crop_v0b", f0, top));
        *v1 = b_op2(b, "And", "odrt/rcnn/crop_v1", b_op2(b, "GreaterOrEqual", "odrt/rcnn/crop_v1a", f1, zero),
                    b_op2(b, "LessOrEqual", "odrt/rcnn/crop_v1b", f1, top));
    } else { /* the sample inside [0, L - 1] */
        *v0 = *v1 = b_op2(b, "And", "odrt/rcnn/crop_in", b_op2(b, "GreaterOrEqual", "odrt/rcnn/crop_ina", g, zero),
                          b_op2(b, "LessOrEqual", "odrt/rcnn/crop_inb", g, top));
    }
    return g;
}

static ir_value *crop_gather(bld *b, ir_value *F, ir_value *boxes, const tfod_crop *cr) {
    int64_t C = cr->C, H = cr->H, W = cr->W, ch = cr->ch, cw = cr->cw;
    int64_t P = cr->n_boxes, nhwc[4] = {0, 2, 3, 1}, rows[2] = {-1, C}, d1c[2] = {1, C};
    float *extra = malloc(sizeof(float) * (size_t)C + 4);
    if (!extra) {
        if (b->rc == ODRT_OK) b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int64_t c = 0; c < C; c++) extra[c] = cr->extrapolation;
    /* rows: the extrapolation row, then the map's pixels (index 1 + (n H + y) W + x) */
    ir_value *tab = b_op2(b, "Concat", "odrt/rcnn/crop_rows", b_const(b, "odrt/rcnn/crop_extra", ODRT_DT_FLOAT, 2, d1c, extra),
                          reshape(b, "odrt/rcnn/crop_map", b_transpose(b, "odrt/rcnn/crop_nhwc", F, 4, nhwc), 2, rows));
    free(extra);
    b_attr_i(b, tab, "axis", 0);
    int64_t bsh[3] = {-1, P, 4};
    ir_value *bx = reshape(b, "odrt/rcnn/crop_boxes", boxes, 3, bsh);
    ir_value *y1 = b_slice(b, "odrt/rcnn/crop_y1", bx, 2, 0, 1), *x1 = b_slice(b, "odrt/rcnn/crop_x1", bx, 2, 1, 2);
    ir_value *y2 = b_slice(b, "odrt/rcnn/crop_y2", bx, 2, 2, 3), *x2 = b_slice(b, "odrt/rcnn/crop_x2", bx, 2, 3, 4);
    ir_value *iy[2], *ix[2], *wy[2], *wx[2], *vy[2], *vx[2];
    crop_axis(b, y1, y2, ch, H, cr->mode, &iy[0], &iy[1], &wy[0], &wy[1], &vy[0], &vy[1]); /* [B, P, ch] */
    crop_axis(b, x1, x2, cw, W, cr->mode, &ix[0], &ix[1], &wx[0], &wx[1], &vx[0], &vx[1]); /* [B, P, cw] */
    /* the image of each box: n from a Range over the batch, [B, 1, 1, 1] */
    ir_value *nb = b_op2(b, "Gather", "odrt/rcnn/crop_b", b_op1(b, "Shape", "odrt/rcnn/crop_shape", bx), b_scalar_i64(b, "odrt/rcnn/c0", 0));
    ir_value *rin[3] = {b_scalar_i64(b, "odrt/rcnn/r0", 0), nb, b_scalar_i64(b, "odrt/rcnn/r1", 1)};
    int64_t b4[4] = {-1, 1, 1, 1};
    ir_value *base = reshape(b, "odrt/rcnn/crop_base", b_op2(b, "Mul", "odrt/rcnn/crop_img", b_op(b, "Range", "odrt/rcnn/crop_range", 3, rin),
                                                             b_scalar_i64(b, "odrt/rcnn/hw", H * W)), 4, b4);
    ir_value *val[2][2], *wt[2][2];
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2; c++) {
            ir_value *yy = b_op2(b, "Unsqueeze", "odrt/rcnn/crop_yy", iy[a], ints1(b, "odrt/rcnn/ax3", 3));  /* [B, P, ch, 1] */
            ir_value *xx = b_op2(b, "Unsqueeze", "odrt/rcnn/crop_xx", ix[c], ints1(b, "odrt/rcnn/ax2", 2));  /* [B, P, 1, cw] */
            ir_value *idx = b_op2(b, "Add", "odrt/rcnn/crop_idx",
                                  b_op2(b, "Add", "odrt/rcnn/crop_yx", b_op2(b, "Mul", "odrt/rcnn/crop_row", yy, b_scalar_i64(b, "odrt/rcnn/w", W)), xx),
                                  b_op2(b, "Add", "odrt/rcnn/crop_base1", base, b_scalar_i64(b, "odrt/rcnn/one_i", 1)));
            ir_value *ok = b_op2(b, "And", "odrt/rcnn/crop_ok", b_op2(b, "Unsqueeze", "odrt/rcnn/crop_vy", vy[a], ints1(b, "odrt/rcnn/ax3b", 3)),
                                 b_op2(b, "Unsqueeze", "odrt/rcnn/crop_vx", vx[c], ints1(b, "odrt/rcnn/ax2b", 2)));
            ir_value *wh[3] = {ok, idx, b_scalar_i64(b, "odrt/rcnn/extra_row", 0)};
            val[a][c] = b_op2(b, "Gather", "odrt/rcnn/crop_gather", tab, b_op(b, "Where", "odrt/rcnn/crop_where", 3, wh)); /* [B, P, ch, cw, C] */
            wt[a][c] = b_op2(b, "Mul", "odrt/rcnn/crop_w", b_op2(b, "Unsqueeze", "odrt/rcnn/crop_wy", wy[a], ints1(b, "odrt/rcnn/ax3c", 3)),
                             b_op2(b, "Unsqueeze", "odrt/rcnn/crop_wx", wx[c], ints1(b, "odrt/rcnn/ax2c", 2)));
        }
    ir_value *out;
    int64_t ax4 = 4;
    if (cr->mode == CROP_ROI_ALIGN) { /* (((v00 w00 4 + v01 w01 4) + v10 w10 4) + v11 w11 4) / 4 */
        ir_value *acc = NULL;
        for (int q = 0; q < 4; q++) {
            ir_value *w4 = b_op2(b, "Mul", "odrt/rcnn/crop_w4", wt[q / 2][q % 2], b_scalar_f(b, "odrt/rcnn/four", 4));
            ir_value *t = b_op2(b, "Mul", "odrt/rcnn/crop_t", val[q / 2][q % 2], b_op2(b, "Unsqueeze", "odrt/rcnn/crop_w5", w4, ints1(b, "odrt/rcnn/ax4", ax4)));
            acc = acc ? b_op2(b, "Add", "odrt/rcnn/crop_acc", acc, t) : t;
        }
        out = b_op2(b, "Div", "odrt/rcnn/crop_avg", acc, b_scalar_f(b, "odrt/rcnn/four", 4));
    } else { /* top + (bottom - top) * ly, top = v00 + (v01 - v00) * lx */
        ir_value *lx = b_op2(b, "Unsqueeze", "odrt/rcnn/crop_lx", b_op2(b, "Unsqueeze", "odrt/rcnn/crop_lx2", wx[1], ints1(b, "odrt/rcnn/ax2d", 2)),
                             ints1(b, "odrt/rcnn/ax4b", ax4));
        ir_value *ly = b_op2(b, "Unsqueeze", "odrt/rcnn/crop_ly", b_op2(b, "Unsqueeze", "odrt/rcnn/crop_ly2", wy[1], ints1(b, "odrt/rcnn/ax3d", 3)),
                             ints1(b, "odrt/rcnn/ax4c", ax4));
        ir_value *top = b_op2(b, "Add", "odrt/rcnn/crop_top", val[0][0], b_op2(b, "Mul", "odrt/rcnn/crop_tl", b_op2(b, "Sub", "odrt/rcnn/crop_td", val[0][1], val[0][0]), lx));
        ir_value *bot = b_op2(b, "Add", "odrt/rcnn/crop_bot", val[1][0], b_op2(b, "Mul", "odrt/rcnn/crop_bl", b_op2(b, "Sub", "odrt/rcnn/crop_bd", val[1][1], val[1][0]), lx));
        out = b_op2(b, "Add", "odrt/rcnn/crop_out", top, b_op2(b, "Mul", "odrt/rcnn/crop_ml", b_op2(b, "Sub", "odrt/rcnn/crop_md", bot, top), ly));
    }
    int64_t nchw[5] = {0, 1, 4, 2, 3}, sh[4] = {-1, C, ch, cw};
    return reshape(b, "odrt/rcnn/crops", b_transpose(b, "odrt/rcnn/crop_nchw", out, 5, nchw), 4, sh);
}

/* anchors from boxes [B, M, 4] (ymin xmin ymax xmax, pixels) as TF's box list: centre = min + size / 2 */
static void centres(bld *b, ir_value *boxes, ir_value **yx, ir_value **hw) {
    ir_value *mn = b_slice(b, "odrt/rcnn/mins", boxes, 2, 0, 2), *mx = b_slice(b, "odrt/rcnn/maxs", boxes, 2, 2, 4);
    *hw = b_op2(b, "Sub", "odrt/rcnn/sizes", mx, mn);
    *yx = b_op2(b, "Add", "odrt/rcnn/centres", mn, b_op2(b, "Div", "odrt/rcnn/half_size", *hw, b_scalar_f(b, "odrt/rcnn/two", 2)));
}

static ir_value *scores_of(bld *b, ir_value *logits, score_act act, const char *name) {
    ir_value *s = logits;
    if (act == ACT_SOFTMAX) {
        s = b_op1(b, "Softmax", name, logits);
        b_attr_i(b, s, "axis", -1);
    } else if (act == ACT_SIGMOID) {
        s = b_op1(b, "Sigmoid", name, logits);
    }
    return b_slice(b, "odrt/rcnn/drop_background", s, 2, 1, (int64_t)1 << 40);
}

odrt_status_t tfod_rcnn_rewrite(ir_model *m, tfod_found *f, const conv_plan *p, ir_value *outs[5]) {
    bld b = {m, m->graph, ODRT_OK};
    tfod_rcnn *r = &f->rcnn;
    int64_t N = r->n_anchors, P = r->crop.n_boxes, C = f->n_classes, K = r->box_classes;
    int64_t rh, rw;
    tfod_window_size(f, p->in_h, p->in_w, &rh, &rw); /* the frame's window in network-input pixels */
    float nh = (float)f->target_h, nw = (float)f->target_w;
    /* first stage: the proposals */
    int64_t s3[3] = {-1, N, 4}, s2[3] = {-1, N, 2}, da[3] = {1, N, 4}, d2[3] = {1, N, 2};
    float *yx = malloc(sizeof(float) * (size_t)N * 2 + 8), *hw = malloc(sizeof(float) * (size_t)N * 2 + 8);
    if (!yx || !hw) {
        free(yx), free(hw);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < N; i++)
        yx[2 * i] = r->anchors[4 * i], yx[2 * i + 1] = r->anchors[4 * i + 1], hw[2 * i] = r->anchors[4 * i + 2], hw[2 * i + 1] = r->anchors[4 * i + 3];
    stage_nms s1 = {reshape(&b, "odrt/rcnn/rpn_codes", r->rpn_codes, 3, s3), 0,
                    scores_of(&b, reshape(&b, "odrt/rcnn/rpn_logits", r->rpn_logits, 3, s2), ACT_SOFTMAX, "odrt/rcnn/objectness"),
                    b_const(&b, "odrt/rcnn/anchors", ODRT_DT_FLOAT, 3, da, r->anchors),
                    b_const(&b, "odrt/rcnn/anchor_yx", ODRT_DT_FLOAT, 3, d2, yx), b_const(&b, "odrt/rcnn/anchor_hw", ODRT_DT_FLOAT, 3, d2, hw),
                    r->scales, N, 1, r->score_threshold, r->iou, r->max_proposals > 0 ? r->max_proposals : P,
                    r->max_proposals > 0 && r->max_proposals < P ? r->max_proposals : P};
    free(yx), free(hw);
    ir_value *n1[4], *w1[4];
    run_nms(&b, p, &s1, n1);
    float clip1[2] = {(float)rh, (float)rw}, scale1[2] = {1.0f / nh, 1.0f / nw};
    tfod_window_prune(&b, n1[1], n1[2], n1[3], clip1, scale1, P, w1); /* w1[1]: proposals [B, P, 4], w1[0]: their count */
    ODRT_TRY(b.rc);
    ODRT_TRY(ir_value_replace_uses(r->crop.out, crop_gather(&b, r->crop.features, w1[1], &r->crop)));
    /* second stage: the detections */
    int64_t pk[4] = {-1, P, K, 4}, p3[3] = {-1, P, 4}, pl[3] = {-1, P, C + 1}, px[3] = {1, 1, 4}, pr[3] = {1, P, 1};
    float pix[4] = {nh, nw, nh, nw};
    ir_value *abs_p = b_op2(&b, "Mul", "odrt/rcnn/proposals_px", w1[1], b_const(&b, "odrt/rcnn/net_size", ODRT_DT_FLOAT, 3, px, pix));
    ir_value *a_yx, *a_hw;
    centres(&b, abs_p, &a_yx, &a_hw);
    ir_value *sc2 = scores_of(&b, reshape(&b, "odrt/rcnn/class_logits", r->logits, 3, pl), r->act, "odrt/rcnn/class_scores");
    /* the padded proposals are no candidates (TF scores them below any threshold) */
    float *ramp = malloc(sizeof(float) * (size_t)P + 4);
    if (!ramp) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < P; i++) ramp[i] = (float)i;
    int64_t bn[3] = {-1, 1, 1};
    ir_value *valid = b_op2(&b, "Less", "odrt/rcnn/valid", b_const(&b, "odrt/rcnn/ramp", ODRT_DT_FLOAT, 3, pr, ramp),
                            reshape(&b, "odrt/rcnn/n_props", b_cast(&b, "odrt/rcnn/n_props_f", w1[0], ODRT_DT_FLOAT), 3, bn));
    free(ramp);
    ir_value *wv[3] = {valid, sc2, b_scalar_f(&b, "odrt/rcnn/minus_one", -1)};
    int per_class = K > 1;
    ir_value *anc = b_op2(&b, "Concat", "odrt/rcnn/proposal_anchors", a_yx, a_hw);
    b_attr_i(&b, anc, "axis", 2);
    ir_value *ax2 = ints1(&b, "odrt/rcnn/axk", 2);
    stage_nms s2n = {reshape(&b, "odrt/rcnn/codes", r->codes, per_class ? 4 : 3, per_class ? pk : p3), per_class,
                     b_op(&b, "Where", "odrt/rcnn/valid_scores", 3, wv), anc,
                     per_class ? b_op2(&b, "Unsqueeze", "odrt/rcnn/a_yx_k", a_yx, ax2) : a_yx,
                     per_class ? b_op2(&b, "Unsqueeze", "odrt/rcnn/a_hw_k", a_hw, ax2) : a_hw, r->scales2, P, C,
                     p->score_threshold, p->iou_threshold, p->max_per_class,
                     !strcmp(p->nms, "onnx") ? p->max_detections : (C * p->max_per_class < 4096 ? C * p->max_per_class : 4096)};
    if (s2n.keep < p->max_detections) s2n.keep = p->max_detections;
    ir_value *n2[4];
    run_nms(&b, p, &s2n, n2);
    float clip2[2] = {(float)rh, (float)rw}, scale2[2] = {1.0f / (float)rh, 1.0f / (float)rw};
    ir_value *det[4];
    tfod_window_prune(&b, n2[1], n2[2], n2[3], clip2, scale2, p->max_detections, det);
    ODRT_TRY(b.rc);
    outs[0] = tfod_out_value(&b, det[0], "num_detections");
    outs[1] = tfod_out_value(&b, det[1], "detection_boxes");
    outs[2] = tfod_out_value(&b, det[2], "detection_scores");
    outs[3] = tfod_out_value(&b, tfod_add_offset(&b, det[3], !strcmp(p->nms, "batched") ? ODRT_DT_FLOAT : ODRT_DT_INT32, p->class_offset),
                             "detection_classes");
    outs[4] = NULL;
    if (!r->mask_logits) return b.rc;
    /* masks: the third stage crops the detections' boxes; each detection's class channel */
    ODRT_TRY(ir_value_replace_uses(r->mask_crop.out, crop_gather(&b, r->mask_crop.features, det[1], &r->mask_crop)));
    int64_t T = r->mask_crop.n_boxes, Cm = r->mask_classes, flat[3] = {-1, r->mask_h, r->mask_w}, back[4] = {-1, T, r->mask_h, r->mask_w};
    int64_t mone = -1;
    ir_value *cls = reshape(&b, "odrt/rcnn/mask_cls", b_cast(&b, "odrt/rcnn/mask_cls64", det[3], ODRT_DT_INT64), 1, &mone);
    ir_value *rin[3] = {b_scalar_i64(&b, "odrt/rcnn/m0", 0), b_op2(&b, "Gather", "odrt/rcnn/m_n", b_op1(&b, "Shape", "odrt/rcnn/m_shape", cls),
                                                                     b_scalar_i64(&b, "odrt/rcnn/m00", 0)),
                        b_scalar_i64(&b, "odrt/rcnn/m1", 1)};
    ir_value *row = b_op2(&b, "Add", "odrt/rcnn/mask_row",
                          b_op2(&b, "Mul", "odrt/rcnn/mask_base", b_op(&b, "Range", "odrt/rcnn/mask_range", 3, rin), b_scalar_i64(&b, "odrt/rcnn/cm", Cm)),
                          Cm > 1 ? b_op2(&b, "Max", "odrt/rcnn/mask_c", cls, b_scalar_i64(&b, "odrt/rcnn/m_zero", 0)) : b_scalar_i64(&b, "odrt/rcnn/m_z", 0));
    ir_value *ml = b_op2(&b, "Gather", "odrt/rcnn/mask_pick", reshape(&b, "odrt/rcnn/mask_flat", r->mask_logits, 3, flat), row);
    outs[4] = tfod_out_value(&b, reshape(&b, "odrt/rcnn/masks", b_op1(&b, "Sigmoid", "odrt/rcnn/mask_sigmoid", ml), 4, back),
                             "detection_masks");
    return b.rc;
}
