import Synchronization

/// The part of a loop that other threads may use.
public final class RemoteLoop: Sendable {
    let wakeFD: Int32
    private let stopFlag = Atomic<Bool>(false)

    init(wakeFD: Int32) { self.wakeFD = wakeFD }

    var isStopRequested: Bool { stopFlag.load(ordering: .acquiring) }

    /// Asks the loop to return from `run()` after its current iteration.
    public func stop() {
        stopFlag.store(true, ordering: .releasing)
        wakeUp()
    }

    func wakeUp() {
        _ = try? Posix.eventFDSignal(wakeFD)
    }
}

/// A bounded, multi-producer hand-off of `Sendable` values to one loop (e.g. results from the
/// inference worker pool). `send` never blocks; it returns false when the channel is full.
public final class LoopChannel<T: Sendable>: Sendable {
    private struct State {
        var items: [T] = []
        var remote: RemoteLoop?
    }
    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    func bind(to remote: RemoteLoop) {
        let pending = state.withLock { s -> Bool in
            s.remote = remote
            return !s.items.isEmpty
        }
        if pending { remote.wakeUp() }
    }

    /// Queues `value` for the loop and wakes it. False (value dropped) when `capacity` items
    /// are already waiting: the producer must slow down.
    @discardableResult
    public func send(_ value: sending T) -> Bool {
        let (accepted, wake) = state.withLock { s -> (Bool, RemoteLoop?) in
            guard s.items.count < capacity else { return (false, nil) }
            let wasEmpty = s.items.isEmpty
            s.items.append(value)
            return (true, wasEmpty ? s.remote : nil)
        }
        wake?.wakeUp()
        return accepted
    }

    func takeAll() -> [T] {
        state.withLock { s in
            let items = s.items
            s.items = []
            return items
        }
    }
}
