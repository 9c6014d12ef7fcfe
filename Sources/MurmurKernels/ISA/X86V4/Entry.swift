// ISA entry points. This file is identical in ISA/X86V4, ISA/X86V3 and ISA/Baseline (a test
// checks it); only the module's compiler flags differ. The bodies are `@inlinable
// @inline(__always)` in MurmurKernelBodies, so they are compiled here with this module's -march.
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

    public static let table = KernelTable(
        isaName: isaName, mr: GemmBody.mr, nr: tileNR,
        unary: { unary($0, $1, $2, $3) },
        pow: { pow($0, $1, $2, $3, $4) },
        gemm: { gemm($0, $1, $2) },
        packB: { packB($0, $1) }
    )
}
