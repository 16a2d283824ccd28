/* Lowering of the layers two-stage detectors add to the engine: dense layers (MatMul / Gemm by a
 * constant, run as 1x1 GEMM convolutions), the crop of proposals out of a feature map
 * (odrt.CropAndResize, put in place of the export's crop by engine/build_rcnn.c) and bilinear
 * resizes (Mask R-CNN's mask head). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lower_internal.h"
#include "engine/plan_util.h"
#include "resize_coord.h"

/* y = x W (+ bias) as a 1x1 convolution over M = numel(x) / K rows: x [.., K] plain is the same
 * bytes as NHWC [M, K, 1, 1], and the conv's NHWC [M, N, 1, 1] the same as y [.., N] */
odrt_status_t lw_lower_matmul(lw *L, ir_node *n) {
    int gemm = ir_op_is(n, "Gemm");
    ir_value *x = n->in[0], *y = n->out[0];
    const ir_tensor *w = n->n_in > 1 && lw_is_const(n->in[1]) ? n->in[1]->init : NULL;
    const ir_tensor *c = gemm && n->n_in > 2 && n->in[2] ? (lw_is_const(n->in[2]) ? n->in[2]->init : NULL) : NULL;
    int tb = gemm && ir_attr_int(n, "transB", 0);
    if (!x || !w || w->dtype != ODRT_DT_FLOAT || w->rank != 2 || !lw_static_float(x) || !lw_static_float(y) || x->type.rank < 2 ||
        x->type.rank > 3 || (gemm && (ir_attr_int(n, "transA", 0) || ir_attr_float(n, "alpha", 1) != 1.0f ||
                                      (n->n_in > 2 && n->in[2] && (!c || ir_attr_float(n, "beta", 1) != 1.0f)))))
        return lw_lower_ref(L, n);
    int64_t K = tb ? w->dims[1] : w->dims[0], N = tb ? w->dims[0] : w->dims[1];
    int64_t M = ir_type_numel(&x->type) / K;
    if (x->type.dims[x->type.rank - 1].value != K || y->type.dims[y->type.rank - 1].value != N || M * N != ir_type_numel(&y->type) ||
        K > (1 << 20) || N > (1 << 20) || (c && c->dtype != ODRT_DT_FLOAT) || (c && c->numel != N && c->numel != 1))
        return lw_lower_ref(L, n);
    float *wc = malloc(sizeof(float) * (size_t)(K * N + 1)), *bias = calloc((size_t)N + 1, sizeof(float));
    if (!wc || !bias) {
        free(wc), free(bias);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    const float *W = w->data;
    for (int64_t o = 0; o < N; o++) /* conv weights [N][K][1][1] */
        for (int64_t k = 0; k < K; k++) wc[o * K + k] = tb ? W[o * K + k] : W[k * N + o];
    for (int64_t o = 0; c && o < N; o++) bias[o] = ((const float *)c->data)[c->numel == 1 ? 0 : o];
    /* a following Add of a constant vector is the bias */
    ir_node *u;
    if (!c && lw_only_use(y, &u) && ir_op_is(u, "Add") && u->n_in == 2 && u->in[0] && u->in[1] && lw_static_float(u->out[0])) {
        ir_value *bv = u->in[0] == y ? u->in[1] : u->in[0];
        if (lw_is_const(bv) && bv->init->dtype == ODRT_DT_FLOAT && bv->init->numel == N && ir_type_numel(&u->out[0]->type) == M * N) {
            for (int64_t o = 0; o < N; o++) bias[o] = ((const float *)bv->init->data)[o];
            L->fused[L->node_index[u->out[0]->id]] = 1;
            y = u->out[0];
        }
    }
    int act = EACT_ID;
    float lo = 0, hi = 0;
    ir_value *ny;
    if (lw_match_act(L, y, &act, &lo, &hi, &ny)) y = ny;
    int tin, t4, to4, ty;
    int64_t d4[4] = {M, K, 1, 1}, o4[4] = {M, N, 1, 1}, dy[ODRT_MAX_RANK];
    odrt_status_t rc = lw_materialize(L, x, ENG_PLAIN, &tin);
    if (rc == ODRT_OK && ((t4 = eng_add_tensor(L->p, 4, d4, ENG_NHWC)) < 0 || (to4 = eng_add_tensor(L->p, 4, o4, ENG_NHWC)) < 0))
        rc = ODRT_ERR_NOMEM;
    if (rc == ODRT_OK) {
        L->p->tensors[t4].alias = tin;
        lw_dims_of(y, dy);
        if ((ty = eng_add_tensor(L->p, y->type.rank, dy, ENG_PLAIN)) < 0) rc = ODRT_ERR_NOMEM;
    }
    if (rc == ODRT_OK) {
        L->p->tensors[ty].alias = to4;
        L->tid[ENG_PLAIN][y->id] = ty, L->root[y->id] = y;
        eng_op *op = eng_add_op(L->p, EOP_CONV);
        if (!op) rc = ODRT_ERR_NOMEM;
        else {
            op->conv_kind = CONV_GEMM, op->kh = op->kw = op->sh = op->sw = op->dh = op->dw = 1;
            op->cin = (int)K, op->cout = (int)N, op->n_in = 1, op->in[0] = t4, op->out = to4;
            op->act = act, op->act_lo = lo, op->act_hi = hi;
            snprintf(op->name, sizeof op->name, "%.95s", n->name);
            rc = eng_pack_conv(L->p, op, wc, bias);
        }
    }
    free(wc), free(bias);
    return rc;
}

/* odrt.CropAndResize(map NCHW, boxes) -> NHWC crops */
odrt_status_t lw_lower_crop(lw *L, ir_node *n) {
    ir_value *x = n->in[0], *b = n->n_in > 1 ? n->in[1] : NULL, *y = n->out[0];
    int mode = ex_crop_mode_code(ir_attr_str(n, "mode", "roi_align"));
    if (!x || !b || !lw_static_float(x) || !lw_static_float(b) || !lw_static_float(y) || x->type.rank != 4 || y->type.rank != 4 ||
        mode < 0 || y->type.dims[1].value != x->type.dims[1].value || ir_type_numel(&b->type) != y->type.dims[0].value * 4)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "build: crop '%s' has no static shapes", n->name);
    int tx, tb, ty;
    ODRT_TRY(lw_materialize(L, x, ENG_NHWC, &tx));
    ODRT_TRY(lw_materialize(L, b, ENG_PLAIN, &tb));
    if ((ty = lw_define(L, y, ENG_NHWC)) < 0) return ODRT_ERR_UNSUPPORTED;
    eng_op *op = eng_add_op(L->p, EOP_CROP);
    if (!op) return ODRT_ERR_NOMEM;
    op->n_in = 2, op->in[0] = tx, op->in[1] = tb, op->out = ty;
    op->kh = (int)y->type.dims[2].value, op->kw = (int)y->type.dims[3].value, op->axis = mode;
    op->cin = op->cout = (int)x->type.dims[1].value;
    op->scalar = ir_attr_float(n, "extrapolation_value", 0.0f);
    snprintf(op->name, sizeof op->name, "%.95s", n->name);
    return ODRT_OK;
}

/* the taps of one resized axis, as the reference Resize computes them (k_resize.c) */
static void resize_taps(int ctm, int64_t in, int64_t out, float scale, float out_f, eng_resize_tap *t) {
    for (int64_t o = 0; o < out; o++) {
        int64_t i0, i1;
        float w0, w1;
        if (out == in && scale == 1.0f) i0 = i1 = o, w0 = 1, w1 = 0; /* an axis not resized */
        else rz_linear(rz_source(ctm, o, in, out, out_f, scale), in, &i0, &i1, &w0, &w1);
        t[o] = (eng_resize_tap){(int32_t)i0, (int32_t)i1, w0, w1};
    }
}

/* Resize, linear on H and W of a rank-4 tensor (N and C kept) */
odrt_status_t lw_lower_resize(lw *L, ir_node *n) {
    ir_value *x = n->in[0], *y = n->out[0];
    int ctm = rz_ctm_code(ir_attr_str(n, "coordinate_transformation_mode", "half_pixel"));
    const char *mode = ir_attr_str(n, "mode", "nearest");
    if (!x || !lw_static_float(x) || !lw_static_float(y) || x->type.rank != 4 || y->type.rank != 4 ||
        (strcmp(mode, "linear") && strcmp(mode, "bilinear")) || ctm < 0 || ctm == RZ_TF_CROP || ir_attr_int(n, "antialias", 0) ||
        ir_model_opset(L->m, "") < 11)
        return lw_lower_ref(L, n);
    const ir_value *sv = n->n_in > 2 ? n->in[2] : NULL, *zv = n->n_in > 3 ? n->in[3] : NULL;
    float sc[4];
    int by_size = zv && lw_is_const(zv) && zv->init->numel == 4;
    if (!by_size && (!sv || !lw_is_const(sv) || sv->init->numel != 4 || sv->init->dtype != ODRT_DT_FLOAT)) return lw_lower_ref(L, n);
    int64_t in[4], out[4];
    lw_dims_of(x, in), lw_dims_of(y, out);
    for (int i = 0; i < 4; i++) sc[i] = by_size ? (float)out[i] / (float)in[i] : ((const float *)sv->init->data)[i];
    if (out[0] != in[0] || out[1] != in[1] || sc[0] != 1.0f || sc[1] != 1.0f) return lw_lower_ref(L, n);
    eng_resize_tap *taps = malloc(sizeof *taps * (size_t)(out[2] + out[3] + 1));
    if (!taps) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int a = 2; a < 4; a++) /* with scales, the resized length in the formulas is in * scale (not floored) */
        resize_taps(ctm, in[a], out[a], sc[a], by_size ? (float)out[a] : (float)in[a] * sc[a], taps + (a == 2 ? 0 : out[2]));
    int tx, ty;
    odrt_status_t rc = lw_materialize(L, x, ENG_NHWC, &tx);
    if (rc == ODRT_OK && (ty = lw_define(L, y, ENG_NHWC)) < 0) rc = ODRT_ERR_UNSUPPORTED;
    eng_op *op = rc == ODRT_OK ? eng_add_op(L->p, EOP_RESIZE) : NULL;
    if (rc == ODRT_OK && !op) rc = ODRT_ERR_NOMEM;
    if (rc == ODRT_OK) {
        op->n_in = 1, op->in[0] = tx, op->out = ty;
        op->w_len = (int64_t)sizeof *taps * (out[2] + out[3]);
        op->w_off = eng_blob_append(L->p, taps, (size_t)op->w_len);
        snprintf(op->name, sizeof op->name, "%.95s", n->name);
        if (op->w_off < 0) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    free(taps);
    return rc;
}
