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

    // Loop thread only: the batch being filled, a fixed buffer of `batchEvents` (no array
    // growth, uniqueness checks or allocation per event; buffers are recycled by the writer).
    // Behind a pointer: no dynamic exclusivity check per event, as a class's stored properties get.
    private struct Filling {
        var batch: UnsafeMutablePointer<TraceEvent>
        var count = 0
        var closed = false
    }
    private let filling: UnsafeMutablePointer<Filling>
    private var batch: UnsafeMutablePointer<TraceEvent> {
        get { filling.pointee.batch }
        set { filling.pointee.batch = newValue }
    }
    private var batchCount: Int {
        get { filling.pointee.count }
        set { filling.pointee.count = newValue }
    }
    private var closed: Bool {
        get { filling.pointee.closed }
        set { filling.pointee.closed = newValue }
    }

    // Writer thread only (and `close()` once the thread has ended).
    private let writer: TraceWriter

    // Shared, under `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var handoff: [(events: UnsafeMutablePointer<TraceEvent>, count: Int)] = []
    /// Empty batch buffers for the loop to reuse.
    private var spare: [UnsafeMutablePointer<TraceEvent>] = []
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
        filling = .allocate(capacity: 1)
        filling.initialize(to: Filling(batch: .allocate(capacity: Self.batchEvents)))
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
        batch.deinitialize(count: batchCount); batch.deallocate()
        filling.deallocate()
        for b in handoff { b.events.deinitialize(count: b.count); b.events.deallocate() }
        for b in spare { b.deallocate() }
    }

    /// Plug into `Node.traceSink` (loop thread).
    @inline(__always)
    public func append(_ event: TraceEvent) {
        let f = filling
        guard !f.pointee.closed else { return }
        (f.pointee.batch + f.pointee.count).initialize(to: event)
        f.pointee.count += 1
        if f.pointee.count == Self.batchEvents { handOver(flush: false) }
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
        let count = batchCount
        pthread_mutex_lock(mutex)
        var keep = false
        if failure != nil || count == 0 && !flush {
            keep = true // Nothing to do (tracing stopped, or nothing new).
        } else if queued + count > Self.maxQueuedEvents {
            droppedEvents += count
            keep = true
        } else {
            if count > 0 {
                handoff.append((batch, count))
                batch = spare.popLast() ?? .allocate(capacity: Self.batchEvents)
                batchCount = 0
            }
            queued += count
            if flush { flushRequested = true }
            pthread_cond_signal(cond)
        }
        pthread_mutex_unlock(mutex)
        if keep {
            // Refused or stopped: the buffer is reused in place.
            batch.deinitialize(count: batchCount)
            batchCount = 0
        }
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
                    for b in batches { for k in 0..<b.count { try writer.append(b.events[k]); count += 1 } }
                    if flush { try writer.flush() }
                } catch {
                    writeError = "\(error)"
                }
            }
            for b in batches { b.events.deinitialize(count: b.count) }
            pthread_mutex_lock(mutex)
            for b in batches { queued -= b.count; spare.append(b.events) }
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
