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
} eng_backend_i;

extern const eng_backend_i eng_backend_cpu;

#endif
