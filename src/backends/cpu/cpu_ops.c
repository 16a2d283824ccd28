/* The CPU backend's op runners: one per op kind, in the table cpu_ops (engine_ops.h's order).
 * Each splits its op into tasks for the thread pool and calls the ISA's kernels (kernels.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/plan_util.h"
#include "backends/cpu/cpu_internal.h"
#include "crop_coord.h"

#define T cpu_tensor

typedef struct job {
    cpu_ctx *c;
    const eng_plan *p;
    const eng_op *o;
    const float *x, *w, *b, *r;
    float *y;
    k_epi e;
    int64_t m_blocks, n_groups, per_task;
    k_dw dw;
} job;

/* an int8 conv's blob part (engine-format.md): weights, column sums, column steps, 1 / input steps */
typedef struct {
    const int8_t *B;
    const int32_t *comp;
    const float *step, *inv;
    int64_t Kp;
} i8_parts;

static i8_parts i8_of(const cpu_ctx *c, const eng_op *o) {
    i8_parts a;
    int64_t np = (o->cout + 15) / 16;
    a.Kp = eng_conv_i8_kp(o);
    a.B = (const int8_t *)(c->blob + o->w_off);
    a.comp = (const int32_t *)(a.B + np * a.Kp * 16);
    a.step = (const float *)(a.comp + np * 16), a.inv = a.step + np * 16;
    return a;
}

static void i8_quant(const cpu_ctx *c, const eng_op *o, const float *x, int64_t M, uint8_t *q) {
    i8_parts a = i8_of(c, o);
    c->k8->quant(x, M, o->cin, o->cin, a.inv, o->q_unsigned, q, a.Kp);
}

static void i8_gemm(const cpu_ctx *c, const eng_op *o, int64_t M, int64_t n0, int64_t n1, const uint8_t *q, float *y, const float *r) {
    i8_parts a = i8_of(c, o);
    const k_epi e = {o->act, o->act_lo, o->act_hi};
    c->k8->gemm(M, n0, n1, a.Kp, q, a.Kp, a.B, a.comp, o->q_unsigned, a.step, (const float *)(c->blob + o->b_off), y, o->cout, r, &e);
    if (e.act != EACT_ID && e.act != EACT_CLIP) /* (the int8 epilogue clips; the others after it) */
        for (int64_t m = 0; m < M; m++) c->k->act(y + m * o->cout + n0, y + m * o->cout + n0, n1 - n0, &e);
}

void cpu_gemm_rows(cpu_ctx *c, const eng_op *o, int th, int64_t M, int64_t n0, int64_t n1, const float *x, float *y, const float *r) {
    const float *w = (const float *)(c->blob + o->w_off), *b = (const float *)(c->blob + o->b_off);
    const k_epi e = {o->act, o->act_lo, o->act_hi};
    if (o->q_scale == 0) {
        c->k->gemm(M, n0, n1, o->cin, x, o->cin, w, b, y, o->cout, r, &e);
        return;
    }
    /* int8: the rows quantized, then the int8 GEMM */
    uint8_t *q = c->qscratch[th];
    i8_quant(c, o, x, M, q);
    i8_gemm(c, o, M, n0, n1, q, y, r);
}

static void gemm_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    int64_t m0, m1, n0, n1;
    cpu_gemm_block(t, j->n_groups, j->p->tensors[o->out].numel / o->cout, o->cout, &m0, &m1, &n0, &n1);
    if (n0 >= n1) return;
    if (o->q_scale != 0 && j->c->qall && j->n_groups > 1) { /* rows quantized once by quant_task */
        i8_gemm(j->c, o, m1 - m0, n0, n1, j->c->qall + m0 * eng_conv_i8_kp(o), j->y + m0 * o->cout, j->r ? j->r + m0 * o->cout : NULL);
        return;
    }
    cpu_gemm_rows(j->c, o, th, m1 - m0, n0, n1, j->x + m0 * o->cin, j->y + m0 * o->cout, j->r ? j->r + m0 * o->cout : NULL);
}

void cpu_im2col_rows(const eng_op *o, const float *x, const eng_tensor *xt, const eng_tensor *yt, int64_t m0, int64_t m1,
                        float *dst) {
    int64_t H = xt->dims[2], W = xt->dims[3], C = o->cin, OH = yt->dims[2], OW = yt->dims[3], K = eng_conv_k(o);
    /* (n, oy, ox) of m stepped along, not divided out per pixel (3 divisions cost as much as the copies) */
    int64_t n = m0 / (OH * OW), oy = m0 / OW % OH, ox = m0 % OW - 1;
    for (int64_t m = m0; m < m1; m++) {
        if (++ox == OW) {
            ox = 0;
            if (++oy == OH) oy = 0, n++;
        }
        float *row = dst + (m - m0) * K;
        int64_t ix0 = ox * o->sw - o->pl, ix1 = ix0 + (int64_t)(o->kw - 1) * o->dw;
        for (int ky = 0; ky < o->kh; ky++) {
            int64_t iy = oy * o->sh - o->pt + (int64_t)ky * o->dh;
            float *d = row + (int64_t)ky * o->kw * C;
            if (iy < 0 || iy >= H) {
                memset(d, 0, sizeof(float) * (size_t)(o->kw * C));
            } else if (o->dw == 1 && ix0 >= 0 && ix1 < W) { /* the kernel row is contiguous in NHWC */
                memcpy(d, x + ((n * H + iy) * W + ix0) * C, sizeof(float) * (size_t)(o->kw * C));
            } else {
                for (int kx = 0; kx < o->kw; kx++) {
                    int64_t ix = ix0 + (int64_t)kx * o->dw;
                    if (ix < 0 || ix >= W) memset(d + kx * C, 0, sizeof(float) * (size_t)C);
                    else memcpy(d + kx * C, x + ((n * H + iy) * W + ix) * C, sizeof(float) * (size_t)C);
                }
            }
        }
    }
}

/* an int8 GEMM's row block t quantized into the context's buffer (when column groups share rows) */
static void quant_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    int64_t M = j->p->tensors[o->out].numel / o->cout, m0 = t * MB, m1 = m0 + MB < M ? m0 + MB : M;
    (void)th;
    i8_quant(j->c, o, j->x + m0 * o->cin, m1 - m0, j->c->qall + m0 * eng_conv_i8_kp(o));
}

static void im2col_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    const eng_tensor *xt = &j->p->tensors[o->in[0]], *yt = &j->p->tensors[o->out];
    int64_t M = yt->numel / o->cout, m0 = t * MB, m1 = m0 + MB < M ? m0 + MB : M, K = eng_conv_k(o);
    float *s = j->c->scratch[th];
    cpu_im2col_rows(o, j->x, xt, yt, m0, m1, s);
    j->c->k->gemm(m1 - m0, 0, o->cout, K, s, K, j->w, j->b, j->y + m0 * o->cout, o->cout, j->r ? j->r + m0 * o->cout : NULL,
                  &j->e);
}

static void dw_task(void *a, int64_t t, int th) {
    job *j = a;
    int64_t rows = j->dw.OH * j->p->tensors[j->o->out].dims[0], r0 = t * j->per_task;
    int64_t r1 = r0 + j->per_task < rows ? r0 + j->per_task : rows;
    (void)th;
    j->c->k->dw(&j->dw, r0, r1);
}

static void eltwise_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    int64_t n = j->p->tensors[o->out].numel, i0 = t * j->per_task, i1 = i0 + j->per_task < n ? i0 + j->per_task : n;
    (void)th;
    if (i0 >= i1) return;
    if (o->kind == EOP_UNARY) {
        j->c->k->act(j->x + i0, j->y + i0, i1 - i0, &j->e);
    } else if (o->kind == EOP_GATHER) {
        const int32_t *idx = (const int32_t *)j->w;
        for (int64_t i = i0; i < i1; i++) j->y[i] = j->x[idx[i]];
    } else if (o->bcast == BC_CHANNEL) { /* per image: its channel vector */
        int64_t C = j->p->tensors[o->out].dims[1], per_img = n / j->p->tensors[o->out].dims[0];
        for (int64_t i = i0; i < i1;) {
            int64_t img = i / per_img, end = (img + 1) * per_img < i1 ? (img + 1) * per_img : i1;
            j->c->k->binary(o->bin, o->axis, j->x + i, j->r + img * C, C, j->y + i, end - i, &j->e);
            i = end;
        }
    } else { /* binary: per_task is a multiple of the operand period */
        int64_t nb = o->bcast == BC_SCALAR ? 1 : o->bcast == BC_LASTDIM ? o->w_len / 4 : i1 - i0;
        const float *b = o->bcast == BC_SAME ? j->r + i0 : o->bcast == BC_SCALAR ? &o->scalar
                       : o->bcast == BC_LASTDIM ? j->w : j->w + i0;
        j->c->k->binary(o->bin, o->axis, j->x + i0, b, nb, j->y + i0, i1 - i0, &j->e);
    }
}

/* mean over H, W of NHWC x for a block of channels of one image: each channel summed in float in
 * H, W order, then divided in float, as the reference (and onnxruntime) do: a float sum of 10^4..10^5
 * terms differs from the exact mean by ~1e-3, which moves detection scores by more than 1e-4 */
static void mean_hw_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_tensor *xt = &j->p->tensors[j->o->in[0]];
    int64_t C = xt->dims[1], HW = xt->dims[2] * xt->dims[3], cb = (C + j->per_task - 1) / j->per_task;
    int64_t n = t / cb, c0 = t % cb * j->per_task, c1 = c0 + j->per_task < C ? c0 + j->per_task : C;
    float acc[16] = {0};
    (void)th;
    const float *x = j->x + n * HW * C;
    if (c1 - c0 == 16) /* one cache line of each pixel: a fixed width the compiler keeps in registers */
        for (int64_t i = 0; i < HW; i++)
            for (int c = 0; c < 16; c++) acc[c] += x[i * C + c0 + c];
    else
        for (int64_t i = 0; i < HW; i++)
            for (int64_t c = c0; c < c1; c++) acc[c - c0] += x[i * C + c];
    for (int64_t c = c0; c < c1; c++) j->y[n * C + c] = acc[c - c0] / (float)HW;
}

/* max pooling, output rows [t * per_task, ...) of all images (row = n * OH + oy); a NaN in the
 * window wins (propagates), padding never does */
static void maxpool_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    const eng_tensor *xt = &j->p->tensors[o->in[0]], *yt = &j->p->tensors[o->out];
    int64_t C = xt->dims[1], H = xt->dims[2], W = xt->dims[3], OH = yt->dims[2], OW = yt->dims[3];
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task < yt->dims[0] * OH ? r0 + j->per_task : yt->dims[0] * OH;
    (void)th;
    for (int64_t r = r0; r < r1; r++) {
        int64_t n = r / OH, oy = r % OH;
        for (int64_t ox = 0; ox < OW; ox++) {
            float *yp = j->y + (r * OW + ox) * C;
            for (int64_t c = 0; c < C; c++) yp[c] = -INFINITY;
            for (int ky = 0; ky < o->kh; ky++) {
                int64_t iy = oy * o->sh - o->pt + ky;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < o->kw; kx++) {
                    int64_t ix = ox * o->sw - o->pl + kx;
                    if (ix < 0 || ix >= W) continue;
                    const float *xp = j->x + ((n * H + iy) * W + ix) * C;
                    for (int64_t c = 0; c < C; c++) yp[c] = xp[c] > yp[c] || xp[c] != xp[c] ? xp[c] : yp[c];
                }
            }
        }
    }
}

static int64_t split(int64_t n, int64_t unit, int threads) { /* elements per task, multiple of unit */
    int64_t tasks = threads * 4, per = (n + tasks - 1) / tasks;
    if (per < 4096) per = 4096;
    per = (per + unit - 1) / unit * unit;
    return per < 1 ? 1 : per;
}

static odrt_status_t run_ref(cpu_ctx *c, const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    odrt_tensor_t ins[ENG_MAX_IN];
    const odrt_tensor_t *pin[ENG_MAX_IN];
    const char *names[ENG_MAX_IN];
    for (int i = 0; i < o->n_in; i++) {
        const eng_tensor *t = &p->tensors[o->in[i]];
        ins[i] = (odrt_tensor_t){ODRT_DT_FLOAT, t->rank, {0}, T(c, p, o->in[i]), (size_t)t->numel * 4};
        memcpy(ins[i].dims, t->dims, sizeof t->dims);
        pin[i] = &ins[i];
        names[i] = odrt_model_input_name(c->ref_models[k], i);
    }
    odrt_tensor_t *out = NULL;
    odrt_status_t rc = odrt_session_run(c->ref_sessions[k], o->n_in, names, pin, &out);
    if (rc != ODRT_OK) return odrt_fail_ctx(rc, "engine: op %s", o->name);
    const eng_tensor *y = &p->tensors[o->out];
    if (out->dtype != ODRT_DT_FLOAT || odrt_tensor_numel(out) != y->numel) rc = odrt_fail(ODRT_ERR_SHAPE, "engine: op %s output shape", o->name);
    else memcpy(T(c, p, o->out), out->data, (size_t)y->numel * 4);
    odrt_tensor_free(out);
    return rc;
}

/* a job for op k: its tensors, blob parts and epilogue */
static job job_of(cpu_ctx *c, const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    job j;
    memset(&j, 0, sizeof j);
    j.c = c, j.p = p, j.o = o, j.y = T(c, p, o->out), j.x = o->n_in ? T(c, p, o->in[0]) : NULL;
    j.w = (const float *)(c->blob + o->w_off), j.b = (const float *)(c->blob + o->b_off);
    j.e = (k_epi){o->act, o->act_lo, o->act_hi};
    return j;
}

static odrt_status_t run_conv(cpu_ctx *c, const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *yt = &p->tensors[o->out];
    int threads = tp_threads(c->pool);
    job j = job_of(c, p, k);
    j.r = o->residual >= 0 ? T(c, p, o->residual) : NULL;
    if (o->conv_kind == CONV_DW) {
        const eng_tensor *xt = &p->tensors[o->in[0]];
        j.dw = (k_dw){j.x, j.w, j.b, j.y, xt->dims[2], xt->dims[3], o->cin, yt->dims[2], yt->dims[3],
                      o->kh, o->kw, o->sh, o->sw, o->dh, o->dw, o->pt, o->pl, j.e, c->zeros};
        int64_t rows = yt->dims[0] * yt->dims[2];
        j.per_task = (rows + threads * 2 - 1) / (threads * 2);
        tp_run(c->pool, (rows + j.per_task - 1) / j.per_task, dw_task, &j);
        return ODRT_OK;
    }
    int64_t M = yt->numel / o->cout;
    j.n_groups = cpu_gemm_split(M, o->cout, threads, &j.m_blocks);
    if (o->conv_kind == CONV_IM2COL) {
        tp_run(c->pool, j.m_blocks, im2col_task, &j);
    } else {
        if (o->q_scale != 0 && c->qall && j.n_groups > 1) tp_run(c->pool, j.m_blocks, quant_task, &j);
        tp_run(c->pool, j.m_blocks * j.n_groups, gemm_task, &j);
    }
    return ODRT_OK;
}

/* binary, unary and gather: elementwise over the output in tasks of whole operand periods */
static odrt_status_t run_eltwise(cpu_ctx *c, const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *yt = &p->tensors[o->out];
    job j = job_of(c, p, k);
    int64_t unit = 8;
    if (o->kind == EOP_BINARY && o->bcast == BC_LASTDIM) unit = o->w_len / 4;
    if (o->kind == EOP_BINARY && o->bcast == BC_CHANNEL) unit = yt->dims[1];
    if (o->kind == EOP_BINARY && (o->bcast == BC_SAME || o->bcast == BC_CHANNEL)) j.r = T(c, p, o->in[1]);
    j.per_task = split(yt->numel, unit, tp_threads(c->pool));
    tp_run(c->pool, (yt->numel + j.per_task - 1) / j.per_task, eltwise_task, &j);
    return ODRT_OK;
}

static odrt_status_t run_concat(cpu_ctx *c, const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *yt = &p->tensors[o->out];
    float *y = T(c, p, o->out);
    int64_t py[ODRT_MAX_RANK], outer = 1, inner_y, at = 0;
    eng_phys_dims(yt, py);
    for (int a = 0; a < o->axis; a++) outer *= py[a];
    inner_y = yt->numel / outer;
    for (int i = 0; i < o->n_in; i++) {
        int64_t inner = p->tensors[o->in[i]].numel / outer;
        const float *src = T(c, p, o->in[i]);
        for (int64_t q = 0; q < outer; q++) memcpy(y + q * inner_y + at, src + q * inner, sizeof(float) * (size_t)inner);
        at += inner;
    }
    return ODRT_OK;
}

/* an NHWC op run in tasks of output rows (image, y), two per thread */
static odrt_status_t run_by_rows(cpu_ctx *c, const eng_plan *p, int k, tp_task task) {
    const eng_tensor *yt = &p->tensors[p->ops[k].out];
    int threads = tp_threads(c->pool);
    job j = job_of(c, p, k);
    int64_t rows = yt->dims[0] * yt->dims[2];
    j.per_task = (rows + threads * 2 - 1) / (threads * 2);
    tp_run(c->pool, (rows + j.per_task - 1) / j.per_task, task, &j);
    return ODRT_OK;
}

static odrt_status_t run_maxpool(cpu_ctx *c, const eng_plan *p, int k) { return run_by_rows(c, p, k, maxpool_task); }

static odrt_status_t run_mean_hw(cpu_ctx *c, const eng_plan *p, int k) {
    const eng_tensor *xt = &p->tensors[p->ops[k].in[0]];
    job j = job_of(c, p, k);
    j.per_task = xt->dims[1] < 16 ? xt->dims[1] : 16; /* channels per task: 64 bytes of each pixel */
    int64_t cb = (xt->dims[1] + j.per_task - 1) / j.per_task;
    tp_run(c->pool, xt->dims[0] * cb, mean_hw_task, &j);
    return ODRT_OK;
}

/* crops of boxes [t * per_task, ...) (src/crop_coord.h), channels innermost (NHWC) */
static void crop_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    const eng_tensor *xt = &j->p->tensors[o->in[0]], *yt = &j->p->tensors[o->out];
    int64_t C = xt->dims[1], H = xt->dims[2], W = xt->dims[3], NB = yt->dims[0], P = NB / xt->dims[0], ch = o->kh, cw = o->kw;
    int64_t n0 = t * j->per_task, n1 = n0 + j->per_task < NB ? n0 + j->per_task : NB;
    const float extra = o->scalar;
    (void)th;
    for (int64_t n = n0; n < n1; n++) {
        const float *b = j->r + n * 4, *img = j->x + n / P * H * W * C;
        for (int64_t i = 0; i < ch; i++) {
            crop_tap ty = crop_axis_tap(o->axis, b[0], b[2], i, ch, H);
            for (int64_t q = 0; q < cw; q++) {
                crop_tap tx = crop_axis_tap(o->axis, b[1], b[3], q, cw, W);
                float *y = j->y + ((n * ch + i) * cw + q) * C;
                const float *p00 = ty.i0 >= 0 && tx.i0 >= 0 ? img + (ty.i0 * W + tx.i0) * C : NULL;
                const float *p01 = ty.i0 >= 0 && tx.i1 >= 0 ? img + (ty.i0 * W + tx.i1) * C : NULL;
                const float *p10 = ty.i1 >= 0 && tx.i0 >= 0 ? img + (ty.i1 * W + tx.i0) * C : NULL;
                const float *p11 = ty.i1 >= 0 && tx.i1 >= 0 ? img + (ty.i1 * W + tx.i1) * C : NULL;
                for (int64_t c = 0; c < C; c++)
                    y[c] = crop_mix(o->axis, &ty, &tx, p00 ? p00[c] : extra, p01 ? p01[c] : extra, p10 ? p10[c] : extra,
                                    p11 ? p11[c] : extra, extra);
            }
        }
    }
}

static odrt_status_t run_crop(cpu_ctx *c, const eng_plan *p, int k) {
    const eng_tensor *yt = &p->tensors[p->ops[k].out];
    job j = job_of(c, p, k);
    j.r = T(c, p, p->ops[k].in[1]);
    j.per_task = (yt->dims[0] + tp_threads(c->pool) * 2 - 1) / (tp_threads(c->pool) * 2);
    tp_run(c->pool, (yt->dims[0] + j.per_task - 1) / j.per_task, crop_task, &j);
    return ODRT_OK;
}

/* bilinear resize, output rows [t * per_task, ...) of all images (row = n * OH + oy): the
 * reference's sum over the 4 taps in order (lower_extra.c stored them) */
static void resize_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    const eng_tensor *xt = &j->p->tensors[o->in[0]], *yt = &j->p->tensors[o->out];
    int64_t C = xt->dims[1], H = xt->dims[2], W = xt->dims[3], OH = yt->dims[2], OW = yt->dims[3];
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task < yt->dims[0] * OH ? r0 + j->per_task : yt->dims[0] * OH;
    const eng_resize_tap *ty = (const eng_resize_tap *)j->w, *tx = ty + OH;
    (void)th;
    for (int64_t r = r0; r < r1; r++) {
        int64_t n = r / OH, oy = r % OH;
        const float *row0 = j->x + (n * H + ty[oy].i0) * W * C, *row1 = j->x + (n * H + ty[oy].i1) * W * C;
        for (int64_t ox = 0; ox < OW; ox++) {
            float w00 = ty[oy].w0 * tx[ox].w0, w01 = ty[oy].w0 * tx[ox].w1, w10 = ty[oy].w1 * tx[ox].w0, w11 = ty[oy].w1 * tx[ox].w1;
            const float *a0 = row0 + tx[ox].i0 * C, *a1 = row0 + tx[ox].i1 * C, *b0 = row1 + tx[ox].i0 * C, *b1 = row1 + tx[ox].i1 * C;
            float *y = j->y + (r * OW + ox) * C;
            for (int64_t c = 0; c < C; c++) y[c] = (((0.0f + w00 * a0[c]) + w01 * a1[c]) + w10 * b0[c]) + w11 * b1[c];
        }
    }
}

static odrt_status_t run_resize(cpu_ctx *c, const eng_plan *p, int k) { return run_by_rows(c, p, k, resize_task); }

const cpu_op_fn cpu_ops[] = {
    [EOP_NONE] = NULL,          [EOP_CONV] = run_conv,     [EOP_BINARY] = run_eltwise, [EOP_UNARY] = run_eltwise,
    [EOP_GATHER] = run_eltwise, [EOP_CONCAT] = run_concat, [EOP_REF] = run_ref,        [EOP_MEAN_HW] = run_mean_hw,
    [EOP_MAXPOOL] = run_maxpool, [EOP_CROP] = run_crop,      [EOP_RESIZE] = run_resize,
};
_Static_assert(sizeof cpu_ops / sizeof cpu_ops[0] == EOP_COUNT, "cpu_ops: one runner per engine op kind (engine_ops.h)");
