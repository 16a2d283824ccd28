/* Shared by build/detect/bench: build options from flags, and "ENGINE or MODEL" opening. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    else if (!strcmp(a, "--batch")) {
        if (!parse_int(v, 1, 256, &o->batch)) return fprintf(stderr, "odrt %s: --batch takes 1..256\n", verb), -1;
    } else if (!strcmp(a, "--threads")) {
        if (!parse_int(v, 1, 256, &o->threads)) return fprintf(stderr, "odrt %s: --threads takes 1..256\n", verb), -1;
    } else if (!strcmp(a, "--class-offset")) {
        if (!parse_int(v, -1000000, 1000000, &o->class_offset)) return fprintf(stderr, "odrt %s: bad --class-offset\n", verb), -1;
        o->has_class_offset = 1;
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
        if (odrt_engine_load(path, threads, e) != ODRT_OK) return cli_error("");
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
