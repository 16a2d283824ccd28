/* TF OD API export recognition shared by inspect and convert: by structure; the output names
 * are the TF OD API exporter's contract. */
#include <stdlib.h>
#include <string.h>

#include "passes/tfod.h"

typedef struct {
    const char *op;
    size_t n;
} op_count;

static int count_node(const ir_node *n, void *ctx) {
    op_count *c = ctx;
    c->n += ir_op_is(n, c->op);
    return 0;
}

size_t tfod_count_op(const ir_graph *g, const char *op) {
    op_count c = {op, 0};
    ir_graph_visit(g, count_node, &c);
    return c.n;
}

const ir_graph *tfod_loop_body(const ir_node *n) {
    const ir_attr *a = ir_node_attr(n, "body");
    return a && a->type == IR_ATTR_GRAPH ? a->g : NULL;
}

/* the preprocessing map_fn: a Loop fed (directly or via casts) by a graph input whose body resizes */
const ir_node *tfod_find_preproc_loop(const ir_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead || !ir_op_is(n, "Loop")) continue;
        const ir_graph *body = tfod_loop_body(n);
        if (!body || !tfod_count_op(body, "Resize")) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] && (n->in[k]->flags & IR_VAL_INPUT) && !n->in[k]->init) return n;
        /* or a body node reading a graph input from the outer scope */
        for (size_t j = 0; j < body->n_nodes; j++)
            for (int k = 0; k < body->nodes[j]->n_in; k++) {
                const ir_value *v = body->nodes[j]->in[k];
                if (v && v->graph == g && (v->flags & IR_VAL_INPUT) && !v->init) return n;
            }
    }
    return NULL;
}

const ir_value *tfod_find_output(const ir_graph *g, const char *name) {
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i]->name, name)) return g->outputs[i];
    return NULL;
}

const char *const TFOD_OUTPUT_NAMES[TFOD_N_OUTPUTS] = {"detection_boxes", "detection_scores", "detection_classes", "num_detections",
                                     "raw_detection_boxes", "raw_detection_scores", "detection_multiclass_scores",
                                     "detection_anchor_indices"};

/* swish = x * sigmoid(x): EfficientNet backbones; relu6 = Clip(0, 6): MobileNet */
size_t tfod_count_swish(const ir_graph *g) {
    size_t c = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead || !ir_op_is(n, "Mul") || n->n_in != 2 || !n->in[0] || !n->in[1]) continue;
        for (int k = 0; k < 2; k++) {
            const ir_node *p = n->in[k]->producer;
            if (p && ir_op_is(p, "Sigmoid") && p->in[0] == n->in[1 - k]) c++;
        }
    }
    return c;
}


/* a Resize in crop-and-resize mode anywhere (tf2onnx's CropAndResize) */
static int is_crop_resize(const ir_node *n, void *ctx) {
    (void)ctx;
    return ir_op_is(n, "Resize") && !strcmp(ir_attr_str(n, "coordinate_transformation_mode", ""), "tf_crop_and_resize");
}

/* a convolution computed from a NonMaxSuppression's output: a network stage after the first
 * stage's proposals (however the crop is written: RoiAlign, CropAndResize, a crop-and-resize
 * Resize, or the interpolation matrices of use_matmul_crop_and_resize) */
static int conv_after_nms(const ir_graph *g) {
    unsigned char *seen = calloc(g->n_values + 1, 1);
    const ir_value **st = malloc(sizeof(*st) * (g->n_values + 1));
    size_t sp = 0;
    int hit = 0;
    for (size_t i = 0; seen && st && i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead || !ir_op_is(n, "NonMaxSuppression")) continue;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] && !seen[n->out[k]->id]) seen[n->out[k]->id] = 1, st[sp++] = n->out[k];
    }
    while (sp && !hit) {
        const ir_value *v = st[--sp];
        for (size_t u = 0; u < v->n_uses && !hit; u++) {
            const ir_node *c = v->uses[u].node;
            if (c->dead || c->graph != g) continue;
            if (ir_op_is(c, "Conv")) hit = 1;
            for (int k = 0; k < c->n_out && !hit; k++)
                if (c->out[k] && !seen[c->out[k]->id]) seen[c->out[k]->id] = 1, st[sp++] = c->out[k];
        }
    }
    free(seen);
    free(st);
    return hit;
}

const char *tfod_family(const ir_graph *g) {
    /* two-stage: proposals are cropped out of the feature map and a second network stage runs on
     * the crops; Mask R-CNN's third stage gives the exporter's detection_masks */
    if (tfod_count_op(g, "RoiAlign") || tfod_count_op(g, "CropAndResize") || ir_graph_visit(g, is_crop_resize, NULL) ||
        conv_after_nms(g))
        return tfod_find_output(g, "detection_masks") ? "mask_rcnn" : "faster_rcnn";
    /* CenterNet: heatmap peaks by MaxPool + equality, boxes without anchors or NMS */
    if (!tfod_count_op(g, "NonMaxSuppression") && tfod_count_op(g, "MaxPool") && !tfod_find_output(g, "raw_detection_boxes") &&
        tfod_find_output(g, "detection_boxes"))
        return "centernet";
    if (tfod_count_swish(g) >= 8 && tfod_count_op(g, "MatMul")) return "efficientdet"; /* EfficientNet + BiFPN weighted sums */
    return "ssd";
}

/* ---- backbone and neck, by structure ---- */
static const ir_node *producer_skipping(const ir_value *v) {
    const ir_node *p = v ? v->producer : NULL;
    while (p && (ir_op_is(p, "Identity") || ir_op_is(p, "Transpose") || ir_op_is(p, "Reshape")) && p->in[0]) p = p->in[0]->producer;
    return p;
}

/* a feature map out of the network's layers (not the box arithmetic after it) */
static int is_conv_path(const ir_value *v, const ir_node *p) {
    if (v->type.rank >= 0 && v->type.rank != 4) return 0;
    return p && (ir_op_is(p, "Conv") || ir_op_is(p, "BatchNormalization") || ir_op_is(p, "Relu") || ir_op_is(p, "Clip") ||
                 ir_op_is(p, "Add"));
}

static const ir_node *skip_transposes(const ir_node *p) {
    while (p && (ir_op_is(p, "Identity") || ir_op_is(p, "Transpose")) && p->in[0]) p = p->in[0]->producer;
    return p;
}

/* v is upsampled: a Resize, or TF's nearest-neighbour upsampling by stack (or broadcast) + reshape:
 * a Reshape of a Concat / Tile / Expand / Mul, transposes between */
static int is_upsampled(const ir_value *v) {
    const ir_node *p = skip_transposes(v ? v->producer : NULL);
    if (!p) return 0;
    if (ir_op_is(p, "Resize") || ir_op_is(p, "Upsample") || ir_op_is(p, "DepthToSpace")) return 1;
    if (!ir_op_is(p, "Reshape") || !p->in[0]) return 0;
    const ir_node *q = skip_transposes(p->in[0]->producer);
    return q && (ir_op_is(q, "Concat") || ir_op_is(q, "Tile") || ir_op_is(q, "Expand") || ir_op_is(q, "Mul"));
}

tfod_arch tfod_arch_stats(const ir_graph *g) {
    tfod_arch a;
    memset(&a, 0, sizeof a);
    a.swish = tfod_count_swish(g);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        if (ir_op_is(n, "Conv")) {
            a.convs++;
            const ir_value *w = n->n_in > 1 ? n->in[1] : NULL;
            int64_t groups = ir_attr_int(n, "group", 1);
            if (groups > 1 && w && w->init && w->init->rank == 4 && w->init->dims[1] == 1 && w->init->dims[0] == groups) a.depthwise++;
        } else if (ir_op_is(n, "Clip")) {
            a.relu6++;
        } else if (ir_op_is(n, "Relu")) {
            a.relu++;
        } else if (ir_op_is(n, "Add") && n->n_in == 2 && n->in[0] && n->in[1] && !n->in[0]->init && !n->in[1]->init) {
            const ir_node *p0 = producer_skipping(n->in[0]), *p1 = producer_skipping(n->in[1]);
            if (is_upsampled(n->in[0]) || is_upsampled(n->in[1]))
                a.upsample_adds++;
            else if (is_conv_path(n->in[0], p0) && is_conv_path(n->in[1], p1))
                a.residual_adds++;
        } else if (ir_op_is(n, "MatMul") && n->in[1] && n->in[1]->init && n->in[1]->init->rank == 2 && n->in[1]->init->dims[1] == 1) {
            a.weighted_sums++; /* BiFPN's fast normalised fusion: inputs stacked, times a [k, 1] column */
        }
    }
    return a;
}

const char *tfod_backbone(const ir_graph *g) {
    tfod_arch a = tfod_arch_stats(g);
    if (a.swish >= 8) return "efficientnet";
    if (a.depthwise >= 8) return a.residual_adds >= 4 ? "mobilenet_v2" : "mobilenet_v1";
    if (a.residual_adds >= 8) return "resnet";
    return a.convs ? "other" : "none";
}

const char *tfod_neck(const ir_graph *g) {
    tfod_arch a = tfod_arch_stats(g);
    if (a.weighted_sums >= 4) return "bifpn";
    return a.upsample_adds >= 2 ? "fpn" : "none";
}
