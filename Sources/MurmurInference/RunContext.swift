import MurmurCore

import Dispatch

/// Per-inference settings a kernel may use. Results never depend on `threads`: work is split
/// only across independent outputs, never across a reduction.
public struct RunContext: @unchecked Sendable {
    /// Worker threads this inference may use (1 = run on the caller's thread).
    public let threads: Int
    /// Values visible from an enclosing graph (for subgraph kernels such as If / Loop).
    public let outerScope: [String: Tensor]

    public init(threads: Int = 1, outerScope: [String: Tensor] = [:]) {
        self.threads = max(1, min(threads, Limits.maxInferenceThreads))
        self.outerScope = outerScope
    }

    /// Runs `body(range)` over `0..<count` split into contiguous chunks, on up to `threads`
    /// threads. Each index must write only its own outputs; the split never affects results.
    public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let workers = min(threads, max(1, count / max(1, minChunk)))
        if workers <= 1 || count <= 1 {
            body(0..<count)
            return
        }
        let chunk = (count + workers - 1) / workers
        withoutActuallyEscaping(body) { b in
            let box = UncheckedBox(b)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = w * chunk
                let hi = min(count, lo + chunk)
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }
}

import MurmurCore

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
