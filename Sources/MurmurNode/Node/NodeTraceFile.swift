import MurmurCore
import MurmurTrace

/// `murmur node --trace FILE`: the node's trace events (protocol effects plus the shell's link
/// events) appended with MurmurTrace's `TraceWriter` — encoded into a buffer on the loop, written
/// in batches (when the buffer fills, and every `flushInterval`), size-capped with rotation.
/// A write error stops tracing (logged once); the node keeps running.
public final class NodeTraceFile {
    public let writer: TraceWriter
    private let loop: EventLoop
    private var flushTimer: LoopToken?
    public private(set) var failed: String?
    public static let flushInterval = TimeSpan.milliseconds(250)

    public init(path: String, loop: EventLoop, maxFileBytes: Int = Limits.traceDefaultFileBytes,
                keepFiles: Int = Limits.traceDefaultRotatedFiles) throws(TraceWriteError) {
        writer = try TraceWriter(path: path, maxFileBytes: maxFileBytes, keepFiles: keepFiles)
        self.loop = loop
        scheduleFlush()
    }

    /// Plug into `Node.traceSink`.
    public func append(_ event: TraceEvent) {
        guard failed == nil else { return }
        do { try writer.append(event) } catch { failed = "\(error)" }
    }

    public func flush() {
        guard failed == nil else { return }
        do { try writer.flush() } catch { failed = "\(error)" }
    }

    public func close() {
        if let flushTimer { loop.cancelTimer(flushTimer) }
        flushTimer = nil
        flush()
    }

    private func scheduleFlush() {
        flushTimer = loop.schedule(after: Self.flushInterval) { [weak self] in
            self?.flush()
            self?.scheduleFlush()
        }
    }
}
