/* CUDA preprocessing and post-processing: the engine's preproc.c and postproc.c on the GPU, with
 * the same formulas (ops/resize_coord.h for the taps; the export's normalisation steps in order;
 * TF OD API decode, per-class NMS on unclipped boxes, then clip / drop empty / best K /
 * renormalise), so that a frame goes in as uint8 and detections come out with no host round trip.
 *
 * NMS: the candidates of every (image, class) (score > threshold) are ordered best first by one
 * segmented radix sort (CUB; stable, so ties keep the lower anchor first, the reference's order);
 * then one warp per (image, class) walks them 32 at a time, a lane per candidate, against the kept
 * boxes (shared memory) and the chunk's earlier candidates, until the class is full or the
 * candidates end (nms_walk). With at most SORT_N anchors the sort is the block's own (sort_nms_k). */
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <cuda_fp16.h>

#include "backends/cuda/cuda_internal.h"
#include "engine/norm_steps.h"
#include "ops/resize_coord.h"

namespace {

__device__ __forceinline__ float ldv(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ldv(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void stv(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void stv(__half *p, int64_t i, float v) { p[i] = __float2half(v); }

__device__ __forceinline__ float norm_steps(const cu_prep &q, float v, int c, int s0, int s1) {
    return eng_norm_steps(q.norm, v, c, s0, s1);
}

template <typename T>
__global__ void prep_k(cu_prep q, const uint8_t *src, T *dst) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (x >= q.net_w) return;
    int64_t o = ((int64_t)y * q.net_w + x) * 3;
    if (y >= q.rh || x >= q.rw) {
        for (int c = 0; c < 3; c++) stv(dst, o + c, q.pad);
        return;
    }
    int identity = q.fh == q.rh && q.fw == q.rw && (!q.has_resize || q.ctm != RZ_PYTORCH_HALF_PIXEL || (q.rh > 1 && q.rw > 1));
    if (identity) {
        const uint8_t *s = src + ((int64_t)y * q.fw + x) * 3;
        for (int c = 0; c < 3; c++) stv(dst, o + c, norm_steps(q, norm_steps(q, (float)s[c], c, 0, q.n_pre), c, q.n_pre, q.n_norm));
        return;
    }
    int64_t y0, y1, x0, x1;
    float wy0, wy1, wx0, wx1;
    rz_tap(q.linear, q.ctm, q.nearest, y, q.fh, q.rh, &y0, &y1, &wy0, &wy1);
    rz_tap(q.linear, q.ctm, q.nearest, x, q.fw, q.rw, &x0, &x1, &wx0, &wx1);
    if (!q.linear) { /* one source pixel */
        const uint8_t *s = src + (y0 * q.fw + x0) * 3;
        for (int c = 0; c < 3; c++) stv(dst, o + c, norm_steps(q, norm_steps(q, (float)s[c], c, 0, q.n_pre), c, q.n_pre, q.n_norm));
        return;
    }
    const uint8_t *r0 = src + y0 * q.fw * 3, *r1 = src + y1 * q.fw * 3;
    for (int c = 0; c < 3; c++) {
        /* separable as the reference: along W first, then H; steps before the resize on the taps */
        float a = norm_steps(q, (float)r0[x0 * 3 + c], c, 0, q.n_pre) * wx0 + norm_steps(q, (float)r0[x1 * 3 + c], c, 0, q.n_pre) * wx1;
        float b = norm_steps(q, (float)r1[x0 * 3 + c], c, 0, q.n_pre) * wx0 + norm_steps(q, (float)r1[x1 * 3 + c], c, 0, q.n_pre) * wx1;
        stv(dst, o + c, norm_steps(q, a * wy0 + b * wy1, c, q.n_pre, q.n_norm));
    }
}

/* ---- post-processing ---- */
__device__ __forceinline__ uint32_t skey(float f) { /* order-preserving float -> uint32 */
    uint32_t b = __float_as_uint(f);
    return b ^ ((b >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

template <typename T>
__global__ void decode_k(cu_post q, const float *anchors, const T *codes, const T *logits) {
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (int64_t)q.B * q.N) return;
    int64_t b = t / q.N, i = t % q.N;
    const float *a = anchors + i * 4;
    float e0 = ldv(codes, t * 4), e1 = ldv(codes, t * 4 + 1), e2 = ldv(codes, t * 4 + 2), e3 = ldv(codes, t * 4 + 3);
    float ty = e0 / q.scales[0], tx = e1 / q.scales[1], th = e2 / q.scales[2], tw = e3 / q.scales[3];
    float h = expf(th) * a[2], w = expf(tw) * a[3], yc = ty * a[2] + a[0], xc = tx * a[3] + a[1];
    float *bx = q.boxes + t * 4;
    bx[0] = yc - h / 2, bx[1] = xc - w / 2, bx[2] = yc + h / 2, bx[3] = xc + w / 2;
    float *sc = q.scores + b * q.C * q.N + i;
    uint32_t *key = q.keys + b * q.C * q.N + i;
    if (q.act == 2) {
        double mx = ldv(logits, t * q.CT), sum = 0;
        for (int c = 1; c < q.CT; c++) mx = fmax(mx, (double)ldv(logits, t * q.CT + c));
        for (int c = 0; c < q.CT; c++) sum += exp((double)ldv(logits, t * q.CT + c) - mx);
        for (int c = 0; c < q.C; c++) sc[c * q.N] = (float)(exp((double)ldv(logits, t * q.CT + c + q.bg) - mx) / sum);
    } else {
        for (int c = 0; c < q.C; c++) {
            float l = ldv(logits, t * q.CT + c + q.bg);
            sc[c * q.N] = q.act == 1 ? 1.0f / (1.0f + expf(-l)) : l;
        }
    }
    for (int c = 0; c < q.C; c++) key[c * q.N] = sc[c * q.N] > q.score_thr ? skey(sc[c * q.N]) : 0u; /* 0: not a candidate */
}

__global__ void iota_k(int *v, int64_t n, int64_t per) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) v[i] = (int)(i % per);
}

enum { NT = 1024 };

/* does kept box k suppress candidate b (ymin xmin ymax xmax ordered, area)? The reference's rule:
 * IoU > thr; no overlap or a degenerate box never suppresses. Symmetric in k and b. */
__device__ __forceinline__ bool overlaps(const float *k, const float *b, float thr) {
    float ixa = fmaxf(k[1], b[1]), ixb = fminf(k[3], b[3]), iya = fmaxf(k[0], b[0]), iyb = fminf(k[2], b[2]);
    float inter = (ixb - ixa) * (iyb - iya), uni = k[4] + b[4] - inter;
    bool ok = ixb > ixa && iyb > iya && inter > 0 && k[4] > 0 && b[4] > 0 && uni > 0;
    return ok && inter / uni > thr;
}

/* scratch of a walk in shared memory: the chunk's candidates suppressed by kept boxes (bit j), by
 * earlier candidates of the chunk (word j, bit i), and the kept count after the chunk */
struct walk_smem {
    unsigned pre, by_earlier[32];
    int nk;
};

/* greedy suppression of (image, class) bc by NW warps (1, or a whole block), over its candidates
 * sorted best first, 32 at a time (lane j of every warp holds candidate j of the chunk, the next
 * chunk loaded meanwhile):
 * 1. warp w checks the chunk against the kept boxes w, w + NW, ... (kept before the chunk);
 * 2. warp w checks chunk candidates w, w + NW, ... against the later ones of the chunk;
 * 3. warp 0 resolves the chunk in order with bit operations (a candidate is kept when no earlier
 *    kept one, in or before the chunk, suppresses it, until K are kept): the decisions of the
 *    one-at-a-time greedy walk, and appends the kept candidates in order.
 * kept_box: shared [K][5] (ymin xmin ymax xmax ordered, area) */
template <int NW>
__device__ void nms_walk(const cu_post &q, int bc, float *kept_box, walk_smem &ws) {
    int b = bc / q.C, lane = threadIdx.x % 32, w = threadIdx.x / 32;
    const uint32_t *ks = q.keys_sorted + (int64_t)bc * q.N;
    const int *vs = q.idx_sorted + (int64_t)bc * q.N;
    const float *sc = q.scores + (int64_t)bc * q.N, *boxes = q.boxes + (int64_t)b * q.N * 4;
    float *kept = q.kept + (int64_t)bc * q.K * 6;
    auto sync = [] {
        if (NW > 1) __syncthreads();
        else __syncwarp();
    };
    int nk = 0;
    struct cand {
        bool valid;
        float bx[4], qb[5], s;
    };
    auto fetch = [&](int64_t base, cand &c) {
        int64_t i = base + lane;
        c.valid = i < q.N && ks[i] != 0u;
        for (int u = 0; u < 4; u++) c.bx[u] = 0;
        for (int u = 0; u < 5; u++) c.qb[u] = 0;
        c.s = 0;
        if (!c.valid) return;
        int idx = vs[i];
        const float4 v = *(const float4 *)(boxes + (int64_t)idx * 4);
        c.bx[0] = v.x, c.bx[1] = v.y, c.bx[2] = v.z, c.bx[3] = v.w, c.s = sc[idx];
        c.qb[0] = fminf(v.x, v.z), c.qb[2] = fmaxf(v.x, v.z), c.qb[1] = fminf(v.y, v.w), c.qb[3] = fmaxf(v.y, v.w);
        c.qb[4] = (c.qb[3] - c.qb[1]) * (c.qb[2] - c.qb[0]);
    };
    cand cur, nxt;
    fetch(0, cur);
    for (int64_t base = 0; base < q.N && nk < q.K; base += 32) {
        if (base + 32 < q.N) fetch(base + 32, nxt);
        unsigned vm = __ballot_sync(0xffffffffu, cur.valid); /* sorted: the valid ones are a prefix */
        if (threadIdx.x < 32) ws.pre = ~vm, ws.by_earlier[lane] = 0;
        sync();
        bool pre = false;
        for (int k = w; k < nk && !pre && cur.valid; k += NW) pre = overlaps(kept_box + k * 5, cur.qb, q.iou_thr);
        if (pre) atomicOr(&ws.pre, 1u << lane);
        for (int i = w; i < 31; i += NW) { /* candidate i against this lane's (i < lane) */
            float kb[5];
            for (int u = 0; u < 5; u++) kb[u] = __shfl_sync(0xffffffffu, cur.qb[u], i);
            if (i < lane && overlaps(kb, cur.qb, q.iou_thr)) atomicOr(&ws.by_earlier[lane], 1u << i);
        }
        sync();
        if (threadIdx.x < 32) {
            unsigned out = ws.pre, keep = 0;
            int nk2 = nk;
            for (int j = 0; j < 32; j++)
                if (nk2 < q.K && !(out >> j & 1) && !(ws.by_earlier[j] & keep)) keep |= 1u << j, nk2++;
            if (keep >> lane & 1) {
                int at = nk + __popc(keep & ((1u << lane) - 1));
                for (int u = 0; u < 5; u++) kept_box[at * 5 + u] = cur.qb[u];
                float *o = kept + at * 6;
                o[0] = cur.bx[0], o[1] = cur.bx[1], o[2] = cur.bx[2], o[3] = cur.bx[3], o[4] = cur.s, o[5] = (float)at;
            }
            if (lane == 0) ws.nk = nk2;
        }
        sync();
        nk = ws.nk;
        if (vm != 0xffffffffu) break; /* the candidates ended in this chunk */
        cur = nxt;
    }
    if (threadIdx.x == 0) q.n_kept[bc] = nk;
}

__global__ void __launch_bounds__(32) nms_k(cu_post q) {
    extern __shared__ float kept_box[];
    __shared__ walk_smem ws;
    nms_walk<1>(q, blockIdx.x, kept_box, ws);
}

/* segments of at most SORT_N candidates: one block sorts its segment in shared memory (CUB's block
 * radix sort: stable, so ties keep the lower anchor first), then its warps suppress (nms_walk).
 *
 * Most walks visit a few hundred candidates, so the block first narrows the sort: a histogram of
 * the keys' top 11 bits (sign, exponent, 2 mantissa bits) gives the best bins that hold 4 K
 * candidates; if they hold fewer than SEL_N, those are compacted in anchor order (a block scan)
 * and sorted alone, behind a zero key that ends the walk. Only if the walk then runs out before K
 * boxes are kept while other candidates remain does the block sort the whole segment and walk
 * again (equal keys share a bin, so the narrowed order is the full order's prefix). */
enum { SORT_T = 1024, SORT_IPT = 16, SORT_N = SORT_T * SORT_IPT };
enum { SEL_IPT = 2, SEL_N = SORT_T * SEL_IPT, HIST_SHIFT = 21, HIST_BINS = 1 << (32 - HIST_SHIFT) };
typedef cub::BlockRadixSort<uint32_t, SORT_T, SORT_IPT, int> block_sort;
typedef cub::BlockRadixSort<uint32_t, SORT_T, SEL_IPT, int> sel_sort;
typedef cub::BlockScan<int, SORT_T> block_scan;
union sort_smem {
    block_sort::TempStorage full;
    struct {
        sel_sort::TempStorage sort;
        block_scan::TempStorage scan;
        int hist[HIST_BINS];
        uint32_t key[SEL_N];
        int idx[SEL_N];
    } sel;
};

__global__ void __launch_bounds__(SORT_T) sort_nms_k(cu_post q) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    sort_smem &sm = *reinterpret_cast<sort_smem *>(smem_raw);
    float *kept_box = reinterpret_cast<float *>(smem_raw + sizeof(sort_smem));
    __shared__ int s_lo_bin, s_m, s_full;
    __shared__ walk_smem ws;
    int bc = blockIdx.x, tid = threadIdx.x;
    const uint32_t *kin = q.keys + (int64_t)bc * q.N;
    uint32_t *kout = q.keys_sorted + (int64_t)bc * q.N;
    int *vout = q.idx_sorted + (int64_t)bc * q.N;

    /* the histogram, and the best bins holding min(4 K, all) candidates */
    for (int h = tid; h < HIST_BINS; h += SORT_T) sm.sel.hist[h] = 0;
    if (tid == 0) s_lo_bin = HIST_BINS, s_m = 0;
    __syncthreads();
    for (int i = tid; i < q.N; i += SORT_T)
        if (kin[i]) atomicAdd(&sm.sel.hist[kin[i] >> HIST_SHIFT], 1);
    __syncthreads();
    int b0 = HIST_BINS - 1 - 2 * tid, b1 = b0 - 1; /* this thread's two bins, best first */
    int c0 = sm.sel.hist[b0], c1 = sm.sel.hist[b1], above, total;
    block_scan(sm.sel.scan).ExclusiveSum(c0 + c1, above, total);
    int target = total < 4 * q.K ? total : 4 * q.K;
    if (target > 0 && above < target && above + c0 >= target) s_lo_bin = b0, s_m = above + c0;
    else if (target > 0 && above + c0 < target && above + c0 + c1 >= target) s_lo_bin = b1, s_m = above + c0 + c1;
    __syncthreads();
    const int lo_bin = s_lo_bin, m = s_m;
    if (m < SEL_N || q.N <= SEL_N) {
        /* compact the selected candidates in anchor order: thread t scans anchors [t per, (t+1) per) */
        int per = (q.N + SORT_T - 1) / SORT_T, i0 = tid * per, i1 = i0 + per < q.N ? i0 + per : q.N, cnt = 0, off;
        for (int i = i0; i < i1; i++) cnt += kin[i] && (int)(kin[i] >> HIST_SHIFT) >= lo_bin;
        __syncthreads(); /* the scan storage is reused */
        block_scan(sm.sel.scan).ExclusiveSum(cnt, off);
        for (int i = i0; i < i1; i++)
            if (kin[i] && (int)(kin[i] >> HIST_SHIFT) >= lo_bin) sm.sel.key[off] = kin[i], sm.sel.idx[off++] = i;
        __syncthreads();
        uint32_t k[SEL_IPT];
        int v[SEL_IPT];
        for (int u = 0; u < SEL_IPT; u++) {
            int r = tid * SEL_IPT + u;
            k[u] = r < m ? sm.sel.key[r] : 0u, v[u] = r < m ? sm.sel.idx[r] : 0;
        }
        __syncthreads();
        sel_sort(sm.sel.sort).SortDescending(k, v); /* the zero keys (r >= m) sort last: the walk's end */
        for (int u = 0; u < SEL_IPT; u++) {
            int r = tid * SEL_IPT + u;
            if (r < q.N) kout[r] = k[u], vout[r] = v[u];
        }
        __syncthreads();
        nms_walk<SORT_T / 32>(q, bc, kept_box, ws);
        if (tid == 0) s_full = q.n_kept[bc] < q.K && total > m;
        __syncthreads();
        if (!s_full) return;
    }
    /* the whole segment */
    uint32_t k[SORT_IPT];
    int v[SORT_IPT];
    for (int u = 0; u < SORT_IPT; u++) {
        int i = tid * SORT_IPT + u;
        k[u] = i < q.N ? kin[i] : 0u, v[u] = i;
    }
    __syncthreads();
    block_sort(sm.full).SortDescending(k, v);
    for (int u = 0; u < SORT_IPT; u++) {
        int r = tid * SORT_IPT + u;
        if (r < q.N) kout[r] = k[u], vout[r] = v[u];
    }
    __syncthreads();
    nms_walk<SORT_T / 32>(q, bc, kept_box, ws);
}

/* one block per image: all classes' kept boxes ordered by (score desc, class asc, NMS order) with a
 * bitonic sort in shared memory, then in parallel: clip to the window, drop boxes without area,
 * the first max_total of the rest (a block prefix sum gives positions) renormalised and written */
__global__ void __launch_bounds__(NT) merge_k(cu_post q, int clip_to_window) {
    extern __shared__ uint64_t sm[];
    __shared__ int red[NT / 32];
    int b = blockIdx.x, tid = threadIdx.x, total = q.C * q.K, p2 = 1;
    while (p2 < total) p2 <<= 1;
    for (int i = tid; i < p2; i += NT) {
        uint64_t v = ~0ull;
        if (i < total) {
            int c = i / q.K, r = i % q.K;
            if (r < q.n_kept[b * q.C + c]) {
                float s = q.kept[((int64_t)(b * q.C + c) * q.K + r) * 6 + 4];
                v = ((uint64_t)(~skey(s)) << 32) | (uint32_t)i;
            }
        }
        sm[i] = v;
    }
    __syncthreads();
    for (int size = 2; size <= p2; size <<= 1)
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = tid; i < p2; i += NT) {
                int j = i ^ stride;
                if (j > i) {
                    bool up = (i & size) == 0;
                    uint64_t x = sm[i], y = sm[j];
                    if ((x > y) == up) sm[i] = y, sm[j] = x;
                }
            }
            __syncthreads();
        }
    float wh = clip_to_window ? q.window[2 * b] : 1.0f, ww = clip_to_window ? q.window[2 * b + 1] : 1.0f;
    float sy = 1.0f / wh, sx = 1.0f / ww;
    float *out = q.out + (int64_t)b * (1 + q.max_total * 6);
    int written = 0;
    for (int i0 = 0; i0 < p2 && written < q.max_total; i0 += NT) { /* chunks of NT sorted entries */
        int i = i0 + tid;
        bool keep = false;
        float y0 = 0, x0 = 0, y1 = 0, x1 = 0, sc = 0;
        int c = 0;
        if (i < p2 && sm[i] != ~0ull) {
            int e = (int)(uint32_t)sm[i], r = e % q.K;
            c = e / q.K;
            const float *d = q.kept + ((int64_t)(b * q.C + c) * q.K + r) * 6;
            y0 = fmaxf(fminf(d[0], wh), 0), x0 = fmaxf(fminf(d[1], ww), 0), y1 = fmaxf(fminf(d[2], wh), 0), x1 = fmaxf(fminf(d[3], ww), 0);
            sc = d[4];
            keep = (y1 - y0) * (x1 - x0) > 0;
        }
        /* block exclusive prefix of keep */
        unsigned m = __ballot_sync(0xffffffffu, keep);
        int lane = tid % 32, w = tid / 32;
        if (lane == 0) red[w] = __popc(m);
        __syncthreads();
        int base = 0, tot = 0;
        for (int q2 = 0; q2 < NT / 32; q2++) base += q2 < w ? red[q2] : 0, tot += red[q2];
        int pos = written + base + __popc(m & ((1u << lane) - 1));
        if (keep && pos < q.max_total) {
            if (clip_to_window) y0 *= sy, x0 *= sx, y1 *= sy, x1 *= sx;
            float *o = out + 1 + pos * 6;
            o[0] = y0, o[1] = x0, o[2] = y1, o[3] = x1, o[4] = sc, o[5] = (float)(c + q.class_offset);
        }
        written += tot;
        __syncthreads();
    }
    if (tid == 0) out[0] = (float)(written < q.max_total ? written : q.max_total);
}

} // namespace

void cu_prep_fill(cu_prep *q, const eng_meta *m, int fh, int fw, int64_t rh, int64_t rw) {
    memset(q, 0, sizeof *q);
    q->fh = fh, q->fw = fw, q->rh = (int)rh, q->rw = (int)rw, q->net_h = m->net_h, q->net_w = m->net_w;
    q->has_resize = m->has_resize, q->linear = m->resize_linear, q->ctm = m->resize_ctm, q->nearest = m->resize_nearest;
    q->n_norm = m->n_norm, q->n_pre = m->has_resize ? m->n_norm_pre : 0, q->pad = m->pad_value;
    memcpy(q->norm, m->norm, sizeof q->norm);
}

odrt_status_t cu_preprocess(const cu_prep *q, const uint8_t *frame, void *dst, int half, cudaStream_t s) {
    dim3 g((unsigned)((q->net_w + 127) / 128), (unsigned)q->net_h);
    if (half) prep_k<__half><<<g, 128, 0, s>>>(*q, frame, (__half *)dst);
    else prep_k<float><<<g, 128, 0, s>>>(*q, frame, (float *)dst);
    CU_TRY(cudaGetLastError());
    return ODRT_OK;
}

static size_t nms_smem(const cu_post *q) { return sizeof(float) * 5 * (size_t)q->K; }
static size_t merge_smem(const cu_post *q) {
    size_t p2 = 1;
    while (p2 < (size_t)q->C * q->K) p2 <<= 1;
    return sizeof(uint64_t) * p2;
}

odrt_status_t cu_post_alloc(cu_post *q, const eng_meta *m, int B) {
    memset(q, 0, sizeof *q);
    q->B = B, q->C = m->n_classes, q->CT = m->n_classes + m->bg_offset, q->bg = m->bg_offset, q->act = m->score_act;
    q->K = m->max_per_class, q->max_total = m->max_total, q->class_offset = m->class_offset, q->N = m->n_anchors;
    memcpy(q->scales, m->scales, sizeof q->scales);
    q->score_thr = m->score_threshold, q->iou_thr = m->iou_threshold;
    int dev;
    CU_TRY(cudaGetDevice(&dev));
    int max_smem = 0;
    CU_TRY(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    if (nms_smem(q) > (size_t)max_smem || merge_smem(q) > (size_t)max_smem)
        return odrt_fail(ODRT_ERR_UNSUPPORTED, "cuda: %d classes x %d per class need more shared memory than this GPU has",
                         q->C, q->K);
    CU_TRY(cudaFuncSetAttribute(nms_k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)nms_smem(q)));
    if (q->N <= SORT_N) {
        size_t sm = sizeof(sort_smem) + nms_smem(q);
        if (sm > (size_t)max_smem) return odrt_fail(ODRT_ERR_UNSUPPORTED, "cuda: NMS needs more shared memory than this GPU has");
        CU_TRY(cudaFuncSetAttribute(sort_nms_k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
    }
    CU_TRY(cudaFuncSetAttribute(merge_k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)merge_smem(q)));
    size_t BC = (size_t)B * q->C, N = (size_t)q->N;
    CU_TRY(cudaMalloc(&q->boxes, sizeof(float) * B * N * 4));
    CU_TRY(cudaMalloc(&q->scores, sizeof(float) * BC * N));
    CU_TRY(cudaMalloc(&q->kept, sizeof(float) * BC * q->K * 6));
    CU_TRY(cudaMalloc(&q->n_kept, sizeof(int) * BC));
    CU_TRY(cudaMalloc(&q->out, sizeof(float) * B * (1 + (size_t)q->max_total * 6)));
    CU_TRY(cudaMalloc(&q->window, sizeof(float) * B * 2));
    /* candidate keys sorted per (image, class) segment: values are anchor indices */
    size_t total = BC * N;
    CU_TRY(cudaMalloc(&q->keys, sizeof(uint32_t) * total));
    CU_TRY(cudaMalloc(&q->keys_sorted, sizeof(uint32_t) * total));
    CU_TRY(cudaMalloc(&q->idx, sizeof(int) * total));
    CU_TRY(cudaMalloc(&q->idx_sorted, sizeof(int) * total));
    /* zero: a walk's prefetch past a narrowed sort's end (sort_nms_k) reads keys never written */
    CU_TRY(cudaMemset(q->keys_sorted, 0, sizeof(uint32_t) * total));
    CU_TRY(cudaMemset(q->idx_sorted, 0, sizeof(int) * total));
    CU_TRY(cudaMalloc(&q->seg, sizeof(int) * (BC + 1)));
    int *seg = (int *)malloc(sizeof(int) * (BC + 1));
    if (!seg) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i <= BC; i++) seg[i] = (int)(i * N);
    cudaError_t e = cudaMemcpy(q->seg, seg, sizeof(int) * (BC + 1), cudaMemcpyHostToDevice);
    free(seg);
    CU_TRY(e);
    iota_k<<<(unsigned)((total + 255) / 256), 256>>>(q->idx, (int64_t)total, (int64_t)N);
    CU_TRY(cudaGetLastError());
    CU_TRY(cub::DeviceSegmentedRadixSort::SortPairsDescending(nullptr, q->sort_tmp_bytes, q->keys, q->keys_sorted, q->idx,
                                                              q->idx_sorted, (int64_t)total, (int64_t)BC, q->seg, q->seg + 1));
    CU_TRY(cudaMalloc(&q->sort_tmp, q->sort_tmp_bytes + 16));
    CU_TRY(cudaDeviceSynchronize());
    return ODRT_OK;
}

void cu_post_free(cu_post *q) {
    cudaFree(q->boxes), cudaFree(q->scores), cudaFree(q->kept), cudaFree(q->n_kept), cudaFree(q->out), cudaFree(q->window);
    cudaFree(q->keys), cudaFree(q->keys_sorted), cudaFree(q->idx), cudaFree(q->idx_sorted), cudaFree(q->seg), cudaFree(q->sort_tmp);
    memset(q, 0, sizeof *q);
}

odrt_status_t cu_postprocess(const cu_post *q, const float *anchors, const void *codes, const void *logits, int half,
                             int clip_to_window, cudaStream_t s, cudaEvent_t *ev) {
    int64_t n = (int64_t)q->B * q->N;
    unsigned g = (unsigned)((n + 255) / 256);
    if (half) decode_k<__half><<<g, 256, 0, s>>>(*q, anchors, (const __half *)codes, (const __half *)logits);
    else decode_k<float><<<g, 256, 0, s>>>(*q, anchors, (const float *)codes, (const float *)logits);
    CU_TRY(cudaGetLastError());
    if (ev) CU_TRY(cudaEventRecord(ev[0], s));
    if (q->N <= SORT_N) { /* sort and suppress in one kernel */
        if (ev) CU_TRY(cudaEventRecord(ev[1], s));
        sort_nms_k<<<(unsigned)(q->B * q->C), SORT_T, sizeof(sort_smem) + nms_smem(q), s>>>(*q);
    } else {
        size_t tmp_bytes = q->sort_tmp_bytes;
        int64_t total = (int64_t)q->B * q->C * q->N;
        CU_TRY(cub::DeviceSegmentedRadixSort::SortPairsDescending(q->sort_tmp, tmp_bytes, q->keys, q->keys_sorted, q->idx,
                                                                  q->idx_sorted, total, (int64_t)q->B * q->C, q->seg,
                                                                  q->seg + 1, 0, 32, s));
        if (ev) CU_TRY(cudaEventRecord(ev[1], s));
        nms_k<<<(unsigned)(q->B * q->C), 32, nms_smem(q), s>>>(*q);
    }
    CU_TRY(cudaGetLastError());
    if (ev) CU_TRY(cudaEventRecord(ev[2], s));
    merge_k<<<(unsigned)q->B, NT, merge_smem(q), s>>>(*q, clip_to_window);
    CU_TRY(cudaGetLastError());
    return ODRT_OK;
}
