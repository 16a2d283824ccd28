/* Public tensors and dtype helpers. */
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *odrt_dtype_name(odrt_dtype_t dt) {
    switch (dt) {
    case ODRT_DT_FLOAT: return "float32";
    case ODRT_DT_UINT8: return "uint8";
    case ODRT_DT_INT8: return "int8";
    case ODRT_DT_UINT16: return "uint16";
    case ODRT_DT_INT16: return "int16";
    case ODRT_DT_INT32: return "int32";
    case ODRT_DT_INT64: return "int64";
    case ODRT_DT_STRING: return "string";
    case ODRT_DT_BOOL: return "bool";
    case ODRT_DT_FLOAT16: return "float16";
    case ODRT_DT_DOUBLE: return "float64";
    case ODRT_DT_UINT32: return "uint32";
    case ODRT_DT_UINT64: return "uint64";
    case ODRT_DT_BFLOAT16: return "bfloat16";
    default: return "undefined";
    }
}

size_t odrt_dtype_size(odrt_dtype_t dt) {
    switch (dt) {
    case ODRT_DT_FLOAT: case ODRT_DT_INT32: case ODRT_DT_UINT32: return 4;
    case ODRT_DT_UINT8: case ODRT_DT_INT8: case ODRT_DT_BOOL: return 1;
    case ODRT_DT_UINT16: case ODRT_DT_INT16: case ODRT_DT_FLOAT16: case ODRT_DT_BFLOAT16: return 2;
    case ODRT_DT_INT64: case ODRT_DT_DOUBLE: case ODRT_DT_UINT64: return 8;
    default: return 0;
    }
}

int64_t odrt_tensor_numel(const odrt_tensor_t *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

odrt_status_t odrt_tensor_create(odrt_dtype_t dt, int rank, const int64_t *dims, odrt_tensor_t **out) {
    *out = NULL;
    size_t es = odrt_dtype_size(dt);
    if (!es) return odrt_fail(ODRT_ERR_UNSUPPORTED, "cannot create a tensor of type %s", odrt_dtype_name(dt));
    if (rank < 0 || rank > ODRT_MAX_RANK) return odrt_fail(ODRT_ERR_SHAPE, "rank %d outside [0, %d]", rank, ODRT_MAX_RANK);
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 || !odrt_mul_ok(n, (size_t)dims[i], &n))
            return odrt_fail(ODRT_ERR_SHAPE, "bad tensor dim %lld", (long long)dims[i]);
    size_t bytes;
    if (!odrt_mul_ok(n, es, &bytes) || bytes > ((size_t)1 << 38))
        return odrt_fail(ODRT_ERR_NOMEM, "tensor too large (%zu elements)", n);
    odrt_tensor_t *t = calloc(1, sizeof *t);
    void *d = calloc(bytes ? bytes : 1, 1);
    if (!t || !d) {
        free(t);
        free(d);
        return odrt_fail(ODRT_ERR_NOMEM, "out of memory for a %zu-byte tensor", bytes);
    }
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->data = d;
    t->nbytes = bytes;
    *out = t;
    return ODRT_OK;
}

void odrt_tensor_free(odrt_tensor_t *t) {
    if (!t) return;
    free(t->data);
    free(t);
}

void odrt_detections_clear(odrt_detections_t *d) {
    if (!d) return;
    free(d->items);
    d->items = NULL, d->count = 0;
}
