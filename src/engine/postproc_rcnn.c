/* Faster / Mask R-CNN post-processing between and after the network's stages, with the TF OD API's
 * semantics as the exports compute them (faster_rcnn_meta_arch.py; build_rcnn.c checks these
 * functions against each export's own graph on probes before it builds):
 *   proposals: the first stage's codes decoded against the anchors (pixels of the network input),
 *     objectness = softmax(logits)[1], NMS as one class, clipped to the frame's window (pixels),
 *     boxes left without area dropped, the best kept, normalised by the network input size;
 *   detections: the second stage's codes (one box for every class, or one per class) decoded
 *     against the proposals in pixels (normalised x network size, centre = min + size / 2),
 *     class scores by the score converter without the background column, per-class NMS over the
 *     image's valid proposals, clipped to the window, without area dropped, the best kept,
 *     renormalised to the window;
 *   masks: the sigmoid of each detection's class channel of the mask head. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/engine.h"

#define MAX_B 256

static odrt_status_t windows(int B, const int64_t *win_px, float *clip) {
    if (B < 1 || B > MAX_B) return odrt_fail(ODRT_ERR_ARG, "post-processing: batch %d", B);
    for (int b = 0; b < B; b++) clip[2 * b] = (float)win_px[2 * b], clip[2 * b + 1] = (float)win_px[2 * b + 1];
    return ODRT_OK;
}

odrt_status_t eng_rcnn_proposals(const eng_meta *m, const float *anchors, const float *codes, const float *logits, int B,
                                 const int64_t *win_px, float *props, int *n_props, const eng_host *host, eng_post_ws **ws) {
    float clip[2 * MAX_B], scale[2 * MAX_B];
    ODRT_TRY(windows(B, win_px, clip));
    for (int b = 0; b < B; b++) scale[2 * b] = 1.0f / (float)m->net_h, scale[2 * b + 1] = 1.0f / (float)m->net_w;
    int keep = m->rc_max1 < m->rc_props ? m->rc_max1 : m->rc_props;
    eng_nms_spec s;
    memset(&s, 0, sizeof s);
    s.anchors = anchors, s.codes = codes, s.box_classes = 1, s.logits = logits, s.clip = clip, s.scale = scale;
    s.N = m->n_anchors, s.C = 1, s.bg = 1, s.act = 2;
    memcpy(s.scales, m->rc_scales1, sizeof s.scales);
    s.score_thr = m->rc_score1, s.iou_thr = m->rc_iou1, s.max_per_class = m->rc_max1, s.max_total = keep;
    odrt_detections_t d[MAX_B];
    ODRT_TRY(eng_nms_run(&s, B, d, host, ws));
    memset(props, 0, sizeof(float) * 4 * (size_t)B * (size_t)m->rc_props);
    for (int b = 0; b < B; b++) {
        float *p = props + (size_t)b * m->rc_props * 4;
        n_props[b] = d[b].count;
        for (int i = 0; i < d[b].count; i++)
            p[4 * i] = d[b].items[i].ymin, p[4 * i + 1] = d[b].items[i].xmin, p[4 * i + 2] = d[b].items[i].ymax,
            p[4 * i + 3] = d[b].items[i].xmax;
        odrt_detections_clear(&d[b]);
    }
    return ODRT_OK;
}

odrt_status_t eng_rcnn_detect(const eng_meta *m, const float *props, const int *n_props, const float *codes, const float *logits,
                              int B, const int64_t *win_px, odrt_detections_t *out, float *det_boxes, const eng_host *host,
                              eng_post_ws **ws) {
    float clip[2 * MAX_B], scale[2 * MAX_B];
    ODRT_TRY(windows(B, win_px, clip));
    for (int b = 0; b < B; b++) scale[2 * b] = 1.0f / clip[2 * b], scale[2 * b + 1] = 1.0f / clip[2 * b + 1];
    int64_t P = m->rc_props;
    float *anc = malloc(sizeof(float) * 4 * (size_t)(B * P) + 16);
    if (!anc) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    float nh = (float)m->net_h, nw = (float)m->net_w;
    for (int64_t i = 0; i < B * P; i++) { /* proposals in pixels, then centre and size as TF's box list computes them */
        const float *p = props + i * 4;
        float y1 = nh * p[0], x1 = nw * p[1], y2 = nh * p[2], x2 = nw * p[3], h = y2 - y1, w = x2 - x1;
        anc[i * 4] = y1 + h / 2, anc[i * 4 + 1] = x1 + w / 2, anc[i * 4 + 2] = h, anc[i * 4 + 3] = w;
    }
    eng_nms_spec s;
    memset(&s, 0, sizeof s);
    s.anchors = anc, s.anchor_stride = P * 4, s.codes = codes, s.box_classes = m->rc_box_classes, s.logits = logits;
    s.n_valid = n_props, s.clip = clip, s.scale = scale, s.N = P, s.C = m->n_classes, s.bg = m->bg_offset, s.act = m->score_act;
    memcpy(s.scales, m->scales, sizeof s.scales);
    s.score_thr = m->score_threshold, s.iou_thr = m->iou_threshold, s.max_per_class = m->max_per_class;
    s.max_total = m->max_total, s.class_offset = m->class_offset;
    odrt_status_t rc = eng_nms_run(&s, B, out, host, ws);
    free(anc);
    if (rc != ODRT_OK || !det_boxes) return rc;
    memset(det_boxes, 0, sizeof(float) * 4 * (size_t)B * (size_t)m->max_total);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < out[b].count && i < m->max_total; i++) {
            float *d = det_boxes + ((size_t)b * m->max_total + i) * 4;
            d[0] = out[b].items[i].ymin, d[1] = out[b].items[i].xmin, d[2] = out[b].items[i].ymax, d[3] = out[b].items[i].xmax;
        }
    return ODRT_OK;
}

void eng_rcnn_masks(const eng_meta *m, const float *mask_logits, int b, const odrt_detections_t *d, float *masks) {
    int64_t per = (int64_t)m->mask_h * m->mask_w;
    for (int i = 0; i < d->count && i < m->max_total; i++) {
        int c = m->mask_classes > 1 ? d->items[i].class_id - m->class_offset : 0;
        if (c < 0 || c >= m->mask_classes) c = 0;
        const float *l = mask_logits + (((int64_t)b * m->max_total + i) * m->mask_classes + c) * per;
        for (int64_t q = 0; q < per; q++) masks[i * per + q] = 1.0f / (1.0f + expf(-l[q]));
    }
}
