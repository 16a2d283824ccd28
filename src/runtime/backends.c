/* The backends this odrt was built with, by device name. */
#include <string.h>

#include "runtime/runtime.h"
#include "backends/cpu/kernels.h"
#include "util.h"

static const eng_backend_i *const backends[] = {
    &eng_backend_cpu,
#ifdef ODRT_HAVE_CUDA
    &eng_backend_cuda,
#endif
};

const eng_backend_i *eng_backend_for(const char *device) {
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (!strcmp(backends[i]->dev->name, device)) return backends[i];
#ifdef ODRT_HAVE_CUDA
    odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: built for device '%s'; this odrt runs cpu and cuda engines", device);
#else
    odrt_fail(ODRT_ERR_UNSUPPORTED, "engine: built for device '%s'; this odrt runs cpu engines (it was built without CUDA)", device);
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

const char *odrt_cpu_kernels(void) { return cpu_kernels_pick(NULL)->isa; }
