/* CUDA backend: the engine's plan on one GPU. At load the blob (packed weights, index maps,
 * anchors) is uploaded once and the arena allocated; nothing is tuned or repacked. A detect
 * uploads the uint8 frames (pinned staging), preprocesses, runs the network ops, decodes and
 * suppresses, and copies the detections back, all as one CUDA graph captured on first use for a
 * given batch of frame sizes and replayed after. Faster / Mask R-CNN engines run their stages
 * through run/read_tensor/write_tensor instead (engine_api.c: the NMS between stages on the host). */
#include <cuda_fp16.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cuda_internal.h"

extern "C" {
#include "backends/backend.h"
}

namespace {

/* the uploaded blob, shared by the contexts of one engine (odrt_engine_share) */
struct cu_blob {
    uint8_t *d;
    __half *dh; /* fp16 engines: the blob's floats as halves */
    int refs; /* changed under blob_mu */
};
pthread_mutex_t blob_mu = PTHREAD_MUTEX_INITIALIZER;

struct cu_ctx {
    const eng_plan *p;
    int half;
    cudaStream_t stream;
    cu_blob *blob;
    uint8_t *d_blob;
    void *d_arena;
    size_t arena_bytes;
    /* frames: pinned staging and device copies */
    uint8_t *h_frames, *d_frames;
    size_t frames_cap;
    float *h_out, *h_window;
    /* CenterNet: the network's three outputs copied to the host, where the post-processing runs
     * (postproc_centernet.c; peaks and top-k over a few hundred thousand values) */
    void *h_cn[3];
    float *h_cnf[3];
    cu_post post;
    cu_exec x;
    int *grp; /* x.grp, x.groups */
    eng_group *groups;
    /* the captured graph and what it was captured for */
    cudaGraphExec_t exec;
    int run_h[256], run_w[256]; /* the frame sizes of the submission in flight */
    int sig_n, sig_h[256], sig_w[256], sig_dev; /* sig_dev: frames come from device memory (no upload) */
    cudaEvent_t ev_in; /* device frames: the legacy default stream's work before a submit */
    cudaEvent_t ev0, ev1;
    double last_ms;
    /* ODRT_PROFILE=1: per-step device times (ms summed over runs) */
    cudaEvent_t *pev;
    double *prof;
    int prof_runs;
};

void log_profile(const cu_ctx *c) {
    const eng_plan *p = c->p;
    int R = c->prof_runs, n = p->n_ops;
    double by[ENG_OP_CLASSES] = {0}, net = 0;
    for (int k = 0; k < n; k++) by[eng_op_class(&p->ops[k])] += c->prof[2 + k], net += c->prof[2 + k];
    odrt_sb_t sb;
    memset(&sb, 0, sizeof sb);
    odrt_sb_printf(&sb, "odrt cuda profile (%s, %d runs, ms per run): upload %.3f, preprocessing %.3f, network %.3f (", p->meta.precision,
                   R, c->prof[0] / R, c->prof[1] / R, net / R);
    for (int i = 0, first = 1; i < ENG_OP_CLASSES; i++)
        if (by[i] > 0) odrt_sb_printf(&sb, "%s%s %.3f", first ? "" : ", ", eng_op_class_name(i), by[i] / R), first = 0;
    odrt_sb_printf(&sb, "), decode + NMS + merge %.3f (decode %.3f, sort %.3f, nms %.3f), download %.3f\n", c->prof[2 + n] / R,
                   c->prof[4 + n] / R, c->prof[5 + n] / R, c->prof[6 + n] / R, c->prof[3 + n] / R);
    for (int k = 0; k < n; k++) {
        const eng_op *o = &p->ops[k];
        const eng_tensor *y = &p->tensors[o->out];
        odrt_sb_printf(&sb, "  %4d %-11s %8.4f ms  out %lldx%lldx%lldx%lld  %s\n", k, eng_op_class_name(eng_op_class(o)), c->prof[2 + k] / R,
                       (long long)y->dims[0], (long long)(y->rank > 1 ? y->dims[1] : 1), (long long)(y->rank > 2 ? y->dims[2] : 1),
                       (long long)(y->rank > 3 ? y->dims[3] : 1), o->name);
    }
    odrt_log_text(ODRT_LOG_INFO, &sb);
}

/* every valid op with a CUDA runner (cuda_ops.cu) runs here; reference ops do not */
int cuda_supports_op(const eng_plan *p, int k) {
    const eng_op *o = &p->ops[k];
    if (cu_has_op(o->kind)) return 1;
    odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: op %d ('%s') is a %s op, which the CUDA backend has no kernel for", k, o->name,
              eng_op_kind_name(o->kind));
    return 0;
}

void cuda_free(void *vc) {
    cu_ctx *c = (cu_ctx *)vc;
    if (!c) return;
    if (c->prof && c->prof_runs) log_profile(c);
    if (c->pev)
        for (int k = 0; k < c->p->n_ops + 7; k++) cudaEventDestroy(c->pev[k]);
    free(c->pev), free(c->prof), free(c->grp), free(c->groups);
    if (c->exec) cudaGraphExecDestroy(c->exec);
    cu_post_free(&c->post);
    if (c->blob) {
        pthread_mutex_lock(&blob_mu);
        int last = --c->blob->refs == 0;
        pthread_mutex_unlock(&blob_mu);
        if (last) cudaFree(c->blob->d), cudaFree(c->blob->dh), free(c->blob);
    }
    cudaFree(c->d_arena), cudaFree(c->d_frames), cudaFree(c->x.ws);
    cudaFreeHost(c->h_frames), cudaFreeHost(c->h_out), cudaFreeHost(c->h_window);
    for (int i = 0; i < 3; i++) cudaFreeHost(c->h_cn[i]), free(c->h_cnf[i]);
    if (c->ev0) cudaEventDestroy(c->ev0);
    if (c->ev1) cudaEventDestroy(c->ev1);
    if (c->ev_in) cudaEventDestroy(c->ev_in);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

/* src: a context of the same engine whose uploaded blob is shared, or NULL to upload it */
odrt_status_t prepare_(const eng_plan *p, const odrt_engine_options_t *o, cu_ctx *c, const cu_ctx *src) {
    int n_dev = 0;
    cudaError_t e = cudaGetDeviceCount(&n_dev);
    if (e != cudaSuccess || n_dev < 1)
        return odrt_fail(ODRT_ERR_DEVICE, "cuda: no usable GPU (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    c->p = p, c->half = !strcmp(p->meta.precision, "fp16"), c->last_ms = -1;
    CU_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CU_TRY(cudaEventCreate(&c->ev0));
    CU_TRY(cudaEventCreate(&c->ev1));
    CU_TRY(cudaEventCreateWithFlags(&c->ev_in, cudaEventDisableTiming));
    if (src) {
        pthread_mutex_lock(&blob_mu);
        src->blob->refs++;
        pthread_mutex_unlock(&blob_mu);
        c->blob = src->blob;
    } else {
        if (!(c->blob = (cu_blob *)calloc(1, sizeof(cu_blob)))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        c->blob->refs = 1;
        CU_TRY(cudaMalloc(&c->blob->d, (size_t)p->blob_len + ENG_ALIGN));
        CU_TRY(cudaMemcpy(c->blob->d, p->blob, (size_t)p->blob_len, cudaMemcpyHostToDevice));
        if (c->half) {
            CU_TRY(cudaMalloc(&c->blob->dh, (size_t)p->blob_len / 2 + ENG_ALIGN));
            ODRT_TRY(cu_blob_to_half(c->blob->d, p->blob_len, c->blob->dh));
        }
        /* the upload (from pageable memory cudaMemcpy may return before its DMA lands) and the
         * half copy are done before any context's stream (non-blocking) reads them */
        CU_TRY(cudaDeviceSynchronize());
    }
    c->d_blob = c->blob->d;
    c->x.wh = c->blob->dh;
    c->x.tc = !o->cuda_no_tensor_cores;
    c->x.dwr = o->cuda_dw_pixels == 1 || o->cuda_dw_pixels == 2 ? o->cuda_dw_pixels : 0;
    c->x.stem = !o->cuda_no_stem;
    c->x.pw = o->cuda_pw >= 1 && o->cuda_pw <= 3 ? o->cuda_pw - 1 : -1;
    if (!o->cuda_no_fuse) { /* (EfficientDet: its squeeze-excite multiplies and BiFPN sums) */
        c->grp = (int *)calloc((size_t)p->n_ops + 1, sizeof(int));
        c->groups = (eng_group *)calloc((size_t)p->n_ops + 1, sizeof(eng_group));
        if (!c->grp || !c->groups) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        if (eng_find_groups(p, NULL, c->grp, c->groups) < 0) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        c->x.grp = c->grp, c->x.groups = c->groups;
    }
    c->arena_bytes = (size_t)p->arena_bytes / (c->half ? 2 : 1) + ENG_ALIGN;
    CU_TRY(cudaMalloc(&c->d_arena, c->arena_bytes));
    int dev;
    CU_TRY(cudaGetDevice(&dev));
    CU_TRY(cudaDeviceGetAttribute(&c->x.sms, cudaDevAttrMultiProcessorCount, dev));
    int ccmaj, ccmin;
    CU_TRY(cudaDeviceGetAttribute(&ccmaj, cudaDevAttrComputeCapabilityMajor, dev));
    CU_TRY(cudaDeviceGetAttribute(&ccmin, cudaDevAttrComputeCapabilityMinor, dev));
    c->x.cc = 10 * ccmaj + ccmin;
    ODRT_TRY(cu_conv_init());
    size_t wsb = cu_workspace_bytes(p, c->x.sms, c->half);
    if (wsb) CU_TRY(cudaMalloc(&c->x.ws, wsb));
    if (p->meta.post_kind == ENG_POST_CENTERNET) {
        for (int i = 0; i < 3; i++) {
            size_t n = (size_t)p->tensors[p->meta.t_cn[i]].numel;
            CU_TRY(cudaMallocHost(&c->h_cn[i], n * (c->half ? 2 : 4)));
            if (c->half && !(c->h_cnf[i] = (float *)malloc(n * 4))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
        CU_TRY(cudaMalloc(&c->post.window, sizeof(float) * 2 * p->meta.batch)); /* (the frames' windows go up unused) */
    } else if (p->meta.post_kind != ENG_POST_RCNN) /* R-CNN engines: the stages' glue on the host (engine_api.c) */
        ODRT_TRY(cu_post_alloc(&c->post, &p->meta, p->meta.batch));
    size_t out_floats = (size_t)p->meta.batch * (1 + (size_t)p->meta.max_total * 6);
    CU_TRY(cudaMallocHost(&c->h_out, sizeof(float) * out_floats));
    CU_TRY(cudaMallocHost(&c->h_window, sizeof(float) * 2 * p->meta.batch));
    if (o->profile) {
        c->pev = (cudaEvent_t *)calloc((size_t)p->n_ops + 7, sizeof(cudaEvent_t));
        c->prof = (double *)calloc((size_t)p->n_ops + 7, sizeof(double));
        if (!c->pev || !c->prof) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        for (int k = 0; k < p->n_ops + 7; k++) CU_TRY(cudaEventCreate(&c->pev[k]));
    }
    return ODRT_OK;
}

odrt_status_t cuda_prepare(const eng_plan *p, const odrt_engine_options_t *o, void **out) {
    cu_ctx *c = (cu_ctx *)calloc(1, sizeof(cu_ctx));
    if (!c) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    odrt_status_t rc = prepare_(p, o, c, NULL);
    if (rc != ODRT_OK) {
        cuda_free(c);
        return rc;
    }
    *out = c;
    return ODRT_OK;
}

odrt_status_t cuda_share(void *src, const eng_plan *p, const odrt_engine_options_t *o, void **out) {
    cu_ctx *c = (cu_ctx *)calloc(1, sizeof(cu_ctx));
    if (!c) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    odrt_status_t rc = prepare_(p, o, c, (const cu_ctx *)src);
    if (rc != ODRT_OK) {
        cuda_free(c);
        return rc;
    }
    *out = c;
    return ODRT_OK;
}

void *tensor_ptr(const cu_ctx *c, int t) {
    return cu_tensor(c->d_arena, c->p, t, c->half ? 2 : 4);
}

odrt_status_t cuda_run(void *vc, const eng_plan *p, int k0, int k1) {
    cu_ctx *c = (cu_ctx *)vc;
    if (k0 < 0 || k1 > p->n_ops || k0 > k1) return odrt_fail(ODRT_ERR_ARG, "engine: ops [%d, %d) of %d", k0, k1, p->n_ops);
    CU_TRY(cudaEventRecord(c->ev0, c->stream));
    for (int k = k0; k < k1; k++) ODRT_TRY(cu_run_op(p, k, c->d_arena, c->d_blob, c->half, &c->x, c->stream));
    CU_TRY(cudaEventRecord(c->ev1, c->stream));
    CU_TRY(cudaStreamSynchronize(c->stream));
    /* device time of a detect run in ranges (stages with host work between them): the ranges' sum,
     * restarted by the range that begins at op 0 */
    float ms = 0;
    if (cudaEventElapsedTime(&ms, c->ev0, c->ev1) == cudaSuccess) c->last_ms = (k0 == 0 || c->last_ms < 0 ? 0 : c->last_ms) + ms;
    return ODRT_OK;
}

uint8_t *cuda_arena(void *vc) {
    (void)vc;
    return NULL; /* device memory: read_tensor copies values out */
}

void cuda_parallel_for(void *vc, int64_t n, void (*fn)(void *, int64_t, int), void *arg) {
    (void)vc;
    for (int64_t i = 0; i < n; i++) fn(arg, i, 0);
}

/* everything a detect does, enqueued on the stream; with ev (profiling) an event is recorded after
 * each step: [0] upload, [1] preprocessing, [2 + k] op k, then decode + NMS + merge, download */
odrt_status_t enqueue_all(cu_ctx *c, int n, const int64_t *hs, const int64_t *ws, size_t total, int dev, cudaEvent_t *ev) {
    const eng_plan *p = c->p;
    const eng_meta *m = &p->meta;
    size_t per_in = (size_t)m->net_h * m->net_w * 3 * (c->half ? 2 : 4), off = 0;
    uint8_t *input = (uint8_t *)tensor_ptr(c, m->t_input);
    if (!dev) CU_TRY(cudaMemcpyAsync(c->d_frames, c->h_frames, total, cudaMemcpyHostToDevice, c->stream));
    CU_TRY(cudaMemcpyAsync(c->post.window, c->h_window, sizeof(float) * 2 * n, cudaMemcpyHostToDevice, c->stream));
    if (ev) CU_TRY(cudaEventRecord(ev[0], c->stream));
    if (n < m->batch) CU_TRY(cudaMemsetAsync(input + per_in * n, 0, per_in * (m->batch - n), c->stream));
    for (int i = 0, j; i < n; i = j) { /* one launch per run of same-sized frames (at batch 64: 64 -> 1) */
        for (j = i + 1; j < n && j - i < 65535 && hs[j] == hs[i] && ws[j] == ws[i];) j++;
        int64_t rh, rw;
        eng_window_size(m, hs[i], ws[i], &rh, &rw);
        cu_prep q;
        cu_prep_fill(&q, m, (int)hs[i], (int)ws[i], rh, rw);
        ODRT_TRY(cu_preprocess(&q, c->d_frames + off, j - i, input + per_in * i, c->half, c->stream));
        off += (size_t)hs[i] * ws[i] * 3 * (j - i);
    }
    if (ev) CU_TRY(cudaEventRecord(ev[1], c->stream));
    for (int k = 0; k < p->n_ops; k++) {
        ODRT_TRY(cu_run_op(p, k, c->d_arena, c->d_blob, c->half, &c->x, c->stream));
        if (ev) CU_TRY(cudaEventRecord(ev[2 + k], c->stream));
    }
    if (m->post_kind == ENG_POST_CENTERNET) { /* the maps to the host */
        if (ev) CU_TRY(cudaEventRecord(ev[2 + p->n_ops], c->stream));
        for (int i = 0; i < 3; i++)
            CU_TRY(cudaMemcpyAsync(c->h_cn[i], tensor_ptr(c, m->t_cn[i]), (size_t)p->tensors[m->t_cn[i]].numel * (c->half ? 2 : 4),
                                   cudaMemcpyDeviceToHost, c->stream));
        if (ev) CU_TRY(cudaEventRecord(ev[3 + p->n_ops], c->stream));
        if (ev) /* (no device decode, sort or NMS) */
            for (int k = 4 + p->n_ops; k < 7 + p->n_ops; k++) CU_TRY(cudaEventRecord(ev[k], c->stream));
        return ODRT_OK;
    }
    ODRT_TRY(cu_postprocess(&c->post, (const float *)(c->d_blob + m->anchors_off), tensor_ptr(c, m->t_boxes),
                            tensor_ptr(c, m->t_scores), c->half, m->clip_to_window, c->stream, ev ? ev + 4 + p->n_ops : NULL));
    if (ev) CU_TRY(cudaEventRecord(ev[2 + p->n_ops], c->stream));
    size_t out_bytes = sizeof(float) * (size_t)m->batch * (1 + (size_t)m->max_total * 6);
    CU_TRY(cudaMemcpyAsync(c->h_out, c->post.out, out_bytes, cudaMemcpyDeviceToHost, c->stream));
    if (ev) CU_TRY(cudaEventRecord(ev[3 + p->n_ops], c->stream));
    return ODRT_OK;
}

odrt_status_t set_windows(cu_ctx *c, int n, const int64_t *hs, const int64_t *ws) {
    const eng_meta *m = &c->p->meta;
    for (int i = 0; i < n; i++) {
        int64_t rh, rw;
        eng_window_size(m, hs[i], ws[i], &rh, &rw);
        if (rh < 1 || rw < 1 || rh > m->net_h || rw > m->net_w)
            return odrt_fail(ODRT_ERR_SHAPE, "detect: a %lldx%lld frame does not fit the %dx%d network input", (long long)hs[i],
                             (long long)ws[i], m->net_h, m->net_w);
        c->h_window[2 * i] = (float)rh / (float)m->net_h, c->h_window[2 * i + 1] = (float)rw / (float)m->net_w;
    }
    return ODRT_OK;
}

odrt_status_t capture(cu_ctx *c, int n, const int64_t *hs, const int64_t *ws, size_t total, int dev) {
    if (c->exec) cudaGraphExecDestroy(c->exec), c->exec = NULL;
    ODRT_TRY(set_windows(c, n, hs, ws));
    cudaGraph_t g;
    CU_TRY(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    odrt_status_t rc = enqueue_all(c, n, hs, ws, total, dev, NULL);
    cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    if (rc != ODRT_OK) {
        if (e == cudaSuccess) cudaGraphDestroy(g);
        return rc;
    }
    CU_TRY(e);
    e = cudaGraphInstantiate(&c->exec, g, 0);
    cudaGraphDestroy(g);
    CU_TRY(e);
    c->sig_n = n, c->sig_dev = dev;
    for (int i = 0; i < n; i++) c->sig_h[i] = (int)hs[i], c->sig_w[i] = (int)ws[i];
    return ODRT_OK;
}

/* the frames into the pinned staging buffer, back to back; a large batch (>= 8 MiB: a 64-frame batch
 * of 320 x 320 photos is 19.7 MB, 2 ms for one thread) is copied by up to 4 threads */
typedef struct {
    uint8_t *dst;
    const odrt_frame_t *frames;
    const int64_t *hs, *ws;
    int i0, i1;
} stage_job;
static void *stage_run(void *arg) {
    stage_job *j = (stage_job *)arg;
    for (int i = j->i0; i < j->i1; i++) {
        size_t b = (size_t)j->hs[i] * j->ws[i] * 3;
        memcpy(j->dst, j->frames[i].data, b);
        j->dst += b;
    }
    return NULL;
}
static void stage_frames(uint8_t *dst, const odrt_frame_t *frames, int n, const int64_t *hs, const int64_t *ws, size_t total) {
    int nt = total >= ((size_t)8 << 20) ? (n < 4 ? n : 4) : 1;
    stage_job jobs[4];
    pthread_t th[4];
    int started[4] = {0};
    for (int t = 0, i = 0; t < nt; t++) {
        int i1 = (int)((int64_t)n * (t + 1) / nt);
        jobs[t] = (stage_job){dst, frames, hs, ws, i, i1};
        for (; i < i1; i++) dst += (size_t)hs[i] * ws[i] * 3;
        if (t > 0) started[t] = pthread_create(&th[t], NULL, stage_run, &jobs[t]) == 0;
        if (t > 0 && !started[t]) stage_run(&jobs[t]); /* no thread: copy here */
    }
    stage_run(&jobs[0]);
    for (int t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
}

/* frames in device memory into the frames buffer on the stream, after the legacy default stream's
 * work (a DLPack producer's, cudaMemcpy's); frames back to back in memory go as one copy */
odrt_status_t copy_device_frames(cu_ctx *c, const odrt_frame_t *frames, int n) {
    CU_TRY(cudaEventRecord(c->ev_in, cudaStreamLegacy));
    CU_TRY(cudaStreamWaitEvent(c->stream, c->ev_in, 0));
    size_t off = 0;
    for (int i = 0, j; i < n; i = j) {
        const uint8_t *src = (const uint8_t *)frames[i].data;
        size_t b = (size_t)frames[i].height * frames[i].width * 3;
        for (j = i + 1; j < n && (const uint8_t *)frames[j].data == src + b; j++) b += (size_t)frames[j].height * frames[j].width * 3;
        CU_TRY(cudaMemcpyAsync(c->d_frames + off, src, b, cudaMemcpyDeviceToDevice, c->stream));
        off += b;
    }
    return ODRT_OK;
}

/* the detection enqueued: frames staged (host: into pinned memory; device: copied on the stream),
 * then the graph (captured again when the frame sizes or their memory changed) */
odrt_status_t cuda_submit(void *vc, const eng_plan *p, int n, const odrt_frame_t *frames) {
    cu_ctx *c = (cu_ctx *)vc;
    int64_t hs[256], ws[256];
    size_t total = 0;
    int dev = frames[0].memory == ODRT_MEM_CUDA;
    int same = c->exec && c->sig_n == n && c->sig_dev == dev;
    for (int i = 0; i < n; i++) {
        hs[i] = c->run_h[i] = frames[i].height, ws[i] = c->run_w[i] = frames[i].width;
        total += (size_t)hs[i] * ws[i] * 3;
        same &= c->sig_h[i] == hs[i] && c->sig_w[i] == ws[i];
        if ((frames[i].memory == ODRT_MEM_CUDA) != dev)
            return odrt_fail(ODRT_ERR_ARG, "detect: frames of one run must all be in host memory or all in CUDA memory");
    }
    if (total > c->frames_cap) { /* grow the staging buffers (and capture again) */
        cudaFreeHost(c->h_frames), cudaFree(c->d_frames);
        c->h_frames = NULL, c->d_frames = NULL, c->frames_cap = 0;
        CU_TRY(cudaMallocHost(&c->h_frames, total));
        CU_TRY(cudaMalloc(&c->d_frames, total));
        c->frames_cap = total, same = 0;
    }
    if (!same && !c->prof) ODRT_TRY(capture(c, n, hs, ws, total, dev));
    if (!dev) stage_frames(c->h_frames, frames, n, hs, ws, total);
    CU_TRY(cudaEventRecord(c->ev0, c->stream));
    if (dev) ODRT_TRY(copy_device_frames(c, frames, n));
    if (c->prof) { /* ODRT_PROFILE=1: no graph, an event after every step */
        ODRT_TRY(set_windows(c, n, hs, ws));
        ODRT_TRY(enqueue_all(c, n, hs, ws, total, dev, c->pev));
    } else {
        CU_TRY(cudaGraphLaunch(c->exec, c->stream));
    }
    CU_TRY(cudaEventRecord(c->ev1, c->stream));
    return ODRT_OK;
}

odrt_status_t cuda_wait(void *vc, const eng_plan *p, int n, odrt_detections_t *out) {
    cu_ctx *c = (cu_ctx *)vc;
    const eng_meta *m = &p->meta;
    CU_TRY(cudaStreamSynchronize(c->stream));
    float ms = 0;
    if (cudaEventElapsedTime(&ms, c->ev0, c->ev1) == cudaSuccess) c->last_ms = ms;
    if (c->prof) {
        cudaEvent_t prev = c->ev0;
        for (int k = 0; k < p->n_ops + 4; k++) {
            if (cudaEventElapsedTime(&ms, prev, c->pev[k]) == cudaSuccess) c->prof[k] += ms;
            prev = c->pev[k];
        }
        prev = c->pev[1 + p->n_ops]; /* after the last op: decode, sort, NMS (merge is the rest) */
        for (int k = 4 + p->n_ops; k < 7 + p->n_ops; k++) {
            if (cudaEventElapsedTime(&ms, prev, c->pev[k]) == cudaSuccess) c->prof[k] += ms;
            prev = c->pev[k];
        }
        c->prof_runs++;
    }
    if (m->post_kind == ENG_POST_CENTERNET) {
        const float *maps[3];
        for (int i = 0; i < 3; i++) {
            maps[i] = (const float *)c->h_cn[i];
            if (c->half) { /* fp16 maps as float */
                const __half *h = (const __half *)c->h_cn[i];
                for (int64_t q = 0; q < p->tensors[m->t_cn[i]].numel; q++) c->h_cnf[i][q] = __half2float(h[q]);
                maps[i] = c->h_cnf[i];
            }
        }
        int64_t win[2 * 256];
        for (int b = 0; b < n; b++) eng_window_size(m, c->run_h[b], c->run_w[b], &win[2 * b], &win[2 * b + 1]);
        eng_host host = {cuda_parallel_for, NULL, c};
        return eng_postprocess_centernet(m, p->tensors[m->t_cn[0]].dims, maps[0], maps[1], maps[2], n, win, out, &host);
    }
    for (int b = 0; b < n; b++) {
        const float *r = c->h_out + (size_t)b * (1 + (size_t)m->max_total * 6);
        int k = (int)r[0];
        if (k < 0 || k > m->max_total) k = 0;
        out[b].count = k;
        out[b].items = (odrt_detection_t *)malloc(sizeof(odrt_detection_t) * (size_t)(k + 1));
        if (!out[b].items) {
            for (int q = 0; q < b; q++) odrt_detections_clear(&out[q]);
            return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < k; i++) {
            const float *d = r + 1 + i * 6;
            out[b].items[i] = (odrt_detection_t){d[0], d[1], d[2], d[3], d[4], (int)d[5]};
        }
    }
    return ODRT_OK;
}

odrt_status_t cuda_read_tensor(void *vc, const eng_plan *p, int t, float *dst) {
    cu_ctx *c = (cu_ctx *)vc;
    size_t n = (size_t)p->tensors[t].numel;
    if (!c->half) {
        CU_TRY(cudaMemcpyAsync(dst, tensor_ptr(c, t), n * 4, cudaMemcpyDeviceToHost, c->stream));
        CU_TRY(cudaStreamSynchronize(c->stream));
        return ODRT_OK;
    }
    __half *h = (__half *)malloc(n * 2 + 2);
    if (!h) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    cudaError_t e = cudaMemcpyAsync(h, tensor_ptr(c, t), n * 2, cudaMemcpyDeviceToHost, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    for (size_t i = 0; e == cudaSuccess && i < n; i++) dst[i] = __half2float(h[i]);
    free(h);
    CU_TRY(e);
    return ODRT_OK;
}

/* the copy is made on the context's stream and waited for: a plain cudaMemcpy from pageable memory
 * may return before its DMA lands, and the context's stream (non-blocking) does not wait for it */
odrt_status_t cuda_write_tensor(void *vc, const eng_plan *p, int t, const float *src) {
    cu_ctx *c = (cu_ctx *)vc;
    size_t n = (size_t)p->tensors[t].numel;
    if (!c->half) {
        CU_TRY(cudaMemcpyAsync(tensor_ptr(c, t), src, n * 4, cudaMemcpyHostToDevice, c->stream));
        CU_TRY(cudaStreamSynchronize(c->stream));
        return ODRT_OK;
    }
    __half *h = (__half *)malloc(n * 2 + 2);
    if (!h) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) h[i] = __float2half(src[i]);
    cudaError_t e = cudaMemcpyAsync(tensor_ptr(c, t), h, n * 2, cudaMemcpyHostToDevice, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    free(h);
    CU_TRY(e);
    return ODRT_OK;
}

double cuda_last_ms(void *vc) { return ((cu_ctx *)vc)->last_ms; }

void *cuda_stream(void *vc) { return ((cu_ctx *)vc)->stream; }

/* frames may be read from device memory of the context's GPU (or managed memory) */
int cuda_check_device_ptr(void *vc, const void *ptr, size_t bytes) {
    cudaPointerAttributes a;
    cudaError_t e = cudaPointerGetAttributes(&a, ptr);
    if (e != cudaSuccess) {
        cudaGetLastError();
        odrt_fail(ODRT_ERR_ARG, "detect: the frame at %p is not CUDA memory (%s)", ptr, cudaGetErrorString(e));
        return 1;
    }
    int dev = -1;
    cudaGetDevice(&dev);
    if ((a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged) || a.device != dev) {
        odrt_fail(ODRT_ERR_ARG, "detect: the frame at %p is not device memory of GPU %d, where the engine runs", ptr, dev);
        return 1;
    }
    return 0;
}

const char *cuda_kernels(void *vc) {
    static const char *names[] = {"sm_72", "sm_80", "sm_87", "sm_90", "sm_100", "sm_120", "cuda"};
    static const int ccs[] = {72, 80, 87, 90, 100, 120};
    int cc = ((cu_ctx *)vc)->x.cc;
    for (int i = 0; i < 6; i++)
        if (ccs[i] == cc) return names[i];
    return names[6];
}

} // namespace

/* in eng_backend_i's order (C++17 has no designated initializers) */
extern "C" const eng_backend_i eng_backend_cuda = {
    "cuda", &eng_device_cuda, cuda_supports_op, cuda_prepare, cuda_run, cuda_arena, cuda_parallel_for,
    nullptr /* sigmoid: post-processing runs on the device */, cuda_free, cuda_submit, cuda_wait,
    cuda_read_tensor, cuda_write_tensor, cuda_last_ms, cuda_share, cuda_kernels, cuda_stream, cuda_check_device_ptr};
