/* odrt convert --precision int8 (quant.c): calibration and the Q/DQ graph */
#ifndef ODRT_PASSES_QUANT_H
#define ODRT_PASSES_QUANT_H

#include <cjson/cJSON.h>

#include "frontend/model.h"
#include "passes/rewrite.h"

/* The converted float32 model's network (feeding heads[0..n)) with int8 convolutions: ranges from
 * `calibration` (a folder of photos, measured now with `method` minmax|percentile|entropy, both
 * checked by the caller; or a calibration .json: a report's "int8" object, as odrt calibrate writes it).
 * report (may be NULL) receives "int8": method, images, int8_convs, kept_float [{node, reason}],
 * tensors {name: {amax, max, sqnr_db}}. */
odrt_status_t tfod_to_int8(odrt_model_t *om, const conv_plan *p, ir_value *const *heads, int n_heads, const char *calibration,
                           const char *method, cJSON *report);

/* The model input for calibration frames [i, i + batch) of files (cycling), as the graph takes it */
typedef odrt_status_t (*q_frames_fn)(void *ctx, char **files, int n_files, int i, int64_t batch, odrt_tensor_t **out);

/* How the calibration runs where convert's defaults do not fit (odrt build --precision int8) */
typedef struct q_options {
    q_frames_fn frames;  /* the input maker (NULL: frames resized to p's input size, in p's layout) */
    void *frames_ctx;
    int pointwise_only;  /* only 1x1, stride-1, unpadded, ungrouped convolutions are candidates */
    int mark_only;       /* no Q/DQ nodes: each int8 conv keeps its float inputs and gets the float
                            attribute Q_STEP_ATTR (its input's quantization step) */
    int unsigned_acts;   /* inputs >= 0 by construction (Relu, Clip(0, .)) quantized to uint8 with
                            step amax / 255 (twice int8's resolution; TensorRT takes int8 only), the
                            conv marked Q_UNSIGNED_ATTR = 1 */
    int channel_scales;  /* a step per input channel (quant_channel.c), the conv marked Q_STEPS_ATTR */
} q_options;

#define Q_STEP_ATTR "odrt_int8_step"
#define Q_UNSIGNED_ATTR "odrt_int8_unsigned"
#define Q_STEPS_ATTR "odrt_int8_steps"

/* tfod_to_int8 with options (NULL: tfod_to_int8's behaviour) */
odrt_status_t tfod_to_int8_ex(odrt_model_t *om, const conv_plan *p, ir_value *const *heads, int n_heads,
                              const char *calibration, const char *method, cJSON *report, const q_options *qo);

#endif
