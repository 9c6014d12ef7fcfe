import Foundation
import MurmurCore
import MurmurKernels

/// Per-inference settings a kernel may use. Results never depend on `threads`: work is split
/// only across independent outputs, never across a reduction.
public struct RunContext: @unchecked Sendable {
    /// Worker threads this inference may use (1 = run on the caller's thread).
    public let threads: Int
    /// Values visible from an enclosing graph (for subgraph kernels such as If / Loop).
    public let outerScope: [String: Tensor]
    /// The shared `WorkerPool` for `threads` (nil for one thread).
    public let pool: WorkerPool?

    /// Asked between operators (also inside subgraphs); `true` ends the run with
    /// `InferenceError.stopped` (a node's per-job time limit). Results never depend on it.
    public let shouldStop: (@Sendable () -> Bool)?

    public init(threads: Int = 1, outerScope: [String: Tensor] = [:], shouldStop: (@Sendable () -> Bool)? = nil) {
        let t = max(1, min(threads, Limits.maxInferenceThreads))
        self.threads = t
        self.outerScope = outerScope
        self.shouldStop = shouldStop
        pool = t > 1 ? PoolCache.pool(threads: t) : nil
    }

    /// Runs `body(range)` over `0..<count` split into contiguous static chunks on the pool.
    /// Each index must write only its own outputs; the split never affects results.
    public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard let pool, count > 1, count / max(1, minChunk) >= 2 else {
            body(0..<count)
            return
        }
        let parts = min(count, pool.threads, max(1, count / max(1, minChunk)))
        pool.parallelRanges(parts) { partRange in
            for part in partRange { body(WorkerPool.range(part, of: parts, count: count)) }
        }
    }
}

/// One `WorkerPool` per thread count, created on first use and kept for the process (threads
/// are expensive to start; a pool busy with another inference runs the work on the caller).
enum PoolCache {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pools: [Int: WorkerPool] = [:]

    static func pool(threads: Int) -> WorkerPool {
        lock.lock()
        defer { lock.unlock() }
        if let p = pools[threads] { return p }
        let p = WorkerPool(threads: threads)
        pools[threads] = p
        return p
    }
}

/// Hands a non-Sendable closure to worker threads that only read shared inputs and write
/// disjoint outputs.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// A mutable pointer that kernels share between threads writing disjoint elements.
struct SendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}
