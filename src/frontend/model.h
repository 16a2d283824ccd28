/* The ONNX bridge (the only protobuf-aware code) behind the public model API (model.c). */
#ifndef ODRT_MODEL_H
#define ODRT_MODEL_H

#include "ir/model.h"

/* Parse ONNX bytes. `dir`: folder for external data (NULL refuses external data). */
odrt_status_t ir_import_onnx(const void *buf, size_t len, const char *dir, ir_model **out);
/* Serialize to ONNX bytes (caller frees *buf). All tensor data inline as raw_data. */
odrt_status_t ir_export_onnx(const ir_model *m, uint8_t **buf, size_t *len);

#endif
