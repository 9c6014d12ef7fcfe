#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurTrace

/// `murmur node --trace FILE`: the node's trace events (protocol effects plus the shell's link
/// events) written with MurmurTrace's `TraceWriter` (encoded, buffered, size-capped with rotation)
/// — off the event loop. The loop only packs each event into a compact record (`TracePacker`: a
/// few 8-byte words, ids and strings interned in the stream; no encoding, no syscall, no
/// allocation) in a fixed 64 KiB batch; full batches, and every `flushInterval` the partial one,
/// go to a writer thread that encodes them straight from the packed words and writes them (same
/// bytes as encoding the events directly: `TraceWriter.append(packed:count:unpacker:)`). At most `maxQueuedBytes` of packed events wait for that thread: beyond,
/// batches are dropped and their events counted (`dropped`), never buffered without bound. A
/// write error stops tracing (`failed`); the node keeps running. Measured by `murmur-bench trace`.
public final class NodeTraceFile: @unchecked Sendable {
    public let path: String
    private let loop: EventLoop
    private var flushTimer: LoopToken?
    public static let flushInterval = TimeSpan.milliseconds(250)
    /// Bytes of packed events per hand-over to the writer thread (a typical control-message
    /// event packs into 24 bytes: ~2,700 events per batch).
    public static let batchBytes = 64 << 10
    /// Packed bytes waiting for the writer thread, at most (16 MiB: ≥ 87,000 events of the
    /// largest usual shape, ~700,000 typical ones).
    public static let maxQueuedBytes = 16 << 20

    /// One batch of packed events: `used` of `capacity` bytes (8-byte aligned).
    @usableFromInline struct Batch {
        @usableFromInline var bytes: UnsafeMutableRawPointer
        @usableFromInline var capacity: Int
        @usableFromInline var used = 0
        @usableFromInline var events = 0
        init(bytes: UnsafeMutableRawPointer, capacity: Int) { self.bytes = bytes; self.capacity = capacity }
        @usableFromInline static func make(_ capacity: Int) -> Batch {
            Batch(bytes: .allocate(byteCount: capacity, alignment: 8), capacity: capacity)
        }
    }

    // Loop thread only: the batch being filled and the packer's tables. Behind a pointer: no
    // dynamic exclusivity check per event, as a class's stored properties get.
    // `append` is inlinable: the caller's code (the sink closure) packs the event in place.
    @usableFromInline struct Filling {
        @usableFromInline var batch: Batch
        @usableFromInline var closed = false
        init(batch: Batch) { self.batch = batch }
    }
    @usableFromInline let filling: UnsafeMutablePointer<Filling>
    @usableFromInline let packer = TracePacker()
    private var batch: Batch {
        get { filling.pointee.batch }
        set { filling.pointee.batch = newValue }
    }
    private var closed: Bool {
        get { filling.pointee.closed }
        set { filling.pointee.closed = newValue }
    }

    // Writer thread only (and `close()` once the thread has ended).
    private let writer: TraceWriter
    private let unpacker = TraceUnpacker()

    // Shared, under `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var handoff: [Batch] = []
    /// Empty batch buffers (of `batchBytes`) for the loop to reuse.
    private var spare: [Batch] = []
    private var queuedBytes = 0
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
        filling.initialize(to: Filling(batch: .make(Self.batchBytes)))
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
        batch.bytes.deallocate()
        filling.deallocate()
        for b in handoff { b.bytes.deallocate() }
        for b in spare { b.bytes.deallocate() }
    }

    /// Plug into `Node.traceSink` (loop thread).
    @inlinable @inline(__always)
    public func append(_ event: TraceEvent) {
        append(at: event.time, node: event.node, kind: event.kind, recordKind: event.recordKind, recordID: event.recordID,
               peer: event.peer, bytes: event.bytes, hops: event.hops, reason: event.reason)
    }

    /// The event with these fields, without building a `TraceEvent` (a value with two `String?`
    /// fields: copying and destroying it costs more than packing it). For the shell's hot paths.
    @inlinable @inline(__always)
    public func append(at time: Instant, node: NodeID, kind: TraceEvent.Kind, recordKind: String? = nil,
                       recordID: Hash? = nil, peer: NodeID? = nil, bytes: Int? = nil, hops: Int? = nil,
                       reason: String? = nil) {
        let f = filling
        guard !f.pointee.closed else { return }
        let need = TracePacker.maxPackedBytes(recordKind: recordKind, reason: reason)
        if f.pointee.batch.used + need > f.pointee.batch.capacity {
            handOver(flush: false)
            // An event larger than a batch (a huge reason string) gets a batch of its own.
            if need > f.pointee.batch.capacity { replaceBatch(need) }
        }
        f.pointee.batch.used += packer.pack(time: time, node: node, kind: kind, recordKind: recordKind, recordID: recordID,
                                            peer: peer, bytes: bytes, hops: hops, reason: reason,
                                            into: f.pointee.batch.bytes + f.pointee.batch.used)
        f.pointee.batch.events += 1
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
    /// Events dropped because the writer thread fell `maxQueuedBytes` behind.
    public var dropped: Int { locked { droppedEvents } }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// A batch of `capacity` bytes for one large event (the current one is empty).
    @usableFromInline func replaceBatch(_ capacity: Int) {
        filling.pointee.batch.bytes.deallocate()
        filling.pointee.batch = .make(capacity)
    }

    @usableFromInline func handOver(flush: Bool) {
        let full = batch
        pthread_mutex_lock(mutex)
        var keep = false
        if failure != nil || full.events == 0 && !flush {
            keep = true // Nothing to do (tracing stopped, or nothing new).
        } else if queuedBytes + full.used > Self.maxQueuedBytes {
            droppedEvents += full.events
            keep = true
        } else {
            if full.events > 0 {
                handoff.append(full)
                batch = spare.popLast() ?? .make(Self.batchBytes)
            }
            queuedBytes += full.used
            if flush { flushRequested = true }
            pthread_cond_signal(cond)
        }
        pthread_mutex_unlock(mutex)
        if keep && full.events > 0 {
            // Refused or stopped: the buffer is reused in place, and the definitions it held are
            // lost to the writer.
            batch.used = 0
            batch.events = 0
            packer.forget()
        }
    }

    private func writerLoop() {
        var stopped = false
        while true {
            pthread_mutex_lock(mutex)
            while handoff.isEmpty && !flushRequested && !stopping { pthread_cond_wait(cond, mutex) }
            let batches = handoff
            handoff.removeAll(keepingCapacity: true)
            let flush = flushRequested || stopping
            flushRequested = false
            let stop = stopping
            pthread_mutex_unlock(mutex)

            var count: Int64 = 0
            var writeError: String?
            if !stopped {
                do {
                    for b in batches { count += Int64(try writer.append(packed: b.bytes, count: b.used, unpacker: unpacker)) }
                    if flush { try writer.flush() }
                } catch {
                    writeError = "\(error)"
                }
            }
            pthread_mutex_lock(mutex)
            for var b in batches {
                queuedBytes -= b.used
                if b.capacity == Self.batchBytes {
                    b.used = 0
                    b.events = 0
                    spare.append(b)
                } else {
                    b.bytes.deallocate()
                }
            }
            written += count
            if let writeError, failure == nil { failure = writeError; stopped = true }
            pthread_mutex_unlock(mutex)
            if stop { return }
        }
    }

    private func scheduleFlush() {
        // Strong: a weak reference would give this object a side table, and every retain and
        // release of it on the hot path (each `append`) would take the slow path. `close()`
        // cancels the timer (the writer thread holds the object until then anyway).
        flushTimer = loop.schedule(after: Self.flushInterval) { [self] in
            flush()
            scheduleFlush()
        }
    }
}
