import Foundation
import XCTest
@testable import MurmurInference

/// The binary64 functions (used for float64 tensors and trigonometry) against the platform's
/// libm as a reference (tests may use libm; kernels never do).
final class ScalarMathTests: XCTestCase {
    func testAgainstReference() {
        var worst: [String: Double] = [:]
        func check(_ name: String, _ ours: (Double) -> Double, _ ref: (Double) -> Double, _ xs: [Double]) {
            for x in xs {
                let a = ours(x), b = ref(x)
                if a.isNaN && b.isNaN { continue }
                let err = abs(a - b) / max(abs(b), 1e-300)
                worst[name] = max(worst[name] ?? 0, abs(a - b) <= 1e-300 ? 0 : err)
            }
        }
        let wide = stride(from: -30.0, through: 30.0, by: 0.0137).map { $0 }
        let unit = stride(from: -0.9999, through: 0.9999, by: 0.00071).map { $0 }
        check("exp", ScalarMath.expD, Foundation.exp, wide)
        check("log", ScalarMath.logD, Foundation.log, wide.map { abs($0) + 1e-3 })
        check("tanh", ScalarMath.tanhD, Foundation.tanh, wide)
        check("erf", ScalarMath.erfD, Foundation.erf, wide.map { $0 / 5 })
        check("sin", ScalarMath.sinD, Foundation.sin, wide)
        check("cos", ScalarMath.cosD, Foundation.cos, wide)
        check("atan", ScalarMath.atanD, Foundation.atan, wide)
        check("asin", ScalarMath.asinD, Foundation.asin, unit)
        check("acos", ScalarMath.acosD, Foundation.acos, unit)
        check("atanh", ScalarMath.atanhD, Foundation.atanh, unit)
        check("sinh", ScalarMath.sinhD, Foundation.sinh, wide)
        check("cosh", ScalarMath.coshD, Foundation.cosh, wide)
        check("asinh", ScalarMath.asinhD, Foundation.asinh, wide)
        check("acosh", ScalarMath.acoshD, Foundation.acosh, wide.map { abs($0) + 1 })
        check("pow", { ScalarMath.powD(1.7, $0) }, { Foundation.pow(1.7, $0) }, wide)
        for (name, err) in worst.sorted(by: { $0.key < $1.key }) {
            // Far tighter than float32 needs (2^-24 ≈ 6e-8): these feed one rounding to float.
            XCTAssertLessThan(err, 1e-12, name)
        }
    }
}
