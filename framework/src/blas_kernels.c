/* Which kernels OpenBLAS runs, and which this CPU could run. Debian's
 * OpenBLAS picks its kernels from the CPU model at load time; a model it
 * does not know (common on cloud VMs) gets the old SSE3 kernels, 2-4x
 * slower, although the CPU has AVX2 or AVX-512. OpenBLAS reads
 * OPENBLAS_CORETYPE once, when it loads, so a program can only fix that
 * by starting again with the variable set (the demos do: harness.c). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ag_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

/* The wide registers are usable only if the OS saves them (XCR0). */
static unsigned long long xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

const char *ag_cpu_kernels(void) {
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0, vendor[3];
    if (!__get_cpuid(0, &eax, &vendor[0], &vendor[2], &vendor[1]) || eax < 7) return NULL;
    bool amd = memcmp(vendor, "AuthenticAMD", 12) == 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return NULL;
    bool osxsave = ecx & (1u << 27), avx = ecx & (1u << 28), fma = ecx & (1u << 12);
    if (!osxsave || !avx) return NULL;
    unsigned long long saved = xcr0();
    if ((saved & 0x6) != 0x6) return NULL; /* SSE and AVX state */
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    bool avx2 = ebx & (1u << 5), avx512 = (ebx & (1u << 16)) && (ebx & (1u << 17)) && (ebx & (1u << 30)) &&
                                          (ebx & (1u << 31)); /* F, DQ, BW, VL */
    if (avx512 && (saved & 0xe0) == 0xe0) return amd ? "Zen" : "SkylakeX"; /* OpenBLAS 0.3.21 has no AVX-512 Zen */
    if (avx2 && fma) return amd ? "Zen" : "Haswell";
    return "Sandybridge";
}
#else
const char *ag_cpu_kernels(void) { return NULL; }
#endif

const char *ag_blas_kernels(void) {
    const char *name = openblas_get_corename();
    return name ? name : "";
}

/* How much of the vector units a family uses: 1 SSE, 2 AVX, 3 AVX2 and
 * FMA, 4 AVX-512; 0 for a name not known here (then nothing is changed). */
static int rank(const char *family) {
    static const char *const sse[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Barcelona",
                                      "Opteron", "Opteron_SSE3", "Bobcat", "Nano", "Katmai", "Coppermine",
                                      "Northwood", "Athlon", "Banias"};
    static const char *const avx[] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator"};
    static const char *const avx2[] = {"Haswell", "Zen"};
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    const char *const *lists[] = {sse, avx, avx2, avx512};
    const size_t sizes[] = {sizeof sse / sizeof *sse, sizeof avx / sizeof *avx, sizeof avx2 / sizeof *avx2,
                            sizeof avx512 / sizeof *avx512};
    for (int r = 0; r < 4; r++)
        for (size_t i = 0; i < sizes[r]; i++)
            if (strcasecmp(family, lists[r][i]) == 0) return r + 1;
    return 0;
}

const char *ag_blas_kernels_to_fit(void) {
    if (getenv("OPENBLAS_CORETYPE")) return NULL; /* set by the user or the system, maybe on purpose */
    const char *best = ag_cpu_kernels();
    /* AG_TEST_BLAS_KERNELS stands in for OpenBLAS's choice in the tests:
     * this machine's OpenBLAS knows its CPU. */
    const char *chosen = getenv("AG_TEST_BLAS_KERNELS") ? getenv("AG_TEST_BLAS_KERNELS") : ag_blas_kernels();
    int have = rank(chosen), could = best ? rank(best) : 0;
    return have > 0 && could > have ? best : NULL;
}
