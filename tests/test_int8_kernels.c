/* The int8 1x1 convolution of CPU engines (odrt build --precision int8): engine/pack.c's packing and every
 * int8 kernel set this CPU runs (kernels_i8.c: generic, AVX2, AVX-VNNI) against the arithmetic the
 * Q/DQ graph defines, computed here from the float inputs in double: the input quantized per
 * channel as ONNX's QuantizeLinear does (x / step, half to even, saturated to [-128, 127] or [0, 255]),
 * the weights times the input steps quantized per output channel (symmetric, max / 127), their
 * exact integer dot product, times the column's step, plus bias and residual, then Clip. Random
 * shapes (K not a multiple of 4 or 32, N not a multiple of 16), signed and unsigned inputs,
 * values past the range (saturation) and ties. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/engine.h"
#include "engine/plan_util.h"
#include "backends/cpu/kernels.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* x / step rounded half to even and saturated, as QuantizeLinear (x times 1 / step, as the engine) */
static int32_t q_ref(float x, float step, int lo, int hi) {
    float v = nearbyintf(x * (1.0f / step)); /* (the engine multiplies by 1 / step: so does the reference here) */
    return v != v ? lo : v < (float)lo ? lo : v > (float)hi ? hi : (int32_t)v;
}

/* (not vectorised: AArch64 GCC 12 crashes vectorising the reference's reduction; it is a reference) */
__attribute__((optimize("no-tree-vectorize"))) static int one_case(const cpu_i8_kernels *k8, int M, int K, int N, int unsig, int act, int residual) {
    eng_plan p;
    memset(&p, 0, sizeof p);
    p.owns_blob = 1;
    eng_op op;
    memset(&op, 0, sizeof op);
    op.kind = EOP_CONV, op.conv_kind = CONV_GEMM, op.kh = op.kw = op.sh = op.sw = op.dh = op.dw = 1, op.cin = K, op.cout = N;
    op.q_unsigned = unsig, op.residual = -1;
    float *W = malloc(sizeof(float) * (size_t)N * K), *bias = malloc(sizeof(float) * (size_t)N), *steps = malloc(sizeof(float) * (size_t)K);
    float *x = malloc(sizeof(float) * (size_t)M * K), *R = malloc(sizeof(float) * (size_t)M * N);
    float *y = malloc(sizeof(float) * (size_t)M * N);
    uint8_t *q = malloc((size_t)M * (size_t)(K + 4) + 64);
    int bad = 0;
    if (!W || !bias || !steps || !x || !R || !y || !q) {
        printf("FAIL out of memory\n");
        bad = 1;
        goto out;
    }
    for (int i = 0; i < N * K; i++) W[i] = (float)(urand() * 2 - 1) * (i % 7 == 0 ? 3.0f : 0.5f);
    for (int n = 0; n < N; n++) bias[n] = (float)(urand() - 0.5);
    for (int k = 0; k < K; k++) steps[k] = (float)(0.01 + 0.05 * urand());
    op.q_scale = 0.03f; /* (nominal: the steps per channel are what count) */
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            double r = urand(), v = (unsig ? urand() * 300 : urand() * 300 - 150) * steps[k];
            if (r < 0.05) v = (unsig ? 260 : -140) * steps[k]; /* saturates */
            else if (r < 0.1) v = ((int)(v / steps[k]) + 0.5) * steps[k]; /* a tie (as float) */
            x[m * K + k] = (float)v;
        }
    for (int i = 0; i < M * N; i++) R[i] = (float)(urand() - 0.5);
    k_epi e = {act ? EACT_CLIP : EACT_ID, 0.0f, 6.0f};
    if (eng_pack_conv_i8(&p, &op, W, bias, steps) != ODRT_OK) {
        printf("FAIL pack: %s\n", odrt_last_error());
        bad = 1;
        goto out;
    }
    const int8_t *B = (const int8_t *)(p.blob + op.w_off);
    int64_t Kp = eng_conv_i8_kp(&op), np = (N + 15) / 16;
    const int32_t *comp = (const int32_t *)(B + np * Kp * 16);
    const float *st = (const float *)(comp + np * 16), *inv = st + np * 16;
    k8->quant(x, M, K, K, inv, unsig, q, Kp);
    for (int n0 = 0; n0 < N; n0 += 32) /* column blocks as the runner splits them */
        k8->gemm(M, n0, n0 + 32 < N ? n0 + 32 : N, Kp, q, Kp, B, comp, unsig, st, (const float *)(p.blob + op.b_off), y, N,
                 residual ? R : NULL, &e);
    for (int n = 0; n < N && !bad; n++) {
        double m = 0;
        for (int k = 0; k < K; k++) m = fmax(m, fabs((double)(W[n * K + k] * steps[k])));
        float wst = m > 0 ? (float)m / 127.0f : 1.0f;
        for (int i = 0; i < M && !bad; i++) {
            int64_t dot = 0;
            for (int k = 0; k < K; k++) {
                int32_t wq = (int32_t)nearbyintf((W[n * K + k] * steps[k]) / wst);
                dot += (int64_t)wq * q_ref(x[i * K + k], steps[k], unsig ? 0 : -128, unsig ? 255 : 127);
            }
            double want = (double)dot * wst + bias[n] + (residual ? R[i * N + n] : 0);
            if (act) want = want < 0 ? 0 : want > 6 ? 6 : want;
            double got = y[i * N + n];
            if (!(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)))) {
                printf("FAIL %s M=%d K=%d N=%d unsigned=%d: y[%d, %d] = %.7g, want %.7g\n", k8->isa, M, K, N, unsig, i, n, got, want);
                bad = 1;
            }
        }
    }
out:
    free(W), free(bias), free(steps), free(x), free(R), free(y), free(q);
    free(p.blob);
    return bad;
}

int main(void) {
    /* every set this CPU runs: the scalar one, the best pick, and on x86-64 each of AVX2, AVX-VNNI and
     * AVX-512 VNNI the CPU has */
    const cpu_i8_kernels *sets[8];
    int n = 0, cases = 0;
    sets[n++] = cpu_i8_kernels_pick("generic");
    sets[n++] = cpu_i8_kernels_pick(NULL);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) sets[n++] = &cpu_i8_kernels_avx2;
    if (__builtin_cpu_supports("avx2") && cpu_has_avxvnni()) sets[n++] = &cpu_i8_kernels_avxvnni;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni"))
        sets[n++] = &cpu_i8_kernels_avx512vnni;
#endif
    const int shapes[][3] = {{1, 4, 16}, {7, 24, 144}, {13, 37, 20}, {48, 96, 576}, {6, 320, 1280}, {5, 3, 5}, {48, 160, 33}, {25, 64, 48}};
    for (int s = 0; s < n; s++) {
        int dup = 0;
        for (int t = 0; t < s; t++) dup |= sets[t] == sets[s];
        if (dup) continue;
        for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
            for (int u = 0; u < 2; u++) {
                failures += one_case(sets[s], shapes[t][0], shapes[t][1], shapes[t][2], u, (int)(t % 2), (int)((t + u) % 2));
                cases++;
            }
        printf("int8 kernels %s: checked\n", sets[s]->isa);
    }
    printf("%d cases, %d failed\n", cases, failures);
    return failures ? 1 : 0;
}
