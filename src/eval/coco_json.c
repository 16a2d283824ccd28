/* COCO instances json (ground truth) and results json (detections), parsed with cJSON and checked:
 * every problem is one line naming the file and what is wrong. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "eval/coco.h"

#define BAD(...) odrt_fail(ODRT_ERR_PARSE, __VA_ARGS__)

static int num(const cJSON *o, const char *k, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
    *out = v->valuedouble;
    return 1;
}

static int id_of(const cJSON *o, const char *k, int64_t *out) {
    double d;
    if (!num(o, k, &d) || d != floor(d) || fabs(d) > 9e15) return 0;
    *out = (int64_t)d;
    return 1;
}

static int bbox_of(const cJSON *o, double b[4]) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "bbox");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4) return 0;
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) return 0;
        b[i] = e->valuedouble;
    }
    return 1;
}

static int cmp_img(const void *a, const void *b) {
    int64_t x = ((const coco_image *)a)->id, y = ((const coco_image *)b)->id;
    return (x > y) - (x < y);
}
static int cmp_cat(const void *a, const void *b) {
    int64_t x = ((const coco_category *)a)->id, y = ((const coco_category *)b)->id;
    return (x > y) - (x < y);
}

int coco_image_index(const odrt_coco_t *c, int64_t id) {
    int lo = 0, hi = c->n_images - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->images[mid].id == id) return mid;
        if (c->images[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int coco_cat_index(const odrt_coco_t *c, int64_t id) {
    int lo = 0, hi = c->n_cats - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->cats[mid].id == id) return mid;
        if (c->cats[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

void odrt_coco_free(odrt_coco_t *c) {
    if (!c) return;
    for (int i = 0; i < c->n_images; i++) free(c->images[i].file_name);
    for (int i = 0; i < c->n_cats; i++) free(c->cats[i].name);
    for (int64_t i = 0; c->anns && i < c->n_anns; i++) coco_rle_free(&c->anns[i].rle);
    free(c->images), free(c->cats), free(c->anns);
    free(c);
}

static odrt_status_t parse_gt(const char *name, const cJSON *r, odrt_coco_t *c) {
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(r, "images"), *anns = cJSON_GetObjectItemCaseSensitive(r, "annotations");
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(r, "categories");
    if (!cJSON_IsObject(r)) return BAD("%s: not a COCO instances json (top level is not an object)", name);
    if (!cJSON_IsArray(imgs)) return BAD("%s: missing or non-array 'images'", name);
    if (!cJSON_IsArray(anns)) return BAD("%s: missing or non-array 'annotations'", name);
    if (!cJSON_IsArray(cats)) return BAD("%s: missing or non-array 'categories'", name);
    int ni = cJSON_GetArraySize(imgs), nc = cJSON_GetArraySize(cats), na = cJSON_GetArraySize(anns);
    c->images = calloc((size_t)ni + 1, sizeof(coco_image));
    c->cats = calloc((size_t)nc + 1, sizeof(coco_category));
    c->anns = calloc((size_t)na + 1, sizeof(coco_ann));
    if (!c->images || !c->cats || !c->anns) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    for (const cJSON *e = imgs->child; e; e = e->next) {
        coco_image *im = &c->images[c->n_images];
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(e, "file_name");
        if (!id_of(e, "id", &im->id)) return BAD("%s: images[%d]: missing or non-integer 'id'", name, c->n_images);
        if (fn && !cJSON_IsString(fn)) return BAD("%s: images[%d]: 'file_name' is not a string", name, c->n_images);
        im->width = im->height = 0;
        if ((cJSON_GetObjectItemCaseSensitive(e, "width") && !num(e, "width", &im->width)) ||
            (cJSON_GetObjectItemCaseSensitive(e, "height") && !num(e, "height", &im->height)) || im->width < 0 || im->height < 0)
            return BAD("%s: images[%d] (id %lld): bad width/height", name, c->n_images, (long long)im->id);
        if (fn && !(im->file_name = strdup(fn->valuestring))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        c->n_images++;
    }
    for (const cJSON *e = cats->child; e; e = e->next) {
        coco_category *ct = &c->cats[c->n_cats];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!id_of(e, "id", &ct->id)) return BAD("%s: categories[%d]: missing or non-integer 'id'", name, c->n_cats);
        if (nm && !cJSON_IsString(nm)) return BAD("%s: categories[%d]: 'name' is not a string", name, c->n_cats);
        if (nm && !(ct->name = strdup(nm->valuestring))) return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
        c->n_cats++;
    }
    qsort(c->images, (size_t)c->n_images, sizeof(coco_image), cmp_img);
    qsort(c->cats, (size_t)c->n_cats, sizeof(coco_category), cmp_cat);
    for (int i = 1; i < c->n_images; i++)
        if (c->images[i].id == c->images[i - 1].id) return BAD("%s: image id %lld appears twice", name, (long long)c->images[i].id);
    for (int i = 1; i < c->n_cats; i++)
        if (c->cats[i].id == c->cats[i - 1].id) return BAD("%s: category id %lld appears twice", name, (long long)c->cats[i].id);
    for (const cJSON *e = anns->child; e; e = e->next) {
        coco_ann *a = &c->anns[c->n_anns];
        int64_t k = c->n_anns;
        double crowd = 0;
        if (!id_of(e, "id", &a->id) || !id_of(e, "image_id", &a->image_id) || !id_of(e, "category_id", &a->category_id))
            return BAD("%s: annotations[%lld]: missing or non-integer id/image_id/category_id", name, (long long)k);
        if (!bbox_of(e, a->bbox)) return BAD("%s: annotations[%lld] (id %lld): missing or bad 'bbox' (4 numbers)", name, (long long)k, (long long)a->id);
        if (a->bbox[2] < 0 || a->bbox[3] < 0)
            return BAD("%s: annotations[%lld] (id %lld): negative bbox size", name, (long long)k, (long long)a->id);
        if (!num(e, "area", &a->area)) return BAD("%s: annotations[%lld] (id %lld): missing or non-numeric 'area'", name, (long long)k, (long long)a->id);
        if (a->area < 0) return BAD("%s: annotations[%lld] (id %lld): negative area", name, (long long)k, (long long)a->id);
        if (cJSON_GetObjectItemCaseSensitive(e, "iscrowd") && !num(e, "iscrowd", &crowd))
            return BAD("%s: annotations[%lld] (id %lld): 'iscrowd' is not a number", name, (long long)k, (long long)a->id);
        a->iscrowd = crowd != 0;
        a->ignore = a->iscrowd; /* pycocotools: ignore = iscrowd */
        if ((a->img = coco_image_index(c, a->image_id)) < 0)
            return BAD("%s: annotations[%lld] (id %lld): unknown image_id %lld", name, (long long)k, (long long)a->id, (long long)a->image_id);
        if ((a->cat = coco_cat_index(c, a->category_id)) < 0)
            return BAD("%s: annotations[%lld] (id %lld): unknown category_id %lld", name, (long long)k, (long long)a->id,
                       (long long)a->category_id);
        /* the mask (segm evaluation) at the image's size; an unusable one is an error only there */
        const cJSON *seg = cJSON_GetObjectItemCaseSensitive(e, "segmentation");
        const coco_image *im = &c->images[a->img];
        a->seg = 0;
        if (seg) {
            char saved[1024];
            snprintf(saved, sizeof saved, "%s", odrt_last_error());
            a->seg = coco_rle_from_json(seg, (int64_t)im->height, (int64_t)im->width, &a->rle) == ODRT_OK ? 1 : -1;
            odrt_fail(ODRT_OK, "%s", saved);
        }
        c->n_anns++;
    }
    return ODRT_OK;
}

static odrt_status_t read_json(const char *path, cJSON **out) {
    uint8_t *buf;
    size_t len;
    ODRT_TRY(odrt_read_file(path, (size_t)2 << 30, &buf, &len));
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts((const char *)buf, len, &end, 0);
    if (!*out) {
        size_t at = end ? (size_t)(end - (const char *)buf) : 0;
        free(buf);
        return BAD("%s: not valid JSON (truncated or malformed near byte %zu)", path, at);
    }
    free(buf);
    return ODRT_OK;
}

static odrt_status_t load_parsed(const char *name, cJSON *r, odrt_coco_t **out) {
    odrt_coco_t *c = calloc(1, sizeof *c);
    odrt_status_t rc = c ? parse_gt(name, r, c) : odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    cJSON_Delete(r);
    if (rc != ODRT_OK) {
        odrt_coco_free(c);
        return rc;
    }
    *out = c;
    return ODRT_OK;
}

odrt_status_t odrt_coco_load(const char *path, odrt_coco_t **out) {
    if (!path || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_coco_load: NULL argument");
    *out = NULL;
    cJSON *r;
    ODRT_TRY(read_json(path, &r));
    return load_parsed(path, r, out);
}

odrt_status_t odrt_coco_load_buffer(const char *json, size_t len, const char *name, odrt_coco_t **out) {
    if (!json || !out) return odrt_fail(ODRT_ERR_ARG, "odrt_coco_load_buffer: NULL argument");
    *out = NULL;
    const char *end = NULL;
    cJSON *r = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!r) return BAD("%s: not valid JSON (truncated or malformed near byte %zu)", name ? name : "json", end ? (size_t)(end - json) : 0);
    return load_parsed(name ? name : "json", r, out);
}

odrt_status_t odrt_coco_load_results(const char *path, const odrt_coco_t *gt, odrt_coco_det_t **dets, size_t *n) {
    return odrt_coco_load_results_segm(path, gt, dets, NULL, n);
}

/* a result's segmentation as a compressed counts string at its image's size */
static odrt_status_t seg_string(const cJSON *seg, const coco_image *im, char **out) {
    coco_rle r;
    ODRT_TRY(coco_rle_from_json(seg, (int64_t)im->height, (int64_t)im->width, &r));
    odrt_status_t rc = coco_rle_to_string(&r, out);
    coco_rle_free(&r);
    return rc;
}

odrt_status_t odrt_coco_load_results_segm(const char *path, const odrt_coco_t *gt, odrt_coco_det_t **dets, char ***counts, size_t *n) {
    if (!path || !gt || !dets || !n) return odrt_fail(ODRT_ERR_ARG, "odrt_coco_load_results: NULL argument");
    *dets = NULL, *n = 0;
    if (counts) *counts = NULL;
    cJSON *r;
    ODRT_TRY(read_json(path, &r));
    odrt_status_t rc = ODRT_OK;
    if (!cJSON_IsArray(r)) rc = BAD("%s: a COCO results file is a JSON array of {image_id, category_id, bbox, score}", path);
    int cnt = rc == ODRT_OK ? cJSON_GetArraySize(r) : 0;
    odrt_coco_det_t *d = rc == ODRT_OK ? calloc((size_t)cnt + 1, sizeof *d) : NULL;
    if (rc == ODRT_OK && !d) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    char **cs = rc == ODRT_OK && counts ? calloc((size_t)cnt + 1, sizeof(char *)) : NULL;
    if (rc == ODRT_OK && counts && !cs) rc = odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    int i = 0;
    for (const cJSON *e = rc == ODRT_OK ? r->child : NULL; e && rc == ODRT_OK; e = e->next, i++) {
        odrt_coco_det_t *q = &d[i];
        const cJSON *seg = counts ? cJSON_GetObjectItemCaseSensitive(e, "segmentation") : NULL;
        int img = -1;
        if (!id_of(e, "image_id", &q->image_id) || !id_of(e, "category_id", &q->category_id))
            rc = BAD("%s: [%d]: missing or non-integer image_id/category_id", path, i);
        else if (counts && !seg) rc = BAD("%s: [%d]: no 'segmentation' (segm results)", path, i);
        else if (counts && (img = coco_image_index(gt, q->image_id)) < 0)
            rc = BAD("%s: [%d]: image_id %lld is not in the annotations", path, i, (long long)q->image_id);
        else if (counts && seg_string(seg, &gt->images[img], &cs[i]) != ODRT_OK)
            rc = odrt_fail_ctx(ODRT_ERR_PARSE, "%s: [%d]: segmentation", path, i);
        else if (counts && !cJSON_GetObjectItemCaseSensitive(e, "bbox")) { /* pycocotools: the mask's box */
            coco_rle rr;
            if (coco_rle_from_string(cs[i], (int64_t)gt->images[img].height, (int64_t)gt->images[img].width, &rr) == ODRT_OK)
                coco_rle_bbox(&rr, q->bbox), coco_rle_free(&rr);
            if (!num(e, "score", &q->score)) rc = BAD("%s: [%d]: missing or non-numeric 'score'", path, i);
            else if (coco_cat_index(gt, q->category_id) < 0)
                rc = BAD("%s: [%d]: category_id %lld is not in the annotations", path, i, (long long)q->category_id);
            continue;
        } else if (!bbox_of(e, q->bbox)) rc = BAD("%s: [%d]: missing or bad 'bbox' (4 numbers)", path, i);
        else if (!num(e, "score", &q->score)) rc = BAD("%s: [%d]: missing or non-numeric 'score'", path, i);
        else if (q->bbox[2] < 0 || q->bbox[3] < 0) rc = BAD("%s: [%d]: negative bbox size", path, i);
        else if (coco_image_index(gt, q->image_id) < 0) rc = BAD("%s: [%d]: image_id %lld is not in the annotations", path, i, (long long)q->image_id);
        else if (coco_cat_index(gt, q->category_id) < 0)
            rc = BAD("%s: [%d]: category_id %lld is not in the annotations", path, i, (long long)q->category_id);
    }
    cJSON_Delete(r);
    if (rc != ODRT_OK) {
        for (int k = 0; cs && k < cnt; k++) free(cs[k]);
        free(cs), free(d);
        return rc;
    }
    *dets = d, *n = (size_t)cnt;
    if (counts) *counts = cs;
    return ODRT_OK;
}

int odrt_coco_num_images(const odrt_coco_t *c) { return c ? c->n_images : 0; }
int odrt_coco_num_categories(const odrt_coco_t *c) { return c ? c->n_cats : 0; }

odrt_status_t odrt_coco_image(const odrt_coco_t *c, int i, int64_t *id, const char **file_name, double *w, double *h) {
    if (!c || i < 0 || i >= c->n_images) return odrt_fail(ODRT_ERR_ARG, "odrt_coco_image: index %d out of range", i);
    if (id) *id = c->images[i].id;
    if (file_name) *file_name = c->images[i].file_name;
    if (w) *w = c->images[i].width;
    if (h) *h = c->images[i].height;
    return ODRT_OK;
}

odrt_status_t odrt_coco_category(const odrt_coco_t *c, int i, int64_t *id, const char **name) {
    if (!c || i < 0 || i >= c->n_cats) return odrt_fail(ODRT_ERR_ARG, "odrt_coco_category: index %d out of range", i);
    if (id) *id = c->cats[i].id;
    if (name) *name = c->cats[i].name;
    return ODRT_OK;
}

odrt_status_t odrt_coco_create(int n_images, const int64_t *image_ids, const double *sizes_wh, int n_cats, const int64_t *cat_ids,
                               const odrt_coco_det_t *anns, size_t n_anns, odrt_coco_t **out) {
    if (!out || n_images < 0 || n_cats < 0 || (n_images && !image_ids) || (n_cats && !cat_ids) || (n_anns && !anns))
        return odrt_fail(ODRT_ERR_ARG, "odrt_coco_create: bad arguments");
    *out = NULL;
    odrt_coco_t *c = calloc(1, sizeof *c);
    if (!c || !(c->images = calloc((size_t)n_images + 1, sizeof(coco_image))) ||
        !(c->cats = calloc((size_t)n_cats + 1, sizeof(coco_category))) || !(c->anns = calloc(n_anns + 1, sizeof(coco_ann)))) {
        odrt_coco_free(c);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n_images; i++)
        c->images[i] = (coco_image){image_ids[i], NULL, sizes_wh ? sizes_wh[2 * i] : 0, sizes_wh ? sizes_wh[2 * i + 1] : 0};
    for (int i = 0; i < n_cats; i++) c->cats[i] = (coco_category){cat_ids[i], NULL};
    c->n_images = n_images, c->n_cats = n_cats;
    qsort(c->images, (size_t)n_images, sizeof(coco_image), cmp_img);
    qsort(c->cats, (size_t)n_cats, sizeof(coco_category), cmp_cat);
    for (int i = 1; i < n_images; i++)
        if (c->images[i].id == c->images[i - 1].id) {
            long long id = (long long)c->images[i].id;
            odrt_coco_free(c);
            return odrt_fail(ODRT_ERR_ARG, "odrt_coco_create: image id %lld twice", id);
        }
    for (int i = 1; i < n_cats; i++)
        if (c->cats[i].id == c->cats[i - 1].id) {
            long long id = (long long)c->cats[i].id;
            odrt_coco_free(c);
            return odrt_fail(ODRT_ERR_ARG, "odrt_coco_create: category id %lld twice", id);
        }
    for (size_t k = 0; k < n_anns; k++) {
        coco_ann *a = &c->anns[k];
        a->id = (int64_t)k + 1, a->image_id = anns[k].image_id, a->category_id = anns[k].category_id;
        memcpy(a->bbox, anns[k].bbox, sizeof a->bbox);
        a->area = a->bbox[2] * a->bbox[3];
        a->img = coco_image_index(c, a->image_id), a->cat = coco_cat_index(c, a->category_id);
        if (a->img < 0 || a->cat < 0 || a->bbox[2] < 0 || a->bbox[3] < 0) {
            odrt_coco_free(c);
            return odrt_fail(ODRT_ERR_ARG, "odrt_coco_create: annotation %zu: unknown image/category or negative size", k);
        }
    }
    c->n_anns = (int64_t)n_anns;
    *out = c;
    return ODRT_OK;
}
