/* Choosing the kernel set (per engine, odrt_engine_options_t.cpu_isa). The CPU's features are
 * read once per process. AVX-512 is chosen on Intel cores and on AMD's Zen 5 (family 0x1A), whose
 * 512-bit FMA pipes double the 256-bit peak (a 2-core Zen 5 EPYC, 2 threads: handtrack 8.7 -> 5.7
 * ms, handtrack640 34.5 -> 21.9, EfficientDet-D0 41.9 -> 31.2); Zen 4 (family 0x19) splits a 512-bit
 * FMA in two, and there the avx512 set measured 2.5-5% slower than avx2 on handtrack
 * (docs/engine.md), so it keeps avx2 unless asked. The int8 sets:
 * AVX-512 VNNI wherever the CPU has it (on a Zen 5 EPYC the 512-bit vpdpbusd multiplied 4x as fast
 * as AVX-VNNI's 256-bit one), else AVX-VNNI, else AVX2; "avx2" asks for no 512-bit registers. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "backends/cpu/kernels.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20) /* the kernel's AArch64 hwcap bit for the dot product instructions */
#endif
#endif

#if defined(__x86_64__)
/* AVX-VNNI: CPUID leaf 7 subleaf 1, EAX bit 4 (read directly: clang 14's __builtin_cpu_supports has
 * no "avxvnni"); the caller has checked AVX2, which implies the OS saves the ymm state */
int cpu_has_avxvnni(void) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1);
}

static int has_avx2, has_avx512, has_avxvnni, has_avx512vnni, split512;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void read_features(void) {
#if defined(__GNUC__)
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    unsigned a = 0, b = 0, c = 0, d = 0, family = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) family = ((a >> 8) & 0xf) == 0xf ? 0xf + ((a >> 20) & 0xff) : (a >> 8) & 0xf;
    split512 = __builtin_cpu_is("amd") && family < 0x1a; /* Zen 4 and before: 512-bit ops in two halves */
    has_avxvnni = has_avx2 && cpu_has_avxvnni();
    has_avx512vnni = has_avx512 && __builtin_cpu_supports("avx512vnni");
#endif
}
#endif

const cpu_kernels *cpu_kernels_pick(const char *isa) {
    if (isa && !strcmp(isa, "generic")) return &cpu_kernels_generic;
#if defined(__x86_64__)
    pthread_once(&features_once, read_features);
    if (isa && !strcmp(isa, "avx2") && has_avx2) return &cpu_kernels_avx2;
    if (has_avx512 && ((isa && !strcmp(isa, "avx512")) || !split512)) return &cpu_kernels_avx512;
    if (has_avx2) return &cpu_kernels_avx2;
#endif
    return &cpu_kernels_generic;
}

const cpu_i8_kernels *cpu_i8_kernels_pick(const char *isa) {
    if (isa && !strcmp(isa, "generic")) return &cpu_i8_kernels_generic;
#if defined(__x86_64__)
    pthread_once(&features_once, read_features);
    if (isa && !strcmp(isa, "avx2") && has_avxvnni) return &cpu_i8_kernels_avxvnni; /* (no 512-bit registers asked) */
    if (has_avx512vnni) return &cpu_i8_kernels_avx512vnni;
    if (has_avxvnni) return &cpu_i8_kernels_avxvnni;
    if (has_avx2) return &cpu_i8_kernels_avx2;
#elif defined(__aarch64__) && defined(__linux__)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) return &cpu_i8_kernels_neondot;
#endif
    return &cpu_i8_kernels_generic;
}
