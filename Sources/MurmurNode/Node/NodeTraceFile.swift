#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurTrace

/// `murmur node --trace FILE`: the node's trace events (protocol effects plus the shell's link
/// events) written with MurmurTrace's `TraceWriter` (encoded, buffered, size-capped with rotation)
/// — off the event loop. The loop only copies each event into a batch (no encoding, no syscall);
/// full batches, and every `flushInterval` the partial one, go to a writer thread that encodes and
/// writes them. At most `maxQueuedEvents` wait for that thread: beyond, batches are dropped and
/// counted (`dropped`), never buffered without bound. A write error stops tracing (`failed`); the
/// node keeps running. Measured by `murmur-bench trace`.
public final class NodeTraceFile: @unchecked Sendable {
    public let path: String
    private let loop: EventLoop
    private var flushTimer: LoopToken?
    public static let flushInterval = TimeSpan.milliseconds(250)
    /// Events per hand-over to the writer thread.
    public static let batchEvents = 512
    /// Events waiting for the writer thread, at most.
    public static let maxQueuedEvents = 262_144

    // Loop thread only.
    private var batch: [TraceEvent] = []
    private var closed = false

    // Writer thread only (and `close()` once the thread has ended).
    private let writer: TraceWriter

    // Shared, under `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var handoff: [[TraceEvent]] = []
    private var queued = 0
    private var flushRequested = false
    private var stopping = false
    private var failure: String?
    private var written: Int64 = 0
    private var droppedEvents = 0
    private var thread = pthread_t()

    public init(path: String, loop: EventLoop, maxFileBytes: Int = Limits.traceDefaultFileBytes,
                keepFiles: Int = Limits.traceDefaultRotatedFiles) throws(TraceWriteError) {
        self.path = path
        writer = try TraceWriter(path: path, maxFileBytes: maxFileBytes, keepFiles: keepFiles)
        self.loop = loop
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        batch.reserveCapacity(Self.batchEvents)
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            let file = Unmanaged<NodeTraceFile>.fromOpaque(raw!).takeRetainedValue()
            // Signals belong to the loop thread (signalfd): this thread must never take SIGTERM.
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            file.writerLoop()
            return nil
        }, context)
        scheduleFlush()
    }

    deinit {
        pthread_mutex_destroy(mutex); pthread_cond_destroy(cond)
        mutex.deallocate(); cond.deallocate()
    }

    /// Plug into `Node.traceSink` (loop thread).
    public func append(_ event: TraceEvent) {
        guard !closed else { return }
        batch.append(event)
        if batch.count >= Self.batchEvents { handOver(flush: false) }
    }

    /// Hands buffered events to the writer thread and asks it to write them out (loop thread).
    public func flush() {
        guard !closed else { return }
        handOver(flush: true)
    }

    /// Writes everything still queued, stops the writer thread and closes the file (loop thread).
    public func close() {
        guard !closed else { return }
        if let flushTimer { loop.cancelTimer(flushTimer) }
        flushTimer = nil
        handOver(flush: true)
        closed = true
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
        pthread_join(thread, nil)
    }

    /// Why tracing stopped (nil while it works).
    public var failed: String? { locked { failure } }
    /// Events written to the file so far.
    public var eventsWritten: Int64 { locked { written } }
    /// Events dropped because the writer thread fell `maxQueuedEvents` behind.
    public var dropped: Int { locked { droppedEvents } }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    private func handOver(flush: Bool) {
        let events = batch
        batch = []
        batch.reserveCapacity(Self.batchEvents)
        pthread_mutex_lock(mutex)
        if failure != nil || events.isEmpty && !flush {
            // Nothing to do (tracing stopped, or nothing new).
        } else if queued + events.count > Self.maxQueuedEvents {
            droppedEvents += events.count
        } else {
            if !events.isEmpty { handoff.append(events) }
            queued += events.count
            if flush { flushRequested = true }
            pthread_cond_signal(cond)
        }
        pthread_mutex_unlock(mutex)
    }

    private func writerLoop() {
        var stopped = false
        while true {
            pthread_mutex_lock(mutex)
            while handoff.isEmpty && !flushRequested && !stopping { pthread_cond_wait(cond, mutex) }
            let batches = handoff
            handoff.removeAll()
            let flush = flushRequested || stopping
            flushRequested = false
            let stop = stopping
            pthread_mutex_unlock(mutex)

            var count: Int64 = 0
            var writeError: String?
            if !stopped {
                do {
                    for b in batches { for e in b { try writer.append(e); count += 1 } }
                    if flush { try writer.flush() }
                } catch {
                    writeError = "\(error)"
                }
            }
            pthread_mutex_lock(mutex)
            for b in batches { queued -= b.count }
            written += count
            if let writeError, failure == nil { failure = writeError; stopped = true }
            pthread_mutex_unlock(mutex)
            if stop { return }
        }
    }

    private func scheduleFlush() {
        flushTimer = loop.schedule(after: Self.flushInterval) { [weak self] in
            self?.flush()
            self?.scheduleFlush()
        }
    }
}
