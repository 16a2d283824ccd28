/* After lowering: NHWC layers' transposes pushed through elementwise ops and reductions until the
 * pairs between layers meet and fold; a BiasAdd joins its convolution; a spatial mean becomes
 * GlobalAveragePool; identities and constant sub-graphs folded (as tf2onnx leaves them: the TF OD
 * API recognition reads constants). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_lower.h"
#include "ops/fold.h"

static int is_perm(const ir_node *n, const int64_t *p) {
    const ir_attr *a = ir_node_attr(n, "perm");
    if (!ir_op_is(n, "Transpose") || !a || a->type != IR_ATTR_INTS || a->n != 4) return 0;
    return !memcmp(a->ints, p, sizeof(int64_t) * 4);
}

/* a rank-1 constant [L] broadcast on NHWC's last axis: the same values as [L, 1, 1] against NCHW */
static ir_value *nchw_const(ir_graph *g, const ir_value *v) {
    int64_t d[3] = {v->init->dims[0], 1, 1};
    ir_tensor *t = ir_tensor_new(g->model, v->init->dtype, 3, d);
    if (!t) return NULL;
    memcpy(t->data, v->init->data, t->nbytes);
    return ir_graph_add_const(g, ir_unique_name(g, v->name), t);
}

/* an NHWC value's NCHW twin: an existing Transpose of it to NCHW (pushing an op through with it
 * adds no transpose) */
static ir_value *nchw_twin(const ir_value *x) {
    static const int64_t to_nchw[4] = {0, 3, 1, 2};
    for (size_t u = 0; u < x->n_uses; u++)
        if (!x->uses[u].node->dead && is_perm(x->uses[u].node, to_nchw) && x->uses[u].node->out[0]) return x->uses[u].node->out[0];
    return NULL;
}

/* op(T(a), T(b)) -> T(op(a, b)) for elementwise ops whose transposed inputs share the perm (the
 * other inputs scalars), so that the NCHW->NHWC->NCHW pairs between layers meet and fold */
static int push_transposes(ir_graph *g) {
    static const char *const EW[] = {"Add",  "Sub",  "Mul", "Div",   "Max",        "Min", "Relu", "Clip",     "Sigmoid", "Tanh", "Abs",
                                     "Neg",  "Exp",  "Log", "Sqrt",  "Reciprocal", "Elu", "Floor", "Ceil",    "Softplus", "LeakyRelu", NULL};
    static const int64_t to_nhwc[4] = {0, 2, 3, 1};
    int changed = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        int ew = 0;
        for (int e = 0; EW[e]; e++) ew |= ir_op_is(n, EW[e]);
        if (n->dead || !ew || n->n_out != 1 || !n->out[0]) continue;
        int ok = 1, n_t = 0;
        for (int k = 0; k < n->n_in && ok; k++) {
            ir_value *x = n->in[k];
            if (!x) continue;
            if (x->producer && is_perm(x->producer, to_nhwc)) n_t++;
            else ok = (x->init && x->init->rank <= 1 && (x->init->numel == 1 || (n->n_in == 2 && x->init->rank == 1))) || nchw_twin(x);
        }
        if (!ok || !n_t) continue;
        /* rewire: inputs to the transposes' sources, output through one new Transpose */
        for (int k = 0; k < n->n_in; k++) {
            ir_value *x = n->in[k];
            ir_value *to = !x ? NULL
                           : x->producer && is_perm(x->producer, to_nhwc) ? x->producer->in[0]
                           : nchw_twin(x) ? nchw_twin(x)
                           : x->init && x->init->numel > 1 ? nchw_const(g, x) : NULL;
            if (to) {
                ir_value_remove_use(x, n, k);
                n->in[k] = NULL;
                ir_node_set_input(n, k, to);
            }
        }
        ir_value *y = n->out[0];
        ir_value *mid = ir_value_new(g, ir_unique_name(g, "tf/nchw"));
        ir_node *t = mid ? ir_node_new(g, "Transpose", "", ir_unique_name(g, "tf/to_nhwc"), 1, 1) : NULL;
        if (!t) return changed;
        y->producer = NULL;
        ir_node_set_output(n, 0, mid);
        ir_node_set_input(t, 0, mid);
        ir_set_attr_ints(t, "perm", to_nhwc, 4);
        ir_node_set_output(t, 0, y);
        changed++;
    }
    return changed;
}

static int single_use(const ir_value *v) { return v && v->n_uses == 1 && !(v->flags & IR_VAL_OUTPUT); }

/* Add(Conv(x, w), b [M, 1, 1] or [1, M, 1, 1]) -> Conv(x, w, b): TF2's Conv2D + BiasAdd */
static int fuse_conv_bias(ir_graph *g) {
    int n_fused = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *add = g->nodes[i];
        if (add->dead || !ir_op_is(add, "Add") || add->n_in != 2 || !add->out[0]) continue;
        for (int q = 0; q < 2; q++) {
            ir_value *cv = add->in[q], *b = add->in[1 - q];
            ir_node *conv = cv ? cv->producer : NULL;
            if (!conv || conv->dead || !ir_op_is(conv, "Conv") || (conv->n_in > 2 && conv->in[2]) || !single_use(cv)) continue;
            const ir_tensor *w = conv->in[1] ? conv->in[1]->init : NULL, *bt = b ? b->init : NULL;
            if (!w || w->rank != 4 || !bt || bt->dtype != ODRT_DT_FLOAT || bt->numel != w->dims[0] || bt->numel < 2) continue;
            int shape_ok = bt->rank == 3 || (bt->rank == 4 && bt->dims[0] == 1);
            for (int k = bt->rank - 2; shape_ok && k < bt->rank; k++) shape_ok = bt->dims[k] == 1;
            if (!shape_ok) continue;
            ir_tensor *b1 = ir_tensor_new(g->model, ODRT_DT_FLOAT, 1, &w->dims[0]);
            ir_value *bv = b1 ? ir_graph_add_const(g, ir_unique_name(g, b->name), b1) : NULL;
            ir_node *nc = bv ? ir_node_new(g, "Conv", "", ir_unique_name(g, conv->name), 3, 1) : NULL;
            if (!nc) return n_fused;
            memcpy(b1->data, bt->data, b1->nbytes);
            for (int a = 0; a < conv->n_attrs; a++) ir_node_add_attr(nc, &conv->attrs[a]);
            ir_node_set_input(nc, 0, conv->in[0]);
            ir_node_set_input(nc, 1, conv->in[1]);
            ir_node_set_input(nc, 2, bv);
            ir_value *y = add->out[0];
            ir_node_remove(add);
            ir_node_remove(conv);
            ir_node_set_output(nc, 0, y);
            n_fused++;
            break;
        }
    }
    return n_fused;
}

/* ReduceMean(T(x) NHWC, axes {1, 2}) -> GlobalAveragePool(x) (then to NHWC, or squeezed to [N, C]) */
static int spatial_means(ir_graph *g) {
    static const int64_t to_nhwc[4] = {0, 2, 3, 1}, hw[2] = {2, 3};
    int n_done = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        const ir_attr *ax = ir_node_attr(n, "axes");
        if (n->dead || !ir_op_is(n, "ReduceMean") || n->n_in != 1 || !n->in[0] || !n->in[0]->producer ||
            !is_perm(n->in[0]->producer, to_nhwc) || !ax || ax->type != IR_ATTR_INTS || ax->n != 2)
            continue;
        int64_t a0 = ax->ints[0] < 0 ? ax->ints[0] + 4 : ax->ints[0], a1 = ax->ints[1] < 0 ? ax->ints[1] + 4 : ax->ints[1];
        if (!((a0 == 1 && a1 == 2) || (a0 == 2 && a1 == 1))) continue;
        bld b = {g->model, g, ODRT_OK};
        ir_value *gap = b_op1(&b, "GlobalAveragePool", n->name, n->in[0]->producer->in[0]);
        ir_value *y = ir_attr_int(n, "keepdims", 1) ? b_transpose(&b, n->name, gap, 4, to_nhwc)
                                                    : b_op2(&b, "Squeeze", n->name, gap, b_ints(&b, "tf/hw", 2, hw));
        if (b.rc != ODRT_OK || ir_value_replace_uses(n->out[0], y) != ODRT_OK) return n_done;
        ir_node_remove(n);
        n_done++;
    }
    return n_done;
}

/* the node's op, inputs and attributes as a key (NULL: a node never merged: sub-graphs, tensors) */
static char *node_key(const ir_node *n) {
    odrt_sb_t sb = {0};
    odrt_sb_printf(&sb, "%s|%s|%d", n->domain, n->op, n->n_out);
    for (int k = 0; k < n->n_in; k++) odrt_sb_printf(&sb, "|%p", (const void *)n->in[k]);
    for (int a = 0; a < n->n_attrs; a++) {
        const ir_attr *t = &n->attrs[a];
        odrt_sb_printf(&sb, "|%s:%d:", t->name, (int)t->type);
        switch (t->type) {
        case IR_ATTR_INT: odrt_sb_printf(&sb, "%lld", (long long)t->i); break;
        case IR_ATTR_FLOAT: odrt_sb_printf(&sb, "%a", (double)t->f); break;
        case IR_ATTR_STRING: odrt_sb_printf(&sb, "%zu:%.*s", t->s_len, (int)t->s_len, t->s ? t->s : ""); break;
        case IR_ATTR_INTS: for (int i = 0; i < t->n; i++) odrt_sb_printf(&sb, "%lld,", (long long)t->ints[i]); break;
        case IR_ATTR_FLOATS: for (int i = 0; i < t->n; i++) odrt_sb_printf(&sb, "%a,", (double)t->floats[i]); break;
        default: free(odrt_sb_take(&sb)); return NULL;
        }
    }
    return odrt_sb_take(&sb);
}

/* x * 1, x / 1, x + 0, x - 0 with a scalar constant: x (TF's score-converter "logits / 1.0", which
 * tf2onnx also drops; the TF OD API recognition reads the logits through it) */
static int drop_neutral(ir_graph *g) {
    int n_done = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        int mul = ir_op_is(n, "Mul") || ir_op_is(n, "Div"), add = ir_op_is(n, "Add") || ir_op_is(n, "Sub");
        if (n->dead || (!mul && !add) || n->n_in != 2 || !n->in[0] || !n->out[0] || (n->out[0]->flags & IR_VAL_OUTPUT)) continue;
        const ir_tensor *c = n->in[1]->init;
        double v = c && c->rank == 0 && c->dtype == ODRT_DT_FLOAT ? ((float *)c->data)[0] : NAN;
        if (v != (mul ? 1.0 : 0.0) || n->in[0]->init) continue;
        if (ir_value_replace_uses(n->out[0], n->in[0]) != ODRT_OK) continue;
        ir_node_remove(n);
        n_done++;
    }
    return n_done;
}

/* small constants with the same type and bytes become one (then the nodes reading them can merge) */
static int merge_constants(ir_graph *g) {
    odrt_smap_t seen = {0};
    int merged = 0;
    for (size_t i = 0; i < g->n_inits; i++) {
        ir_value *v = g->inits[i];
        const ir_tensor *t = v->init;
        if (!t || t->nbytes > 1024 || (v->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)) || t->dtype == ODRT_DT_STRING || !v->n_uses) continue;
        odrt_sb_t sb = {0};
        odrt_sb_printf(&sb, "%d|%d|", t->dtype, t->rank);
        for (int d = 0; d < t->rank; d++) odrt_sb_printf(&sb, "%lld,", (long long)t->dims[d]);
        for (size_t b = 0; b < t->nbytes; b++) odrt_sb_printf(&sb, "%02x", ((const uint8_t *)t->data)[b]);
        char *key = odrt_sb_take(&sb);
        if (!key) break;
        ir_value *first = odrt_smap_get(&seen, key);
        if (!first) {
            char *k = odrt_arena_strdup(g->model->arena, key);
            if (!k || !odrt_smap_put(&seen, k, v)) {
                free(key);
                break;
            }
        } else if (ir_value_replace_uses(v, first) == ODRT_OK) {
            merged++;
        }
        free(key);
    }
    odrt_smap_free(&seen);
    return merged;
}

/* nodes that repeat an earlier one (same op, inputs and attributes) read its outputs instead, as
 * tf2onnx merges them: TF graphs compute the same reshape of the class logits twice, and the TF OD
 * API recognition follows values, not copies */
static int merge_duplicates(ir_graph *g) {
    odrt_smap_t seen = {0};
    char **keys = calloc(g->n_nodes + 1, sizeof *keys);
    int merged = 0;
    for (size_t i = 0; keys && i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        int out_ok = !n->dead;
        for (int k = 0; out_ok && k < n->n_out; k++) out_ok = n->out[k] && !(n->out[k]->flags & IR_VAL_OUTPUT);
        if (!out_ok || !(keys[i] = node_key(n))) continue;
        ir_node *first = odrt_smap_get(&seen, keys[i]);
        if (!first) {
            if (!odrt_smap_put(&seen, keys[i], n)) break;
            continue;
        }
        int ok = 1;
        for (int k = 0; k < n->n_out && ok; k++) ok = ir_value_replace_uses(n->out[k], first->out[k]) == ODRT_OK;
        if (ok) ir_node_remove(n), merged++;
    }
    odrt_smap_free(&seen);
    for (size_t i = 0; keys && i < g->n_nodes; i++) free(keys[i]);
    free(keys);
    return merged;
}

/* TF's Identity, Snapshot, TensorList wrappers...: uses read the source (graph outputs keep theirs) */
static odrt_status_t drop_identities(ir_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = g->nodes[i];
        if (n->dead || !ir_op_is(n, "Identity") || !n->in[0] || !n->out[0] || (n->out[0]->flags & IR_VAL_OUTPUT)) continue;
        ODRT_TRY(ir_value_replace_uses(n->out[0], n->in[0]));
        ir_node_remove(n);
    }
    return ODRT_OK;
}

/* push and fold transposes until nothing moves */
static odrt_status_t settle(ir_graph *g) {
    ODRT_TRY(ir_graph_toposort(g));
    for (int round = 0; round < 64; round++) {
        int n = push_transposes(g);
        ODRT_TRY(ir_graph_toposort(g));
        n += ir_fold_transposes(g);
        ir_graph_cleanup(g);
        if (!n) break;
    }
    return ODRT_OK;
}

odrt_status_t tf_cleanup(ir_model *m) {
    for (size_t i = 0; i < m->n_graphs; i++) {
        ODRT_TRY(drop_identities(m->all_graphs[i]));
        ODRT_TRY(settle(m->all_graphs[i]));
    }
    /* constant sub-graphs (shape arithmetic, per-image constants a map_fn computes, weights in
     * ONNX's layout) become initializers, as tf2onnx leaves them: the TF OD API recognition reads
     * constants; then the fusions that need constant weights */
    for (size_t i = 0; i < m->n_graphs; i++) {
        ir_graph *g = m->all_graphs[i];
        ir_fold_constants(m, g);
        if (fuse_conv_bias(g) + spatial_means(g)) ODRT_TRY(settle(g));
        drop_neutral(g);
        merge_constants(g);
        while (merge_duplicates(g)) ir_graph_cleanup(g); /* a merge can make its users duplicates */
    }
    for (size_t i = 0; i < m->n_graphs; i++) ir_graph_cleanup(m->all_graphs[i]);
    ODRT_TRY(ir_graph_toposort(m->graph));
    return ir_graph_validate(m->graph);
}
