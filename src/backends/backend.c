/* The backends this odrt was built with, by device name. */
#include <string.h>

#include "backends/backend.h"
#include "backends/cpu/kernels.h"
#include "util.h"

const eng_backend_i *eng_backend_for(const char *device) {
    if (!strcmp(device, "cpu")) return &eng_backend_cpu;
#ifdef ODRT_HAVE_CUDA
    if (!strcmp(device, "cuda")) return &eng_backend_cuda;
#endif
#ifdef ODRT_HAVE_CUDA
    odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: built for device '%s'; this odrt runs cpu and cuda engines", device);
#else
    odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: built for device '%s'; this odrt runs cpu engines (it was built without CUDA)",
              device);
#endif
    return NULL;
}

const char *odrt_backends(void) {
#ifdef ODRT_HAVE_CUDA
    return "cpu cuda";
#else
    return "cpu";
#endif
}

const char *odrt_cpu_kernels(void) { return cpu_kernels_best()->isa; }
