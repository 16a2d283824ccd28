/* odrt convert --precision fp16: a strongly typed FP16 ONNX (TensorRT 10/11 take precision from
 * the ONNX itself). The network -- every node whose float32 output flows, through data inputs, into
 * the detection heads -- computes in float16: its float32 constants become float16 copies, its Casts
 * to float cast to float16, float32 graph inputs it reads are cast to float16 on the way in. Values it
 * hands to the rest (box decode, scores, NMS: TF's arithmetic, kept in float32 where thresholds and
 * IoUs are decided) are cast back to float32. Inputs that are shapes, sizes, scales or indices (a
 * Resize's sizes, a Reshape's shape, ...) are not data and keep their types. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"
#include "ops/fold.h"
#include "ir/build.h"
#include "passes/convert.h"
#include "passes/half.h"

int tfod_data_input(const ir_node *n, int k) {
    static const struct {
        const char *op;
        unsigned not_data; /* bit k: input k is not data */
    } ops[] = {
        {"Resize", 0xE},    {"Upsample", 0x2},  {"Reshape", 0x2},         {"Expand", 0x2},   {"Tile", 0x2},
        {"Slice", 0x1E},    {"Pad", 0xA},       {"Gather", 0x2},          {"GatherElements", 0x2}, {"GatherND", 0x2},
        {"Squeeze", 0x2},   {"Unsqueeze", 0x2}, {"Split", 0x2},           {"TopK", 0x2},     {"CumSum", 0x2},
        {"ReduceMean", 0x2}, {"ReduceSum", 0x2}, {"ReduceMax", 0x2},      {"ReduceMin", 0x2}, {"ConstantOfShape", 0x1},
        {"OneHot", 0x3},    {"Range", 0x7},     {"ScatterND", 0x2},       {"ScatterElements", 0x2},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(n->op, ops[i].op)) return !(ops[i].not_data >> k & 1);
    return 1;
}

static int is_f32(const ir_value *v) { return v && (v->init ? v->init->dtype : v->type.dtype) == ODRT_DT_FLOAT; }

static ir_tensor *to_half(ir_model *m, const ir_tensor *t) {
    ir_tensor *h = ir_tensor_new(m, ODRT_DT_FLOAT16, t->rank, t->dims);
    if (!h) return NULL;
    const float *s = t->data;
    uint16_t *d = h->data;
    for (int64_t i = 0; i < t->numel; i++) d[i] = ex_f32_to_f16(s[i]);
    return h;
}

odrt_status_t tfod_net_nodes(ir_graph *g, ir_value *const *heads, int n_heads, char *in_net) {
    size_t nv = g->n_values;
    ir_value **stack = malloc(sizeof(ir_value *) * (nv + 1));
    char *seen = calloc(nv + 1, 1);
    odrt_status_t rc = stack && seen ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    size_t sp = 0;
    for (int i = 0; rc == ODRT_OK && i < n_heads; i++) {
        if (!heads[i] || !heads[i]->producer || heads[i]->producer->dead)
            rc = odrt_fail(ODRT_ERR_NOT_FOUND, "convert: the detection heads were not found after the rewrite");
        else if (!seen[heads[i]->id]) seen[heads[i]->id] = 1, stack[sp++] = heads[i];
    }
    for (size_t i = 0; i < g->n_nodes; i++) g->nodes[i]->mark = (int)i, in_net[i] = 0;
    while (rc == ODRT_OK && sp) {
        ir_value *v = stack[--sp];
        ir_node *n = v->producer;
        if (!n || in_net[n->mark]) continue;
        in_net[n->mark] = 1;
        for (int k = 0; k < n->n_in; k++) {
            ir_value *x = n->in[k];
            if (x && tfod_data_input(n, k) && is_f32(x) && x->producer && !seen[x->id]) seen[x->id] = 1, stack[sp++] = x;
        }
    }
    free(stack), free(seen);
    return rc;
}

/* x's twin in another type, made once (cache[x->id]): a float16 copy of a float32 constant, or a Cast
 * of x to `to` named after x with `suffix`; NULL when out of memory */
static ir_value *twin(ir_model *m, ir_value *x, int to, const char *suffix, ir_value **cache) {
    if (cache[x->id]) return cache[x->id];
    char name[512];
    snprintf(name, sizeof name, "%s/%s", x->name, suffix);
    ir_value *y;
    if (x->init) {
        ir_tensor *t = to_half(m, x->init);
        y = t ? ir_graph_add_const(m->graph, ir_unique_name(m->graph, name), t) : NULL;
    } else {
        bld b = {m, m->graph, ODRT_OK};
        y = b_cast(&b, name, x, to);
    }
    return cache[x->id] = y;
}

odrt_status_t tfod_to_half(ir_model *m, ir_value *const *heads, int n_heads, int *n_half) {
    ir_graph *g = m->graph;
    size_t nv = g->n_values;
    char *in_net = calloc(g->n_nodes + 1, 1);
    ir_value **half_of = calloc(nv + 1, sizeof(ir_value *)); /* a float32 value outside the net -> its float16 twin */
    ir_value **f32_of = calloc(nv + 1, sizeof(ir_value *));  /* a net value -> its float32 cast, for the rest */
    odrt_status_t rc = in_net && half_of && f32_of ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    *n_half = 0;
    /* the net: backwards from the heads through float32 data inputs */
    if (rc == ODRT_OK) rc = tfod_net_nodes(g, heads, n_heads, in_net);
    /* the net's nodes: float16 constants and inputs, float16 Casts and Constants */
    size_t n_nodes = g->n_nodes;
    for (size_t i = 0; rc == ODRT_OK && i < n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || !in_net[i]) continue;
        (*n_half)++;
        if (!strcmp(n->op, "Cast") && ir_attr_int(n, "to", 0) == ODRT_DT_FLOAT && !ir_set_attr_int(n, "to", ODRT_DT_FLOAT16))
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (int a = 0; a < n->n_attrs; a++) /* Constant / ConstantOfShape values */
            if (n->attrs[a].type == IR_ATTR_TENSOR && n->attrs[a].t && n->attrs[a].t->dtype == ODRT_DT_FLOAT &&
                (!strcmp(n->op, "Constant") || !strcmp(n->op, "ConstantOfShape"))) {
                ir_tensor *h = to_half(m, n->attrs[a].t);
                if (!h) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                else n->attrs[a].t = h;
            }
        for (int k = 0; rc == ODRT_OK && k < n->n_in; k++) {
            ir_value *x = n->in[k];
            if (!x || !tfod_data_input(n, k) || !is_f32(x) || (x->producer && in_net[x->producer->mark])) continue;
            ir_value *h = twin(m, x, ODRT_DT_FLOAT16, "fp16", half_of); /* a float32 constant or graph input */
            if (!h || !ir_node_set_input(n, k, h)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    }
    /* net values the rest reads (heads, and any other): cast back to float32 for those readers */
    for (size_t i = 0; rc == ODRT_OK && i < n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || in_net[i] || !strcmp(n->op, "Shape") || !strcmp(n->op, "Size")) continue;
        for (int k = 0; rc == ODRT_OK && k < n->n_in; k++) {
            ir_value *x = n->in[k];
            if (!x || !x->producer || x->producer->dead || !in_net[x->producer->mark] || x->id >= (int)nv) continue;
            if (!is_f32(x)) continue; /* (net values keep their float32 types until convert infers them again) */
            ir_value *y = twin(m, x, ODRT_DT_FLOAT, "fp32", f32_of);
            if (!y || !ir_node_set_input(n, k, y)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    }
    free(in_net), free(half_of), free(f32_of);
    if (rc != ODRT_OK) return rc;
    return ir_graph_toposort(g);
}
