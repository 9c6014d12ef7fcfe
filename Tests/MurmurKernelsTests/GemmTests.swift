import MurmurKernels
import XCTest

/// The contract, written plainly: d = fma chain over ascending p from +0, then
/// y = (alpha·d) + (beta·E[i,j]) with an addend, y = alpha·d without.
func referenceGemm(m: Int, n: Int, k: Int, a: [Float], lda: Int, transA: Bool, b: [Float], ldb: Int, transB: Bool,
                   alpha: Float, addend: (values: [Float], rs: Int, cs: Int, beta: Float)?) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            for i in 0..<m {
                for j in 0..<n {
                    var d: Float = 0
                    for p in 0..<k {
                        let av = transA ? a[p * lda + i] : a[i * lda + p]
                        let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                        d = d.addingProduct(av, bv)
                    }
                    if let e = addend {
                        c[i * n + j] = (alpha * d) + (e.beta * e.values[i * e.rs + j * e.cs])
                    } else {
                        c[i * n + j] = alpha * d
                    }
                }
            }
        }
    }
    return c
}

/// Values with varied exponents and signs, so any change of operation order changes bits.
func randomFloats(_ count: Int, _ g: inout SplitMix) -> [Float] {
    (0..<count).map { _ in
        let u = g.next()
        let mant = Float(u & 0xffffff) / Float(1 << 24) + 0.5
        let e = Int((u >> 24) % 9) - 4
        return ((u >> 40) & 1 == 1 ? -mant : mant) * Float(sign: .plus, exponent: e, significand: 1)
    }
}

final class GemmTests: XCTestCase {
    static let pools: [WorkerPool] = [1, 2, 3, 4].map { WorkerPool(threads: $0) }

    // Split even tiny shapes across threads, so the multi-threaded paths are what is tested.
    override func setUp() { Gemm.minParallelMultiplyAdds = 0 }
    override func tearDown() { Gemm.minParallelMultiplyAdds = 1 << 20 }

    func check(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, addendKind: Int, seed: UInt64,
               file: StaticString = #filePath, line: UInt = #line) {
        var g = SplitMix(seed: seed)
        let lda = (transA ? m : k) + Int(seed % 3)
        let ldb = (transB ? k : n) + Int(seed % 2)
        let a = randomFloats(max(1, (transA ? k : m) * lda), &g)
        let b = randomFloats(max(1, (transB ? n : k) * ldb), &g)
        let ev = randomFloats(m * n, &g)
        let beta: Float = addendKind == 3 ? 0.75 : 1
        let addend: ([Float], Int, Int, Float)? = switch addendKind {
        case 1: (ev, 0, 1, beta)          // per column
        case 2: (ev, 1, 0, beta)          // per row
        case 3: (ev, n, 1, beta)          // full matrix
        default: nil
        }
        let want = referenceGemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                 alpha: alpha, addend: addend)
        for isa in KernelISA.supported {
            KernelISA.force(isa)
            let packed = b.withUnsafeBufferPointer { PackedGemmB(k: k, n: n, b: $0.baseAddress!, ldb: ldb, transB: transB) }
            for pool in Self.pools {
                for usePacked in [false, true] {
                    var c = [Float](repeating: .nan, count: m * n)
                    a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in ev.withUnsafeBufferPointer { e in
                        c.withUnsafeMutableBufferPointer { c in
                            let add: GemmAddend? = addend.map { GemmAddend(pointer: e.baseAddress!, rowStride: $0.1, colStride: $0.2, beta: $0.3) }
                            if usePacked {
                                Gemm.sgemm(m: m, a: a.baseAddress!, lda: lda, transA: transA, packedB: packed,
                                           c: c.baseAddress!, ldc: n, alpha: alpha, addend: add, pool: pool)
                            } else {
                                Gemm.sgemm(m: m, n: n, k: k, a: a.baseAddress!, lda: lda, transA: transA,
                                           b: b.baseAddress!, ldb: ldb, transB: transB, c: c.baseAddress!, ldc: n,
                                           alpha: alpha, addend: add, pool: pool)
                            }
                        } } } }
                    if c.map(\.bitPattern) != want.map(\.bitPattern) {
                        let bad = zip(c, want).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }!
                        XCTFail("m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) alpha=\(alpha) addend=\(addendKind) isa=\(isa) threads=\(pool.threads) packed=\(usePacked): [\(bad.offset)] \(bad.element.0) != \(bad.element.1)", file: file, line: line)
                        KernelISA.force(nil)
                        return
                    }
                }
            }
        }
        KernelISA.force(nil)
    }

    func testEdgeShapesBitExact() {
        let sizes = [1, 2, 5, 6, 7, 13, 16, 17, 31, 32, 33, 47]
        var g = SplitMix(seed: 1)
        for _ in 0..<40 {
            let m = sizes[Int(g.next() % UInt64(sizes.count))]
            let n = sizes[Int(g.next() % UInt64(sizes.count))]
            let k = sizes[Int(g.next() % UInt64(sizes.count))]
            check(m: m, n: n, k: k, transA: g.next() % 2 == 0, transB: g.next() % 2 == 0,
                  alpha: g.next() % 3 == 0 ? 0.5 : 1, addendKind: Int(g.next() % 4), seed: g.next())
        }
    }

    func testBlockBoundariesBitExact() {
        // k crosses the 256 K block, m crosses the 120-row M block, n crosses the 2048-column N block.
        check(m: 7, n: 37, k: 300, transA: false, transB: false, alpha: 1, addendKind: 1, seed: 5)
        check(m: 127, n: 70, k: 9, transA: true, transB: false, alpha: 1, addendKind: 2, seed: 6)
        check(m: 3, n: 2085, k: 3, transA: false, transB: true, alpha: 2, addendKind: 3, seed: 7)
        check(m: 1, n: 300, k: 513, transA: false, transB: false, alpha: 1, addendKind: 0, seed: 8)
        check(m: 1, n: 97, k: 40, transA: true, transB: true, alpha: 1, addendKind: 1, seed: 9)
        check(m: 130, n: 3, k: 20, transA: false, transB: false, alpha: 1, addendKind: 0, seed: 10)
        check(m: 4, n: 5, k: 0, transA: false, transB: false, alpha: 1, addendKind: 2, seed: 11)
    }

    func testBatchedMatchesSingleCalls() {
        var g = SplitMix(seed: 3)
        let (batch, m, n, k) = (5, 9, 21, 19)
        let a = randomFloats(batch * m * k, &g), b = randomFloats(batch * k * n, &g)
        var want = [Float]()
        for t in 0..<batch {
            want += referenceGemm(m: m, n: n, k: k, a: Array(a[(t * m * k)..<((t + 1) * m * k)]), lda: k, transA: false,
                                  b: Array(b[(t * k * n)..<((t + 1) * k * n)]), ldb: n, transB: false, alpha: 1, addend: nil)
        }
        for pool in Self.pools {
            var c = [Float](repeating: 0, count: batch * m * n)
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                Gemm.sgemmBatched(batch: batch, m: m, n: n, k: k, a: a.baseAddress!, lda: k, strideA: m * k,
                                  b: b.baseAddress!, ldb: n, strideB: k * n, c: c.baseAddress!, ldc: n, strideC: m * n, pool: pool)
            } } }
            XCTAssertTrue(c.map(\.bitPattern) == want.map(\.bitPattern), "batched differs, threads \(pool.threads)")
        }
    }

    func testWorkerPoolPartitionsStatically() {
        for pool in Self.pools {
            var seen = [Int](repeating: 0, count: 103)
            seen.withUnsafeMutableBufferPointer { s in
                let base = s.baseAddress!
                pool.parallelRanges(103) { r in for i in r { base[i] += 1 } }
            }
            XCTAssertEqual(seen, [Int](repeating: 1, count: 103))
            XCTAssertEqual(WorkerPool.range(1, of: 3, count: 10), 3..<6)
        }
    }
}
