/* BatchNormalization (inference) folded into the convolution before it: the engine's conv kernels
 * then apply it for free with their bias. TF OD API graphs keep BN unfused where Keras layers sit
 * between conv and BN in the export (EfficientDet's BiFPN and its weight-shared heads, which share
 * one conv weight between levels but keep one BN per level: each folded conv gets its own copy).
 * A BN that cannot be folded (its input reaches it through a Reshape, as tf2onnx writes for 1x1
 * maps, or from no conv at all) becomes x * s + t with per-channel constants, which the engine
 * lowers natively instead of running the op on the reference executor. */
#include <math.h>
#include <string.h>

#include "ops/fold.h"
#include "passes/netopt.h"

static const float *const_f(const ir_value *v, int64_t n) {
    return v && v->init && v->init->dtype == ODRT_DT_FLOAT && v->init->numel == n ? v->init->data : NULL;
}

/* inference BN as Mul(x, s) -> Add(., t), s = scale / sqrt(var + eps), t = bias - mean * s, both
 * shaped [1, C, 1, ...] against x's rank; 1 if rewritten */
static int decompose(ir_model *m, ir_graph *g, ir_node *bn) {
    ir_value *x = bn->in[0], *y = bn->out[0];
    const ir_type *xt = &x->type;
    if (ir_attr_int(bn, "training_mode", 0) || xt->rank < 2 || xt->rank > ODRT_MAX_RANK || xt->dims[1].value <= 0) return 0;
    for (int k = 1; k < bn->n_out; k++)
        if (bn->out[k] && (bn->out[k]->n_uses || (bn->out[k]->flags & IR_VAL_OUTPUT))) return 0;
    int64_t C = xt->dims[1].value, d[ODRT_MAX_RANK];
    const float *sc = const_f(bn->in[1], C), *sh = const_f(bn->in[2], C), *mu = const_f(bn->in[3], C), *var = const_f(bn->in[4], C);
    if (!sc || !sh || !mu || !var) return 0;
    for (int k = 0; k < xt->rank; k++) d[k] = k == 1 ? C : 1;
    ir_tensor *ts = ir_tensor_new(m, ODRT_DT_FLOAT, xt->rank, d), *tt = ir_tensor_new(m, ODRT_DT_FLOAT, xt->rank, d);
    if (!ts || !tt) return 0;
    double eps = ir_attr_float(bn, "epsilon", 1e-5f);
    for (int64_t c = 0; c < C; c++) {
        double s = (double)sc[c] / sqrt((double)var[c] + eps);
        ((float *)ts->data)[c] = (float)s;
        ((float *)tt->data)[c] = (float)(sh[c] - mu[c] * s);
    }
    ir_value *sv = ir_graph_add_const(g, ir_unique_name(g, "odrt/bn_scale"), ts);
    ir_value *tv = ir_graph_add_const(g, ir_unique_name(g, "odrt/bn_shift"), tt);
    ir_value *mid = sv && tv ? ir_value_new(g, ir_unique_name(g, "odrt/bn_scaled")) : NULL;
    ir_node *mul = mid ? ir_node_new(g, "Mul", "", ir_unique_name(g, "odrt/bn_mul"), 2, 1) : NULL;
    ir_node *add = mul ? ir_node_new(g, "Add", "", ir_unique_name(g, "odrt/bn_add"), 2, 1) : NULL;
    if (!add) return 0;
    mid->type = x->type;
    ir_node_set_input(mul, 0, x);
    ir_node_set_input(mul, 1, sv);
    ir_node_set_output(mul, 0, mid);
    ir_node_set_input(add, 0, mid);
    ir_node_set_input(add, 1, tv);
    ir_value *out = ir_value_new(g, ir_unique_name(g, "odrt/bn_out"));
    if (!out) return 0;
    out->type = y->type;
    ir_node_set_output(add, 0, out);
    int keep_output = (y->flags & IR_VAL_OUTPUT) != 0;
    if (keep_output || ir_value_replace_uses(y, out) != ODRT_OK) { /* a graph output keeps its name: not rewritten */
        ir_node_remove(add), ir_node_remove(mul);
        return 0;
    }
    ir_node_remove(bn);
    return 1;
}

int ir_fold_batchnorm(ir_model *m) {
    ir_graph *g = m->graph;
    int folded = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *bn = g->nodes[i];
        if (bn->dead || !ir_op_is(bn, "BatchNormalization") || bn->n_in != 5 || !bn->in[0] || !bn->out[0]) continue;
        if (ir_attr_int(bn, "training_mode", 0)) continue;
        int n_out = 0;
        for (int k = 0; k < bn->n_out; k++) n_out += bn->out[k] != NULL && (bn->out[k]->n_uses || (bn->out[k]->flags & IR_VAL_OUTPUT));
        if (n_out != 1 || !bn->out[0]->n_uses || (bn->out[0]->flags & IR_VAL_OUTPUT)) continue;
        ir_value *x = bn->in[0];
        ir_node *conv = x->producer;
        if (!conv || !ir_op_is(conv, "Conv") || x->n_uses != 1 || (x->flags & IR_VAL_OUTPUT) || conv->n_in < 2) continue;
        const ir_tensor *w = conv->in[1] && conv->in[1]->init ? conv->in[1]->init : NULL;
        if (!w || w->dtype != ODRT_DT_FLOAT || w->rank < 3) continue;
        int64_t C = w->dims[0], per = w->numel / C;
        const float *sc = const_f(bn->in[1], C), *sh = const_f(bn->in[2], C), *mu = const_f(bn->in[3], C),
                    *var = const_f(bn->in[4], C), *b = conv->n_in > 2 && conv->in[2] ? const_f(conv->in[2], C) : NULL;
        if (!sc || !sh || !mu || !var || (conv->n_in > 2 && conv->in[2] && !b)) continue;
        double eps = ir_attr_float(bn, "epsilon", 1e-5f);
        ir_tensor *nw = ir_tensor_new(m, ODRT_DT_FLOAT, w->rank, w->dims), *nb = ir_tensor_new(m, ODRT_DT_FLOAT, 1, &C);
        if (!nw || !nb) return folded;
        float *W = nw->data, *B = nb->data;
        for (int64_t c = 0; c < C; c++) {
            double s = (double)sc[c] / sqrt((double)var[c] + eps);
            for (int64_t k = 0; k < per; k++) W[c * per + k] = (float)(((const float *)w->data)[c * per + k] * s);
            B[c] = (float)(((b ? b[c] : 0.0) - mu[c]) * s + sh[c]);
        }
        ir_value *wv = ir_graph_add_const(g, ir_unique_name(g, "odrt/bn_folded_w"), nw);
        ir_value *bv = ir_graph_add_const(g, ir_unique_name(g, "odrt/bn_folded_b"), nb);
        if (!wv || !bv) return folded;
        if (conv->n_in < 3) { /* room for the bias input */
            ir_value **ni = odrt_arena_alloc(m->arena, sizeof(ir_value *) * 3);
            if (!ni) return folded;
            memcpy(ni, conv->in, sizeof(ir_value *) * (size_t)conv->n_in);
            ni[2] = NULL;
            conv->in = ni, conv->n_in = 3;
        }
        ir_node_set_input(conv, 1, wv);
        ir_node_set_input(conv, 2, bv);
        if (ir_value_replace_uses(bn->out[0], x) != ODRT_OK) return folded;
        ir_node_remove(bn);
        folded++;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *bn = g->nodes[i];
        if (bn->dead || !ir_op_is(bn, "BatchNormalization") || bn->n_in != 5 || !bn->in[0] || !bn->out[0]) continue;
        folded += decompose(m, g, bn);
    }
    return folded;
}
