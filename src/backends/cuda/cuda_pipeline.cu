/* CUDA preprocessing and post-processing: the engine's preproc.c and postproc.c on the GPU, with
 * the same formulas (src/resize_coord.h for the taps; the export's normalisation steps in order;
 * TF OD API decode, per-class NMS on unclipped boxes, then clip / drop empty / best K /
 * renormalise), so that a frame goes in as uint8 and detections come out with no host round trip.
 *
 * NMS: one block per (image, class) takes its candidates (score > threshold) best first in groups
 * picked by key histograms, each sorted in shared memory (stable: ties keep the lower anchor first,
 * the reference's order), and walks them 32 at a time, a lane per candidate, against the kept
 * boxes and the chunk's earlier candidates, until the class is full or the candidates end
 * (select_nms_k, nms_walk). */
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda_fp16.h>

#include "backends/cuda/cuda_internal.h"
#include "engine/norm_steps.h"
#include "engine/score_key.h"
#include "resize_coord.h"

namespace {

__device__ __forceinline__ float ldv(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ldv(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void stv(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void stv(__half *p, int64_t i, float v) { p[i] = __float2half(v); }

__device__ __forceinline__ float norm_steps(const cu_prep &q, float v, int c, int s0, int s1) {
    return eng_norm_steps(q.norm, v, c, s0, s1);
}

/* one thread per output pixel; blockIdx.z: the frame of a run of same-sized frames */
template <typename T>
__global__ void prep_k(cu_prep q, const uint8_t *src, T *dst, int64_t dst_stride) {
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (x >= q.net_w) return;
    src += (int64_t)blockIdx.z * q.fh * q.fw * 3, dst += (int64_t)blockIdx.z * dst_stride;
    int64_t o = ((int64_t)y * q.net_w + x) * 3;
    if (y >= q.rh || x >= q.rw) {
        for (int c = 0; c < 3; c++) stv(dst, o + c, q.pad[c]);
        return;
    }
    int identity = q.fh == q.rh && q.fw == q.rw && (!q.has_resize || q.ctm != RZ_PYTORCH_HALF_PIXEL || (q.rh > 1 && q.rw > 1));
    if (identity) {
        const uint8_t *s = src + ((int64_t)y * q.fw + x) * 3;
        for (int k = 0; k < 3; k++) {
            int c = q.perm[k];
            stv(dst, o + k, norm_steps(q, norm_steps(q, (float)s[c], c, 0, q.n_pre), c, q.n_pre, q.n_norm));
        }
        return;
    }
    int64_t y0, y1, x0, x1;
    float wy0, wy1, wx0, wx1;
    rz_tap(q.linear, q.ctm, q.nearest, y, q.fh, q.rh, &y0, &y1, &wy0, &wy1);
    rz_tap(q.linear, q.ctm, q.nearest, x, q.fw, q.rw, &x0, &x1, &wx0, &wx1);
    if (!q.linear) { /* one source pixel */
        const uint8_t *s = src + (y0 * q.fw + x0) * 3;
        for (int k = 0; k < 3; k++) {
            int c = q.perm[k];
            stv(dst, o + k, norm_steps(q, norm_steps(q, (float)s[c], c, 0, q.n_pre), c, q.n_pre, q.n_norm));
        }
        return;
    }
    const uint8_t *r0 = src + y0 * q.fw * 3, *r1 = src + y1 * q.fw * 3;
    for (int k = 0; k < 3; k++) {
        int c = q.perm[k];
        /* separable as the reference: along W first, then H; steps before the resize on the taps */
        float a = norm_steps(q, (float)r0[x0 * 3 + c], c, 0, q.n_pre) * wx0 + norm_steps(q, (float)r0[x1 * 3 + c], c, 0, q.n_pre) * wx1;
        float b = norm_steps(q, (float)r1[x0 * 3 + c], c, 0, q.n_pre) * wx0 + norm_steps(q, (float)r1[x1 * 3 + c], c, 0, q.n_pre) * wx1;
        stv(dst, o + k, norm_steps(q, a * wy0 + b * wy1, c, q.n_pre, q.n_norm));
    }
}

/* ---- post-processing ---- */

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
    for (int c = 0; c < q.C; c++) key[c * q.N] = sc[c * q.N] > q.score_thr ? eng_score_key(sc[c * q.N]) : 0u; /* 0: not a candidate */
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
 * ks / vs: the candidates' keys and anchors, best first, ending at a zero key or len; nk: the
 * count kept so far (kept_box: shared [K][5], ymin xmin ymax xmax ordered, area); returns the
 * count after. */
template <int NW>
__device__ int nms_walk(const cu_post &q, int bc, const uint32_t *ks, const int *vs, int64_t len, int nk, float *kept_box,
                        walk_smem &ws) {
    int b = bc / q.C, lane = threadIdx.x % 32, w = threadIdx.x / 32;
    const float *sc = q.scores + (int64_t)bc * q.N, *boxes = q.boxes + (int64_t)b * q.N * 4;
    float *kept = q.kept + (int64_t)bc * q.K * 6;
    auto sync = [] {
        if (NW > 1) __syncthreads();
        else __syncwarp();
    };
    struct cand {
        bool valid;
        float bx[4], qb[5], s;
    };
    auto fetch = [&](int64_t base, cand &c) {
        int64_t i = base + lane;
        c.valid = i < len && ks[i] != 0u;
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
    for (int64_t base = 0; base < len && nk < q.K; base += 32) {
        if (base + 32 < len) fetch(base + 32, nxt);
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
    return nk;
}

/* One block per (image, class) orders and suppresses its candidates group by group, best group
 * first, without sorting them all: a group is the candidates whose keys lie in [lo, hi), at most
 * SEL_N of them, as many as fit. A histogram of the keys below hi (their top 11 bits: sign,
 * exponent, 2 mantissa bits) gives the best bins that fit; when the first bin alone holds more,
 * the next 11 bits of that bin are counted, then the last 10, down to one key value (more than
 * SEL_N equal keys: taken SEL_N at a time, in anchor order, which is their order). A group is
 * compacted in anchor order (a block scan), sorted (CUB's block radix sort: stable, so equal keys
 * keep the lower anchor first, the reference's order) into the segment's scratch behind a zero key,
 * and walked (nms_walk), the kept boxes carried into the next group, until K are kept or the
 * candidates end. Most classes need one group: a walk rarely visits more than a few hundred. */
enum { SORT_T = 1024, SEL_IPT = 2, SEL_N = SORT_T * SEL_IPT, HIST_BINS = 1 << ENG_KEY_TOP_BITS, SEG = SEL_N + 64 };
typedef cub::BlockRadixSort<uint32_t, SORT_T, SEL_IPT, int> sel_sort;
typedef cub::BlockScan<int, SORT_T> block_scan;
struct sel_smem {
    sel_sort::TempStorage sort;
    block_scan::TempStorage scan;
    int hist[HIST_BINS];
    uint32_t key[SEL_N];
    int idx[SEL_N];
    walk_smem walk;
    uint32_t lo;
    int64_t cnt;
    int refine, bin;
};

/* the next group below hi (keys in [lo, hi), count cnt; cnt = 0: none left), by the whole block */
__device__ void next_group(const uint32_t *kin, int64_t N, uint64_t hi, sel_smem &sm) {
    int tid = threadIdx.x;
    uint64_t base = 0; /* the level's range: [base, base + (HIST_BINS << shift)) */
    for (int shift = ENG_KEY_TOP_SHIFT;; shift = shift > ENG_KEY_TOP_BITS ? shift - ENG_KEY_TOP_BITS : 0) { /* 21, 10, 0 */
        for (int h = tid; h < HIST_BINS; h += SORT_T) sm.hist[h] = 0;
        if (tid == 0) sm.refine = 0, sm.cnt = 0, sm.lo = (uint32_t)base;
        __syncthreads();
        uint64_t top = base + ((uint64_t)HIST_BINS << shift);
        if (top > hi) top = hi;
        for (int64_t i = tid; i < N; i += SORT_T) {
            uint32_t k = kin[i];
            if (k && k >= base && k < top) atomicAdd(&sm.hist[(k - base) >> shift], 1);
        }
        __syncthreads();
        /* bins best first: thread t holds bins HIST_BINS - 1 - 2t and the one below */
        int b0 = HIST_BINS - 1 - 2 * tid, b1 = b0 - 1, c0 = sm.hist[b0], c1 = sm.hist[b1], above, total;
        block_scan(sm.scan).ExclusiveSum(c0 + c1, above, total);
        if (total <= SEL_N) { /* all of them fit: [base, hi) */
            if (tid == 0) sm.cnt = total;
        } else if (above <= SEL_N && above + c0 > SEL_N) { /* bin b0 overflows */
            if (above > 0) sm.lo = (uint32_t)(base + ((uint64_t)(b0 + 1) << shift)), sm.cnt = above;
            else sm.refine = 1, sm.bin = b0, sm.cnt = c0;
        } else if (above + c0 <= SEL_N && above + c0 + c1 > SEL_N) { /* bin b1 overflows */
            if (above + c0 > 0) sm.lo = (uint32_t)(base + ((uint64_t)(b1 + 1) << shift)), sm.cnt = above + c0;
            else sm.refine = 1, sm.bin = b1, sm.cnt = c1;
        }
        __syncthreads();
        if (!sm.refine) return;
        base += (uint64_t)sm.bin << shift;
        if (shift == 0) { /* one key value, more than SEL_N times */
            if (tid == 0) sm.lo = (uint32_t)base;
            __syncthreads();
            return;
        }
        __syncthreads();
    }
}

__global__ void __launch_bounds__(SORT_T) select_nms_k(cu_post q) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    sel_smem &sm = *reinterpret_cast<sel_smem *>(smem_raw);
    float *kept_box = reinterpret_cast<float *>(smem_raw + sizeof(sel_smem));
    int bc = blockIdx.x, tid = threadIdx.x, nk = 0;
    const uint32_t *kin = q.keys + (int64_t)bc * q.N;
    uint32_t *kout = q.keys_sorted + (int64_t)bc * SEG;
    int *vout = q.idx_sorted + (int64_t)bc * SEG;
    /* thread t compacts anchors [i0, i1) */
    int64_t per = (q.N + SORT_T - 1) / SORT_T, i0 = tid * per < q.N ? tid * per : q.N, i1 = i0 + per < q.N ? i0 + per : q.N;
    for (uint64_t hi = 1ull << 32; nk < q.K;) {
        next_group(kin, q.N, hi, sm);
        const uint32_t lo = sm.lo;
        const int64_t cnt = sm.cnt;
        if (cnt == 0) break;
        for (int64_t p0 = 0; p0 < cnt && nk < q.K; p0 += SEL_N) { /* pieces: only for one key value */
            int n = 0, off;
            for (int64_t i = i0; i < i1; i++) n += kin[i] && kin[i] >= lo && kin[i] < hi;
            __syncthreads(); /* the scan storage is reused */
            block_scan(sm.scan).ExclusiveSum(n, off);
            for (int64_t i = i0; i < i1; i++)
                if (kin[i] && kin[i] >= lo && kin[i] < hi) {
                    if (off >= p0 && off < p0 + SEL_N) sm.key[off - p0] = kin[i], sm.idx[off - p0] = (int)i;
                    off++;
                }
            __syncthreads();
            int m = cnt - p0 < SEL_N ? (int)(cnt - p0) : SEL_N;
            uint32_t k[SEL_IPT];
            int v[SEL_IPT];
            for (int u = 0; u < SEL_IPT; u++) {
                int r = tid * SEL_IPT + u;
                k[u] = r < m ? sm.key[r] : 0u, v[u] = r < m ? sm.idx[r] : 0;
            }
            __syncthreads();
            sel_sort(sm.sort).SortDescending(k, v); /* the zero keys (r >= m) sort last: the walk's end */
            for (int u = 0; u < SEL_IPT; u++) kout[tid * SEL_IPT + u] = k[u], vout[tid * SEL_IPT + u] = v[u];
            if (tid == 0) kout[SEL_N] = 0u;
            __syncthreads();
            nk = nms_walk<SORT_T / 32>(q, bc, kout, vout, SEG, nk, kept_box, sm.walk);
            __syncthreads();
        }
        hi = lo;
        if (lo == 0) break;
    }
    if (tid == 0) q.n_kept[bc] = nk;
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
                v = ((uint64_t)(~eng_score_key(s)) << 32) | (uint32_t)i;
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
    q->n_norm = m->n_norm, q->n_pre = m->has_resize ? m->n_norm_pre : 0;
    eng_pad_pixel(m, q->pad);
    memcpy(q->norm, m->norm, sizeof q->norm);
    memcpy(q->perm, m->chan_perm, sizeof q->perm);
}

odrt_status_t cu_preprocess(const cu_prep *q, const uint8_t *frames, int count, void *dst, int half, cudaStream_t s) {
    dim3 g((unsigned)((q->net_w + 127) / 128), (unsigned)q->net_h, (unsigned)count);
    int64_t stride = (int64_t)q->net_h * q->net_w * 3;
    if (half) prep_k<__half><<<g, 128, 0, s>>>(*q, frames, (__half *)dst, stride);
    else prep_k<float><<<g, 128, 0, s>>>(*q, frames, (float *)dst, stride);
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
    size_t sm = sizeof(sel_smem) + nms_smem(q);
    if (sm > (size_t)max_smem) return odrt_fail(ODRT_ERR_UNSUPPORTED, "cuda: NMS needs more shared memory than this GPU has");
    CU_TRY(cudaFuncSetAttribute(select_nms_k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
    CU_TRY(cudaFuncSetAttribute(merge_k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)merge_smem(q)));
    size_t BC = (size_t)B * q->C, N = (size_t)q->N;
    CU_TRY(cudaMalloc(&q->boxes, sizeof(float) * B * N * 4));
    CU_TRY(cudaMalloc(&q->scores, sizeof(float) * BC * N));
    CU_TRY(cudaMalloc(&q->kept, sizeof(float) * BC * q->K * 6));
    CU_TRY(cudaMalloc(&q->n_kept, sizeof(int) * BC));
    CU_TRY(cudaMalloc(&q->out, sizeof(float) * B * (1 + (size_t)q->max_total * 6)));
    CU_TRY(cudaMalloc(&q->window, sizeof(float) * B * 2));
    /* candidate keys per (image, class); a group's sorted keys and anchors (SEG each); zeroed, as a
     * walk's prefetch reads past a group's end */
    CU_TRY(cudaMalloc(&q->keys, sizeof(uint32_t) * BC * N));
    CU_TRY(cudaMalloc(&q->keys_sorted, sizeof(uint32_t) * BC * SEG));
    CU_TRY(cudaMalloc(&q->idx_sorted, sizeof(int) * BC * SEG));
    CU_TRY(cudaMemset(q->keys_sorted, 0, sizeof(uint32_t) * BC * SEG));
    CU_TRY(cudaMemset(q->idx_sorted, 0, sizeof(int) * BC * SEG));
    CU_TRY(cudaDeviceSynchronize());
    return ODRT_OK;
}

void cu_post_free(cu_post *q) {
    cudaFree(q->boxes), cudaFree(q->scores), cudaFree(q->kept), cudaFree(q->n_kept), cudaFree(q->out), cudaFree(q->window);
    cudaFree(q->keys), cudaFree(q->keys_sorted), cudaFree(q->idx_sorted);
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
    if (ev) CU_TRY(cudaEventRecord(ev[1], s)); /* no separate sort: select_nms_k orders what it walks */
    select_nms_k<<<(unsigned)(q->B * q->C), SORT_T, sizeof(sel_smem) + nms_smem(q), s>>>(*q);
    CU_TRY(cudaGetLastError());
    if (ev) CU_TRY(cudaEventRecord(ev[2], s));
    merge_k<<<(unsigned)q->B, NT, merge_smem(q), s>>>(*q, clip_to_window);
    CU_TRY(cudaGetLastError());
    return ODRT_OK;
}
