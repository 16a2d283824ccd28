/* Choosing the kernel set at run time, once per process (the post-processing asks on every
 * detect). AVX-512 is chosen on Intel cores, whose two 512-bit FMA pipes double the 256-bit
 * peak; AMD's Zen 4 splits a 512-bit FMA in two, and there the avx512 set measured 2.5-5% slower
 * than avx2 on handtrack (docs/engine.md), so AMD keeps avx2. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/kernels.h"

static const cpu_kernels *best;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    const char *force = getenv("ODRT_CPU_ISA");
    best = &cpu_kernels_generic;
    if (force && !strcmp(force, "generic")) return;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    if (force && !strcmp(force, "avx2") && avx2) best = &cpu_kernels_avx2;
    else if (avx512 && ((force && !strcmp(force, "avx512")) || !__builtin_cpu_is("amd"))) best = &cpu_kernels_avx512;
    else if (avx2) best = &cpu_kernels_avx2;
#endif
}

const cpu_kernels *cpu_kernels_best(void) {
    pthread_once(&best_once, choose);
    return best;
}
