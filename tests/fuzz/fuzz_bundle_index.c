/* libFuzzer target: a checkpoint bundle's variables.index (the LevelDB-format table, its blocks'
 * crc32c, the bundle header and entries), then a read of the object graph from a shard that does
 * not exist (it must fail cleanly). Any crash, leak or sanitizer report is a bug. */
#include <stdint.h>
#include <stdlib.h>

#include "frontend/tf/tf_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tf_bundle *b = NULL;
    if (tf_bundle_open_buffer("/nonexistent/variables", data, size, &b) != ODRT_OK) return 0;
    (void)tf_bundle_count(b);
    const uint8_t *p;
    size_t n;
    (void)tf_bundle_string(b, "_CHECKPOINTABLE_OBJECT_GRAPH", &p, &n);
    tf_bundle_free(b);
    return 0;
}
