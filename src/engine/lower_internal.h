/* Lowering internals shared by lower.c (movement, convolutions, elementwise, pools) and
 * lower_extra.c (dense layers, crops, bilinear resizes). */
#ifndef ODRT_ENGINE_LOWER_INTERNAL_H
#define ODRT_ENGINE_LOWER_INTERNAL_H

#include "ops/fold.h"
#include "engine/engine.h"

/* a conv's packed weights, by the initializers they came from */
typedef struct {
    const ir_tensor *w, *b;
    int kind, kh, kw, cin, cout;
    float q_scale;
    int q_unsigned;
    const float *steps; /* an int8 conv's input steps per channel, or NULL */
    int64_t w_off, w_len, b_off, b_len;
} lw_packed;

typedef struct {
    ir_model *m;
    ir_graph *g;
    eng_plan *p;
    int *tid[2];           /* per value id: tensor in PLAIN / NHWC layout, -1 none */
    ir_value **root;       /* per value id: the value it is moved from (itself for computed values) */
    unsigned char *fused;  /* per node index: consumed by a fusion */
    int *node_index;       /* per value id of a node output: index of its producer in g->nodes */
    lw_packed *packed;     /* convs packed so far (shared weights packed once) */
    int n_packed;
} lw;

int lw_is_const(const ir_value *v);
/* v's single use (not a graph output) */
int lw_only_use(const ir_value *v, ir_node **u);
/* a float32 tensor of static shape */
int lw_static_float(const ir_value *v);
void lw_dims_of(const ir_value *v, int64_t *d);
/* the tensor of v in a given layout, if made (-1) */
int lw_have(lw *L, const ir_value *v, int layout);
/* make v available in `layout` (alias or gather from its source) */
odrt_status_t lw_materialize(lw *L, ir_value *v, int layout, int *out);
/* a new tensor for computed value v in layout; -1 (error set) on failure */
int lw_define(lw *L, ir_value *v, int layout);
/* activation consumer of v (fused: marked), its kind, bounds and output */
int lw_match_act(lw *L, ir_value *v, int *act, float *lo, float *hi, ir_value **y);
/* strides, dilations and pads of a 2-D window op into t (kh, kw set); 0 when unsupported */
int lw_window_geometry(const ir_node *n, const ir_value *x, const ir_value *y, eng_op *t);
/* one-node ONNX model run by the reference executor */
odrt_status_t lw_lower_ref(lw *L, ir_node *n);

/* lower_extra.c */
odrt_status_t lw_lower_matmul(lw *L, ir_node *n);   /* MatMul / Gemm by a constant: a 1x1 GEMM conv */
odrt_status_t lw_lower_crop(lw *L, ir_node *n);     /* odrt.CropAndResize */
odrt_status_t lw_lower_resize(lw *L, ir_node *n);   /* linear Resize of a rank-4 tensor on H, W */

#endif
