/* Elementwise groups (engine/groups.h: found by structure, the arena re-checked) run by the CPU
 * backend:
 *   - squeeze-and-excite: the scaled conv runs with its weights scaled per input channel (w[k, n] *
 *     s[k], per image), so the scaled map is never written (EfficientNet: one full pass per block);
 *   - weighted sums: one pass with the last add's activation (BiFPN's fast normalised fusion). */
#include <stdlib.h>

#include "engine/groups.h"
#include "engine/plan_util.h"
#include "backends/cpu/cpu_internal.h"

void cpu_find_groups(cpu_ctx *c, const eng_plan *p, int64_t *se_max) {
    if (!(c->groups = calloc((size_t)p->n_ops + 1, sizeof(eng_group))) || eng_find_groups(p, c->chain, c->grp, c->groups) < 0) return;
    for (int k = 0; k < p->n_ops; k++)
        if (c->grp[k] > 0 && c->groups[k].kind == EGRP_SCALED_CONV) { /* one image's scaled weights */
            int64_t need = (int64_t)(p->ops[k].cout + 15) / 16 * 16 * p->ops[k].cin;
            if (need > *se_max) *se_max = need;
        }
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
    const eng_group *g;
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
    const eng_group *g = &c->groups[k];
    const eng_op *o = &p->ops[k];
    int threads = tp_threads(c->pool);
    if (g->kind == EGRP_WSUM) {
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
