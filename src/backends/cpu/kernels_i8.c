/* Int8 GEMM kernels of the CPU engine's int8 1x1 convolutions (odrt build --precision int8),
 * compiled once per ISA like kernels.c (KSUF, CMake): _avx512vnni (AVX-512 VNNI vpdpbusd on 512-bit
 * registers, a 12-row x 32-column tile in 24 of the 32 registers; on this project's AMD EPYC it
 * multiplies 4x as fast as the VEX-encoded 256-bit form), _avxvnni (AVX-VNNI vpdpbusd on 256-bit
 * registers: u8 activations x s8 weights), _avx2 (no VNNI: vpmaddubsw, kept from saturating: a
 * signed input as |a| x sign(w, a), |a| <= 128; an unsigned one as 2 (a >> 1) x w + (a & 1) x w),
 * _neondot (AArch64 ARMv8.2 dot product, sdot on 128-bit registers: s8 x s8; Orin's Cortex-A78AE
 * has it), _generic (scalar).
 *
 * Activations are quantized per row block as ONNX's QuantizeLinear does (x / step rounded half to
 * even, saturated to [-128, 127], or for an input >= 0 to [0, 255]; here x times 1 / step). VNNI
 * stores a signed q as q + 128 (its unsigned operand) and takes 128 * (the column's weight sum) off
 * the dot product; the NEON dot product stores an unsigned q as q - 128 (its signed operand) and
 * adds it back. Weights are packed [panel][Kp / 4][16][4] (engine/pack.c): one 32-bit group of 4 k per
 * column, so one vpdpbusd multiplies a broadcast group of one row into 8 columns. The epilogue:
 * (acc - comp) * step[n] + bias[n] (+ residual), Clip. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/engine.h"
#include "backends/cpu/kernels.h"

#ifndef KSUF
#define KSUF generic
#endif
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define K(name) CAT(name, KSUF)

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>
#endif

#if defined(__AVXVNNI__) || defined(__AVX512VNNI__)
#define VNNI 1
#else
#define VNNI 0
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define ZMM 1
#else
#define ZMM 0
#endif
#if defined(__ARM_FEATURE_DOTPROD)
#define SDOT 1
#else
#define SDOT 0
#endif
/* the stored byte is q ^ 0x80 (q + 128 for a signed q, q - 128 for an unsigned one) where the
 * set's dot product wants the other signedness; comp then corrects the sum by -/+ 128 * colsum */
#define FLIPS(unsig) ((VNNI && !(unsig)) || (SDOT && (unsig)))

static inline float epi1(int32_t acc, float step, float bias, const float *r, const k_epi *e) {
    float v = (float)acc * step + bias;
    if (r) v += *r;
    if (e->act == EACT_CLIP) v = v < e->lo ? e->lo : v > e->hi ? e->hi : v; /* NaN stays NaN */
    return v;
}

/* rows [0, M) of x (K floats each, ldx apart) -> q [M][Kp] bytes, the pad (k >= K) zero */
static void K(quant)(const float *x, int64_t M, int64_t K, int64_t ldx, const float *inv, int unsig, uint8_t *q, int64_t Kp) {
    const int lo = unsig ? 0 : -128, hi = unsig ? 255 : 127;
    const uint8_t flip = FLIPS(unsig) ? 0x80 : 0;
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * ldx;
        uint8_t *qr = q + m * Kp;
        int64_t k = 0;
#if ZMM
        const __m128i zflip = _mm_set1_epi8((char)flip);
        for (; k + 16 <= K; k += 16) { /* (NaN: cvtps gives -2^31, saturated to lo either way) */
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + k), _mm512_loadu_ps(inv + k)));
            __m128i b = unsig ? _mm512_cvtusepi32_epi8(_mm512_max_epi32(v, _mm512_setzero_si512())) : _mm512_cvtsepi32_epi8(v);
            _mm_storeu_si128((__m128i *)(qr + k), _mm_xor_si128(b, zflip));
        }
#endif
#if defined(__AVX2__)
        const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), vflip = _mm256_set1_epi8((char)flip);
        for (; k + 32 <= K; k += 32) {
            __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + k), _mm256_loadu_ps(inv + k)));
            __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + k + 8), _mm256_loadu_ps(inv + k + 8)));
            __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + k + 16), _mm256_loadu_ps(inv + k + 16)));
            __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + k + 24), _mm256_loadu_ps(inv + k + 24)));
            __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
            __m256i v = unsig ? _mm256_packus_epi16(ab, cd) : _mm256_packs_epi16(ab, cd);
            _mm256_storeu_si256((__m256i *)(qr + k), _mm256_xor_si256(_mm256_permutevar8x32_epi32(v, perm), vflip));
        }
#elif SDOT
        const uint8x16_t vflip = vdupq_n_u8(flip);
        for (; k + 16 <= K; k += 16) {
            int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(xr + k), vld1q_f32(inv + k)));
            int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(xr + k + 4), vld1q_f32(inv + k + 4)));
            int32x4_t c = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(xr + k + 8), vld1q_f32(inv + k + 8)));
            int32x4_t d = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(xr + k + 12), vld1q_f32(inv + k + 12)));
            int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)), cd = vcombine_s16(vqmovn_s32(c), vqmovn_s32(d));
            uint8x16_t v = unsig ? vcombine_u8(vqmovun_s16(ab), vqmovun_s16(cd)) : vreinterpretq_u8_s8(vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd)));
            vst1q_u8(qr + k, veorq_u8(v, vflip));
        }
#endif
        for (; k < K; k++) { /* (cvtps gives NaN as -2^31: saturated to lo; NEON's cvtn gives 0) */
            float v = nearbyintf(xr[k] * inv[k]);
            int32_t i = v != v ? lo : v > (float)hi ? hi : v < (float)lo ? lo : (int32_t)v;
            qr[k] = (uint8_t)(i & 0xff) ^ flip;
        }
        for (; k < Kp; k++) qr[k] = flip; /* q = 0 (the weights there are zero too) */
    }
}

#if defined(__AVX2__)
static inline __m256i dot4(__m256i acc, __m256i a, __m256i b, int unsig) {
#if VNNI
    (void)unsig;
    return _mm256_dpbusd_avx_epi32(acc, a, b);
#else
    const __m256i ones = _mm256_set1_epi16(1);
    if (!unsig) {
        __m256i t = _mm256_maddubs_epi16(_mm256_abs_epi8(a), _mm256_sign_epi8(b, a));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(t, ones));
    }
    const __m256i m7 = _mm256_set1_epi8(0x7f), one = _mm256_set1_epi8(1);
    __m256i h = _mm256_and_si256(_mm256_srli_epi16(a, 1), m7), l = _mm256_and_si256(a, one);
    __m256i t = _mm256_add_epi32(_mm256_slli_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(h, b), ones), 1),
                                 _mm256_madd_epi16(_mm256_maddubs_epi16(l, b), ones));
    return _mm256_add_epi32(acc, t);
#endif
}

/* rows [0, R) (R <= ROWS) x one 16-column panel: acc[r][0..1] */
#define ROWS 6
static inline __attribute__((always_inline)) void tile_rows(int R, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B,
                                                            int unsig, __m256i acc[ROWS][2]) {
    for (int64_t k = 0; k < Kp; k += 4) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(B + k * 16)), b1 = _mm256_loadu_si256((const __m256i *)(B + k * 16 + 32));
        for (int r = 0; r < R; r++) {
            int32_t g;
            memcpy(&g, A + r * lda + k, 4);
            __m256i a = _mm256_set1_epi32(g);
            acc[r][0] = dot4(acc[r][0], a, b0, unsig);
            acc[r][1] = dot4(acc[r][1], a, b1, unsig);
        }
    }
}

static inline void tile(int R, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B, int unsig, __m256i acc[ROWS][2]) {
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    if (R == ROWS) tile_rows(ROWS, Kp, A, lda, B, unsig, acc); /* (a constant count: unrolled, in registers) */
    else tile_rows(R, Kp, A, lda, B, unsig, acc);
}
#endif

#if SDOT
/* rows [0, R) (R <= ROWS8) x one 16-column panel: acc[r][0..3], 4 columns each; one sdot multiplies
 * a row's 4-byte group (duplicated) into 4 columns' 4 bytes */
#define ROWS8 6
static inline __attribute__((always_inline)) void sdot_rows(int R, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B,
                                                            int32x4_t acc[ROWS8][4]) {
    for (int64_t k = 0; k < Kp; k += 4) {
        int8x16_t b[4];
        for (int q = 0; q < 4; q++) b[q] = vld1q_s8(B + k * 16 + 16 * q);
        for (int r = 0; r < R; r++) {
            int32_t g;
            memcpy(&g, A + r * lda + k, 4);
            int8x16_t a = vreinterpretq_s8_s32(vdupq_n_s32(g));
            for (int q = 0; q < 4; q++) acc[r][q] = vdotq_s32(acc[r][q], b[q], a);
        }
    }
}

static inline void sdot_tile(int R, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B, int32x4_t acc[ROWS8][4]) {
    for (int r = 0; r < ROWS8; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = vdupq_n_s32(0);
    if (R == ROWS8) sdot_rows(ROWS8, Kp, A, lda, B, acc);
    else sdot_rows(R, Kp, A, lda, B, acc);
}
#endif

#if ZMM
/* rows [0, R) (R <= ZR) x P (1 or 2) 16-column panels: acc[r][p] */
#define ZR 12
static inline __attribute__((always_inline)) void zmm_rows(int R, int P, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B0,
                                                           const int8_t *B1, __m512i acc[ZR][2]) {
    for (int64_t k = 0; k < Kp; k += 4) {
        __m512i b0 = _mm512_loadu_si512(B0 + k * 16), b1 = P > 1 ? _mm512_loadu_si512(B1 + k * 16) : b0;
        for (int r = 0; r < R; r++) {
            int32_t g;
            memcpy(&g, A + r * lda + k, 4);
            __m512i a = _mm512_set1_epi32(g);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], a, b0);
            if (P > 1) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], a, b1);
        }
    }
}

/* the whole int8 GEMM on 512-bit registers (gemm_i8's contract); comp_sign as there */
static void zmm_gemm(int64_t M, int64_t n0, int64_t n1, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B, const int32_t *comp,
                     int comp_sign, const float *step, const float *bias, float *C, int64_t ldc, const float *R, const k_epi *e) {
    const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);
    for (int64_t p0 = n0; p0 < n1; p0 += 32) {
        int P = n1 - p0 > 16 ? 2 : 1;
        const int8_t *B0 = B + (p0 / 16) * Kp * 16, *B1 = B0 + Kp * 16;
        __m512i cz[2];
        __mmask16 mk[2];
        for (int p = 0; p < P; p++) {
            int64_t nc = n1 - (p0 + 16 * p) < 16 ? n1 - (p0 + 16 * p) : 16;
            mk[p] = (__mmask16)(nc == 16 ? 0xffffu : (1u << nc) - 1u);
            cz[p] = _mm512_mullo_epi32(_mm512_loadu_si512(comp + p0 + 16 * p), _mm512_set1_epi32(comp_sign));
        }
        for (int64_t m = 0; m < M; m += ZR) {
            int rows = M - m < ZR ? (int)(M - m) : ZR;
            __m512i acc[ZR][2];
            for (int r = 0; r < ZR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
            if (rows == ZR && P == 2) zmm_rows(ZR, 2, Kp, A + m * lda, lda, B0, B1, acc); /* (constant counts: unrolled) */
            else if (rows == ZR) zmm_rows(ZR, 1, Kp, A + m * lda, lda, B0, B1, acc);
            else zmm_rows(rows, P, Kp, A + m * lda, lda, B0, B1, acc);
            for (int r = 0; r < rows; r++)
                for (int p = 0; p < P; p++) { /* (bias has cout floats: masked past them; steps are padded to 16) */
                    int64_t c0 = p0 + 16 * p;
                    float *y = C + (m + r) * ldc + c0;
                    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][p], cz[p])), _mm512_loadu_ps(step + c0),
                                               _mm512_maskz_loadu_ps(mk[p], bias + c0));
                    if (R) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[p], R + (m + r) * ldc + c0));
                    if (e->act == EACT_CLIP) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
                    _mm512_mask_storeu_ps(y, mk[p], v);
                }
        }
    }
}
#endif

/* C[m, n] for rows [0, M), columns [n0, n1) (n0 a multiple of 16): the epilogue of the int8 dot
 * products of q rows (Kp bytes, lda apart) with the packed panels */
static void K(gemm_i8)(int64_t M, int64_t n0, int64_t n1, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B,
                       const int32_t *comp, int unsig, const float *step, const float *bias, float *C, int64_t ldc,
                       const float *R, const k_epi *e) {
    /* VNNI's signed inputs came in +128: subtract 128 * colsum; sdot's unsigned ones -128: add it */
    const int comp_sign = FLIPS(unsig) ? (VNNI ? 1 : -1) : 0;
#if ZMM
    zmm_gemm(M, n0, n1, Kp, A, lda, B, comp, comp_sign, step, bias, C, ldc, R, e);
    return;
#endif
    for (int64_t p0 = n0; p0 < n1; p0 += 16) {
        const int8_t *Bp = B + (p0 / 16) * Kp * 16;
        int nc = n1 - p0 < 16 ? (int)(n1 - p0) : 16;
        int32_t cp[16];
        for (int j = 0; j < 16; j++) cp[j] = comp_sign * comp[p0 + j];
#if defined(__AVX2__)
        const __m256i c0 = _mm256_loadu_si256((const __m256i *)cp), c1 = _mm256_loadu_si256((const __m256i *)(cp + 8));
        for (int64_t m = 0; m < M; m += ROWS) {
            int rows = M - m < ROWS ? (int)(M - m) : ROWS;
            __m256i acc[ROWS][2];
            tile(rows, Kp, A + m * lda, lda, Bp, unsig, acc);
            for (int r = 0; r < rows; r++) {
                float *y = C + (m + r) * ldc + p0;
                const float *rr = R ? R + (m + r) * ldc + p0 : NULL;
                __m256i a0 = _mm256_sub_epi32(acc[r][0], c0), a1 = _mm256_sub_epi32(acc[r][1], c1);
                if (nc == 16) { /* (bias has cout floats: a partial panel reads it per column) */
                    __m256 v0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a0), _mm256_loadu_ps(step + p0), _mm256_loadu_ps(bias + p0));
                    __m256 v1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a1), _mm256_loadu_ps(step + p0 + 8), _mm256_loadu_ps(bias + p0 + 8));
                    if (rr) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(rr)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(rr + 8));
                    if (e->act == EACT_CLIP) {
                        const __m256 lo = _mm256_set1_ps(e->lo), hi = _mm256_set1_ps(e->hi);
                        v0 = _mm256_min_ps(hi, _mm256_max_ps(lo, v0)), v1 = _mm256_min_ps(hi, _mm256_max_ps(lo, v1));
                    }
                    _mm256_storeu_ps(y, v0), _mm256_storeu_ps(y + 8, v1);
                } else {
                    int32_t ai[16];
                    _mm256_storeu_si256((__m256i *)ai, a0), _mm256_storeu_si256((__m256i *)(ai + 8), a1);
                    for (int j = 0; j < nc; j++) y[j] = epi1(ai[j], step[p0 + j], bias[p0 + j], rr ? rr + j : NULL, e);
                }
            }
        }
#elif SDOT
        for (int64_t m = 0; m < M; m += ROWS8) {
            int rows = M - m < ROWS8 ? (int)(M - m) : ROWS8;
            int32x4_t acc[ROWS8][4];
            sdot_tile(rows, Kp, A + m * lda, lda, Bp, acc);
            for (int r = 0; r < rows; r++) {
                float *y = C + (m + r) * ldc + p0;
                const float *rr = R ? R + (m + r) * ldc + p0 : NULL;
                int32_t ai[16];
                for (int q = 0; q < 4; q++) vst1q_s32(ai + 4 * q, vsubq_s32(acc[r][q], vld1q_s32(cp + 4 * q)));
                if (nc == 16) {
                    for (int q = 0; q < 4; q++) {
                        float32x4_t v = vfmaq_f32(vld1q_f32(bias + p0 + 4 * q), vcvtq_f32_s32(vld1q_s32(ai + 4 * q)), vld1q_f32(step + p0 + 4 * q));
                        if (rr) v = vaddq_f32(v, vld1q_f32(rr + 4 * q));
                        if (e->act == EACT_CLIP) v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(e->lo)), vdupq_n_f32(e->hi));
                        vst1q_f32(y + 4 * q, v);
                    }
                } else {
                    for (int j = 0; j < nc; j++) y[j] = epi1(ai[j], step[p0 + j], bias[p0 + j], rr ? rr + j : NULL, e);
                }
            }
        }
#else
        for (int64_t m = 0; m < M; m++) {
            const uint8_t *a = A + m * lda;
            for (int j = 0; j < nc; j++) {
                int32_t acc = 0;
                for (int64_t k = 0; k < Kp; k++)
                    acc += (unsig ? (int32_t)a[k] : (int32_t)(int8_t)a[k]) * Bp[(k / 4 * 16 + j) * 4 + k % 4]; /* (no flips here) */
                C[m * ldc + p0 + j] = epi1(acc - cp[j], step[p0 + j], bias[p0 + j], R ? R + m * ldc + p0 + j : NULL, e);
            }
        }
#endif
    }
}

const cpu_i8_kernels CAT(cpu_i8_kernels, KSUF) = {
#define STR2(x) #x
#define STR(x) STR2(x)
    STR(KSUF), K(quant), K(gemm_i8)};
