/* The operator registry: the kernel tables of every family (k_*.c), looked up by domain and op. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ops/exec.h"

static const ex_kernel *const TABLES[] = {ex_kernels_elementwise, ex_kernels_shape, ex_kernels_nn,
                                          ex_kernels_reduce, ex_kernels_nms, ex_kernels_resize,
                                          ex_kernels_control, ex_kernels_trt_nms, ex_kernels_crop,
                                          ex_kernels_quant};

const ex_kernel *ex_find_op(const char *domain, const char *op) {
    if (!strcmp(domain, "ai.onnx")) domain = "";
    for (size_t t = 0; t < sizeof TABLES / sizeof *TABLES; t++)
        for (const ex_kernel *k = TABLES[t]; k->op; k++)
            if (!strcmp(k->op, op) && !strcmp(k->domain, domain)) return k;
    return NULL;
}

ex_kernel_fn ex_find_kernel(const char *domain, const char *op) {
    const ex_kernel *k = ex_find_op(domain, op);
    return k ? k->fn : NULL;
}

/* "domain.Op" of every row outside ai.onnx, made once: odrt_supported_op's strings are static */
#define MAX_ROWS 512
static char full_names[MAX_ROWS][96];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void make_names(void) {
    int i = 0;
    for (size_t t = 0; t < sizeof TABLES / sizeof *TABLES; t++)
        for (const ex_kernel *k = TABLES[t]; k->op && i < MAX_ROWS; k++, i++)
            if (*k->domain) snprintf(full_names[i], sizeof full_names[i], "%s.%s", k->domain, k->op);
}

const char *odrt_supported_op(int i) {
    if (i < 0) return NULL;
    pthread_once(&names_once, make_names);
    int at = 0;
    for (size_t t = 0; t < sizeof TABLES / sizeof *TABLES; t++)
        for (const ex_kernel *k = TABLES[t]; k->op; k++, at++)
            if (at == i) return *k->domain && at < MAX_ROWS ? full_names[at] : k->op;
    return NULL;
}
