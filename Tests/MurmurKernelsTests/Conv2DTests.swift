import MurmurKernels
import XCTest

/// Direct convolution following the contract: per output, FMA over c, then ky, then kx
/// ascending from +0 (padding taps use +0.0), then + bias.
func referenceConv(_ p: Conv2DParams, _ x: [Float], _ w: [Float], _ bias: [Float]?) -> [Float] {
    let cg = p.inChannels / p.groups, mg = p.outChannels / p.groups
    let oh = p.outHeight, ow = p.outWidth
    var y = [Float](repeating: 0, count: p.batch * p.outChannels * oh * ow)
    for n in 0..<p.batch {
        for m in 0..<p.outChannels {
            let g = m / mg
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var d: Float = 0
                    for c in 0..<cg {
                        for ky in 0..<p.kernelHeight {
                            for kx in 0..<p.kernelWidth {
                                let iy = oy * p.strideH - p.padTop + ky * p.dilationH
                                let ix = ox * p.strideW - p.padLeft + kx * p.dilationW
                                let inside = iy >= 0 && iy < p.inHeight && ix >= 0 && ix < p.inWidth
                                let xv: Float = inside ? x[((n * p.inChannels + g * cg + c) * p.inHeight + iy) * p.inWidth + ix] : 0
                                let wv = w[((m * cg + c) * p.kernelHeight + ky) * p.kernelWidth + kx]
                                d = d.addingProduct(wv, xv)
                            }
                        }
                    }
                    y[((n * p.outChannels + m) * oh + oy) * ow + ox] = bias.map { d + $0[m] } ?? d
                }
            }
        }
    }
    return y
}

final class Conv2DTests: XCTestCase {
    static let pools: [WorkerPool] = [1, 2, 3, 4].map { WorkerPool(threads: $0) }

    // Split even tiny shapes across threads, so the multi-threaded paths are what is tested.
    override func setUp() { Gemm.minParallelMultiplyAdds = 0 }
    override func tearDown() { Gemm.minParallelMultiplyAdds = 1 << 20 }

    func testRandomGeometriesBitExact() {
        var g = SplitMix(seed: 21)
        func r(_ n: UInt64) -> Int { Int(g.next() % n) }
        var ran = 0
        for trial in 0..<24 {
            let groups = [1, 1, 2, 3][r(4)]
            var p = Conv2DParams(batch: 1 + r(2), inChannels: groups * (1 + r(3)), inHeight: 1 + r(9), inWidth: 1 + r(11),
                                 outChannels: groups * (1 + r(4)), kernelHeight: 1 + r(3), kernelWidth: 1 + r(3))
            p.groups = groups
            p.strideH = 1 + r(2); p.strideW = 1 + r(3)
            p.dilationH = 1 + r(2); p.dilationW = 1 + r(2)
            p.padTop = r(2); p.padLeft = r(3); p.padBottom = r(2); p.padRight = r(2)
            if trial % 6 == 0 { p.kernelHeight = 1; p.kernelWidth = 1; p.strideH = 1; p.strideW = 1; p.padTop = 0; p.padLeft = 0; p.padBottom = 0; p.padRight = 0 }
            if p.problem != nil { continue }
            ran += 1
            let x = randomFloats(p.batch * p.inChannels * p.inHeight * p.inWidth, &g)
            let w = randomFloats(p.outChannels * (p.inChannels / groups) * p.kernelHeight * p.kernelWidth, &g)
            let bias: [Float]? = trial % 2 == 0 ? randomFloats(p.outChannels, &g) : nil
            let want = referenceConv(p, x, w, bias)
            for isa in KernelISA.supported {
                KernelISA.force(isa)
                for pool in Self.pools {
                    var y = [Float](repeating: .nan, count: want.count)
                    x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in y.withUnsafeMutableBufferPointer { yb in
                        if let bias {
                            bias.withUnsafeBufferPointer { bb in
                                Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: bb.baseAddress!, output: yb.baseAddress!, pool: pool)
                            }
                        } else {
                            Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: nil, output: yb.baseAddress!, pool: pool)
                        }
                    } } }
                    XCTAssertTrue(y.map(\.bitPattern) == want.map(\.bitPattern), "\(p) isa \(isa) threads \(pool.threads)")
                }
            }
            KernelISA.force(nil)
        }
        XCTAssertGreaterThan(ran, 16)
    }

    func testDepthwiseBitExact() {
        var g = SplitMix(seed: 77)
        let geometries: [(Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
            // (channels, h, w, k, strideH, strideW, dilation, padTopLeft, padBottomRight)
            (3, 9, 37, 3, 1, 1, 1, 1, 1), (4, 20, 21, 3, 2, 2, 1, 1, 0), (2, 11, 40, 5, 1, 1, 2, 2, 1), (5, 7, 18, 1, 1, 1, 1, 0, 0),
            (2, 6, 33, 3, 3, 3, 1, 0, 2),
            // Unit strideW: output vectors four at a time across rows, plus a remainder.
            (3, 12, 80, 5, 1, 1, 1, 2, 2), (2, 6, 80, 5, 2, 1, 1, 2, 2), (2, 5, 37, 3, 1, 1, 1, 1, 1), (1, 3, 16, 3, 1, 1, 1, 1, 1),
        ]
        for (c, h, w, k, sh, sw, dil, pa, pb) in geometries {
            var p = Conv2DParams(batch: 2, inChannels: c, inHeight: h, inWidth: w, outChannels: c, kernelHeight: k, kernelWidth: k)
            p.groups = c; p.strideH = sh; p.strideW = sw; p.dilationH = dil; p.dilationW = dil
            p.padTop = pa; p.padLeft = pa; p.padBottom = pb; p.padRight = pb
            XCTAssertNil(p.problem)
            let x = randomFloats(2 * c * h * w, &g), wt = randomFloats(c * k * k, &g), b = randomFloats(c, &g)
            let want = referenceConv(p, x, wt, b)
            for isa in KernelISA.supported {
                KernelISA.force(isa)
                for pool in Self.pools {
                    var y = [Float](repeating: .nan, count: want.count)
                    x.withUnsafeBufferPointer { xb in wt.withUnsafeBufferPointer { wb in b.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
                        Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: bb.baseAddress!, output: yb.baseAddress!, pool: pool)
                    } } } }
                    XCTAssertTrue(y.map(\.bitPattern) == want.map(\.bitPattern), "depthwise \(p) isa \(isa) threads \(pool.threads)")
                }
            }
            KernelISA.force(nil)
        }
    }

    func testLargerConvAcrossThreads() {
        // Big enough that GEMM and im2col actually split across threads.
        var g = SplitMix(seed: 5)
        var p = Conv2DParams(batch: 1, inChannels: 8, inHeight: 20, inWidth: 23, outChannels: 13, kernelHeight: 3, kernelWidth: 3)
        p.padTop = 1; p.padLeft = 1; p.padBottom = 1; p.padRight = 1
        let x = randomFloats(8 * 20 * 23, &g), w = randomFloats(13 * 8 * 9, &g), b = randomFloats(13, &g)
        let want = referenceConv(p, x, w, b)
        for pool in Self.pools {
            var y = [Float](repeating: 0, count: want.count)
            x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in b.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
                Conv2D.forward(p, input: xb.baseAddress!, weights: wb.baseAddress!, bias: bb.baseAddress!, output: yb.baseAddress!, pool: pool)
            } } } }
            XCTAssertTrue(y.map(\.bitPattern) == want.map(\.bitPattern), "threads \(pool.threads)")
        }
    }
}
