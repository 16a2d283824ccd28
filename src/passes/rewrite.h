#ifndef ODRT_CONVERT_REWRITE_H
#define ODRT_CONVERT_REWRITE_H

#include "passes/convert.h"
#include "ir/build.h"

/* Resolved conversion settings (options + what the model says). */
typedef struct {
    const char *target, *nms;
    int in_dtype, nchw;
    int64_t batch;       /* > 0 static, -1 dynamic: the input's batch while rewriting */
    int64_t final_batch; /* the batch of the converted model */
    int64_t in_h, in_w;
    float score_threshold, iou_threshold;
    int64_t max_per_class, max_detections, class_offset;
    int opset;
    float win_h, win_w; /* TF's clip window for the static frame: the resized image's share of the input */
    int engine; /* leave normalisation and resize out: the engine's fused preprocessing does them */
    int half;   /* --precision fp16 */
    int n_half; /* nodes computing in float16 */
} conv_plan;

odrt_status_t tfod_rewrite_preproc(ir_model *m, tfod_found *f, const conv_plan *p);
/* boxes (ymin, xmin, ymax, xmax) of TF's FasterRcnnBoxCoder: codes [.., 4] decoded against anchor
 * centres a_yx and sizes a_hw [.., 2] (broadcast) */
ir_value *tfod_decode_boxes(bld *b, ir_value *codes, ir_value *a_yx, ir_value *a_hw, const float scales[4]);
/* TF's end of multiclass NMS on sorted detections [B, M] (zero boxes pad): clip to [0, clip],
 * drop boxes left without area, keep the best K, times scale. outs: num [B, 1] int32, boxes,
 * scores, classes (dtype kept) */
void tfod_window_prune(bld *b, ir_value *boxes, ir_value *scores, ir_value *classes, const float clip[2], const float scale[2],
                       int64_t K, ir_value *outs[4]);
/* TF keeps at most `cap` detections of a class: the plugins' (sorted, all classes) scores of any
 * beyond that in their class set to -1 (pruned by tfod_window_prune) */
ir_value *tfod_cap_per_class(bld *b, ir_value *scores, ir_value *classes, int64_t C, int64_t cap);
/* CenterNet: convert's four outputs (num [B,1] int32, boxes, scores, 0-based classes +
 * class_offset as int32) from the post-processing rebuilt batch-agnostic (centernet_post.c) */
odrt_status_t tfod_centernet_outputs(ir_model *m, const tfod_found *f, const conv_plan *p, ir_value *outs[4]);
/* the rebuilt post-processing's values, checked against TF's on random maps */
odrt_status_t tfod_centernet_postproc(ir_model *m, const tfod_found *f, const conv_plan *p, ir_value *outs[4]);
/* v as the graph output `name` (an Identity; the export's own value of that name renamed) */
ir_value *tfod_out_value(bld *b, ir_value *v, const char *name);
/* classes (dtype int32 or float) + off */
ir_value *tfod_add_offset(bld *b, ir_value *cls, int dtype, int64_t off);
/* Faster / Mask R-CNN (rcnn_post.c): the post-processing and crops rebuilt (the networks kept);
 * outs: num_detections, detection_boxes, detection_scores, detection_classes, detection_masks
 * (NULL without masks) */
odrt_status_t tfod_rcnn_rewrite(ir_model *m, tfod_found *f, const conv_plan *p, ir_value *outs[5]);
/* outs: num_detections, detection_boxes, detection_scores, detection_classes */
odrt_status_t tfod_rewrite_postproc(ir_model *m, tfod_found *f, const conv_plan *p, ir_value *outs[4]);

#endif
