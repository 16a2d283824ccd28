#ifndef ODRT_CONVERT_REWRITE_H
#define ODRT_CONVERT_REWRITE_H

#include "passes/convert.h"

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
} conv_plan;

odrt_status_t tfod_rewrite_preproc(ir_model *m, tfod_found *f, const conv_plan *p);
/* CenterNet: convert's four outputs (num [B,1] int32, boxes, scores, 0-based classes +
 * class_offset as int32) from the post-processing rebuilt batch-agnostic (centernet_post.c) */
odrt_status_t tfod_centernet_outputs(ir_model *m, const tfod_found *f, const conv_plan *p, ir_value *outs[4]);
/* the rebuilt post-processing's values, checked against TF's on random maps */
odrt_status_t tfod_centernet_postproc(ir_model *m, const tfod_found *f, const conv_plan *p, ir_value *outs[4]);
/* outs: num_detections, detection_boxes, detection_scores, detection_classes */
odrt_status_t tfod_rewrite_postproc(ir_model *m, tfod_found *f, const conv_plan *p, ir_value *outs[4]);

#endif
