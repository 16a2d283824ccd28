/* odrt's CPU kernels against XNNPACK and oneDNN (Debian 12's libxnnpack-dev, libdnnl-dev) on
 * handtrack's layer shapes, one thread each, NHWC float32 in and out, Relu6 fused where the layer has
 * it: the measurement behind docs/engine.md's "XNNPACK and oneDNN". Built and run by
 * bench/cpu_libs.sh (not part of the odrt build: the libraries are not odrt dependencies).
 *
 * Each layer: its operator is created (weights packed) once, then timed in 5 rounds of about 0.06 s; the best
 * round's mean time per run is printed with GFLOP/s. Inputs and weights are random. */
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

#include "engine/engine.h"
#include "backends/cpu/kernels.h"

typedef struct {
    const char *name;
    int H, W, Cin, Cout, k, s, pt, pl, pb, pr, dw, clip;
} layer;

/* handtrack (SSD MobileNetV2 FPNLite 320) shapes */
static const layer layers[] = {
    {"1x1 160x160 16->96 relu6 (block_1 expand)", 160, 160, 16, 96, 1, 1, 0, 0, 0, 0, 0, 1},
    {"1x1 80x80 144->24 (block_2 project)", 80, 80, 144, 24, 1, 1, 0, 0, 0, 0, 0, 0},
    {"1x1 40x40 32->192 relu6 (block_4 expand)", 40, 40, 32, 192, 1, 1, 0, 0, 0, 0, 0, 1},
    {"1x1 20x20 96->576 relu6 (block_11 expand)", 20, 20, 96, 576, 1, 1, 0, 0, 0, 0, 0, 1},
    {"1x1 10x10 320->1280 relu6 (out_relu)", 10, 10, 320, 1280, 1, 1, 0, 0, 0, 0, 0, 1},
    {"dw 3x3 s2 160x160x96 relu6 (block_1)", 160, 160, 96, 96, 3, 2, 0, 0, 1, 1, 1, 1},
    {"dw 3x3 s1 80x80x144 relu6 (block_2)", 80, 80, 144, 144, 3, 1, 1, 1, 1, 1, 1, 1},
    {"dw 3x3 s1 40x40x128 relu6 (box tower)", 40, 40, 128, 128, 3, 1, 1, 1, 1, 1, 1, 1},
    {"dw 3x3 s1 20x20x576 relu6 (block_12)", 20, 20, 576, 576, 3, 1, 1, 1, 1, 1, 1, 1},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static float *rnd(size_t n) {
    float *p = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return p;
}

typedef void (*run_fn)(void *);
static double best_ms(run_fn f, void *arg) { /* best of 5 rounds of ~0.06 s, ms per run */
    f(arg);
    double t0 = now();
    int reps = 0;
    while (now() - t0 < 0.02) f(arg), reps++;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t = now();
        for (int i = 0; i < reps * 3; i++) f(arg);
        double ms = (now() - t) * 1e3 / (reps * 3);
        if (ms < best) best = ms;
    }
    return best;
}

/* ---- odrt: the engine's kernels as the CPU backend calls them, one thread ---- */
typedef struct {
    const layer *l;
    const cpu_kernels *k;
    float *x, *w, *b, *y, *zeros;
    int OH, OW;
} odrt_job;
static void odrt_run(void *a) {
    odrt_job *j = a;
    const layer *l = j->l;
    k_epi e = {l->clip ? EACT_CLIP : EACT_ID, 0.0f, 6.0f};
    if (l->dw) {
        k_dw d = {j->x, j->w, j->b, j->y, l->H, l->W, l->Cin, j->OH, j->OW, l->k, l->k, l->s, l->s, 1, 1, l->pt, l->pl, e, j->zeros};
        j->k->dw(&d, 0, j->OH);
    } else {
        int64_t M = (int64_t)j->OH * j->OW;
        for (int64_t m = 0; m < M; m += 48) /* the backend's row blocks */
            j->k->gemm(M - m < 48 ? M - m : 48, 0, l->Cout, l->Cin, j->x + m * l->Cin, l->Cin, j->w, j->b, j->y + m * l->Cout,
                       l->Cout, NULL, &e);
    }
}

/* ---- XNNPACK: one operator, no thread pool (the calling thread) ---- */
typedef struct {
    xnn_operator_t op;
} xnn_job;
static void xnn_run(void *a) { xnn_run_operator(((xnn_job *)a)->op, NULL); }

/* ---- oneDNN: one convolution primitive, NHWC in and out, weights in the primitive's own format ---- */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_stream_t st;
    dnnl_exec_arg_t args[4];
} dnnl_job;
static void dnnl_run(void *a) {
    dnnl_job *j = a;
    dnnl_primitive_execute(j->prim, j->st, 4, j->args);
    dnnl_stream_wait(j->st);
}
#define DN(call)                                                                                   \
    do {                                                                                           \
        if ((call) != dnnl_success) {                                                              \
            fprintf(stderr, "oneDNN: %s failed\n", #call);                                         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

int main(void) {
    const cpu_kernels *k = cpu_kernels_pick(getenv("ODRT_CPU_ISA"));
    if (xnn_initialize(NULL) != xnn_status_success) return fprintf(stderr, "XNNPACK: init failed\n"), 1;
    dnnl_engine_t eng;
    dnnl_stream_t st;
    DN(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    printf("one thread, float32 NHWC; odrt kernels: %s; ms per layer (GFLOP/s); ratio = library time / odrt time\n", k->isa);
    printf("%-44s %16s %16s %16s %7s %7s\n", "layer", "odrt", "XNNPACK", "oneDNN", "XNN/odrt", "DNNL/odrt");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *l = &layers[li];
        int OH = (l->H + l->pt + l->pb - l->k) / l->s + 1, OW = (l->W + l->pl + l->pr - l->k) / l->s + 1;
        double flop = 2.0 * OH * OW * l->Cout * (l->dw ? l->k * l->k : l->k * l->k * l->Cin);
        size_t nw = l->dw ? (size_t)l->k * l->k * l->Cout : (size_t)(l->Cout + 15) / 16 * 16 * l->Cin;
        float *x = rnd((size_t)l->H * l->W * l->Cin), *w = rnd(nw), *b = rnd((size_t)l->Cout + 16);
        float *y = rnd((size_t)OH * OW * l->Cout), *zeros = calloc((size_t)l->W * l->Cin + 16, 4);
        odrt_job oj = {l, k, x, w, b, y, zeros, OH, OW};
        double t_odrt = best_ms(odrt_run, &oj);

        /* XNNPACK: depthwise weights [kh][kw][C] with XNN_FLAG_DEPTHWISE_CONVOLUTION, else [Cout][kh][kw][Cin] */
        xnn_job xj;
        float lo = l->clip ? 0.0f : -INFINITY, hi = l->clip ? 6.0f : INFINITY;
        enum xnn_status xs = xnn_create_convolution2d_nhwc_f32(
            l->pt, l->pr, l->pb, l->pl, l->k, l->k, l->s, l->s, 1, 1, l->dw ? l->Cin : 1, l->dw ? 1 : l->Cin, l->dw ? 1 : l->Cout,
            l->Cin, l->Cout, w, b, lo, hi, l->dw ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &xj.op);
        if (xs == xnn_status_success) xs = xnn_setup_convolution2d_nhwc_f32(xj.op, 1, l->H, l->W, x, y, NULL);
        double t_xnn = xs == xnn_status_success ? best_ms(xnn_run, &xj) : -1;
        if (xs == xnn_status_success) xnn_delete_operator(xj.op);

        /* oneDNN: groups = C for depthwise; weights and bias md "any" (packed by the primitive) */
        dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
        dnnl_dims_t sd = {1, l->Cin, l->H, l->W}, dd = {1, l->Cout, OH, OW}, bd = {l->Cout};
        dnnl_dims_t wd5 = {l->Cin, 1, 1, l->k, l->k}, wd4 = {l->Cout, l->Cin, l->k, l->k};
        dnnl_dims_t strides = {l->s, l->s}, dil = {0, 0}, pl_ = {l->pt, l->pl}, pr_ = {l->pb, l->pr};
        DN(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_nhwc));
        DN(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_nhwc));
        DN(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a));
        if (l->dw) DN(dnnl_memory_desc_init_by_tag(&w_md, 5, wd5, dnnl_f32, dnnl_format_tag_any));
        else DN(dnnl_memory_desc_init_by_tag(&w_md, 4, wd4, dnnl_f32, dnnl_format_tag_any));
        dnnl_convolution_desc_t cd;
        DN(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_md, &b_md,
                                                      &dst_md, strides, dil, pl_, pr_));
        dnnl_primitive_attr_t attr;
        dnnl_post_ops_t po;
        DN(dnnl_primitive_attr_create(&attr));
        DN(dnnl_post_ops_create(&po));
        if (l->clip) DN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, 0.0f, 6.0f));
        DN(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_primitive_desc_t pd;
        DN(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
        const char *impl = "?";
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        dnnl_memory_t ms, mw, mb, md;
        DN(dnnl_memory_create(&ms, &src_md, eng, x));
        DN(dnnl_memory_create(&md, &dst_md, eng, y));
        DN(dnnl_memory_create(&mb, &b_md, eng, b));
        DN(dnnl_memory_create(&mw, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), eng, DNNL_MEMORY_ALLOCATE));
        dnnl_job dj = {NULL, st, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, md}}};
        DN(dnnl_primitive_create(&dj.prim, pd));
        double t_dnnl = best_ms(dnnl_run, &dj);
        dnnl_primitive_destroy(dj.prim), dnnl_primitive_desc_destroy(pd), dnnl_post_ops_destroy(po), dnnl_primitive_attr_destroy(attr);
        dnnl_memory_destroy(ms), dnnl_memory_destroy(mw), dnnl_memory_destroy(mb), dnnl_memory_destroy(md);

        char a[32], bx[32], c[32];
        snprintf(a, sizeof a, "%.4f (%5.1f)", t_odrt, flop / t_odrt / 1e6);
        snprintf(bx, sizeof bx, "%.4f (%5.1f)", t_xnn, flop / t_xnn / 1e6);
        snprintf(c, sizeof c, "%.4f (%5.1f)", t_dnnl, flop / t_dnnl / 1e6);
        printf("%-44s %16s %16s %16s %7.2f %7.2f   [oneDNN: %s]\n", l->name, a, bx, c, t_xnn / t_odrt, t_dnnl / t_odrt, impl);
        free(x), free(w), free(b), free(y), free(zeros);
    }
    dnnl_stream_destroy(st), dnnl_engine_destroy(eng);
    return 0;
}
