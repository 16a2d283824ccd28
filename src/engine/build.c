/* Engine build: a TF OD API export -> plan. The convert passes find the structure (preprocessing
 * map_fn, heads, box decoder, NMS settings); the engine keeps the network between the
 * preprocessed image and the heads, and does preprocessing and post-processing itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/convert.h"
#include "passes/rewrite.h"
#include "ir/model.h"
#include "passes/tfod.h"
#include "passes/netopt.h"
#include "engine/engine.h"
#include "resize_coord.h"
#include "engine/plan_util.h"
#include "engine/build_internal.h"
#include "passes/quant.h"

/* the engine's codes are src/resize_coord.h's first four of each */
static int ctm_code(const char *s) {
    int c = rz_ctm_code(s);
    return rz_ctm_engine(c) ? c : -1;
}

static odrt_status_t fill_preproc(const tfod_found *f, eng_meta *mt) {
    mt->n_norm = f->n_norm;
    for (int i = 0; i < f->n_norm; i++) {
        mt->norm[i].kind = (int)f->norm[i].kind;
        for (int c = 0; c < 3; c++) mt->norm[i].v[c] = f->norm[i].v[f->norm[i].n == 1 ? 0 : c];
    }
    memcpy(mt->chan_perm, f->chan_perm, sizeof mt->chan_perm);
    mt->has_resize = f->has_resize;
    mt->n_norm_pre = f->has_resize ? f->n_norm_pre : 0;
    mt->keep_aspect = f->keep_aspect;
    mt->fit_h = (int)f->fit_h, mt->fit_w = (int)f->fit_w;
    mt->pad_value = f->pad_value;
    mt->clip_to_window = f->keep_aspect && f->true_shape_out != NULL;
    if (f->has_resize) {
        mt->resize_linear = !strcmp(f->resize_mode, "linear") || !strcmp(f->resize_mode, "bilinear");
        if (!mt->resize_linear && strcmp(f->resize_mode, "nearest"))
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: preprocessing resize mode '%s' (linear and nearest are built)",
                             f->resize_mode);
        mt->resize_ctm = ctm_code(f->resize_ctm);
        mt->resize_nearest = rz_nearest_code(f->resize_nearest);
        if (mt->resize_ctm < 0 || mt->resize_nearest < 0)
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: preprocessing resize '%s'/'%s' not built", f->resize_ctm,
                             f->resize_nearest);
    }
    return ODRT_OK;
}

static odrt_status_t load_labels(const char *path, eng_meta *mt) {
    if (!path) return ODRT_OK;
    char **names;
    int n;
    ODRT_TRY(odrt_labels_load(path, &names, &n));
    mt->labels = names;
    mt->n_labels = n;
    return ODRT_OK;
}

/* ---- int8: calibration frames through the engine's own preprocessing ---- */
static odrt_status_t calib_frames(void *ctx, char **files, int n_files, int i, int64_t batch, odrt_tensor_t **out) {
    const eng_meta *m = ctx;
    int64_t d[4] = {batch, m->net_h, m->net_w, 3};
    ODRT_TRY(odrt_tensor_create(ODRT_DT_FLOAT, 4, d, out));
    for (int64_t b = 0; b < batch; b++) {
        odrt_tensor_t *img = NULL;
        /* frames as detect gets them: any size where the engine resizes, else the size it takes */
        int fh = m->frame_h ? m->frame_h : m->has_resize ? 0 : m->net_h, fw = m->frame_w ? m->frame_w : m->has_resize ? 0 : m->net_w;
        odrt_status_t rc = odrt_image_load(files[(i + b) % n_files], fh, fw, &img);
        eng_prep pp;
        if (rc == ODRT_OK) rc = eng_prep_init(&pp, m, img->data, img->dims[1], img->dims[2], (float *)(*out)->data + b * m->net_h * m->net_w * 3);
        if (rc == ODRT_OK) {
            eng_prep_rows(&pp, 0, m->net_h);
            eng_prep_free(&pp);
        }
        odrt_tensor_free(img);
        if (rc != ODRT_OK) {
            odrt_tensor_free(*out);
            *out = NULL;
            return odrt_fail_ctx(rc, "build: calibration frame '%s'", files[(i + b) % n_files]);
        }
    }
    return ODRT_OK;
}

/* mark the 1x1 convolutions that run in int8 (calibrated, the sensitivity pass's choice) */
static odrt_status_t int8_mark(odrt_model_t *om, const odrt_build_options_t *o, eng_meta *mt, ir_value **heads, int n_heads) {
    const char *method = o->calibration_method ? o->calibration_method : "percentile";
    if (!o->calibration) return odrt_fail(ODRT_ERR_ARG, "build: --precision int8 needs --calibration DIR|calib.json");
    if (strcmp(method, "percentile") && strcmp(method, "entropy") && strcmp(method, "minmax"))
        return odrt_fail(ODRT_ERR_ARG, "build: unknown --calibration-method '%s' (percentile, entropy, minmax)", method);
    conv_plan cp;
    memset(&cp, 0, sizeof cp);
    cp.batch = mt->batch, cp.in_h = mt->net_h, cp.in_w = mt->net_w, cp.in_dtype = ODRT_DT_FLOAT, cp.engine = 1;
    q_options qo = {.frames = calib_frames, .frames_ctx = mt, .pointwise_only = 1, .mark_only = 1, .unsigned_acts = 1, .channel_scales = 1};
    cJSON *rep = cJSON_CreateObject();
    if (!rep) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    odrt_status_t rc = tfod_to_int8_ex(om, &cp, heads, n_heads, o->calibration, method, rep, &qo);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(rep, "int8");
    if (rc == ODRT_OK && r) {
        const cJSON *nq = cJSON_GetObjectItemCaseSensitive(r, "int8_convs"), *kf = cJSON_GetObjectItemCaseSensitive(r, "kept_float");
        odrt_log(ODRT_LOG_INFO, "build: int8: %d 1x1 convolutions in int8, %d kept in float (stem, heads, low SQNR, measured)",
                 cJSON_IsNumber(nq) ? nq->valueint : 0, cJSON_GetArraySize(kf));
    }
    if (rc == ODRT_OK && o->calibration_out) {
        char *text = r ? cJSON_Print(r) : NULL;
        FILE *f = text ? fopen(o->calibration_out, "wb") : NULL;
        if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0) rc = odrt_fail(ODRT_ERR_IO, "build: cannot write '%s'", o->calibration_out);
        if (f && fclose(f) && rc == ODRT_OK) rc = odrt_fail(ODRT_ERR_IO, "build: cannot write '%s'", o->calibration_out);
        free(text);
    }
    cJSON_Delete(rep);
    return rc;
}

odrt_status_t eng_build_plan(odrt_model_t *om, const odrt_build_options_t *o, eng_plan *p) {
    ir_model *m = om->ir;
    ir_graph *g = m->graph;
    eng_meta *mt = &p->meta;
    const char *device = o->device ? o->device : "cpu", *prec = o->precision ? o->precision : "fp32";
    const eng_device *dev = eng_device_find(device);
    if (!dev) return odrt_fail(ODRT_ERR_ARG, "build: unknown --device '%s' (%s)", device, eng_known_names(0));
    if (!eng_precision_code(prec)) return odrt_fail(ODRT_ERR_ARG, "build: unknown --precision '%s' (%s)", prec, eng_known_names(1));
    if (!(eng_precision_code(prec) & dev->precisions))
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: --precision %s is not one %s engines have (%s)", prec, dev->name,
                         eng_device_precisions(dev));
    if ((o->calibration || o->calibration_method || o->calibration_out) && strcmp(prec, "int8"))
        return odrt_fail(ODRT_ERR_ARG, "build: --calibration options apply to --precision int8 only");
    int batch = o->batch > 0 ? o->batch : 1;
    if (o->batch < 0) return odrt_fail(ODRT_ERR_ARG, "build: --batch must be positive");
    if (batch > 256) return odrt_fail(ODRT_ERR_ARG, "build: --batch %d is more than 256", batch);
    if (o->frame_h < 0 || o->frame_w < 0 || o->frame_h > 16384 || o->frame_w > 16384)
        return odrt_fail(ODRT_ERR_ARG, "build: --input-shape must be HxW with sizes in 1..16384");

    tfod_found f;
    memset(&f, 0, sizeof f);
    odrt_status_t rc;
    ODRT_TRY(ir_model_check_runnable(m));
    ir_infer_shapes(m);
    const char *family = tfod_family(g);
    int centernet = !strcmp(family, "centernet"), rcnn = !strcmp(family, "faster_rcnn") || !strcmp(family, "mask_rcnn");
    ODRT_TRY(tfod_analyze_preproc(m, &f));
    tfod_guess_family(g, &f);
    if (!f.loop) {
        tfod_found_free(&f);
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: no preprocessing map_fn Loop found: build takes the tf2onnx export of a "
                         "TF OD API model (input_tensor uint8 [1,H,W,3]); ONNX already converted by odrt is not built yet");
    }
    int64_t th = f.has_resize ? f.target_h : f.in_dims[1], tw = f.has_resize ? f.target_w : f.in_dims[2];
    if (!f.has_resize && o->frame_h > 0) th = o->frame_h, tw = o->frame_w;
    if (th <= 0 || tw <= 0) {
        tfod_found_free(&f);
        return odrt_fail(ODRT_ERR_NOT_FOUND, "build: the network input size was not found (no fixed-size resize, dynamic "
                         "input); pass --input-shape HxW");
    }
    conv_plan cp;
    memset(&cp, 0, sizeof cp);
    cp.target = "onnx", cp.nms = "onnx", cp.in_dtype = ODRT_DT_FLOAT, cp.batch = f.model_batch;
    cp.final_batch = batch, cp.in_h = th, cp.in_w = tw, cp.engine = 1;
    if ((rc = tfod_rewrite_preproc(m, &f, &cp)) != ODRT_OK || (rc = ir_graph_toposort(g)) != ODRT_OK) goto fail;
    ir_graph_clear_types(g);
    ir_infer_shapes(m);
    rc = centernet ? tfod_analyze_centernet(m, &f) : rcnn ? tfod_analyze_rcnn(m, &f) : tfod_analyze_postproc(m, &f);
    if (rc != ODRT_OK) goto fail;
    mt->batch = batch, mt->net_h = (int)th, mt->net_w = (int)tw;
    mt->class_offset = o->has_class_offset ? o->class_offset : 1;
    /* checked while the graph has its post-processing */
    if (centernet && (rc = eng_centernet_setup(m, &f, mt)) != ODRT_OK) goto fail;
    if (rcnn && (rc = eng_rcnn_setup(m, &f, mt)) != ODRT_OK) goto fail;
    ir_value *ins[ENG_MAX_INPUTS] = {f.input};
    int n_in = 1;
    if (rcnn && (rc = eng_rcnn_cut(m, &f, ins, &n_in)) != ODRT_OK) goto fail;
    if (batch != f.model_batch) {
        f.input->type.dims[0].value = batch;
        ir_graph_clear_types(g);
        ir_infer_shapes(m);
        if ((rc = tfod_rewrite_batch_reshapes(g, f.model_batch, batch, batch)) != ODRT_OK) goto fail;
        if (rcnn && (rc = eng_rcnn_batch(m, &f, ins, n_in, batch)) != ODRT_OK) goto fail;
    }
    /* meta: preprocessing, post-processing */
    snprintf(mt->input_name, sizeof mt->input_name, "%s", f.input->name);
    mt->frame_h = o->frame_h, mt->frame_w = o->frame_w;
    if ((rc = fill_preproc(&f, mt)) != ODRT_OK) goto fail;
    if (!centernet && !rcnn) {
        mt->n_anchors = f.n_anchors, mt->n_classes = (int)f.n_classes, mt->bg_offset = (int)f.bg_offset;
        mt->score_act = f.act == ACT_SIGMOID ? 1 : f.act == ACT_SOFTMAX ? 2 : 0;
        memcpy(mt->scales, f.scales, sizeof mt->scales);
        mt->score_threshold = f.score_threshold, mt->iou_threshold = f.iou_threshold;
        mt->max_total = (int)f.max_total;
        mt->max_per_class = f.max_per_class > 0 ? (int)f.max_per_class : mt->max_total;
    } else if (centernet) {
        mt->score_threshold = 0, mt->iou_threshold = 0; /* no NMS */
    }
    /* the caller's NMS settings in place of the graph's */
    if (o->has_score_threshold) mt->score_threshold = o->score_threshold;
    if (o->has_iou_threshold) {
        if (centernet) {
            rc = odrt_fail(ODRT_ERR_ARG, "build: a CenterNet engine has no NMS (--iou-threshold does not apply)");
            goto fail;
        }
        mt->iou_threshold = o->iou_threshold;
    }
    if (o->max_detections > 0) {
        if (centernet) mt->cn_k = o->max_detections;
        if (rcnn && mt->mask_h > 0 && o->max_detections != mt->max_total) {
            rc = odrt_fail(ODRT_ERR_ARG, "build: this Mask R-CNN's mask head takes %d detections per image (--max-detections "
                           "%d)", mt->max_total, o->max_detections);
            goto fail;
        }
        if (mt->max_per_class <= 0 || mt->max_per_class > o->max_detections) mt->max_per_class = o->max_detections;
        mt->max_total = o->max_detections;
    }
    if (isnan(mt->score_threshold) || !(mt->iou_threshold >= 0 && mt->iou_threshold <= 1) || mt->max_total <= 0) {
        rc = odrt_fail(ODRT_ERR_NOT_FOUND, "build: NMS settings not found in the graph (%d NonMaxSuppression nodes); pass "
                       "--score-threshold, --iou-threshold and --max-detections", f.n_nms_nodes);
        goto fail;
    }
    snprintf(mt->family, sizeof mt->family, "%s", f.family);
    snprintf(mt->source_sha256, sizeof mt->source_sha256, "%s", om->sha256);
    snprintf(mt->device, sizeof mt->device, "%s", device);
    snprintf(mt->precision, sizeof mt->precision, "%s", prec);
    mt->threads = o->threads;
    snprintf(mt->build_options, sizeof mt->build_options, "--device %s --precision %s --batch %d --input-shape %dx%d "
             "--threads %d --class-offset %d%s%s", device, prec, batch, mt->frame_h, mt->frame_w, mt->threads,
             mt->class_offset, o->labels ? " --labels " : "", o->labels ? o->labels : "");
    size_t bl = strlen(mt->build_options);
    if (o->has_score_threshold) bl += (size_t)snprintf(mt->build_options + bl, sizeof mt->build_options - bl, " --score-threshold %g", o->score_threshold);
    if (bl < sizeof mt->build_options && o->has_iou_threshold)
        bl += (size_t)snprintf(mt->build_options + bl, sizeof mt->build_options - bl, " --iou-threshold %g", o->iou_threshold);
    if (bl < sizeof mt->build_options && o->max_detections > 0)
        snprintf(mt->build_options + bl, sizeof mt->build_options - bl, " --max-detections %d", o->max_detections);
    if ((rc = load_labels(o->labels, mt)) != ODRT_OK) goto fail;
    /* the network: input -> (box codes, class logits), or CenterNet's (heatmap, offsets, sizes);
     * an R-CNN's were set by the cut */
    int n_out = centernet ? 3 : 2;
    ir_value *outs[3] = {f.encodings, f.logits, NULL};
    if (centernet) outs[0] = f.cn_heatmap, outs[1] = f.cn_offset, outs[2] = f.cn_size;
    if (!rcnn) {
        ir_value **no = odrt_arena_alloc(m->arena, sizeof outs);
        if (!no) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < g->n_outputs; i++) g->outputs[i]->flags &= ~(unsigned)IR_VAL_OUTPUT;
        for (int i = 0; i < n_out; i++) no[i] = outs[i], outs[i]->flags |= IR_VAL_OUTPUT;
        g->outputs = no, g->n_outputs = n_out;
    }
    if ((rc = ir_graph_toposort(g)) != ODRT_OK) goto fail;
    tfod_tidy(m);
    if (ir_fold_batchnorm(m) + ir_rewrite_weighted_sums(m) + ir_fold_pads(m)) ir_graph_cleanup(g);
    if ((rc = ir_graph_toposort(g)) != ODRT_OK) goto fail;
    ir_graph_clear_types(g);
    ir_infer_shapes(m);
    if (!strcmp(prec, "int8")) {
        if (rcnn) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "build: --precision int8 is built for SSD, EfficientDet and CenterNet engines, not %s", family);
            goto fail;
        }
        if ((rc = int8_mark(om, o, mt, g->outputs, g->n_outputs)) != ODRT_OK) goto fail;
        ir_graph_clear_types(g);
        ir_infer_shapes(m);
    }
    if (dev->weights != ENG_WEIGHTS_PANEL16) { /* the one packing lower.c writes */
        rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "build: %s engines read a weight layout this build does not pack", dev->name);
        goto fail;
    }
    int t_outs[ENG_MAX_OUTPUTS], t_ins[ENG_MAX_INPUTS];
    if ((rc = eng_lower_network(m, n_in, ins, t_ins, g->n_outputs, g->outputs, t_outs, p)) != ODRT_OK) goto fail;
    mt->t_input = t_ins[0];
    if (centernet) memcpy(mt->t_cn, t_outs, sizeof mt->t_cn);
    else mt->t_boxes = t_outs[0], mt->t_scores = t_outs[1];
    if (rcnn) {
        mt->t_rpn[0] = t_outs[2], mt->t_rpn[1] = t_outs[3], mt->t_props = t_ins[1];
        mt->t_dets = n_in > 2 ? t_ins[2] : -1, mt->t_masks = g->n_outputs > 4 ? t_outs[4] : -1;
        if ((rc = eng_rcnn_order(p)) != ODRT_OK) goto fail;
    }
    for (int k = 0; k < p->n_ops && !dev->reference_ops; k++)
        if (p->ops[k].kind == EOP_REF) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "build: op '%s' has no native lowering, and %s engines do not run the reference "
                           "executor", p->ops[k].name, dev->name);
            goto fail;
        }
    mt->anchors_off = centernet ? 0 : eng_blob_append(p, rcnn ? f.rcnn.anchors : f.anchors, sizeof(float) * (size_t)mt->n_anchors * 4);
    if (mt->anchors_off < 0) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    tfod_found_free(&f);
    if ((rc = eng_plan_simplify(p)) != ODRT_OK) return rc;
    return eng_plan_memory(p);
fail:
    tfod_found_free(&f);
    return rc;
}
