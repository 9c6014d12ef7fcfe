#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of threads for data-parallel kernels. `parallelFor` partitions its index range
/// statically (part t of T gets `[t·n/T, (t+1)·n/T)`), and callers only ever split independent
/// outputs, so results never depend on the thread count. The calling thread runs part 0.
///
/// One job runs at a time; a call made while the pool is busy (from another thread, or nested
/// inside a job) runs all parts on the calling thread instead — same results, no deadlock.
public final class WorkerPool: @unchecked Sendable {
    /// Number of threads a job is split over (including the caller).
    public let threads: Int
    private let state: PoolState
    private var workers: [pthread_t] = []

    /// `threads` ≥ 1; 1 means no extra threads (everything runs on the caller).
    public init(threads: Int) {
        precondition(threads >= 1, "WorkerPool needs at least one thread")
        self.threads = threads
        state = PoolState(workerCount: threads - 1)
        for index in 1..<max(threads, 1) {
            let context = Unmanaged.passRetained(WorkerContext(state: state, index: index)).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                guard let raw else { return nil }
                let ctx = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                ctx.state.workerLoop(ctx.index)
                return nil
            }, context)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            workers.append(tid)
        }
    }

    deinit {
        state.shutdown()
        for t in workers { pthread_join(t, nil) }
    }

    /// Runs `body(part)` for every part in `0..<parts`; part ranges per thread are static.
    public func parallelFor(_ parts: Int, _ body: (Int) -> Void) {
        parallelRanges(parts) { range in for p in range { body(p) } }
    }

    /// Splits `0..<count` into `threads` contiguous static ranges (empty ones are skipped) and
    /// runs `body` on each, concurrently.
    public func parallelRanges(_ count: Int, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let t = min(threads, count)
        if t == 1 || !state.tryAcquire() {
            for part in 0..<t { body(Self.range(part, of: t, count: count)) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            state.run(parts: t) { part in escaping(Self.range(part, of: t, count: count)) }
        }
        state.release()
    }

    /// The static partition: part `t` of `parts` over `0..<count`.
    public static func range(_ t: Int, of parts: Int, count: Int) -> Range<Int> {
        (t * count / parts)..<((t + 1) * count / parts)
    }
}

private final class WorkerContext {
    let state: PoolState
    let index: Int
    init(state: PoolState, index: Int) { self.state = state; self.index = index }
}

private final class PoolState: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let callMutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workCond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let doneCond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var generation: UInt64 = 0
    private var remaining = 0
    private var parts = 0
    private var stop = false
    private var job: ((Int) -> Void)?
    let workerCount: Int

    init(workerCount: Int) {
        self.workerCount = workerCount
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(callMutex, nil)
        pthread_cond_init(workCond, nil)
        pthread_cond_init(doneCond, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex); pthread_mutex_destroy(callMutex)
        pthread_cond_destroy(workCond); pthread_cond_destroy(doneCond)
        mutex.deallocate(); callMutex.deallocate(); workCond.deallocate(); doneCond.deallocate()
    }

    func tryAcquire() -> Bool { pthread_mutex_trylock(callMutex) == 0 }
    func release() { pthread_mutex_unlock(callMutex) }

    /// Runs job(0) here and job(1..<parts) on workers; returns when all are done.
    func run(parts: Int, _ body: @escaping (Int) -> Void) {
        pthread_mutex_lock(mutex)
        job = body
        self.parts = parts
        remaining = workerCount
        generation &+= 1
        pthread_cond_broadcast(workCond)
        pthread_mutex_unlock(mutex)
        body(0)
        pthread_mutex_lock(mutex)
        while remaining > 0 { pthread_cond_wait(doneCond, mutex) }
        job = nil
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(_ index: Int) {
        var seen: UInt64 = 0
        while true {
            pthread_mutex_lock(mutex)
            while generation == seen && !stop { pthread_cond_wait(workCond, mutex) }
            if stop { pthread_mutex_unlock(mutex); return }
            seen = generation
            pthread_mutex_unlock(mutex)
            runAssigned(index)
            pthread_mutex_lock(mutex)
            remaining -= 1
            if remaining == 0 { pthread_cond_signal(doneCond) }
            pthread_mutex_unlock(mutex)
        }
    }

    /// Runs this worker's part; its reference to the job is gone when this returns, before the
    /// caller is told the part is done (the job closure must not outlive `parallelRanges`).
    @inline(never)
    private func runAssigned(_ index: Int) {
        pthread_mutex_lock(mutex)
        let body = index < parts ? job : nil
        pthread_mutex_unlock(mutex)
        body?(index)
    }

    func shutdown() {
        pthread_mutex_lock(mutex)
        stop = true
        pthread_cond_broadcast(workCond)
        pthread_mutex_unlock(mutex)
    }
}
