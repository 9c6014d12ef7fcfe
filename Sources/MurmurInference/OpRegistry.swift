/// An operator implementation prepared for one node: attributes parsed once at load time,
/// `run` called once per inference. Kernels are immutable and shared between threads.
public protocol OpKernel: Sendable {
    /// `inputs[i]` is nil for an omitted optional input (empty name). Returns one tensor per
    /// node output (trailing optional outputs may be left out).
    func run(_ inputs: [Tensor?], _ context: RunContext) throws -> [Tensor]
}

/// A kernel error without node context; the executor adds the op type and node name.
public struct OpError: Error, CustomStringConvertible {
    public let detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}

/// What a kernel factory sees: the node, the opset version its domain imports, and access to
/// the registry (for kernels that compile subgraphs, e.g. If / Loop).
public struct NodeContext: Sendable {
    public let node: NodeProto
    public let opset: Int
    public let registry: OpRegistry
    /// The model's opset imports, for compiling subgraphs.
    public let opsetImports: [OpsetImport]
    /// Initializer values by name (for kernels that prepare constant weights at load time).
    public var constants: [String: Tensor] = [:]

    public init(node: NodeProto, opset: Int, registry: OpRegistry, opsetImports: [OpsetImport], constants: [String: Tensor] = [:]) {
        self.node = node; self.opset = opset; self.registry = registry; self.opsetImports = opsetImports
        self.constants = constants
    }

    /// The value of input `i` when it is an initializer (a constant for the model's lifetime).
    public func constantInput(_ i: Int) -> Tensor? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        return constants[node.inputs[i]]
    }

    public var opType: String { node.opType }

    public func int(_ name: String) -> Int? {
        if case let .int(v)? = node.attribute(name) { return v }
        return nil
    }
    public func int(_ name: String, default d: Int) -> Int { int(name) ?? d }
    public func float(_ name: String) -> Float? {
        switch node.attribute(name) {
        case let .float(v)?: return v
        case let .int(v)?: return Float(v)
        default: return nil
        }
    }
    public func float(_ name: String, default d: Float) -> Float { float(name) ?? d }
    public func ints(_ name: String) -> [Int]? {
        switch node.attribute(name) {
        case let .ints(v)?: return v
        case let .int(v)?: return [v]
        default: return nil
        }
    }
    public func floats(_ name: String) -> [Float]? {
        switch node.attribute(name) {
        case let .floats(v)?: return v
        case let .float(v)?: return [v]
        default: return nil
        }
    }
    public func string(_ name: String) -> String? {
        if case let .string(v)? = node.attribute(name) { return String(decoding: v, as: UTF8.self) }
        return nil
    }
    public func tensor(_ name: String) throws -> Tensor? {
        if case let .tensor(p)? = node.attribute(name) { return try Tensor(proto: p) }
        return nil
    }
    public func graph(_ name: String) -> GraphProto? {
        if case let .graph(g)? = node.attribute(name) { return g }
        return nil
    }
    /// Throws when a required attribute is missing.
    public func require<T>(_ v: T?, _ name: String) throws -> T {
        guard let v else { throw OpError("missing required attribute '\(name)'") }
        return v
    }
}

/// One operator (op type in a domain) over a range of opset versions, and the factory that
/// prepares a kernel for a node.
public struct OpDefinition: Sendable {
    public let domain: String
    public let opType: String
    /// Opset versions of `domain` this implementation follows.
    public let versions: ClosedRange<Int>
    public let make: @Sendable (NodeContext) throws -> any OpKernel

    public init(_ opType: String, domain: String = "", versions: ClosedRange<Int> = 1...22,
                make: @escaping @Sendable (NodeContext) throws -> any OpKernel) {
        self.opType = opType; self.domain = domain; self.versions = versions; self.make = make
    }
}

/// The table of operators a model may use. `OpRegistry.standard` holds every built-in set;
/// a new set of operators lives in its own file as `[OpDefinition]` and is added to the list
/// in `OpRegistry.standard` with one line (or at run time with `adding(_:)`).
public struct OpRegistry: Sendable {
    private var table: [String: [OpDefinition]] = [:]

    public init(_ sets: [[OpDefinition]]) {
        for set in sets { for d in set { table[Self.key(d.domain, d.opType), default: []].append(d) } }
    }

    public func adding(_ defs: [OpDefinition]) -> OpRegistry {
        var r = self
        for d in defs { r.table[Self.key(d.domain, d.opType), default: []].append(d) }
        return r
    }

    static func key(_ domain: String, _ op: String) -> String {
        (domain == "ai.onnx" ? "" : domain) + "::" + op
    }

    public func lookup(opType: String, domain: String, version: Int) -> OpDefinition? {
        table[Self.key(domain, opType)]?.last { $0.versions.contains(version) }
    }

    /// Every (domain, op type) pair the registry knows, sorted.
    public var operatorNames: [String] {
        table.values.compactMap(\.first).map { ($0.domain.isEmpty ? "" : $0.domain + ".") + $0.opType }.sorted()
    }

    /// The built-in operators.
    public static let standard = OpRegistry([
        ElementwiseOps.all,
        MatMulOps.all,
        ConvOps.all,
        PoolOps.all,
        NormalizationOps.all,
        ReduceOps.all,
        ShapeOps.all,
        IndexingOps.all,
        MLOps.all,
        MovementOps.all,
        ResizeOps.all,
        LossOps.all,
        DetectionOps.all,
        EinsumOps.all,
        SignalOps.all,
    ])
}
