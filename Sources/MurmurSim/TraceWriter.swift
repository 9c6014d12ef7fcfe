#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurTrace

// Lines are encoded by MurmurTrace's `TraceEncoder` (the one implementation of the format of
// Specs/trace.md; the simulator writes no `seq` or `wall`: its nodes share one simulated clock).
// MurmurTrace's `TraceWriter` is per node (it numbers `seq` and rotates files), so one simulated
// trace of many nodes goes through the sinks below instead.

/// Where simulated trace lines go.
public protocol TraceSink: AnyObject {
    /// Whole lines, each ending in `\n`.
    func write(_ lines: [UInt8])
    /// One event, encoded as one line. The default encodes into a scratch line and calls
    /// `write`; `FileTraceSink` encodes straight into its file buffer.
    func append(_ event: TraceEvent)
    func close()
}

extension TraceSink {
    public func append(_ event: TraceEvent) {
        var line: [UInt8] = []
        TraceEncoder.append(event, to: &line)
        write(line)
    }
}

/// Collects lines in memory (tests compare whole traces).
public final class MemoryTraceSink: TraceSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var lines = 0
    public init() {}
    public func write(_ lines: [UInt8]) {
        bytes.append(contentsOf: lines)
        for b in lines where b == 10 { self.lines += 1 }
    }
    public func append(_ event: TraceEvent) {
        TraceEncoder.append(event, to: &bytes)
        lines += 1
    }
    public func close() {}
}

/// Appends lines to a file through a buffer; events are encoded straight into that buffer
/// (no per-line copy).
public final class FileTraceSink: TraceSink {
    private var file: UnsafeMutablePointer<FILE>?
    private static let capacity = 1 << 20
    private static let slack = 1 << 17
    private let buffer: UnsafeMutablePointer<UInt8>
    private var used = 0

    /// nil if the file cannot be created.
    public init?(path: String) {
        guard let f = fopen(path, "w") else { return nil }
        file = f
        buffer = .allocate(capacity: Self.capacity + Self.slack)
    }

    public func write(_ lines: [UInt8]) {
        if used + lines.count > Self.capacity { flush() }
        if lines.count > Self.capacity {
            guard let f = file else { return }
            lines.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, f) }
            return
        }
        lines.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { (buffer + used).update(from: base, count: b.count) }
        }
        used += lines.count
    }

    public func append(_ event: TraceEvent) {
        let need = TraceEncoder.maxLineBytes(event)
        if used + need > Self.capacity + Self.slack || used >= Self.capacity { flush() }
        if need > Self.capacity + Self.slack { var line: [UInt8] = []; TraceEncoder.append(event, to: &line); write(line); return }
        used += TraceEncoder.encode(event, into: buffer + used)
    }

    private func flush() {
        guard let f = file, used > 0 else { return }
        _ = fwrite(buffer, 1, used, f)
        used = 0
    }

    public func close() {
        flush()
        if let f = file { fclose(f) }
        file = nil
    }

    deinit {
        close()
        buffer.deallocate()
    }
}
