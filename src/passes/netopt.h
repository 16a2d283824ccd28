/* Graph rewrites for engines (not for convert: TensorRT does its own). */
#ifndef ODRT_NETOPT_H
#define ODRT_NETOPT_H

#include "ir/ir.h"

/* Fold inference BatchNormalization into the Conv before it (when the conv feeds only it);
 * returns the number folded. */
int ir_fold_batchnorm(ir_model *m);
/* A constant zero Pad of H and W folded into the Conv (or, when its input is never negative, the
 * MaxPool) that alone reads it; returns the number folded. */
int ir_fold_pads(ir_model *m);
/* MatMul of k inputs stacked on the last axis (Concat) by a constant [k, 1] column -> a weighted
 * sum of the inputs (EfficientDet's BiFPN fusion); returns the number rewritten. */
int ir_rewrite_weighted_sums(ir_model *m);

#endif
