/* Elementwise work folded away by the CPU backend (the plan keeps the ops; eng_plan_memory keeps the
 * inputs alive across each pattern; every fusion re-checks the arena before it is taken):
 *   - squeeze-and-excite: x * s (s a per-image channel vector) read only by a float 1x1 conv runs
 *     as that conv with its weights scaled per input channel (w[k, n] * s[k], per image), so the
 *     scaled map is never written (EfficientNet: one full pass per block);
 *   - weighted sums: adds of (scalar multiples of) tensors, each intermediate read only by the
 *     next add, in one pass with the last add's activation (BiFPN's fast normalised fusion). */
#include <stdlib.h>
#include <string.h>

#include "engine/plan_util.h"
#include "backends/cpu/cpu_internal.h"

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
static int wsum_terms(const eng_plan *p, const uses *u, int k, cpu_group *g, int *members, int *nm, int depth) {
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

void cpu_find_groups(cpu_ctx *c, const eng_plan *p, int64_t *se_max) {
    size_t nt = (size_t)p->n_tensors + 1;
    uses u = {calloc(nt, sizeof(int)), calloc(nt, sizeof(int)), calloc(nt, sizeof(int))};
    int *reads = u.reads, *skip = calloc((size_t)p->n_ops + 1, sizeof(int)), *members = malloc(sizeof(int) * (2 * ENG_MAX_IN + 2));
    c->groups = calloc((size_t)p->n_ops + 1, sizeof(cpu_group));
    if (!u.reads || !u.writes || !u.wr || !skip || !members || !c->groups) goto done;
    for (int k = 0; k < p->n_ops; k++) {
        for (int i = 0; i < p->ops[k].n_in; i++) reads[eng_root(p, p->ops[k].in[i])]++;
        if (p->ops[k].residual >= 0) reads[eng_root(p, p->ops[k].residual)]++;
        u.writes[eng_root(p, p->ops[k].out)]++, u.wr[eng_root(p, p->ops[k].out)] = k;
    }
    int outs[ENG_MAX_OUTPUTS], n_out = eng_network_outputs(&p->meta, outs);
    for (int i = 0; i < n_out; i++) reads[eng_root(p, outs[i])]++;
    for (int k = 1; k < p->n_ops; k++) {
        const eng_op *o = &p->ops[k], *m = &p->ops[k - 1];
        if (c->chain[k] || c->chain[k - 1] || c->grp[k] || c->grp[k - 1]) continue;
        if (crosses(p, k - 1, k)) continue; /* an R-CNN stage runs alone */
        int r = eng_root(p, m->out);
        if (is_scale(m) && o->kind == EOP_CONV && o->conv_kind == CONV_GEMM && o->q_scale == 0 && eng_root(p, o->in[0]) == r &&
            reads[r] == 1 && m->out == r && (o->residual < 0 || eng_root(p, o->residual) != r) && !eng_tensors_overlap(p, o->out, m->in[0]) &&
            !eng_tensors_overlap(p, o->out, m->in[1]) && p->tensors[m->in[0]].dims[1] == o->cin) {
            cpu_group *g = &c->groups[k];
            g->kind = GRP_SCALED_CONV, g->n = 2, g->in[0] = m->in[0], g->in[1] = m->in[1];
            c->grp[k] = 1, c->grp[k - 1] = -1;
            int64_t need = (int64_t)(o->cout + 15) / 16 * 16 * o->cin;
            if (need > *se_max) *se_max = need;
        }
    }
    for (int k = p->n_ops - 1; k > 0; k--) { /* the last add of each sum first: it takes the whole tree */
        const eng_op *o = &p->ops[k];
        if (!is_add(o) || c->chain[k] || c->grp[k]) continue;
        cpu_group g;
        int nm = 0;
        memset(&g, 0, sizeof g);
        if (!wsum_terms(p, &u, k, &g, members, &nm, 0) || nm == 0 || g.n < 2) continue;
        int first = k, ok = 1;
        for (int i = 0; i < nm; i++) {
            if (c->chain[members[i]] || c->grp[members[i]] || crosses(p, members[i], k)) ok = 0;
            if (members[i] < first) first = members[i];
        }
        if (!ok || k - first > 64) continue; /* (a sum spread over more ops is no BiFPN node: not worth the scan) */
        for (int i = 0; i < nm; i++) skip[members[i]] = 1;
        for (int t = 0; t < g.n && ok; t++) /* the inputs still hold their values at k, and the output is not one */
            ok = untouched(p, first, k, g.in[t], skip) && !eng_tensors_overlap(p, o->out, g.in[t]) &&
                 p->tensors[g.in[t]].numel == p->tensors[o->out].numel;
        for (int i = 0; i < nm; i++) skip[members[i]] = 0;
        if (!ok) continue;
        g.kind = GRP_WSUM;
        c->groups[k] = g, c->grp[k] = 1;
        for (int i = 0; i < nm; i++) c->grp[members[i]] = -1;
    }
done:
    free(u.reads), free(u.writes), free(u.wr), free(skip), free(members);
}

typedef struct {
    cpu_ctx *c;
    const eng_op *o;
    const float *x, *s, *r;
    float *y;
    int64_t M, n_groups, m_blocks;
} se_job;

static void se_scale_task(void *a, int64_t t, int th) { /* panel t of the weights times s */
    se_job *j = a;
    const eng_op *o = j->o;
    const float *w = (const float *)(j->c->blob + o->w_off) + t * o->cin * 16;
    float *d = j->c->se_w + t * o->cin * 16;
    (void)th;
    for (int64_t k = 0; k < o->cin; k++)
        for (int q = 0; q < 16; q++) d[k * 16 + q] = w[k * 16 + q] * j->s[k];
}

static void se_gemm_task(void *a, int64_t t, int th) {
    se_job *j = a;
    const eng_op *o = j->o;
    int64_t m0, m1, n0, n1;
    cpu_gemm_block(t, j->n_groups, j->M, o->cout, &m0, &m1, &n0, &n1);
    const k_epi e = {o->act, o->act_lo, o->act_hi};
    (void)th;
    if (n0 >= n1) return;
    j->c->k->gemm(m1 - m0, n0, n1, o->cin, j->x + m0 * o->cin, o->cin, j->c->se_w, (const float *)(j->c->blob + o->b_off),
                  j->y + m0 * o->cout, o->cout, j->r ? j->r + m0 * o->cout : NULL, &e);
}

typedef struct {
    const float *x[ENG_MAX_IN];
    const cpu_group *g;
    const cpu_ctx *c;
    float *y;
    k_epi e;
    int64_t n, per;
} wsum_job;

static void wsum_task(void *a, int64_t t, int th) {
    wsum_job *j = a;
    int64_t i0 = t * j->per, i1 = i0 + j->per < j->n ? i0 + j->per : j->n;
    const float *x[ENG_MAX_IN];
    (void)th;
    for (int i = 0; i < j->g->n; i++) x[i] = j->x[i] + i0;
    if (i0 < i1) j->c->k->wsum(j->g->n, x, j->g->w, j->y + i0, i1 - i0, &j->e);
}

void cpu_run_group(cpu_ctx *c, const eng_plan *p, int k) {
    const cpu_group *g = &c->groups[k];
    const eng_op *o = &p->ops[k];
    int threads = tp_threads(c->pool);
    if (g->kind == GRP_WSUM) {
        wsum_job j = {{0}, g, c, cpu_tensor(c, p, o->out), {o->act, o->act_lo, o->act_hi}, p->tensors[o->out].numel, 0};
        for (int i = 0; i < g->n; i++) j.x[i] = cpu_tensor(c, p, g->in[i]);
        j.per = (j.n + threads * 2 - 1) / (threads * 2);
        j.per = j.per < 4096 ? 4096 : (j.per + 15) / 16 * 16;
        tp_run(c->pool, (j.n + j.per - 1) / j.per, wsum_task, &j);
        return;
    }
    /* the scaled conv, image by image: its weights times the image's channel vector, then the GEMM */
    const eng_tensor *yt = &p->tensors[o->out];
    int64_t N = yt->dims[0], M = yt->numel / o->cout / N, panels = (o->cout + 15) / 16;
    se_job j = {c, o, NULL, NULL, NULL, NULL, M, 1, 0};
    j.n_groups = cpu_gemm_split(M, o->cout, threads, &j.m_blocks);
    for (int64_t n = 0; n < N; n++) {
        j.x = cpu_tensor(c, p, g->in[0]) + n * M * o->cin, j.s = cpu_tensor(c, p, g->in[1]) + n * o->cin;
        j.y = cpu_tensor(c, p, o->out) + n * M * o->cout, j.r = o->residual >= 0 ? cpu_tensor(c, p, o->residual) + n * M * o->cout : NULL;
        tp_run(c->pool, panels, se_scale_task, &j);
        tp_run(c->pool, j.m_blocks * j.n_groups, se_gemm_task, &j);
    }
}
