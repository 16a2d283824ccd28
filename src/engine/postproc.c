/* Detection post-processing with the TF OD API's semantics (as the export's own graph computes
 * it): decode box codes against the anchors (FasterRcnnBoxCoder, unclipped), score conversion
 * (sigmoid / softmax as the graph has it), background columns dropped, per-class NMS on the
 * unclipped boxes (score > threshold, IoU > threshold suppresses, descending score with lower
 * anchor first on ties, at most max_per_class), then the best max_total over all classes, then
 * boxes clipped to the [0, 1] window. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util.h"
#include "engine.h"

typedef struct {
    float s;
    int32_t i;
} cand;

/* heap ordered by score desc, then index asc */
static int before(const cand *a, const cand *b) { return a->s > b->s || (a->s == b->s && a->i < b->i); }

static void sift(cand *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(&h[l], &h[m])) m = l;
        if (r < n && before(&h[r], &h[m])) m = r;
        if (m == i) return;
        cand t = h[i];
        h[i] = h[m], h[m] = t;
        i = m;
    }
}

static void minmax(float a, float b, float *lo, float *hi) {
    if (a >= b) *lo = b, *hi = a;
    else *lo = a, *hi = b;
}

/* IoU > thr with the same degenerate-box rules as the reference NonMaxSuppression */
static int suppress(const float *b1, const float *b2, float thr) {
    float x1a, x1b, y1a, y1b, x2a, x2b, y2a, y2b;
    minmax(b1[1], b1[3], &x1a, &x1b);
    minmax(b2[1], b2[3], &x2a, &x2b);
    minmax(b1[0], b1[2], &y1a, &y1b);
    minmax(b2[0], b2[2], &y2a, &y2b);
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

static int cmp_det(const void *a, const void *b) {
    const odrt_detection_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->class_id > y->class_id) - (x->class_id < y->class_id);
}

typedef struct {
    const eng_meta *m;
    const float *anchors, *codes, *logits;
    int64_t N, chunk;
    int C, CT;
    float *boxes;              /* [B][N][4] decoded, unclipped */
    float *sc;                 /* [B][C][N] converted scores */
    cand *heap;                /* [B][C][N] */
    odrt_detection_t *kept;    /* [B][C][max_per_class] */
    int *n_kept;               /* [B][C] */
    int32_t *keep;             /* [B][C][max_per_class] anchor ids */
} post_job;

/* decode and score conversion for a chunk of anchors of one image */
static void decode_task(void *arg, int64_t t, int th) {
    post_job *j = arg;
    const eng_meta *m = j->m;
    int64_t chunks = (j->N + j->chunk - 1) / j->chunk, b = t / chunks, i0 = t % chunks * j->chunk;
    int64_t i1 = i0 + j->chunk < j->N ? i0 + j->chunk : j->N;
    (void)th;
    for (int64_t i = i0; i < i1; i++) {
        const float *e = j->codes + (b * j->N + i) * 4, *a = j->anchors + i * 4;
        /* the same operations, in the same order, as the export's decoder */
        float ty = e[0] / m->scales[0], tx = e[1] / m->scales[1], th_ = e[2] / m->scales[2], tw = e[3] / m->scales[3];
        float h = expf(th_) * a[2], w = expf(tw) * a[3], yc = ty * a[2] + a[0], xc = tx * a[3] + a[1];
        float *bx = j->boxes + (b * j->N + i) * 4;
        bx[0] = yc - h / 2, bx[1] = xc - w / 2, bx[2] = yc + h / 2, bx[3] = xc + w / 2;
        const float *l = j->logits + (b * j->N + i) * j->CT;
        float *sc = j->sc + b * j->C * j->N + i;
        if (m->score_act == 2) {
            double mx = l[0], sum = 0;
            for (int c = 1; c < j->CT; c++) mx = l[c] > mx ? l[c] : mx;
            for (int c = 0; c < j->CT; c++) sum += exp((double)l[c] - mx);
            for (int c = 0; c < j->C; c++) sc[c * j->N] = (float)(exp((double)l[c + m->bg_offset] - mx) / sum);
        } else if (m->score_act == 1) {
            for (int c = 0; c < j->C; c++) sc[c * j->N] = 1.0f / (1.0f + expf(-l[c + m->bg_offset]));
        } else {
            for (int c = 0; c < j->C; c++) sc[c * j->N] = l[c + m->bg_offset];
        }
    }
}

/* greedy NMS of one class of one image */
static void nms_task(void *arg, int64_t t, int th) {
    post_job *j = arg;
    const eng_meta *m = j->m;
    int64_t b = t / j->C, N = j->N;
    int c = (int)(t % j->C), K = m->max_per_class;
    const float *s = j->sc + t * N, *boxes = j->boxes + b * N * 4;
    cand *heap = j->heap + t * N;
    int32_t *keep = j->keep + t * K;
    odrt_detection_t *out = j->kept + t * K;
    (void)th;
    int64_t n = 0;
    for (int64_t i = 0; i < N; i++)
        if (s[i] > m->score_threshold) heap[n++] = (cand){s[i], (int32_t)i};
    for (int64_t i = n / 2; i-- > 0;) sift(heap, n, i);
    int nk = 0;
    while (n > 0 && nk < K) {
        cand top = heap[0];
        heap[0] = heap[--n];
        sift(heap, n, 0);
        int ok = 1;
        for (int q = 0; q < nk && ok; q++) ok = !suppress(boxes + 4 * (int64_t)keep[q], boxes + 4 * (int64_t)top.i, m->iou_threshold);
        if (!ok) continue;
        keep[nk] = top.i;
        const float *bx = boxes + 4 * (int64_t)top.i;
        out[nk++] = (odrt_detection_t){bx[0], bx[1], bx[2], bx[3], top.s, c};
    }
    j->n_kept[t] = nk;
}

odrt_status_t eng_postprocess(const eng_meta *m, const float *anchors, const float *codes, const float *logits, int B,
                              odrt_detections_t *out, eng_parallel_fn par, void *par_ctx) {
    post_job j;
    memset(&j, 0, sizeof j);
    j.m = m, j.anchors = anchors, j.codes = codes, j.logits = logits, j.N = m->n_anchors, j.chunk = 2048;
    j.C = m->n_classes, j.CT = m->n_classes + m->bg_offset;
    size_t BC = (size_t)B * (size_t)j.C, K = (size_t)m->max_per_class;
    j.boxes = malloc(sizeof(float) * (size_t)B * (size_t)j.N * 4);
    j.sc = malloc(sizeof(float) * BC * (size_t)j.N);
    j.heap = malloc(sizeof(cand) * BC * (size_t)j.N);
    j.kept = malloc(sizeof(odrt_detection_t) * BC * K);
    j.n_kept = calloc(BC, sizeof(int));
    j.keep = malloc(sizeof(int32_t) * BC * K);
    odrt_status_t rc = ODRT_OK;
    for (int b = 0; b < B; b++) memset(&out[b], 0, sizeof out[b]);
    if (!j.boxes || !j.sc || !j.heap || !j.kept || !j.n_kept || !j.keep) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc == ODRT_OK) {
        par(par_ctx, B * ((j.N + j.chunk - 1) / j.chunk), decode_task, &j);
        par(par_ctx, (int64_t)BC, nms_task, &j);
    }
    for (int b = 0; b < B && rc == ODRT_OK; b++) {
        int64_t n_all = 0;
        for (int c = 0; c < j.C; c++) n_all += j.n_kept[b * j.C + c];
        odrt_detection_t *all = malloc(sizeof(odrt_detection_t) * (size_t)(n_all + 1));
        if (!all) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        n_all = 0;
        for (int c = 0; c < j.C; c++) {
            int64_t t = (int64_t)b * j.C + c;
            memcpy(all + n_all, j.kept + t * (int64_t)K, sizeof(odrt_detection_t) * (size_t)j.n_kept[t]);
            n_all += j.n_kept[t];
        }
        qsort(all, (size_t)n_all, sizeof *all, cmp_det);
        int k = n_all < m->max_total ? (int)n_all : m->max_total;
        for (int i = 0; i < k; i++) {
            odrt_detection_t *d = &all[i];
            d->ymin = fminf(fmaxf(d->ymin, 0), 1), d->xmin = fminf(fmaxf(d->xmin, 0), 1);
            d->ymax = fminf(fmaxf(d->ymax, 0), 1), d->xmax = fminf(fmaxf(d->xmax, 0), 1);
            d->class_id += m->class_offset;
        }
        out[b].count = k, out[b].items = all;
    }
    if (rc != ODRT_OK)
        for (int b = 0; b < B; b++) odrt_detections_clear(&out[b]);
    free(j.boxes), free(j.sc), free(j.heap), free(j.kept), free(j.n_kept), free(j.keep);
    return rc;
}
