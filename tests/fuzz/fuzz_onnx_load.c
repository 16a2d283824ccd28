/* libFuzzer target: the ONNX loader, then everything that walks a loaded model (inspect, dot,
 * session planning, convert). Any crash, leak or sanitizer report is a bug. */
#include <stdint.h>
#include <stdlib.h>

#include "odrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    odrt_model_t *m = NULL;
    if (odrt_model_load_buffer(data, size, NULL, &m) != ODRT_OK) return 0;
    char *s = NULL;
    if (odrt_model_inspect_json(m, &s) == ODRT_OK) free(s);
    if (odrt_model_inspect_text(m, &s) == ODRT_OK) free(s);
    if (odrt_model_to_dot(m, &s) == ODRT_OK) free(s);
    odrt_session_t *sess = NULL;
    if (odrt_session_create(m, &sess) == ODRT_OK) odrt_session_free(sess);
    odrt_convert_options_t o;
    odrt_convert_options_init(&o);
    if (odrt_convert(m, &o, &s) == ODRT_OK) free(s); /* rewrites in place: last */
    odrt_model_free(m);
    return 0;
}
