// x86-64-v4 (AVX-512): 8×32 register tile (16 zmm accumulators; A broadcast from memory).
let tileMR = 8
let tileNR = 32
let isaName = "x86-64-v4"
