/* The elementwise groups of a plan (groups.h), found by structure: the CPU backend runs them as
 * scaled GEMMs and one-pass sums (cpu_fuse_elt.c), the CUDA backend as scaled conv tiles and one
 * launch (cuda_ops.cu). */
#include <stdlib.h>
#include <string.h>

#include "engine/groups.h"
#include "engine/plan_util.h"

static int is_scale(const eng_op *o) {
    return o->kind == EOP_BINARY && o->bcast == BC_CHANNEL && o->bin == BIN_MUL && o->act == EACT_ID && o->n_in == 2;
}
static int is_smul(const eng_op *o) { return o->kind == EOP_BINARY && o->bcast == BC_SCALAR && o->bin == BIN_MUL && o->act == EACT_ID; }
static int is_add(const eng_op *o) { return o->kind == EOP_BINARY && o->bcast == BC_SAME && o->bin == BIN_ADD && o->n_in == 2; }

/* an R-CNN stage boundary lies in (a, b] */
static int crosses(const eng_plan *p, int a, int b) {
    const int *st = p->meta.rc_stage;
    return p->meta.post_kind == ENG_POST_RCNN && ((a < st[0] && b >= st[0]) || (a < st[1] && b >= st[1]));
}

typedef struct {
    int *reads, *writes, *wr; /* per root tensor: readers (network outputs too), writers, the last writer */
} uses;

/* the one op before k writing root r (-1 none, or several) */
static int writer(const uses *u, int k, int r) { return u->writes[r] == 1 && u->wr[r] < k ? u->wr[r] : -1; }

/* nothing in ops (k0, k1) but x's own producer writes over x */
static int untouched(const eng_plan *p, int k0, int k1, int x, const int *skip) {
    for (int q = k0 + 1; q < k1; q++)
        if (!skip[q] && eng_root(p, p->ops[q].out) != eng_root(p, x) && eng_tensors_overlap(p, p->ops[q].out, x)) return 0;
    return 1;
}

/* the terms of add k (its inputs' weighted sums, in order) into g; 0 when it is not one (or has more
 * than ENG_MAX_IN terms: depth counts the adds, so a file's long chain cannot deepen the recursion) */
static int wsum_terms(const eng_plan *p, const uses *u, int k, eng_group *g, int *members, int *nm, int depth) {
    const eng_op *o = &p->ops[k];
    if (depth >= ENG_MAX_IN) return 0;
    for (int i = 0; i < 2; i++) {
        int r = eng_root(p, o->in[i]), w = writer(u, k, r);
        const eng_op *src = w >= 0 ? &p->ops[w] : NULL;
        int single = src && u->reads[r] == 1 && src->out == r;
        if (i == 0 && single && is_add(src) && src->act == EACT_ID) {
            if (!wsum_terms(p, u, w, g, members, nm, depth + 1)) return 0;
            members[(*nm)++] = w;
            continue;
        }
        if (g->n >= ENG_MAX_IN) return 0;
        if (single && is_smul(src) && src->n_in == 1) {
            g->in[g->n] = src->in[0], g->w[g->n++] = src->scalar;
            members[(*nm)++] = w;
        } else {
            g->in[g->n] = o->in[i], g->w[g->n++] = 1.0f; /* (x * 1 is x exactly) */
        }
    }
    return 1;
}

int eng_find_groups(const eng_plan *p, const int *busy, int *grp, eng_group *groups) {
    size_t nt = (size_t)p->n_tensors + 1;
    uses u = {calloc(nt, sizeof(int)), calloc(nt, sizeof(int)), calloc(nt, sizeof(int))};
    int *reads = u.reads, *skip = calloc((size_t)p->n_ops + 1, sizeof(int)), *members = malloc(sizeof(int) * (2 * ENG_MAX_IN + 2));
    int rc = -1;
    if (!u.reads || !u.writes || !u.wr || !skip || !members) goto done;
    rc = 0;
    for (int k = 0; k < p->n_ops; k++) {
        for (int i = 0; i < p->ops[k].n_in; i++) reads[eng_root(p, p->ops[k].in[i])]++;
        if (p->ops[k].residual >= 0) reads[eng_root(p, p->ops[k].residual)]++;
        u.writes[eng_root(p, p->ops[k].out)]++, u.wr[eng_root(p, p->ops[k].out)] = k;
    }
    int outs[ENG_MAX_OUTPUTS], n_out = eng_network_outputs(&p->meta, outs);
    for (int i = 0; i < n_out; i++) reads[eng_root(p, outs[i])]++;
    for (int k = 1; k < p->n_ops; k++) {
        const eng_op *o = &p->ops[k], *m = &p->ops[k - 1];
        if ((busy && (busy[k] || busy[k - 1])) || grp[k] || grp[k - 1]) continue;
        if (crosses(p, k - 1, k)) continue; /* an R-CNN stage runs alone */
        int r = eng_root(p, m->out);
        if (is_scale(m) && o->kind == EOP_CONV && o->conv_kind == CONV_GEMM && o->q_scale == 0 && eng_root(p, o->in[0]) == r &&
            reads[r] == 1 && m->out == r && (o->residual < 0 || eng_root(p, o->residual) != r) && !eng_tensors_overlap(p, o->out, m->in[0]) &&
            !eng_tensors_overlap(p, o->out, m->in[1]) && p->tensors[m->in[0]].dims[1] == o->cin) {
            eng_group *g = &groups[k];
            g->kind = EGRP_SCALED_CONV, g->n = 2, g->in[0] = m->in[0], g->in[1] = m->in[1];
            grp[k] = 1, grp[k - 1] = -1;
        }
    }
    for (int k = p->n_ops - 1; k > 0; k--) { /* the last add of each sum first: it takes the whole tree */
        const eng_op *o = &p->ops[k];
        if (!is_add(o) || (busy && busy[k]) || grp[k]) continue;
        eng_group g;
        int nm = 0;
        memset(&g, 0, sizeof g);
        if (!wsum_terms(p, &u, k, &g, members, &nm, 0) || nm == 0 || g.n < 2) continue;
        int first = k, ok = 1;
        for (int i = 0; i < nm; i++) {
            if ((busy && busy[members[i]]) || grp[members[i]] || crosses(p, members[i], k)) ok = 0;
            if (members[i] < first) first = members[i];
        }
        if (!ok || k - first > 64) continue; /* (a sum spread over more ops is no BiFPN node: not worth the scan) */
        for (int i = 0; i < nm; i++) skip[members[i]] = 1;
        for (int t = 0; t < g.n && ok; t++) /* the inputs still hold their values at k, and the output is not one */
            ok = untouched(p, first, k, g.in[t], skip) && !eng_tensors_overlap(p, o->out, g.in[t]) &&
                 p->tensors[g.in[t]].numel == p->tensors[o->out].numel;
        for (int i = 0; i < nm; i++) skip[members[i]] = 0;
        if (!ok) continue;
        g.kind = EGRP_WSUM;
        groups[k] = g, grp[k] = 1;
        for (int i = 0; i < nm; i++) grp[members[i]] = -1;
    }
done:
    free(u.reads), free(u.writes), free(u.wr), free(skip), free(members);
    return rc;
}

