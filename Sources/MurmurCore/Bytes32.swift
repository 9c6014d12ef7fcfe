/// 32 bytes held inline (no heap allocation), for hashes and public keys. Cheap to hash and
/// compare, which matters in the simulator's seen-caches with millions of entries.
public struct Bytes32: Hashable, Comparable, Sendable {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public static let zero = Bytes32(w0: 0, w1: 0, w2: 0, w3: 0)

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// nil unless exactly 32 bytes.
    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count == 32 else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        var i = 0
        for b in bytes {
            words[i >> 3] = words[i >> 3] << 8 | UInt64(b)
            i += 1
        }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    /// The 32 bytes, in order (each word big-endian).
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(shift))) }
        }
        return out
    }

    public var hex: String { Hex.encode(bytes) }

    public init?(hex: String) {
        guard let b = Hex.decode(hex) else { return nil }
        self.init(b)
    }

    /// Lexicographic order of the bytes.
    public static func < (a: Bytes32, b: Bytes32) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}

extension ByteWriter {
    public mutating func bytes32(_ v: Bytes32) {
        u64(v.w0); u64(v.w1); u64(v.w2); u64(v.w3)
    }
}

extension ByteReader {
    public mutating func bytes32() throws(DecodeError) -> Bytes32 {
        Bytes32(w0: try u64(), w1: try u64(), w2: try u64(), w3: try u64())
    }
}
