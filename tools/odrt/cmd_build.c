/* odrt build: TF OD API export -> engine file. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_build(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    odrt_build_options_t o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        int r = cli_build_flag(argc, argv, &i, &o, "build");
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-' || model) {
            fprintf(stderr, "odrt build: unexpected argument '%s' (see odrt --help)\n", argv[i]);
            return 2;
        } else model = argv[i];
    }
    if (!model || !out) {
        fprintf(stderr, "odrt build: usage: odrt build MODEL -o ENGINE.odrt [options]\n");
        return 2;
    }
    double t0 = cli_now();
    odrt_model_t *m;
    if (odrt_model_load(model, &m) != ODRT_OK) return cli_error("");
    odrt_engine_t *e;
    odrt_status_t rc = odrt_engine_build(m, &o, &e);
    odrt_model_free(m);
    if (rc != ODRT_OK) return cli_error(model);
    if (odrt_engine_save(e, out) != ODRT_OK) {
        odrt_engine_free(e);
        return cli_error("");
    }
    double dt = cli_now() - t0;
    char *js = NULL;
    if (odrt_engine_info_json(e, &js) == ODRT_OK) {
        cJSON *j = cJSON_Parse(js);
        const cJSON *in = cJSON_GetObjectItem(j, "input"), *po = cJSON_GetObjectItem(j, "postprocessing"),
                    *k = cJSON_GetObjectItem(j, "kernels"), *ns = cJSON_GetObjectItem(in, "network_size");
        printf("built %s from %s in %.2f s\n", out, model, dt);
        printf("  family %s, device %s, precision %s, batch %d, network input %dx%d, classes %d, anchors %d\n",
               cJSON_GetStringValue(cJSON_GetObjectItem(j, "family")), cJSON_GetStringValue(cJSON_GetObjectItem(j, "device")),
               cJSON_GetStringValue(cJSON_GetObjectItem(j, "precision")), odrt_engine_batch(e),
               (int)cJSON_GetArrayItem(ns, 0)->valuedouble, (int)cJSON_GetArrayItem(ns, 1)->valuedouble,
               odrt_engine_num_classes(e), (int)cJSON_GetObjectItem(po, "anchors")->valuedouble);
        printf("  network: %d ops (conv: %d gemm 6x16, %d depthwise, %d im2col; %d on the reference executor), "
               "%d tensors, arena %.1f MiB, weights %.1f MiB, file %.1f MiB\n",
               (int)cJSON_GetObjectItem(j, "network_ops")->valuedouble,
               (int)cJSON_GetObjectItem(k, "conv_gemm_6x16")->valuedouble, (int)cJSON_GetObjectItem(k, "conv_depthwise_direct")->valuedouble,
               (int)cJSON_GetObjectItem(k, "conv_im2col_gemm")->valuedouble, (int)cJSON_GetObjectItem(k, "reference_ops")->valuedouble,
               (int)cJSON_GetObjectItem(j, "network_tensors")->valuedouble,
               cJSON_GetObjectItem(j, "arena_bytes")->valuedouble / 1048576.0,
               cJSON_GetObjectItem(j, "weights_bytes")->valuedouble / 1048576.0, cJSON_GetObjectItem(j, "file_bytes")->valuedouble / 1048576.0);
        printf("  nms: score > %g, iou %g, %d per class, %d total; classes start at %d; %d labels\n",
               cJSON_GetObjectItem(po, "score_threshold")->valuedouble, cJSON_GetObjectItem(po, "iou_threshold")->valuedouble,
               (int)cJSON_GetObjectItem(po, "max_per_class")->valuedouble, (int)cJSON_GetObjectItem(po, "max_detections")->valuedouble,
               (int)cJSON_GetObjectItem(po, "class_offset")->valuedouble, cJSON_GetArraySize(cJSON_GetObjectItem(j, "labels")));
        cJSON_Delete(j);
    }
    free(js);
    odrt_engine_free(e);
    return 0;
}
