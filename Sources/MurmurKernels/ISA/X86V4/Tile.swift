// x86-64-v4 (AVX-512): 6×32 register tile (12 zmm accumulators).
let tileNR = 32
let isaName = "x86-64-v4"
