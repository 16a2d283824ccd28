/* The runtime: the public engine API (engine_api.c) over the backends this odrt was built with
 * (backends.c). The top layer of src/: nothing below includes it. */
#ifndef ODRT_RUNTIME_H
#define ODRT_RUNTIME_H

#include "backends/backend.h"

/* the backend for an engine's device, or NULL (error set) when this odrt has none */
const eng_backend_i *eng_backend_for(const char *device);

#endif
