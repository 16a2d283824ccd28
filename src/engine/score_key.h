/* A score as an unsigned key in the floats' order (larger score, larger key), shared by the CPU
 * post-processing (postproc.c) and the CUDA NMS (cuda_pipeline.cu), which both pick their best
 * candidates from a histogram of the keys' top ENG_KEY_TOP_BITS bits (sign, exponent and 2
 * mantissa bits). */
#ifndef ODRT_ENGINE_SCORE_KEY_H
#define ODRT_ENGINE_SCORE_KEY_H

#include <string.h>

#include "engine/engine.h"

enum { ENG_KEY_TOP_BITS = 11, ENG_KEY_TOP_SHIFT = 32 - ENG_KEY_TOP_BITS };

ENG_FN uint32_t eng_score_key(float s) {
#ifdef __CUDA_ARCH__
    uint32_t u = __float_as_uint(s);
#else
    uint32_t u;
    memcpy(&u, &s, sizeof u);
#endif
    return u ^ ((u >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

#endif
