/* Small graph-building helpers for rewrites. Errors are sticky: once b->rc != ODRT_OK every
 * helper returns NULL and the first error stays in odrt_last_error(). */
#ifndef ODRT_CONVERT_BUILD_H
#define ODRT_CONVERT_BUILD_H

#include "ir/ir.h"

typedef struct {
    ir_model *m;
    ir_graph *g;
    odrt_status_t rc;
} bld;

ir_value *b_const(bld *b, const char *name, int dtype, int rank, const int64_t *dims, const void *data);
ir_value *b_scalar_f(bld *b, const char *name, float v);
ir_value *b_scalar_i64(bld *b, const char *name, int64_t v);
ir_value *b_ints(bld *b, const char *name, int n, const int64_t *v); /* 1-D int64 */
/* New node with n_in inputs and n_out fresh outputs named name:k; returns the node (outputs in ->out). */
ir_node *b_node(bld *b, const char *op, const char *domain, const char *name, int n_in, ir_value *const *in, int n_out);
/* One-output node. */
ir_value *b_op(bld *b, const char *op, const char *name, int n_in, ir_value *const *in);
ir_value *b_op1(bld *b, const char *op, const char *name, ir_value *x);
ir_value *b_op2(bld *b, const char *op, const char *name, ir_value *x, ir_value *y);
ir_value *b_slice(bld *b, const char *name, ir_value *x, int64_t axis, int64_t start, int64_t end);
ir_value *b_transpose(bld *b, const char *name, ir_value *x, int rank, const int64_t *perm);
ir_value *b_cast(bld *b, const char *name, ir_value *x, int to);
void b_attr_i(bld *b, ir_value *out, const char *name, int64_t v);
void b_attr_f(bld *b, ir_value *out, const char *name, float v);
void b_attr_s(bld *b, ir_value *out, const char *name, const char *v);
void b_attr_ints(bld *b, ir_value *out, const char *name, int n, const int64_t *v);
void b_attr_floats(bld *b, ir_value *out, const char *name, int n, const float *v);

#endif
