import MurmurKernels
import XCTest

/// The striped order written plainly: 16 lane accumulators, then the fixed fold.
func referenceStriped(_ n: Int, _ term: (Int) -> Float, fma: ((Int, Float) -> Float)? = nil) -> Float {
    var lanes = [Float](repeating: 0, count: 16)
    for i in 0..<n { lanes[i % 16] = fma.map { $0(i, lanes[i % 16]) } ?? (lanes[i % 16] + term(i)) }
    var s8 = [Float](repeating: 0, count: 8), s4 = [Float](repeating: 0, count: 4)
    for l in 0..<8 { s8[l] = lanes[l] + lanes[l + 8] }
    for l in 0..<4 { s4[l] = s8[l] + s8[l + 4] }
    let s2 = [s4[0] + s4[2], s4[1] + s4[3]]
    return s2[0] + s2[1]
}

final class ReduceTests: XCTestCase {
    func testStripedOrderOnEveryISA() {
        var g = SplitMix(seed: 99)
        for n in [1, 2, 15, 16, 17, 31, 33, 100, 257] {
            let x = randomFloats(n, &g), y = randomFloats(n, &g)
            let wantSum = referenceStriped(n, { x[$0] })
            let wantDot = referenceStriped(n, { _ in 0 }, fma: { i, acc in acc.addingProduct(x[i], y[i]) })
            for isa in KernelISA.supported {
                KernelISA.force(isa)
                x.withUnsafeBufferPointer { xb in y.withUnsafeBufferPointer { yb in
                    XCTAssertEqual(Reduce.sum(xb).bitPattern, wantSum.bitPattern, "sum n=\(n) \(isa)")
                    XCTAssertEqual(Reduce.dot(xb, yb).bitPattern, wantDot.bitPattern, "dot n=\(n) \(isa)")
                    XCTAssertEqual(Reduce.max(xb), x.max()!, "max n=\(n) \(isa)")
                } }
            }
        }
        KernelISA.force(nil)
        let negZeros: [Float] = [-0.0, -0.0, -0.0]
        negZeros.withUnsafeBufferPointer { XCTAssertEqual(Reduce.sum($0).bitPattern, Float(0).bitPattern) }
        let withNaN: [Float] = [1, .nan, 3]
        withNaN.withUnsafeBufferPointer { XCTAssertTrue(Reduce.max($0).isNaN) }
        let zeros: [Float] = [-0.0, 0, -0.0]
        zeros.withUnsafeBufferPointer { XCTAssertEqual(Reduce.max($0).bitPattern, Float(0).bitPattern) }
    }
}
