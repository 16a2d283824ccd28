/* The int8 engine's quantization beyond the Q/DQ ONNX's (odrt build --precision int8; TensorRT
 * takes int8 per-tensor activations only, the CPU engine need not): inputs >= 0 quantized unsigned
 * (twice the resolution), and a step per input channel, which the engine's quantizer applies per
 * column of its GEMM rows at no cost and folds into the weights before their per-output-channel
 * quantization. Channels of an early MobileNet layer differ in range by 100x: one step per tensor
 * leaves the narrow ones a few levels. The sensitivity pass measures the graph with this same
 * quantization (q_qdq_channels, q_weights_channels). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "passes/quant_internal.h"

int q_non_negative(const ir_value *x) {
    const ir_node *n = x->producer;
    if (!n || n->dead) return 0;
    if (ir_op_is(n, "Relu")) return 1;
    if (!ir_op_is(n, "Clip")) return 0;
    if (n->n_in <= 1) return ir_attr_float(n, "min", -1.0f) >= 0;
    const ir_tensor *c = n->in[1] && n->in[1]->init ? n->in[1]->init : NULL;
    return c && c->numel == 1 && c->dtype == ODRT_DT_FLOAT && ((const float *)c->data)[0] >= 0;
}

odrt_status_t q_channel_max(const odrt_tensor_t *t, double **chmax, int64_t *nch) {
    if (t->rank != 4 || t->dtype != ODRT_DT_FLOAT) return ODRT_OK; /* (not a feature map: one step) */
    int64_t N = t->dims[0], C = t->dims[1], P = t->dims[2] * t->dims[3];
    if (!*chmax) {
        if (!(*chmax = calloc((size_t)C + 1, sizeof(double)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        *nch = C;
    }
    if (*nch != C) return odrt_fail(ODRT_ERR_SHAPE, "calibration: an activation changed its channel count");
    const float *a = t->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            const float *p = a + (n * C + c) * P;
            double m = (*chmax)[c];
            for (int64_t i = 0; i < P; i++) {
                double v = fabs((double)p[i]);
                if (v > m) m = v;
            }
            (*chmax)[c] = m;
        }
    return ODRT_OK;
}

odrt_status_t q_channel_steps(act_stat *a) {
    const ir_type *t = &a->v->type;
    int64_t C = a->chmax ? a->nch : t->rank == 4 && t->dims ? t->dims[1].value : 1;
    if (C < 1) C = 1;
    free(a->steps);
    if (!(a->steps = malloc(sizeof(float) * (size_t)C))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    a->nch = C;
    double Q = a->unsig ? 255.0 : 127.0, amax = a->amax > 0 ? a->amax : 1e-6;
    for (int64_t c = 0; c < C; c++) {
        double r = a->chmax && a->chmax[c] < amax ? a->chmax[c] : amax;
        if (r < amax / 32) r = amax / 32;
        a->steps[c] = (float)(r / Q);
    }
    return ODRT_OK;
}

ir_value *q_qdq_channels(bld *b, const act_stat *a) {
    int64_t C = a->nch;
    uint8_t *zp = calloc((size_t)C + 1, 1);
    if (!zp) {
        if (b->rc == ODRT_OK) b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char nm[512];
    snprintf(nm, sizeof nm, "%s/q", a->v->name);
    ir_value *s = b_const(b, "odrt/int8/steps", ODRT_DT_FLOAT, 1, &C, a->steps);
    ir_value *z = b_const(b, "odrt/int8/zeros", a->unsig ? ODRT_DT_UINT8 : ODRT_DT_INT8, 1, &C, zp);
    free(zp);
    ir_value *q = b_op(b, "QuantizeLinear", nm, 3, (ir_value *[]){a->v, s, z});
    if (q && b->rc == ODRT_OK) b_attr_i(b, q, "axis", 1);
    snprintf(nm, sizeof nm, "%s/dq", a->v->name);
    ir_value *d = b_op(b, "DequantizeLinear", nm, 3, (ir_value *[]){q, s, z});
    if (d && b->rc == ODRT_OK) b_attr_i(b, d, "axis", 1);
    return d;
}

ir_value *q_weights_channels(bld *b, const ir_value *w, const float *s) {
    const ir_tensor *t = w->init;
    int64_t co = t->dims[0], K = co > 0 ? t->numel / co : 0;
    float *out = malloc(sizeof(float) * (size_t)t->numel + 4), *row = malloc(sizeof(float) * (size_t)K + 4);
    ir_value *v = NULL;
    if (out && row) {
        const float *a = t->data;
        for (int64_t c = 0; c < co; c++) {
            float m = 0;
            for (int64_t k = 0; k < K; k++) {
                row[k] = a[c * K + k] * s[k];
                m = fabsf(row[k]) > m ? fabsf(row[k]) : m;
            }
            float st = m > 0 ? m / 127.0f : 1.0f;
            for (int64_t k = 0; k < K; k++) {
                float q = nearbyintf(row[k] / st);
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                out[c * K + k] = q * st / s[k];
            }
        }
        char nm[512];
        snprintf(nm, sizeof nm, "%s/int8_sim", w->name);
        v = b_const(b, nm, ODRT_DT_FLOAT, t->rank, t->dims, out);
    } else if (b->rc == ODRT_OK) {
        b->rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    free(out), free(row);
    return v;
}

void q_mark(bld *b, ir_node *n, const act_stat *a) {
    b_attr_f(b, n->out[0], Q_STEP_ATTR, (float)(a->amax / (a->unsig ? 255.0 : 127.0)));
    if (a->unsig) b_attr_i(b, n->out[0], Q_UNSIGNED_ATTR, 1);
    if (a->steps) b_attr_floats(b, n->out[0], Q_STEPS_ATTR, (int)a->nch, a->steps);
}

void q_channel_json_write(cJSON *e, const act_stat *a) {
    if (!a->chmax) return;
    cJSON *arr = cJSON_AddArrayToObject(e, "channel_max");
    for (int64_t c = 0; arr && c < a->nch; c++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(a->chmax[c]));
}

odrt_status_t q_channel_json_read(const cJSON *e, act_stat *a) {
    const cJSON *arr = e ? cJSON_GetObjectItemCaseSensitive(e, "channel_max") : NULL, *x;
    if (!arr) return ODRT_OK;
    const ir_type *t = &a->v->type;
    int64_t C = t->rank == 4 && t->dims ? t->dims[1].value : -1;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != C)
        return odrt_fail(ODRT_ERR_PARSE, "calibration: tensor '%s': channel_max does not have its %lld channels", a->v->name, (long long)C);
    if (!(a->chmax = calloc((size_t)C + 1, sizeof(double)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    a->nch = C;
    int64_t c = 0;
    cJSON_ArrayForEach(x, arr) {
        if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0) || !isfinite(x->valuedouble))
            return odrt_fail(ODRT_ERR_PARSE, "calibration: tensor '%s': a channel_max value is not a range", a->v->name);
        a->chmax[c++] = x->valuedouble;
    }
    return ODRT_OK;
}
