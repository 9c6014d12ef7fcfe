// Baseline: the target's default ISA (arm64: NEON with fused multiply-add; x86-64 without
// v3: SSE2 with `fmaf` calls, slow but bit-identical). 6×16 register tile.
let tileMR = 6
let tileNR = 16
#if arch(arm64)
let isaName = "arm64-neon"
#else
let isaName = "baseline"
#endif
