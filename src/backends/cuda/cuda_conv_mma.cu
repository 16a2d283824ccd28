/* fp16 convolutions as mma.sync tiles (sm_80 and newer; an sm_72 build compiles them empty and the
 * host never picks them there): conv_pw for 1x1 convs with channels in 8s on maps that fill the
 * GPU, conv_stem_tc for shallow convs (an RGB stem); cuda_conv.cu picks them (cu_conv_uses_pw). */
#include <cuda_fp16.h>

#include "backends/cuda/cuda_device.cuh"

namespace {

/* fp16 1x1 convolutions (stride 1, no padding: a GEMM over NHWC rows) with Cin % 8 == 0 and
 * Cout % 8 == 0 on maps whose tiles fill the GPU (batch 64's layers; large maps at batch 1), sm_80
 * and newer: 8 warps on a tile of BM pixels x BN channels (BN 32, 64, 96 or 128), each warp 32
 * pixels x BN / WN channels as mma.sync m16n8k16 (half operands, float accumulators): WN = 2 warps
 * across the channels for BN >= 96 (BM = 128), WN = 1 for narrower outputs (BM = 256: a
 * projection's deep K is read in longer runs per weight tile). Operands come from shared memory by
 * ldmatrix, k-slices of 32 brought in by cp.async three deep. The epilogue works on the
 * accumulator registers (bias, residual, activation: the same float sums as conv_tc, rounded to
 * half once), stages the half tile in shared memory and writes it 16 bytes a store, whole tile rows
 * at a time. conv_tc (WMMA) wrote its accumulators to a float tile in shared memory and read them
 * back for the epilogue (ncu: bound by instruction issue at 14% occupancy). */
enum { PBK = 32, PST = 3 };
/* warps across the channels and tile rows for a column tile of bn */
constexpr int pw_wn(int bn) { return bn >= 96 ? 2 : 1; }
constexpr int pw_bm(int bn) { return 32 * (8 / pw_wn(bn)); }
template <int BN>
struct pw_cfg {
    static constexpr int WN = pw_wn(BN), BM = pw_bm(BN);
    static constexpr int LDA = PBK + 8, LDB = BN + 8, LDC = BN + 8; /* halves; rows 16-byte aligned, ldmatrix conflict-free */
    static constexpr int A = BM * LDA, B = PBK * LDB;                 /* halves per stage */
    static constexpr int PIPE = PST * (A + B) * 2, OUT = BM * LDC * 2;
    static constexpr int BYTES = PIPE > OUT ? PIPE : OUT;
};

__device__ __forceinline__ unsigned smem_u32(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }
/* 16 bytes global -> shared, asynchronously; zero-filled where !ok (src is then not read) */
__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool ok) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(ok ? 16 : 0) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}
/* four 8 x 8 half matrices from shared memory (lane l gives row l % 8 of matrix l / 8) */
__device__ __forceinline__ void ldsm4(unsigned *r, const void *p) {
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p))
                 : "memory");
#endif
}
__device__ __forceinline__ void ldsm4t(unsigned *r, const void *p) { /* transposed */
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p))
                 : "memory");
#endif
}
/* c (16 x 8, float) += a (16 x 16, half, row-major) * b (16 x 8, half, column-major) */
__device__ __forceinline__ void mma16816(float *c, const unsigned *a, const unsigned *b) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}
/* conv_pw's activation (fp16 engines alone): sigmoid and swish from the approximate exponential and
 * reciprocal (a few instructions, ~1e-7 relative: far below half's 4.9e-4 rounding step), where the
 * accurate expf and division of act() cost tens of instructions per element (EfficientDet's swish
 * expand convs at batch 16 ran 1.4x slower on conv_pw than on conv_tc with them). Infinities and
 * NaN come out as from act(): swish(-inf) = -inf * 0 = NaN, sigmoid(-inf) = 0. */
__device__ __forceinline__ float rcp_approx(float y) {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(y));
    return r;
}
template <int ACT>
__device__ __forceinline__ float act_t(float x, float lo, float hi) {
    if (ACT == EACT_SIGMOID) return rcp_approx(1.0f + __expf(-x));
    if (ACT == EACT_SWISH) return x * rcp_approx(1.0f + __expf(-x));
    return act(x, ACT, lo, hi);
}

/* conv_pw's pieces, also used by conv_stem_tc. B: k-slice k0 of the half weights (panels of 16
 * output channels) for columns n0.., zero past K and Cout, by cp.async */
template <int BN>
__device__ __forceinline__ void pw_load_b(__half *bs, const __half *wh, int K, int Cout, int n0, int k0, int tid) {
    constexpr int CPR = BN / 8;
    for (int q = tid; q < PBK * CPR; q += 256) {
        int kk = q / CPR, c = (q % CPR) * 8, co = n0 + c, k = k0 + kk;
        bool ok = k < K && co < Cout;
        cp_async16(bs + kk * pw_cfg<BN>::LDB + c, ok ? wh + ((int64_t)(co >> 4) * K + k) * 16 + (co & 15) : wh, ok);
    }
}
/* the half pair u with infinities and NaN as 0 */
__device__ __forceinline__ unsigned finite_or_zero(unsigned u) {
    return u & ((u & 0x7c000000u) == 0x7c000000u ? 0x0000ffffu : 0xffffffffu) & ((u & 0x7c00u) == 0x7c00u ? 0xffff0000u : 0xffffffffu);
}
/* acc += the warp's 32 rows x BN / WN columns of one k-slice (A rows and B in shared memory);
 * FINITE: A's infinities and NaN taken as 0. A scaled conv (sr: the scale vectors of this thread's
 * A rows g, g + 8, g + 16, g + 24 of the warp's 32, g = lane / 4; the slice at k0 of K): each A
 * element times its row's scale of its k, in half as the multiply op it replaces (ldmatrix's
 * fragment: af[i][0] row g, k 2 (lane % 4) and + 1; [1] row g + 8; [2], [3] the same at k + 8) */
template <int BN, bool FINITE = false>
__device__ __forceinline__ void pw_mma_slice(float (*acc)[BN / pw_cfg<BN>::WN / 8][4], const __half *as, const __half *bs,
                                             const __half *const *sr = nullptr, int k0 = 0, int K = 0) {
    using S = pw_cfg<BN>;
    constexpr int WC = BN / S::WN, NT = WC / 8;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wm = warp / S::WN, wn = warp % S::WN;
#pragma unroll
    for (int kk = 0; kk < PBK; kk += 16) {
        unsigned af[2][4], bf[NT][2];
#pragma unroll
        for (int i = 0; i < 2; i++) {
            ldsm4(af[i], as + (wm * 32 + i * 16 + (lane & 15)) * S::LDA + kk + (lane >> 4) * 8);
            if (FINITE)
                for (int q = 0; q < 4; q++) af[i][q] = finite_or_zero(af[i][q]);
            if (sr) { /* (k past K: A is 0 there, and the scales are not read) */
                const int k = k0 + kk + 2 * (lane & 3);
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    const int kq = k + (q >> 1) * 8;
                    const __half2 s = kq < K ? *(const __half2 *)(sr[2 * i + (q & 1)] + kq) : __float2half2_rn(0.0f);
                    __half2 v = __hmul2(*(const __half2 *)&af[i][q], s);
                    af[i][q] = *(const unsigned *)&v;
                }
            }
        }
#pragma unroll
        for (int j = 0; j < NT; j += 2) {
            unsigned r[4];
            ldsm4t(r, bs + (kk + (lane & 15)) * S::LDB + wn * WC + j * 8 + (lane >> 4) * 8);
            bf[j][0] = r[0], bf[j][1] = r[1], bf[j + 1][0] = r[2], bf[j + 1][1] = r[3];
        }
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < NT; j++) mma16816(acc[i][j], af[i], bf[j]);
    }
}
/* the tile's outputs from the accumulators (after a barrier that frees the operand tiles, whose
 * shared memory Cs reuses): bias, residual, activation in float, rounded to half once, staged in
 * Cs, written 16 bytes a store. Accumulator c of (i, j) is at rows wm * 32 + i * 16 + lane / 4
 * (+ 8 for c[2], c[3]), columns wn * WC + j * 8 + 2 (lane % 4) (+ 1). */
template <int BN, int ACT>
__device__ __forceinline__ void pw_epilogue(float (*acc)[BN / pw_cfg<BN>::WN / 8][4], const conv_args &a, __half *Cs,
                                            const float *bias_s, int64_t m0, int n0) {
    using S = pw_cfg<BN>;
    constexpr int WC = BN / S::WN, NT = WC / 8, CPR = BN / 8;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp / S::WN, wn = warp % S::WN;
    const int64_t M = (int64_t)a.N * a.OH * a.OW;
    const int Cout = a.Cout, g = lane >> 2, tg = lane & 3;
    const __half *R = (const __half *)a.res;
#pragma unroll
    for (int j = 0; j < NT; j++) {
        const int col = wn * WC + j * 8 + tg * 2, co = n0 + col;
        const bool cok = co < Cout; /* Cout % 8 == 0: co + 1 too */
        const float b0 = bias_s[col], b1 = bias_s[col + 1];
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int r = wm * 32 + i * 16 + g + 8 * h;
                float v0 = acc[i][j][2 * h] + b0, v1 = acc[i][j][2 * h + 1] + b1;
                if (R && cok && m0 + r < M) {
                    float2 rv = __half22float2(*(const __half2 *)(R + (m0 + r) * Cout + co));
                    v0 += rv.x, v1 += rv.y;
                }
                *(__half2 *)(Cs + r * S::LDC + col) = __floats2half2_rn(act_t<ACT>(v0, a.lo, a.hi), act_t<ACT>(v1, a.lo, a.hi));
            }
    }
    __syncthreads();
    __half *Y = (__half *)a.y;
    for (int q = tid; q < S::BM * CPR; q += 256) {
        const int r = q / CPR, c = (q % CPR) * 8, co = n0 + c;
        const int64_t m = m0 + r;
        if (m < M && co < Cout) *(uint4 *)(Y + m * Cout + co) = *(const uint4 *)(Cs + r * S::LDC + c);
    }
}

template <int BN, int ACT, bool SX>
__global__ void __launch_bounds__(256, 2) conv_pw(conv_args a, const __half *wh) {
#if __CUDA_ARCH__ >= 800
    using S = pw_cfg<BN>;
    constexpr int BM = S::BM, NT = BN / S::WN / 8; /* tile rows, n8 tiles per warp (even) */
    constexpr int AE = BM / 64;                    /* A chunks per thread per stage */
    extern __shared__ __align__(128) unsigned char pw_sm[];
    __shared__ float bias_s[BN]; /* loaded now, read by the epilogue (after the main loop's barriers) */
    __half *As = (__half *)pw_sm, *Bs = As + PST * S::A;
    const __half *X = (const __half *)a.x;
    const int tid = threadIdx.x;
    const int64_t M = (int64_t)a.N * a.OH * a.OW, m0 = (int64_t)blockIdx.x * BM;
    const int K = a.K, Cout = a.Cout, n0 = blockIdx.y * BN, nk = (K + PBK - 1) / PBK;
    if (tid < BN) bias_s[tid] = n0 + tid < Cout ? a.bias[n0 + tid] : 0.0f;
    /* A: BM rows x 4 chunks of 8 k per stage, AE per thread (rows ar + 64 e) */
    const int ar = tid >> 2, ak = (tid & 3) * 8;
    const __half *ap[AE];
    bool aok[AE];
#pragma unroll
    for (int e = 0; e < AE; e++) {
        int64_t m = m0 + ar + 64 * e;
        aok[e] = m < M, ap[e] = X + (aok[e] ? m : 0) * K + ak;
    }
    auto load = [&](int st, int kt) {
        const int k0 = kt * PBK;
        __half *as = As + st * S::A;
#pragma unroll
        for (int e = 0; e < AE; e++) {
            bool ok = aok[e] && k0 + ak < K;
            cp_async16(as + (ar + 64 * e) * S::LDA + ak, ok ? ap[e] + k0 : X, ok);
        }
        pw_load_b<BN>(Bs + st * S::B, wh, K, Cout, n0, k0, tid);
    };
    const __half *sr[4]; /* a scaled conv (SX): this thread's A rows' scale vectors (pw_mma_slice) */
    if (SX) {
        const int64_t hw = (int64_t)a.OH * a.OW;
        for (int q = 0; q < 4; q++) {
            const int64_t m = m0 + (tid >> 5) / S::WN * 32 + (q >> 1) * 16 + (q & 1) * 8 + ((tid & 31) >> 2);
            sr[q] = (const __half *)a.sx + (m < M ? m / hw : 0) * a.Cin;
        }
    }
    float acc[2][NT][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < NT; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
#pragma unroll
    for (int st = 0; st < PST - 1; st++) {
        if (st < nk) load(st, st);
        cp_async_commit();
    }
    for (int kt = 0; kt < nk; kt++) {
        cp_async_wait<PST - 2>();
        __syncthreads(); /* stage kt landed for every thread; stage kt - 1 is free */
        if (kt + PST - 1 < nk) load((kt + PST - 1) % PST, kt + PST - 1);
        cp_async_commit();
        pw_mma_slice<BN>(acc, As + (kt % PST) * S::A, Bs + (kt % PST) * S::B, SX ? sr : nullptr, kt * PBK, K);
    }
    cp_async_wait<0>();
    __syncthreads(); /* every warp is done with the operand tiles: the output tile reuses them */
    pw_epilogue<BN, ACT>(acc, a, (__half *)pw_sm, bias_s, m0, n0);
#endif
}

/* fp16 shallow convolutions (K = kh * kw * Cin <= 32 with channels not in 8s: an RGB stem) with
 * Cout % 8 == 0, sm_80 and newer: conv_pw's tile, one k-slice and its epilogue, the A tile gathered
 * (im2col: a thread per pixel row, taps from a per-block table, padding and k >= K as zeros) where
 * conv_direct does the 864 multiply-adds of a 3x3 RGB -> 32 stem pixel on CUDA cores (ncu: bound by
 * instruction issue; handtrack batch 64: 0.22 ms, cuDNN's tensor-core kernel 0.17 ms). The float
 * weights are split into two halves, w = hi + lo, multiplied one after the other (K is shallow: the
 * second product costs nothing), so that the weights keep ~22 bits as conv_direct's float ones.
 * handtrack640's fp16 mAP against fp32 (6 photos, each at its 100-detection cap): conv_direct 0.997,
 * hi alone (the half copy) 0.979, hi + lo 0.989. */
template <int BN>
constexpr int stem_bytes() {
    using S = pw_cfg<BN>;
    return (S::A + 2 * S::B) * 2 > S::OUT ? (S::A + 2 * S::B) * 2 : S::OUT;
}
template <int BN, int ACT>
__global__ void __launch_bounds__(256, 2) conv_stem_tc(conv_args a, const __half *) { /* (its weights: the float ones) */
#if __CUDA_ARCH__ >= 800
    using S = pw_cfg<BN>;
    constexpr int NT = BN / S::WN / 8;
    extern __shared__ __align__(128) unsigned char pw_sm[];
    __shared__ float bias_s[BN];
    __shared__ int tdy[PBK], tdx[PBK], tci[PBK]; /* tap k's row and column offsets and channel */
    __half *As = (__half *)pw_sm, *Bh = As + S::A, *Bl = Bh + S::B;
    const int tid = threadIdx.x, K = a.K, Cout = a.Cout, n0 = blockIdx.y * BN;
    const int64_t M = (int64_t)a.N * a.OH * a.OW, m0 = (int64_t)blockIdx.x * S::BM;
    if (tid < BN) bias_s[tid] = n0 + tid < Cout ? a.bias[n0 + tid] : 0.0f;
    if (tid < PBK) tci[tid] = tid % a.Cin, tdx[tid] = tid / a.Cin % a.kw * a.dw, tdy[tid] = tid / (a.Cin * a.kw) * a.dh;
    for (int q = tid; q < PBK * BN; q += 256) { /* the float weights (panels of 16 channels) as hi + lo halves */
        const int kk = q / BN, c = q % BN, co = n0 + c;
        const float w = kk < K && co < Cout ? a.w[((int64_t)(co >> 4) * K + kk) * 16 + (co & 15)] : 0.0f;
        const __half hi = __float2half(w);
        Bh[kk * S::LDB + c] = hi, Bl[kk * S::LDB + c] = __float2half(w - __half2float(hi));
    }
    __syncthreads(); /* the tap table */
    const __half *X = (const __half *)a.x;
    const __half zero = __float2half(0.0f);
    for (int r = tid; r < S::BM; r += 256) {
        const int64_t m = m0 + r;
        int ox = 0, oy = 0, n = 0;
        if (m < M) ox = (int)(m % a.OW), oy = (int)(m / a.OW % a.OH), n = (int)(m / ((int64_t)a.OW * a.OH));
        const __half *xb = X + (int64_t)n * a.H * a.W * a.Cin;
        const int iy0 = oy * a.sh - a.pt, ix0 = ox * a.sw - a.pl;
        for (int q = 0; q < PBK / 8; q++) { /* 8 k at a time: one 16-byte store */
            uint32_t v[4];
#pragma unroll
            for (int k2 = 0; k2 < 4; k2++) {
                __half h[2];
#pragma unroll
                for (int u = 0; u < 2; u++) {
                    const int k = 8 * q + 2 * k2 + u, iy = iy0 + tdy[k], ix = ix0 + tdx[k];
                    h[u] = m < M && k < K && iy >= 0 && iy < a.H && ix >= 0 && ix < a.W ? xb[(iy * a.W + ix) * a.Cin + tci[k]] : zero;
                }
                __half2 p = __halves2half2(h[0], h[1]);
                v[k2] = *(const uint32_t *)&p;
            }
            *(uint4 *)(As + r * S::LDA + 8 * q) = make_uint4(v[0], v[1], v[2], v[3]);
        }
    }
    __syncthreads(); /* A and B in place */
    float acc[2][NT][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < NT; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
    pw_mma_slice<BN>(acc, As, Bh);
    pw_mma_slice<BN, true>(acc, As, Bl); /* an infinite input times a lo of 0 would be NaN: its hi product has it */
    __syncthreads(); /* the operand tiles are free: the output tile reuses them */
    pw_epilogue<BN, ACT>(acc, a, (__half *)pw_sm, bias_s, m0, n0);
#endif
}

/* conv_pw's column tile for Cout channels: as few column tiles as the widest (128) allows (each
 * reads the pixels' inputs again), then the narrowest width that covers Cout in that many */
int pw_bn(int Cout) {
    int n = (Cout + 127) / 128;
    for (int b = 32; b < 128; b += 32)
        if (n * b >= Cout) return b;
    return 128;
}

template <int BN, bool STEM>
void launch_pw_bn(const conv_args &a, const __half *wh, cudaStream_t s) {
    dim3 g(blocks((int64_t)a.N * a.OH * a.OW, pw_cfg<BN>::BM), blocks(a.Cout, BN));
    const int sm = STEM ? stem_bytes<BN>() : pw_cfg<BN>::BYTES;
#define PW_LAUNCH(ACT) (STEM ? conv_stem_tc<BN, ACT> : a.sx ? conv_pw<BN, ACT, true> : conv_pw<BN, ACT, false>)<<<g, 256, sm, s>>>(a, wh)
    switch (a.act) {
    case EACT_CLIP: PW_LAUNCH(EACT_CLIP); break;
    case EACT_SIGMOID: PW_LAUNCH(EACT_SIGMOID); break;
    case EACT_SWISH: PW_LAUNCH(EACT_SWISH); break;
    default: PW_LAUNCH(EACT_ID); break;
    }
#undef PW_LAUNCH
}
/* conv_pw (1x1) or conv_stem_tc (shallow K) with the column tile for Cout */
template <bool STEM>
void launch_pw(const conv_args &a, const __half *wh, cudaStream_t s) {
    switch (pw_bn(a.Cout)) {
    case 32: launch_pw_bn<32, STEM>(a, wh, s); break;
    case 64: launch_pw_bn<64, STEM>(a, wh, s); break;
    case 96: launch_pw_bn<96, STEM>(a, wh, s); break;
    default: launch_pw_bn<128, STEM>(a, wh, s); break;
    }
}
template <int BN>
cudaError_t pw_allow_smem() {
    const void *k[8] = {(const void *)conv_pw<BN, EACT_ID, false>,      (const void *)conv_pw<BN, EACT_CLIP, false>,
                        (const void *)conv_pw<BN, EACT_SIGMOID, false>, (const void *)conv_pw<BN, EACT_SWISH, false>,
                        (const void *)conv_pw<BN, EACT_ID, true>,       (const void *)conv_pw<BN, EACT_CLIP, true>,
                        (const void *)conv_pw<BN, EACT_SIGMOID, true>,  (const void *)conv_pw<BN, EACT_SWISH, true>};
    for (const void *f : k) {
        cudaError_t e = cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, pw_cfg<BN>::BYTES);
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

} // namespace

void cu_launch_mma(const conv_args &a, const __half *wh, bool stem, cudaStream_t s) {
    if (stem) launch_pw<true>(a, wh, s);
    else launch_pw<false>(a, wh, s);
}

/* conv_pw for an fp16 1x1 conv of M pixels x Cout (channels in 8s): on sm_80 and newer, where its
 * tiles give every multiprocessor one at least (ODRT_CUDA_PW=1: always, 0: never, 2: by size for
 * outputs wider than 64 channels only) */
int cu_conv_uses_pw(int64_t M, int Cout, const cu_exec *x) {
    if (x->cc < 80 || x->pw == 0) return 0;
    if (x->pw == 1) return 1;
    if (x->pw == 2 && Cout <= 64) return 0;
    int bn = pw_bn(Cout), bm = pw_bm(bn);
    return (M + bm - 1) / bm * ((Cout + bn - 1) / bn) >= x->sms;
}

odrt_status_t cu_conv_init(void) {
    CU_TRY(pw_allow_smem<32>());
    CU_TRY(pw_allow_smem<64>());
    CU_TRY(pw_allow_smem<96>());
    CU_TRY(pw_allow_smem<128>());
    return ODRT_OK;
}
