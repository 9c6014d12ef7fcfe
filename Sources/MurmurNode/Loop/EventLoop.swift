#if canImport(Glibc)
import Glibc
#endif
import CLinux
import MurmurCore
import Synchronization

/// Readiness reported by epoll, as the loop hands it to a handler.
public struct IOEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = IOEvents(rawValue: clinux_epollin())
    public static let writable = IOEvents(rawValue: clinux_epollout())
    public static let error = IOEvents(rawValue: clinux_epollerr())
    public static let hangup = IOEvents(rawValue: clinux_epollhup())
}

/// Something the loop watches: a socket, an eventfd, a signalfd.
public protocol EventSource: AnyObject {
    func handle(_ events: IOEvents)
}

/// Identifies a registration or a timer on one loop.
public struct LoopToken: Hashable, Sendable {
    public let raw: UInt64
}

/// One thread, one epoll instance, a heap of timers, and a wake-up eventfd for other threads.
///
/// Everything except `remote` must be used from the loop's own thread. Callbacks run on that
/// thread; work that can block (inference, disk) belongs to other threads, which hand results
/// back through a `LoopChannel`.
public final class EventLoop {
    private let epollFD: Int32
    private var sources: [UInt64: EventSource] = [:]
    private var nextToken: UInt64 = 1
    private var timers = TimerHeap()
    private var timerCallbacks: [UInt64: () -> Void] = [:]
    private var deferred: [() -> Void] = []
    private var running = false
    private var stopRequested = false
    private let wake: WakeSource
    private let events: UnsafeMutablePointer<epoll_event>
    private let maxEvents: Int32 = 256
    private var cachedNow: Int64

    /// A handle other threads may hold: stop the loop, or (via `LoopChannel`) hand it values.
    public let remote: RemoteLoop

    public init() throws(SystemError) {
        epollFD = try Posix.epollCreate()
        events = .allocate(capacity: Int(maxEvents))
        let fd: Int32
        do { fd = try Posix.eventFD() } catch { Posix.close(epollFD); throw error }
        remote = RemoteLoop(wakeFD: fd)
        wake = WakeSource(fd: fd)
        cachedNow = Posix.monotonicNanoseconds()
        wake.loop = self
        _ = try register(fd: fd, events: .readable, source: wake)
    }

    deinit {
        Posix.close(remote.wakeFD)
        Posix.close(epollFD)
        events.deallocate()
    }

    /// The loop's clock (monotonic), refreshed every iteration and on demand.
    public var now: Instant {
        cachedNow = Posix.monotonicNanoseconds()
        return Instant(nanoseconds: cachedNow)
    }

    // MARK: descriptors

    public func register(fd: Int32, events: IOEvents, source: EventSource) throws(SystemError) -> LoopToken {
        let token = nextToken
        nextToken += 1
        try Posix.epollControl(epollFD, op: EPOLL_CTL_ADD, fd: fd, events: events.rawValue, data: token)
        sources[token] = source
        return LoopToken(raw: token)
    }

    public func modify(fd: Int32, token: LoopToken, events: IOEvents) throws(SystemError) {
        try Posix.epollControl(epollFD, op: EPOLL_CTL_MOD, fd: fd, events: events.rawValue, data: token.raw)
    }

    /// Stops watching `fd` (call before closing it). Pending events for the token are dropped.
    public func deregister(fd: Int32, token: LoopToken) {
        sources[token.raw] = nil
        _ = try? Posix.epollControl(epollFD, op: EPOLL_CTL_DEL, fd: fd, events: 0, data: 0)
    }

    // MARK: timers

    /// Runs `body` once at or after `deadline`. Returns a token for `cancelTimer`.
    @discardableResult
    public func schedule(at deadline: Instant, _ body: @escaping () -> Void) -> LoopToken {
        let id = nextToken
        nextToken += 1
        timers.push(.init(deadline: deadline.nanoseconds, id: id))
        timerCallbacks[id] = body
        // Cancelled timers leave their heap entry behind; protocols that re-arm timers often
        // would grow the heap until those deadlines pass. Sweep when most entries are dead.
        if timers.count > 1024 && timers.count > 2 * timerCallbacks.count {
            timers.removeAll { timerCallbacks[$0] != nil }
        }
        return LoopToken(raw: id)
    }

    @discardableResult
    public func schedule(after delay: TimeSpan, _ body: @escaping () -> Void) -> LoopToken {
        schedule(at: now + delay, body)
    }

    /// Heap entries, live or cancelled (for tests of the bound).
    var pendingTimerEntries: Int { timers.count }

    public func cancelTimer(_ token: LoopToken) {
        timerCallbacks[token.raw] = nil
    }

    /// Runs `body` at the end of the current iteration, after all ready events were handled
    /// (used to coalesce many sends into one flush).
    public func atEndOfIteration(_ body: @escaping () -> Void) {
        deferred.append(body)
    }

    // MARK: running

    /// Runs until `stop()` (from this thread) or `remote.stop()` (from any thread).
    public func run() throws(SystemError) {
        precondition(!running, "EventLoop.run is not reentrant")
        running = true
        defer { running = false }
        stopRequested = remote.isStopRequested
        while !stopRequested {
            try runOnce(maxWait: nil)
        }
    }

    /// One iteration: wait (at most `maxWait`, or until the next timer), dispatch, fire timers.
    public func runOnce(maxWait: TimeSpan?) throws(SystemError) {
        let timeoutMs = computeTimeoutMilliseconds(maxWait: maxWait)
        let n = try Posix.epollWait(epollFD, events, max: maxEvents, timeoutMilliseconds: timeoutMs)
        cachedNow = Posix.monotonicNanoseconds()
        for i in 0..<n {
            let token = clinux_epoll_event_data(events, Int32(i))
            let bits = clinux_epoll_event_events(events, Int32(i))
            // A handler may have deregistered another source earlier in this batch.
            guard let source = sources[UInt64(token)] else { continue }
            source.handle(IOEvents(rawValue: bits))
        }
        fireDueTimers()
        runDeferred()
        if remote.isStopRequested { stopRequested = true }
    }

    public func stop() { stopRequested = true }

    private func computeTimeoutMilliseconds(maxWait: TimeSpan?) -> Int32 {
        if !deferred.isEmpty || stopRequested { return 0 }
        var waitNs: Int64 = maxWait?.nanoseconds ?? -1
        while let top = timers.top, timerCallbacks[top.id] == nil { _ = timers.pop() }
        if let top = timers.top {
            let untilTimer = max(0, top.deadline - Posix.monotonicNanoseconds())
            waitNs = waitNs < 0 ? untilTimer : min(waitNs, untilTimer)
        }
        if waitNs < 0 { return -1 }
        // Round up so a timer is never woken for a fraction of a millisecond early.
        return Int32(clamping: (waitNs + 999_999) / 1_000_000)
    }

    private func fireDueTimers() {
        while let top = timers.top, top.deadline <= cachedNow {
            _ = timers.pop()
            if let body = timerCallbacks.removeValue(forKey: top.id) { body() }
        }
    }

    private func runDeferred() {
        var rounds = 0
        while !deferred.isEmpty && rounds < 8 {
            let work = deferred
            deferred.removeAll(keepingCapacity: true)
            for w in work { w() }
            rounds += 1
        }
    }

    // MARK: cross-thread wake-ups

    private var channelDrains: [() -> Void] = []

    /// Attaches a channel: `receive` runs on this loop with everything sent since the last call.
    public func attach<T: Sendable>(_ channel: LoopChannel<T>, receive: @escaping ([T]) -> Void) {
        channel.bind(to: remote)
        channelDrains.append {
            let items = channel.takeAll()
            if !items.isEmpty { receive(items) }
        }
    }

    fileprivate func drainChannels() {
        for d in channelDrains { d() }
    }
}

private final class WakeSource: EventSource {
    let fd: Int32
    weak var loop: EventLoop?
    init(fd: Int32) { self.fd = fd }
    func handle(_ events: IOEvents) {
        _ = try? Posix.eventFDDrain(fd)
        loop?.drainChannels()
    }
}
