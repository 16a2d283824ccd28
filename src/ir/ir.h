/* The odrt graph IR. No protobuf type appears here: importers and exporters translate.
 *
 * A model owns one arena; every graph, node, value, attribute and constant tensor lives in it and
 * is freed with the model. Growable arrays (graph node lists, value use lists) are malloc'ed and
 * released by ir_model_free.
 *
 * Values are SSA: one producer (a node output, a graph input, or an initializer), any number of
 * uses. A node in a sub-graph may use a value of an enclosing graph (outer-scope reference); the
 * use is recorded on that value like any other.
 */
#ifndef ODRT_IR_H
#define ODRT_IR_H

#include <stddef.h>
#include <stdint.h>

#include "odrt.h"
#include "util.h"

typedef struct ir_graph ir_graph;
typedef struct ir_node ir_node;
typedef struct ir_value ir_value;

typedef enum { IR_TYPE_NONE = 0, IR_TYPE_TENSOR, IR_TYPE_SEQUENCE, IR_TYPE_OPTIONAL, IR_TYPE_MAP,
               IR_TYPE_SPARSE_TENSOR } ir_type_kind;

typedef struct ir_dim {
    int64_t value;     /* >= 0 known, -1 unknown */
    const char *param; /* symbolic name (dim_param) or NULL */
    const char *denotation;
} ir_dim;

typedef struct ir_type {
    ir_type_kind kind;
    int dtype;     /* tensor/sparse element type; map key type */
    int rank;      /* -1: shape absent */
    ir_dim *dims;
    struct ir_type *elem; /* sequence/optional element, map value */
    const char *denotation;
} ir_type;

typedef struct ir_tensor {
    int dtype;
    int rank;
    int64_t *dims;
    int64_t numel;
    void *data;          /* numel * dtype size bytes; for strings: const char *[numel] */
    size_t nbytes;
    size_t *str_lens;    /* strings only */
    const char *name;
    const char *doc;
} ir_tensor;

typedef enum {
    IR_ATTR_UNDEFINED = 0, IR_ATTR_FLOAT = 1, IR_ATTR_INT = 2, IR_ATTR_STRING = 3, IR_ATTR_TENSOR = 4,
    IR_ATTR_GRAPH = 5, IR_ATTR_FLOATS = 6, IR_ATTR_INTS = 7, IR_ATTR_STRINGS = 8, IR_ATTR_TENSORS = 9,
    IR_ATTR_GRAPHS = 10, IR_ATTR_SPARSE_TENSOR = 11, IR_ATTR_SPARSE_TENSORS = 12,
    IR_ATTR_TYPE_PROTO = 13, IR_ATTR_TYPE_PROTOS = 14,
} ir_attr_type;

typedef struct ir_attr {
    const char *name;
    const char *ref_attr_name;
    const char *doc;
    ir_attr_type type;
    float f;
    int64_t i;
    const char *s; /* not NUL-safe: use s_len */
    size_t s_len;
    ir_tensor *t;
    ir_graph *g;
    ir_type *tp;
    int n; /* count for list kinds */
    float *floats;
    int64_t *ints;
    const char **strings;
    size_t *str_lens;
    ir_tensor **tensors;
    ir_graph **graphs;
    ir_type **tps;
} ir_attr;

typedef struct ir_use {
    ir_node *node;
    int index;
} ir_use;

typedef struct ir_kv {
    const char *key, *value;
} ir_kv;

enum { IR_VAL_INPUT = 1, IR_VAL_OUTPUT = 2, IR_VAL_VALUE_INFO = 4 };

struct ir_value {
    const char *name;
    ir_type type;
    ir_graph *graph;   /* the scope that defines it */
    ir_node *producer; /* NULL for graph inputs and initializers */
    int prod_index;
    ir_tensor *init;   /* initializer data, or NULL */
    unsigned flags;
    const char *doc;
    ir_use *uses;
    size_t n_uses, cap_uses;
    int id; /* index in graph->values */
};

struct ir_node {
    const char *name, *op, *domain, *doc, *overload;
    ir_value **in; /* NULL entries: omitted optional inputs */
    int n_in;
    ir_value **out; /* NULL entries: omitted optional outputs */
    int n_out;
    ir_attr *attrs;
    int n_attrs;
    ir_kv *meta;
    int n_meta;
    ir_graph *graph;
    int dead; /* removed by surgery; skipped and dropped by cleanup */
    int mark; /* scratch for passes */
};

struct ir_graph {
    struct ir_model *model;
    int index; /* position in model->all_graphs */
    ir_graph *parent;
    ir_node *owner; /* node whose attribute holds this graph (sub-graphs) */
    const char *name, *doc;
    ir_node **nodes;
    size_t n_nodes, cap_nodes;
    ir_value **values; /* every value defined in this scope */
    size_t n_values, cap_values;
    ir_value **inputs;
    int n_inputs;
    ir_value **outputs;
    int n_outputs;
    ir_value **inits; /* initializers in file order */
    size_t n_inits, cap_inits;
    ir_value **vinfo; /* values listed in value_info, in order */
    size_t n_vinfo, cap_vinfo;
    odrt_smap_t names;
    odrt_smap_t node_names; /* node name -> the newest node given it (ir_unique_name's fast check) */
    ir_kv *meta;
    int n_meta;
};

typedef struct ir_opset {
    const char *domain;
    int64_t version;
} ir_opset;

typedef struct ir_model {
    odrt_arena_t *arena;
    int64_t ir_version;
    ir_opset *opsets;
    int n_opsets;
    const char *producer_name, *producer_version, *domain, *doc;
    int64_t model_version;
    ir_kv *meta;
    int n_meta;
    ir_graph *graph;
    ir_graph **all_graphs; /* every graph incl. sub-graphs, for freeing/walking */
    size_t n_graphs, cap_graphs;
} ir_model;

/* ---- construction ---- */
ir_model *ir_model_new(void);
void ir_model_free(ir_model *m);
ir_graph *ir_graph_new(ir_model *m, ir_graph *parent, ir_node *owner);
/* New value in g's scope. Fails (NULL, error set) if the name is already defined there. */
ir_value *ir_value_new(ir_graph *g, const char *name);
/* Look up a name in g's scope, then enclosing scopes. */
ir_value *ir_graph_lookup(const ir_graph *g, const char *name);
/* New node appended to g. Inputs/outputs arrays allocated, filled with NULL. */
ir_node *ir_node_new(ir_graph *g, const char *op, const char *domain, const char *name, int n_in,
                     int n_out);
/* Connect: set node input k (records the use); v may be NULL. */
int ir_node_set_input(ir_node *n, int k, ir_value *v);
/* Set node output k to v (v must have no producer). */
void ir_node_set_output(ir_node *n, int k, ir_value *v);
int ir_value_add_use(ir_value *v, ir_node *n, int k);
void ir_value_remove_use(ir_value *v, ir_node *n, int k);
ir_tensor *ir_tensor_new(ir_model *m, int dtype, int rank, const int64_t *dims); /* zeroed data */
/* Add an initializer holding t to g (name unique in scope). */
ir_value *ir_graph_add_const(ir_graph *g, const char *name, ir_tensor *t);

/* Append an attribute (copied; strings/arrays must live in the model arena). */
int ir_node_add_attr(ir_node *n, const ir_attr *a);
/* Attribute constructors; values copied into the model arena. 0 on OOM. */
int ir_set_attr_int(ir_node *n, const char *name, int64_t v);
int ir_set_attr_float(ir_node *n, const char *name, float v);
int ir_set_attr_str(ir_node *n, const char *name, const char *v);
int ir_set_attr_ints(ir_node *n, const char *name, const int64_t *v, int cnt);
int ir_set_attr_floats(ir_node *n, const char *name, const float *v, int cnt);

/* ---- queries ---- */
const ir_attr *ir_node_attr(const ir_node *n, const char *name);
/* the attribute named name among n attributes (any attribute list: a node's, a TF node's) */
const ir_attr *ir_attr_find(const ir_attr *attrs, int n, const char *name);
int64_t ir_attr_as_int(const ir_attr *a, int64_t dflt);   /* a's int, or dflt when a is NULL or not an int */
float ir_attr_as_float(const ir_attr *a, float dflt);
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt);
float ir_attr_float(const ir_node *n, const char *name, float dflt);
const char *ir_attr_str(const ir_node *n, const char *name, const char *dflt); /* NUL-terminated */
int64_t ir_model_opset(const ir_model *m, const char *domain); /* -1 if absent */
ir_node *ir_graph_find_node(const ir_graph *g, const char *name);
/* Append nodes of op (domain "" = ai.onnx) in g to out (up to max); returns total count. */
size_t ir_graph_find_op(const ir_graph *g, const char *op, ir_node **out, size_t max);
/* fn on every live node of g and of its sub-graphs (depth first, in node order) until fn returns
 * non-zero; returns that value, or 0 */
int ir_graph_visit(const ir_graph *g, int (*fn)(const ir_node *n, void *ctx), void *ctx);
int ir_op_is(const ir_node *n, const char *op); /* ONNX domain and op name */

/* ---- surgery ---- */
/* Rename v (its scope must not define new_name). */
odrt_status_t ir_value_rename(ir_value *v, const char *new_name);
/* Forget inferred types of every value that is neither a graph input nor an initializer. */
void ir_graph_clear_types(ir_graph *g);
/* Every use of `from` now uses `to` (graph outputs included). */
odrt_status_t ir_value_replace_uses(ir_value *from, ir_value *to);
/* Detach node: drop its input uses and mark it dead; outputs lose their producer. */
void ir_node_remove(ir_node *n);
/* Remove nodes that no graph output depends on, and unused initializers; compact arrays. */
void ir_graph_cleanup(ir_graph *g);
/* Topologically sort g's nodes (stable for already sorted graphs). Fails on cycles. */
odrt_status_t ir_graph_toposort(ir_graph *g);
/* Structural validation of g and sub-graphs: producers exist, no cycles, outputs defined. */
odrt_status_t ir_graph_validate(ir_graph *g);

/* Call fn(v, ctx) for every value of scope g that n reads, directly or from its sub-graphs. */
void ir_node_reads(const ir_node *n, const ir_graph *g, void (*fn)(ir_value *v, void *ctx), void *ctx);

/* Every graph in the model (main first), and every node count including sub-graphs. */
size_t ir_model_count_nodes(const ir_model *m);

/* Newest ai.onnx opset odrt knows (that of the ONNX release its node tests come from). */
#define ODRT_MAX_OPSET 28
/* Refuse, with a message, what no executor can run: no graph outputs, an ai.onnx opset newer than
 * ODRT_MAX_OPSET. (inspect still reports such models.) */
odrt_status_t ir_model_check_runnable(const ir_model *m);

/* Unique value name in g's scope: base, base_1, base_2, ... (arena string). */
const char *ir_unique_name(ir_graph *g, const char *base);
/* Merge chains of Transpose nodes; drop identity Transposes. Returns nodes removed. */
int ir_fold_transposes(ir_graph *g);

/* ---- shapes ---- */
/* Infer tensor types/shapes of node outputs where missing or less precise. Returns count of
 * values whose type became more precise. */
int ir_infer_shapes(ir_model *m);

/* dtype helpers */
size_t ir_dtype_size(int dtype);
int64_t ir_type_numel(const ir_type *t); /* -1 if unknown */

#endif
