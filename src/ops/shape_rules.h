/* Shape rules of shape inference (src/ops/shape.c), named by each op's registry row. */
#ifndef ODRT_SHAPE_RULES_H
#define ODRT_SHAPE_RULES_H

#include "ir/ir.h"

typedef struct shape_ctx shape_ctx;
/* set the types of n's outputs from its inputs (and constants known so far) */
typedef void (*ir_shape_rule)(shape_ctx *s, ir_node *n);

void sh_same(shape_ctx *s, ir_node *n);     /* elementwise unary */
void sh_bcast(shape_ctx *s, ir_node *n);    /* broadcasting, first input's dtype */
void sh_compare(shape_ctx *s, ir_node *n);  /* broadcasting, bool */
void sh_where(shape_ctx *s, ir_node *n);    /* broadcasting, second input's dtype */
void sh_cast(shape_ctx *s, ir_node *n);
void sh_shape(shape_ctx *s, ir_node *n);    /* also records a fully known shape as a constant */
void sh_conv(shape_ctx *s, ir_node *n);
void sh_pool(shape_ctx *s, ir_node *n);
void sh_global_pool(shape_ctx *s, ir_node *n);
void sh_transpose(shape_ctx *s, ir_node *n);
void sh_concat(shape_ctx *s, ir_node *n);
void sh_reshape(shape_ctx *s, ir_node *n);
void sh_squeeze(shape_ctx *s, ir_node *n);
void sh_unsqueeze(shape_ctx *s, ir_node *n);
void sh_gather(shape_ctx *s, ir_node *n);
void sh_matmul(shape_ctx *s, ir_node *n);
void sh_gemm(shape_ctx *s, ir_node *n);
void sh_resize(shape_ctx *s, ir_node *n);
void sh_nms(shape_ctx *s, ir_node *n);
void sh_nonzero(shape_ctx *s, ir_node *n);
void sh_topk(shape_ctx *s, ir_node *n);
void sh_keep_rank(shape_ctx *s, ir_node *n);  /* data-dependent sizes, rank kept */
void sh_pad(shape_ctx *s, ir_node *n);        /* constant pads: each axis grows by its pads */
void sh_dtype_only(shape_ctx *s, ir_node *n); /* data-dependent shape */
void sh_reduce(shape_ctx *s, ir_node *n);     /* Reduce*, ArgMax/ArgMin (keepdims) */
void sh_slice(shape_ctx *s, ir_node *n);
void sh_split(shape_ctx *s, ir_node *n);
void sh_flatten(shape_ctx *s, ir_node *n);
void sh_constant_of_shape(shape_ctx *s, ir_node *n);
void sh_gather_nd(shape_ctx *s, ir_node *n);
void sh_gather_elements(shape_ctx *s, ir_node *n);
void sh_range(shape_ctx *s, ir_node *n);
void sh_loop(shape_ctx *s, ir_node *n);
void sh_trt_nms(shape_ctx *s, ir_node *n);
void sh_crop(shape_ctx *s, ir_node *n);      /* odrt.CropAndResize, RoiAlign */
void sh_quantize(shape_ctx *s, ir_node *n);  /* the zero point's type (or output_dtype, or uint8) */
void sh_dequantize(shape_ctx *s, ir_node *n); /* the scale's type */

#endif
