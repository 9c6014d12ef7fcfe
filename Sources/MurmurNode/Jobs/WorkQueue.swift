#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// A fixed set of worker threads behind a bounded FIFO queue, for work that must never run on
/// the event loop (inference, model disk reads/writes and hashing). `submit` never blocks: it
/// refuses when the queue is full. Work answers the loop through `Node.inbox`.
public final class WorkQueue: @unchecked Sendable {
    public typealias Work = @Sendable () -> Void
    public let threads: Int
    public let capacity: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var queue: [Work] = []
    private var head = 0
    private var stopping = false
    private var busy = 0

    public init(threads: Int, capacity: Int) {
        precondition(threads >= 1 && capacity >= 1)
        self.threads = threads
        self.capacity = capacity
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        for _ in 0..<threads {
            let context = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            pthread_create(&thread, nil, { raw in
                let queue = Unmanaged<WorkQueue>.fromOpaque(raw!).takeRetainedValue()
                // Signals belong to the loop thread (signalfd): a worker must never take SIGTERM.
                var all = sigset_t()
                sigfillset(&all)
                pthread_sigmask(SIG_BLOCK, &all, nil)
                queue.workerLoop()
                return nil
            }, context)
            pthread_detach(thread)
        }
    }

    /// Queued plus running items.
    public var load: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return queue.count - head + busy
    }

    /// Queues `work`; false when the queue is full or stopping.
    public func submit(_ work: @escaping Work) -> Bool {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        guard !stopping, queue.count - head < capacity else { return false }
        queue.append(work)
        pthread_cond_signal(cond)
        return true
    }

    /// Lets the workers finish what they run and exit; queued work is dropped.
    public func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        queue.removeAll()
        head = 0
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    private func workerLoop() {
        while true {
            pthread_mutex_lock(mutex)
            while head == queue.count && !stopping { pthread_cond_wait(cond, mutex) }
            if stopping { pthread_mutex_unlock(mutex); return }
            let work = queue[head]
            head += 1
            if head > 64 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
            busy += 1
            pthread_mutex_unlock(mutex)
            work()
            pthread_mutex_lock(mutex)
            busy -= 1
            pthread_mutex_unlock(mutex)
        }
    }
}
