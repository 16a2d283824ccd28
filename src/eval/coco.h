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

typedef struct {
    int64_t id, image_id, category_id;
    double bbox[4], area;
    int iscrowd, ignore;
    int img, cat; /* indices */
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
int coco_cat_index(const odrt_coco_t *c, int64_t id);

#endif
