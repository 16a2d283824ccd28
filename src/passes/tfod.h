/* TF OD API export recognition helpers (shared by inspect and convert). */
#ifndef ODRT_TFOD_H
#define ODRT_TFOD_H

#include "ir/ir.h"

#define TFOD_N_OUTPUTS 8
/* The TF OD API exporter's output signature keys. */
extern const char *const TFOD_OUTPUT_NAMES[TFOD_N_OUTPUTS];

/* Nodes of op (ai.onnx) in g and all its sub-graphs. */
size_t tfod_count_op(const ir_graph *g, const char *op);
/* The body of a Loop node, or NULL. */
const ir_graph *tfod_loop_body(const ir_node *loop);
/* The preprocessing map_fn: a Loop fed by a graph input whose body resizes; NULL if none. */
const ir_node *tfod_find_preproc_loop(const ir_graph *g);
/* Graph output by name, or NULL. */
const ir_value *tfod_find_output(const ir_graph *g, const char *name);
/* Number of swish activations x * sigmoid(x) (EfficientNet backbones). */
size_t tfod_count_swish(const ir_graph *g);

/* Family by structure: "mask_rcnn", "faster_rcnn", "centernet", "efficientdet" or "ssd". */
const char *tfod_family(const ir_graph *g);

/* What the network is made of (main graph), counted by structure */
typedef struct tfod_arch {
    size_t convs, depthwise;      /* depthwise: group == Cout with one input channel per group */
    size_t residual_adds;         /* Add of two computed conv-path tensors (ResNet / inverted-residual skips) */
    size_t upsample_adds;         /* Add of an upsampled tensor (an FPN's top-down pathway) */
    size_t weighted_sums;         /* MatMul of stacked inputs by a constant [k, 1] column (BiFPN fusion) */
    size_t swish, relu6, relu;
} tfod_arch;
tfod_arch tfod_arch_stats(const ir_graph *g);
/* "efficientnet" (swish), "mobilenet_v2" (depthwise + inverted-residual skips), "mobilenet_v1"
 * (depthwise, no skips), "resnet" (residual skips, no depthwise), "other" */
const char *tfod_backbone(const ir_graph *g);
/* "bifpn", "fpn" (upsample + add top-down pathway) or "none" */
const char *tfod_neck(const ir_graph *g);

#endif
