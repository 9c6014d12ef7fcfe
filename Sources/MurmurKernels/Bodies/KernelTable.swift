/// The entry points one ISA module provides. Each ISA module (X86V4, X86V3, Baseline) builds one
/// table from the same `@inlinable` bodies, compiled with its own `-march`; `MurmurKernels`
/// picks a table at run time. All tables give identical bits (Specs/kernels.md).
public struct KernelTable: Sendable {
    public let isaName: String
    /// GEMM register tile: MR rows × NR columns; B panels are NR wide.
    public let mr: Int
    public let nr: Int
    public let unary: @Sendable (UnaryMath, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    public let pow: @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void
    public let gemm: @Sendable (GemmArgs, Range<Int>, Range<Int>) -> Void
    public let packB: @Sendable (GemmArgs, UnsafeMutablePointer<Float>) -> Void
    public let reduce: @Sendable (ReduceOp, UnsafePointer<Float>, UnsafePointer<Float>?, Int) -> Float
    /// Depthwise plane: (padded input, padded row width, kernel, geometry, bias, output).
    public let depthwise: @Sendable (UnsafePointer<Float>, Int, UnsafePointer<Float>, DepthwiseGeometry, Float?, UnsafeMutablePointer<Float>) -> Void
    /// Element-wise program: (instructions, count, external pointers, count, output, elements).
    public let elementwise: @Sendable (UnsafePointer<EltInst>, Int, UnsafePointer<UnsafePointer<Float>>, Int, UnsafeMutablePointer<Float>, Int) -> Void
    /// Softmax over contiguous rows: (x, y, rows, len, log, scratch of len floats).
    public let softmaxRows: @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Bool, UnsafeMutablePointer<Float>) -> Void

    public init(
        isaName: String, mr: Int, nr: Int,
        unary: @escaping @Sendable (UnaryMath, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
        pow: @escaping @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void,
        gemm: @escaping @Sendable (GemmArgs, Range<Int>, Range<Int>) -> Void,
        packB: @escaping @Sendable (GemmArgs, UnsafeMutablePointer<Float>) -> Void,
        reduce: @escaping @Sendable (ReduceOp, UnsafePointer<Float>, UnsafePointer<Float>?, Int) -> Float,
        depthwise: @escaping @Sendable (UnsafePointer<Float>, Int, UnsafePointer<Float>, DepthwiseGeometry, Float?, UnsafeMutablePointer<Float>) -> Void,
        elementwise: @escaping @Sendable (UnsafePointer<EltInst>, Int, UnsafePointer<UnsafePointer<Float>>, Int, UnsafeMutablePointer<Float>, Int) -> Void,
        softmaxRows: @escaping @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Bool, UnsafeMutablePointer<Float>) -> Void
    ) {
        self.isaName = isaName; self.mr = mr; self.nr = nr
        self.unary = unary; self.pow = pow; self.gemm = gemm; self.packB = packB; self.reduce = reduce; self.depthwise = depthwise
        self.elementwise = elementwise; self.softmaxRows = softmaxRows
    }
}

/// Kernel and output geometry of one depthwise plane.
public struct DepthwiseGeometry: Sendable {
    public var kh: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int, oh: Int, ow: Int
    public init(kh: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int, oh: Int, ow: Int) {
        self.kh = kh; self.kw = kw; self.sh = sh; self.sw = sw; self.dh = dh; self.dw = dw; self.oh = oh; self.ow = ow
    }
}
