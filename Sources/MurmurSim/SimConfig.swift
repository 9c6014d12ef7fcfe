import MurmurCore
import MurmurGossip

/// One simulation scenario (Specs/gossip.md, "Simulator"). Times are simulated.
public struct SimConfig: Sendable {
    public var nodes = 1000
    public var broadcasts = 100
    /// Probability that any one message is lost.
    public var loss = 0.0
    /// Share of nodes that crash (silently) at random moments while broadcasts run.
    public var crashFraction = 0.0
    /// Share of the crashed nodes that come back (fresh state, same identity) after `restartDelay`.
    public var restartFraction = 0.0
    public var restartDelay = TimeSpan.seconds(Int64(10))
    public var seed: UInt64 = 1
    /// Split the mesh into two halves for `partitionDuration` while the broadcasts run, then heal.
    public var partition = false
    public var partitionDuration = TimeSpan.seconds(Int64(60))
    /// One-way base latency of a link, uniform in this range (fixed per pair of nodes), in ms.
    public var latencyMinMs = 5.0
    public var latencyMaxMs = 50.0
    /// Extra per-message delay, uniform in [0, jitter] ms (reorders messages across links).
    public var jitterMs = 5.0
    /// How long an unanswered dial takes to fail when the target is unreachable.
    public var connectTimeout = TimeSpan.seconds(Int64(1))
    /// Nodes start over this period (each joins through a random node already started).
    public var joinDuration: TimeSpan? = nil
    /// Quiet time after the last join before the first broadcast.
    public var warmup = TimeSpan.seconds(Int64(10))
    /// Gap between broadcasts (ignored with `partition`: they spread over the partition).
    public var broadcastInterval = TimeSpan.milliseconds(100)
    /// Time after the last broadcast (or the heal) for repair and anti-entropy.
    public var settle = TimeSpan.seconds(Int64(15))
    /// Number of distinct publishing nodes (0 = a random live node per broadcast). Each
    /// broadcast record is signed by its publishing node's key.
    public var sources = 0
    /// Record body size of each broadcast.
    public var payloadBytes = 1024
    /// Have every node sign and gossip a `NodeAnnouncement` (costly at 10⁴ nodes: N² deliveries).
    public var announcements = false
    /// Emit trace events (into the sink given to the simulator).
    public var trace = false
    public var gossip = GossipConfig()
    /// A job workload on top of the gossip mesh (nil: gossip only). Turns announcements on.
    public var jobs: JobWorkloadConfig? = nil

    public init() {}

    public var effectiveJoinDuration: TimeSpan {
        joinDuration ?? TimeSpan.milliseconds(Int64(min(20_000, max(1_000, nodes * 2))))
    }
}
