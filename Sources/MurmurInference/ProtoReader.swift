import MurmurCore

/// Protobuf wire types (the low 3 bits of a field key).
enum WireType: UInt64 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
}

/// A hand-written, bounded protobuf decoder over a byte range of a shared array.
///
/// Every read is bounds-checked and throws `InferenceError.malformed` on bad input; nested
/// messages are readers over a sub-range (no copies) whose depth is limited by
/// `Limits.maxProtoDepth`. Unknown fields are skipped by wire type.
struct ProtoReader {
    let data: [UInt8]
    private(set) var position: Int
    let end: Int
    let depth: Int

    init(_ data: [UInt8]) {
        self.data = data; position = 0; end = data.count; depth = 0
    }

    private init(data: [UInt8], range: Range<Int>, depth: Int) {
        self.data = data; position = range.lowerBound; end = range.upperBound; self.depth = depth
    }

    var isAtEnd: Bool { position >= end }

    mutating func varint() throws(InferenceError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .malformed("truncated varint at byte \(position)") }
            let b = data[position]
            position += 1
            if shift == 63 && b > 1 { throw .malformed("varint overflows 64 bits at byte \(position - 1)") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformed("varint longer than 10 bytes at byte \(position)") }
        }
    }

    mutating func fixed32() throws(InferenceError) -> UInt32 {
        guard end - position >= 4 else { throw .malformed("truncated fixed32 at byte \(position)") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(data[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func fixed64() throws(InferenceError) -> UInt64 {
        guard end - position >= 8 else { throw .malformed("truncated fixed64 at byte \(position)") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(data[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    /// The next field key, or nil at the end of this message.
    mutating func nextField() throws(InferenceError) -> (number: Int, wire: WireType)? {
        if isAtEnd { return nil }
        let key = try varint()
        guard let wire = WireType(rawValue: key & 7) else {
            throw .malformed("invalid wire type \(key & 7) at byte \(position)")
        }
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else { throw .malformed("invalid field number \(number)") }
        return (Int(number), wire)
    }

    /// The byte range of a length-delimited field.
    mutating func lengthDelimitedRange() throws(InferenceError) -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - position) else {
            throw .malformed("length \(n) runs past the end of its message at byte \(position)")
        }
        let r = position..<(position + Int(n))
        position += Int(n)
        return r
    }

    mutating func bytes() throws(InferenceError) -> ArraySlice<UInt8> {
        let r = try lengthDelimitedRange()
        return data[r]
    }

    mutating func string() throws(InferenceError) -> String {
        let r = try lengthDelimitedRange()
        guard r.count <= Limits.maxProtoStringBytes else {
            throw .limitExceeded(what: "protobuf string", limit: Limits.maxProtoStringBytes, actual: r.count)
        }
        return String(decoding: data[r], as: UTF8.self)
    }

    /// A reader over a nested message, one level deeper.
    mutating func message() throws(InferenceError) -> ProtoReader {
        let r = try lengthDelimitedRange()
        guard depth + 1 <= Limits.maxProtoDepth else {
            throw .limitExceeded(what: "protobuf nesting depth", limit: Limits.maxProtoDepth, actual: depth + 1)
        }
        return ProtoReader(data: data, range: r, depth: depth + 1)
    }

    mutating func skip(_ wire: WireType) throws(InferenceError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimitedRange()
        case .startGroup, .endGroup: throw .malformed("protobuf groups are not used by ONNX")
        }
    }

    // MARK: repeated scalars (packed or not)

    /// Appends one or more varints (packed when the wire type is length-delimited).
    mutating func appendVarints(_ wire: WireType, to out: inout [UInt64]) throws(InferenceError) {
        switch wire {
        case .varint:
            try checkCount(out.count + 1)
            out.append(try varint())
        case .lengthDelimited:
            var sub = try message()
            while !sub.isAtEnd {
                try checkCount(out.count + 1)
                out.append(try sub.varint())
            }
        default: throw .malformed("wrong wire type \(wire) for a varint field")
        }
    }

    mutating func appendFixed32(_ wire: WireType, to out: inout [UInt32]) throws(InferenceError) {
        switch wire {
        case .fixed32:
            try checkCount(out.count + 1)
            out.append(try fixed32())
        case .lengthDelimited:
            let r = try lengthDelimitedRange()
            guard r.count % 4 == 0 else { throw .malformed("packed fixed32 field of \(r.count) bytes") }
            try checkCount(out.count + r.count / 4)
            out.reserveCapacity(out.count + r.count / 4)
            var sub = ProtoReader(data: data, range: r, depth: depth)
            while !sub.isAtEnd { out.append(try sub.fixed32()) }
        default: throw .malformed("wrong wire type \(wire) for a fixed32 field")
        }
    }

    mutating func appendFixed64(_ wire: WireType, to out: inout [UInt64]) throws(InferenceError) {
        switch wire {
        case .fixed64:
            try checkCount(out.count + 1)
            out.append(try fixed64())
        case .lengthDelimited:
            let r = try lengthDelimitedRange()
            guard r.count % 8 == 0 else { throw .malformed("packed fixed64 field of \(r.count) bytes") }
            try checkCount(out.count + r.count / 8)
            out.reserveCapacity(out.count + r.count / 8)
            var sub = ProtoReader(data: data, range: r, depth: depth)
            while !sub.isAtEnd { out.append(try sub.fixed64()) }
        default: throw .malformed("wrong wire type \(wire) for a fixed64 field")
        }
    }

    func checkCount(_ n: Int) throws(InferenceError) {
        if n > Limits.maxRepeatedCount {
            throw .limitExceeded(what: "repeated protobuf field", limit: Limits.maxRepeatedCount, actual: n)
        }
    }

    /// Requires a specific wire type for a singular field.
    func expect(_ wire: WireType, _ wanted: WireType, _ field: String) throws(InferenceError) {
        if wire != wanted { throw .malformed("field \(field) has wire type \(wire), expected \(wanted)") }
    }
}
