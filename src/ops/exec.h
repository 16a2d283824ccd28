/* CPU reference executor: internal API shared by the scheduler and the kernels. */
#ifndef ODRT_EXEC_H
#define ODRT_EXEC_H

#include "ir/ir.h"
#include "ops/shape_rules.h"

/* A runtime value: a dense tensor or a sequence of tensors. */
typedef struct ex_val {
    int is_seq;
    odrt_tensor_t t;  /* tensor values; t.data owned unless borrowed */
    int borrowed;     /* data points into the model (initializers) */
    struct ex_val **items; /* sequence items (owned) */
    int n_items;
} ex_val;

typedef struct ex_frame ex_frame;
typedef struct ex_session ex_session;

typedef struct ex_node_ctx {
    ex_session *s;
    ex_frame *frame;
    const ir_node *node;
    int64_t opset; /* opset of the node's domain */
    ex_val **in;   /* NULL for omitted inputs */
    int n_in;
    ex_val **out;  /* kernels set out[k] (may leave NULL for omitted outputs) */
    int n_out;
} ex_node_ctx;

typedef odrt_status_t (*ex_kernel_fn)(ex_node_ctx *c);

/* The operator registry: one row per op, in the kernel table of its family (k_*.c). Adding an op
 * is one row here (reference kernel, shape rule) plus a test row; an engine that lowers it
 * natively says so in its own table (src/engine/lower.c). */
typedef struct ex_kernel {
    const char *domain; /* "" = ai.onnx */
    const char *op;
    ex_kernel_fn fn;     /* reference kernel (the oracle) */
    ir_shape_rule shape; /* shape inference rule (src/ops/shape.c), NULL: outputs stay unknown */
} ex_kernel;

/* Kernel tables (one per source file), NULL-op terminated. */
extern const ex_kernel ex_kernels_elementwise[];
extern const ex_kernel ex_kernels_shape[];
extern const ex_kernel ex_kernels_nn[];
extern const ex_kernel ex_kernels_reduce[];
extern const ex_kernel ex_kernels_nms[];
extern const ex_kernel ex_kernels_resize[];
extern const ex_kernel ex_kernels_control[];
extern const ex_kernel ex_kernels_trt_nms[];
extern const ex_kernel ex_kernels_crop[];
extern const ex_kernel ex_kernels_quant[];
/* the mode code (src/crop_coord.h) of odrt.CropAndResize's mode attribute, -1 unknown */
int ex_crop_mode_code(const char *s);

ex_kernel_fn ex_find_kernel(const char *domain, const char *op);
/* the registry row of an op, or NULL */
const ex_kernel *ex_find_op(const char *domain, const char *op);

/* ---- values ---- */
ex_val *ex_val_new_tensor(odrt_dtype_t dt, int rank, const int64_t *dims); /* zeroed; NULL + error on fail */
ex_val *ex_val_new_seq(void);
void ex_val_free(ex_val *v);
ex_val *ex_val_clone(const ex_val *v);
/* Allocate output k of c. */
odrt_status_t ex_out(ex_node_ctx *c, int k, odrt_dtype_t dt, int rank, const int64_t *dims);
static inline int64_t ex_numel(const ex_val *v) { return odrt_tensor_numel(&v->t); }

/* ---- helpers for kernels ---- */
odrt_status_t ex_fail_node(const ex_node_ctx *c, odrt_status_t s, const char *fmt, ...) ODRT_PRINTF(3, 4);
/* input k must be present, a tensor */
odrt_status_t ex_need(const ex_node_ctx *c, int k);
/* read a whole int tensor (int32/int64) as int64 values; caller frees *out */
odrt_status_t ex_read_ints(const ex_node_ctx *c, int k, int64_t **out, int64_t *n);
/* scalar of input k converted to double / int64 */
double ex_scalar_f(const ex_val *v);
int64_t ex_scalar_i(const ex_val *v);
/* element i of a numeric tensor as double, write double as dtype */
double ex_get_f(const odrt_tensor_t *t, int64_t i);
void ex_set_f(odrt_tensor_t *t, int64_t i, double x);
int64_t ex_get_i(const odrt_tensor_t *t, int64_t i);
uint16_t ex_f32_to_f16(float f);
float ex_f16_to_f32(uint16_t h);
/* normalise axis into [0, rank) or fail */
odrt_status_t ex_axis(const ex_node_ctx *c, int64_t axis, int rank, int *out);
/* multidirectional broadcast of shapes a and b into out */
odrt_status_t ex_broadcast(const ex_node_ctx *c, int ra, const int64_t *da, int rb, const int64_t *db, int *ro,
                           int64_t *dout);
/* strides (in elements) of `in` broadcast to output shape (rank ro, dims do); 0 for broadcast dims */
void ex_bcast_strides(int ri, const int64_t *di, int ro, const int64_t *dout, int64_t *strides);

/* (value, index) pairs sorted by value, ties by lower index first: TopK and every NMS use it */
typedef struct ex_scored {
    double v;
    int64_t i;
} ex_scored;
int ex_scored_desc(const void *a, const void *b);
int ex_scored_asc(const void *a, const void *b);

/* Run node n of graph g outside a session (partial evaluation): env holds g's computed values by
 * value id, so that n's sub-graphs (If/Loop bodies) can read them; outs receive new values. */
odrt_status_t ex_run_node_in_scope(const ir_model *m, const ir_graph *g, const ir_node *n, ex_val **env, ex_val **ins,
                                   ex_val **outs);
/* A session: each graph of m planned once (exec.c). m must outlive it. */
odrt_status_t ex_session_new(const ir_model *m, ex_session **out);
void ex_session_free(ex_session *s);
const ir_model *ex_session_model(const ex_session *s);
/* run graph g of s's model (parent: the enclosing frame of a sub-graph, NULL for the main graph);
 * inputs borrowed, outputs[k] receive new values (caller frees) */
odrt_status_t ex_run_graph(ex_session *s, const ir_graph *g, ex_frame *parent, ex_val **inputs, int n_inputs, ex_val **outputs);
/* run a sub-graph with the given inputs; outputs[k] receive new values (caller frees) */
odrt_status_t ex_run_subgraph(ex_node_ctx *c, const ir_graph *g, ex_val **inputs, int n_inputs, ex_val **outputs);

/* Hot float kernels get an AVX2+FMA clone chosen at run time on x86-64 (GCC/clang target_clones);
 * other targets compile them once for the baseline ISA. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define EX_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define EX_HOT
#endif

/* float GEMM: C[M,N] = alpha*A[M,K]*B[K,N] + beta*C, row-major with leading dims */
void ex_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif
