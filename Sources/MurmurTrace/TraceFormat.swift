import MurmurCore

/// The trace file format (Specs/trace.md): JSON Lines, one event per line.
public enum TraceFormat {
    /// Schema major version written in `v`. Readers reject a larger major, accept any minor.
    public static let major = 1
    /// Schema minor version this code writes (`"v":1` means 1.0; a newer minor writes `"v":"1.2"`).
    public static let minor = 0
    /// `t` and `wall` must lie strictly within ±2^62 ns (±146 years), so that differences of two
    /// times never overflow.
    public static let timeLimit: UInt64 = 1 << 62
}

/// One parsed trace line in compact form: no heap allocation per line. Strings (event kind,
/// record kind, reason) are interned in a `TraceStrings` table and referred to by index.
public struct TraceLine: Sendable, Equatable {
    public var versionMajor: Int = 0
    public var versionMinor: Int = 0
    /// Node-local time in ns (`t`).
    public var time: Int64 = 0
    public var node: Bytes32 = .zero
    /// Index of the event name (`ev`) in `TraceStrings`; indices below `TraceStrings.knownKinds`
    /// are `TraceEvent.Kind.allCases` in order, larger ones are names this reader does not know.
    public var event: Int32 = -1
    /// Interned record kind (`kind`), or -1.
    public var recordKind: Int32 = -1
    public var id: Bytes32? = nil
    public var peer: Bytes32? = nil
    public var bytes: Int64? = nil
    public var hops: Int64? = nil
    /// Interned reason, or -1.
    public var reason: Int32 = -1
    /// Per-node monotonic sequence number (`seq`), when the writer provides it.
    public var seq: Int64? = nil
    /// Wall-clock time, ns since the Unix epoch (`wall`), when the writer provides it.
    public var wall: Int64? = nil

    public init() {}

    /// The known event kind, or nil for a name from a newer version.
    public var kind: TraceEvent.Kind? {
        event >= 0 && Int(event) < TraceStrings.knownKinds ? TraceStrings.kinds[Int(event)] : nil
    }
}

/// Interned strings of one reading session. Event names come first, in `TraceEvent.Kind` order.
public final class TraceStrings {
    static let kinds = TraceEvent.Kind.allCases.map { $0 }
    public static let knownKinds = TraceEvent.Kind.allCases.count
    /// Index used when the table is full.
    public private(set) var otherIndex: Int32 = -1

    public private(set) var names: [String] = []
    private var byHash: [UInt64: Int32] = [:]
    private var bytesOf: [[UInt8]] = []
    private var collisions: [[UInt8]: Int32] = [:]

    public init() {
        for k in TraceEvent.Kind.allCases { _ = intern(Array(k.rawValue.utf8)) }
        otherIndex = intern(Array("(other)".utf8))
    }

    public var count: Int { names.count }
    public func name(_ index: Int32) -> String? { index >= 0 && Int(index) < names.count ? names[Int(index)] : nil }
    public func index(of name: String) -> Int32? {
        let b = Array(name.utf8)
        if let i = byHash[Self.fnv(b)], bytesOf[Int(i)] == b { return i }
        return collisions[b]
    }
    public func index(of kind: TraceEvent.Kind) -> Int32 { Int32(TraceEvent.Kind.allCases.firstIndex(of: kind) ?? 0) }

    @inline(__always) static func fnv<C: Collection>(_ b: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in b { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        return h
    }

    @inline(__always) static func fnv(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 }
        return h
    }

    @discardableResult func intern(_ b: [UInt8]) -> Int32 {
        b.withUnsafeBufferPointer { intern($0.baseAddress!, $0.count) }
    }

    /// Looks the bytes up without allocating when they are already known.
    func intern(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let h = Self.fnv(p, n)
        if let i = byHash[h] {
            let known = bytesOf[Int(i)]
            if known.count == n && known.withUnsafeBufferPointer({ memcmpEqual($0.baseAddress, p, n) }) { return i }
            let b = Array(UnsafeBufferPointer(start: p, count: n))
            if let j = collisions[b] { return j }
            return add(b, hash: nil)
        }
        return add(Array(UnsafeBufferPointer(start: p, count: n)), hash: h)
    }

    private func add(_ b: [UInt8], hash: UInt64?) -> Int32 {
        if names.count >= Limits.traceMaxDistinctStrings && otherIndex >= 0 { return otherIndex }
        let i = Int32(names.count)
        names.append(String(decoding: b, as: UTF8.self))
        bytesOf.append(b)
        if let hash { byHash[hash] = i } else { collisions[b] = i }
        return i
    }
}

@inline(__always) func memcmpEqual(_ a: UnsafePointer<UInt8>?, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    guard let a else { return n == 0 }
    for i in 0..<n where a[i] != b[i] { return false }
    return true
}

/// Hex helpers that avoid intermediate arrays (hot paths of the reader and writer).
enum TraceHex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always) static func nibble(_ c: UInt8) -> UInt64? {
        if c &- 48 < 10 { return UInt64(c &- 48) }
        let l = c | 0x20
        if l &- 97 < 6 { return UInt64(l &- 87) }
        return nil
    }

    /// Exactly 64 hex digits at `p` to 32 bytes (16 digits at a time with SIMD; either case).
    @inline(__always) static func decode32(_ p: UnsafePointer<UInt8>) -> Bytes32? {
        guard let a = decode8(p), let b = decode8(p + 16), let c = decode8(p + 32), let d = decode8(p + 48) else { return nil }
        return Bytes32(w0: a, w1: b, w2: c, w3: d)
    }

    /// Nibble value of each byte, 0xff for non-hex. Allocated once, never freed, never written
    /// after initialisation (hence safe to share).
    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for i in 0..<256 { t[i] = nibble(UInt8(i)).map { UInt8($0) } ?? 0xff }
        return UnsafePointer(t)
    }()

    /// 16 hex digits to one big-endian word, or nil if any is not a hex digit.
    @inline(__always) static func decode8(_ p: UnsafePointer<UInt8>) -> UInt64? {
        let t = table
        var v: UInt64 = 0
        var bad: UInt8 = 0
        for i in 0..<16 {
            let n = t[Int(p[i])]
            bad |= n
            v = v << 4 | UInt64(n & 0x0f)
        }
        return bad & 0xf0 == 0 ? v : nil
    }

    @inline(__always) static func append(_ v: Bytes32, to out: inout [UInt8]) {
        appendWord(v.w0, to: &out); appendWord(v.w1, to: &out)
        appendWord(v.w2, to: &out); appendWord(v.w3, to: &out)
    }

    /// 16 hex digits of one word, built in registers and appended as two 8-byte chunks.
    @inline(__always) static func appendWord(_ w: UInt64, to out: inout [UInt8]) {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<8 {
            let nh = (w >> UInt64(60 - 4 * i)) & 0xf, nl = (w >> UInt64(28 - 4 * i)) & 0xf
            hi |= UInt64(nh < 10 ? 48 + nh : 87 + nh) << UInt64(8 * i)
            lo |= UInt64(nl < 10 ? 48 + nl : 87 + nl) << UInt64(8 * i)
        }
        withUnsafeBytes(of: hi.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: lo.littleEndian) { out.append(contentsOf: $0) }
    }

    static func string(_ v: Bytes32) -> String {
        var b = [UInt8](); b.reserveCapacity(64); append(v, to: &b)
        return String(decoding: b, as: UTF8.self)
    }
}
