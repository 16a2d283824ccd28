/* The TF OD API rewrites: batched preprocessing instead of the map_fn Loop, and decode + NMS as
 * EfficientNMS_TRT, BatchedNMS_TRT or standard ONNX NonMaxSuppression. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/fold.h"
#include "ir/build.h"
#include "passes/convert.h"
#include "passes/rewrite.h"
#include "resize_coord.h"
#include "passes/tfod.h"

/* ---- preprocessing ---- */
static ir_value *norm_op(bld *b, const norm_step *s, ir_value *x) {
    int64_t d[4] = {1, 3, 1, 1};
    ir_value *c = s->n == 1 ? b_scalar_f(b, "odrt/pre/norm", s->v[0]) : b_const(b, "odrt/pre/norm", ODRT_DT_FLOAT, 4, d, s->v);
    static const char *ops[] = {"Mul", "Div", "Add", "Sub", "Sub"};
    return s->kind == NORM_RSUB ? b_op2(b, "Sub", "odrt/pre/norm_op", c, x) : b_op2(b, ops[s->kind], "odrt/pre/norm_op", x, c);
}

/* NCHW x resized to h x w with the export's Resize settings */
static ir_value *resize_to(bld *b, const tfod_found *f, ir_value *x, int64_t h, int64_t w) {
    /* Concat(Shape(x)[0:2], [h, w]): batch-agnostic; folded to a constant once shapes are static */
    int64_t hw[2] = {h, w};
    ir_value *sh = b_op1(b, "Shape", "odrt/pre/shape", x);
    ir_value *nc = b_slice(b, "odrt/pre/nc", sh, 0, 0, 2);
    ir_value *sizes = b_op2(b, "Concat", "odrt/pre/resize_sizes", nc, b_ints(b, "odrt/pre/hw", 2, hw));
    b_attr_i(b, sizes, "axis", 0);
    ir_value *empty = b_const(b, "odrt/pre/empty", ODRT_DT_FLOAT, 1, (int64_t[]){0}, NULL);
    ir_value *rin[4] = {x, empty, empty, sizes};
    x = b_op(b, "Resize", "odrt/pre/resize", 4, rin);
    b_attr_s(b, x, "mode", f->resize_mode);
    b_attr_s(b, x, "coordinate_transformation_mode", rz_onnx_ctm(f->resize_ctm)); /* ONNX's own modes for TensorRT */
    if (!strcmp(f->resize_mode, "nearest")) b_attr_s(b, x, "nearest_mode", f->resize_nearest);
    return x;
}

odrt_status_t tfod_rewrite_preproc(ir_model *m, tfod_found *f, const conv_plan *p) {
    bld b = {m, m->graph, ODRT_OK};
    ir_value *in = f->input;
    /* the input becomes a static (or batch-dynamic) image batch */
    ir_type *t = &in->type;
    t->dtype = p->in_dtype;
    t->rank = 4;
    t->dims = odrt_arena_alloc(m->arena, sizeof(ir_dim) * 5);
    if (!t->dims) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    int64_t shp[4] = {p->batch, p->nchw ? 3 : p->in_h, p->nchw ? p->in_h : p->in_w, p->nchw ? p->in_w : 3};
    for (int i = 0; i < 4; i++) t->dims[i].value = shp[i];
    if (p->batch < 0) t->dims[0].value = -1, t->dims[0].param = "batch";
    if (!f->loop) return ODRT_OK;
    int64_t to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};
    ir_value *x = in;
    /* TensorRT takes uint8 only as a network input feeding a cast: cast first */
    if (p->in_dtype != ODRT_DT_FLOAT) x = b_cast(&b, "odrt/pre/cast", x, ODRT_DT_FLOAT);
    if (!p->nchw) x = b_transpose(&b, "odrt/pre/to_nchw", x, 4, to_nchw);
    int64_t rh = p->in_h, rw = p->in_w; /* the window the frame lands in */
    if (f->has_resize) tfod_window_size(f, p->in_h, p->in_w, &rh, &rw);
    int n_pre = f->has_resize ? f->n_norm_pre : 0, resize = f->has_resize && (p->in_h != rh || p->in_w != rw);
    int pad = f->has_resize && (rh != f->target_h || rw != f->target_w);
    /* the normalisation, the resize and padding after its first n_pre steps (the later steps apply
     * to the padding too, as in the export) */
    for (int i = 0; i <= f->n_norm && !p->engine; i++) {
        if (i == n_pre && resize) x = resize_to(&b, f, x, rh, rw);
        if (i == n_pre && pad) {
            int64_t pads[8] = {0, 0, 0, 0, 0, 0, f->target_h - rh, f->target_w - rw};
            ir_value *pin[3] = {x, b_ints(&b, "odrt/pre/pads", 8, pads), b_scalar_f(&b, "odrt/pre/pad_value", f->pad_value)};
            x = b_op(&b, "Pad", "odrt/pre/pad", 3, pin);
            b_attr_s(&b, x, "mode", "constant");
        }
        if (i < f->n_norm) x = norm_op(&b, &f->norm[i], x);
    }
    if (!p->engine && (f->chan_perm[0] != 0 || f->chan_perm[1] != 1 || f->chan_perm[2] != 2)) { /* e.g. RGB -> BGR */
        int64_t perm[3] = {f->chan_perm[0], f->chan_perm[1], f->chan_perm[2]};
        x = b_op2(&b, "Gather", "odrt/pre/channel_order", x, b_ints(&b, "odrt/pre/channel_perm", 3, perm));
        b_attr_i(&b, x, "axis", 1);
    }
    x = b_transpose(&b, "odrt/pre/to_nhwc", x, 4, to_nhwc);
    ODRT_TRY(b.rc);
    ODRT_TRY(ir_value_replace_uses(f->loop_image_out, x));
    /* the true image shape: the window of the static frame, for every image of the batch */
    if (f->true_shape_out) {
        int64_t B = p->batch > 0 ? p->batch : 1, d[2] = {B, 3};
        int dt = f->true_shape_out->type.dtype == ODRT_DT_INT64 ? ODRT_DT_INT64 : ODRT_DT_INT32;
        ir_value *c = b_const(&b, "odrt/pre/true_image_shape", dt, 2, d, NULL);
        ODRT_TRY(b.rc);
        for (int64_t k = 0; k < B; k++)
            for (int q = 0; q < 3; q++) {
                int64_t v = q == 0 ? rh : q == 1 ? rw : 3;
                if (dt == ODRT_DT_INT64) ((int64_t *)c->init->data)[k * 3 + q] = v;
                else ((int32_t *)c->init->data)[k * 3 + q] = (int32_t)v;
            }
        ODRT_TRY(ir_value_replace_uses(f->true_shape_out, c));
        f->true_shape_const = c;
    }
    /* per-image constants of the Loop become constants of the batch */
    for (int i = 0; i < f->n_const_scan; i++) {
        const ex_val *v = f->const_scan_val[i];
        int64_t B = p->batch > 0 ? p->batch : 1, d[ODRT_MAX_RANK]; /* the graph's batch at this point */
        if (v->t.rank + 1 > ODRT_MAX_RANK) return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: preprocessing output rank");
        d[0] = B;
        for (int k = 0; k < v->t.rank; k++) d[k + 1] = v->t.dims[k];
        ir_value *c = b_const(&b, "odrt/pre/per_image_const", v->t.dtype, v->t.rank + 1, d, NULL);
        ODRT_TRY(b.rc);
        for (int64_t k = 0; k < B; k++) memcpy((char *)c->init->data + (size_t)k * v->t.nbytes, v->t.data, v->t.nbytes);
        ODRT_TRY(ir_value_replace_uses(f->const_scan_out[i], c));
    }
    ir_node_remove(f->loop);
    return b.rc;
}

/* ---- postprocessing ---- */
static ir_value *scaled_codes(bld *b, const tfod_found *f) {
    int64_t d[3] = {1, 1, 4};
    float r[4];
    for (int c = 0; c < 4; c++) r[c] = 1.0f / f->scales[c];
    return b_op2(b, "Mul", "odrt/post/scaled_codes", f->encodings, b_const(b, "odrt/post/inv_box_scales", ODRT_DT_FLOAT, 3, d, r));
}

ir_value *tfod_decode_boxes(bld *b, ir_value *codes, ir_value *a_yx, ir_value *a_hw, const float scales[4]) {
    int64_t d[1] = {4};
    float r[4];
    for (int c = 0; c < 4; c++) r[c] = 1.0f / scales[c];
    ir_value *t = b_op2(b, "Mul", "odrt/post/scaled_codes", codes, b_const(b, "odrt/post/inv_box_scales", ODRT_DT_FLOAT, 1, d, r));
    ir_value *t_yx = b_slice(b, "odrt/post/t_yx", t, -1, 0, 2), *t_hw = b_slice(b, "odrt/post/t_hw", t, -1, 2, 4);
    ir_value *ctr = b_op2(b, "Add", "odrt/post/center", b_op2(b, "Mul", "odrt/post/center_off", t_yx, a_hw), a_yx);
    ir_value *size = b_op2(b, "Mul", "odrt/post/size", b_op1(b, "Exp", "odrt/post/exp", t_hw), a_hw);
    ir_value *half = b_op2(b, "Mul", "odrt/post/half", size, b_scalar_f(b, "odrt/post/c_half", 0.5f));
    ir_value *mins = b_op2(b, "Sub", "odrt/post/mins", ctr, half), *maxs = b_op2(b, "Add", "odrt/post/maxs", ctr, half);
    ir_value *boxes = b_op2(b, "Concat", "odrt/post/boxes", mins, maxs);
    b_attr_i(b, boxes, "axis", -1);
    return boxes;
}

/* boxes = decode(codes, anchors) as TF's FasterRcnnBoxCoder (TF runs NMS on these unclipped boxes
 * and clips the survivors to the [0, 1] window afterwards) */
static ir_value *decoded_boxes(bld *b, const tfod_found *f) {
    int64_t N = f->n_anchors, d2[3] = {1, N, 2};
    float *yx = malloc(sizeof(float) * (size_t)N * 2), *hw = malloc(sizeof(float) * (size_t)N * 2);
    if (!yx || !hw) {
        free(yx), free(hw);
        b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < N; i++) {
        yx[i * 2] = f->anchors[i * 4], yx[i * 2 + 1] = f->anchors[i * 4 + 1];
        hw[i * 2] = f->anchors[i * 4 + 2], hw[i * 2 + 1] = f->anchors[i * 4 + 3];
    }
    ir_value *a_yx = b_const(b, "odrt/post/anchor_yx", ODRT_DT_FLOAT, 3, d2, yx);
    ir_value *a_hw = b_const(b, "odrt/post/anchor_hw", ODRT_DT_FLOAT, 3, d2, hw);
    free(yx), free(hw);
    return tfod_decode_boxes(b, f->encodings, a_yx, a_hw, f->scales);
}

static ir_value *clip01(bld *b, ir_value *x) {
    ir_value *cin[3] = {x, b_scalar_f(b, "odrt/post/zero", 0), b_scalar_f(b, "odrt/post/one", 1)};
    return b_op(b, "Clip", "odrt/post/clip_to_window", 3, cin);
}

/* TF's end of multiclass NMS on the sorted detections [B, M] (zero boxes pad): clip to the window
 * [0, 0, win_h, win_w], drop boxes left with zero area, keep the best K (stable), and change the
 * coordinate frame to the window. outs: num [B, 1] int32, boxes, scores, classes (dtype kept). */
static void window_postops(bld *b, const conv_plan *p, ir_value *boxes, ir_value *scores, ir_value *classes,
                           ir_value *outs[4]) {
    float clip[2] = {p->win_h, p->win_w}, scale[2] = {1.0f / p->win_h, 1.0f / p->win_w};
    tfod_window_prune(b, boxes, scores, classes, clip, scale, p->max_detections, outs);
}

ir_value *tfod_cap_per_class(bld *b, ir_value *scores, ir_value *classes, int64_t C, int64_t cap) {
    int64_t two = 2, dc[3] = {1, 1, C};
    float *ids = malloc(sizeof(float) * (size_t)C + 4);
    if (!ids) {
        if (b->rc == ODRT_OK) b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (int64_t c = 0; c < C; c++) ids[c] = (float)c;
    /* rank of each detection in its class: earlier detections (the plugins sort by score) of that class */
    ir_value *onehot = b_cast(b, "odrt/post/cap_onehot",
                              b_op2(b, "Equal", "odrt/post/cap_eq", b_op2(b, "Unsqueeze", "odrt/post/cap_cls", b_cast(b, "odrt/post/cap_clsf", classes, ODRT_DT_FLOAT),
                                                                           b_ints(b, "odrt/post/cap_ax", 1, &two)),
                                    b_const(b, "odrt/post/cap_ids", ODRT_DT_FLOAT, 3, dc, ids)),
                              ODRT_DT_FLOAT);
    free(ids);
    ir_value *before = b_op2(b, "CumSum", "odrt/post/cap_before", onehot, b_scalar_i64(b, "odrt/post/cap_axis", 1));
    b_attr_i(b, before, "exclusive", 1);
    ir_value *rank = b_op2(b, "ReduceSum", "odrt/post/cap_rank", b_op2(b, "Mul", "odrt/post/cap_mine", before, onehot),
                           b_ints(b, "odrt/post/cap_ax2", 1, &two));
    b_attr_i(b, rank, "keepdims", 0);
    ir_value *wh[3] = {b_op2(b, "Less", "odrt/post/cap_keep", rank, b_scalar_f(b, "odrt/post/cap", (float)cap)), scores,
                       b_scalar_f(b, "odrt/post/cap_drop", -1)};
    return b_op(b, "Where", "odrt/post/capped_scores", 3, wh);
}

void tfod_window_prune(bld *b, ir_value *boxes, ir_value *scores, ir_value *classes, const float clip[2], const float scale[2],
                       int64_t K, ir_value *outs[4]) {
    int64_t d3[3] = {1, 1, 4}, two = 2, one = 1, e4[3] = {1, 1, 4};
    float hi[4] = {clip[0], clip[1], clip[0], clip[1]}, inv[4] = {scale[0], scale[1], scale[0], scale[1]};
    ir_value *bc = b_op2(b, "Min", "odrt/post/clip_hi", b_op2(b, "Max", "odrt/post/clip_lo", boxes, b_scalar_f(b, "odrt/post/zero", 0)),
                         b_const(b, "odrt/post/window", ODRT_DT_FLOAT, 3, d3, hi));
    ir_value *hgt = b_op2(b, "Sub", "odrt/post/height", b_slice(b, "odrt/post/y2", bc, 2, 2, 3), b_slice(b, "odrt/post/y1", bc, 2, 0, 1));
    ir_value *wid = b_op2(b, "Sub", "odrt/post/width", b_slice(b, "odrt/post/x2", bc, 2, 3, 4), b_slice(b, "odrt/post/x1", bc, 2, 1, 2));
    ir_value *area = b_op2(b, "Squeeze", "odrt/post/area", b_op2(b, "Mul", "odrt/post/area3", hgt, wid),
                           b_ints(b, "odrt/post/axis2", 1, &two));
    ir_value *valid = b_op2(b, "Greater", "odrt/post/nonzero_area", area, b_scalar_f(b, "odrt/post/zero_area", 0));
    ir_value *win[3] = {valid, scores, b_scalar_f(b, "odrt/post/minus_one", -1)};
    ir_value *ms = b_op(b, "Where", "odrt/post/pruned_scores", 3, win);
    ir_node *tk = b_node(b, "TopK", "", "odrt/post/best", 2, (ir_value *[]){ms, b_ints(b, "odrt/post/k", 1, &K)}, 2);
    if (b->rc != ODRT_OK) return;
    b_attr_i(b, tk->out[0], "axis", 1);
    ir_value *idx4 = b_op2(b, "Expand", "odrt/post/idx4", b_op2(b, "Unsqueeze", "odrt/post/idx3", tk->out[1], b_ints(b, "odrt/post/axis2b", 1, &two)),
                           b_ints(b, "odrt/post/e4", 3, e4));
    ir_value *gb = b_op2(b, "GatherElements", "odrt/post/kept_boxes", bc, idx4);
    b_attr_i(b, gb, "axis", 1);
    outs[1] = b_op2(b, "Mul", "odrt/post/to_window_frame", gb, b_const(b, "odrt/post/inv_window", ODRT_DT_FLOAT, 3, d3, inv));
    outs[2] = b_op1(b, "Relu", "odrt/post/kept_scores", tk->out[0]);
    outs[3] = b_op2(b, "GatherElements", "odrt/post/kept_classes", classes, tk->out[1]);
    b_attr_i(b, outs[3], "axis", 1);
    ir_value *kept = b_cast(b, "odrt/post/kept_f", b_op2(b, "Greater", "odrt/post/kept", tk->out[0], b_scalar_f(b, "odrt/post/half_neg", -0.5f)),
                            ODRT_DT_FLOAT);
    ir_value *cnt = b_op2(b, "ReduceSum", "odrt/post/count", kept, b_ints(b, "odrt/post/axis1", 1, &one));
    b_attr_i(b, cnt, "keepdims", 1);
    outs[0] = b_cast(b, "odrt/post/num_i32", cnt, ODRT_DT_INT32);
}

static ir_value *class_scores(bld *b, const tfod_found *f, int apply_act) {
    ir_value *s = f->logits;
    if (apply_act && f->act == ACT_SIGMOID) s = b_op1(b, "Sigmoid", "odrt/post/sigmoid", s);
    if (f->act == ACT_SOFTMAX) { /* EfficientNMS has no softmax activation: always in the graph */
        s = b_op1(b, "Softmax", "odrt/post/softmax", s);
        b_attr_i(b, s, "axis", -1);
    }
    if (f->bg_offset > 0) s = b_slice(b, "odrt/post/drop_background", s, 2, f->bg_offset, (int64_t)1 << 40);
    return s;
}

/* ONNX NonMaxSuppression over the whole batch: boxes [B, N, 4], scores [B, C, N] -> selected
 * (image, class, box) triples [M, 3]. Their scores are scattered into a dense [B, C * N] table (-1
 * where not selected), whose TopK per image gives the best candidates in score order (ties: lower
 * class, then lower box, TopK's order) with their class (index / N) and box (index % N); the
 * window's clip, pruning and best K follow (window_postops). No loop and nothing batch-specific:
 * the same graph runs at any batch, dynamic included. */
static void onnx_nms(bld *b, const tfod_found *f, const conv_plan *p, int64_t extra, ir_value *w[4]) {
    int64_t one = 1, two = 2, N = f->n_anchors, CN = f->n_classes * f->n_anchors, perm[3] = {0, 2, 1}, flat[2] = {0, -1};
    int64_t e4[3] = {1, 1, 4};
    /* candidates: every selected one the window's pruning may need (TensorRT's TopK takes k <= 3840) */
    int64_t kc = extra > p->max_detections ? extra : p->max_detections;
    if (kc > 3840) kc = 3840;
    if (kc > CN) kc = CN;
    ir_value *bx = decoded_boxes(b, f);
    ir_value *sc = b_transpose(b, "odrt/post/scores_cn", class_scores(b, f, 1), 3, perm);
    ir_value *nin[5] = {bx, sc, b_ints(b, "odrt/post/max_per_class", 1, &(int64_t){p->max_per_class}),
                        b_const(b, "odrt/post/iou", ODRT_DT_FLOAT, 1, &one, &p->iou_threshold),
                        b_const(b, "odrt/post/score", ODRT_DT_FLOAT, 1, &one, &p->score_threshold)};
    ir_value *sel = b_op(b, "NonMaxSuppression", "odrt/post/nms", 5, nin);
    ir_value *sel_scores = b_op2(b, "GatherND", "odrt/post/sel_scores", sc, sel);
    ir_value *img = b_slice(b, "odrt/post/sel_image", sel, 1, 0, 1);
    ir_value *cls = b_slice(b, "odrt/post/sel_class", sel, 1, 1, 2);
    ir_value *box = b_slice(b, "odrt/post/sel_box", sel, 1, 2, 3);
    ir_value *col = b_op2(b, "Add", "odrt/post/sel_column", b_op2(b, "Mul", "odrt/post/sel_class_n", cls, b_scalar_i64(b, "odrt/post/n_anchors", N)),
                          box);
    ir_value *at = b_op2(b, "Concat", "odrt/post/sel_at", img, col);
    b_attr_i(b, at, "axis", 1);
    ir_value *sc2 = b_op2(b, "Reshape", "odrt/post/scores_flat", sc, b_ints(b, "odrt/post/flat", 2, flat));
    ir_value *none = b_op2(b, "Sub", "odrt/post/unselected", b_op2(b, "Mul", "odrt/post/zeros", sc2, b_scalar_f(b, "odrt/post/zero_f", 0)),
                           b_scalar_f(b, "odrt/post/one_f", 1));
    ir_value *dense = b_op(b, "ScatterND", "odrt/post/selected_scores", 3, (ir_value *[]){none, at, sel_scores});
    ir_node *tk = b_node(b, "TopK", "", "odrt/post/candidates", 2, (ir_value *[]){dense, b_ints(b, "odrt/post/kc", 1, &kc)}, 2);
    if (b->rc != ODRT_OK) return;
    b_attr_i(b, tk->out[0], "axis", 1);
    ir_value *valid = b_cast(b, "odrt/post/cand_valid", b_op2(b, "Greater", "odrt/post/cand_sel", tk->out[0], b_scalar_f(b, "odrt/post/half_neg_c", -0.5f)),
                             ODRT_DT_FLOAT);
    ir_value *nn = b_scalar_i64(b, "odrt/post/n_anchors_c", N);
    ir_value *ccls = b_op2(b, "Div", "odrt/post/cand_class", tk->out[1], nn);
    ir_value *cbox = b_op2(b, "Sub", "odrt/post/cand_box", tk->out[1], b_op2(b, "Mul", "odrt/post/cand_class_n", ccls, nn));
    ir_value *idx4 = b_op2(b, "Expand", "odrt/post/cand_idx4", b_op2(b, "Unsqueeze", "odrt/post/cand_idx3", cbox, b_ints(b, "odrt/post/axis2c", 1, &two)),
                           b_ints(b, "odrt/post/e4c", 3, e4));
    ir_value *gb = b_op2(b, "GatherElements", "odrt/post/cand_boxes", bx, idx4);
    b_attr_i(b, gb, "axis", 1);
    /* not-selected slots: zero boxes (pruned as zero-area), class 0, score -1 (TF's padding) */
    ir_value *cb = b_op2(b, "Mul", "odrt/post/cand_boxes_sel", gb, b_op2(b, "Unsqueeze", "odrt/post/cand_valid3", valid, b_ints(b, "odrt/post/axis2d", 1, &two)));
    ir_value *cc = b_op2(b, "Mul", "odrt/post/cand_class_sel", b_cast(b, "odrt/post/cand_class_f", ccls, ODRT_DT_FLOAT), valid);
    window_postops(b, p, cb, tk->out[0], cc, w);
    w[3] = b_cast(b, "odrt/post/classes_i32", w[3], ODRT_DT_INT32);
}

ir_value *tfod_out_value(bld *b, ir_value *v, const char *name) {
    /* final outputs get their contract names through an Identity */
    ir_value *y = b_op1(b, "Identity", name, v);
    if (!y) return NULL;
    /* the original graph's value of that name (TF's own output) steps aside */
    ir_value *old = odrt_smap_get(&b->g->names, name);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/tf", name);
    if (old && old != y && b->rc == ODRT_OK) b->rc = ir_value_rename(old, ir_unique_name(b->g, tmp));
    if (b->rc == ODRT_OK) b->rc = ir_value_rename(y, name);
    return b->rc == ODRT_OK ? y : NULL;
}

ir_value *tfod_add_offset(bld *b, ir_value *cls, int dtype, int64_t off) {
    if (!off) return cls;
    if (dtype == ODRT_DT_INT32) {
        int32_t o = (int32_t)off;
        return b_op2(b, "Add", "odrt/post/class_offset", cls, b_const(b, "odrt/post/c_offset", ODRT_DT_INT32, 0, NULL, &o));
    }
    return b_op2(b, "Add", "odrt/post/class_offset", cls, b_scalar_f(b, "odrt/post/c_offset", (float)off));
}

odrt_status_t tfod_rewrite_postproc(ir_model *m, tfod_found *f, const conv_plan *p, ir_value *outs[4]) {
    bld b = {m, m->graph, ODRT_OK};
    ir_value *num = NULL, *boxes = NULL, *scores = NULL, *classes = NULL, *w[4] = {0};
    int cls_dtype = ODRT_DT_INT32;
    /* a window smaller than the network input (keep-aspect resize + pad): the plugins return more
     * than K so that TF's pruning of boxes outside the window can be done after them */
    int windowed = p->win_h != 1.0f || p->win_w != 1.0f;
    int64_t all = f->n_classes * p->max_per_class, extra = all < 4096 ? all : 4096;
    if (extra < p->max_detections) extra = p->max_detections;
    if (!strcmp(p->nms, "efficient")) {
        int64_t N = f->n_anchors, d[3] = {1, N, 4};
        ir_value *in[3] = {scaled_codes(&b, f), class_scores(&b, f, 0),
                           b_const(&b, "odrt/post/anchors", ODRT_DT_FLOAT, 3, d, f->anchors)};
        ir_node *n = b_node(&b, "EfficientNMS_TRT", "trt.plugins", "odrt/post/efficient_nms", 3, in, 4);
        ODRT_TRY(b.rc);
        ir_value *o0 = n->out[0];
        b_attr_f(&b, o0, "score_threshold", p->score_threshold);
        b_attr_f(&b, o0, "iou_threshold", p->iou_threshold);
        b_attr_i(&b, o0, "max_output_boxes", windowed ? extra : p->max_detections);
        b_attr_i(&b, o0, "background_class", -1);
        b_attr_i(&b, o0, "score_activation", f->act == ACT_SIGMOID);
        b_attr_i(&b, o0, "class_agnostic", 0);
        b_attr_i(&b, o0, "box_coding", 1);
        b_attr_s(&b, o0, "plugin_version", "1");
        num = n->out[0], scores = n->out[2], classes = n->out[3];
        /* TF clips the kept boxes to the image window; this plugin has no clip option */
        if (windowed) window_postops(&b, p, n->out[1], scores, classes, w);
        else boxes = clip01(&b, n->out[1]);
    } else if (!strcmp(p->nms, "batched")) {
        int64_t ax2 = 2;
        ir_value *bx = b_op2(&b, "Unsqueeze", "odrt/post/boxes_per_class", decoded_boxes(&b, f), b_ints(&b, "odrt/post/axis2", 1, &ax2));
        ir_value *in[2] = {bx, class_scores(&b, f, 1)};
        ir_node *n = b_node(&b, "BatchedNMS_TRT", "trt.plugins", "odrt/post/batched_nms", 2, in, 4);
        ODRT_TRY(b.rc);
        ir_value *o0 = n->out[0];
        int64_t top_k = f->n_anchors < 4096 ? f->n_anchors : 4096;
        b_attr_i(&b, o0, "shareLocation", 1);
        b_attr_i(&b, o0, "backgroundLabelId", -1);
        b_attr_i(&b, o0, "numClasses", f->n_classes);
        b_attr_i(&b, o0, "topK", top_k);
        b_attr_i(&b, o0, "keepTopK", windowed ? (extra < top_k ? extra : top_k) : p->max_detections);
        b_attr_f(&b, o0, "scoreThreshold", p->score_threshold);
        b_attr_f(&b, o0, "iouThreshold", p->iou_threshold);
        b_attr_i(&b, o0, "isNormalized", 1);
        b_attr_i(&b, o0, "clipBoxes", 1);
        b_attr_s(&b, o0, "plugin_version", "1");
        num = n->out[0], boxes = n->out[1], scores = n->out[2], classes = n->out[3];
        cls_dtype = ODRT_DT_FLOAT;
        if (windowed) window_postops(&b, p, boxes, scores, classes, w);
    } else { /* standard ONNX NonMaxSuppression, any batch (static or dynamic) */
        onnx_nms(&b, f, p, extra, w);
    }
    if (w[0]) num = w[0], boxes = w[1], scores = w[2], classes = w[3];
    classes = tfod_add_offset(&b, classes, cls_dtype, p->class_offset);
    outs[0] = tfod_out_value(&b, num, "num_detections");
    outs[1] = tfod_out_value(&b, boxes, "detection_boxes");
    outs[2] = tfod_out_value(&b, scores, "detection_scores");
    outs[3] = tfod_out_value(&b, classes, "detection_classes");
    return b.rc;
}

/* ---- CenterNet: the export's post-processing kept, its outputs in convert's form ---- */
odrt_status_t tfod_centernet_outputs(ir_model *m, const tfod_found *f, const conv_plan *p, ir_value *outs[4]) {
    static const char *names[4] = {"num_detections", "detection_boxes", "detection_scores", "detection_classes"};
    ir_value *v[4];
    ODRT_TRY(tfod_centernet_postproc(m, f, p, v));
    bld b = {m, m->graph, ODRT_OK};
    for (int i = 0; i < 4; i++) outs[i] = tfod_out_value(&b, v[i], names[i]);
    return b.rc;
}
