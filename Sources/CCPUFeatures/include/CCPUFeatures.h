#ifndef MURMUR_CPU_FEATURES_H
#define MURMUR_CPU_FEATURES_H
/// 1 when the CPU runs x86-64-v3 code (AVX2, FMA, BMI2, ...), else 0.
int murmur_cpu_has_x86_64_v3(void);
/// 1 when the CPU runs AVX-512 F/BW/DQ/VL code, else 0.
int murmur_cpu_has_avx512(void);
#include "CPrefetch.h"
#endif
