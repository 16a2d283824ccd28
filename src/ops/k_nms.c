/* ONNX NonMaxSuppression with onnxruntime's semantics: boxes with score > score_threshold (all
 * boxes when the input is absent) are visited by descending score (equal scores: lower index
 * first; onnxruntime's heap leaves that order unspecified), a box is dropped when its IoU with a
 * kept box of the same class is > iou_threshold, at most max_output_boxes_per_class are kept. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

static void minmax(float a, float b, float *lo, float *hi) {
    if (a >= b) *lo = b, *hi = a;
    else *lo = a, *hi = b;
}

/* IoU > thr, with onnxruntime's corner normalisation and degenerate-box rules */
static int suppress(const float *b1, const float *b2, int center, float thr) {
    float x1a, x1b, y1a, y1b, x2a, x2b, y2a, y2b;
    if (!center) {
        minmax(b1[1], b1[3], &x1a, &x1b);
        minmax(b2[1], b2[3], &x2a, &x2b);
        minmax(b1[0], b1[2], &y1a, &y1b);
        minmax(b2[0], b2[2], &y2a, &y2b);
    } else {
        x1a = b1[0] - b1[2] / 2, x1b = b1[0] + b1[2] / 2, y1a = b1[1] - b1[3] / 2, y1b = b1[1] + b1[3] / 2;
        x2a = b2[0] - b2[2] / 2, x2b = b2[0] + b2[2] / 2, y2a = b2[1] - b2[3] / 2, y2b = b2[1] + b2[3] / 2;
    }
    float ixa = fmaxf(x1a, x2a), ixb = fminf(x1b, x2b);
    if (ixb <= ixa) return 0;
    float iya = fmaxf(y1a, y2a), iyb = fminf(y1b, y2b);
    if (iyb <= iya) return 0;
    float inter = (ixb - ixa) * (iyb - iya);
    if (inter <= 0) return 0;
    float a1 = (x1b - x1a) * (y1b - y1a), a2 = (x2b - x2a) * (y2b - y2a), uni = a1 + a2 - inter;
    if (a1 <= 0 || a2 <= 0 || uni <= 0) return 0;
    return inter / uni > thr;
}

static odrt_status_t k_nms(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *bx = &c->in[0]->t, *sc = &c->in[1]->t;
    if (bx->dtype != ODRT_DT_FLOAT || sc->dtype != ODRT_DT_FLOAT || bx->rank != 3 || sc->rank != 3 || bx->dims[2] != 4 ||
        bx->dims[0] != sc->dims[0] || bx->dims[1] != sc->dims[2])
        return ex_fail_node(c, ODRT_ERR_SHAPE, "boxes [B,N,4] and scores [B,C,N] float32 expected");
    int64_t maxk = c->n_in > 2 && c->in[2] && ex_numel(c->in[2]) ? ex_scalar_i(c->in[2]) : 0;
    float iou = c->n_in > 3 && c->in[3] && ex_numel(c->in[3]) ? (float)ex_scalar_f(c->in[3]) : 0.0f;
    int has_thr = c->n_in > 4 && c->in[4] && ex_numel(c->in[4]);
    float thr = has_thr ? (float)ex_scalar_f(c->in[4]) : 0.0f;
    int center = (int)ir_attr_int(c->node, "center_point_box", 0);
    if (maxk < 0) maxk = 0;
    if (iou < 0 || iou > 1) return ex_fail_node(c, ODRT_ERR_INVALID, "iou_threshold %g outside [0, 1]", iou);
    int64_t B = bx->dims[0], N = bx->dims[1], C = sc->dims[1];
    int64_t cap = 0, n_sel = 0, *sel = NULL, *keep = NULL;
    ex_scored *cs = malloc(sizeof(ex_scored) * (size_t)(N + 1));
    keep = malloc(sizeof(int64_t) * (size_t)(N + 1));
    odrt_status_t rc = ODRT_OK;
    if (!cs || !keep) rc = ODRT_ERR_NOMEM;
    for (int64_t b = 0; b < B && rc == ODRT_OK && maxk > 0; b++)
        for (int64_t cl = 0; cl < C && rc == ODRT_OK; cl++) {
            const float *s = (const float *)sc->data + (b * C + cl) * N, *boxes = (const float *)bx->data + b * N * 4;
            int64_t nc = 0, nk = 0;
            for (int64_t i = 0; i < N; i++)
                if (!has_thr || s[i] > thr) cs[nc++] = (ex_scored){s[i], i};
            qsort(cs, (size_t)nc, sizeof *cs, ex_scored_desc);
            for (int64_t j = 0; j < nc; j++) {
                int ok = 1;
                for (int64_t q = 0; q < nk && ok; q++) ok = !suppress(boxes + 4 * keep[q], boxes + 4 * cs[j].i, center, iou);
                if (!ok) continue;
                if (nk >= maxk) break;
                keep[nk++] = cs[j].i;
                size_t capz = (size_t)cap;
                if (!odrt_grow((void **)&sel, 3 * sizeof(int64_t), &capz, (size_t)n_sel + 1)) {
                    rc = ODRT_ERR_NOMEM;
                    break;
                }
                cap = (int64_t)capz;
                sel[3 * n_sel] = b, sel[3 * n_sel + 1] = cl, sel[3 * n_sel + 2] = cs[j].i;
                n_sel++;
            }
        }
    if (rc == ODRT_OK) {
        int64_t d[2] = {n_sel, 3};
        rc = ex_out(c, 0, ODRT_DT_INT64, 2, d);
        if (rc == ODRT_OK && n_sel) memcpy(c->out[0]->t.data, sel, sizeof(int64_t) * 3 * (size_t)n_sel);
    } else if (rc == ODRT_ERR_NOMEM) {
        rc = ex_fail_node(c, ODRT_ERR_NOMEM, "out of memory");
    }
    free(cs);
    free(keep);
    free(sel);
    return rc;
}

const ex_kernel ex_kernels_nms[] = {
    {"", "NonMaxSuppression", k_nms, sh_nms},
    {NULL, NULL, NULL, NULL},
};
