/// `ai.onnx.ml` operators (what skl2onnx emits around scikit-learn models).
enum MLOps {
    static let domain = "ai.onnx.ml"
    static let all: [OpDefinition] = [arrayFeatureExtractor]

    /// Selects elements along the last axis: output shape X.shape[:-1] + [len(indices)]
    /// (a 1-D X gives [1, len(indices)], as onnxruntime does).
    static let arrayFeatureExtractor = OpDefinition("ArrayFeatureExtractor", domain: domain, versions: 1...5, make: K.simple { ins, _ in
        let x = try K.input(ins, 0)
        let indices = try K.ints(K.input(ins, 1), "Y")
        guard x.rank >= 1 else { throw OpError("X must have rank ≥ 1") }
        let last = x.shape[x.rank - 1]
        let outer = x.count / max(last, 1)
        for i in indices where i < 0 || i >= last { throw OpError("index \(i) out of range for last axis of size \(last)") }
        var idx: [Int] = []
        idx.reserveCapacity(outer * indices.count)
        for o in 0..<outer { for i in indices { idx.append(o * last + i) } }
        let shape = x.rank == 1 ? [1, indices.count] : Array(x.shape.dropLast()) + [indices.count]
        return [x.gathered(idx, shape: shape)]
    })
}
