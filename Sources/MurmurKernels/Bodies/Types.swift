// Types shared by the ISA modules and the public API (no kernel code lives here).

/// The element-wise functions with one argument, as the dispatch tables name them.
public enum UnaryMath: Int, Sendable, CaseIterable {
    case exp, expm1, log, log1p, tanh, sigmoid, erf
    /// GELU with the exact (erf) form: (0.5·x)·(1 + erf(x·(1/√2))).
    case gelu
}

/// One GEMM call's operands. Element (i, p) of A is `a[i·aRowStride + p·aColStride]`, so any
/// transpose is a stride choice; likewise B (p, j) and the addend E (i, j) (stride 0 broadcasts).
public struct GemmArgs: @unchecked Sendable {
    public var m: Int, n: Int, k: Int
    public var a: UnsafePointer<Float>
    public var aRowStride: Int, aColStride: Int
    /// Unpacked B, or nil when `packedB` is set.
    public var b: UnsafePointer<Float>?
    public var bRowStride: Int, bColStride: Int
    /// B packed by `packB` for this table's NR: panel q (columns q·NR ..< q·NR+NR, zero padded)
    /// is K×NR floats, k-major, at offset q·K·NR.
    public var packedB: UnsafePointer<Float>?
    public var c: UnsafeMutablePointer<Float>
    public var ldc: Int
    public var alpha: Float
    public var beta: Float
    public var addend: UnsafePointer<Float>?
    public var addRowStride: Int, addColStride: Int
    /// An element-wise program (`EltInst`, register 0 = the output element) applied to every
    /// output after the epilogue, in place: the bits of running it as a separate pass.
    public var post: UnsafePointer<EltInst>? = nil
    public var postCount: Int = 0

    public init(m: Int, n: Int, k: Int,
                a: UnsafePointer<Float>, aRowStride: Int, aColStride: Int,
                b: UnsafePointer<Float>?, bRowStride: Int, bColStride: Int,
                packedB: UnsafePointer<Float>?,
                c: UnsafeMutablePointer<Float>, ldc: Int,
                alpha: Float, beta: Float,
                addend: UnsafePointer<Float>?, addRowStride: Int, addColStride: Int) {
        self.m = m; self.n = n; self.k = k
        self.a = a; self.aRowStride = aRowStride; self.aColStride = aColStride
        self.b = b; self.bRowStride = bRowStride; self.bColStride = bColStride
        self.packedB = packedB
        self.c = c; self.ldc = ldc; self.alpha = alpha; self.beta = beta
        self.addend = addend; self.addRowStride = addRowStride; self.addColStride = addColStride
    }
}


/// Reductions over one vector, in the striped order of Specs/kernels.md §5.
public enum ReduceOp: Int, Sendable, CaseIterable {
    case sum, dot, max
}

/// One instruction of an element-wise program (`Elementwise.run`): `r[dst] = op(a, b)` lane by
/// lane with the op's single IEEE operation. Operands are registers (externals first, then one per
/// instruction in order) or, when the register index is negative, the scalar `sa` / `sb`.
/// `clip` uses `sa` = lo, `sb` = hi: v < lo ? lo : v, then v > hi ? hi : v (NaN stays).
public struct EltInst: Sendable {
    public enum Code: UInt8, Sendable { case add, sub, mul, div, sqrt, clip, unary }
    public var code: Code
    public var a: Int32
    public var b: Int32
    public var sa: Float
    public var sb: Float
    public var unary: UnaryMath
    public init(code: Code, a: Int32, b: Int32 = -1, sa: Float = 0, sb: Float = 0, unary: UnaryMath = .exp) {
        self.code = code; self.a = a; self.b = b; self.sa = sa; self.sb = sb; self.unary = unary
    }
}
