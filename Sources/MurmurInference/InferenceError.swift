/// Everything that can go wrong loading or running a model. Messages name what was wrong and,
/// where it helps, what to do.
public enum InferenceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not a well-formed protobuf message of the expected type.
    case malformed(String)
    /// A size, count or depth exceeds a `Limits` maximum.
    case limitExceeded(what: String, limit: Int, actual: Int)
    /// A tensor stores its data outside the model file; Murmur models are single files.
    case externalData(tensor: String)
    /// Operators the engine does not implement (all of them, so one error lists everything).
    case unsupportedOperators([OperatorRef])
    /// A data type the engine does not handle (ONNX `TensorProto.DataType` number).
    case unsupportedDataType(Int, context: String)
    /// The model's graph is not executable (cycles, undefined values, missing attributes …).
    case invalidModel(String)
    /// The caller's inputs do not match the model's declared inputs.
    case invalidInput(String)
    /// An operator rejected its inputs at run time (shapes, dtypes, attribute values).
    case invalidOperation(op: String, node: String, detail: String)
    /// The caller's `RunContext.shouldStop` asked to stop (checked between operators); `before`
    /// names the operator that did not run.
    case stopped(before: String)

    public var description: String {
        switch self {
        case let .malformed(s): return "malformed ONNX data: \(s)"
        case let .limitExceeded(what, limit, actual): return "\(what) exceeds limit: \(actual) > \(limit)"
        case let .externalData(t):
            return "tensor '\(t)' uses external data; embed the weights in the .onnx file (onnx.save_model(..., save_as_external_data=False))"
        case let .unsupportedOperators(ops):
            var s = "unsupported operator(s): " + ops.map(\.description).joined(separator: ", ")
            if ops.contains(where: { $0.opType == "ZipMap" }) {
                s += " (ZipMap outputs dictionaries: convert with skl2onnx options={id(model): {'zipmap': False}})"
            }
            return s
        case let .unsupportedDataType(t, ctx): return "unsupported data type \(DType.onnxName(t)) in \(ctx)"
        case let .invalidModel(s): return "invalid model: \(s)"
        case let .invalidInput(s): return "invalid input: \(s)"
        case let .invalidOperation(op, node, detail):
            return "\(op) node '\(node)': \(detail)"
        case let .stopped(before): return "stopped by the caller before operator '\(before)'"
        }
    }
}

/// An operator as a model names it: op type, domain and the opset version it imports.
public struct OperatorRef: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var opType: String
    public var domain: String
    public var version: Int
    public init(opType: String, domain: String, version: Int) {
        self.opType = opType; self.domain = domain; self.version = version
    }
    public var description: String {
        "\(domain.isEmpty ? "ai.onnx" : domain).\(opType) (opset \(version))"
    }
    public static func < (a: OperatorRef, b: OperatorRef) -> Bool {
        (a.domain, a.opType, a.version) < (b.domain, b.opType, b.version)
    }
}
