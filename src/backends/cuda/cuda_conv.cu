/* CUDA convolution kernels (engine.h's EOP_CONV), templated on the activation type T (float for
 * fp32 engines, half for fp16): arithmetic and accumulation in float, weights as packed at build
 * time (GEMM panels of 16 output channels, depthwise tap-major), their half copy for tensor cores.
 * Which kernel runs follows from the op's shape, the precision and the GPU (docs/cuda.md):
 *   - conv_pw, conv_stem_tc (cuda_conv_mma.cu, sm_80+): fp16 1x1 convs with channels in 8s on
 *     maps that fill the GPU, and fp16 RGB stems, as mma.sync tiles;
 *   - conv_tc: other fp16 convs with channels in 8s (tensor cores, WMMA), split K on small maps;
 *   - conv_wmma / conv_igemm: fp16 with channels not in 8s / fp32 (implicit GEMM tiles);
 *   - conv_direct: shallow convs (an RGB stem); conv_dwr / conv_dw: depthwise. */
#include <cuda_fp16.h>
#include <mma.h>

#include "backends/cuda/cuda_device.cuh"

namespace {

/* Implicit GEMM tiles (conv_igemm, conv_wmma, conv_tc): tiles of 64 pixels x 64 channels; the next
 * k-slice is loaded into registers while the current one is multiplied. Small maps (batch 1's
 * 10x10 layers: a handful of tiles) split K over blockIdx.z into a float workspace, summed in
 * order by split_epilogue. conv_igemm: 256 threads of 4 x 4 outputs. */
enum { BM = 64, BN = 64, BK = 16 };

/* the input pixel window of output pixel m (im2col's row), and the input element of its column k */
struct a_row {
    int64_t base; /* -1: m outside the output */
    int iy, ix;
    int sb; /* a scaled 1x1 conv: the row's image * Cin (where its scales start), else 0 */
};
template <bool PW>
__device__ __forceinline__ a_row a_row_of(const conv_args &a, int64_t m, int64_t M) {
    if (m >= M) return {-1, 0, 0, 0};
    int ox = (int)(m % a.OW), oy = (int)(m / a.OW % a.OH), n = (int)(m / ((int64_t)a.OW * a.OH));
    return {PW ? m * a.Cin : (int64_t)n * a.H * a.W, oy * a.sh - a.pt, ox * a.sw - a.pl, PW && a.sx ? n * a.Cin : 0};
}
/* column k = (ky, kx, ci), decomposed once per slice; k >= ke: past the end */
struct a_col {
    int k, ci, ky, kx;
    bool ok;
};
template <bool PW>
__device__ __forceinline__ a_col a_col_of(const conv_args &a, int k, int ke) {
    a_col c = {k, 0, 0, 0, k < ke};
    if (!PW && c.ok) c.ci = k % a.Cin, c.kx = k / a.Cin % a.kw, c.ky = k / (a.Cin * a.kw);
    return c;
}
/* the input element at (row r, column c) in x, or -1 (padding, outside the output, past K) */
template <bool PW>
__device__ __forceinline__ int64_t a_index(const conv_args &a, const a_row &r, const a_col &c) {
    if (r.base < 0 || !c.ok) return -1;
    if (PW) return r.base + c.k;
    int iy = r.iy + c.ky * a.dh, ix = r.ix + c.kx * a.dw;
    return iy >= 0 && iy < a.H && ix >= 0 && ix < a.W ? (r.base + (int64_t)iy * a.W + ix) * a.Cin + c.ci : -1;
}

template <typename T, bool PW>
__global__ void __launch_bounds__(256) conv_igemm(conv_args a) {
    __shared__ float As[BK][BM + 4];
    __shared__ float Bs[BK][BN];
    const T *X = (const T *)a.x;
    int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    int64_t M = (int64_t)a.N * a.OH * a.OW, m0 = (int64_t)blockIdx.x * BM;
    int n0 = blockIdx.y * BN, kb = blockIdx.z * a.kper, ke = min(a.K, kb + a.kper);
    float acc[4][4] = {};
    /* the A elements each thread loads: 4 pixels x 1 k per slice; B: 4 of the 16 x 64 */
    int la_k = tid % BK, la_m = tid / BK;
    a_row rows[4];
    for (int j = 0; j < 4; j++) rows[j] = a_row_of<PW>(a, m0 + la_m + 16 * j, M);
    float ra[4], rb[4];
    auto load = [&](int k0) {
        a_col col = a_col_of<PW>(a, k0 + la_k, ke);
        for (int j = 0; j < 4; j++) {
            int64_t idx = a_index<PW>(a, rows[j], col);
            ra[j] = idx < 0 ? 0.0f : ld(X, idx);
            if (PW && a.sx && idx >= 0) ra[j] = scaled<T>(ra[j], ld((const T *)a.sx, rows[j].sb + col.k));
        }
        for (int j = 0; j < 4; j++) {
            int q = tid + 256 * j, kk = q / BN, c = q % BN, co = n0 + c;
            rb[j] = k0 + kk < ke && co < a.Cout ? a.w[((int64_t)(co >> 4) * a.K + k0 + kk) * 16 + (co & 15)] : 0.0f;
        }
    };
    if (kb < ke) load(kb);
    for (int k0 = kb; k0 < ke; k0 += BK) {
        for (int j = 0; j < 4; j++) As[la_k][la_m + 16 * j] = ra[j];
        for (int j = 0; j < 4; j++) {
            int q = tid + 256 * j;
            Bs[q / BN][q % BN] = rb[j];
        }
        __syncthreads();
        if (k0 + BK < ke) load(k0 + BK); /* in flight during the multiply */
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float av[4], bv[4];
            for (int i = 0; i < 4; i++) av[i] = As[kk][ty * 4 + i], bv[i] = Bs[kk][tx * 4 + i];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();
    }
    T *Y = (T *)a.y;
    const T *R = (const T *)a.res;
    for (int i = 0; i < 4; i++) {
        int64_t m = m0 + ty * 4 + i;
        if (m >= M) continue;
        for (int j = 0; j < 4; j++) {
            int co = n0 + tx * 4 + j;
            if (co >= a.Cout) continue;
            if (a.ws) {
                a.ws[((int64_t)blockIdx.z * M + m) * a.Cout + co] = acc[i][j];
                continue;
            }
            float v = acc[i][j] + a.bias[co];
            if (R) v += ld(R, m * a.Cout + co);
            st(Y, m * a.Cout + co, act(v, a.act, a.lo, a.hi));
        }
    }
}

/* fp16 engines: the same implicit GEMM on tensor cores (WMMA 16x16x16, float accumulators): tiles of
 * 64 pixels x 64 channels x 32 k, 4 warps of 32 x 32, weights from the blob's half copy (same
 * packing); the next k-slice in registers while the current one is multiplied */
enum { WK = 32 };
template <bool PW>
__global__ void __launch_bounds__(128) conv_wmma(conv_args a, const __half *wh) {
    using namespace nvcuda;
    __shared__ __align__(32) __half As[BM][WK + 8];
    __shared__ __align__(32) __half Bs[WK][BN + 8];
    __shared__ __align__(32) float Cs[BM][BN + 4];
    const __half *X = (const __half *)a.x;
    int tid = threadIdx.x, warp = tid / 32, wm = warp / 2, wn = warp % 2;
    int64_t M = (int64_t)a.N * a.OH * a.OW, m0 = (int64_t)blockIdx.x * BM;
    int n0 = blockIdx.y * BN, kb = blockIdx.z * a.kper, ke = min(a.K, kb + a.kper);
    /* A: element e of this thread is row (tid + 128 e) / 32, k (tid + 128 e) % 32 = tid % 32 */
    int la_k = tid % WK;
    a_row rows[16];
    for (int e = 0; e < 16; e++) rows[e] = a_row_of<PW>(a, m0 + (tid + 128 * e) / WK, M);
    __half ra[16], rb[16];
    auto load = [&](int k0) {
        a_col col = a_col_of<PW>(a, k0 + la_k, ke);
        for (int e = 0; e < 16; e++) {
            int64_t idx = a_index<PW>(a, rows[e], col);
            ra[e] = idx < 0 ? __float2half(0.0f) : X[idx];
            if (PW && a.sx && idx >= 0) ra[e] = __hmul(ra[e], ((const __half *)a.sx)[rows[e].sb + col.k]);
        }
        for (int e = 0; e < 16; e++) {
            int q = tid + 128 * e, kk = q / BN, c = q % BN, co = n0 + c;
            rb[e] = k0 + kk < ke && co < a.Cout ? wh[((int64_t)(co >> 4) * a.K + k0 + kk) * 16 + (co & 15)] : __float2half(0.0f);
        }
    };
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
    if (kb < ke) load(kb);
    for (int k0 = kb; k0 < ke; k0 += WK) {
        for (int e = 0; e < 16; e++) As[(tid + 128 * e) / WK][la_k] = ra[e];
        for (int e = 0; e < 16; e++) {
            int q = tid + 128 * e;
            Bs[q / BN][q % BN] = rb[e];
        }
        __syncthreads();
        if (k0 + WK < ke) load(k0 + WK);
#pragma unroll
        for (int kk = 0; kk < WK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[2];
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], &As[wm * 32 + i * 16][kk], WK + 8);
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], &Bs[kk][wn * 32 + j * 16], BN + 8);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(&Cs[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], BN + 4, wmma::mem_row_major);
    __syncthreads();
    __half *Y = (__half *)a.y;
    const __half *R = (const __half *)a.res;
    for (int e = tid; e < BM * BN; e += 128) {
        int r = e / BN, c = e % BN;
        int64_t m = m0 + r;
        int co = n0 + c;
        if (m >= M || co >= a.Cout) continue;
        float v = Cs[r][c];
        if (a.ws) {
            a.ws[((int64_t)blockIdx.z * M + m) * a.Cout + co] = v;
            continue;
        }
        v += a.bias[co];
        if (R) v += __half2float(R[m * a.Cout + co]);
        Y[m * a.Cout + co] = __float2half(act(v, a.act, a.lo, a.hi));
    }
}

/* fp16 engines with Cin % 8 == 0 and Cout % 8 == 0 (every conv but an RGB stem): the implicit GEMM
 * on tensor cores with 16-byte loads. An A chunk is 8 consecutive k of one pixel: one tap (ky, kx)
 * and 8 channels, contiguous in NHWC; a B chunk is 8 output channels of one k in the half weight
 * copy (same panels). Tiles of 64 pixels x BN channels (32 or 64, by Cout) x 32 k, 4 warps, the next
 * k-slice in registers while the current one is multiplied; the epilogue writes 8 channels per
 * 16-byte store (or float partial sums for split K). */
enum { TBK = 32 };
template <int BN>
struct tc_smem {
    static constexpr int LDA = TBK + 8, LDB = BN + 8, LDC = BN + 4;
    static constexpr int AB = 64 * LDA * 2 + TBK * LDB * 2, CB = 64 * LDC * 4;
    static constexpr int BYTES = AB > CB ? AB : CB;
};
template <int BN, bool PW>
__global__ void __launch_bounds__(128) conv_tc(conv_args a, const __half *wh) {
    using namespace nvcuda;
    using S = tc_smem<BN>;
    constexpr int WN = BN / 32, WMW = 4 / WN, FM = 64 / WMW / 16, CH = BN / 8; /* warps along N / M, M fragments */
    __shared__ __align__(128) unsigned char sm[S::BYTES];
    __half(*As)[S::LDA] = (__half(*)[S::LDA])sm;
    __half(*Bs)[S::LDB] = (__half(*)[S::LDB])(sm + 64 * S::LDA * 2);
    float(*Cs)[S::LDC] = (float(*)[S::LDC])sm;
    const __half *X = (const __half *)a.x;
    int tid = threadIdx.x, warp = tid / 32, wm = warp / WN, wn = warp % WN;
    int64_t M = (int64_t)a.N * a.OH * a.OW, m0 = (int64_t)blockIdx.x * 64;
    int n0 = blockIdx.y * BN, kb = blockIdx.z * a.kper, ke = min(a.K, kb + a.kper);
    /* A chunks of this thread: rows tid / 4 and tid / 4 + 32, k offset (tid % 4) * 8 */
    const int la_k = (tid % 4) * 8, la_m = tid / 4;
    a_row rows[2] = {a_row_of<PW>(a, m0 + la_m, M), a_row_of<PW>(a, m0 + la_m + 32, M)};
    uint4 ra[2], rb[2];
    const uint4 z = make_uint4(0, 0, 0, 0);
    auto load = [&](int k0) {
        a_col col = a_col_of<PW>(a, k0 + la_k, ke);
        for (int e = 0; e < 2; e++) {
            int64_t idx = a_index<PW>(a, rows[e], col);
            ra[e] = idx < 0 ? z : *(const uint4 *)(X + idx);
            if (PW && a.sx && idx >= 0) ra[e] = hmul8(ra[e], *(const uint4 *)((const __half *)a.sx + rows[e].sb + col.k));
        }
        for (int e = 0; e < 2; e++) {
            int q = tid + 128 * e, kk = q / CH, co = n0 + (q % CH) * 8;
            rb[e] = q < TBK * CH && k0 + kk < ke && co < a.Cout ? *(const uint4 *)(wh + ((int64_t)(co >> 4) * a.K + k0 + kk) * 16 + (co & 15))
                                                                 : z;
        }
    };
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][2];
    for (int i = 0; i < FM; i++)
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
    if (kb < ke) load(kb);
    for (int k0 = kb; k0 < ke; k0 += TBK) {
        for (int e = 0; e < 2; e++) *(uint4 *)&As[la_m + 32 * e][la_k] = ra[e];
        for (int e = 0; e < 2; e++) {
            int q = tid + 128 * e;
            if (q < TBK * CH) *(uint4 *)&Bs[q / CH][(q % CH) * 8] = rb[e];
        }
        __syncthreads();
        if (k0 + TBK < ke) load(k0 + TBK); /* in flight during the multiply */
#pragma unroll
        for (int kk = 0; kk < TBK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[FM];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[2];
            for (int i = 0; i < FM; i++) wmma::load_matrix_sync(fa[i], &As[wm * FM * 16 + i * 16][kk], S::LDA);
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], &Bs[kk][wn * 32 + j * 16], S::LDB);
            for (int i = 0; i < FM; i++)
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < FM; i++)
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(&Cs[wm * FM * 16 + i * 16][wn * 32 + j * 16], acc[i][j], S::LDC, wmma::mem_row_major);
    __syncthreads();
    __half *Y = (__half *)a.y;
    const __half *R = (const __half *)a.res;
    /* a thread's 8 columns are the same in every row it writes (CH divides 128): its bias once */
    const int c = (tid % CH) * 8, co = n0 + c;
    if (co >= a.Cout) return;
    float bv[8];
    ld8(a.bias + co, bv);
    for (int r = tid / CH; r < 64; r += 128 / CH) {
        int64_t m = m0 + r;
        if (m >= M) break;
        float v[8];
        for (int u = 0; u < 8; u++) v[u] = Cs[r][c + u];
        if (a.ws) {
            float *w = a.ws + ((int64_t)blockIdx.z * M + m) * a.Cout + co;
            *(float4 *)w = make_float4(v[0], v[1], v[2], v[3]), *(float4 *)(w + 4) = make_float4(v[4], v[5], v[6], v[7]);
            continue;
        }
        for (int u = 0; u < 8; u++) v[u] += bv[u];
        if (R) {
            float rv[8];
            ld4(R + m * a.Cout + co, rv), ld4(R + m * a.Cout + co + 4, rv + 4);
            for (int u = 0; u < 8; u++) v[u] += rv[u];
        }
        for (int u = 0; u < 8; u++) v[u] = act(v[u], a.act, a.lo, a.hi);
        st4(Y + m * a.Cout + co, v), st4(Y + m * a.Cout + co + 4, v + 4);
    }
}

__global__ void to_half_k(const float *x, __half *y, int64_t n) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __float2half(x[i]);
}

template <typename T>
__global__ void split_epilogue(conv_args a, int splits) {
    int64_t M = (int64_t)a.N * a.OH * a.OW, i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= M * a.Cout) return;
    float v = 0;
    for (int z = 0; z < splits; z++) v += a.ws[z * M * a.Cout + i];
    v += a.bias[i % a.Cout];
    if (a.res) v += ld((const T *)a.res, i);
    st((T *)a.y, i, act(v, a.act, a.lo, a.hi));
}

/* depthwise: one thread per output pixel and V channels (fp16 with C % 8 == 0: 8, one 16-byte load
 * per tap; C % 4 == 0: 4; else 1) */
template <typename T, int V>
__global__ void conv_dw(conv_args a) {
    int C = a.Cout, CV = C / V;
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, total = (int64_t)a.N * a.OH * a.OW * CV;
    if (i >= total) return;
    int c = (int)(i % CV) * V;
    int p = (int)(i / CV); /* output pixel: < 2^31 (checked at launch) */
    int ox = p % a.OW, t = p / a.OW, oy = t % a.OH, n = t / a.OH;
    const T *X = (const T *)a.x;
    float v[V], xv[V], wv[V];
    for (int u = 0; u < V; u++) v[u] = a.bias[c + u];
    int iy0 = oy * a.sh - a.pt, ix0 = ox * a.sw - a.pl;
    for (int ky = 0; ky < a.kh; ky++) {
        int iy = iy0 + ky * a.dh;
        if (iy < 0 || iy >= a.H) continue;
        const T *row = X + ((int64_t)n * a.H + iy) * a.W * C;
        for (int kx = 0; kx < a.kw; kx++) {
            int ix = ix0 + kx * a.dw;
            if (ix < 0 || ix >= a.W) continue;
            const T *px = row + (int64_t)ix * C + c;
            const float *w = a.w + (ky * a.kw + kx) * C + c;
            ldv<V>(px, xv), ldv<V>(w, wv);
            for (int u = 0; u < V; u++) v[u] += xv[u] * wv[u];
        }
    }
    int64_t o = (int64_t)p * C + c;
    if (a.res) {
        ldv<V>((const T *)a.res + o, xv);
        for (int u = 0; u < V; u++) v[u] += xv[u];
    }
    for (int u = 0; u < V; u++) v[u] = act(v[u], a.act, a.lo, a.hi);
    stv<V>((T *)a.y + o, v);
}

/* depthwise KxK (3 or 5), dilation 1, stride S (1 or 2): a block row per output row (blockIdx.y =
 * n * OH + oy), a thread R consecutive output pixels x V channels. Each input column of the window
 * is loaded once and feeds every output it touches, and each weight once per thread (a kernel row
 * at a time), where one pixel per thread loaded 9 inputs and 18 float4 weights per output (ncu: L1
 * bound). Every load is unconditional (padding taps read a clamped pixel, their products
 * predicated off), so that later rows' loads can be issued before earlier rows' FMAs: the kernel
 * waited on loads (ncu: 55% of its stalls); handtrack fp16 on the H200, against skipping the
 * padding taps by branches: batch 64 depthwise 1.49 -> 1.34 ms, batch 1 detect 0.59 -> 0.57 ms.
 * The same sums in the same order as conv_dw (bias, then taps in ky, kx order, padding skipped). */
template <typename T, int V, int K, int S, int R>
__global__ void __launch_bounds__(128) conv_dwr(conv_args a) {
    constexpr int NC = (R - 1) * S + K; /* input columns of R outputs */
    int CV = a.Cout / V, OG = (a.OW + R - 1) / R, j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= OG * CV) return;
    int cv = j % CV, ox0 = j / CV * R, oy = (int)blockIdx.y % a.OH, n = (int)blockIdx.y / a.OH, c = cv * V, C = a.Cout;
    const T *X = (const T *)a.x + (int64_t)n * a.H * a.W * C + c;
    float v[R][V], xv[V], wv[K][V];
    ldv<V>(a.bias + c, xv);
    for (int r = 0; r < R; r++)
        for (int u = 0; u < V; u++) v[r][u] = xv[u];
    const int iy0 = oy * S - a.pt, ix0 = ox0 * S - a.pl;
#pragma unroll
    for (int ky = 0; ky < K; ky++) {
        const int iy = iy0 + ky;
        const bool rok = iy >= 0 && iy < a.H;
        const T *row = X + (int64_t)min(max(iy, 0), a.H - 1) * a.W * C;
#pragma unroll
        for (int kx = 0; kx < K; kx++) ldv<V>(a.w + (ky * K + kx) * C + c, wv[kx]);
#pragma unroll
        for (int col = 0; col < NC; col++) {
            const int ix = ix0 + col;
            const bool ok = rok && ix >= 0 && ix < a.W;
            ldv<V>(row + (int64_t)min(max(ix, 0), a.W - 1) * C, xv);
#pragma unroll
            for (int r = 0; r < R; r++) {
                const int kx = col - r * S;
                if (kx >= 0 && kx < K && ok)
                    for (int u = 0; u < V; u++) v[r][u] += xv[u] * wv[kx][u];
            }
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
        if (ox0 + r >= a.OW) break;
        int64_t o = ((int64_t)blockIdx.y * a.OW + ox0 + r) * C + c;
        if (a.res) {
            ldv<V>((const T *)a.res + o, xv);
            for (int u = 0; u < V; u++) v[r][u] += xv[u];
        }
        for (int u = 0; u < V; u++) v[r][u] = act(v[r][u], a.act, a.lo, a.hi);
        stv<V>((T *)a.y + o, v[r]);
    }
}

/* 2 pixels per thread where the map keeps every multiprocessor full with half the threads (batch
 * 64's layers), else 1 (batch 1: its largest map gives one block per multiprocessor at 4 pixels per
 * thread, and the network ran 20% slower). Batch 64 depthwise on the H200: 1 pixel 1.79 ms, 4 pixels
 * 1.61 ms (78 registers, 34% occupancy, latency bound), 2 pixels 1.49 ms. */
template <typename T, int V, int K, int S>
void launch_dwr(const conv_args &a, const cu_exec *x, cudaStream_t s) {
    int64_t rows = (int64_t)a.N * a.OH, t1 = rows * a.OW * (a.Cout / V), full = (int64_t)x->sms * 2048;
    int R = x->dwr ? x->dwr : t1 >= 2 * full ? 2 : 1;
    dim3 g(blocks((int64_t)(a.OW + R - 1) / R * (a.Cout / V), 128), (unsigned)rows);
    if (R == 2) conv_dwr<T, V, K, S, 2><<<g, 128, 0, s>>>(a);
    else conv_dwr<T, V, K, S, 1><<<g, 128, 0, s>>>(a);
}

template <typename T, int V>
void launch_dw(const conv_args &a, int64_t n, const cu_exec *x, cudaStream_t s) {
    int rows = a.N * a.OH;
    bool fits = a.kh == a.kw && (a.kh == 3 || a.kh == 5) && a.dh == 1 && a.dw == 1 && a.sh == a.sw && (a.sh == 1 || a.sh == 2) && rows <= 65535;
    if (!fits) conv_dw<T, V><<<blocks(n, 128), 128, 0, s>>>(a);
    else if (a.kh == 3) a.sh == 1 ? launch_dwr<T, V, 3, 1>(a, x, s) : launch_dwr<T, V, 3, 2>(a, x, s);
    else a.sh == 1 ? launch_dwr<T, V, 5, 1>(a, x, s) : launch_dwr<T, V, 5, 2>(a, x, s);
}

/* shallow convolutions (K = kh * kw * Cin <= 32: an RGB stem) with Cout % 8 == 0, Cout <= 64: one
 * thread per output pixel and all its channels, its K input taps in registers, the packed weights
 * in shared memory (every thread reads the same 16 bytes: a broadcast; a tap's offsets from a table
 * made once per block); summed in k order as the GEMMs */
enum { DK = 32, DCO = 64 };
template <typename T>
__global__ void __launch_bounds__(128) conv_direct(conv_args a) {
    __shared__ __align__(16) float ws[DCO / 16][DK][16];
    __shared__ float bs[DCO];
    __shared__ int tdy[DK], tdx[DK], tci[DK]; /* tap k's row and column offsets and channel */
    for (int i = threadIdx.x; i < (a.Cout + 15) / 16 * a.K * 16; i += blockDim.x) ws[i / (a.K * 16)][i / 16 % a.K][i % 16] = a.w[i];
    for (int i = threadIdx.x; i < a.Cout; i += blockDim.x) bs[i] = a.bias[i];
    if (threadIdx.x < a.K) {
        int k = threadIdx.x;
        tci[k] = k % a.Cin, tdx[k] = k / a.Cin % a.kw * a.dw, tdy[k] = k / (a.Cin * a.kw) * a.dh;
    }
    __syncthreads();
    int64_t m = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, M = (int64_t)a.N * a.OH * a.OW;
    if (m >= M) return;
    int ox = (int)(m % a.OW), oy = (int)(m / a.OW % a.OH), n = (int)(m / ((int64_t)a.OW * a.OH));
    const T *X = (const T *)a.x + (int64_t)n * a.H * a.W * a.Cin;
    const int iy0 = oy * a.sh - a.pt, ix0 = ox * a.sw - a.pl;
    float xin[DK];
#pragma unroll
    for (int k = 0; k < DK; k++) {
        xin[k] = 0.0f;
        if (k < a.K) {
            int iy = iy0 + tdy[k], ix = ix0 + tdx[k];
            if (iy >= 0 && iy < a.H && ix >= 0 && ix < a.W) xin[k] = ld(X, ((int64_t)iy * a.W + ix) * a.Cin + tci[k]);
        }
    }
    for (int c0 = 0; c0 < a.Cout; c0 += 8) {
        float v[8];
        for (int u = 0; u < 8; u++) v[u] = 0.0f;
        const float4 *w4 = reinterpret_cast<const float4 *>(&ws[c0 >> 4][0][c0 & 15]); /* 2 x 16 bytes per tap */
#pragma unroll
        for (int k = 0; k < DK; k++)
            if (k < a.K) {
                float4 wa = w4[k * 4], wb = w4[k * 4 + 1];
                v[0] += xin[k] * wa.x, v[1] += xin[k] * wa.y, v[2] += xin[k] * wa.z, v[3] += xin[k] * wa.w;
                v[4] += xin[k] * wb.x, v[5] += xin[k] * wb.y, v[6] += xin[k] * wb.z, v[7] += xin[k] * wb.w;
            }
        for (int u = 0; u < 8; u++) v[u] += bs[c0 + u];
        if (a.res) {
            float rv[8];
            ld8((const T *)a.res + m * a.Cout + c0, rv);
            for (int u = 0; u < 8; u++) v[u] += rv[u];
        }
        for (int u = 0; u < 8; u++) v[u] = act(v[u], a.act, a.lo, a.hi);
        st8((T *)a.y + m * a.Cout + c0, v);
    }
}


/* K per split for sp splits: a multiple of the widest k-slice (WK), so the splits then number
 * ceil(K / kper), at most sp */
int split_kper(int K, int sp) { return ((K + sp - 1) / sp + WK - 1) / WK * WK; }

template <typename T>
odrt_status_t run_conv(const eng_plan *p, int k, uint8_t *arena, const uint8_t *blob, const cu_exec *x, cudaStream_t s) {
    const eng_op *o = &p->ops[k];
    auto P = [&](int t) { return cu_tensor(arena, p, t, (int)sizeof(T)); };
    const eng_tensor *xt = &p->tensors[o->in[0]], *yt = &p->tensors[o->out];
    conv_args a;
    memset(&a, 0, sizeof a);
    a.x = P(o->in[0]), a.res = P(o->residual), a.y = P(o->out);
    a.w = (const float *)(blob + o->w_off), a.bias = (const float *)(blob + o->b_off);
    a.N = (int)xt->dims[0], a.Cin = o->cin, a.H = (int)xt->dims[2], a.W = (int)xt->dims[3];
    a.Cout = o->cout, a.OH = (int)yt->dims[2], a.OW = (int)yt->dims[3];
    a.kh = o->kh, a.kw = o->kw, a.sh = o->sh, a.sw = o->sw, a.dh = o->dh, a.dw = o->dw, a.pt = o->pt, a.pl = o->pl;
    a.K = o->kh * o->kw * o->cin;
    a.act = o->act, a.lo = o->act_lo, a.hi = o->act_hi;
    if (x->grp && x->grp[k] > 0 && x->groups[k].kind == EGRP_SCALED_CONV) /* x * s, the multiply skipped */
        a.x = P(x->groups[k].in[0]), a.sx = P(x->groups[k].in[1]);
    const __half *wh = sizeof(T) == 2 && x->wh ? x->wh + o->w_off / 4 : nullptr; /* fp16: the weights' half copy */
    if (o->conv_kind == CONV_DW) {
        int V = a.Cout % 8 == 0 && sizeof(T) == 2 ? 8 : a.Cout % 4 == 0 ? 4 : 1; /* 16-byte loads */
        int64_t n = yt->numel / V;
        if (V == 8) launch_dw<T, 8>(a, n, x, s);
        else if (V == 4) launch_dw<T, 4>(a, n, x, s);
        else launch_dw<T, 1>(a, n, x, s);
    } else if (a.Cin % 8 && a.K <= DK && a.Cout % 8 == 0 && a.Cout <= DCO && !a.sx) { /* else tensor cores or GEMM tiles */
        if (wh && x->tc && x->stem && x->cc >= 80) cu_launch_mma(a, wh, true, s);
        else conv_direct<T><<<blocks((int64_t)a.N * a.OH * a.OW, 128), 128, 0, s>>>(a);
    } else {
        int64_t M = (int64_t)a.N * a.OH * a.OW;
        /* fp16: tensor cores with 16-byte loads where channels come in 8s (conv_pw for 1x1 convs on
         * maps that fill the GPU, else conv_tc); else WMMA with scalar loads where K is deep (with
         * shallow K that tile's scalar loads and epilogue cost more than the multiply saves:
         * measured on handtrack, H200) */
        bool pw = o->conv_kind == CONV_GEMM, tc = wh && x->tc && a.Cin % 8 == 0 && a.Cout % 8 == 0;
        if (tc && pw && cu_conv_uses_pw(M, a.Cout, x)) {
            cu_launch_mma(a, wh, false, s);
            CU_TRY(cudaGetLastError());
            return ODRT_OK;
        }
        a.kper = split_kper(a.K, cu_conv_splits(M, a.Cout, a.K, x->sms));
        int splits = (a.K + a.kper - 1) / a.kper;
        a.ws = splits > 1 ? x->ws : nullptr;
        dim3 g(blocks(M, BM), blocks(a.Cout, BN), (unsigned)splits);
        bool wmma = wh && !tc && a.K >= 256;
        if (tc && a.Cout <= 32) g.y = blocks(a.Cout, 32);
        if (tc && a.Cout <= 32) pw ? conv_tc<32, true><<<g, 128, 0, s>>>(a, wh) : conv_tc<32, false><<<g, 128, 0, s>>>(a, wh);
        else if (tc) pw ? conv_tc<64, true><<<g, 128, 0, s>>>(a, wh) : conv_tc<64, false><<<g, 128, 0, s>>>(a, wh);
        else if (wmma) pw ? conv_wmma<true><<<g, 128, 0, s>>>(a, wh) : conv_wmma<false><<<g, 128, 0, s>>>(a, wh);
        else pw ? conv_igemm<T, true><<<g, 256, 0, s>>>(a) : conv_igemm<T, false><<<g, 256, 0, s>>>(a);
        if (splits > 1) split_epilogue<T><<<blocks(M * a.Cout, 256), 256, 0, s>>>(a, splits);
    }
    CU_TRY(cudaGetLastError());
    return ODRT_OK;
}

} // namespace

int cu_conv_splits(int64_t M, int Cout, int K, int sms) {
    int64_t tiles = ((M + BM - 1) / BM) * ((Cout + BN - 1) / BN), nk = (K + BK - 1) / BK;
    int64_t want = (2 * (int64_t)sms + tiles - 1) / tiles; /* about two blocks per SM */
    int64_t sp = want < nk / 2 ? want : nk / 2;              /* at least two k-slices per split */
    return sp > 1 ? (int)(sp < 64 ? sp : 64) : 1;
}

size_t cu_conv_ws_floats(const eng_plan *p, int k, int sms) {
    const eng_op *o = &p->ops[k];
    if (o->kind != EOP_CONV || o->conv_kind == CONV_DW) return 0;
    const eng_tensor *yt = &p->tensors[o->out];
    int64_t M = yt->dims[0] * yt->dims[2] * yt->dims[3];
    int K = o->kh * o->kw * o->cin, sp = cu_conv_splits(M, o->cout, K, sms);
    if (sp < 2) return 0;
    int kper = split_kper(K, sp);
    return (size_t)((K + kper - 1) / kper) * M * o->cout;
}

odrt_status_t cu_blob_to_half(const uint8_t *blob, int64_t len, void *out) {
    int64_t n = len / 4;
    if (n < 1) return ODRT_OK;
    to_half_k<<<blocks(n, 256), 256>>>((const float *)blob, (__half *)out, n);
    CU_TRY(cudaGetLastError());
    return ODRT_OK;
}

odrt_status_t cu_run_conv(const eng_plan *p, int k, void *arena, const uint8_t *blob, int half, const cu_exec *x, cudaStream_t s) {
    return half ? run_conv<__half>(p, k, (uint8_t *)arena, blob, x, s) : run_conv<float>(p, k, (uint8_t *)arena, blob, x, s);
}
