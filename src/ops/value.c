/* Executor values (tensors, sequences) and the helpers kernels share. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

ex_val *ex_val_new_tensor(odrt_dtype_t dt, int rank, const int64_t *dims) {
    if (rank < 0 || rank > ODRT_MAX_RANK) {
        odrt_fail(ODRT_ERR_UNSUPPORTED, "rank %d exceeds %d", rank, ODRT_MAX_RANK);
        return NULL;
    }
    size_t es = odrt_dtype_size(dt), n = 1;
    if (!es) {
        odrt_fail(ODRT_ERR_UNSUPPORTED, "tensors of type %s are not supported", odrt_dtype_name(dt));
        return NULL;
    }
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 || !odrt_mul_ok(n, (size_t)dims[i], &n)) {
            odrt_fail(ODRT_ERR_SHAPE, "invalid dim %lld", (long long)dims[i]);
            return NULL;
        }
    size_t bytes;
    if (!odrt_mul_ok(n, es, &bytes) || bytes > ((size_t)1 << 36)) {
        odrt_fail(ODRT_ERR_NOMEM, "tensor of %zu elements is too large", n);
        return NULL;
    }
    ex_val *v = calloc(1, sizeof *v);
    void *d = calloc(bytes ? bytes : 1, 1);
    if (!v || !d) {
        free(v);
        free(d);
        odrt_fail(ODRT_ERR_NOMEM, "out of memory for %zu bytes", bytes);
        return NULL;
    }
    v->t.dtype = dt;
    v->t.rank = rank;
    for (int i = 0; i < rank; i++) v->t.dims[i] = dims[i];
    v->t.data = d;
    v->t.nbytes = bytes;
    return v;
}

ex_val *ex_val_new_seq(void) {
    ex_val *v = calloc(1, sizeof *v);
    if (!v) odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    else v->is_seq = 1;
    return v;
}

void ex_val_free(ex_val *v) {
    if (!v) return;
    if (v->is_seq) {
        for (int i = 0; i < v->n_items; i++) ex_val_free(v->items[i]);
        free(v->items);
    } else if (!v->borrowed) {
        free(v->t.data);
    }
    free(v);
}

ex_val *ex_val_clone(const ex_val *v) {
    if (v->is_seq) {
        ex_val *s = ex_val_new_seq();
        if (!s) return NULL;
        s->items = calloc((size_t)v->n_items + 1, sizeof(ex_val *));
        if (!s->items) {
            free(s);
            return NULL;
        }
        for (int i = 0; i < v->n_items; i++) {
            s->items[i] = ex_val_clone(v->items[i]);
            s->n_items++;
            if (!s->items[i]) {
                ex_val_free(s);
                return NULL;
            }
        }
        return s;
    }
    ex_val *c = ex_val_new_tensor(v->t.dtype, v->t.rank, v->t.dims);
    if (c && v->t.nbytes) memcpy(c->t.data, v->t.data, v->t.nbytes);
    return c;
}

odrt_status_t ex_out(ex_node_ctx *c, int k, odrt_dtype_t dt, int rank, const int64_t *dims) {
    if (k >= c->n_out) return ex_fail_node(c, ODRT_ERR_INVALID, "output %d missing", k);
    ex_val_free(c->out[k]);
    c->out[k] = ex_val_new_tensor(dt, rank, dims);
    return c->out[k] ? ODRT_OK : ODRT_ERR_NOMEM;
}

/* ---- helpers ---- */
odrt_status_t ex_fail_node(const ex_node_ctx *c, odrt_status_t s, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return odrt_fail(s, "node '%s' (%s): %s", c->node->name, c->node->op, msg);
}

odrt_status_t ex_need(const ex_node_ctx *c, int k) {
    if (k >= c->n_in || !c->in[k]) return ex_fail_node(c, ODRT_ERR_INVALID, "input %d is required", k);
    if (c->in[k]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "input %d must be a tensor", k);
    return ODRT_OK;
}

uint16_t ex_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)(e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float ex_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, x;
    if (exp == 0) {
        if (!man) x = sign;
        else {
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) x = sign | 0x7f800000 | (man << 13);
    else x = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

double ex_get_f(const odrt_tensor_t *t, int64_t i) {
    switch (t->dtype) {
    case ODRT_DT_FLOAT: return ((const float *)t->data)[i];
    case ODRT_DT_DOUBLE: return ((const double *)t->data)[i];
    case ODRT_DT_INT32: return ((const int32_t *)t->data)[i];
    case ODRT_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case ODRT_DT_UINT8: case ODRT_DT_BOOL: return ((const uint8_t *)t->data)[i];
    case ODRT_DT_INT8: return ((const int8_t *)t->data)[i];
    case ODRT_DT_INT16: return ((const int16_t *)t->data)[i];
    case ODRT_DT_UINT16: return ((const uint16_t *)t->data)[i];
    case ODRT_DT_UINT32: return ((const uint32_t *)t->data)[i];
    case ODRT_DT_UINT64: return (double)((const uint64_t *)t->data)[i];
    case ODRT_DT_FLOAT16: return ex_f16_to_f32(((const uint16_t *)t->data)[i]);
    default: return NAN;
    }
}

int64_t ex_get_i(const odrt_tensor_t *t, int64_t i) {
    switch (t->dtype) {
    case ODRT_DT_INT64: return ((const int64_t *)t->data)[i];
    case ODRT_DT_INT32: return ((const int32_t *)t->data)[i];
    case ODRT_DT_UINT64: return (int64_t)((const uint64_t *)t->data)[i];
    default: {
        double d = ex_get_f(t, i);
        return isfinite(d) ? (int64_t)d : 0;
    }
    }
}

void ex_set_f(odrt_tensor_t *t, int64_t i, double x) {
    switch (t->dtype) {
    case ODRT_DT_FLOAT: ((float *)t->data)[i] = (float)x; break;
    case ODRT_DT_DOUBLE: ((double *)t->data)[i] = x; break;
    case ODRT_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)x; break;
    case ODRT_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)x; break;
    case ODRT_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)x; break;
    case ODRT_DT_BOOL: ((uint8_t *)t->data)[i] = x != 0; break;
    case ODRT_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)x; break;
    case ODRT_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)x; break;
    case ODRT_DT_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)x; break;
    case ODRT_DT_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)x; break;
    case ODRT_DT_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)x; break;
    case ODRT_DT_FLOAT16: ((uint16_t *)t->data)[i] = ex_f32_to_f16((float)x); break;
    default: break;
    }
}

double ex_scalar_f(const ex_val *v) { return ex_numel(v) ? ex_get_f(&v->t, 0) : 0; }
int64_t ex_scalar_i(const ex_val *v) { return ex_numel(v) ? ex_get_i(&v->t, 0) : 0; }

odrt_status_t ex_read_ints(const ex_node_ctx *c, int k, int64_t **out, int64_t *n) {
    ODRT_TRY(ex_need(c, k));
    const odrt_tensor_t *t = &c->in[k]->t;
    if (t->dtype != ODRT_DT_INT64 && t->dtype != ODRT_DT_INT32)
        return ex_fail_node(c, ODRT_ERR_INVALID, "input %d must be int32/int64, got %s", k, odrt_dtype_name(t->dtype));
    int64_t cnt = odrt_tensor_numel(t);
    int64_t *r = malloc(sizeof(int64_t) * (size_t)(cnt + 1));
    if (!r) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < cnt; i++) r[i] = ex_get_i(t, i);
    *out = r;
    *n = cnt;
    return ODRT_OK;
}

odrt_status_t ex_axis(const ex_node_ctx *c, int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= (rank ? rank : 1))
        return ex_fail_node(c, ODRT_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return ODRT_OK;
}

odrt_status_t ex_broadcast(const ex_node_ctx *c, int ra, const int64_t *da, int rb, const int64_t *db, int *ro,
                           int64_t *dout) {
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t a = i - (r - ra) >= 0 ? da[i - (r - ra)] : 1;
        int64_t b = i - (r - rb) >= 0 ? db[i - (r - rb)] : 1;
        if (a != b && a != 1 && b != 1)
            return ex_fail_node(c, ODRT_ERR_SHAPE, "cannot broadcast dim %d: %lld vs %lld", i, (long long)a,
                                (long long)b);
        dout[i] = a == 1 ? b : a;
    }
    *ro = r;
    return ODRT_OK;
}

void ex_bcast_strides(int ri, const int64_t *di, int ro, const int64_t *dout, int64_t *strides) {
    int64_t s = 1;
    for (int i = ro - 1; i >= 0; i--) {
        int j = i - (ro - ri);
        if (j < 0 || di[j] == 1) strides[i] = 0;
        else strides[i] = s;
        if (j >= 0) s *= di[j];
        (void)dout;
    }
}

int ex_scored_desc(const void *a, const void *b) {
    const ex_scored *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int ex_scored_asc(const void *a, const void *b) {
    const ex_scored *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}
