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

/// Appends lines to a file. `append` only copies the event into a preallocated batch (on the
/// simulating thread); full batches go to a writer thread that encodes them straight into a
/// 1 MiB buffer and writes that with `fwrite`. Nothing is ever dropped (a simulated trace is
/// complete and the same for the same seed): when `maxQueuedBatches` batches wait for the writer,
/// the simulator waits. Lines passed to `write` keep their place among the events. `close()`
/// (or the last reference going away) writes everything and stops the thread.
public final class FileTraceSink: TraceSink, @unchecked Sendable {
    static let batchEvents = 1024
    static let maxQueuedBatches = 64
    private static let capacity = 1 << 20
    private static let slack = 1 << 17

    private enum Item {
        case events(UnsafeMutablePointer<TraceEvent>, Int)
        case bytes([UInt8])
    }
    /// The simulating thread's side, behind a pointer: no dynamic exclusivity check per event.
    private struct Filling {
        var batch: UnsafeMutablePointer<TraceEvent>
        var count = 0
        var closed = false
        var appended = 0
    }
    private let filling: UnsafeMutablePointer<Filling>
    /// Events appended so far (each is one line).
    public var eventsAppended: Int { filling.pointee.appended }

    // Shared, under `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let hasWork: UnsafeMutablePointer<pthread_cond_t>
    private let hasSpace: UnsafeMutablePointer<pthread_cond_t>
    private var queue: [Item] = []
    private var queuedBatches = 0
    private var spare: [UnsafeMutablePointer<TraceEvent>] = []
    private var stopping = false

    // Writer thread only (and `close()` once it has ended).
    private var file: UnsafeMutablePointer<FILE>?
    private let buffer: UnsafeMutablePointer<UInt8>
    private var used = 0
    private let hexCache = TraceHexCache()
    private var thread = pthread_t()

    /// nil if the file cannot be created.
    public init?(path: String) {
        guard let f = fopen(path, "w") else { return nil }
        file = f
        buffer = .allocate(capacity: Self.capacity + Self.slack)
        filling = .allocate(capacity: 1)
        filling.initialize(to: Filling(batch: .allocate(capacity: Self.batchEvents)))
        mutex = .allocate(capacity: 1)
        hasWork = .allocate(capacity: 1)
        hasSpace = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(hasWork, nil)
        pthread_cond_init(hasSpace, nil)
        // Unretained: `deinit` closes, which joins the thread before the object goes away.
        let context = Unmanaged.passUnretained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            Unmanaged<FileTraceSink>.fromOpaque(raw!).takeUnretainedValue().writerLoop()
            return nil
        }, context)
    }

    @inline(__always)
    public func append(_ event: TraceEvent) {
        let f = filling
        guard !f.pointee.closed else { return }
        (f.pointee.batch + f.pointee.count).initialize(to: event)
        f.pointee.count += 1
        f.pointee.appended += 1
        if f.pointee.count == Self.batchEvents { handOver() }
    }

    public func write(_ lines: [UInt8]) {
        guard !filling.pointee.closed else { return }
        handOver()
        enqueue(.bytes(lines), batch: false)
    }

    public func close() {
        guard !filling.pointee.closed else { return }
        handOver()
        filling.pointee.closed = true
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(hasWork)
        pthread_mutex_unlock(mutex)
        pthread_join(thread, nil)
        flush()
        if let f = file { fclose(f) }
        file = nil
    }

    deinit {
        close()
        pthread_mutex_destroy(mutex); pthread_cond_destroy(hasWork); pthread_cond_destroy(hasSpace)
        mutex.deallocate(); hasWork.deallocate(); hasSpace.deallocate()
        filling.pointee.batch.deallocate()
        filling.deallocate()
        for b in spare { b.deallocate() }
        buffer.deallocate()
    }

    /// The batch being filled goes to the writer (simulating thread).
    private func handOver() {
        let f = filling
        guard f.pointee.count > 0 else { return }
        let full = Item.events(f.pointee.batch, f.pointee.count)
        f.pointee.count = 0
        f.pointee.batch = enqueue(full, batch: true) ?? .allocate(capacity: Self.batchEvents)
    }

    /// Queues `item`, waiting while the writer is `maxQueuedBatches` behind; returns an empty
    /// batch buffer to reuse, if one came back.
    @discardableResult
    private func enqueue(_ item: Item, batch: Bool) -> UnsafeMutablePointer<TraceEvent>? {
        pthread_mutex_lock(mutex)
        while batch && queuedBatches >= Self.maxQueuedBatches { pthread_cond_wait(hasSpace, mutex) }
        queue.append(item)
        if batch { queuedBatches += 1 }
        let reuse = spare.popLast()
        pthread_cond_signal(hasWork)
        pthread_mutex_unlock(mutex)
        return reuse
    }

    private func writerLoop() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(hasWork, mutex) }
            let items = queue
            queue.removeAll(keepingCapacity: true)
            let stop = stopping
            pthread_mutex_unlock(mutex)
            var done: [UnsafeMutablePointer<TraceEvent>] = []
            for item in items {
                switch item {
                case let .events(events, count):
                    for k in 0..<count { encode(events[k]) }
                    events.deinitialize(count: count)
                    done.append(events)
                case let .bytes(lines):
                    writeLines(lines)
                }
            }
            if !done.isEmpty {
                pthread_mutex_lock(mutex)
                spare.append(contentsOf: done)
                queuedBatches -= done.count
                pthread_cond_signal(hasSpace)
                pthread_mutex_unlock(mutex)
            }
            if stop && items.isEmpty { return }
        }
    }

    /// Writer thread: one event, encoded straight into the buffer.
    @inline(__always)
    private func encode(_ event: TraceEvent) {
        let need = TraceEncoder.maxLineBytes(event)
        if used + need > Self.capacity + Self.slack || used >= Self.capacity { flush() }
        if need > Self.capacity + Self.slack { var line: [UInt8] = []; TraceEncoder.append(event, to: &line); writeLines(line); return }
        used += TraceEncoder.encode(event, into: buffer + used, cache: hexCache)
    }

    /// Writer thread: raw lines after the buffered ones.
    private func writeLines(_ lines: [UInt8]) {
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

    private func flush() {
        guard let f = file, used > 0 else { return }
        _ = fwrite(buffer, 1, used, f)
        used = 0
    }
}
