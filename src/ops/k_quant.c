/* QuantizeLinear / DequantizeLinear (ONNX opsets 10-21 for 8-bit types): per-tensor or per-axis
 * scales and zero points, round half to even, saturation to the integer type. The Q/DQ ONNX that
 * `odrt convert --precision int8` writes is run by the reference executor with these. */
#include <math.h>
#include <string.h>

#include "ops/exec.h"
#include "ops/shape_rules.h"

/* the element of a per-tensor or per-axis parameter for flat index i of x */
typedef struct {
    int per_axis;
    int64_t inner, count; /* elements after the axis, the axis' size */
} q_axis;

static odrt_status_t q_setup(ex_node_ctx *c, const odrt_tensor_t *x, const odrt_tensor_t *scale, q_axis *q) {
    memset(q, 0, sizeof *q);
    int64_t ns = odrt_tensor_numel(scale);
    if (ir_attr_int(c->node, "block_size", 0) > 0) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "blocked quantization");
    if (scale->rank == 0 || ns == 1) return ODRT_OK;
    if (scale->rank != 1) return ex_fail_node(c, ODRT_ERR_SHAPE, "scale must be a scalar or 1-D");
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", 1), x->rank, &axis));
    if (x->dims[axis] != ns) return ex_fail_node(c, ODRT_ERR_SHAPE, "%lld scales for an axis of %lld", (long long)ns, (long long)x->dims[axis]);
    q->per_axis = 1, q->count = ns, q->inner = 1;
    for (int i = axis + 1; i < x->rank; i++) q->inner *= x->dims[i];
    return ODRT_OK;
}

static inline int64_t q_at(const q_axis *q, int64_t i) { return q->per_axis ? (i / q->inner) % q->count : 0; }

static int q_type_ok(odrt_dtype_t dt) { return dt == ODRT_DT_UINT8 || dt == ODRT_DT_INT8; }

static odrt_status_t k_quantize(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *s = &c->in[1]->t;
    const odrt_tensor_t *zp = c->n_in > 2 && c->in[2] ? &c->in[2]->t : NULL;
    odrt_dtype_t ot = zp ? zp->dtype : ODRT_DT_UINT8;
    int64_t to = ir_attr_int(c->node, "output_dtype", 0);
    if (!zp && to) ot = (odrt_dtype_t)to;
    if (!q_type_ok(ot)) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "quantization to %s", odrt_dtype_name(ot));
    if (zp && odrt_tensor_numel(zp) != odrt_tensor_numel(s)) return ex_fail_node(c, ODRT_ERR_SHAPE, "zero point and scale differ in size");
    q_axis q;
    ODRT_TRY(q_setup(c, x, s, &q));
    ODRT_TRY(ex_out(c, 0, ot, x->rank, x->dims));
    double lo = ot == ODRT_DT_INT8 ? -128 : 0, hi = ot == ODRT_DT_INT8 ? 127 : 255;
    /* (the saturate attribute concerns float8 outputs: 8-bit integers always saturate) */
    int64_t n = odrt_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = q_at(&q, i);
        float sc = (float)ex_get_f(s, k); /* float32 arithmetic, as the spec's reference and onnxruntime */
        double z = zp ? (double)ex_get_i(zp, k) : 0;
        double v = (double)nearbyintf((float)ex_get_f(x, i) / sc) + z; /* the default rounding mode: half to even */
        v = v < lo ? lo : v > hi ? hi : v;
        if (ot == ODRT_DT_INT8) ((int8_t *)c->out[0]->t.data)[i] = (int8_t)v;
        else ((uint8_t *)c->out[0]->t.data)[i] = (uint8_t)v;
    }
    return ODRT_OK;
}

static odrt_status_t k_dequantize(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *s = &c->in[1]->t;
    const odrt_tensor_t *zp = c->n_in > 2 && c->in[2] ? &c->in[2]->t : NULL;
    if (!q_type_ok(x->dtype) && x->dtype != ODRT_DT_INT32)
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "dequantization of %s", odrt_dtype_name(x->dtype));
    if (zp && (zp->dtype != x->dtype || odrt_tensor_numel(zp) != odrt_tensor_numel(s)))
        return ex_fail_node(c, ODRT_ERR_SHAPE, "zero point must match the input's type and the scale's size");
    q_axis q;
    ODRT_TRY(q_setup(c, x, s, &q));
    odrt_dtype_t ot = s->dtype == ODRT_DT_FLOAT16 ? ODRT_DT_FLOAT16 : ODRT_DT_FLOAT;
    ODRT_TRY(ex_out(c, 0, ot, x->rank, x->dims));
    int64_t n = odrt_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = q_at(&q, i);
        float sc = (float)ex_get_f(s, k);
        float v = (float)(ex_get_i(x, i) - (zp ? ex_get_i(zp, k) : 0)) * sc;
        ex_set_f(&c->out[0]->t, i, v);
    }
    return ODRT_OK;
}

const ex_kernel ex_kernels_quant[] = {
    {"", "QuantizeLinear", k_quantize, sh_quantize},
    {"", "DequantizeLinear", k_dequantize, sh_dequantize},
    {NULL, NULL, NULL, NULL},
};
