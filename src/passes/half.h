/* odrt convert --precision fp16 (half.c) */
#ifndef ODRT_PASSES_HALF_H
#define ODRT_PASSES_HALF_H

#include "ir/ir.h"

/* the network feeding heads[0..n) in float16, the rest in float32, explicit Casts between;
 * *n_half: the nodes that compute in float16 */
odrt_status_t tfod_to_half(ir_model *m, ir_value *const *heads, int n_heads, int *n_half);

#endif
