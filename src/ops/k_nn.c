/* Neural-network kernels: Conv (grouped, depthwise, dilated, auto_pad), ConvTranspose, pooling,
 * BatchNormalization, MatMul, Gemm, Softmax/LogSoftmax, InstanceNormalization. 1-D and 2-D
 * spatial layouts (NCW, NCHW); 1-D is run as 2-D with H = 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

typedef struct {
    int nsp;                      /* spatial dims: 1 or 2 */
    int64_t k[2], s[2], d[2], pb[2], pe[2], in[2], out[2];
} conv_geom;

static void ints_attr(const ir_node *n, const char *name, int64_t *dst, int cnt, int64_t dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    for (int i = 0; i < cnt; i++) dst[i] = a && a->type == IR_ATTR_INTS && a->n > i ? a->ints[i] : dflt;
}

/* fill geometry; kernel dims from attribute or weight; ceil_mode for pools */
static odrt_status_t geom(ex_node_ctx *c, const odrt_tensor_t *x, const int64_t *kdims, int ceil_mode, conv_geom *g) {
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > 2) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "only 1-D and 2-D spatial inputs (rank %d)", x->rank);
    memset(g, 0, sizeof *g);
    g->nsp = 2;
    int64_t k[2], s[2], d[2], p[4];
    ints_attr(c->node, "kernel_shape", k, nsp, 0);
    for (int i = 0; i < nsp; i++)
        if (!k[i] && kdims) k[i] = kdims[i];
    ints_attr(c->node, "strides", s, nsp, 1);
    ints_attr(c->node, "dilations", d, nsp, 1);
    ints_attr(c->node, "pads", p, 2 * nsp, 0);
    const char *ap = ir_attr_str(c->node, "auto_pad", "NOTSET");
    /* 1-D: put it in the W position */
    for (int i = 0; i < 2; i++) {
        int j = nsp == 2 ? i : i - 1;
        if (j < 0) {
            g->k[i] = g->s[i] = g->d[i] = 1;
            g->in[i] = 1;
            continue;
        }
        g->k[i] = k[j], g->s[i] = s[j], g->d[i] = d[j], g->pb[i] = p[j], g->pe[i] = p[j + nsp];
        g->in[i] = x->dims[2 + j];
    }
    for (int i = 0; i < 2; i++) {
        if (g->k[i] <= 0 || g->s[i] <= 0 || g->d[i] <= 0)
            return ex_fail_node(c, ODRT_ERR_INVALID, "bad kernel/stride/dilation");
        int64_t ek = (g->k[i] - 1) * g->d[i] + 1;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t o = (g->in[i] + g->s[i] - 1) / g->s[i];
            int64_t tot = (o - 1) * g->s[i] + ek - g->in[i];
            if (tot < 0) tot = 0;
            g->pb[i] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
            g->pe[i] = tot - g->pb[i];
            g->out[i] = o;
            continue;
        }
        if (!strcmp(ap, "VALID")) g->pb[i] = g->pe[i] = 0;
        int64_t span = g->in[i] + g->pb[i] + g->pe[i] - ek;
        if (span < 0) return ex_fail_node(c, ODRT_ERR_SHAPE, "kernel larger than padded input");
        g->out[i] = (ceil_mode ? (span + g->s[i] - 1) / g->s[i] : span / g->s[i]) + 1;
        /* ceil mode: the last window must start inside the input or left padding */
        if (ceil_mode && (g->out[i] - 1) * g->s[i] >= g->in[i] + g->pb[i]) g->out[i]--;
    }
    g->nsp = nsp;
    return ODRT_OK;
}

static void out_dims(const odrt_tensor_t *x, int64_t ch, const conv_geom *g, int64_t *d) {
    d[0] = x->dims[0];
    d[1] = ch;
    if (g->nsp == 2) d[2] = g->out[0], d[3] = g->out[1];
    else d[2] = g->out[1];
}

/* one channel of a depthwise conv; the interior (no padding taps) runs without bounds checks */
EX_HOT static void depthwise_plane(const float *xi, const float *wk, float bias, float *yo, const conv_geom *g) {
    const int64_t H = g->in[0], W = g->in[1], OH = g->out[0], OW = g->out[1], KH = g->k[0], KW = g->k[1];
    const int64_t sh = g->s[0], sw = g->s[1], dh = g->d[0], dw = g->d[1], ph = g->pb[0], pw = g->pb[1];
    /* output columns whose taps are all inside [0, W) */
    int64_t ow0 = (pw + sw - 1) / sw, ow1 = OW;
    while (ow1 > ow0 && (ow1 - 1) * sw - pw + (KW - 1) * dw >= W) ow1--;
    if (ow0 > OW) ow0 = OW;
    for (int64_t oh = 0; oh < OH; oh++) {
        float *yr = yo + oh * OW;
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] = bias;
        for (int64_t kh = 0; kh < KH; kh++) {
            int64_t ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) continue;
            const float *xr = xi + ih * W;
            for (int64_t kw = 0; kw < KW; kw++) {
                const float wv = wk[kh * KW + kw];
                const int64_t off = kw * dw - pw;
                int64_t ow = 0;
                for (; ow < ow0 && ow < OW; ow++) {
                    int64_t iw = ow * sw + off;
                    if (iw >= 0 && iw < W) yr[ow] += xr[iw] * wv;
                }
                if (sw == 1)
                    for (; ow < ow1; ow++) yr[ow] += xr[ow + off] * wv;
                else
                    for (; ow < ow1; ow++) yr[ow] += xr[ow * sw + off] * wv;
                for (; ow < OW; ow++) {
                    int64_t iw = ow * sw + off;
                    if (iw >= 0 && iw < W) yr[ow] += xr[iw] * wv;
                }
            }
        }
    }
}

static odrt_status_t k_conv(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *w = &c->in[1]->t;
    const odrt_tensor_t *b = c->n_in > 2 && c->in[2] ? &c->in[2]->t : NULL;
    if (x->dtype != ODRT_DT_FLOAT || w->dtype != ODRT_DT_FLOAT || (b && b->dtype != ODRT_DT_FLOAT))
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "only float32 Conv");
    if (w->rank != x->rank) return ex_fail_node(c, ODRT_ERR_SHAPE, "weight rank %d != input rank %d", w->rank, x->rank);
    conv_geom g;
    ODRT_TRY(geom(c, x, w->dims + 2, 0, &g));
    int64_t group = ir_attr_int(c->node, "group", 1), N = x->dims[0], C = x->dims[1], M = w->dims[0];
    if (group <= 0 || C % group || M % group || w->dims[1] != C / group)
        return ex_fail_node(c, ODRT_ERR_SHAPE, "channels %lld / weight %lldx%lld / group %lld disagree", (long long)C,
                            (long long)M, (long long)w->dims[1], (long long)group);
    if (b && odrt_tensor_numel(b) != M) return ex_fail_node(c, ODRT_ERR_SHAPE, "bias has %lld values for %lld channels", (long long)odrt_tensor_numel(b), (long long)M);
    int64_t d[4];
    out_dims(x, M, &g, d);
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, x->rank, d));
    const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1], KH = g.k[0], KW = g.k[1];
    const int64_t Cg = C / group, Mg = M / group, Kdim = Cg * KH * KW, P = OH * OW;
    const float *X = x->data, *Wt = w->data, *B = b ? b->data : NULL;
    float *Y = c->out[0]->t.data;
    if (group == C && Cg == 1 && Mg == 1) { /* depthwise */
        for (int64_t n = 0; n < N; n++)
            for (int64_t ch = 0; ch < C; ch++)
                depthwise_plane(X + (n * C + ch) * H * W, Wt + ch * KH * KW, B ? B[ch] : 0.0f, Y + (n * M + ch) * P, &g);
        return ODRT_OK;
    }
    int direct = KH == 1 && KW == 1 && g.s[0] == 1 && g.s[1] == 1 && !g.pb[0] && !g.pb[1] && !g.pe[0] && !g.pe[1];
    float *col = NULL;
    if (!direct) {
        col = malloc(sizeof(float) * (size_t)(Kdim * P + 1));
        if (!col) return ex_fail_node(c, ODRT_ERR_NOMEM, "im2col buffer of %lld floats", (long long)(Kdim * P));
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t gi = 0; gi < group; gi++) {
            const float *xg = X + (n * C + gi * Cg) * H * W;
            const float *colp = xg;
            if (!direct) {
                for (int64_t ci = 0; ci < Cg; ci++)
                    for (int64_t kh = 0; kh < KH; kh++)
                        for (int64_t kw = 0; kw < KW; kw++) {
                            float *row = col + ((ci * KH + kh) * KW + kw) * P;
                            const float *xc = xg + ci * H * W;
                            for (int64_t oh = 0; oh < OH; oh++) {
                                int64_t ih = oh * g.s[0] - g.pb[0] + kh * g.d[0];
                                float *r = row + oh * OW;
                                if (ih < 0 || ih >= H) {
                                    memset(r, 0, sizeof(float) * (size_t)OW);
                                    continue;
                                }
                                for (int64_t ow = 0; ow < OW; ow++) {
                                    int64_t iw = ow * g.s[1] - g.pb[1] + kw * g.d[1];
                                    r[ow] = iw >= 0 && iw < W ? xc[ih * W + iw] : 0;
                                }
                            }
                        }
                colp = col;
            }
            float *yg = Y + (n * M + gi * Mg) * P;
            ex_sgemm(0, 0, Mg, P, Kdim, 1.0f, Wt + gi * Mg * Kdim, Kdim, colp, P, 0.0f, yg, P);
            if (B)
                for (int64_t m = 0; m < Mg; m++) {
                    float bv = B[gi * Mg + m];
                    float *r = yg + m * P;
                    for (int64_t p = 0; p < P; p++) r[p] += bv;
                }
        }
    free(col);
    return ODRT_OK;
}

static odrt_status_t k_conv_transpose(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *x = &c->in[0]->t, *w = &c->in[1]->t;
    const odrt_tensor_t *b = c->n_in > 2 && c->in[2] ? &c->in[2]->t : NULL;
    if (x->dtype != ODRT_DT_FLOAT || x->rank != 4 || w->rank != 4)
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "only 2-D float32 ConvTranspose");
    int64_t group = ir_attr_int(c->node, "group", 1), N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (group <= 0 || C % group || w->dims[0] != C) return ex_fail_node(c, ODRT_ERR_SHAPE, "weight/group mismatch");
    int64_t Mg = w->dims[1], M = Mg * group, KH = w->dims[2], KW = w->dims[3];
    int64_t s[2], dl[2], p[4], op[2], os[2];
    ints_attr(c->node, "strides", s, 2, 1);
    ints_attr(c->node, "dilations", dl, 2, 1);
    ints_attr(c->node, "pads", p, 4, 0);
    ints_attr(c->node, "output_padding", op, 2, 0);
    ints_attr(c->node, "output_shape", os, 2, -1);
    const char *ap = ir_attr_str(c->node, "auto_pad", "NOTSET");
    int64_t in[2] = {H, W}, k[2] = {KH, KW}, out[2];
    for (int i = 0; i < 2; i++) {
        int64_t full = s[i] * (in[i] - 1) + op[i] + (k[i] - 1) * dl[i] + 1;
        if (os[i] >= 0 || !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            out[i] = os[i] >= 0 ? os[i] : in[i] * s[i];
            int64_t tot = full - out[i];
            if (tot < 0) tot = 0;
            p[i] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
            if (os[i] >= 0 && strcmp(ap, "SAME_UPPER")) p[i] = tot - tot / 2;
            p[i + 2] = tot - p[i];
        } else {
            out[i] = full - p[i] - p[i + 2];
        }
    }
    int64_t d[4] = {N, M, out[0], out[1]};
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, 4, d));
    const float *X = x->data, *Wt = w->data, *B = b ? b->data : NULL;
    float *Y = c->out[0]->t.data;
    int64_t Cg = C / group;
    for (int64_t n = 0; n < N; n++)
        for (int64_t gi = 0; gi < group; gi++)
            for (int64_t ci = 0; ci < Cg; ci++)
                for (int64_t ih = 0; ih < H; ih++)
                    for (int64_t iw = 0; iw < W; iw++) {
                        float xv = X[((n * C + gi * Cg + ci) * H + ih) * W + iw];
                        for (int64_t m = 0; m < Mg; m++)
                            for (int64_t kh = 0; kh < KH; kh++) {
                                int64_t oh = ih * s[0] - p[0] + kh * dl[0];
                                if (oh < 0 || oh >= out[0]) continue;
                                for (int64_t kw = 0; kw < KW; kw++) {
                                    int64_t ow = iw * s[1] - p[1] + kw * dl[1];
                                    if (ow < 0 || ow >= out[1]) continue;
                                    Y[((n * M + gi * Mg + m) * out[0] + oh) * out[1] + ow] +=
                                        xv * Wt[(((gi * Cg + ci) * Mg + m) * KH + kh) * KW + kw];
                                }
                            }
                    }
    if (B)
        for (int64_t n = 0; n < N; n++)
            for (int64_t m = 0; m < M; m++)
                for (int64_t q = 0; q < out[0] * out[1]; q++) Y[(n * M + m) * out[0] * out[1] + q] += B[m];
    return ODRT_OK;
}

static odrt_status_t pool(ex_node_ctx *c, int is_max) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    if (x->dtype != ODRT_DT_FLOAT) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "only float32 pooling");
    if (c->n_out > 1 && c->node->out[1]) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "MaxPool Indices output");
    conv_geom g;
    ODRT_TRY(geom(c, x, NULL, (int)ir_attr_int(c->node, "ceil_mode", 0), &g));
    int incl = (int)ir_attr_int(c->node, "count_include_pad", 0);
    int64_t d[4];
    out_dims(x, x->dims[1], &g, d);
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, x->rank, d));
    const int64_t NC = x->dims[0] * x->dims[1], H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
    const float *X = x->data;
    float *Y = c->out[0]->t.data;
    for (int64_t nc = 0; nc < NC; nc++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                float acc = is_max ? -INFINITY : 0;
                int64_t cnt = 0, cnt_pad = 0;
                for (int64_t kh = 0; kh < g.k[0]; kh++) {
                    int64_t ih = oh * g.s[0] - g.pb[0] + kh * g.d[0];
                    for (int64_t kw = 0; kw < g.k[1]; kw++) {
                        int64_t iw = ow * g.s[1] - g.pb[1] + kw * g.d[1];
                        if (ih < H + g.pe[0] && iw < W + g.pe[1]) cnt_pad++;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        float v = X[(nc * H + ih) * W + iw];
                        if (is_max) acc = v > acc || isnan(v) ? v : acc;
                        else acc += v;
                        cnt++;
                    }
                }
                Y[(nc * OH + oh) * OW + ow] = is_max ? acc : acc / (float)(incl ? cnt_pad : (cnt ? cnt : 1));
            }
    return ODRT_OK;
}
static odrt_status_t k_maxpool(ex_node_ctx *c) { return pool(c, 1); }
static odrt_status_t k_avgpool(ex_node_ctx *c) { return pool(c, 0); }

static odrt_status_t global_pool(ex_node_ctx *c, int is_max) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    if (x->dtype != ODRT_DT_FLOAT || x->rank < 3) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "float32 rank >= 3 only");
    int64_t d[ODRT_MAX_RANK], sp = 1;
    for (int i = 0; i < x->rank; i++) d[i] = i < 2 ? x->dims[i] : 1, sp *= i < 2 ? 1 : x->dims[i];
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, x->rank, d));
    const float *X = x->data;
    for (int64_t i = 0; i < x->dims[0] * x->dims[1]; i++) {
        float acc = is_max ? -INFINITY : 0;
        for (int64_t j = 0; j < sp; j++) acc = is_max ? (X[i * sp + j] > acc ? X[i * sp + j] : acc) : acc + X[i * sp + j];
        ((float *)c->out[0]->t.data)[i] = is_max ? acc : acc / (float)sp;
    }
    return ODRT_OK;
}
static odrt_status_t k_gap(ex_node_ctx *c) { return global_pool(c, 0); }
static odrt_status_t k_gmp(ex_node_ctx *c) { return global_pool(c, 1); }

static odrt_status_t k_batchnorm(ex_node_ctx *c) {
    for (int k = 0; k < 5; k++) ODRT_TRY(ex_need(c, k));
    const odrt_tensor_t *x = &c->in[0]->t;
    if (x->dtype != ODRT_DT_FLOAT || x->rank < 2) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "float32 rank >= 2 only");
    if (ir_attr_int(c->node, "training_mode", 0)) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "training_mode");
    int64_t C = x->dims[1], sp = 1;
    for (int k = 1; k < 5; k++)
        if (ex_numel(c->in[k]) != C) return ex_fail_node(c, ODRT_ERR_SHAPE, "parameter %d has wrong size", k);
    for (int i = 2; i < x->rank; i++) sp *= x->dims[i];
    float eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, x->rank, x->dims));
    const float *X = x->data, *sc = c->in[1]->t.data, *bi = c->in[2]->t.data, *mu = c->in[3]->t.data, *va = c->in[4]->t.data;
    float *Y = c->out[0]->t.data;
    for (int64_t n = 0; n < x->dims[0]; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            float a = sc[ch] / sqrtf(va[ch] + eps), b = bi[ch] - mu[ch] * a;
            const float *xi = X + (n * C + ch) * sp;
            float *yo = Y + (n * C + ch) * sp;
            for (int64_t j = 0; j < sp; j++) yo[j] = xi[j] * a + b;
        }
    return ODRT_OK;
}

static odrt_status_t k_instnorm(ex_node_ctx *c) {
    for (int k = 0; k < 3; k++) ODRT_TRY(ex_need(c, k));
    const odrt_tensor_t *x = &c->in[0]->t;
    if (x->dtype != ODRT_DT_FLOAT || x->rank < 3) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "float32 rank >= 3 only");
    int64_t C = x->dims[1], sp = 1;
    for (int i = 2; i < x->rank; i++) sp *= x->dims[i];
    float eps = ir_attr_float(c->node, "epsilon", 1e-5f);
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, x->rank, x->dims));
    const float *X = x->data, *sc = c->in[1]->t.data, *bi = c->in[2]->t.data;
    for (int64_t i = 0; i < x->dims[0] * C; i++) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < sp; j++) m += X[i * sp + j];
        m /= (double)sp;
        for (int64_t j = 0; j < sp; j++) v += (X[i * sp + j] - m) * (X[i * sp + j] - m);
        v /= (double)sp;
        float a = sc[i % C] / sqrtf((float)v + eps);
        for (int64_t j = 0; j < sp; j++) ((float *)c->out[0]->t.data)[i * sp + j] = (float)(X[i * sp + j] - m) * a + bi[i % C];
    }
    return ODRT_OK;
}

static odrt_status_t k_matmul(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *a = &c->in[0]->t, *b = &c->in[1]->t;
    if (a->dtype != b->dtype || (a->dtype != ODRT_DT_FLOAT && a->dtype != ODRT_DT_INT64 && a->dtype != ODRT_DT_INT32 &&
                                 a->dtype != ODRT_DT_DOUBLE))
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "MatMul of %s and %s", odrt_dtype_name(a->dtype), odrt_dtype_name(b->dtype));
    if (a->rank < 1 || b->rank < 1) return ex_fail_node(c, ODRT_ERR_SHAPE, "scalar operand");
    int64_t ad[ODRT_MAX_RANK], bd[ODRT_MAX_RANK];
    int ar = a->rank, br = b->rank;
    memcpy(ad, a->dims, sizeof ad);
    memcpy(bd, b->dims, sizeof bd);
    if (ar == 1) ad[1] = ad[0], ad[0] = 1, ar = 2;
    if (br == 1) bd[1] = 1, br = 2;
    int64_t M = ad[ar - 2], K = ad[ar - 1], N = bd[br - 1];
    if (bd[br - 2] != K) return ex_fail_node(c, ODRT_ERR_SHAPE, "inner dims %lld vs %lld", (long long)K, (long long)bd[br - 2]);
    int r;
    int64_t bdims[ODRT_MAX_RANK];
    ODRT_TRY(ex_broadcast(c, ar - 2, ad, br - 2, bd, &r, bdims));
    int64_t od[ODRT_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < r; i++) od[orank++] = bdims[i];
    if (a->rank > 1) od[orank++] = M;
    if (b->rank > 1) od[orank++] = N;
    ODRT_TRY(ex_out(c, 0, a->dtype, orank, od));
    int64_t sa[ODRT_MAX_RANK], sb[ODRT_MAX_RANK], nb = 1, cnt[ODRT_MAX_RANK] = {0};
    ex_bcast_strides(ar - 2, ad, r, bdims, sa);
    ex_bcast_strides(br - 2, bd, r, bdims, sb);
    for (int i = 0; i < r; i++) nb *= bdims[i];
    for (int64_t bi = 0; bi < nb; bi++) {
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < r; i++) oa += cnt[i] * sa[i], ob += cnt[i] * sb[i];
        if (a->dtype == ODRT_DT_FLOAT) {
            ex_sgemm(0, 0, M, N, K, 1.0f, (const float *)a->data + oa * M * K, K, (const float *)b->data + ob * K * N, N,
                     0.0f, (float *)c->out[0]->t.data + bi * M * N, N);
        } else {
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0;
                    int64_t iacc = 0;
                    for (int64_t k = 0; k < K; k++) {
                        if (a->dtype == ODRT_DT_DOUBLE) acc += ex_get_f(a, oa * M * K + i * K + k) * ex_get_f(b, ob * K * N + k * N + j);
                        else iacc += ex_get_i(a, oa * M * K + i * K + k) * ex_get_i(b, ob * K * N + k * N + j);
                    }
                    ex_set_f(&c->out[0]->t, bi * M * N + i * N + j, a->dtype == ODRT_DT_DOUBLE ? acc : (double)iacc);
                    if (a->dtype == ODRT_DT_INT64) ((int64_t *)c->out[0]->t.data)[bi * M * N + i * N + j] = iacc;
                }
        }
        for (int i = r - 1; i >= 0; i--)
            if (++cnt[i] < bdims[i]) break;
            else cnt[i] = 0;
    }
    return ODRT_OK;
}

static odrt_status_t k_gemm(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *a = &c->in[0]->t, *b = &c->in[1]->t;
    const odrt_tensor_t *cc = c->n_in > 2 && c->in[2] ? &c->in[2]->t : NULL;
    if (a->dtype != ODRT_DT_FLOAT || b->dtype != ODRT_DT_FLOAT || a->rank != 2 || b->rank != 2)
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "float32 2-D Gemm only");
    int ta = (int)ir_attr_int(c->node, "transA", 0), tb = (int)ir_attr_int(c->node, "transB", 0);
    float alpha = ir_attr_float(c->node, "alpha", 1), beta = ir_attr_float(c->node, "beta", 1);
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t N = tb ? b->dims[0] : b->dims[1], K2 = tb ? b->dims[1] : b->dims[0];
    if (K != K2) return ex_fail_node(c, ODRT_ERR_SHAPE, "inner dims %lld vs %lld", (long long)K, (long long)K2);
    int64_t d[2] = {M, N};
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, 2, d));
    float *Y = c->out[0]->t.data;
    if (cc) {
        if (cc->dtype != ODRT_DT_FLOAT) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "C must be float32");
        int64_t st[2];
        int r;
        int64_t bd[ODRT_MAX_RANK];
        ODRT_TRY(ex_broadcast(c, cc->rank, cc->dims, 2, d, &r, bd));
        if (bd[0] != M || bd[1] != N) return ex_fail_node(c, ODRT_ERR_SHAPE, "C not broadcastable to output");
        ex_bcast_strides(cc->rank, cc->dims, 2, d, st);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) Y[i * N + j] = ((const float *)cc->data)[i * st[0] + j * st[1]];
    } else beta = 0;
    ex_sgemm(ta, tb, M, N, K, alpha, a->data, a->dims[1], b->data, b->dims[1], beta, Y, N);
    return ODRT_OK;
}

static odrt_status_t softmax(ex_node_ctx *c, int log_sm, int hard) {
    ODRT_TRY(ex_need(c, 0));
    const odrt_tensor_t *x = &c->in[0]->t;
    if (x->dtype != ODRT_DT_FLOAT) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "float32 only");
    int axis;
    ODRT_TRY(ex_axis(c, ir_attr_int(c->node, "axis", c->opset < 13 ? 1 : -1), x->rank, &axis));
    int64_t outer = 1, n = 1, inner = 1;
    if (c->opset < 13) { /* coerced to 2-D [outer, n] */
        for (int i = 0; i < axis; i++) outer *= x->dims[i];
        for (int i = axis; i < x->rank; i++) n *= x->dims[i];
    } else {
        for (int i = 0; i < axis; i++) outer *= x->dims[i];
        n = x->rank ? x->dims[axis] : 1;
        for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    }
    ODRT_TRY(ex_out(c, 0, ODRT_DT_FLOAT, x->rank, x->dims));
    const float *X = x->data;
    float *Y = c->out[0]->t.data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            const float *xs = X + o * n * inner + in;
            float *ys = Y + o * n * inner + in;
            float mx = -INFINITY;
            int64_t am = 0;
            for (int64_t j = 0; j < n; j++)
                if (xs[j * inner] > mx) mx = xs[j * inner], am = j;
            if (hard) {
                for (int64_t j = 0; j < n; j++) ys[j * inner] = j == am;
                continue;
            }
            double sum = 0;
            for (int64_t j = 0; j < n; j++) sum += exp((double)(xs[j * inner] - mx));
            for (int64_t j = 0; j < n; j++)
                ys[j * inner] = log_sm ? (float)((xs[j * inner] - mx) - log(sum)) : (float)(exp((double)(xs[j * inner] - mx)) / sum);
        }
    return ODRT_OK;
}
static odrt_status_t k_softmax(ex_node_ctx *c) { return softmax(c, 0, 0); }
static odrt_status_t k_logsoftmax(ex_node_ctx *c) { return softmax(c, 1, 0); }
static odrt_status_t k_hardmax(ex_node_ctx *c) { return softmax(c, 0, 1); }

const ex_kernel ex_kernels_nn[] = {
    {"", "Conv", k_conv, sh_conv}, {"", "ConvTranspose", k_conv_transpose, NULL}, {"", "MaxPool", k_maxpool, sh_pool},
    {"", "AveragePool", k_avgpool, sh_pool}, {"", "GlobalAveragePool", k_gap, sh_global_pool}, {"", "GlobalMaxPool", k_gmp, sh_global_pool},
    {"", "BatchNormalization", k_batchnorm, sh_same}, {"", "InstanceNormalization", k_instnorm, sh_same}, {"", "MatMul", k_matmul, sh_matmul},
    {"", "Gemm", k_gemm, sh_gemm}, {"", "Softmax", k_softmax, sh_same}, {"", "LogSoftmax", k_logsoftmax, sh_same}, {"", "Hardmax", k_hardmax, NULL},
    {NULL, NULL, NULL, NULL},
};
