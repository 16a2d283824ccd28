/* Convolution weights packed for the engine's kernels at build time (docs/engine-format.md): float
 * panels of 16 output channels, depthwise tap-major, and int8 1x1 panels with their column sums and
 * steps. */
#include <math.h>
#include <stdlib.h>

#include "util.h"
#include "engine/engine.h"
#include "engine/plan_util.h"

/* ONNX conv weights W [cout][cin_g][kh][kw] packed for op's kernel (engine-format.md), bias [cout] or NULL */
odrt_status_t eng_pack_conv(eng_plan *p, eng_op *op, const float *W, const float *bias) {
    int cout = op->cout, kh = op->kh, kw = op->kw, cin_g = op->conv_kind == CONV_DW ? 1 : op->cin;
    float *pk;
    size_t n;
    if (op->conv_kind == CONV_DW) { /* [tap][C] */
        n = (size_t)kh * kw * cout;
        if (!(pk = calloc(n + 1, sizeof(float)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (int c = 0; c < cout; c++)
            for (int t = 0; t < kh * kw; t++) pk[(size_t)t * cout + c] = W[(size_t)c * kh * kw + t];
    } else { /* panels of 16 output channels: [panel][k = (ky, kx, ci)][16] */
        int K = kh * kw * cin_g, np = (cout + 15) / 16;
        n = (size_t)np * K * 16;
        if (!(pk = calloc(n + 1, sizeof(float)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin_g; ci++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int k = (ky * kw + kx) * cin_g + ci;
                        pk[((size_t)(co / 16) * K + k) * 16 + co % 16] = W[(((size_t)co * cin_g + ci) * kh + ky) * kw + kx];
                    }
    }
    op->w_off = eng_blob_append(p, pk, n * sizeof(float));
    op->w_len = (int64_t)(n * sizeof(float));
    free(pk);
    op->b_off = eng_blob_append(p, bias, sizeof(float) * (size_t)cout);
    op->b_len = (int64_t)sizeof(float) * cout;
    if (op->w_off < 0 || op->b_off < 0) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    return ODRT_OK;
}

/* an int8 conv's weights (W [cout][cin], symmetric per output channel, as the Q/DQ ONNX quantizes
 * them: step max|w| / 127, round half to even) packed as eng_conv_i8_len says, and its float bias */
odrt_status_t eng_pack_conv_i8(eng_plan *p, eng_op *op, const float *W, const float *bias, const float *steps) {
    int cout = op->cout;
    int64_t K = eng_conv_k(op), Kp = eng_conv_i8_kp(op), np = (cout + 15) / 16, len = eng_conv_i8_len(op);
    if (op->conv_kind != CONV_GEMM || !(op->q_scale > 0)) return odrt_fail(ODRT_ERR_INVALID, "build: int8 conv '%s' is not a 1x1 GEMM", op->name);
    uint8_t *pk = calloc((size_t)len + 4, 1);
    if (!pk) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    int8_t *q = (int8_t *)pk;
    int32_t *comp = (int32_t *)(pk + np * Kp * 16);
    float *scale = (float *)(pk + np * Kp * 16 + np * 16 * 4), *inv = scale + np * 16;
    float *w = malloc(sizeof(float) * (size_t)K + 4);
    if (!w) {
        free(pk);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int64_t k = 0; k < K; k++) inv[k] = 1.0f / (steps ? steps[k] : op->q_scale);
    for (int co = 0; co < cout; co++) {
        float m = 0;
        for (int64_t k = 0; k < K; k++) { /* (as quant_channel.c's q_weights_channels) */
            w[k] = W[(size_t)co * K + k] * (steps ? steps[k] : op->q_scale);
            m = fabsf(w[k]) > m ? fabsf(w[k]) : m;
        }
        float st = m > 0 ? m / 127.0f : 1.0f;
        int32_t sum = 0;
        for (int64_t k = 0; k < K; k++) {
            float v = nearbyintf(w[k] / st);
            int8_t qv = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            q[(((size_t)(co / 16) * (Kp / 4) + k / 4) * 16 + co % 16) * 4 + k % 4] = qv;
            sum += qv;
        }
        comp[co] = 128 * sum;
        scale[co] = st;
    }
    free(w);
    op->w_off = eng_blob_append(p, pk, (size_t)len);
    op->w_len = len;
    free(pk);
    op->b_off = eng_blob_append(p, bias, sizeof(float) * (size_t)cout);
    op->b_len = (int64_t)sizeof(float) * cout;
    if (op->w_off < 0 || op->b_off < 0) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    return ODRT_OK;
}
