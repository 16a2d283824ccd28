/* The GEMM tiles of the AVX-512 kernel set (included by kernels.c when it is compiled with
 * -mavx512f): one zmm register holds a whole 16-column panel row, so a 12 x 32 tile runs on two
 * adjacent packed panels (24 accumulators, 2 B loads and 12 broadcasts per 24 FMAs), a 12 x 16
 * tile on a lone panel, and panels of at most 8 columns keep the 12 x 8 ymm tile. On cores with
 * two 512-bit FMA pipes (Intel server cores) that doubles the peak of the 256-bit tiles. */
#ifndef ODRT_CPU_GEMM_ZMM_H
#define ODRT_CPU_GEMM_ZMM_H

typedef float v16 __attribute__((vector_size(64), aligned(4), may_alias));

static inline v16 ld16(const float *p) { return *(const v16 *)p; }
static inline v16 splat16(float x) { return (v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }

typedef int32_t v16i __attribute__((vector_size(64), aligned(4), may_alias));
typedef uint32_t v16u __attribute__((vector_size(64), aligned(4), may_alias));
/* max/min keep x when it is NaN, as the 256-bit vmax/vmin do */
static inline v16 vmax16(v16 x, v16 lo) { return (v16)_mm512_max_ps((__m512)lo, (__m512)x); }
static inline v16 vmin16(v16 x, v16 hi) { return (v16)_mm512_min_ps((__m512)hi, (__m512)x); }
DEF_VEXP(vexp16, v16, v16i, v16u, splat16, vmin16, vmax16)
/* 1 / (1 + e^-y) on 16 lanes, cheaper than vexp16 and a division: e^t = 2^n p(r) with n = t log2(e)
 * rounded and r = t - n ln2 in two steps (vexp's Cephes polynomial), 2^n applied by vscalefps (which
 * saturates to +inf and flushes to 0 itself), the reciprocal by vrcp14ps and one Newton step (relative
 * error ~2^-28 before rounding). t = -y is clamped to [-88.7, 88.7] (NaN stays NaN: vmin16/vmax16):
 * sigmoid(-inf) = 0 (swish(-inf) = -inf * 0 = NaN) and sigmoid(+inf) = 1, as the reference gives. */
static inline v16 vsigmoid16(v16 y) {
    v16 t = vmin16(vmax16(-y, splat16(-88.7f)), splat16(88.7f));
    v16 n = (v16)_mm512_roundscale_ps((__m512)(t * splat16(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v16 r = t - n * splat16(0.693359375f) - n * splat16(-2.12194440e-4f);
    v16 p = splat16(1.9875691500e-4f);
    p = p * r + splat16(1.3981999507e-3f);
    p = p * r + splat16(8.3334519073e-3f);
    p = p * r + splat16(4.1665795894e-2f);
    p = p * r + splat16(1.6666665459e-1f);
    p = p * r + splat16(5.0000001201e-1f);
    p = p * r * r + r + splat16(1.0f);
    v16 d = (v16)_mm512_scalef_ps((__m512)p, (__m512)n) + splat16(1.0f);
    v16 q = (v16)_mm512_rcp14_ps((__m512)d);
    return q * (splat16(2.0f) - d * q);
}

/* one 16-column row of a tile: + residual, activation (act: the eng_act, a constant: identity,
 * clip, or sigmoid / swish on the registers, with act_pass's operations), stored to its nr
 * columns (masked when nr < 16) */
static FORCE_INLINE void epi16(float *c, const float *r, v16 y, int nr, const k_epi *e, const int act) {
    __mmask16 m = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    if (r) y += (v16)_mm512_maskz_loadu_ps(m, r);
    if (act == EACT_CLIP) y = vmin16(vmax16(y, splat16(e->lo)), splat16(e->hi));
    if (act == EACT_SIGMOID || act == EACT_SWISH) {
        v16 s = vsigmoid16(y);
        if (act == EACT_SWISH) s *= y;
        y = s;
    }
    _mm512_mask_storeu_ps(c, m, (__m512)y);
}

#define Z_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* A's rows of a 12-row tile. A full tile (full = 1, a constant) walks 4 pointers, rows 3r + j at
 * q[r][j * lda], so that the loop needs 4 address registers and lda rather than 12 (which spill);
 * a tail tile (mr < 12) keeps one pointer per row, the rows past mr repeating row 0. */
#define Z_A_SETUP                                                                      \
    const float *a[12], *q0 = a0, *q3 = a0 + 3 * lda, *q6 = a0 + 6 * lda, *q9 = a0 + 9 * lda; \
    if (!full)                                                                         \
        for (int i = 0; i < 12; i++) a[i] = a0 + (i < mr ? i : 0) * lda;
#define Z_A(i) (full ? (i < 3 ? q0 : i < 6 ? q3 : i < 9 ? q6 : q9)[(i % 3) * lda] : a[i][k])

/* 12 x 32 tile: panels B0 (16 columns) and B1 (nr1 <= 16 columns) */
static FORCE_INLINE void ukr_z2(int64_t K, const float *a0, int64_t lda, int mr, const float *B0, const float *B1,
                                const float *bias0, const float *bias1, float *C, int64_t ldc, int nr1, const float *R,
                                const k_epi *e, const int act, const int full) {
    Z_A_SETUP
    v16 bl = ld16(bias0), bh = ld16(bias1);
#define Z_DECL(i) v16 c##i##0 = bl, c##i##1 = bh;
    Z_ROWS(Z_DECL)
#undef Z_DECL
    for (int64_t k = 0; k < K; k++) {
        v16 b0 = ld16(B0 + 16 * k), b1 = ld16(B1 + 16 * k);
#define Z_FMA(i) { float x = Z_A(i); c##i##0 += x * b0, c##i##1 += x * b1; }
        Z_ROWS(Z_FMA)
#undef Z_FMA
        if (full) q0++, q3++, q6++, q9++;
    }
#define Z_EPI(i)                                                                      \
    if (i < mr) {                                                                     \
        float *c = C + i * ldc;                                                       \
        const float *r = R ? R + i * ldc : NULL;                                      \
        epi16(c, r, c##i##0, 16, e, act), epi16(c + 16, r ? r + 16 : NULL, c##i##1, nr1, e, act); \
    }
    Z_ROWS(Z_EPI)
#undef Z_EPI
}

/* 12 x 16 tile on one panel of nr <= 16 columns */
static FORCE_INLINE void ukr_z1(int64_t K, const float *a0, int64_t lda, int mr, const float *B, const float *bias, float *C,
                                int64_t ldc, int nr, const float *R, const k_epi *e, const int act, const int full) {
    Z_A_SETUP
    v16 bl = ld16(bias);
#define Z_DECL(i) v16 c##i = bl;
    Z_ROWS(Z_DECL)
#undef Z_DECL
    for (int64_t k = 0; k < K; k++) {
        v16 b0 = ld16(B + 16 * k);
#define Z_FMA(i) c##i += Z_A(i) * b0;
        Z_ROWS(Z_FMA)
#undef Z_FMA
        if (full) q0++, q3++, q6++, q9++;
    }
#define Z_EPI(i) if (i < mr) epi16(C + i * ldc, R ? R + i * ldc : NULL, c##i, nr, e, act);
    Z_ROWS(Z_EPI)
#undef Z_EPI
}
#undef Z_A
#undef Z_A_SETUP
#undef Z_ROWS

/* columns [n, n + 32) (pair) or [n, n + 16) of all M rows, the activation a compile-time choice */
static FORCE_INLINE void gemm_z_cols(int64_t M, int pair, int nr, int64_t K, const float *A, int64_t lda, const float *Bp,
                                     const float *bias0, const float *bias1, float *C, int64_t ldc, const float *R,
                                     const k_epi *e, const int act) {
    for (int64_t m = 0; m < M; m += 12) {
        int mr = (int)(M - m < 12 ? M - m : 12);
        const float *Rm = R ? R + m * ldc : NULL;
        const float *Am = A + m * lda;
        float *Cm = C + m * ldc;
        if (pair && mr == 12) ukr_z2(K, Am, lda, mr, Bp, Bp + 16 * K, bias0, bias1, Cm, ldc, nr - 16, Rm, e, act, 1);
        else if (pair) ukr_z2(K, Am, lda, mr, Bp, Bp + 16 * K, bias0, bias1, Cm, ldc, nr - 16, Rm, e, act, 0);
        else if (nr > 8 && mr == 12) ukr_z1(K, Am, lda, mr, Bp, bias0, Cm, ldc, nr, Rm, e, act, 1);
        else if (nr > 8) ukr_z1(K, Am, lda, mr, Bp, bias0, Cm, ldc, nr, Rm, e, act, 0);
        else ukr8(K, Am, lda, mr, Bp, bias0, Cm, ldc, nr, Rm, e, act);
    }
}
#define Z_VARIANT(name, act)                                                                                          \
    static void name(int64_t M, int pair, int nr, int64_t K, const float *A, int64_t lda, const float *Bp,          \
                     const float *b0, const float *b1, float *C, int64_t ldc, const float *R, const k_epi *e) {    \
        gemm_z_cols(M, pair, nr, K, A, lda, Bp, b0, b1, C, ldc, R, e, act);                                         \
    }
Z_VARIANT(gemm_z_id, EACT_ID)
Z_VARIANT(gemm_z_clip, EACT_CLIP)
Z_VARIANT(gemm_z_sigmoid, EACT_SIGMOID)
Z_VARIANT(gemm_z_swish, EACT_SWISH)
#undef Z_VARIANT

static void K(gemm)(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *A, int64_t lda, const float *B,
                    const float *bias, float *C, int64_t ldc, const float *R, const k_epi *e) {
    float bpad[32];
    for (int64_t n = n0; n < n1;) {
        /* a pair when there are more than 16 columns; else one panel (zmm, or the
         * 12 x 8 tile for at most 8 columns) */
        int64_t rem = n1 - n;
        int pair = rem > 16, nr = (int)(pair ? (rem < 32 ? rem : 32) : (rem < 16 ? rem : 16));
        const float *bb = bias + n;
        if (nr < (pair ? 32 : 16)) {
            memset(bpad, 0, sizeof bpad);
            memcpy(bpad, bias + n, sizeof(float) * (size_t)nr);
            bb = bpad;
        }
        BY_ACT(e, gemm_z)(M, pair, nr, K, A, lda, B + (n / 16) * K * 16, bb, bb + 16, C + n, ldc, R ? R + n : NULL, e);
        n += pair ? 32 : 16;
    }
}

#endif
