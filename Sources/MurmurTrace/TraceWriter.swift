#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// Encodes events as trace lines (Specs/trace.md) without Foundation: keys in a fixed order,
/// nil keys omitted, strings escaped.
public enum TraceEncoder {
    public static func append(_ e: TraceEvent, seq: Int64? = nil, wall: Int64? = nil, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"v":1,"t":"#.utf8)
        appendInt(e.time.nanoseconds, to: &out)
        if let seq { out.append(contentsOf: #","seq":"#.utf8); appendInt(seq, to: &out) }
        if let wall { out.append(contentsOf: #","wall":"#.utf8); appendInt(wall, to: &out) }
        out.append(contentsOf: #","node":""#.utf8)
        TraceHex.append(e.node.key, to: &out)
        out.append(contentsOf: #"","ev":""#.utf8)
        out.append(contentsOf: e.kind.rawValue.utf8)
        out.append(UInt8(ascii: "\""))
        if let k = e.recordKind { out.append(contentsOf: #","kind":"#.utf8); appendString(k, to: &out) }
        if let id = e.recordID {
            out.append(contentsOf: #","id":""#.utf8); TraceHex.append(id.value, to: &out); out.append(UInt8(ascii: "\""))
        }
        if let p = e.peer {
            out.append(contentsOf: #","peer":""#.utf8); TraceHex.append(p.key, to: &out); out.append(UInt8(ascii: "\""))
        }
        if let b = e.bytes { out.append(contentsOf: #","bytes":"#.utf8); appendInt(Int64(b), to: &out) }
        if let h = e.hops { out.append(contentsOf: #","hops":"#.utf8); appendInt(Int64(h), to: &out) }
        if let r = e.reason { out.append(contentsOf: #","reason":"#.utf8); appendString(r, to: &out) }
        out.append(contentsOf: "}\n".utf8)
    }

    public static func line(_ e: TraceEvent, seq: Int64? = nil, wall: Int64? = nil) -> String {
        var b = [UInt8](); append(e, seq: seq, wall: wall, to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    @inline(__always) static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v == 0 { out.append(48); return }
        var m = v.magnitude
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 digit slots
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { raw in
            while m > 0 { raw[n] = UInt8(48 + m % 10); m /= 10; n += 1 }
            while n > 0 { n -= 1; out.append(raw[n]) }
        }
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(TraceHex.digits[Int(c >> 4)]); out.append(TraceHex.digits[Int(c & 15)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
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
/// buffer; the buffer is written in one `write(2)` when it holds `bufferBytes` (or on `flush`).
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
    private var buffer: [UInt8] = []
    private var fileBytes = 0
    private var seq: Int64 = 0
    private var lastWallStamp: Int64 = .min
    private var stampNextWall = true
    private let wallClock: (@Sendable () -> Int64)?
    /// Events written and rotations done (for metrics).
    public private(set) var eventsWritten: Int64 = 0
    public private(set) var rotations = 0

    public init(path: String, maxFileBytes: Int = Limits.traceDefaultFileBytes,
                keepFiles: Int = Limits.traceDefaultRotatedFiles, bufferBytes: Int = Limits.traceWriterBufferBytes,
                wallClock: (@Sendable () -> Int64)? = TraceWriter.unixNanoseconds) throws(TraceWriteError) {
        self.path = path
        self.maxFileBytes = max(maxFileBytes, 4096)
        self.keepFiles = max(keepFiles, 0)
        self.bufferBytes = max(bufferBytes, 4096)
        self.wallClock = wallClock
        buffer.reserveCapacity(self.bufferBytes + 1024)
        try openFile()
    }

    deinit {
        try? flush()
        if fd >= 0 { close(fd) }
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
        seq += 1
        var wall: Int64? = nil
        if let wallClock, stampNextWall || event.time.nanoseconds &- lastWallStamp >= 1_000_000_000 {
            wall = wallClock()
            lastWallStamp = event.time.nanoseconds
            stampNextWall = false
        }
        TraceEncoder.append(event, seq: seq, wall: wall, to: &buffer)
        eventsWritten += 1
        if buffer.count >= bufferBytes { try flush() }
    }

    /// Writes the buffer (whole lines only), rotating first if the file would grow past its cap.
    public func flush() throws(TraceWriteError) {
        guard !buffer.isEmpty else { return }
        if fileBytes > 0 && fileBytes + buffer.count > maxFileBytes { try rotate() }
        var offset = 0
        let total = buffer.count
        while offset < total {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, total - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                buffer.removeAll(keepingCapacity: true)
                throw .write(path: path, errno: e)
            }
            offset += n
        }
        fileBytes += total
        buffer.removeAll(keepingCapacity: true)
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
