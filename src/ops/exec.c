/* The CPU reference executor: plans each graph once, runs nodes in topological order, frees each
 * value after its last reader, and runs sub-graphs (Loop/If bodies) in nested frames. */
#include "ops/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/model.h"

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

static const ex_kernel *const TABLES[] = {ex_kernels_elementwise, ex_kernels_shape, ex_kernels_nn,
                                          ex_kernels_reduce, ex_kernels_nms, ex_kernels_resize,
                                          ex_kernels_control, ex_kernels_trt_nms};

const ex_kernel *ex_find_op(const char *domain, const char *op) {
    if (!strcmp(domain, "ai.onnx")) domain = "";
    for (size_t t = 0; t < sizeof TABLES / sizeof *TABLES; t++)
        for (const ex_kernel *k = TABLES[t]; k->op; k++)
            if (!strcmp(k->op, op) && !strcmp(k->domain, domain)) return k;
    return NULL;
}

ex_kernel_fn ex_find_kernel(const char *domain, const char *op) {
    const ex_kernel *k = ex_find_op(domain, op);
    return k ? k->fn : NULL;
}

const char *odrt_supported_op(int i) {
    static char buf[128];
    for (size_t t = 0; t < sizeof TABLES / sizeof *TABLES; t++)
        for (const ex_kernel *k = TABLES[t]; k->op; k++)
            if (i-- == 0) {
                if (!*k->domain) return k->op;
                snprintf(buf, sizeof buf, "%s.%s", k->domain, k->op);
                return buf;
            }
    return NULL;
}

/* ---- values ---- */
ex_val *ex_val_new_tensor(odrt_dtype_t dt, int rank, const int64_t *dims) {
    if (rank < 0 || rank > ODRT_MAX_RANK) {
        odrt_fail(ODRT_ERR_UNSUPPORTED, "rank %d exceeds %d", rank, ODRT_MAX_RANK);
        return NULL;
    }
    size_t es = odrt_dtype_size(dt), n = 1;
    if (!es) {
        odrt_fail(ODRT_ERR_UNSUPPORTED, "tensors of type %s are not supported", odrt_dtype_name(dt));
        return NULL;
    }
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 || !odrt_mul_ok(n, (size_t)dims[i], &n)) {
            odrt_fail(ODRT_ERR_SHAPE, "invalid dim %lld", (long long)dims[i]);
            return NULL;
        }
    size_t bytes;
    if (!odrt_mul_ok(n, es, &bytes) || bytes > ((size_t)1 << 36)) {
        odrt_fail(ODRT_ERR_NOMEM, "tensor of %zu elements is too large", n);
        return NULL;
    }
    ex_val *v = calloc(1, sizeof *v);
    void *d = calloc(bytes ? bytes : 1, 1);
    if (!v || !d) {
        free(v);
        free(d);
        odrt_fail(ODRT_ERR_NOMEM, "out of memory for %zu bytes", bytes);
        return NULL;
    }
    v->t.dtype = dt;
    v->t.rank = rank;
    for (int i = 0; i < rank; i++) v->t.dims[i] = dims[i];
    v->t.data = d;
    v->t.nbytes = bytes;
    return v;
}

ex_val *ex_val_new_seq(void) {
    ex_val *v = calloc(1, sizeof *v);
    if (!v) odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    else v->is_seq = 1;
    return v;
}

void ex_val_free(ex_val *v) {
    if (!v) return;
    if (v->is_seq) {
        for (int i = 0; i < v->n_items; i++) ex_val_free(v->items[i]);
        free(v->items);
    } else if (!v->borrowed) {
        free(v->t.data);
    }
    free(v);
}

ex_val *ex_val_clone(const ex_val *v) {
    if (v->is_seq) {
        ex_val *s = ex_val_new_seq();
        if (!s) return NULL;
        s->items = calloc((size_t)v->n_items + 1, sizeof(ex_val *));
        if (!s->items) {
            free(s);
            return NULL;
        }
        for (int i = 0; i < v->n_items; i++) {
            s->items[i] = ex_val_clone(v->items[i]);
            s->n_items++;
            if (!s->items[i]) {
                ex_val_free(s);
                return NULL;
            }
        }
        return s;
    }
    ex_val *c = ex_val_new_tensor(v->t.dtype, v->t.rank, v->t.dims);
    if (c && v->t.nbytes) memcpy(c->t.data, v->t.data, v->t.nbytes);
    return c;
}

odrt_status_t ex_out(ex_node_ctx *c, int k, odrt_dtype_t dt, int rank, const int64_t *dims) {
    if (k >= c->n_out) return ex_fail_node(c, ODRT_ERR_INVALID, "output %d missing", k);
    ex_val_free(c->out[k]);
    c->out[k] = ex_val_new_tensor(dt, rank, dims);
    return c->out[k] ? ODRT_OK : ODRT_ERR_NOMEM;
}

/* ---- helpers ---- */
odrt_status_t ex_fail_node(const ex_node_ctx *c, odrt_status_t s, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return odrt_fail(s, "node '%s' (%s): %s", c->node->name, c->node->op, msg);
}

odrt_status_t ex_need(const ex_node_ctx *c, int k) {
    if (k >= c->n_in || !c->in[k]) return ex_fail_node(c, ODRT_ERR_INVALID, "input %d is required", k);
    if (c->in[k]->is_seq) return ex_fail_node(c, ODRT_ERR_INVALID, "input %d must be a tensor", k);
    return ODRT_OK;
}

uint16_t ex_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)(e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float ex_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, x;
    if (exp == 0) {
        if (!man) x = sign;
        else {
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) x = sign | 0x7f800000 | (man << 13);
    else x = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

double ex_get_f(const odrt_tensor_t *t, int64_t i) {
    switch (t->dtype) {
    case ODRT_DT_FLOAT: return ((const float *)t->data)[i];
    case ODRT_DT_DOUBLE: return ((const double *)t->data)[i];
    case ODRT_DT_INT32: return ((const int32_t *)t->data)[i];
    case ODRT_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case ODRT_DT_UINT8: case ODRT_DT_BOOL: return ((const uint8_t *)t->data)[i];
    case ODRT_DT_INT8: return ((const int8_t *)t->data)[i];
    case ODRT_DT_INT16: return ((const int16_t *)t->data)[i];
    case ODRT_DT_UINT16: return ((const uint16_t *)t->data)[i];
    case ODRT_DT_UINT32: return ((const uint32_t *)t->data)[i];
    case ODRT_DT_UINT64: return (double)((const uint64_t *)t->data)[i];
    case ODRT_DT_FLOAT16: return ex_f16_to_f32(((const uint16_t *)t->data)[i]);
    default: return NAN;
    }
}

int64_t ex_get_i(const odrt_tensor_t *t, int64_t i) {
    switch (t->dtype) {
    case ODRT_DT_INT64: return ((const int64_t *)t->data)[i];
    case ODRT_DT_INT32: return ((const int32_t *)t->data)[i];
    case ODRT_DT_UINT64: return (int64_t)((const uint64_t *)t->data)[i];
    default: {
        double d = ex_get_f(t, i);
        return isfinite(d) ? (int64_t)d : 0;
    }
    }
}

void ex_set_f(odrt_tensor_t *t, int64_t i, double x) {
    switch (t->dtype) {
    case ODRT_DT_FLOAT: ((float *)t->data)[i] = (float)x; break;
    case ODRT_DT_DOUBLE: ((double *)t->data)[i] = x; break;
    case ODRT_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)x; break;
    case ODRT_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)x; break;
    case ODRT_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)x; break;
    case ODRT_DT_BOOL: ((uint8_t *)t->data)[i] = x != 0; break;
    case ODRT_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)x; break;
    case ODRT_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)x; break;
    case ODRT_DT_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)x; break;
    case ODRT_DT_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)x; break;
    case ODRT_DT_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)x; break;
    case ODRT_DT_FLOAT16: ((uint16_t *)t->data)[i] = ex_f32_to_f16((float)x); break;
    default: break;
    }
}

double ex_scalar_f(const ex_val *v) { return ex_numel(v) ? ex_get_f(&v->t, 0) : 0; }
int64_t ex_scalar_i(const ex_val *v) { return ex_numel(v) ? ex_get_i(&v->t, 0) : 0; }

odrt_status_t ex_read_ints(const ex_node_ctx *c, int k, int64_t **out, int64_t *n) {
    ODRT_TRY(ex_need(c, k));
    const odrt_tensor_t *t = &c->in[k]->t;
    if (t->dtype != ODRT_DT_INT64 && t->dtype != ODRT_DT_INT32)
        return ex_fail_node(c, ODRT_ERR_INVALID, "input %d must be int32/int64, got %s", k, odrt_dtype_name(t->dtype));
    int64_t cnt = odrt_tensor_numel(t);
    int64_t *r = malloc(sizeof(int64_t) * (size_t)(cnt + 1));
    if (!r) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < cnt; i++) r[i] = ex_get_i(t, i);
    *out = r;
    *n = cnt;
    return ODRT_OK;
}

odrt_status_t ex_axis(const ex_node_ctx *c, int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= (rank ? rank : 1))
        return ex_fail_node(c, ODRT_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return ODRT_OK;
}

odrt_status_t ex_broadcast(const ex_node_ctx *c, int ra, const int64_t *da, int rb, const int64_t *db, int *ro,
                           int64_t *dout) {
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t a = i - (r - ra) >= 0 ? da[i - (r - ra)] : 1;
        int64_t b = i - (r - rb) >= 0 ? db[i - (r - rb)] : 1;
        if (a != b && a != 1 && b != 1)
            return ex_fail_node(c, ODRT_ERR_SHAPE, "cannot broadcast dim %d: %lld vs %lld", i, (long long)a,
                                (long long)b);
        dout[i] = a == 1 ? b : a;
    }
    *ro = r;
    return ODRT_OK;
}

void ex_bcast_strides(int ri, const int64_t *di, int ro, const int64_t *dout, int64_t *strides) {
    int64_t s = 1;
    for (int i = ro - 1; i >= 0; i--) {
        int j = i - (ro - ri);
        if (j < 0 || di[j] == 1) strides[i] = 0;
        else strides[i] = s;
        if (j >= 0) s *= di[j];
        (void)dout;
    }
}

int ex_scored_desc(const void *a, const void *b) {
    const ex_scored *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int ex_scored_asc(const void *a, const void *b) {
    const ex_scored *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

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

static odrt_status_t run_graph(ex_session *s, const ir_graph *g, ex_frame *parent, ex_val **inputs, int n_inputs,
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
    return run_graph(c->s, g, c->frame, inputs, n_inputs, outputs);
}

/* ---- public API ---- */
static odrt_status_t session_new(const ir_model *m, ex_session **out) {
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

odrt_status_t ex_run_node_in_scope(const ir_model *m, const ir_graph *g, const ir_node *n, ex_val **env, ex_val **ins,
                                   ex_val **outs) {
    ex_session *s;
    ODRT_TRY(session_new(m, &s));
    ex_frame f = {g, &s->plans[g->index], env, NULL, NULL, NULL};
    ex_node_ctx c = {s, &f, n, ir_model_opset(m, n->domain), ins, n->n_in, outs, n->n_out};
    ex_kernel_fn fn = ex_find_kernel(n->domain, n->op);
    odrt_status_t rc = fn ? fn(&c) : odrt_fail(ODRT_ERR_UNSUPPORTED, "unsupported op '%s' (node '%s')", n->op, n->name);
    free_plans(s);
    free(s);
    return rc;
}

odrt_status_t odrt_session_create(const odrt_model_t *m, odrt_session_t **out) {
    if (!m || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_session_create: NULL argument");
    *out = NULL;
    ODRT_TRY(ir_model_check_runnable(m->ir));
    ex_session *s;
    ODRT_TRY(session_new(m->ir, &s));
    *out = (odrt_session_t *)s;
    return ODRT_OK;
}

void odrt_session_free(odrt_session_t *os) {
    ex_session *s = (ex_session *)os;
    if (!s) return;
    free_plans(s);
    free(s);
}

static int dims_match(const ir_type *t, const odrt_tensor_t *x) {
    if (t->rank < 0) return 1;
    if (t->rank != x->rank) return 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i].value >= 0 && t->dims[i].value != x->dims[i]) return 0;
    return 1;
}

odrt_status_t odrt_session_run(odrt_session_t *os, int n_inputs, const char *const *names,
                               const odrt_tensor_t *const *inputs, odrt_tensor_t **outputs) {
    ex_session *s = (ex_session *)os;
    const ir_graph *g = s->m->graph;
    ex_val **in = calloc((size_t)g->n_inputs + 1, sizeof(ex_val *));
    ex_val **out = calloc((size_t)g->n_outputs + 1, sizeof(ex_val *));
    odrt_status_t rc = ODRT_OK;
    if (!in || !out) {
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < g->n_inputs && rc == ODRT_OK; i++) {
        const ir_value *v = g->inputs[i];
        int found = -1;
        for (int k = 0; k < n_inputs; k++)
            if (!strcmp(names[k], v->name)) found = k;
        if (found < 0) {
            if (!v->init) rc = odrt_fail(ODRT_ERR_ARG, "model input '%s' was not given", v->name);
            continue;
        }
        const odrt_tensor_t *x = inputs[found];
        if (v->type.kind == IR_TYPE_TENSOR && v->type.dtype && (int)x->dtype != v->type.dtype) {
            rc = odrt_fail(ODRT_ERR_ARG, "input '%s' must be %s, got %s", v->name,
                           odrt_dtype_name((odrt_dtype_t)v->type.dtype), odrt_dtype_name(x->dtype));
            break;
        }
        if (!dims_match(&v->type, x)) {
            rc = odrt_fail(ODRT_ERR_SHAPE, "input '%s' has a shape the model does not accept (rank %d)", v->name,
                           x->rank);
            break;
        }
        in[i] = calloc(1, sizeof(ex_val));
        if (!in[i]) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        in[i]->t = *x;
        in[i]->borrowed = 1;
    }
    for (int k = 0; k < n_inputs && rc == ODRT_OK; k++) {
        int found = 0;
        for (int i = 0; i < g->n_inputs; i++) found |= !strcmp(names[k], g->inputs[i]->name);
        if (!found) rc = odrt_fail(ODRT_ERR_ARG, "model has no input named '%s'", names[k]);
    }
    if (rc == ODRT_OK) rc = run_graph(s, g, NULL, in, g->n_inputs, out);
    for (int o = 0; o < g->n_outputs && rc == ODRT_OK; o++) {
        if (out[o]->is_seq) {
            rc = odrt_fail(ODRT_ERR_UNSUPPORTED, "output '%s' is a sequence", g->outputs[o]->name);
            break;
        }
        outputs[o] = malloc(sizeof(odrt_tensor_t));
        if (!outputs[o]) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        *outputs[o] = out[o]->t;
        out[o]->t.data = NULL;
    }
    if (rc != ODRT_OK)
        for (int o = 0; o < g->n_outputs; o++) odrt_tensor_free(outputs[o]), outputs[o] = NULL;
done:
    if (in)
        for (int i = 0; i < g->n_inputs; i++) free(in[i]);
    if (out)
        for (int o = 0; o < g->n_outputs; o++) ex_val_free(out[o]);
    free(in);
    free(out);
    return rc;
}
