import MurmurCore

/// Element types of declared tensors, numbered as ONNX's `TensorProto.DataType`.
public enum TensorDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, bool = 9, float16 = 10, float64 = 11

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .int32: return "int32"
        case .int64: return "int64"
        case .bool: return "bool"
        case .float16: return "float16"
        case .float64: return "float64"
        }
    }
}

/// A model input or output as declared by the model: name, element type and shape.
/// A dimension of `TensorSpec.dynamic` (−1) is free (batch size, sequence length …).
public struct TensorSpec: Hashable, Sendable {
    public static let dynamic: Int64 = -1
    public var name: String
    public var dtype: TensorDType
    public var shape: [Int64]

    public init(name: String, dtype: TensorDType, shape: [Int64]) {
        self.name = name; self.dtype = dtype; self.shape = shape
    }

    func encode(into w: inout ByteWriter) {
        w.string16(name); w.u8(dtype.rawValue); w.u8(UInt8(shape.count))
        for d in shape { w.i64(d) }
    }

    init(decoding r: inout ByteReader) throws(DecodeError) {
        name = try r.nonEmptyString(field: "tensor name", max: Limits.maxModelNameBytes)
        let raw = try r.u8()
        guard let dtype = TensorDType(rawValue: raw) else { throw .unknownTag(field: "tensor dtype", tag: UInt64(raw)) }
        self.dtype = dtype
        let rank = Int(try r.u8())
        if rank > Limits.maxManifestTensorRank { throw .tooLarge(field: "tensor rank", limit: Limits.maxManifestTensorRank, actual: rank) }
        var shape: [Int64] = []
        shape.reserveCapacity(rank)
        for _ in 0..<rank {
            let d = try r.i64()
            if d < TensorSpec.dynamic { throw .invalidValue(field: "tensor dimension", detail: "\(d) (fixed dims are ≥ 0, dynamic is −1)") }
            shape.append(d)
        }
        self.shape = shape
    }
}

/// Model formats a manifest may name.
public enum ModelFormat: UInt8, Sendable, CustomStringConvertible {
    case onnx = 1
    public var description: String { "onnx" }
}

/// What a publisher says about a model: its content hash and how to fetch and check it in
/// chunks, and the inputs and outputs it takes. The publisher's key is the record's author.
public struct ModelManifest: RecordBody {
    public static let kind = RecordKind.modelManifest
    public static let bodyVersion: UInt8 = 1

    /// BLAKE2b-256 of the complete model file bytes.
    public var modelHash: Hash
    public var name: String
    public var modelVersion: String
    public var format: ModelFormat
    /// Model file size in bytes.
    public var size: UInt64
    /// Every chunk is this long except possibly the last.
    public var chunkSize: UInt32
    /// BLAKE2b-256 of each chunk, in order.
    public var chunkHashes: [Hash]
    public var inputs: [TensorSpec]
    public var outputs: [TensorSpec]

    public init(modelHash: Hash, name: String, modelVersion: String, format: ModelFormat = .onnx, size: UInt64,
                chunkSize: UInt32, chunkHashes: [Hash], inputs: [TensorSpec], outputs: [TensorSpec]) {
        self.modelHash = modelHash; self.name = name; self.modelVersion = modelVersion; self.format = format
        self.size = size; self.chunkSize = chunkSize; self.chunkHashes = chunkHashes
        self.inputs = inputs; self.outputs = outputs
    }

    /// Describes `modelBytes`: computes the model hash and chunk hashes.
    public init(describing modelBytes: [UInt8], name: String, modelVersion: String, chunkSize: Int,
                inputs: [TensorSpec], outputs: [TensorSpec]) {
        precondition(chunkSize > 0)
        var hashes: [Hash] = []
        var start = 0
        while start < modelBytes.count {
            let end = min(start + chunkSize, modelBytes.count)
            hashes.append(Hash.of(modelBytes[start..<end]))
            start = end
        }
        self.init(modelHash: Hash.of(modelBytes), name: name, modelVersion: modelVersion, size: UInt64(modelBytes.count),
                  chunkSize: UInt32(clamping: chunkSize), chunkHashes: hashes, inputs: inputs, outputs: outputs)
    }

    /// Chunks a model of `size` bytes splits into at `chunkSize`.
    public static func chunkCount(size: UInt64, chunkSize: UInt32) -> Int {
        guard chunkSize > 0 else { return 0 }
        let c = UInt64(chunkSize)
        return Int(clamping: size / c + (size % c == 0 ? 0 : 1))
    }

    public func encode(into w: inout ByteWriter) {
        w.u8(Self.bodyVersion); w.hash(modelHash); w.string16(name); w.string16(modelVersion)
        w.u8(format.rawValue); w.u64(size); w.u32(chunkSize)
        w.u32(UInt32(chunkHashes.count)); for h in chunkHashes { w.hash(h) }
        w.u8(UInt8(inputs.count)); for t in inputs { t.encode(into: &w) }
        w.u8(UInt8(outputs.count)); for t in outputs { t.encode(into: &w) }
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        try Self.readVersion(&r)
        modelHash = try r.hash()
        name = try r.nonEmptyString(field: "model name", max: Limits.maxModelNameBytes)
        modelVersion = try r.string16(field: "model version", max: Limits.maxVersionStringBytes)
        let rawFormat = try r.u8()
        guard let format = ModelFormat(rawValue: rawFormat) else { throw .unknownTag(field: "model format", tag: UInt64(rawFormat)) }
        self.format = format
        size = try r.u64()
        chunkSize = try r.u32()
        let n = try r.count32(field: "chunk hashes", max: Limits.maxManifestChunks)
        var hashes: [Hash] = []
        hashes.reserveCapacity(n)
        for _ in 0..<n { hashes.append(try r.hash()) }
        chunkHashes = hashes
        inputs = try Self.readSpecs(&r, field: "inputs")
        outputs = try Self.readSpecs(&r, field: "outputs")
    }

    private static func readSpecs(_ r: inout ByteReader, field: String) throws(DecodeError) -> [TensorSpec] {
        let n = Int(try r.u8())
        if n > Limits.maxTensorSpecs { throw .tooLarge(field: field, limit: Limits.maxTensorSpecs, actual: n) }
        var specs: [TensorSpec] = []
        for _ in 0..<n { specs.append(try TensorSpec(decoding: &r)) }
        return specs
    }

    public func check(issuedAt: Int64, expiresAt: Int64) throws(RecordError) {
        if name.isEmpty || name.utf8.count > Limits.maxModelNameBytes { throw .invalid("model name must be 1…\(Limits.maxModelNameBytes) bytes") }
        if modelVersion.utf8.count > Limits.maxVersionStringBytes { throw .invalid("model version longer than \(Limits.maxVersionStringBytes) bytes") }
        if size == 0 || size > Limits.maxManifestModelBytes { throw .invalid("model size \(size) outside 1…\(Limits.maxManifestModelBytes)") }
        if chunkSize < Limits.minModelChunkBytes || chunkSize > Limits.maxModelChunkBytes {
            throw .invalid("chunk size \(chunkSize) outside \(Limits.minModelChunkBytes)…\(Limits.maxModelChunkBytes)")
        }
        let expected = Self.chunkCount(size: size, chunkSize: chunkSize)
        if expected > Limits.maxManifestChunks { throw .invalid("\(expected) chunks over the limit \(Limits.maxManifestChunks): use a larger chunk size") }
        if chunkHashes.count != expected { throw .invalid("\(chunkHashes.count) chunk hashes, but size/chunk size needs \(expected)") }
        for (field, specs) in [("inputs", inputs), ("outputs", outputs)] {
            if specs.isEmpty || specs.count > Limits.maxTensorSpecs { throw .invalid("\(field): need 1…\(Limits.maxTensorSpecs)") }
            if Set(specs.map(\.name)).count != specs.count { throw .invalid("\(field): duplicate tensor name") }
            for s in specs {
                if s.name.isEmpty || s.name.utf8.count > Limits.maxModelNameBytes { throw .invalid("\(field): bad tensor name length") }
                if s.shape.count > Limits.maxManifestTensorRank || s.shape.contains(where: { $0 < TensorSpec.dynamic }) {
                    throw .invalid("\(field): bad shape for \(s.name)")
                }
            }
        }
    }
}
