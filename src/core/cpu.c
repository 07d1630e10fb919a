/* cpu.c: runtime CPU-feature detection and the choice of kernel table.
 *
 * The table is chosen once (pthread_once) from the CPU and AX_SIMD, and can be forced
 * with ax_simd_set() (tests compare every table against "generic"). Kernels of an ISA
 * live in their own file compiled with that ISA's flags, so the rest of the library runs
 * on any x86-64 (and builds on other architectures with the generic table only).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic(const ax__kernels *) active;
static uint32_t features;

static uint32_t detect(void)
{
    uint32_t f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) f |= AX_CPU_SSE42;
    if (__builtin_cpu_supports("avx")) f |= AX_CPU_AVX;
    if (__builtin_cpu_supports("avx2")) f |= AX_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= AX_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= AX_CPU_AVX512F;
#endif
    return f;
}

static const ax__kernels *best(void)
{
#ifdef AX_HAVE_AVX2
    if ((features & (AX_CPU_AVX2 | AX_CPU_FMA)) == (AX_CPU_AVX2 | AX_CPU_FMA))
        return &ax__kernels_avx2;
#endif
    return &ax__kernels_generic;
}

static void init(void)
{
    features = detect();
    const ax__kernels *k = best();
    const char *e = getenv("AX_SIMD");
    if (e && !strcmp(e, "generic")) k = &ax__kernels_generic;
    atomic_store(&active, k);
}

uint32_t ax_cpu_features(void)
{
    pthread_once(&once, init);
    return features;
}

const ax__kernels *ax__kern(void)
{
    pthread_once(&once, init);
    return atomic_load_explicit(&active, memory_order_acquire);
}

const char *ax_simd_name(void) { return ax__kern()->name; }

int ax_simd_set(const char *name)
{
    pthread_once(&once, init);
    if (!name) return ax__err(AX_E_INVALID, "simd: no name given");
    if (!strcmp(name, "generic")) {
        atomic_store(&active, &ax__kernels_generic);
        return AX_OK;
    }
    if (!strcmp(name, "auto")) {
        atomic_store(&active, best());
        return AX_OK;
    }
    if (!strcmp(name, "avx2")) {
#ifdef AX_HAVE_AVX2
        if ((features & (AX_CPU_AVX2 | AX_CPU_FMA)) == (AX_CPU_AVX2 | AX_CPU_FMA)) {
            atomic_store(&active, &ax__kernels_avx2);
            return AX_OK;
        }
        return ax__err(AX_E_UNSUPPORTED, "simd: this CPU lacks AVX2+FMA");
#else
        return ax__err(AX_E_UNSUPPORTED, "simd: built without AVX2 kernels");
#endif
    }
    return ax__err(AX_E_INVALID, "simd: unknown kernel set '%s' (generic, avx2, auto)", name);
}
