/* odrt eval: COCO bbox (or, --iou-type segm, mask) mAP of a model/engine on a folder of images, or
 * of a results file. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *STAT_NAMES[12] = {
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
static const char *STAT_LINES[12] = {
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
    " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]"};

/* detections of an engine on every ground-truth image, as COCO results; with masks (segm) each
 * one's mask on its frame as a compressed RLE string */
static int detect_all(odrt_engine_t *e, const odrt_coco_t *gt, const char *dir, float threshold, int offset_override,
                      int has_override, odrt_coco_det_t **out, char ***masks, size_t *n_out, size_t *n_dropped) {
    int B = odrt_engine_batch(e), NI = odrt_coco_num_images(gt), NC = odrt_coco_num_categories(gt), tty = isatty(2);
    size_t cap = 1024, n = 0;
    odrt_coco_det_t *d = malloc(sizeof *d * cap);
    odrt_tensor_t **imgs = calloc((size_t)B, sizeof *imgs);
    odrt_detections_t *dets = calloc((size_t)B, sizeof *dets);
    int64_t *ids = calloc((size_t)B, sizeof *ids);
    char **mk = masks ? malloc(sizeof(char *) * cap) : NULL;
    int rc = !d || !imgs || !dets || !ids || (masks && !mk) ? (fprintf(stderr, "odrt eval: out of memory\n"), 1) : 0;
    *n_dropped = 0;
    for (int i0 = 0; !rc && i0 < NI; i0 += B) {
        int nb = NI - i0 < B ? NI - i0 : B;
        for (int k = 0; k < nb && !rc; k++) {
            const char *fn;
            char path[4096];
            odrt_coco_image(gt, i0 + k, &ids[k], &fn, NULL, NULL);
            if (!fn) rc = fprintf(stderr, "odrt eval: image id %lld has no file_name\n", (long long)ids[k]) > 0;
            else if (snprintf(path, sizeof path, "%s/%s", dir, fn) >= (int)sizeof path) rc = fprintf(stderr, "odrt eval: path too long\n") > 0;
            else if (odrt_image_load(path, 0, 0, &imgs[k]) != ODRT_OK) rc = cli_error("eval");
        }
        if (!rc && odrt_engine_detect(e, nb, (const odrt_tensor_t *const *)imgs, dets) != ODRT_OK) rc = cli_error("detect");
        for (int k = 0; k < nb && !rc; k++) {
            double W = (double)imgs[k]->dims[2], H = (double)imgs[k]->dims[1];
            const float *bm = NULL;
            int mh = 0, mw = 0;
            uint8_t *buf = NULL;
            if (masks) {
                odrt_engine_masks(e, k, &bm, &mh, &mw);
                if (!bm) rc = fprintf(stderr, "odrt eval: --iou-type segm needs an engine with masks (Mask R-CNN)\n") > 0;
                else if (!(buf = malloc((size_t)(H * W) + 1))) rc = fprintf(stderr, "odrt eval: out of memory\n") > 0;
            }
            for (int q = 0; q < dets[k].count && !rc; q++) {
                const odrt_detection_t *x = &dets[k].items[q];
                if (x->score < threshold) continue;
                int64_t cat = has_override ? x->class_id - odrt_engine_class_offset(e) + offset_override : x->class_id;
                /* a label that names a ground-truth category maps to that category */
                const char *lab = odrt_engine_label(e, x->class_id);
                for (int c = 0; lab && c < NC; c++) {
                    int64_t cid;
                    const char *cn;
                    odrt_coco_category(gt, c, &cid, &cn);
                    if (cn && !strcmp(cn, lab)) cat = cid;
                }
                int known = 0;
                for (int c = 0; c < NC && !known; c++) {
                    int64_t cid;
                    odrt_coco_category(gt, c, &cid, NULL);
                    known = cid == cat;
                }
                if (!known) {
                    (*n_dropped)++;
                    continue;
                }
                if (n == cap) {
                    odrt_coco_det_t *nd = realloc(d, sizeof *d * (cap * 2));
                    char **nm = masks ? realloc(mk, sizeof(char *) * cap * 2) : NULL;
                    if (nd) d = nd;
                    if (nm) mk = nm;
                    if (!nd || (masks && !nm)) {
                        rc = fprintf(stderr, "odrt eval: out of memory\n") > 0;
                        break;
                    }
                    cap *= 2;
                }
                if (masks && (odrt_mask_paste(bm + (size_t)q * mh * mw, mh, mw, x, (int)H, (int)W, 0.5f, buf) != ODRT_OK ||
                              odrt_mask_rle(buf, (int)H, (int)W, &mk[n]) != ODRT_OK)) {
                    rc = cli_error("eval");
                    break;
                }
                d[n++] = (odrt_coco_det_t){ids[k], cat, {x->xmin * W, x->ymin * H, (x->xmax - x->xmin) * W, (x->ymax - x->ymin) * H}, x->score};
            }
            free(buf);
        }
        for (int k = 0; k < nb; k++) odrt_detections_clear(&dets[k]), odrt_tensor_free(imgs[k]), imgs[k] = NULL;
        if (tty) fprintf(stderr, "\reval: %d/%d images", i0 + nb < NI ? i0 + nb : NI, NI);
    }
    if (tty) fprintf(stderr, "\n");
    free(imgs), free(dets), free(ids);
    if (rc) {
        for (size_t i = 0; mk && i < n; i++) free(mk[i]);
        free(d), free(mk);
        return rc;
    }
    *out = d, *n_out = n;
    if (masks) *masks = mk;
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *target = NULL, *images = NULL, *ann = NULL, *json_out = NULL, *results = NULL, *labels = NULL;
    float threshold = 0;
    int per_class = 0, threads = 0, segm = 0;
    odrt_build_options_t o;
    cli_build_options_init(&o);
    for (int i = 1; i < argc; i++) {
        int r = cli_build_flag(argc, argv, &i, &o, "eval");
        if (r < 0) return 2;
        if (r) {
            if (!strcmp(argv[i - 1], "--threads")) threads = o.threads;
            if (!strcmp(argv[i - 1], "--labels")) labels = o.labels;
            continue;
        }
        if (!strcmp(argv[i], "--images") && i + 1 < argc) images = argv[++i];
        else if (!strcmp(argv[i], "--annotations") && i + 1 < argc) ann = argv[++i];
        else if (!strcmp(argv[i], "--detections") && i + 1 < argc) results = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_out = argv[++i];
        else if (!strcmp(argv[i], "--per-class")) per_class = 1;
        else if (!strcmp(argv[i], "--iou-type") && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "bbox") && strcmp(t, "segm")) return fprintf(stderr, "odrt eval: --iou-type takes bbox or segm\n"), 2;
            segm = !strcmp(t, "segm");
        }
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc) {
            char *end;
            threshold = strtof(argv[++i], &end);
            if (*end || !(threshold >= 0 && threshold <= 1)) return fprintf(stderr, "odrt eval: --threshold takes [0, 1]\n"), 2;
        } else if (argv[i][0] == '-' || target) {
            fprintf(stderr, "odrt eval: unexpected argument '%s' (see odrt --help)\n", argv[i]);
            return 2;
        } else target = argv[i];
    }
    if (!ann || (!results && (!target || !images)) || (results && target)) {
        fprintf(stderr, "odrt eval: usage: odrt eval MODEL|ENGINE --images DIR --annotations instances.json [options]\n"
                        "                  odrt eval --detections results.json --annotations instances.json [options]\n");
        return 2;
    }
    odrt_coco_t *gt;
    if (odrt_coco_load(ann, &gt) != ODRT_OK) return cli_error("");
    odrt_coco_det_t *d = NULL;
    char **mk = NULL;
    size_t n = 0, dropped = 0;
    int rc = 0;
    if (results) {
        if ((segm ? odrt_coco_load_results_segm(results, gt, &d, &mk, &n) : odrt_coco_load_results(results, gt, &d, &n)) != ODRT_OK)
            rc = cli_error("");
    } else {
        odrt_engine_t *e = NULL;
        int built = 0;
        rc = cli_open_engine(target, &o, threads, &e, NULL, &built);
        if (!rc && labels && !built && odrt_engine_set_labels(e, labels) != ODRT_OK) rc = cli_error("");
        if (!rc) rc = detect_all(e, gt, images, threshold, o.class_offset, o.has_class_offset && !built, &d, segm ? &mk : NULL, &n, &dropped);
        odrt_engine_free(e);
    }
    double stats[12], *pc = NULL;
    int NC = odrt_coco_num_categories(gt);
    if (!rc && !(pc = calloc((size_t)NC + 1, sizeof(double)))) rc = fprintf(stderr, "odrt eval: out of memory\n") > 0;
    if (!rc && (segm ? odrt_coco_evaluate_segm(gt, d, (const char *const *)mk, n, stats, pc) : odrt_coco_evaluate(gt, d, n, stats, pc)) != ODRT_OK)
        rc = cli_error("eval");
    if (!rc) {
        for (int s = 0; s < 12; s++) printf("%s = %.3f\n", STAT_LINES[s], stats[s]);
        printf("(%d images, %zu detections%s)\n", odrt_coco_num_images(gt), n, dropped ? ", some with classes not in the annotations dropped" : "");
        if (per_class)
            for (int c = 0; c < NC; c++) {
                int64_t id;
                const char *nm;
                odrt_coco_category(gt, c, &id, &nm);
                if (pc[c] > -1) printf("  category %-4lld %-20s AP %.3f\n", (long long)id, nm ? nm : "", pc[c]);
            }
        if (json_out) {
            cJSON *j = cJSON_CreateObject(), *st = cJSON_AddObjectToObject(j, "stats");
            for (int s = 0; s < 12; s++) cJSON_AddNumberToObject(st, STAT_NAMES[s], stats[s]);
            cJSON_AddItemToObject(j, "stats_list", cJSON_CreateDoubleArray(stats, 12));
            cJSON_AddNumberToObject(j, "images", odrt_coco_num_images(gt));
            cJSON_AddNumberToObject(j, "detections", (double)n);
            cJSON_AddNumberToObject(j, "detections_dropped", (double)dropped);
            cJSON *pcj = cJSON_AddArrayToObject(j, "per_class");
            for (int c = 0; c < NC; c++) {
                int64_t id;
                const char *nm;
                odrt_coco_category(gt, c, &id, &nm);
                cJSON *x = cJSON_CreateObject();
                cJSON_AddNumberToObject(x, "category_id", (double)id);
                cJSON_AddStringToObject(x, "name", nm ? nm : "");
                cJSON_AddNumberToObject(x, "AP", pc[c]);
                cJSON_AddItemToArray(pcj, x);
            }
            char *s = cJSON_Print(j);
            rc = s ? write_text_file(json_out, s) : 1;
            free(s);
            cJSON_Delete(j);
        }
    }
    for (size_t i = 0; mk && i < n; i++) free(mk[i]);
    free(mk), free(pc), free(d);
    odrt_coco_free(gt);
    return rc;
}
