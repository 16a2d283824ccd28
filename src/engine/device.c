/* The devices engines are made for, with what each engine may hold; and the op table's rows. */
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"

const eng_device eng_device_cpu = {"cpu", ENG_PREC_FP32 | ENG_PREC_INT8, 0, 1, ENG_WEIGHTS_PANEL16};
const eng_device eng_device_cuda = {"cuda", ENG_PREC_FP32 | ENG_PREC_FP16, 1, 0, ENG_WEIGHTS_PANEL16};
static const eng_device *const devices[] = {&eng_device_cpu, &eng_device_cuda};
static const struct {
    const char *name;
    unsigned code;
} precisions[] = {{"fp32", ENG_PREC_FP32}, {"fp16", ENG_PREC_FP16}, {"int8", ENG_PREC_INT8}};

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

const eng_device *eng_device_find(const char *name) {
    for (size_t i = 0; name && i < LEN(devices); i++)
        if (!strcmp(devices[i]->name, name)) return devices[i];
    return NULL;
}

unsigned eng_precision_code(const char *name) {
    for (size_t i = 0; name && i < LEN(precisions); i++)
        if (!strcmp(precisions[i].name, name)) return precisions[i].code;
    return 0;
}

const char *eng_known_names(int what) {
    static _Thread_local char buf[64];
    size_t at = 0, n = what ? LEN(precisions) : LEN(devices);
    buf[0] = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", i ? ", " : "", what ? precisions[i].name : devices[i]->name);
    return buf;
}

const char *eng_device_precisions(const eng_device *dev) {
    static _Thread_local char buf[64];
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < LEN(precisions); i++)
        if (dev->precisions & precisions[i].code)
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", at ? ", " : "", precisions[i].name);
    return buf;
}

/* ---- the op table ---- */
static const eng_op_info op_info[] = {
    {"?", 0, 0, 0},
#define ENG_X_INFO(kind, name, min_in, max_in, fields) {name, min_in, max_in, fields},
    ENG_OP_TABLE(ENG_X_INFO)
#undef ENG_X_INFO
};
_Static_assert(LEN(op_info) == EOP_COUNT, "op_info: one row per engine op kind (engine_ops.h)");

const eng_op_info *eng_op_info_of(int kind) { return kind > EOP_NONE && kind < EOP_COUNT ? &op_info[kind] : NULL; }

const char *eng_op_kind_name(int kind) { return kind > EOP_NONE && kind < EOP_COUNT ? op_info[kind].name : "?"; }

static const char *conv_names[] = {"conv-gemm", "conv-dw", "conv-im2col"};
_Static_assert(LEN(conv_names) == CONV_KIND_COUNT, "conv_names: one per conv kernel variant");

int eng_op_class(const eng_op *o) {
    if (o->kind == EOP_CONV && o->conv_kind >= 0 && o->conv_kind < CONV_KIND_COUNT) return EOP_COUNT + o->conv_kind;
    return o->kind > EOP_NONE && o->kind < EOP_COUNT ? o->kind : EOP_NONE;
}

const char *eng_op_class_name(int cls) {
    if (cls >= EOP_COUNT && cls < ENG_OP_CLASSES) return conv_names[cls - EOP_COUNT];
    return eng_op_kind_name(cls);
}
