import MurmurCore

/// What `murmur inspect` shows; readable even when the model uses operators we lack.
public struct ModelSummary: Sendable {
    public let modelHash: Hash
    public let proto: ModelProto
    public let opCounts: [(op: String, count: Int)]
    public let parameterCount: Int
    public let missing: [OperatorRef]
    /// Graph inputs that are not initializers.
    public let inputs: [ValueInfo]

    public init(path: String) throws(InferenceError) {
        try self.init(bytes: FileBytes.read(path, limit: Limits.maxModelBytes))
    }

    public init(bytes: [UInt8]) throws(InferenceError) {
        proto = try ModelProto(bytes: bytes)
        modelHash = Hash.of(bytes)
        var counts: [String: Int] = [:]
        func visit(_ g: GraphProto) {
            for n in g.nodes {
                counts[(n.domain.isEmpty ? "" : n.domain + ".") + n.opType, default: 0] += 1
                for a in n.attributes {
                    if case let .graph(sg) = a.value { visit(sg) }
                    if case let .graphs(gs) = a.value { gs.forEach(visit) }
                }
            }
        }
        visit(proto.graph)
        opCounts = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
        parameterCount = proto.graph.initializers.reduce(0) { $0 + $1.dims.reduce(1, *) }
        missing = InferenceModel.missingOperators(proto)
        let initNames = Set(proto.graph.initializers.map(\.name))
        inputs = proto.graph.inputs.filter { !initNames.contains($0.name) }
    }

    static func describe(_ v: ValueInfo) -> String {
        let dt = DType(rawValue: v.elementType)?.name ?? DType.onnxName(v.elementType).lowercased()
        let sh = v.shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "(shape not declared)"
        return "\(v.name): \(dt) \(sh)"
    }

    public func text() -> String {
        var s = "model_hash: \(modelHash.hex)\n"
        s += "producer:   \(proto.producerName) \(proto.producerVersion) (IR version \(proto.irVersion))\n"
        s += "opsets:     " + proto.opsetImports.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", ") + "\n"
        s += "inputs:\n" + inputs.map { "  " + Self.describe($0) + "\n" }.joined()
        s += "outputs:\n" + proto.graph.outputs.map { "  " + Self.describe($0) + "\n" }.joined()
        s += "parameters: \(parameterCount) in \(proto.graph.initializers.count) initializers\n"
        s += "operators (\(opCounts.reduce(0) { $0 + $1.count }) nodes):\n"
        s += opCounts.map { "  \($0.op) × \($0.count)\n" }.joined()
        if missing.isEmpty { s += "engine support: all operators supported\n" } else {
            s += "engine lacks: " + missing.map(\.description).joined(separator: ", ") + "\n"
        }
        return s
    }

    public func json() -> String {
        func vi(_ v: ValueInfo) -> String {
            let dt = DType(rawValue: v.elementType)?.name ?? DType.onnxName(v.elementType).lowercased()
            let sh = v.shape.map { "[" + $0.map { d in
                if case let .value(n) = d { return String(n) }
                return JSONText.quote(d.description)
            }.joined(separator: ", ") + "]" } ?? "null"
            return "{\"name\": \(JSONText.quote(v.name)), \"dtype\": \(JSONText.quote(dt)), \"shape\": \(sh)}"
        }
        var s = "{\"model_hash\": \"\(modelHash.hex)\", "
        s += "\"inputs\": [\(inputs.map(vi).joined(separator: ", "))], "
        s += "\"outputs\": [\(proto.graph.outputs.map(vi).joined(separator: ", "))], "
        s += "\"op_counts\": {\(opCounts.map { "\(JSONText.quote($0.op)): \($0.count)" }.joined(separator: ", "))}, "
        s += "\"parameter_count\": \(parameterCount), "
        s += "\"missing_ops\": [\(missing.map { JSONText.quote($0.description) }.joined(separator: ", "))]}\n"
        return s
    }
}
