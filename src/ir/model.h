/* The public odrt_model_t handle: a graph IR model and the hash of the bytes it came from. Any
 * front-end (src/frontend/) makes one; every layer above the IR reads it. */
#ifndef ODRT_IR_MODEL_H
#define ODRT_IR_MODEL_H

#include "ir/ir.h"

struct odrt_model {
    ir_model *ir;
    char sha256[65]; /* of the bytes it was loaded from (hex) */
};

#endif
