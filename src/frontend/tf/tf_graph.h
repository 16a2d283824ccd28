/* A TensorFlow graph as the readers give it (TF.js model.json; GraphDef and SavedModel protobuf),
 * before lowering to the IR (tf_import.c). Everything lives in the target IR model's arena.
 *
 * Attributes reuse ir_attr: `type` and `b` and `i` -> IR_ATTR_INT (a type holds TensorFlow's
 * DataType number), `f` -> FLOAT, `s` -> STRING, `shape` -> INTS (dims, -1 unknown; i = 1 when the
 * rank is unknown), `list(i)`/`list(type)` -> INTS, `list(f)` -> FLOATS, `list(s)` -> STRINGS,
 * `tensor` -> TENSOR (odrt dtype), `func` -> STRING (the function's name). */
#ifndef ODRT_TF_GRAPH_H
#define ODRT_TF_GRAPH_H

#include "ir/ir.h"

/* TensorFlow's DataType numbers (types.proto: facts of the wire format) */
enum {
    TF_DT_FLOAT = 1, TF_DT_DOUBLE = 2, TF_DT_INT32 = 3, TF_DT_UINT8 = 4, TF_DT_INT16 = 5, TF_DT_INT8 = 6,
    TF_DT_STRING = 7, TF_DT_INT64 = 9, TF_DT_BOOL = 10, TF_DT_BFLOAT16 = 14, TF_DT_UINT16 = 17,
    TF_DT_HALF = 19, TF_DT_RESOURCE = 20, TF_DT_VARIANT = 21, TF_DT_UINT32 = 22, TF_DT_UINT64 = 23,
};
/* odrt dtype of a TensorFlow DataType (reference types, DT_*_REF = +100, count as the base); 0 if none */
int tf_dtype_to_odrt(int64_t tf);
/* "DT_FLOAT" -> 1; -1 unknown */
int tf_dtype_from_name(const char *s);

typedef struct tf_node {
    const char *name, *op;
    const char **in; /* data inputs: "node" or "node:k" (control inputs "^x" are dropped) */
    int n_in;
    ir_attr *attrs;
    int n_attrs;
    ir_tensor *value; /* Const: the tensor (weights resolved) */
    int frame;        /* while-loop frame index, -1 outside (tf_frames.c) */
    int mark;         /* scratch */
} tf_node;

typedef struct tf_sig {
    const char *key;    /* signature key (SavedModel), or the tensor name */
    const char *tensor; /* "node:k" */
} tf_sig;

/* A function of the graph's library (TF2: the SavedModel's calls, While/If bodies). Its nodes'
 * inputs are normalised to "node:k" (flat output index) or "arg" (an argument). */
typedef struct tf_function {
    const char *name;
    const char **args; /* input argument names */
    int n_args;
    const char **rets; /* per output argument: the tensor it returns */
    int n_rets;
    tf_node *nodes;
    int n_nodes;
    odrt_smap_t by_name;
    int on_stack; /* being lowered: a call to it again is recursion */
} tf_function;

/* a variable's value by the name a VarHandleOp shares (SavedModel: from the checkpoint bundle) */
typedef odrt_status_t (*tf_var_fn)(void *ctx, const char *shared_name, ir_tensor **out);

typedef struct tf_graph {
    ir_model *m; /* owns every allocation; the lowered IR goes into m->graph */
    tf_node *nodes;
    int n_nodes;
    odrt_smap_t by_name; /* node name -> tf_node* */
    tf_sig *inputs, *outputs;
    int n_inputs, n_outputs;
    tf_function *funcs;
    int n_funcs;
    odrt_smap_t fn_by_name;
    tf_var_fn var_value; /* NULL: a VarHandleOp is refused */
    void *var_ctx;
} tf_graph;

const ir_attr *tf_attr(const tf_node *n, const char *name);
int64_t tf_attr_i(const tf_node *n, const char *name, int64_t dflt);
float tf_attr_f(const tf_node *n, const char *name, float dflt);
/* string attribute as a NUL-terminated arena string, or dflt */
const char *tf_attr_s(const tf_node *n, const char *name, const char *dflt);

/* Index nodes by name (fails on a duplicate or an empty name). */
odrt_status_t tf_graph_index(tf_graph *g);
odrt_status_t tf_index_nodes(tf_node *nodes, int n, odrt_smap_t *by_name);
/* free the name maps (the graph's, the functions', the library's) */
void tf_graph_free_maps(tf_graph *g);
/* "node:k" of an input string ("node" -> k 0); node name in buf. -1 on a malformed index. */
int tf_split_input(const char *in, char *buf, size_t cap);

/* Lower g into g->m (a fresh model): the IR graph with ONNX ops (tf_import.c). */
odrt_status_t tf_lower_graph(tf_graph *g);

/* Readers. A TF.js model.json's bytes, read from `path` (its shards are beside it). The model's
 * SHA-256 covers the JSON and every shard. */
odrt_status_t tf_read_tfjs(const char *path, const void *json, size_t len, ir_model **out, char sha256_hex[65]);
/* The same from memory: the JSON, and the manifest's shards concatenated in its order. */
odrt_status_t tf_read_tfjs_buffer(const void *json, size_t json_len, const void *shards, size_t shards_len, ir_model **out,
                                  char sha256_hex[65]);

/* A frozen GraphDef (.pb): inputs are its Placeholders, outputs the Identity nodes nothing reads. */
odrt_status_t tf_read_graphdef(const char *path, ir_model **out, char sha256_hex[65]);
odrt_status_t tf_read_graphdef_buffer(const void *buf, size_t len, ir_model **out, char sha256_hex[65]);

/* A SavedModel directory: saved_model.pb (the serving_default signature of the "serve" graph, its
 * functions) and variables/ (the tensor bundle, crc32c checked). */
odrt_status_t tf_read_savedmodel(const char *dir, ir_model **out, char sha256_hex[65]);

#endif
