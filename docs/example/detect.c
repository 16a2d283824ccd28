/* A program against the installed libodrt (docs/install.md): an engine file or a TF OD API ONNX
 * (built into a CPU engine here), photos in, one line per detection out.
 *
 *   cc detect.c $(pkg-config --cflags --libs odrt) -o detect
 *   ./detect model.odrt|model.onnx photo.jpg [photo2.png ...]
 *
 * Each line: "FILE CLASS LABEL SCORE YMIN XMIN YMAX XMAX" (box normalised to the photo). */
#include <odrt.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "detect: %s: %s\n", what, odrt_last_error());
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ENGINE|MODEL.onnx PHOTO...\n", argv[0]);
        return 2;
    }
    if (odrt_version_number() / 100 != ODRT_VERSION_NUMBER / 100) { /* 0.x: the minor version is the ABI */
        fprintf(stderr, "detect: built with odrt.h %d, running libodrt %s\n", ODRT_VERSION_NUMBER, odrt_version());
        return 1;
    }
    odrt_engine_t *e = NULL;
    if (ends_with(argv[1], ".onnx")) { /* build a CPU engine in memory (odrt build ... -o saves one) */
        odrt_model_t *m = NULL;
        if (odrt_model_load(argv[1], &m) != ODRT_OK) return fail(argv[1]);
        odrt_build_options_t o;
        odrt_build_options_init(&o);
        odrt_status_t rc = odrt_engine_build(m, &o, &e);
        odrt_model_free(m);
        if (rc != ODRT_OK) return fail(argv[1]);
    } else if (odrt_engine_load(argv[1], 0, &e) != ODRT_OK) {
        return fail(argv[1]);
    }
    int rc = 0;
    for (int i = 2; i < argc && !rc; i++) {
        odrt_tensor_t *img = NULL;
        odrt_detections_t d = {0};
        if (odrt_image_load(argv[i], 0, 0, &img) != ODRT_OK) {
            rc = fail(argv[i]);
            break;
        }
        const odrt_tensor_t *frames[1] = {img};
        if (odrt_engine_detect(e, 1, frames, &d) != ODRT_OK) rc = fail(argv[i]);
        for (int k = 0; k < d.count; k++) {
            const odrt_detection_t *x = &d.items[k];
            const char *label = odrt_engine_label(e, x->class_id);
            printf("%s %d %s %.6f %.6f %.6f %.6f %.6f\n", argv[i], x->class_id, label ? label : "-", x->score, x->ymin, x->xmin,
                   x->ymax, x->xmax);
        }
        odrt_detections_clear(&d);
        odrt_tensor_free(img);
    }
    odrt_engine_free(e);
    return rc;
}
