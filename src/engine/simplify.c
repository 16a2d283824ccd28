/* Plan clean-up after lowering, for every backend: ops whose output nobody reads are dropped (a
 * swish lowered from x * Sigmoid(x) leaves the standalone Sigmoid behind when x reached it through
 * a reshape), and a standalone activation is folded into the op that produces its input when that
 * op's output has no other reader (EfficientDet's BiFPN: weighted sum -> Squeeze -> swish). */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/plan_util.h"

typedef struct {
    int *reads, *writes, *wr; /* per root tensor: op inputs (and network outputs) reading it, ops writing
                                 it, and the last op writing it */
} use_count;

static void count_uses(const eng_plan *p, use_count *u) {
    memset(u->reads, 0, sizeof(int) * (size_t)p->n_tensors);
    memset(u->writes, 0, sizeof(int) * (size_t)p->n_tensors);
    for (int k = 0; k < p->n_ops; k++) {
        const eng_op *o = &p->ops[k];
        if (o->kind == EOP_NONE) continue;
        for (int i = 0; i < o->n_in; i++) u->reads[eng_root(p, o->in[i])]++;
        if (o->residual >= 0) u->reads[eng_root(p, o->residual)]++;
        u->writes[eng_root(p, o->out)]++, u->wr[eng_root(p, o->out)] = k;
    }
    int t[ENG_MAX_OUTPUTS + ENG_MAX_INPUTS], n = eng_network_outputs(&p->meta, t);
    n += eng_network_inputs(&p->meta, t + n);
    for (int i = 0; i < n; i++)
        if (t[i] >= 0) u->reads[eng_root(p, t[i])]++; /* (an input counts as read: never dropped) */
}

static int is_output(const eng_plan *p, int t) {
    int o[ENG_MAX_OUTPUTS], n = eng_network_outputs(&p->meta, o);
    for (int i = 0; i < n; i++)
        if (o[i] >= 0 && eng_root(p, o[i]) == t) return 1;
    return 0;
}

/* one sweep; returns how many ops it removed (marked EOP_NONE) */
static int sweep(eng_plan *p, use_count *u) {
    int done = 0;
    count_uses(p, u);
    for (int k = p->n_ops - 1; k >= 0; k--) { /* dead ops, last first: their inputs may die with them */
        eng_op *o = &p->ops[k];
        if (o->kind == EOP_NONE || o->kind == EOP_REF || u->reads[eng_root(p, o->out)] != 0) continue;
        for (int i = 0; i < o->n_in; i++) u->reads[eng_root(p, o->in[i])]--;
        if (o->residual >= 0) u->reads[eng_root(p, o->residual)]--;
        o->kind = EOP_NONE, done++;
    }
    count_uses(p, u);
    for (int k = 0; k < p->n_ops; k++) { /* an activation into its producer (counts kept up to date: one pass) */
        eng_op *a = &p->ops[k];
        if (a->kind != EOP_UNARY || a->act == EACT_ID || p->tensors[a->out].alias >= 0 || u->writes[a->out] != 1) continue;
        int r = eng_root(p, a->in[0]), j = u->wr[r];
        if (u->reads[r] != 1 || u->writes[r] != 1 || j >= k) continue;
        eng_op *pr = &p->ops[j];
        if ((pr->kind != EOP_BINARY && pr->kind != EOP_CONV) || pr->act != EACT_ID || pr->out != r || r >= a->out || is_output(p, a->out))
            continue;
        /* the activation's output becomes a view of the producer's, which now applies it (files
         * keep aliases pointing backwards; the two have one size: the unary's validator) */
        pr->act = a->act, pr->act_lo = a->act_lo, pr->act_hi = a->act_hi;
        p->tensors[a->out].alias = r;
        u->reads[r] += u->reads[a->out] - 1, u->reads[a->out] = 0, u->writes[a->out] = 0;
        a->kind = EOP_NONE, done++;
    }
    return done;
}

odrt_status_t eng_plan_simplify(eng_plan *p) {
    use_count u = {calloc((size_t)p->n_tensors + 1, sizeof(int)), calloc((size_t)p->n_tensors + 1, sizeof(int)),
                   calloc((size_t)p->n_tensors + 1, sizeof(int))};
    if (!u.reads || !u.writes || !u.wr) {
        free(u.reads), free(u.writes), free(u.wr);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    int removed = 0;
    for (int n, pass = 0; pass < 4 && (n = sweep(p, &u)) > 0; pass++) removed += n; /* (folds enable no new ones: 2 passes) */
    free(u.reads), free(u.writes), free(u.wr);
    if (!removed) return ODRT_OK;
    int kept = 0, stage[2] = {p->meta.rc_stage[0], p->meta.rc_stage[1]};
    for (int k = 0; k < p->n_ops; k++) {
        for (int s = 0; s < 2; s++) /* R-CNN stage boundaries: ops before them that are kept */
            if (k == p->meta.rc_stage[s]) stage[s] = kept;
        if (p->ops[k].kind != EOP_NONE) p->ops[kept++] = p->ops[k];
    }
    for (int s = 0; s < 2; s++)
        if (p->meta.rc_stage[s] >= p->n_ops) stage[s] = kept;
    if (p->meta.post_kind == ENG_POST_RCNN) p->meta.rc_stage[0] = stage[0], p->meta.rc_stage[1] = stage[1];
    p->n_ops = kept;
    return ODRT_OK;
}
