import MurmurKernels
import MurmurKernelBodies

/// MatMul and Gemm. Determinism contract (Specs/inference.md §GEMM): every output element
/// starts at +0.0 and accumulates its K products in ascending k with one fused multiply-add
/// each; alpha, beta and bias are applied afterwards. Threads split rows, never K.
enum MatMulOps {
    static let all: [OpDefinition] = [matMul, gemm]

    /// C[M×N] = A[M×K] · B[K×N], all row-major contiguous: `MurmurKernels.Gemm` (the contract
    /// of Specs/kernels.md §2), split over the run's worker pool.
    static func sgemm(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                      m: Int, n: Int, k: Int, context: RunContext) {
        if m == 0 || n == 0 { return }
        Gemm.sgemm(m: m, n: n, k: k, a: a, lda: max(k, 1), b: b, ldb: max(n, 1), c: c, ldc: n, pool: context.pool)
    }

    static func dgemm(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>, m: Int, n: Int, k: Int) {
        c.initialize(repeating: 0, count: m * n)
        for i in 0..<m {
            let row = c + i * n
            for p in 0..<k {
                let av = a[i * k + p]
                for j in 0..<n { row[j] = row[j].addingProduct(av, b[p * n + j]) }
            }
        }
    }

    static func igemm<T: FixedWidthInteger>(_ a: [T], _ ao: Int, _ b: [T], _ bo: Int, m: Int, n: Int, k: Int) -> [T] {
        var c = [T](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { let av = a[ao + i * k + p]; for j in 0..<n { c[i * n + j] = c[i * n + j] &+ av &* b[bo + p * n + j] } } }
        return c
    }

    static let matMul = OpDefinition("MatMul") { n in
        // A constant 2-D float32 B (weights) is packed once at load time.
        if let b = n.constantInput(1), let k = packed(b, bias: nil, biasShape: nil) { return k }
        return ClosureKernel { ins, ctx in [try matmul(K.input(ins, 0), K.input(ins, 1), ctx)] }
    }

    /// A packed-weights kernel for a constant 2-D float32 B, optionally with a fused per-column
    /// bias (MatMul followed by Add: same bits, see `Fusion`).
    static func packed(_ b: Tensor, bias: [Float]?, biasShape: [Int]?) -> PackedMatMul? {
        guard b.rank == 2, let bv = b.floats, b.shape[0] > 0, b.shape[1] > 0 else { return nil }
        let p = bv.withUnsafeBufferPointer { PackedGemmB(k: b.shape[0], n: b.shape[1], b: $0.baseAddress!, ldb: b.shape[1]) }
        return PackedMatMul(b: b, packed: p, bias: bias, biasShape: biasShape ?? bias.map { [$0.count] } ?? [])
    }

    /// MatMul with pre-packed constant weights: same bits as the unpacked path.
    struct PackedMatMul: OpKernel {
        let b: Tensor
        let packed: PackedGemmB
        let bias: [Float]?
        /// The bias's shape (`[n]` or `[1, …, 1, n]`).
        let biasShape: [Int]
        /// An element-wise group that reads only this product (GELU after a linear layer), applied
        /// to each finished block of the output: the bits of running it after the product.
        var post: FusedElementwise? = nil

        func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
            let a = try K.input(inputs, 0)
            let k = packed.k, n = packed.n
            guard let av = a.floats, a.rank >= 1, a.shape[a.rank - 1] == k else {
                var y = try matmul(a, b, context)
                if let bias { y = try ElementwiseOps.floatArith(K.floats(y, "MatMul output"), y.shape, bias, biasShape, 0) }
                if let post { return try post.run([y], context) }
                return [y]
            }
            let m = a.count / k
            var outShape = a.shape
            outShape[a.rank - 1] = n
            // Broadcasting with a bias of higher rank prepends ones (the values are unchanged).
            if bias != nil && biasShape.count > outShape.count {
                outShape = [Int](repeating: 1, count: biasShape.count - outShape.count) + outShape
            }
            // The group runs inside the GEMM when its one-element constants keep the output shape.
            var program: [EltInst] = []
            if let post, m > 0, (try? Broadcast.shape([outShape] + post.constantShapes)) == outShape { program = post.program }
            // The GEMM writes every element of C (k > 0 here), so the output is not zero-filled first.
            let out = [Float](unsafeUninitializedCapacity: m * n) { po, count in
                if m > 0 {
                    av.withUnsafeBufferPointer { pa in (bias ?? []).withUnsafeBufferPointer { pb in program.withUnsafeBufferPointer { pp in
                        let addend = bias == nil ? nil : GemmAddend.perColumn(pb.baseAddress!)
                        if program.isEmpty {
                            Gemm.sgemm(m: m, a: pa.baseAddress!, lda: k, packedB: packed, c: po.baseAddress!, ldc: n, addend: addend, pool: context.pool)
                        } else {
                            Gemm.sgemm(m: m, a: pa.baseAddress!, lda: k, packedB: packed, c: po.baseAddress!, ldc: n, addend: addend,
                                       post: pp, pool: context.pool)
                        }
                    } } }
                }
                count = m * n
            }
            var y = Tensor(shape: outShape, floats: out)
            if m == 0, let bias { y = try ElementwiseOps.floatArith(out, outShape, bias, biasShape, 0) }
            if let post, program.isEmpty { return try post.run([y], context) }
            return [y]
        }
    }

    /// numpy.matmul semantics: 1-D operands promoted and the added axis removed afterwards;
    /// batch dimensions broadcast.
    static func matmul(_ a: Tensor, _ b: Tensor, _ ctx: RunContext) throws -> Tensor {
        guard a.dtype == b.dtype else { throw OpError("operand types differ: \(a.dtype) and \(b.dtype)") }
        guard a.rank >= 1, b.rank >= 1 else { throw OpError("MatMul operands must have rank ≥ 1") }
        let sa = a.rank == 1 ? [1, a.shape[0]] : a.shape
        let sb = b.rank == 1 ? [b.shape[0], 1] : b.shape
        let m = sa[sa.count - 2], k = sa[sa.count - 1], k2 = sb[sb.count - 2], n = sb[sb.count - 1]
        guard k == k2 else { throw OpError("inner dimensions differ: \(a.shape) × \(b.shape)") }
        let batchA = Array(sa.dropLast(2)), batchB = Array(sb.dropLast(2))
        let batch = try Broadcast.shape([batchA, batchB])
        let nb = try K.count(batch)
        let ia = Broadcast.indices(batchA, to: batch), ib = Broadcast.indices(batchB, to: batch)
        var outShape = batch + [m, n]
        if a.rank == 1 { outShape.remove(at: outShape.count - 2) }
        if b.rank == 1 { outShape.removeLast() }
        let total = try K.count(batch + [m, n])
        switch (a.storage, b.storage) {
        case let (.float32(x), .float32(y)):
            var out = [Float](repeating: 0, count: total)
            x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in out.withUnsafeMutableBufferPointer { po in
                guard let bx = px.baseAddress, let by = py.baseAddress, let bo = po.baseAddress else { return }
                for t in 0..<nb {
                    sgemm(bx + ia[t] * m * k, by + ib[t] * k * n, bo + t * m * n, m: m, n: n, k: k, context: ctx)
                }
            } } }
            return Tensor(shape: outShape, floats: out)
        case let (.float64(x), .float64(y)):
            var out = [Double](repeating: 0, count: total)
            x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in out.withUnsafeMutableBufferPointer { po in
                guard let bx = px.baseAddress, let by = py.baseAddress, let bo = po.baseAddress else { return }
                for t in 0..<nb { dgemm(bx + ia[t] * m * k, by + ib[t] * k * n, bo + t * m * n, m: m, n: n, k: k) }
            } } }
            return Tensor(shape: outShape, doubles: out)
        case let (.int64(x), .int64(y)):
            var out: [Int64] = []
            for t in 0..<nb { out += igemm(x, ia[t] * m * k, y, ib[t] * k * n, m: m, n: n, k: k) }
            return Tensor(shape: outShape, int64s: out)
        case let (.int32(x), .int32(y)):
            var out: [Int32] = []
            for t in 0..<nb { out += igemm(x, ia[t] * m * k, y, ib[t] * k * n, m: m, n: n, k: k) }
            return Tensor(shape: outShape, int32s: out)
        default: throw OpError("MatMul does not support \(a.dtype)")
        }
    }

    static func transpose2D<T>(_ a: [T], rows: Int, cols: Int) -> [T] {
        guard let first = a.first else { return a }
        var out = [T](repeating: first, count: a.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = a[r * cols + c] } }
        return out
    }

    /// Gemm: Y = alpha·(A'·B') + beta·C, exactly `Gemm.sgemm` with C as the addend
    /// (Specs/kernels.md §2): y = (alpha·d) + (beta·c); without C (or beta = 0) y = alpha·d.
    static let gemm = OpDefinition("Gemm") { n in
        let alpha = n.float("alpha", default: 1), beta = n.float("beta", default: 1)
        let transA = n.int("transA", default: 0) != 0, transB = n.int("transB", default: 0) != 0
        return ClosureKernel { ins, ctx in
            let a = try K.input(ins, 0), b = try K.input(ins, 1), c = K.optional(ins, 2)
            guard a.rank == 2, b.rank == 2 else { throw OpError("A and B must be 2-D, got \(a.shape) and \(b.shape)") }
            let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
            let kb = transB ? b.shape[1] : b.shape[0], nn = transB ? b.shape[0] : b.shape[1]
            guard k == kb else { throw OpError("inner dimensions differ: A \(a.shape) transA=\(transA), B \(b.shape) transB=\(transB)") }
            switch (a.storage, b.storage) {
            case let (.float32(x), .float32(y)):
                var out = [Float](repeating: 0, count: m * nn)
                var cv: [Float] = []
                var addRow = 0, addCol = 0
                if let c, beta != 0 {
                    guard let v = c.floats else { throw OpError("C must be float32") }
                    guard try Broadcast.shape([c.shape, [m, nn]]) == [m, nn] else { throw OpError("C \(c.shape) does not broadcast to [\(m), \(nn)]") }
                    let st = Broadcast.strides(c.shape, to: [m, nn])
                    cv = v; addRow = st[0]; addCol = st[1]
                }
                if m > 0 && nn > 0 {
                    x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in cv.withUnsafeBufferPointer { pc in out.withUnsafeMutableBufferPointer { po in
                        let addend = pc.baseAddress.map { GemmAddend(pointer: $0, rowStride: addRow, colStride: addCol, beta: beta) }
                        let dummy = po.baseAddress!
                        Gemm.sgemm(m: m, n: nn, k: k, a: px.baseAddress ?? UnsafePointer(dummy), lda: a.shape[1], transA: transA,
                                   b: py.baseAddress ?? UnsafePointer(dummy), ldb: b.shape[1], transB: transB,
                                   c: po.baseAddress!, ldc: nn, alpha: alpha, addend: cv.isEmpty ? nil : addend, pool: ctx.pool)
                    } } } }
                }
                return [Tensor(shape: [m, nn], floats: out)]
            case let (.float64(x0), .float64(y0)):
                let x = transA ? transpose2D(x0, rows: a.shape[0], cols: a.shape[1]) : x0
                let y = transB ? transpose2D(y0, rows: b.shape[0], cols: b.shape[1]) : y0
                var out = [Double](repeating: 0, count: m * nn)
                x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in out.withUnsafeMutableBufferPointer { po in
                    guard let bx = px.baseAddress, let by = py.baseAddress, let bo = po.baseAddress else { return }
                    dgemm(bx, by, bo, m: m, n: nn, k: k)
                } } }
                let al = Double(alpha), be = Double(beta)
                if al != 1 { for i in 0..<out.count { out[i] = al * out[i] } }
                if let c, be != 0, let cv = c.doubles {
                    let idx = Broadcast.indices(c.shape, to: [m, nn])
                    for i in 0..<out.count { out[i] = out[i] + (be == 1 ? cv[idx[i]] : be * cv[idx[i]]) }
                }
                return [Tensor(shape: [m, nn], doubles: out)]
            default: throw OpError("Gemm does not support \(a.dtype)")
            }
        }
    }
}
