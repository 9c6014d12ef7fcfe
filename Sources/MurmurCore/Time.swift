/// A point in time, in nanoseconds since an arbitrary origin (a monotonic clock in the node,
/// zero at the start of a simulation). State machines receive it; they never read a clock.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Instant, d: TimeSpan) -> Instant { Instant(nanoseconds: a.nanoseconds &+ d.nanoseconds) }
    public static func - (a: Instant, d: TimeSpan) -> Instant { Instant(nanoseconds: a.nanoseconds &- d.nanoseconds) }
    public static func - (a: Instant, b: Instant) -> TimeSpan { TimeSpan(nanoseconds: a.nanoseconds &- b.nanoseconds) }
    public var description: String { "t+\(TimeSpan(nanoseconds: nanoseconds))" }
}

/// A length of time in nanoseconds (cheaper than `Swift.Duration` in hot simulator paths).
public struct TimeSpan: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = TimeSpan(nanoseconds: 0)
    public static func nanoseconds(_ n: Int64) -> TimeSpan { TimeSpan(nanoseconds: n) }
    public static func microseconds(_ n: Int64) -> TimeSpan { TimeSpan(nanoseconds: n * 1_000) }
    public static func milliseconds(_ n: Int64) -> TimeSpan { TimeSpan(nanoseconds: n * 1_000_000) }
    public static func seconds(_ n: Int64) -> TimeSpan { TimeSpan(nanoseconds: n * 1_000_000_000) }
    public static func seconds(_ s: Double) -> TimeSpan { TimeSpan(nanoseconds: Int64(s * 1e9)) }

    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var milliseconds: Double { Double(nanoseconds) / 1e6 }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: TimeSpan, b: TimeSpan) -> TimeSpan { TimeSpan(nanoseconds: a.nanoseconds &+ b.nanoseconds) }
    public static func - (a: TimeSpan, b: TimeSpan) -> TimeSpan { TimeSpan(nanoseconds: a.nanoseconds &- b.nanoseconds) }
    public static func * (a: TimeSpan, k: Int64) -> TimeSpan { TimeSpan(nanoseconds: a.nanoseconds &* k) }
    public static func * (a: TimeSpan, k: Double) -> TimeSpan { TimeSpan(nanoseconds: Int64(Double(a.nanoseconds) * k)) }

    public var description: String {
        let ns = nanoseconds
        if abs(ns) >= 1_000_000_000 { return "\(Double(ns) / 1e9)s" }
        if abs(ns) >= 1_000_000 { return "\(Double(ns) / 1e6)ms" }
        if abs(ns) >= 1_000 { return "\(Double(ns) / 1e3)µs" }
        return "\(ns)ns"
    }
}
