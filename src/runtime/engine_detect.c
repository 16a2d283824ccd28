/* Detection on an engine handle: frames checked, preprocessed (host) or handed to a device
 * backend, the network run, detections post-processed. */
#include <stdlib.h>
#include <string.h>

#include "runtime/engine_handle.h"
#include "engine/plan_util.h"
#include "util.h"

/* network output i on the host (a device's copied out) */
static odrt_status_t output_host(odrt_engine_t *e, int i, const float **p) {
    int ts[ENG_MAX_OUTPUTS];
    eng_network_outputs(&e->plan.meta, ts);
    if (e->be->read_tensor && !e->be->arena(e->ctx)) ODRT_TRY(e->be->read_tensor(e->ctx, &e->plan, ts[i], e->raw_host[i]));
    *p = e->raw[i].data;
    return ODRT_OK;
}

/* Faster / Mask R-CNN: the network stage by stage, the proposals and the mask boxes written in
 * between (postproc_rcnn.c); outputs 0, 1: second-stage codes, logits; 2, 3: first-stage codes,
 * logits; 4: mask logits */
static odrt_status_t detect_rcnn(odrt_engine_t *e, int n, const int64_t *win_px, odrt_detections_t *out, const eng_host *host) {
    const eng_plan *p = &e->plan;
    const eng_meta *m = &p->meta;
    const float *codes, *logits, *a = (const float *)(p->blob + m->anchors_off);
    int device = !e->be->arena(e->ctx);
    for (int b = 0; b < n; b++) memset(&out[b], 0, sizeof out[b]);
    ODRT_TRY(e->be->run(e->ctx, p, 0, m->rc_stage[0]));
    ODRT_TRY(output_host(e, 2, &codes));
    ODRT_TRY(output_host(e, 3, &logits));
    ODRT_TRY(eng_rcnn_proposals(m, a, codes, logits, n, win_px, e->stage_in[0], e->n_props, host, &e->post_ws));
    if (n < m->batch) /* frames not given: no proposals */
        memset(e->stage_in[0] + (size_t)n * m->rc_props * 4, 0, sizeof(float) * 4 * (size_t)(m->batch - n) * m->rc_props);
    if (device) ODRT_TRY(e->be->write_tensor(e->ctx, p, m->t_props, e->stage_in[0]));
    ODRT_TRY(e->be->run(e->ctx, p, m->rc_stage[0], m->rc_stage[1]));
    ODRT_TRY(output_host(e, 0, &codes));
    ODRT_TRY(output_host(e, 1, &logits));
    float *det_boxes = m->mask_h > 0 ? e->stage_in[1] : NULL;
    ODRT_TRY(eng_rcnn_detect(m, e->stage_in[0], e->n_props, codes, logits, n, win_px, out, det_boxes, host, &e->post_ws));
    if (!det_boxes) return ODRT_OK;
    if (n < m->batch) memset(det_boxes + (size_t)n * m->max_total * 4, 0, sizeof(float) * 4 * (size_t)(m->batch - n) * m->max_total);
    const float *ml = NULL;
    odrt_status_t rc = device ? e->be->write_tensor(e->ctx, p, m->t_dets, det_boxes) : ODRT_OK;
    if (rc == ODRT_OK) rc = e->be->run(e->ctx, p, m->rc_stage[1], p->n_ops);
    if (rc == ODRT_OK) rc = output_host(e, 4, &ml);
    for (int b = 0; b < n && rc == ODRT_OK; b++) eng_rcnn_masks(m, ml, b, &out[b], e->masks[b]);
    if (rc != ODRT_OK)
        for (int b = 0; b < n; b++) odrt_detections_clear(&out[b]);
    return rc;
}

odrt_status_t odrt_engine_masks(const odrt_engine_t *e, int i, const float **masks, int *mask_h, int *mask_w) {
    if (!e || !masks || !mask_h || !mask_w) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_masks: NULL argument");
    *masks = NULL, *mask_h = *mask_w = 0;
    if (i < 0 || i >= e->plan.meta.batch) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_masks: no frame %d", i);
    if (!e->n_masks) return ODRT_OK;
    *masks = e->masks[i], *mask_h = e->plan.meta.mask_h, *mask_w = e->plan.meta.mask_w;
    return ODRT_OK;
}

static void prep_task(void *arg, int64_t t, int th) {
    const eng_prep *p = arg;
    int64_t y1 = (t + 1) * 8 < p->m->net_h ? (t + 1) * 8 : p->m->net_h;
    (void)th;
    eng_prep_rows(p, t * 8, y1);
}

/* the frames against the engine: count, sizes, memory (a device backend checks its pointers) */
static odrt_status_t check_frames(odrt_engine_t *e, int n, const odrt_frame_t *f, int device_path) {
    const eng_meta *m = &e->plan.meta;
    if (n < 1 || n > m->batch) return odrt_fail(ODRT_ERR_ARG, "detect: %d frames for an engine of batch %d", n, m->batch);
    for (int i = 0; i < n; i++) {
        int64_t h = f[i].height, w = f[i].width;
        if (!f[i].data || h < 1 || w < 1 || h > (1 << 16) || w > (1 << 16))
            return odrt_fail(ODRT_ERR_SHAPE, "detect: frame %d is not a uint8 [H,W,3] RGB image (%lldx%lld)", i, (long long)h, (long long)w);
        if (m->frame_h && (h != m->frame_h || w != m->frame_w))
            return odrt_fail(ODRT_ERR_SHAPE, "detect: frame %d is %lldx%lld; this engine was built for %dx%d frames", i,
                             (long long)h, (long long)w, m->frame_h, m->frame_w);
        if (!m->has_resize && (h != m->net_h || w != m->net_w))
            return odrt_fail(ODRT_ERR_SHAPE, "detect: frame %d is %lldx%lld; the model takes exactly %dx%d", i, (long long)h,
                             (long long)w, m->net_h, m->net_w);
        if (f[i].memory != ODRT_MEM_HOST && f[i].memory != ODRT_MEM_CUDA)
            return odrt_fail(ODRT_ERR_ARG, "detect: frame %d: unknown memory kind %d", i, (int)f[i].memory);
        if (f[i].memory != f[0].memory)
            return odrt_fail(ODRT_ERR_ARG, "detect: frames of one run must all be in host memory or all in CUDA memory");
        if (f[i].memory == ODRT_MEM_CUDA) {
            if (!device_path || !e->be->check_device_ptr)
                return odrt_fail(ODRT_ERR_UNSUPPORTED, "detect: frame %d is in CUDA memory; a %s %s engine takes frames in host memory", i,
                                 m->device, m->family);
            if (e->be->check_device_ptr(e->ctx, f[i].data, (size_t)h * w * 3)) return odrt_fail_ctx(ODRT_ERR_ARG, "frame %d", i);
        }
    }
    return ODRT_OK;
}

/* preprocessing on the host into the arena (or a host copy written to the device), the network,
 * post-processing on the host */
static odrt_status_t detect_host(odrt_engine_t *e, int n, const odrt_frame_t *frames, odrt_detections_t *out) {
    const eng_meta *m = &e->plan.meta;
    uint8_t *arena = e->be->arena(e->ctx);
    float *in = arena ? (float *)(arena + e->plan.tensors[m->t_input].offset) : e->input_host;
    if (!in) return odrt_fail(ODRT_ERR_UNSUPPORTED, "detect: a %s engine on this backend has no host path", m->family);
    double t0 = e->prof ? eng_handle_now() : 0;
    size_t per = (size_t)m->net_h * m->net_w * 3;
    float window[2 * 256];
    int64_t win_px[2 * 256];
    for (int i = 0; i < m->batch; i++) {
        if (i >= n) {
            memset(in + per * i, 0, per * sizeof(float));
            continue;
        }
        eng_prep pp;
        ODRT_TRY(eng_prep_init(&pp, m, frames[i].data, frames[i].height, frames[i].width, in + per * i));
        /* TF's clip window: the true image shape over the network input size, in float32 */
        window[2 * i] = (float)pp.rh / (float)m->net_h, window[2 * i + 1] = (float)pp.rw / (float)m->net_w;
        win_px[2 * i] = pp.rh, win_px[2 * i + 1] = pp.rw;
        e->be->parallel_for(e->ctx, (m->net_h + 7) / 8, prep_task, &pp);
        eng_prep_free(&pp);
    }
    if (!arena) ODRT_TRY(e->be->write_tensor(e->ctx, &e->plan, m->t_input, in));
    double t1 = e->prof ? eng_handle_now() : 0;
    const eng_host host = {e->be->parallel_for, e->be->sigmoid, e->ctx};
    if (m->post_kind == ENG_POST_RCNN) {
        odrt_status_t rc = detect_rcnn(e, n, win_px, out, &host);
        if (e->prof) e->prof[0] += t1 - t0, e->prof[1] += eng_handle_now() - t1, e->prof_runs++;
        return rc;
    }
    ODRT_TRY(e->be->run(e->ctx, &e->plan, 0, e->plan.n_ops));
    double t2 = e->prof ? eng_handle_now() : 0;
    odrt_status_t rc = m->post_kind == ENG_POST_CENTERNET
        ? eng_postprocess_centernet(m, e->raw[0].dims, e->raw[0].data, e->raw[1].data, e->raw[2].data, n, win_px, out, &host)
        : eng_postprocess(m, (const float *)(e->plan.blob + m->anchors_off), e->raw[0].data, e->raw[1].data, n,
                          m->clip_to_window ? window : NULL, out, &host, &e->post_ws);
    if (e->prof) e->prof[0] += t1 - t0, e->prof[1] += t2 - t1, e->prof[2] += eng_handle_now() - t2, e->prof_runs++;
    return rc;
}


/* a submission: checked, then queued on a device backend, or run here with the results kept for
 * odrt_engine_wait */
static odrt_status_t submit(odrt_engine_t *e, int n, const odrt_frame_t *frames) {
    if (e->pending)
        return odrt_fail(ODRT_ERR_ARG, "detect: a submission is pending on this handle (odrt_engine_wait for it first)");
    ODRT_TRY(eng_handle_ready(e));
    const eng_meta *m = &e->plan.meta;
    int device = e->be->submit && m->post_kind != ENG_POST_RCNN; /* the whole detection on the device */
    ODRT_TRY(check_frames(e, n, frames, device));
    if (device) {
        e->pend_t0 = e->prof ? eng_handle_now() : 0;
        ODRT_TRY(e->be->submit(e->ctx, &e->plan, n, frames));
    } else {
        if (!e->pend_out && !(e->pend_out = calloc((size_t)m->batch, sizeof *e->pend_out)))
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (int b = 0; b < n; b++) memset(&e->pend_out[b], 0, sizeof e->pend_out[b]);
        ODRT_TRY(detect_host(e, n, frames, e->pend_out));
    }
    e->pending = n, e->pend_device = device;
    return ODRT_OK;
}

odrt_status_t odrt_engine_submit(odrt_engine_t *e, int n, const odrt_frame_t *frames) {
    if (!e || !frames) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_submit: NULL argument");
    return submit(e, n, frames);
}

odrt_status_t odrt_engine_wait(odrt_engine_t *e, odrt_detections_t *out) {
    if (!e || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_wait: NULL argument");
    int n = e->pending;
    if (!n) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_wait: nothing was submitted on this handle");
    e->pending = 0;
    if (!e->pend_device) {
        memcpy(out, e->pend_out, sizeof *out * (size_t)n);
        return ODRT_OK;
    }
    for (int b = 0; b < n; b++) memset(&out[b], 0, sizeof out[b]);
    odrt_status_t rc = e->be->wait(e->ctx, &e->plan, n, out);
    if (e->prof) e->prof[1] += eng_handle_now() - e->pend_t0, e->prof_runs++;
    return rc;
}

odrt_status_t odrt_engine_detect_frames(odrt_engine_t *e, int n, const odrt_frame_t *frames, odrt_detections_t *out) {
    if (!e || !frames || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_detect_frames: NULL argument");
    ODRT_TRY(submit(e, n, frames));
    return odrt_engine_wait(e, out);
}

odrt_status_t odrt_engine_detect(odrt_engine_t *e, int n, const odrt_tensor_t *const *frames, odrt_detections_t *out) {
    if (!e || !frames || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_detect: NULL argument");
    if (n < 1 || n > e->plan.meta.batch) return odrt_fail(ODRT_ERR_ARG, "detect: %d frames for an engine of batch %d", n, e->plan.meta.batch);
    odrt_frame_t fr[256];
    for (int i = 0; i < n; i++) {
        const odrt_tensor_t *f = frames[i];
        int64_t h = f && f->rank == 4 ? f->dims[1] : f && f->rank == 3 ? f->dims[0] : -1;
        int64_t w = f && f->rank == 4 ? f->dims[2] : f && f->rank == 3 ? f->dims[1] : -1;
        if (!f || f->dtype != ODRT_DT_UINT8 || (f->rank == 4 && f->dims[0] != 1) || (f->rank != 3 && f->rank != 4) ||
            f->dims[f->rank - 1] != 3 || h < 1 || w < 1 || h > (1 << 16) || w > (1 << 16) || (size_t)(h * w * 3) > f->nbytes)
            return odrt_fail(ODRT_ERR_SHAPE, "detect: frame %d is not a uint8 [1,H,W,3] RGB image", i);
        fr[i] = (odrt_frame_t){f->data, (int)h, (int)w, ODRT_MEM_HOST};
    }
    return odrt_engine_detect_frames(e, n, fr, out);
}

odrt_status_t odrt_engine_cuda_stream(odrt_engine_t *e, void **stream) {
    if (!e || !stream) return odrt_fail(ODRT_ERR_ARG, "odrt_engine_cuda_stream: NULL argument");
    *stream = NULL;
    if (!e->be->stream) return odrt_fail(ODRT_ERR_UNSUPPORTED, "odrt_engine_cuda_stream: a %s engine has no CUDA stream", e->plan.meta.device);
    ODRT_TRY(eng_handle_ready(e));
    *stream = e->be->stream(e->ctx);
    return ODRT_OK;
}
