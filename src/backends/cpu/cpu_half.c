/* The fp16 emulation of the CPU engine (odrt_engine_options_t.cpu_half): op outputs rounded as
 * a fp16 engine stores them, to measure how a model takes fp16 without a GPU. */
#include <math.h>
#include <string.h>

#include <stdlib.h>

#include "backends/cpu/cpu_internal.h"

/* x rounded to the nearest fp16 value (ties to even; overflow to inf, fp16's subnormals below
 * 2^-14), as a float */
static float round_fp16(float x) {
    float a = fabsf(x);
    if (!(a < 65520.0f)) return a != a ? x : copysignf(INFINITY, x); /* NaN stays; 65520 up: inf */
    if (a < 6.103515625e-05f) return copysignf(nearbyintf(a * 16777216.0f) / 16777216.0f, x); /* steps of 2^-24 */
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0xFFFu + ((u >> 13) & 1u)) & ~0x1FFFu; /* 10 mantissa bits, ties to even */
    memcpy(&x, &u, sizeof u);
    return x;
}

/* y rounded to fp16 (bits = 0) or its mantissas to bits bits (round half up, fp32's range) */
void cpu_round_half(float *y, int64_t n, int bits) {
    if (!bits) {
        for (int64_t i = 0; i < n; i++) y[i] = round_fp16(y[i]);
        return;
    }
    const uint32_t drop = 23u - (uint32_t)bits, half = 1u << (drop - 1), mask = ~((1u << drop) - 1);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &y[i], sizeof u);
        if ((u & 0x7f800000u) != 0x7f800000u) u = (u + half) & mask; /* Inf and NaN stay */
        memcpy(&y[i], &u, sizeof u);
    }
}

uint8_t *cpu_half_weights(const eng_plan *p, int bits) {
    uint8_t *b = eng_alloc_aligned(((size_t)p->blob_len + ENG_ALIGN) / ENG_ALIGN * ENG_ALIGN);
    if (!b) return NULL;
    memcpy(b, p->blob, (size_t)p->blob_len);
    for (int k = 0; k < p->n_ops; k++)
        if (p->ops[k].kind == EOP_CONV && p->ops[k].q_scale == 0) cpu_round_half((float *)(b + p->ops[k].w_off), p->ops[k].w_len / 4, bits);
    return b;
}
