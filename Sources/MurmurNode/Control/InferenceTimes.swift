/// A histogram of inference times for `GET /metrics` (`murmur_inference_seconds`): fixed bucket
/// upper bounds in seconds, a count per bucket, the overflow above the last bound, the sum.
public struct InferenceTimes: Sendable, Equatable {
    public static let bucketBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    public private(set) var buckets = [Int](repeating: 0, count: InferenceTimes.bucketBounds.count)
    public private(set) var overflow = 0
    public private(set) var sumSeconds = 0.0
    public var count: Int { buckets.reduce(overflow, +) }

    public init() {}

    public mutating func observe(seconds: Double) {
        sumSeconds += seconds
        if let i = Self.bucketBounds.firstIndex(where: { seconds <= $0 }) { buckets[i] += 1 } else { overflow += 1 }
    }
}
