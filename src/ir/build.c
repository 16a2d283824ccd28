#include "ir/build.h"

#include <stdio.h>
#include <string.h>


static int ok(bld *b) { return b->rc == ODRT_OK; }

static void fail_nomem(bld *b) {
    if (ok(b)) b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory building the converted graph");
}

ir_value *b_const(bld *b, const char *name, int dtype, int rank, const int64_t *dims, const void *data) {
    if (!ok(b)) return NULL;
    ir_tensor *t = ir_tensor_new(b->m, dtype, rank, dims);
    const char *nm = t ? ir_unique_name(b->g, name) : NULL;
    ir_value *v = nm ? ir_graph_add_const(b->g, nm, t) : NULL;
    if (!v) {
        fail_nomem(b);
        return NULL;
    }
    if (t->nbytes && data) memcpy(t->data, data, t->nbytes);
    return v;
}

ir_value *b_scalar_f(bld *b, const char *name, float v) { return b_const(b, name, ODRT_DT_FLOAT, 0, NULL, &v); }
ir_value *b_scalar_i64(bld *b, const char *name, int64_t v) { return b_const(b, name, ODRT_DT_INT64, 0, NULL, &v); }
ir_value *b_ints(bld *b, const char *name, int n, const int64_t *v) {
    int64_t d = n;
    return b_const(b, name, ODRT_DT_INT64, 1, &d, v);
}

ir_node *b_node(bld *b, const char *op, const char *domain, const char *name, int n_in, ir_value *const *in, int n_out) {
    if (!ok(b)) return NULL;
    for (int k = 0; k < n_in; k++)
        if (!in[k]) {
            if (ok(b)) b->rc = odrt_fail(ODRT_ERR_INVALID, "internal: missing input %d for %s", k, op);
            return NULL;
        }
    const char *nm = ir_unique_name(b->g, name);
    ir_node *n = nm ? ir_node_new(b->g, op, domain, nm, n_in, n_out) : NULL;
    if (!n) {
        fail_nomem(b);
        return NULL;
    }
    for (int k = 0; k < n_in; k++)
        if (!ir_node_set_input(n, k, in[k])) fail_nomem(b);
    for (int k = 0; k < n_out; k++) {
        char vn[600];
        snprintf(vn, sizeof vn, "%s:%d", nm, k);
        ir_value *v = ir_value_new(b->g, ir_unique_name(b->g, vn));
        if (!v) {
            fail_nomem(b);
            return NULL;
        }
        ir_node_set_output(n, k, v);
    }
    return n;
}

ir_value *b_op(bld *b, const char *op, const char *name, int n_in, ir_value *const *in) {
    ir_node *n = b_node(b, op, "", name, n_in, in, 1);
    return n ? n->out[0] : NULL;
}

ir_value *b_op1(bld *b, const char *op, const char *name, ir_value *x) { return b_op(b, op, name, 1, &x); }

ir_value *b_op2(bld *b, const char *op, const char *name, ir_value *x, ir_value *y) {
    ir_value *in[2] = {x, y};
    return b_op(b, op, name, 2, in);
}

ir_value *b_slice(bld *b, const char *name, ir_value *x, int64_t axis, int64_t start, int64_t end) {
    ir_value *in[4] = {x, b_ints(b, "odrt/slice_start", 1, &start), b_ints(b, "odrt/slice_end", 1, &end),
                       b_ints(b, "odrt/slice_axis", 1, &axis)};
    return b_op(b, "Slice", name, 4, in);
}

static ir_node *producer_of(ir_value *v) { return v ? v->producer : NULL; }

void b_attr_i(bld *b, ir_value *out, const char *name, int64_t v) {
    if (ok(b) && !ir_set_attr_int(producer_of(out), name, v)) fail_nomem(b);
}
void b_attr_f(bld *b, ir_value *out, const char *name, float v) {
    if (ok(b) && !ir_set_attr_float(producer_of(out), name, v)) fail_nomem(b);
}
void b_attr_s(bld *b, ir_value *out, const char *name, const char *v) {
    if (ok(b) && !ir_set_attr_str(producer_of(out), name, v)) fail_nomem(b);
}
void b_attr_ints(bld *b, ir_value *out, const char *name, int n, const int64_t *v) {
    if (ok(b) && !ir_set_attr_ints(producer_of(out), name, v, n)) fail_nomem(b);
}

void b_attr_floats(bld *b, ir_value *out, const char *name, int n, const float *v) {
    if (ok(b) && !ir_set_attr_floats(producer_of(out), name, v, n)) fail_nomem(b);
}

ir_value *b_transpose(bld *b, const char *name, ir_value *x, int rank, const int64_t *perm) {
    ir_value *y = b_op1(b, "Transpose", name, x);
    b_attr_ints(b, y, "perm", rank, perm);
    return y;
}

ir_value *b_cast(bld *b, const char *name, ir_value *x, int to) {
    ir_value *y = b_op1(b, "Cast", name, x);
    b_attr_i(b, y, "to", to);
    return y;
}
