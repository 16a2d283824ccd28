/* A bounded-nesting check of protobuf bytes, driven by protobuf-c's own descriptors: run before
 * unpacking untrusted messages (protobuf-c recurses once per nested message). */
#ifndef ODRT_PB_DEPTH_H
#define ODRT_PB_DEPTH_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define MAX_MSG_DEPTH 128 /* message nesting accepted before unpacking */

/* 0 if messages nest deeper than MAX_MSG_DEPTH from root; malformed data ends the scan (protobuf-c reports). */
int pb_depth_ok(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *root);

#endif
