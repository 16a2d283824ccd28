/* COCO instances ground truth and bbox evaluation (internal). */
#ifndef ODRT_COCO_H
#define ODRT_COCO_H

#include "odrt.h"

typedef struct {
    int64_t id;
    char *file_name;
    double width, height;
} coco_image;

typedef struct {
    int64_t id;
    char *name;
} coco_category;

/* a mask as COCO's run-length encoding: m runs over the h x w pixels in column-major order,
 * alternating 0 and 1, zeros first */
typedef struct {
    int64_t h, w;
    size_t m;
    uint32_t *cnts;
} coco_rle;

typedef struct {
    int64_t id, image_id, category_id;
    double bbox[4], area;
    int iscrowd, ignore;
    int img, cat; /* indices */
    coco_rle rle; /* the segmentation at the image's size (segm evaluation) */
    int seg;      /* 1: rle holds it, 0: none given, -1: given but unusable */
} coco_ann;

struct odrt_coco {
    coco_image *images; /* sorted by id */
    int n_images;
    coco_category *cats; /* sorted by id */
    int n_cats;
    coco_ann *anns;
    int64_t n_anns;
};

int coco_image_index(const odrt_coco_t *c, int64_t id);

/* coco_masks.c (pycocotools' mask semantics) */
odrt_status_t coco_rle_from_string(const char *s, int64_t h, int64_t w, coco_rle *r);
odrt_status_t coco_rle_from_counts(const double *c, size_t n, int64_t h, int64_t w, coco_rle *r);
/* the union of n polygons (or boxes, when the first has 4 numbers) */
odrt_status_t coco_rle_from_polygons(const double *const *polys, const size_t *lens, size_t n, int64_t h, int64_t w, coco_rle *r);
void coco_rle_free(coco_rle *r);
/* the compressed counts string (caller frees) */
odrt_status_t coco_rle_to_string(const coco_rle *r, char **out);
uint64_t coco_rle_area(const coco_rle *r);
void coco_rle_bbox(const coco_rle *r, double bb[4]);
/* IoU of detection d with ground truth g (crowd: intersection over d's area); -1 if sizes differ */
double coco_rle_iou(const coco_rle *d, const coco_rle *g, int crowd);
/* a "segmentation" value (polygons, {counts: [...]}, or {counts: "..."}) at h x w */
struct cJSON;
odrt_status_t coco_rle_from_json(const struct cJSON *seg, int64_t h, int64_t w, coco_rle *r);
int coco_cat_index(const odrt_coco_t *c, int64_t id);

#endif
