/* libFuzzer target: the COCO instances json loader, then an evaluation of detections made from
 * its own annotations (shifted, scored by position), which walks every index the loader built. */
#include <stdint.h>
#include <stdlib.h>

#include "odrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    odrt_coco_t *gt;
    if (odrt_coco_load_buffer((const char *)data, size, "fuzz", &gt) != ODRT_OK) return 0;
    int ni = odrt_coco_num_images(gt), nc = odrt_coco_num_categories(gt);
    size_t n = (size_t)ni * (size_t)nc * 3;
    odrt_coco_det_t *d = n <= 100000 ? calloc(n + 1, sizeof *d) : NULL;
    for (size_t i = 0; d && i < n; i++) {
        int64_t im, cat;
        odrt_coco_image(gt, (int)(i / 3 / (size_t)nc), &im, NULL, NULL, NULL);
        odrt_coco_category(gt, (int)(i / 3 % (size_t)nc), &cat, NULL);
        d[i] = (odrt_coco_det_t){im, cat, {(double)(i % 7) * 10, (double)(i % 5) * 12, 20 + (double)(i % 3) * 30, 25}, (double)(i % 11) / 10};
    }
    double stats[12], *pc = calloc((size_t)nc + 1, sizeof(double));
    if (d && pc) odrt_coco_evaluate(gt, d, n, stats, pc);
    free(pc), free(d);
    odrt_coco_free(gt);
    return 0;
}
