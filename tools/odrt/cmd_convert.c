/* odrt convert: TF OD API export -> TensorRT-ready ONNX. Nothing is written on failure. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_DEBUG 32

static int parse_i64(const char *s, int64_t *v) {
    char *e;
    errno = 0;
    long long x = strtoll(s, &e, 10);
    if (errno || e == s || *e) return 0;
    *v = x;
    return 1;
}

static int parse_f(const char *s, float *v) {
    char *e;
    errno = 0;
    float x = strtof(s, &e);
    if (errno || e == s || *e) return 0;
    *v = x;
    return 1;
}

/* Report accessors that read a missing field as 0 or "?" (the report is ours, but a summary must never crash). */
static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}
static const char *jstr(const cJSON *o, const char *k) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
    return v ? v : "?";
}
static double jidx(const cJSON *a, int i) {
    const cJSON *v = cJSON_GetArrayItem(a, i);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_summary(const char *json, const char *out) {
    cJSON *r = cJSON_Parse(json);
    if (!r) return;
    const cJSON *in = cJSON_GetObjectItem(r, "input"), *pre = cJSON_GetObjectItem(r, "preprocessing"),
                *bc = cJSON_GetObjectItem(r, "box_coder"), *nms = cJSON_GetObjectItem(r, "nms_params"),
                *nodes = cJSON_GetObjectItem(r, "nodes"), *sh = cJSON_GetObjectItem(in, "shape");
    printf("family: %s (backbone: %s)\n", cJSON_GetStringValue(cJSON_GetObjectItem(r, "family")),
           cJSON_GetStringValue(cJSON_GetObjectItem(r, "backbone_hint")));
    printf("input: %s %s %s [", cJSON_GetStringValue(cJSON_GetObjectItem(in, "name")),
           cJSON_GetStringValue(cJSON_GetObjectItem(in, "dtype")), cJSON_GetStringValue(cJSON_GetObjectItem(in, "layout")));
    const cJSON *d;
    int first = 1;
    cJSON_ArrayForEach(d, sh) {
        if (cJSON_IsNumber(d)) printf("%s%lld", first ? "" : ",", (long long)d->valuedouble);
        else printf("%s%s", first ? "" : ",", d->valuestring);
        first = 0;
    }
    printf("]\n");
    if (cJSON_IsTrue(cJSON_GetObjectItem(pre, "loop_replaced"))) {
        printf("preprocessing: map_fn Loop replaced;");
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(pre, "normalization")) {
            printf(" %s", cJSON_GetStringValue(cJSON_GetObjectItem(s, "op")));
            const cJSON *v;
            cJSON_ArrayForEach(v, cJSON_GetObjectItem(s, "value")) printf(" %g", v->valuedouble);
        }
        const cJSON *rs = cJSON_GetObjectItem(pre, "resize"), *win = cJSON_GetObjectItem(rs, "window_for_input");
        int keep = rs && !strcmp(jstr(rs, "rule"), "keep_aspect_ratio_then_pad");
        if (rs && keep)
            printf("; keep-aspect resize %s/%s to fit %dx%d (this input: %dx%d), pad with %g to %dx%d",
                   cJSON_GetStringValue(cJSON_GetObjectItem(rs, "mode")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(rs, "coordinate_transformation_mode")),
                   (int)jidx(cJSON_GetObjectItem(rs, "fit"), 0),
                   (int)jidx(cJSON_GetObjectItem(rs, "fit"), 1),
                   (int)jidx(win, 0), (int)jidx(win, 1),
                   jnum(rs, "pad_value"),
                   (int)jidx(cJSON_GetObjectItem(rs, "size"), 0),
                   (int)jidx(cJSON_GetObjectItem(rs, "size"), 1));
        else if (rs)
            printf("; resize %s/%s to %dx%d (%s)", cJSON_GetStringValue(cJSON_GetObjectItem(rs, "mode")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(rs, "coordinate_transformation_mode")),
                   (int)jidx(cJSON_GetObjectItem(rs, "size"), 0),
                   (int)jidx(cJSON_GetObjectItem(rs, "size"), 1),
                   cJSON_IsTrue(cJSON_GetObjectItem(rs, "kept")) ? "kept" : "removed: input is already that size");
        if (rs && jnum(rs, "normalization_steps_before") > 0) printf(" (normalisation first)");
        printf("\n");
    }
    printf("classes: %d (+%d background column), scores: %s\n", (int)jnum(r, "classes"), (int)jnum(r, "background_columns"),
           jstr(r, "score_activation"));
    const cJSON *cn = cJSON_GetObjectItem(r, "centernet"), *s1 = cJSON_GetObjectItem(r, "first_stage");
    if (s1) { /* Faster / Mask R-CNN */
        const cJSON *n1 = cJSON_GetObjectItem(s1, "nms_params"), *cr = cJSON_GetObjectItem(r, "crop"), *s2 = cJSON_GetObjectItem(r, "second_stage");
        const cJSON *mk = cJSON_GetObjectItem(r, "mask_head");
        printf("first stage: %d anchors, scales", (int)jnum(s1, "anchors"));
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(s1, "box_coder_scales")) printf(" %g", d->valuedouble);
        printf("; %s NMS iou %g, %d proposals\n", jstr(r, "nms"), jnum(n1, "iou_threshold"), (int)jnum(n1, "max_detections"));
        printf("crop: %s %dx%d of %s\n", jstr(cr, "mode"), (int)jidx(cJSON_GetObjectItem(cr, "size"), 0),
               (int)jidx(cJSON_GetObjectItem(cr, "size"), 1), jstr(cr, "feature_map"));
        printf("second stage: %s per proposal, scales", jnum(s2, "box_classes") > 1 ? "a box per class" : "one box");
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(s2, "box_coder_scales")) printf(" %g", d->valuedouble);
        printf("; nms score > %g, iou %g, %d per class, %d total\n", jnum(nms, "score_threshold"), jnum(nms, "iou_threshold"),
               (int)jnum(nms, "max_per_class"), (int)jnum(nms, "max_detections"));
        if (mk)
            printf("masks: %dx%d, %d class channel%s (detection_masks)\n", (int)jidx(cJSON_GetObjectItem(mk, "mask_size"), 0),
                   (int)jidx(cJSON_GetObjectItem(mk, "mask_size"), 1), (int)jnum(mk, "mask_classes"), jnum(mk, "mask_classes") > 1 ? "s" : "");
    } else if (cn) {
        printf("centernet: heatmap %s, offset %s, size %s; peaks in a %dx%d window, top %d\n", jstr(cn, "heatmap_tensor"),
               jstr(cn, "offset_tensor"), jstr(cn, "size_tensor"), (int)jnum(cn, "peak_window"), (int)jnum(cn, "peak_window"),
               (int)jnum(cn, "top_k"));
    } else {
        printf("anchors: %d; box coder: center-size, scales", (int)jnum(r, "anchors"));
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(bc, "scales")) printf(" %g", d->valuedouble);
        printf("\nnms: %s, score > %g, iou %g, %d per class, %d total", jstr(r, "nms"), jnum(nms, "score_threshold"),
               jnum(nms, "iou_threshold"), (int)jnum(nms, "max_per_class"), (int)jnum(nms, "max_detections"));
        const cJSON *cw = cJSON_GetObjectItem(nms, "clip_window");
        if (cJSON_IsTrue(cJSON_GetObjectItem(nms, "boxes_renormalised_to_window")))
            printf("\nclip window: [0, 0, %g, %g] of the network input; boxes renormalised to the image", jidx(cw, 2),
                   jidx(cw, 3));
        printf("\n");
    }
    printf("class offset %d; nodes: %d -> %d; target %s, opset %d; wrote %s\n", (int)jnum(r, "class_offset"),
           (int)jnum(nodes, "before"), (int)jnum(nodes, "after"), jstr(r, "target"), (int)jnum(r, "opset"), out);
    cJSON_Delete(r);
}

/* BxHxWxC into shape; 0 with the usage error printed */
static int parse_shape4(const char *verb, const char *v, int64_t shape[4]) {
    long long d[4];
    char tail;
    if (sscanf(v, "%lldx%lldx%lldx%lld%c", &d[0], &d[1], &d[2], &d[3], &tail) != 4) {
        fprintf(stderr, "odrt %s: --input-shape wants BxHxWxC, got '%s'\n", verb, v);
        return 0;
    }
    for (int k = 0; k < 4; k++) shape[k] = d[k];
    return 1;
}

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *report = NULL, *debug[MAX_DEBUG];
    odrt_convert_options_t o;
    odrt_convert_options_init(&o);
    o.debug_outputs = debug;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "-o") && v) out = v;
        else if (!strcmp(a, "--target") && v) o.target = v;
        else if (!strcmp(a, "--nms") && v) o.nms = v;
        else if (!strcmp(a, "--precision") && v) o.precision = v;
        else if (!strcmp(a, "--calibration") && v) o.calibration = v;
        else if (!strcmp(a, "--calibration-method") && v) o.calibration_method = v;
        else if (!strcmp(a, "--report") && v) report = v;
        else if (!strcmp(a, "--input-shape") && v) {
            if (!parse_shape4("convert", v, o.input_shape)) return 2;
        } else if (!strcmp(a, "--input-dtype") && v) {
            if (!strcmp(v, "uint8")) o.input_dtype = ODRT_DT_UINT8;
            else if (!strcmp(v, "float32")) o.input_dtype = ODRT_DT_FLOAT;
            else {
                fprintf(stderr, "odrt convert: --input-dtype is uint8 or float32, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--input-layout") && v) {
            if (strcmp(v, "nhwc") && strcmp(v, "nchw")) {
                fprintf(stderr, "odrt convert: --input-layout is nhwc or nchw, got '%s'\n", v);
                return 2;
            }
            o.nchw = !strcmp(v, "nchw");
        } else if (!strcmp(a, "--batch") && v) {
            if (!strcmp(v, "dynamic")) o.batch = -1;
            else if (!parse_i64(v, &o.batch) || o.batch <= 0) {
                fprintf(stderr, "odrt convert: --batch is a positive number or 'dynamic', got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--score-threshold") && v) {
            if (!parse_f(v, &o.score_threshold)) return fprintf(stderr, "odrt convert: bad --score-threshold '%s'\n", v), 2;
            o.has_score_threshold = 1;
        } else if (!strcmp(a, "--iou-threshold") && v) {
            if (!parse_f(v, &o.iou_threshold) || o.iou_threshold < 0 || o.iou_threshold > 1)
                return fprintf(stderr, "odrt convert: --iou-threshold must be in [0, 1], got '%s'\n", v), 2;
            o.has_iou_threshold = 1;
        } else if (!strcmp(a, "--max-detections") && v) {
            if (!parse_i64(v, &o.max_detections) || o.max_detections <= 0)
                return fprintf(stderr, "odrt convert: bad --max-detections '%s'\n", v), 2;
        } else if (!strcmp(a, "--class-offset") && v) {
            if (!parse_i64(v, &o.class_offset)) return fprintf(stderr, "odrt convert: bad --class-offset '%s'\n", v), 2;
        } else if (!strcmp(a, "--debug-output") && v) {
            if (o.n_debug_outputs >= MAX_DEBUG) return fprintf(stderr, "odrt convert: too many --debug-output\n"), 2;
            debug[o.n_debug_outputs++] = v;
        } else {
            used = 0;
            if (a[0] == '-' || model) {
                fprintf(stderr, "odrt convert: unexpected argument '%s' (see odrt --help)\n", a);
                return 2;
            }
            model = a;
        }
        i += used;
    }
    if (!model || !out) {
        fprintf(stderr, "odrt convert: usage: odrt convert MODEL -o OUT.onnx [options] (see odrt --help)\n");
        return 2;
    }
    odrt_model_t *m;
    if (odrt_model_load(model, &m) != ODRT_OK) return cli_error("");
    char *rep = NULL;
    int rc = 0;
    if (odrt_convert(m, &o, &rep) != ODRT_OK) rc = cli_error(model);
    if (!rc) {
        /* write to a temporary name, then rename: a failed write leaves nothing behind */
        size_t n = strlen(out) + 16;
        char *tmp = malloc(n);
        if (!tmp) rc = 1;
        else {
            snprintf(tmp, n, "%s.odrt-tmp", out);
            if (odrt_model_save(m, tmp) != ODRT_OK) rc = cli_error("");
            else if (report && write_text_file(report, rep)) {
                remove(tmp);
                rc = 1;
            } else if (rename(tmp, out) != 0) {
                fprintf(stderr, "odrt convert: cannot write '%s': %s\n", out, strerror(errno));
                remove(tmp);
                if (report) remove(report);
                rc = 1;
            }
            free(tmp);
        }
    }
    if (!rc) print_summary(rep, out);
    free(rep);
    odrt_model_free(m);
    return rc;
}

/* odrt calibrate MODEL --images DIR -o calib.json [--method percentile|entropy|minmax] [--input-shape BxHxWx3]:
 * convert's int8 calibration alone; the file is the report's "int8" object, which convert
 * --precision int8 --calibration calib.json reads */
int cmd_calibrate(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    odrt_convert_options_t o;
    odrt_convert_options_init(&o);
    o.target = "onnx", o.precision = "int8";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-o") && v) out = v, i++;
        else if (!strcmp(a, "--images") && v) o.calibration = v, i++;
        else if (!strcmp(a, "--method") && v) o.calibration_method = v, i++;
        else if (!strcmp(a, "--input-shape") && v) {
            if (!parse_shape4("calibrate", v, o.input_shape)) return 2;
            i++;
        } else if (a[0] != '-' && !model) model = a;
        else return fprintf(stderr, "odrt calibrate: unexpected argument '%s' (see odrt --help)\n", a), 2;
    }
    if (!model || !out || !o.calibration)
        return fprintf(stderr, "odrt calibrate: usage: odrt calibrate MODEL --images DIR -o calib.json [--method M]\n"), 2;
    odrt_model_t *m;
    if (odrt_model_load(model, &m) != ODRT_OK) return cli_error("");
    char *rep = NULL;
    int rc = odrt_convert(m, &o, &rep) != ODRT_OK ? cli_error(model) : 0;
    cJSON *r = rep ? cJSON_Parse(rep) : NULL, *q = r ? cJSON_GetObjectItemCaseSensitive(r, "int8") : NULL;
    if (!rc && !q) rc = 1, fprintf(stderr, "odrt calibrate: no calibration in the conversion report\n");
    if (!rc) {
        cJSON_AddStringToObject(q, "model", model);
        char *text = cJSON_Print(q);
        rc = text ? write_text_file(out, text) : 1;
        free(text);
    }
    if (!rc) {
        cJSON *kept = cJSON_GetObjectItemCaseSensitive(q, "kept_float");
        printf("calibrated %d activations on %d images (%s); %d convolutions int8, %d kept in float:", 
               cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(q, "tensors")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(q, "images")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "method")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(q, "int8_convs")), cJSON_GetArraySize(kept));
        const cJSON *k;
        cJSON_ArrayForEach(k, kept) printf(" %s (%s)", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "node")),
                                           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "reason")));
        printf("; wrote %s\n", out);
    }
    cJSON_Delete(r);
    free(rep);
    odrt_model_free(m);
    return rc;
}
