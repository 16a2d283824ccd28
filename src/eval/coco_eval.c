/* COCO bbox evaluation, step for step as pycocotools' COCOeval (evaluate, accumulate, summarize):
 * IoU thresholds .50:.05:.95 and recall thresholds 0:.01:1 as numpy.linspace computes them,
 * maxDets 1/10/100, area ranges all/small/medium/large on the ground truth's `area` (a detection's
 * area is w * h), crowd regions (IoU = intersection / detection area; a crowd may match many
 * detections; ignored ground truth sorts last), stable score sorts (mergesort), precision made
 * monotone, 101-point interpolation by left searchsorted, -1 where a setting has no ground truth. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "eval/coco.h"

enum { T = 10, R = 101, A = 4, M = 3, MAXDET = 100 };
static const int MAXDETS[M] = {1, 10, 100};
static const double AREA[A][2] = {{0, 1e10}, {0, 1024}, {1024, 9216}, {9216, 1e10}};

static void linspace(double start, double stop, int num, double *y) { /* numpy.linspace, endpoint=True */
    double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; i++) y[i] = (double)i * step + start;
    y[num - 1] = stop;
}

typedef struct {
    double key;
    int64_t idx;
} skey;

/* ascending key, ties by original position: numpy's stable argsort */
static int cmp_skey(const void *a, const void *b) {
    const skey *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* per (category, area, image): the evaluated detections (up to 100, by score) */
typedef struct {
    int used; /* pycocotools' None when neither ground truth nor detections */
    int nd, n_gt_valid;
    double *score;
    unsigned char *matched; /* [T][nd] dtm != 0 */
    unsigned char *ignored; /* [T][nd] */
} img_eval;

static double iou_bb(const double *d, const double *g, int crowd) { /* maskApi.c bbIou */
    double w = (d[2] + d[0] < g[2] + g[0] ? d[2] + d[0] : g[2] + g[0]) - (d[0] > g[0] ? d[0] : g[0]);
    if (w <= 0) return 0;
    double h = (d[3] + d[1] < g[3] + g[1] ? d[3] + d[1] : g[3] + g[1]) - (d[1] > g[1] ? d[1] : g[1]);
    if (h <= 0) return 0;
    double i = w * h, da = d[2] * d[3], u = crowd ? da : da + g[2] * g[3] - i;
    return i / u;
}

/* lists of annotation / detection indices per (image, category), in file order */
typedef struct {
    int64_t *start, *items;
} bucket;

static int make_buckets(int ni, int nc, int64_t n, const int *img, const int *cat, bucket *b) {
    size_t cells = (size_t)ni * (size_t)nc;
    b->start = calloc(cells + 1, sizeof(int64_t));
    b->items = malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!b->start || !b->items) return 0;
    for (int64_t i = 0; i < n; i++) b->start[(size_t)img[i] * nc + cat[i] + 1]++;
    for (size_t c = 0; c < cells; c++) b->start[c + 1] += b->start[c];
    int64_t *fill = calloc(cells + 1, sizeof(int64_t));
    if (!fill) return 0;
    for (int64_t i = 0; i < n; i++) {
        size_t c = (size_t)img[i] * nc + cat[i];
        b->items[b->start[c] + fill[c]++] = i;
    }
    free(fill);
    return 1;
}

/* masks: NULL for bbox evaluation, else each detection's mask (segm: mask IoUs, a detection's
 * area its mask's) */
static odrt_status_t evaluate(const odrt_coco_t *gt, const odrt_coco_det_t *dets, const coco_rle *masks, size_t n_dets,
                              double stats[12], double *per_class_ap) {
    double iou_thr[T], rec_thr[R];
    linspace(0.5, 0.95, T, iou_thr);
    linspace(0.0, 1.0, R, rec_thr);
    int I = gt->n_images, K = gt->n_cats;
    int64_t G = gt->n_anns, D = (int64_t)n_dets;
    int *gimg = malloc(sizeof(int) * (size_t)(G + 1)), *gcat = malloc(sizeof(int) * (size_t)(G + 1));
    int *dimg = malloc(sizeof(int) * (size_t)(D + 1)), *dcat = malloc(sizeof(int) * (size_t)(D + 1));
    size_t n_ev = (size_t)K * A * (size_t)I;
    img_eval *ev = calloc(n_ev + 1, sizeof(img_eval));
    double *prec = malloc(sizeof(double) * (size_t)T * R * (size_t)K * A * M), *rec = malloc(sizeof(double) * (size_t)T * K * A * M);
    bucket bg = {0}, bd = {0};
    odrt_status_t rc = ODRT_OK;
    if (!gimg || !gcat || !dimg || !dcat || !ev || !prec || !rec) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; rc == ODRT_OK && i < G; i++) gimg[i] = gt->anns[i].img, gcat[i] = gt->anns[i].cat;
    for (int64_t i = 0; rc == ODRT_OK && i < D; i++) {
        dimg[i] = coco_image_index(gt, dets[i].image_id), dcat[i] = coco_cat_index(gt, dets[i].category_id);
        if (dimg[i] < 0 || dcat[i] < 0)
            rc = odrt_fail(ODRT_ERR_INVALID, "detection %lld: image %lld / category %lld not in the ground truth", (long long)i,
                           (long long)dets[i].image_id, (long long)dets[i].category_id);
    }
    if (rc == ODRT_OK && (!make_buckets(I, K, G, gimg, gcat, &bg) || !make_buckets(I, K, D, dimg, dcat, &bd)))
        rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    /* ---- evaluate ---- */
    skey *sk = malloc(sizeof(skey) * (size_t)(D > G ? D + 1 : G + 1));
    double *ious = NULL;
    int64_t *dord = malloc(sizeof(int64_t) * (MAXDET + 1)), *gord = malloc(sizeof(int64_t) * (size_t)(G + 1));
    int *gtm = malloc(sizeof(int) * (size_t)(G + 1) * T);
    if (rc == ODRT_OK && (!sk || !dord || !gord || !gtm)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K && rc == ODRT_OK; k++)
        for (int i = 0; i < I && rc == ODRT_OK; i++) {
            size_t cell = (size_t)i * K + k;
            int64_t g0 = bg.start[cell], ng = bg.start[cell + 1] - g0, d0 = bd.start[cell], ndall = bd.start[cell + 1] - d0;
            if (!ng && !ndall) continue;
            /* detections by score, stable, at most 100 */
            for (int64_t q = 0; q < ndall; q++) sk[q] = (skey){-dets[bd.items[d0 + q]].score, q};
            qsort(sk, (size_t)ndall, sizeof(skey), cmp_skey);
            int nd = (int)(ndall < MAXDET ? ndall : MAXDET);
            for (int q = 0; q < nd; q++) dord[q] = bd.items[d0 + sk[q].idx];
            free(ious);
            ious = malloc(sizeof(double) * (size_t)(nd * ng + 1));
            if (!ious) {
                rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                break;
            }
            for (int q = 0; q < nd; q++)
                for (int64_t g = 0; g < ng; g++) {
                    const coco_ann *ga = &gt->anns[bg.items[g0 + g]];
                    ious[q * ng + g] = masks ? coco_rle_iou(&masks[dord[q]], &ga->rle, ga->iscrowd)
                                             : iou_bb(dets[dord[q]].bbox, ga->bbox, ga->iscrowd);
                }
            for (int a = 0; a < A && rc == ODRT_OK; a++) {
                img_eval *e = &ev[((size_t)k * A + a) * I + i];
                e->used = 1, e->nd = nd;
                e->score = malloc(sizeof(double) * (size_t)(nd + 1));
                e->matched = calloc((size_t)T * nd + 1, 1);
                e->ignored = calloc((size_t)T * nd + 1, 1);
                if (!e->score || !e->matched || !e->ignored) {
                    rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
                    break;
                }
                /* ground truth: ignored (crowd or outside the area range) last, stable */
                for (int64_t g = 0; g < ng; g++) {
                    const coco_ann *ga = &gt->anns[bg.items[g0 + g]];
                    int ig = ga->ignore || ga->area < AREA[a][0] || ga->area > AREA[a][1];
                    sk[g] = (skey){(double)ig, g};
                }
                qsort(sk, (size_t)ng, sizeof(skey), cmp_skey);
                for (int64_t g = 0; g < ng; g++) gord[g] = sk[g].idx;
                e->n_gt_valid = 0;
                for (int64_t g = 0; g < ng; g++) e->n_gt_valid += sk[g].key == 0;
                for (int q = 0; q < nd; q++) e->score[q] = dets[dord[q]].score;
                for (size_t z = 0; z < (size_t)(ng * T); z++) gtm[z] = 0; /* [T][ng]: matched detection (1-based) */
                for (int t = 0; t < T; t++)
                    for (int q = 0; q < nd; q++) {
                        double best = iou_thr[t] < 1 - 1e-10 ? iou_thr[t] : 1 - 1e-10;
                        int64_t m = -1;
                        for (int64_t g = 0; g < ng; g++) {
                            const coco_ann *ga = &gt->anns[bg.items[g0 + gord[g]]];
                            if (gtm[t * ng + g] && !ga->iscrowd) continue;
                            if (m > -1 && sk[m].key == 0 && sk[g].key == 1) break;
                            double v = ious[q * ng + gord[g]];
                            if (v < best) continue;
                            best = v, m = g;
                        }
                        if (m == -1) continue;
                        e->ignored[t * nd + q] = sk[m].key != 0;
                        /* pycocotools stores the ground truth's id: an id of 0 reads as "not matched" */
                        e->matched[t * nd + q] = gt->anns[bg.items[g0 + gord[m]]].id != 0;
                        gtm[t * ng + m] = q + 1;
                    }
                /* unmatched detections outside the area range are ignored */
                for (int q = 0; q < nd; q++) {
                    double ar = masks ? (double)coco_rle_area(&masks[dord[q]]) : dets[dord[q]].bbox[2] * dets[dord[q]].bbox[3];
                    int out = ar < AREA[a][0] || ar > AREA[a][1];
                    for (int t = 0; t < T; t++)
                        if (!e->matched[t * nd + q] && out) e->ignored[t * nd + q] = 1;
                }
            }
        }
    free(ious);
    /* ---- accumulate ---- */
    for (size_t z = 0; rc == ODRT_OK && z < (size_t)T * R * K * A * M; z++) prec[z] = -1;
    for (size_t z = 0; rc == ODRT_OK && z < (size_t)T * K * A * M; z++) rec[z] = -1;
    int64_t cap = (int64_t)I * MAXDET + 1;
    skey *all = rc == ODRT_OK ? malloc(sizeof(skey) * (size_t)cap) : NULL;
    int64_t *src = rc == ODRT_OK ? malloc(sizeof(int64_t) * (size_t)cap * 2) : NULL;
    double *rcv = rc == ODRT_OK ? malloc(sizeof(double) * (size_t)cap) : NULL, *prv = rc == ODRT_OK ? malloc(sizeof(double) * (size_t)cap) : NULL;
    if (rc == ODRT_OK && (!all || !src || !rcv || !prv)) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K && rc == ODRT_OK; k++)
        for (int a = 0; a < A; a++)
            for (int mi = 0; mi < M; mi++) {
                int md = MAXDETS[mi], any = 0;
                int64_t n = 0, npig = 0;
                for (int i = 0; i < I; i++) {
                    const img_eval *e = &ev[((size_t)k * A + a) * I + i];
                    if (!e->used) continue;
                    any = 1;
                    npig += e->n_gt_valid;
                    for (int q = 0; q < e->nd && q < md; q++) {
                        all[n] = (skey){-e->score[q], n};
                        src[2 * n] = i, src[2 * n + 1] = q;
                        n++;
                    }
                }
                if (!any || npig == 0) continue;
                qsort(all, (size_t)n, sizeof(skey), cmp_skey);
                for (int t = 0; t < T; t++) {
                    double ctp = 0, cfp = 0;
                    for (int64_t z = 0; z < n; z++) {
                        int64_t o = all[z].idx;
                        const img_eval *e = &ev[((size_t)k * A + a) * I + src[2 * o]];
                        int q = (int)src[2 * o + 1], mt = e->matched[t * e->nd + q], ig = e->ignored[t * e->nd + q];
                        ctp += mt && !ig, cfp += !mt && !ig;
                        rcv[z] = ctp / (double)npig;
                        prv[z] = ctp / (cfp + ctp + 2.220446049250313e-16);
                    }
                    rec[((size_t)t * K + k) * A * M + a * M + mi] = n ? rcv[n - 1] : 0;
                    for (int64_t z = n - 1; z > 0; z--)
                        if (prv[z] > prv[z - 1]) prv[z - 1] = prv[z];
                    int64_t z = 0;
                    for (int r = 0; r < R; r++) {
                        while (z < n && rcv[z] < rec_thr[r]) z++; /* searchsorted, side='left' */
                        double qv = 0;
                        if (z < n) qv = prv[z];
                        else { /* pycocotools stops at the first index past the end: the rest stay 0 */
                            for (int r2 = r; r2 < R; r2++) prec[((((size_t)t * R + r2) * K + k) * A + a) * M + mi] = 0;
                            break;
                        }
                        prec[((((size_t)t * R + r) * K + k) * A + a) * M + mi] = qv;
                    }
                }
            }
    /* ---- summarize ---- */
    if (rc == ODRT_OK) {
        struct { int ap, t, a, m; } S[12] = {{1, -1, 0, 2}, {1, 0, 0, 2}, {1, 5, 0, 2}, {1, -1, 1, 2}, {1, -1, 2, 2}, {1, -1, 3, 2},
                                             {0, -1, 0, 0}, {0, -1, 0, 1}, {0, -1, 0, 2}, {0, -1, 1, 2}, {0, -1, 2, 2}, {0, -1, 3, 2}};
        for (int s = 0; s < 12; s++) {
            double sum = 0;
            int64_t cnt = 0;
            for (int t = 0; t < T; t++) {
                if (S[s].t >= 0 && t != S[s].t) continue;
                for (int k = 0; k < K; k++) {
                    if (S[s].ap) {
                        for (int r = 0; r < R; r++) {
                            double v = prec[((((size_t)t * R + r) * K + k) * A + S[s].a) * M + S[s].m];
                            if (v > -1) sum += v, cnt++;
                        }
                    } else {
                        double v = rec[((size_t)t * K + k) * A * M + S[s].a * M + S[s].m];
                        if (v > -1) sum += v, cnt++;
                    }
                }
            }
            stats[s] = cnt ? sum / (double)cnt : -1;
        }
        for (int k = 0; per_class_ap && k < K; k++) {
            double sum = 0;
            int64_t cnt = 0;
            for (int t = 0; t < T; t++)
                for (int r = 0; r < R; r++) {
                    double v = prec[((((size_t)t * R + r) * K + k) * A + 0) * M + 2];
                    if (v > -1) sum += v, cnt++;
                }
            per_class_ap[k] = cnt ? sum / (double)cnt : -1;
        }
    }
    for (size_t z = 0; ev && z < n_ev; z++) free(ev[z].score), free(ev[z].matched), free(ev[z].ignored);
    free(ev), free(prec), free(rec), free(gimg), free(gcat), free(dimg), free(dcat), free(bg.start), free(bg.items);
    free(bd.start), free(bd.items), free(sk), free(dord), free(gord), free(gtm), free(all), free(src), free(rcv),
        free(prv);
    return rc;
}

odrt_status_t odrt_coco_evaluate(const odrt_coco_t *gt, const odrt_coco_det_t *dets, size_t n_dets, double stats[12],
                                 double *per_class_ap) {
    if (!gt || (!dets && n_dets) || !stats) return odrt_fail(ODRT_ERR_ARG, "odrt_coco_evaluate: NULL argument");
    return evaluate(gt, dets, NULL, n_dets, stats, per_class_ap);
}

odrt_status_t odrt_coco_evaluate_segm(const odrt_coco_t *gt, const odrt_coco_det_t *dets, const char *const *counts, size_t n_dets,
                                      double stats[12], double *per_class_ap) {
    if (!gt || (!dets && n_dets) || (!counts && n_dets) || !stats) return odrt_fail(ODRT_ERR_ARG, "odrt_coco_evaluate_segm: NULL argument");
    for (int64_t i = 0; i < gt->n_anns; i++)
        if (gt->anns[i].seg != 1)
            return odrt_fail(ODRT_ERR_INVALID, "segm evaluation: annotation id %lld has %s segmentation", (long long)gt->anns[i].id,
                             gt->anns[i].seg ? "an unusable" : "no");
    coco_rle *m = calloc(n_dets + 1, sizeof *m);
    odrt_status_t rc = m ? ODRT_OK : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_dets && rc == ODRT_OK; i++) {
        int img = coco_image_index(gt, dets[i].image_id);
        if (img < 0 || !counts[i]) rc = odrt_fail(ODRT_ERR_INVALID, "detection %zu: image %lld not in the ground truth, or no mask", i,
                                                  (long long)dets[i].image_id);
        else rc = coco_rle_from_string(counts[i], (int64_t)gt->images[img].height, (int64_t)gt->images[img].width, &m[i]);
        if (rc != ODRT_OK) rc = odrt_fail_ctx(rc, "segm evaluation: detection %zu", i);
    }
    if (rc == ODRT_OK) rc = evaluate(gt, dets, m, n_dets, stats, per_class_ap);
    for (size_t i = 0; m && i < n_dets; i++) coco_rle_free(&m[i]);
    free(m);
    return rc;
}
