/* The engine handle (struct odrt_engine), shared by the runtime's files: engine_api.c (load, build,
 * share, metadata) and engine_detect.c (detection). Private to src/runtime/. */
#ifndef ODRT_ENGINE_HANDLE_H
#define ODRT_ENGINE_HANDLE_H

#include <stdatomic.h>

#include "backends/backend.h"
#include "engine/engine.h"

struct odrt_engine {
    eng_plan plan;
    const eng_backend_i *be;
    void *ctx;
    const uint8_t *bytes; /* the engine file: mapped or owned, shared by the handles of odrt_engine_share */
    size_t len;
    int mapped;
    atomic_int *refs;     /* handles using the bytes */
    odrt_engine_options_t opt; /* how this handle runs (threads resolved), for a lazy prepare */
    odrt_tensor_t raw[ENG_MAX_OUTPUTS]; /* views of the network outputs in the arena (host copies for devices) */
    float *raw_host[ENG_MAX_OUTPUTS];
    int n_raw;
    eng_post_ws *post_ws; /* post-processing buffers, kept across runs */
    /* R-CNN: the host side of the stage inputs (proposals, mask boxes; devices copy them in), the
     * proposals kept per image, the network input staged on the host for a device, and the last
     * detect's masks per frame */
    float *stage_in[2], *input_host;
    int *n_props;
    float **masks;
    int n_masks, stage_owned;
    /* odrt_engine_submit: frames in flight (0: none), on the device backend or run on the host with
     * the results kept in pend_out[batch] */
    int pending, pend_device;
    odrt_detections_t *pend_out;
    double pend_t0;
    double *prof;         /* opt.profile: seconds in preprocessing, network, post-processing */
    int prof_runs;
};


/* the backend's state for e, made now if it was left to first use */
odrt_status_t eng_handle_ready(odrt_engine_t *e);
/* CLOCK_MONOTONIC seconds */
double eng_handle_now(void);

#endif
