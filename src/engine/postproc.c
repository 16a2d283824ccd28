/* Detection post-processing with the TF OD API's semantics (as the export's own graph computes
 * it): decode box codes against the anchors (FasterRcnnBoxCoder, unclipped), score conversion
 * (sigmoid / softmax as the graph has it), background columns dropped, per-class NMS on the
 * unclipped boxes (score > threshold, IoU > threshold suppresses, descending score with lower
 * anchor first on ties, at most max_per_class), then over all classes by score: boxes clipped to
 * the image window ([0, 1], or the resized image's part of a padded input), those left without
 * area dropped, the best max_total kept and renormalised to the window. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "engine/engine.h"
#include "engine/score_key.h"

typedef struct {
    float s;
    int32_t i;
} cand;

/* candidates ordered by score desc, then anchor asc (the reference's order) */
static int before(const cand *a, const cand *b) { return a->s > b->s || (a->s == b->s && a->i < b->i); }
static void swap_cand(cand *a, cand *b) {
    cand t = *a;
    *a = *b, *b = t;
}

/* Hoare partition of c[lo..hi] around the median of c[lo], c[mid], c[hi]: afterwards c[lo..j] are
 * not after the pivot and c[i..hi] not before it (j < i) */
static void partition(cand *c, int64_t lo, int64_t hi, int64_t *pi, int64_t *pj) {
    int64_t mid = lo + (hi - lo) / 2;
    if (before(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
    if (before(&c[hi], &c[lo])) swap_cand(&c[hi], &c[lo]);
    if (before(&c[hi], &c[mid])) swap_cand(&c[hi], &c[mid]);
    cand piv = c[mid];
    int64_t i = lo, j = hi;
    while (i <= j) {
        while (before(&c[i], &piv)) i++;
        while (before(&piv, &c[j])) j--;
        if (i <= j) swap_cand(&c[i++], &c[j--]);
    }
    *pi = i, *pj = j;
}

/* sort c[0..n) into the reference's order: quicksort (the smaller side first, so the stack stays
 * logarithmic) and insertion sort for short runs, the comparison inlined (qsort's indirect calls
 * cost more than the sort) */
static void sort_cands(cand *c, int64_t n) {
    while (n > 16) {
        int64_t i, j;
        partition(c, 0, n - 1, &i, &j);
        if (j + 1 < n - i) sort_cands(c, j + 1), c += i, n -= i;
        else sort_cands(c + i, n - i), n = j + 1;
    }
    for (int64_t i = 1; i < n; i++) {
        cand x = c[i];
        int64_t k = i;
        for (; k > 0 && before(&x, &c[k - 1]); k--) c[k] = c[k - 1];
        c[k] = x;
    }
}

/* move the k best of c[0..n) to c[0..k) (in any order): quickselect, median of three */
static void select_top(cand *c, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t i, j;
        partition(c, lo, hi, &i, &j);
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else return;
    }
}

/* the score histogram: bins of the keys' top bits (score_key.h) */
enum { HIST_SHIFT = ENG_KEY_TOP_SHIFT, HIST_BINS = 1 << ENG_KEY_TOP_BITS };

/* the lowest key of the best histogram bins that hold at least k candidates */
static uint32_t top_bins_key(const uint32_t *hist, int64_t k) {
    int64_t acc = 0;
    uint32_t b = HIST_BINS - 1;
    for (; b > 0; b--)
        if ((acc += hist[b]) >= k) break;
    return b << HIST_SHIFT;
}

/* the histogram of the keys of v[0..n) above thr into hist (4 copies counted apart, so that
 * neighbours in the same bin, as most scores are, do not wait on each other; a value at or below
 * thr counts in bin 0 without a branch and is taken off after); returns how many are above thr */
static int64_t key_histogram(const float *v, int64_t n, float thr, uint32_t hist[HIST_BINS]) {
    uint32_t h4[4][HIST_BINS];
    memset(h4, 0, sizeof h4);
    int64_t in_all = 0;
    for (int64_t i = 0; i < n; i++) {
        int in = v[i] > thr;
        h4[i & 3][in ? eng_score_key(v[i]) >> HIST_SHIFT : 0]++, in_all += in;
    }
    for (int h = 0; h < HIST_BINS; h++) hist[h] = h4[0][h] + h4[1][h] + h4[2][h] + h4[3][h];
    hist[0] -= (uint32_t)(n - in_all);
    return in_all;
}

/* fmaxf / fminf semantics (a NaN operand yields the other), inlined */
static inline float max_(float a, float b) { return a > b || b != b ? a : b; }
static inline float min_(float a, float b) { return a < b || b != b ? a : b; }

static void minmax(float a, float b, float *lo, float *hi) {
    if (a >= b) *lo = b, *hi = a;
    else *lo = a, *hi = b;
}

static int cmp_det(const void *a, const void *b) {
    const odrt_detection_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->class_id > y->class_id) - (x->class_id < y->class_id);
}

typedef struct {
    const eng_nms_spec *m;
    const float *anchors, *codes, *logits;
    int64_t N, chunk;
    int C, CT, K;
    float *boxes;              /* [B][N][K][4] decoded, unclipped */
    float *sc;                 /* [B][C][N] converted scores */
    cand *heap;                /* [B][C][N] */
    odrt_detection_t *kept;    /* [B][C][max_per_class] */
    int *n_kept;               /* [B][C] */
    float *soa;                /* per thread: kept boxes as 5 arrays of max_per_class */
    const eng_host *host;      /* the vectorised sigmoid */
    int global;                /* the scores anchor-major ([B][N][C]) and every class walked at once (global_task) */
    float *amax;               /* global: [B][N] each anchor's best score */
    float *gsoa;               /* global: [B][C] kept boxes as 5 arrays of max_per_class */
    int *ties;                 /* global: [B][2 C] survivors at the walk's current score per class, the classes with some */
} post_job;

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
static inline v4f ldu4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline v4f sel(v4i m, v4f a, v4f b) { return (v4f)((m & (v4i)a) | (~m & (v4i)b)); }

/* score s of image b's anchor i, class c, where decode_task wrote it */
static inline float *score_at(const post_job *j, int64_t b, int64_t i, int c) {
    return j->global ? j->sc + (b * j->N + i) * j->C + c : j->sc + (b * j->C + c) * j->N + i;
}

/* global: anchor i's best score (NaN never wins: it is no candidate), 4 classes at a time */
static inline void note_max(const post_job *j, int64_t b, int64_t i) {
    const float *s = score_at(j, b, i, 0);
    v4f m4 = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int c = 0;
    for (; c + 4 <= j->C; c += 4) {
        v4f x = ldu4(s + c);
        m4 = sel(x > m4, x, m4);
    }
    float mx = -INFINITY;
    for (int q = 0; q < 4; q++) mx = m4[q] > mx ? m4[q] : mx;
    for (; c < j->C; c++) mx = s[c] > mx ? s[c] : mx;
    j->amax[b * j->N + i] = mx;
}

/* sigmoid scores of anchors [i0, i1) of image b: the logits are contiguous ([anchor][class]), so
 * the backend's vectorised sigmoid runs over blocks of them, then the scores are scattered into
 * the class-major layout */
static void sigmoid_scores(const post_job *j, int64_t b, int64_t i0, int64_t i1) {
    enum { TMP = 4096 };
    float tmp[TMP];
    int64_t per = TMP / j->CT > 0 ? TMP / j->CT : 1;
    int vec = j->CT <= TMP && j->host->sigmoid;
    for (int64_t a0 = i0; a0 < i1; a0 += per) {
        int64_t a1 = a0 + per < i1 ? a0 + per : i1;
        const float *l = j->logits + (b * j->N + a0) * j->CT;
        if (vec && j->global && j->m->bg == 0) { /* anchor-major without background: the scores in place */
            j->host->sigmoid(j->host->ctx, l, score_at(j, b, a0, 0), (a1 - a0) * j->CT);
            for (int64_t i = a0; i < a1; i++) note_max(j, b, i);
            continue;
        }
        if (vec) j->host->sigmoid(j->host->ctx, l, tmp, (a1 - a0) * j->CT);
        if (vec && j->global) { /* anchor-major: each anchor's scores are one run */
            for (int64_t i = a0; i < a1; i++) {
                memcpy(score_at(j, b, i, 0), tmp + (i - a0) * j->CT + j->m->bg, sizeof(float) * (size_t)j->C);
                note_max(j, b, i);
            }
            continue;
        }
        for (int64_t i = a0; i < a1; i++) {
            for (int c = 0; c < j->C; c++) {
                int64_t at = (i - a0) * j->CT + c + j->m->bg;
                *score_at(j, b, i, c) = vec ? tmp[at] : 1.0f / (1.0f + expf(-l[at]));
            }
            if (j->global) note_max(j, b, i);
        }
    }
}

/* decode and score conversion for a chunk of anchors of one image */
static void decode_task(void *arg, int64_t t, int th) {
    post_job *j = arg;
    const eng_nms_spec *m = j->m;
    int64_t chunks = (j->N + j->chunk - 1) / j->chunk, b = t / chunks, i0 = t % chunks * j->chunk;
    int64_t i1 = i0 + j->chunk < j->N ? i0 + j->chunk : j->N;
    (void)th;
    if (m->act == 1) sigmoid_scores(j, b, i0, i1);
    for (int64_t i = i0; i < i1; i++) {
        const float *a = j->anchors + b * m->anchor_stride + i * 4;
        for (int q = 0; q < j->K; q++) {
            const float *e = j->codes + ((b * j->N + i) * j->K + q) * 4;
            /* the same operations, in the same order, as the export's decoder */
            float ty = e[0] / m->scales[0], tx = e[1] / m->scales[1], th_ = e[2] / m->scales[2], tw = e[3] / m->scales[3];
            float h = expf(th_) * a[2], w = expf(tw) * a[3], yc = ty * a[2] + a[0], xc = tx * a[3] + a[1];
            float *bx = j->boxes + ((b * j->N + i) * j->K + q) * 4;
            bx[0] = yc - h / 2, bx[1] = xc - w / 2, bx[2] = yc + h / 2, bx[3] = xc + w / 2;
        }
        const float *l = j->logits + (b * j->N + i) * j->CT;
        if (m->act == 2) {
            double mx = l[0], sum = 0;
            for (int c = 1; c < j->CT; c++) mx = l[c] > mx ? l[c] : mx;
            for (int c = 0; c < j->CT; c++) sum += exp((double)l[c] - mx);
            for (int c = 0; c < j->C; c++) *score_at(j, b, i, c) = (float)(exp((double)l[c + m->bg] - mx) / sum);
        } else if (m->act == 1) {
            continue; /* sigmoid_scores did these, 8 lanes at a time */
        } else {
            for (int c = 0; c < j->C; c++) *score_at(j, b, i, c) = l[c + m->bg];
        }
        if (j->global) note_max(j, b, i);
    }
}

/* is candidate box b suppressed by any of the nk kept boxes (structure of arrays, corners min/max
 * ordered, areas precomputed)? The reference's rule: IoU > thr, no overlap or a degenerate box
 * never suppresses. 4 kept boxes at a time (GCC vectors: SSE2 / NEON), the rest one by one; the
 * same float operations in the same order either way. */

static int suppressed(const float *ky1, const float *kx1, const float *ky2, const float *kx2, const float *ka, int nk,
                      const float b[5], float thr) {
    int q = 0;
    const v4f by1 = {b[0], b[0], b[0], b[0]}, bx1 = {b[1], b[1], b[1], b[1]}, by2 = {b[2], b[2], b[2], b[2]};
    const v4f bx2 = {b[3], b[3], b[3], b[3]}, ba = {b[4], b[4], b[4], b[4]}, zero = {0, 0, 0, 0}, one = {1, 1, 1, 1};
    const v4f vt = {thr, thr, thr, thr};
    for (; q + 4 <= nk; q += 4) {
        v4f x1 = ldu4(kx1 + q), x2 = ldu4(kx2 + q), y1 = ldu4(ky1 + q), y2 = ldu4(ky2 + q), a = ldu4(ka + q);
        /* max_(k, b) = k > b || b != b ? k : b; min_(k, b) = k < b || b != b ? k : b */
        v4f ixa = sel((x1 > bx1) | (bx1 != bx1), x1, bx1), ixb = sel((x2 < bx2) | (bx2 != bx2), x2, bx2);
        v4f iya = sel((y1 > by1) | (by1 != by1), y1, by1), iyb = sel((y2 < by2) | (by2 != by2), y2, by2);
        v4f inter = (ixb - ixa) * (iyb - iya), uni = a + ba - inter;
        v4i ok = (ixb > ixa) & (iyb > iya) & (inter > zero) & (a > zero) & (ba > zero) & (uni > zero);
        v4i hit = ok & (inter / sel(ok, uni, one) > vt);
        if (hit[0] | hit[1] | hit[2] | hit[3]) return 1;
    }
    int hit = 0;
    for (; q < nk; q++) {
        float ixa = max_(kx1[q], b[1]), ixb = min_(kx2[q], b[3]), iya = max_(ky1[q], b[0]), iyb = min_(ky2[q], b[2]);
        float inter = (ixb - ixa) * (iyb - iya), uni = ka[q] + b[4] - inter;
        int ok = ixb > ixa && iyb > iya && inter > 0 && ka[q] > 0 && b[4] > 0 && uni > 0;
        hit |= ok & (inter / (ok ? uni : 1.0f) > thr);
    }
    return hit;
}

/* greedy NMS of one class of one image */
static void nms_task(void *arg, int64_t t, int th) {
    post_job *j = arg;
    const eng_nms_spec *m = j->m;
    int64_t b = t / j->C, N = m->n_valid && m->n_valid[b] < j->N ? m->n_valid[b] : j->N, stride = (int64_t)j->K * 4;
    int c = (int)(t % j->C), K = m->max_per_class;
    const float *s = j->sc + t * j->N, *boxes = j->boxes + (b * j->N * j->K + (j->K > 1 ? c : 0)) * 4;
    cand *heap = j->heap + t * j->N;
    odrt_detection_t *out = j->kept + t * K;
    float *soa = j->soa + (int64_t)th * 5 * K, *ky1 = soa, *kx1 = soa + K, *ky2 = soa + 2 * K, *kx2 = soa + 3 * K, *ka = soa + 4 * K;
    /* visit in order: sort only the best 4 K (rarely are more needed), the rest when they are. A
     * histogram of the scores finds the few bins that hold the best 4 K; only those are collected
     * (the rest, should more be needed), so that most anchors are read twice and never moved. */
    const float thr = m->score_thr;
    uint32_t hist[HIST_BINS];
    int64_t n = key_histogram(s, N, thr, hist);
    int64_t sorted = n < 4 * (int64_t)K ? n : 4 * (int64_t)K, f = 0;
    const uint32_t lo = sorted < n ? top_bins_key(hist, sorted) : 0;
    for (int64_t i = 0; i < N; i++) { /* written always, kept when it is one (no branch to mispredict) */
        heap[f] = (cand){s[i], (int32_t)i};
        f += (s[i] > thr) & (eng_score_key(s[i]) >= lo);
    }
    if (sorted < f) select_top(heap, f, sorted);
    sort_cands(heap, sorted);
    int nk = 0;
    int64_t chunk = sorted;
    for (int64_t p = 0; p < n && nk < K; p++) {
        if (p == sorted) { /* more needed: the next best chunk (doubling), not all the rest */
            if (f < n) /* collect the candidates below the best bins */
                for (int64_t i = 0; i < N; i++)
                    if (s[i] > thr && eng_score_key(s[i]) < lo) heap[f++] = (cand){s[i], (int32_t)i};
            chunk *= 2;
            int64_t take = n - sorted < chunk ? n - sorted : chunk;
            if (take < n - sorted) select_top(heap + sorted, n - sorted, take);
            sort_cands(heap + sorted, take);
            sorted += take;
        }
        cand top = heap[p];
        const float *bx = boxes + stride * (int64_t)top.i;
        float q[5];
        minmax(bx[0], bx[2], &q[0], &q[2]);
        minmax(bx[1], bx[3], &q[1], &q[3]);
        q[4] = (q[3] - q[1]) * (q[2] - q[0]);
        if (suppressed(ky1, kx1, ky2, kx2, ka, nk, q, m->iou_thr)) continue;
        ky1[nk] = q[0], kx1[nk] = q[1], ky2[nk] = q[2], kx2[nk] = q[3], ka[nk] = q[4];
        out[nk++] = (odrt_detection_t){bx[0], bx[1], bx[2], bx[3], top.s, c};
    }
    j->n_kept[t] = nk;
}

/* Image b's NMS over all classes at once, where candidates are many (EfficientDet's 90 classes x
 * 49104 anchors at a 1e-8 threshold: class by class, every class walks until max_per_class boxes are
 * kept, 9000 for the 100 the merge keeps). Candidates (anchor, class) are visited best first over all
 * classes (ties: lower anchor, then lower class), each checked against its own class's kept boxes, so
 * that every class's kept list grows exactly as the class-by-class walk grows it; the walk stops when
 * max_total kept boxes that the merge's clip leaves with area score above the next candidate (none
 * after can enter the best max_total; ties with the last are still taken: the merge orders them by
 * class). The best candidates come from a histogram of each anchor's best score: when G anchors have
 * their best at a key >= lo, at least G candidates do. */
static void global_task(void *arg, int64_t b, int th) {
    post_job *j = arg;
    const eng_nms_spec *m = j->m;
    int64_t N = m->n_valid && m->n_valid[b] < j->N ? m->n_valid[b] : j->N;
    int C = j->C, K = m->max_per_class;
    const float thr = m->score_thr, *amax = j->amax + b * j->N, wh = m->clip[2 * b], ww = m->clip[2 * b + 1];
    cand *heap = j->heap + b * (int64_t)C * j->N;
    float *soa = j->gsoa + b * (int64_t)C * 5 * K;
    int *n_kept = j->n_kept + b * C;
    (void)th;
    for (int c = 0; c < C; c++) n_kept[c] = 0, j->ties[b * 2 * C + c] = 0;
    if (N <= 0 || K <= 0) return;
    uint32_t hist[HIST_BINS];
    int64_t na = key_histogram(amax, N, thr, hist), G = 4 * (int64_t)(m->max_total > 0 ? m->max_total : 1);
    const uint32_t lo = na > G ? top_bins_key(hist, G) : 0;
    int64_t f = 0;
    for (int64_t i = 0; i < N; i++) {
        if (!(amax[i] > thr) || eng_score_key(amax[i]) < lo) continue;
        const float *s = score_at(j, b, i, 0);
        for (int c = 0; c < C; c++) { /* written always, kept when it qualifies */
            heap[f] = (cand){s[c], (int32_t)(i * C + c)};
            f += (s[c] > thr) & (eng_score_key(s[c]) >= lo);
        }
    }
    int all = lo == 0;
    int64_t sorted = f < G ? f : G, chunk = sorted > 0 ? sorted : 1, surv = 0;
    if (sorted < f) select_top(heap, f, sorted);
    sort_cands(heap, sorted);
    /* ties at the cut (the score at which max_total kept boxes survive): the merge orders equal scores
     * by class, then in each class's order, so a tied box of class c can still enter only while fewer
     * than need (= max_total - survivors scoring above the cut) tied survivors are in classes below c
     * and in c itself; one that cannot is passed over (a later box of its class at that score cannot
     * either, and none below the cut can), and the walk ends when no class can */
    int *tie = j->ties + b * 2 * C, *touched = tie + C, n_touched = 0; /* (reset one by one: not C per score) */
    float cur = NAN;
    int64_t n_gt = 0, full = 0;
    for (int64_t p = 0;; p++) {
        if (p == sorted) {
            if (sorted == f && !all) { /* every candidate at or above lo visited: the ones below */
                for (int64_t i = 0; i < N; i++) {
                    if (!(amax[i] > thr)) continue;
                    const float *s = score_at(j, b, i, 0);
                    for (int c = 0; c < C; c++) /* (a branch: a write per pair could pass the image's part, */
                        if (s[c] > thr && eng_score_key(s[c]) < lo) /* whose pairs may all be candidates) */
                            heap[f++] = (cand){s[c], (int32_t)(i * C + c)};
                }
                all = 1;
            }
            if (sorted == f) break;
            chunk *= 2; /* the next best chunk (doubling), not all the rest */
            int64_t take = f - sorted < chunk ? f - sorted : chunk;
            if (take < f - sorted) select_top(heap + sorted, f - sorted, take);
            sort_cands(heap + sorted, take);
            sorted += take;
        }
        cand top = heap[p];
        if (!(top.s == cur)) { /* a lower score: the survivors so far all score above it */
            if (surv >= m->max_total) break;
            cur = top.s, n_gt = surv;
            while (n_touched > 0) tie[touched[--n_touched]] = 0;
        }
        int c = (int)(top.i % C);
        int64_t i = top.i / C, need = m->max_total - n_gt;
        if (n_kept[c] >= K) continue;
        if (surv >= m->max_total) {
            int64_t below = 0;
            for (int k = 0; k < c; k++) below += tie[k];
            if (below + tie[c] >= need) continue;
        }
        const float *bx = j->boxes + ((b * j->N + i) * j->K + (j->K > 1 ? c : 0)) * 4;
        float q[5], *ks = soa + (int64_t)c * 5 * K;
        minmax(bx[0], bx[2], &q[0], &q[2]);
        minmax(bx[1], bx[3], &q[1], &q[3]);
        q[4] = (q[3] - q[1]) * (q[2] - q[0]);
        int nk = n_kept[c];
        if (suppressed(ks, ks + K, ks + 2 * K, ks + 3 * K, ks + 4 * K, nk, q, m->iou_thr)) continue;
        ks[nk] = q[0], ks[K + nk] = q[1], ks[2 * K + nk] = q[2], ks[3 * K + nk] = q[3], ks[4 * K + nk] = q[4];
        j->kept[(b * C + c) * (int64_t)K + nk] = (odrt_detection_t){bx[0], bx[1], bx[2], bx[3], top.s, c};
        n_kept[c] = nk + 1;
        full += nk + 1 == K;
        /* does it keep an area in the merge's clip? (the merge clips and drops again; this counts) */
        float y1 = max_(min_(bx[0], wh), 0), x1 = max_(min_(bx[1], ww), 0), y2 = max_(min_(bx[2], wh), 0), x2 = max_(min_(bx[3], ww), 0);
        if ((y2 - y1) * (x2 - x1) > 0) {
            surv++;
            if (tie[c]++ == 0) touched[n_touched++] = c;
        }
        if (full == C) break; /* every class has its max_per_class */
        /* can any class still enter at this score? class k can while the tied survivors of classes 0..k
         * number fewer than need, a count that grows with k: some class can exactly when class 0 can */
        if (surv >= m->max_total && tie[0] >= need) break;
    }
}

struct eng_post_ws {
    size_t cap[9]; /* bytes of each buffer below */
    float *boxes, *sc;
    cand *heap;
    odrt_detection_t *kept;
    int *n_kept;
    float *soa, *amax, *gsoa;
    int *ties;
};

void eng_post_ws_free(eng_post_ws *w) {
    if (!w) return;
    free(w->boxes), free(w->sc), free(w->heap), free(w->kept), free(w->n_kept), free(w->soa), free(w->amax), free(w->gsoa), free(w->ties);
    free(w);
}

/* grow *p to n bytes (kept across runs: no allocation, no page faults per run) */
static int grow(void **p, size_t *cap, size_t n) {
    if (*cap >= n && *p) return 1;
    free(*p);
    *p = malloc(n ? n : 1);
    *cap = *p ? n : 0;
    return *p != NULL;
}

/* buffers for B images of a spec, kept by the engine across runs (grown as needed) */
static eng_post_ws *ws_get(eng_post_ws **pw, const eng_nms_spec *m, int B) {
    if (!*pw && !(*pw = calloc(1, sizeof **pw))) return NULL;
    eng_post_ws *w = *pw;
    size_t N = (size_t)m->N, BC = (size_t)B * (size_t)m->C, K = (size_t)m->max_per_class, KB = (size_t)m->box_classes;
    int ok = grow((void **)&w->boxes, &w->cap[0], sizeof(float) * (size_t)B * N * KB * 4) &&
             grow((void **)&w->sc, &w->cap[1], sizeof(float) * BC * N) && grow((void **)&w->heap, &w->cap[2], sizeof(cand) * BC * N) &&
             grow((void **)&w->kept, &w->cap[3], sizeof(odrt_detection_t) * BC * K) &&
             grow((void **)&w->n_kept, &w->cap[4], sizeof(int) * BC) &&
             grow((void **)&w->soa, &w->cap[5], sizeof(float) * 256 * 5 * K) && /* up to 256 threads */
             grow((void **)&w->amax, &w->cap[6], sizeof(float) * (size_t)B * N) && grow((void **)&w->gsoa, &w->cap[7], sizeof(float) * BC * 5 * K) &&
             grow((void **)&w->ties, &w->cap[8], sizeof(int) * 2 * BC);
    return ok ? w : NULL;
}

odrt_status_t eng_nms_run(const eng_nms_spec *m, int B, odrt_detections_t *out, const eng_host *host, eng_post_ws **pw) {
    post_job j;
    memset(&j, 0, sizeof j);
    j.m = m, j.anchors = m->anchors, j.codes = m->codes, j.logits = m->logits, j.N = m->N, j.chunk = 2048;
    j.C = m->C, j.CT = m->C + m->bg, j.K = m->box_classes, j.host = host;
    size_t BC = (size_t)B * (size_t)j.C, K = (size_t)m->max_per_class;
    eng_post_ws *w = ws_get(pw, m, B);
    odrt_status_t rc = ODRT_OK;
    if (w) j.boxes = w->boxes, j.sc = w->sc, j.heap = w->heap, j.kept = w->kept, j.n_kept = w->n_kept, j.soa = w->soa;
    if (w) j.amax = w->amax, j.gsoa = w->gsoa, j.ties = w->ties;
    j.global = !m->per_class && j.C >= 8 && j.N * j.C >= 65536 && j.N * j.C < INT32_MAX;
    for (int b = 0; b < B; b++) memset(&out[b], 0, sizeof out[b]);
    if (!w) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    if (rc == ODRT_OK) {
        host->parallel_for(host->ctx, B * ((j.N + j.chunk - 1) / j.chunk), decode_task, &j);
        if (j.global) host->parallel_for(host->ctx, B, global_task, &j);
        else host->parallel_for(host->ctx, (int64_t)BC, nms_task, &j);
    }
    for (int b = 0; b < B && rc == ODRT_OK; b++) {
        int64_t n_all = 0;
        for (int c = 0; c < j.C; c++) n_all += j.n_kept[b * j.C + c];
        odrt_detection_t *all = malloc(sizeof(odrt_detection_t) * (size_t)(n_all + 1));
        if (!all) {
            rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
            break;
        }
        n_all = 0;
        for (int c = 0; c < j.C; c++) {
            int64_t t = (int64_t)b * j.C + c;
            memcpy(all + n_all, j.kept + t * (int64_t)K, sizeof(odrt_detection_t) * (size_t)j.n_kept[t]);
            n_all += j.n_kept[t];
        }
        qsort(all, (size_t)n_all, sizeof *all, cmp_det);
        /* TF: clip to the window, drop boxes left without area, keep the best max_total, and
         * scale (renormalise to the window: by 1 / its size, in float32) */
        float wh = m->clip[2 * b], ww = m->clip[2 * b + 1];
        int k = 0;
        for (int64_t i = 0; i < n_all && k < m->max_total; i++) {
            odrt_detection_t d = all[i];
            d.ymin = max_(min_(d.ymin, wh), 0), d.xmin = max_(min_(d.xmin, ww), 0);
            d.ymax = max_(min_(d.ymax, wh), 0), d.xmax = max_(min_(d.xmax, ww), 0);
            if (!((d.ymax - d.ymin) * (d.xmax - d.xmin) > 0)) continue;
            if (m->scale) {
                float sy = m->scale[2 * b], sx = m->scale[2 * b + 1];
                d.ymin *= sy, d.xmin *= sx, d.ymax *= sy, d.xmax *= sx;
            }
            d.class_id += m->class_offset;
            all[k++] = d;
        }
        out[b].count = k, out[b].items = all;
    }
    if (rc != ODRT_OK)
        for (int b = 0; b < B; b++) odrt_detections_clear(&out[b]);
    return rc;
}

odrt_status_t eng_postprocess(const eng_meta *m, const float *anchors, const float *codes, const float *logits, int B,
                              const float *window, odrt_detections_t *out, const eng_host *host, eng_post_ws **pw) {
    float clip[2 * 256], scale[2 * 256];
    if (B < 1 || B > 256) return odrt_fail(ODRT_ERR_ARG, "post-processing: batch %d", B);
    for (int b = 0; b < B; b++) {
        clip[2 * b] = window ? window[2 * b] : 1.0f, clip[2 * b + 1] = window ? window[2 * b + 1] : 1.0f;
        scale[2 * b] = 1.0f / clip[2 * b], scale[2 * b + 1] = 1.0f / clip[2 * b + 1];
    }
    eng_nms_spec s = {anchors, 0, codes, 1, logits, NULL, clip, window ? scale : NULL, m->n_anchors, m->n_classes,
                      m->bg_offset, m->score_act, {m->scales[0], m->scales[1], m->scales[2], m->scales[3]},
                      m->score_threshold, m->iou_threshold, m->max_per_class, m->max_total, m->class_offset, 0};
    return eng_nms_run(&s, B, out, host, pw);
}
