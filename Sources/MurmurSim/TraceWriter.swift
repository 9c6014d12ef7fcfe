#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// A minimal JSON Lines trace writer in the format of DESIGN.md / Specs/trace.md: one object per
/// line with keys `v`, `t` (ns), `node`, `ev`, and when present `kind`, `id`, `peer`, `bytes`,
/// `hops`, `reason`. Keys are written in that fixed order, so equal runs give equal bytes.
/// (MurmurTrace has the full reader/analyser; this writer only has to be field-compatible.)
public struct TraceLineEncoder: Sendable {
    public static let schemaVersion = 1

    public init() {}

    public func line(_ e: TraceEvent) -> String {
        var s = "{\"v\":\(Self.schemaVersion),\"t\":\(e.time.nanoseconds),\"node\":\"\(e.node.hex)\",\"ev\":\"\(e.kind.rawValue)\""
        if let k = e.recordKind { s += ",\"kind\":\"\(Self.escape(k))\"" }
        if let id = e.recordID { s += ",\"id\":\"\(id.hex)\"" }
        if let p = e.peer { s += ",\"peer\":\"\(p.hex)\"" }
        if let b = e.bytes { s += ",\"bytes\":\(b)" }
        if let h = e.hops { s += ",\"hops\":\(h)" }
        if let r = e.reason { s += ",\"reason\":\"\(Self.escape(r))\"" }
        s += "}\n"
        return s
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }
}

/// Where simulated trace lines go.
public protocol TraceSink: AnyObject {
    func write(_ line: String)
    func close()
}

/// Collects lines in memory (tests compare whole traces).
public final class MemoryTraceSink: TraceSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var lines = 0
    public init() {}
    public func write(_ line: String) { bytes.append(contentsOf: line.utf8); lines += 1 }
    public func close() {}
}

/// Appends lines to a file through a buffer.
public final class FileTraceSink: TraceSink {
    private var file: UnsafeMutablePointer<FILE>?
    private var buffer: [UInt8] = []

    /// nil if the file cannot be created.
    public init?(path: String) {
        guard let f = fopen(path, "w") else { return nil }
        file = f
        buffer.reserveCapacity(1 << 20)
    }

    public func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }

    private func flush() {
        guard let f = file, !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, f) }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() {
        flush()
        if let f = file { fclose(f) }
        file = nil
    }

    deinit { close() }
}
