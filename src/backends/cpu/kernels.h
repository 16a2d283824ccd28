/* CPU float kernels, compiled once per ISA from kernels.c (GCC vector extensions: AVX2+FMA and
 * the x86-64 baseline on x86-64, NEON on AArch64) and chosen at load by cpu_kernels_pick(). */
#ifndef ODRT_CPU_KERNELS_H
#define ODRT_CPU_KERNELS_H

#include <stdint.h>

typedef struct k_epi {
    int act; /* eng_act */
    float lo, hi;
} k_epi;

typedef struct k_dw {
    const float *x, *w, *bias; /* x NHWC [N][H][W][C], w [kh*kw][C] */
    float *y;                  /* NHWC [N][OH][OW][C] */
    int64_t H, W, C, OH, OW;
    int kh, kw, sh, sw, dh, dw, pt, pl;
    k_epi e;
    const float *zeros; /* >= W * C zero floats: the rows above and below the image */
} k_dw;

typedef struct cpu_kernels {
    const char *isa;
    /* C[m, n] = act(sum_k A[m, k] B[k, n] + bias[n] (+ R[m, n])) for rows [0, M), columns
     * [n0, n1) (n0 multiple of 16); B packed in panels of 16 columns: [N/16][K][16] */
    void (*gemm)(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *A, int64_t lda, const float *B,
                 const float *bias, float *C, int64_t ldc, const float *R, const k_epi *e);
    /* depthwise conv, output rows [r0, r1) of all images (row index = n * OH + oy) */
    void (*dw)(const k_dw *a, int64_t r0, int64_t r1);
    /* one output row of a 3x3, dilation-1, stride 1 or 2 depthwise conv from its 3 input rows
     * (NULL = outside the image); a->x, a->y and a->OH are not used */
    void (*dw_row)(const k_dw *a, const float *const rows[3], float *yrow);
    /* y = act(x) */
    void (*act)(const float *x, float *y, int64_t n, const k_epi *e);
    /* y = act(a op b) with b a vector of length nb repeated (nb == n: same shape; nb == 1: scalar) */
    void (*binary)(int op, int rev, const float *a, const float *b, int64_t nb, float *y, int64_t n, const k_epi *e);
    /* y = act(sum of w[t] x[t] over t in [0, terms), added in that order), n elements */
    void (*wsum)(int terms, const float *const *x, const float *w, float *y, int64_t n, const k_epi *e);
} cpu_kernels;

/* int8 GEMM of the int8 1x1 convolutions (kernels_i8.c), chosen apart from the float set */
typedef struct cpu_i8_kernels {
    const char *isa;
    /* rows [0, M) of x (K floats, ldx apart) quantized (x[k] * inv[k] rounded half to even, saturated to
     * [-128, 127], or with unsig to [0, 255]) into q [M][Kp] in the set's own encoding, Kp >= K a
     * multiple of 4, the pad zero */
    void (*quant)(const float *x, int64_t M, int64_t K, int64_t ldx, const float *inv, int unsig, uint8_t *q, int64_t Kp);
    /* C[m, n] = act(sum_k q[m, k] w[k, n] * step[n] + bias[n] (+ R[m, n])) for q rows quant wrote
     * with the same unsig (comp: 128 * the column's weight sum, which the VNNI set's encoding needs);
     * rows [0, M), columns [n0, n1) (n0 a multiple of 16); act ID or CLIP (the caller applies the
     * others); B packed [N/16][Kp/4][16][4] */
    void (*gemm)(int64_t M, int64_t n0, int64_t n1, int64_t Kp, const uint8_t *A, int64_t lda, const int8_t *B,
                 const int32_t *comp, int unsig, const float *step, const float *bias, float *C, int64_t ldc,
                 const float *R, const k_epi *e);
} cpu_i8_kernels;
extern const cpu_i8_kernels cpu_i8_kernels_generic;
#if defined(__x86_64__)
extern const cpu_i8_kernels cpu_i8_kernels_avx2, cpu_i8_kernels_avxvnni, cpu_i8_kernels_avx512vnni;
/* the CPU has AVX-VNNI (dispatch.c; meaningful where AVX2 is) */
int cpu_has_avxvnni(void);
#elif defined(__aarch64__)
extern const cpu_i8_kernels cpu_i8_kernels_neondot;
#endif
/* the best int8 set this CPU runs ("generic" asks for the scalar one) */
const cpu_i8_kernels *cpu_i8_kernels_pick(const char *isa);

extern const cpu_kernels cpu_kernels_generic;
#if defined(__x86_64__)
extern const cpu_kernels cpu_kernels_avx2;
extern const cpu_kernels cpu_kernels_avx512;
#endif
/* the set named ("generic", "avx2", "avx512"), or for NULL the fastest this CPU runs; a set this
 * CPU cannot run is not chosen: the best it can run is */
const cpu_kernels *cpu_kernels_pick(const char *isa);

#endif
