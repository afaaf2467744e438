/* Per-weight loops of the rules compiled twice: for the build's baseline and, on x86 with
 * gcc or clang, for AVX-512, taken when the CPU has it (cpu.h). Both compile the same C, and
 * the loops use only exact integer operations, comparisons and IEEE float arithmetic without
 * contraction, so both give the same bits. AVX-512 helps these loops beyond its width: a
 * comparison lands in a mask register and a 32-bit lane narrows to its int8 code in one
 * instruction, where AVX2 packs and permutes. */
#ifndef QTRAIN_QUANT_VECTOR_CLONE_H
#define QTRAIN_QUANT_VECTOR_CLONE_H

#include "qtrain/cpu.h"

#define QT_LOOP_BODY static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__)
#define QT_AVX512_CLONE 1
#define QT_AVX512_TARGET \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,prefer-vector-width=512")))

/* Whether the CPU runs the AVX-512 clones (byte lanes need BW, the narrow masks VL). */
static inline int qt_avx512_clone_runs(void)
{
    return qt_isa_supported(QT_ISA_AVX512) && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
#endif

#endif
