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
    func close()
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

    public func write(_ lines: [UInt8]) {
        buffer.append(contentsOf: lines)
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
