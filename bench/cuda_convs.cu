/* odrt's CUDA convolution kernels against cuDNN on handtrack's layer shapes, fp16 NHWC, one layer at
 * a time (the measurement behind "cuDNN where it wins": docs/cuda.md). Built and run by
 * bench/cuda_convs.sh on a GPU machine (odrt's build folder carried; cuDNN from that machine).
 *
 * odrt: a one-op plan (bias and the layer's activation fused, as the engine runs it) through the
 * CUDA backend's run (one launch, then a stream synchronisation). cuDNN: the legacy convolution API
 * (NHWC half, float accumulation, tensor-op math, group count = channels for depthwise), the
 * fastest algorithm cudnnFindConvolutionForwardAlgorithm reports, convolution only (no bias or
 * activation: cuDNN's fused call has no ReLU6), one launch then a synchronisation. Both: median
 * wall time of 200 iterations after 20; the first line is an empty kernel's launch + sync. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern "C" {
#include "backends/backend.h"
#include "engine/plan_util.h"
}

#define CK(x)                                                                                \
    do {                                                                                     \
        cudnnStatus_t s_ = (x);                                                              \
        if (s_ != CUDNN_STATUS_SUCCESS) {                                                    \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudnnGetErrorString(s_)); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)
#define CC(x)                                                                                \
    do {                                                                                     \
        cudaError_t e_ = (x);                                                                \
        if (e_ != cudaSuccess) {                                                             \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

enum { WARM = 20, ITERS = 200 };

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
template <typename F>
static double median_ms(F run) {
    static double t[ITERS];
    for (int i = 0; i < WARM; i++) run();
    for (int i = 0; i < ITERS; i++) {
        double t0 = now_ms();
        run();
        t[i] = now_ms() - t0;
    }
    qsort(t, ITERS, sizeof(double), cmp_d);
    return t[ITERS / 2];
}

static uint32_t seed = 1;
static float frand(void) {
    seed = seed * 1664525u + 1013904223u;
    return (float)(seed >> 8) / 8388608.0f - 1.0f;
}

typedef struct {
    const char *name;
    int H, W, Cin, Cout, k, s, dw, act; /* act: eng_act */
} layer;

/* odrt: one conv op, fp16, through the CUDA backend */
static double odrt_ms(const layer *L, int N) {
    eng_plan p;
    memset(&p, 0, sizeof p);
    p.owns_blob = 1;
    eng_meta *m = &p.meta;
    m->batch = 1, m->n_anchors = 1, m->n_classes = 1, m->max_per_class = 1, m->max_total = 1;
    snprintf(m->device, sizeof m->device, "cuda");
    snprintf(m->precision, sizeof m->precision, "fp16");
    int pad = L->k / 2, OH = (L->H + 2 * pad - L->k) / L->s + 1, OW = (L->W + 2 * pad - L->k) / L->s + 1;
    int64_t dx[4] = {N, L->Cin, L->H, L->W}, dy[4] = {N, L->Cout, OH, OW};
    int xi = eng_add_tensor(&p, 4, dx, ENG_NHWC), yi = eng_add_tensor(&p, 4, dy, ENG_NHWC);
    int cin_g = L->dw ? 1 : L->Cin;
    size_t nw = (size_t)L->Cout * cin_g * L->k * L->k;
    float *w = (float *)malloc(sizeof(float) * nw), *b = (float *)malloc(sizeof(float) * L->Cout);
    for (size_t i = 0; i < nw; i++) w[i] = frand() / sqrtf((float)(cin_g * L->k * L->k));
    for (int i = 0; i < L->Cout; i++) b[i] = frand() * 0.1f;
    eng_op *o = eng_add_op(&p, EOP_CONV);
    o->conv_kind = L->dw ? CONV_DW : L->k == 1 ? CONV_GEMM : CONV_IM2COL;
    o->kh = o->kw = L->k, o->sh = o->sw = L->s, o->dh = o->dw = 1, o->pt = o->pl = o->pb = o->pr = pad;
    o->cin = L->Cin, o->cout = L->Cout, o->n_in = 1, o->in[0] = xi, o->out = yi, o->residual = -1, o->act = L->act;
    o->act_lo = 0, o->act_hi = 6;
    snprintf(o->name, sizeof o->name, "%s", L->name);
    if (eng_pack_conv(&p, &p.ops[0], w, b) != ODRT_OK || eng_plan_memory(&p) != ODRT_OK || !eng_backend_cuda.supports_op(&p, 0)) {
        fprintf(stderr, "%s: plan: %s\n", L->name, odrt_last_error());
        exit(1);
    }
    free(w), free(b);
    void *ctx = NULL;
    if (eng_backend_cuda.prepare(&p, 1, &ctx) != ODRT_OK) {
        fprintf(stderr, "%s: prepare: %s\n", L->name, odrt_last_error());
        exit(1);
    }
    float *x = (float *)malloc(sizeof(float) * (size_t)p.tensors[xi].numel);
    for (int64_t i = 0; i < p.tensors[xi].numel; i++) x[i] = frand();
    eng_backend_cuda.write_tensor(ctx, &p, xi, x);
    free(x);
    double ms = median_ms([&] {
        if (eng_backend_cuda.run(ctx, &p, 0, p.n_ops) != ODRT_OK) fprintf(stderr, "%s: run: %s\n", L->name, odrt_last_error()), exit(1);
    });
    eng_backend_cuda.free(ctx);
    eng_plan_free(&p);
    return ms;
}

/* cuDNN: the convolution alone, its fastest algorithm */
static double cudnn_ms(cudnnHandle_t h, cudaStream_t st, const layer *L, int N, const char **algo_name) {
    int pad = L->k / 2, groups = L->dw ? L->Cin : 1;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    CK(cudnnCreateTensorDescriptor(&xd));
    CK(cudnnCreateTensorDescriptor(&yd));
    CK(cudnnCreateFilterDescriptor(&wd));
    CK(cudnnCreateConvolutionDescriptor(&cd));
    CK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, N, L->Cin, L->H, L->W));
    CK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, L->Cout, L->Cin / groups, L->k, L->k));
    CK(cudnnSetConvolution2dDescriptor(cd, pad, pad, L->s, L->s, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CK(cudnnSetConvolutionGroupCount(cd, groups));
    CK(cudnnSetConvolutionMathType(cd, CUDNN_TENSOR_OP_MATH));
    int n, c, oh, ow;
    CK(cudnnGetConvolution2dForwardOutputDim(cd, xd, wd, &n, &c, &oh, &ow));
    CK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, n, c, oh, ow));
    size_t nx = (size_t)N * L->Cin * L->H * L->W, nwt = (size_t)L->Cout * (L->Cin / groups) * L->k * L->k, ny = (size_t)n * c * oh * ow;
    __half *dxp, *dwp, *dyp;
    CC(cudaMalloc(&dxp, nx * 2));
    CC(cudaMalloc(&dwp, nwt * 2));
    CC(cudaMalloc(&dyp, ny * 2));
    CC(cudaMemset(dxp, 0x3c, nx * 2));
    CC(cudaMemset(dwp, 0x20, nwt * 2));
    cudnnConvolutionFwdAlgoPerf_t perf[16];
    int got = 0;
    CK(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, yd, 16, &got, perf));
    int best = -1;
    for (int i = 0; i < got && best < 0; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) best = i;
    if (best < 0) {
        *algo_name = "none";
        return -1;
    }
    static const char *names[] = {"implicit_gemm", "implicit_precomp_gemm", "gemm", "direct", "fft", "fft_tiling",
                                  "winograd", "winograd_nonfused"};
    *algo_name = perf[best].algo < 8 ? names[perf[best].algo] : "?";
    size_t wsb = perf[best].memory;
    void *ws = NULL;
    if (wsb) CC(cudaMalloc(&ws, wsb));
    float one = 1.0f, zero = 0.0f;
    cudnnConvolutionFwdAlgo_t algo = perf[best].algo;
    double ms = median_ms([&] {
        CK(cudnnConvolutionForward(h, &one, xd, dxp, wd, dwp, cd, algo, ws, wsb, &zero, yd, dyp));
        CC(cudaStreamSynchronize(st));
    });
    cudaFree(ws), cudaFree(dxp), cudaFree(dwp), cudaFree(dyp);
    cudnnDestroyTensorDescriptor(xd), cudnnDestroyTensorDescriptor(yd), cudnnDestroyFilterDescriptor(wd);
    cudnnDestroyConvolutionDescriptor(cd);
    return ms;
}

__global__ void empty_k() {}

int main(void) {
    static const layer layers[] = {
        {"stem 3x3 s2 320x320 3->32 relu6", 320, 320, 3, 32, 3, 2, 0, EACT_CLIP},
        {"1x1 160x160 16->96 relu6", 160, 160, 16, 96, 1, 1, 0, EACT_CLIP},
        {"1x1 80x80 144->24", 80, 80, 144, 24, 1, 1, 0, EACT_ID},
        {"1x1 40x40 32->192 relu6", 40, 40, 32, 192, 1, 1, 0, EACT_CLIP},
        {"1x1 20x20 96->576 relu6", 20, 20, 96, 576, 1, 1, 0, EACT_CLIP},
        {"1x1 10x10 320->1280 relu6", 10, 10, 320, 1280, 1, 1, 0, EACT_CLIP},
        {"dw 3x3 s2 160x160x96 relu6", 160, 160, 96, 96, 3, 2, 1, EACT_CLIP},
        {"dw 3x3 s1 80x80x144 relu6", 80, 80, 144, 144, 3, 1, 1, EACT_CLIP},
        {"dw 3x3 s1 40x40x128 relu6", 40, 40, 128, 128, 3, 1, 1, EACT_CLIP},
        {"dw 3x3 s1 20x20x576 relu6", 20, 20, 576, 576, 3, 1, 1, EACT_CLIP},
    };
    cudaDeviceProp pr;
    CC(cudaGetDeviceProperties(&pr, 0));
    cudnnHandle_t h;
    CK(cudnnCreate(&h));
    cudaStream_t st;
    CC(cudaStreamCreate(&st));
    CK(cudnnSetStream(h, st));
    printf("%s, cuDNN %zu; fp16 NHWC; median ms of %d (launch + sync each); ratio = cuDNN / odrt\n", pr.name,
           cudnnGetVersion(), ITERS);
    printf("empty kernel launch + sync: %.4f ms\n", median_ms([&] {
               empty_k<<<1, 1, 0, st>>>();
               CC(cudaStreamSynchronize(st));
           }));
    printf("%-34s %5s %10s %10s %7s  %s\n", "layer", "batch", "odrt", "cuDNN", "ratio", "cuDNN algorithm");
    for (int N : {1, 64})
        for (const layer &L : layers) {
            const char *an = "";
            double a = odrt_ms(&L, N), c = cudnn_ms(h, st, &L, N, &an);
            printf("%-34s %5d %10.4f %10.4f %7.2f  %s\n", L.name, N, a, c, c / a, an);
            fflush(stdout);
        }
    cudnnDestroy(h);
    return 0;
}
