import MurmurCore

/// The canonical encoding of inference outputs, and its BLAKE2b-256 hash (the value executors
/// attest to). Normative text: Specs/inference.md, "Output hash".
///
///     "murmur-outputs-v1"      17 ASCII bytes
///     u32 output count
///     per output, in graph order:
///       u32 name length, name (UTF-8)
///       u8  dtype (ONNX TensorProto.DataType number)
///       u32 rank, rank × u64 dims
///       data: elements little-endian (bool: 1 byte 0/1), row-major
///
/// Integers in the framing are big-endian (MurmurCore's canonical `ByteWriter`).
public enum OutputHash {
    public static let domain = Array("murmur-outputs-v1".utf8)

    public static func encode(_ outputs: [NamedTensor]) -> [UInt8] {
        var w = ByteWriter()
        w.raw(domain)
        w.u32(UInt32(outputs.count))
        for o in outputs {
            w.bytes32(Array(o.name.utf8))
            w.u8(UInt8(o.tensor.dtype.rawValue))
            w.u32(UInt32(o.tensor.rank))
            for d in o.tensor.shape { w.u64(UInt64(d)) }
            w.raw(o.tensor.littleEndianBytes())
        }
        return w.bytes
    }

    public static func of(_ outputs: [NamedTensor]) -> Hash { Hash.of(encode(outputs)) }
}
