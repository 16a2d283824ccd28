/* Helpers to grow a plan while building it. */
#ifndef ODRT_ENGINE_PLAN_UTIL_H
#define ODRT_ENGINE_PLAN_UTIL_H

#include "engine/engine.h"

/* Append len bytes (zeros when data is NULL) at an ENG_ALIGN-aligned offset; -1 on OOM. */
int64_t eng_blob_append(eng_plan *p, const void *data, size_t len);
/* New tensor; -1 (error set) on failure. */
int eng_add_tensor(eng_plan *p, int rank, const int64_t *dims, int layout);
/* New op of kind (zeroed, residual -1); NULL (error set) on failure. Pointers into p->ops are
 * invalidated by the next call. */
eng_op *eng_add_op(eng_plan *p, int kind);
/* Pack ONNX conv weights W [cout][cin / groups][kh][kw] (and bias [cout], NULL = zeros) into the
 * blob for op's kernel (op's conv_kind, kh, kw, cin, cout set); sets w/b offsets and lengths. */
odrt_status_t eng_pack_conv(eng_plan *p, eng_op *op, const float *W, const float *bias);
/* The same for an int8 1x1 conv (op->q_scale set): the input's step per channel (cin of them; NULL:
 * q_scale for all), weights times them quantized per output channel */
odrt_status_t eng_pack_conv_i8(eng_plan *p, eng_op *op, const float *W, const float *bias, const float *steps);
/* After lowering (simplify.c): drop ops whose output nobody reads and fold standalone activations
 * into their producers; R-CNN stage boundaries follow. */
odrt_status_t eng_plan_simplify(eng_plan *p);
/* root tensor of an alias chain */
int eng_root(const eng_plan *p, int t);
/* the network's output tensors the post-processing reads (SSD: box codes, class logits; CenterNet:
 * heatmap, offsets, sizes; R-CNN: second-stage box codes, class logits, first-stage box codes,
 * objectness logits, mask logits) into t[0..); returns how many */
int eng_network_outputs(const eng_meta *m, int t[ENG_MAX_OUTPUTS]);
/* the tensors written before the network runs (the image; an R-CNN's proposals and mask boxes) */
int eng_network_inputs(const eng_meta *m, int t[ENG_MAX_INPUTS]);
/* 1 if tensors a and b share arena bytes */
int eng_tensors_overlap(const eng_plan *p, int a, int b);
/* multiply-adds per output element of conv o (its GEMM's K) */
static inline int64_t eng_conv_k(const eng_op *o) { return (int64_t)o->kh * o->kw * (o->conv_kind == CONV_DW ? 1 : o->cin); }

/* An int8 conv's weight part (docs/engine-format.md): K rounded up to 4 (Kp), P = 16-column panels;
 * int8 weights [P][Kp / 4][16][4], then int32 [P * 16] 128 * (the column's weight sum), then
 * float [P * 16] the output step of each column, then float [Kp] 1 / (each input channel's step),
 * the pad 0 (the weights fold in the input steps: w[k, n] * step[k] quantized per column n) */
static inline int64_t eng_conv_i8_kp(const eng_op *o) { return (eng_conv_k(o) + 3) / 4 * 4; }
static inline int64_t eng_conv_i8_len(const eng_op *o) {
    return (int64_t)(o->cout + 15) / 16 * 16 * (eng_conv_i8_kp(o) + 8) + eng_conv_i8_kp(o) * 4;
}

#endif
