/* Lowering a tf_graph to the IR: internal API shared by tf_import.c (scopes, demand-driven
 * order), tf_frames.c (v1 while frames -> Loop) and the op tables (tf_ops_*.c). */
#ifndef ODRT_TF_LOWER_H
#define ODRT_TF_LOWER_H

#include "frontend/tf/tf_graph.h"
#include "ir/build.h"

#define TF_MAX_OUTPUTS 4096

/* A scope: where lowered nodes go and what TF tensors ("node:k") are bound to there. Lookups
 * walk to the parent; a frame scope builds (part of) a while loop's condition or body. */
typedef struct tf_scope {
    struct tf_scope *parent;
    ir_graph *g;
    odrt_smap_t vals; /* "node:k" -> ir_value* */
    odrt_smap_t busy; /* node name -> 1 while its inputs are being lowered (cycle check) */
    int frame;        /* -1: the root graph or a function's body */
    const tf_function *fn;  /* the function whose nodes this scope lowers (NULL: the graph's) */
    struct tf_scope *home;  /* the scope of that node table (frame scopes: the root) */
} tf_scope;

typedef struct tf_frame tf_frame;

typedef struct tf_ctx {
    tf_graph *tg;
    bld b;
    tf_scope root;
    tf_frame *frames;
    int n_frames;
    tf_scope *cur; /* the scope of the node being lowered */
    int depth;     /* nested function calls */
} tf_ctx;

/* A lowering: the node's data inputs resolved (in[k] for n->in[k]); set out[0..*n_out-1]. *n_out
 * starts at the number of outputs the graph reads (at least 1). b->g is the scope's graph. */
typedef odrt_status_t (*tf_lower_fn)(tf_ctx *c, const tf_node *n, ir_value **in, ir_value **out, int *n_out);
typedef struct tf_op_row {
    const char *op;
    tf_lower_fn fn;
} tf_op_row;
extern const tf_op_row tf_ops_math[];  /* tf_ops_math.c: elementwise, conv, pooling, resize */
extern const tf_op_row tf_ops_array[]; /* tf_ops_array.c: shapes, slices, gathers, NMS, lists */
const tf_op_row *tf_find_op(const char *op);

/* The IR value of TF tensor `key` ("node:k" or "node") seen from scope s, lowering its producer
 * (and what that needs) on demand. NULL with the error set on failure. */
ir_value *tf_resolve(tf_ctx *c, tf_scope *s, const char *key);
odrt_status_t tf_bind(tf_ctx *c, tf_scope *s, const char *node, int k, ir_value *v);
void tf_scope_init(tf_scope *s, tf_scope *parent, ir_graph *g, int frame);
void tf_scope_free(tf_scope *s);
const tf_node *tf_producer(const tf_ctx *c, const char *key, int *k); /* in the graph's node table */
const tf_node *tf_producer_in(const tf_ctx *c, const tf_scope *s, const char *key, int *k); /* in s's */
/* Lower function fname into graph g with its arguments bound to args (NULL: unbound); its
 * results in rets (n_rets in: room; out: count). */
odrt_status_t tf_call(tf_ctx *c, const char *fname, ir_value *const *args, int n_args, ir_graph *g, ir_value **rets, int *n_rets);
extern const tf_op_row tf_ops_calls[]; /* tf_calls.c: calls, variables, While, If */

/* Frames: find every v1 while frame (Enter ... Exit) and mark its nodes (fails on nesting). */
odrt_status_t tf_frames_find(tf_ctx *c);
/* Lower frame f as one ONNX Loop in the root scope, binding its Exit nodes. */
odrt_status_t tf_frame_lower(tf_ctx *c, int f);
void tf_frames_free(tf_ctx *c);

/* The ONNX Loop of a while loop (tf_import.c): a Loop node in P with its body graph (inputs iter,
 * cond_in); a carried variable (Loop input init, body input named name); then the body's outputs
 * (cond, the carried nx[j], the scan items nx[j] where scan[j]) and the body attribute. */
odrt_status_t tf_loop_new(tf_ctx *c, ir_graph *P, const char *name, ir_value *cond0, int n_car, int n_scan, ir_node **loop,
                          ir_graph **body);
ir_value *tf_loop_carry(ir_node *loop, ir_graph *body, const char *name, ir_value *init);
odrt_status_t tf_loop_finish(tf_ctx *c, ir_node *loop, ir_graph *body, ir_value *cond, ir_value *const *nx, const unsigned char *scan,
                             int n);
/* v itself when g's nodes make it, else an Identity in g (a graph output must be made in it) */
ir_value *tf_made_in(tf_ctx *c, ir_graph *g, ir_value *v);

/* The IR cleanup after lowering (tf_cleanup.c). */
odrt_status_t tf_cleanup(ir_model *m);

/* ---- helpers for lowerings ---- */
odrt_status_t tf_refuse(const tf_node *n, const char *fmt, ...) ODRT_PRINTF(2, 3);
/* int64 values of a constant int32/int64 IR value (NULL when not constant); *n its count */
const ir_tensor *tf_const_of(const ir_value *v);
int tf_const_ints(const ir_value *v, int64_t *out, int max); /* count, -1 if not constant/too long */
ir_value *tf_i64(tf_ctx *c, ir_value *v); /* v cast to int64 unless it is */
ir_value *tf_nhwc_to_nchw(tf_ctx *c, ir_value *x);
ir_value *tf_nchw_to_nhwc(tf_ctx *c, ir_value *x);
void tf_set_type(ir_value *v, int dtype, int rank, const int64_t *dims);

#endif
