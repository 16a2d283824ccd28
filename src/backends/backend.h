/* Backend interface (in the spirit of ggml's ggml_backend_i). The engine validates a plan
 * (engine/validate.c: a loaded file is untrusted) before any backend sees it; a backend then says
 * which of its valid ops it runs (supports_op), prepares what it needs at load (arena, threads;
 * weights are used in place from the blob), and runs the network ops. Weight packing for a
 * backend's kernels happens at build time (engine/lower.c), in the layout its device record
 * names. Each backend has one table of op runners indexed by kind (engine_ops.h). */
#ifndef ODRT_BACKEND_H
#define ODRT_BACKEND_H

#include "engine/engine.h"

typedef struct eng_backend_i {
    const char *name;
    /* what engines for this backend may hold (precisions, lazy prepare, weight layout) */
    const eng_device *dev;
    /* 1 if op k of the (validated) plan p runs here; otherwise 0 with the error set naming why */
    int (*supports_op)(const eng_plan *p, int k);
    /* load time: *ctx receives the backend's state for p (arena, threads, reference sessions);
     * o: the run-time options (threads, profiling, kernel choices; never NULL) */
    odrt_status_t (*prepare)(const eng_plan *p, const odrt_engine_options_t *o, void **ctx);
    /* run network ops [k0, k1) (all: 0, p->n_ops; an R-CNN engine runs its stages one by one); the
     * input tensors have been written into the arena */
    odrt_status_t (*run)(void *ctx, const eng_plan *p, int k0, int k1);
    /* the arena (tensor bytes at eng_tensor.offset), or NULL for device memory (read_tensor) */
    uint8_t *(*arena)(void *ctx);
    /* host work for the engine's pre/post-processing: fn(arg, i, thread) for i in [0, n) */
    void (*parallel_for)(void *ctx, int64_t n, eng_task fn, void *arg);
    /* y = sigmoid(x), vectorised on the host; NULL: the engine uses the scalar formula */
    void (*sigmoid)(void *ctx, const float *x, float *y, int64_t n);
    /* the backend's profile (o->profile), through odrt's log, then the state released */
    void (*free)(void *ctx);
    /* optional (NULL: the engine preprocesses into the arena on the host, calls run, and
     * post-processes the arena's outputs on the host): the whole detection on the device, frames
     * in, detections out, in two steps. submit queues it for n frames (checked by the engine:
     * sizes, memory kind) and returns; wait blocks until it is done and gives out[i] for i < n
     * (items malloc'ed). The engine calls wait once after every successful submit. */
    odrt_status_t (*submit)(void *ctx, const eng_plan *p, int n, const odrt_frame_t *frames);
    odrt_status_t (*wait)(void *ctx, const eng_plan *p, int n, odrt_detections_t *out);
    /* optional: tensor t's values as float32 into dst (numel floats, stored order); NULL: the
     * arena is host memory */
    odrt_status_t (*read_tensor)(void *ctx, const eng_plan *p, int t, float *dst);
    odrt_status_t (*write_tensor)(void *ctx, const eng_plan *p, int t, const float *src);
    /* optional: device milliseconds of the last detect (from device events), -1 if unknown */
    double (*last_device_ms)(void *ctx);
    /* optional: a new context for p (the same engine) sharing src's device weights; NULL: prepare */
    odrt_status_t (*share)(void *src, const eng_plan *p, const odrt_engine_options_t *o, void **ctx);
    /* the kernel set the context runs ("avx512", "avx2", "generic", "sm_90", ...; static) */
    const char *(*kernels)(void *ctx);
    /* optional: the context's device stream (CUDA: its cudaStream_t); NULL: none */
    void *(*stream)(void *ctx);
    /* optional: 0 if ptr is memory of the context's device that frames may be read from, else
     * nonzero with the error set naming why (NULL: the backend takes host frames only) */
    int (*check_device_ptr)(void *ctx, const void *ptr, size_t bytes);
} eng_backend_i;

extern const eng_backend_i eng_backend_cpu;
#ifdef ODRT_HAVE_CUDA
extern const eng_backend_i eng_backend_cuda;
#endif

#endif
