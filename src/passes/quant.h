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

#endif
