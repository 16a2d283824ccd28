/* Runs one materialised ONNX backend node test (tools/fixtures/make_node_tests.py) on the CPU
 * reference executor and compares every output with the ONNX reference outputs using the test's
 * tolerance (|got - want| <= atol + rtol * |want|, NaN == NaN). Exit 0 pass, 1 fail.
 *
 *   node_runner [--expect-unsupported] CASE_DIR
 *
 * A case that needs something odrt does not support prints "UNSUPPORTED: why": with
 * --expect-unsupported (the case is pinned in tests/node_skips.txt) it exits 77, a CTest skip,
 * and passing then fails (the pin is stale); without it, unsupported is a failure. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odrt.h"

#define SKIP 77

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

static double get(const odrt_tensor_t *t, int64_t i) {
    switch (t->dtype) {
    case ODRT_DT_FLOAT: return ((const float *)t->data)[i];
    case ODRT_DT_DOUBLE: return ((const double *)t->data)[i];
    case ODRT_DT_INT8: return ((const int8_t *)t->data)[i];
    case ODRT_DT_INT16: return ((const int16_t *)t->data)[i];
    case ODRT_DT_INT32: return ((const int32_t *)t->data)[i];
    case ODRT_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case ODRT_DT_UINT8: case ODRT_DT_BOOL: return ((const uint8_t *)t->data)[i];
    case ODRT_DT_UINT16: return ((const uint16_t *)t->data)[i];
    case ODRT_DT_FLOAT16: {
        uint16_t h = ((const uint16_t *)t->data)[i];
        double sign = h & 0x8000 ? -1 : 1;
        int e = (h >> 10) & 0x1f, mant = h & 0x3ff;
        if (e == 31) return mant ? NAN : sign * INFINITY;
        return e ? sign * ldexp(1.0 + mant / 1024.0, e - 15) : sign * ldexp(mant / 1024.0, -14);
    }
    case ODRT_DT_UINT32: return ((const uint32_t *)t->data)[i];
    case ODRT_DT_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return NAN;
    }
}

static int run_case(const char *dir);

int main(int argc, char **argv) {
    int expect = argc == 3 && !strcmp(argv[1], "--expect-unsupported");
    if (argc != 2 + expect) {
        fprintf(stderr, "usage: node_runner [--expect-unsupported] CASE_DIR\n");
        return 2;
    }
    int rc = run_case(argv[1 + expect]);
    if (rc == SKIP && !expect) printf("FAIL: unsupported, and tests/node_skips.txt does not list this case\n");
    if (rc == 0 && expect) printf("FAIL: passes, but tests/node_skips.txt lists it as unsupported: remove it there\n");
    return rc == SKIP ? (expect ? SKIP : 1) : rc == 0 ? (expect ? 1 : 0) : rc;
}

static int run_case(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *txt = slurp(path);
    cJSON *meta = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (!meta) {
        printf("FAIL: cannot read %s\n", path);
        return 1;
    }
    const cJSON *skip = cJSON_GetObjectItem(meta, "skip");
    if (cJSON_IsString(skip)) {
        printf("UNSUPPORTED: %s\n", skip->valuestring);
        cJSON_Delete(meta);
        return SKIP;
    }
    double rtol = cJSON_GetObjectItem(meta, "rtol")->valuedouble, atol = cJSON_GetObjectItem(meta, "atol")->valuedouble;
    const cJSON *ins = cJSON_GetObjectItem(meta, "inputs"), *outs = cJSON_GetObjectItem(meta, "outputs");
    int n_in = cJSON_GetArraySize(ins), rc = 0;
    odrt_model_t *m = NULL;
    odrt_session_t *s = NULL;
    odrt_tensor_t **in = calloc((size_t)n_in + 1, sizeof *in), **out = NULL;
    const char **names = calloc((size_t)n_in + 1, sizeof *names);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    odrt_status_t st = odrt_model_load(path, &m);
    if (st == ODRT_OK) st = odrt_session_create(m, &s);
    for (int i = 0; st == ODRT_OK && i < n_in; i++) {
        names[i] = cJSON_GetArrayItem(ins, i)->valuestring;
        snprintf(path, sizeof path, "%s/input_%d.npy", dir, i);
        st = odrt_npy_load(path, &in[i]);
        /* onnx's loader hands 0-d data as shape (1,): give the model the scalar it declares */
        for (int k = 0; st == ODRT_OK && k < odrt_model_num_inputs(m); k++) {
            odrt_dtype_t dt;
            int rank;
            int64_t dims[ODRT_MAX_RANK];
            if (strcmp(odrt_model_input_name(m, k), names[i]) || odrt_model_input_info(m, k, &dt, &rank, dims) != ODRT_OK) continue;
            if (rank == 0 && in[i]->rank == 1 && in[i]->dims[0] == 1) in[i]->rank = 0;
        }
    }
    if (st == ODRT_OK) {
        out = calloc((size_t)odrt_model_num_outputs(m) + 1, sizeof *out);
        st = odrt_session_run(s, n_in, names, (const odrt_tensor_t *const *)in, out);
    }
    if (st != ODRT_OK) {
        printf("%s: %s\n", st == ODRT_ERR_UNSUPPORTED ? "UNSUPPORTED" : "FAIL", odrt_last_error());
        rc = st == ODRT_ERR_UNSUPPORTED ? SKIP : 1;
        goto done;
    }
    for (int o = 0; o < cJSON_GetArraySize(outs) && !rc; o++) {
        odrt_tensor_t *want;
        snprintf(path, sizeof path, "%s/output_%d.npy", dir, o);
        if (odrt_npy_load(path, &want) != ODRT_OK) {
            printf("FAIL: %s\n", odrt_last_error());
            rc = 1;
            break;
        }
        const odrt_tensor_t *got = out[o];
        const char *name = cJSON_GetArrayItem(outs, o)->valuestring;
        if (got->dtype != want->dtype) {
            printf("FAIL: output '%s' is %s, expected %s\n", name, odrt_dtype_name(got->dtype), odrt_dtype_name(want->dtype));
            rc = 1;
        } else if ((got->rank != want->rank || memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->rank)) &&
                   !(got->rank == 0 && want->rank == 1 && want->dims[0] == 1)) { /* loader's 0-d as (1,) */
            printf("FAIL: output '%s' has shape [", name);
            for (int d = 0; d < got->rank; d++) printf("%s%lld", d ? "," : "", (long long)got->dims[d]);
            printf("], expected [");
            for (int d = 0; d < want->rank; d++) printf("%s%lld", d ? "," : "", (long long)want->dims[d]);
            printf("]\n");
            rc = 1;
        } else {
            int exact = got->dtype != ODRT_DT_FLOAT && got->dtype != ODRT_DT_DOUBLE && got->dtype != ODRT_DT_FLOAT16;
            for (int64_t i = 0; i < odrt_tensor_numel(got); i++) {
                double a = get(got, i), b = get(want, i);
                int ok = exact ? a == b : (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= atol + rtol * fabs(b);
                if (!ok) {
                    printf("FAIL: output '%s'[%lld] = %.9g, expected %.9g (rtol %g, atol %g)\n", name, (long long)i, a, b, rtol, atol);
                    rc = 1;
                    break;
                }
            }
        }
        odrt_tensor_free(want);
    }
    if (!rc) printf("PASS\n");
done:
    if (out && m)
        for (int o = 0; o < odrt_model_num_outputs(m); o++) odrt_tensor_free(out[o]);
    free(out);
    for (int i = 0; i < n_in; i++) odrt_tensor_free(in[i]);
    free(in);
    free(names);
    odrt_session_free(s);
    odrt_model_free(m);
    cJSON_Delete(meta);
    return rc;
}
