/* libFuzzer target: the TF.js graph-model reader (JSON, weights manifest, dequantisation, the
 * lowering to the IR with its while-frame conversion), then what walks a loaded model. Input: a
 * little-endian uint32 JSON length, the JSON, then the shards' bytes. Any crash, leak or
 * sanitizer report is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/tf/tf_graph.h"
#include "ir/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t jl = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (jl > size - 4) jl = size - 4;
    odrt_model_t *m = calloc(1, sizeof *m);
    if (!m) return 0;
    if (tf_read_tfjs_buffer(data + 4, jl, data + 4 + jl, size - 4 - jl, &m->ir, m->sha256) != ODRT_OK) {
        free(m);
        return 0;
    }
    char *s = NULL;
    if (odrt_model_inspect_text(m, &s) == ODRT_OK) free(s);
    odrt_session_t *sess = NULL;
    if (odrt_session_create(m, &sess) == ODRT_OK) odrt_session_free(sess);
    odrt_convert_options_t o;
    odrt_convert_options_init(&o);
    if (odrt_convert(m, &o, &s) == ODRT_OK) free(s);
    odrt_model_free(m);
    return 0;
}
