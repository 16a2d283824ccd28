/* Faster / Mask R-CNN engines. What tfod_analyze_rcnn found (passes/rcnn.c) becomes the metadata
 * of the post-processing between the stages (postproc_rcnn.c), which is checked here against the
 * export's own graph on probes: random first- and second-stage head outputs (and mask logits)
 * through the graph's NMS, clipping and normalisation and through the engine's, at the model's
 * window and, for keep-aspect resizers, at windows narrower than the input. A variant whose
 * arithmetic differs is refused rather than built wrong. The graph is then cut: each crop becomes
 * an odrt.CropAndResize of the feature map by boxes the engine writes (proposals; the detections'
 * boxes for masks), and the network's outputs the stages' heads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/model.h"
#include "passes/tfod.h"
#include "passes/convert.h"
#include "passes/rewrite.h"
#include "engine/engine.h"
#include "engine/plan_util.h"
#include "engine/build_internal.h"

static void serial_for(void *ctx, int64_t n, eng_task fn, void *arg) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) fn(arg, i, 0);
}

static uint32_t next(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}
static float uni(uint32_t *s, float lo, float hi) { return lo + (hi - lo) * (float)next(s) / 16777216.0f; }

static ex_val *seed_like(const ir_value *v, uint32_t *s, float lo, float hi) {
    int64_t d[ODRT_MAX_RANK];
    for (int i = 0; i < v->type.rank; i++) d[i] = v->type.dims[i].value;
    ex_val *e = ex_val_new_tensor(ODRT_DT_FLOAT, v->type.rank, d);
    for (int64_t i = 0; e && i < ex_numel(e); i++) ((float *)e->t.data)[i] = uni(s, lo, hi);
    return e;
}

typedef struct {
    double box, score, mask;
    int count_ok, class_ok, rows;
} probe_err;

/* one probe at window (rh, rw): the graph and the engine on the same head outputs */
static odrt_status_t probe(ir_model *m, tfod_found *f, const eng_meta *mt, int64_t rh, int64_t rw, uint32_t seed, probe_err *e) {
    ir_graph *g = m->graph;
    tfod_rcnn *r = &f->rcnn;
    int masks = r->mask_logits != NULL;
    ir_value *sv[5] = {r->rpn_codes, r->rpn_logits, r->codes, r->logits, r->mask_logits};
    ex_val *seeds[5] = {0}, *res[6] = {0};
    uint32_t s = seed;
    float lo[5] = {-0.6f, -3, -0.6f, -2, -4}, hi[5] = {0.6f, 3, 0.6f, 2, 4};
    odrt_status_t rc = ODRT_OK;
    for (int i = 0; i < 4 + masks && rc == ODRT_OK; i++)
        if (!(seeds[i] = seed_like(sv[i], &s, lo[i], hi[i]))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    ir_value *targets[6] = {r->crop.boxes, (ir_value *)tfod_find_output(g, "detection_boxes"),
                            (ir_value *)tfod_find_output(g, "detection_scores"), (ir_value *)tfod_find_output(g, "detection_classes"),
                            (ir_value *)tfod_find_output(g, "num_detections"), (ir_value *)tfod_find_output(g, "detection_masks")};
    for (int i = 1; i < 5 + masks && rc == ODRT_OK; i++)
        if (!targets[i]) rc = odrt_fail(ODRT_ERR_NOT_FOUND, "build: R-CNN export without the detection outputs");
    if (rc == ODRT_OK && f->true_shape_const) eng_set_true_shape(f->true_shape_const, rh, rw);
    if (rc == ODRT_OK) rc = ir_eval(m, g, 4 + masks, sv, seeds, 5 + masks, targets, res);
    if (rc != ODRT_OK) rc = odrt_fail_ctx(rc, "build: the R-CNN post-processing could not be evaluated");
    int64_t P = mt->rc_props, win[2] = {rh, rw};
    float *props = malloc(sizeof(float) * 4 * (size_t)P + 16), *dets = malloc(sizeof(float) * 4 * (size_t)mt->max_total + 16);
    float *mk = masks ? malloc(sizeof(float) * (size_t)mt->max_total * mt->mask_h * mt->mask_w + 16) : NULL;
    int n_props = 0;
    odrt_detections_t d = {0, NULL};
    eng_post_ws *ws = NULL;
    eng_host host = {serial_for, NULL, NULL};
    if (rc == ODRT_OK && (!props || !dets || (masks && !mk))) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    const float *anchors = r->anchors;
    if (rc == ODRT_OK) rc = eng_rcnn_proposals(mt, anchors, seeds[0]->t.data, seeds[1]->t.data, 1, win, props, &n_props, &host, &ws);
    if (rc == ODRT_OK) { /* the proposals the crop reads: the kept ones (the rest is padding) */
        e->rows += n_props;
        if (ex_numel(res[0]) < 4 * n_props) e->count_ok = 0;
        for (int64_t i = 0; i < 4 * n_props && i < ex_numel(res[0]); i++) e->box = fmax(e->box, fabs(props[i] - ex_get_f(&res[0]->t, i)));
    }
    if (rc == ODRT_OK) rc = eng_rcnn_detect(mt, props, &n_props, seeds[2]->t.data, seeds[3]->t.data, 1, win, &d, dets, &host, &ws);
    int n_tf = rc == ODRT_OK && ex_numel(res[4]) >= 1 ? (int)ex_get_f(&res[4]->t, 0) : -1;
    if (rc == ODRT_OK && d.count != n_tf) e->count_ok = 0;
    for (int i = 0; rc == ODRT_OK && i < d.count && i < n_tf && ex_numel(res[1]) >= 4 * (i + 1); i++) {
        const odrt_detection_t *x = &d.items[i];
        float got[4] = {x->ymin, x->xmin, x->ymax, x->xmax};
        for (int q = 0; q < 4; q++) e->box = fmax(e->box, fabs(got[q] - ex_get_f(&res[1]->t, 4 * i + q)));
        e->score = fmax(e->score, fabs(x->score - ex_get_f(&res[2]->t, i)));
        if (x->class_id - mt->class_offset + 1 != (int)lrint(ex_get_f(&res[3]->t, i))) e->class_ok = 0; /* TF's ids are 1-based */
    }
    if (rc == ODRT_OK && masks) {
        int64_t per = (int64_t)mt->mask_h * mt->mask_w;
        eng_rcnn_masks(mt, seeds[4]->t.data, 0, &d, mk);
        for (int64_t i = 0; i < d.count * per && i < ex_numel(res[5]); i++) e->mask = fmax(e->mask, fabs(mk[i] - ex_get_f(&res[5]->t, i)));
    }
    odrt_detections_clear(&d);
    eng_post_ws_free(ws);
    free(props), free(dets), free(mk);
    for (int i = 0; i < 5; i++) ex_val_free(seeds[i]);
    for (int i = 0; i < 6; i++) ex_val_free(res[i]);
    return rc;
}

/* the window the preprocessing rewrite froze (the model's own size) */
static void frozen_window(const tfod_found *f, const eng_meta *mt, int64_t *rh, int64_t *rw) {
    *rh = mt->net_h, *rw = mt->net_w;
    if (!f->true_shape_const) return;
    const ir_tensor *ts = f->true_shape_const->init;
    *rh = ts->dtype == ODRT_DT_INT64 ? ((int64_t *)ts->data)[0] : ((int32_t *)ts->data)[0];
    *rw = ts->dtype == ODRT_DT_INT64 ? ((int64_t *)ts->data)[1] : ((int32_t *)ts->data)[1];
}

odrt_status_t eng_rcnn_setup(ir_model *m, tfod_found *f, eng_meta *mt) {
    tfod_rcnn *r = &f->rcnn;
    if (f->model_batch != 1) return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: an R-CNN export of batch %lld", (long long)f->model_batch);
    mt->post_kind = ENG_POST_RCNN;
    mt->n_anchors = r->n_anchors;
    mt->rc_props = (int)r->crop.n_boxes;
    mt->rc_max1 = r->max_proposals > 0 ? (int)r->max_proposals : mt->rc_props;
    mt->rc_iou1 = r->iou, mt->rc_score1 = r->score_threshold;
    memcpy(mt->rc_scales1, r->scales, sizeof mt->rc_scales1);
    mt->rc_box_classes = (int)r->box_classes;
    mt->n_classes = (int)f->n_classes, mt->bg_offset = 1;
    mt->score_act = r->act == ACT_SIGMOID ? 1 : r->act == ACT_SOFTMAX ? 2 : 0;
    memcpy(mt->scales, r->scales2, sizeof mt->scales);
    mt->score_threshold = f->score_threshold, mt->iou_threshold = f->iou_threshold;
    mt->max_total = (int)(f->max_total > 0 ? f->max_total : f->max_per_class);
    mt->max_per_class = f->max_per_class > 0 ? (int)f->max_per_class : mt->max_total;
    if (r->mask_logits) {
        mt->mask_classes = (int)r->mask_classes, mt->mask_h = (int)r->mask_h, mt->mask_w = (int)r->mask_w;
        if (r->mask_crop.n_boxes != mt->max_total)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: the mask stage crops %lld boxes per image, not the %d detections",
                             (long long)r->mask_crop.n_boxes, mt->max_total);
    }
    if (!(mt->rc_iou1 >= 0 && mt->rc_iou1 <= 1) || !(mt->iou_threshold >= 0 && mt->iou_threshold <= 1) || mt->max_total <= 0 ||
        mt->rc_max1 <= 0)
        return odrt_fail(ODRT_ERR_NOT_FOUND, "build: the NMS settings of the two stages were not found in the graph");
    /* probes: the model's window, and frames much wider or taller than the input (keep-aspect) */
    int64_t rh, rw, wins[3][2];
    frozen_window(f, mt, &rh, &rw);
    int n_win = 1;
    wins[0][0] = rh, wins[0][1] = rw;
    if (f->true_shape_const) {
        wins[1][0] = mt->net_h / 3 > 1 ? mt->net_h / 3 : 1, wins[1][1] = mt->net_w;
        wins[2][0] = mt->net_h, wins[2][1] = mt->net_w / 2 > 1 ? mt->net_w / 2 : 1;
        n_win = 3;
    }
    odrt_status_t rc = ODRT_OK;
    for (int w = 0; w < n_win && rc == ODRT_OK; w++) {
        probe_err e = {0, 0, 0, 1, 1, 0};
        rc = probe(m, f, mt, wins[w][0], wins[w][1], 1234u + (uint32_t)w, &e);
        if (rc == ODRT_OK && (!e.count_ok || !e.class_ok || !(e.box <= 1e-4) || !(e.score <= 1e-5) || !(e.mask <= 1e-5)))
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "build: this %s export's post-processing differs from TF's as odrt computes it "
                           "(window %lldx%lld: counts %s, classes %s, box error %.3g, score error %.3g, mask error %.3g): not built",
                           r->mask_logits ? "Mask R-CNN" : "Faster R-CNN", (long long)wins[w][0], (long long)wins[w][1],
                           e.count_ok ? "agree" : "differ", e.class_ok ? "agree" : "differ", e.box, e.score, e.mask);
    }
    if (f->true_shape_const) eng_set_true_shape(f->true_shape_const, rh, rw);
    return rc;
}

static ir_value *add_input(ir_graph *g, const char *name, int64_t d0, int64_t d1) {
    ir_value *v = ir_value_new(g, ir_unique_name(g, name));
    ir_value **in = v ? odrt_arena_alloc(g->model->arena, sizeof(ir_value *) * (size_t)(g->n_inputs + 1)) : NULL;
    ir_dim *dims = in ? odrt_arena_alloc(g->model->arena, sizeof(ir_dim) * 3) : NULL;
    if (!dims) return NULL;
    memcpy(in, g->inputs, sizeof(ir_value *) * (size_t)g->n_inputs);
    in[g->n_inputs++] = v, g->inputs = in;
    memset(dims, 0, sizeof(ir_dim) * 3);
    dims[0].value = d0, dims[1].value = d1, dims[2].value = 4;
    v->type.kind = IR_TYPE_TENSOR, v->type.dtype = ODRT_DT_FLOAT, v->type.rank = 3, v->type.dims = dims;
    v->flags |= IR_VAL_INPUT;
    return v;
}

/* the crop of cr as an odrt.CropAndResize of its feature map by boxes (a new graph input) */
static odrt_status_t replace_crop(ir_graph *g, const tfod_crop *cr, const char *name, ir_value **boxes_in) {
    ir_value *b = add_input(g, name, 1, cr->n_boxes);
    ir_node *n = b ? ir_node_new(g, "CropAndResize", "odrt", ir_unique_name(g, "odrt/crop"), 2, 1) : NULL;
    ir_value *y = n ? ir_value_new(g, ir_unique_name(g, "odrt/crop:0")) : NULL;
    if (!y || !ir_set_attr_int(n, "crop_height", cr->out->type.dims[2].value) ||
        !ir_set_attr_int(n, "crop_width", cr->out->type.dims[3].value) ||
        !ir_set_attr_str(n, "mode", cr->mode == CROP_TF ? "crop_and_resize" : "roi_align") ||
        !ir_set_attr_float(n, "extrapolation_value", cr->extrapolation))
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    ir_node_set_input(n, 0, cr->features);
    ir_node_set_input(n, 1, b);
    ir_node_set_output(n, 0, y);
    *boxes_in = b;
    return ir_value_replace_uses(cr->out, y);
}

odrt_status_t eng_rcnn_cut(ir_model *m, tfod_found *f, ir_value **ins, int *n_in) {
    ir_graph *g = m->graph;
    tfod_rcnn *r = &f->rcnn;
    ins[0] = f->input, *n_in = 1;
    ODRT_TRY(replace_crop(g, &r->crop, "odrt/proposals", &ins[(*n_in)++]));
    if (r->mask_logits) ODRT_TRY(replace_crop(g, &r->mask_crop, "odrt/detection_boxes", &ins[(*n_in)++]));
    ir_value *outs[5] = {r->codes, r->logits, r->rpn_codes, r->rpn_logits, r->mask_logits};
    int n_out = r->mask_logits ? 5 : 4;
    ir_value **no = odrt_arena_alloc(m->arena, sizeof(ir_value *) * 5);
    if (!no) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i]->flags &= ~(unsigned)IR_VAL_OUTPUT;
    for (int i = 0; i < n_out; i++) no[i] = outs[i], outs[i]->flags |= IR_VAL_OUTPUT;
    g->outputs = no, g->n_outputs = n_out;
    return ir_graph_toposort(g);
}

/* batch-1 reshapes of the later stages hard-code the proposals (and detections) of one image */
odrt_status_t eng_rcnn_batch(ir_model *m, tfod_found *f, ir_value *const *ins, int n_in, int batch) {
    ir_graph *g = m->graph;
    tfod_rcnn *r = &f->rcnn;
    for (int i = 1; i < n_in; i++) ins[i]->type.dims[0].value = batch;
    ir_graph_clear_types(g);
    ir_infer_shapes(m);
    ODRT_TRY(tfod_rewrite_batch_reshapes(g, r->crop.n_boxes, batch * r->crop.n_boxes, batch * r->crop.n_boxes));
    if (r->mask_logits)
        ODRT_TRY(tfod_rewrite_batch_reshapes(g, r->mask_crop.n_boxes, batch * r->mask_crop.n_boxes, batch * r->mask_crop.n_boxes));
    return ODRT_OK;
}

/* ops in stage order (a stable sort by the last stage input each depends on), and the boundaries */
odrt_status_t eng_rcnn_order(eng_plan *p) {
    eng_meta *mt = &p->meta;
    int *stage = calloc((size_t)p->n_tensors + 1, sizeof(int)), *ost = malloc(sizeof(int) * (size_t)(p->n_ops + 1));
    eng_op *sorted = malloc(sizeof(eng_op) * (size_t)(p->n_ops + 1));
    if (!stage || !ost || !sorted) {
        free(stage), free(ost), free(sorted);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    stage[eng_root(p, mt->t_props)] = 1;
    if (mt->mask_h > 0) stage[eng_root(p, mt->t_dets)] = 2;
    for (int k = 0; k < p->n_ops; k++) {
        const eng_op *o = &p->ops[k];
        int s = 0;
        for (int i = 0; i < o->n_in; i++) s = stage[eng_root(p, o->in[i])] > s ? stage[eng_root(p, o->in[i])] : s;
        if (o->residual >= 0 && stage[eng_root(p, o->residual)] > s) s = stage[eng_root(p, o->residual)];
        stage[eng_root(p, o->out)] = s, ost[k] = s;
    }
    int at = 0;
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < p->n_ops; k++)
            if (ost[k] == s) sorted[at++] = p->ops[k];
        if (s < 2) mt->rc_stage[s] = at;
    }
    memcpy(p->ops, sorted, sizeof(eng_op) * (size_t)p->n_ops);
    int ok = stage[eng_root(p, mt->t_rpn[0])] == 0 && stage[eng_root(p, mt->t_rpn[1])] == 0 && stage[eng_root(p, mt->t_boxes)] == 1 &&
             stage[eng_root(p, mt->t_scores)] == 1 && (mt->mask_h <= 0 || stage[eng_root(p, mt->t_masks)] == 2);
    free(stage), free(ost), free(sorted);
    return ok ? ODRT_OK : odrt_fail(ODRT_ERR_UNSUPPORTED, "build: the R-CNN heads do not fall into their stages");
}
