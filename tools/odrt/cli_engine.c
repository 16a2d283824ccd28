/* Shared by build/detect/bench: build options from flags, and "ENGINE or MODEL" opening. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

int cli_build_flag(int argc, char **argv, int *i, odrt_build_options_t *o, const char *verb) {
    const char *a = argv[*i];
    if (*i + 1 >= argc) return 0;
    const char *v = argv[*i + 1];
    if (!strcmp(a, "--device")) o->device = v;
    else if (!strcmp(a, "--precision")) o->precision = v;
    else if (!strcmp(a, "--labels")) o->labels = v;
    else if (!strcmp(a, "--calibration")) o->calibration = v;
    else if (!strcmp(a, "--calibration-method")) o->calibration_method = v;
    else if (!strcmp(a, "--save-calibration")) o->calibration_out = v;
    else if (!strcmp(a, "--batch")) {
        if (!parse_int(v, 1, 256, &o->batch)) return fprintf(stderr, "odrt %s: --batch takes 1..256\n", verb), -1;
    } else if (!strcmp(a, "--threads")) {
        if (!parse_int(v, 1, 256, &o->threads)) return fprintf(stderr, "odrt %s: --threads takes 1..256\n", verb), -1;
    } else if (!strcmp(a, "--class-offset")) {
        if (!parse_int(v, -1000000, 1000000, &o->class_offset)) return fprintf(stderr, "odrt %s: bad --class-offset\n", verb), -1;
        o->has_class_offset = 1;
    } else if (!strcmp(a, "--score-threshold") || !strcmp(a, "--iou-threshold")) {
        char *end;
        float f = strtof(v, &end);
        if (end == v || *end || !(f >= 0 && f <= 1)) return fprintf(stderr, "odrt %s: %s takes a number in [0, 1]\n", verb, a), -1;
        if (a[2] == 's') o->score_threshold = f, o->has_score_threshold = 1;
        else o->iou_threshold = f, o->has_iou_threshold = 1;
    } else if (!strcmp(a, "--max-detections")) {
        if (!parse_int(v, 1, 100000, &o->max_detections)) return fprintf(stderr, "odrt %s: --max-detections takes 1..100000\n", verb), -1;
    } else if (!strcmp(a, "--input-shape")) {
        int h, w;
        char tail;
        if (sscanf(v, "%dx%d%c", &h, &w, &tail) != 2 || h < 1 || w < 1 || h > 16384 || w > 16384)
            return fprintf(stderr, "odrt %s: --input-shape takes HxW (e.g. 720x1280)\n", verb), -1;
        o->frame_h = h, o->frame_w = w;
    } else return 0;
    (*i)++;
    return 1;
}

int cli_is_engine_file(const char *path) {
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".odrt")) return 1; /* an engine by name: load errors say what is wrong */
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[8] = {0};
    n = fread(magic, 1, 8, f);
    fclose(f);
    return n == 8 && !memcmp(magic, "ODRTENG", 8);
}

int cli_open_engine(const char *path, const odrt_build_options_t *o, int threads, odrt_engine_t **e, double *load_s,
                    int *built) {
    double t0 = cli_now();
    *built = !cli_is_engine_file(path);
    if (!*built) {
        if (cli_load_engine(path, threads, e) != ODRT_OK) return cli_error("");
    } else {
        odrt_model_t *m;
        if (odrt_model_load(path, &m) != ODRT_OK) return cli_error("");
        odrt_build_options_t oo = *o;
        if (threads) oo.threads = threads;
        odrt_status_t rc = odrt_engine_build(m, &oo, e);
        odrt_model_free(m);
        if (rc != ODRT_OK) return cli_error(path);
    }
    if (load_s) *load_s = cli_now() - t0;
    return 0;
}

static double jn(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}
static double ji(const cJSON *a, int i) {
    const cJSON *v = cJSON_GetArrayItem(a, i);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}
static const char *js_(const cJSON *o, const char *k) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
    return v ? v : "?";
}

/* the summary `build` and `inspect ENGINE` print */
void print_engine_summary(const odrt_engine_t *e) {
    char *js = NULL;
    if (odrt_engine_info_json(e, &js) == ODRT_OK) {
        cJSON *j = cJSON_Parse(js);
        const cJSON *in = cJSON_GetObjectItem(j, "input"), *po = cJSON_GetObjectItem(j, "postprocessing"),
                    *k = cJSON_GetObjectItem(j, "kernels"), *ns = cJSON_GetObjectItem(in, "network_size"),
                    *cn = cJSON_GetObjectItem(po, "centernet");
        printf("  family %s, device %s, precision %s, batch %d, network input %dx%d, classes %d", js_(j, "family"),
               js_(j, "device"), js_(j, "precision"), odrt_engine_batch(e), (int)ji(ns, 0), (int)ji(ns, 1),
               odrt_engine_num_classes(e));
        if (cn) printf("\n");
        else printf(", anchors %d\n", (int)jn(po, "anchors"));
        char i8[48] = "";
        if (jn(k, "conv_gemm_int8") > 0) snprintf(i8, sizeof i8, " (%d of them int8)", (int)jn(k, "conv_gemm_int8"));
        printf("  network: %d ops (conv: %d gemm on 16-column panels%s, %d depthwise, %d im2col; %d on the reference executor), "
               "%d tensors, arena %.1f MiB, weights %.1f MiB, file %.1f MiB\n",
               (int)jn(j, "network_ops"), (int)jn(k, "conv_gemm_6x16"), i8, (int)jn(k, "conv_depthwise_direct"),
               (int)jn(k, "conv_im2col_gemm"), (int)jn(k, "reference_ops"), (int)jn(j, "network_tensors"),
               jn(j, "arena_bytes") / 1048576.0, jn(j, "weights_bytes") / 1048576.0, jn(j, "file_bytes") / 1048576.0);
        if (cn)
            printf("  centernet: peaks in a %dx%d window, stride %d, top %d, score > %g",
                   (int)jn(cn, "peak_window"), (int)jn(cn, "peak_window"), (int)jn(cn, "stride"), (int)jn(cn, "max_detections"),
                   jn(po, "score_threshold"));
        else
            printf("  nms: score > %g, iou %g, %d per class, %d total", jn(po, "score_threshold"), jn(po, "iou_threshold"),
                   (int)jn(po, "max_per_class"), (int)jn(po, "max_detections"));
        printf("; classes start at %d; %d labels\n", (int)jn(po, "class_offset"), cJSON_GetArraySize(cJSON_GetObjectItem(j, "labels")));
        cJSON_Delete(j);
    }
    free(js);
}

/* ---- the environment's knobs ---- */
odrt_engine_options_t cli_engine_opts;

static void log_stderr(odrt_log_level_t level, const char *message, void *user) {
    (void)level, (void)user;
    fprintf(stderr, "%s\n", message);
}

static int env_is(const char *name, const char *value) {
    const char *v = getenv(name);
    return v && !strcmp(v, value);
}

void cli_env_init(void) {
    odrt_set_log(log_stderr, NULL);
    odrt_engine_options_t *o = &cli_engine_opts;
    odrt_engine_options_init(o);
    o->profile = env_is("ODRT_PROFILE", "1");
    o->cpu_isa = getenv("ODRT_CPU_ISA");
    o->cpu_no_fuse = env_is("ODRT_NO_FUSE", "1");
    const char *h = getenv("ODRT_CPU_HALF"), *hb = getenv("ODRT_CPU_HALF_BITS");
    if (h && *h) {
        o->cpu_half = 1;
        if (strchr(h, ':') && sscanf(h, "%d:%d", &o->cpu_half_first, &o->cpu_half_last) != 2) o->cpu_half_first = 0, o->cpu_half_last = -1;
    }
    if (hb) o->cpu_half_bits = atoi(hb);
    o->cpu_half_weights = env_is("ODRT_CPU_HALF_WEIGHTS", "1");
    o->cuda_no_tensor_cores = env_is("ODRT_CUDA_TC", "0");
    o->cuda_no_stem = env_is("ODRT_CUDA_STEM", "0");
    o->cuda_no_fuse = env_is("ODRT_CUDA_FUSE", "0");
    const char *dwr = getenv("ODRT_CUDA_DWR"), *pw = getenv("ODRT_CUDA_PW"), *nt = getenv("ODRT_NUM_THREADS");
    if (dwr && (!strcmp(dwr, "1") || !strcmp(dwr, "2"))) o->cuda_dw_pixels = *dwr - '0';
    if (pw && *pw >= '0' && *pw <= '2' && !pw[1]) o->cuda_pw = *pw - '0' + 1;
    if (nt) odrt_set_reference_threads(atoi(nt));
}

void cli_build_options_init(odrt_build_options_t *o) {
    odrt_build_options_init(o);
    o->engine = &cli_engine_opts;
}

odrt_status_t cli_load_engine(const char *path, int threads, odrt_engine_t **e) {
    odrt_engine_options_t o = cli_engine_opts;
    o.threads = threads;
    return odrt_engine_load_ex(path, &o, e);
}
