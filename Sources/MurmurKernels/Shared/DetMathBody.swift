import MurmurKernelBodies

// Deterministic float32 math over 16 lanes. Every function uses only IEEE-754 operations that
// are correctly rounded on every platform (+, −, ×, ÷, fused multiply-add, conversions between
// float32/float64/int32) plus comparisons, selects and bit manipulation — never libm. The exact
// operation sequence is the contract in Specs/kernels.md; changing one line changes bits.
//
// This file is compiled into each ISA module (ISA/*/ hold symlinks to Shared/), so every copy is
// built with that module's -march. Lanes are independent: a lane's result never depends on its
// neighbours, and there is no cross-module inlining to go wrong.

typealias F16 = SIMD16<Float>
typealias I16 = SIMD16<Int32>
typealias D8 = SIMD8<Double>
typealias L8 = SIMD8<Int64>

/// `a × b + c` with one rounding.
@_transparent func fma(_ a: F16, _ b: F16, _ c: F16) -> F16 { c.addingProduct(a, b) }
@_transparent func fma(_ a: D8, _ b: D8, _ c: D8) -> D8 { c.addingProduct(a, b) }
@_transparent func ibits(_ x: F16) -> I16 { unsafeBitCast(x, to: I16.self) }
@_transparent func fbits(_ b: I16) -> F16 { unsafeBitCast(b, to: F16.self) }
@_transparent func lbits(_ x: D8) -> L8 { unsafeBitCast(x, to: L8.self) }
@_transparent func dbits(_ b: L8) -> D8 { unsafeBitCast(b, to: D8.self) }
@_transparent func splat(_ x: Float) -> F16 { F16(repeating: x) }
@_transparent func dsplat(_ x: Double) -> D8 { D8(repeating: x) }

/// |x| by clearing the sign bit.
@_transparent func absBits(_ x: F16) -> F16 { fbits(ibits(x) & I16(repeating: 0x7fff_ffff)) }
/// Magnitude of `mag` with the sign bit of `sign`.
@_transparent func copySign(_ mag: F16, _ sign: F16) -> F16 {
    fbits((ibits(mag) & I16(repeating: 0x7fff_ffff)) | (ibits(sign) & I16(repeating: Int32(bitPattern: 0x8000_0000))))
}
/// 2^n for n in [-126, 127], built from the exponent field.
@_transparent func pow2(_ n: I16) -> F16 { fbits((n &+ 127) &<< 23) }

enum DetMathBody {
    // MARK: constants (hex floats; see Specs/kernels.md)
    static let shifter: Float = 0x1.8p23
    static let log2e: Float = 0x1.715476p+0
    static let ln2hi: Float = 0x1.62e4p-1
    static let ln2lo: Float = 0x1.7f7d1cp-20

    /// expm1 on the reduced argument |r| ≤ ln2/2: r + r²·(1/2! + r·(1/3! + … + r·1/8!)).
    @_transparent static func expm1Reduced(_ r: F16) -> F16 {
        var q = splat(0x1.a01a02p-16)            // 1/8!
        q = fma(q, r, splat(0x1.a01a02p-13))     // 1/7!
        q = fma(q, r, splat(0x1.6c16c2p-10))     // 1/6!
        q = fma(q, r, splat(0x1.111112p-7))      // 1/5!
        q = fma(q, r, splat(0x1.555556p-5))      // 1/4!
        q = fma(q, r, splat(0x1.555556p-3))      // 1/3!
        q = fma(q, r, splat(0x1.0p-1))           // 1/2!
        return fma(r * r, q, r)
    }

    /// Range reduction x = n·ln2 + r. Returns (n, r); x must already be clamped to |x| < 2^22·ln2.
    @_transparent static func reduce(_ x: F16) -> (n: I16, kf: F16, r: F16) {
        let t = fma(x, splat(log2e), splat(shifter))
        let kf = t - splat(shifter)
        let n = ibits(t) &- ibits(splat(shifter))
        var r = fma(kf, splat(-ln2hi), x)
        r = fma(kf, splat(-ln2lo), r)
        return (n, kf, r)
    }

    @_transparent static func exp(_ x: F16) -> F16 {
        var xc = x.replacing(with: 89, where: x .> 89)
        xc = xc.replacing(with: -104, where: xc .< -104)
        let (n, _, r) = reduce(xc)
        let p = 1 + expm1Reduced(r)
        // n ∈ [-150, 128]: scale in two exact-range steps so overflow/underflow round once.
        let n1 = n &>> 1
        let n2 = n &- n1
        let y = (p * pow2(n1)) * pow2(n2)
        return y.replacing(with: x + x, where: x .!= x)
    }

    @_transparent static func expm1(_ x: F16) -> F16 {
        var xc = x.replacing(with: 89, where: x .> 89)
        xc = xc.replacing(with: -80, where: xc .< -80)
        let (n, kf, r) = reduce(xc)
        let e = expm1Reduced(r)
        // 2^n·(1+e) − 1 = 2·(s·e + (s − ½)) with s = 2^(n−1): one rounding, then an exact ×2.
        let s = pow2(n &- 1)
        var y = fma(s, e, s - 0.5) * 2
        y = y.replacing(with: e, where: kf .== 0)
        y = y.replacing(with: x, where: x .== 0)          // keeps −0
        return y.replacing(with: x + x, where: x .!= x)
    }

    /// log(1+f) for f = m − 1, m ∈ [√½, √2), plus k·ln2 (fdlibm-style split, our coefficients).
    @_transparent static func logCore(_ f: F16, _ kf: F16) -> F16 {
        let s = f / (2 + f)
        let z = s * s
        var p = splat(0x1.745d18p-3)             // 2/11
        p = fma(p, z, splat(0x1.c71c72p-3))      // 2/9
        p = fma(p, z, splat(0x1.24924ap-2))      // 2/7
        p = fma(p, z, splat(0x1.99999ap-2))      // 2/5
        p = fma(p, z, splat(0x1.555556p-1))      // 2/3
        let rr = z * p
        let hfsq = 0.5 * f * f
        return kf * ln2hi - ((hfsq - (s * (hfsq + rr) + kf * ln2lo)) - f)
    }

    /// Splits positive finite normal x into k and m ∈ [√½, √2) with x = 2^k·m.
    @_transparent static func split(_ x: F16) -> (kf: F16, m: F16) {
        let sub = x .< 0x1p-126
        let xs = x.replacing(with: x * 0x1p23, where: sub)
        let ix = ibits(xs) &- 0x3f35_04f3
        let m = fbits((ix & 0x007f_ffff) &+ 0x3f35_04f3)
        // k as a float without an int→float conversion: bits of S + k, minus S (exact, |k| < 2^22).
        var kf = fbits((ix &>> 23) &+ ibits(splat(shifter))) - splat(shifter)
        kf = kf.replacing(with: kf - 23, where: sub)
        return (kf, m)
    }

    @_transparent static func log(_ x: F16) -> F16 {
        let (kf, m) = split(x)
        var y = logCore(m - 1, kf)
        y = y.replacing(with: .infinity, where: x .== .infinity)
        y = y.replacing(with: -.infinity, where: x .== 0)
        y = y.replacing(with: .nan, where: x .< 0)
        return y.replacing(with: x + x, where: x .!= x)
    }

    @_transparent static func log1p(_ x: F16) -> F16 {
        let u = 1 + x
        // u = (1 + x)(1 + δ/u) exactly: δ by Fast2Sum, ordered by magnitude.
        let small = absBits(x) .< 1
        let delta = ((u - 1) - x).replacing(with: (u - x) - 1, where: .!small)
        let (kf, m) = split(u)
        var y = logCore(m - 1, kf) - delta / u
        y = y.replacing(with: .infinity, where: x .== .infinity)
        y = y.replacing(with: -.infinity, where: u .== 0)
        y = y.replacing(with: .nan, where: u .< 0)
        y = y.replacing(with: x, where: x .== 0)
        return y.replacing(with: x + x, where: x .!= x)
    }

    @_transparent static func tanh(_ x: F16) -> F16 {
        var ax = absBits(x)
        ax = ax.replacing(with: 20, where: ax .> 20)
        let e = expm1(ax + ax)
        let t = e / (e + 2)
        return copySign(t, x).replacing(with: x + x, where: x .!= x)
    }

    @_transparent static func sigmoid(_ x: F16) -> F16 {
        let e = exp(-absBits(x))                  // in (0, 1]: never overflows
        let d = 1 + e
        let pos = 1 / d
        let neg = e / d
        let y = pos.replacing(with: neg, where: x .< 0)
        return y.replacing(with: x + x, where: x .!= x)
    }

    @_transparent static func erf(_ x: F16) -> F16 {
        let ax = absBits(x)
        // |x| < 0.875: erf(x) = x·(2/√π) + x·(z·P(z) + lo(2/√π)), z = x².
        let z = x * x
        var pa = splat(-0x1.47a73ap-11)
        pa = fma(pa, z, splat(0x1.4a68cap-8))
        pa = fma(pa, z, splat(-0x1.b710d6p-6))
        pa = fma(pa, z, splat(0x1.ce2374p-4))
        pa = fma(pa, z, splat(-0x1.81271ep-2))
        let w = fma(z, pa, splat(-0x1.f7ac92p-25))
        let small = fma(x, splat(0x1.20dd76p+0), x * w)
        // 0.875 ≤ |x| < 3.92: erf = 1 − exp(−x²)·g(|x|), g a degree-8 polynomial in t = |x| − c.
        let hi = ax .>= 2
        let t = ax - splat(0x1.7p+0).replacing(with: 0x1.7ae148p+1, where: hi)
        var g = splat(0x1.29ba8cp-12).replacing(with: 0x1.9f6442p-18, where: hi)
        g = fma(g, t, splat(-0x1.bdc036p-11).replacing(with: -0x1.af9e56p-16, where: hi))
        g = fma(g, t, splat(0x1.20617ep-9).replacing(with: 0x1.77075cp-14, where: hi))
        g = fma(g, t, splat(-0x1.8256c2p-8).replacing(with: -0x1.676f64p-12, where: hi))
        g = fma(g, t, splat(0x1.eed9aap-7).replacing(with: 0x1.522412p-10, where: hi))
        g = fma(g, t, splat(-0x1.2ae736p-5).replacing(with: -0x1.32c560p-8, where: hi))
        g = fma(g, t, splat(0x1.528b12p-4).replacing(with: 0x1.0d40a8p-6, where: hi))
        g = fma(g, t, splat(-0x1.63698ap-3).replacing(with: -0x1.c80188p-5, where: hi))
        g = fma(g, t, splat(0x1.5416a0p-2).replacing(with: 0x1.7319e6p-3, where: hi))
        let axc = ax.replacing(with: 4, where: ax .> 4)
        let big = 1 - exp(-(axc * axc)) * g
        var y = copySign(big, x)
        y = y.replacing(with: small, where: ax .< 0.875)
        y = y.replacing(with: copySign(splat(1), x), where: ax .>= 0x1.f5c29p+1)
        y = y.replacing(with: x, where: x .== 0)           // keeps −0
        return y.replacing(with: x + x, where: x .!= x)
    }

    /// GELU, exact form: `(0.5 × x) × (1 + erf(x × 0x1.6a09e6p-1))`.
    @_transparent static func gelu(_ x: F16) -> F16 {
        let e = erf(x * splat(0x1.6a09e6p-1))
        return (0.5 * x) * (1 + e)
    }

    // MARK: pow — evaluated in float64 (|y·ln x| needs more than 24 bits), rounded once to float32.

    /// ln(x) in float64 for x ≥ 0 a float32 value (so normal in float64). ln 0 = −∞, ln ∞ = ∞.
    @_transparent static func lnD(_ x: D8) -> D8 {
        let ix = lbits(x) &- 0x3fe6_a09e_667f_3bcd
        let k = ix &>> 52
        let m = dbits((ix & 0x000f_ffff_ffff_ffff) &+ 0x3fe6_a09e_667f_3bcd)
        let f = m - 1
        let s = f / (2 + f)
        let z = s * s
        var p = dsplat(0x1.af286bca1af28p-4)     // 2/19
        p = fma(p, z, dsplat(0x1.e1e1e1e1e1e1ep-4)) // 2/17
        p = fma(p, z, dsplat(0x1.1111111111111p-3)) // 2/15
        p = fma(p, z, dsplat(0x1.3b13b13b13b14p-3)) // 2/13
        p = fma(p, z, dsplat(0x1.745d1745d1746p-3)) // 2/11
        p = fma(p, z, dsplat(0x1.c71c71c71c71cp-3)) // 2/9
        p = fma(p, z, dsplat(0x1.2492492492492p-2)) // 2/7
        p = fma(p, z, dsplat(0x1.999999999999ap-2)) // 2/5
        p = fma(p, z, dsplat(0x1.5555555555555p-1)) // 2/3
        let l1 = fma(s * z, p, s + s)            // 2s + s·z·p
        let kd = dbits(k &+ lbits(dsplat(0x1.8p52))) - dsplat(0x1.8p52)   // exact, no int→double
        var y = fma(kd, dsplat(0x1.62e42fefa39efp-1), l1)
        y = y.replacing(with: .infinity, where: x .== .infinity)
        return y.replacing(with: -.infinity, where: x .== 0)
    }

    /// e^t in float64 for t clamped to [−300, 300]; NaN stays NaN.
    @_transparent static func expD(_ t0: D8) -> D8 {
        var t = t0.replacing(with: 300, where: t0 .> 300)
        t = t.replacing(with: -300, where: t .< -300)
        let sh = dsplat(0x1.8p52)
        let u = fma(t, dsplat(0x1.71547652b82fep+0), sh)
        let kf = u - sh
        let n = lbits(u) &- lbits(sh)
        var r = fma(kf, dsplat(-0x1.62e42fee00000p-1), t)
        r = fma(kf, dsplat(-0x1.a39ef35793c76p-33), r)
        var q = dsplat(0x1.1eed8eff8d898p-29)    // 1/12!
        q = fma(q, r, dsplat(0x1.ae64567f544e4p-26))
        q = fma(q, r, dsplat(0x1.27e4fb7789f5cp-22))
        q = fma(q, r, dsplat(0x1.71de3a556c734p-19))
        q = fma(q, r, dsplat(0x1.a01a01a01a01ap-16))
        q = fma(q, r, dsplat(0x1.a01a01a01a01ap-13))
        q = fma(q, r, dsplat(0x1.6c16c16c16c17p-10))
        q = fma(q, r, dsplat(0x1.1111111111111p-7))
        q = fma(q, r, dsplat(0x1.5555555555555p-5))
        q = fma(q, r, dsplat(0x1.5555555555555p-3))
        q = fma(q, r, dsplat(0x1.0p-1))
        let p = 1 + fma(r * r, q, r)
        return p * dbits((n &+ 1023) &<< 52)
    }

    @_transparent static func powHalf(_ x: D8, _ y: D8) -> D8 {
        let ax = dbits(lbits(x) & 0x7fff_ffff_ffff_ffff)
        var r = expD(y * lnD(ax))
        // Sign and the special cases of IEEE 754 pow.
        let yInt = y.rounded(.towardZero) .== y
        let half = y * 0.5
        let yOdd = yInt .& (half.rounded(.towardZero) .!= half)
        // Sign bit set (includes −0, −∞): ±1 carrying x's sign, compared as a double.
        let xNeg = dbits((lbits(x) & L8(repeating: Int64.min)) | lbits(dsplat(1))) .< 0
        r = r.replacing(with: -r, where: xNeg .& yOdd)
        let yInf = (y .== .infinity) .| (y .== -.infinity)
        r = r.replacing(with: .nan, where: (x .< 0) .& (x .> -.infinity) .& .!yInt)
        r = r.replacing(with: x + y, where: (x .!= x) .| (y .!= y))
        r = r.replacing(with: 1, where: (x .== -1) .& yInf)
        r = r.replacing(with: 1, where: (x .== 1) .| (y .== 0))
        return r
    }

    @_transparent static func pow(_ x: F16, _ y: F16) -> F16 {
        let lo = powHalf(D8(x.lowHalf), D8(y.lowHalf))
        let hi = powHalf(D8(x.highHalf), D8(y.highHalf))
        var r = F16(lowHalf: SIMD8<Float>(lo), highHalf: SIMD8<Float>(hi))
        r = r.replacing(with: x * x, where: y .== 2)   // exact fast paths, documented
        r = r.replacing(with: x, where: y .== 1)
        return r
    }
}

extension DetMathBody {
    @_transparent
    static func eval(_ f: UnaryMath, _ v: F16) -> F16 {
        switch f {
        case .exp: return exp(v)
        case .expm1: return expm1(v)
        case .log: return log(v)
        case .log1p: return log1p(v)
        case .tanh: return tanh(v)
        case .sigmoid: return sigmoid(v)
        case .erf: return erf(v)
        case .gelu: return gelu(v)
        }
    }

    /// y[i] = f(x[i]) for i in 0..<n; x and y may be the same buffer. The tail is padded with
    /// zeros into one vector; lanes are independent, so padding never changes a result.
    static func map(_ f: UnaryMath, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            store16(eval(f, load16(x + i)), y + i)
            i += 16
        }
        if i < n {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { t in
                let tp = t.baseAddress!
                for l in 0..<16 { tp[l] = i + l < n ? x[i + l] : 0 }
                store16(eval(f, load16(tp)), tp)
                for l in 0..<(n - i) { y[i + l] = tp[l] }
            }
        }
    }

    /// z[i] = pow(x[i], y[i · yStride]) with yStride 0 (scalar exponent) or 1.
    static func powMap(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ yStride: Int,
                       _ z: UnsafeMutablePointer<Float>, _ n: Int) {
        if yStride == 0 && (y[0] == 2 || y[0] == 1) {
            // Same bits as the general path's final selects, without computing the rest.
            if y[0] == 2 { for i in 0..<n { z[i] = x[i] * x[i] } } else { for i in 0..<n { z[i] = x[i] } }
            return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { t in
            let tx = t.baseAddress!, ty = tx + 16
            var i = 0
            while i < n {
                let cnt = min(16, n - i)
                if cnt == 16 {
                    let yv = yStride == 0 ? F16(repeating: y[0]) : load16(y + i)
                    store16(pow(load16(x + i), yv), z + i)
                } else {
                    for l in 0..<16 { tx[l] = l < cnt ? x[i + l] : 1; ty[l] = l < cnt ? y[(i + l) * yStride] : 1 }
                    store16(pow(load16(tx), load16(ty)), tx)
                    for l in 0..<cnt { z[i + l] = tx[l] }
                }
                i += 16
            }
        }
    }
}

@_transparent func load16(_ p: UnsafePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}
@_transparent func load16(_ p: UnsafeMutablePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}
@_transparent func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

/// Striped reductions (Specs/kernels.md §5): lane l of a 16-lane accumulator takes elements
/// i ≡ l (mod 16) in ascending i; missing tail lanes add −0.0 (the exact identity); the 16 lanes
/// are then folded as l + (l+8), then + (l+4), + (l+2), + (l+1).
enum ReduceBody {
    @inline(__always)
    static func fold(_ v: F16) -> Float {
        let s8 = v.lowHalf + v.highHalf
        let s4 = s8.lowHalf + s8.highHalf
        let s2 = s4.lowHalf + s4.highHalf
        return s2[0] + s2[1]
    }

    @inline(__always)
    static func tail(_ x: UnsafePointer<Float>, _ count: Int, _ t: UnsafeMutablePointer<Float>, fill: Float) -> F16 {
        for l in 0..<16 { t[l] = l < count ? x[l] : fill }
        return load16(t)
    }

    /// Σ x[i] (striped order).
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F16()
        var i = 0
        while i + 16 <= n { acc = acc + load16(x + i); i += 16 }
        if i < n {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { t in
                acc = acc + tail(x + i, n - i, t.baseAddress!, fill: -0.0)
            }
        }
        return fold(acc)
    }

    /// Σ x[i]·y[i]: per lane `acc = fma(x[i], y[i], acc)` (striped order), then the fold.
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F16()
        var i = 0
        while i + 16 <= n { acc = acc.addingProduct(load16(x + i), load16(y + i)); i += 16 }
        if i < n {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { t in
                let tx = tail(x + i, n - i, t.baseAddress!, fill: 0)
                let ty = tail(y + i, n - i, t.baseAddress! + 16, fill: 0)
                // Tail lanes past n must leave acc unchanged: fma(0, 0, a) = a + (+0), which turns
                // a −0 lane into +0, so select the old value there instead.
                let m = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .< Int32(n - i)
                acc = acc.replacing(with: acc.addingProduct(tx, ty), where: m)
            }
        }
        return fold(acc)
    }

    /// max x[i] (NaN if any element is NaN; −∞ for n = 0). Max is exact, so order is irrelevant
    /// except for NaN and ±0: +0 wins over −0.
    static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F16(repeating: -.infinity)
        var nan = SIMDMask<SIMD16<Int32>>(repeating: false)
        @_transparent func step(_ v: F16) {
            nan = nan .| (v .!= v)
            let gt = (v .> acc) .| ((v .== acc) .& (v .== 0) .& (fbits((ibits(acc) & I16(repeating: Int32.min)) | ibits(splat(1))) .< 0))
            acc = acc.replacing(with: v, where: gt)
        }
        var i = 0
        while i + 16 <= n { step(load16(x + i)); i += 16 }
        if i < n {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { t in step(tail(x + i, n - i, t.baseAddress!, fill: -.infinity)) }
        }
        if any(nan) { return .nan }
        var m = -Float.infinity
        for l in 0..<16 where acc[l] > m || (acc[l] == 0 && m == 0 && m.sign == .minus) { m = acc[l] }
        return m
    }
}
