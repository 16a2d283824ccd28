/* Several threads on one loaded engine: odrt_engine_share gives each thread a handle with its own
 * execution context (CUDA: own stream, graph and activations; the uploaded weights are shared).
 * Four threads detect on the photos in different orders, several rounds, and every result must
 * equal the single-threaded one exactly. Handles are freed in an order other than creation.
 *
 *   test_engine_threads MODEL.onnx cpu|cuda[:fp16] PHOTO...     (exit 77: no GPU for cuda) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odrt.h"

#define THREADS 4
#define ROUNDS 3
#define MAX_IMG 16

static int n_img;
static odrt_tensor_t *img[MAX_IMG];
static odrt_detections_t ref[MAX_IMG];

typedef struct {
    odrt_engine_t *e;
    int id, bad;
    char msg[256];
} worker;

static int same(const odrt_detections_t *a, const odrt_detections_t *b) {
    return a->count == b->count && (!a->count || !memcmp(a->items, b->items, sizeof(odrt_detection_t) * (size_t)a->count));
}

static void *work(void *arg) {
    worker *w = arg;
    for (int r = 0; r < ROUNDS && !w->bad; r++)
        for (int q = 0; q < n_img && !w->bad; q++) {
            int i = (q * (w->id + 1) + w->id + r) % n_img; /* each thread its own order */
            const odrt_tensor_t *f = img[i];
            odrt_detections_t d;
            if (odrt_engine_detect(w->e, 1, &f, &d) != ODRT_OK) {
                snprintf(w->msg, sizeof w->msg, "thread %d: %s", w->id, odrt_last_error());
                w->bad = 1;
                break;
            }
            if (!same(&d, &ref[i])) {
                snprintf(w->msg, sizeof w->msg, "thread %d, photo %d: %d detections, single-threaded %d (or values differ)",
                         w->id, i, d.count, ref[i].count);
                w->bad = 1;
            }
            odrt_detections_clear(&d);
        }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL cpu|cuda[:fp16] PHOTO...\n", argv[0]);
        return 2;
    }
    odrt_model_t *m;
    odrt_build_options_t o;
    odrt_build_options_init(&o);
    char dev[16];
    snprintf(dev, sizeof dev, "%s", argv[2]);
    char *colon = strchr(dev, ':');
    if (colon) *colon = 0, o.precision = colon + 1;
    o.device = dev, o.threads = 2;
    odrt_engine_t *h[THREADS];
    if (odrt_model_load(argv[1], &m) != ODRT_OK || odrt_engine_build(m, &o, &h[0]) != ODRT_OK) {
        fprintf(stderr, "build: %s\n", odrt_last_error());
        return 1;
    }
    odrt_model_free(m);
    if (odrt_engine_prepare(h[0]) != ODRT_OK) {
        printf("SKIP: %s\n", odrt_last_error());
        odrt_engine_free(h[0]);
        return 77;
    }
    for (int i = 3; i < argc && n_img < MAX_IMG; i++) {
        if (odrt_image_load(argv[i], 0, 0, &img[n_img]) != ODRT_OK) {
            fprintf(stderr, "%s\n", odrt_last_error());
            return 1;
        }
        const odrt_tensor_t *f = img[n_img];
        if (odrt_engine_detect(h[0], 1, &f, &ref[n_img]) != ODRT_OK) {
            fprintf(stderr, "detect: %s\n", odrt_last_error());
            return 1;
        }
        n_img++;
    }
    for (int t = 1; t < THREADS; t++)
        if (odrt_engine_share(h[0], &h[t]) != ODRT_OK) {
            fprintf(stderr, "share: %s\n", odrt_last_error());
            return 1;
        }
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (worker){h[t], t, 0, ""};
        pthread_create(&th[t], NULL, work, &w[t]);
    }
    int bad = 0, total = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        if (w[t].bad) printf("FAIL %s\n", w[t].msg), bad = 1;
    }
    for (int i = 0; i < n_img; i++) total += ref[i].count;
    /* free the first handle first: the others keep the shared bytes and weights alive */
    for (int t = 0; t < THREADS; t++) odrt_engine_free(h[t]);
    for (int i = 0; i < n_img; i++) odrt_detections_clear(&ref[i]), odrt_tensor_free(img[i]);
    printf("%s: %d threads x %d rounds x %d photos (%d detections per round) on one %s engine\n", bad ? "FAIL" : "ok", THREADS,
           ROUNDS, n_img, total, argv[2]);
    return bad || total == 0;
}
