#ifndef MURMUR_PREFETCH_H
#define MURMUR_PREFETCH_H
/// Software prefetch hints for the GEMM kernels (no arithmetic; a hint never changes results).
/// Swift has no prefetch intrinsic; a static inline C function is inlined into the Swift caller.
static inline void murmur_prefetch_l1(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void murmur_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }
#endif
