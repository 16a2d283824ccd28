/* Partial evaluation, constant folding and Transpose folding. */
#include "ops/fold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ir_value *ir_const_from_val(ir_graph *g, const char *base, const ex_val *v) {
    if (v->is_seq) return NULL;
    ir_tensor *t = ir_tensor_new(g->model, v->t.dtype, v->t.rank, v->t.dims);
    if (!t) return NULL;
    if (t->nbytes) memcpy(t->data, v->t.data, t->nbytes);
    const char *name = ir_unique_name(g, base);
    return name ? ir_graph_add_const(g, name, t) : NULL;
}

static ex_val *view_of_init(const ir_tensor *t) {
    if (t->dtype == ODRT_DT_STRING || t->rank > ODRT_MAX_RANK) return NULL;
    ex_val *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->borrowed = 1;
    e->t.dtype = (odrt_dtype_t)t->dtype;
    e->t.rank = t->rank;
    for (int i = 0; i < t->rank; i++) e->t.dims[i] = t->dims[i];
    e->t.data = t->data;
    e->t.nbytes = t->nbytes;
    return e;
}

static int has_subgraph(const ir_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == IR_ATTR_GRAPH || n->attrs[a].type == IR_ATTR_GRAPHS) return 1;
    return 0;
}

int ir_node_foldable(const ir_node *n) {
    if (has_subgraph(n)) return 0;
    return strncmp(n->op, "Random", 6) && strcmp(n->op, "Multinomial") && strcmp(n->op, "Bernoulli") &&
           ex_find_kernel(n->domain, n->op) != NULL;
}

odrt_status_t ir_run_node(ir_model *m, const ir_node *n, ex_val **ins, ex_val **outs, int quiet) {
    ex_kernel_fn fn = ex_find_kernel(n->domain, n->op);
    if (!fn) return quiet ? ODRT_ERR_UNSUPPORTED : odrt_fail(ODRT_ERR_UNSUPPORTED, "unsupported op '%s' (node '%s')", n->op, n->name);
    ex_node_ctx c = {NULL, NULL, n, ir_model_opset(m, n->domain), ins, n->n_in, outs, n->n_out};
    char saved[1024];
    if (quiet) snprintf(saved, sizeof saved, "%s", odrt_last_error());
    odrt_status_t rc = fn(&c);
    if (quiet) odrt_fail(ODRT_OK, "%s", saved);
    return rc;
}

static void mark_need(ir_value *v, void *ctx) {
    const unsigned char *seeded = ctx;
    if (seeded && seeded[v->id]) return;
    if (v->producer && !v->producer->dead) v->producer->mark = 1;
}

odrt_status_t ir_eval(ir_model *m, ir_graph *g, int n_seeds, ir_value *const *seeds, ex_val *const *seed_vals,
                      int n_targets, ir_value *const *targets, ex_val **out) {
    size_t nv = g->n_values;
    ex_val **env = calloc(nv + 1, sizeof(ex_val *));
    unsigned char *own = calloc(nv + 1, 1), *seeded = calloc(nv + 1, 1);
    odrt_status_t rc = ODRT_OK;
    if (!env || !own || !seeded) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_seeds; i++) env[seeds[i]->id] = seed_vals[i], seeded[seeds[i]->id] = 1;
    /* nodes needed: ancestors of targets, not crossing seeds (walk in reverse topological order) */
    for (size_t i = 0; i < g->n_nodes; i++) g->nodes[i]->mark = 0;
    for (int t = 0; t < n_targets; t++)
        if (!seeded[targets[t]->id] && targets[t]->producer) targets[t]->producer->mark = 1;
    for (size_t i = g->n_nodes; i-- > 0;) {
        ir_node *n = g->nodes[i];
        if (n->dead || !n->mark) continue;
        /* inputs, and the values of g its sub-graphs read */
        ir_node_reads(n, g, mark_need, seeded);
    }
    for (size_t i = 0; i < g->n_nodes && rc == ODRT_OK; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || !n->mark) continue;
        int n_outer = 0;
        int scoped = has_subgraph(n) && ex_find_kernel(n->domain, n->op);
        if (!scoped && !ir_node_foldable(n)) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "cannot evaluate node '%s' (%s) here", n->name, n->op);
            break;
        }
        /* a Concat of every class's boxes has as many inputs as the model has classes */
        ex_val **ins = calloc((size_t)n->n_in + 1, sizeof *ins), **outs = calloc((size_t)n->n_out + 1, sizeof *outs);
        ex_val **outer_views = calloc((size_t)n->n_in + 1, sizeof *outer_views);
        if (!ins || !outs || !outer_views) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (int k = 0; k < n->n_in && rc == ODRT_OK; k++) {
            ir_value *v = n->in[k];
            if (!v) continue;
            if (v->graph != g && !v->init)
                rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "node '%s' reads '%s' from an outer scope", n->name, v->name);
            else if (v->graph == g && env[v->id]) ins[k] = env[v->id];
            else if (v->init && v->graph != g) {
                ins[k] = view_of_init(v->init);
                if (!ins[k]) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "initializer '%s' cannot be evaluated", v->name);
                else outer_views[n_outer++] = ins[k];
            } else if (v->init) {
                ins[k] = env[v->id] = view_of_init(v->init);
                own[v->id] = 1;
                if (!ins[k]) rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "initializer '%s' cannot be evaluated", v->name);
            } else
                rc = odrt_fail(ODRT_ERR_INVALID, "'%s' depends on '%s', which has no value here", n->name, v->name);
        }
        if (rc == ODRT_OK) rc = scoped ? ex_run_node_in_scope(m, g, n, env, ins, outs) : ir_run_node(m, n, ins, outs, 0);
        for (int k = 0; k < n_outer; k++) free(outer_views[k]);
        for (int k = 0; outs && k < n->n_out; k++) {
            if (rc == ODRT_OK && n->out[k] && outs[k]) {
                env[n->out[k]->id] = outs[k];
                own[n->out[k]->id] = 1;
            } else ex_val_free(outs[k]);
        }
        free(ins), free(outs), free(outer_views);
    }
    for (int t = 0; t < n_targets && rc == ODRT_OK; t++) {
        ex_val *v = env[targets[t]->id];
        if (!v && targets[t]->init) v = view_of_init(targets[t]->init), env[targets[t]->id] = v, own[targets[t]->id] = 1;
        out[t] = v ? ex_val_clone(v) : NULL;
        if (!out[t]) rc = odrt_fail(ODRT_ERR_INVALID, "'%s' could not be evaluated", targets[t]->name);
    }
    if (rc != ODRT_OK)
        for (int t = 0; t < n_targets; t++) ex_val_free(out[t]), out[t] = NULL;
done:
    if (env)
        for (size_t i = 0; i < nv; i++)
            if (own && own[i]) ex_val_free(env[i]);
    free(env);
    free(own);
    free(seeded);
    return rc;
}

/* Shape of a value whose shape is fully known becomes a constant */
static int fold_static_shape(ir_model *m, ir_graph *g, ir_node *n) {
    const ir_type *t = n->in[0] ? &n->in[0]->type : NULL;
    if (!t || t->kind != IR_TYPE_TENSOR || t->rank < 0 || t->rank > ODRT_MAX_RANK || n->n_out != 1 || !n->out[0]) return 0;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d].value < 0) return 0;
    int64_t r = t->rank, st = ir_attr_int(n, "start", 0), en = ir_attr_int(n, "end", r);
    if (st < 0) st += r;
    if (en < 0) en += r;
    st = st < 0 ? 0 : st > r ? r : st;
    en = en < 0 ? 0 : en > r ? r : en;
    int64_t len = en > st ? en - st : 0;
    ir_tensor *c = ir_tensor_new(m, ODRT_DT_INT64, 1, &len);
    if (!c || !odrt_grow((void **)&g->inits, sizeof(ir_value *), &g->cap_inits, g->n_inits + 1)) return 0;
    for (int64_t k = 0; k < len; k++) ((int64_t *)c->data)[k] = t->dims[st + k].value;
    ir_value *v = n->out[0];
    c->name = v->name;
    v->init = c;
    v->producer = NULL;
    g->inits[g->n_inits++] = v;
    ir_value_remove_use(n->in[0], n, 0);
    n->dead = 1;
    return 1;
}

int ir_fold_constants(ir_model *m, ir_graph *g) {
    int folded = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (!n->dead && ir_op_is(n, "Shape") && n->n_in == 1 && !(n->in[0] && n->in[0]->init)) {
            folded += fold_static_shape(m, g, n);
            continue;
        }
        if (n->dead || !ir_node_foldable(n)) continue;
        int all = 1;
        int64_t in_numel = 0; /* the inputs' element count: a fold may not make more than it reads (Expand, Tile) */
        for (int k = 0; k < n->n_in && all; k++) {
            if (!n->in[k]) continue;
            all = n->in[k]->init != NULL && n->in[k]->graph == g;
            if (all) in_numel += n->in[k]->init->numel;
        }
        if (!all) continue;
        ex_val **ins = calloc((size_t)n->n_in + 1, sizeof *ins), **outs = calloc((size_t)n->n_out + 1, sizeof *outs);
        int ok = ins && outs;
        for (int k = 0; k < n->n_in && ok; k++)
            if (n->in[k]) ok = (ins[k] = view_of_init(n->in[k]->init)) != NULL;
        if (ok) ok = ir_run_node(m, n, ins, outs, 1) == ODRT_OK;
        for (int k = 0; ok && k < n->n_out; k++)
            if (n->out[k] && (!outs[k] || outs[k]->is_seq ||
                              (ex_numel(outs[k]) > 65536 && ex_numel(outs[k]) > in_numel)))
                ok = 0;
        if (ok) {
            for (int k = 0; k < n->n_out; k++) {
                ir_value *v = n->out[k];
                if (!v) continue;
                /* the value keeps its name: detach from the node and attach the data */
                ir_tensor *t = ir_tensor_new(m, outs[k]->t.dtype, outs[k]->t.rank, outs[k]->t.dims);
                if (!t || !odrt_grow((void **)&g->inits, sizeof(ir_value *), &g->cap_inits, g->n_inits + 1)) {
                    ok = 0;
                    break;
                }
                if (t->nbytes) memcpy(t->data, outs[k]->t.data, t->nbytes);
                t->name = v->name;
                v->init = t;
                v->producer = NULL;
                v->type.kind = IR_TYPE_TENSOR;
                v->type.dtype = t->dtype;
                v->type.rank = t->rank;
                v->type.dims = odrt_arena_alloc(m->arena, sizeof(ir_dim) * (size_t)(t->rank + 1));
                for (int d = 0; v->type.dims && d < t->rank; d++) v->type.dims[d].value = t->dims[d];
                g->inits[g->n_inits++] = v;
            }
            if (ok) {
                for (int k = 0; k < n->n_in; k++)
                    if (n->in[k]) ir_value_remove_use(n->in[k], n, k);
                n->dead = 1;
                folded++;
            }
        }
        for (int k = 0; ins && k < n->n_in; k++) free(ins[k]);
        for (int k = 0; outs && k < n->n_out; k++) ex_val_free(outs[k]);
        free(ins), free(outs);
    }
    return folded;
}

