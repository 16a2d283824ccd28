/* odrt compare A B: run two models/engines on the same frames; per-output errors with
 * polygraphy's rule (an element fails where abs > atol and rel > rtol, rel = abs / |A|), then
 * detection parity (matched / missed / extra at IoU 0.5 and 0.9, score deltas) and the COCO mAP of
 * B scored against A's detections as ground truth. Exit 0 only when everything passes. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

#define MAX_OUT 24
#define MAX_FILES 4096

typedef struct {
    const char *path;
    odrt_engine_t *e;
    odrt_model_t *m;
    odrt_session_t *s;
    int fixed_h, fixed_w; /* ONNX input size, 0 = any */
    int class_offset;     /* added to this side's class ids before matching */
} side;

typedef struct {
    char name[128];
    int compared, skipped;
    double *abs, *rel;
    int64_t n, cap, fails;
} out_stat;

typedef struct {
    int cls;
    float score, box[4]; /* ymin xmin ymax xmax, normalised */
} det;

static int open_side(side *s, const char *path, int threads) {
    s->path = path;
    if (cli_is_engine_file(path)) return cli_load_engine(path, threads, &s->e) != ODRT_OK ? cli_error("") : 0;
    if (odrt_model_load(path, &s->m) != ODRT_OK) return cli_error("");
    if (odrt_model_num_inputs(s->m) != 1) return fprintf(stderr, "odrt compare: %s: models with one input are compared\n", path), 1;
    if (odrt_session_create(s->m, &s->s) != ODRT_OK) return cli_error(path);
    odrt_dtype_t dt;
    int rank;
    int64_t d[ODRT_MAX_RANK];
    odrt_model_input_info(s->m, 0, &dt, &rank, d);
    if (rank == 4 && d[1] > 0 && d[2] > 0 && d[3] == 3) s->fixed_h = (int)d[1], s->fixed_w = (int)d[2];
    return 0;
}

static void close_side(side *s) {
    odrt_session_free(s->s);
    odrt_model_free(s->m);
    odrt_engine_free(s->e);
}

/* outputs of one side for one frame: names[i] -> t[i] (caller frees tensors) */
static int run_side(side *s, const odrt_tensor_t *frame, char names[][128], odrt_tensor_t **t, int *n) {
    *n = 0;
    if (s->e) {
        odrt_detections_t d;
        if (odrt_engine_detect(s->e, 1, &frame, &d) != ODRT_OK) return cli_error(s->path);
        int64_t k = d.count, d1[1] = {1}, d3[3] = {1, k, 4}, d2[2] = {1, k};
        const char *nm[4] = {"num_detections", "detection_boxes", "detection_scores", "detection_classes"};
        odrt_tensor_create(ODRT_DT_FLOAT, 1, d1, &t[0]);
        odrt_tensor_create(ODRT_DT_FLOAT, 3, d3, &t[1]);
        odrt_tensor_create(ODRT_DT_FLOAT, 2, d2, &t[2]);
        odrt_tensor_create(ODRT_DT_FLOAT, 2, d2, &t[3]);
        if (!t[0] || !t[1] || !t[2] || !t[3]) return fprintf(stderr, "odrt compare: out of memory\n"), 1;
        ((float *)t[0]->data)[0] = (float)k;
        for (int64_t i = 0; i < k; i++) {
            const odrt_detection_t *x = &d.items[i];
            float *b = (float *)t[1]->data + 4 * i;
            b[0] = x->ymin, b[1] = x->xmin, b[2] = x->ymax, b[3] = x->xmax;
            ((float *)t[2]->data)[i] = x->score, ((float *)t[3]->data)[i] = (float)x->class_id;
        }
        odrt_detections_clear(&d);
        for (int i = 0; i < 4; i++) snprintf(names[i], 128, "%s", nm[i]);
        int n_fixed = 4, n_raw = odrt_engine_num_outputs(s->e);
        const float *mk = NULL;
        int mh = 0, mw = 0;
        if (odrt_engine_masks(s->e, 0, &mk, &mh, &mw) == ODRT_OK && mk) { /* Mask R-CNN: the masks in the box, as TF's */
            int64_t d4[4] = {1, k, mh, mw};
            if (odrt_tensor_create(ODRT_DT_FLOAT, 4, d4, &t[4]) != ODRT_OK) return cli_error("");
            memcpy(t[4]->data, mk, t[4]->nbytes);
            snprintf(names[4], 128, "detection_masks");
            n_fixed = 5;
        }
        for (int i = 0; i < n_raw; i++) { /* the network's outputs: "raw_" + the engine's name (raw_box_encodings, ...) */
            const odrt_tensor_t *raw;
            const char *rn;
            if (odrt_engine_output(s->e, i, &raw, &rn) != ODRT_OK ||
                odrt_tensor_create(ODRT_DT_FLOAT, raw->rank, raw->dims, &t[n_fixed + i]) != ODRT_OK)
                return cli_error("");
            memcpy(t[n_fixed + i]->data, raw->data, raw->nbytes);
            snprintf(names[n_fixed + i], 128, "raw_%s", rn);
        }
        *n = n_fixed + n_raw;
        return 0;
    }
    odrt_dtype_t dt;
    int rank;
    int64_t dd[ODRT_MAX_RANK];
    odrt_model_input_info(s->m, 0, &dt, &rank, dd);
    odrt_tensor_t *in = NULL;
    const odrt_tensor_t *use = frame;
    if (dt == ODRT_DT_FLOAT) { /* float-input conversions (trt7) take 0..255 values */
        if (odrt_tensor_create(ODRT_DT_FLOAT, frame->rank, frame->dims, &in) != ODRT_OK) return cli_error("");
        for (size_t i = 0; i < frame->nbytes; i++) ((float *)in->data)[i] = ((const uint8_t *)frame->data)[i];
        use = in;
    }
    const char *iname = odrt_model_input_name(s->m, 0);
    int no = odrt_model_num_outputs(s->m);
    if (no > MAX_OUT) no = MAX_OUT;
    odrt_tensor_t *all[256] = {0};
    if (odrt_model_num_outputs(s->m) > 256) {
        odrt_tensor_free(in);
        return fprintf(stderr, "odrt compare: %s: more than 256 outputs\n", s->path), 1;
    }
    odrt_status_t rc = odrt_session_run(s->s, 1, &iname, &use, all);
    odrt_tensor_free(in);
    if (rc != ODRT_OK) return cli_error(s->path);
    for (int i = 0; i < odrt_model_num_outputs(s->m); i++) {
        if (i < no) {
            t[i] = all[i];
            snprintf(names[i], 128, "%s", odrt_model_output_name(s->m, i));
        } else odrt_tensor_free(all[i]);
    }
    *n = no;
    return 0;
}

static int find(char names[][128], int n, const char *nm) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], nm)) return i;
    return -1;
}

/* detections of a side's outputs (TF OD API names), classes rounded (+ the side's offset) */
static int dets_of(char names[][128], odrt_tensor_t **t, int n, int offset, det **out) {
    int in = find(names, n, "num_detections"), ib = find(names, n, "detection_boxes"), is = find(names, n, "detection_scores");
    int ic = find(names, n, "detection_classes");
    *out = NULL;
    if (in < 0 || ib < 0 || is < 0 || ic < 0) return -1;
    int64_t k = (int64_t)(t[in]->dtype == ODRT_DT_INT32 ? ((int32_t *)t[in]->data)[0] : ((float *)t[in]->data)[0]);
    int64_t cap = odrt_tensor_numel(t[is]);
    if (k < 0) k = 0;
    if (k > cap) k = cap;
    det *d = calloc((size_t)k + 1, sizeof *d);
    for (int64_t i = 0; d && i < k; i++) {
        double c = t[ic]->dtype == ODRT_DT_INT32 ? ((int32_t *)t[ic]->data)[i] : t[ic]->dtype == ODRT_DT_INT64 ? (double)((int64_t *)t[ic]->data)[i]
                                                                                                              : ((float *)t[ic]->data)[i];
        d[i].cls = (int)lround(c) + offset, d[i].score = ((float *)t[is]->data)[i];
        memcpy(d[i].box, (float *)t[ib]->data + 4 * i, sizeof d[i].box);
    }
    *out = d;
    return d ? (int)k : -1;
}

static double iou(const float *a, const float *b) {
    double y1 = fmax(a[0], b[0]), x1 = fmax(a[1], b[1]), y2 = fmin(a[2], b[2]), x2 = fmin(a[3], b[3]);
    double inter = fmax(0, y2 - y1) * fmax(0, x2 - x1), u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return u > 0 ? inter / u : 0;
}

/* greedy: each of a's detections (>= min score, by score) takes the best unmatched same-class b */
static int match(const det *a, int na, const det *b, int nb, double thr, float min_score, double *dsum, double *dmax, int *n_a) {
    unsigned char *used = calloc((size_t)nb + 1, 1);
    int m = 0;
    *n_a = 0;
    for (int i = 0; used && i < na; i++) {
        if (a[i].score < min_score) continue;
        (*n_a)++;
        int best = -1;
        double bi = thr;
        for (int j = 0; j < nb; j++) {
            double v;
            if (used[j] || b[j].cls != a[i].cls || (v = iou(a[i].box, b[j].box)) < bi) continue;
            bi = v, best = j;
        }
        if (best < 0) continue;
        used[best] = 1, m++;
        double dd = fabs((double)a[i].score - b[best].score);
        if (dsum) *dsum += dd;
        if (dmax && dd > *dmax) *dmax = dd;
    }
    free(used);
    return m;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int add_files(const char *arg, const char **files, int *n) {
    struct stat sb;
    if (stat(arg, &sb) != 0) return fprintf(stderr, "odrt compare: '%s': no such file or folder\n", arg), 0;
    if (!S_ISDIR(sb.st_mode)) {
        if (*n < MAX_FILES) files[(*n)++] = strdup(arg);
        return 1;
    }
    DIR *d = opendir(arg);
    if (!d) return fprintf(stderr, "odrt compare: cannot read '%s'\n", arg), 0;
    struct dirent *de;
    int first = *n;
    while ((de = readdir(d)) && *n < MAX_FILES) {
        const char *dot = strrchr(de->d_name, '.');
        if (de->d_name[0] == '.' || !dot || (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") && strcasecmp(dot, ".png"))) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", arg, de->d_name);
        files[(*n)++] = strdup(p);
    }
    closedir(d);
    for (int i = first; i < *n; i++) /* sorted */
        for (int j = i + 1; j < *n; j++)
            if (strcmp(files[j], files[i]) < 0) {
                const char *x = files[i];
                files[i] = files[j], files[j] = x;
            }
    return 1;
}

int cmd_compare(int argc, char **argv) {
    const char *pa = NULL, *pb = NULL, *json_out = NULL, *files[MAX_FILES], *npys[MAX_FILES];
    int nf = 0, nn = 0, threads = 0, bad = 0;
    double atol = 1e-5, rtol = 1e-5;
    float min_score = 0.05f;
    side A = {0}, B = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--images") && i + 1 < argc) bad |= !add_files(argv[++i], files, &nf);
        else if (!strcmp(a, "--input") && i + 1 < argc) {
            const char *eq = strchr(argv[++i], '=');
            if (nn < MAX_FILES) npys[nn++] = eq ? eq + 1 : argv[i];
        } else if (!strcmp(a, "--atol") && i + 1 < argc) atol = atof(argv[++i]);
        else if (!strcmp(a, "--rtol") && i + 1 < argc) rtol = atof(argv[++i]);
        else if (!strcmp(a, "--min-score") && i + 1 < argc) min_score = (float)atof(argv[++i]);
        else if (!strcmp(a, "--json") && i + 1 < argc) json_out = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--a-class-offset") && i + 1 < argc) A.class_offset = atoi(argv[++i]);
        else if (!strcmp(a, "--b-class-offset") && i + 1 < argc) B.class_offset = atoi(argv[++i]);
        else if (a[0] == '-') return fprintf(stderr, "odrt compare: unexpected argument '%s' (see odrt --help)\n", a), 2;
        else if (!pa) pa = a;
        else if (!pb) pb = a;
        else if (!add_files(a, files, &nf)) bad = 1;
    }
    if (bad) return 1;
    if (!pa || !pb || (!nf && !nn) || !(atol >= 0) || !(rtol >= 0)) {
        fprintf(stderr, "odrt compare: usage: odrt compare A B --images DIR|FILE... | --input NAME=FILE.npy... [--atol F] [--rtol F]\n");
        return 2;
    }
    int rc = open_side(&A, pa, threads);
    if (!rc) rc = open_side(&B, pb, threads);
    if (!rc && A.fixed_h && B.fixed_h && (A.fixed_h != B.fixed_h || A.fixed_w != B.fixed_w))
        rc = fprintf(stderr, "odrt compare: A takes %dx%d frames and B %dx%d\n", A.fixed_h, A.fixed_w, B.fixed_h, B.fixed_w) > 0;
    int fh = A.fixed_h ? A.fixed_h : B.fixed_h, fw = A.fixed_h ? A.fixed_w : B.fixed_w;
    out_stat st[MAX_OUT];
    memset(st, 0, sizeof st);
    int n_st = 0, n_frames = nf + nn, det_ok = 1, n_gt_cls = 0;
    int64_t *img_ids = calloc((size_t)n_frames + 1, sizeof(int64_t)), cls_ids[1024];
    double *sizes = calloc((size_t)n_frames * 2 + 2, sizeof(double));
    odrt_coco_det_t *ga = NULL, *rb = NULL;
    size_t n_ga = 0, n_rb = 0;
    int m50 = 0, m90 = 0, na_tot = 0, nb_tot = 0, mb50 = 0;
    double dsum = 0, dmax = 0;
    for (int f = 0; !rc && f < n_frames; f++) {
        odrt_tensor_t *frame = NULL;
        if (f < nf) {
            if (odrt_image_load(files[f], fh, fw, &frame) != ODRT_OK) rc = cli_error("");
        } else if (odrt_npy_load(npys[f - nf], &frame) != ODRT_OK) rc = cli_error("");
        if (rc) break;
        char na[MAX_OUT][128], nb[MAX_OUT][128];
        odrt_tensor_t *ta[MAX_OUT] = {0}, *tb[MAX_OUT] = {0};
        int n_a = 0, n_b = 0;
        rc = run_side(&A, frame, na, ta, &n_a);
        if (!rc) rc = run_side(&B, frame, nb, tb, &n_b);
        for (int i = 0; !rc && i < n_a; i++) {
            int j = find(nb, n_b, na[i]), k = -1;
            for (int q = 0; q < n_st; q++)
                if (!strcmp(st[q].name, na[i])) k = q;
            if (k < 0 && n_st < MAX_OUT) {
                k = n_st++;
                memcpy(st[k].name, na[i], sizeof st[k].name);
                st[k].name[sizeof st[k].name - 1] = 0;
            }
            if (k < 0 || j < 0) continue;
            const odrt_tensor_t *x = ta[i], *y = tb[j];
            int64_t n = odrt_tensor_numel(x);
            int cls = strstr(na[i], "classes") != NULL;
            if (n != odrt_tensor_numel(y) || !x->data || !y->data) {
                st[k].skipped++;
                continue;
            }
            st[k].compared++;
            if (st[k].n + n > st[k].cap) {
                st[k].cap = (st[k].n + n) * 2;
                st[k].abs = realloc(st[k].abs, sizeof(double) * (size_t)st[k].cap);
                st[k].rel = realloc(st[k].rel, sizeof(double) * (size_t)st[k].cap);
            }
            for (int64_t e = 0; e < n && st[k].abs && st[k].rel; e++) {
                double u = x->dtype == ODRT_DT_FLOAT ? ((float *)x->data)[e] : x->dtype == ODRT_DT_INT32 ? ((int32_t *)x->data)[e]
                                                                                                          : x->dtype == ODRT_DT_INT64 ? (double)((int64_t *)x->data)[e] : NAN;
                double v = y->dtype == ODRT_DT_FLOAT ? ((float *)y->data)[e] : y->dtype == ODRT_DT_INT32 ? ((int32_t *)y->data)[e]
                                                                                                          : y->dtype == ODRT_DT_INT64 ? (double)((int64_t *)y->data)[e] : NAN;
                if (cls) u = round(u) + A.class_offset, v = round(v) + B.class_offset; /* class ids compare as integers */
                double ab = fabs(u - v), re = ab / fabs(u);
                if (isnan(u) != isnan(v)) ab = re = INFINITY;
                else if (isnan(u)) ab = re = 0;
                if (u == v) re = 0;
                st[k].abs[st[k].n] = ab, st[k].rel[st[k].n] = re, st[k].n++;
                if (ab > atol && re > rtol) st[k].fails++;
            }
        }
        /* detections */
        det *da = NULL, *db = NULL;
        int ka = rc ? -1 : dets_of(na, ta, n_a, A.class_offset, &da), kb = rc ? -1 : dets_of(nb, tb, n_b, B.class_offset, &db);
        if (!rc && ka >= 0 && kb >= 0) {
            int c1, c2;
            m50 += match(da, ka, db, kb, 0.5, min_score, &dsum, &dmax, &c1);
            m90 += match(da, ka, db, kb, 0.9, min_score, NULL, NULL, &c1);
            na_tot += c1;
            mb50 += match(db, kb, da, ka, 0.5, min_score, NULL, NULL, &c2);
            nb_tot += c2;
            double W = (double)frame->dims[frame->rank - 2], H = (double)frame->dims[frame->rank - 3];
            img_ids[f] = f + 1, sizes[2 * f] = W, sizes[2 * f + 1] = H;
            ga = realloc(ga, sizeof *ga * (n_ga + (size_t)ka + 1));
            rb = realloc(rb, sizeof *rb * (n_rb + (size_t)kb + 1));
            for (int i = 0; ga && i < ka; i++)
                if (da[i].score >= min_score)
                    ga[n_ga++] = (odrt_coco_det_t){f + 1, da[i].cls, {da[i].box[1] * W, da[i].box[0] * H, (da[i].box[3] - da[i].box[1]) * W,
                                                                     (da[i].box[2] - da[i].box[0]) * H}, da[i].score};
            for (int i = 0; rb && i < kb; i++)
                rb[n_rb++] = (odrt_coco_det_t){f + 1, db[i].cls, {db[i].box[1] * W, db[i].box[0] * H, (db[i].box[3] - db[i].box[1]) * W,
                                                                 (db[i].box[2] - db[i].box[0]) * H}, db[i].score};
            for (int s2 = 0; s2 < 2; s2++) {
                const det *dd = s2 ? db : da;
                for (int i = 0; i < (s2 ? kb : ka); i++) {
                    int seen = 0;
                    for (int q = 0; q < n_gt_cls; q++) seen |= cls_ids[q] == dd[i].cls;
                    if (!seen && n_gt_cls < 1024) cls_ids[n_gt_cls++] = dd[i].cls;
                }
            }
        } else if (!rc) det_ok = -1;
        free(da), free(db);
        for (int i = 0; i < MAX_OUT; i++) odrt_tensor_free(ta[i]), odrt_tensor_free(tb[i]);
        odrt_tensor_free(frame);
    }
    int all_pass = !rc;
    cJSON *j = cJSON_CreateObject(), *jo = cJSON_AddArrayToObject(j, "outputs");
    if (!rc) {
        printf("odrt compare: A %s, B %s, %d frame%s, atol %g rtol %g\n", pa, pb, n_frames, n_frames == 1 ? "" : "s", atol, rtol);
        printf("  %-30s %9s %10s %10s %10s %10s %10s %10s  %s\n", "output", "elements", "max abs", "mean abs", "median abs",
               "max rel", "mean rel", "median rel", "result");
    }
    for (int k = 0; !rc && k < n_st; k++) {
        out_stat *s = &st[k];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", s->name);
        cJSON_AddItemToArray(jo, x);
        if (!s->compared) {
            printf("  %-30s %s\n", s->name, s->skipped ? "sizes differ: not compared" : "only in A: not compared");
            cJSON_AddStringToObject(x, "result", s->skipped ? "sizes differ" : "only in A");
            continue;
        }
        double mx = 0, mr = 0, sa = 0, sr = 0;
        for (int64_t e = 0; e < s->n; e++) {
            mx = s->abs[e] > mx ? s->abs[e] : mx, mr = s->rel[e] > mr ? s->rel[e] : mr;
            sa += s->abs[e], sr += isinf(s->rel[e]) ? 0 : s->rel[e];
        }
        qsort(s->abs, (size_t)s->n, sizeof(double), cmp_d);
        qsort(s->rel, (size_t)s->n, sizeof(double), cmp_d);
        double meda = s->n ? s->abs[s->n / 2] : 0, medr = s->n ? s->rel[s->n / 2] : 0;
        int pass = s->fails == 0;
        all_pass &= pass;
        printf("  %-30s %9lld %10.3g %10.3g %10.3g %10.3g %10.3g %10.3g  %s\n", s->name, (long long)s->n, mx, s->n ? sa / s->n : 0,
               meda, mr, s->n ? sr / s->n : 0, medr, pass ? "pass" : "FAIL");
        cJSON_AddNumberToObject(x, "elements", (double)s->n);
        cJSON_AddNumberToObject(x, "max_abs", mx), cJSON_AddNumberToObject(x, "mean_abs", s->n ? sa / s->n : 0);
        cJSON_AddNumberToObject(x, "median_abs", meda), cJSON_AddNumberToObject(x, "max_rel", isinf(mr) ? 1e308 : mr);
        cJSON_AddNumberToObject(x, "mean_rel", s->n ? sr / s->n : 0), cJSON_AddNumberToObject(x, "median_rel", medr);
        cJSON_AddNumberToObject(x, "failures", (double)s->fails);
        cJSON_AddStringToObject(x, "result", pass ? "pass" : "fail");
    }
    if (!rc && det_ok > 0) {
        int missed = na_tot - m50, extra = nb_tot - mb50, dpass = !missed && !extra;
        all_pass &= dpass;
        printf("  detections (score >= %.2f, same class): A %d, B %d; matched at IoU 0.5: %d, at IoU 0.9: %d; missed %d, extra %d; "
               "score delta max %.3g mean %.3g  %s\n", min_score, na_tot, nb_tot, m50, m90, missed, extra, dmax, m50 ? dsum / m50 : 0,
               dpass ? "pass" : "FAIL");
        cJSON *x = cJSON_AddObjectToObject(j, "detections");
        cJSON_AddNumberToObject(x, "a", na_tot), cJSON_AddNumberToObject(x, "b", nb_tot);
        cJSON_AddNumberToObject(x, "matched_iou50", m50), cJSON_AddNumberToObject(x, "matched_iou90", m90);
        cJSON_AddNumberToObject(x, "missed", missed), cJSON_AddNumberToObject(x, "extra", extra);
        cJSON_AddNumberToObject(x, "score_delta_max", dmax), cJSON_AddNumberToObject(x, "score_delta_mean", m50 ? dsum / m50 : 0);
        cJSON_AddBoolToObject(x, "pass", dpass);
        odrt_coco_t *gt = NULL;
        double stats[12];
        if (n_gt_cls && odrt_coco_create(n_frames, img_ids, sizes, n_gt_cls, cls_ids, ga, n_ga, &gt) == ODRT_OK &&
            odrt_coco_evaluate(gt, rb, n_rb, stats, NULL) == ODRT_OK) {
            printf("  COCO mAP of B with A's detections (score >= %.2f) as ground truth: AP %.4f, AP50 %.4f, AP75 %.4f\n", min_score,
                   stats[0], stats[1], stats[2]);
            cJSON_AddItemToObject(j, "map_b_vs_a", cJSON_CreateDoubleArray(stats, 12));
        }
        odrt_coco_free(gt);
    } else if (!rc) printf("  detections: not compared (an output set lacks num_detections/detection_boxes/scores/classes)\n");
    if (!rc) {
        printf("odrt compare: %s\n", all_pass ? "PASS" : "FAIL");
        cJSON_AddBoolToObject(j, "pass", all_pass);
        if (json_out) {
            char *s = cJSON_Print(j);
            if (!s || write_text_file(json_out, s)) rc = 1;
            free(s);
        }
    }
    cJSON_Delete(j);
    for (int k = 0; k < n_st; k++) free(st[k].abs), free(st[k].rel);
    for (int i = 0; i < nf; i++) free((void *)files[i]);
    free(img_ids), free(sizes), free(ga), free(rb);
    close_side(&A), close_side(&B);
    return rc ? rc : all_pass ? 0 : 1;
}
