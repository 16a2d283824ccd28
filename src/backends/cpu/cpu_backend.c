/* The CPU backend: validates each op of a (possibly untrusted) plan, then runs the plan over one
 * activation arena with a thread pool and the ISA-specific kernels of kernels.c. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/plan_util.h"
#include "backends/backend.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/threadpool.h"

#define MB 48 /* GEMM rows per task (8 micro-tiles) */

typedef struct {
    const cpu_kernels *k;
    tp_pool *pool;
    uint8_t *arena;
    float **scratch; /* per thread, im2col tiles */
    float *zeros;    /* read-only zero row for depthwise borders */
    odrt_model_t **ref_models;
    odrt_session_t **ref_sessions;
    int n_ops;
    int *chain;      /* per op: length of a fused chain starting here (2 or 3), 0 none, -1 inside one */
    float **fscratch; /* per thread: ring of 3 expanded rows, one depthwise row, one row of im2col patches */
    int64_t ring_max, row_max;
    double *prof; /* ODRT_PROFILE=1: seconds per op, summed over runs (printed at free) */
    /* ODRT_CPU_HALF=1 (or =A:B: ops A..B): op outputs rounded to fp16, or with
     * ODRT_CPU_HALF_BITS=N their mantissas to N bits (a diagnostic: how a model takes fp16) */
    int half, half_lo, half_hi, half_bits;
    int prof_runs;
    const eng_plan *plan;
} cpu_ctx;

#include <time.h>
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define BADOP(...) (odrt_fail(ODRT_ERR_PARSE, "engine: op %d (%s): " __VA_ARGS__), 0)

static int same_shape(const eng_tensor *a, const eng_tensor *b) {
    if (a->rank != b->rank || a->layout != b->layout) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

static int overlap(const eng_plan *p, int a, int b) {
    const eng_tensor *x = &p->tensors[a], *y = &p->tensors[b];
    return x->offset < y->offset + y->numel * 4 && y->offset < x->offset + x->numel * 4;
}

static int64_t conv_k(const eng_op *o) { return (int64_t)o->kh * o->kw * (o->conv_kind == CONV_DW ? 1 : o->cin); }

static int cpu_supports_op(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    const eng_tensor *y = &p->tensors[o->out], *x = o->n_in > 0 ? &p->tensors[o->in[0]] : NULL;
    if (o->act < EACT_ID || o->act > EACT_SWISH) return BADOP("activation %d", k, o->name, o->act);
    /* the build's memory plan never lays an op's output over its inputs; kernels rely on it */
    for (int i = 0; i <= o->n_in; i++) {
        int t = i < o->n_in ? o->in[i] : o->residual;
        if (t >= 0 && overlap(p, t, o->out)) return BADOP("output overlaps input tensor %d in the arena", k, o->name, t);
    }
    switch (o->kind) {
    case EOP_CONV: {
        if (o->n_in != 1 || x->layout != ENG_NHWC || y->layout != ENG_NHWC) return BADOP("needs one NHWC input and output", k, o->name);
        if (o->kh < 1 || o->kw < 1 || o->kh > 64 || o->kw > 64 || o->sh < 1 || o->sw < 1 || o->sh > 64 || o->sw > 64 ||
            o->dh < 1 || o->dw < 1 || o->dh > 64 || o->dw > 64 || o->pt < 0 || o->pl < 0 || o->pb < 0 || o->pr < 0 ||
            o->pt > 64 || o->pl > 64 || o->pb > 64 || o->pr > 64)
            return BADOP("kernel/stride/dilation/pad out of range", k, o->name);
        int64_t eh = (int64_t)(o->kh - 1) * o->dh + 1, ew = (int64_t)(o->kw - 1) * o->dw + 1;
        int64_t H = x->dims[2] + o->pt + o->pb, W = x->dims[3] + o->pl + o->pr;
        if (x->dims[0] != y->dims[0] || x->dims[1] != o->cin || y->dims[1] != o->cout || H < eh || W < ew ||
            y->dims[2] != (H - eh) / o->sh + 1 || y->dims[3] != (W - ew) / o->sw + 1)
            return BADOP("shapes do not agree", k, o->name);
        if (o->conv_kind == CONV_GEMM && (o->kh != 1 || o->kw != 1 || o->sh != 1 || o->sw != 1 || o->pt || o->pl || o->pb || o->pr))
            return BADOP("1x1 GEMM conv with a spatial kernel", k, o->name);
        if (o->conv_kind == CONV_DW && o->cin != o->cout) return BADOP("depthwise conv with Cin != Cout", k, o->name);
        if (o->conv_kind < CONV_GEMM || o->conv_kind > CONV_IM2COL) return BADOP("conv kind %d", k, o->name, o->conv_kind);
        int64_t want = o->conv_kind == CONV_DW ? (int64_t)o->kh * o->kw * o->cout : (int64_t)(o->cout + 15) / 16 * 16 * conv_k(o);
        if (o->w_len != want * 4 || o->b_len != (int64_t)o->cout * 4) return BADOP("packed weights have the wrong size", k, o->name);
        if (o->residual >= 0 && !same_shape(&p->tensors[o->residual], y)) return BADOP("residual shape", k, o->name);
        if (o->residual >= 0 && o->conv_kind == CONV_DW) return BADOP("depthwise conv with a residual", k, o->name);
        return 1;
    }
    case EOP_BINARY: {
        if (o->n_in < 1 || o->n_in > 2 || !same_shape(x, y) || o->bin < BIN_ADD || o->bin > BIN_MIN || o->axis < 0 || o->axis > 1)
            return BADOP("bad binary op", k, o->name);
        int64_t pd[ODRT_MAX_RANK];
        eng_phys_dims(y, pd);
        int64_t last = y->rank ? pd[y->rank - 1] : 1;
        switch (o->bcast) {
        case BC_SAME: return o->n_in == 2 && same_shape(&p->tensors[o->in[1]], y) ? 1 : BADOP("operand shapes", k, o->name);
        case BC_SCALAR: return o->n_in == 1 ? 1 : BADOP("scalar operand", k, o->name);
        case BC_LASTDIM: return o->n_in == 1 && o->w_len == last * 4 ? 1 : BADOP("vector operand size", k, o->name);
        case BC_FULLCONST: return o->n_in == 1 && o->w_len == y->numel * 4 ? 1 : BADOP("constant operand size", k, o->name);
        case BC_CHANNEL: {
            const eng_tensor *v = o->n_in == 2 ? &p->tensors[o->in[1]] : NULL;
            return v && y->rank == 4 && y->layout == ENG_NHWC && v->rank == 4 && v->dims[0] == y->dims[0] &&
                           v->dims[1] == y->dims[1] && v->dims[2] == 1 && v->dims[3] == 1
                       ? 1 : BADOP("per-image channel operand shape", k, o->name);
        }
        default: return BADOP("broadcast kind %d", k, o->name, o->bcast);
        }
    }
    case EOP_UNARY: return o->n_in == 1 && x->numel == y->numel ? 1 : BADOP("bad unary op", k, o->name);
    case EOP_MAXPOOL: {
        if (o->n_in != 1 || x->rank != 4 || y->rank != 4 || x->layout != ENG_NHWC || y->layout != ENG_NHWC)
            return BADOP("max pooling needs one NHWC input and output", k, o->name);
        if (o->kh < 1 || o->kw < 1 || o->kh > 64 || o->kw > 64 || o->sh < 1 || o->sw < 1 || o->sh > 64 || o->sw > 64 || o->pt < 0 ||
            o->pl < 0 || o->pb < 0 || o->pr < 0 || o->pt >= o->kh || o->pb >= o->kh || o->pl >= o->kw || o->pr >= o->kw)
            return BADOP("pooling window/stride/pad out of range", k, o->name);
        int64_t H = x->dims[2] + o->pt + o->pb, W = x->dims[3] + o->pl + o->pr;
        if (x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1] || H < o->kh || W < o->kw || y->dims[2] != (H - o->kh) / o->sh + 1 ||
            y->dims[3] != (W - o->kw) / o->sw + 1)
            return BADOP("pooling shapes do not agree", k, o->name);
        return 1;
    }
    case EOP_MEAN_HW:
        return o->n_in == 1 && x->rank == 4 && x->layout == ENG_NHWC && y->rank == 4 && y->dims[0] == x->dims[0] &&
                       y->dims[1] == x->dims[1] && y->dims[2] == 1 && y->dims[3] == 1
                   ? 1 : BADOP("spatial mean shapes", k, o->name);
    case EOP_GATHER: {
        if (o->n_in != 1 || o->w_len != y->numel * 4) return BADOP("index map size", k, o->name);
        const int32_t *idx = (const int32_t *)(p->blob + o->w_off);
        for (int64_t i = 0; i < y->numel; i++)
            if (idx[i] < 0 || idx[i] >= x->numel) return BADOP("index %lld out of range", k, o->name, (long long)i);
        return 1;
    }
    case EOP_CONCAT: {
        if (o->n_in < 1 || o->axis < 0 || o->axis >= y->rank) return BADOP("bad concat", k, o->name);
        int64_t py[ODRT_MAX_RANK], px[ODRT_MAX_RANK], sum = 0;
        eng_phys_dims(y, py);
        for (int i = 0; i < o->n_in; i++) {
            const eng_tensor *t = &p->tensors[o->in[i]];
            if (t->rank != y->rank || t->layout != y->layout) return BADOP("input %d rank/layout", k, o->name, i);
            eng_phys_dims(t, px);
            for (int a = 0; a < y->rank; a++)
                if (a != o->axis && px[a] != py[a]) return BADOP("input %d shape", k, o->name, i);
            sum += px[o->axis];
        }
        return sum == py[o->axis] ? 1 : BADOP("sizes do not add up", k, o->name);
    }
    case EOP_REF:
        for (int i = 0; i < o->n_in; i++)
            if (p->tensors[o->in[i]].layout != ENG_PLAIN) return BADOP("reference op on a non-plain tensor", k, o->name);
        return y->layout == ENG_PLAIN ? 1 : BADOP("reference op output layout", k, o->name);
    default: return BADOP("unknown kind %d", k, o->name, o->kind);
    }
}

static const char *kind_name(const eng_op *o) {
    static const char *conv[] = {"conv-gemm", "conv-dw", "conv-im2col"};
    static const char *k[] = {"?", "conv", "binary", "unary", "gather", "concat", "ref", "mean-hw", "maxpool"};
    return o->kind == EOP_CONV ? conv[o->conv_kind % 3] : k[o->kind % 9];
}

/* multiply-adds of op k (a fused chain: of all its ops), for the profile's GFLOP/s column */
static double op_macs(const cpu_ctx *c, const eng_plan *p, int k) {
    double m = 0;
    for (int i = k; i < k + (c->chain[k] > 0 ? c->chain[k] : 1); i++) {
        const eng_op *o = &p->ops[i];
        if (o->kind == EOP_CONV) m += (double)p->tensors[o->out].numel * (double)conv_k(o);
    }
    return m;
}

static void print_profile(const cpu_ctx *c, const eng_plan *p) {
    double tot = 0, by[9] = {0};
    for (int k = 0; k < c->n_ops; k++) tot += c->prof[k];
    fprintf(stderr, "odrt profile: %d runs, network %.3f ms/run\n", c->prof_runs, tot * 1e3 / c->prof_runs);
    for (int k = 0; k < c->n_ops; k++) {
        const eng_op *o = &p->ops[k];
        const eng_tensor *y = &p->tensors[p->ops[k + (c->chain[k] > 1 ? c->chain[k] - 1 : 0)].out]; /* a chain's last */
        by[o->kind == EOP_CONV ? o->conv_kind : 2 + o->kind] += c->prof[k];
        double ms = c->prof[k] * 1e3 / c->prof_runs, gf = ms > 0 ? 2 * op_macs(c, p, k) / (ms * 1e6) : 0;
        if (c->chain[k] < 0) continue;
        fprintf(stderr, "  %3d %-11s %8.3f ms %6.1f GFLOP/s%s out %lldx%lldx%lldx%lld  %s\n", k, kind_name(o), ms, gf,
                c->chain[k] > 0 ? (c->chain[k] == 3 ? " chain3" : " chain2") : "       ",
                (long long)y->dims[0], (long long)(y->rank > 1 ? y->dims[1] : 1), (long long)(y->rank > 2 ? y->dims[2] : 1),
                (long long)(y->rank > 3 ? y->dims[3] : 1), o->name);
    }
    static const char *names[] = {"conv-gemm", "conv-dw", "conv-im2col", "", "binary", "unary", "gather", "concat", "ref"};
    for (int i = 0; i < 9; i++)
        if (by[i] > 0) fprintf(stderr, "  total %-11s %8.3f ms\n", names[i], by[i] * 1e3 / c->prof_runs);
}

static void cpu_free(void *vc) {
    cpu_ctx *c = vc;
    if (!c) return;
    if (c->prof && c->prof_runs) print_profile(c, c->plan);
    free(c->prof);
    free(c->chain);
    if (c->fscratch)
        for (int i = 0; i < 256; i++) free(c->fscratch[i]);
    free(c->fscratch);
    tp_free(c->pool);
    if (c->scratch)
        for (int i = 0; i < 256; i++) free(c->scratch[i]);
    free(c->scratch);
    for (int i = 0; c->ref_sessions && i < c->n_ops; i++) odrt_session_free(c->ref_sessions[i]), odrt_model_free(c->ref_models[i]);
    free(c->ref_sessions);
    free(c->ref_models);
    free(c->zeros);
    free(c->arena);
    free(c);
}

/* ---- fused chains: [1x1 expand ->] depthwise 3x3 [-> 1x1 project (+ residual)] ----
 * run in bands of output rows: expanded rows live in a 3-slot ring and the depthwise row goes
 * straight into the project GEMM, so the intermediates never reach memory. */
static int is_dw3(const eng_op *o) {
    return o->kind == EOP_CONV && o->conv_kind == CONV_DW && o->kh == 3 && o->kw == 3 && o->dh == 1 && o->dw == 1 &&
           o->sh == o->sw && (o->sw == 1 || o->sw == 2);
}
static int is_pw(const eng_op *o) { return o->kind == EOP_CONV && o->conv_kind == CONV_GEMM; }
static int is_producer(const eng_op *o) { return o->kind == EOP_CONV && (o->conv_kind == CONV_GEMM || o->conv_kind == CONV_IM2COL); }

#define FUSE_MIN 65536 /* intermediates smaller than this (floats) stay in cache anyway */
#define FUSE_MIN_W 32   /* input row width */
#define FUSE_MIN_H 16   /* output rows */

static void find_chains(cpu_ctx *c, const eng_plan *p, int64_t *ring_max, int64_t *row_max, int64_t *patch_max) {
    int *reads = calloc((size_t)p->n_tensors + 1, sizeof(int));
    if (!reads) return;
    for (int k = 0; k < p->n_ops; k++) {
        for (int i = 0; i < p->ops[k].n_in; i++) reads[eng_root(p, p->ops[k].in[i])]++;
        if (p->ops[k].residual >= 0) reads[eng_root(p, p->ops[k].residual)]++;
    }
    reads[eng_root(p, p->meta.t_boxes)]++, reads[eng_root(p, p->meta.t_scores)]++;
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
        if (overlap(p, x, y) || (e && e->residual >= 0 && overlap(p, e->residual, y))) continue; /* would clobber input */
        c->chain[start] = len;
        for (int i = 1; i < len; i++) c->chain[start + i] = -1;
        const eng_tensor *din = &p->tensors[d->in[0]];
        int64_t ring = a ? 3 * din->dims[3] * d->cin : 0, row = e ? p->tensors[d->out].dims[3] * d->cout : 0;
        if (ring > *ring_max) *ring_max = ring;
        int64_t patch = a && a->conv_kind == CONV_IM2COL ? din->dims[3] * conv_k(a) : 0; /* one row of im2col patches */
        if (patch > *patch_max) *patch_max = patch;
        if (row > *row_max) *row_max = row;
    }
    free(reads);
}

static odrt_status_t cpu_prepare(const eng_plan *p, int threads, void **out) {
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    c->k = cpu_kernels_best();
    c->n_ops = p->n_ops, c->plan = p;
    const char *pe = getenv("ODRT_PROFILE");
    if (pe && *pe == '1') c->prof = calloc((size_t)p->n_ops + 1, sizeof(double));
    const char *ph = getenv("ODRT_CPU_HALF");
    c->half = ph && *ph, c->half_lo = 0, c->half_hi = INT32_MAX;
    if (c->half && strchr(ph, ':')) sscanf(ph, "%d:%d", &c->half_lo, &c->half_hi);
    const char *pb = getenv("ODRT_CPU_HALF_BITS");
    c->half_bits = pb ? atoi(pb) : 0;
    if (c->half_bits < 1 || c->half_bits > 22) c->half_bits = 0;
    size_t ab = ((size_t)p->arena_bytes + ENG_ALIGN - 1) / ENG_ALIGN * ENG_ALIGN + ENG_ALIGN;
    c->arena = aligned_alloc(ENG_ALIGN, ab);
    c->scratch = calloc(256, sizeof(float *));
    c->ref_models = calloc((size_t)p->n_ops + 1, sizeof(odrt_model_t *));
    c->ref_sessions = calloc((size_t)p->n_ops + 1, sizeof(odrt_session_t *));
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    c->pool = tp_create(threads);
    if (!c->arena || !c->scratch || !c->ref_models || !c->ref_sessions || !c->pool) {
        cpu_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory (activation arena %lld bytes)", (long long)p->arena_bytes);
    }
    int64_t kmax = 0, zmax = 8;
    for (int i = 0; i < p->n_ops; i++) {
        const eng_op *o = &p->ops[i];
        if (o->kind == EOP_CONV && o->conv_kind == CONV_IM2COL && conv_k(o) > kmax) kmax = conv_k(o);
        if (o->kind == EOP_CONV && o->conv_kind == CONV_DW) {
            int64_t wc = p->tensors[o->in[0]].dims[3] * o->cin;
            if (wc > zmax) zmax = wc;
        }
        if (o->kind != EOP_REF) continue;
        odrt_status_t rc = odrt_model_load_buffer(p->blob + o->w_off, (size_t)o->w_len, NULL, &c->ref_models[i]);
        if (rc == ODRT_OK) rc = odrt_session_create(c->ref_models[i], &c->ref_sessions[i]);
        if (rc == ODRT_OK && (odrt_model_num_inputs(c->ref_models[i]) != o->n_in || odrt_model_num_outputs(c->ref_models[i]) != 1))
            rc = odrt_fail(ODRT_ERR_PARSE, "inputs/outputs do not match the op");
        if (rc != ODRT_OK) {
            cpu_free(c);
            return odrt_fail_ctx(ODRT_ERR_PARSE, "engine: reference op %d (%s)", i, o->name);
        }
    }
    int64_t ring_max = 0, row_max = 0, patch_max = 0;
    c->chain = calloc((size_t)p->n_ops + 1, sizeof(int));
    c->fscratch = calloc(256, sizeof(float *));
    const char *nofuse = getenv("ODRT_NO_FUSE");
    if (c->chain && c->fscratch && !(nofuse && *nofuse == '1')) find_chains(c, p, &ring_max, &row_max, &patch_max);
    c->ring_max = ring_max, c->row_max = row_max;
    for (int t = 0; c->fscratch && (ring_max || row_max) && t < tp_threads(c->pool); t++)
        if (!(c->fscratch[t] = aligned_alloc(ENG_ALIGN, (size_t)(ring_max + row_max + patch_max + 64) * sizeof(float)))) {
            cpu_free(c);
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    if (!c->chain || !c->fscratch || !(c->zeros = calloc((size_t)zmax + 16, sizeof(float)))) {
        cpu_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int t = 0; kmax && t < tp_threads(c->pool); t++)
        if (!(c->scratch[t] = aligned_alloc(ENG_ALIGN, (size_t)(MB * kmax + 16) * sizeof(float)))) {
            cpu_free(c);
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
    *out = c;
    return ODRT_OK;
}

/* ---- op runners ---- */
typedef struct {
    cpu_ctx *c;
    const eng_plan *p;
    const eng_op *o;
    const float *x, *w, *b, *r;
    float *y;
    k_epi e;
    int64_t m_blocks, n_groups, per_task;
    k_dw dw;
} job;

static float *T(cpu_ctx *c, const eng_plan *p, int t) { return (float *)(c->arena + p->tensors[t].offset); }

static void gemm_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    int64_t mb = t / j->n_groups, ng = t % j->n_groups, M = j->p->tensors[o->out].numel / o->cout;
    int64_t m0 = mb * MB, m1 = m0 + MB < M ? m0 + MB : M;
    int64_t panels = (o->cout + 15) / 16, per = (panels + j->n_groups - 1) / j->n_groups;
    int64_t n0 = ng * per * 16, n1 = (ng + 1) * per * 16 < o->cout ? (ng + 1) * per * 16 : o->cout;
    if (n0 >= n1) return;
    (void)th;
    j->c->k->gemm(m1 - m0, n0, n1, o->cin, j->x + m0 * o->cin, o->cin, j->w, j->b, j->y + m0 * o->cout, o->cout,
                  j->r ? j->r + m0 * o->cout : NULL, &j->e);
}

/* im2col rows of conv o for output pixels [m0, m1) (m = (n * OH + oy) * OW + ox) into dst [m1 - m0][K] */
static void im2col_rows(const eng_op *o, const float *x, const eng_tensor *xt, const eng_tensor *yt, int64_t m0, int64_t m1,
                        float *dst) {
    int64_t H = xt->dims[2], W = xt->dims[3], C = o->cin, OH = yt->dims[2], OW = yt->dims[3], K = conv_k(o);
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

static void im2col_task(void *a, int64_t t, int th) {
    job *j = a;
    const eng_op *o = j->o;
    const eng_tensor *xt = &j->p->tensors[o->in[0]], *yt = &j->p->tensors[o->out];
    int64_t M = yt->numel / o->cout, m0 = t * MB, m1 = m0 + MB < M ? m0 + MB : M, K = conv_k(o);
    float *s = j->c->scratch[th];
    im2col_rows(o, j->x, xt, yt, m0, m1, s);
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
    float acc[64] = {0};
    (void)th;
    const float *x = j->x + n * HW * C;
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
    const float *X = T(c, p, a ? a->in[0] : d->in[0]);
    const float *wa = a ? (const float *)(p->blob + a->w_off) : NULL, *ba = a ? (const float *)(p->blob + a->b_off) : NULL;
    const float *we = e ? (const float *)(p->blob + e->w_off) : NULL, *be = e ? (const float *)(p->blob + e->b_off) : NULL;
    float *Y = T(c, p, e ? e->out : d->out);
    const float *R = e && e->residual >= 0 ? T(c, p, e->residual) : NULL;
    k_epi ea = a ? (k_epi){a->act, a->act_lo, a->act_hi} : (k_epi){0, 0, 0}, ee = e ? (k_epi){e->act, e->act_lo, e->act_hi} : ea;
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
                    c->k->gemm(W, 0, Ce, a->cin, X + (n * H + iy) * W * a->cin, a->cin, wa, ba, r, Ce, NULL, &ea);
                } else {
                    int64_t K = conv_k(a), m0 = (n * H + iy) * W;
                    im2col_rows(a, X, at, xt, m0, m0 + W, patch);
                    c->k->gemm(W, 0, Ce, K, patch, K, wa, ba, r, Ce, NULL, &ea);
                }
                slot_row[slot] = iy;
            }
            rows[ky] = r;
        }
        if (e) {
            c->k->dw_row(&j->kd, rows, drow);
            int64_t off = (n * OH + oy) * OW * e->cout;
            c->k->gemm(OW, 0, e->cout, Ce, drow, Ce, we, be, Y + off, e->cout, R ? R + off : NULL, &ee);
        } else {
            c->k->dw_row(&j->kd, rows, Y + (n * OH + oy) * OW * Ce);
        }
    }
}

static void run_chain(cpu_ctx *c, const eng_plan *p, int k) {
    chain_job j;
    memset(&j, 0, sizeof j);
    j.c = c, j.p = p;
    int len = c->chain[k];
    if (p->ops[k].conv_kind == CONV_DW) j.d = &p->ops[k], j.e = len > 1 ? &p->ops[k + 1] : NULL;
    else j.a = &p->ops[k], j.d = &p->ops[k + 1], j.e = len > 2 ? &p->ops[k + 2] : NULL;
    const eng_op *d = j.d;
    const eng_tensor *xt = &p->tensors[d->in[0]], *dt = &p->tensors[d->out];
    j.kd = (k_dw){NULL, (const float *)(p->blob + d->w_off), (const float *)(p->blob + d->b_off), NULL, xt->dims[2], xt->dims[3],
                  d->cin, dt->dims[2], dt->dims[3], 3, 3, d->sh, d->sw, 1, 1, d->pt, d->pl,
                  (k_epi){d->act, d->act_lo, d->act_hi}, c->zeros};
    int threads = tp_threads(c->pool);
    int64_t OH = dt->dims[2], bands = threads * 2;
    if (bands > OH / 4) bands = OH / 4 > 0 ? OH / 4 : 1;
    j.bands = bands;
    tp_run(c->pool, dt->dims[0] * bands, chain_task, &j);
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

/* x rounded to the nearest fp16 value (ties to even; overflow to inf, fp16's subnormals below
 * 2^-14), as a float */
static float round_fp16(float x) {
    float a = fabsf(x);
    if (!(a < 65520.0f)) return a != a ? x : copysignf(INFINITY, x); /* NaN stays; 65520 up: inf */
    if (a < 6.103515625e-05f) return copysignf(nearbyintf(a * 16777216.0f) / 16777216.0f, x); /* steps of 2^-24 */
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0xFFFu + ((u >> 13) & 1u)) & ~0x1FFFu; /* 10 mantissa bits, ties to even */
    memcpy(&x, &u, sizeof u);
    return x;
}

/* y rounded to fp16 (bits = 0) or its mantissas to bits bits (round half up, fp32's range) */
static void round_half(float *y, int64_t n, int bits) {
    if (!bits) {
        for (int64_t i = 0; i < n; i++) y[i] = round_fp16(y[i]);
        return;
    }
    const uint32_t drop = 23u - (uint32_t)bits, half = 1u << (drop - 1), mask = ~((1u << drop) - 1);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &y[i], sizeof u);
        if ((u & 0x7f800000u) != 0x7f800000u) u = (u + half) & mask; /* Inf and NaN stay */
        memcpy(&y[i], &u, sizeof u);
    }
}

static odrt_status_t run_ops(void *vc, const eng_plan *p) {
    cpu_ctx *c = vc;
    int threads = tp_threads(c->pool);
    if (c->prof) c->prof_runs++;
    for (int k = 0; k < p->n_ops; k++) {
        const eng_op *o = &p->ops[k];
        double t0 = c->prof ? now_s() : 0;
        job j;
        memset(&j, 0, sizeof j);
        j.c = c, j.p = p, j.o = o, j.y = T(c, p, o->out), j.x = o->n_in ? T(c, p, o->in[0]) : NULL;
        j.w = (const float *)(p->blob + o->w_off), j.b = (const float *)(p->blob + o->b_off);
        j.e = (k_epi){o->act, o->act_lo, o->act_hi};
        const eng_tensor *yt = &p->tensors[o->out];
        if (c->chain[k] < 0) continue; /* ran inside a fused chain */
        if (c->chain[k] > 0) {
            run_chain(c, p, k);
            if (c->prof) c->prof[k] += now_s() - t0;
            int last = p->ops[k + c->chain[k] - 1].out;
            if (c->half && k >= c->half_lo && k <= c->half_hi) round_half(T(c, p, last), p->tensors[last].numel, c->half_bits);
            continue;
        }
        switch (o->kind) {
        case EOP_CONV: {
            j.r = o->residual >= 0 ? T(c, p, o->residual) : NULL;
            if (o->conv_kind == CONV_DW) {
                const eng_tensor *xt = &p->tensors[o->in[0]];
                j.dw = (k_dw){j.x, j.w, j.b, j.y, xt->dims[2], xt->dims[3], o->cin, yt->dims[2], yt->dims[3],
                              o->kh, o->kw, o->sh, o->sw, o->dh, o->dw, o->pt, o->pl, j.e, c->zeros};
                int64_t rows = yt->dims[0] * yt->dims[2];
                j.per_task = (rows + threads * 2 - 1) / (threads * 2);
                tp_run(c->pool, (rows + j.per_task - 1) / j.per_task, dw_task, &j);
            } else {
                int64_t M = yt->numel / o->cout;
                j.m_blocks = (M + MB - 1) / MB;
                if (o->conv_kind == CONV_IM2COL) {
                    tp_run(c->pool, j.m_blocks, im2col_task, &j);
                } else {
                    int64_t panels = (o->cout + 15) / 16;
                    j.n_groups = j.m_blocks >= threads * 4 ? 1 : panels < threads * 4 ? panels : threads * 4;
                    tp_run(c->pool, j.m_blocks * j.n_groups, gemm_task, &j);
                }
            }
            break;
        }
        case EOP_BINARY:
        case EOP_UNARY:
        case EOP_GATHER: {
            int64_t unit = 8;
            if (o->kind == EOP_BINARY && o->bcast == BC_LASTDIM) unit = o->w_len / 4;
            if (o->kind == EOP_BINARY && o->bcast == BC_CHANNEL) unit = yt->dims[1];
            if (o->kind == EOP_BINARY && (o->bcast == BC_SAME || o->bcast == BC_CHANNEL)) j.r = T(c, p, o->in[1]);
            j.per_task = split(yt->numel, unit, threads);
            tp_run(c->pool, (yt->numel + j.per_task - 1) / j.per_task, eltwise_task, &j);
            break;
        }
        case EOP_CONCAT: {
            int64_t py[ODRT_MAX_RANK], px[ODRT_MAX_RANK], outer = 1, inner_y;
            eng_phys_dims(yt, py);
            for (int a = 0; a < o->axis; a++) outer *= py[a];
            inner_y = yt->numel / outer;
            int64_t at = 0;
            for (int i = 0; i < o->n_in; i++) {
                const eng_tensor *t = &p->tensors[o->in[i]];
                eng_phys_dims(t, px);
                int64_t inner = t->numel / outer;
                const float *src = T(c, p, o->in[i]);
                for (int64_t q = 0; q < outer; q++)
                    memcpy(j.y + q * inner_y + at, src + q * inner, sizeof(float) * (size_t)inner);
                at += inner;
            }
            break;
        }
        case EOP_MAXPOOL: {
            int64_t rows = yt->dims[0] * yt->dims[2];
            j.per_task = (rows + threads * 2 - 1) / (threads * 2);
            tp_run(c->pool, (rows + j.per_task - 1) / j.per_task, maxpool_task, &j);
            break;
        }
        case EOP_MEAN_HW: {
            const eng_tensor *xt = &p->tensors[o->in[0]];
            j.per_task = xt->dims[1] < 64 ? xt->dims[1] : 64; /* channels per task */
            int64_t cb = (xt->dims[1] + j.per_task - 1) / j.per_task;
            tp_run(c->pool, xt->dims[0] * cb, mean_hw_task, &j);
            break;
        }
        case EOP_REF: ODRT_TRY(run_ref(c, p, k)); break;
        default: return odrt_fail(ODRT_ERR_INVALID, "engine: op kind %d", o->kind);
        }
        if (c->prof) c->prof[k] += now_s() - t0;
        if (c->half && k >= c->half_lo && k <= c->half_hi) round_half(j.y, yt->numel, c->half_bits);
    }
    return ODRT_OK;
}

/* the network with denormals flushed (threadpool.h says why), the caller's float environment
 * restored after */
static odrt_status_t cpu_run(void *vc, const eng_plan *p) {
    unsigned saved = tp_flush_denormals();
    odrt_status_t rc = run_ops(vc, p);
    tp_restore_fp(saved);
    return rc;
}

static uint8_t *cpu_arena(void *vc) { return ((cpu_ctx *)vc)->arena; }

static void cpu_parallel_for(void *vc, int64_t n, void (*fn)(void *, int64_t, int), void *arg) {
    tp_run(((cpu_ctx *)vc)->pool, n, fn, arg);
}

const eng_backend_i eng_backend_cpu = {"cpu", cpu_supports_op, cpu_prepare, cpu_run, cpu_arena, cpu_parallel_for, cpu_free,
                                        NULL, NULL, NULL, NULL, NULL};
