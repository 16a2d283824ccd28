/* IR construction, queries and surgery. */
#include "ir/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ir_model *ir_model_new(void) {
    odrt_arena_t *a = odrt_arena_init();
    if (!a) return NULL;
    ir_model *m = odrt_arena_alloc(a, sizeof *m);
    if (!m) {
        odrt_arena_free(a);
        return NULL;
    }
    m->arena = a;
    return m;
}

void ir_model_free(ir_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_graphs; i++) {
        ir_graph *g = m->all_graphs[i];
        for (size_t k = 0; k < g->n_values; k++) free(g->values[k]->uses);
        free(g->values);
        free(g->nodes);
        free(g->inits);
        free(g->vinfo);
        odrt_smap_free(&g->names);
        odrt_smap_free(&g->node_names);
    }
    free(m->all_graphs);
    odrt_arena_free(m->arena);
}

ir_graph *ir_graph_new(ir_model *m, ir_graph *parent, ir_node *owner) {
    if (!odrt_grow((void **)&m->all_graphs, sizeof(ir_graph *), &m->cap_graphs, m->n_graphs + 1))
        return NULL;
    ir_graph *g = odrt_arena_alloc(m->arena, sizeof *g);
    if (!g) return NULL;
    g->model = m;
    g->index = (int)m->n_graphs;
    g->parent = parent;
    g->owner = owner;
    m->all_graphs[m->n_graphs++] = g;
    return g;
}

ir_value *ir_value_new(ir_graph *g, const char *name) {
    if (odrt_smap_get(&g->names, name)) {
        odrt_fail(ODRT_ERR_INVALID, "value '%s' is defined twice", name);
        return NULL;
    }
    if (!odrt_grow((void **)&g->values, sizeof(ir_value *), &g->cap_values, g->n_values + 1)) goto oom;
    ir_value *v = odrt_arena_alloc(g->model->arena, sizeof *v);
    if (!v) goto oom;
    v->name = odrt_arena_strdup(g->model->arena, name);
    if (!v->name) goto oom;
    v->graph = g;
    v->type.rank = -1;
    v->id = (int)g->n_values;
    if (!odrt_smap_put(&g->names, v->name, v)) goto oom;
    g->values[g->n_values++] = v;
    return v;
oom:
    odrt_fail(ODRT_ERR_NOMEM, "out of memory creating value '%s'", name);
    return NULL;
}

ir_value *ir_graph_lookup(const ir_graph *g, const char *name) {
    for (; g; g = g->parent) {
        ir_value *v = odrt_smap_get(&g->names, name);
        if (v) return v;
    }
    return NULL;
}

ir_node *ir_node_new(ir_graph *g, const char *op, const char *domain, const char *name, int n_in,
                     int n_out) {
    odrt_arena_t *a = g->model->arena;
    if (!odrt_grow((void **)&g->nodes, sizeof(ir_node *), &g->cap_nodes, g->n_nodes + 1)) return NULL;
    ir_node *n = odrt_arena_alloc(a, sizeof *n);
    if (!n) return NULL;
    n->op = odrt_arena_strdup(a, op);
    n->domain = odrt_arena_strdup(a, domain ? domain : "");
    n->name = odrt_arena_strdup(a, name ? name : "");
    n->in = odrt_arena_alloc(a, sizeof(ir_value *) * (size_t)(n_in + 1));
    n->out = odrt_arena_alloc(a, sizeof(ir_value *) * (size_t)(n_out + 1));
    if (!n->op || !n->domain || !n->name || !n->in || !n->out) return NULL;
    n->n_in = n_in;
    n->n_out = n_out;
    n->graph = g;
    if (*n->name && !odrt_smap_put(&g->node_names, n->name, n)) return NULL;
    g->nodes[g->n_nodes++] = n;
    return n;
}

int ir_value_add_use(ir_value *v, ir_node *n, int k) {
    if (!odrt_grow((void **)&v->uses, sizeof(ir_use), &v->cap_uses, v->n_uses + 1)) return 0;
    v->uses[v->n_uses++] = (ir_use){n, k};
    return 1;
}

void ir_value_remove_use(ir_value *v, ir_node *n, int k) {
    for (size_t i = 0; i < v->n_uses; i++)
        if (v->uses[i].node == n && v->uses[i].index == k) {
            v->uses[i] = v->uses[--v->n_uses];
            return;
        }
}

int ir_node_set_input(ir_node *n, int k, ir_value *v) {
    if (n->in[k]) ir_value_remove_use(n->in[k], n, k);
    n->in[k] = v;
    return v ? ir_value_add_use(v, n, k) : 1;
}

void ir_node_set_output(ir_node *n, int k, ir_value *v) {
    n->out[k] = v;
    if (v) {
        v->producer = n;
        v->prod_index = k;
    }
}

int64_t ir_type_numel(const ir_type *t) {
    if (!t || t->kind != IR_TYPE_TENSOR || t->rank < 0) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i].value < 0 || (t->dims[i].value && n > INT64_MAX / t->dims[i].value)) return -1;
        n *= t->dims[i].value;
    }
    return n;
}

size_t ir_dtype_size(int dt) { return odrt_dtype_size((odrt_dtype_t)dt); }

ir_tensor *ir_tensor_new(ir_model *m, int dtype, int rank, const int64_t *dims) {
    ir_tensor *t = odrt_arena_alloc(m->arena, sizeof *t);
    if (!t) return NULL;
    t->dtype = dtype;
    t->rank = rank;
    t->dims = odrt_arena_alloc(m->arena, sizeof(int64_t) * (size_t)(rank + 1));
    if (!t->dims) return NULL;
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || !odrt_mul_ok(numel, (size_t)dims[i], &numel) || numel > ((size_t)1 << 40))
            return NULL;
        t->dims[i] = dims[i];
    }
    t->numel = (int64_t)numel;
    size_t es = dtype == ODRT_DT_STRING ? sizeof(char *) : ir_dtype_size(dtype);
    if (!odrt_mul_ok(numel, es, &t->nbytes)) return NULL;
    t->data = odrt_arena_alloc(m->arena, t->nbytes);
    if (!t->data) return NULL;
    if (dtype == ODRT_DT_STRING) {
        t->str_lens = odrt_arena_alloc(m->arena, sizeof(size_t) * (numel + 1));
        if (!t->str_lens) return NULL;
    }
    return t;
}

ir_value *ir_graph_add_const(ir_graph *g, const char *name, ir_tensor *t) {
    ir_value *v = ir_value_new(g, name);
    if (!v) return NULL;
    if (!odrt_grow((void **)&g->inits, sizeof(ir_value *), &g->cap_inits, g->n_inits + 1)) return NULL;
    v->init = t;
    t->name = v->name;
    v->type.kind = IR_TYPE_TENSOR;
    v->type.dtype = t->dtype;
    v->type.rank = t->rank;
    v->type.dims = odrt_arena_alloc(g->model->arena, sizeof(ir_dim) * (size_t)(t->rank + 1));
    if (!v->type.dims) return NULL;
    for (int i = 0; i < t->rank; i++) v->type.dims[i].value = t->dims[i];
    g->inits[g->n_inits++] = v;
    return v;
}

int ir_node_add_attr(ir_node *n, const ir_attr *a) {
    ir_attr *na = odrt_arena_alloc(n->graph->model->arena, sizeof(ir_attr) * (size_t)(n->n_attrs + 2));
    if (!na) return 0;
    int k = 0;
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, a->name)) na[k++] = n->attrs[i]; /* replaces a same-named one */
    na[k++] = *a;
    n->attrs = na;
    n->n_attrs = k;
    return 1;
}

static ir_attr mk_attr(ir_node *n, const char *name, ir_attr_type t) {
    ir_attr a;
    memset(&a, 0, sizeof a);
    a.name = odrt_arena_strdup(n->graph->model->arena, name);
    a.type = t;
    return a;
}

int ir_set_attr_int(ir_node *n, const char *name, int64_t v) {
    ir_attr a = mk_attr(n, name, IR_ATTR_INT);
    a.i = v;
    return a.name && ir_node_add_attr(n, &a);
}

int ir_set_attr_float(ir_node *n, const char *name, float v) {
    ir_attr a = mk_attr(n, name, IR_ATTR_FLOAT);
    a.f = v;
    return a.name && ir_node_add_attr(n, &a);
}

int ir_set_attr_str(ir_node *n, const char *name, const char *v) {
    ir_attr a = mk_attr(n, name, IR_ATTR_STRING);
    a.s = odrt_arena_strdup(n->graph->model->arena, v);
    a.s_len = strlen(v);
    return a.name && a.s && ir_node_add_attr(n, &a);
}

int ir_set_attr_ints(ir_node *n, const char *name, const int64_t *v, int cnt) {
    ir_attr a = mk_attr(n, name, IR_ATTR_INTS);
    a.n = cnt;
    a.ints = odrt_arena_memdup(n->graph->model->arena, v, sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
    return a.name && a.ints && ir_node_add_attr(n, &a);
}

int ir_set_attr_floats(ir_node *n, const char *name, const float *v, int cnt) {
    ir_attr a = mk_attr(n, name, IR_ATTR_FLOATS);
    a.n = cnt;
    a.floats = odrt_arena_memdup(n->graph->model->arena, v, sizeof(float) * (size_t)(cnt ? cnt : 1));
    return a.name && a.floats && ir_node_add_attr(n, &a);
}

/* ---- queries ---- */
const ir_attr *ir_attr_find(const ir_attr *attrs, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (attrs[i].name && strcmp(attrs[i].name, name) == 0) return &attrs[i];
    return NULL;
}

int64_t ir_attr_as_int(const ir_attr *a, int64_t dflt) { return a && a->type == IR_ATTR_INT ? a->i : dflt; }
float ir_attr_as_float(const ir_attr *a, float dflt) { return a && a->type == IR_ATTR_FLOAT ? a->f : dflt; }

const ir_attr *ir_node_attr(const ir_node *n, const char *name) { return ir_attr_find(n->attrs, n->n_attrs, name); }
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt) { return ir_attr_as_int(ir_node_attr(n, name), dflt); }
float ir_attr_float(const ir_node *n, const char *name, float dflt) { return ir_attr_as_float(ir_node_attr(n, name), dflt); }

const char *ir_attr_str(const ir_node *n, const char *name, const char *dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    return a && a->type == IR_ATTR_STRING ? a->s : dflt;
}

int64_t ir_model_opset(const ir_model *m, const char *domain) {
    for (int i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        if (strcmp(d, domain) == 0 || (!*domain && strcmp(d, "ai.onnx") == 0)) return m->opsets[i].version;
    }
    return -1;
}

ir_node *ir_graph_find_node(const ir_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    return NULL;
}

int ir_op_is(const ir_node *n, const char *op) {
    return (!n->domain[0] || strcmp(n->domain, "ai.onnx") == 0) && strcmp(n->op, op) == 0;
}

size_t ir_graph_find_op(const ir_graph *g, const char *op, ir_node **out, size_t max) {
    size_t c = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && ir_op_is(g->nodes[i], op)) {
            if (c < max) out[c] = g->nodes[i];
            c++;
        }
    return c;
}

int ir_graph_visit(const ir_graph *g, int (*fn)(const ir_node *n, void *ctx), void *ctx) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        int r = fn(n, ctx);
        for (int a = 0; !r && a < n->n_attrs; a++) {
            const ir_attr *at = &n->attrs[a];
            if (at->type == IR_ATTR_GRAPH) r = ir_graph_visit(at->g, fn, ctx);
            for (int j = 0; !r && at->type == IR_ATTR_GRAPHS && j < at->n; j++) r = ir_graph_visit(at->graphs[j], fn, ctx);
        }
        if (r) return r;
    }
    return 0;
}

static size_t count_live(const ir_graph *g) {
    size_t c = 0;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const ir_node *n = g->nodes[k];
        if (n->dead) continue;
        c++;
        for (int a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].type == IR_ATTR_GRAPH) c += count_live(n->attrs[a].g);
            if (n->attrs[a].type == IR_ATTR_GRAPHS)
                for (int j = 0; j < n->attrs[a].n; j++) c += count_live(n->attrs[a].graphs[j]);
        }
    }
    return c;
}

size_t ir_model_count_nodes(const ir_model *m) { return count_live(m->graph); }

/* ---- surgery ---- */
odrt_status_t ir_value_rename(ir_value *v, const char *new_name) {
    ir_graph *g = v->graph;
    if (odrt_smap_get(&g->names, new_name)) return odrt_fail(ODRT_ERR_INVALID, "value '%s' already exists", new_name);
    const char *nm = odrt_arena_strdup(g->model->arena, new_name);
    if (!nm) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    odrt_smap_del(&g->names, v->name);
    v->name = nm;
    if (v->init) v->init->name = nm;
    if (!odrt_smap_put(&g->names, nm, v)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    return ODRT_OK;
}

void ir_graph_clear_types(ir_graph *g) {
    for (size_t i = 0; i < g->n_values; i++) {
        ir_value *v = g->values[i];
        if (v->init || (v->flags & IR_VAL_INPUT)) continue;
        memset(&v->type, 0, sizeof v->type);
        v->type.rank = -1;
    }
    g->n_vinfo = 0;
}
odrt_status_t ir_value_replace_uses(ir_value *from, ir_value *to) {
    if (from == to) return ODRT_OK;
    while (from->n_uses) {
        ir_use u = from->uses[from->n_uses - 1];
        if (!ir_node_set_input(u.node, u.index, to)) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    ir_graph *g = from->graph;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from) g->outputs[i] = to;
    return ODRT_OK;
}

void ir_node_remove(ir_node *n) {
    /* sub-graph nodes go too: their outer-scope reads must stop counting as uses */
    for (int a = 0; a < n->n_attrs; a++) {
        ir_attr *at = &n->attrs[a];
        int ng = at->type == IR_ATTR_GRAPH ? 1 : at->type == IR_ATTR_GRAPHS ? at->n : 0;
        for (int k = 0; k < ng; k++) {
            ir_graph *sg = at->type == IR_ATTR_GRAPH ? at->g : at->graphs[k];
            for (size_t i = 0; i < sg->n_nodes; i++)
                if (!sg->nodes[i]->dead) ir_node_remove(sg->nodes[i]);
        }
    }
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k]) ir_value_remove_use(n->in[k], n, k);
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] && n->out[k]->producer == n) n->out[k]->producer = NULL;
    n->dead = 1;
}

static int graph_is_within(const ir_graph *inner, const ir_graph *outer) {
    for (; inner; inner = inner->parent)
        if (inner == outer) return 1;
    return 0;
}

/* Call fn for every value of scope g that node n (incl. nested sub-graphs) reads. */
typedef void (*dep_fn)(ir_value *v, void *ctx);
void ir_node_reads(const ir_node *n, const ir_graph *g, dep_fn fn, void *ctx) {
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] && n->in[k]->graph == g) fn(n->in[k], ctx);
    for (int a = 0; a < n->n_attrs; a++) {
        const ir_attr *at = &n->attrs[a];
        int ng = at->type == IR_ATTR_GRAPH ? 1 : at->type == IR_ATTR_GRAPHS ? at->n : 0;
        for (int gi = 0; gi < ng; gi++) {
            const ir_graph *sg = at->type == IR_ATTR_GRAPH ? at->g : at->graphs[gi];
            for (size_t i = 0; i < sg->n_nodes; i++)
                if (!sg->nodes[i]->dead) ir_node_reads(sg->nodes[i], g, fn, ctx);
            for (int o = 0; o < sg->n_outputs; o++)
                if (sg->outputs[o]->graph == g) fn(sg->outputs[o], ctx);
        }
    }
}

typedef struct {
    ir_node **stack;
    size_t n, cap;
    int oom;
} nstack;

static void push_producer(ir_value *v, void *ctx) {
    nstack *s = ctx;
    ir_node *p = v->producer;
    if (!p || p->dead || p->mark) return;
    p->mark = 1;
    if (!odrt_grow((void **)&s->stack, sizeof(ir_node *), &s->cap, s->n + 1)) {
        s->oom = 1;
        return;
    }
    s->stack[s->n++] = p;
}

void ir_graph_cleanup(ir_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) g->nodes[i]->mark = 0;
    nstack s = {0};
    for (int o = 0; o < g->n_outputs; o++) push_producer(g->outputs[o], &s);
    while (s.n) ir_node_reads(s.stack[--s.n], g, push_producer, &s);
    free(s.stack);
    if (s.oom) return; /* keep everything rather than remove live nodes */
    size_t w = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (!n->dead && !n->mark) ir_node_remove(n);
        if (!n->dead) g->nodes[w++] = n;
    }
    g->n_nodes = w;
    /* sub-graphs of surviving nodes */
    for (size_t i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i]->n_attrs; a++) {
            ir_attr *at = &g->nodes[i]->attrs[a];
            if (at->type == IR_ATTR_GRAPH) ir_graph_cleanup(at->g);
            if (at->type == IR_ATTR_GRAPHS)
                for (int k = 0; k < at->n; k++) ir_graph_cleanup(at->graphs[k]);
        }
    /* unused initializers (not graph outputs) */
    w = 0;
    for (size_t i = 0; i < g->n_inits; i++) {
        ir_value *v = g->inits[i];
        if (v->n_uses || (v->flags & (IR_VAL_OUTPUT | IR_VAL_INPUT))) g->inits[w++] = v;
        else odrt_smap_del(&g->names, v->name), v->init = NULL;
    }
    g->n_inits = w;
    w = 0;
    for (size_t i = 0; i < g->n_vinfo; i++) {
        ir_value *v = g->vinfo[i];
        if ((v->producer && !v->producer->dead) || v->n_uses) g->vinfo[w++] = v;
    }
    g->n_vinfo = w;
}

typedef struct {
    ir_graph *g;
    ir_node **order;
    size_t n;
    int cycle;
    ir_node *cycle_at;
} topo_ctx;

/* mark: 0 unvisited, 1 on stack, 2 done */
typedef struct {
    ir_node *n;
    ir_node **deps;
    size_t n_deps, cap_deps, next;
} frame;

static void collect_dep(ir_value *v, void *ctx) {
    frame *f = ctx;
    if (!v->producer || v->producer->dead) return;
    if (odrt_grow((void **)&f->deps, sizeof(ir_node *), &f->cap_deps, f->n_deps + 1))
        f->deps[f->n_deps++] = v->producer;
}

static odrt_status_t toposort(ir_graph *g, int reorder) {
    for (size_t i = 0; i < g->n_nodes; i++) g->nodes[i]->mark = 0;
    ir_node **order = malloc(sizeof(ir_node *) * (g->n_nodes + 1));
    frame *st = malloc(sizeof(frame) * (g->n_nodes + 1));
    if (!order || !st) {
        free(order);
        free(st);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory sorting graph");
    }
    size_t n_order = 0;
    odrt_status_t rc = ODRT_OK;
    for (size_t i = 0; i < g->n_nodes && rc == ODRT_OK; i++) {
        ir_node *root = g->nodes[i];
        if (root->dead || root->mark) continue;
        size_t sp = 0;
        st[sp++] = (frame){root, NULL, 0, 0, 0};
        root->mark = 1;
        ir_node_reads(root, g, collect_dep, &st[0]);
        while (sp && rc == ODRT_OK) {
            frame *f = &st[sp - 1];
            if (f->next < f->n_deps) {
                ir_node *d = f->deps[f->next++];
                if (d->mark == 1) {
                    rc = odrt_fail(ODRT_ERR_INVALID, "node cycle through node '%s' (%s)", d->name, d->op);
                } else if (d->mark == 0) {
                    d->mark = 1;
                    st[sp] = (frame){d, NULL, 0, 0, 0};
                    ir_node_reads(d, g, collect_dep, &st[sp]);
                    sp++;
                }
            } else {
                f->n->mark = 2;
                order[n_order++] = f->n;
                free(f->deps);
                sp--;
            }
        }
        while (sp) free(st[--sp].deps);
    }
    if (rc == ODRT_OK && reorder && n_order) {
        memcpy(g->nodes, order, sizeof(ir_node *) * n_order);
        g->n_nodes = n_order;
    }
    free(order);
    free(st);
    return rc;
}

odrt_status_t ir_graph_toposort(ir_graph *g) { return toposort(g, 1); }

odrt_status_t ir_graph_validate(ir_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++) {
            ir_value *v = n->in[k];
            if (!v) continue;
            if (!graph_is_within(g, v->graph))
                return odrt_fail(ODRT_ERR_INVALID, "node '%s' (%s) reads '%s' from outside its scope",
                                 n->name, n->op, v->name);
            if (!v->init && !(v->flags & IR_VAL_INPUT) && (!v->producer || v->producer->dead))
                return odrt_fail(ODRT_ERR_INVALID, "node '%s' (%s) input '%s' has no producer", n->name,
                                 n->op, v->name);
        }
        for (int a = 0; a < n->n_attrs; a++) {
            ir_attr *at = &n->attrs[a];
            if (at->type == IR_ATTR_GRAPH) ODRT_TRY(ir_graph_validate(at->g));
            if (at->type == IR_ATTR_GRAPHS)
                for (int k = 0; k < at->n; k++) ODRT_TRY(ir_graph_validate(at->graphs[k]));
        }
    }
    for (int o = 0; o < g->n_outputs; o++) {
        ir_value *v = g->outputs[o];
        if (!v->init && !(v->flags & IR_VAL_INPUT) && (!v->producer || v->producer->dead) &&
            v->graph == g)
            return odrt_fail(ODRT_ERR_INVALID, "graph output '%s' has no producer", v->name);
    }
    return toposort(g, 0);
}

odrt_status_t ir_model_check_runnable(const ir_model *m) {
    if (!m->graph || m->graph->n_outputs == 0)
        return odrt_fail(ODRT_ERR_INVALID, "the model has no graph outputs: nothing to compute");
    int64_t v = ir_model_opset(m, "");
    if (v > ODRT_MAX_OPSET)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "the model uses ai.onnx opset %lld; this odrt knows opsets up to %d",
                         (long long)v, ODRT_MAX_OPSET);
    return ODRT_OK;
}

/* a live node has this name: the map holds the newest node given each name (a name never given is
 * free at once; a dead newest one may hide an older live one: then the scan) */
static int node_name_taken(const ir_graph *g, const char *name) {
    const ir_node *n = odrt_smap_get(&g->node_names, name);
    return n && (!n->dead || ir_graph_find_node(g, name));
}

const char *ir_unique_name(ir_graph *g, const char *base) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", base);
    for (int i = 1; ir_graph_lookup(g, buf) || node_name_taken(g, buf); i++) snprintf(buf, sizeof buf, "%s_%d", base, i);
    return odrt_arena_strdup(g->model->arena, buf);
}

static const ir_attr *perm_of(const ir_node *n) {
    const ir_attr *a = ir_node_attr(n, "perm");
    return a && a->type == IR_ATTR_INTS ? a : NULL;
}

int ir_fold_transposes(ir_graph *g) {
    int removed = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || !ir_op_is(n, "Transpose") || !n->in[0] || !n->out[0]) continue;
        const ir_attr *p2 = perm_of(n);
        ir_node *p = n->in[0]->producer;
        /* Transpose(Transpose(x, p1), p2) = Transpose(x, p1[p2]) */
        if (p && !p->dead && ir_op_is(p, "Transpose") && p2 && perm_of(p) && perm_of(p)->n == p2->n) {
            const ir_attr *p1 = perm_of(p);
            int64_t comp[ODRT_MAX_RANK * 4];
            if (p2->n > ODRT_MAX_RANK * 4) continue;
            for (int k = 0; k < p2->n; k++) comp[k] = p1->ints[p2->ints[k]];
            int64_t *ints = odrt_arena_memdup(g->model->arena, comp, sizeof(int64_t) * (size_t)p2->n);
            if (!ints) continue;
            ir_node_set_input(n, 0, p->in[0]);
            ((ir_attr *)p2)->ints = ints;
        }
        p2 = perm_of(n);
        int ident = p2 != NULL;
        for (int k = 0; ident && k < p2->n; k++) ident = p2->ints[k] == k;
        if (ident && !(n->out[0]->flags & IR_VAL_OUTPUT)) {
            ir_value_replace_uses(n->out[0], n->in[0]);
            ir_node_remove(n);
            removed++;
        }
    }
    return removed;
}
