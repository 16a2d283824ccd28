/* TensorFlow -> IR lowerings: elementwise math, convolutions (plain, depthwise, the grappler and
 * TF.js fused forms), pooling, resizing, matrix products. NHWC layers are wrapped in transposes
 * to ONNX's NCHW; tf_import.c's cleanup folds the pairs between layers. */
#include <string.h>

#include "frontend/tf/tf_lower.h"

#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n->n_in < (k)) return tf_refuse(n, "needs %d inputs, has %d", (k), n->n_in);           \
    } while (0)

static const struct {
    const char *tf, *onnx;
} BINARY[] = {{"Add", "Add"},         {"AddV2", "Add"},    {"Sub", "Sub"},         {"Mul", "Mul"},
              {"RealDiv", "Div"},     {"Div", "Div"},      {"Maximum", "Max"},     {"Minimum", "Min"},
              {"Less", "Less"},       {"Greater", "Greater"}, {"LessEqual", "LessOrEqual"},
              {"GreaterEqual", "GreaterOrEqual"}, {"Equal", "Equal"}, {"LogicalAnd", "And"},
              {"LogicalOr", "Or"},    {"Pow", "Pow"},      {"BiasAdd", "Add"}};

static const struct {
    const char *tf, *onnx;
} UNARY[] = {{"Exp", "Exp"},   {"Sigmoid", "Sigmoid"}, {"Relu", "Relu"}, {"Reciprocal", "Reciprocal"},
             {"Inv", "Reciprocal"}, {"Sqrt", "Sqrt"}, {"Tanh", "Tanh"}, {"Neg", "Neg"},  {"Log", "Log"},
             {"Abs", "Abs"},   {"Floor", "Floor"},     {"Ceil", "Ceil"}, {"Round", "Round"},
             {"LogicalNot", "Not"}, {"Identity", "Identity"}, {"StopGradient", "Identity"},
             {"Snapshot", "Identity"}, {"Erf", "Erf"}, {"Sign", "Sign"}, {"Softplus", "Softplus"},
             {"Elu", "Elu"},   {"Sin", "Sin"}, {"Cos", "Cos"}};

static odrt_status_t binary(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    for (size_t i = 0; i < sizeof BINARY / sizeof *BINARY; i++)
        if (!strcmp(BINARY[i].tf, n->op)) {
            if (!strcmp(n->op, "BiasAdd") && strcmp(tf_attr_s(n, "data_format", "NHWC"), "NHWC"))
                return tf_refuse(n, "data_format %s", tf_attr_s(n, "data_format", "?"));
            out[0] = b_op2(&c->b, BINARY[i].onnx, n->name, in[0], in[1]);
        }
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t unary(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    *n_out = 1;
    if (!strcmp(n->op, "Identity") || !strcmp(n->op, "StopGradient") || !strcmp(n->op, "Snapshot")) {
        out[0] = in[0]; /* the same value: a frozen variable's read stays a constant */
        return ODRT_OK;
    }
    for (size_t i = 0; i < sizeof UNARY / sizeof *UNARY; i++)
        if (!strcmp(UNARY[i].tf, n->op)) out[0] = b_op1(&c->b, UNARY[i].onnx, n->name, in[0]);
    *n_out = 1;
    return ODRT_OK;
}

static ir_value *scalar_like(tf_ctx *c, float v) { return b_scalar_f(&c->b, "tf/c", v); }

static ir_value *clip(tf_ctx *c, const char *name, ir_value *x, float lo, float hi) {
    ir_value *in[3] = {x, scalar_like(c, lo), scalar_like(c, hi)};
    return b_op(&c->b, "Clip", name, 3, in);
}

static odrt_status_t relu6(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    out[0] = clip(c, n->name, in[0], 0, 6);
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t rsqrt(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    out[0] = b_op1(&c->b, "Reciprocal", n->name, b_op1(&c->b, "Sqrt", n->name, in[0]));
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t square(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    out[0] = b_op2(&c->b, "Mul", n->name, in[0], in[0]);
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t sqdiff(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    ir_value *d = b_op2(&c->b, "Sub", n->name, in[0], in[1]);
    out[0] = b_op2(&c->b, "Mul", n->name, d, d);
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t leaky(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    out[0] = b_op1(&c->b, "LeakyRelu", n->name, in[0]);
    b_attr_f(&c->b, out[0], "alpha", tf_attr_f(n, "alpha", 0.2f));
    *n_out = 1;
    return ODRT_OK;
}

static int is_int_type(int dt) {
    return dt == ODRT_DT_INT32 || dt == ODRT_DT_INT64 || dt == ODRT_DT_INT8 || dt == ODRT_DT_UINT8 || dt == ODRT_DT_INT16;
}

/* FloorDiv / FloorMod: ONNX Mod with fmod 0 is the floor modulo on integers */
static odrt_status_t floordiv(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int dt = tf_dtype_to_odrt(tf_attr_i(n, "T", 0)), is_mod = !strcmp(n->op, "FloorMod");
    if (is_int_type(dt)) {
        ir_value *m = b_op2(&c->b, "Mod", n->name, in[0], in[1]);
        out[0] = is_mod ? m : b_op2(&c->b, "Div", n->name, b_op2(&c->b, "Sub", n->name, in[0], m), in[1]);
    } else if (dt == ODRT_DT_FLOAT || dt == ODRT_DT_DOUBLE) {
        ir_value *q = b_op1(&c->b, "Floor", n->name, b_op2(&c->b, "Div", n->name, in[0], in[1]));
        out[0] = is_mod ? b_op2(&c->b, "Sub", n->name, in[0], b_op2(&c->b, "Mul", n->name, q, in[1])) : q;
    } else {
        return tf_refuse(n, "unsupported dtype");
    }
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t cast(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    int to = tf_dtype_to_odrt(tf_attr_i(n, "DstT", 0));
    if (!to) return tf_refuse(n, "unsupported DstT");
    out[0] = b_cast(&c->b, n->name, in[0], to);
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t softmax(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    out[0] = b_op1(&c->b, strcmp(n->op, "LogSoftmax") ? "Softmax" : "LogSoftmax", n->name, in[0]);
    b_attr_i(&c->b, out[0], "axis", -1);
    *n_out = 1;
    return ODRT_OK;
}

/* ---- convolutions ---- */
static int nhwc(const tf_node *n) { return !strcmp(tf_attr_s(n, "data_format", "NHWC"), "NHWC"); }

/* 4-element NHWC/NCHW list attribute -> the two spatial values */
static int spatial2(const tf_node *n, const char *name, int64_t out[2], int64_t dflt) {
    const ir_attr *a = tf_attr(n, name);
    if (!a) return out[0] = out[1] = dflt, 1;
    if (a->type != IR_ATTR_INTS || a->n != 4) return 0;
    int h = nhwc(n) ? 1 : 2;
    out[0] = a->ints[h], out[1] = a->ints[h + 1];
    return out[0] > 0 && out[1] > 0;
}

static odrt_status_t window_attrs(tf_ctx *c, const tf_node *n, ir_value *y, const char *stride_attr) {
    int64_t s[2], d[2];
    if (!spatial2(n, stride_attr, s, 1) || !spatial2(n, "dilations", d, 1)) return tf_refuse(n, "bad strides or dilations");
    b_attr_ints(&c->b, y, "strides", 2, s);
    if (strcmp(stride_attr, "ksize") && tf_attr(n, "dilations")) b_attr_ints(&c->b, y, "dilations", 2, d);
    const char *pad = tf_attr_s(n, "padding", "VALID");
    if (!strcmp(pad, "SAME")) b_attr_s(&c->b, y, "auto_pad", "SAME_UPPER");
    else if (!strcmp(pad, "VALID")) b_attr_s(&c->b, y, "auto_pad", "VALID");
    else if (!strcmp(pad, "EXPLICIT")) {
        const ir_attr *e = tf_attr(n, "explicit_paddings");
        if (!e || e->type != IR_ATTR_INTS || e->n != 8) return tf_refuse(n, "EXPLICIT padding without 8 explicit_paddings");
        int h = nhwc(n) ? 2 : 4;
        int64_t p[4] = {e->ints[h], e->ints[h + 2], e->ints[h + 1], e->ints[h + 3]};
        b_attr_ints(&c->b, y, "pads", 4, p);
    } else {
        return tf_refuse(n, "padding '%s'", pad);
    }
    return ODRT_OK;
}

/* the activation list of a fused op after its bias: Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh */
static ir_value *fused_tail(tf_ctx *c, const tf_node *n, ir_value *y, int from, odrt_status_t *rc) {
    const ir_attr *ops = tf_attr(n, "fused_ops");
    for (int i = from; ops && ops->type == IR_ATTR_STRINGS && i < ops->n; i++) {
        const char *op = ops->strings[i];
        if (!strcmp(op, "Relu")) y = b_op1(&c->b, "Relu", n->name, y);
        else if (!strcmp(op, "Relu6")) y = clip(c, n->name, y, 0, 6);
        else if (!strcmp(op, "Elu")) y = b_op1(&c->b, "Elu", n->name, y);
        else if (!strcmp(op, "Sigmoid")) y = b_op1(&c->b, "Sigmoid", n->name, y);
        else if (!strcmp(op, "Tanh")) y = b_op1(&c->b, "Tanh", n->name, y);
        else if (!strcmp(op, "LeakyRelu")) {
            y = b_op1(&c->b, "LeakyRelu", n->name, y);
            b_attr_f(&c->b, y, "alpha", tf_attr_f(n, "leakyrelu_alpha", 0.2f));
        } else {
            *rc = tf_refuse(n, "fused op '%s'", op);
            return NULL;
        }
    }
    return y;
}

static int fused_has(const tf_node *n, int i, const char *op) {
    const ir_attr *ops = tf_attr(n, "fused_ops");
    return ops && ops->type == IR_ATTR_STRINGS && i < ops->n && !strcmp(ops->strings[i], op);
}

/* Conv2D, DepthwiseConv2dNative and their fused forms (_FusedConv2D, FusedDepthwiseConv2dNative,
 * _FusedDepthwiseConv2dNative): inputs x, filter, then the fused ops' arguments */
static odrt_status_t conv(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int depthwise = strstr(n->op, "Depthwise") != NULL, fused = strstr(n->op, "Fused") != NULL;
    const ir_tensor *w = tf_const_of(in[1]);
    if (!w || w->rank != 4) return tf_refuse(n, "the filter is not a constant 4-D tensor");
    ir_value *x = nhwc(n) ? tf_nhwc_to_nchw(c, in[0]) : in[0];
    ir_value *wt;
    int64_t group = 1;
    if (depthwise) { /* [H, W, C, M] -> [C*M, 1, H, W] */
        static const int64_t p[4] = {2, 3, 0, 1};
        int64_t shape[4] = {w->dims[2] * w->dims[3], 1, w->dims[0], w->dims[1]};
        wt = b_op2(&c->b, "Reshape", n->name, b_transpose(&c->b, n->name, in[1], 4, p), b_ints(&c->b, "tf/shape", 4, shape));
        group = w->dims[2];
    } else { /* HWIO -> OIHW */
        static const int64_t p[4] = {3, 2, 0, 1};
        wt = b_transpose(&c->b, n->name, in[1], 4, p);
    }
    int bias = fused && fused_has(n, 0, "BiasAdd") && n->n_in >= 3;
    int bn = fused && fused_has(n, 0, "FusedBatchNorm") && n->n_in >= 6;
    if (fused && !bias && !bn) return tf_refuse(n, "fused ops do not start with BiasAdd or FusedBatchNorm");
    ir_value *cin[3] = {x, wt, bias ? in[2] : NULL};
    ir_value *y = b_op(&c->b, "Conv", n->name, bias ? 3 : 2, cin);
    if (group > 1) b_attr_i(&c->b, y, "group", group);
    odrt_status_t rc = window_attrs(c, n, y, "strides");
    if (rc != ODRT_OK) return rc;
    if (bn) { /* scale, offset, mean, variance */
        ir_value *bin[5] = {y, in[2], in[3], in[4], in[5]};
        y = b_op(&c->b, "BatchNormalization", n->name, 5, bin);
        b_attr_f(&c->b, y, "epsilon", tf_attr_f(n, "epsilon", 1e-3f));
    }
    if (fused && !(y = fused_tail(c, n, y, 1, &rc))) return rc;
    out[0] = nhwc(n) ? tf_nchw_to_nhwc(c, y) : y;
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t batchnorm(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(5);
    ir_value *x = nhwc(n) ? tf_nhwc_to_nchw(c, in[0]) : in[0];
    ir_value *bin[5] = {x, in[1], in[2], in[3], in[4]};
    ir_value *y = b_op(&c->b, "BatchNormalization", n->name, 5, bin);
    b_attr_f(&c->b, y, "epsilon", tf_attr_f(n, "epsilon", 1e-4f));
    out[0] = nhwc(n) ? tf_nchw_to_nhwc(c, y) : y;
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t pool(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    int64_t k[2];
    if (!spatial2(n, "ksize", k, 1)) return tf_refuse(n, "bad ksize");
    ir_value *x = nhwc(n) ? tf_nhwc_to_nchw(c, in[0]) : in[0];
    ir_value *y = b_op1(&c->b, strcmp(n->op, "AvgPool") ? "MaxPool" : "AveragePool", n->name, x);
    b_attr_ints(&c->b, y, "kernel_shape", 2, k);
    odrt_status_t rc = window_attrs(c, n, y, "strides");
    if (rc != ODRT_OK) return rc;
    out[0] = nhwc(n) ? tf_nchw_to_nhwc(c, y) : y;
    *n_out = 1;
    return ODRT_OK;
}

/* ResizeBilinear / ResizeNearestNeighbor (images NHWC, size [2]) with TF's align_corners and
 * half_pixel_centers, as ONNX Resize coordinate modes */
static odrt_status_t resize(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int nearest = !strcmp(n->op, "ResizeNearestNeighbor");
    int ac = (int)tf_attr_i(n, "align_corners", 0), hp = (int)tf_attr_i(n, "half_pixel_centers", 0);
    if (ac && hp) return tf_refuse(n, "align_corners and half_pixel_centers are both set");
    ir_value *x = tf_nhwc_to_nchw(c, in[0]);
    ir_value *nc = b_slice(&c->b, n->name, b_op1(&c->b, "Shape", n->name, x), 0, 0, 2);
    ir_value *cat[2] = {nc, tf_i64(c, in[1])};
    ir_value *sizes = b_op(&c->b, "Concat", n->name, 2, cat);
    b_attr_i(&c->b, sizes, "axis", 0);
    ir_value *rin[4] = {x, b_const(&c->b, "tf/roi", ODRT_DT_FLOAT, 1, (const int64_t[1]){0}, NULL),
                        b_const(&c->b, "tf/scales", ODRT_DT_FLOAT, 1, (const int64_t[1]){0}, NULL), sizes};
    ir_value *y = b_op(&c->b, "Resize", n->name, 4, rin);
    b_attr_s(&c->b, y, "mode", nearest ? "nearest" : "linear");
    /* bilinear: TensorFlow's own coordinates (odrt_tf_*, resize_coord.h), not ONNX's near twins */
    b_attr_s(&c->b, y, "coordinate_transformation_mode",
             nearest ? (ac ? "align_corners" : hp ? "tf_half_pixel_for_nn" : "asymmetric")
                     : (ac ? "odrt_tf_align_corners" : hp ? "odrt_tf_half_pixel" : "odrt_tf_asymmetric"));
    if (nearest) b_attr_s(&c->b, y, "nearest_mode", ac ? "round_prefer_ceil" : "floor");
    out[0] = tf_nchw_to_nhwc(c, y);
    *n_out = 1;
    return ODRT_OK;
}

/* CropAndResize(image NHWC, boxes [N, 4], box_ind [N], crop_size [2]) -> [N, ch, cw, C]: bilinear
 * crops as TensorFlow computes them, on odrt.CropAndResize with its image-index input */
static odrt_status_t crop_and_resize(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(4);
    int64_t hw[2];
    if (tf_const_ints(in[3], hw, 2) != 2 || hw[0] < 1 || hw[1] < 1) return tf_refuse(n, "crop_size is not a constant pair");
    if (strcmp(tf_attr_s(n, "method", "bilinear"), "bilinear")) return tf_refuse(n, "method '%s'", tf_attr_s(n, "method", "?"));
    ir_value *cin[3] = {tf_nhwc_to_nchw(c, in[0]), in[1], in[2]};
    ir_node *cr = b_node(&c->b, "CropAndResize", "odrt", n->name, 3, cin, 1);
    if (!cr) return c->b.rc;
    ir_value *y = cr->out[0];
    b_attr_i(&c->b, y, "crop_height", hw[0]);
    b_attr_i(&c->b, y, "crop_width", hw[1]);
    b_attr_s(&c->b, y, "mode", "crop_and_resize");
    b_attr_f(&c->b, y, "extrapolation_value", tf_attr_f(n, "extrapolation_value", 0.0f));
    out[0] = tf_nchw_to_nhwc(c, y);
    *n_out = 1;
    return ODRT_OK;
}

static ir_value *maybe_t(tf_ctx *c, const char *name, ir_value *x, int t) {
    if (!t) return x;
    static const int64_t p[2] = {1, 0};
    return b_transpose(&c->b, name, x, 2, p);
}

/* MatMul (2-D, transpose_a/b), _FusedMatMul (BiasAdd + activation), BatchMatMul(V2/V3) (adj_x/y) */
static odrt_status_t matmul(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(2);
    int batch = strstr(n->op, "Batch") != NULL;
    int ta = (int)tf_attr_i(n, batch ? "adj_x" : "transpose_a", 0), tb = (int)tf_attr_i(n, batch ? "adj_y" : "transpose_b", 0);
    if (batch && (ta || tb)) return tf_refuse(n, "adj_x/adj_y are not supported");
    ir_value *y = b_op2(&c->b, "MatMul", n->name, maybe_t(c, n->name, in[0], ta), maybe_t(c, n->name, in[1], tb));
    if (!strcmp(n->op, "_FusedMatMul")) {
        odrt_status_t rc = ODRT_OK;
        if (!fused_has(n, 0, "BiasAdd") || n->n_in < 3) return tf_refuse(n, "fused ops do not start with BiasAdd");
        y = b_op2(&c->b, "Add", n->name, y, in[2]);
        if (!(y = fused_tail(c, n, y, 1, &rc))) return rc;
    }
    out[0] = y;
    *n_out = 1;
    return ODRT_OK;
}

static odrt_status_t addn(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out) {
    NEED(1);
    out[0] = n->n_in == 1 ? b_op1(&c->b, "Identity", n->name, in[0]) : b_op(&c->b, "Sum", n->name, n->n_in, in);
    *n_out = 1;
    return ODRT_OK;
}

const tf_op_row tf_ops_math[] = {
    {"Add", binary}, {"AddV2", binary}, {"Sub", binary}, {"Mul", binary}, {"RealDiv", binary}, {"Div", binary},
    {"Maximum", binary}, {"Minimum", binary}, {"Less", binary}, {"Greater", binary}, {"LessEqual", binary},
    {"GreaterEqual", binary}, {"Equal", binary}, {"LogicalAnd", binary}, {"LogicalOr", binary}, {"Pow", binary},
    {"BiasAdd", binary}, {"Exp", unary}, {"Sigmoid", unary}, {"Relu", unary}, {"Reciprocal", unary},
    {"Inv", unary}, {"Sqrt", unary}, {"Tanh", unary}, {"Neg", unary}, {"Log", unary}, {"Abs", unary},
    {"Floor", unary}, {"Ceil", unary}, {"Round", unary}, {"LogicalNot", unary}, {"Identity", unary},
    {"StopGradient", unary}, {"Snapshot", unary}, {"Erf", unary}, {"Sign", unary}, {"Softplus", unary},
    {"Elu", unary}, {"Sin", unary}, {"Cos", unary}, {"Relu6", relu6}, {"Rsqrt", rsqrt}, {"Square", square},
    {"SquaredDifference", sqdiff}, {"LeakyRelu", leaky}, {"FloorDiv", floordiv}, {"FloorMod", floordiv},
    {"Cast", cast}, {"Softmax", softmax}, {"LogSoftmax", softmax}, {"Conv2D", conv}, {"_FusedConv2D", conv},
    {"DepthwiseConv2dNative", conv}, {"FusedDepthwiseConv2dNative", conv}, {"_FusedDepthwiseConv2dNative", conv},
    {"FusedBatchNorm", batchnorm}, {"FusedBatchNormV3", batchnorm}, {"MaxPool", pool}, {"AvgPool", pool},
    {"ResizeBilinear", resize}, {"ResizeNearestNeighbor", resize}, {"MatMul", matmul}, {"_FusedMatMul", matmul},
    {"BatchMatMul", matmul}, {"BatchMatMulV2", matmul}, {"BatchMatMulV3", matmul}, {"AddN", addn}, {"CropAndResize", crop_and_resize},
    {NULL, NULL}};
