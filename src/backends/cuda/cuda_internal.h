/* CUDA backend internals: the context one loaded engine runs in, and the kernel launchers.
 *
 * Tensors live in one device arena at the plan's offsets. fp32 engines keep activations in float;
 * fp16 engines keep them in half (element offsets = the plan's byte offsets / 4, so the same plan
 * serves both) and accumulate in float. Weights stay float32 as packed at build time (GEMM panels
 * of 16 output channels, depthwise tap-major): the blob is uploaded once, unchanged. */
#ifndef ODRT_CUDA_INTERNAL_H
#define ODRT_CUDA_INTERNAL_H

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "engine/engine.h"
#include "engine/groups.h"
#include "util.h"
}

#define CU_TRY(call)                                                                                     \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess) return odrt_fail(ODRT_ERR_DEVICE, "cuda: %s: %s", #call, cudaGetErrorString(e_)); \
    } while (0)

/* what kernels need beyond the plan: the workspace (split-K partial sums, fp16 means' parts), the
 * GPU's multiprocessor count and compute capability */
typedef struct cu_exec {
    float *ws;
    int sms;
    int cc;           /* compute capability, 10 * major + minor */
    const __half *wh; /* fp16 engines: the blob as halves (conv weights for tensor cores), else NULL */
    int tc;           /* fp16 convs with channels in 8s on conv_tc (options.cuda_no_tensor_cores: off, for measurements) */
    int dwr;          /* depthwise pixels per thread: 0 by map size, else 1 or 2 (options.cuda_dw_pixels, for tests) */
    int stem;         /* fp16 shallow convs (an RGB stem) on conv_stem_tc (sm_80+): 1, or 0 (options.cuda_no_stem) */
    int pw;           /* fp16 1x1 convs on conv_pw: -1 by map size, 0 never, 1 always, 2 by size if Cout > 64 (options.cuda_pw - 1) */
    /* the plan's elementwise groups (engine/groups.h), or NULL (options.cuda_no_fuse): grp[k] 1: op k
     * runs groups[k] (a scaled 1x1 conv, a one-launch weighted sum), -1: op k ran inside a group */
    const int *grp;
    const eng_group *groups;
} cu_exec;
/* tensor t of p in a device arena whose elements are esz bytes (fp16 arenas: the plan's byte
 * offsets / 4 elements), or NULL for t < 0 */
static inline void *cu_tensor(void *arena, const eng_plan *p, int t, int esz) {
    return t < 0 ? NULL : (uint8_t *)arena + p->tensors[t].offset / 4 * esz;
}
/* the blob's floats as halves into out (len / 4 halves; non-float parts become garbage, unused) */
odrt_status_t cu_blob_to_half(const uint8_t *blob, int64_t len, void *out);
/* cuda_conv.cu: K splits a conv of M pixels x Cout gets (conv_tc and the GEMM tiles); workspace
 * floats op k needs (0 for other ops); op k (a conv) enqueued */
int cu_conv_splits(int64_t M, int Cout, int K, int sms);
size_t cu_conv_ws_floats(const eng_plan *p, int k, int sms);
/* cuda_conv_mma.cu: whether an fp16 1x1 conv of M pixels x Cout runs on conv_pw; the shared
 * memory limits of its kernels, set before a context's first conv (idempotent) */
int cu_conv_uses_pw(int64_t M, int Cout, const cu_exec *x);
odrt_status_t cu_conv_init(void);
odrt_status_t cu_run_conv(const eng_plan *p, int k, void *arena, const uint8_t *blob, int half, const cu_exec *x, cudaStream_t s);
/* cuda_ops.cu: workspace bytes a plan needs at most; one network op's launch (tensors as element
 * pointers into the arena) */
size_t cu_workspace_bytes(const eng_plan *p, int sms, int half);
/* 1 if op kind has a CUDA runner (cuda_ops.cu's table) */
int cu_has_op(int kind);
odrt_status_t cu_run_op(const eng_plan *p, int k, void *arena, const uint8_t *blob, int half, const cu_exec *x, cudaStream_t s);

/* preprocessing: uint8 frames (device) -> network inputs (T = float or half) */
typedef struct cu_prep {
    int fh, fw, rh, rw; /* frame size, window it is resized into */
    int net_h, net_w;
    int has_resize, linear, ctm, nearest;
    int n_norm, n_pre;
    eng_norm norm[8];
    int perm[3]; /* network channel c is frame channel perm[c] */
    float pad[3]; /* a padded pixel per output channel (eng_pad_pixel) */
} cu_prep;
void cu_prep_fill(cu_prep *q, const eng_meta *m, int fh, int fw, int64_t rh, int64_t rw);
/* count frames of q's size, consecutive in frames (device) -> network inputs from dst on, in one launch */
odrt_status_t cu_preprocess(const cu_prep *q, const uint8_t *frames, int count, void *dst, int half, cudaStream_t s);

/* post-processing: decode, scores, per-class NMS, merge (TF OD API semantics, as postproc.c) */
typedef struct cu_post {
    int B, C, CT, bg, act, K, max_total, class_offset;
    int64_t N;
    float scales[4], score_thr, iou_thr;
    /* device buffers */
    float *boxes;     /* [B][N][4] decoded, unclipped */
    float *scores;    /* [B][C][N] */
    uint32_t *keys;        /* [B*C][N] candidate keys (0: below the threshold) */
    uint32_t *keys_sorted; /* [B*C][SEG] the group being walked, sorted (cuda_pipeline.cu) */
    int *idx_sorted;       /* [B*C][SEG] its anchor indices */
    float *kept;      /* [B*C][K][6] ymin xmin ymax xmax score rank */
    int *n_kept;      /* [B*C] */
    float *out;       /* [B][1 + max_total * 6]: count, then ymin xmin ymax xmax score class */
    float *window;    /* [B][2] clip window (height, width share of the input), device */
} cu_post;
odrt_status_t cu_post_alloc(cu_post *q, const eng_meta *m, int B);
void cu_post_free(cu_post *q);
/* ev: NULL, or 3 events recorded after decode, sort and NMS (profiling) */
odrt_status_t cu_postprocess(const cu_post *q, const float *anchors, const void *codes, const void *logits, int half,
                             int clip_to_window, cudaStream_t s, cudaEvent_t *ev);

#endif
