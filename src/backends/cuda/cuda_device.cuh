/* Device helpers shared by the CUDA network kernels (cuda_conv.cu, cuda_ops.cu): element loads and
 * stores as float for T = float or half (1, 4 or 8 consecutive elements: 16-byte loads for half),
 * the fused activations, and the arguments of a convolution (also max pooling's window). */
#ifndef ODRT_CUDA_DEVICE_CUH
#define ODRT_CUDA_DEVICE_CUH

#include <cuda_fp16.h>

#include "backends/cuda/cuda_internal.h"

namespace {

__device__ __forceinline__ float ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half(v); }

/* 4 consecutive elements (4-element aligned) as floats, in one load */
__device__ __forceinline__ void ld4(const float *p, float *v) {
    float4 q = *(const float4 *)p;
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
}
__device__ __forceinline__ void ld4(const __half *p, float *v) {
    uint2 q = *(const uint2 *)p;
    float2 a = __half22float2(*(const __half2 *)&q.x), b = __half22float2(*(const __half2 *)&q.y);
    v[0] = a.x, v[1] = a.y, v[2] = b.x, v[3] = b.y;
}
/* 8 consecutive elements (8-element aligned): one 16-byte load for half, two for float */
__device__ __forceinline__ void ld8(const float *p, float *v) { ld4(p, v), ld4(p + 4, v + 4); }
__device__ __forceinline__ void ld8(const __half *p, float *v) {
    uint4 q = *(const uint4 *)p;
    const uint32_t w[4] = {q.x, q.y, q.z, q.w};
    for (int i = 0; i < 4; i++) {
        float2 f = __half22float2(*(const __half2 *)&w[i]);
        v[2 * i] = f.x, v[2 * i + 1] = f.y;
    }
}
__device__ __forceinline__ void st4(float *p, const float *v) { *(float4 *)p = make_float4(v[0], v[1], v[2], v[3]); }
__device__ __forceinline__ void st4(__half *p, const float *v) {
    __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
    uint2 q;
    q.x = *(const uint32_t *)&a, q.y = *(const uint32_t *)&b;
    *(uint2 *)p = q;
}

__device__ __forceinline__ void st8(float *p, const float *v) { st4(p, v), st4(p + 4, v + 4); }
__device__ __forceinline__ void st8(__half *p, const float *v) {
    uint32_t w[4];
    for (int i = 0; i < 4; i++) {
        __half2 h = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
        w[i] = *(const uint32_t *)&h;
    }
    *(uint4 *)p = make_uint4(w[0], w[1], w[2], w[3]);
}
/* V consecutive elements, V = 1, 4 or 8 (V-element aligned) */
template <int V, typename T>
__device__ __forceinline__ void ldv(const T *p, float *v) {
    if (V == 8) ld8(p, v);
    else if (V == 4) ld4(p, v);
    else v[0] = ld(p, 0);
}
template <int V>
__device__ __forceinline__ void ldv(const float *p, float *v) {
    if (V == 8) ld8(p, v);
    else if (V == 4) ld4(p, v);
    else v[0] = p[0];
}
template <int V, typename T>
__device__ __forceinline__ void stv(T *p, const float *v) {
    if (V == 8) st8(p, v);
    else if (V == 4) st4(p, v);
    else st(p, 0, v[0]);
}

__device__ __forceinline__ float act(float x, int a, float lo, float hi) {
    switch (a) {
    case EACT_CLIP: return x < lo ? lo : x > hi ? hi : x; /* NaN stays NaN, as the reference */
    case EACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case EACT_SWISH: return x / (1.0f + expf(-x));
    default: return x;
    }
}

/* x * s as the multiply op a scaled conv replaces computes it: in float, rounded to T */
template <typename T>
__device__ __forceinline__ float scaled(float x, float s) {
    return sizeof(T) == 2 ? __half2float(__float2half(x * s)) : x * s;
}
/* 8 halves times 8 halves (a scaled conv's A chunk: each product rounded once, as the multiply op) */
__device__ __forceinline__ uint4 hmul8(uint4 a, uint4 b) {
    __half2 *x = (__half2 *)&a;
    const __half2 *y = (const __half2 *)&b;
    for (int i = 0; i < 4; i++) x[i] = __hmul2(x[i], y[i]);
    return a;
}

inline unsigned blocks(int64_t n, int per) { return (unsigned)((n + per - 1) / per); }

} // namespace

/* a convolution (and max pooling's window): Y[m, co] = act(sum_k A[m, k] W[k, co] + bias[co]
 * (+ R[m, co])) with m = output pixel (n, oy, ox), k = (ky, kx, ci), W packed in panels of 16
 * output channels [Cout/16][K][16] (depthwise: tap-major [kh * kw][C]) */
struct conv_args {
    const void *x, *res;
    void *y;
    float *ws; /* split-K partial sums [splits][M][Cout], or NULL */
    const void *sx; /* a scaled 1x1 conv (engine/groups.h): input channel k of image n times sx[n * Cin + k]
                       (T, rounded as the multiply it replaces), or NULL */
    const float *w, *bias;
    int N, H, W, Cin, OH, OW, Cout, K, kper; /* kper: K per split, a multiple of BK */
    int kh, kw, sh, sw, dh, dw, pt, pl;
    int act;
    float lo, hi;
};

/* cuda_conv_mma.cu: conv_pw (1x1) or, with stem, conv_stem_tc for a, enqueued on s (sm_80+) */
void cu_launch_mma(const conv_args &a, const __half *wh, bool stem, cudaStream_t s);

#endif
