/* libFuzzer target: the frozen GraphDef reader (protobuf, functions, v1 frames and functional
 * control flow lowered to the IR), then what walks a loaded model. Any crash, leak or sanitizer
 * report is a bug. */
#include <stdint.h>
#include <stdlib.h>

#include "frontend/tf/tf_graph.h"
#include "ir/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    odrt_model_t *m = calloc(1, sizeof *m);
    if (!m) return 0;
    if (tf_read_graphdef_buffer(data, size, &m->ir, m->sha256) != ODRT_OK) {
        free(m);
        return 0;
    }
    char *s = NULL;
    if (odrt_model_inspect_text(m, &s) == ODRT_OK) free(s);
    odrt_session_t *sess = NULL;
    if (odrt_session_create(m, &sess) == ODRT_OK) odrt_session_free(sess);
    odrt_model_free(m);
    return 0;
}
