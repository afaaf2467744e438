#include "qtrain/cpu.h"

int qt_isa_supported(qt_isa isa)
{
    switch (isa) {
    case QT_ISA_AUTO:
    case QT_ISA_PORTABLE:
        return 1;
#if defined(__x86_64__) && defined(__GNUC__)
    case QT_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case QT_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
    case QT_ISA_AVX2:
    case QT_ISA_AVX512:
        return 0;
#endif
    }
    return 0;
}

qt_isa qt_isa_best(void)
{
    if (qt_isa_supported(QT_ISA_AVX512))
        return QT_ISA_AVX512;
    if (qt_isa_supported(QT_ISA_AVX2))
        return QT_ISA_AVX2;
    return QT_ISA_PORTABLE;
}

qt_isa qt_isa_resolve(qt_isa isa) { return isa == QT_ISA_AUTO ? qt_isa_best() : isa; }

const char *qt_isa_name(qt_isa isa)
{
    switch (isa) {
    case QT_ISA_AUTO: return "auto";
    case QT_ISA_PORTABLE: return "portable";
    case QT_ISA_AVX2: return "avx2";
    case QT_ISA_AVX512: return "avx512";
    }
    return "unknown";
}
