/* Frozen TensorFlow GraphDef (.pb) -> tf_graph, lowered like every TensorFlow graph (tf_import.c).
 * A frozen graph has no signature: its inputs are the Placeholders, its outputs the Identity nodes
 * nothing reads (else every node nothing reads), in name order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sha2.h>

#include "frontend/pb_depth.h"
#include "frontend/tf/tf_graph.h"
#include "frontend/tf/tf_pb.h"

#define MAX_GRAPHDEF_BYTES ((size_t)2 << 30) /* protobuf's own limit */

typedef struct {
    tf_graph *g;
    odrt_status_t rc;
} rd;

static void *alloc(rd *r, size_t n) {
    void *p = odrt_arena_alloc(r->g->m->arena, n ? n : 1);
    if (!p) {
        if (r->rc == ODRT_OK) r->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory reading the GraphDef");
        return NULL;
    }
    memset(p, 0, n ? n : 1);
    return p;
}

static const char *sdup(rd *r, const char *s) {
    char *d = alloc(r, strlen(s ? s : "") + 1);
    if (d) strcpy(d, s ? s : "");
    return d;
}

static const char *bdup(rd *r, ProtobufCBinaryData b, size_t *len) {
    char *d = alloc(r, b.len + 1);
    if (d && b.len) memcpy(d, b.data, b.len);
    *len = b.len;
    return d;
}

/* a TensorProto's values: tensor_content, or the typed list (the last value repeats) */
static ir_tensor *tensor(rd *r, const OdrtTf__TensorProto *tp, const char **why) {
    int dt = tf_dtype_to_odrt(tp->dtype);
    if (!dt || dt == ODRT_DT_STRING) return *why = "a dtype odrt does not read", NULL;
    int64_t dims[64];
    int rank = 0;
    if (tp->tensor_shape) {
        if (tp->tensor_shape->unknown_rank || tp->tensor_shape->n_dim > 64) return *why = "an unknown or too large rank", NULL;
        for (size_t i = 0; i < tp->tensor_shape->n_dim; i++) {
            dims[rank] = tp->tensor_shape->dim[i]->size;
            if (dims[rank++] < 0) return *why = "an unknown dim", NULL;
        }
    }
    ir_tensor *t = ir_tensor_new(r->g->m, dt, rank, dims);
    if (!t) return *why = "too many elements", NULL;
    if (tp->tensor_content.len) {
        if (tp->tensor_content.len != t->nbytes) return *why = "content that does not match its shape", NULL;
        memcpy(t->data, tp->tensor_content.data, t->nbytes);
        return t;
    }
    size_t n = dt == ODRT_DT_FLOAT ? tp->n_float_val : dt == ODRT_DT_DOUBLE ? tp->n_double_val
             : dt == ODRT_DT_INT64 ? tp->n_int64_val : dt == ODRT_DT_BOOL ? tp->n_bool_val
             : dt == ODRT_DT_FLOAT16 || dt == ODRT_DT_BFLOAT16 ? tp->n_half_val : tp->n_int_val;
    if (n > (size_t)t->numel) return *why = "more values than its shape holds", NULL;
    if (!n) return t; /* zeros */
    size_t es = ir_dtype_size(dt);
    for (int64_t i = 0; i < t->numel; i++) {
        size_t k = (size_t)i < n ? (size_t)i : n - 1;
        uint8_t *dst = (uint8_t *)t->data + (size_t)i * es;
        switch (dt) {
        case ODRT_DT_FLOAT: memcpy(dst, &tp->float_val[k], 4); break;
        case ODRT_DT_DOUBLE: memcpy(dst, &tp->double_val[k], 8); break;
        case ODRT_DT_INT64: memcpy(dst, &tp->int64_val[k], 8); break;
        case ODRT_DT_BOOL: *dst = tp->bool_val[k] != 0; break;
        case ODRT_DT_FLOAT16: case ODRT_DT_BFLOAT16: case ODRT_DT_UINT16: case ODRT_DT_INT16: {
            uint16_t h = (uint16_t)(dt == ODRT_DT_FLOAT16 || dt == ODRT_DT_BFLOAT16 ? tp->half_val[k] : tp->int_val[k]);
            memcpy(dst, &h, 2);
            break;
        }
        case ODRT_DT_INT32: case ODRT_DT_UINT32: memcpy(dst, &tp->int_val[k], 4); break;
        case ODRT_DT_UINT8: case ODRT_DT_INT8: *dst = (uint8_t)tp->int_val[k]; break;
        default: return *why = "a dtype odrt does not read", NULL;
        }
    }
    return t;
}

static int shape_attr(rd *r, const OdrtTf__TensorShapeProto *s, ir_attr *a) {
    a->type = IR_ATTR_INTS;
    if (!s) return 1;
    if (s->unknown_rank) return a->i = 1, 1;
    if (s->n_dim > 64) return 0;
    if (!(a->ints = alloc(r, sizeof(int64_t) * (s->n_dim + 1)))) return 0;
    for (size_t i = 0; i < s->n_dim; i++) a->ints[i] = s->dim[i]->size < -1 ? -1 : s->dim[i]->size;
    a->n = (int)s->n_dim;
    return 1;
}

static int attr(rd *r, const char *name, const OdrtTf__AttrValue *v, ir_attr *a) {
    memset(a, 0, sizeof *a);
    if (!(a->name = sdup(r, name)) || !v) return a->name != NULL;
    const char *why = NULL;
    switch (v->value_case) {
    case ODRT_TF__ATTR_VALUE__VALUE_S: a->type = IR_ATTR_STRING, a->s = bdup(r, v->s, &a->s_len); return a->s != NULL;
    case ODRT_TF__ATTR_VALUE__VALUE_I: a->type = IR_ATTR_INT, a->i = v->i; return 1;
    case ODRT_TF__ATTR_VALUE__VALUE_B: a->type = IR_ATTR_INT, a->i = v->b; return 1;
    case ODRT_TF__ATTR_VALUE__VALUE_TYPE: a->type = IR_ATTR_INT, a->i = v->type; return 1;
    case ODRT_TF__ATTR_VALUE__VALUE_F: a->type = IR_ATTR_FLOAT, a->f = v->f; return 1;
    case ODRT_TF__ATTR_VALUE__VALUE_SHAPE: return shape_attr(r, v->shape, a);
    case ODRT_TF__ATTR_VALUE__VALUE_TENSOR:
        a->type = IR_ATTR_TENSOR;
        a->t = v->tensor ? tensor(r, v->tensor, &why) : NULL;
        if (!a->t) a->type = IR_ATTR_UNDEFINED, a->s = why; /* refused if a lowering reads it */
        return r->rc == ODRT_OK;
    case ODRT_TF__ATTR_VALUE__VALUE_FUNC:
        a->type = IR_ATTR_STRING, a->s = sdup(r, v->func ? v->func->name : "");
        a->s_len = a->s ? strlen(a->s) : 0;
        return a->s != NULL;
    case ODRT_TF__ATTR_VALUE__VALUE_LIST: {
        const OdrtTf__AttrValue__ListValue *l = v->list;
        a->type = IR_ATTR_INTS;
        if (!l) return 1;
        if (l->n_i || l->n_type) {
            size_t n = l->n_i ? l->n_i : l->n_type;
            if (!(a->ints = alloc(r, sizeof(int64_t) * (n + 1)))) return 0;
            for (size_t i = 0; i < n; i++) a->ints[i] = l->n_i ? l->i[i] : l->type[i];
            a->n = (int)n;
        } else if (l->n_f) {
            a->type = IR_ATTR_FLOATS;
            if (!(a->floats = alloc(r, sizeof(float) * (l->n_f + 1)))) return 0;
            memcpy(a->floats, l->f, sizeof(float) * l->n_f);
            a->n = (int)l->n_f;
        } else if (l->n_s) {
            a->type = IR_ATTR_STRINGS;
            if (!(a->strings = alloc(r, sizeof(char *) * (l->n_s + 1))) || !(a->str_lens = alloc(r, sizeof(size_t) * (l->n_s + 1)))) return 0;
            for (size_t i = 0; i < l->n_s; i++)
                if (!(a->strings[i] = bdup(r, l->s[i], &a->str_lens[i]))) return 0;
            a->n = (int)l->n_s;
        }
        return 1;
    }
    default: a->type = IR_ATTR_UNDEFINED; return 1;
    }
}


/* NodeDefs -> tf_nodes (control inputs recorded in ctrl_read when given) */
odrt_status_t tf_pb_nodes(tf_graph *g, OdrtTf__NodeDef *const *nds, size_t count, tf_node **out, int *n_out, odrt_smap_t *ctrl_read) {
    rd r = {g, ODRT_OK};
    if (count > 1000000) return odrt_fail(ODRT_ERR_INVALID, "a graph or function has %zu nodes", count);
    tf_node *nodes = alloc(&r, sizeof(tf_node) * (count + 1));
    if (!nodes) return r.rc;
    int nn = 0;
    for (size_t i = 0; i < count && r.rc == ODRT_OK; i++) {
        const OdrtTf__NodeDef *nd = nds[i];
        tf_node *n = &nodes[nn++];
        n->frame = -1;
        if (!nd->name || !*nd->name || !nd->op || !*nd->op) {
            r.rc = odrt_fail(ODRT_ERR_INVALID, "node %zu has no name or no op", i);
            break;
        }
        n->name = sdup(&r, nd->name), n->op = sdup(&r, nd->op);
        if (!(n->in = alloc(&r, sizeof(char *) * (nd->n_input + 1))) || !(n->attrs = alloc(&r, sizeof(ir_attr) * (nd->n_attr + 1)))) break;
        for (size_t k = 0; k < nd->n_input; k++) {
            if (!nd->input[k] || !nd->input[k][0]) continue;
            if (nd->input[k][0] != '^') n->in[n->n_in++] = sdup(&r, nd->input[k]);
            else if (ctrl_read && !odrt_smap_put(ctrl_read, sdup(&r, nd->input[k] + 1), (void *)1)) r.rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
        for (size_t k = 0; k < nd->n_attr && r.rc == ODRT_OK; k++)
            if (!attr(&r, nd->attr[k]->key ? nd->attr[k]->key : "", nd->attr[k]->value, &n->attrs[n->n_attrs++]) && r.rc == ODRT_OK)
                r.rc = odrt_fail(ODRT_ERR_PARSE, "node '%s': attribute '%s' is malformed", nd->name, nd->attr[k]->key);
        const ir_attr *v = tf_attr(n, "value");
        if (!strcmp(n->op, "Const") && v && v->type == IR_ATTR_TENSOR) n->value = v->t; /* else refused if lowered */
    }
    *out = nodes, *n_out = nn;
    return r.rc;
}

odrt_status_t tf_pb_tensor(tf_graph *g, const OdrtTf__TensorProto *tp, ir_tensor **out) {
    rd r = {g, ODRT_OK};
    const char *why = "";
    *out = tensor(&r, tp, &why);
    if (r.rc != ODRT_OK) return r.rc;
    return *out ? ODRT_OK : odrt_fail(ODRT_ERR_UNSUPPORTED, "a tensor with %s", why);
}

static int by_tensor(const void *a, const void *b) { return strcmp(((const tf_sig *)a)->tensor, ((const tf_sig *)b)->tensor); }

/* inputs: the Placeholders something reads; outputs: unread Identity nodes (else every unread node but NoOp) */
static int signature(rd *r, const odrt_smap_t *ctrl_read) {
    tf_graph *g = r->g;
    char *read = calloc((size_t)g->n_nodes + 1, 1);
    if (!read) return r->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory"), 0;
    for (int i = 0; i < g->n_nodes; i++) read[i] = odrt_smap_get(ctrl_read, g->nodes[i].name) ? 2 : 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            char node[1024];
            if (tf_split_input(g->nodes[i].in[k], node, sizeof node) < 0) continue;
            tf_node *p = odrt_smap_get(&g->by_name, node);
            if (p) read[p - g->nodes] |= 1;
        }
    g->inputs = alloc(r, sizeof(tf_sig) * ((size_t)g->n_nodes + 1));
    g->outputs = alloc(r, sizeof(tf_sig) * ((size_t)g->n_nodes + 1));
    int n_id = 0;
    for (int i = 0; i < g->n_nodes; i++) n_id += !read[i] && !strcmp(g->nodes[i].op, "Identity");
    for (int i = 0; g->inputs && g->outputs && i < g->n_nodes; i++) {
        const tf_node *n = &g->nodes[i];
        char t[1100];
        snprintf(t, sizeof t, "%s:0", n->name);
        if (!strcmp(n->op, "Placeholder")) {
            if (!(read[i] & 1)) continue; /* e.g. a frozen TF2 function's unused_control_flow_input */
            g->inputs[g->n_inputs].key = g->inputs[g->n_inputs].tensor = sdup(r, t);
            g->n_inputs++;
        } else if (!read[i] && (n_id ? !strcmp(n->op, "Identity") : strcmp(n->op, "NoOp") && strcmp(n->op, "Const"))) {
            g->outputs[g->n_outputs].key = g->outputs[g->n_outputs].tensor = sdup(r, t);
            g->n_outputs++;
        }
    }
    free(read);
    if (r->rc != ODRT_OK) return 0;
    qsort(g->outputs, (size_t)g->n_outputs, sizeof(tf_sig), by_tensor);
    return 1;
}

odrt_status_t tf_read_graphdef_buffer(const void *buf, size_t len, ir_model **out, char sha256_hex[65]) {
    *out = NULL;
    if (!len) return odrt_fail(ODRT_ERR_PARSE, "empty file is not a GraphDef");
    if (!pb_depth_ok(buf, len, &odrt_tf__graph_def__descriptor))
        return odrt_fail(ODRT_ERR_INVALID, "GraphDef nests messages deeper than %d levels", MAX_MSG_DEPTH);
    OdrtTf__GraphDef *gd = odrt_tf__graph_def__unpack(NULL, len, buf);
    if (!gd) return odrt_fail(ODRT_ERR_PARSE, "not a valid GraphDef protobuf (truncated or corrupt)");
    tf_graph g = {0};
    odrt_smap_t ctrl_read = {0}; /* nodes read by control edges only are not outputs */
    rd r = {&g, ODRT_OK};
    if (!(g.m = ir_model_new())) {
        odrt_tf__graph_def__free_unpacked(gd, NULL);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    if (!gd->n_node || gd->n_node > 1000000) {
        r.rc = odrt_fail(ODRT_ERR_INVALID, "the GraphDef has %zu nodes", gd->n_node);
        goto done;
    }
    if ((r.rc = tf_pb_nodes(&g, gd->node, gd->n_node, &g.nodes, &g.n_nodes, &ctrl_read)) != ODRT_OK) goto done;
    if (gd->library && (r.rc = tf_pb_functions(&g, gd->library)) != ODRT_OK) goto done;
    if (r.rc == ODRT_OK) r.rc = tf_graph_index(&g);
    if (r.rc == ODRT_OK && signature(&r, &ctrl_read) && (r.rc = tf_lower_graph(&g)) == ODRT_OK) {
        SHA2_CTX sha;
        SHA256Init(&sha);
        SHA256Update(&sha, buf, len);
        SHA256End(&sha, sha256_hex);
    }
done:
    odrt_tf__graph_def__free_unpacked(gd, NULL);
    tf_graph_free_maps(&g);
    odrt_smap_free(&ctrl_read);
    if (r.rc != ODRT_OK) {
        ir_model_free(g.m);
        return r.rc;
    }
    *out = g.m;
    return ODRT_OK;
}

odrt_status_t tf_read_graphdef(const char *path, ir_model **out, char sha256_hex[65]) {
    uint8_t *buf;
    size_t len;
    ODRT_TRY(odrt_read_file(path, MAX_GRAPHDEF_BYTES, &buf, &len));
    odrt_status_t rc = tf_read_graphdef_buffer(buf, len, out, sha256_hex);
    free(buf);
    return rc == ODRT_OK ? rc : odrt_fail_ctx(rc, "%s", path);
}
