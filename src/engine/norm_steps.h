/* The export's normalisation steps (engine metadata), shared by the CPU engine's preprocessing
 * (preproc.c) and the CUDA backend's preprocessing kernel, so that both compute the same floats. */
#ifndef ODRT_ENGINE_NORM_STEPS_H
#define ODRT_ENGINE_NORM_STEPS_H

#include "engine/engine.h"

/* steps [s0, s1) of s applied to channel c's value v (kinds: 0 mul, 1 div, 2 add, 3 sub, 4 rsub) */
ENG_FN float eng_norm_steps(const eng_norm *s, float v, int c, int s0, int s1) {
    for (int i = s0; i < s1; i++) {
        float k = s[i].v[c];
        switch (s[i].kind) {
        case 0: v = v * k; break;
        case 1: v = v / k; break;
        case 2: v = v + k; break;
        case 3: v = v - k; break;
        default: v = k - v; break;
        }
    }
    return v;
}

#endif
