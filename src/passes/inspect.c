/* `odrt inspect`: model summary, TF OD API recognition, JSON and Graphviz output. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/model.h"
#include "passes/tfod.h"

typedef struct {
    const char *op;
    int count;
} op_count;

typedef struct {
    op_count *ops;
    int n_ops, cap_ops;
    size_t n_nodes, n_subgraphs, init_bytes, n_inits;
    int max_depth;
} stats;

static void count_ops(stats *s, const ir_graph *g, int depth) {
    if (depth > s->max_depth) s->max_depth = depth;
    for (size_t i = 0; i < g->n_inits; i++)
        if (g->inits[i]->init) s->init_bytes += g->inits[i]->init->nbytes, s->n_inits++;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        s->n_nodes++;
        int k;
        for (k = 0; k < s->n_ops; k++)
            if (!strcmp(s->ops[k].op, n->op)) break;
        if (k == s->n_ops) {
            size_t cap = (size_t)s->cap_ops;
            if (!odrt_grow((void **)&s->ops, sizeof(op_count), &cap, (size_t)s->n_ops + 1)) continue;
            s->cap_ops = (int)cap;
            s->ops[s->n_ops++] = (op_count){n->op, 0};
        }
        s->ops[k].count++;
        for (int a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].type == IR_ATTR_GRAPH) s->n_subgraphs++, count_ops(s, n->attrs[a].g, depth + 1);
            if (n->attrs[a].type == IR_ATTR_GRAPHS)
                for (int j = 0; j < n->attrs[a].n; j++) s->n_subgraphs++, count_ops(s, n->attrs[a].graphs[j], depth + 1);
        }
    }
}

static int cmp_ops(const void *a, const void *b) {
    const op_count *x = a, *y = b;
    return x->count != y->count ? y->count - x->count : strcmp(x->op, y->op);
}

static cJSON *shape_json(const ir_type *t) {
    if (t->rank < 0) return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i].value >= 0) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t->dims[i].value));
        else if (t->dims[i].param) cJSON_AddItemToArray(a, cJSON_CreateString(t->dims[i].param));
        else cJSON_AddItemToArray(a, cJSON_CreateNull());
    }
    return a;
}

static const char *type_kind(const ir_type *t) {
    switch (t->kind) {
    case IR_TYPE_TENSOR: return "tensor";
    case IR_TYPE_SEQUENCE: return "sequence";
    case IR_TYPE_OPTIONAL: return "optional";
    case IR_TYPE_MAP: return "map";
    case IR_TYPE_SPARSE_TENSOR: return "sparse_tensor";
    default: return "unknown";
    }
}

static cJSON *value_json(const ir_value *v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "kind", type_kind(&v->type));
    const ir_type *t = &v->type;
    while ((t->kind == IR_TYPE_SEQUENCE || t->kind == IR_TYPE_OPTIONAL) && t->elem) t = t->elem;
    cJSON_AddStringToObject(o, "dtype", odrt_dtype_name((odrt_dtype_t)t->dtype));
    cJSON_AddItemToObject(o, "shape", shape_json(t));
    return o;
}

/* What `odrt convert` finds in the model: a dry run (no verification runs) on a copy. */
static cJSON *dry_convert(const ir_model *m, char *err, size_t err_len) {
    uint8_t *buf = NULL;
    size_t len = 0;
    ir_model *copy = NULL;
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", odrt_last_error());
    cJSON *r = NULL;
    if (ir_export_onnx(m, &buf, &len) == ODRT_OK && ir_import_onnx(buf, len, NULL, &copy) == ODRT_OK) {
        odrt_model_t om = {copy, ""};
        odrt_convert_options_t o;
        odrt_convert_options_init(&o);
        o.target = "onnx", o.analyze_only = 1, o.class_offset = 1;
        char *rep = NULL;
        if (odrt_convert(&om, &o, &rep) == ODRT_OK && rep) r = cJSON_Parse(rep);
        free(rep);
    }
    if (!r) snprintf(err, err_len, "%s", odrt_last_error());
    free(buf);
    ir_model_free(copy);
    odrt_fail(ODRT_OK, "%s", saved); /* inspect itself did not fail */
    return r;
}

static int first_resize(const ir_node *n, void *ctx) {
    const ir_node **r = ctx;
    if (!*r && ir_op_is(n, "Resize")) *r = n;
    return 0;
}

static cJSON *tfod_json(const ir_model *m) {
    const ir_graph *g = m->graph;
    cJSON *o = cJSON_CreateObject();
    const ir_node *loop = tfod_find_preproc_loop(g);
    cJSON *pre = cJSON_AddObjectToObject(o, "preprocessing_loop");
    cJSON_AddBoolToObject(pre, "found", loop != NULL);
    if (loop) {
        cJSON_AddStringToObject(pre, "node", loop->name);
        const ir_graph *body = tfod_loop_body(loop);
        cJSON_AddNumberToObject(pre, "body_nodes", (double)body->n_nodes);
        const ir_node *rs = NULL; /* the first Resize, in the body or its If branches */
        ir_graph_visit(body, first_resize, &rs);
        if (rs) {
            cJSON_AddStringToObject(pre, "resize_mode", ir_attr_str(rs, "mode", "nearest"));
            cJSON_AddStringToObject(pre, "coordinate_transformation_mode",
                                    ir_attr_str(rs, "coordinate_transformation_mode", "half_pixel"));
        }
    }
    size_t n_nms = tfod_count_op(g, "NonMaxSuppression");
    cJSON *nms = cJSON_AddObjectToObject(o, "nms");
    cJSON_AddNumberToObject(nms, "non_max_suppression_nodes", (double)n_nms);
    cJSON *names = cJSON_AddArrayToObject(nms, "nodes");
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && ir_op_is(g->nodes[i], "NonMaxSuppression"))
            cJSON_AddItemToArray(names, cJSON_CreateString(g->nodes[i]->name));
    cJSON *outs = cJSON_AddArrayToObject(o, "detection_outputs");
    int n_found = 0;
    for (size_t i = 0; i < TFOD_N_OUTPUTS; i++)
        if (tfod_find_output(g, TFOD_OUTPUT_NAMES[i])) cJSON_AddItemToArray(outs, cJSON_CreateString(TFOD_OUTPUT_NAMES[i])), n_found++;
    const ir_value *rb = tfod_find_output(g, "raw_detection_boxes"), *rs = tfod_find_output(g, "raw_detection_scores");
    if (rb && rb->type.rank == 3 && rb->type.dims[1].value > 0)
        cJSON_AddNumberToObject(o, "anchors", (double)rb->type.dims[1].value);
    (void)rs;
    /* family by structure (passes/tfod.c), shared with convert */
    const char *family = n_found >= 3 || n_nms ? tfod_family(g) : "unknown";
    cJSON_AddStringToObject(o, "family", family);
    /* what convert finds: resizer, normalisation, anchors, classes, background, scores, NMS settings */
    if (n_found >= 4 && (!strcmp(family, "ssd") || !strcmp(family, "efficientdet") || !strcmp(family, "centernet") ||
                         !strcmp(family, "faster_rcnn") || !strcmp(family, "mask_rcnn"))) {
        char err[1024];
        cJSON *an = dry_convert(m, err, sizeof err);
        if (an) {
            const cJSON *c = cJSON_GetObjectItem(an, "classes");
            if (cJSON_IsNumber(c)) cJSON_AddNumberToObject(o, "classes", c->valuedouble);
            cJSON_DeleteItemFromObject(an, "target"), cJSON_DeleteItemFromObject(an, "nms"), cJSON_DeleteItemFromObject(an, "opset");
            cJSON_DeleteItemFromObject(an, "nodes"), cJSON_DeleteItemFromObject(an, "class_offset");
            cJSON_AddItemToObject(o, "analysis", an);
        } else {
            cJSON_AddStringToObject(o, "analysis_error", err);
        }
    }
    cJSON_AddStringToObject(o, "backbone_hint", tfod_backbone(g));
    cJSON_AddStringToObject(o, "neck", tfod_neck(g));
    cJSON_AddBoolToObject(o, "is_tf_od_api_export", n_found >= 4 && (loop || n_nms));
    return o;
}

static cJSON *report_json(const ir_model *m) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "format_version", 1);
    cJSON_AddNumberToObject(r, "ir_version", (double)m->ir_version);
    cJSON_AddStringToObject(r, "producer", m->producer_name ? m->producer_name : "");
    cJSON_AddStringToObject(r, "producer_version", m->producer_version ? m->producer_version : "");
    cJSON *ops = cJSON_AddArrayToObject(r, "opset_import");
    for (int i = 0; i < m->n_opsets; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "domain", m->opsets[i].domain);
        cJSON_AddNumberToObject(o, "version", (double)m->opsets[i].version);
        cJSON_AddItemToArray(ops, o);
    }
    cJSON *ins = cJSON_AddArrayToObject(r, "inputs");
    for (int i = 0; i < m->graph->n_inputs; i++)
        if (!m->graph->inputs[i]->init) cJSON_AddItemToArray(ins, value_json(m->graph->inputs[i]));
    cJSON *outs = cJSON_AddArrayToObject(r, "outputs");
    for (int i = 0; i < m->graph->n_outputs; i++) cJSON_AddItemToArray(outs, value_json(m->graph->outputs[i]));
    stats s = {0};
    count_ops(&s, m->graph, 0);
    if (s.n_ops) qsort(s.ops, (size_t)s.n_ops, sizeof *s.ops, cmp_ops);
    cJSON_AddNumberToObject(r, "nodes_main_graph", (double)m->graph->n_nodes);
    cJSON_AddNumberToObject(r, "nodes_total", (double)s.n_nodes);
    cJSON_AddNumberToObject(r, "initializers", (double)s.n_inits);
    cJSON_AddNumberToObject(r, "initializer_bytes", (double)s.init_bytes);
    cJSON *oc = cJSON_AddObjectToObject(r, "op_counts");
    for (int i = 0; i < s.n_ops; i++) cJSON_AddNumberToObject(oc, s.ops[i].op, s.ops[i].count);
    free(s.ops);
    cJSON *sg = cJSON_AddArrayToObject(r, "subgraphs");
    for (size_t i = 1; i < m->n_graphs; i++) {
        const ir_graph *g = m->all_graphs[i];
        if (!g->owner || g->owner->dead) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "owner", g->owner->name);
        cJSON_AddStringToObject(o, "owner_op", g->owner->op);
        cJSON_AddStringToObject(o, "name", g->name ? g->name : "");
        cJSON_AddNumberToObject(o, "nodes", (double)g->n_nodes);
        cJSON_AddNumberToObject(o, "inputs", g->n_inputs);
        cJSON_AddNumberToObject(o, "outputs", g->n_outputs);
        int outer = 0;
        for (size_t j = 0; j < g->n_nodes; j++)
            for (int k = 0; k < g->nodes[j]->n_in; k++)
                outer += g->nodes[j]->in[k] && g->nodes[j]->in[k]->graph != g;
        cJSON_AddNumberToObject(o, "outer_scope_reads", outer);
        cJSON_AddItemToArray(sg, o);
    }
    cJSON_AddItemToObject(r, "tf_od_api", tfod_json(m));
    return r;
}

odrt_status_t odrt_model_inspect_json(const odrt_model_t *m, char **json) {
    cJSON *r = report_json(m->ir);
    *json = r ? cJSON_Print(r) : NULL;
    cJSON_Delete(r);
    return *json ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory building report");
}

/* JSON number as long long, clamped (values come from untrusted models) */
static long long jint(const cJSON *x) {
    double d = x ? x->valuedouble : 0;
    return d >= 9.2e18 ? (long long)9.2e18 : d <= -9.2e18 ? (long long)-9.2e18 : (long long)d;
}

static void shape_text(odrt_sb_t *sb, const cJSON *shape) {
    if (cJSON_IsNull(shape)) {
        odrt_sb_puts(sb, "?");
        return;
    }
    odrt_sb_puts(sb, "[");
    const cJSON *d;
    int first = 1;
    cJSON_ArrayForEach(d, shape) {
        odrt_sb_printf(sb, first ? "%s" : ",%s", "");
        first = 0;
        if (cJSON_IsNumber(d)) odrt_sb_printf(sb, "%lld", jint(d));
        else if (cJSON_IsString(d)) odrt_sb_puts(sb, d->valuestring);
        else odrt_sb_puts(sb, "?");
    }
    odrt_sb_puts(sb, "]");
}

static double jnum_or(const cJSON *o, const char *k, double d) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : d;
}

static void analysis_text(odrt_sb_t *sb, const cJSON *an) {
    const cJSON *pre = cJSON_GetObjectItem(an, "preprocessing"), *rs = cJSON_GetObjectItem(pre, "resize"), *it;
    odrt_sb_puts(sb, "  found: preprocessing");
    int n_before = rs ? (int)jnum_or(rs, "normalization_steps_before", 0) : 0, k = 0;
    const cJSON *steps = cJSON_GetObjectItem(pre, "normalization");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && rs) { /* the resize sits after the first n_before steps */
            const cJSON *sz = cJSON_GetObjectItem(rs, "size");
            int keep = !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(rs, "rule")) ?: "", "keep_aspect_ratio_then_pad");
            odrt_sb_printf(sb, " %s resize %s/%s to %lldx%lld", keep ? "keep-aspect" : "fixed",
                           cJSON_GetStringValue(cJSON_GetObjectItem(rs, "mode")),
                           cJSON_GetStringValue(cJSON_GetObjectItem(rs, "coordinate_transformation_mode")),
                           jint(cJSON_GetArrayItem(sz, 0)), jint(cJSON_GetArrayItem(sz, 1)));
            if (keep) odrt_sb_printf(sb, ", padded with %g (clip window = resized image)", jnum_or(rs, "pad_value", 0));
            odrt_sb_puts(sb, ";");
        }
        k = 0;
        cJSON_ArrayForEach(it, steps) {
            if ((pass == 0) != (k++ < n_before)) continue;
            odrt_sb_printf(sb, " %s", cJSON_GetStringValue(cJSON_GetObjectItem(it, "op")));
            const cJSON *v;
            cJSON_ArrayForEach(v, cJSON_GetObjectItem(it, "value")) odrt_sb_printf(sb, " %g", v->valuedouble);
            odrt_sb_puts(sb, ";");
        }
    }
    const cJSON *cn = cJSON_GetObjectItem(an, "centernet"), *s1 = cJSON_GetObjectItem(an, "first_stage");
    if (s1) { /* Faster / Mask R-CNN: the stages */
        const cJSON *n1 = cJSON_GetObjectItem(s1, "nms_params"), *cr = cJSON_GetObjectItem(an, "crop");
        const cJSON *s2 = cJSON_GetObjectItem(an, "second_stage"), *n2 = cJSON_GetObjectItem(s2, "nms_params");
        const cJSON *mk = cJSON_GetObjectItem(an, "mask_head"), *sz = cJSON_GetObjectItem(cr, "size");
        odrt_sb_printf(sb, "\n  found: first stage: %lld anchors, objectness softmax, box coder scales", jint(cJSON_GetObjectItem(s1, "anchors")));
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(s1, "box_coder_scales")) odrt_sb_printf(sb, " %g", it->valuedouble);
        odrt_sb_printf(sb, "; NMS score > %g, IoU > %g, %lld proposals\n", jnum_or(n1, "score_threshold", 0), jnum_or(n1, "iou_threshold", 0),
                       (long long)jnum_or(n1, "max_detections", 0));
        odrt_sb_printf(sb, "  found: crop %s %lldx%lld of the feature map %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(cr, "mode")),
                       jint(cJSON_GetArrayItem(sz, 0)), jint(cJSON_GetArrayItem(sz, 1)),
                       cJSON_GetStringValue(cJSON_GetObjectItem(cr, "feature_map")));
        odrt_sb_printf(sb, "  found: second stage: classes %lld, scores %s, %s per proposal, box coder scales",
                       jint(cJSON_GetObjectItem(an, "classes")), cJSON_GetStringValue(cJSON_GetObjectItem(an, "score_activation")),
                       jnum_or(s2, "box_classes", 1) > 1 ? "a box per class" : "one box");
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(s2, "box_coder_scales")) odrt_sb_printf(sb, " %g", it->valuedouble);
        odrt_sb_printf(sb, "; NMS score > %g, IoU > %g, %lld per class, %lld total\n", jnum_or(n2, "score_threshold", 0),
                       jnum_or(n2, "iou_threshold", 0), (long long)jnum_or(n2, "max_per_class", 0), (long long)jnum_or(n2, "max_detections", 0));
        if (mk)
            odrt_sb_printf(sb, "  found: mask head: %lldx%lld masks, %lld class channels, on a %s crop of the detections\n",
                           jint(cJSON_GetArrayItem(cJSON_GetObjectItem(mk, "mask_size"), 0)),
                           jint(cJSON_GetArrayItem(cJSON_GetObjectItem(mk, "mask_size"), 1)), jint(cJSON_GetObjectItem(mk, "mask_classes")),
                           cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(mk, "crop"), "mode")));
        return;
    }
    if (cn) { /* no anchors or NMS: peaks of the heatmap, then the top k */
        odrt_sb_printf(sb, "\n  found: classes %lld, scores %s; centernet peaks in a %lldx%lld window, top %lld\n",
                       jint(cJSON_GetObjectItem(an, "classes")), cJSON_GetStringValue(cJSON_GetObjectItem(an, "score_activation")),
                       (long long)jnum_or(cn, "peak_window", 0), (long long)jnum_or(cn, "peak_window", 0),
                       (long long)jnum_or(cn, "top_k", 0));
        return;
    }
    const cJSON *nms = cJSON_GetObjectItem(an, "nms_params");
    odrt_sb_printf(sb, "\n  found: anchors %lld, classes %lld, background column %s, scores %s, box coder scales",
                   jint(cJSON_GetObjectItem(an, "anchors")), jint(cJSON_GetObjectItem(an, "classes")),
                   jnum_or(an, "background_columns", 0) > 0 ? "yes" : "no",
                   cJSON_GetStringValue(cJSON_GetObjectItem(an, "score_activation")));
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(cJSON_GetObjectItem(an, "box_coder"), "scales"))
        odrt_sb_printf(sb, " %g", it->valuedouble);
    odrt_sb_printf(sb, "\n  found: NMS score > %g, IoU > %g, %lld per class, %lld total (from %lld NonMaxSuppression nodes)\n",
                   jnum_or(nms, "score_threshold", 0), jnum_or(nms, "iou_threshold", 0),
                   (long long)jnum_or(nms, "max_per_class", 0), (long long)jnum_or(nms, "max_detections", 0),
                   (long long)jnum_or(nms, "original_nms_nodes", 0));
}

odrt_status_t odrt_model_inspect_text(const odrt_model_t *m, char **text) {
    cJSON *r = report_json(m->ir);
    if (!r) return odrt_fail(ODRT_ERR_NOMEM, "out of memory building report");
    odrt_sb_t sb = {0};
    odrt_sb_printf(&sb, "producer: %s %s, ir_version %lld\n", cJSON_GetObjectItem(r, "producer")->valuestring,
                   cJSON_GetObjectItem(r, "producer_version")->valuestring,
                   jint(cJSON_GetObjectItem(r, "ir_version")));
    const cJSON *it;
    odrt_sb_puts(&sb, "opsets:");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "opset_import")) {
        const char *d = cJSON_GetObjectItem(it, "domain")->valuestring;
        odrt_sb_printf(&sb, " %s=%lld", *d ? d : "ai.onnx", jint(cJSON_GetObjectItem(it, "version")));
    }
    const char *sect[2] = {"inputs", "outputs"};
    for (int s = 0; s < 2; s++) {
        odrt_sb_printf(&sb, "\n%s:\n", sect[s]);
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, sect[s])) {
            odrt_sb_printf(&sb, "  %-28s %-8s ", cJSON_GetObjectItem(it, "name")->valuestring,
                           cJSON_GetObjectItem(it, "dtype")->valuestring);
            shape_text(&sb, cJSON_GetObjectItem(it, "shape"));
            odrt_sb_puts(&sb, "\n");
        }
    }
    odrt_sb_printf(&sb, "nodes: %lld in main graph, %lld in total; initializers: %lld (%.2f MiB)\nops:",
                   jint(cJSON_GetObjectItem(r, "nodes_main_graph")),
                   jint(cJSON_GetObjectItem(r, "nodes_total")),
                   jint(cJSON_GetObjectItem(r, "initializers")),
                   cJSON_GetObjectItem(r, "initializer_bytes")->valuedouble / 1048576.0);
    int col = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "op_counts")) {
        odrt_sb_printf(&sb, "%s %s=%lld", col++ % 8 ? "" : "\n ", it->string, jint(it));
    }
    odrt_sb_puts(&sb, "\nsub-graphs:\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "subgraphs")) {
        odrt_sb_printf(&sb, "  %s '%s' of %s: %lld nodes, %lld inputs, %lld outputs, %lld outer-scope reads\n",
                       cJSON_GetObjectItem(it, "owner_op")->valuestring, cJSON_GetObjectItem(it, "name")->valuestring,
                       cJSON_GetObjectItem(it, "owner")->valuestring, jint(cJSON_GetObjectItem(it, "nodes")),
                       jint(cJSON_GetObjectItem(it, "inputs")),
                       jint(cJSON_GetObjectItem(it, "outputs")),
                       jint(cJSON_GetObjectItem(it, "outer_scope_reads")));
    }
    const cJSON *t = cJSON_GetObjectItem(r, "tf_od_api");
    odrt_sb_printf(&sb, "TF OD API: %s; family guess: %s; backbone: %s; neck: %s\n",
                   cJSON_IsTrue(cJSON_GetObjectItem(t, "is_tf_od_api_export")) ? "recognised" : "not recognised",
                   cJSON_GetObjectItem(t, "family")->valuestring, cJSON_GetObjectItem(t, "backbone_hint")->valuestring,
                   cJSON_GetObjectItem(t, "neck")->valuestring);
    const cJSON *pre = cJSON_GetObjectItem(t, "preprocessing_loop");
    if (cJSON_IsTrue(cJSON_GetObjectItem(pre, "found")))
        odrt_sb_printf(&sb, "  preprocessing Loop: %s (%lld body nodes, resize %s/%s)\n",
                       cJSON_GetObjectItem(pre, "node")->valuestring,
                       jint(cJSON_GetObjectItem(pre, "body_nodes")),
                       cJSON_GetStringValue(cJSON_GetObjectItem(pre, "resize_mode")) ?: "?",
                       cJSON_GetStringValue(cJSON_GetObjectItem(pre, "coordinate_transformation_mode")) ?: "?");
    else
        odrt_sb_puts(&sb, "  preprocessing Loop: not found\n");
    odrt_sb_printf(&sb, "  NonMaxSuppression nodes: %lld\n",
                   jint(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "nms"), "non_max_suppression_nodes")));
    odrt_sb_puts(&sb, "  detection outputs:");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(t, "detection_outputs")) odrt_sb_printf(&sb, " %s", it->valuestring);
    odrt_sb_puts(&sb, "\n");
    const cJSON *an = cJSON_GetObjectItem(t, "analysis");
    if (an) analysis_text(&sb, an);
    else if (cJSON_GetObjectItem(t, "analysis_error"))
        odrt_sb_printf(&sb, "  convert analysis failed: %s\n", cJSON_GetObjectItem(t, "analysis_error")->valuestring);
    else if (cJSON_GetObjectItem(t, "anchors"))
        odrt_sb_printf(&sb, "  anchors: %lld\n", jint(cJSON_GetObjectItem(t, "anchors")));
    cJSON_Delete(r);
    *text = odrt_sb_take(&sb);
    return *text ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory building report");
}

odrt_status_t odrt_model_infer_shapes(odrt_model_t *m, int *n_updated) {
    int n = ir_infer_shapes(m->ir);
    if (n_updated) *n_updated = n;
    return ODRT_OK;
}

odrt_status_t odrt_model_values_json(const odrt_model_t *m, char **json) {
    cJSON *r = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(r, "values");
    const ir_graph *g = m->ir->graph;
    for (size_t i = 0; i < g->n_values; i++) {
        const ir_value *v = g->values[i];
        if (!v->init && !v->producer && !(v->flags & IR_VAL_INPUT)) continue; /* removed by surgery */
        cJSON_AddItemToArray(arr, value_json(v));
    }
    *json = cJSON_Print(r);
    cJSON_Delete(r);
    return *json ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory building report");
}

static void dot_id(odrt_sb_t *sb, const char *s) {
    odrt_sb_puts(sb, "\"");
    for (; *s; s++) odrt_sb_printf(sb, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    odrt_sb_puts(sb, "\"");
}

odrt_status_t odrt_model_to_dot(const odrt_model_t *m, char **dot) {
    const ir_graph *g = m->ir->graph;
    odrt_sb_t sb = {0};
    odrt_sb_puts(&sb, "digraph odrt {\n  rankdir=TB;\n  node [shape=box, fontsize=10];\n");
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->inputs[i]->init) {
            odrt_sb_puts(&sb, "  ");
            dot_id(&sb, g->inputs[i]->name);
            odrt_sb_puts(&sb, " [shape=ellipse, style=filled, fillcolor=lightblue];\n");
        }
    for (int i = 0; i < g->n_outputs; i++) {
        odrt_sb_puts(&sb, "  ");
        dot_id(&sb, g->outputs[i]->name);
        odrt_sb_puts(&sb, " [shape=ellipse, style=filled, fillcolor=lightgreen];\n");
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        odrt_sb_printf(&sb, "  n%zu [label=\"%s\"];\n", i, n->op);
        for (int k = 0; k < n->n_in; k++) {
            const ir_value *v = n->in[k];
            if (!v || v->init) continue;
            odrt_sb_puts(&sb, "  ");
            if (v->producer) {
                size_t j;
                for (j = 0; j < g->n_nodes && g->nodes[j] != v->producer; j++) {}
                odrt_sb_printf(&sb, "n%zu", j);
            } else {
                dot_id(&sb, v->name);
            }
            odrt_sb_printf(&sb, " -> n%zu;\n", i);
        }
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] && (n->out[k]->flags & IR_VAL_OUTPUT)) {
                odrt_sb_printf(&sb, "  n%zu -> ", i);
                dot_id(&sb, n->out[k]->name);
                odrt_sb_puts(&sb, ";\n");
            }
    }
    odrt_sb_puts(&sb, "}\n");
    *dot = odrt_sb_take(&sb);
    return *dot ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory building dot");
}
