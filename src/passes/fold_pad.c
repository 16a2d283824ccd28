/* A zero Pad of H and W folded into the Conv or MaxPool reading it (Keras' ZeroPadding2D before a
 * ResNet's stem pool, TF's explicit padding before strided convs): the padded tensor never
 * exists, and the op runs natively instead of on the reference executor. Zero padding equals a
 * conv's own padding; for a max pool (whose padding never wins) it is the same only when the
 * input is never negative, so the Pad's input must come out of a Relu or a Clip at >= 0. */
#include <string.h>

#include "passes/netopt.h"

static int const_ints(const ir_value *v, int64_t *out, int max) {
    if (!v || !v->init || v->init->dtype != ODRT_DT_INT64 || v->init->numel > max) return -1;
    memcpy(out, v->init->data, sizeof(int64_t) * (size_t)v->init->numel);
    return (int)v->init->numel;
}

static int is_zero(const ir_value *v) {
    if (!v) return 1; /* absent: 0 */
    if (!v->init || v->init->numel != 1) return 0;
    switch (v->init->dtype) {
    case ODRT_DT_FLOAT: return ((float *)v->init->data)[0] == 0.0f;
    case ODRT_DT_DOUBLE: return ((double *)v->init->data)[0] == 0.0;
    default: return 0;
    }
}

static int non_negative(const ir_value *v) {
    const ir_node *p = v->producer;
    if (!p) return 0;
    if (ir_op_is(p, "Relu")) return 1;
    if (!ir_op_is(p, "Clip")) return 0;
    if (p->n_in < 2) return ir_attr_float(p, "min", -1.0f) >= 0;
    const ir_value *lo = p->in[1];
    return lo && lo->init && lo->init->numel == 1 && lo->init->dtype == ODRT_DT_FLOAT && ((float *)lo->init->data)[0] >= 0;
}

int ir_fold_pads(ir_model *m) {
    ir_graph *g = m->graph;
    int folded = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *pad = g->nodes[i];
        if (pad->dead || !ir_op_is(pad, "Pad") || !pad->in[0] || !pad->out[0] || pad->n_out != 1) continue;
        if (strcmp(ir_attr_str(pad, "mode", "constant"), "constant") || (pad->n_in > 3 && pad->in[3])) continue;
        int64_t pd[8];
        int64_t opset = ir_model_opset(m, pad->domain);
        int np;
        if (opset >= 11) np = pad->n_in > 1 ? const_ints(pad->in[1], pd, 8) : -1;
        else {
            const ir_attr *a = ir_node_attr(pad, "pads");
            np = a && a->type == IR_ATTR_INTS && a->n == 8 ? 8 : -1;
            if (np == 8) memcpy(pd, a->ints, sizeof pd);
            if (ir_attr_float(pad, "value", 0.0f) != 0.0f) continue;
        }
        if (np != 8 || pd[0] || pd[1] || pd[4] || pd[5] || pd[2] < 0 || pd[3] < 0 || pd[6] < 0 || pd[7] < 0) continue;
        if (opset >= 11 && !is_zero(pad->n_in > 2 ? pad->in[2] : NULL)) continue;
        ir_value *y = pad->out[0];
        if (y->n_uses != 1 || (y->flags & IR_VAL_OUTPUT)) continue;
        ir_node *c = y->uses[0].node;
        if (y->uses[0].index != 0 || c->graph != g) continue;
        int conv = ir_op_is(c, "Conv"), pool = ir_op_is(c, "MaxPool");
        if (!conv && !pool) continue;
        const char *ap = ir_attr_str(c, "auto_pad", "NOTSET");
        if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) continue;
        const ir_attr *cp = ir_node_attr(c, "pads"), *ks = ir_node_attr(c, "kernel_shape");
        int64_t old[4] = {0, 0, 0, 0};
        if (cp && (cp->type != IR_ATTR_INTS || cp->n != 4)) continue;
        if (cp) memcpy(old, cp->ints, sizeof old);
        int64_t nw[4] = {old[0] + pd[2], old[1] + pd[3], old[2] + pd[6], old[3] + pd[7]}; /* [h0, w0, h1, w1] */
        if (pool) { /* the pool's padding must stay inside its window, and zeros must never win */
            if (!non_negative(pad->in[0]) || ir_attr_int(c, "ceil_mode", 0) || !ks || ks->n != 2 || nw[0] >= ks->ints[0] ||
                nw[2] >= ks->ints[0] || nw[1] >= ks->ints[1] || nw[3] >= ks->ints[1])
                continue;
        }
        ir_attr a;
        memset(&a, 0, sizeof a);
        a.name = "pads", a.type = IR_ATTR_INTS, a.n = 4;
        a.ints = odrt_arena_memdup(m->arena, nw, sizeof nw);
        ir_attr none;
        memset(&none, 0, sizeof none);
        none.name = "auto_pad", none.type = IR_ATTR_STRING, none.s = "NOTSET", none.s_len = 6;
        if (!a.ints || !ir_node_add_attr(c, &a) || !ir_node_add_attr(c, &none)) return folded;
        ir_node_set_input(c, 0, pad->in[0]);
        ir_node_remove(pad);
        folded++;
    }
    return folded;
}
