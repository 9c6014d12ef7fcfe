import Foundation

/// Opt-in per-operator timing for `murmur-bench inference --op-profile` (diagnostics only; never
/// affects results). While `OpProfile.enabled` is set, `CompiledGraph.run` adds each step's wall
/// thread CPU time (CLOCK_THREAD_CPUTIME_ID; one-thread runs) under its op type and input shapes.
public enum OpProfile {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var on = false
    nonisolated(unsafe) private static var totals: [String: (ns: Int, calls: Int)] = [:]

    public static var enabled: Bool {
        get { lock.lock(); defer { lock.unlock() }; return on }
        set { lock.lock(); on = newValue; lock.unlock() }
    }

    static func add(_ key: String, ns: Int) {
        lock.lock()
        let old = totals[key] ?? (0, 0)
        totals[key] = (old.ns + ns, old.calls + 1)
        lock.unlock()
    }

    /// (key, total ns, calls), largest first; clears the totals.
    public static func drain() -> [(key: String, ns: Int, calls: Int)] {
        lock.lock()
        defer { totals = [:]; lock.unlock() }
        return totals.map { ($0.key, $0.value.ns, $0.value.calls) }.sorted { $0.ns > $1.ns }
    }

    static func now() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }
}
