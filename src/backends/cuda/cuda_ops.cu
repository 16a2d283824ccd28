/* CUDA kernels for the engine's other network ops (engine.h: binary, unary, gather, concat, max
 * pooling, spatial mean, crops, bilinear resizes; convolutions are in cuda_conv.cu), templated on the activation type T
 * (float for fp32 engines, half for fp16); arithmetic and accumulation are float. The plan, its
 * packing and its tensor offsets are the CPU backend's: one engine file format for both devices. */
#include <cuda_fp16.h>

#include "backends/cuda/cuda_device.cuh"
#include "engine/eltwise.h"
#include "crop_coord.h"

namespace {

/* crops of boxes out of an NHWC map (src/crop_coord.h, the CPU backend's formulas): one thread per
 * output element, channels fastest */
struct crop_args {
    const void *x, *boxes;
    void *y;
    int64_t NB, P;
    int C, H, W, ch, cw, mode;
    float extra;
};

template <typename T>
__global__ void crop_k(crop_args a) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, total = a.NB * a.ch * a.cw * a.C;
    if (i >= total) return;
    int c = (int)(i % a.C);
    int64_t p = i / a.C;
    int j = (int)(p % a.cw), r = (int)(p / a.cw % a.ch);
    int64_t n = p / ((int64_t)a.cw * a.ch);
    const T *bx = (const T *)a.boxes + n * 4, *img = (const T *)a.x + n / a.P * a.H * a.W * a.C;
    crop_tap ty = crop_axis_tap(a.mode, ld(bx, 0), ld(bx, 2), r, a.ch, a.H), tx = crop_axis_tap(a.mode, ld(bx, 1), ld(bx, 3), j, a.cw, a.W);
    float v00 = ty.i0 >= 0 && tx.i0 >= 0 ? ld(img, (ty.i0 * a.W + tx.i0) * a.C + c) : a.extra;
    float v01 = ty.i0 >= 0 && tx.i1 >= 0 ? ld(img, (ty.i0 * a.W + tx.i1) * a.C + c) : a.extra;
    float v10 = ty.i1 >= 0 && tx.i0 >= 0 ? ld(img, (ty.i1 * a.W + tx.i0) * a.C + c) : a.extra;
    float v11 = ty.i1 >= 0 && tx.i1 >= 0 ? ld(img, (ty.i1 * a.W + tx.i1) * a.C + c) : a.extra;
    st((T *)a.y, i, crop_mix(a.mode, &ty, &tx, v00, v01, v10, v11, a.extra));
}

/* bilinear resize of NHWC with the taps lower_extra.c stored: the reference's sum over the 4 taps,
 * in order */
template <typename T>
__global__ void resize_k(const T *x, const eng_resize_tap *taps, T *y, int N, int C, int H, int W, int OH, int OW) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, total = (int64_t)N * OH * OW * C;
    if (i >= total) return;
    int c = (int)(i % C);
    int64_t p = i / C;
    int ox = (int)(p % OW), oy = (int)(p / OW % OH), n = (int)(p / ((int64_t)OW * OH));
    const eng_resize_tap ty = taps[oy], tx = taps[OH + ox];
    const T *b = x + (int64_t)n * H * W * C;
    float v = 0.0f;
    v += (ty.w0 * tx.w0) * ld(b, ((int64_t)ty.i0 * W + tx.i0) * C + c);
    v += (ty.w0 * tx.w1) * ld(b, ((int64_t)ty.i0 * W + tx.i1) * C + c);
    v += (ty.w1 * tx.w0) * ld(b, ((int64_t)ty.i1 * W + tx.i0) * C + c);
    v += (ty.w1 * tx.w1) * ld(b, ((int64_t)ty.i1 * W + tx.i1) * C + c);
    st(y, i, v);
}

/* max pooling: one thread per output element, channels fastest; a NaN in the window propagates */
template <typename T>
__global__ void maxpool_k(conv_args a) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, total = (int64_t)a.N * a.OH * a.OW * a.Cout;
    if (i >= total) return;
    int C = a.Cout, c = (int)(i % C);
    int64_t p = i / C;
    int ox = (int)(p % a.OW), oy = (int)(p / a.OW % a.OH), n = (int)(p / ((int64_t)a.OW * a.OH));
    const T *X = (const T *)a.x;
    float m = -INFINITY;
    for (int ky = 0; ky < a.kh; ky++) {
        int iy = oy * a.sh - a.pt + ky;
        if (iy < 0 || iy >= a.H) continue;
        for (int kx = 0; kx < a.kw; kx++) {
            int ix = ox * a.sw - a.pl + kx;
            if (ix < 0 || ix >= a.W) continue;
            float v = ld(X, (((int64_t)n * a.H + iy) * a.W + ix) * C + c);
            m = v > m || v != v ? v : m;
        }
    }
    st((T *)a.y, i, m);
}

struct elt_args {
    const void *x, *r;
    void *y;
    const float *c; /* constant operand (blob) */
    int64_t n, period, per_img;
    int op, bcast, rev, act;
    float scalar, lo, hi;
};

template <typename T>
__global__ void binary_k(elt_args a) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.n) return;
    float x = ld((const T *)a.x, i), b;
    switch (a.bcast) {
    case BC_SAME: b = ld((const T *)a.r, i); break;
    case BC_SCALAR: b = a.scalar; break;
    case BC_LASTDIM: b = a.c[i % a.period]; break;
    case BC_FULLCONST: b = a.c[i]; break;
    default: b = ld((const T *)a.r, i / a.per_img * a.period + i % a.period); break; /* BC_CHANNEL */
    }
    st((T *)a.y, i, act(a.rev ? eng_binary(a.op, b, x) : eng_binary(a.op, x, b), a.act, a.lo, a.hi));
}

template <typename T>
__global__ void unary_k(elt_args a) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < a.n) st((T *)a.y, i, act(ld((const T *)a.x, i), a.act, a.lo, a.hi));
}

/* 8 consecutive elements a thread where n and any broadcast period come in 8s (EfficientDet's
 * squeeze-excite scaling and swish): one 16-byte load per fp16 operand and one broadcast index per
 * 8 elements, where a thread per element did an int64 division and a 2-byte load for each */
template <typename T, bool BIN>
__global__ void elt8_k(elt_args a) {
    int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= a.n) return;
    float x[8], b[8];
    ld8((const T *)a.x + i, x);
    if (BIN) {
        switch (a.bcast) {
        case BC_SAME: ld8((const T *)a.r + i, b); break;
        case BC_SCALAR:
            for (int u = 0; u < 8; u++) b[u] = a.scalar;
            break;
        case BC_LASTDIM: ld8(a.c + i % a.period, b); break;
        case BC_FULLCONST: ld8(a.c + i, b); break;
        default: ld8((const T *)a.r + i / a.per_img * a.period + i % a.period, b); break; /* BC_CHANNEL */
        }
        for (int u = 0; u < 8; u++) x[u] = a.rev ? eng_binary(a.op, b[u], x[u]) : eng_binary(a.op, x[u], b[u]);
    }
    for (int u = 0; u < 8; u++) x[u] = act(x[u], a.act, a.lo, a.hi);
    st8((T *)a.y + i, x);
}

/* a weighted sum (engine/groups.h): y = act(sum_t w_t x_t), in the adds' order, accumulated in float
 * (fp16: rounded once, where the ops it replaces rounded each product and partial sum); V
 * consecutive elements a thread (8: one 16-byte load per fp16 term) */
struct wsum_args {
    const void *x[ENG_MAX_IN];
    float w[ENG_MAX_IN];
    void *y;
    int64_t n;
    int terms, act;
    float lo, hi;
};
template <typename T, int V>
__global__ void wsum_k(wsum_args a) {
    int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (i >= a.n) return;
    float acc[V], v[V];
    ldv<V>((const T *)a.x[0] + i, acc);
    for (int u = 0; u < V; u++) acc[u] *= a.w[0];
    for (int t = 1; t < a.terms; t++) {
        ldv<V>((const T *)a.x[t] + i, v);
        for (int u = 0; u < V; u++) acc[u] += v[u] * a.w[t];
    }
    for (int u = 0; u < V; u++) acc[u] = act(acc[u], a.act, a.lo, a.hi);
    stv<V>((T *)a.y + i, acc);
}

template <typename T>
__global__ void gather_k(const T *x, const int32_t *idx, T *y, int64_t n) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[idx[i]];
}

struct concat_args {
    const void *x[ENG_MAX_IN];
    int64_t inner[ENG_MAX_IN + 1]; /* per input; prefix sums in at[] */
    int64_t at[ENG_MAX_IN + 1];
    int n_in;
    int64_t inner_y, n;
    void *y;
};

template <typename T>
__global__ void concat_k(concat_args a) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.n) return;
    int64_t q = i / a.inner_y, r = i % a.inner_y;
    int j = 0;
    while (j + 1 < a.n_in && r >= a.at[j + 1]) j++;
    ((T *)a.y)[i] = ((const T *)a.x[j])[q * a.inner[j] + (r - a.at[j])];
}

/* mean over H, W per (image, channel), summed in float in H, W order exactly as the CPU engine and
 * onnxruntime do (a float sum of 10^4..10^5 terms is ~1e-3 off the exact mean, and EfficientDet's
 * scores carry that: a tree sum moved detections): a block of 256 threads per 32 channels stages
 * tiles of 256 pixels in shared memory, one warp adds them in order */
template <typename T>
__global__ void mean_hw_k(const T *x, T *y, int64_t HW, int C) {
    __shared__ float tile[256][33];
    int n = blockIdx.y, c0 = blockIdx.x * 32, lane = threadIdx.x % 32, row = threadIdx.x / 32;
    float acc = 0;
    for (int64_t base = 0; base < HW; base += 256) {
        int rows = HW - base < 256 ? (int)(HW - base) : 256;
        for (int r = row; r < rows; r += 8)
            tile[r][lane] = c0 + lane < C ? ld(x, ((int64_t)n * HW + base + r) * C + c0 + lane) : 0.0f;
        __syncthreads();
        if (threadIdx.x < 32)
            for (int r = 0; r < rows; r++) acc += tile[r][lane];
        __syncthreads();
    }
    if (threadIdx.x < 32 && c0 + lane < C) st(y, (int64_t)n * C + c0 + lane, acc / (float)HW);
}

/* fp16 spatial mean in two passes, a fixed order (equal results run to run and across threads):
 * mean_part_k sums part p of the pixels (blockIdx.x) for every channel into ws[n][p][C], a
 * thread 8 channels of every (256 / (C / 8))-th pixel, then the block's pixel lanes in order;
 * mean_fin_k sums the parts in order. One block per 32 channels summing all pixels took 0.22 ms for
 * EfficientDet's first squeeze (256 x 256 x 32 at batch 1: one block on the whole GPU). */
enum { MEAN_T = 256 };
template <typename T>
__global__ void __launch_bounds__(MEAN_T) mean_part_k(const T *x, float *ws, int64_t HW, int C) {
    __shared__ float sum[MEAN_T][9];
    const int CV = C / 8, lanes = MEAN_T / CV, cv = threadIdx.x % CV, lane = threadIdx.x / CV, n = blockIdx.y, P = gridDim.x;
    const int64_t p0 = HW * blockIdx.x / P, p1 = HW * (blockIdx.x + 1) / P;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, v[8];
    if (lane < lanes)
        for (int64_t i = p0 + lane; i < p1; i += lanes) {
            ld8(x + ((int64_t)n * HW + i) * C + cv * 8, v);
            for (int u = 0; u < 8; u++) acc[u] += v[u];
        }
    for (int u = 0; u < 8; u++) sum[threadIdx.x][u] = acc[u];
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += MEAN_T) {
        float t = 0;
        for (int l = 0; l < lanes; l++) t += sum[l * CV + c / 8][c % 8];
        ws[((int64_t)n * P + blockIdx.x) * C + c] = t;
    }
}
template <typename T>
__global__ void mean_fin_k(const float *ws, T *y, int64_t HW, int C, int P, int N) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * C) return;
    int n = i / C, c = i % C;
    float t = 0;
    for (int q = 0; q < P; q++) t += ws[((int64_t)n * P + q) * C + c];
    st(y, i, t / (float)HW);
}
/* the parts of a two-pass mean: about 2 blocks per multiprocessor over the batch, at least 4
 * pixels a pixel lane (EfficientDet's 16 x 16 x 1152 squeeze as one part: 0.066 ms) */
int mean_parts(int64_t HW, int N, int C, int sms) {
    int64_t p = (2 * (int64_t)sms + N - 1) / N, most = HW / (4 * (MEAN_T / (C / 8)));
    if (p > most) p = most;
    return p < 1 ? 1 : p > 1024 ? 1024 : (int)p;
}

/* fp16 engines take the two-pass mean where channels come in 8s, at most 8 per thread */
bool mean_two_pass(const eng_tensor *xt) { return xt->dims[1] % 8 == 0 && xt->dims[1] <= 8 * MEAN_T; }

/* fp16 engines (which cannot be bit-exact anyway) with channels not in 8s: a tree sum, 8 partial
 * sums per channel */
template <typename T>
__global__ void mean_hw_tree_k(const T *x, T *y, int64_t HW, int C) {
    __shared__ float part[8][32];
    int n = blockIdx.y, c = blockIdx.x * 32 + threadIdx.x % 32, r = threadIdx.x / 32;
    float s = 0;
    if (c < C)
        for (int64_t i = r; i < HW; i += 8) s += ld(x, ((int64_t)n * HW + i) * C + c);
    part[r][threadIdx.x % 32] = s;
    __syncthreads();
    if (r == 0 && c < C) {
        float t = 0;
        for (int q = 0; q < 8; q++) t += part[q][threadIdx.x];
        st(y, (int64_t)n * C + c, t / (float)HW);
    }
}

/* ---- the runners, one per op kind (engine_ops.h), on the context's stream ---- */
template <typename T>
struct cu_op {
    const eng_plan *p;
    int k;
    uint8_t *arena;
    const uint8_t *blob;
    const cu_exec *x;
    cudaStream_t s;
    const eng_op *o;
    void *P(int t) const { return cu_tensor(arena, p, t, (int)sizeof(T)); }
};

template <typename T>
odrt_status_t run_conv(const cu_op<T> &a) {
    return cu_run_conv(a.p, a.k, a.arena, a.blob, sizeof(T) == 2, a.x, a.s);
}

/* binary and unary ops */
template <typename T>
odrt_status_t run_eltwise(const cu_op<T> &q) {
    const eng_op *o = q.o;
    const eng_tensor *yt = &q.p->tensors[o->out];
    elt_args a;
    a.x = q.P(o->in[0]), a.r = o->n_in > 1 ? q.P(o->in[1]) : nullptr, a.y = q.P(o->out);
    a.c = (const float *)(q.blob + o->w_off), a.n = yt->numel, a.op = o->bin, a.bcast = o->bcast, a.rev = o->axis;
    a.act = o->act, a.scalar = o->scalar, a.lo = o->act_lo, a.hi = o->act_hi;
    a.period = o->bcast == BC_LASTDIM ? o->w_len / 4 : o->bcast == BC_CHANNEL ? yt->dims[1] : 1;
    a.per_img = yt->numel / (yt->rank ? yt->dims[0] : 1);
    bool by8 = a.n % 8 == 0 && (o->kind == EOP_UNARY || (a.bcast != BC_LASTDIM && a.bcast != BC_CHANNEL) || a.period % 8 == 0);
    if (by8 && o->kind == EOP_UNARY) elt8_k<T, false><<<blocks(a.n / 8, 256), 256, 0, q.s>>>(a);
    else if (by8) elt8_k<T, true><<<blocks(a.n / 8, 256), 256, 0, q.s>>>(a);
    else if (o->kind == EOP_UNARY) unary_k<T><<<blocks(a.n, 256), 256, 0, q.s>>>(a);
    else binary_k<T><<<blocks(a.n, 256), 256, 0, q.s>>>(a);
    return ODRT_OK;
}

/* the weighted sum ending at add q.k (its members were skipped) */
template <typename T>
odrt_status_t run_wsum(const cu_op<T> &q) {
    const eng_group *g = &q.x->groups[q.k];
    const eng_op *o = q.o;
    wsum_args a;
    a.n = q.p->tensors[o->out].numel, a.terms = g->n, a.act = o->act, a.lo = o->act_lo, a.hi = o->act_hi, a.y = q.P(o->out);
    for (int t = 0; t < g->n; t++) a.x[t] = q.P(g->in[t]), a.w[t] = g->w[t];
    if (a.n % 8 == 0) wsum_k<T, 8><<<blocks(a.n / 8, 256), 256, 0, q.s>>>(a);
    else wsum_k<T, 1><<<blocks(a.n, 256), 256, 0, q.s>>>(a);
    return ODRT_OK;
}

template <typename T>
odrt_status_t run_gather(const cu_op<T> &q) {
    const eng_op *o = q.o;
    int64_t n = q.p->tensors[o->out].numel;
    gather_k<T><<<blocks(n, 256), 256, 0, q.s>>>((const T *)q.P(o->in[0]), (const int32_t *)(q.blob + o->w_off), (T *)q.P(o->out), n);
    return ODRT_OK;
}

template <typename T>
odrt_status_t run_concat(const cu_op<T> &q) {
    const eng_op *o = q.o;
    const eng_tensor *yt = &q.p->tensors[o->out];
    concat_args a;
    int64_t py[ODRT_MAX_RANK], outer = 1;
    eng_phys_dims(yt, py);
    for (int d = 0; d < o->axis; d++) outer *= py[d];
    a.inner_y = yt->numel / outer, a.n = yt->numel, a.n_in = o->n_in, a.y = q.P(o->out);
    a.at[0] = 0;
    for (int i = 0; i < o->n_in; i++) a.x[i] = q.P(o->in[i]), a.inner[i] = q.p->tensors[o->in[i]].numel / outer, a.at[i + 1] = a.at[i] + a.inner[i];
    concat_k<T><<<blocks(a.n, 256), 256, 0, q.s>>>(a);
    return ODRT_OK;
}

template <typename T>
odrt_status_t run_maxpool(const cu_op<T> &q) {
    const eng_op *o = q.o;
    const eng_tensor *xt = &q.p->tensors[o->in[0]], *yt = &q.p->tensors[o->out];
    conv_args a;
    memset(&a, 0, sizeof a);
    a.x = q.P(o->in[0]), a.y = q.P(o->out);
    a.N = (int)xt->dims[0], a.Cout = (int)xt->dims[1], a.H = (int)xt->dims[2], a.W = (int)xt->dims[3];
    a.OH = (int)yt->dims[2], a.OW = (int)yt->dims[3], a.kh = o->kh, a.kw = o->kw, a.sh = o->sh, a.sw = o->sw, a.pt = o->pt, a.pl = o->pl;
    maxpool_k<T><<<blocks(yt->numel, 256), 256, 0, q.s>>>(a);
    return ODRT_OK;
}

template <typename T>
odrt_status_t run_mean_hw(const cu_op<T> &q) {
    const eng_op *o = q.o;
    const eng_tensor *xt = &q.p->tensors[o->in[0]];
    const cu_exec *x = q.x;
    dim3 g(blocks(xt->dims[1], 32), (unsigned)xt->dims[0]);
    if (sizeof(T) == 4) /* fp32: the reference's order (EfficientDet: 2.8 -> 4.3 ms on an H200, for parity) */
        mean_hw_k<T><<<g, 256, 0, q.s>>>((const T *)q.P(o->in[0]), (T *)q.P(o->out), xt->dims[2] * xt->dims[3], (int)xt->dims[1]);
    else if (mean_two_pass(xt) && x->ws) {
        int64_t HW = xt->dims[2] * xt->dims[3];
        int N = (int)xt->dims[0], C = (int)xt->dims[1], parts = mean_parts(HW, N, C, x->sms);
        mean_part_k<T><<<dim3((unsigned)parts, (unsigned)N), MEAN_T, 0, q.s>>>((const T *)q.P(o->in[0]), x->ws, HW, C);
        mean_fin_k<T><<<blocks((int64_t)N * C, 256), 256, 0, q.s>>>(x->ws, (T *)q.P(o->out), HW, C, parts, N);
    } else
        mean_hw_tree_k<T><<<g, 256, 0, q.s>>>((const T *)q.P(o->in[0]), (T *)q.P(o->out), xt->dims[2] * xt->dims[3], (int)xt->dims[1]);
    return ODRT_OK;
}

template <typename T>
odrt_status_t run_crop(const cu_op<T> &q) {
    const eng_op *o = q.o;
    const eng_tensor *xt = &q.p->tensors[o->in[0]], *yt = &q.p->tensors[o->out];
    crop_args a;
    a.x = q.P(o->in[0]), a.boxes = q.P(o->in[1]), a.y = q.P(o->out);
    a.NB = yt->dims[0], a.P = yt->dims[0] / xt->dims[0], a.C = (int)xt->dims[1], a.H = (int)xt->dims[2], a.W = (int)xt->dims[3];
    a.ch = o->kh, a.cw = o->kw, a.mode = o->axis, a.extra = o->scalar;
    crop_k<T><<<blocks(yt->numel, 256), 256, 0, q.s>>>(a);
    return ODRT_OK;
}

template <typename T>
odrt_status_t run_resize(const cu_op<T> &q) {
    const eng_op *o = q.o;
    const eng_tensor *xt = &q.p->tensors[o->in[0]], *yt = &q.p->tensors[o->out];
    resize_k<T><<<blocks(yt->numel, 256), 256, 0, q.s>>>((const T *)q.P(o->in[0]), (const eng_resize_tap *)(q.blob + o->w_off),
                                                        (T *)q.P(o->out), (int)xt->dims[0], (int)xt->dims[1], (int)xt->dims[2],
                                                        (int)xt->dims[3], (int)yt->dims[2], (int)yt->dims[3]);
    return ODRT_OK;
}

template <typename T>
using cu_op_fn = odrt_status_t (*)(const cu_op<T> &);

/* the runners in engine_ops.h's order; nullptr: no CUDA kernel (the op is refused at load) */
template <typename T>
struct cu_ops {
    static constexpr cu_op_fn<T> table[] = {
        nullptr,        /* EOP_NONE */
        run_conv<T>,    /* EOP_CONV */
        run_eltwise<T>, /* EOP_BINARY */
        run_eltwise<T>, /* EOP_UNARY */
        run_gather<T>,  /* EOP_GATHER */
        run_concat<T>,  /* EOP_CONCAT */
        nullptr,        /* EOP_REF: the reference executor runs on the host only */
        run_mean_hw<T>, /* EOP_MEAN_HW */
        run_maxpool<T>, /* EOP_MAXPOOL */
        run_crop<T>,    /* EOP_CROP */
        run_resize<T>,  /* EOP_RESIZE */
    };
    static_assert(sizeof table / sizeof table[0] == EOP_COUNT, "cu_ops: one entry per engine op kind (engine_ops.h)");
};

template <typename T>
odrt_status_t run_op(const eng_plan *p, int k, uint8_t *arena, const uint8_t *blob, const cu_exec *x, cudaStream_t s) {
    const eng_op *o = &p->ops[k];
    cu_op_fn<T> fn = o->kind > EOP_NONE && o->kind < EOP_COUNT ? cu_ops<T>::table[o->kind] : nullptr;
    if (!fn) return odrt_fail(ODRT_ERR_UNSUPPORTED, "cuda: op %d (%s) has no CUDA kernel", k, eng_op_kind_name(o->kind));
    if (x->grp && x->grp[k] < 0) return ODRT_OK; /* it runs inside a later op's group */
    if (x->grp && x->grp[k] > 0 && x->groups[k].kind == EGRP_WSUM) fn = run_wsum<T>;
    ODRT_TRY(fn(cu_op<T>{p, k, arena, blob, x, s, o}));
    CU_TRY(cudaGetLastError());
    return ODRT_OK;
}

} // namespace

size_t cu_workspace_bytes(const eng_plan *p, int sms, int half) {
    size_t mx = 0;
    for (int k = 0; k < p->n_ops; k++) {
        const eng_op *o = &p->ops[k];
        size_t need = cu_conv_ws_floats(p, k, sms);
        if (o->kind == EOP_MEAN_HW && half && mean_two_pass(&p->tensors[o->in[0]])) { /* the two-pass mean's parts */
            const eng_tensor *xt = &p->tensors[o->in[0]];
            need = (size_t)mean_parts(xt->dims[2] * xt->dims[3], (int)xt->dims[0], (int)xt->dims[1], sms) * xt->dims[0] * xt->dims[1];
        }
        if (need > mx) mx = need;
    }
    return mx * sizeof(float);
}

int cu_has_op(int kind) { return kind > EOP_NONE && kind < EOP_COUNT && cu_ops<float>::table[kind] != nullptr; }

odrt_status_t cu_run_op(const eng_plan *p, int k, void *arena, const uint8_t *blob, int half, const cu_exec *x, cudaStream_t s) {
    return half ? run_op<__half>(p, k, (uint8_t *)arena, blob, x, s) : run_op<float>(p, k, (uint8_t *)arena, blob, x, s);
}
