import Foundation
import MurmurKernels

/// Load-time fusion of Transposes around a MatMul of two computed values (attention's
/// `Q·Kᵀ` and `P·V` in exported transformers, Specs/inference.md §4): a Transpose whose only
/// reader is the MatMul becomes a stride choice of the GEMM operand, and a Transpose that is
/// the MatMul's only reader (keeping the last axis last) becomes the GEMM's output layout. The
/// GEMM contract does not depend on operand strides (every output is the same ascending-k
/// FMA chain from +0.0), so the bits are those of the nodes run one by one, without the copies.
/// Inputs that do not fit at run time (other dtypes, broadcast batch dimensions, rank < 3) run
/// the original nodes in sequence.
enum MatMulViewFusion {
    /// `MURMUR_NO_MATMUL_VIEW_FUSION=1` turns the fusion off (to compare bits and speed).
    static let enabled = ProcessInfo.processInfo.environment["MURMUR_NO_MATMUL_VIEW_FUSION"] == nil

    struct Group {
        let sink: Int
        let members: [Int]          // node indices in execution order, sink last
        let externals: [String]     // [A source, B source]
        let kernel: FusedMatMulView
    }

    static func groups(nodes: [NodeProto], order: [Int], constants: [String: Tensor], graphOutputs: Set<String>,
                       implicitReads: Set<String>, excluded: Set<Int>, makeKernel: (Int) throws -> any OpKernel) -> [Group] {
        guard enabled else { return [] }
        var readers: [String: [Int]] = [:]
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for inp in n.inputs where !inp.isEmpty { readers[inp, default: []].append(i) }
            for o in n.outputs where !o.isEmpty { producer[o] = i }
        }
        func isStd(_ i: Int) -> Bool {
            let n = nodes[i]
            return (n.domain.isEmpty || n.domain == "ai.onnx") && n.outputs.count == 1 && !excluded.contains(i)
        }
        func privateValue(_ v: String, readBy i: Int) -> Bool {
            !graphOutputs.contains(v) && !implicitReads.contains(v) && readers[v] == [i]
        }
        /// A Transpose with an explicit permutation producing `v`, read only by node `i`.
        func transposeInto(_ v: String, _ i: Int) -> (node: Int, perm: [Int])? {
            guard let p = producer[v], isStd(p), nodes[p].opType == "Transpose", nodes[p].inputs.count == 1,
                  case let .ints(perm)? = nodes[p].attribute("perm"), perm.count >= 3,
                  Set(perm) == Set(0..<perm.count), privateValue(v, readBy: i) else { return nil }
            return (p, perm)
        }
        var out: [Group] = []
        var taken = Set<Int>()
        for i in order {
            let n = nodes[i]
            guard n.opType == "MatMul", isStd(i), n.inputs.count == 2, !n.inputs.contains(""),
                  n.inputs[0] != n.inputs[1], constants[n.inputs[0]] == nil, constants[n.inputs[1]] == nil else { continue }
            let ta = transposeInto(n.inputs[0], i), tb = transposeInto(n.inputs[1], i)
            var tOut: (node: Int, perm: [Int])?
            let y = n.outputs[0]
            if privateValue(y, readBy: readers[y]?.first ?? -1), let r = readers[y]?.first, isStd(r),
               nodes[r].opType == "Transpose", case let .ints(perm)? = nodes[r].attribute("perm"), perm.count >= 3,
               Set(perm) == Set(0..<perm.count), perm.last == perm.count - 1 {
                tOut = (r, perm)
            }
            if ta == nil && tb == nil && tOut == nil { continue }
            var members: [Int] = []
            if let ta { members.append(ta.node) }
            if let tb { members.append(tb.node) }
            members.append(i)
            if let tOut { members.append(tOut.node) }
            if members.contains(where: taken.contains) { continue }
            let externals = [ta.map { nodes[$0.node].inputs[0] } ?? n.inputs[0], tb.map { nodes[$0.node].inputs[0] } ?? n.inputs[1]]
            // The original nodes, for inputs that do not fit at run time.
            var steps: [FusedMatMulView.Step] = []
            var ok = true
            var regOf: [String: Int] = [externals[0]: 0]
            if regOf[externals[1]] == nil { regOf[externals[1]] = 1 }
            for j in members {
                guard let kernel = try? makeKernel(j) else { ok = false; break }
                let ins = nodes[j].inputs.map { regOf[$0] ?? -1 }
                if ins.contains(-1) { ok = false; break }
                steps.append(FusedMatMulView.Step(kernel: kernel, inputs: ins))
                regOf[nodes[j].outputs[0]] = 2 + steps.count - 1
            }
            guard ok else { continue }
            for j in members { taken.insert(j) }
            let kernel = FusedMatMulView(permA: ta?.perm, permB: tb?.perm, permOut: tOut?.perm, fallback: steps)
            out.append(Group(sink: members.last!, members: members, externals: externals, kernel: kernel))
        }
        return out
    }
}

/// MatMul over strided views (see `MatMulViewFusion`).
struct FusedMatMulView: OpKernel {
    struct Step: Sendable { let kernel: any OpKernel; let inputs: [Int] }
    let permA: [Int]?
    let permB: [Int]?
    let permOut: [Int]?
    let fallback: [Step]

    var name: String {
        (permA != nil ? "Transpose+" : "") + (permB != nil ? "Transpose+" : "") + "MatMul" + (permOut != nil ? "+Transpose" : "")
    }

    /// Shape and element strides of `perm(x)` as a view of x's row-major storage.
    static func view(_ shape: [Int], _ perm: [Int]?) -> (shape: [Int], strides: [Int])? {
        let st = K.strides(shape)
        guard let perm else { return (shape, st) }
        guard perm.count == shape.count else { return nil }
        return (perm.map { shape[$0] }, perm.map { st[$0] })
    }

    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        guard inputs.count == 2, let x = inputs[0] ?? nil, let w = inputs[1] ?? nil, let xa = x.floats, let wa = w.floats,
              let va = FusedMatMulView.view(x.shape, permA), let vb = FusedMatMulView.view(w.shape, permB),
              va.shape.count == vb.shape.count, va.shape.count >= 3 else { return try runFallback(inputs, context) }
        let r = va.shape.count
        let batch = Array(va.shape[..<(r - 2)])
        guard Array(vb.shape[..<(r - 2)]) == batch, va.shape[r - 1] == vb.shape[r - 2] else { return try runFallback(inputs, context) }
        let m = va.shape[r - 2], k = va.shape[r - 1], n = vb.shape[r - 1]
        let cShape = batch + [m, n]
        // Output: C itself, or its transpose written in place of C (strides of C's dims in Y).
        var yShape = cShape
        var cStrides = K.strides(cShape)
        if let p = permOut {
            guard p.count == r else { return try runFallback(inputs, context) }
            yShape = p.map { cShape[$0] }
            let sy = K.strides(yShape)
            for d in 0..<r { cStrides[p[d]] = sy[d] }
            guard cStrides[r - 1] == 1 else { return try runFallback(inputs, context) }
        }
        let total = cShape.reduce(1, *)
        let nb = batch.reduce(1, *)
        let out = [Float](unsafeUninitializedCapacity: total) { buf, count in
            if total > 0 && k == 0 { for i in 0..<total { buf[i] = 0 } }
            if total > 0 && k > 0 {
                xa.withUnsafeBufferPointer { pa in wa.withUnsafeBufferPointer { pb in
                    guard let a = pa.baseAddress, let b = pb.baseAddress, let c = buf.baseAddress else { return }
                    var idx = [Int](repeating: 0, count: max(1, r - 2))
                    for _ in 0..<nb {
                        var oa = 0, ob = 0, oc = 0
                        for d in 0..<(r - 2) { oa += idx[d] * va.strides[d]; ob += idx[d] * vb.strides[d]; oc += idx[d] * cStrides[d] }
                        Gemm.sgemm(m: m, n: n, k: k, a: a + oa, aRowStride: va.strides[r - 2], aColStride: va.strides[r - 1],
                                   b: b + ob, bRowStride: vb.strides[r - 2], bColStride: vb.strides[r - 1],
                                   c: c + oc, ldc: cStrides[r - 2], pool: context.pool)
                        var d = r - 3
                        while d >= 0 { idx[d] += 1; if idx[d] < batch[d] { break }; idx[d] = 0; d -= 1 }
                    }
                } }
            }
            count = total
        }
        return [Tensor(shape: yShape, floats: out)]
    }

    /// The original nodes one by one.
    func runFallback(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor] {
        var regs: [Tensor?] = [inputs.first ?? nil, inputs.count > 1 ? inputs[1] : nil]
        var last: Tensor?
        for step in fallback {
            guard let y = try step.kernel.run(step.inputs.map { regs[$0] }, context).first else {
                throw OpError("\(name): a fused node produced no output")
            }
            regs.append(y)
            last = y
        }
        guard let last else { throw OpError("\(name): empty fused group") }
        return [last]
    }
}
