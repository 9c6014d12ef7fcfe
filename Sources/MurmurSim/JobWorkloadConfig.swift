import MurmurCore
import MurmurJobs

/// The job workload of a simulation (Specs/gossip.md, "Simulator: jobs"): every node runs the
/// `MurmurJobs` state machine beside its gossip node; jobs are submitted at random live nodes.
public struct JobWorkloadConfig: Sendable {
    public var jobs = 100
    public var redundancy = 3
    public var quorum = 2
    /// Share of nodes whose inference returns a wrong output.
    public var liarFraction = 0.0
    /// Liars all return the same wrong output for a job (otherwise each its own).
    public var collude = false
    /// Gap between job submissions.
    public var interval = TimeSpan.milliseconds(50)
    /// Deadline of each job, after its submission.
    public var deadline = TimeSpan.seconds(Int64(60))
    /// Simulated inference time, uniform in this range (fixed per node and job), in ms.
    public var inferenceMinMs = 50.0
    public var inferenceMaxMs = 500.0
    /// Execution slots each node announces (and its `maxConcurrentExecutions`).
    public var slots = 4
    /// Dispute set factor (e = factor · r + 1) of every node's `JobsConfig`.
    public var disputeFactor = 4
    /// A dispute is decided by a lead of r + this many fresh attestations (`JobsConfig.disputeMarginOverR`).
    public var disputeMarginOverR = 2

    public init() {}
}
