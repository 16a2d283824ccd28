/* libFuzzer target: the engine loader (header, sections, metadata JSON, plan validation by the
 * CPU backend) and, for a file that loads, one detection on a small frame (kernels, pre- and
 * post-processing on validated plans). Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which
 * skips the checksums so mutations reach the parsers. Seed: tests/fuzz/make_engine_seed.py. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "odrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    odrt_engine_t *e;
    if (odrt_engine_load_buffer(data, size, 1, &e) != ODRT_OK) return 0;
    int64_t d[4] = {1, 11, 7, 3};
    odrt_tensor_t *f;
    if (odrt_tensor_create(ODRT_DT_UINT8, 4, d, &f) == ODRT_OK) {
        for (size_t i = 0; i < f->nbytes; i++) ((uint8_t *)f->data)[i] = (uint8_t)(i * 31);
        odrt_detections_t det[256];
        int n = odrt_engine_batch(e);
        const odrt_tensor_t *fr[256];
        for (int i = 0; i < n && i < 256; i++) fr[i] = f;
        if (n <= 256 && odrt_engine_detect(e, n, fr, det) == ODRT_OK)
            for (int i = 0; i < n; i++) odrt_detections_clear(&det[i]);
        odrt_tensor_free(f);
    }
    odrt_engine_free(e);
    return 0;
}
