/* The asynchronous API and frames by pointer (odrt_engine_submit / _wait / _detect_frames,
 * odrt_frame_t): results equal odrt_engine_detect's exactly, two handles with submissions in
 * flight at once, frames in CUDA memory (GPU builds), and every misuse refused with its error.
 *
 *   test_engine_async MODEL.onnx cpu|cuda[:fp16] PHOTO...     (exit 77: no GPU for cuda) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "odrt.h"
#define CK(cond) CHECK(cond, "%s", #cond)
#define RQ(cond) REQUIRE(cond, "%s", #cond)
#ifdef ODRT_TEST_CUDA
#include <cuda_runtime.h>
#endif

#define MAX_IMG 16
#define CK(cond) CHECK(cond, "%s", #cond)
#define RQ(cond) REQUIRE(cond, "%s", #cond)

static int same(const odrt_detections_t *a, const odrt_detections_t *b) {
    return a->count == b->count && (!a->count || !memcmp(a->items, b->items, sizeof(odrt_detection_t) * (size_t)a->count));
}

static odrt_frame_t frame_of(const odrt_tensor_t *t) {
    return (odrt_frame_t){t->data, (int)t->dims[1], (int)t->dims[2], ODRT_MEM_HOST};
}

static odrt_engine_t *build(const char *path, const char *dev, const char *prec, int batch) {
    odrt_model_t *m = NULL;
    odrt_engine_t *e = NULL;
    odrt_build_options_t o;
    odrt_build_options_init(&o);
    o.device = dev, o.precision = prec, o.threads = 2, o.batch = batch;
    if (odrt_model_load(path, &m) != ODRT_OK || odrt_engine_build(m, &o, &e) != ODRT_OK) fprintf(stderr, "build: %s\n", odrt_last_error());
    odrt_model_free(m);
    return e;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL cpu|cuda[:fp16] PHOTO...\n", argv[0]);
        return 2;
    }
    char dev[16];
    snprintf(dev, sizeof dev, "%s", argv[2]);
    char *prec = strchr(dev, ':');
    if (prec) *prec++ = 0;
    int cuda = !strcmp(dev, "cuda"), n_img = 0;
    odrt_tensor_t *img[MAX_IMG] = {0};
    odrt_detections_t ref[MAX_IMG] = {{0}}, d[2] = {{0}};
    odrt_engine_t *e = build(argv[1], dev, prec, 1), *e2 = NULL, *eb = NULL;
    if (!e && cuda && strstr(odrt_last_error(), "without CUDA")) {
        printf("SKIP: %s\n", odrt_last_error());
        return 77;
    }
    RQ(e != NULL);
    if (odrt_engine_prepare(e) != ODRT_OK) {
        printf("SKIP: %s\n", odrt_last_error());
        odrt_engine_free(e);
        return 77;
    }
    for (int i = 3; i < argc && n_img < MAX_IMG; i++, n_img++) {
        RQ(odrt_image_load(argv[i], 0, 0, &img[n_img]) == ODRT_OK);
        const odrt_tensor_t *f = img[n_img];
        RQ(odrt_engine_detect(e, 1, &f, &ref[n_img]) == ODRT_OK);
    }
    RQ(n_img >= 2);

    /* submit + wait, and detect_frames, equal detect */
    for (int i = 0; i < n_img; i++) {
        odrt_frame_t f = frame_of(img[i]);
        CK(odrt_engine_submit(e, 1, &f) == ODRT_OK);
        CK(odrt_engine_wait(e, d) == ODRT_OK && same(&d[0], &ref[i]));
        odrt_detections_clear(&d[0]);
        CK(odrt_engine_detect_frames(e, 1, &f, d) == ODRT_OK && same(&d[0], &ref[i]));
        odrt_detections_clear(&d[0]);
    }
    /* two handles in flight at once, round robin over the photos */
    RQ(odrt_engine_share(e, &e2) == ODRT_OK);
    odrt_engine_t *h[2] = {e, e2};
    int at[2] = {-1, -1};
    for (int i = 0; i < n_img + 2; i++) {
        int k = i % 2;
        if (at[k] >= 0) {
            CK(odrt_engine_wait(h[k], d) == ODRT_OK);
            CHECK(same(&d[0], &ref[at[k]]), "handle %d, photo %d: differs from detect", k, at[k]);
            odrt_detections_clear(&d[0]);
            at[k] = -1;
        }
        if (i < n_img) {
            odrt_frame_t f = frame_of(img[i]);
            CK(odrt_engine_submit(h[k], 1, &f) == ODRT_OK);
            at[k] = i;
        }
    }

    /* misuse: every call refused with its status, the handle still usable */
    odrt_frame_t f0 = frame_of(img[0]), f1 = frame_of(img[1]);
    CK(odrt_engine_wait(e, d) == ODRT_ERR_ARG && strstr(odrt_last_error(), "nothing was submitted"));
    CK(odrt_engine_submit(e, 1, &f0) == ODRT_OK);
    CK(odrt_engine_submit(e, 1, &f1) == ODRT_ERR_ARG && strstr(odrt_last_error(), "pending"));
    const odrt_tensor_t *t0 = img[0];
    CK(odrt_engine_detect(e, 1, &t0, d) == ODRT_ERR_ARG && strstr(odrt_last_error(), "pending"));
    CK(odrt_engine_wait(e, d) == ODRT_OK && same(&d[0], &ref[0]));
    odrt_detections_clear(&d[0]);
    CK(odrt_engine_submit(e, 2, (odrt_frame_t[2]){f0, f1}) == ODRT_ERR_ARG); /* batch 1 */
    CK(odrt_engine_submit(e, 0, &f0) == ODRT_ERR_ARG);
    odrt_frame_t bad = f0;
    bad.data = NULL;
    CK(odrt_engine_submit(e, 1, &bad) == ODRT_ERR_SHAPE);
    bad = f0, bad.height = 0;
    CK(odrt_engine_submit(e, 1, &bad) == ODRT_ERR_SHAPE);
    bad = f0, bad.memory = (odrt_memory_t)7;
    CK(odrt_engine_submit(e, 1, &bad) == ODRT_ERR_ARG && strstr(odrt_last_error(), "memory kind"));
    bad = f0, bad.memory = ODRT_MEM_CUDA; /* host memory called CUDA memory */
    odrt_status_t st = odrt_engine_submit(e, 1, &bad);
    CHECK(cuda ? st == ODRT_ERR_ARG : st == ODRT_ERR_UNSUPPORTED, "host memory as CUDA memory: %s (%s)", odrt_status_str(st),
              odrt_last_error());
    void *stream = NULL;
    st = odrt_engine_cuda_stream(e, &stream);
    CK(cuda ? st == ODRT_OK && stream : st == ODRT_ERR_UNSUPPORTED);
    CK(odrt_engine_detect_frames(e, 1, &f0, d) == ODRT_OK && same(&d[0], &ref[0])); /* still usable */
    odrt_detections_clear(&d[0]);

    /* batch 2: two frames by pointer equal the same engine's detect on tensors */
    eb = build(argv[1], dev, prec, 2);
    RQ(eb != NULL);
    odrt_detections_t rb[2] = {{0}};
    const odrt_tensor_t *tt[2] = {img[0], img[1]};
    RQ(odrt_engine_detect(eb, 2, tt, rb) == ODRT_OK);
    CK(odrt_engine_detect_frames(eb, 2, (odrt_frame_t[2]){f0, f1}, d) == ODRT_OK && same(&d[0], &rb[0]) && same(&d[1], &rb[1]));
    odrt_detections_clear(&d[0]), odrt_detections_clear(&d[1]);
#ifdef ODRT_TEST_CUDA
    if (cuda) { /* the same frames from device memory: one buffer (one copy) and two (a copy each) */
        size_t b0 = img[0]->nbytes, b1 = img[1]->nbytes;
        uint8_t *dm = NULL, *dm2 = NULL;
        RQ(cudaMalloc((void **)&dm, b0 + b1) == cudaSuccess && cudaMalloc((void **)&dm2, b1) == cudaSuccess);
        RQ(cudaMemcpy(dm, img[0]->data, b0, cudaMemcpyHostToDevice) == cudaSuccess);
        RQ(cudaMemcpy(dm + b0, img[1]->data, b1, cudaMemcpyHostToDevice) == cudaSuccess);
        RQ(cudaMemcpy(dm2, img[1]->data, b1, cudaMemcpyHostToDevice) == cudaSuccess);
        odrt_frame_t g0 = f0, g1 = f1, g2 = f1;
        g0.data = dm, g1.data = dm + b0, g2.data = dm2;
        g0.memory = g1.memory = g2.memory = ODRT_MEM_CUDA;
        CK(odrt_engine_detect_frames(e, 1, &g0, d) == ODRT_OK && same(&d[0], &ref[0]));
        odrt_detections_clear(&d[0]);
        CK(odrt_engine_detect_frames(eb, 2, (odrt_frame_t[2]){g0, g1}, d) == ODRT_OK && same(&d[0], &rb[0]) && same(&d[1], &rb[1]));
        odrt_detections_clear(&d[0]), odrt_detections_clear(&d[1]);
        CK(odrt_engine_detect_frames(eb, 2, (odrt_frame_t[2]){g0, g2}, d) == ODRT_OK && same(&d[0], &rb[0]) && same(&d[1], &rb[1]));
        odrt_detections_clear(&d[0]), odrt_detections_clear(&d[1]);
        CK(odrt_engine_submit(eb, 2, (odrt_frame_t[2]){g0, f1}) == ODRT_ERR_ARG && strstr(odrt_last_error(), "all in"));
        /* back to host frames on the same handle (the graph is captured again) */
        CK(odrt_engine_detect_frames(e, 1, &f0, d) == ODRT_OK && same(&d[0], &ref[0]));
        odrt_detections_clear(&d[0]);
        cudaFree(dm), cudaFree(dm2);
    }
#endif
    odrt_detections_clear(&rb[0]), odrt_detections_clear(&rb[1]);
    /* a handle freed with a submission in flight */
    CK(odrt_engine_submit(e2, 1, &f1) == ODRT_OK);
out:
    odrt_engine_free(e2), odrt_engine_free(e), odrt_engine_free(eb);
    for (int i = 0; i < n_img; i++) odrt_detections_clear(&ref[i]), odrt_tensor_free(img[i]);
    printf("%s: async API on a %s engine, %d photos\n", failures ? "FAILED" : "ok", argv[2], n_img);
    return failures != 0;
}
