/// Canonical binary encoding used by every wire message and record.
///
/// Integers are fixed-width, big-endian (network order). Variable-length fields carry an
/// explicit length prefix whose width the caller chooses, and every length read from input is
/// checked against a caller-supplied maximum *before* anything is allocated. There is exactly
/// one encoding of any value, so hashes and signatures over encoded bytes are well defined.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func u16(_ v: UInt16) { appendBigEndian(v) }
    public mutating func u32(_ v: UInt32) { appendBigEndian(v) }
    public mutating func u64(_ v: UInt64) { appendBigEndian(v) }
    public mutating func i64(_ v: Int64) { appendBigEndian(UInt64(bitPattern: v)) }

    /// Raw bytes with no length prefix (fixed-size fields such as keys and hashes).
    public mutating func raw<C: Collection>(_ v: C) where C.Element == UInt8 { bytes.append(contentsOf: v) }

    /// Bytes prefixed with a u8 length. Precondition: count ≤ 255 (a programmer error otherwise).
    public mutating func bytes8<C: Collection>(_ v: C) where C.Element == UInt8 {
        precondition(v.count <= Int(UInt8.max), "bytes8 field too long")
        u8(UInt8(v.count)); raw(v)
    }
    /// Bytes prefixed with a u16 length.
    public mutating func bytes16<C: Collection>(_ v: C) where C.Element == UInt8 {
        precondition(v.count <= Int(UInt16.max), "bytes16 field too long")
        u16(UInt16(v.count)); raw(v)
    }
    /// Bytes prefixed with a u32 length.
    public mutating func bytes32<C: Collection>(_ v: C) where C.Element == UInt8 {
        precondition(v.count <= Int(UInt32.max), "bytes32 field too long")
        u32(UInt32(v.count)); raw(v)
    }
    /// UTF-8 string prefixed with a u16 length.
    public mutating func string16(_ s: String) { bytes16(Array(s.utf8)) }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ v: T) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { bytes.append(contentsOf: $0) }
    }
}

/// Reads the canonical encoding. Every method throws `DecodeError` on short or invalid input;
/// nothing traps on any byte sequence.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    private let end: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
        self.end = bytes.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset == end }

    /// Throws unless every byte has been consumed (canonical encodings have no trailing bytes).
    public func expectEnd(_ context: String) throws(DecodeError) {
        if offset != end { throw .trailingBytes(context: context, count: end - offset) }
    }

    public mutating func u8() throws(DecodeError) -> UInt8 {
        try need(1)
        let v = bytes[offset]
        offset += 1
        return v
    }
    public mutating func bool() throws(DecodeError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: "bool", detail: "byte \(other) is neither 0 nor 1")
        }
    }
    public mutating func u16() throws(DecodeError) -> UInt16 { try bigEndian(UInt16.self) }
    public mutating func u32() throws(DecodeError) -> UInt32 { try bigEndian(UInt32.self) }
    public mutating func u64() throws(DecodeError) -> UInt64 { try bigEndian(UInt64.self) }
    public mutating func i64() throws(DecodeError) -> Int64 { Int64(bitPattern: try bigEndian(UInt64.self)) }

    /// Exactly `count` raw bytes.
    public mutating func raw(_ count: Int) throws(DecodeError) -> [UInt8] {
        try need(count)
        let v = Array(bytes[offset..<offset + count])
        offset += count
        return v
    }
    public mutating func skip(_ count: Int) throws(DecodeError) {
        try need(count)
        offset += count
    }

    public mutating func bytes8(field: String, max: Int) throws(DecodeError) -> [UInt8] {
        try lengthPrefixed(Int(try u8()), field: field, max: max)
    }
    public mutating func bytes16(field: String, max: Int) throws(DecodeError) -> [UInt8] {
        try lengthPrefixed(Int(try u16()), field: field, max: max)
    }
    public mutating func bytes32(field: String, max: Int) throws(DecodeError) -> [UInt8] {
        try lengthPrefixed(Int(try u32()), field: field, max: max)
    }
    public mutating func string16(field: String, max: Int) throws(DecodeError) -> String {
        let raw = try bytes16(field: field, max: max)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw .invalidValue(field: field, detail: "not valid UTF-8")
        }
        return s
    }

    /// A count of following items, checked against `max` before the caller allocates for them.
    public mutating func count16(field: String, max: Int) throws(DecodeError) -> Int {
        let n = Int(try u16())
        if n > max { throw .tooLarge(field: field, limit: max, actual: n) }
        return n
    }
    public mutating func count32(field: String, max: Int) throws(DecodeError) -> Int {
        let n = Int(try u32())
        if n > max { throw .tooLarge(field: field, limit: max, actual: n) }
        return n
    }

    private mutating func lengthPrefixed(_ n: Int, field: String, max: Int) throws(DecodeError) -> [UInt8] {
        if n > max { throw .tooLarge(field: field, limit: max, actual: n) }
        return try raw(n)
    }

    private func need(_ n: Int) throws(DecodeError) {
        if n < 0 || n > end - offset { throw .truncated(need: n, have: end - offset) }
    }

    private mutating func bigEndian<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
        let size = MemoryLayout<T>.size
        try need(size)
        var v: T = 0
        for i in 0..<size { v = (v << 8) | T(bytes[offset + i]) }
        offset += size
        return v
    }
}
