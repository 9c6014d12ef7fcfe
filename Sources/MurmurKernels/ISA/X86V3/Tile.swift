// x86-64-v3 (AVX2 + FMA): 6×16 register tile (12 ymm accumulators).
let tileMR = 6
let tileNR = 16
let isaName = "x86-64-v3"
