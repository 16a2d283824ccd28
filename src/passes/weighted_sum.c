/* BiFPN's fast normalised fusion as exported: the k inputs stacked on a new last axis (Unsqueeze +
 * Concat) and multiplied by a constant [k, 1] weight column (MatMul). For an engine that is a
 * weighted sum: y = sum_j w_j x_j with scalar multiplies and adds that run natively, the stacked
 * copy gone (the inputs become aliases of their sources). */
#include <stdio.h>
#include <string.h>

#include "ir/fold.h"
#include "passes/build.h"
#include "passes/netopt.h"

int ir_rewrite_weighted_sums(ir_model *m) {
    ir_graph *g = m->graph;
    bld b = {m, g, ODRT_OK};
    int done = 0;
    size_t n0 = g->n_nodes;
    for (size_t i = 0; i < n0 && b.rc == ODRT_OK; i++) {
        ir_node *mm = g->nodes[i];
        if (mm->dead || !ir_op_is(mm, "MatMul") || mm->n_in != 2 || !mm->in[0] || !mm->in[1] || !mm->out[0]) continue;
        const ir_tensor *w = mm->in[1]->init;
        ir_node *cat = mm->in[0]->producer;
        if (!w || w->dtype != ODRT_DT_FLOAT || w->rank != 2 || w->dims[1] != 1 || !cat || !ir_op_is(cat, "Concat") ||
            cat->n_in != w->dims[0] || mm->in[0]->type.rank < 2)
            continue;
        int r = mm->in[0]->type.rank;
        int64_t axis = ir_attr_int(cat, "axis", 0);
        if (axis < 0) axis += r;
        if (axis != r - 1) continue;
        int ok = 1;
        for (int j = 0; j < cat->n_in; j++) {
            const ir_value *p = cat->in[j];
            ok &= p && p->type.rank == r && p->type.dims[r - 1].value == 1;
            for (int d = 0; ok && d < r - 1; d++) ok &= p->type.dims[d].value == mm->out[0]->type.dims[d].value;
        }
        if (!ok) continue;
        const float *wv = w->data;
        ir_value *sum = NULL;
        char nm[96];
        for (int j = 0; j < cat->n_in && b.rc == ODRT_OK; j++) {
            snprintf(nm, sizeof nm, "odrt/weighted_sum/w%d", j);
            ir_value *t = b_op2(&b, "Mul", "odrt/weighted_sum/mul", cat->in[j], b_scalar_f(&b, nm, wv[j]));
            sum = sum ? b_op2(&b, "Add", "odrt/weighted_sum/add", sum, t) : t;
        }
        if (b.rc != ODRT_OK || !sum) break;
        if (ir_value_replace_uses(mm->out[0], sum) != ODRT_OK) break;
        ir_node_remove(mm);
        done++;
    }
    return done;
}
