import MurmurCore
import MurmurWire

/// What the jobs state machine is told (Specs/jobs.md, "Events").
public enum JobsEvent: Sendable {
    /// A record that passed `Record(validating:nowUnixMs:)`, from gossip or from the node itself
    /// (its own announcement must be delivered too: a node is a candidate only through it).
    case record(Record)
    /// The inference this machine asked for finished. `output` is the canonical output bytes.
    case inferenceFinished(jobID: Hash, output: [UInt8], elapsed: TimeSpan)
    /// The inference could not run (model missing, input unavailable, over a limit …).
    case inferenceFailed(jobID: Hash, reason: String)
    /// The timer set by `JobsEffect.setTimer` for this job fired.
    case timer(jobID: Hash)
}

/// What the jobs state machine asks the shell to do.
public enum JobsEffect: Sendable, Equatable {
    /// Run the model on the job's input (fetching the input by hash if it is not inline), then
    /// report `inferenceFinished` or `inferenceFailed`.
    case runInference(job: Signed<Job>, stage: UInt8)
    /// Stop a running inference whose result is no longer needed (no event is expected back).
    case cancelInference(jobID: Hash)
    /// Gossip this record (claims, attestations, verdicts this node signed).
    case publish(SignedRecord)
    /// Deliver `.timer(jobID:)` at `at`; replaces any earlier timer for the same job.
    case setTimer(jobID: Hash, at: Instant)
    /// The job's state as this node sees it changed (API, metrics, persistence).
    case stateChanged(jobID: Hash, state: JobState)
    /// This node now excludes `node` from every ranking (persist it: local reputation).
    case excluded(node: NodeID, evidence: Hash)
    case trace(TraceEvent)
}

/// A job's state in one node's view.
public enum JobState: Sendable, Equatable, CustomStringConvertible {
    /// Known; no executor has claimed it yet.
    case pending
    /// Executors have claimed it.
    case running
    /// Attestations disagreed; a fresh, larger set is deciding.
    case disputed
    case verified(JobResult)
    case failed(JobFailure)

    public var isFinal: Bool {
        switch self {
        case .verified, .failed: return true
        default: return false
        }
    }

    /// `pending`, `running`, `disputed`, `verified`, `failed` (the API's names).
    public var name: String {
        switch self {
        case .pending: return "pending"
        case .running: return "running"
        case .disputed: return "disputed"
        case .verified: return "verified"
        case .failed: return "failed"
        }
    }

    public var description: String {
        switch self {
        case let .verified(r): return "verified \(r.outputHash.short) by \(r.attesters.count)\(r.disputed ? " after dispute" : "")"
        case let .failed(why): return "failed: \(why)"
        default: return name
        }
    }
}

/// A verified outcome and the signed attestations that carry it (what a client checks).
public struct JobResult: Sendable, Equatable {
    public var outputHash: Hash
    /// The agreeing attestations counted, in rank order.
    public var attestations: [Signed<Attestation>]
    /// True when decided by the dispute round.
    public var disputed: Bool
    public var attesters: [NodeID] { attestations.map(\.author) }
}

/// Why a job failed, in words a user can act on.
public enum JobFailure: Sendable, Equatable, CustomStringConvertible {
    /// No live node announces the model with a free slot.
    case noExecutors
    /// The deadline came with fewer agreeing attestations than needed.
    case notEnoughAttestations(agreeing: Int, needed: Int)
    /// The dispute round did not reach a strict majority by the deadline.
    case disputeUnresolved(best: Int, needed: Int)
    /// This node first saw the job after its deadline.
    case seenAfterDeadline

    public var description: String {
        switch self {
        case .noExecutors: return "no live node announces the model with a free slot (publish it or wait for nodes to fetch it)"
        case let .notEnoughAttestations(a, n): return "deadline passed with \(a) agreeing attestations of \(n) needed (executors too slow or offline: raise the deadline)"
        case let .disputeUnresolved(b, n): return "dispute unresolved at the deadline: best output had \(b) of \(n) deciding attestations"
        case .seenAfterDeadline: return "job reached this node after its deadline"
        }
    }
}

/// Timers and sizes of the protocol (defaults in Specs/jobs.md).
public struct JobsConfig: Sendable {
    /// Engine version written into attestations.
    public var engineVersion: String
    /// Inferences this node runs at once; beyond it the node releases the job at once.
    public var maxConcurrentExecutions: Int
    /// Length of a lease in a claim.
    public var leaseDuration: TimeSpan
    /// A running executor renews its claim this often (well inside `leaseDuration`).
    public var renewEvery: TimeSpan
    /// A node that entered the executor set and has not claimed within this is skipped.
    public var claimGrace: TimeSpan
    /// A lease counts as lapsed only this long after its expiry (clock skew, gossip delay).
    public var leaseSlack: TimeSpan
    /// An executor gossips its first claim only if its inference is still running this long
    /// after it started (well inside `claimGrace`): a fast job goes straight to the attestation,
    /// saving one gossiped record per executor. Zero: claim at once.
    public var claimDelay: TimeSpan
    /// e = `disputeFactor · r + 1` sizes the ranking prefixes a node keeps and checks (the dispute
    /// set itself grows lazily up to `disputeCap`, Specs/jobs.md "Deciding").
    public var disputeFactor: Int
    /// The dispute round is decided when one output leads every other among the fresh deciders
    /// by m = r + `disputeMarginOverR` attestations (Specs/jobs.md: 2 makes the colluders' chance
    /// of winning a dispute ≈ f^r / 60 for f = 0.1, r = 3; 1 makes it ≈ f^r / 7).
    public var disputeMarginOverR = 2
    /// How far past the last executor in rank an attestation still counts (view differences),
    /// as a multiple of r.
    public var windowFactor: Int
    /// Evaluate every job, even those this node ranks far too low to ever run (tests, small meshes).
    public var followAllJobs: Bool
    /// Rankings shared between the nodes of one process (the simulator); nil in a real node.
    public var rankingCache: RankingCache?

    public init(engineVersion: String = MurmurVersion.software, maxConcurrentExecutions: Int = 4,
                leaseDuration: TimeSpan = .seconds(Int64(10)), renewEvery: TimeSpan = .seconds(Int64(4)),
                claimGrace: TimeSpan = .seconds(Int64(3)), leaseSlack: TimeSpan = .seconds(Int64(2)),
                claimDelay: TimeSpan = .zero,
                disputeFactor: Int = 4, windowFactor: Int = 1, followAllJobs: Bool = false, rankingCache: RankingCache? = nil) {
        self.followAllJobs = followAllJobs
        self.rankingCache = rankingCache
        self.engineVersion = engineVersion; self.maxConcurrentExecutions = maxConcurrentExecutions
        self.leaseDuration = leaseDuration; self.renewEvery = renewEvery; self.claimGrace = claimGrace
        self.leaseSlack = leaseSlack; self.claimDelay = claimDelay; self.disputeFactor = disputeFactor; self.windowFactor = windowFactor
    }

    /// Size of the dispute set for redundancy r.
    public func disputeSize(r: Int) -> Int { disputeFactor * r + 1 }
    /// Agreeing dispute attestations that decide: a strict majority of the dispute set.
    public func disputeThreshold(r: Int) -> Int { disputeSize(r: r) / 2 + 1 }
    /// The lead m that decides a dispute (at least 1).
    public func disputeMargin(r: Int) -> Int { max(1, r + disputeMarginOverR) }
    /// The most fresh nodes a dispute round ever asks: 2e − 1 = 8r + 1 for the default factor.
    public func disputeCap(r: Int) -> Int { 2 * disputeSize(r: r) - 1 }
}

extension Instant {
    /// State-machine time is wall-clock time (ns since the Unix epoch): records carry Unix ms.
    public var unixMs: Int64 { nanoseconds / 1_000_000 }
    public init(unixMs: Int64) { self.init(nanoseconds: unixMs &* 1_000_000) }
}
