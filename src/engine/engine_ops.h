/* The engine's op kinds, one row each: the one list every other table is tied to.
 *
 *   X(KIND, "name", min_in, max_in, fields)
 *
 * KIND makes EOP_KIND; its position is the kind number engine files store (append new kinds at
 * the end; never reorder). min_in/max_in bound the op's tensor inputs; fields are the eng_op
 * parameters the kind reads (EF_* below): the validator (validate.c) requires every other blob
 * range to be empty and the residual to be -1, so a file cannot smuggle data into a field no
 * kernel looks at.
 *
 * Each table indexed by kind is checked against EOP_COUNT with a static_assert where it is
 * defined: the validator's checks (engine/validate.c), the CPU runners (backends/cpu/cpu_backend.c)
 * and the CUDA runners (backends/cuda/cuda_ops.cu). A table one row short does not compile.
 * docs/engine.md ("Adding an engine op") lists every place a new kind touches. */
#ifndef ODRT_ENGINE_OPS_H
#define ODRT_ENGINE_OPS_H

/* eng_op fields a kind reads */
#define EF_ACT 0x01u      /* act, act_lo, act_hi */
#define EF_WINDOW 0x02u   /* kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, cin, cout */
#define EF_CONV 0x04u     /* conv_kind */
#define EF_RESIDUAL 0x08u /* residual */
#define EF_WEIGHTS 0x10u  /* w_off, w_len: a blob part (packed weights, constant operand, index map, ONNX bytes) */
#define EF_BIAS 0x20u     /* b_off, b_len */
#define EF_BINARY 0x40u   /* bin, bcast, scalar */
#define EF_AXIS 0x80u     /* axis */

#define ENG_OP_TABLE(X)                                                                                             \
    X(CONV, "conv", 1, 1, EF_ACT | EF_WINDOW | EF_CONV | EF_RESIDUAL | EF_WEIGHTS | EF_BIAS)                        \
    X(BINARY, "binary", 1, 2, EF_ACT | EF_BINARY | EF_AXIS | EF_WEIGHTS) /* axis: operands swapped */             \
    X(UNARY, "unary", 1, 1, EF_ACT)                                                                                \
    X(GATHER, "gather", 1, 1, EF_WEIGHTS)                   /* out[i] = in0[idx[i]], int32 idx in the blob */    \
    X(CONCAT, "concat", 1, ENG_MAX_IN, EF_AXIS)             /* along a physical axis */                           \
    X(REF, "ref", 0, ENG_MAX_IN, EF_WEIGHTS)                /* a one-node ONNX model, the reference executor's */ \
    X(MEAN_HW, "mean-hw", 1, 1, 0)                          /* NHWC [N,H,W,C] -> [N,C,1,1] */                    \
    X(MAXPOOL, "maxpool", 1, 1, EF_WINDOW)                  /* NHWC; padding never wins */                       \
    X(CROP, "crop", 2, 2, EF_WINDOW | EF_AXIS)              /* NHWC map, boxes -> NHWC crops (kh x kw, axis: crop_mode, \
                                                               scalar: extrapolation value; src/crop_coord.h) */     \
    X(RESIZE, "resize", 1, 1, EF_WEIGHTS)                   /* NHWC bilinear; taps in the blob (lower_extra.c) */

typedef enum {
    EOP_NONE = 0, /* never stored */
#define ENG_X_ENUM(kind, name, min_in, max_in, fields) EOP_##kind,
    ENG_OP_TABLE(ENG_X_ENUM)
#undef ENG_X_ENUM
    EOP_COUNT /* one past the last kind */
} eng_op_kind;

/* conv kernel variants chosen at build time */
typedef enum { CONV_GEMM = 0, /* 1x1 stride 1 no pad: GEMM on NHWC rows */
               CONV_DW = 1,   /* depthwise (groups == Cin == Cout) direct */
               CONV_IM2COL = 2, /* groups == 1, any kernel: im2col tiles + GEMM */
               CONV_KIND_COUNT } eng_conv_kind;

/* What profiles report an op as: its kind, a conv as its kernel variant. */
#define ENG_OP_CLASSES (EOP_COUNT + CONV_KIND_COUNT)

/* the row of a kind (NULL for a kind outside the table) */
typedef struct eng_op_info {
    const char *name;
    int min_in, max_in;
    unsigned fields; /* EF_* */
} eng_op_info;
const eng_op_info *eng_op_info_of(int kind);
/* the kind's name ("conv", ...), "?" outside the table */
const char *eng_op_kind_name(int kind);

#endif
