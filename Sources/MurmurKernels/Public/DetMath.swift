import MurmurKernelBodies

/// Deterministic float32 math: the same bits on every machine, ISA level and thread count. Built
/// from IEEE-754 correctly rounded operations only (+ − × ÷ fma, conversions), never libm; the
/// algorithms, coefficients and measured errors are in Specs/kernels.md. The scalar forms compute
/// exactly what the buffer forms compute for that element.
public enum DetMath {
    /// Applies `f` element-wise: `output[i] = f(input[i])`. `output` may be `input` (in place).
    public static func apply(_ f: UnaryMath, _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(output.count >= input.count, "DetMath: output shorter than input")
        guard let x = input.baseAddress, let y = output.baseAddress, input.count > 0 else { return }
        KernelISA.active.table.unary(f, x, y, input.count)
    }

    /// `f` of one value (evaluated in one 16-lane vector; identical to the buffer form).
    public static func apply(_ f: UnaryMath, _ x: Float) -> Float {
        var v = x
        withUnsafeMutablePointer(to: &v) { p in KernelISA.active.table.unary(f, p, p, 1) }
        return v
    }

    public static func exp(_ x: Float) -> Float { apply(.exp, x) }
    public static func expm1(_ x: Float) -> Float { apply(.expm1, x) }
    public static func log(_ x: Float) -> Float { apply(.log, x) }
    public static func log1p(_ x: Float) -> Float { apply(.log1p, x) }
    public static func tanh(_ x: Float) -> Float { apply(.tanh, x) }
    public static func sigmoid(_ x: Float) -> Float { apply(.sigmoid, x) }
    public static func erf(_ x: Float) -> Float { apply(.erf, x) }
    /// GELU (exact erf form): `(0.5 × x) × (1 + erf(x × 0x1.6a09e6p-1))`.
    public static func gelu(_ x: Float) -> Float { apply(.gelu, x) }

    public static func exp(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.exp, x, into: y) }
    public static func expm1(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.expm1, x, into: y) }
    public static func log(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.log, x, into: y) }
    public static func log1p(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.log1p, x, into: y) }
    public static func tanh(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.tanh, x, into: y) }
    public static func sigmoid(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.sigmoid, x, into: y) }
    public static func erf(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.erf, x, into: y) }
    public static func gelu(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) { apply(.gelu, x, into: y) }

    /// IEEE 754 `pow` (C99 Annex F special cases), computed in float64 and rounded once.
    /// `pow(x, 2)` is exactly `x * x` and `pow(x, 1)` is `x`.
    public static func pow(_ x: Float, _ y: Float) -> Float {
        var xv = x, yv = y
        withUnsafeMutablePointer(to: &xv) { px in
            withUnsafePointer(to: &yv) { py in KernelISA.active.table.pow(px, py, 0, px, 1) }
        }
        return xv
    }

    /// `output[i] = pow(base[i], exponent[i])`; `exponent` has the same count as `base`, or 1
    /// (one exponent for all). `output` may be `base`.
    public static func pow(_ base: UnsafeBufferPointer<Float>, _ exponent: UnsafeBufferPointer<Float>,
                           into output: UnsafeMutableBufferPointer<Float>) {
        precondition(exponent.count == base.count || exponent.count == 1, "DetMath.pow: exponent count")
        precondition(output.count >= base.count, "DetMath.pow: output shorter than input")
        guard let x = base.baseAddress, let y = exponent.baseAddress, let z = output.baseAddress, base.count > 0 else { return }
        KernelISA.active.table.pow(x, y, exponent.count == 1 ? 0 : 1, z, base.count)
    }
}

/// The element-wise functions `DetMath.apply` computes.
public typealias UnaryMath = MurmurKernelBodies.UnaryMath
