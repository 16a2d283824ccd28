/* odrt convert internals: what was found in a TF OD API export, and the rewrite. */
#ifndef ODRT_CONVERT_H
#define ODRT_CONVERT_H

#include "ops/fold.h"
#include "ir/ir.h"

typedef enum { NORM_MUL, NORM_DIV, NORM_ADD, NORM_SUB, NORM_RSUB } norm_kind; /* RSUB: c - x */

typedef struct {
    norm_kind kind;
    int n;           /* 1 (scalar) or C (per channel) */
    float v[4];
} norm_step;

typedef enum { ACT_NONE, ACT_SIGMOID, ACT_SOFTMAX } score_act;

typedef struct tfod_found {
    /* input */
    ir_value *input;
    int in_dtype;
    int64_t in_dims[4]; /* NHWC, -1 unknown */
    /* preprocessing map_fn */
    ir_node *loop;
    ir_value *loop_image_out; /* the Loop output holding the preprocessed batch (NHWC) */
    int cast_float;
    norm_step norm[8]; /* per-channel values in the input's channel order */
    int n_norm;
    int chan_perm[3];  /* channel c of the preprocessed image is input channel chan_perm[c] (RGB -> BGR: 2, 1, 0) */
    int n_norm_pre;  /* norm[0..n_norm_pre) come before the resize, the rest after it */
    int has_resize;
    const char *resize_mode, *resize_ctm, *resize_nearest;
    int64_t target_h, target_w; /* model input size the preprocessing produces */
    /* keep-aspect resizers (ResizeToRange): the image is resized to fit fit_h x fit_w keeping its
     * aspect ratio (tf.image.resize preserve_aspect_ratio, float32 rounding), then padded at the
     * bottom/right to target_h x target_w with pad_value (at the resize: the steps after it apply to the padding too) */
    int keep_aspect;
    int64_t fit_h, fit_w;
    float pad_value;
    ir_value *true_shape_out; /* Loop output [rh, rw, 3] of the resized window (TF's true_image_shape), or NULL */
    ir_value *const_scan_out[8]; /* other Loop outputs and their per-image constant values */
    ex_val *const_scan_val[8];
    int n_const_scan;
    /* detection heads and box decoder */
    ir_value *encodings;     /* [B, N, 4] box regressions (ty, tx, th, tw) */
    ir_value *logits;        /* [B, N, C + bg] class scores before the activation */
    score_act act;
    int64_t n_anchors, n_classes, bg_offset;
    float *anchors;          /* [N, 4] as (ycenter, xcenter, h, w) */
    float scales[4];         /* box coder scales (y, x, h, w) */
    /* NMS parameters of the original graph */
    int n_nms_nodes;
    int64_t max_per_class, max_total;
    float score_threshold, iou_threshold;
    /* CenterNet (tfod_analyze_centernet): heatmap peaks instead of anchors and NMS */
    ir_value *cn_heatmap;  /* class logits [B, C, Hh, Wh] (before the sigmoid) */
    ir_value *cn_offset;   /* centre offsets [B, 2, Hh, Wh] (y, x) */
    ir_value *cn_size;     /* box sizes [B, 2, Hh, Wh] (h, w), clamped at 0 by the decoder */
    int64_t cn_k;          /* TopK's k: detections per image */
    int cn_pool;           /* the peak MaxPool's window (odd, stride 1, same padding) */
    float cn_eps;          /* |p - maxpool(p)| < eps makes a peak */
    ir_value *true_shape_const; /* the true image shape the preprocessing rewrite made constant, or NULL */
    /* family */
    const char *family, *backbone;
    int64_t model_batch; /* batch baked into the export (1 for TF.js-derived graphs) */
} tfod_found;

/* Find everything; on failure the error says which part and what to pass. */
odrt_status_t tfod_analyze_centernet(ir_model *m, tfod_found *f); /* heads, peaks, top-k (after preprocessing is rewritten) */
/* probe maps for checking a CenterNet post-processing against the export's: heatmap logits
 * [B, C, H, W] spread so that sigmoids and peaks vary, offsets [B, 2, H, W] within +-1.5 cells,
 * sizes partly negative (the decoder's Max(., 0)); NULL entries on failure (free with ex_val_free) */
void tfod_centernet_probe_maps(int64_t B, int64_t C, int64_t H, int64_t W, uint32_t seed, ex_val *maps[3]);
odrt_status_t tfod_analyze_preproc(ir_model *m, tfod_found *f);  /* input and map_fn */
odrt_status_t tfod_analyze_postproc(ir_model *m, tfod_found *f); /* heads, decoder, NMS (after preprocessing is rewritten) */
void tfod_found_free(tfod_found *f);
/* Probe the preprocessing from `cur` (an HWC float image inside the Loop body, after the
 * normalisation steps found so far) to the body's image output: resize rule, pad, window. */
/* the resize-and-pad from cur on; *end: the value where it ends, from which the walker goes on */
odrt_status_t tfod_probe_geometry(ir_model *m, tfod_found *f, ir_value *start, ir_value *cur, ir_value **end);
/* size of the resized window inside the network input for a frame of h x w */
void tfod_window_size(const tfod_found *f, int64_t h, int64_t w, int64_t *rh, int64_t *rw);
/* Reshapes whose shape constant hard-codes the export's batch old_b (on inputs of batch probe_b)
 * get new_first (the new batch, or 0 = copy for dynamic batch). */
odrt_status_t tfod_rewrite_batch_reshapes(ir_graph *g, int64_t old_b, int64_t probe_b, int64_t new_first);
/* cleanup + constant folding + transpose folding to a fixed point */
void tfod_tidy(ir_model *m);
/* family and backbone guesses from structure */
void tfod_guess_family(const ir_graph *g, tfod_found *f);

#endif
