/* tf_graph -> IR. Nodes are lowered on demand from the signature's outputs (what no output reads
 * is never lowered), each into the scope where it belongs: the root graph, or the condition or
 * body of the Loop that a v1 while frame becomes (tf_frames.c). The IR gets ONNX ops with
 * TensorFlow's semantics (tf_ops_*.c); NHWC layers are wrapped in transposes that the cleanup
 * here folds away between layers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_lower.h"
#include "ops/fold.h"

/* ---- graph helpers ---- */
int tf_dtype_to_odrt(int64_t tf) {
    if (tf > 100 && tf < 200) tf -= 100; /* reference types */
    switch (tf) {
    case TF_DT_FLOAT: return ODRT_DT_FLOAT;
    case TF_DT_DOUBLE: return ODRT_DT_DOUBLE;
    case TF_DT_INT32: return ODRT_DT_INT32;
    case TF_DT_UINT8: return ODRT_DT_UINT8;
    case TF_DT_INT16: return ODRT_DT_INT16;
    case TF_DT_INT8: return ODRT_DT_INT8;
    case TF_DT_STRING: return ODRT_DT_STRING;
    case TF_DT_INT64: return ODRT_DT_INT64;
    case TF_DT_BOOL: return ODRT_DT_BOOL;
    case TF_DT_BFLOAT16: return ODRT_DT_BFLOAT16;
    case TF_DT_UINT16: return ODRT_DT_UINT16;
    case TF_DT_HALF: return ODRT_DT_FLOAT16;
    case TF_DT_UINT32: return ODRT_DT_UINT32;
    case TF_DT_UINT64: return ODRT_DT_UINT64;
    default: return 0;
    }
}

int tf_dtype_from_name(const char *s) {
    static const struct {
        const char *n;
        int v;
    } T[] = {{"DT_FLOAT", 1},   {"DT_DOUBLE", 2}, {"DT_INT32", 3},   {"DT_UINT8", 4},     {"DT_INT16", 5},
             {"DT_INT8", 6},    {"DT_STRING", 7}, {"DT_INT64", 9},   {"DT_BOOL", 10},     {"DT_BFLOAT16", 14},
             {"DT_UINT16", 17}, {"DT_HALF", 19},  {"DT_RESOURCE", 20}, {"DT_VARIANT", 21}, {"DT_UINT32", 22},
             {"DT_UINT64", 23}};
    for (size_t i = 0; i < sizeof T / sizeof *T; i++)
        if (!strcmp(T[i].n, s)) return T[i].v;
    return -1;
}

const ir_attr *tf_attr(const tf_node *n, const char *name) { return ir_attr_find(n->attrs, n->n_attrs, name); }
int64_t tf_attr_i(const tf_node *n, const char *name, int64_t dflt) { return ir_attr_as_int(tf_attr(n, name), dflt); }
float tf_attr_f(const tf_node *n, const char *name, float dflt) { return ir_attr_as_float(tf_attr(n, name), dflt); }

const char *tf_attr_s(const tf_node *n, const char *name, const char *dflt) {
    const ir_attr *a = tf_attr(n, name);
    return a && a->type == IR_ATTR_STRING && a->s && strlen(a->s) == a->s_len ? a->s : dflt;
}

odrt_status_t tf_index_nodes(tf_node *nodes, int n, odrt_smap_t *by_name) {
    for (int i = 0; i < n; i++) {
        if (odrt_smap_get(by_name, nodes[i].name)) return odrt_fail(ODRT_ERR_INVALID, "two nodes are named '%s'", nodes[i].name);
        if (!odrt_smap_put(by_name, nodes[i].name, &nodes[i])) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    return ODRT_OK;
}

odrt_status_t tf_graph_index(tf_graph *g) { return tf_index_nodes(g->nodes, g->n_nodes, &g->by_name); }

int tf_split_input(const char *in, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", in);
    char *colon = strrchr(buf, ':');
    if (!colon) return 0;
    char *end;
    long k = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || k < 0 || k >= TF_MAX_OUTPUTS) return -1;
    *colon = 0;
    return (int)k;
}

odrt_status_t tf_refuse(const tf_node *n, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return odrt_fail(ODRT_ERR_UNSUPPORTED, "%s '%s': %s", n->op, n->name, msg);
}

/* ---- scopes and demand-driven lowering ---- */
void tf_scope_init(tf_scope *s, tf_scope *parent, ir_graph *g, int frame) {
    memset(s, 0, sizeof *s);
    s->parent = parent, s->g = g, s->frame = frame;
    s->home = parent ? parent->home : s;
    s->fn = parent ? parent->fn : NULL;
}

void tf_scope_free(tf_scope *s) {
    odrt_smap_free(&s->vals);
    odrt_smap_free(&s->busy);
}

static const char *canon(char *buf, size_t cap, const char *key) {
    char node[1024];
    int k = tf_split_input(key, node, sizeof node);
    snprintf(buf, cap, "%s:%d", node, k < 0 ? 0 : k);
    return buf;
}

static ir_value *lookup(const tf_scope *s, const char *key) {
    char buf[1100];
    canon(buf, sizeof buf, key);
    for (; s; s = s->parent) {
        ir_value *v = odrt_smap_get(&s->vals, buf);
        if (v) return v;
    }
    return NULL;
}

odrt_status_t tf_bind(tf_ctx *c, tf_scope *s, const char *node, int k, ir_value *v) {
    char buf[1100];
    snprintf(buf, sizeof buf, "%s:%d", node, k);
    char *key = odrt_arena_strdup(c->tg->m->arena, buf);
    if (!key || !odrt_smap_put(&s->vals, key, v)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    return ODRT_OK;
}

const tf_node *tf_producer(const tf_ctx *c, const char *key, int *k) {
    char node[1024];
    *k = tf_split_input(key, node, sizeof node);
    if (*k < 0) return NULL;
    return odrt_smap_get(&c->tg->by_name, node);
}

const tf_node *tf_producer_in(const tf_ctx *c, const tf_scope *s, const char *key, int *k) {
    if (!s->home->fn) return tf_producer(c, key, k);
    char node[1024];
    *k = tf_split_input(key, node, sizeof node);
    return *k < 0 ? NULL : odrt_smap_get(&s->home->fn->by_name, node);
}

static tf_scope *target_scope(tf_ctx *c, tf_scope *s, const tf_node *n) {
    (void)c;
    if (n->frame < 0 || !strcmp(n->op, "Exit")) return s->home;
    for (tf_scope *t = s; t; t = t->parent)
        if (t->frame == n->frame) return t;
    return NULL;
}

#define BUSY ((void *)1)
#define DONE ((void *)2)

static odrt_status_t lower_one(tf_ctx *c, tf_scope *s, const tf_node *n) {
    if (!strcmp(n->op, "Exit")) return tf_frame_lower(c, n->frame);
    const tf_op_row *row = tf_find_op(n->op);
    if (!row) return odrt_fail(ODRT_ERR_UNSUPPORTED, "TensorFlow op '%s' (node '%s') has no lowering", n->op, n->name);
    ir_value *inl[64], **in = n->n_in <= 64 ? inl : malloc(sizeof(ir_value *) * (size_t)n->n_in);
    ir_value **out = calloc(TF_MAX_OUTPUTS, sizeof *out);
    if (!in || !out) {
        if (in != inl) free(in);
        free(out);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n->n_in; i++) in[i] = lookup(s, n->in[i]);
    int n_out = 1;
    c->b.g = s->g;
    c->b.rc = ODRT_OK;
    tf_scope *was = c->cur;
    c->cur = s;
    odrt_status_t rc = row->fn(c, n, in, out, &n_out);
    c->cur = was;
    if (rc == ODRT_OK && c->b.rc != ODRT_OK) rc = c->b.rc;
    for (int k = 0; rc == ODRT_OK && k < n_out; k++)
        if (out[k]) rc = tf_bind(c, s, n->name, k, out[k]);
    if (in != inl) free(in);
    free(out);
    return rc;
}

ir_value *tf_resolve(tf_ctx *c, tf_scope *s, const char *key) {
    ir_value *v = lookup(s, key);
    if (v) return v;
    int k;
    const tf_node *p = tf_producer_in(c, s, key, &k);
    if (!p) {
        odrt_fail(ODRT_ERR_INVALID, "no node produces '%s'%s%s", key, s->home->fn ? " in function " : "", s->home->fn ? s->home->fn->name : "");
        return NULL;
    }
    tf_scope *t = target_scope(c, s, p);
    if (!t) {
        odrt_fail(ODRT_ERR_INVALID, "node '%s' of a while loop is read outside the loop", p->name);
        return NULL;
    }
    typedef struct {
        tf_scope *s;
        const tf_node *n;
    } work;
    size_t sp = 0, cap = 64;
    work *st = malloc(sizeof *st * cap);
    if (!st || !odrt_smap_put(&t->busy, p->name, BUSY)) {
        free(st);
        odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    st[sp++] = (work){t, p};
    odrt_status_t rc = ODRT_OK;
    while (sp && rc == ODRT_OK) {
        work w = st[sp - 1];
        int pending = 0;
        /* Exit builds its loop; While resolves the loop variables it carries itself */
        if (strcmp(w.n->op, "Exit") && strcmp(w.n->op, "While") && strcmp(w.n->op, "StatelessWhile")) {
            for (int i = 0; i < w.n->n_in && !pending && rc == ODRT_OK; i++) {
                if (lookup(w.s, w.n->in[i])) continue;
                int qk;
                const tf_node *q = tf_producer_in(c, w.s, w.n->in[i], &qk);
                tf_scope *u = q ? target_scope(c, w.s, q) : NULL;
                void *mark = u ? odrt_smap_get(&u->busy, q->name) : NULL;
                if (!q) rc = odrt_fail(ODRT_ERR_INVALID, "input '%s' of node '%s' has no producer", w.n->in[i], w.n->name);
                else if (!u) rc = odrt_fail(ODRT_ERR_INVALID, "node '%s' reads '%s' of a while loop from outside it", w.n->name, q->name);
                else if (mark == BUSY) rc = odrt_fail(ODRT_ERR_INVALID, "the graph has a cycle through node '%s'", q->name);
                else if (mark == DONE) rc = odrt_fail(ODRT_ERR_INVALID, "node '%s' reads output %d of '%s', which it does not have", w.n->name, qk, q->name);
                else {
                    if (sp == cap) {
                        work *ns = realloc(st, sizeof *st * (cap *= 2));
                        if (!ns) {
                            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                            break;
                        }
                        st = ns;
                    }
                    if (!odrt_smap_put(&u->busy, q->name, BUSY)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                    st[sp++] = (work){u, q};
                    pending = 1;
                }
            }
        }
        if (pending || rc != ODRT_OK) continue;
        rc = lower_one(c, w.s, w.n);
        if (rc == ODRT_OK && !odrt_smap_put(&w.s->busy, w.n->name, DONE)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        sp--;
    }
    free(st);
    if (rc != ODRT_OK) return NULL;
    if (!(v = lookup(s, key))) odrt_fail(ODRT_ERR_INVALID, "'%s' is read but node '%s' has no such output", key, p->name);
    return v;
}

/* ---- small IR helpers for the op tables ---- */
void tf_set_type(ir_value *v, int dtype, int rank, const int64_t *dims) {
    if (!v) return;
    v->type.kind = IR_TYPE_TENSOR, v->type.dtype = dtype;
    if (rank < 0 || !dims) return;
    ir_dim *d = odrt_arena_alloc(v->graph->model->arena, sizeof(ir_dim) * (size_t)(rank + 1));
    if (!d) return;
    memset(d, 0, sizeof(ir_dim) * (size_t)(rank + 1));
    for (int i = 0; i < rank; i++) d[i].value = dims[i];
    v->type.rank = rank, v->type.dims = d;
}

const ir_tensor *tf_const_of(const ir_value *v) { return v && v->init ? v->init : NULL; }

int tf_const_ints(const ir_value *v, int64_t *out, int max) {
    const ir_tensor *t = tf_const_of(v);
    if (!t && v && v->producer) { /* computed from constants only (tf.linspace's axis): evaluate it now */
        ex_val *r = NULL;
        ir_value *tv = (ir_value *)v;
        int n = -1;
        if (ir_eval(v->graph->model, v->graph, 0, NULL, NULL, 1, &tv, &r) == ODRT_OK && r && !r->is_seq &&
            (r->t.dtype == ODRT_DT_INT32 || r->t.dtype == ODRT_DT_INT64) && ex_numel(r) <= max) {
            n = (int)ex_numel(r);
            for (int i = 0; i < n; i++) out[i] = ex_get_i(&r->t, i);
        }
        ex_val_free(r);
        return n;
    }
    if (!t || (t->dtype != ODRT_DT_INT32 && t->dtype != ODRT_DT_INT64) || t->numel > max) return -1;
    for (int64_t i = 0; i < t->numel; i++)
        out[i] = t->dtype == ODRT_DT_INT64 ? ((int64_t *)t->data)[i] : ((int32_t *)t->data)[i];
    return (int)t->numel;
}

ir_value *tf_i64(tf_ctx *c, ir_value *v) {
    const ir_tensor *t = tf_const_of(v);
    if (t && t->dtype == ODRT_DT_INT64) return v;
    if (t && t->dtype == ODRT_DT_INT32) {
        int64_t *d = malloc(sizeof(int64_t) * (size_t)(t->numel + 1));
        if (!d) return c->b.rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory"), NULL;
        for (int64_t i = 0; i < t->numel; i++) d[i] = ((int32_t *)t->data)[i];
        ir_value *r = b_const(&c->b, v->name, ODRT_DT_INT64, t->rank, t->dims, d);
        free(d);
        return r;
    }
    if (v && v->type.kind == IR_TYPE_TENSOR && v->type.dtype == ODRT_DT_INT64) return v;
    return b_cast(&c->b, "tf/i64", v, ODRT_DT_INT64);
}

ir_value *tf_nhwc_to_nchw(tf_ctx *c, ir_value *x) {
    static const int64_t p[4] = {0, 3, 1, 2};
    return b_transpose(&c->b, "tf/to_nchw", x, 4, p);
}

ir_value *tf_nchw_to_nhwc(tf_ctx *c, ir_value *x) {
    static const int64_t p[4] = {0, 2, 3, 1};
    return b_transpose(&c->b, "tf/to_nhwc", x, 4, p);
}

/* ---- the ONNX Loop both kinds of while loop become (tf_frames.c, tf_calls.c) ---- */
ir_value *tf_made_in(tf_ctx *c, ir_graph *g, ir_value *v) {
    if (v && v->producer && v->graph == g) return v;
    c->b.g = g;
    return b_op1(&c->b, "Identity", "tf/loop_out", v);
}

odrt_status_t tf_loop_new(tf_ctx *c, ir_graph *P, const char *name, ir_value *cond0, int n_car, int n_scan, ir_node **loop,
                          ir_graph **body) {
    ir_node *l = ir_node_new(P, "Loop", "", ir_unique_name(P, name), 2 + n_car, n_car + n_scan);
    ir_graph *b = l ? ir_graph_new(c->tg->m, P, l) : NULL;
    if (!b || !(b->inputs = odrt_arena_alloc(c->tg->m->arena, sizeof(ir_value *) * (size_t)(n_car + 3))) ||
        !(b->outputs = odrt_arena_alloc(c->tg->m->arena, sizeof(ir_value *) * (size_t)(n_car + n_scan + 2))))
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    ir_node_set_input(l, 1, cond0);
    static const char *const nm[2] = {"tf/iter", "tf/cond_in"};
    static const int dt[2] = {ODRT_DT_INT64, ODRT_DT_BOOL};
    for (int i = 0; i < 2; i++) {
        ir_value *v = ir_value_new(b, ir_unique_name(b, nm[i]));
        if (!v) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        tf_set_type(v, dt[i], 0, (const int64_t[1]){0});
        v->flags |= IR_VAL_INPUT, b->inputs[b->n_inputs++] = v;
    }
    *loop = l, *body = b;
    return ODRT_OK;
}

ir_value *tf_loop_carry(ir_node *loop, ir_graph *body, const char *name, ir_value *init) {
    ir_value *v = ir_value_new(body, ir_unique_name(body, name));
    if (!v) return odrt_fail(ODRT_ERR_NOMEM, "out of memory"), NULL;
    ir_node_set_input(loop, body->n_inputs, init); /* body inputs 2.. match the Loop's inputs 2.. */
    if (init->type.kind == IR_TYPE_TENSOR) tf_set_type(v, init->type.dtype, -1, NULL);
    v->flags |= IR_VAL_INPUT, body->inputs[body->n_inputs++] = v;
    return v;
}

odrt_status_t tf_loop_finish(tf_ctx *c, ir_node *loop, ir_graph *body, ir_value *cond, ir_value *const *nx, const unsigned char *scan,
                             int n) {
    c->b.rc = ODRT_OK;
    body->outputs[body->n_outputs++] = tf_made_in(c, body, cond);
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < n; j++)
            if (!scan[j] == !pass) body->outputs[body->n_outputs++] = tf_made_in(c, body, nx[j]);
    ODRT_TRY(c->b.rc);
    for (int i = 0; i < body->n_outputs; i++) body->outputs[i]->flags |= IR_VAL_OUTPUT;
    ir_attr a = {.name = "body", .type = IR_ATTR_GRAPH, .g = body};
    return ir_node_add_attr(loop, &a) ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
}

const tf_op_row *tf_find_op(const char *op) {
    const tf_op_row *tables[] = {tf_ops_math, tf_ops_array, tf_ops_calls};
    for (size_t t = 0; t < 3; t++)
        for (const tf_op_row *r = tables[t]; r->op; r++)
            if (!strcmp(r->op, op)) return r;
    return NULL;
}

/* ---- the graph's inputs and outputs ---- */

/* The TF OD API exporter's output signature keys, sorted as a SavedModel stores them: a TF.js or
 * frozen graph keeps only `Identity`, `Identity_1`, ... in that order. */
static const char *const TFOD_KEYS[] = {"detection_anchor_indices", "detection_boxes", "detection_classes",
                                        "detection_multiclass_scores", "detection_scores", "num_detections",
                                        "raw_detection_boxes", "raw_detection_scores"};

static const char *output_name(tf_ctx *c, int i, char *buf, size_t cap) {
    tf_graph *g = c->tg;
    const char *key = g->outputs[i].key;
    /* Identity:0 .. Identity_7:0 of an 8-output graph: the SSD / EfficientDet export's keys */
    int tfod = g->n_outputs == (int)(sizeof TFOD_KEYS / sizeof *TFOD_KEYS);
    for (int j = 0; tfod && j < g->n_outputs; j++) {
        char want[32];
        snprintf(want, sizeof want, j ? "Identity_%d" : "Identity", j);
        int found = 0;
        for (int q = 0; q < g->n_outputs; q++) {
            char node[1024];
            tf_split_input(g->outputs[q].tensor, node, sizeof node);
            found |= !strcmp(node, want);
        }
        tfod = found;
    }
    if (tfod) {
        char node[1024];
        tf_split_input(g->outputs[i].tensor, node, sizeof node);
        int k = !strcmp(node, "Identity") ? 0 : atoi(node + 9);
        return TFOD_KEYS[k];
    }
    snprintf(buf, cap, "%s", key);
    char *colon = strrchr(buf, ':');
    if (colon && colon[1] == '0' && !colon[2]) *colon = 0;
    return buf;
}

static odrt_status_t make_inputs(tf_ctx *c) {
    tf_graph *g = c->tg;
    ir_graph *ig = c->root.g;
    int n = g->n_inputs;
    ig->inputs = odrt_arena_alloc(g->m->arena, sizeof(ir_value *) * (size_t)(n + 1));
    if (!ig->inputs) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        int k;
        const tf_node *p = tf_producer(c, g->inputs[i].tensor, &k);
        if (!p || k != 0 || (strcmp(p->op, "Placeholder") && strcmp(p->op, "PlaceholderWithDefault")))
            return odrt_fail(ODRT_ERR_INVALID, "signature input '%s' is not a placeholder of the graph", g->inputs[i].tensor);
        char name[1024];
        snprintf(name, sizeof name, "%s", g->inputs[i].key);
        char *colon = strrchr(name, ':');
        if (colon && colon[1] == '0' && !colon[2]) *colon = 0;
        ir_value *v = ir_value_new(ig, name);
        if (!v) return odrt_fail(ODRT_ERR_INVALID, "signature input '%s' is listed twice", name);
        int dt = tf_dtype_to_odrt(tf_attr_i(p, "dtype", 0));
        if (!dt) return odrt_fail(ODRT_ERR_UNSUPPORTED, "input '%s' has an unsupported dtype", name);
        const ir_attr *sh = tf_attr(p, "shape");
        int known = sh && sh->type == IR_ATTR_INTS && !sh->i;
        tf_set_type(v, dt, known ? sh->n : -1, known ? sh->ints : NULL);
        v->flags |= IR_VAL_INPUT;
        ig->inputs[ig->n_inputs++] = v;
        ODRT_TRY(tf_bind(c, &c->root, p->name, 0, v));
    }
    return ODRT_OK;
}

static odrt_status_t make_outputs(tf_ctx *c) {
    tf_graph *g = c->tg;
    ir_graph *ig = c->root.g;
    if (!g->n_outputs) return odrt_fail(ODRT_ERR_INVALID, "the model's signature names no outputs");
    ir_value **vals = calloc((size_t)g->n_outputs, sizeof *vals);
    if (!vals) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    odrt_status_t rc = ODRT_OK;
    for (int i = 0; i < g->n_outputs && rc == ODRT_OK; i++)
        if (!(vals[i] = tf_resolve(c, &c->root, g->outputs[i].tensor))) rc = odrt_fail_ctx(ODRT_ERR_INVALID, "output '%s'", g->outputs[i].key);
    ig->outputs = rc == ODRT_OK ? odrt_arena_alloc(g->m->arena, sizeof(ir_value *) * (size_t)(g->n_outputs + 1)) : NULL;
    if (rc == ODRT_OK && !ig->outputs) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_outputs && rc == ODRT_OK; i++) {
        char buf[1024];
        const char *name = output_name(c, i, buf, sizeof buf);
        ir_value *x = vals[i];
        while (x->producer && ir_op_is(x->producer, "Identity") && x->producer->in[0] && !(x->flags & IR_VAL_OUTPUT)) x = x->producer->in[0];
        if (x->producer && x->graph == ig && !(x->flags & IR_VAL_OUTPUT) && !ir_graph_lookup(ig, name)) {
            /* the producer's value itself takes the output's name (its other readers too) */
            if ((rc = ir_value_rename(x, name)) != ODRT_OK) break;
            x->flags |= IR_VAL_OUTPUT;
            ig->outputs[ig->n_outputs++] = x;
            continue;
        }
        ir_node *id = ir_node_new(ig, "Identity", "", ir_unique_name(ig, name), 1, 1);
        ir_value *v = id ? ir_value_new(ig, name) : NULL;
        if (!v) {
            rc = odrt_fail(ODRT_ERR_INVALID, "output name '%s' is taken", name);
            break;
        }
        if (!ir_node_set_input(id, 0, vals[i])) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        ir_node_set_output(id, 0, v);
        v->flags |= IR_VAL_OUTPUT;
        ig->outputs[ig->n_outputs++] = v;
    }
    free(vals);
    return rc;
}

odrt_status_t tf_lower_graph(tf_graph *g) {
    ir_model *m = g->m;
    m->ir_version = 8;
    m->producer_name = "odrt";
    m->opsets = odrt_arena_alloc(m->arena, sizeof(ir_opset) * 2);
    m->graph = ir_graph_new(m, NULL, NULL);
    if (!m->opsets || !m->graph) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    m->opsets[0] = (ir_opset){"", 17}, m->opsets[1] = (ir_opset){"odrt", 1};
    m->n_opsets = 2;
    tf_ctx c = {.tg = g, .b = {.m = m, .g = m->graph}};
    tf_scope_init(&c.root, NULL, m->graph, -1);
    odrt_status_t rc = tf_frames_find(&c);
    if (rc == ODRT_OK) rc = make_inputs(&c);
    if (rc == ODRT_OK) rc = make_outputs(&c);
    tf_scope_free(&c.root);
    tf_frames_free(&c);
    if (rc == ODRT_OK) rc = tf_cleanup(m);
    return rc;
}
