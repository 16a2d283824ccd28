/* Protobuf nesting bounded before protobuf-c unpacks (its recursion follows the input). */
#include <limits.h>
#include <stdint.h>

#include "frontend/pb_depth.h"

/* MAX_MSG_DEPTH: pb_depth.h */

/* ---- bounded nesting check, driven by protobuf-c's own descriptors ---- */
typedef struct {
    const uint8_t *p, *end;
    const ProtobufCMessageDescriptor *d;
} pb_frame;

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int s = 0; s < 64 && *p < end; s += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

int pb_depth_ok(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *root) {
    pb_frame stack[MAX_MSG_DEPTH + 1];
    int sp = 0;
    stack[sp++] = (pb_frame){buf, buf + len, root};
    while (sp) {
        pb_frame *f = &stack[sp - 1];
        if (f->p >= f->end) {
            sp--;
            continue;
        }
        uint64_t key, v;
        if (!read_varint(&f->p, f->end, &key)) return 1;
        switch (key & 7) {
        case 0:
            if (!read_varint(&f->p, f->end, &v)) return 1;
            break;
        case 1:
            if ((size_t)(f->end - f->p) < 8) return 1;
            f->p += 8;
            break;
        case 5:
            if ((size_t)(f->end - f->p) < 4) return 1;
            f->p += 4;
            break;
        case 2: {
            if (!read_varint(&f->p, f->end, &v) || v > (uint64_t)(f->end - f->p)) return 1;
            const uint8_t *sub = f->p;
            f->p += v;
            const ProtobufCFieldDescriptor *fd =
                key >> 3 <= UINT_MAX ? protobuf_c_message_descriptor_get_field(f->d, (unsigned)(key >> 3)) : NULL;
            if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (sp >= MAX_MSG_DEPTH) return 0;
                stack[sp++] = (pb_frame){sub, sub + v, fd->descriptor};
            }
            break;
        }
        default: return 1;
        }
    }
    return 1;
}

