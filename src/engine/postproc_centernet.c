/* CenterNet post-processing with TF OD API semantics (center_net_meta_arch.postprocess), in
 * float32 and TF's operation order; build.c checks it against the export's own graph on probes.
 *
 *   p[y][x][c] = sigmoid(logit[c][y][x]) * (y < true_h) * (x < true_w)   (TF compares output-grid
 *                indices with the true image shape in input pixels, so only images narrower than
 *                the grid lose rows or columns)
 *   peak       = p where |p - max over the k x k window (stride 1, same padding)| < eps, else 0
 *   the best cn_k peaks over the flattened (y, x, class), ties to the lower index (TopK's order)
 *   box        = y + dy -+ max(h, 0) * 0.5 and x + dx -+ max(w, 0) * 0.5, clipped to the grid,
 *                times the stride, over the true image shape, clipped to [0, 1]
 *   detections: those with a score > score_threshold (0 unless overridden: TF's num_detections
 *   counts scores > 0), classes + class_offset. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/engine.h"

typedef struct {
    float s;
    int64_t i;
} peak;

/* a before b in TopK's order: higher score, then lower index */
static int before(const peak *a, const peak *b) { return a->s > b->s || (a->s == b->s && a->i < b->i); }

/* min-heap by TopK's order (the root is the one that would leave first) */
static void sift_down(peak *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(&h[m], &h[l])) m = l;
        if (r < n && before(&h[m], &h[r])) m = r;
        if (m == i) return;
        peak t = h[i];
        h[i] = h[m], h[m] = t, i = m;
    }
}

static int cmp_peak(const void *a, const void *b) {
    const peak *x = a, *y = b;
    return before(x, y) ? -1 : before(y, x) ? 1 : 0;
}

typedef struct {
    const eng_meta *m;
    int64_t C, H, W;
    const float *heat, *off, *size;
    const int64_t *win;
    odrt_detections_t *out;
    odrt_status_t *rc;
} cn_job;

static void image_task(void *arg, int64_t b, int th) {
    cn_job *j = arg;
    const eng_meta *m = j->m;
    int64_t C = j->C, H = j->H, W = j->W, HW = H * W, n = HW * C, K = m->cn_k < n ? m->cn_k : n;
    const float *L = j->heat + b * n;
    float th_h = (float)j->win[2 * b], th_w = (float)j->win[2 * b + 1];
    float *p = malloc(sizeof(float) * (size_t)(n + 1));
    peak *h = malloc(sizeof(peak) * (size_t)(K + 1));
    (void)th;
    if (!p || !h) {
        free(p), free(h);
        j->rc[b] = ODRT_ERR_NOMEM;
        return;
    }
    for (int64_t c = 0; c < C; c++) /* p in TF's NHWC order */
        for (int64_t y = 0; y < H; y++) {
            float my = (float)y < th_h ? 1.0f : 0.0f;
            for (int64_t x = 0; x < W; x++) {
                float mask = my * ((float)x < th_w ? 1.0f : 0.0f);
                p[(y * W + x) * C + c] = 1.0f / (1.0f + expf(-L[c * HW + y * W + x])) * mask;
            }
        }
    int r = m->cn_pool / 2, nh = 0;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            for (int64_t c = 0; c < C; c++) {
                int64_t i = (y * W + x) * C + c;
                float v = p[i], mx = -INFINITY;
                for (int64_t yy = y - r; yy <= y + r; yy++)
                    for (int64_t xx = x - r; xx <= x + r; xx++)
                        if (yy >= 0 && yy < H && xx >= 0 && xx < W && p[(yy * W + xx) * C + c] > mx) mx = p[(yy * W + xx) * C + c];
                peak q = {fabsf(v - mx) < m->cn_eps ? v * 1.0f : v * 0.0f, i};
                if (nh < K) {
                    h[nh++] = q;
                    if (nh == K)
                        for (int k = (int)K / 2 - 1; k >= 0; k--) sift_down(h, nh, k);
                } else if (before(&q, &h[0])) {
                    h[0] = q;
                    sift_down(h, nh, 0);
                }
            }
    qsort(h, (size_t)nh, sizeof *h, cmp_peak);
    odrt_detections_t *o = &j->out[b];
    o->items = malloc(sizeof(odrt_detection_t) * (size_t)(nh + 1));
    if (!o->items) {
        free(p), free(h);
        j->rc[b] = ODRT_ERR_NOMEM;
        return;
    }
    const float *OF = j->off + b * 2 * HW, *SZ = j->size + b * 2 * HW, st = (float)m->cn_stride;
    for (int k = 0; k < nh; k++) {
        if (!(h[k].s > m->score_threshold)) continue; /* TF counts scores > 0 */
        int64_t i = h[k].i, y = i / (W * C), x = i / C % W, c = i % C;
        float hh = fmaxf(SZ[y * W + x], 0.0f), ww = fmaxf(SZ[HW + y * W + x], 0.0f);
        float yc = (float)y + OF[y * W + x], xc = (float)x + OF[HW + y * W + x];
        float box[4] = {yc - hh * 0.5f, xc - ww * 0.5f, yc + hh * 0.5f, xc + ww * 0.5f};
        float lim[4] = {(float)H, (float)W, (float)H, (float)W}, den[4] = {th_h, th_w, th_h, th_w};
        for (int q = 0; q < 4; q++) {
            float v = fmaxf(fminf(box[q], lim[q]), 0.0f) * st / den[q];
            box[q] = fmaxf(fminf(v, 1.0f), 0.0f);
        }
        o->items[o->count++] = (odrt_detection_t){box[0], box[1], box[2], box[3], h[k].s, (int)c + m->class_offset};
    }
    free(p), free(h);
}

odrt_status_t eng_postprocess_centernet(const eng_meta *m, const int64_t *dims, const float *heat, const float *off,
                                        const float *size, int B, const int64_t *win, odrt_detections_t *out,
                                        const eng_host *host) {
    odrt_status_t rc[256];
    if (B < 1 || B > 256) return odrt_fail(ODRT_ERR_ARG, "engine: %d images", B);
    for (int b = 0; b < B; b++) memset(&out[b], 0, sizeof out[b]), rc[b] = ODRT_OK;
    cn_job j = {m, dims[1], dims[2], dims[3], heat, off, size, win, out, rc};
    host->parallel_for(host->ctx, B, image_task, &j);
    for (int b = 0; b < B; b++)
        if (rc[b] != ODRT_OK) {
            for (int q = 0; q < B; q++) odrt_detections_clear(&out[q]);
            return odrt_fail(rc[b], "out of memory");
        }
    return ODRT_OK;
}
