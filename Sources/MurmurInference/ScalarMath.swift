/// Transcendental functions used by the operators. No platform libm: every function here is
/// built from IEEE-754 basic operations (+ − × ÷ √, fused multiply-add) in a fixed order, so
/// results are bit-identical on every machine.
///
/// float32 functions are `MurmurKernels.DetMath` (algorithms and error bounds in
/// Specs/kernels.md). The float64 functions (used only for float64 tensors) evaluate here in
/// Double: range reduction plus fixed-length series, basic operations only.
import MurmurKernels

public enum ScalarMath {
    static let ln2Hi: Double = 6.93147180369123816490e-01
    static let ln2Lo: Double = 1.90821492927058770002e-10
    static let invLn2: Double = 1.44269504088896338700e+00

    /// e^x in Double: range reduction x = k·ln2 + r, |r| ≤ ln2/2, Taylor series to r^14.
    public static func expD(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.782712893384 { return .infinity }
        if x < -745.1332191019412 { return 0 }
        let k = (x * invLn2).rounded(.toNearestOrEven)
        let r = (x - k * ln2Hi) - k * ln2Lo
        // Horner, highest order first: 1 + r(1 + r/2(1 + r/3(...)))
        var p: Double = 1
        var n: Double = 14
        while n >= 1 {
            p = 1 + (r / n) * p
            n -= 1
        }
        return scale2(p, Int(k))
    }

    /// p · 2^k without overflow in the intermediate for subnormal results.
    static func scale2(_ p: Double, _ k: Int) -> Double {
        if k > 1000 { return p * Double(sign: .plus, exponent: 1000, significand: 1) * Double(sign: .plus, exponent: k - 1000, significand: 1) }
        if k < -1000 { return p * Double(sign: .plus, exponent: -1000, significand: 1) * Double(sign: .plus, exponent: k + 1000, significand: 1) }
        return p * Double(sign: .plus, exponent: k, significand: 1)
    }

    /// ln x in Double: x = m·2^e with m ∈ [√½, √2), atanh series in f = (m−1)/(m+1).
    public static func logD(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        var e = Int(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        let f = (m - 1) / (m + 1)
        let f2 = f * f
        var s: Double = 0
        var k: Double = 23
        while k >= 1 {
            s = 1 / k + f2 * s
            k -= 2
        }
        let lnm = 2 * f * s
        let de = Double(e)
        return (de * ln2Hi + lnm) + de * ln2Lo
    }

    public static func tanhD(_ x: Double) -> Double {
        if x.isNaN { return x }
        let a = abs(x)
        if a > 22 { return x > 0 ? 1 : -1 }
        if a < 1e-5 { return x - x * x * x / 3 }
        let e = expD(2 * a)
        let t = (e - 1) / (e + 1)
        return x < 0 ? -t : t
    }

    /// erf: Maclaurin series for |x| < 2.5; beyond, 1 − erfc with erfc from its continued
    /// fraction (100 terms, evaluated backwards); ±1 from |x| ≥ 6.
    public static func erfD(_ x: Double) -> Double {
        if x.isNaN { return x }
        let a = abs(x)
        if a >= 6 { return x > 0 ? 1 : -1 }
        var r: Double
        if a < 2.5 {
            let x2 = a * a
            var term = a
            var sum = a
            var n: Double = 0
            while n < 200 {
                n += 1
                term *= -x2 / n
                let c = term / (2 * n + 1)
                sum += c
                if abs(c) < 1e-18 * abs(sum) { break }
            }
            r = min(1, sum * 1.1283791670955126)
        } else {
            var t = a
            var k: Double = 100
            while k >= 1 { t = a + (k / 2) / t; k -= 1 }
            r = 1 - expD(-a * a) / (1.7724538509055159 * t)
        }
        return x < 0 ? -r : r
    }

    public static func powD(_ x: Double, _ y: Double) -> Double {
        if y == 0 { return 1 }
        if x == 1 { return 1 }
        if x.isNaN || y.isNaN { return .nan }
        let yIsInt = y.rounded(.towardZero) == y
        let yIsOddInt = yIsInt && abs(y) < 9.007199254740992e15 && Int64(y) % 2 != 0
        if y.isInfinite {
            let ax = abs(x)
            if ax == 1 { return 1 }
            return (ax > 1) == (y > 0) ? .infinity : 0
        }
        if x == 0 {
            if y > 0 { return yIsOddInt ? x : 0 }
            return yIsOddInt ? (x.sign == .minus ? -.infinity : .infinity) : .infinity
        }
        if x.isInfinite {
            if x > 0 { return y > 0 ? .infinity : 0 }
            if y > 0 { return yIsOddInt ? -.infinity : .infinity }
            return yIsOddInt ? -0.0 : 0
        }
        if x < 0 {
            guard yIsInt else { return .nan }
            let m = powPositive(-x, y)
            return yIsOddInt ? -m : m
        }
        return powPositive(x, y)
    }

    /// x^y for x > 0: exact repeated squaring for small integer y, exp(y·ln x) otherwise.
    static func powPositive(_ x: Double, _ y: Double) -> Double {
        if y == y.rounded(.towardZero) && abs(y) <= 64 {
            var n = Int(abs(y))
            var base = x
            var r: Double = 1
            while n > 0 {
                if n & 1 == 1 { r *= base }
                base *= base
                n >>= 1
            }
            return y < 0 ? 1 / r : r
        }
        return expD(y * logD(x))
    }

    // MARK: trigonometric and hyperbolic (binary64, basic operations only)

    static let pio2Hi: Double = 1.57079632673412561417e+00
    static let pio2Lo: Double = 6.07710050650619224932e-11
    static let pio2: Double = 1.5707963267948966
    static let pio4: Double = 0.7853981633974483

    /// sin and cos of r, |r| ≤ π/4, by Taylor series to r^23 / r^22.
    static func sinCosKernel(_ r: Double) -> (Double, Double) {
        let z = r * r
        var s: Double = 0, c: Double = 0
        var k = 23.0
        while k >= 3 { s = (s + 1) * (-z / (k * (k - 1))); k -= 2 }
        k = 22
        while k >= 2 { c = (c + 1) * (-z / (k * (k - 1))); k -= 2 }
        return (r + r * s, 1 + c)
    }

    /// (sin x, cos x): x = k·π/2 + r (two-part Cody–Waite), quadrant from k mod 4.
    static func sinCos(_ x: Double) -> (Double, Double) {
        if !x.isFinite { return (.nan, .nan) }
        if abs(x) > 1e9 { return (.nan, .nan) }  // beyond the reduction's accuracy: documented
        let k = (x / pio2).rounded(.toNearestOrEven)
        let r = (x - k * pio2Hi) - k * pio2Lo
        let (s, c) = sinCosKernel(r)
        switch ((Int(k) % 4) + 4) % 4 {
        case 0: return (s, c)
        case 1: return (c, -s)
        case 2: return (-s, -c)
        default: return (-c, s)
        }
    }

    public static func sinD(_ x: Double) -> Double { x == 0 ? x : sinCos(x).0 }
    public static func cosD(_ x: Double) -> Double { sinCos(x).1 }
    public static func tanD(_ x: Double) -> Double { let (s, c) = sinCos(x); return x == 0 ? x : s / c }

    /// atan: |x| > 1 → π/2 − atan(1/|x|); t > tan(π/8) → π/4 + atan((t−1)/(t+1)); series.
    public static func atanD(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x == 0 { return x }
        var t = abs(x)
        var offset: Double = 0
        var flip = false
        if t > 1 { t = 1 / t; flip = true }
        if t > 0.41421356237309503 { offset = pio4; t = (t - 1) / (t + 1) }
        let z = t * t
        var sum: Double = 0
        var k = 61.0
        while k >= 3 { sum = (sum + (k.truncatingRemainder(dividingBy: 4) == 1 ? 1 : -1) / k) * z; k -= 2 }
        var r = offset + (t + t * sum)
        if flip { r = pio2 - r }
        return x < 0 ? -r : r
    }

    public static func asinD(_ x: Double) -> Double {
        if x.isNaN || abs(x) > 1 { return .nan }
        if abs(x) == 1 { return x * pio2 }
        return atanD(x / ((1 - x) * (1 + x)).squareRoot())
    }

    public static func acosD(_ x: Double) -> Double {
        if x.isNaN || abs(x) > 1 { return .nan }
        if x == -1 { return 2 * pio2 }
        return 2 * atanD(((1 - x) / (1 + x)).squareRoot())
    }

    public static func sinhD(_ x: Double) -> Double {
        if abs(x) < 1e-3 { return x + x * x * x / 6 + x * x * x * x * x / 120 }
        let e = expD(x)
        return (e - 1 / e) / 2
    }

    public static func coshD(_ x: Double) -> Double { let e = expD(x); return (e + 1 / e) / 2 }

    public static func asinhD(_ x: Double) -> Double {
        if abs(x) < 1e-3 { return x - x * x * x / 6 + 3 * x * x * x * x * x / 40 }
        let a = abs(x)
        let r = logD(a + (a * a + 1).squareRoot())
        return x < 0 ? -r : r
    }

    public static func acoshD(_ x: Double) -> Double {
        if x.isNaN || x < 1 { return .nan }
        return logD(x + ((x - 1) * (x + 1)).squareRoot())
    }

    public static func atanhD(_ x: Double) -> Double {
        if x.isNaN || abs(x) > 1 { return .nan }
        if abs(x) < 1e-3 { return x + x * x * x / 3 + x * x * x * x * x / 5 }
        return 0.5 * logD((1 + x) / (1 - x))
    }

    // float32: DetMath.
    @inline(__always) public static func exp(_ x: Float) -> Float { DetMath.exp(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { DetMath.log(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { DetMath.tanh(x) }
    @inline(__always) public static func erf(_ x: Float) -> Float { DetMath.erf(x) }
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { DetMath.pow(x, y) }
    @inline(__always) public static func sigmoid(_ x: Float) -> Float { DetMath.sigmoid(x) }
    @inline(__always) public static func log1p(_ x: Float) -> Float { DetMath.log1p(x) }
    @inline(__always) public static func expm1(_ x: Float) -> Float { DetMath.expm1(x) }

    /// `f` over a whole float32 array (vectorised DetMath; same bits as the scalar form).
    public static func map(_ f: UnaryMath, _ a: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: a.count)
        a.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { y in DetMath.apply(f, x, into: y) } }
        return out
    }
    @inline(__always) public static func sigmoidD(_ x: Double) -> Double { 1 / (1 + expD(-x)) }
}
