import MurmurKernelBodies
import Synchronization

/// The term added after the dot product: element (i, j) is `pointer[i·rowStride + j·colStride]`
/// (a stride of 0 broadcasts), scaled by `beta`. Output: `(alpha·d) + (beta·E[i,j])`.
public struct GemmAddend: @unchecked Sendable {
    public var pointer: UnsafePointer<Float>
    public var rowStride: Int
    public var colStride: Int
    public var beta: Float

    public init(pointer: UnsafePointer<Float>, rowStride: Int, colStride: Int, beta: Float = 1) {
        self.pointer = pointer; self.rowStride = rowStride; self.colStride = colStride; self.beta = beta
    }
    /// One value per output column (the usual bias of a `x·W + b` layer), length n.
    public static func perColumn(_ p: UnsafePointer<Float>, beta: Float = 1) -> GemmAddend { .init(pointer: p, rowStride: 0, colStride: 1, beta: beta) }
    /// One value per output row (a convolution's bias over output channels), length m.
    public static func perRow(_ p: UnsafePointer<Float>, beta: Float = 1) -> GemmAddend { .init(pointer: p, rowStride: 1, colStride: 0, beta: beta) }
    /// A full m×n row-major matrix with leading dimension `ld`.
    public static func matrix(_ p: UnsafePointer<Float>, ld: Int, beta: Float = 1) -> GemmAddend { .init(pointer: p, rowStride: ld, colStride: 1, beta: beta) }
}

/// B (k×n) packed once into the kernels' panel layout, for constant weights. Packing is for the
/// ISA level active at creation; all levels give the same bits, so use it with any.
public final class PackedGemmB: @unchecked Sendable {
    public let k: Int
    public let n: Int
    let isa: KernelISA
    let storage: UnsafeMutablePointer<Float>

    /// Packs op(B): `transB == false` reads B[p, j] at `b[p·ldb + j]`; true reads `b[j·ldb + p]`.
    public init(k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, transB: Bool = false) {
        precondition(k >= 0 && n >= 0, "PackedGemmB: negative size")
        self.k = k; self.n = n
        isa = KernelISA.active
        let table = isa.table
        let panels = (n + table.nr - 1) / table.nr
        storage = .allocate(capacity: max(1, panels * k * table.nr))
        let dummyC = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { dummyC.deallocate() }
        let args = GemmArgs(m: 0, n: n, k: k, a: UnsafePointer(dummyC), aRowStride: 0, aColStride: 0,
                            b: b, bRowStride: transB ? 1 : ldb, bColStride: transB ? ldb : 1, packedB: nil,
                            c: dummyC, ldc: 0, alpha: 1, beta: 0, addend: nil, addRowStride: 0, addColStride: 0)
        table.packB(args, storage)
    }

    deinit { storage.deallocate() }
}

/// Single-precision matrix multiplication, row-major, bit-exact on every ISA level and thread
/// count: `C = alpha·op(A)·op(B) (+ beta·E)`, see Specs/kernels.md for the exact order.
public enum Gemm {
    /// `C[m×n] = alpha·op(A)·op(B) + addend`. op(A) is m×k: A[i, p] at `a[i·lda + p]`, or
    /// `a[p·lda + i]` when `transA`. op(B) is k×n: `b[p·ldb + j]`, or `b[j·ldb + p]` when `transB`.
    /// C must not overlap A, B or the addend. `pool` splits independent outputs across threads.
    public static func sgemm(m: Int, n: Int, k: Int,
                             a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
                             b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             alpha: Float = 1, addend: GemmAddend? = nil, pool: WorkerPool? = nil) {
        let args = GemmArgs(m: m, n: n, k: k, a: a, aRowStride: transA ? 1 : lda, aColStride: transA ? lda : 1,
                            b: b, bRowStride: transB ? 1 : ldb, bColStride: transB ? ldb : 1, packedB: nil,
                            c: c, ldc: ldc, alpha: alpha, beta: addend?.beta ?? 0, addend: addend?.pointer,
                            addRowStride: addend?.rowStride ?? 0, addColStride: addend?.colStride ?? 0)
        run(args, KernelISA.active.table, pool)
    }

    /// As `sgemm`, with any element strides for A and B: A[i, p] at `a[i·aRowStride + p·aColStride]`,
    /// B[p, j] at `b[p·bRowStride + j·bColStride]` (strided views such as transposed tensors are
    /// read in place; the bits do not depend on the strides). C has unit column stride.
    public static func sgemm(m: Int, n: Int, k: Int,
                             a: UnsafePointer<Float>, aRowStride: Int, aColStride: Int,
                             b: UnsafePointer<Float>, bRowStride: Int, bColStride: Int,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             alpha: Float = 1, addend: GemmAddend? = nil, pool: WorkerPool? = nil) {
        let args = GemmArgs(m: m, n: n, k: k, a: a, aRowStride: aRowStride, aColStride: aColStride,
                            b: b, bRowStride: bRowStride, bColStride: bColStride, packedB: nil,
                            c: c, ldc: ldc, alpha: alpha, beta: addend?.beta ?? 0, addend: addend?.pointer,
                            addRowStride: addend?.rowStride ?? 0, addColStride: addend?.colStride ?? 0)
        run(args, KernelISA.active.table, pool)
    }

    /// As `sgemm`, with B pre-packed (constant weights).
    public static func sgemm(m: Int, a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
                             packedB: PackedGemmB,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             alpha: Float = 1, addend: GemmAddend? = nil, pool: WorkerPool? = nil) {
        let args = GemmArgs(m: m, n: packedB.n, k: packedB.k, a: a, aRowStride: transA ? 1 : lda, aColStride: transA ? lda : 1,
                            b: nil, bRowStride: 0, bColStride: 0, packedB: UnsafePointer(packedB.storage),
                            c: c, ldc: ldc, alpha: alpha, beta: addend?.beta ?? 0, addend: addend?.pointer,
                            addRowStride: addend?.rowStride ?? 0, addColStride: addend?.colStride ?? 0)
        run(args, packedB.isa.table, pool)
        withExtendedLifetime(packedB) {}
    }

    /// As the pre-packed `sgemm`, then the element-wise program `post` (register 0 = the output
    /// element; see `Elementwise.run`) applied to each finished block of C in place: the bits of
    /// running it as a separate pass over C, without that pass.
    public static func sgemm(m: Int, a: UnsafePointer<Float>, lda: Int, packedB: PackedGemmB,
                             c: UnsafeMutablePointer<Float>, ldc: Int, addend: GemmAddend? = nil,
                             post: UnsafeBufferPointer<EltInst>, pool: WorkerPool? = nil) {
        var args = GemmArgs(m: m, n: packedB.n, k: packedB.k, a: a, aRowStride: lda, aColStride: 1,
                            b: nil, bRowStride: 0, bColStride: 0, packedB: UnsafePointer(packedB.storage),
                            c: c, ldc: ldc, alpha: 1, beta: addend?.beta ?? 0, addend: addend?.pointer,
                            addRowStride: addend?.rowStride ?? 0, addColStride: addend?.colStride ?? 0)
        if let p = post.baseAddress, post.count > 0 { args.post = p; args.postCount = post.count }
        run(args, packedB.isa.table, pool)
        withExtendedLifetime(packedB) {}
    }

    /// `batch` independent products: matrix `t` uses `a + t·strideA`, `b + t·strideB`,
    /// `c + t·strideC` (a stride of 0 reuses one operand, e.g. shared weights). The addend, if
    /// any, is the same for every matrix unless `addendStride` is non-zero.
    public static func sgemmBatched(batch: Int, m: Int, n: Int, k: Int,
                                    a: UnsafePointer<Float>, lda: Int, strideA: Int, transA: Bool = false,
                                    b: UnsafePointer<Float>, ldb: Int, strideB: Int, transB: Bool = false,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
                                    alpha: Float = 1, addend: GemmAddend? = nil, addendStride: Int = 0,
                                    pool: WorkerPool? = nil) {
        let table = KernelISA.active.table
        func one(_ t: Int, _ pool: WorkerPool?) {
            var e = addend
            e?.pointer += t * addendStride
            let args = GemmArgs(m: m, n: n, k: k, a: a + t * strideA, aRowStride: transA ? 1 : lda, aColStride: transA ? lda : 1,
                                b: b + t * strideB, bRowStride: transB ? 1 : ldb, bColStride: transB ? ldb : 1, packedB: nil,
                                c: c + t * strideC, ldc: ldc, alpha: alpha, beta: e?.beta ?? 0, addend: e?.pointer,
                                addRowStride: e?.rowStride ?? 0, addColStride: e?.colStride ?? 0)
            run(args, table, pool)
        }
        if let pool, pool.threads > 1, batch >= pool.threads {
            pool.parallelFor(batch) { t in one(t, nil) }
        } else {
            for t in 0..<batch { one(t, pool) }
        }
    }

    private static let minParallelWork = Atomic<Int>(1 << 20)

    /// Products (and convolutions) with fewer multiply-adds than this run on the calling thread:
    /// waking workers costs more. A speed knob only — results never depend on it. Tests set it to
    /// 0 so that small shapes exercise the multi-threaded splits.
    public static var minParallelMultiplyAdds: Int {
        get { minParallelWork.load(ordering: .relaxed) }
        set { minParallelWork.store(newValue, ordering: .relaxed) }
    }

    static func run(_ args: GemmArgs, _ table: KernelTable, _ pool: WorkerPool?) {
        precondition(args.m >= 0 && args.n >= 0 && args.k >= 0, "sgemm: negative size")
        if args.m == 0 || args.n == 0 { return }
        let threads = pool?.threads ?? 1
        let work = args.m * args.n * max(args.k, 1)
        guard let pool, threads > 1, work >= minParallelMultiplyAdds else {
            table.gemm(args, 0..<args.m, 0..<args.n)
            return
        }
        let panels = (args.n + table.nr - 1) / table.nr
        let rowBlocks = (args.m + table.mr - 1) / table.mr
        if panels >= threads || rowBlocks < threads {
            // Split columns on panel boundaries (pre-packed panels and tiles stay whole).
            pool.parallelRanges(panels) { r in
                table.gemm(args, 0..<args.m, (r.lowerBound * table.nr)..<min(args.n, r.upperBound * table.nr))
            }
        } else {
            pool.parallelRanges(rowBlocks) { r in
                table.gemm(args, (r.lowerBound * table.mr)..<min(args.m, r.upperBound * table.mr), 0..<args.n)
            }
        }
    }
}
