/* The CPU float kernels that have tiled fast paths beside a bounds-checked one: every set this CPU
 * runs (generic, avx2, avx512) against the arithmetic computed here in double.
 *   - depthwise convolution (3x3 and 5x5 tiles, stride 1 and 2, the generic pixel for the rest):
 *     random shapes with widths below, at and past a tile, channels not in 8s or 16s, symmetric and
 *     asymmetric (SAME) padding, batch 2, identity / clip / swish;
 *   - the weighted sum (BiFPN's fusion: sum of w_t x_t, then the activation), lengths not in 8s;
 *   - sigmoid and swish over the float range and at its edges (+-inf, NaN, exp's overflow bounds).
 * Bound: |got - ref| <= 1e-5 x (sum of |terms| + 1), the activation's own rounding included. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/engine.h"
#include "backends/cpu/kernels.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float frand(void) { /* [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
}

static double act_ref(double x, int act, double lo, double hi) {
    if (act == EACT_CLIP) return x < lo ? lo : x > hi ? hi : x;
    if (act == EACT_SWISH) return x / (1.0 + exp(-x));
    return x;
}

static int dw_case(const cpu_kernels *k, int N, int H, int W, int C, int ks, int s, int pt, int pl, int pb, int pr, int act) {
    int OH = (H + pt + pb - ks) / s + 1, OW = (W + pl + pr - ks) / s + 1, bad = 0;
    if (OH < 1 || OW < 1) return 0;
    size_t nx = (size_t)N * H * W * C, ny = (size_t)N * OH * OW * C;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * (size_t)ks * ks * C), *b = malloc(sizeof(float) * (size_t)C);
    float *y = malloc(sizeof(float) * ny), *zeros = calloc((size_t)W * C + 16, sizeof(float));
    for (size_t i = 0; i < nx; i++) x[i] = frand() * 4;
    for (int i = 0; i < ks * ks * C; i++) w[i] = frand();
    for (int i = 0; i < C; i++) b[i] = frand();
    k_dw a = {x, w, b, y, H, W, C, OH, OW, ks, ks, s, s, 1, 1, pt, pl, {act, 0.0f, 6.0f}, zeros};
    k->dw(&a, 0, (int64_t)N * OH);
    for (int n = 0; n < N && !bad; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < C; c++) {
                    double acc = b[c], mag = fabs(b[c]);
                    for (int ky = 0; ky < ks; ky++)
                        for (int kx = 0; kx < ks; kx++) {
                            int iy = oy * s - pt + ky, ix = ox * s - pl + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            double t = (double)x[(((size_t)n * H + iy) * W + ix) * C + c] * w[(ky * ks + kx) * C + c];
                            acc += t, mag += fabs(t);
                        }
                    double want = act_ref(acc, act, 0, 6), got = y[(((size_t)n * OH + oy) * OW + ox) * C + c];
                    if (!(fabs(got - want) <= 1e-5 * (mag + 1))) {
                        CHECK(0, "%s dw %dx%d s%d N%d %dx%dx%d pads %d,%d,%d,%d act %d: (%d,%d,%d,%d) %.7g, want %.7g", k->isa, ks, ks, s, N,
                              H, W, C, pt, pl, pb, pr, act, n, oy, ox, c, got, want);
                        bad = 1;
                        break;
                    }
                }
    free(x), free(w), free(b), free(y), free(zeros);
    return !bad;
}

static void wsum_case(const cpu_kernels *k, int terms, int n, int act) {
    float *x[ENG_MAX_IN], wt[ENG_MAX_IN], *y = malloc(sizeof(float) * (size_t)n);
    for (int t = 0; t < terms; t++) {
        x[t] = malloc(sizeof(float) * (size_t)n), wt[t] = frand();
        for (int i = 0; i < n; i++) x[t][i] = frand() * 8;
    }
    const k_epi e = {act, 0.0f, 6.0f};
    k->wsum(terms, (const float *const *)x, wt, y, n, &e);
    for (int i = 0; i < n; i++) {
        double acc = 0, mag = 0;
        for (int t = 0; t < terms; t++) acc += (double)wt[t] * x[t][i], mag += fabs((double)wt[t] * x[t][i]);
        double want = act_ref(acc, act, 0, 6);
        if (!(fabs(y[i] - want) <= 1e-5 * (mag + 1))) {
            CHECK(0, "%s wsum %d terms n %d act %d: [%d] %.7g, want %.7g", k->isa, terms, n, act, i, y[i], want);
            break;
        }
    }
    for (int t = 0; t < terms; t++) free(x[t]);
    free(y);
}

/* sigmoid and swish (the vectorised exp and reciprocal of each set): values across the range, and
 * the reference's answers at the edges (sigmoid(-inf) = 0, sigmoid(inf) = 1, swish(-inf) = NaN,
 * NaN stays NaN) */
static void act_case(const cpu_kernels *k, int act) {
    enum { N = 16 * 20 + 11 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - N / 2) * 0.61f;
    x[3] = -INFINITY, x[4] = INFINITY, x[5] = NAN, x[40] = -88.9f, x[41] = 88.9f, x[42] = -87.0f, x[43] = 1e-30f, x[44] = -0.0f;
    const k_epi e = {act, 0, 0};
    k->act(x, y, N, &e);
    for (int i = 0; i < N; i++) {
        double sg = 1.0 / (1.0 + exp(-(double)x[i])), want = act == EACT_SWISH ? (double)x[i] * sg : sg;
        if (x[i] == -INFINITY) want = act == EACT_SWISH ? NAN : 0.0;
        int ok = isnan(want) ? isnan(y[i]) : isinf(want) ? y[i] == want : fabs(y[i] - want) <= 4e-7 * fabs(want) + 1e-30;
        if (!ok) {
            CHECK(0, "%s %s(%.7g) = %.9g, want %.9g", k->isa, act == EACT_SWISH ? "swish" : "sigmoid", x[i], y[i], want);
            break;
        }
    }
}

int main(void) {
    const char *sets[] = {"generic", "avx2", "avx512"};
    int cases = 0;
    for (int si = 0; si < 3; si++) {
        const cpu_kernels *k = cpu_kernels_pick(sets[si]);
        if (strcmp(k->isa, sets[si])) continue; /* this CPU does not run that set */
        static const int shapes[][3] = {{1, 3, 8}, {4, 4, 5}, {5, 7, 16}, {9, 13, 24}, {6, 33, 40}, {7, 16, 12}, {3, 9, 72}};
        for (int ks = 3; ks <= 5; ks += 2)
            for (int s = 1; s <= 2; s++)
                for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++)
                    for (int act = 0; act < 4; act += act == EACT_ID ? 1 : 2) { /* identity, clip, swish */
                        int H = shapes[q][0], W = shapes[q][1], C = shapes[q][2], p = ks / 2;
                        dw_case(k, 2, H, W, C, ks, s, p, p, p, p, act); /* symmetric */
                        dw_case(k, 1, H, W, C, ks, s, s == 2 ? p - 1 : p, s == 2 ? p - 1 : p, p + 1, p, act); /* SAME, odd */
                        dw_case(k, 1, H + 2, W, C, ks, s, 0, 0, 0, 0, act); /* VALID */
                        cases += 3;
                    }
        for (int terms = 1; terms <= 4; terms++)
            for (int act = 0; act < 4; act += act == EACT_ID ? 1 : 2) wsum_case(k, terms, 8 * terms + 37, act), cases++;
        act_case(k, EACT_SIGMOID), act_case(k, EACT_SWISH), cases += 2;
        printf("%s: checked\n", k->isa);
    }
    printf("%d cases, %d failed\n", cases, failures);
    return failures != 0;
}
