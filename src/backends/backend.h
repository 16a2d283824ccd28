/* Backend interface (in the spirit of ggml's ggml_backend_i). A backend checks that it can run
 * each op of a plan (supports_op: shapes, packing, blob ranges; a loaded file is untrusted),
 * prepares what it needs at load (arena, threads; weights are used in place from the blob), and
 * runs the network ops. Weight packing for a backend's kernels happens at build time (lower.c). */
#ifndef ODRT_BACKEND_H
#define ODRT_BACKEND_H

#include "engine/engine.h"

typedef struct eng_backend_i {
    const char *name;
    /* 1 if op k of p can run here; otherwise 0 with the error set naming the problem */
    int (*supports_op)(const eng_plan *p, int k);
    /* load time: *ctx receives the backend's state for p (arena, threads, reference sessions) */
    odrt_status_t (*prepare)(const eng_plan *p, int threads, void **ctx);
    /* run every network op; the input tensor has been written into the arena */
    odrt_status_t (*run)(void *ctx, const eng_plan *p);
    /* the arena (tensor bytes at eng_tensor.offset) */
    uint8_t *(*arena)(void *ctx);
    /* run fn(arg, i, thread) for i in [0, n) on the backend's host threads (pre/post-processing) */
    void (*parallel_for)(void *ctx, int64_t n, void (*fn)(void *arg, int64_t i, int thread), void *arg);
    void (*free)(void *ctx);
    /* optional (NULL: the engine preprocesses into the arena on the host, calls run, and
     * post-processes the arena's outputs on the host): the whole detection on the device, frames
     * in, detections out (out[i] for i < n; items malloc'ed) */
    odrt_status_t (*detect)(void *ctx, const eng_plan *p, int n, const odrt_tensor_t *const *frames, odrt_detections_t *out);
    /* optional: tensor t's values as float32 into dst (numel floats, stored order); NULL: the
     * arena is host memory */
    odrt_status_t (*read_tensor)(void *ctx, const eng_plan *p, int t, float *dst);
    odrt_status_t (*write_tensor)(void *ctx, const eng_plan *p, int t, const float *src);
    /* optional: device milliseconds of the last detect (from device events), -1 if unknown */
    double (*last_device_ms)(void *ctx);
    /* optional: a new context for p (the same engine) sharing src's device weights; NULL: prepare */
    odrt_status_t (*share)(void *src, const eng_plan *p, void **ctx);
} eng_backend_i;

extern const eng_backend_i eng_backend_cpu;
#ifdef ODRT_HAVE_CUDA
extern const eng_backend_i eng_backend_cuda;
#endif
/* the backend for an engine's device, or NULL (error set) when this odrt has none */
const eng_backend_i *eng_backend_for(const char *device);

#endif
