/* I/O helpers the public API wraps. */
#ifndef ODRT_IO_H
#define ODRT_IO_H

#include "odrt.h"

/* the label of a class id (NULL: none), from whatever ctx is */
typedef const char *(*io_label_fn)(const void *ctx, int class_id);
/* odrt_image_draw_detections with labels from label(ctx, class_id) (label may be NULL) */
odrt_status_t io_draw_detections(odrt_tensor_t *img, const odrt_detections_t *d, io_label_fn label, const void *ctx, float threshold);
/* the colour (RGB) boxes and masks of a class are drawn in */
const uint8_t *io_class_colour(int class_id);

#endif
