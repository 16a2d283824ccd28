/* Pieces of the engine build (build.c) kept in their own files. */
#ifndef ODRT_ENGINE_BUILD_INTERNAL_H
#define ODRT_ENGINE_BUILD_INTERNAL_H

#include "passes/convert.h"
#include "engine/engine.h"

/* build_centernet.c: a CenterNet export's post-processing parameters into mt (net size set), checked
 * on probes against the graph's own post-processing (before the graph is cut to the network) */
odrt_status_t eng_centernet_setup(ir_model *m, tfod_found *f, eng_meta *mt);

#endif
