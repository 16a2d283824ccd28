/* A TensorFlow checkpoint bundle (variables.index + variables.data-*), crc32c checked. */
#ifndef ODRT_TF_BUNDLE_H
#define ODRT_TF_BUNDLE_H

#include "frontend/tf/tf_pb.h"

typedef struct tf_bundle tf_bundle;

/* prefix: ".../variables/variables" (".index" and ".data-K-of-N" are appended) */
odrt_status_t tf_bundle_open(const char *prefix, tf_bundle **out);
/* the same with the index's bytes given (the shards are still read from prefix's files) */
odrt_status_t tf_bundle_open_buffer(const char *prefix, const uint8_t *buf, size_t len, tf_bundle **out);
void tf_bundle_free(tf_bundle *b);
/* the number of tensors the index lists */
size_t tf_bundle_count(const tf_bundle *b);
/* the tensor stored under key, in m's arena */
odrt_status_t tf_bundle_tensor(tf_bundle *b, const char *key, ir_model *m, ir_tensor **out);
/* a scalar string tensor's bytes (valid until tf_bundle_free) */
odrt_status_t tf_bundle_string(tf_bundle *b, const char *key, const uint8_t **data, size_t *len);

#endif
