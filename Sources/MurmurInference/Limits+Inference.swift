import MurmurCore

/// Maxima for everything the inference engine reads from a model file, an input file or a
/// test-data file. Hitting one is an `InferenceError`, never a crash or unbounded allocation.
extension Limits {
    /// Largest ONNX model file accepted (bytes).
    public static let maxModelBytes = 2 * 1024 * 1024 * 1024 - 1
    /// Deepest protobuf message nesting (graphs inside attributes inside nodes …).
    public static let maxProtoDepth = 64
    /// Most nodes in one graph (subgraphs counted separately).
    public static let maxGraphNodes = 1_000_000
    /// Most elements in any repeated protobuf field (dims, floats, inputs, attributes …).
    public static let maxRepeatedCount = 512 * 1024 * 1024
    /// Largest tensor rank.
    public static let maxTensorRank = 16
    /// Most elements in any one tensor (initializer, input or computed value): 1 GiB of float32.
    public static let maxTensorElements = 1 << 28
    /// Longest name / string field in a model (op types, value names, attribute names).
    public static let maxProtoStringBytes = 64 * 1024
    /// Largest input JSON file accepted by `murmur infer`.
    public static let maxInputJSONBytes = 256 * 1024 * 1024
    /// Most worker threads one inference may use.
    public static let maxInferenceThreads = 256
}
