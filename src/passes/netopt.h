/* Graph rewrites for engines (not for convert: TensorRT does its own). */
#ifndef ODRT_NETOPT_H
#define ODRT_NETOPT_H

#include "ir/ir.h"

/* Fold inference BatchNormalization into the Conv before it (when the conv feeds only it);
 * returns the number folded. */
int ir_fold_batchnorm(ir_model *m);

#endif
