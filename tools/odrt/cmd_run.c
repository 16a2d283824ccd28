/* odrt run: execute a model on the CPU reference executor. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

#define MAX_IN 64

static int split_arg(const char *arg, char *name, size_t cap, const char **file) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= cap) return 0;
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = 0;
    *file = eq + 1;
    return 1;
}

/* mkdir -p */
static int make_dirs(const char *path) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *outdir = ".";
    char names[MAX_IN][256];
    const char *files[MAX_IN];
    int is_image[MAX_IN], n_in = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "--input") || !strcmp(argv[i], "--image")) && i + 1 < argc) {
            if (n_in >= MAX_IN) {
                fprintf(stderr, "odrt run: too many inputs\n");
                return 2;
            }
            is_image[n_in] = !strcmp(argv[i], "--image");
            if (!split_arg(argv[++i], names[n_in], sizeof names[n_in], &files[n_in])) {
                fprintf(stderr, "odrt run: expected NAME=FILE, got '%s'\n", argv[i]);
                return 2;
            }
            n_in++;
        } else if (!strcmp(argv[i], "--output-dir") && i + 1 < argc) {
            outdir = argv[++i];
        } else if (argv[i][0] == '-' || model_path) {
            fprintf(stderr, "odrt run: unexpected argument '%s' (see odrt --help)\n", argv[i]);
            return 2;
        } else model_path = argv[i];
    }
    if (!model_path) {
        fprintf(stderr, "odrt run: missing MODEL\n");
        return 2;
    }
    odrt_model_t *m = NULL;
    odrt_session_t *s = NULL;
    odrt_tensor_t *in[MAX_IN] = {0}, **out = NULL;
    const char *in_names[MAX_IN];
    int rc = 0;
    if (odrt_model_load(model_path, &m) != ODRT_OK) return cli_error("");
    if (odrt_session_create(m, &s) != ODRT_OK) {
        rc = cli_error(model_path);
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        in_names[i] = names[i];
        if (!is_image[i]) {
            if (odrt_npy_load(files[i], &in[i]) != ODRT_OK) {
                rc = cli_error("");
                goto done;
            }
            continue;
        }
        /* resize only to a static model input size */
        int oh = 0, ow = 0;
        for (int k = 0; k < odrt_model_num_inputs(m); k++) {
            if (strcmp(odrt_model_input_name(m, k), names[i])) continue;
            odrt_dtype_t dt;
            int rank;
            int64_t dims[ODRT_MAX_RANK];
            odrt_model_input_info(m, k, &dt, &rank, dims);
            if (rank == 4 && dims[1] > 0 && dims[2] > 0) oh = (int)dims[1], ow = (int)dims[2];
        }
        if (odrt_image_load(files[i], oh, ow, &in[i]) != ODRT_OK) {
            rc = cli_error("");
            goto done;
        }
        if (oh) fprintf(stderr, "odrt run: %s resized to %dx%d (bilinear, half-pixel centres)\n", files[i], ow, oh);
    }
    int n_out = odrt_model_num_outputs(m);
    out = calloc((size_t)n_out + 1, sizeof *out);
    if (!out) {
        fprintf(stderr, "odrt: out of memory\n");
        rc = 1;
        goto done;
    }
    double t0 = now_s();
    if (odrt_session_run(s, n_in, in_names, (const odrt_tensor_t *const *)in, out) != ODRT_OK) {
        rc = cli_error("run");
        goto done;
    }
    double t1 = now_s();
    if (make_dirs(outdir) != 0) {
        fprintf(stderr, "odrt run: cannot create '%s': %s\n", outdir, strerror(errno));
        rc = 1;
        goto done;
    }
    cJSON *js = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(js, "outputs");
    cJSON_AddNumberToObject(js, "run_seconds", t1 - t0);
    for (int o = 0; o < n_out && !rc; o++) {
        const char *name = odrt_model_output_name(m, o);
        char fname[1024], path[PATH_MAX + 1100];
        snprintf(fname, sizeof fname, "%s.npy", name);
        for (char *p = fname; *p; p++)
            if (*p == '/' || *p == ':' || *p == '\\') *p = '_';
        snprintf(path, sizeof path, "%s/%s", outdir, fname);
        if (odrt_npy_save(path, out[o]) != ODRT_OK) {
            rc = cli_error("");
            break;
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", name);
        cJSON_AddStringToObject(e, "dtype", odrt_dtype_name(out[o]->dtype));
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < out[o]->rank; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)out[o]->dims[d]));
        cJSON_AddStringToObject(e, "file", fname);
        cJSON_AddItemToArray(arr, e);
        printf("%-30s %-8s [", name, odrt_dtype_name(out[o]->dtype));
        for (int d = 0; d < out[o]->rank; d++) printf("%s%lld", d ? "," : "", (long long)out[o]->dims[d]);
        printf("] -> %s\n", path);
    }
    if (!rc) {
        char *txt = cJSON_Print(js), path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/outputs.json", outdir);
        rc = txt ? write_text_file(path, txt) : 1;
        free(txt);
        fprintf(stderr, "odrt run: %.3f s\n", t1 - t0);
    }
    cJSON_Delete(js);
done:
    if (out)
        for (int o = 0; o < odrt_model_num_outputs(m); o++) odrt_tensor_free(out[o]);
    free(out);
    for (int i = 0; i < n_in; i++) odrt_tensor_free(in[i]);
    odrt_session_free(s);
    odrt_model_free(m);
    return rc;
}
