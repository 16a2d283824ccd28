/* The CPU post-processing's two NMS walks give the same detections: class by class (each class's
 * greedy NMS to its end, then the merge: the engine's reference semantics, checked against TF's graph
 * and onnxruntime by the engine tests) and, for many candidates, all classes best first with the walk
 * stopped at max_total surviving boxes (src/engine/postproc.c, global_task). Random heads with the
 * hard cases: scores tied in bulk (saturated sigmoids), boxes that overlap heavily or fall outside
 * the clip window (kept, but dropped by the merge), a background column, softmax / sigmoid / raw
 * scores, per-class boxes, valid-anchor counts, batch 2, max_per_class below and above max_total.
 * Exit 0 when every case gives byte-identical detections both ways. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/engine.h"

static uint64_t rng = 0x853c49e6748fea9bull;
static double urand(void) { /* [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void serial_for(void *ctx, int64_t n, eng_task fn, void *arg) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) fn(arg, i, 0);
}

static void sigmoid(void *ctx, const float *x, float *y, int64_t n) { /* (the host's vectorised sigmoid's place) */
    (void)ctx;
    for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

typedef struct {
    int N, C, bg, act, K, B, max_per_class, max_total, ties, valid;
    float thr;
} nms_case;

static void one(const nms_case *k) {
    int CT = k->C + k->bg;
    size_t nl = (size_t)k->B * k->N * CT, nc = (size_t)k->B * k->N * k->K * 4;
    float *anchors = malloc(sizeof(float) * 4 * (size_t)k->N), *codes = malloc(sizeof(float) * nc), *logits = malloc(sizeof(float) * nl);
    for (int i = 0; i < k->N; i++) { /* a grid of overlapping anchors, some reaching past the window */
        anchors[4 * i] = (float)urand() * 1.2f - 0.1f, anchors[4 * i + 1] = (float)urand() * 1.2f - 0.1f;
        anchors[4 * i + 2] = 0.05f + (float)urand() * 0.3f, anchors[4 * i + 3] = 0.05f + (float)urand() * 0.3f;
    }
    for (size_t i = 0; i < nc; i++) codes[i] = (float)(urand() - 0.5) * 2;
    for (size_t i = 0; i < nl; i++) {
        double u = urand();
        /* ties: a share of the logits saturate (sigmoid 1.0) or repeat one value */
        logits[i] = k->ties && u < 0.3 ? 40.0f : k->ties && u < 0.5 ? 1.5f : (float)((urand() - 0.7) * 12);
    }
    float clip[4] = {1.0f, 1.0f, 0.7f, 0.9f}, scale[4] = {1.0f, 1.0f, 1.0f / 0.7f, 1.0f / 0.9f};
    int valid[2] = {k->N, k->N * 2 / 3};
    eng_nms_spec s;
    memset(&s, 0, sizeof s);
    s.anchors = anchors, s.codes = codes, s.box_classes = k->K, s.logits = logits, s.n_valid = k->valid ? valid : NULL;
    s.clip = clip, s.scale = scale, s.N = k->N, s.C = k->C, s.bg = k->bg, s.act = k->act;
    s.scales[0] = s.scales[1] = 10, s.scales[2] = s.scales[3] = 5;
    s.score_thr = k->thr, s.iou_thr = 0.5f, s.max_per_class = k->max_per_class, s.max_total = k->max_total, s.class_offset = 1;
    eng_host host = {serial_for, k->ties ? sigmoid : NULL, NULL}; /* (both ways of computing sigmoid scores) */
    odrt_detections_t a[2], b[2];
    eng_post_ws *wa = NULL, *wb = NULL;
    s.per_class = 1;
    odrt_status_t ra = eng_nms_run(&s, k->B, a, &host, &wa);
    s.per_class = 0;
    odrt_status_t rb = eng_nms_run(&s, k->B, b, &host, &wb);
    CHECK(ra == ODRT_OK && rb == ODRT_OK, "N %d C %d: run failed", k->N, k->C);
    for (int i = 0; i < k->B && ra == ODRT_OK && rb == ODRT_OK; i++) {
        int same = a[i].count == b[i].count && !memcmp(a[i].items, b[i].items, sizeof(odrt_detection_t) * (size_t)a[i].count);
        for (int q = 0; !same && q < a[i].count && q < b[i].count; q++)
            if (memcmp(&a[i].items[q], &b[i].items[q], sizeof a[i].items[q])) {
                printf("  first difference at %d: %g %d %g,%g vs %g %d %g,%g\n", q, a[i].items[q].score, a[i].items[q].class_id, a[i].items[q].ymin,
                       a[i].items[q].xmin, b[i].items[q].score, b[i].items[q].class_id, b[i].items[q].ymin, b[i].items[q].xmin);
                break;
            }
        CHECK(same, "N %d C %d bg %d act %d K %d per_class %d total %d ties %d valid %d thr %g, image %d: %d vs %d detections differ",
              k->N, k->C, k->bg, k->act, k->K, k->max_per_class, k->max_total, k->ties, k->valid, k->thr, i, a[i].count, b[i].count);
    }
    for (int i = 0; i < k->B; i++) {
        if (ra == ODRT_OK) odrt_detections_clear(&a[i]);
        if (rb == ODRT_OK) odrt_detections_clear(&b[i]);
    }
    eng_post_ws_free(wa), eng_post_ws_free(wb);
    free(anchors), free(codes), free(logits);
}

int main(void) {
    int n = 0;
    static const int dims[][2] = {{8192, 9}, {1917, 90}, {3000, 33}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (int act = 0; act < 3; act++)
            for (int ties = 0; ties < 2; ties++)
                for (int v = 0; v < 4; v++) {
                    nms_case k = {dims[d][0], dims[d][1], v & 1, act, v == 3 ? dims[d][1] : 1, 2, v == 2 ? 150 : 20,
                                  v == 2 ? 100 : 60, ties, v >= 2, act == 1 ? 1e-8f : act == 2 ? 1e-3f : -1.0f};
                    one(&k), n++;
                }
    printf("%d cases, %d failed\n", n, failures);
    return failures != 0;
}
