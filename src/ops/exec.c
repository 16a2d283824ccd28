/* The CPU reference executor: plans each graph once, runs nodes in topological order, frees each
 * value after its last reader, and runs sub-graphs (Loop/If bodies) in nested frames. The
 * registry is registry.c, values value.c, the public session API session.c. */
#include "ops/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct graph_plan {
    int *use_count;      /* per value id: reads by nodes of this graph (sub-graph reads included) */
    ex_kernel_fn *fns;   /* per node */
    int64_t *opsets;     /* per node */
    ex_val **inits;      /* per value id: borrowed initializer views (NULL otherwise) */
    unsigned char *is_out;
} graph_plan;

struct ex_session {
    const ir_model *m;
    graph_plan *plans; /* per graph index */
    size_t n_plans;
};

struct ex_frame {
    const ir_graph *g;
    const graph_plan *p;
    ex_val **env;
    unsigned char *owned;
    int *remaining;
    ex_frame *parent;
};

/* ---- planning ---- */
static void count_use(ir_value *v, void *ctx) { ((int *)ctx)[v->id]++; }

static odrt_status_t plan_graph(ex_session *s, const ir_graph *g) {
    graph_plan *p = &s->plans[g->index];
    p->use_count = calloc(g->n_values + 1, sizeof(int));
    p->fns = calloc(g->n_nodes + 1, sizeof(ex_kernel_fn));
    p->opsets = calloc(g->n_nodes + 1, sizeof(int64_t));
    p->inits = calloc(g->n_values + 1, sizeof(ex_val *));
    p->is_out = calloc(g->n_values + 1, 1);
    if (!p->use_count || !p->fns || !p->opsets || !p->inits || !p->is_out)
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory planning graph");
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        p->fns[i] = ex_find_kernel(n->domain, n->op);
        p->opsets[i] = ir_model_opset(s->m, n->domain);
        if (!p->fns[i])
            return odrt_fail(ODRT_ERR_UNSUPPORTED, "unsupported op '%s%s%s' (node '%s', opset %lld)", n->domain,
                             *n->domain ? "." : "", n->op, n->name, (long long)p->opsets[i]);
        ir_node_reads(n, g, count_use, p->use_count);
    }
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o]->graph == g) p->is_out[g->outputs[o]->id] = 1;
    for (size_t i = 0; i < g->n_values; i++) {
        const ir_value *v = g->values[i];
        if (!v->init) continue;
        if (v->init->dtype == ODRT_DT_STRING || v->init->rank > ODRT_MAX_RANK) continue; /* fails if read */
        ex_val *e = calloc(1, sizeof *e);
        if (!e) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        e->borrowed = 1;
        e->t.dtype = (odrt_dtype_t)v->init->dtype;
        e->t.rank = v->init->rank;
        for (int d = 0; d < v->init->rank; d++) e->t.dims[d] = v->init->dims[d];
        e->t.data = v->init->data;
        e->t.nbytes = v->init->nbytes;
        p->inits[i] = e;
    }
    return ODRT_OK;
}

static void free_plans(ex_session *s) {
    for (size_t i = 0; i < s->n_plans; i++) {
        graph_plan *p = &s->plans[i];
        if (p->inits)
            for (size_t k = 0; k < s->m->all_graphs[i]->n_values; k++) free(p->inits[k]);
        free(p->use_count);
        free(p->fns);
        free(p->opsets);
        free(p->inits);
        free(p->is_out);
    }
    free(s->plans);
}

/* ---- running ---- */
static ex_val *lookup(ex_frame *f, const ir_value *v) {
    for (; f; f = f->parent)
        if (f->g == v->graph) return f->p->inits[v->id] ? f->p->inits[v->id] : f->env[v->id];
    return NULL;
}

typedef struct {
    ex_frame *f;
} release_ctx;

static void release(ir_value *v, void *ctx) {
    ex_frame *f = ((release_ctx *)ctx)->f;
    if (--f->remaining[v->id] == 0 && f->owned[v->id] && !f->p->is_out[v->id]) {
        ex_val_free(f->env[v->id]);
        f->env[v->id] = NULL;
        f->owned[v->id] = 0;
    }
}

odrt_status_t ex_run_graph(ex_session *s, const ir_graph *g, ex_frame *parent, ex_val **inputs, int n_inputs,
                               ex_val **outputs) {
    const graph_plan *p = &s->plans[g->index];
    if (n_inputs != g->n_inputs)
        return odrt_fail(ODRT_ERR_INVALID, "graph '%s' takes %d inputs, got %d", g->name, g->n_inputs, n_inputs);
    ex_frame f = {g, p, calloc(g->n_values + 1, sizeof(ex_val *)), calloc(g->n_values + 1, 1),
                  malloc(sizeof(int) * (g->n_values + 1)), parent};
    odrt_status_t rc = ODRT_OK;
    ex_val **ins = NULL, **outs = NULL;
    if (!f.env || !f.owned || !f.remaining) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(f.remaining, p->use_count, sizeof(int) * g->n_values);
    for (int i = 0; i < n_inputs; i++) {
        const ir_value *v = g->inputs[i];
        if (inputs[i]) f.env[v->id] = inputs[i];
        else if (!v->init) {
            rc = odrt_fail(ODRT_ERR_ARG, "graph input '%s' not given", v->name);
            goto done;
        }
    }
    release_ctx rctx = {&f};
    for (size_t i = 0; i < g->n_nodes && rc == ODRT_OK; i++) {
        const ir_node *n = g->nodes[i];
        if (n->dead) continue;
        ex_node_ctx c = {s, &f, n, p->opsets[i], NULL, n->n_in, NULL, n->n_out};
        ins = calloc((size_t)n->n_in + 1, sizeof(ex_val *));
        outs = calloc((size_t)n->n_out + 1, sizeof(ex_val *));
        if (!ins || !outs) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        for (int k = 0; k < n->n_in; k++) {
            if (!n->in[k]) continue;
            ins[k] = lookup(&f, n->in[k]);
            if (!ins[k]) rc = odrt_fail(ODRT_ERR_INVALID, "node '%s' (%s): input '%s' has no value", n->name, n->op,
                                        n->in[k]->name);
            else if (!ins[k]->is_seq && ins[k]->t.dtype == ODRT_DT_BFLOAT16)
                rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "node '%s' (%s): bfloat16 tensors are not supported", n->name, n->op);
        }
        c.in = ins;
        c.out = outs;
        if (rc == ODRT_OK) rc = p->fns[i](&c);
        for (int k = 0; k < n->n_out; k++) {
            if (rc == ODRT_OK && n->out[k]) {
                if (!outs[k]) {
                    rc = odrt_fail(ODRT_ERR_INVALID, "node '%s' (%s) did not produce output %d", n->name, n->op, k);
                } else {
                    f.env[n->out[k]->id] = outs[k];
                    f.owned[n->out[k]->id] = 1;
                    outs[k] = NULL;
                    if (!p->use_count[n->out[k]->id] && !p->is_out[n->out[k]->id]) {
                        ex_val_free(f.env[n->out[k]->id]);
                        f.env[n->out[k]->id] = NULL;
                        f.owned[n->out[k]->id] = 0;
                    }
                }
            }
            ex_val_free(outs[k]);
        }
        free(ins);
        free(outs);
        ins = outs = NULL;
        if (rc == ODRT_OK) ir_node_reads(n, g, release, &rctx);
    }
    for (int o = 0; o < g->n_outputs && rc == ODRT_OK; o++) {
        const ir_value *v = g->outputs[o];
        if (v->graph == g && f.owned[v->id] && f.env[v->id]) {
            /* a value listed twice as output is cloned the second time */
            outputs[o] = f.env[v->id];
            f.env[v->id] = NULL;
            f.owned[v->id] = 0;
            continue;
        }
        ex_val *src = lookup(&f, v);
        for (int q = 0; !src && q < o; q++)
            if (g->outputs[q] == v) src = outputs[q];
        if (!src) {
            rc = odrt_fail(ODRT_ERR_INVALID, "graph output '%s' was not computed", v->name);
            break;
        }
        outputs[o] = ex_val_clone(src);
        if (!outputs[o]) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    if (rc != ODRT_OK)
        for (int o = 0; o < g->n_outputs; o++) ex_val_free(outputs[o]), outputs[o] = NULL;
done:
    free(ins);
    free(outs);
    if (f.env)
        for (size_t i = 0; i < g->n_values; i++)
            if (f.owned && f.owned[i]) ex_val_free(f.env[i]);
    free(f.env);
    free(f.owned);
    free(f.remaining);
    return rc;
}

odrt_status_t ex_run_subgraph(ex_node_ctx *c, const ir_graph *g, ex_val **inputs, int n_inputs, ex_val **outputs) {
    return ex_run_graph(c->s, g, c->frame, inputs, n_inputs, outputs);
}

odrt_status_t ex_session_new(const ir_model *m, ex_session **out) {
    ex_session *s = calloc(1, sizeof *s);
    if (!s) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    s->m = m;
    s->n_plans = m->n_graphs;
    s->plans = calloc(s->n_plans + 1, sizeof(graph_plan));
    if (!s->plans) {
        free(s);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n_plans; i++) {
        odrt_status_t rc = plan_graph(s, m->all_graphs[i]);
        if (rc != ODRT_OK) {
            free_plans(s);
            free(s);
            return rc;
        }
    }
    *out = s;
    return ODRT_OK;
}

const ir_model *ex_session_model(const ex_session *s) { return s->m; }

void ex_session_free(ex_session *s) {
    if (!s) return;
    free_plans(s);
    free(s);
}

odrt_status_t ex_run_node_in_scope(const ir_model *m, const ir_graph *g, const ir_node *n, ex_val **env, ex_val **ins,
                                   ex_val **outs) {
    ex_session *s;
    ODRT_TRY(ex_session_new(m, &s));
    ex_frame f = {g, &s->plans[g->index], env, NULL, NULL, NULL};
    ex_node_ctx c = {s, &f, n, ir_model_opset(m, n->domain), ins, n->n_in, outs, n->n_out};
    ex_kernel_fn fn = ex_find_kernel(n->domain, n->op);
    odrt_status_t rc = fn ? fn(&c) : odrt_fail(ODRT_ERR_UNSUPPORTED, "unsupported op '%s' (node '%s')", n->op, n->name);
    ex_session_free(s);
    return rc;
}
