/* Choosing the kernel set at run time. */
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/kernels.h"

const cpu_kernels *cpu_kernels_best(void) {
    const char *force = getenv("ODRT_CPU_ISA");
    if (force && !strcmp(force, "generic")) return &cpu_kernels_generic;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &cpu_kernels_avx2;
#endif
    return &cpu_kernels_generic;
}
