/* Float kernels written once with GCC vector extensions. This file is compiled several times
 * (CMake): KSUF names the variant and the compiler flags pick the ISA (-mavx2 -mfma for _avx2;
 * AVX-512 F/VL/BW/DQ for _avx512, whose GEMM tiles are in gemm_zmm.h; the baseline for _generic;
 * NEON is baseline on AArch64). -ffp-contract=fast turns a*b+c into FMA. */
#include <math.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/eltwise.h"
#include "backends/cpu/kernels.h"

#ifndef KSUF
#define KSUF generic
#endif
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define K(name) CAT(name, KSUF)

typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i __attribute__((vector_size(32), aligned(4), may_alias));

static inline v8 ld(const float *p) { return *(const v8 *)p; }
static inline void st(float *p, v8 v) { *(v8 *)p = v; }
static inline v8 splat(float x) { return (v8){x, x, x, x, x, x, x, x}; }
/* vmax(x, lo) / vmin(x, hi) for Clip: x when x is NaN, as the reference's comparisons give */
#if defined(__AVX__)
#include <immintrin.h>
static inline v8 vmax(v8 x, v8 lo) { return (v8)_mm256_max_ps((__m256)lo, (__m256)x); }
static inline v8 vmin(v8 x, v8 hi) { return (v8)_mm256_min_ps((__m256)hi, (__m256)x); }
#elif defined(__SSE2__)
#include <emmintrin.h>
typedef float v4 __attribute__((vector_size(16)));
static inline v8 vhalves(__m128 a, __m128 b) {
    v8 r;
    memcpy(&r, &a, 16), memcpy((char *)&r + 16, &b, 16);
    return r;
}
static inline v8 vmax(v8 x, v8 lo) {
    __m128 xa, xb, la, lb;
    memcpy(&xa, &x, 16), memcpy(&xb, (char *)&x + 16, 16), memcpy(&la, &lo, 16), memcpy(&lb, (char *)&lo + 16, 16);
    return vhalves(_mm_max_ps(la, xa), _mm_max_ps(lb, xb));
}
static inline v8 vmin(v8 x, v8 hi) {
    __m128 xa, xb, ha, hb;
    memcpy(&xa, &x, 16), memcpy(&xb, (char *)&x + 16, 16), memcpy(&ha, &hi, 16), memcpy(&hb, (char *)&hi + 16, 16);
    return vhalves(_mm_min_ps(ha, xa), _mm_min_ps(hb, xb));
}
#else /* NEON and others: lanes where x < lo (x > hi) take lo (hi); NaN compares false and stays */
static inline v8 vmax(v8 x, v8 lo) {
    v8i m = x < lo;
    return (v8)(((v8i)x & ~m) | ((v8i)lo & m));
}
static inline v8 vmin(v8 x, v8 hi) {
    v8i m = x > hi;
    return (v8)(((v8i)x & ~m) | ((v8i)hi & m));
}
#endif

static inline float act1(float x, const k_epi *e) {
    switch (e->act) {
    case EACT_CLIP: return x < e->lo ? e->lo : x > e->hi ? e->hi : x;
    case EACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)x)));
    case EACT_SWISH: return x * (float)(1.0 / (1.0 + exp(-(double)x)));
    default: return x;
    }
}

/* in hot loops the activation is a compile-time choice: clip (Relu, Relu6, Clip) or identity;
 * sigmoid and swish run as a second pass over the freshly written (cache-hot) output */
#define FORCE_INLINE inline __attribute__((always_inline))
static FORCE_INLINE v8 actv(v8 x, const int clip, v8 lo, v8 hi) { return clip ? vmin(vmax(x, lo), hi) : x; }
/* e^x (Cephes' expf: 2^n * P(r), r = x - n ln2 in two steps; within 2 ulp), written once for 8
 * lanes (vexp) and, in the AVX-512 set, 16 (vexp16). x is clamped to [-87.3, 88.3] (normal
 * results) and e^x above expf's overflow bound is +inf, as expf's: so that sigmoid(-inf) = 0 and
 * swish(-inf) = NaN, as the reference computes them; NaN stays NaN. */
#define DEF_VEXP(name, V, VI, VU, SPLAT, VMIN, VMAX)                                               \
    static inline V name(V x) {                                                                    \
        VI over = x > SPLAT(88.7228394f);                                                          \
        x = VMIN(VMAX(x, SPLAT(-87.3f)), SPLAT(88.3f));                                            \
        V fx = x * SPLAT(1.44269504088896341f);                                                    \
        VI neg = fx < SPLAT(0.0f);                                                                 \
        V half = (V)((VI)SPLAT(0.5f) ^ (neg & (VI)SPLAT(-0.0f))); /* +-0.5: round half away from 0 */ \
        VI n = __builtin_convertvector(fx + half, VI);                                             \
        V nf = __builtin_convertvector(n, V);                                                      \
        V r = x - nf * SPLAT(0.693359375f) - nf * SPLAT(-2.12194440e-4f);                          \
        V p = SPLAT(1.9875691500e-4f);                                                             \
        p = p * r + SPLAT(1.3981999507e-3f);                                                       \
        p = p * r + SPLAT(8.3334519073e-3f);                                                       \
        p = p * r + SPLAT(4.1665795894e-2f);                                                       \
        p = p * r + SPLAT(1.6666665459e-1f);                                                       \
        p = p * r + SPLAT(5.0000001201e-1f);                                                       \
        p = p * r * r + r + SPLAT(1.0f);                                                           \
        V r2 = (V)((VU)p + ((VU)n << 23));                                                         \
        return (V)(((VI)r2 & ~over) | ((VI)SPLAT(__builtin_inff()) & over));                       \
    }
typedef uint32_t v8u __attribute__((vector_size(32), aligned(4), may_alias));
DEF_VEXP(vexp, v8, v8i, v8u, splat, vmin, vmax)

/* sigmoid / swish after a kernel wrote y: 8 lanes with vexp (EfficientNet's swish is everywhere;
 * exp in double cost ~10x the convolutions), the tail in double; noipa keeps it out of the
 * micro-kernels, whose hot loop it is not part of */
#if defined(__clang__)
#define NO_IPA __attribute__((noinline))
#else
#define NO_IPA __attribute__((noipa))
#endif
static NO_IPA void act_pass(float *y, int64_t n, const k_epi *e);
static FORCE_INLINE int is_clip(const k_epi *e) { return e->act == EACT_CLIP; }
/* the one of a kernel's four activation variants (f_id, f_clip, f_sigmoid, f_swish) for e */
#define BY_ACT(e, f)                                                                                                  \
    ((e)->act == EACT_CLIP ? f##_clip : (e)->act == EACT_SIGMOID ? f##_sigmoid : (e)->act == EACT_SWISH ? f##_swish : f##_id)

/* one row of a micro-kernel's tile: nv accumulators (8 columns each) + residual, activation (act:
 * the eng_act, a constant; a full row takes sigmoid / swish on its registers with act_pass's
 * operations, a partial one from act_pass), stored to its nr columns */
static FORCE_INLINE void epi_row(float *c, const float *r, const v8 *y, const int nv, int nr, const k_epi *e, const int act) {
    const int clip = act == EACT_CLIP;
    v8 lo = splat(e->lo), hi = splat(e->hi);
    if (nr == 8 * nv) {
        for (int v = 0; v < nv; v++) {
            v8 t = y[v];
            if (r) t += ld(r + 8 * v);
            t = actv(t, clip, lo, hi);
            if (act == EACT_SIGMOID || act == EACT_SWISH) {
                v8 sg = splat(1.0f) / (splat(1.0f) + vexp(-t));
                if (act == EACT_SWISH) sg *= t;
                t = sg;
            }
            st(c + 8 * v, t);
        }
        return;
    }
    float t[16];
    memcpy(t, y, sizeof(v8) * (size_t)nv);
    for (int j = 0; j < nr; j++) {
        float v = t[j] + (r ? r[j] : 0.0f);
        c[j] = clip ? (v < e->lo ? e->lo : v > e->hi ? e->hi : v) : v;
    }
    if (act == EACT_SIGMOID || act == EACT_SWISH) act_pass(c, nr, e);
}

/* 12 x 8 micro-kernel for a last panel with at most 8 columns (Cout = 16 n + 8: 24, 40, ...): the
 * 6 x 16 tile would spend half its FMAs on the panel's zero padding */
static FORCE_INLINE void ukr8(int64_t K, const float *a0, int64_t lda, int mr, const float *B, const float *bias, float *C,
                              int64_t ldc, int nr, const float *R, const k_epi *e, const int act) {
    const float *a[12];
    for (int i = 0; i < 12; i++) a[i] = a0 + (i < mr ? i : 0) * lda;
    v8 bl = ld(bias);
    v8 c0 = bl, c1 = bl, c2 = bl, c3 = bl, c4 = bl, c5 = bl, c6 = bl, c7 = bl, c8 = bl, c9 = bl, c10 = bl, c11 = bl;
    for (int64_t k = 0; k < K; k++) {
        v8 b0 = ld(B + 16 * k);
        c0 += a[0][k] * b0, c1 += a[1][k] * b0, c2 += a[2][k] * b0, c3 += a[3][k] * b0;
        c4 += a[4][k] * b0, c5 += a[5][k] * b0, c6 += a[6][k] * b0, c7 += a[7][k] * b0;
        c8 += a[8][k] * b0, c9 += a[9][k] * b0, c10 += a[10][k] * b0, c11 += a[11][k] * b0;
    }
    v8 acc[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    for (int i = 0; i < mr; i++) epi_row(C + i * ldc, R ? R + i * ldc : NULL, &acc[i], 1, nr, e, act);
}

#if defined(__AVX512F__)
#include "backends/cpu/gemm_zmm.h"
#else
/* 6 x 16 micro-kernel: A rows a[0..5] (stride lda), packed B panel [K][16] */
static FORCE_INLINE void ukr(int64_t K, const float *a0, int64_t lda, int mr, const float *B, const float *bias, float *C,
                             int64_t ldc, int nr, const float *R, const k_epi *e, const int act) {
    const float *a[6];
    for (int i = 0; i < 6; i++) a[i] = a0 + (i < mr ? i : 0) * lda;
    v8 bl = ld(bias), bh = ld(bias + 8);
    v8 c00 = bl, c01 = bh, c10 = bl, c11 = bh, c20 = bl, c21 = bh, c30 = bl, c31 = bh, c40 = bl, c41 = bh, c50 = bl, c51 = bh;
    for (int64_t k = 0; k < K; k++) {
        v8 b0 = ld(B + 16 * k), b1 = ld(B + 16 * k + 8);
        float x0 = a[0][k], x1 = a[1][k], x2 = a[2][k], x3 = a[3][k], x4 = a[4][k], x5 = a[5][k];
        c00 += x0 * b0, c01 += x0 * b1;
        c10 += x1 * b0, c11 += x1 * b1;
        c20 += x2 * b0, c21 += x2 * b1;
        c30 += x3 * b0, c31 += x3 * b1;
        c40 += x4 * b0, c41 += x4 * b1;
        c50 += x5 * b0, c51 += x5 * b1;
    }
    v8 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    for (int i = 0; i < mr; i++) epi_row(C + i * ldc, R ? R + i * ldc : NULL, &acc[2 * i], 2, nr, e, act);
}

/* the micro-kernels with the activation a compile-time choice */
#define UKR_VARIANT(name, act)                                                                                        \
    static void name(int64_t K, const float *a0, int64_t lda, int mr, const float *B, const float *bias, float *C,  \
                     int64_t ldc, int nr, const float *R, const k_epi *e) {                                         \
        if (nr <= 8) ukr8(K, a0, lda, mr, B, bias, C, ldc, nr, R, e, act);                                          \
        else ukr(K, a0, lda, mr, B, bias, C, ldc, nr, R, e, act);                                                   \
    }
UKR_VARIANT(ukr_id, EACT_ID)
UKR_VARIANT(ukr_clip, EACT_CLIP)
UKR_VARIANT(ukr_sigmoid, EACT_SIGMOID)
UKR_VARIANT(ukr_swish, EACT_SWISH)
#undef UKR_VARIANT

static void K(gemm)(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *A, int64_t lda, const float *B,
                    const float *bias, float *C, int64_t ldc, const float *R, const k_epi *e) {
    float bpad[16];
    for (int64_t n = n0; n < n1; n += 16) {
        int nr = (int)(n1 - n < 16 ? n1 - n : 16);
        const float *bb = bias + n;
        if (nr < 16) {
            memset(bpad, 0, sizeof bpad);
            memcpy(bpad, bias + n, sizeof(float) * (size_t)nr);
            bb = bpad;
        }
        const float *Bp = B + (n / 16) * K * 16;
        int rows = nr <= 8 ? 12 : 6; /* the tile's rows: 12 x 8 or 6 x 16 */
        for (int64_t m = 0; m < M; m += rows) {
            int mr = (int)(M - m < rows ? M - m : rows);
            BY_ACT(e, ukr)(K, A + m * lda, lda, mr, Bp, bb, C + m * ldc + n, ldc, nr, R ? R + m * ldc + n : NULL, e);
        }
    }
}
#endif

static NO_IPA void act_pass(float *y, int64_t n, const k_epi *e) {
    if (e->act != EACT_SIGMOID && e->act != EACT_SWISH) return;
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) { /* the same operations on 16 lanes */
        v16 x = ld16(y + i), s = vsigmoid16(x);
        if (e->act == EACT_SWISH) s *= x;
        *(v16 *)(y + i) = s;
    }
#endif
    for (; i + 8 <= n; i += 8) {
        v8 x = ld(y + i), s = splat(1.0f) / (splat(1.0f) + vexp(-x));
        if (e->act == EACT_SWISH) s *= x;
        st(y + i, s);
    }
    for (; i < n; i++) y[i] = act1(y[i], e);
}

/* one output pixel, any kernel, bounds-checked (borders, odd kernels, channel tails) */
static inline void dw_pixel(const k_dw *a, const float *xim, int64_t oy, int64_t ox, float *y, int64_t c0, v8 lo, v8 hi) {
    const int64_t C = a->C, C8 = C / 8 * 8;
    int64_t iy0 = oy * a->sh - a->pt, ix0 = ox * a->sw - a->pl;
    int ky0 = 0, ky1 = a->kh, kx0 = 0, kx1 = a->kw;
    while (ky0 < ky1 && iy0 + (int64_t)ky0 * a->dh < 0) ky0++;
    while (ky1 > ky0 && iy0 + (int64_t)(ky1 - 1) * a->dh >= a->H) ky1--;
    while (kx0 < kx1 && ix0 + (int64_t)kx0 * a->dw < 0) kx0++;
    while (kx1 > kx0 && ix0 + (int64_t)(kx1 - 1) * a->dw >= a->W) kx1--;
    int64_t c = c0;
#if defined(__AVX512F__)
    for (; c + 16 <= C8; c += 16) { /* 16 channels at a time in the AVX-512 set */
        v16 acc = ld16(a->bias + c);
        for (int ky = ky0; ky < ky1; ky++) {
            const float *xr = xim + ((iy0 + (int64_t)ky * a->dh) * a->W) * C + c;
            const float *wr = a->w + (int64_t)ky * a->kw * C + c;
            for (int kx = kx0; kx < kx1; kx++) acc += ld16(xr + (ix0 + (int64_t)kx * a->dw) * C) * ld16(wr + (int64_t)kx * C);
        }
        if (is_clip(&a->e)) acc = vmin16(vmax16(acc, splat16(a->e.lo)), splat16(a->e.hi));
        *(v16 *)(y + c) = acc;
    }
#endif
    for (; c < C8; c += 8) {
        v8 acc = ld(a->bias + c);
        for (int ky = ky0; ky < ky1; ky++) {
            const float *xr = xim + ((iy0 + (int64_t)ky * a->dh) * a->W) * C + c;
            const float *wr = a->w + (int64_t)ky * a->kw * C + c;
            for (int kx = kx0; kx < kx1; kx++) acc += ld(xr + (ix0 + (int64_t)kx * a->dw) * C) * ld(wr + (int64_t)kx * C);
        }
        st(y + c, actv(acc, is_clip(&a->e), lo, hi));
    }
    for (; c < C; c++) {
        float acc = a->bias[c];
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++)
                acc += xim[((iy0 + (int64_t)ky * a->dh) * a->W + ix0 + (int64_t)kx * a->dw) * C + c] *
                       a->w[((int64_t)ky * a->kw + kx) * C + c];
        y[c] = act1(acc, &a->e);
    }
    if (!is_clip(&a->e)) act_pass(y + c0, C8 - c0 > 0 ? C8 - c0 : 0, &a->e);
}

/* one output pixel, 8 channels at a time, from 9 tap pointers (a tap outside the image points at
 * the zero row): borders and the pixels left over by the 4-pixel groups */
static FORCE_INLINE void dw3x3_pixel(const k_dw *a, const float *const rows[3], int64_t ox, float *y, v8 lo, v8 hi, const int clip) {
    const int64_t C = a->C, C8 = C / 8 * 8, ix0 = ox * a->sw - a->pl;
    const float *tp[9];
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) tp[ky * 3 + kx] = ix0 + kx >= 0 && ix0 + kx < a->W ? rows[ky] + (ix0 + kx) * C : a->zeros;
    for (int64_t c = 0; c < C8; c += 8) {
        v8 s0 = ld(a->bias + c), s1 = splat(0.0f), s2 = splat(0.0f);
        const float *w = a->w + c;
        s0 += ld(tp[0] + c) * ld(w), s1 += ld(tp[1] + c) * ld(w + C), s2 += ld(tp[2] + c) * ld(w + 2 * C);
        s0 += ld(tp[3] + c) * ld(w + 3 * C), s1 += ld(tp[4] + c) * ld(w + 4 * C), s2 += ld(tp[5] + c) * ld(w + 5 * C);
        s0 += ld(tp[6] + c) * ld(w + 6 * C), s1 += ld(tp[7] + c) * ld(w + 7 * C), s2 += ld(tp[8] + c) * ld(w + 8 * C);
        st(y + c, actv(s0 + s1 + s2, clip, lo, hi));
    }
}

/* the interior tiles (3x3, 5x5), 8 channels at a time (and 16 in the AVX-512 set): each header is
 * written once for a vector type named by the DW_* parameters */
#define DW_V v8
#define DW_N 8
#define DW_LD ld
#define DW_ST st
#define DW_SPLAT splat
#define DW_CLIP(x, lo, hi) vmin(vmax(x, lo), hi)
#define DW_SFX 8
#include "backends/cpu/dw3x3_tile.h"
#include "backends/cpu/dw5x5_tile.h"
#undef DW_V
#undef DW_N
#undef DW_LD
#undef DW_ST
#undef DW_SPLAT
#undef DW_CLIP
#undef DW_SFX
#if defined(__AVX512F__)
static inline void st16(float *p, v16 v) { *(v16 *)p = v; }
#define DW_V v16
#define DW_N 16
#define DW_LD ld16
#define DW_ST st16
#define DW_SPLAT splat16
#define DW_CLIP(x, lo, hi) vmin16(vmax16(x, lo), hi)
#define DW_SFX 16
#include "backends/cpu/dw3x3_tile.h"
#include "backends/cpu/dw5x5_tile.h"
#endif

/* 3x3, dilation 1, one output row, stride S (1 or 2, a constant), channels [0, C8): the interior
 * in tiles of 8 pixels (the tile's 3 x (8S+2) input window stays in L1; per tile and 8 or 16
 * channels the 9 weights stay in registers while 2 x 4 outputs accumulate), then every other
 * pixel (borders, leftovers) one at a time. */
static FORCE_INLINE void dw3x3_run(const k_dw *a, const float *const rows[3], int64_t ox_lo, int64_t ox_hi, float *yrow,
                                   v8 lo, v8 hi, const int S, const int clip) {
    const int64_t C = a->C, C8 = C / 8 * 8, ox_q = ox_lo + (ox_hi - ox_lo) / 4 * 4;
    for (int64_t ox = ox_lo; ox < ox_q; ox += 8) {
        const int quads = ox + 8 <= ox_q ? 2 : 1;
        int64_t c = 0;
#if defined(__AVX512F__)
        c = dw3_tile_16(a, rows, ox, quads, 0, C / 16 * 16, yrow, S, clip);
#endif
        dw3_tile_8(a, rows, ox, quads, c, C8, yrow, S, clip);
    }
    for (int64_t ox = 0; ox < a->OW; ox++)
        if (ox < ox_lo || ox >= ox_q) dw3x3_pixel(a, rows, ox, yrow + ox * C, lo, hi, clip);
    if (!clip && a->e.act != EACT_ID && C8 == C) act_pass(yrow, a->OW * C, &a->e); /* the row at once */
    else if (!clip && a->e.act != EACT_ID)
        for (int64_t o = 0; o < a->OW; o++) act_pass(yrow + o * C, C8, &a->e);
}

static void dw3x3_all(const k_dw *a, const float *const rows[3], int64_t ox_lo, int64_t ox_hi, float *yrow, v8 lo, v8 hi) {
    int clip = is_clip(&a->e);
    if (a->sw == 1 && clip) dw3x3_run(a, rows, ox_lo, ox_hi, yrow, lo, hi, 1, 1);
    else if (a->sw == 1) dw3x3_run(a, rows, ox_lo, ox_hi, yrow, lo, hi, 1, 0);
    else if (a->sw == 2 && clip) dw3x3_run(a, rows, ox_lo, ox_hi, yrow, lo, hi, 2, 1);
    else dw3x3_run(a, rows, ox_lo, ox_hi, yrow, lo, hi, 2, 0);
}

/* channels [C8, C) of one output pixel (C not a multiple of 8), scalar */
static void dw3x3_tail(const k_dw *a, const float *const rows[3], int64_t ox, float *y) {
    const int64_t C = a->C, ix0 = ox * a->sw - a->pl;
    int kx0 = ix0 < 0 ? (int)-ix0 : 0, kx1 = ix0 + 3 > a->W ? (int)(a->W - ix0) : 3;
    for (int64_t c = C / 8 * 8; c < C; c++) {
        float acc = a->bias[c];
        for (int ky = 0; ky < 3; ky++)
            for (int kx = kx0; kx < kx1; kx++) acc += rows[ky][(ix0 + kx) * C + c] * a->w[(ky * 3 + kx) * C + c];
        y[c] = act1(acc, &a->e);
    }
}

/* output columns whose 3 taps are all inside the row */
static void dw3x3_cols(const k_dw *a, int64_t *lo_, int64_t *hi_) {
    int64_t ox_lo = (a->pl + a->sw - 1) / a->sw, ox_hi = a->W - 3 + a->pl >= 0 ? (a->W - 3 + a->pl) / a->sw + 1 : 0;
    if (ox_hi > a->OW) ox_hi = a->OW;
    if (ox_lo > ox_hi) ox_lo = ox_hi;
    *lo_ = ox_lo, *hi_ = ox_hi;
}

/* one output row of a 3x3 dilation-1 depthwise conv (stride 1 or 2) from its 3 input rows
 * (NULL: outside the image, zeros) */
static void K(dw_row)(const k_dw *a, const float *const in_rows[3], float *yrow) {
    v8 lo = splat(a->e.lo), hi = splat(a->e.hi);
    const float *rows[3];
    for (int k = 0; k < 3; k++) rows[k] = in_rows[k] ? in_rows[k] : a->zeros;
    int64_t ox_lo, ox_hi;
    dw3x3_cols(a, &ox_lo, &ox_hi);
    if (a->C >= 8) dw3x3_all(a, rows, ox_lo, ox_hi, yrow, lo, hi);
    if (a->C % 8)
        for (int64_t ox = 0; ox < a->OW; ox++) dw3x3_tail(a, rows, ox, yrow + ox * a->C);
}

/* one output row of a 5x5, dilation-1, stride 1 or 2 depthwise conv (C >= 8): the interior in
 * tiles of 4 pixels, the borders and the channels past the last 8 by the bounds-checked pixel */
static void dw5x5_row(const k_dw *a, const float *xim, int64_t oy, float *yrow, v8 lo, v8 hi) {
    const int64_t C = a->C, C8 = C / 8 * 8, iy0 = oy * a->sh - a->pt, S = a->sw;
    const float *rows[5];
    for (int ky = 0; ky < 5; ky++) rows[ky] = iy0 + ky >= 0 && iy0 + ky < a->H ? xim + (iy0 + ky) * a->W * C : a->zeros;
    int64_t ox_lo = (a->pl + S - 1) / S, ox_hi = a->W - 5 + a->pl >= 0 ? (a->W - 5 + a->pl) / S + 1 : 0;
    if (ox_hi > a->OW) ox_hi = a->OW;
    if (ox_lo > ox_hi) ox_lo = ox_hi;
    const int64_t ox_q = ox_lo + (ox_hi - ox_lo) / 4 * 4;
    const int clip = is_clip(&a->e);
    for (int64_t ox = ox_lo; ox < ox_q; ox += 4) {
        int64_t c = 0;
#if defined(__AVX512F__)
        c = S == 1 ? (clip ? dw5_tile_16(a, rows, ox, 0, C / 16 * 16, yrow, 1, 1) : dw5_tile_16(a, rows, ox, 0, C / 16 * 16, yrow, 1, 0))
                   : (clip ? dw5_tile_16(a, rows, ox, 0, C / 16 * 16, yrow, 2, 1) : dw5_tile_16(a, rows, ox, 0, C / 16 * 16, yrow, 2, 0));
#endif
        if (S == 1) clip ? dw5_tile_8(a, rows, ox, c, C8, yrow, 1, 1) : dw5_tile_8(a, rows, ox, c, C8, yrow, 1, 0);
        else clip ? dw5_tile_8(a, rows, ox, c, C8, yrow, 2, 1) : dw5_tile_8(a, rows, ox, c, C8, yrow, 2, 0);
        for (int64_t o = ox; o < ox + 4 && C8 < C; o++) dw_pixel(a, xim, oy, o, yrow + o * C, C8, lo, hi);
    }
    if (!clip && a->e.act != EACT_ID && ox_q > ox_lo) { /* sigmoid / swish of the tiles' channels */
        if (C8 == C) act_pass(yrow + ox_lo * C, (ox_q - ox_lo) * C, &a->e);
        else
            for (int64_t o = ox_lo; o < ox_q; o++) act_pass(yrow + o * C, C8, &a->e);
    }
    for (int64_t ox = 0; ox < a->OW; ox++)
        if (ox < ox_lo || ox >= ox_q) dw_pixel(a, xim, oy, ox, yrow + ox * C, 0, lo, hi);
}

static void K(dw)(const k_dw *a, int64_t r0, int64_t r1) {
    const int64_t C = a->C;
    v8 lo = splat(a->e.lo), hi = splat(a->e.hi);
    int fast = a->kh == 3 && a->kw == 3 && a->dh == 1 && a->dw == 1 && (a->sw == 1 || a->sw == 2);
    int fast5 = a->kh == 5 && a->kw == 5 && a->dh == 1 && a->dw == 1 && (a->sw == 1 || a->sw == 2) && C >= 8;
    for (int64_t r = r0; r < r1; r++) {
        int64_t n = r / a->OH, oy = r % a->OH, iy0 = oy * a->sh - a->pt;
        float *yrow = a->y + ((n * a->OH + oy) * a->OW) * C;
        const float *xim = a->x + n * a->H * a->W * C;
        if (fast5) {
            dw5x5_row(a, xim, oy, yrow, lo, hi);
        } else if (fast) {
            const float *rows[3];
            for (int ky = 0; ky < 3; ky++) rows[ky] = iy0 + ky >= 0 && iy0 + ky < a->H ? xim + (iy0 + ky) * a->W * C : NULL;
            K(dw_row)(a, rows, yrow);
        } else {
            for (int64_t ox = 0; ox < a->OW; ox++) dw_pixel(a, xim, oy, ox, yrow + ox * C, 0, lo, hi);
        }
    }
}

static void K(act)(const float *x, float *y, int64_t n, const k_epi *e) {
    v8 lo = splat(e->lo), hi = splat(e->hi);
    int64_t i = 0;
    if (e->act == EACT_CLIP)
        for (; i + 8 <= n; i += 8) st(y + i, actv(ld(x + i), 1, lo, hi));
    if (e->act == EACT_SIGMOID || e->act == EACT_SWISH)
        for (; i + 8 <= n; i += 8) {
            v8 v = ld(x + i), s = splat(1.0f) / (splat(1.0f) + vexp(-v));
            if (e->act == EACT_SWISH) s *= v;
            st(y + i, s);
        }
    for (; i < n; i++) y[i] = act1(x[i], e);
}

static void K(binary)(int op, int rev, const float *a, const float *b, int64_t nb, float *y, int64_t n, const k_epi *e) {
    v8 lo = splat(e->lo), hi = splat(e->hi);
    if ((op == BIN_ADD || op == BIN_MUL) && !rev && nb % 8 == 0 && n % nb == 0) {
        for (int64_t i = 0; i < n; i += nb) {
            for (int64_t j = 0; j < nb; j += 8) {
                v8 va = ld(a + i + j), vb = ld(b + j);
                st(y + i + j, actv(op == BIN_ADD ? va + vb : va * vb, is_clip(e), lo, hi));
            }
            act_pass(y + i, nb, e); /* sigmoid / swish; nothing for the others */
        }
        return;
    }
    if (nb == 1 && op <= BIN_DIV) { /* a scalar operand (BiFPN's weights, normalisation constants) */
        v8 vb = splat(b[0]);
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            v8 va = ld(a + i), v = op == BIN_ADD ? va + vb : op == BIN_MUL ? va * vb : op == BIN_SUB ? (rev ? vb - va : va - vb)
                                                                                                : (rev ? vb / va : va / vb);
            st(y + i, actv(v, is_clip(e), lo, hi));
        }
        for (; i < n; i++) y[i] = actv(splat(rev ? eng_binary(op, b[0], a[i]) : eng_binary(op, a[i], b[0])), is_clip(e), lo, hi)[0];
        act_pass(y, n, e);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float bv = b[nb == 1 ? 0 : i % nb];
        y[i] = act1(rev ? eng_binary(op, bv, a[i]) : eng_binary(op, a[i], bv), e);
    }
}

/* y = act(((w0 x0 + w1 x1) + w2 x2) + ...), the terms in order (a weighted sum's multiplies and adds
 * in one pass: BiFPN's fast normalised fusion) */
static void K(wsum)(int terms, const float *const *x, const float *w, float *y, int64_t n, const k_epi *e) {
    v8 lo = splat(e->lo), hi = splat(e->hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8 acc = ld(x[0] + i) * splat(w[0]);
        for (int t = 1; t < terms; t++) acc = acc + ld(x[t] + i) * splat(w[t]);
        st(y + i, actv(acc, is_clip(e), lo, hi));
    }
    for (; i < n; i++) {
        float acc = x[0][i] * w[0];
        for (int t = 1; t < terms; t++) acc = acc + x[t][i] * w[t];
        y[i] = is_clip(e) ? act1(acc, e) : acc;
    }
    act_pass(y, n, e);
}

const cpu_kernels CAT(cpu_kernels, KSUF) = {
#define STR2(x) #x
#define STR(x) STR2(x)
    STR(KSUF), K(gemm), K(dw), K(dw_row), K(act), K(binary), K(wsum)};
