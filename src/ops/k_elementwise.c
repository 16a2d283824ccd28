/* Element-wise kernels: unary math, casts, binary arithmetic/comparison/logic with ONNX
 * multidirectional broadcasting, variadic Min/Max/Sum/Mean, Where, Clip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

/* ---- broadcast iteration ---- */
typedef struct {
    int r;
    int64_t dout[ODRT_MAX_RANK], sa[ODRT_MAX_RANK], sb[ODRT_MAX_RANK], sc[ODRT_MAX_RANK];
    int64_t numel, inner;
} bcast;

static odrt_status_t bcast_init(ex_node_ctx *c, bcast *b, const ex_val *x, const ex_val *y, const ex_val *z) {
    int r;
    int64_t d[ODRT_MAX_RANK];
    ODRT_TRY(ex_broadcast(c, x->t.rank, x->t.dims, y->t.rank, y->t.dims, &r, d));
    if (z) {
        int64_t xy[ODRT_MAX_RANK];
        memcpy(xy, d, sizeof xy);
        ODRT_TRY(ex_broadcast(c, r, xy, z->t.rank, z->t.dims, &r, d));
    }
    memset(b, 0, sizeof *b);
    b->r = r;
    memcpy(b->dout, d, sizeof(int64_t) * (size_t)r);
    ex_bcast_strides(x->t.rank, x->t.dims, r, d, b->sa);
    ex_bcast_strides(y->t.rank, y->t.dims, r, d, b->sb);
    if (z) ex_bcast_strides(z->t.rank, z->t.dims, r, d, b->sc);
    if (r == 0) {
        b->r = 1;
        b->dout[0] = 1;
        b->sa[0] = b->sb[0] = b->sc[0] = 0;
    }
    b->numel = 1;
    for (int i = 0; i < b->r; i++) b->numel *= b->dout[i];
    b->inner = b->dout[b->r - 1];
    return ODRT_OK;
}

/* Iterate rows: calls BODY with offa/offb/offc at each row start and o = output row offset. */
#define BCAST_ROWS(b, ...)                                                                        \
    do {                                                                                           \
        int64_t cnt_[ODRT_MAX_RANK] = {0}, offa = 0, offb = 0, offc = 0;                           \
        const int64_t sai = (b)->sa[(b)->r - 1], sbi = (b)->sb[(b)->r - 1], sci = (b)->sc[(b)->r - 1]; \
        (void)sai; (void)sbi; (void)sci; (void)offc;                                               \
        for (int64_t o = 0; (b)->inner && o < (b)->numel; o += (b)->inner) {                       \
            __VA_ARGS__;                                                                           \
            for (int d_ = (b)->r - 2; d_ >= 0; d_--) {                                             \
                cnt_[d_]++;                                                                        \
                offa += (b)->sa[d_];                                                               \
                offb += (b)->sb[d_];                                                               \
                offc += (b)->sc[d_];                                                               \
                if (cnt_[d_] < (b)->dout[d_]) break;                                               \
                offa -= (b)->sa[d_] * (b)->dout[d_];                                               \
                offb -= (b)->sb[d_] * (b)->dout[d_];                                               \
                offc -= (b)->sc[d_] * (b)->dout[d_];                                               \
                cnt_[d_] = 0;                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void ex_set_i(odrt_tensor_t *t, int64_t i, int64_t v) {
    switch (t->dtype) {
    case ODRT_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    case ODRT_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case ODRT_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)v; break;
    case ODRT_DT_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
    case ODRT_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case ODRT_DT_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
    case ODRT_DT_INT64: ((int64_t *)t->data)[i] = v; break;
    case ODRT_DT_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)v; break;
    default: ex_set_f(t, i, (double)v); break;
    }
}

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MIN, B_MAX, B_MOD, B_FMOD, B_EQ, B_LT, B_GT, B_LE, B_GE,
               B_AND, B_OR, B_XOR, B_BITAND, B_BITOR, B_BITXOR } binop;

static int is_cmp(binop op) { return op >= B_EQ && op <= B_GE; }
static int is_logic(binop op) { return op >= B_AND && op <= B_XOR; }

#define ARITH(T, OP, x, y)                                                                         \
    ((OP) == B_ADD ? (T)((x) + (y)) : (OP) == B_SUB ? (T)((x) - (y)) : (OP) == B_MUL ? (T)((x) * (y)) \
     : (OP) == B_MIN ? ((x) < (y) ? (x) : (y)) : (OP) == B_MAX ? ((x) > (y) ? (x) : (y)) : (T)0)

static double apply_d(binop op, double x, double y, int integral) {
    switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return integral ? (y == 0 ? 0 : trunc(x / y)) : x / y;
    case B_POW: return pow(x, y);
    case B_MIN: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
    case B_MAX: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
    case B_FMOD: return fmod(x, y);
    case B_MOD: {
        if (y == 0) return integral ? 0 : NAN;
        double m = fmod(x, y);
        return (m != 0 && ((m < 0) != (y < 0))) ? m + y : m;
    }
    case B_EQ: return x == y;
    case B_LT: return x < y;
    case B_GT: return x > y;
    case B_LE: return x <= y;
    case B_GE: return x >= y;
    case B_AND: return (x != 0) && (y != 0);
    case B_OR: return (x != 0) || (y != 0);
    case B_XOR: return (x != 0) != (y != 0);
    default: return 0;
    }
}

static int64_t apply_i64(binop op, int64_t x, int64_t y) {
    switch (op) {
    case B_DIV: return y == 0 ? 0 : x / y;
    case B_MOD: {
        if (y == 0) return 0;
        int64_t m = x % y;
        return (m != 0 && ((m < 0) != (y < 0))) ? m + y : m;
    }
    case B_FMOD: return y == 0 ? 0 : x % y;
    case B_POW: {
        int64_t r = 1;
        for (int64_t i = 0; i < y && i < 64; i++) r *= x;
        return y < 0 ? 0 : r;
    }
    case B_EQ: return x == y;
    case B_LT: return x < y;
    case B_GT: return x > y;
    case B_LE: return x <= y;
    case B_GE: return x >= y;
    case B_BITAND: return x & y;
    case B_BITOR: return x | y;
    case B_BITXOR: return x ^ y;
    default: return ARITH(int64_t, op, x, y);
    }
}

static odrt_status_t binary_vals(ex_node_ctx *c, binop op, const ex_val *a, const ex_val *b, ex_val **out) {
    if (a->is_seq || b->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "tensor inputs required");
    odrt_dtype_t dt = a->t.dtype;
    if (op != B_POW && b->t.dtype != dt)
        return ex_fail_node(c, ODRT_ERR_INVALID, "input types differ: %s vs %s", odrt_dtype_name(dt),
                            odrt_dtype_name(b->t.dtype));
    bcast bc;
    ODRT_TRY(bcast_init(c, &bc, a, b, NULL));
    odrt_dtype_t odt = is_cmp(op) || is_logic(op) ? ODRT_DT_BOOL : dt;
    ex_val *ov = ex_val_new_tensor(odt, bc.r, bc.dout);
    if (!ov) return ODRT_ERR_NOMEM;
    if (a->t.rank == 0 && b->t.rank == 0) ov->t.rank = 0;
    const float *fa = a->t.data, *fb = b->t.data;
    if (dt == ODRT_DT_FLOAT && b->t.dtype == ODRT_DT_FLOAT && odt == ODRT_DT_FLOAT &&
        (op == B_ADD || op == B_SUB || op == B_MUL || op == B_DIV || op == B_MIN || op == B_MAX)) {
        float *fo = ov->t.data;
#define FLOOP(EXPR)                                                                                \
    BCAST_ROWS(&bc, {                                                                              \
        float *dst = fo + o;                                                                       \
        const float *pa = fa + offa, *pb = fb + offb;                                              \
        if (sai == 1 && sbi == 1)                                                                  \
            for (int64_t j = 0; j < bc.inner; j++) { float x = pa[j], y = pb[j]; dst[j] = EXPR; }  \
        else if (sbi == 0) {                                                                       \
            float y = pb[0];                                                                       \
            for (int64_t j = 0; j < bc.inner; j++) { float x = pa[j * sai]; dst[j] = EXPR; }       \
        } else                                                                                     \
            for (int64_t j = 0; j < bc.inner; j++) { float x = pa[j * sai], y = pb[j * sbi]; dst[j] = EXPR; } \
    })
        switch (op) {
        case B_ADD: FLOOP(x + y); break;
        case B_SUB: FLOOP(x - y); break;
        case B_MUL: FLOOP(x * y); break;
        case B_DIV: FLOOP(x / y); break;
        case B_MIN: FLOOP(isnan(x) || isnan(y) ? NAN : (x < y ? x : y)); break;
        default: FLOOP(isnan(x) || isnan(y) ? NAN : (x > y ? x : y)); break;
        }
#undef FLOOP
    } else if ((dt == ODRT_DT_INT64 || dt == ODRT_DT_INT32) && b->t.dtype == dt) {
        const int is64 = dt == ODRT_DT_INT64;
        BCAST_ROWS(&bc, {
            for (int64_t j = 0; j < bc.inner; j++) {
                int64_t x = is64 ? ((const int64_t *)a->t.data)[offa + j * sai] : ((const int32_t *)a->t.data)[offa + j * sai];
                int64_t y = is64 ? ((const int64_t *)b->t.data)[offb + j * sbi] : ((const int32_t *)b->t.data)[offb + j * sbi];
                int64_t r = apply_i64(op, x, y);
                if (odt == ODRT_DT_BOOL) ((uint8_t *)ov->t.data)[o + j] = (uint8_t)r;
                else if (is64) ((int64_t *)ov->t.data)[o + j] = r;
                else ((int32_t *)ov->t.data)[o + j] = (int32_t)r;
            }
        });
    } else if (dt == b->t.dtype && dt != ODRT_DT_FLOAT && dt != ODRT_DT_DOUBLE && dt != ODRT_DT_FLOAT16 &&
               dt != ODRT_DT_BFLOAT16 && dt != ODRT_DT_STRING && dt != ODRT_DT_BOOL) {
        /* other integer types: exact int64 arithmetic, wrapped to the element type */
        BCAST_ROWS(&bc, {
            for (int64_t j = 0; j < bc.inner; j++) {
                int64_t r = apply_i64(op, ex_get_i(&a->t, offa + j * sai), ex_get_i(&b->t, offb + j * sbi));
                if (odt == ODRT_DT_BOOL) ((uint8_t *)ov->t.data)[o + j] = (uint8_t)(r != 0);
                else ex_set_i(&ov->t, o + j, r);
            }
        });
    } else {
        int integral = dt != ODRT_DT_FLOAT && dt != ODRT_DT_DOUBLE && dt != ODRT_DT_FLOAT16;
        if (dt == ODRT_DT_BFLOAT16 || dt == ODRT_DT_STRING) {
            ex_val_free(ov);
            return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "type %s not supported", odrt_dtype_name(dt));
        }
        BCAST_ROWS(&bc, {
            for (int64_t j = 0; j < bc.inner; j++)
                ex_set_f(&ov->t, o + j, apply_d(op, ex_get_f(&a->t, offa + j * sai), ex_get_f(&b->t, offb + j * sbi), integral));
        });
    }
    *out = ov;
    return ODRT_OK;
}

static odrt_status_t binary(ex_node_ctx *c, binop op) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    if (op == B_MOD && ir_attr_int(c->node, "fmod", 0)) op = B_FMOD;
    return binary_vals(c, op, c->in[0], c->in[1], &c->out[0]);
}

#define BIN(name, op) static odrt_status_t k_##name(ex_node_ctx *c) { return binary(c, op); }
BIN(add, B_ADD) BIN(sub, B_SUB) BIN(mul, B_MUL) BIN(div, B_DIV) BIN(pow, B_POW) BIN(mod, B_MOD)
BIN(equal, B_EQ) BIN(less, B_LT) BIN(greater, B_GT) BIN(less_eq, B_LE) BIN(greater_eq, B_GE)
BIN(and, B_AND) BIN(or, B_OR) BIN(xor, B_XOR) BIN(bitand, B_BITAND) BIN(bitor, B_BITOR) BIN(bitxor, B_BITXOR)

/* variadic: Min, Max, Sum, Mean */
static odrt_status_t variadic(ex_node_ctx *c, binop op, int mean) {
    ODRT_TRY(ex_need(c, 0));
    ex_val *acc = ex_val_clone(c->in[0]);
    if (!acc) return ODRT_ERR_NOMEM;
    for (int k = 1; k < c->n_in; k++) {
        ODRT_TRY(ex_need(c, k));
        ex_val *r;
        odrt_status_t rc = binary_vals(c, op, acc, c->in[k], &r);
        ex_val_free(acc);
        if (rc != ODRT_OK) return rc;
        acc = r;
    }
    if (mean)
        for (int64_t i = 0; i < ex_numel(acc); i++) ex_set_f(&acc->t, i, ex_get_f(&acc->t, i) / c->n_in);
    c->out[0] = acc;
    return ODRT_OK;
}
static odrt_status_t k_min(ex_node_ctx *c) { return variadic(c, B_MIN, 0); }
static odrt_status_t k_max(ex_node_ctx *c) { return variadic(c, B_MAX, 0); }
static odrt_status_t k_sum(ex_node_ctx *c) { return variadic(c, B_ADD, 0); }
static odrt_status_t k_mean(ex_node_ctx *c) { return variadic(c, B_ADD, 1); }

/* ---- unary ---- */
typedef enum { U_ABS, U_NEG, U_EXP, U_LOG, U_SQRT, U_SIGMOID, U_RELU, U_TANH, U_FLOOR, U_CEIL, U_ROUND, U_RECIP,
               U_SIGN, U_NOT, U_ERF, U_LEAKY, U_ELU, U_HARDSIGMOID, U_SOFTPLUS, U_SIN, U_COS, U_ISNAN, U_ISINF,
               U_SELU, U_HARDSWISH, U_TAN, U_ATAN, U_SOFTSIGN } unop;

static double apply_u(unop op, double x, double alpha, double beta, double gamma) {
    switch (op) {
    case U_ABS: return fabs(x);
    case U_NEG: return -x;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case U_RELU: return x > 0 ? x : 0;
    case U_TANH: return tanh(x);
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return nearbyint(x); /* round half to even (default rounding mode) */
    case U_RECIP: return 1.0 / x;
    case U_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case U_NOT: return x == 0;
    case U_ERF: return erf(x);
    case U_LEAKY: return x >= 0 ? x : alpha * x;
    case U_ELU: return x >= 0 ? x : alpha * (exp(x) - 1);
    case U_SELU: return gamma * (x > 0 ? x : alpha * exp(x) - alpha);
    case U_HARDSIGMOID: return fmax(0, fmin(1, alpha * x + beta));
    case U_HARDSWISH: return x * fmax(0, fmin(1, x / 6.0 + 0.5));
    case U_SOFTPLUS: return log(exp(x) + 1);
    case U_SOFTSIGN: return x / (1 + fabs(x));
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_TAN: return tan(x);
    case U_ATAN: return atan(x);
    case U_ISNAN: return isnan(x);
    case U_ISINF: return isinf(x) && ((x > 0 && alpha != 0) || (x < 0 && beta != 0));
    }
    return 0;
}

static odrt_status_t unary(ex_node_ctx *c, unop op) {
    ODRT_TRY(ex_need(c, 0));
    const ex_val *x = c->in[0];
    odrt_dtype_t odt = op == U_ISNAN || op == U_ISINF ? ODRT_DT_BOOL : x->t.dtype;
    if (op == U_NOT && x->t.dtype != ODRT_DT_BOOL) return ex_fail_node(c, ODRT_ERR_INVALID, "Not needs bool input");
    ODRT_TRY(ex_out(c, 0, odt, x->t.rank, x->t.dims));
    ex_val *o = c->out[0];
    int64_t n = ex_numel(x);
    double alpha = ir_attr_float(c->node, "alpha", op == U_LEAKY ? 0.01f : op == U_HARDSIGMOID ? 0.2f
                                                   : op == U_SELU ? 1.67326319217681884765625f : 1.0f);
    double beta = ir_attr_float(c->node, "beta", 0.5f);
    double gamma = ir_attr_float(c->node, "gamma", 1.05070102214813232421875f);
    if (x->t.dtype == ODRT_DT_FLOAT) {
        const float *a = x->t.data;
        float *d = o->t.data;
        switch (op) {
        case U_RELU: for (int64_t i = 0; i < n; i++) d[i] = a[i] > 0 ? a[i] : 0; break;
        case U_SIGMOID:
            for (int64_t i = 0; i < n; i++) d[i] = a[i] >= 0 ? 1.0f / (1.0f + expf(-a[i])) : expf(a[i]) / (1.0f + expf(a[i]));
            break;
        case U_EXP: for (int64_t i = 0; i < n; i++) d[i] = expf(a[i]); break;
        case U_RECIP: for (int64_t i = 0; i < n; i++) d[i] = 1.0f / a[i]; break;
        case U_NEG: for (int64_t i = 0; i < n; i++) d[i] = -a[i]; break;
        case U_SQRT: for (int64_t i = 0; i < n; i++) d[i] = sqrtf(a[i]); break;
        case U_LOG: for (int64_t i = 0; i < n; i++) d[i] = logf(a[i]); break;
        case U_TANH: for (int64_t i = 0; i < n; i++) d[i] = tanhf(a[i]); break;
        case U_ISNAN: case U_ISINF: {
            double pos = (double)ir_attr_int(c->node, "detect_positive", 1), neg = (double)ir_attr_int(c->node, "detect_negative", 1);
            for (int64_t i = 0; i < n; i++) ((uint8_t *)o->t.data)[i] = (uint8_t)apply_u(op, a[i], pos, neg, 0);
            break;
        }
        default:
            for (int64_t i = 0; i < n; i++) d[i] = (float)apply_u(op, a[i], alpha, beta, gamma);
        }
        return ODRT_OK;
    }
    if (x->t.dtype == ODRT_DT_INT64 && (op == U_ABS || op == U_NEG || op == U_SIGN)) {
        const int64_t *a = x->t.data;
        int64_t *d = o->t.data;
        for (int64_t i = 0; i < n; i++)
            d[i] = op == U_ABS ? (a[i] < 0 ? -a[i] : a[i]) : op == U_NEG ? -a[i] : (a[i] > 0) - (a[i] < 0);
        return ODRT_OK;
    }
    if (!odrt_dtype_size(x->t.dtype) || x->t.dtype == ODRT_DT_BFLOAT16)
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "type %s not supported", odrt_dtype_name(x->t.dtype));
    for (int64_t i = 0; i < n; i++) ex_set_f(&o->t, i, apply_u(op, ex_get_f(&x->t, i), alpha, beta, gamma));
    return ODRT_OK;
}

#define UN(name, op) static odrt_status_t k_##name(ex_node_ctx *c) { return unary(c, op); }
UN(abs, U_ABS) UN(neg, U_NEG) UN(exp, U_EXP) UN(log, U_LOG) UN(sqrt, U_SQRT) UN(sigmoid, U_SIGMOID)
UN(relu, U_RELU) UN(tanh, U_TANH) UN(floor, U_FLOOR) UN(ceil, U_CEIL) UN(round, U_ROUND) UN(recip, U_RECIP)
UN(sign, U_SIGN) UN(not, U_NOT) UN(erf, U_ERF) UN(leaky, U_LEAKY) UN(elu, U_ELU) UN(hardsigmoid, U_HARDSIGMOID)
UN(softplus, U_SOFTPLUS) UN(sin, U_SIN) UN(cos, U_COS) UN(isnan, U_ISNAN) UN(isinf, U_ISINF) UN(selu, U_SELU)
UN(hardswish, U_HARDSWISH) UN(tan, U_TAN) UN(atan, U_ATAN) UN(softsign, U_SOFTSIGN)

/* Clip: opset < 11 min/max attributes, >= 11 optional inputs */
static odrt_status_t k_clip(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const ex_val *x = c->in[0];
    double lo = -INFINITY, hi = INFINITY;
    if (c->opset < 11) {
        lo = ir_attr_float(c->node, "min", -INFINITY);
        hi = ir_attr_float(c->node, "max", INFINITY);
    } else {
        if (c->n_in > 1 && c->in[1]) lo = ex_scalar_f(c->in[1]);
        if (c->n_in > 2 && c->in[2]) hi = ex_scalar_f(c->in[2]);
    }
    ODRT_TRY(ex_out(c, 0, x->t.dtype, x->t.rank, x->t.dims));
    int64_t n = ex_numel(x);
    if (x->t.dtype == ODRT_DT_FLOAT) {
        const float *a = x->t.data;
        float *d = c->out[0]->t.data;
        float l = (float)lo, h = (float)hi;
        for (int64_t i = 0; i < n; i++) {
            float v = a[i] < l ? l : a[i];
            d[i] = v > h ? h : v;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double v = ex_get_f(&x->t, i);
            ex_set_f(&c->out[0]->t, i, v < lo ? lo : v > hi ? hi : v);
        }
    }
    return ODRT_OK;
}

/* ---- Cast ---- */
static odrt_status_t k_cast(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    const ex_val *x = c->in[0];
    odrt_dtype_t to = (odrt_dtype_t)ir_attr_int(c->node, "to", 0);
    if (c->n_in > 1 && ir_op_is(c->node, "CastLike")) {
        ODRT_TRY(ex_need(c, 1));
        to = c->in[1]->t.dtype;
    }
    if (!odrt_dtype_size(to)) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "cast to type %d", (int)to);
    ODRT_TRY(ex_out(c, 0, to, x->t.rank, x->t.dims));
    odrt_tensor_t *o = &c->out[0]->t;
    int64_t n = ex_numel(x);
    odrt_dtype_t from = x->t.dtype;
    if (from == to) {
        memcpy(o->data, x->t.data, o->nbytes);
    } else if (from == ODRT_DT_UINT8 && to == ODRT_DT_FLOAT) {
        const uint8_t *a = x->t.data;
        float *d = o->data;
        for (int64_t i = 0; i < n; i++) d[i] = (float)a[i];
    } else if (from == ODRT_DT_FLOAT && to == ODRT_DT_INT32) {
        const float *a = x->t.data;
        int32_t *d = o->data;
        for (int64_t i = 0; i < n; i++) d[i] = isfinite(a[i]) && fabsf(a[i]) < 2.1e9f ? (int32_t)a[i] : INT32_MIN;
    } else if (from == ODRT_DT_FLOAT16 || to == ODRT_DT_FLOAT16) {
        for (int64_t i = 0; i < n; i++) {
            if (from == ODRT_DT_FLOAT16) ex_set_f(o, i, ex_f16_to_f32(((const uint16_t *)x->t.data)[i]));
            else ((uint16_t *)o->data)[i] = ex_f32_to_f16((float)ex_get_f(&x->t, i));
        }
    } else if (from == ODRT_DT_BFLOAT16 || to == ODRT_DT_BFLOAT16 || !odrt_dtype_size(from)) {
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "cast from %s to %s", odrt_dtype_name(from), odrt_dtype_name(to));
    } else if (to == ODRT_DT_BOOL) {
        for (int64_t i = 0; i < n; i++) ((uint8_t *)o->data)[i] = ex_get_f(&x->t, i) != 0;
    } else if (from == ODRT_DT_INT64 || from == ODRT_DT_UINT64 || from == ODRT_DT_INT32) {
        for (int64_t i = 0; i < n; i++) {
            int64_t v = ex_get_i(&x->t, i);
            if (to == ODRT_DT_FLOAT) ((float *)o->data)[i] = (float)v;
            else if (to == ODRT_DT_INT64) ((int64_t *)o->data)[i] = v;
            else if (to == ODRT_DT_INT32) ((int32_t *)o->data)[i] = (int32_t)v;
            else if (to == ODRT_DT_DOUBLE) ((double *)o->data)[i] = (double)v;
            else ex_set_f(o, i, (double)v);
        }
    } else if ((from == ODRT_DT_FLOAT || from == ODRT_DT_DOUBLE) && to != ODRT_DT_FLOAT && to != ODRT_DT_DOUBLE) {
        /* float -> int: truncation toward zero; out-of-range/NaN saturate like x86 conversions */
        for (int64_t i = 0; i < n; i++) {
            double v = ex_get_f(&x->t, i);
            if (to == ODRT_DT_INT64) ((int64_t *)o->data)[i] = isfinite(v) && fabs(v) < 9.2e18 ? (int64_t)v : INT64_MIN;
            else if (to == ODRT_DT_INT32) ((int32_t *)o->data)[i] = isfinite(v) && fabs(v) < 2.1e9 ? (int32_t)v : INT32_MIN;
            else if (to == ODRT_DT_UINT8) ((uint8_t *)o->data)[i] = (uint8_t)(int32_t)(isfinite(v) && fabs(v) < 2.1e9 ? v : 0);
            else if (to == ODRT_DT_INT8) ((int8_t *)o->data)[i] = (int8_t)(int32_t)(isfinite(v) && fabs(v) < 2.1e9 ? v : 0);
            else ex_set_f(o, i, isfinite(v) ? trunc(v) : 0);
        }
    } else {
        for (int64_t i = 0; i < n; i++) ex_set_f(o, i, ex_get_f(&x->t, i));
    }
    return ODRT_OK;
}

/* Where(cond, x, y) */
static odrt_status_t k_where(ex_node_ctx *c) {
    for (int k = 0; k < 3; k++) ODRT_TRY(ex_need(c, k));
    const ex_val *cd = c->in[0], *x = c->in[1], *y = c->in[2];
    if (x->t.dtype != y->t.dtype) return ex_fail_node(c, ODRT_ERR_INVALID, "X and Y types differ");
    bcast bc;
    ODRT_TRY(bcast_init(c, &bc, cd, x, y));
    ODRT_TRY(ex_out(c, 0, x->t.dtype, bc.r, bc.dout));
    if (cd->t.rank == 0 && x->t.rank == 0 && y->t.rank == 0) c->out[0]->t.rank = 0;
    size_t es = odrt_dtype_size(x->t.dtype);
    const uint8_t *pc = cd->t.data;
    const char *px = x->t.data, *py = y->t.data;
    char *po = c->out[0]->t.data;
    /* bcast_init order: a = cond, b = x, c = y */
    BCAST_ROWS(&bc, {
        for (int64_t j = 0; j < bc.inner; j++) {
            const char *src = pc[offa + j * sai] ? px + (size_t)(offb + j * sbi) * es : py + (size_t)(offc + j * sci) * es;
            memcpy(po + (size_t)(o + j) * es, src, es);
        }
    });
    return ODRT_OK;
}

static odrt_status_t k_identity(ex_node_ctx *c) {
    if (c->n_in < 1 || !c->in[0]) return ex_fail_node(c, ODRT_ERR_INVALID, "input required");
    c->out[0] = ex_val_clone(c->in[0]);
    return c->out[0] ? ODRT_OK : ODRT_ERR_NOMEM;
}

/* PRelu: x >= 0 ? x : slope * x (slope broadcast) */
static odrt_status_t k_prelu(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    bcast bc;
    ODRT_TRY(bcast_init(c, &bc, c->in[0], c->in[1], NULL));
    ODRT_TRY(ex_out(c, 0, c->in[0]->t.dtype, bc.r, bc.dout));
    const ex_val *x = c->in[0], *s = c->in[1];
    BCAST_ROWS(&bc, {
        for (int64_t j = 0; j < bc.inner; j++) {
            double v = ex_get_f(&x->t, offa + j * sai);
            ex_set_f(&c->out[0]->t, o + j, v >= 0 ? v : v * ex_get_f(&s->t, offb + j * sbi));
        }
    });
    return ODRT_OK;
}

const ex_kernel ex_kernels_elementwise[] = {
    {"", "Add", k_add, sh_bcast}, {"", "Sub", k_sub, sh_bcast}, {"", "Mul", k_mul, sh_bcast}, {"", "Div", k_div, sh_bcast}, {"", "Pow", k_pow, sh_bcast},
    {"", "Mod", k_mod, sh_bcast}, {"", "Equal", k_equal, sh_compare}, {"", "Less", k_less, sh_compare}, {"", "Greater", k_greater, sh_compare},
    {"", "LessOrEqual", k_less_eq, sh_compare}, {"", "GreaterOrEqual", k_greater_eq, sh_compare}, {"", "And", k_and, sh_compare}, {"", "Or", k_or, sh_compare},
    {"", "Xor", k_xor, sh_compare}, {"", "BitwiseAnd", k_bitand, NULL}, {"", "BitwiseOr", k_bitor, NULL}, {"", "BitwiseXor", k_bitxor, NULL},
    {"", "Min", k_min, sh_bcast}, {"", "Max", k_max, sh_bcast}, {"", "Sum", k_sum, sh_bcast}, {"", "Mean", k_mean, sh_bcast},
    {"", "Abs", k_abs, sh_same}, {"", "Neg", k_neg, sh_same}, {"", "Exp", k_exp, sh_same}, {"", "Log", k_log, sh_same}, {"", "Sqrt", k_sqrt, sh_same},
    {"", "Sigmoid", k_sigmoid, sh_same}, {"", "Relu", k_relu, sh_same}, {"", "Tanh", k_tanh, sh_same}, {"", "Floor", k_floor, sh_same},
    {"", "Ceil", k_ceil, sh_same}, {"", "Round", k_round, sh_same}, {"", "Reciprocal", k_recip, sh_same}, {"", "Sign", k_sign, sh_same},
    {"", "Not", k_not, sh_same}, {"", "Erf", k_erf, sh_same}, {"", "LeakyRelu", k_leaky, sh_same}, {"", "Elu", k_elu, sh_same},
    {"", "HardSigmoid", k_hardsigmoid, sh_same}, {"", "Softplus", k_softplus, sh_same}, {"", "Sin", k_sin, NULL}, {"", "Cos", k_cos, NULL},
    {"", "Tan", k_tan, NULL}, {"", "Atan", k_atan, NULL}, {"", "IsNaN", k_isnan, NULL}, {"", "IsInf", k_isinf, NULL}, {"", "Selu", k_selu, NULL},
    {"", "HardSwish", k_hardswish, sh_same}, {"", "Softsign", k_softsign, NULL},
    {"", "Clip", k_clip, sh_same}, {"", "Cast", k_cast, sh_cast}, {"", "CastLike", k_cast, NULL}, {"", "Where", k_where, sh_where},
    {"", "Identity", k_identity, sh_same}, {"", "PRelu", k_prelu, sh_bcast},
    {NULL, NULL, NULL, NULL},
};
