#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// Encodes events as trace lines (Specs/trace.md) without Foundation: keys in a fixed order,
/// nil keys omitted, strings escaped. Writes through a pointer into space reserved once per line
/// (this runs on the node's event loop for every traced event).
public enum TraceEncoder {
    public static func append(_ e: TraceEvent, seq: Int64? = nil, wall: Int64? = nil, to out: inout [UInt8]) {
        let maxLen = maxLineBytes(e)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLen) { buf in
            let base = buf.baseAddress!
            var c = Cursor(p: base)
            encode(e, seq: seq, wall: wall, &c)
            out.append(contentsOf: UnsafeBufferPointer(start: base, count: c.p - base))
        }
    }

    /// An upper bound of the encoded size of `e` (what `encode(_:seq:wall:into:)` needs).
    @inline(__always) public static func maxLineBytes(_ e: TraceEvent) -> Int {
        480 + 6 * ((e.recordKind?.utf8.count ?? 0) + (e.reason?.utf8.count ?? 0))
    }

    /// Encodes the line (with its `\n`) at `p`, which must have room for `maxLineBytes(e)`;
    /// returns the bytes written. For sinks that encode straight into their own buffer.
    @inline(__always) public static func encode(_ e: TraceEvent, seq: Int64? = nil, wall: Int64? = nil,
                                                into p: UnsafeMutablePointer<UInt8>) -> Int {
        var c = Cursor(p: p)
        encode(e, seq: seq, wall: wall, &c)
        return c.p - p
    }

    /// The same, with the hex digits of `node` and `peer` taken from `cache` when it holds them
    /// (a node's file repeats one node id and a few peers on every line). Same bytes.
    @inline(__always) public static func encode(_ e: TraceEvent, seq: Int64? = nil, wall: Int64? = nil,
                                                into p: UnsafeMutablePointer<UInt8>, cache: TraceHexCache) -> Int {
        var c = Cursor(p: p)
        c.cache = cache.slots
        encode(e, seq: seq, wall: wall, &c)
        return c.p - p
    }

    /// Event kind names as static strings (no `String` walk per line).
    @inline(__always) static func name(_ k: TraceEvent.Kind) -> StaticString {
        switch k {
        case .connect: return "connect"
        case .disconnect: return "disconnect"
        case .handshakeFail: return "handshake.fail"
        case .send: return "send"
        case .recv: return "recv"
        case .deliver: return "deliver"
        case .dup: return "dup"
        case .drop: return "drop"
        case .graft: return "graft"
        case .prune: return "prune"
        case .ihave: return "ihave"
        case .antientropy: return "antientropy"
        case .jobSubmit: return "job.submit"
        case .jobAssign: return "job.assign"
        case .jobClaim: return "job.claim"
        case .jobExecute: return "job.execute"
        case .jobAttest: return "job.attest"
        case .jobVerified: return "job.verified"
        case .jobDisputed: return "job.disputed"
        case .jobFailed: return "job.failed"
        case .verdict: return "verdict"
        }
    }

    public static func line(_ e: TraceEvent, seq: Int64? = nil, wall: Int64? = nil) -> String {
        var b = [UInt8](); append(e, seq: seq, wall: wall, to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    @inline(__always) static func encode(_ e: TraceEvent, seq: Int64?, wall: Int64?, _ c: inout Cursor) {
        c.put(#"{"v":1,"t":"#)
        c.int(e.time.nanoseconds)
        if let seq { c.put(#","seq":"#); c.int(seq) }
        if let wall { c.put(#","wall":"#); c.int(wall) }
        c.put(#","node":""#)
        c.cachedHex(e.node.key)
        c.put(#"","ev":""#)
        c.put(name(e.kind))
        c.byte(UInt8(ascii: "\""))
        if let k = e.recordKind { c.put(#","kind":"#); c.string(k) }
        if let id = e.recordID { c.put(#","id":""#); c.hex(id.value); c.byte(UInt8(ascii: "\"")) }
        if let p = e.peer { c.put(#","peer":""#); c.cachedHex(p.key); c.byte(UInt8(ascii: "\"")) }
        if let b = e.bytes { c.put(#","bytes":"#); c.int(Int64(b)) }
        if let h = e.hops { c.put(#","hops":"#); c.int(Int64(h)) }
        if let r = e.reason { c.put(#","reason":"#); c.string(r) }
        c.byte(UInt8(ascii: "}")); c.byte(10)
    }

    /// A write position in a buffer that the caller sized for the worst case.
    struct Cursor {
        var p: UnsafeMutablePointer<UInt8>
        /// `TraceHexCache.slots`, or nil.
        var cache: UnsafeMutablePointer<TraceHexCache.Slot>? = nil
        init(p: UnsafeMutablePointer<UInt8>) { self.p = p }
        /// `hex(v)`, through the cache when there is one.
        @inline(__always) mutating func cachedHex(_ v: Bytes32) {
            guard let cache else { return hex(v) }
            let slot = cache + Int(truncatingIfNeeded: v.w3 & UInt64(TraceHexCache.slotCount - 1))
            if slot.pointee.filled && slot.pointee.key == v {
                UnsafeMutableRawPointer(p).copyMemory(from: UnsafeRawPointer(slot), byteCount: 64)
                p += 64
                return
            }
            let start = p
            hex(v)
            slot.pointee.key = v
            slot.pointee.filled = true
            UnsafeMutableRawPointer(slot).copyMemory(from: start, byteCount: 64)
        }
        @inline(__always) mutating func byte(_ b: UInt8) { p.pointee = b; p += 1 }
        @inline(__always) mutating func copy64(_ from: UnsafePointer<UInt8>) {
            UnsafeMutableRawPointer(p).copyMemory(from: from, byteCount: 64); p += 64
        }
        @inline(__always) mutating func copy64(_ from: UnsafeMutablePointer<UInt8>) { copy64(UnsafePointer(from)) }
        @inline(__always) mutating func bytes(_ b: [UInt8]) {
            b.withUnsafeBufferPointer { u in
                if let base = u.baseAddress { p.update(from: base, count: u.count); p += u.count }
            }
        }
        @inline(__always) mutating func put(_ s: StaticString) {
            let n = s.utf8CodeUnitCount
            p.update(from: s.utf8Start, count: n); p += n
        }
        @inline(__always) mutating func raw(_ s: String) { for b in s.utf8 { byte(b) } }
        /// A decimal integer, eight digits at a time: each group of eight is computed in the
        /// bytes of one word (SWAR, no division per digit) and stored at once; the first group
        /// drops its leading zeros. Needs 8 bytes of room past the digits (`maxLineBytes` has it).
        @inline(__always) mutating func int(_ v: Int64) {
            var m: UInt64
            if v < 0 { byte(UInt8(ascii: "-")); m = v.magnitude } else { m = UInt64(v) }
            if m < 100_000_000 { return leading(m) }
            if m < 10_000_000_000_000_000 {
                leading(m / 100_000_000)
                return eight(m % 100_000_000)
            }
            let rest = m % 10_000_000_000_000_000
            leading(m / 10_000_000_000_000_000)
            eight(rest / 100_000_000)
            eight(rest % 100_000_000)
        }
        /// `m` < 10^8 without leading zeros ("0" for 0).
        @inline(__always) mutating func leading(_ m: UInt64) {
            let d = Self.eightDigits(m)
            // Leading zero digits are the low zero bytes (the first digit is the lowest byte).
            let zeros = d == 0 ? 7 : d.trailingZeroBitCount >> 3
            UnsafeMutableRawPointer(p).storeBytes(of: ((d &+ 0x3030_3030_3030_3030) >> UInt64(zeros &* 8)).littleEndian, as: UInt64.self)
            p += 8 &- zeros
        }
        /// `m` < 10^8 as exactly eight digits.
        @inline(__always) mutating func eight(_ m: UInt64) {
            UnsafeMutableRawPointer(p).storeBytes(of: (Self.eightDigits(m) &+ 0x3030_3030_3030_3030).littleEndian, as: UInt64.self)
            p += 8
        }
        /// The eight decimal digits of `m` < 10^8 as byte values 0...9, first digit in the lowest
        /// byte: split into 4-digit halves (32-bit lanes), 2-digit quarters (16-bit lanes) and
        /// digits (bytes), dividing every lane at once by a multiply and a shift.
        @inline(__always) static func eightDigits(_ m: UInt64) -> UInt64 {
            let halves = (m / 10_000) | (m % 10_000) << 32
            let hundreds = ((halves &* 10_486) >> 20) & 0x0000_007F_0000_007F
            let quarters = hundreds | (halves &- hundreds &* 100) << 16
            let tens = ((quarters &* 103) >> 10) & 0x000F_000F_000F_000F
            return tens | (quarters &- tens &* 10) << 8
        }
        /// 64 lower-case hex digits, first byte first (`Bytes32` holds its bytes big-endian in
        /// four words).
        @inline(__always) mutating func hex(_ v: Bytes32) { word(v.w0); word(v.w1); word(v.w2); word(v.w3) }
        @inline(__always) mutating func word(_ w: UInt64) {
            UnsafeMutableRawPointer(p).storeBytes(of: Self.hex8(w >> 32).littleEndian, as: UInt64.self)
            UnsafeMutableRawPointer(p + 8).storeBytes(of: Self.hex8(w & 0xffff_ffff).littleEndian, as: UInt64.self)
            p += 16
        }
        /// The 8 lower-case hex digits of a 32-bit value as 8 bytes (first digit in the lowest
        /// byte), without branches or tables: spread the nibbles one per byte, then add '0', and
        /// 'a' - '0' - 10 more to the nibbles ≥ 10.
        @inline(__always) static func hex8(_ v: UInt64) -> UInt64 {
            var x = v
            x = (x | x << 16) & 0x0000_ffff_0000_ffff
            x = (x | x << 8) & 0x00ff_00ff_00ff_00ff
            x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f
            x = x.byteSwapped
            let letters = ((x &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
            return x &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
        }
        /// A JSON string: quotes, `"` and `\\` escaped, control characters as \u00XX (≤ 6 bytes each).
        @inline(__always) mutating func string(_ s: String) {
            // Fast path: contiguous UTF-8 with nothing to escape (every name and reason we write).
            let copied: Bool? = s.utf8.withContiguousStorageIfAvailable { b -> Bool in
                for ch in b where ch < 0x20 || ch == UInt8(ascii: "\"") || ch == UInt8(ascii: "\\") { return false }
                byte(UInt8(ascii: "\""))
                if let base = b.baseAddress { p.update(from: base, count: b.count); p += b.count }
                byte(UInt8(ascii: "\""))
                return true
            }
            if copied == true { return }
            byte(UInt8(ascii: "\""))
            for ch in s.utf8 {
                switch ch {
                case UInt8(ascii: "\""): byte(UInt8(ascii: "\\")); byte(ch)
                case UInt8(ascii: "\\"): byte(ch); byte(ch)
                case 0..<0x20:
                    put(#"\u00"#)
                    byte(TraceHex.digits[Int(ch >> 4)]); byte(TraceHex.digits[Int(ch & 15)])
                default: byte(ch)
                }
            }
            byte(UInt8(ascii: "\""))
        }
    }

    /// A JSON string literal (used by the exports).
    static func appendString(_ s: String, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 + 6 * s.utf8.count) { buf in
            let base = buf.baseAddress!
            var c = Cursor(p: base)
            c.string(s)
            out.append(contentsOf: UnsafeBufferPointer(start: base, count: c.p - base))
        }
    }
}

/// The hex digits of recently written ids (node and peer), for one writer thread: a trace file
/// repeats its node's id on every line and a few peers' ids, and copying 64 digits is cheaper
/// than computing them. Direct-mapped by the id's last bytes (ids are hashes or public keys).
public final class TraceHexCache: @unchecked Sendable {
    static let slotCount = 256
    struct Slot {
        /// First: at offset 0 (`Cursor.cachedHex` copies from the slot's address).
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        var key: Bytes32
        var filled: Bool
    }
    let slots: UnsafeMutablePointer<Slot>
    public init() {
        slots = .allocate(capacity: Self.slotCount)
        slots.initialize(repeating: Slot(digits: (0, 0, 0, 0, 0, 0, 0, 0), key: .zero, filled: false), count: Self.slotCount)
    }
    deinit { slots.deallocate() }
}

/// Why the writer could not write. The node keeps running without traces when this happens.
public enum TraceWriteError: Error, CustomStringConvertible, Sendable {
    case open(path: String, errno: Int32)
    case write(path: String, errno: Int32)
    case rename(path: String, errno: Int32)
    public var description: String {
        switch self {
        case .open(let p, let e): return "cannot open trace file \(p): \(String(cString: strerror(e)))"
        case .write(let p, let e): return "cannot write trace file \(p): \(String(cString: strerror(e)))"
        case .rename(let p, let e): return "cannot rotate trace file \(p): \(String(cString: strerror(e)))"
        }
    }
}

/// Appends trace events to a file, off the hot path: `append` only encodes into an in-memory
/// buffer; the buffer is written in one `write(2)` when it holds `bufferBytes`, when
/// `flushIntervalNs` of node time passed since the last write, or on `flush()` (call it at
/// shutdown). Plug it into the node with `node.traceSink = { try? writer.append($0) }`.
/// When the file would exceed `maxFileBytes` it is rotated: `trace.jsonl` → `trace.jsonl.1` → … ,
/// keeping `keepFiles` old files. Assigns the per-node `seq` and stamps `wall` on the first line
/// written after each (re)open and then at most once per second of node time (no `wall` when
/// `wallClock` is nil, e.g. simulated time), so files can be put back in order
/// and aligned with wall clocks. One writer per node; not thread-safe (owned by the event loop).
public final class TraceWriter {
    public let path: String
    public let maxFileBytes: Int
    public let keepFiles: Int
    public let bufferBytes: Int
    private var fd: Int32 = -1
    /// Encoded lines not yet written: `used` bytes of `capacity` (bufferBytes plus room for
    /// one typical line, so that a line is encoded in place before the buffer is found full).
    private let buffer: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var used = 0
    private let hexCache = TraceHexCache()
    private var fileBytes = 0
    private var seq: Int64 = 0
    private var lastWallStamp: Int64 = .min
    private var lastFlushTime: Int64 = .min
    /// Buffered events are also written once this much node time passed since the last write,
    /// so a quiet node's trace is at most this stale (no clock is read: event times are used).
    public let flushIntervalNs: Int64
    private var stampNextWall = true
    private let wallClock: (@Sendable () -> Int64)?
    /// Events written and rotations done (for metrics).
    public private(set) var eventsWritten: Int64 = 0
    public private(set) var rotations = 0

    public init(path: String, maxFileBytes: Int = Limits.traceDefaultFileBytes,
                keepFiles: Int = Limits.traceDefaultRotatedFiles, bufferBytes: Int = Limits.traceWriterBufferBytes,
                flushIntervalNs: Int64 = 1_000_000_000,
                wallClock: (@Sendable () -> Int64)? = TraceWriter.unixNanoseconds) throws(TraceWriteError) {
        self.path = path
        self.maxFileBytes = max(maxFileBytes, 4096)
        self.keepFiles = max(keepFiles, 0)
        self.bufferBytes = max(bufferBytes, 4096)
        self.flushIntervalNs = flushIntervalNs
        self.wallClock = wallClock
        capacity = self.bufferBytes + 4096
        buffer = .allocate(capacity: capacity)
        do { try openFile() } catch { buffer.deallocate(); throw error }
    }

    deinit {
        try? flush()
        if fd >= 0 { close(fd) }
        buffer.deallocate()
    }

    public static let unixNanoseconds: @Sendable () -> Int64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    private func openFile() throws(TraceWriteError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .open(path: path, errno: errno) }
        var st = stat()
        fileBytes = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        stampNextWall = true
    }

    /// Encodes the event into the buffer; writes the buffer when it is full.
    public func append(_ event: TraceEvent) throws(TraceWriteError) {
        let t = event.time.nanoseconds
        let wall = stamp(t)
        // Encoded straight into the buffer (no scratch line, no copy).
        let need = TraceEncoder.maxLineBytes(event) + 64
        if used + need > capacity { try flush() }
        if need > capacity {
            var line: [UInt8] = []
            TraceEncoder.append(event, seq: seq, wall: wall, to: &line)
            try write(line)
        } else {
            used += TraceEncoder.encode(event, seq: seq, wall: wall, into: buffer + used, cache: hexCache)
        }
        try lineDone(t)
    }

    /// Counts the next line (`seq`) and returns the `wall` stamp it carries, if any.
    @inline(__always) private func stamp(_ t: Int64) -> Int64? {
        seq += 1
        guard let wallClock, stampNextWall || t &- lastWallStamp >= 1_000_000_000 else { return nil }
        lastWallStamp = t
        stampNextWall = false
        return wallClock()
    }

    /// After a line at node time `t`: writes the buffer when it is full or old enough.
    @inline(__always) private func lineDone(_ t: Int64) throws(TraceWriteError) {
        eventsWritten += 1
        if lastFlushTime == .min { lastFlushTime = t }
        if used >= bufferBytes || t &- lastFlushTime >= flushIntervalNs {
            lastFlushTime = t
            try flush()
        }
    }

    /// Appends the events that a `TracePacker` packed into `count` bytes at `p`, read in order
    /// by `unpacker` (one per packer, kept across calls): the same lines, buffer flushes and
    /// rotations as `append` of each event, but encoded straight from the packed words, with the
    /// node's and peers' hex digits and the strings' JSON that `unpacker` keeps per slot.
    /// Returns the number of events.
    @discardableResult
    public func append(packed p: UnsafeRawPointer, count: Int, unpacker: TraceUnpacker) throws(TraceWriteError) -> Int {
        var r = p
        let end = p + count
        var events = 0
        while r < end {
            if unpacker.define(&r) { continue }
            events += 1
            let header = r.load(as: UInt64.self)
            let flags = (header >> 8) & 0xFF
            let kindSlot = Int(truncatingIfNeeded: (header >> 16) & 0xFF)
            let reasonSlot = TracePacker.stringSlots + Int(truncatingIfNeeded: (header >> 24) & 0xFF)
            let hasKind = flags & TracePacker.hasKind != 0, hasReason = flags & TracePacker.hasReason != 0
            // What `append(_:)` reserves for this event (so that flushes, hence rotations, fall
            // on the same lines).
            let need = 480 + 6 * ((hasKind ? unpacker.utf8Count[kindSlot] : 0) + (hasReason ? unpacker.utf8Count[reasonSlot] : 0)) + 64
            if need > capacity {
                try append(unpacker.event(&r)) // a huge string: the general path
                continue
            }
            let t = r.load(fromByteOffset: 8, as: Int64.self)
            let wall = stamp(t)
            if used + need > capacity { try flush() }
            r += 16
            var bytes: Int64 = 0, hops: Int64 = 0
            if flags & TracePacker.hasBytes != 0 { bytes = r.load(as: Int64.self); r += 8 }
            if flags & TracePacker.hasHops != 0 { hops = r.load(as: Int64.self); r += 8 }
            // Keys in `TraceEncoder.encode`'s order.
            var c = TraceEncoder.Cursor(p: buffer + used)
            c.put(#"{"v":1,"t":"#)
            c.int(t)
            c.put(#","seq":"#)
            c.int(seq)
            if let wall { c.put(#","wall":"#); c.int(wall) }
            c.put(#","node":""#)
            c.copy64(unpacker.hex)
            c.put(#"","ev":""#)
            c.put(TraceEncoder.name(TraceUnpacker.kind(header)))
            c.byte(UInt8(ascii: "\""))
            if hasKind { c.put(#","kind":"#); c.bytes(unpacker.json[kindSlot]) }
            if flags & TracePacker.hasID != 0 {
                c.put(#","id":""#); c.hex(TraceUnpacker.load(r)); c.byte(UInt8(ascii: "\""))
                r += 32
            }
            if flags & TracePacker.hasPeer != 0 {
                c.put(#","peer":""#)
                c.copy64(unpacker.hex + 64 * (1 + Int(truncatingIfNeeded: (header >> 32) & 0xFFFF)))
                c.byte(UInt8(ascii: "\""))
            }
            if flags & TracePacker.hasBytes != 0 { c.put(#","bytes":"#); c.int(bytes) }
            if flags & TracePacker.hasHops != 0 { c.put(#","hops":"#); c.int(hops) }
            if hasReason { c.put(#","reason":"#); c.bytes(unpacker.json[reasonSlot]) }
            c.byte(UInt8(ascii: "}")); c.byte(10)
            used = c.p - buffer
            try lineDone(t)
        }
        return events
    }

    /// Writes the buffer (whole lines only), rotating first if the file would grow past its cap.
    public func flush() throws(TraceWriteError) {
        guard used > 0 else { return }
        let total = used
        used = 0
        try write(UnsafeRawBufferPointer(start: buffer, count: total))
    }

    /// One line too long for the buffer, after the buffered ones.
    private func write(_ line: [UInt8]) throws(TraceWriteError) {
        try flush()
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: line.count, alignment: 1)
        defer { copy.deallocate() }
        line.withUnsafeBytes { copy.copyMemory(from: $0) }
        try write(UnsafeRawBufferPointer(copy))
    }

    /// Writes whole lines, rotating first if the file would grow past its cap.
    private func write(_ bytes: UnsafeRawBufferPointer) throws(TraceWriteError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if fileBytes > 0 && fileBytes + bytes.count > maxFileBytes { try rotate() }
        var offset = 0
        let total = bytes.count
        while offset < total {
            let n = Glibc.write(fd, base + offset, total - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw .write(path: path, errno: errno)
            }
            offset += n
        }
        fileBytes += total
    }

    private func rotate() throws(TraceWriteError) {
        close(fd)
        fd = -1
        if keepFiles == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(keepFiles)")
            var k = keepFiles - 1
            while k >= 1 {
                rename("\(path).\(k)", "\(path).\(k + 1)") // missing files are fine
                k -= 1
            }
            if rename(path, "\(path).1") != 0 { throw .rename(path: path, errno: errno) }
        }
        rotations += 1
        try openFile()
        fileBytes = 0
    }
}
