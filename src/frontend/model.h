/* The public odrt_model_t handle and the ONNX bridge (the only protobuf-aware code). */
#ifndef ODRT_MODEL_H
#define ODRT_MODEL_H

#include "ir/ir.h"

struct odrt_model {
    ir_model *ir;
    char sha256[65]; /* of the bytes it was loaded from (hex) */
};

/* Parse ONNX bytes. `dir`: folder for external data (NULL refuses external data). */
odrt_status_t ir_import_onnx(const void *buf, size_t len, const char *dir, ir_model **out);
/* Serialize to ONNX bytes (caller frees *buf). All tensor data inline as raw_data. */
odrt_status_t ir_export_onnx(const ir_model *m, uint8_t **buf, size_t *len);

#endif
