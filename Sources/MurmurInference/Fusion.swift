/// Load-time fusions that change no bit (Specs/inference.md §4): MatMul by constant 2-D
/// weights followed by Add of a constant per-column bias becomes one GEMM with the bias as its
/// addend — `(1×d) + (1×e) = d + e` exactly (Specs/kernels.md §2).
enum Fusion {
    struct MatMulBias {
        let addNode: Int
        let bias: [Float]
        /// The bias tensor's shape: `[n]`, or `[1, …, 1, n]` (skl2onnx writes `[1, n]`), whose
        /// leading ones only add leading ones to the output shape when it has a lower rank.
        let biasShape: [Int]
    }

    /// MatMul node index → the Add it absorbs.
    static func matMulBias(nodes: [NodeProto], constants: [String: Tensor], graphOutputs: Set<String>,
                           implicitReads: Set<String>) -> [Int: MatMulBias] {
        var consumers: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for inp in n.inputs where !inp.isEmpty { consumers[inp, default: []].append(i) } }
        var out: [Int: MatMulBias] = [:]
        for (i, n) in nodes.enumerated() where n.opType == "MatMul" && n.domain.isEmpty && n.inputs.count == 2 && n.outputs.count == 1 {
            let mm = n.outputs[0]
            guard let w = constants[n.inputs[1]], w.rank == 2, w.dtype == .float32,
                  !graphOutputs.contains(mm), !implicitReads.contains(mm),
                  let users = consumers[mm], users.count == 1 else { continue }
            let j = users[0]
            let add = nodes[j]
            guard add.opType == "Add", add.domain.isEmpty, add.inputs.count == 2, add.outputs.count == 1,
                  add.inputs[0] != add.inputs[1] else { continue }
            let other = add.inputs[0] == mm ? add.inputs[1] : add.inputs[0]
            guard let b = constants[other], let bv = b.floats, bv.count == w.shape[1], b.rank >= 1,
                  b.shape.last == w.shape[1], b.shape.dropLast().allSatisfy({ $0 == 1 }) else { continue }
            out[i] = MatMulBias(addNode: j, bias: bv, biasShape: b.shape)
        }
        return out
    }
}
