/* CPU vector instruction sets the kernels can use. The build targets a baseline (AVX2 by
 * default, or none with -Dportable=true); AVX-512 kernels are compiled with function target
 * attributes and picked at run time when the CPU has them. A context can pin a lower
 * level (qt_ctx_set_isa), which is how tests run every path on one machine. */
#ifndef QTRAIN_CPU_H
#define QTRAIN_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_ISA_AUTO = 0,          /* the best this CPU supports */
    QT_ISA_PORTABLE,          /* plain C */
    QT_ISA_AVX2,              /* AVX2 + FMA, 8 floats per vector */
    QT_ISA_AVX512,            /* AVX-512F, 16 floats per vector */
} qt_isa;

/* Whether this build and CPU can run the given level (QT_ISA_AUTO and PORTABLE always can). */
int qt_isa_supported(qt_isa isa);
/* The best supported level (never QT_ISA_AUTO). */
qt_isa qt_isa_best(void);
/* AUTO resolves to the best level; anything else is returned as is. */
qt_isa qt_isa_resolve(qt_isa isa);
const char *qt_isa_name(qt_isa isa);

#ifdef __cplusplus
}
#endif

#endif
