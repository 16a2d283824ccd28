/* TF OD API export recognition shared by inspect and convert: by structure; the output names
 * are the TF OD API exporter's contract. */
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

const char *tfod_family(const ir_graph *g) {
    /* two-stage: proposals are cropped out of the feature map (RoiAlign or TF's CropAndResize) */
    if (tfod_count_op(g, "RoiAlign") || tfod_count_op(g, "CropAndResize") || ir_graph_visit(g, is_crop_resize, NULL)) return "faster_rcnn";
    /* CenterNet: heatmap peaks by MaxPool + equality, boxes without anchors or NMS */
    if (!tfod_count_op(g, "NonMaxSuppression") && tfod_count_op(g, "MaxPool") && !tfod_find_output(g, "raw_detection_boxes") &&
        tfod_find_output(g, "detection_boxes"))
        return "centernet";
    if (tfod_count_swish(g) >= 8 && tfod_count_op(g, "MatMul")) return "efficientdet"; /* EfficientNet + BiFPN weighted sums */
    return "ssd";
}

const char *tfod_backbone(const ir_graph *g) {
    return tfod_count_swish(g) >= 8 ? "efficientnet" : tfod_count_op(g, "Clip") >= 8 ? "mobilenet" : "resnet/other";
}
