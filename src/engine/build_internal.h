/* Pieces of the engine build (build.c) kept in their own files. */
#ifndef ODRT_ENGINE_BUILD_INTERNAL_H
#define ODRT_ENGINE_BUILD_INTERNAL_H

#include "passes/convert.h"
#include "engine/engine.h"

/* build_centernet.c: a CenterNet export's post-processing parameters into mt (net size set), checked
 * on probes against the graph's own post-processing (before the graph is cut to the network) */
odrt_status_t eng_centernet_setup(ir_model *m, tfod_found *f, eng_meta *mt);
/* the true image shape constant the preprocessing rewrite made ([B, 3]) set to h x w (probes) */
void eng_set_true_shape(ir_value *c, int64_t h, int64_t w);

/* build_rcnn.c: Faster / Mask R-CNN.
 * setup: the post-processing parameters into mt (net size and class offset set), checked on probes
 * against the graph's own post-processing (before the graph is cut);
 * cut: the crops made odrt.CropAndResize nodes of new inputs (the proposals; the mask boxes) and
 * the outputs the heads (second-stage codes, logits, first-stage codes, logits, mask logits);
 * ins[0..*n_in) receives the network's inputs (the image first);
 * batch: the new inputs and the reshapes of the later stages to a batch of `batch`;
 * order: the lowered ops in stage order, mt->rc_stage set. */
odrt_status_t eng_rcnn_setup(ir_model *m, tfod_found *f, eng_meta *mt);
odrt_status_t eng_rcnn_cut(ir_model *m, tfod_found *f, ir_value **ins, int *n_in);
odrt_status_t eng_rcnn_batch(ir_model *m, tfod_found *f, ir_value *const *ins, int n_in, int batch);
odrt_status_t eng_rcnn_order(eng_plan *p);

#endif
