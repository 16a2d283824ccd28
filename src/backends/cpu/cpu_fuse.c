/* Fused conv chains of the CPU backend: [1x1 expand ->] depthwise 3x3 [-> 1x1 project (+ residual)]
 * run in bands of output rows: expanded rows live in a 3-slot ring and the depthwise row goes
 * straight into the project GEMM, so the intermediates never reach memory. */
#include <stdlib.h>
#include <string.h>

#include "engine/plan_util.h"
#include "backends/cpu/cpu_internal.h"

static int is_dw3(const eng_op *o) {
    return o->kind == EOP_CONV && o->conv_kind == CONV_DW && o->kh == 3 && o->kw == 3 && o->dh == 1 && o->dw == 1 &&
           o->sh == o->sw && (o->sw == 1 || o->sw == 2);
}
static int is_pw(const eng_op *o) { return o->kind == EOP_CONV && o->conv_kind == CONV_GEMM; }
static int is_producer(const eng_op *o) { return o->kind == EOP_CONV && (o->conv_kind == CONV_GEMM || o->conv_kind == CONV_IM2COL); }

#define FUSE_MIN 65536 /* intermediates smaller than this (floats) stay in cache anyway */
#define FUSE_MIN_W 32   /* input row width */
#define FUSE_MIN_H 16   /* output rows */

void cpu_find_chains(cpu_ctx *c, const eng_plan *p, int64_t *ring_max, int64_t *row_max, int64_t *patch_max) {
    int *reads = calloc((size_t)p->n_tensors + 1, sizeof(int));
    if (!reads) return;
    for (int k = 0; k < p->n_ops; k++) {
        for (int i = 0; i < p->ops[k].n_in; i++) reads[eng_root(p, p->ops[k].in[i])]++;
        if (p->ops[k].residual >= 0) reads[eng_root(p, p->ops[k].residual)]++;
    }
    int outs[ENG_MAX_OUTPUTS], n_out = eng_network_outputs(&p->meta, outs);
    for (int i = 0; i < n_out; i++) reads[eng_root(p, outs[i])]++;
    for (int k = 0; k + 1 < p->n_ops; k++) {
        if (c->chain[k]) continue;
        const eng_op *a = &p->ops[k], *d = NULL, *e = NULL;
        int start = k, len = 0;
        if (is_producer(a) && a->residual < 0 && is_dw3(&p->ops[k + 1]) && eng_root(p, p->ops[k + 1].in[0]) == eng_root(p, a->out) &&
            reads[eng_root(p, a->out)] == 1 && p->tensors[a->out].numel >= FUSE_MIN) {
            d = &p->ops[k + 1], len = 2;
        } else if (is_dw3(a)) {
            d = a, a = NULL, len = 1;
        } else continue;
        int kd = start + len - 1;
        if (kd + 1 < p->n_ops && is_pw(&p->ops[kd + 1]) && eng_root(p, p->ops[kd + 1].in[0]) == eng_root(p, d->out) &&
            reads[eng_root(p, d->out)] == 1 && (a || p->tensors[d->out].numel >= FUSE_MIN))
            e = &p->ops[kd + 1], len++;
        if (len < 2) continue;
        /* per-row GEMMs need wide rows, bands need rows: small maps run unfused (in cache anyway) */
        if (p->tensors[d->in[0]].dims[3] < FUSE_MIN_W || p->tensors[d->out].dims[2] < FUSE_MIN_H) continue;
        int x = a ? a->in[0] : d->in[0], y = e ? e->out : d->out;
        if (eng_tensors_overlap(p, x, y) || (e && e->residual >= 0 && eng_tensors_overlap(p, e->residual, y))) continue; /* would clobber input */
        c->chain[start] = len;
        for (int i = 1; i < len; i++) c->chain[start + i] = -1;
        const eng_tensor *din = &p->tensors[d->in[0]];
        int64_t ring = a ? 3 * din->dims[3] * d->cin : 0, row = e ? p->tensors[d->out].dims[3] * d->cout : 0;
        if (ring > *ring_max) *ring_max = ring;
        int64_t patch = a && a->conv_kind == CONV_IM2COL ? din->dims[3] * eng_conv_k(a) : 0; /* one row of im2col patches */
        if (patch > *patch_max) *patch_max = patch;
        if (row > *row_max) *row_max = row;
    }
    free(reads);
}

typedef struct {
    cpu_ctx *c;
    const eng_plan *p;
    const eng_op *a, *d, *e; /* expand (or NULL), depthwise, project (or NULL) */
    int64_t bands;           /* per image */
    k_dw kd;
} chain_job;

static void chain_task(void *arg, int64_t t, int th) {
    chain_job *j = arg;
    cpu_ctx *c = j->c;
    const eng_plan *p = j->p;
    const eng_op *a = j->a, *d = j->d, *e = j->e;
    const eng_tensor *xt = &p->tensors[d->in[0]], *dt = &p->tensors[d->out];
    int64_t H = xt->dims[2], W = xt->dims[3], Ce = d->cin, OH = dt->dims[2], OW = dt->dims[3];
    int64_t n = t / j->bands, b = t % j->bands, per = (OH + j->bands - 1) / j->bands;
    int64_t oy0 = b * per, oy1 = oy0 + per < OH ? oy0 + per : OH;
    float *ring = c->fscratch[th], *drow = ring + c->ring_max, *patch = drow + c->row_max;
    const eng_tensor *at = a ? &p->tensors[a->in[0]] : NULL;
    const float *X = cpu_tensor(c, p, a ? a->in[0] : d->in[0]);
    const float *wa = a ? (const float *)(c->blob + a->w_off) : NULL, *ba = a ? (const float *)(c->blob + a->b_off) : NULL;
    float *Y = cpu_tensor(c, p, e ? e->out : d->out);
    const float *R = e && e->residual >= 0 ? cpu_tensor(c, p, e->residual) : NULL;
    k_epi ea = a ? (k_epi){a->act, a->act_lo, a->act_hi} : (k_epi){0, 0, 0};
    int64_t slot_row[3] = {-1, -1, -1};
    for (int64_t oy = oy0; oy < oy1; oy++) {
        const float *rows[3];
        for (int ky = 0; ky < 3; ky++) {
            int64_t iy = oy * d->sh - d->pt + ky;
            rows[ky] = NULL;
            if (iy < 0 || iy >= H) continue;
            if (!a) {
                rows[ky] = X + (n * H + iy) * W * Ce;
                continue;
            }
            int slot = (int)(iy % 3);
            float *r = ring + slot * W * Ce;
            if (slot_row[slot] != iy) { /* compute this row of the producer's output */
                if (a->conv_kind == CONV_GEMM) {
                    cpu_gemm_rows(c, a, th, W, 0, Ce, X + (n * H + iy) * W * a->cin, r, NULL);
                } else {
                    int64_t K = eng_conv_k(a), m0 = (n * H + iy) * W;
                    cpu_im2col_rows(a, X, at, xt, m0, m0 + W, patch);
                    c->k->gemm(W, 0, Ce, K, patch, K, wa, ba, r, Ce, NULL, &ea);
                }
                slot_row[slot] = iy;
            }
            rows[ky] = r;
        }
        if (e) {
            c->k->dw_row(&j->kd, rows, drow);
            int64_t off = (n * OH + oy) * OW * e->cout;
            cpu_gemm_rows(c, e, th, OW, 0, e->cout, drow, Y + off, R ? R + off : NULL);
        } else {
            c->k->dw_row(&j->kd, rows, Y + (n * OH + oy) * OW * Ce);
        }
    }
}

void cpu_run_chain(cpu_ctx *c, const eng_plan *p, int k) {
    chain_job j;
    memset(&j, 0, sizeof j);
    j.c = c, j.p = p;
    int len = c->chain[k];
    if (p->ops[k].conv_kind == CONV_DW) j.d = &p->ops[k], j.e = len > 1 ? &p->ops[k + 1] : NULL;
    else j.a = &p->ops[k], j.d = &p->ops[k + 1], j.e = len > 2 ? &p->ops[k + 2] : NULL;
    const eng_op *d = j.d;
    const eng_tensor *xt = &p->tensors[d->in[0]], *dt = &p->tensors[d->out];
    j.kd = (k_dw){NULL, (const float *)(c->blob + d->w_off), (const float *)(c->blob + d->b_off), NULL, xt->dims[2], xt->dims[3],
                  d->cin, dt->dims[2], dt->dims[3], 3, 3, d->sh, d->sw, 1, 1, d->pt, d->pl,
                  (k_epi){d->act, d->act_lo, d->act_hi}, c->zeros};
    int threads = tp_threads(c->pool);
    int64_t OH = dt->dims[2], bands = threads * 2;
    if (bands > OH / 4) bands = OH / 4 > 0 ? OH / 4 : 1;
    j.bands = bands;
    tp_run(c->pool, dt->dims[0] * bands, chain_task, &j);
}
