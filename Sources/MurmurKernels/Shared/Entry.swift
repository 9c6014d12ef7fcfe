// ISA entry points. Shared/ is compiled into every ISA module through symlinks; only the
// module's compiler flags (and Tile.swift) differ.
import MurmurKernelBodies

public enum ISAKernels {
    public static func unary(_ f: UnaryMath, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        DetMathBody.map(f, x, y, n)
    }

    public static func pow(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ yStride: Int,
                           _ z: UnsafeMutablePointer<Float>, _ n: Int) {
        DetMathBody.powMap(x, y, yStride, z, n)
    }

    public static func gemm(_ args: GemmArgs, _ rows: Range<Int>, _ cols: Range<Int>) {
        GemmBody.gemm(args, rows, cols, nr: tileNR)
    }

    public static func packB(_ args: GemmArgs, _ out: UnsafeMutablePointer<Float>) {
        GemmBody.packFullB(args, out, nr: tileNR)
    }

    public static func reduce(_ op: ReduceOp, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?, _ n: Int) -> Float {
        switch op {
        case .sum: return ReduceBody.sum(x, n)
        case .dot: return ReduceBody.dot(x, y ?? x, n)
        case .max: return ReduceBody.max(x, n)
        }
    }

    public static func depthwise(_ padded: UnsafePointer<Float>, _ pw: Int, _ w: UnsafePointer<Float>, _ g: DepthwiseGeometry,
                                 _ bias: Float?, _ out: UnsafeMutablePointer<Float>) {
        DepthwiseBody.plane(padded, pw, w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, bias, out, g.oh, g.ow)
    }

    public static func elementwise(_ insts: UnsafePointer<EltInst>, _ ni: Int, _ ext: UnsafePointer<UnsafePointer<Float>>, _ ne: Int,
                                   _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        EltBody.run(insts, ni, ext, ne, out, n)
    }

    public static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ len: Int, _ log: Bool,
                                   _ scratch: UnsafeMutablePointer<Float>) {
        EltBody.softmaxRows(x, y, rows, len, log, scratch)
    }

    public static let table = KernelTable(
        isaName: isaName, mr: GemmBody.mr, nr: tileNR,
        unary: { unary($0, $1, $2, $3) },
        pow: { pow($0, $1, $2, $3, $4) },
        gemm: { gemm($0, $1, $2) },
        packB: { packB($0, $1) },
        reduce: { reduce($0, $1, $2, $3) },
        depthwise: { depthwise($0, $1, $2, $3, $4, $5) },
        elementwise: { elementwise($0, $1, $2, $3, $4, $5) },
        softmaxRows: { softmaxRows($0, $1, $2, $3, $4, $5) }
    )
}
