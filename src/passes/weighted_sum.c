/* BiFPN's fast normalised fusion as exported: the k inputs stacked on a new last axis (Unsqueeze +
 * Concat) and multiplied by a constant [k, 1] weight column (MatMul). For an engine that is a
 * weighted sum: y = sum_j w_j x_j with scalar multiplies and adds that run natively, the stacked
 * copy gone (the inputs become aliases of their sources). */
#include <stdio.h>
#include <string.h>

#include "ops/fold.h"
#include "ir/build.h"
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
        ir_node *cat = mm->in[0]->producer, *tr = NULL;
        int r = mm->in[0]->type.rank;
        if (cat && ir_op_is(cat, "Transpose")) tr = cat, cat = cat->in[0] ? cat->in[0]->producer : NULL; /* stacked, then moved last */
        if (!w || w->dtype != ODRT_DT_FLOAT || w->rank != 2 || w->dims[1] != 1 || !cat || !ir_op_is(cat, "Concat") ||
            cat->n_in != w->dims[0] || r < 2 || r > ODRT_MAX_RANK)
            continue;
        int64_t perm[ODRT_MAX_RANK];
        const ir_attr *pa = tr ? ir_node_attr(tr, "perm") : NULL;
        if (tr && (!pa || pa->n != r)) continue;
        for (int d = 0; d < r; d++) perm[d] = pa ? pa->ints[d] : d;
        int64_t axis = ir_attr_int(cat, "axis", 0);
        if (axis < 0) axis += r;
        if (axis != perm[r - 1]) continue; /* the stacking axis must end up last */
        int ok = 1;
        for (int j = 0; j < cat->n_in; j++) {
            const ir_value *p = cat->in[j];
            ok &= p && p->type.rank == r && p->type.dims[axis].value == 1;
            for (int d = 0; ok && d < r - 1; d++) ok &= p->type.dims[perm[d]].value == mm->out[0]->type.dims[d].value;
        }
        if (!ok) continue;
        const float *wv = w->data;
        ir_value *sum = NULL;
        char nm[96];
        for (int j = 0; j < cat->n_in && b.rc == ODRT_OK; j++) {
            snprintf(nm, sizeof nm, "odrt/weighted_sum/w%d", j);
            ir_value *part = tr ? b_transpose(&b, "odrt/weighted_sum/part", cat->in[j], r, perm) : cat->in[j];
            ir_value *t = b_op2(&b, "Mul", "odrt/weighted_sum/mul", part, b_scalar_f(&b, nm, wv[j]));
            sum = sum ? b_op2(&b, "Add", "odrt/weighted_sum/add", sum, t) : t;
        }
        if (b.rc != ODRT_OK || !sum) break;
        if (ir_value_replace_uses(mm->out[0], sum) != ODRT_OK) break;
        ir_node_remove(mm);
        done++;
    }
    return done;
}
