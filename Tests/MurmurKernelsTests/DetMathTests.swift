import Foundation
import MurmurKernels
import XCTest

/// Error of `y` against a float64 reference, in units of the float32 ulp at the reference.
func ulpError(_ y: Float, _ ref: Double) -> Double {
    if ref.isNaN { return y.isNaN ? 0 : .infinity }
    if ref.isInfinite || y.isInfinite {
        if Double(y) == ref { return 0 }
        // A finite reference beyond float range rounds to ±inf: that is correct rounding.
        if y.isInfinite, abs(ref) >= Double(Float.greatestFiniteMagnitude), (y > 0) == (ref > 0) { return 0 }
        return .infinity
    }
    let r = Float(abs(ref))
    let ulp = Double(r.isInfinite ? Float.greatestFiniteMagnitude.ulp : r.ulp)
    return abs(Double(y) - ref) / ulp
}

/// Dense sample of float32 inputs in [lo, hi]: every `step`-th bit pattern of both signs.
func sweep(_ lo: Float, _ hi: Float, count: Int = 400_000) -> [Float] {
    var out: [Float] = []
    for range in [(lo, hi)] {
        var segs: [(UInt32, UInt32, Bool)] = []
        if range.0 < 0 { segs.append((Float(0).bitPattern, (-range.0).bitPattern, true)) }
        if range.1 > 0 { segs.append((Float(0).bitPattern, range.1.bitPattern, false)) }
        let total = segs.reduce(0) { $0 + Int($1.1 - $1.0) }
        let step = max(1, total / count)
        for (a, b, neg) in segs {
            var u = a
            while u <= b {
                let f = Float(bitPattern: u)
                out.append(neg ? -f : f)
                if b - u < UInt32(step) { break }
                u += UInt32(step)
            }
            out.append(neg ? -Float(bitPattern: b) : Float(bitPattern: b))
        }
    }
    return out
}

func applyAll(_ f: UnaryMath, _ xs: [Float]) -> [Float] {
    var ys = [Float](repeating: 0, count: xs.count)
    xs.withUnsafeBufferPointer { x in ys.withUnsafeMutableBufferPointer { y in DetMath.apply(f, x, into: y) } }
    return ys
}

final class DetMathTests: XCTestCase {
    /// Documented maximum errors (Specs/kernels.md, "Measured error").
    typealias Bound = (f: UnaryMath, lo: Float, hi: Float, ulps: Double, ref: @Sendable (Double) -> Double)
    static let bounds: [Bound] = [
        (.exp, -104, 89, 1.0, { Foundation.exp($0) }),
        (.expm1, -90, 89, 1.5, { Foundation.expm1($0) }),
        (.log, 0, .greatestFiniteMagnitude, 1.0, { Foundation.log($0) }),
        (.log1p, -1, .greatestFiniteMagnitude, 1.5, { Foundation.log1p($0) }),
        (.tanh, -10, 10, 2.5, { Foundation.tanh($0) }),
        (.sigmoid, -110, 90, 2.0, { 1 / (1 + Foundation.exp(-$0)) }),
        (.erf, -5, 5, 1.5, { Foundation.erf($0) }),
        (.gelu, -1, 12, 3.0, { 0.5 * $0 * Foundation.erfc(-$0 / 2.0.squareRoot()) }),
    ]

    func testMaximumErrorAgainstFloat64() {
        for (f, lo, hi, bound, ref) in Self.bounds {
            let xs = sweep(lo, hi)
            let ys = applyAll(f, xs)
            var worst = 0.0, worstX: Float = 0
            for (x, y) in zip(xs, ys) {
                let e = ulpError(y, ref(Double(x)))
                if e > worst { worst = e; worstX = x }
            }
            print("DetMath.\(f): max \(String(format: "%.3f", worst)) ulp at \(worstX) over \(xs.count) inputs")
            XCTAssertLessThanOrEqual(worst, bound, "\(f) at \(worstX)")
        }
    }

    /// Below −1, GELU = x·Φ(x) is computed as (0.5x)(1 + erf(…)) like ONNX's reference formula,
    /// so its error is bounded absolutely (cancellation in 1 + erf), not in ulps.
    func testGeluAbsoluteErrorOnNegativeTail() {
        let xs = sweep(-12, -1).filter { $0 <= -1 }
        let ys = applyAll(.gelu, xs)
        var worst = 0.0
        for (x, y) in zip(xs, ys) {
            let ref = 0.5 * Double(x) * Foundation.erfc(-Double(x) / 2.0.squareRoot())
            worst = max(worst, abs(Double(y) - ref) / abs(Double(x)))
        }
        print("DetMath.gelu: max |error|/|x| \(worst) on [-12, -1]")
        XCTAssertLessThanOrEqual(worst, 0x1p-24)
    }

    func testPowErrorAndSpecialCases() {
        var g = SplitMix(seed: 7)
        var worst = 0.0
        for _ in 0..<200_000 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: g.next()) & 0x7fff_ffff)
            if !x.isFinite || x == 0 { continue }
            let y = Float(Double(Int64(bitPattern: g.next()) % 4000) / 37.0)
            let r = DetMath.pow(x, y)
            let e = ulpError(r, Foundation.pow(Double(x), Double(y)))
            worst = max(worst, e)
        }
        print("DetMath.pow: max \(worst) ulp")
        XCTAssertLessThanOrEqual(worst, 0.51)
        let inf = Float.infinity, nan = Float.nan
        let cases: [(Float, Float, Float)] = [
            (nan, 0, 1), (1, nan, 1), (-1, inf, 1), (-1, -inf, 1), (0.5, inf, 0), (0.5, -inf, inf),
            (2, inf, inf), (2, -inf, 0), (0, -3, inf), (-0.0, -3, -inf), (-0.0, -2, inf), (-0.0, 3, -0.0),
            (-0.0, 2.5, 0), (-inf, 3, -inf), (-inf, -3, -0.0), (-inf, 2, inf), (inf, -1, 0), (-8, 1.0 / 3, nan),
            (-2, 3, -8), (-2, 2, 4), (2, 0.5, Float(2).squareRoot()), (nan, 1, nan), (3, nan, nan),
            (10, 39, inf), (10, -46, 0), (2, -149, Float(bitPattern: 1)),
        ]
        var g2 = SplitMix(seed: 8)
        let xs = (0..<1000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: g2.next())) }
        for (e, f) in [(Float(2), { (x: Float) in x * x }), (Float(1), { (x: Float) in x })] {
            var out = [Float](repeating: 0, count: xs.count)
            let ys = [e]
            xs.withUnsafeBufferPointer { xb in ys.withUnsafeBufferPointer { yb in out.withUnsafeMutableBufferPointer { DetMath.pow(xb, yb, into: $0) } } }
            for (x, o) in zip(xs, out) {
                XCTAssertTrue(o.bitPattern == f(x).bitPattern || (o.isNaN && x.isNaN), "pow(\(x), \(e))")
                XCTAssertTrue(DetMath.pow(x, e).bitPattern == o.bitPattern || (o.isNaN && x.isNaN), "scalar pow(\(x), \(e))")
            }
        }
        for (x, y, want) in cases {
            let got = DetMath.pow(x, y)
            XCTAssertTrue(got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN), "pow(\(x), \(y)) = \(got), want \(want)")
        }
    }

    func testSpecialValues() {
        let inf = Float.infinity
        let cases: [(UnaryMath, Float, Float)] = [
            (.exp, 0, 1), (.exp, -0.0, 1), (.exp, inf, inf), (.exp, -inf, 0), (.exp, 89, inf), (.exp, -104, 0),
            (.exp, -103, Float(bitPattern: 1)), (.expm1, -0.0, -0.0), (.expm1, inf, inf), (.expm1, -inf, -1),
            (.expm1, Float.leastNonzeroMagnitude, Float.leastNonzeroMagnitude),
            (.log, 1, 0), (.log, 0, -inf), (.log, -0.0, -inf), (.log, inf, inf), (.log, -1, .nan),
            (.log1p, -1, -inf), (.log1p, -0.0, -0.0), (.log1p, inf, inf), (.log1p, -2, .nan),
            (.tanh, -0.0, -0.0), (.tanh, inf, 1), (.tanh, -inf, -1), (.tanh, Float.leastNormalMagnitude, Float.leastNormalMagnitude),
            (.sigmoid, 0, 0.5), (.sigmoid, inf, 1), (.sigmoid, -inf, 0),
            (.erf, -0.0, -0.0), (.erf, inf, 1), (.erf, -inf, -1), (.erf, 4, 1),
        ]
        for (f, x, want) in cases {
            let got = DetMath.apply(f, x)
            XCTAssertTrue(got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN), "\(f)(\(x)) = \(got), want \(want)")
            XCTAssertTrue(DetMath.apply(f, .nan).isNaN, "\(f)(nan)")
        }
    }

    /// Every ISA level and the scalar form give the same bits for every element.
    func testIdenticalBitsAcrossISAsAndForms() {
        var g = SplitMix(seed: 11)
        var xs = (0..<5000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: g.next())) }
        xs += (0..<5000).map { _ in Float(Int64(bitPattern: g.next()) % 2_000_000) / 10_000 }
        xs += [0, -0.0, .infinity, -.infinity, .nan, Float.leastNonzeroMagnitude, -Float.leastNormalMagnitude]
        defer { KernelISA.force(nil) }
        for f in UnaryMath.allCases {
            var reference: [Float]?
            for isa in KernelISA.supported {
                XCTAssertTrue(KernelISA.force(isa))
                let ys = applyAll(f, xs)
                if let r = reference {
                    XCTAssertTrue(r.map(\.bitPattern) == ys.map(\.bitPattern), "\(f) differs on \(isa)")
                } else {
                    reference = ys
                    for i in stride(from: 0, to: xs.count, by: 97) {
                        XCTAssertEqual(DetMath.apply(f, xs[i]).bitPattern, ys[i].bitPattern, "\(f) scalar vs buffer")
                    }
                }
            }
        }
        var reference: [Float]?
        let ys = xs.map { Float(Int($0.isFinite ? $0.truncatingRemainder(dividingBy: 7) : 1)) }
        for isa in KernelISA.supported {
            KernelISA.force(isa)
            var out = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { x in ys.withUnsafeBufferPointer { y in
                out.withUnsafeMutableBufferPointer { o in DetMath.pow(x, y, into: o) } } }
            if let r = reference { XCTAssertTrue(r.map(\.bitPattern) == out.map(\.bitPattern), "pow differs on \(isa)") } else { reference = out }
        }
    }
}

/// Small seeded generator for test inputs (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
