import MurmurKernelBodies
import MurmurKernels
import XCTest

/// The indirect convolution path on shapes the random geometries rarely reach: several column
/// blocks with a partial last one, stride-1 unpadded kernels read in place, strides 2 and 3 with
/// padding, grouped convolutions, channel counts that leave partial row tiles, weights packed
/// once and used under every level (repacked when MR differs), and a fused post program.
/// Bits must equal the contract's reference.
final class ConvIndirectTests: XCTestCase {
    static let pools: [WorkerPool] = [1, 2, 4].map { WorkerPool(threads: $0) }

    override func setUp() { Gemm.minParallelMultiplyAdds = 0 }
    override func tearDown() { Gemm.minParallelMultiplyAdds = 1 << 20 }

    func testShapesBitExact() {
        var g = SplitMix(seed: 404)
        // (c, h, w, m, k, stride, dilation, pads t/l/b/r, groups)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, [Int], Int)] = [
            (3, 13, 45, 8, 3, 1, 1, [1, 1, 1, 1], 1),     // several blocks, partial tail
            (5, 9, 30, 13, 1, 1, 1, [0, 0, 0, 0], 1),     // 1×1 in place, rows 8 + 5
            (4, 10, 19, 3, 3, 1, 2, [0, 0, 0, 0], 1),     // unpadded dilated, in place
            (6, 17, 21, 10, 3, 2, 1, [1, 1, 0, 1], 1),    // stride 2, uneven pads
            (4, 12, 25, 6, 5, 3, 1, [2, 2, 2, 2], 2),     // stride 3, grouped
            (8, 7, 7, 20, 3, 1, 1, [1, 1, 1, 1], 4),      // grouped, tiny planes
            (2, 40, 3, 9, 3, 2, 1, [1, 0, 1, 0], 1),      // narrow rows
            (3, 6, 50, 4, 2, 1, 1, [0, 1, 1, 0], 1),      // even kernel
        ]
        // post: max(y, 0) · 0.5 (clip then mul), as a fused Relu + Mul would run.
        let post = [EltInst(code: .clip, a: 0, sa: 0, sb: .infinity), EltInst(code: .mul, a: 1, sb: 0.5)]
        for (c, h, w, m, k, s, d, pads, groups) in cases {
            var p = Conv2DParams(batch: 2, inChannels: c, inHeight: h, inWidth: w, outChannels: m, kernelHeight: k, kernelWidth: k)
            p.strideH = s; p.strideW = s; p.dilationH = d; p.dilationW = d
            p.padTop = pads[0]; p.padLeft = pads[1]; p.padBottom = pads[2]; p.padRight = pads[3]
            p.groups = groups
            XCTAssertNil(p.problem, "\(p)")
            let x = randomFloats(2 * c * h * w, &g), wt = randomFloats(m * c / groups * k * k, &g), b = randomFloats(m, &g)
            let want = referenceConv(p, x, wt, b)
            let wantNoBias = referenceConv(p, x, wt, nil)
            let wantPost = want.map { v -> Float in let r = v < 0 ? 0 : v; return r * 0.5 }
            let pack = wt.withUnsafeBufferPointer { ConvWeightPack(weights: $0.baseAddress!, outChannels: m, groups: groups, k: c / groups * k * k) }
            for isa in KernelISA.supported {
                KernelISA.force(isa)
                for pool in Self.pools {
                    for mode in 0..<3 {
                        var y = [Float](repeating: .nan, count: want.count)
                        x.withUnsafeBufferPointer { xb in wt.withUnsafeBufferPointer { wb in b.withUnsafeBufferPointer { bb in
                            y.withUnsafeMutableBufferPointer { yb in post.withUnsafeBufferPointer { pp in
                                Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: mode == 1 ? nil : bb.baseAddress!,
                                               output: yb.baseAddress!, pool: pool, post: mode == 2 ? pp : nil, packed: pack)
                            } }
                        } } }
                        let expect = mode == 0 ? want : (mode == 1 ? wantNoBias : wantPost)
                        XCTAssertTrue(y.map(\.bitPattern) == expect.map(\.bitPattern),
                                      "\(p) isa \(isa) threads \(pool.threads) mode \(mode)")
                    }
                }
            }
            KernelISA.force(nil)
            // The previous im2col + GEMM path (the benchmark's comparison switch): the same bits.
            Conv2D.useIm2col = true
            var y = [Float](repeating: .nan, count: want.count)
            x.withUnsafeBufferPointer { xb in wt.withUnsafeBufferPointer { wb in b.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
                Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: bb.baseAddress!, output: yb.baseAddress!, pool: Self.pools[1])
            } } } }
            Conv2D.useIm2col = false
            XCTAssertTrue(y.map(\.bitPattern) == want.map(\.bitPattern), "im2col \(p)")
        }
    }

    func testPoolRowsMatchScalarVisits() {
        var g = SplitMix(seed: 9)
        let w = 70, h = 6
        var x = randomFloats(h * w, &g)
        x[5] = .nan; x[w + 9] = .nan; x[2 * w + 3] = -0.0; x[40] = .infinity
        for (kh, kw, sw, dh, dw) in [(2, 2, 2, 1, 1), (3, 3, 1, 1, 1), (2, 3, 2, 2, 1), (3, 2, 3, 1, 2), (1, 1, 1, 1, 1)] {
            let n = (w - (kw - 1) * dw - 1) / sw + 1
            for average in [false, true] {
                var want = [Float](repeating: 0, count: n)
                for i in 0..<n {
                    var best = x[i * sw], sum: Float = 0
                    for ky in 0..<kh { for kx in 0..<kw {
                        let v = x[ky * dh * w + i * sw + kx * dw]
                        sum = sum + v
                        if ky + kx > 0 { best = v > best ? v : best }
                    } }
                    want[i] = average ? sum / Float(kh * kw) : best
                }
                for isa in KernelISA.supported {
                    KernelISA.force(isa)
                    var y = [Float](repeating: 7, count: n)
                    x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
                        PoolKernels.rows(xb.baseAddress!, rowWidth: w, output: yb.baseAddress!, count: n, kh: kh, kw: kw, sw: sw,
                                         dh: dh, dw: dw, average: average, divisor: kh * kw, inputEnd: xb.baseAddress! + xb.count)
                    } }
                    XCTAssertTrue(y.map(\.bitPattern) == want.map(\.bitPattern), "\(kh)x\(kw) s\(sw) avg \(average) \(isa)")
                }
                KernelISA.force(nil)
            }
        }
    }
}
