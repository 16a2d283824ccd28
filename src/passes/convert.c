/* odrt_convert: TF OD API export -> TensorRT-ready ONNX. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/model.h"
#include "passes/tfod.h"
#include "passes/convert.h"
#include "passes/half.h"
#include "passes/quant.h"
#include "resize_coord.h"
#include "passes/rewrite.h"

extern const char odrt_trt_ops_data[];

/* is op in the list for target? (parses the compiled-in data file) */
static int target_has_op(const char *target, const char *op, int *opset_min, int *opset_max) {
    const char *p = odrt_trt_ops_data;
    int in = 0, found = 0;
    char tok[64];
    while (*p) {
        const char *line = p, *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        p = nl ? nl + 1 : p + len;
        if (!len || line[0] == '#') continue;
        char name[32];
        int mn, mx;
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < 255 ? len : 255), line);
        if (sscanf(buf, "target %31s opset %d %d", name, &mn, &mx) == 3) {
            in = !strcmp(name, target);
            if (in && opset_min) *opset_min = mn, *opset_max = mx;
            continue;
        }
        if (!in) continue;
        for (const char *q = line; q < line + len;) {
            while (q < line + len && (*q == ' ' || *q == '\t')) q++;
            size_t k = 0;
            while (q < line + len && *q != ' ' && *q != '\t' && k < sizeof tok - 1) tok[k++] = *q++;
            tok[k] = 0;
            if (k && op && !strcmp(tok, op)) found = 1;
        }
    }
    return found;
}

/* opset 11 forms for TensorRT 7: axes/split inputs become attributes */
static odrt_status_t downgrade_to_11(ir_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead) continue;
        int sq = ir_op_is(n, "Squeeze") || ir_op_is(n, "Unsqueeze") || ir_op_is(n, "ReduceSum");
        int sp = ir_op_is(n, "Split");
        if (!(sq || sp) || n->n_in < 2 || !n->in[1]) continue;
        const ir_value *c = n->in[1];
        if (!c->init || c->init->dtype != ODRT_DT_INT64)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: %s '%s' has non-constant %s; opset 11 (trt7) needs constants",
                             n->op, n->name, sp ? "split" : "axes");
        if (!ir_set_attr_ints(n, sp ? "split" : "axes", c->init->data, (int)c->init->numel))
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        ir_node_set_input(n, 1, NULL);
        n->n_in = 1;
    }
    return ODRT_OK;
}

static odrt_status_t batch_reshapes_once(ir_graph *g, int64_t old_b, int64_t probe_b, int64_t new_first, int *n_done) {
    *n_done = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || !ir_op_is(n, "Reshape") || n->n_in < 2 || !n->in[1] || !n->in[1]->init) continue;
        const ir_tensor *t = n->in[1]->init;
        const ir_type *xt = &n->in[0]->type;
        if (t->dtype != ODRT_DT_INT64 || t->numel < 1 || ((int64_t *)t->data)[0] != old_b) continue;
        if (xt->rank < 1 || xt->dims[0].value != probe_b) continue;
        ir_tensor *nt = ir_tensor_new(g->model, ODRT_DT_INT64, t->rank, t->dims);
        if (!nt) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        memcpy(nt->data, t->data, t->nbytes);
        ((int64_t *)nt->data)[0] = new_first;
        ir_value *c = ir_graph_add_const(g, ir_unique_name(g, "odrt/batch_shape"), nt);
        if (!c) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        ir_node_set_input(n, 1, c);
        (*n_done)++;
    }
    return ODRT_OK;
}

odrt_status_t tfod_rewrite_batch_reshapes(ir_graph *g, int64_t old_b, int64_t probe_b, int64_t new_first) {
    /* a rewritten Reshape gives the batch to the values after it, which may reveal more: repeat */
    for (int round = 0; round < 64; round++) {
        int n;
        ODRT_TRY(batch_reshapes_once(g, old_b, probe_b, new_first, &n));
        if (!n) return ODRT_OK;
        ir_graph_clear_types(g);
        ir_infer_shapes(g->model);
    }
    return ODRT_OK;
}

/* the converted model's batch: Reshapes that hard-code the export's batch follow the new one (0 =
 * copy, for dynamic), found by shape inference at a probe batch */
static odrt_status_t set_batch(ir_model *m, tfod_found *f, const conv_plan *p) {
    ir_graph *g = m->graph;
    if (p->batch != f->model_batch) {
        int64_t probe = p->batch > 0 ? p->batch : f->model_batch + 1;
        f->input->type.dims[0].value = probe;
        ir_graph_clear_types(g);
        ir_infer_shapes(m);
        ODRT_TRY(tfod_rewrite_batch_reshapes(g, f->model_batch, probe, p->batch > 0 ? p->batch : 0));
        /* an R-CNN's later stages run on the proposals (and detections) of all images, batch-first */
        int64_t per[2] = {f->rcnn.crop.n_boxes, f->rcnn.mask_logits ? f->rcnn.mask_crop.n_boxes : 0};
        for (int i = 0; i < 2; i++)
            if (f->rcnn.rpn_codes && per[i] > 0)
                ODRT_TRY(tfod_rewrite_batch_reshapes(g, f->model_batch * per[i], probe * per[i], p->batch > 0 ? p->batch * per[i] : 0));
    }
    f->input->type.dims[0].value = p->batch > 0 ? p->batch : -1;
    if (p->batch < 0) f->input->type.dims[0].param = "batch";
    ir_graph_clear_types(g); /* types inferred at a probe batch must not be folded into constants */
    ir_infer_shapes(m);
    return ODRT_OK;
}

void tfod_tidy(ir_model *m) {
    ir_graph *g = m->graph;
    for (int pass = 0; pass < 4; pass++) {
        ir_graph_cleanup(g);
        int changed = ir_fold_constants(m, g) + ir_fold_transposes(g);
        if (!changed) break;
    }
    ir_graph_cleanup(g);
}

static const char *norm_name(norm_kind k) {
    static const char *n[] = {"mul", "div", "add", "sub", "rsub"};
    return n[k];
}

static cJSON *crop_json(const tfod_crop *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", c->mode == CROP_TF ? "crop_and_resize" : "roi_align");
    cJSON_AddItemToObject(o, "size", cJSON_CreateIntArray((int[]){(int)c->ch, (int)c->cw}, 2));
    cJSON_AddNumberToObject(o, "boxes_per_image", (double)c->n_boxes);
    cJSON_AddStringToObject(o, "feature_map", c->features->name);
    cJSON_AddStringToObject(o, "boxes", c->boxes->name);
    cJSON_AddItemToObject(o, "feature_map_shape", cJSON_CreateIntArray((int[]){(int)c->C, (int)c->H, (int)c->W}, 3));
    cJSON_AddNumberToObject(o, "extrapolation_value", c->extrapolation);
    return o;
}

static void nms_json(cJSON *o, float score, float iou, int64_t per_class, int64_t total) {
    cJSON_AddNumberToObject(o, "score_threshold", score);
    cJSON_AddNumberToObject(o, "iou_threshold", iou);
    cJSON_AddNumberToObject(o, "max_per_class", (double)per_class);
    cJSON_AddNumberToObject(o, "max_detections", (double)total);
}

static void rcnn_report(cJSON *r, const tfod_found *f, const conv_plan *p) {
    const tfod_rcnn *rc = &f->rcnn;
    cJSON_AddNumberToObject(r, "classes", (double)f->n_classes);
    cJSON_AddNumberToObject(r, "background_columns", 1);
    cJSON_AddStringToObject(r, "score_activation", rc->act == ACT_SIGMOID ? "sigmoid" : rc->act == ACT_SOFTMAX ? "softmax" : "none");
    cJSON *s1 = cJSON_AddObjectToObject(r, "first_stage");
    cJSON_AddNumberToObject(s1, "anchors", (double)rc->n_anchors);
    cJSON_AddStringToObject(s1, "objectness", "softmax over (background, object)");
    cJSON_AddItemToObject(s1, "box_coder_scales", cJSON_CreateFloatArray(rc->scales, 4));
    cJSON_AddStringToObject(s1, "encodings_tensor", rc->rpn_codes->name);
    cJSON_AddStringToObject(s1, "objectness_tensor", rc->rpn_logits->name);
    nms_json(cJSON_AddObjectToObject(s1, "nms_params"), rc->score_threshold, rc->iou, rc->max_proposals, rc->crop.n_boxes);
    cJSON_AddItemToObject(r, "crop", crop_json(&rc->crop));
    cJSON *s2 = cJSON_AddObjectToObject(r, "second_stage");
    cJSON_AddNumberToObject(s2, "box_classes", (double)rc->box_classes);
    cJSON_AddItemToObject(s2, "box_coder_scales", cJSON_CreateFloatArray(rc->scales2, 4));
    cJSON_AddStringToObject(s2, "encodings_tensor", rc->codes->name);
    cJSON_AddStringToObject(s2, "scores_tensor", rc->logits->name);
    nms_json(cJSON_AddObjectToObject(s2, "nms_params"), p->score_threshold, p->iou_threshold, p->max_per_class, p->max_detections);
    cJSON *nms = cJSON_AddObjectToObject(r, "nms_params"); /* the detections' (second stage), as other families report them */
    nms_json(nms, p->score_threshold, p->iou_threshold, p->max_per_class, p->max_detections);
    cJSON_AddNumberToObject(nms, "original_nms_nodes", f->n_nms_nodes);
    if (rc->mask_logits) {
        cJSON *mk = cJSON_AddObjectToObject(r, "mask_head");
        cJSON_AddItemToObject(mk, "crop", crop_json(&rc->mask_crop));
        cJSON_AddItemToObject(mk, "mask_size", cJSON_CreateIntArray((int[]){(int)rc->mask_h, (int)rc->mask_w}, 2));
        cJSON_AddNumberToObject(mk, "mask_classes", (double)rc->mask_classes);
        cJSON_AddStringToObject(mk, "logits_tensor", rc->mask_logits->name);
    }
    cJSON_AddNumberToObject(r, "class_offset", (double)p->class_offset);
}

static cJSON *report(const tfod_found *f, const conv_plan *p, size_t before, size_t after) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "family", f->family);
    cJSON_AddStringToObject(r, "backbone_hint", f->backbone);
    cJSON_AddStringToObject(r, "target", p->target);
    cJSON_AddStringToObject(r, "nms", p->nms);
    cJSON_AddStringToObject(r, "precision", p->half ? "fp16" : "fp32");
    if (p->half) cJSON_AddNumberToObject(r, "fp16_nodes", p->n_half);
    cJSON_AddNumberToObject(r, "opset", p->opset);
    cJSON *in = cJSON_AddObjectToObject(r, "input");
    cJSON_AddStringToObject(in, "name", f->input->name);
    cJSON_AddStringToObject(in, "dtype", odrt_dtype_name((odrt_dtype_t)p->in_dtype));
    cJSON_AddStringToObject(in, "layout", p->nchw ? "nchw" : "nhwc");
    cJSON *sh = cJSON_AddArrayToObject(in, "shape");
    int64_t dims[4] = {p->batch, p->nchw ? 3 : p->in_h, p->nchw ? p->in_h : p->in_w, p->nchw ? p->in_w : 3};
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToArray(sh, i == 0 && p->batch < 0 ? cJSON_CreateString("batch") : cJSON_CreateNumber((double)dims[i]));
    cJSON *pre = cJSON_AddObjectToObject(r, "preprocessing");
    cJSON_AddBoolToObject(pre, "loop_replaced", f->loop != NULL);
    if (f->loop) {
        cJSON_AddBoolToObject(pre, "cast_to_float", f->cast_float);
        cJSON *nm = cJSON_AddArrayToObject(pre, "normalization");
        for (int i = 0; i < f->n_norm; i++) {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "op", norm_name(f->norm[i].kind));
            cJSON_AddItemToObject(s, "value", cJSON_CreateFloatArray(f->norm[i].v, f->norm[i].n));
            cJSON_AddItemToArray(nm, s);
        }
        if (f->has_resize) {
            cJSON *rs = cJSON_AddObjectToObject(pre, "resize");
            cJSON_AddStringToObject(rs, "mode", f->resize_mode);
            cJSON_AddStringToObject(rs, "coordinate_transformation_mode", f->resize_ctm);
            cJSON *ts = cJSON_AddArrayToObject(rs, "size");
            cJSON_AddItemToArray(ts, cJSON_CreateNumber((double)f->target_h));
            cJSON_AddItemToArray(ts, cJSON_CreateNumber((double)f->target_w));
            cJSON_AddBoolToObject(rs, "kept", p->in_h != f->target_h || p->in_w != f->target_w);
            cJSON_AddStringToObject(rs, "rule", f->keep_aspect ? "keep_aspect_ratio_then_pad" : "fixed_size");
            cJSON_AddNumberToObject(rs, "normalization_steps_before", f->n_norm_pre);
            int64_t rh, rw;
            tfod_window_size(f, p->in_h, p->in_w, &rh, &rw);
            cJSON *win = cJSON_AddArrayToObject(rs, "window_for_input");
            cJSON_AddItemToArray(win, cJSON_CreateNumber((double)rh));
            cJSON_AddItemToArray(win, cJSON_CreateNumber((double)rw));
            if (f->keep_aspect) {
                cJSON *fit = cJSON_AddArrayToObject(rs, "fit");
                cJSON_AddItemToArray(fit, cJSON_CreateNumber((double)f->fit_h));
                cJSON_AddItemToArray(fit, cJSON_CreateNumber((double)f->fit_w));
                cJSON_AddNumberToObject(rs, "pad_value", f->pad_value);
            }
        }
        cJSON_AddBoolToObject(pre, "true_image_shape_output", f->true_shape_out != NULL);
    }
    cJSON_AddNumberToObject(r, "anchors", (double)(f->rcnn.rpn_codes ? f->rcnn.n_anchors : f->n_anchors));
    if (f->rcnn.rpn_codes) { /* Faster / Mask R-CNN: the stages found */
        rcnn_report(r, f, p);
        cJSON *nc = cJSON_AddObjectToObject(r, "nodes");
        cJSON_AddNumberToObject(nc, "before", (double)before);
        cJSON_AddNumberToObject(nc, "after", (double)after);
        return r;
    }
    cJSON_AddNumberToObject(r, "classes", (double)f->n_classes);
    cJSON_AddNumberToObject(r, "background_columns", (double)f->bg_offset);
    cJSON_AddStringToObject(r, "score_activation", f->act == ACT_SIGMOID ? "sigmoid" : f->act == ACT_SOFTMAX ? "softmax" : "none");
    if (f->cn_heatmap) { /* CenterNet: the peaks and top-k found, no box coder or NMS */
        cJSON *cn = cJSON_AddObjectToObject(r, "centernet");
        cJSON_AddStringToObject(cn, "heatmap_tensor", f->cn_heatmap->name);
        cJSON_AddStringToObject(cn, "offset_tensor", f->cn_offset->name);
        cJSON_AddStringToObject(cn, "size_tensor", f->cn_size->name);
        cJSON_AddNumberToObject(cn, "top_k", (double)f->cn_k);
        cJSON_AddNumberToObject(cn, "peak_window", f->cn_pool);
        cJSON_AddNumberToObject(cn, "peak_eps", f->cn_eps);
        cJSON_AddNumberToObject(r, "class_offset", (double)p->class_offset);
        cJSON *nc = cJSON_AddObjectToObject(r, "nodes");
        cJSON_AddNumberToObject(nc, "before", (double)before);
        cJSON_AddNumberToObject(nc, "after", (double)after);
        return r;
    }
    cJSON *bc = cJSON_AddObjectToObject(r, "box_coder");
    cJSON_AddStringToObject(bc, "type", "center_size");
    cJSON_AddItemToObject(bc, "scales", cJSON_CreateFloatArray(f->scales, 4));
    cJSON_AddStringToObject(bc, "encodings_tensor", f->encodings->name);
    cJSON_AddStringToObject(bc, "scores_tensor", f->logits->name);
    cJSON *nms = cJSON_AddObjectToObject(r, "nms_params");
    cJSON_AddNumberToObject(nms, "score_threshold", p->score_threshold);
    cJSON_AddNumberToObject(nms, "iou_threshold", p->iou_threshold);
    cJSON_AddNumberToObject(nms, "max_per_class", (double)p->max_per_class);
    cJSON_AddNumberToObject(nms, "max_detections", (double)p->max_detections);
    cJSON_AddNumberToObject(nms, "original_nms_nodes", f->n_nms_nodes);
    cJSON *cw = cJSON_AddArrayToObject(nms, "clip_window");
    float wv[4] = {0, 0, p->win_h, p->win_w};
    for (int i = 0; i < 4; i++) cJSON_AddItemToArray(cw, cJSON_CreateNumber(wv[i]));
    cJSON_AddBoolToObject(nms, "boxes_renormalised_to_window", p->win_h != 1.0f || p->win_w != 1.0f);
    cJSON_AddNumberToObject(r, "class_offset", (double)p->class_offset);
    cJSON *nc = cJSON_AddObjectToObject(r, "nodes");
    cJSON_AddNumberToObject(nc, "before", (double)before);
    cJSON_AddNumberToObject(nc, "after", (double)after);
    return r;
}

static odrt_status_t verify_run(odrt_model_t *om, const conv_plan *p, int64_t batch) {
    odrt_session_t *s;
    ODRT_TRY(odrt_session_create(om, &s));
    int64_t d[4] = {batch, p->nchw ? 3 : p->in_h, p->nchw ? p->in_h : p->in_w, p->nchw ? p->in_w : 3};
    odrt_tensor_t *x, *out[4 + 64] = {0};
    if (om->ir->graph->n_outputs > 4 + 64) return odrt_fail(ODRT_ERR_ARG, "convert: too many debug outputs");
    odrt_status_t rc = odrt_tensor_create((odrt_dtype_t)p->in_dtype, 4, d, &x);
    if (rc == ODRT_OK) {
        for (size_t i = 0; i < x->nbytes / odrt_dtype_size(x->dtype); i++) {
            if (x->dtype == ODRT_DT_UINT8) ((uint8_t *)x->data)[i] = (uint8_t)(i * 37 % 251);
            else ((float *)x->data)[i] = (float)(i * 37 % 251);
        }
        const char *name = odrt_model_input_name(om, 0);
        rc = odrt_session_run(s, 1, &name, (const odrt_tensor_t *const *)&x, out);
    }
    if (rc == ODRT_OK && (out[0]->rank != 2 || out[0]->dims[0] != batch || out[1]->rank != 3 || out[1]->dims[1] != p->max_detections))
        rc = odrt_fail(ODRT_ERR_SHAPE, "convert: converted model produced unexpected output shapes");
    /* outputs whose dtype inference could not tell take the dtype they have when run */
    for (int i = 0; rc == ODRT_OK && i < 4; i++) {
        ir_value *v = om->ir->graph->outputs[i];
        if (v->type.kind == IR_TYPE_NONE) v->type.kind = IR_TYPE_TENSOR, v->type.rank = -1;
        if (!v->type.dtype) v->type.dtype = out[i]->dtype;
        if (v->type.rank < 0) { /* shape from the run; the batch stays symbolic for dynamic models */
            v->type.dims = odrt_arena_alloc(om->ir->arena, sizeof(ir_dim) * (size_t)(out[i]->rank + 1));
            if (!v->type.dims) continue;
            v->type.rank = out[i]->rank;
            for (int k = 0; k < out[i]->rank; k++) v->type.dims[k].value = k == 0 && p->batch < 0 ? -1 : out[i]->dims[k];
            if (p->batch < 0 && out[i]->rank) v->type.dims[0].param = "batch";
        }
    }
    for (int i = 0; i < om->ir->graph->n_outputs; i++) odrt_tensor_free(out[i]);
    odrt_tensor_free(x);
    odrt_session_free(s);
    return rc == ODRT_OK ? ODRT_OK : odrt_fail_ctx(rc, "convert: the converted model does not run with batch %lld", (long long)batch);
}

/* the values the precision passes keep the network up to: box codes and class logits, or CenterNet's maps */
static int precision_heads(const tfod_found *f, int centernet, ir_value *heads[3]) {
    heads[0] = centernet ? f->cn_heatmap : f->encodings, heads[1] = centernet ? f->cn_offset : f->logits;
    heads[2] = centernet ? f->cn_size : NULL;
    return centernet ? 3 : 2;
}

/* types inferred again after a precision pass; the outputs (float32 and int32, unchanged) keep the
 * types the verification runs gave them */
static odrt_status_t retype(ir_model *m, tfod_found *f, const conv_plan *p) {
    ir_graph *g = m->graph;
    ir_type out_types[16];
    int n_keep = g->n_outputs < 16 ? g->n_outputs : 16;
    for (int i = 0; i < n_keep; i++) out_types[i] = g->outputs[i]->type;
    ir_graph_clear_types(g);
    if (p->batch < 0) f->input->type.dims[0].value = -1;
    ir_infer_shapes(m);
    for (int i = 0; i < n_keep; i++) g->outputs[i]->type = out_types[i];
    return ir_graph_validate(g);
}

void tfod_guess_family(const ir_graph *g, tfod_found *f) {
    f->family = tfod_family(g);
    f->backbone = tfod_backbone(g);
}

void odrt_convert_options_init(odrt_convert_options_t *o) { odrt_options_clear(o, sizeof *o); }

static void convert_options_init_v(void *o) { odrt_convert_options_init(o); }

/* a model read from TensorFlow resizes with TensorFlow's coordinates (odrt_tf_*, resize_coord.h):
 * the ONNX written for TensorRT and other runtimes gets ONNX's nearest modes */
static int standard_mode(const ir_node *n, void *ctx) {
    (void)ctx;
    const ir_attr *a = ir_op_is(n, "Resize") ? ir_node_attr(n, "coordinate_transformation_mode") : NULL;
    if (a && a->type == IR_ATTR_STRING && a->s && strcmp(rz_onnx_ctm(a->s), a->s)) {
        ((ir_attr *)a)->s = rz_onnx_ctm(a->s);
        ((ir_attr *)a)->s_len = strlen(a->s);
    }
    return 0;
}

static void standard_resize_modes(ir_model *m) { ir_graph_visit(m->graph, standard_mode, NULL); }

odrt_status_t odrt_convert(odrt_model_t *om, const odrt_convert_options_t *opts, char **report_json) {
    if (!om) return odrt_fail(ODRT_ERR_ARG, "odrt_convert: NULL model");
    odrt_convert_options_t oo;
    ODRT_TRY(odrt_read_options(opts, sizeof oo, &oo, convert_options_init_v, "odrt_convert_options_t"));
    const odrt_convert_options_t *o = &oo;
    ir_model *m = om->ir;
    ir_graph *g = m->graph;
    tfod_found f;
    memset(&f, 0, sizeof f);
    conv_plan p;
    memset(&p, 0, sizeof p);
    odrt_status_t rc = ODRT_OK;
    if (report_json) *report_json = NULL;
    p.target = o && o->target ? o->target : "trt8";
    if (strcmp(p.target, "trt7") && strcmp(p.target, "trt8") && strcmp(p.target, "trt10") && strcmp(p.target, "trt11") &&
        strcmp(p.target, "onnx"))
        return odrt_fail(ODRT_ERR_ARG, "convert: unknown --target '%s' (trt7, trt8, trt10, trt11, onnx)", p.target);
    /* TensorRT 11: ONNX NonMaxSuppression (INMSLayer) by default; the NMS plugins are deprecated
     * IPluginV2s (EfficientNMS_TRT since 10.12), still there on request */
    p.nms = o && o->nms ? o->nms : !strcmp(p.target, "trt7") ? "batched" : !strcmp(p.target, "onnx") || !strcmp(p.target, "trt11") ? "onnx" : "efficient";
    if (strcmp(p.nms, "efficient") && strcmp(p.nms, "batched") && strcmp(p.nms, "onnx"))
        return odrt_fail(ODRT_ERR_ARG, "convert: unknown --nms '%s' (efficient, batched, onnx)", p.nms);
    if (!strcmp(p.target, "trt7") && !strcmp(p.nms, "efficient"))
        return odrt_fail(ODRT_ERR_ARG, "convert: EfficientNMS_TRT needs TensorRT >= 8; use --nms batched for trt7");
    const char *prec = o && o->precision ? o->precision : "fp32";
    if (strcmp(prec, "fp32") && strcmp(prec, "fp16") && strcmp(prec, "int8"))
        return odrt_fail(ODRT_ERR_ARG, "convert: unknown --precision '%s' (fp32, fp16, int8)", prec);
    p.half = !strcmp(prec, "fp16");
    int int8 = !strcmp(prec, "int8");
    if (int8 && !(o && o->calibration))
        return odrt_fail(ODRT_ERR_ARG, "convert: --precision int8 needs --calibration DIR (photos) or a calibration .json");
    const char *cm = int8 && o->calibration_method ? o->calibration_method : "percentile";
    if (strcmp(cm, "minmax") && strcmp(cm, "percentile") && strcmp(cm, "entropy"))
        return odrt_fail(ODRT_ERR_ARG, "convert: unknown --calibration-method '%s' (minmax, percentile, entropy)", cm);
    size_t before = ir_model_count_nodes(m);
    ir_infer_shapes(m);
    /* families not converted yet are refused before anything else is looked at */
    const char *family = tfod_family(g);
    int centernet = !strcmp(family, "centernet"), rcnn = !strcmp(family, "faster_rcnn") || !strcmp(family, "mask_rcnn");
    if (rcnn && (p.half || int8))
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: --precision %s is not available for Faster / Mask R-CNN yet (fp32 only)", prec);
    ODRT_TRY(tfod_analyze_preproc(m, &f));
    tfod_guess_family(g, &f);
    /* input settings */
    const int64_t *is = o ? o->input_shape : NULL;
    int has_shape = is && (is[0] || is[1] || is[2] || is[3]);
    if (has_shape && (is[1] <= 0 || is[2] <= 0 || is[3] != 3)) {
        tfod_found_free(&f);
        return odrt_fail(ODRT_ERR_ARG, "convert: --input-shape must be BxHxWx3 with positive sizes");
    }
    p.in_h = has_shape ? is[1] : f.in_dims[1] > 0 ? f.in_dims[1] : f.target_h;
    p.in_w = has_shape ? is[2] : f.in_dims[2] > 0 ? f.in_dims[2] : f.target_w;
    if (p.in_h <= 0 || p.in_w <= 0) {
        tfod_found_free(&f);
        return odrt_fail(ODRT_ERR_NOT_FOUND, "convert: input size not found (dynamic input and no fixed-size resize); pass --input-shape BxHxWx3");
    }
    p.batch = o && o->batch ? o->batch : has_shape && is[0] > 0 ? is[0] : 1;
    p.in_dtype = o && o->input_dtype ? o->input_dtype : !strcmp(p.target, "trt7") ? ODRT_DT_FLOAT : ODRT_DT_UINT8;
    if (p.in_dtype != ODRT_DT_UINT8 && p.in_dtype != ODRT_DT_FLOAT) {
        tfod_found_free(&f);
        return odrt_fail(ODRT_ERR_ARG, "convert: --input-dtype must be uint8 or float32");
    }
    if (!strcmp(p.target, "trt7") && p.in_dtype == ODRT_DT_UINT8) {
        tfod_found_free(&f);
        return odrt_fail(ODRT_ERR_ARG, "convert: TensorRT 7 has no uint8 inputs; use --input-dtype float32 (0-255 values)");
    }
    p.nchw = o ? o->nchw : 0;
    /* rewrite the preprocessing at the export's own batch, find the heads, then change the batch */
    int64_t want_batch = p.batch;
    p.final_batch = want_batch;
    p.batch = f.model_batch;
    rc = tfod_rewrite_preproc(m, &f, &p);
    p.batch = want_batch;
    if (rc != ODRT_OK || (rc = ir_graph_toposort(g)) != ODRT_OK) goto fail;
    ir_graph_clear_types(g);
    ir_infer_shapes(m);
    ir_value *outs[5] = {0};
    int n_main = 4;
    if (rcnn) { /* two NMS stages and the crops rebuilt batch-agnostic; the networks kept */
        if ((rc = tfod_analyze_rcnn(m, &f)) != ODRT_OK) goto fail;
        p.score_threshold = o && o->has_score_threshold ? o->score_threshold : f.score_threshold;
        p.iou_threshold = o && o->has_iou_threshold ? o->iou_threshold : f.iou_threshold;
        p.max_detections = o && o->max_detections > 0 ? o->max_detections : f.max_total > 0 ? f.max_total : f.max_per_class;
        p.max_per_class = f.max_per_class > 0 ? f.max_per_class : p.max_detections;
        p.class_offset = o ? o->class_offset : 0;
        if (!(p.iou_threshold >= 0 && p.iou_threshold <= 1) || !(f.rcnn.iou >= 0 && f.rcnn.iou <= 1) || p.max_detections <= 0) {
            rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the NMS settings of the two stages were not found in the graph");
            goto fail;
        }
        if (f.rcnn.mask_logits && p.max_detections != f.rcnn.mask_crop.n_boxes) {
            rc = odrt_fail(ODRT_ERR_ARG, "convert: this Mask R-CNN's mask head takes %lld detections per image (--max-detections %lld)",
                           (long long)f.rcnn.mask_crop.n_boxes, (long long)p.max_detections);
            goto fail;
        }
        if (!strcmp(p.nms, "onnx") && p.batch != 1) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: --nms onnx on a Faster / Mask R-CNN supports batch 1 only; use --nms batched");
            goto fail;
        }
        int64_t rh, rw;
        tfod_window_size(&f, p.in_h, p.in_w, &rh, &rw);
        p.win_h = (float)rh / (float)f.target_h, p.win_w = (float)rw / (float)f.target_w;
        if ((rc = tfod_rcnn_rewrite(m, &f, &p, outs)) != ODRT_OK) goto fail;
        n_main = f.rcnn.mask_logits ? 5 : 4;
        goto outputs;
    }
    if (centernet) { /* no NMS: the peaks and top-k rebuilt batch-agnostic, checked against TF's own */
        if ((rc = tfod_analyze_centernet(m, &f)) != ODRT_OK) goto fail;
        p.max_detections = f.cn_k, p.class_offset = o ? o->class_offset : 0;
        p.score_threshold = o && o->has_score_threshold ? o->score_threshold : 0.0f; /* TF counts scores > 0 */
        if ((rc = tfod_centernet_outputs(m, &f, &p, outs)) != ODRT_OK) goto fail;
        goto outputs;
    }
    if ((rc = tfod_analyze_postproc(m, &f)) != ODRT_OK || (rc = set_batch(m, &f, &p)) != ODRT_OK) goto fail;
    p.score_threshold = o && o->has_score_threshold ? o->score_threshold : f.score_threshold;
    p.iou_threshold = o && o->has_iou_threshold ? o->iou_threshold : f.iou_threshold;
    p.max_detections = o && o->max_detections > 0 ? o->max_detections : f.max_total;
    p.max_per_class = f.max_per_class > 0 ? f.max_per_class : p.max_detections;
    p.class_offset = o ? o->class_offset : 0;
    if (isnan(p.score_threshold) || isnan(p.iou_threshold) || p.max_detections <= 0) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: NMS settings not found in the graph (%d NonMaxSuppression nodes); pass "
                       "--score-threshold, --iou-threshold and --max-detections", f.n_nms_nodes);
        goto fail;
    }
    /* the clip window: where the frame lands in the network input (TF's true_image_shape / input size) */
    p.win_h = p.win_w = 1.0f;
    if (f.has_resize && f.true_shape_out && f.keep_aspect) {
        int64_t rh, rw;
        tfod_window_size(&f, p.in_h, p.in_w, &rh, &rw);
        p.win_h = (float)rh / (float)f.target_h, p.win_w = (float)rw / (float)f.target_w;
    }
    if (!strcmp(p.target, "trt7") && (p.win_h != 1.0f || p.win_w != 1.0f)) {
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: this frame shape pads the image (keep-aspect resize), whose TF "
                       "clip window needs GatherElements: not in TensorRT 7; use --target trt8 or a square --input-shape");
        goto fail;
    }
    if ((rc = tfod_rewrite_postproc(m, &f, &p, outs)) != ODRT_OK) goto fail;
outputs: /* graph outputs: the four detections, then --debug-output tensors */
    {
        int n_dbg = o ? o->n_debug_outputs : 0;
        ir_value **no = odrt_arena_alloc(m->arena, sizeof(ir_value *) * (size_t)(n_main + n_dbg + 1));
        if (!no) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < g->n_outputs; i++) g->outputs[i]->flags &= ~(unsigned)IR_VAL_OUTPUT;
        for (int i = 0; i < n_main; i++) no[i] = outs[i], outs[i]->flags |= IR_VAL_OUTPUT;
        for (int i = 0; i < n_dbg; i++) {
            ir_value *v = odrt_smap_get(&g->names, o->debug_outputs[i]);
            if (!v || (!v->producer && !v->init && !(v->flags & IR_VAL_INPUT))) {
                rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: --debug-output '%s': no such tensor in the main graph",
                               o->debug_outputs[i]);
                goto fail;
            }
            v->flags |= IR_VAL_OUTPUT;
            no[n_main + i] = v;
        }
        g->outputs = no;
        g->n_outputs = n_main + n_dbg;
    }
    if (centernet || rcnn) { /* TF's post-processing (batch-1 gathers) is gone: the batch can change now */
        ir_graph_cleanup(g);
        if ((rc = set_batch(m, &f, &p)) != ODRT_OK) goto fail;
    }
    if ((rc = ir_graph_toposort(g)) != ODRT_OK) goto fail;
    tfod_tidy(m);
    if ((rc = ir_graph_toposort(g)) != ODRT_OK) goto fail;
    standard_resize_modes(m);
    /* opsets: trt7 parses opset <= 11 */
    p.opset = !strcmp(p.target, "trt7") ? 11 : (int)ir_model_opset(m, "");
    if (p.opset < 11) p.opset = 11;
    /* new nodes are built in opset-13 form; older graphs (and trt7) get the attribute forms */
    if (p.opset < 13 && (rc = downgrade_to_11(g)) != ODRT_OK) goto fail;
    {
        ir_opset *ops = odrt_arena_alloc(m->arena, sizeof(ir_opset) * 3);
        if (!ops) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            goto fail;
        }
        ops[0] = (ir_opset){"", p.opset};
        int n_ops = 1;
        if (strcmp(p.nms, "onnx") && !centernet) ops[n_ops++] = (ir_opset){"trt.plugins", 1};
        m->opsets = ops;
        m->n_opsets = n_ops;
    }
    /* every op must be one the target's ONNX parser knows (plugins aside) */
    if (strcmp(p.target, "onnx")) {
        char bad[512] = "";
        for (size_t i = 0; i < g->n_nodes; i++) {
            const ir_node *n = g->nodes[i];
            if (n->dead || !strcmp(n->domain, "trt.plugins") || target_has_op(p.target, n->op, NULL, NULL)) continue;
            if (!strstr(bad, n->op) && strlen(bad) + strlen(n->op) + 2 < sizeof bad) strcat(strcat(bad, " "), n->op);
        }
        if (*bad) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "convert: ops not supported by the %s ONNX parser remain:%s", p.target, bad);
            goto fail;
        }
    }
    /* final types: infer from scratch, then run the result once per batch size as a check */
    ir_graph_clear_types(g);
    if (p.batch < 0) f.input->type.dims[0].value = -1;
    ir_infer_shapes(m);
    if ((rc = ir_graph_validate(g)) != ODRT_OK) goto fail;
    if (!(o && o->analyze_only)) {
        if ((rc = verify_run(om, &p, p.batch > 0 ? p.batch : 1)) != ODRT_OK) goto fail;
        if (p.batch < 0 && (rc = verify_run(om, &p, 2)) != ODRT_OK) goto fail;
    }
    cJSON *int8_rep = NULL;
    if (int8) { /* checked in float32 above; calibrated on it, then int8 convolutions, run once more */
        ir_value *heads[3];
        int n_heads = precision_heads(&f, centernet, heads);
        if (!(int8_rep = cJSON_CreateObject())) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        if (rc == ODRT_OK) rc = tfod_to_int8(om, &p, heads, n_heads, o->calibration, cm, int8_rep);
        if (rc == ODRT_OK) rc = retype(m, &f, &p);
        if (rc == ODRT_OK && !(o && o->analyze_only)) rc = verify_run(om, &p, p.batch > 0 ? p.batch : 1);
        if (rc != ODRT_OK) {
            cJSON_Delete(int8_rep);
            goto fail;
        }
    }
    if (p.half) { /* checked in float32 above; now the network in float16 (the reference executor runs float32 convs) */
        ir_value *heads[3];
        int n_heads = precision_heads(&f, centernet, heads);
        if ((rc = tfod_to_half(m, heads, n_heads, &p.n_half)) != ODRT_OK) goto fail;
        ir_graph_cleanup(g);
        if ((rc = retype(m, &f, &p)) != ODRT_OK) goto fail;
    }
    if (report_json) {
        cJSON *r = report(&f, &p, before, ir_model_count_nodes(m));
        if (r && int8_rep) {
            cJSON_ReplaceItemInObjectCaseSensitive(r, "precision", cJSON_CreateString("int8"));
            cJSON_AddItemToObject(r, "int8", cJSON_DetachItemFromObjectCaseSensitive(int8_rep, "int8"));
        }
        *report_json = r ? cJSON_Print(r) : NULL;
        cJSON_Delete(r);
    }
    cJSON_Delete(int8_rep);
    tfod_found_free(&f);
    return ODRT_OK;
fail:
    tfod_found_free(&f);
    return rc;
}
