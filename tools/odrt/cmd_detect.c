/* odrt detect: frames in (JPEG/PNG files or folders), labelled detections out (table, JSON, COCO
 * results), annotated pictures with --draw; a Mask R-CNN engine's masks as COCO RLE in both JSON
 * files and drawn over the pictures. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    char **v;
    int n, cap;
} strlist;

static int push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, sizeof(char *) * (size_t)nc);
        if (!nv) return 0;
        l->v = nv, l->cap = nc;
    }
    return (l->v[l->n++] = strdup(s)) != NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *n) {
    const char *d = strrchr(n, '.');
    return d && (!strcasecmp(d, ".jpg") || !strcasecmp(d, ".jpeg") || !strcasecmp(d, ".png"));
}

/* files as given; folders contribute their JPEG/PNG files, sorted */
static int collect(const char *arg, strlist *l, int *from_dir) {
    struct stat sb;
    if (stat(arg, &sb) != 0) return fprintf(stderr, "odrt detect: '%s': no such file or folder\n", arg), 0;
    if (!S_ISDIR(sb.st_mode)) return push(l, arg);
    DIR *d = opendir(arg);
    if (!d) return fprintf(stderr, "odrt detect: cannot read folder '%s'\n", arg), 0;
    strlist tmp = {0};
    struct dirent *de;
    char path[PATH_MAX];
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && is_image_name(de->d_name)) {
            size_t al = strlen(arg);
            snprintf(path, sizeof path, "%s%s%s", arg, al && arg[al - 1] == '/' ? "" : "/", de->d_name);
            if (!push(&tmp, path)) break;
        }
    closedir(d);
    qsort(tmp.v, (size_t)tmp.n, sizeof(char *), cmp_str);
    for (int i = 0; i < tmp.n; i++) push(l, tmp.v[i]), free(tmp.v[i]);
    free(tmp.v);
    *from_dir = 1;
    return 1;
}

/* COCO image id: the number in a COCO-style file name (000000123456.jpg), else the running index */
static long long image_id(const char *path, int index) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *end;
    long long v = strtoll(b, &end, 10);
    return end != b && *end == '.' ? v : index;
}

static int make_dir(const char *p) { return mkdir(p, 0755) == 0 || errno == EEXIST; }

/* detection q's mask on the H x W frame as COCO RLE ({"size", "counts"}); NULL on failure */
static cJSON *mask_rle(const float *masks, int mh, int mw, int q, const odrt_detection_t *d, int H, int W, uint8_t *buf) {
    char *counts = NULL;
    if (odrt_mask_paste(masks + (size_t)q * mh * mw, mh, mw, d, H, W, 0.5f, buf) != ODRT_OK || odrt_mask_rle(buf, H, W, &counts) != ODRT_OK)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "size", cJSON_CreateIntArray((int[]){H, W}, 2));
    cJSON_AddStringToObject(o, "counts", counts);
    free(counts);
    return o;
}

int cmd_detect(int argc, char **argv) {
    const char *target = NULL, *json_out = NULL, *coco_out = NULL, *draw = NULL, *labels = NULL;
    float threshold = 0.3f;
    int threads = 0, from_dir = 0;
    odrt_build_options_t o;
    cli_build_options_init(&o);
    strlist files = {0};
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        int r = cli_build_flag(argc, argv, &i, &o, "detect");
        if (r < 0) return 2;
        if (r) {
            if (!strcmp(argv[i - 1], "--threads")) threads = o.threads;
            if (!strcmp(argv[i - 1], "--labels")) labels = o.labels;
            continue;
        }
        if (!strcmp(argv[i], "--json") && i + 1 < argc) json_out = argv[++i];
        else if (!strcmp(argv[i], "--coco-results") && i + 1 < argc) coco_out = argv[++i];
        else if (!strcmp(argv[i], "--draw") && i + 1 < argc) draw = argv[++i];
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc) {
            char *end;
            threshold = strtof(argv[++i], &end);
            if (*end || !(threshold >= 0 && threshold <= 1)) {
                fprintf(stderr, "odrt detect: --threshold takes a number in [0, 1]\n");
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "odrt detect: unexpected argument '%s' (see odrt --help)\n", argv[i]);
            return 2;
        } else if (!target) target = argv[i];
        else if (!collect(argv[i], &files, &from_dir)) rc = 1;
    }
    if (!target || (!files.n && !rc)) {
        fprintf(stderr, "odrt detect: usage: odrt detect ENGINE|MODEL IMAGE_OR_DIR... [options]\n");
        return 2;
    }
    odrt_engine_t *e = NULL;
    int built;
    if (!rc) rc = cli_open_engine(target, &o, threads, &e, NULL, &built);
    if (!rc && labels && !built && odrt_engine_set_labels(e, labels) != ODRT_OK) rc = cli_error("");
    if (!rc && draw && !make_dir(draw)) rc = fprintf(stderr, "odrt detect: cannot create folder '%s'\n", draw) > 0;
    cJSON *jroot = cJSON_CreateObject(), *jimgs = cJSON_AddArrayToObject(jroot, "images"), *coco = cJSON_CreateArray();
    int B = e ? odrt_engine_batch(e) : 1, tty = isatty(2);
    odrt_tensor_t **imgs = calloc((size_t)B, sizeof *imgs);
    odrt_detections_t *dets = calloc((size_t)B, sizeof *dets);
    int total = 0;
    for (int f0 = 0; !rc && f0 < files.n; f0 += B) {
        int nb = files.n - f0 < B ? files.n - f0 : B;
        for (int k = 0; k < nb && !rc; k++)
            if (odrt_image_load(files.v[f0 + k], 0, 0, &imgs[k]) != ODRT_OK) rc = cli_error("");
        if (!rc && odrt_engine_detect(e, nb, (const odrt_tensor_t *const *)imgs, dets) != ODRT_OK) rc = cli_error("detect");
        for (int k = 0; k < nb && !rc; k++) {
            const char *path = files.v[f0 + k];
            int H = (int)imgs[k]->dims[1], W = (int)imgs[k]->dims[2], shown = 0;
            for (int q = 0; q < dets[k].count; q++) shown += dets[k].items[q].score >= threshold;
            cJSON *ji = cJSON_CreateObject(), *jd = NULL;
            cJSON_AddStringToObject(ji, "file", path);
            cJSON_AddNumberToObject(ji, "width", W);
            cJSON_AddNumberToObject(ji, "height", H);
            jd = cJSON_AddArrayToObject(ji, "detections");
            cJSON_AddItemToArray(jimgs, ji);
            const float *masks = NULL;
            int mh = 0, mw = 0;
            uint8_t *mbuf = NULL;
            odrt_engine_masks(e, k, &masks, &mh, &mw);
            if (masks && (json_out || coco_out || draw) && !(mbuf = malloc((size_t)H * (size_t)W))) rc = cli_error("out of memory");
            if (!json_out && !coco_out) {
                printf("%s (%dx%d): %d detection%s with score >= %.2f\n", path, W, H, shown, shown == 1 ? "" : "s", threshold);
                if (shown) printf("  %-16s %6s %6s %6s %6s %6s\n", "label", "score", "xmin", "ymin", "xmax", "ymax");
            }
            for (int q = 0; q < dets[k].count; q++) {
                const odrt_detection_t *d = &dets[k].items[q];
                double x0 = d->xmin * W, y0 = d->ymin * H, x1 = d->xmax * W, y1 = d->ymax * H;
                const char *lab = odrt_engine_label(e, d->class_id);
                char cls[32];
                snprintf(cls, sizeof cls, "class %d", d->class_id);
                /* the mask pasted and encoded once, for whichever outputs take it */
                cJSON *seg = mbuf && (coco_out || (json_out && d->score >= threshold)) ? mask_rle(masks, mh, mw, q, d, H, W, mbuf) : NULL;
                if (coco_out) {
                    cJSON *c = cJSON_CreateObject();
                    cJSON_AddNumberToObject(c, "image_id", (double)image_id(path, f0 + k));
                    cJSON_AddNumberToObject(c, "category_id", d->class_id);
                    cJSON_AddItemToObject(c, "bbox", cJSON_CreateDoubleArray((double[]){x0, y0, x1 - x0, y1 - y0}, 4));
                    cJSON_AddNumberToObject(c, "score", d->score);
                    if (seg) cJSON_AddItemToObject(c, "segmentation", json_out && d->score >= threshold ? cJSON_Duplicate(seg, 1) : seg);
                    cJSON_AddItemToArray(coco, c);
                }
                if (d->score < threshold) continue; /* seg, if any, went to the COCO results */
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "label", lab ? lab : cls);
                cJSON_AddNumberToObject(j, "class_id", d->class_id);
                cJSON_AddNumberToObject(j, "score", d->score);
                cJSON_AddItemToObject(j, "box", cJSON_CreateDoubleArray((double[]){x0, y0, x1, y1}, 4));
                cJSON_AddItemToObject(j, "box_normalized",
                                      cJSON_CreateDoubleArray((double[]){d->ymin, d->xmin, d->ymax, d->xmax}, 4));
                if (seg && json_out) cJSON_AddItemToObject(j, "mask", seg); /* else it went to the COCO results */
                cJSON_AddItemToArray(jd, j);
                if (!json_out && !coco_out) printf("  %-16s %6.3f %6.0f %6.0f %6.0f %6.0f\n", lab ? lab : cls, d->score, x0, y0, x1, y1);
            }
            if (draw) {
                char tmp[PATH_MAX], out[PATH_MAX];
                snprintf(tmp, sizeof tmp, "%s", path);
                const char *base = basename(tmp);
                const char *dot = strrchr(base, '.');
                snprintf(out, sizeof out, "%s/%.*s.jpg", draw, dot ? (int)(dot - base) : (int)strlen(base), base);
                for (int q = dets[k].count - 1; mbuf && q >= 0 && !rc; q--) /* masks under the boxes, the best on top */
                    if (dets[k].items[q].score >= threshold &&
                        (odrt_mask_paste(masks + (size_t)q * mh * mw, mh, mw, &dets[k].items[q], H, W, 0.5f, mbuf) != ODRT_OK ||
                         odrt_image_draw_mask(imgs[k], mbuf, dets[k].items[q].class_id) != ODRT_OK))
                        rc = cli_error("draw");
                if (!rc && (odrt_image_draw_detections(imgs[k], &dets[k], e, threshold) != ODRT_OK || odrt_image_save(out, imgs[k]) != ODRT_OK))
                    rc = cli_error("draw");
            }
            free(mbuf);
            total++;
        }
        for (int k = 0; k < nb; k++) odrt_detections_clear(&dets[k]), odrt_tensor_free(imgs[k]), imgs[k] = NULL;
        if (from_dir && tty) fprintf(stderr, "\rdetect: %d/%d images", total, files.n);
    }
    if (from_dir && tty) fprintf(stderr, "\n");
    if (!rc && from_dir) fprintf(stderr, "detect: %d images%s%s\n", total, draw ? ", pictures in " : "", draw ? draw : "");
    if (!rc && json_out) {
        char *s = cJSON_Print(jroot);
        rc = s ? write_text_file(json_out, s) : 1;
        free(s);
    }
    if (!rc && coco_out) {
        char *s = cJSON_Print(coco);
        rc = s ? write_text_file(coco_out, s) : 1;
        free(s);
    }
    cJSON_Delete(jroot);
    cJSON_Delete(coco);
    free(imgs), free(dets);
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    odrt_engine_free(e);
    return rc;
}
