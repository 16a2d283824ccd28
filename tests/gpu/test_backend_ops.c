/* Backend-ops harness (after ggml's test-backend-ops): every op kind the CUDA backend implements,
 * on random inputs of several shapes (odd sizes, batch > 1, every activation, residuals, every
 * broadcast), run by the CPU backend and by the CUDA backend in fp32 and fp16, compared by
 * normalised MSE sum((cuda - cpu)^2) / sum(cpu^2) with a per-precision tolerance, NaN/Inf
 * positions required equal (inputs carry some). Exit 0 only if every case passes; 77 (skip) when
 * this odrt has no CUDA backend or the machine no GPU. ctest label `gpu` (CI has no GPU).
 *
 *   build/test_backend_ops [-v] [FILTER]   # one line per case with -v, a summary always; FILTER: only
 *                                          # the cases whose name contains it */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "engine/groups.h"
#include "engine/plan_util.h"
#include "resize_coord.h"

#ifdef ODRT_HAVE_CUDA
static uint32_t seed = 12345;
static float frand(void) { /* uniform [-1, 1) */
    seed = seed * 1664525u + 1013904223u;
    return (float)(seed >> 8) / 8388608.0f - 1.0f;
}

static int verbose, n_cases, n_failed;
static odrt_engine_options_t opts; /* the backends' run-time options (kernel variants under test) */
static const char *filter;

typedef struct {
    eng_plan p;
    int n_in, in[ENG_MAX_IN], out;
    float *x[ENG_MAX_IN];
    int special; /* inputs carry NaN / Inf */
    char name[160];
} tcase;

static void tc_init(tcase *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void tc_init(tcase *t, const char *fmt, ...) {
    memset(t, 0, sizeof *t);
    t->p.owns_blob = 1;
    eng_meta *m = &t->p.meta;
    m->batch = 1, m->n_anchors = 1, m->n_classes = 1, m->max_per_class = 1, m->max_total = 1;
    snprintf(m->device, sizeof m->device, "cuda");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
}

static int tc_input(tcase *t, int rank, const int64_t *d, int layout) {
    int id = eng_add_tensor(&t->p, rank, d, layout);
    int64_t n = t->p.tensors[id].numel;
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = frand();
    if (t->special && n > 20) x[3] = NAN, x[n / 2] = INFINITY, x[n - 2] = -INFINITY;
    t->in[t->n_in] = id, t->x[t->n_in++] = x;
    return id;
}

static double run_backend(const eng_backend_i *be, tcase *t, const char *prec, float *y) {
    eng_plan *p = &t->p;
    snprintf(p->meta.precision, sizeof p->meta.precision, "%s", prec);
    void *ctx = NULL;
    odrt_engine_options_t o = opts;
    o.threads = 2;
    if (be->prepare(p, &o, &ctx) != ODRT_OK) {
        fprintf(stderr, "%s: %s prepare: %s\n", t->name, be->name, odrt_last_error());
        return -1;
    }
    for (int i = 0; i < t->n_in; i++) {
        if (be->write_tensor) be->write_tensor(ctx, p, t->in[i], t->x[i]);
        else memcpy(be->arena(ctx) + p->tensors[t->in[i]].offset, t->x[i], sizeof(float) * (size_t)p->tensors[t->in[i]].numel);
    }
    odrt_status_t rc = be->run(ctx, p, 0, p->n_ops);
    if (rc == ODRT_OK) {
        if (be->read_tensor) rc = be->read_tensor(ctx, p, t->out, y);
        else memcpy(y, be->arena(ctx) + p->tensors[t->out].offset, sizeof(float) * (size_t)p->tensors[t->out].numel);
    }
    be->free(ctx);
    if (rc != ODRT_OK) fprintf(stderr, "%s: %s run: %s\n", t->name, be->name, odrt_last_error());
    return rc == ODRT_OK ? 0 : -1;
}

static void tc_free(tcase *t) {
    for (int i = 0; i < t->n_in; i++) free(t->x[i]);
    eng_plan_free(&t->p);
}

static void tc_run(tcase *t, double tol32, double tol16) {
    eng_plan *p = &t->p;
    if (filter && !strstr(t->name, filter)) {
        tc_free(t);
        return;
    }
    int refused = eng_plan_memory(p) != ODRT_OK;
    for (int k = 0; k < p->n_ops && !refused; k++)
        refused = !eng_validate_op(p, k) || !eng_backend_cpu.supports_op(p, k) || !eng_backend_cuda.supports_op(p, k);
    if (refused) {
        printf("FAIL %s: plan refused: %s\n", t->name, odrt_last_error());
        n_cases++, n_failed++;
        return;
    }
    int64_t n = p->tensors[t->out].numel;
    float *ref = malloc(sizeof(float) * (size_t)n), *got = malloc(sizeof(float) * (size_t)n);
    int ok_ref = run_backend(&eng_backend_cpu, t, "fp32", ref) == 0;
    for (int h = 0; h < 2; h++) {
        double tol = h ? tol16 : tol32;
        for (int64_t i = 0; i < n; i++) got[i] = NAN;
        int ok = ok_ref && run_backend(&eng_backend_cuda, t, h ? "fp16" : "fp32", got) == 0;
        double num = 0, den = 0;
        int64_t bad_nf = -1;
        for (int64_t i = 0; ok && i < n; i++) {
            int fr = isfinite(ref[i]), fg = isfinite(got[i]);
            if (fr != fg || (!fr && (isnan(ref[i]) != isnan(got[i]) || (!isnan(ref[i]) && ref[i] != got[i])))) {
                if (bad_nf < 0) bad_nf = i;
                continue;
            }
            if (!fr) continue;
            num += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]), den += (double)ref[i] * ref[i];
        }
        double nmse = den > 0 ? num / den : num;
        int pass = ok && bad_nf < 0 && nmse <= tol;
        n_cases++, n_failed += !pass;
        if (!pass || verbose)
            printf("%s %-70s %s nmse %.3g (tol %.0e)%s", pass ? "ok  " : "FAIL", t->name, h ? "fp16" : "fp32", nmse, tol,
                   bad_nf >= 0 ? "" : "\n");
        if (bad_nf >= 0) printf(" non-finite mismatch at %lld: cpu %g cuda %g\n", (long long)bad_nf, ref[bad_nf], got[bad_nf]);
        if (!pass && ok) { /* where: the first elements off by more than 1% of the output's scale */
            double scale = sqrt(den / (double)n) + 1e-30;
            for (int64_t i = 0, shown = 0; i < n && shown < 6; i++)
                if (!(fabs((double)got[i] - ref[i]) <= 0.01 * scale))
                    printf("    [%lld] cpu %g cuda %g\n", (long long)i, ref[i], got[i]), shown++;
        }
    }
    free(ref), free(got);
    tc_free(t);
}

static const char *act_name[] = {"id", "clip", "sigmoid", "swish"};

static void conv_case(int kind, int N, int H, int W, int Cin, int Cout, int kh, int kw, int s, int d, int pt, int pl, int pb,
                      int pr, int act, int residual, int special) {
    tcase t;
    tc_init(&t, "conv-%s N%d %dx%d %d->%d k%dx%d s%d d%d p%d,%d,%d,%d %s%s%s%s%s", kind == CONV_GEMM ? "gemm" : kind == CONV_DW ? "dw" : "im2col",
            N, H, W, Cin, Cout, kh, kw, s, d, pt, pl, pb, pr, act_name[act], residual ? " +res" : "", special ? " nan/inf" : "",
            opts.cuda_dw_pixels ? (opts.cuda_dw_pixels == 2 ? " R2" : " R1") : "", opts.cuda_pw ? " PW" : "");
    t.special = special;
    int64_t dx[4] = {N, Cin, H, W};
    int xi = tc_input(&t, 4, dx, ENG_NHWC);
    int OH = (H + pt + pb - ((kh - 1) * d + 1)) / s + 1, OW = (W + pl + pr - ((kw - 1) * d + 1)) / s + 1;
    int64_t dy[4] = {N, Cout, OH, OW};
    int ri = residual ? tc_input(&t, 4, dy, ENG_NHWC) : -1;
    t.out = eng_add_tensor(&t.p, 4, dy, ENG_NHWC);
    int cin_g = kind == CONV_DW ? 1 : Cin;
    size_t nw = (size_t)Cout * cin_g * kh * kw;
    float *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * (size_t)Cout);
    for (size_t i = 0; i < nw; i++) w[i] = frand() / sqrtf((float)(cin_g * kh * kw));
    for (int i = 0; i < Cout; i++) b[i] = frand() * 0.1f;
    eng_op *o = eng_add_op(&t.p, EOP_CONV);
    o->conv_kind = kind, o->kh = kh, o->kw = kw, o->sh = o->sw = s, o->dh = o->dw = d, o->pt = pt, o->pl = pl, o->pb = pb,
    o->pr = pr, o->cin = Cin, o->cout = Cout, o->n_in = 1, o->in[0] = xi, o->out = t.out, o->residual = ri, o->act = act;
    o->act_lo = 0, o->act_hi = 6;
    snprintf(o->name, sizeof o->name, "conv");
    eng_pack_conv(&t.p, &t.p.ops[0], w, b);
    free(w), free(b);
    tc_run(&t, 1e-9, 2e-5);
}

/* depthwise: 3x3 and 5x5, strides 1 and 2, dilation, channels not in 8s and in 8s (8-wide fp16),
 * rows whose width is not a multiple of the pixels per thread */
static void dw_cases(int a) {
    conv_case(CONV_DW, 1, 13, 11, 37, 37, 3, 3, 1, 1, 1, 1, 1, 1, a, 0, a == 2);
    conv_case(CONV_DW, 2, 10, 9, 24, 24, 3, 3, 2, 1, 0, 0, 1, 1, a, 0, a == 0);
    conv_case(CONV_DW, 1, 8, 12, 5, 5, 5, 5, 1, 2, 4, 4, 4, 4, a, 0, 0);
    conv_case(CONV_DW, 2, 9, 13, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1, a, 0, a == 1);
    conv_case(CONV_DW, 1, 11, 10, 12, 12, 3, 3, 2, 1, 1, 1, 1, 1, a, 0, 0);
    conv_case(CONV_DW, 2, 15, 13, 40, 40, 5, 5, 2, 1, 1, 1, 2, 2, a, 0, a == 3);
    conv_case(CONV_DW, 1, 14, 17, 12, 12, 5, 5, 1, 1, 2, 2, 2, 2, a, 0, a == 1);
    conv_case(CONV_DW, 1, 6, 7, 5, 5, 5, 5, 2, 1, 2, 2, 2, 2, a, 0, 0);
}

/* 1x1 convs with channels in 8s (fp16: tensor cores): both conv_tc tile widths, split K, and for
 * conv_pw every column tile (32, 64, 96, 128, partial last ones), K in one and several k-slices
 * (K % 32 != 0), pixel counts not a multiple of its 128-pixel tile */
static void gemm_cases(int a) {
    conv_case(CONV_GEMM, 2, 9, 11, 24, 144, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 2, a == 1);
    conv_case(CONV_GEMM, 1, 10, 13, 144, 24, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 0, a == 3);
    conv_case(CONV_GEMM, 1, 3, 3, 320, 1280, 1, 1, 1, 1, 0, 0, 0, 0, a, 0, 0); /* split K, many column tiles */
    conv_case(CONV_GEMM, 2, 17, 23, 16, 96, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 1, a == 2);
    conv_case(CONV_GEMM, 1, 19, 21, 40, 136, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 3, 0);
    conv_case(CONV_GEMM, 3, 12, 12, 64, 64, 1, 1, 1, 1, 0, 0, 0, 0, a, a != 1, a == 0);
    conv_case(CONV_GEMM, 1, 30, 30, 96, 576, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 0, 0);
}

/* a depthwise conv and the 1x1 conv reading it: a plan of two ops */
static void dwpw_case(int N, int H, int W, int C, int Cout, int k, int s, int pad, int act, int residual) {
    tcase t;
    tc_init(&t, "dw+pw N%d %dx%d %d->%d k%dx%d s%d p%d %s%s%s", N, H, W, C, Cout, k, k, s, pad, act_name[act], residual ? " +res" : "",
            opts.cuda_pw ? " PW" : "");
    int64_t dx[4] = {N, C, H, W};
    int xi = tc_input(&t, 4, dx, ENG_NHWC);
    int OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
    int64_t dm[4] = {N, C, OH, OW}, dy[4] = {N, Cout, OH, OW};
    int ri = residual ? tc_input(&t, 4, dy, ENG_NHWC) : -1;
    int mid = eng_add_tensor(&t.p, 4, dm, ENG_NHWC);
    t.out = eng_add_tensor(&t.p, 4, dy, ENG_NHWC);
    for (int j = 0; j < 2; j++) {
        int cin_g = j ? C : 1, co = j ? Cout : C, kk = j ? 1 : k;
        size_t nw = (size_t)co * cin_g * kk * kk;
        float *w = malloc(sizeof(float) * nw), *b = malloc(sizeof(float) * (size_t)co);
        for (size_t i = 0; i < nw; i++) w[i] = frand() / sqrtf((float)(cin_g * kk * kk));
        for (int i = 0; i < co; i++) b[i] = frand() * 0.1f;
        eng_op *o = eng_add_op(&t.p, EOP_CONV);
        o->conv_kind = j ? CONV_GEMM : CONV_DW, o->kh = o->kw = kk, o->sh = o->sw = j ? 1 : s, o->dh = o->dw = 1;
        o->pt = o->pl = o->pb = o->pr = j ? 0 : pad, o->cin = C, o->cout = co, o->n_in = 1, o->in[0] = j ? mid : xi;
        o->out = j ? t.out : mid, o->residual = j ? ri : -1, o->act = j ? (act + 2) % 4 : act, o->act_lo = 0, o->act_hi = 6;
        snprintf(o->name, sizeof o->name, j ? "pw" : "dw");
        eng_pack_conv(&t.p, &t.p.ops[j], w, b);
        free(w), free(b);
    }
    tc_run(&t, 1e-9, 2e-5);
}

static void dwpw_cases(int a) {
    dwpw_case(1, 13, 11, 32, 24, 3, 1, 1, a, a == 1);
    dwpw_case(2, 10, 9, 48, 136, 3, 2, 1, a, a == 2);
    dwpw_case(1, 9, 9, 64, 16, 5, 1, 2, a, 0);
    dwpw_case(1, 5, 5, 960, 320, 3, 1, 1, a, 0); /* split K */
}

static void binary_case(int bin, int bc, int rev, int act, int N, int C, int H, int W) {
    tcase t;
    static const char *bn[] = {"add", "sub", "mul", "div", "max", "min"}, *bcn[] = {"same", "scalar", "lastdim", "fullconst", "channel"};
    tc_init(&t, "binary-%s %s%s N%d C%d %dx%d %s", bn[bin], bcn[bc], rev ? " rev" : "", N, C, H, W, act_name[act]);
    t.special = bc == BC_SAME;
    int64_t d[4] = {N, C, H, W};
    int xi = tc_input(&t, 4, d, ENG_NHWC), oi = -1;
    t.special = 0;
    if (bc == BC_SAME) oi = tc_input(&t, 4, d, ENG_NHWC);
    if (bc == BC_CHANNEL) {
        int64_t dv[4] = {N, C, 1, 1};
        oi = tc_input(&t, 4, dv, ENG_NHWC);
    }
    if (bin == BIN_DIV) /* operands away from 0: quotients fit fp16 */
        for (int i = 0; i < t.n_in; i++)
            for (int64_t q = 0; q < t.p.tensors[t.in[i]].numel; q++) t.x[i][q] += 2.0f;
    t.out = eng_add_tensor(&t.p, 4, d, ENG_NHWC);
    int64_t numel = t.p.tensors[t.out].numel, clen = bc == BC_LASTDIM ? C : bc == BC_FULLCONST ? numel : 0;
    float *cv = clen ? malloc(sizeof(float) * (size_t)clen) : NULL;
    for (int64_t i = 0; i < clen; i++) cv[i] = frand() + (bin == BIN_DIV ? 2.0f : 0.0f);
    int64_t off = clen ? eng_blob_append(&t.p, cv, sizeof(float) * (size_t)clen) : 0;
    free(cv);
    eng_op *o = eng_add_op(&t.p, EOP_BINARY);
    o->bin = bin, o->bcast = bc, o->axis = rev, o->act = act, o->act_lo = -0.5f, o->act_hi = 0.5f, o->scalar = 0.75f;
    o->n_in = oi >= 0 ? 2 : 1, o->in[0] = xi, o->in[1] = oi, o->out = t.out;
    if (clen) o->w_off = off, o->w_len = (int64_t)sizeof(float) * clen;
    snprintf(o->name, sizeof o->name, "binary");
    tc_run(&t, 1e-10, 2e-5);
}

/* the plan's ops joined into one group ending at op k, of that kind (engine/groups.h): else the
 * case would not test the fused kernels it names */
static int grouped(tcase *t, int k, int kind) {
    if (eng_plan_memory(&t->p) != ODRT_OK) return 0;
    int *grp = calloc((size_t)t->p.n_ops, sizeof(int));
    eng_group *g = calloc((size_t)t->p.n_ops, sizeof(eng_group));
    int ok = grp && g && eng_find_groups(&t->p, NULL, grp, g) == 0 && grp[k] == 1 && g[k].kind == kind;
    for (int q = 0; ok && q < k; q++) ok = grp[q] == -1;
    free(grp), free(g);
    if (!ok) printf("FAIL %s: not found as one group\n", t->name), n_cases++, n_failed++;
    return ok;
}

/* squeeze-and-excite: x * s (s per image and channel) read by a 1x1 conv, which the CUDA backend
 * runs on x with the scales applied to its A operand (every 1x1 kernel: conv_igemm in fp32, conv_tc,
 * conv_wmma, conv_pw in fp16; images with their own scales inside one tile) */
static void se_case(int N, int H, int W, int C, int Cout, int act, int residual) {
    tcase t;
    tc_init(&t, "se-scaled conv N%d %dx%d %d->%d %s%s%s", N, H, W, C, Cout, act_name[act], residual ? " +res" : "", opts.cuda_pw ? " PW" : "");
    int64_t dx[4] = {N, C, H, W}, ds[4] = {N, C, 1, 1}, dy[4] = {N, Cout, H, W};
    int xi = tc_input(&t, 4, dx, ENG_NHWC), si = tc_input(&t, 4, ds, ENG_NHWC);
    for (int64_t i = 0; i < N * C; i++) t.x[1][i] = 0.5f + 0.5f * t.x[1][i]; /* a sigmoid's range */
    int ri = residual ? tc_input(&t, 4, dy, ENG_NHWC) : -1;
    int mid = eng_add_tensor(&t.p, 4, dx, ENG_NHWC);
    t.out = eng_add_tensor(&t.p, 4, dy, ENG_NHWC);
    eng_op *o = eng_add_op(&t.p, EOP_BINARY);
    o->bin = BIN_MUL, o->bcast = BC_CHANNEL, o->n_in = 2, o->in[0] = xi, o->in[1] = si, o->out = mid;
    snprintf(o->name, sizeof o->name, "se mul");
    float *w = malloc(sizeof(float) * (size_t)Cout * C), *b = malloc(sizeof(float) * (size_t)Cout);
    for (int64_t i = 0; i < (int64_t)Cout * C; i++) w[i] = frand() / sqrtf((float)C);
    for (int i = 0; i < Cout; i++) b[i] = frand() * 0.1f;
    o = eng_add_op(&t.p, EOP_CONV);
    o->conv_kind = CONV_GEMM, o->kh = o->kw = o->sh = o->sw = o->dh = o->dw = 1, o->cin = C, o->cout = Cout, o->n_in = 1;
    o->in[0] = mid, o->out = t.out, o->residual = ri, o->act = act, o->act_lo = 0, o->act_hi = 6;
    snprintf(o->name, sizeof o->name, "project");
    eng_pack_conv(&t.p, &t.p.ops[1], w, b);
    free(w), free(b);
    if (grouped(&t, 1, EGRP_SCALED_CONV)) tc_run(&t, 1e-9, 2e-5);
    else tc_free(&t);
}

static void se_cases(int a) {
    se_case(1, 9, 11, 48, 24, a, a == 1);   /* conv_tc (fp16) */
    se_case(3, 5, 7, 32, 136, a, a == 2);   /* tiles across images */
    se_case(1, 5, 5, 960, 160, a, 0);       /* split K */
    se_case(2, 6, 7, 20, 12, a, a == 0);    /* channels not in 8s: conv_igemm / conv_wmma */
    se_case(1, 4, 4, 300, 16, a, 0);        /* (K >= 256: conv_wmma) */
    se_case(2, 64, 65, 40, 96, a, a == 3);  /* a map that takes conv_pw by size */
}

/* a weighted sum: terms (some times a scalar) added in a chain, the last add's activation; the
 * CUDA backend runs it as one launch */
static void wsum_case(int N, int C, int H, int W, int terms, int act) {
    tcase t;
    tc_init(&t, "wsum %d terms N%d C%d %dx%d %s", terms, N, C, H, W, act_name[act]);
    int64_t d[4] = {N, C, H, W};
    int x[8], acc = -1;
    for (int i = 0; i < terms; i++) x[i] = tc_input(&t, 4, d, ENG_NHWC);
    for (int i = 0; i < terms; i++) {
        int term = x[i];
        if (i != 1) { /* BiFPN's normalised weights (one plain term among them) */
            term = eng_add_tensor(&t.p, 4, d, ENG_NHWC);
            eng_op *o = eng_add_op(&t.p, EOP_BINARY);
            o->bin = BIN_MUL, o->bcast = BC_SCALAR, o->scalar = 0.25f + 0.2f * (float)i, o->n_in = 1, o->in[0] = x[i], o->out = term;
            snprintf(o->name, sizeof o->name, "smul");
        }
        if (i == 0) {
            acc = term;
            continue;
        }
        int y = eng_add_tensor(&t.p, 4, d, ENG_NHWC);
        eng_op *o = eng_add_op(&t.p, EOP_BINARY);
        o->bin = BIN_ADD, o->bcast = BC_SAME, o->n_in = 2, o->in[0] = acc, o->in[1] = term, o->out = y;
        o->act = i == terms - 1 ? act : EACT_ID, o->act_lo = -0.5f, o->act_hi = 0.5f;
        snprintf(o->name, sizeof o->name, "add");
        acc = y;
    }
    t.out = acc;
    if (grouped(&t, t.p.n_ops - 1, EGRP_WSUM)) tc_run(&t, 1e-9, 2e-5);
    else tc_free(&t);
}

#endif /* ODRT_HAVE_CUDA */

int main(int argc, char **argv) {
#ifndef ODRT_HAVE_CUDA
    (void)argc, (void)argv;
    puts("SKIP: this odrt was built without the CUDA backend");
    return 77;
#else
    odrt_engine_options_init(&opts);
    opts.threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose = 1;
        else filter = argv[i];
    }
    { /* a GPU? */
        tcase t;
        tc_init(&t, "probe");
        int64_t d[1] = {4};
        t.out = eng_add_tensor(&t.p, 1, d, ENG_PLAIN);
        eng_plan_memory(&t.p);
        snprintf(t.p.meta.precision, sizeof t.p.meta.precision, "fp32");
        void *ctx;
        if (eng_backend_cuda.prepare(&t.p, &opts, &ctx) != ODRT_OK) { /* skipped only where there is no GPU */
            int no_gpu = strstr(odrt_last_error(), "no usable GPU") != NULL;
            printf("%s: %s\n", no_gpu ? "SKIP" : "FAIL", odrt_last_error());
            return no_gpu ? 77 : 1;
        }
        eng_backend_cuda.free(ctx);
        eng_plan_free(&t.p);
    }
    /* convolutions: 1x1 GEMM, im2col (strides, dilation, asymmetric pads), depthwise */
    for (int a = 0; a < 4; a++) {
        gemm_cases(a);
        conv_case(CONV_GEMM, 1, 13, 11, 17, 33, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 0, 0);
        conv_case(CONV_GEMM, 3, 7, 9, 32, 16, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 1, a == 2);
        conv_case(CONV_GEMM, 1, 5, 5, 960, 160, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 0, 0); /* small map, deep K: split K */
        conv_case(CONV_IM2COL, 1, 6, 5, 96, 40, 3, 3, 1, 1, 1, 1, 1, 1, a, a == 3, a == 1); /* split K */
        conv_case(CONV_IM2COL, 1, 15, 17, 3, 24, 3, 3, 2, 1, 0, 0, 1, 1, a, 0, 0);
        conv_case(CONV_IM2COL, 2, 9, 8, 19, 7, 3, 3, 1, 1, 1, 1, 1, 1, a, a == 3, a == 1);
        conv_case(CONV_IM2COL, 1, 12, 10, 8, 70, 5, 5, 1, 2, 4, 4, 4, 4, a, 0, 0);
        conv_case(CONV_IM2COL, 2, 9, 9, 16, 16, 1, 1, 2, 1, 0, 0, 0, 0, a, 0, 0);
        /* channels in 8s (fp16: the 16-byte tensor-core tiles, both tile widths) */
        conv_case(CONV_IM2COL, 2, 11, 9, 32, 48, 3, 3, 2, 1, 0, 0, 1, 1, a, a == 1, a == 2);
        conv_case(CONV_IM2COL, 1, 7, 7, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, a, 0, 0);
        /* stems (K <= 32, channels not in 8s): conv_direct, fp16 on tensor cores (conv_stem_tc) */
        conv_case(CONV_IM2COL, 2, 13, 12, 3, 32, 3, 3, 2, 1, 0, 0, 1, 1, a, a == 1, a == 2);
        conv_case(CONV_IM2COL, 2, 33, 31, 3, 64, 3, 3, 2, 1, 0, 0, 1, 1, a, a == 2, a == 3);
        conv_case(CONV_IM2COL, 1, 21, 19, 1, 16, 5, 5, 2, 1, 2, 2, 2, 2, a, 0, 0);
        conv_case(CONV_IM2COL, 1, 17, 16, 3, 8, 3, 3, 1, 2, 2, 2, 2, 2, a, a == 0, a == 1);
        /* a map whose 128-pixel tiles fill the GPU: conv_pw by size in fp16 */
        conv_case(CONV_GEMM, 2, 96, 97, 24, 144, 1, 1, 1, 1, 0, 0, 0, 0, a, a == 3, a == 0);
        dw_cases(a);
    }
    /* the depthwise kernel with 2 output pixels per thread (chosen by size for large maps) */
    opts.cuda_dw_pixels = 2;
    for (int a = 0; a < 4; a++) dw_cases(a);
    opts.cuda_dw_pixels = 0;
    /* fp16 1x1 convs with channels in 8s on conv_pw whatever the map's size (cuda_pw 2, "always":
     * no split K); by default small maps take conv_tc */
    opts.cuda_pw = 2;
    for (int a = 0; a < 4; a++) {
        gemm_cases(a);
        dwpw_cases(a);
    }
    opts.cuda_pw = 0;
    for (int a = 0; a < 4; a++) dwpw_cases(a); /* depthwise -> 1x1 chains (two-op plans) */
    for (int a = 0; a < 4; a++) { /* elementwise groups: squeeze-excite scaled convs, weighted sums */
        se_cases(a);
        wsum_case(1 + a % 2, 64, 7, 9, 2 + a, a);
        wsum_case(2, 5, 3, 7, 3, a); /* not in 8s: one element a thread */
    }
    opts.cuda_pw = 2;
    for (int a = 0; a < 4; a++) se_cases(a);
    opts.cuda_pw = 0;

    /* elementwise: every op, every broadcast, operands swapped */
    for (int bin = BIN_ADD; bin <= BIN_MIN; bin++)
        for (int bc = BC_SAME; bc <= BC_CHANNEL; bc++)
            for (int rev = 0; rev < 2; rev++) {
                binary_case(bin, bc, rev, (bin + bc + rev) % 4, 1 + rev * 2, 5 + bc * 3, 7, 9);
                binary_case(bin, bc, rev, (bin + bc + rev + 1) % 4, 2 - rev, 16, 5, 3); /* in 8s: 8 elements a thread */
            }
    for (int a = 1; a < 8; a++) { /* unary (from a = 4: channels in 8s, 8 elements a thread) */
        tcase t;
        tc_init(&t, "unary %s N2 13x7x%d", act_name[a % 4 ? a % 4 : 1], a < 4 ? 5 : 8);
        t.special = 1;
        int64_t d[4] = {2, a < 4 ? 5 : 8, 13, 7};
        int xi = tc_input(&t, 4, d, ENG_NHWC);
        t.out = eng_add_tensor(&t.p, 4, d, ENG_NHWC);
        eng_op *o = eng_add_op(&t.p, EOP_UNARY);
        o->n_in = 1, o->in[0] = xi, o->out = t.out, o->act = a % 4 ? a % 4 : 1, o->act_lo = -0.25f, o->act_hi = 0.5f;
        tc_run(&t, 1e-10, 2e-5);
    }
    { /* gather: a random index map */
        tcase t;
        tc_init(&t, "gather 3x41x17 -> 1000");
        int64_t d[3] = {3, 41, 17}, dy[1] = {1000};
        int xi = tc_input(&t, 3, d, ENG_PLAIN);
        t.out = eng_add_tensor(&t.p, 1, dy, ENG_PLAIN);
        int32_t idx[1000];
        for (int i = 0; i < 1000; i++) idx[i] = (int32_t)((frand() + 1) * 0.5f * (3 * 41 * 17 - 1));
        int64_t off = eng_blob_append(&t.p, idx, sizeof idx);
        eng_op *o = eng_add_op(&t.p, EOP_GATHER);
        o->n_in = 1, o->in[0] = xi, o->out = t.out, o->w_off = off, o->w_len = sizeof idx;
        tc_run(&t, 0, 2e-5);
    }
    for (int lay = 0; lay < 2; lay++) { /* concat: NHWC channels, plain axis 1 */
        tcase t;
        tc_init(&t, "concat %s 3 inputs", lay ? "nhwc channels" : "plain axis 1");
        int cs[3] = {5, 16, 7}, tot = 28, ids[3];
        for (int i = 0; i < 3; i++) {
            int64_t d[4] = {2, cs[i], 6, 5};
            ids[i] = tc_input(&t, lay ? 4 : 3, d, lay ? ENG_NHWC : ENG_PLAIN);
        }
        int64_t dy[4] = {2, tot, 6, 5};
        t.out = eng_add_tensor(&t.p, lay ? 4 : 3, dy, lay ? ENG_NHWC : ENG_PLAIN);
        eng_op *o = eng_add_op(&t.p, EOP_CONCAT);
        o->n_in = 3, o->out = t.out, o->axis = lay ? 3 : 1;
        memcpy(o->in, ids, sizeof ids);
        tc_run(&t, 0, 2e-5);
    }
    for (int v = 0; v < 3; v++) { /* max pooling: BiFPN's 3x3/2 with bottom-right pads, 2x2/2, 3x3/1 same pads */
        static const int kk[3] = {3, 2, 3}, ss[3] = {2, 2, 1}, pt[3] = {0, 0, 1}, pb[3] = {1, 0, 1};
        tcase t;
        tc_init(&t, "maxpool k%d s%d p%d,%d N2 C19 13x11%s", kk[v], ss[v], pt[v], pb[v], v == 2 ? " nan/inf" : "");
        t.special = v == 2;
        int64_t d[4] = {2, 19, 13, 11}, oh = (13 + pt[v] + pb[v] - kk[v]) / ss[v] + 1, ow = (11 + pt[v] + pb[v] - kk[v]) / ss[v] + 1;
        int64_t dy[4] = {2, 19, oh, ow};
        int xi = tc_input(&t, 4, d, ENG_NHWC);
        t.out = eng_add_tensor(&t.p, 4, dy, ENG_NHWC);
        eng_op *o = eng_add_op(&t.p, EOP_MAXPOOL);
        o->n_in = 1, o->in[0] = xi, o->out = t.out, o->kh = o->kw = kk[v], o->sh = o->sw = ss[v], o->dh = o->dw = 1;
        o->pt = o->pl = pt[v], o->pb = o->pr = pb[v], o->cin = o->cout = 19;
        tc_run(&t, 0, 2e-5);
    }
    /* spatial mean; fp16 with channels in 8s: two passes over parts of the pixels (one part, many,
     * one channel chunk per pixel lane) */
    static const int64_t mshape[][4] = {{2, 37, 19, 23}, {2, 40, 19, 23}, {1, 32, 70, 90}, {3, 1152, 9, 11}, {1, 16, 128, 128}};
    for (int sp = 0; sp < 10; sp++) {
        const int64_t *ms = mshape[sp / 2];
        tcase t;
        tc_init(&t, "mean-hw N%lld C%lld %lldx%lld%s", (long long)ms[0], (long long)ms[1], (long long)ms[2], (long long)ms[3],
                sp % 2 ? " nan/inf" : "");
        t.special = sp % 2;
        int64_t d[4] = {ms[0], ms[1], ms[2], ms[3]}, dy[4] = {ms[0], ms[1], 1, 1};
        int xi = tc_input(&t, 4, d, ENG_NHWC);
        t.out = eng_add_tensor(&t.p, 4, dy, ENG_NHWC);
        eng_op *o = eng_add_op(&t.p, EOP_MEAN_HW);
        o->n_in = 1, o->in[0] = xi, o->out = t.out;
        tc_run(&t, 1e-10, 2e-5);
    }
    /* crops (two-stage detectors): both of TF's modes, boxes past the map's edges and flipped, batch
     * 2; box coordinates on a grid of 1/1024 so that fp16 engines (boxes stored in half) sample the
     * same points */
    static const int cshape[][6] = {{1, 16, 20, 20, 14, 14}, {2, 37, 13, 9, 7, 5}, {2, 64, 40, 33, 1, 3}};
    for (int cs = 0; cs < 6; cs++) {
        const int *c = cshape[cs / 2];
        int mode = cs % 2, P = 9;
        tcase t;
        tc_init(&t, "crop %s N%d C%d %dx%d -> %dx%d", mode ? "crop_and_resize" : "roi_align", c[0], c[1], c[2], c[3], c[4], c[5]);
        int64_t d[4] = {c[0], c[1], c[2], c[3]}, db[3] = {c[0], P, 4}, dy[4] = {c[0] * P, c[1], c[4], c[5]};
        int xi = tc_input(&t, 4, d, ENG_NHWC), bi = tc_input(&t, 3, db, ENG_PLAIN);
        for (int q = 0; q < c[0] * P * 4; q++) t.x[1][q] = roundf((frand() * 0.75f + 0.5f) * 1024.0f) / 1024.0f; /* [-0.25, 1.25) */
        t.out = eng_add_tensor(&t.p, 4, dy, ENG_NHWC);
        eng_op *o = eng_add_op(&t.p, EOP_CROP);
        o->n_in = 2, o->in[0] = xi, o->in[1] = bi, o->out = t.out, o->kh = c[4], o->kw = c[5], o->axis = mode;
        o->cin = o->cout = c[1], o->scalar = cs == 3 ? 0.5f : 0.0f;
        tc_run(&t, 1e-10, 2e-5);
    }
    /* bilinear resizes (Mask R-CNN's mask head): align_corners 4 -> 15, half_pixel down and up, an axis kept */
    static const struct { int ctm, h, w, oh, ow; } rs[] = {{2, 4, 4, 15, 15}, {0, 17, 9, 6, 20}, {1, 5, 8, 11, 8}};
    for (int v = 0; v < 3; v++) {
        tcase t;
        tc_init(&t, "resize ctm%d N2 C13 %dx%d -> %dx%d", rs[v].ctm, rs[v].h, rs[v].w, rs[v].oh, rs[v].ow);
        int64_t d[4] = {2, 13, rs[v].h, rs[v].w}, dy[4] = {2, 13, rs[v].oh, rs[v].ow};
        int xi = tc_input(&t, 4, d, ENG_NHWC);
        t.out = eng_add_tensor(&t.p, 4, dy, ENG_NHWC);
        eng_resize_tap taps[64];
        for (int a = 0; a < 2; a++) {
            int in = a ? rs[v].w : rs[v].h, out = a ? rs[v].ow : rs[v].oh;
            for (int q = 0; q < out; q++) {
                int64_t i0, i1;
                float w0, w1;
                if (in == out) i0 = i1 = q, w0 = 1, w1 = 0;
                else rz_linear(rz_source(rs[v].ctm, q, in, out, (float)out, (float)out / (float)in), in, &i0, &i1, &w0, &w1);
                taps[(a ? rs[v].oh : 0) + q] = (eng_resize_tap){(int32_t)i0, (int32_t)i1, w0, w1};
            }
        }
        eng_op *o = eng_add_op(&t.p, EOP_RESIZE);
        o->n_in = 1, o->in[0] = xi, o->out = t.out, o->w_len = (int64_t)sizeof(eng_resize_tap) * (rs[v].oh + rs[v].ow);
        o->w_off = eng_blob_append(&t.p, taps, (size_t)o->w_len);
        tc_run(&t, 1e-10, 2e-5);
    }
    printf("backend ops: %d cases, %d failed\n", n_cases, n_failed);
    return n_failed ? 1 : 0;
#endif
}
