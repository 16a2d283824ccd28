/* The engine's binary elementwise formula (engine.h's BIN_* ops), shared by the CPU kernels and
 * the CUDA kernels so that both compute the same floats. */
#ifndef ODRT_ENGINE_ELTWISE_H
#define ODRT_ENGINE_ELTWISE_H

#include "engine/engine.h"

/* a op b; Max and Min return a when a is NaN (NaN propagates from a, as the reference's comparisons) */
ENG_FN float eng_binary(int op, float a, float b) {
    switch (op) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    case BIN_DIV: return a / b;
    case BIN_MAX: return a > b || a != a ? a : b;
    default: return a < b || a != a ? a : b;
    }
}

#endif
