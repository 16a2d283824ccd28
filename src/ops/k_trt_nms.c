/* TensorRT NMS plugins, run on the CPU with NVIDIA's documented and implemented semantics so a
 * converted model can be checked without TensorRT (TensorRT OSS plugin/efficientNMSPlugin and
 * plugin/batchedNMSPlugin; see docs/nms-plugins.md for each rule and where odrt follows it).
 * Registered in the "trt.plugins" domain (what `odrt convert` writes) and in the default domain. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"

typedef struct {
    float y1, x1, y2, x2;
} corner;

static corner reorder(corner b) {
    if (b.y1 > b.y2) { float t = b.y1; b.y1 = b.y2; b.y2 = t; }
    if (b.x1 > b.x2) { float t = b.x1; b.x1 = b.x2; b.x2 = t; }
    return b;
}

static float corner_area(corner b) {
    float w = b.x2 - b.x1, h = b.y2 - b.y1;
    return h <= 0 || w <= 0 ? 0 : h * w;
}

/* EfficientNMS IOU: always on re-ordered corners */
static float eff_iou(corner a, corner b) {
    a = reorder(a), b = reorder(b);
    corner i = {a.y1 > b.y1 ? a.y1 : b.y1, a.x1 > b.x1 ? a.x1 : b.x1, a.y2 < b.y2 ? a.y2 : b.y2, a.x2 < b.x2 ? a.x2 : b.x2};
    float ia = corner_area(i);
    if (ia <= 0) return 0;
    float u = corner_area(a) + corner_area(b) - ia;
    return u <= 0 ? 0 : ia / u;
}

static corner eff_decode(const float *box, const float *anchor, int coding) {
    if (coding == 0) {
        corner c = {box[0], box[1], box[2], box[3]};
        if (anchor) c.y1 += anchor[0], c.x1 += anchor[1], c.y2 += anchor[2], c.x2 += anchor[3];
        return c;
    }
    float y = box[0], x = box[1], h = box[2], w = box[3];
    if (anchor) {
        y = y * anchor[2] + anchor[0];
        x = x * anchor[3] + anchor[1];
        h = anchor[2] * expf(box[2]);
        w = anchor[3] * expf(box[3]);
    }
    float h2 = h * 0.5f, w2 = w * 0.5f;
    return (corner){y - h2, x - w2, y + h2, x + w2};
}

#define EFF_MAX_SELECTED 4096 /* EfficientNMSParameters::numSelectedBoxes */

static odrt_status_t k_efficient_nms(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *bx = &c->in[0]->t, *sc = &c->in[1]->t;
    const odrt_tensor_t *an = c->n_in > 2 && c->in[2] ? &c->in[2]->t : NULL;
    if (bx->dtype != ODRT_DT_FLOAT || sc->dtype != ODRT_DT_FLOAT || (an && an->dtype != ODRT_DT_FLOAT))
        return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "float32 inputs only");
    /* boxes [B, N, 4], or [B, N, C, 4] one per class (Faster R-CNN's second stage) */
    int per_class = bx->rank == 4;
    if ((bx->rank != 3 && bx->rank != 4) || bx->dims[bx->rank - 1] != 4 || sc->rank != 3 || sc->dims[0] != bx->dims[0] ||
        sc->dims[1] != bx->dims[1] || (per_class && bx->dims[2] != sc->dims[2]))
        return ex_fail_node(c, ODRT_ERR_SHAPE, "boxes [B,N,4] or [B,N,C,4] and scores [B,N,C] expected");
    int64_t B = bx->dims[0], N = bx->dims[1], C = sc->dims[2];
    if (an && (an->rank != 3 || an->dims[1] != N || an->dims[2] != 4 || (an->dims[0] != 1 && an->dims[0] != B)))
        return ex_fail_node(c, ODRT_ERR_SHAPE, "anchors must be [1 or B, N, 4]");
    float thr = ir_attr_float(c->node, "score_threshold", 0), iou = ir_attr_float(c->node, "iou_threshold", 0);
    int64_t K = ir_attr_int(c->node, "max_output_boxes", 0), bg = ir_attr_int(c->node, "background_class", -1);
    int act = (int)ir_attr_int(c->node, "score_activation", 0), agn = (int)ir_attr_int(c->node, "class_agnostic", 0);
    int coding = (int)ir_attr_int(c->node, "box_coding", 0);
    if (K <= 0 || (coding != 0 && coding != 1)) return ex_fail_node(c, ODRT_ERR_INVALID, "max_output_boxes/box_coding");
    int64_t d1[2] = {B, 1}, dk[2] = {B, K}, db[3] = {B, K, 4};
    ODRT_TRY(ex_out(c, 0, ODRT_DT_INT32, 2, d1));
    ODRT_TRY(ex_out(c, 1, ODRT_DT_FLOAT, 3, db));
    ODRT_TRY(ex_out(c, 2, ODRT_DT_FLOAT, 2, dk));
    ODRT_TRY(ex_out(c, 3, ODRT_DT_INT32, 2, dk));
    /* with score_activation the threshold moves to logit space, as the plugin does */
    float select = 0.007f;
    if (act) {
        thr = thr <= 0 ? -32768.0f : logf(thr / (1.0f - thr));
        select = logf(select / (1.0f - select));
    }
    int dense = thr < select;
    int64_t E = N * C;
    ex_scored *el = malloc(sizeof(ex_scored) * (size_t)(E + 1));
    corner *boxes = malloc(sizeof(corner) * (EFF_MAX_SELECTED + 1));
    signed char *state = malloc(EFF_MAX_SELECTED + 1);
    if (!el || !boxes || !state) {
        free(el), free(boxes), free(state);
        return ex_fail_node(c, ODRT_ERR_NOMEM, "out of memory");
    }
    for (int64_t b = 0; b < B; b++) {
        const float *s = (const float *)sc->data + b * E;
        int64_t n = 0;
        for (int64_t e = 0; e < E; e++) {
            int64_t cls = e % C;
            if (dense) el[n++] = (ex_scored){s[e] < thr || cls == bg ? -32768.0f : s[e], e};
            else if (s[e] >= thr && cls != bg) el[n++] = (ex_scored){s[e], e};
        }
        qsort(el, (size_t)n, sizeof *el, ex_scored_desc);
        if (n > EFF_MAX_SELECTED) n = EFF_MAX_SELECTED;
        for (int64_t i = 0; i < n; i++) {
            int64_t a = el[i].i / C;
            const float *anc = an ? (const float *)an->data + ((an->dims[0] == 1 ? 0 : b * N) + a) * 4 : NULL;
            int64_t bi = per_class ? (b * N + a) * C + el[i].i % C : b * N + a;
            boxes[i] = eff_decode((const float *)bx->data + bi * 4, anc, coding);
            state[i] = 0;
        }
        int64_t kept = 0;
        for (int64_t i = 0; i < n && kept < K; i++) {
            if (state[i] == -1) continue;
            state[i] = 1;
            int64_t o = b * K + kept++;
            float v = el[i].v;
            ((float *)c->out[2]->t.data)[o] = act ? 1.0f / (1.0f + expf(-v)) : v;
            ((int32_t *)c->out[3]->t.data)[o] = (int32_t)(el[i].i % C);
            memcpy((float *)c->out[1]->t.data + o * 4, &boxes[i], sizeof(corner));
            for (int64_t j = i + 1; j < n; j++)
                if (state[j] == 0 && (agn || el[j].i % C == el[i].i % C) && el[j].v <= el[i].v &&
                    eff_iou(boxes[j], boxes[i]) >= iou)
                    state[j] = -1;
        }
        ((int32_t *)c->out[0]->t.data)[b] = (int32_t)kept;
    }
    free(el), free(boxes), free(state);
    return ODRT_OK;
}

/* BatchedNMS IoU ("jaccardOverlap"): min/max-sorted boxes, strict disjointness test, sizes of
 * unnormalised boxes get +1 (caffe semantics add +1 to the intersection too) */
static float batched_iou(corner a, corner b, int normalized, int caffe) {
    a = reorder(a), b = reorder(b);
    corner i = {0, 0, 0, 0};
    if (!(b.x1 > a.x2 || b.x2 < a.x1 || b.y1 > a.y2 || b.y2 < a.y1))
        i = (corner){a.y1 > b.y1 ? a.y1 : b.y1, a.x1 > b.x1 ? a.x1 : b.x1, a.y2 < b.y2 ? a.y2 : b.y2, a.x2 < b.x2 ? a.x2 : b.x2};
    float iw = i.x2 - i.x1, ih = i.y2 - i.y1;
    if (!normalized && caffe) iw += 1, ih += 1;
    if (!(iw > 0 && ih > 0)) return 0;
    float sa = normalized ? (a.x2 - a.x1) * (a.y2 - a.y1) : (a.x2 - a.x1 + 1) * (a.y2 - a.y1 + 1);
    float sb = normalized ? (b.x2 - b.x1) * (b.y2 - b.y1) : (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1);
    float in = iw * ih;
    return in / (sa + sb - in);
}

static float sat01(float v) { return v > 1 ? 1 : v < 0 ? 0 : v; }

static odrt_status_t k_batched_nms(ex_node_ctx *c) {
    ODRT_TRY(ex_need(c, 0));
    ODRT_TRY(ex_need(c, 1));
    const odrt_tensor_t *bx = &c->in[0]->t, *sc = &c->in[1]->t;
    if (bx->dtype != ODRT_DT_FLOAT || sc->dtype != ODRT_DT_FLOAT) return ex_fail_node(c, ODRT_ERR_UNSUPPORTED, "float32 only");
    int share = (int)ir_attr_int(c->node, "shareLocation", 1);
    int64_t bg = ir_attr_int(c->node, "backgroundLabelId", -1), C = ir_attr_int(c->node, "numClasses", 0);
    int64_t topK = ir_attr_int(c->node, "topK", 0), keep = ir_attr_int(c->node, "keepTopK", 0);
    float thr = ir_attr_float(c->node, "scoreThreshold", 0), iou = ir_attr_float(c->node, "iouThreshold", 0);
    int norm = (int)ir_attr_int(c->node, "isNormalized", 1), clip = (int)ir_attr_int(c->node, "clipBoxes", 1);
    int caffe = (int)ir_attr_int(c->node, "caffeSemantics", 1);
    if (bx->rank != 4 || bx->dims[3] != 4 || sc->rank != 3 || sc->dims[0] != bx->dims[0] || sc->dims[1] != bx->dims[1] ||
        sc->dims[2] != C || bx->dims[2] != (share ? 1 : C))
        return ex_fail_node(c, ODRT_ERR_SHAPE, "boxes [B,N,%s,4] and scores [B,N,numClasses=%lld] expected", share ? "1" : "C",
                            (long long)C);
    if (topK <= 0 || topK > 4096 || keep <= 0 || keep > topK)
        return ex_fail_node(c, ODRT_ERR_INVALID, "needs 0 < keepTopK <= topK <= 4096 (got %lld, %lld)", (long long)keep,
                            (long long)topK);
    int64_t B = bx->dims[0], N = bx->dims[1];
    if (topK > N) topK = N;
    int64_t d1[2] = {B, 1}, dk[2] = {B, keep}, db[3] = {B, keep, 4};
    ODRT_TRY(ex_out(c, 0, ODRT_DT_INT32, 2, d1));
    ODRT_TRY(ex_out(c, 1, ODRT_DT_FLOAT, 3, db));
    ODRT_TRY(ex_out(c, 2, ODRT_DT_FLOAT, 2, dk));
    ODRT_TRY(ex_out(c, 3, ODRT_DT_FLOAT, 2, dk));
    ex_scored *cand = malloc(sizeof(ex_scored) * (size_t)(N + 1)), *all = malloc(sizeof(ex_scored) * (size_t)(C * topK + 1));
    unsigned char *kept = malloc((size_t)topK + 1);
    if (!cand || !all || !kept) {
        free(cand), free(all), free(kept);
        return ex_fail_node(c, ODRT_ERR_NOMEM, "out of memory");
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t na = 0;
        for (int64_t cl = 0; cl < C; cl++) {
            if (cl == bg) continue;
            int64_t n = 0;
            for (int64_t a = 0; a < N; a++) {
                float s = ((const float *)sc->data)[(b * N + a) * C + cl];
                if (s > thr) cand[n++] = (ex_scored){s, a};
            }
            qsort(cand, (size_t)n, sizeof *cand, ex_scored_desc);
            if (n > topK) n = topK;
            for (int64_t i = 0; i < n; i++) kept[i] = 1;
            for (int64_t i = 0; i < n; i++) {
                if (!kept[i]) continue;
                const float *bi = (const float *)bx->data + ((b * N + cand[i].i) * (share ? 1 : C) + (share ? 0 : cl)) * 4;
                corner ci = {bi[0], bi[1], bi[2], bi[3]};
                for (int64_t j = i + 1; j < n; j++) {
                    if (!kept[j]) continue;
                    const float *bj = (const float *)bx->data + ((b * N + cand[j].i) * (share ? 1 : C) + (share ? 0 : cl)) * 4;
                    corner cj = {bj[0], bj[1], bj[2], bj[3]};
                    if (batched_iou(ci, cj, norm, caffe) > iou) kept[j] = 0;
                }
            }
            /* rank key keeps the per-image sort stable in (class, rank) order, as the plugin's layout */
            for (int64_t i = 0; i < n; i++)
                if (kept[i]) all[na++] = (ex_scored){cand[i].v, (cl * topK + i) * N + cand[i].i};
        }
        qsort(all, (size_t)na, sizeof *all, ex_scored_desc);
        int64_t cnt = na < keep ? na : keep;
        for (int64_t k = 0; k < keep; k++) {
            int64_t o = b * keep + k;
            float *ob = (float *)c->out[1]->t.data + o * 4;
            if (k >= cnt) {
                ((float *)c->out[3]->t.data)[o] = -1;
                continue; /* score 0, box 0 from the zeroed allocation */
            }
            int64_t a = all[k].i % N, cl = all[k].i / N / topK;
            const float *bb = (const float *)bx->data + ((b * N + a) * (share ? 1 : C) + (share ? 0 : cl)) * 4;
            for (int q = 0; q < 4; q++) ob[q] = clip ? sat01(bb[q]) : bb[q];
            ((float *)c->out[2]->t.data)[o] = all[k].v;
            ((float *)c->out[3]->t.data)[o] = (float)cl;
        }
        ((int32_t *)c->out[0]->t.data)[b] = (int32_t)cnt;
    }
    free(cand), free(all), free(kept);
    return ODRT_OK;
}

const ex_kernel ex_kernels_trt_nms[] = {
    {"trt.plugins", "EfficientNMS_TRT", k_efficient_nms, sh_trt_nms}, {"trt.plugins", "BatchedNMS_TRT", k_batched_nms, sh_trt_nms},
    {"", "EfficientNMS_TRT", k_efficient_nms, sh_trt_nms},            {"", "BatchedNMS_TRT", k_batched_nms, sh_trt_nms},
    {NULL, NULL, NULL, NULL},
};
