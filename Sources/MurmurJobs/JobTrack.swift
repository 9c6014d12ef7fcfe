import MurmurCore
import MurmurWire

/// One job as one node sees it.
struct JobTrack: Sendable {
    let job: Signed<Job>
    /// Latest claim per author (this node's own first claim unsigned while it is held).
    var claims: [NodeID: ClaimEntry] = [:]
    /// First attestation per author (a second, different one is equivocation: its author is excluded).
    var attestations: [NodeID: Signed<Attestation>] = [:]
    /// Unix ms at which a node first entered this node's executor set (claim grace runs from it).
    var enteredAt: [NodeID: Int64] = [:]
    /// 0 until attestations disagree, then 1 (the dispute round).
    var stage: UInt8 = 0
    var state: JobState = .pending
    /// This node's own execution, if any.
    var mine: MyRun?
    /// Every node this node has ever put in the executor set (for `job.assign` traces).
    var assigned: Set<NodeID> = []
    var verdictSeen = false
    /// Followed passively: records are kept but not evaluated (this node ranks far down).
    var passive = false
    /// Set for the one evaluation that catches up a passively followed job: nodes never seen in
    /// the executor set count as having entered it when the job was issued.
    var catchUp = false
    /// First 8 bytes of this node's own rank key for the job (its expected position).
    var myKeyPrefix: UInt64 = 0
    /// Fewer nodes in the executor set than needed to finish (q, or the dispute threshold).
    var shortOfExecutors = false
    var timerAt: Int64?
    /// Holders of the model in rank order, cached against (directory version, exclusions).
    /// Only the first `rankingLimit` are kept (the rules rarely look further; see `extend`).
    var ranking: [NodeID] = []
    /// How many nodes the full ranking has.
    var rankingTotal = 0
    var rankingLimit = 0
    var rankingStamp = RankingStamp.stale

    struct RankingStamp: Equatable, Sendable {
        var holders: UInt64
        var excluded: Int
        var participants: Int
        var limit: Int
        static let stale = RankingStamp(holders: .max, excluded: -1, participants: -1, limit: -1)
    }

    init(job: Signed<Job>) { self.job = job }

    /// A claim as the rules read it. Others' claims arrive signed; this node's own first claim
    /// is applied to its view at once but signed only if it is ever gossiped (`claimDelay`): a
    /// held claim whose inference finishes first never needs its signature (Specs/jobs.md).
    struct ClaimEntry: Sendable {
        let body: Claim
        let issuedAt: Int64
        let expiresAt: Int64
        /// The signed record; nil while this node's own claim is held.
        var signed: Signed<Claim>?

        init(_ c: Signed<Claim>) {
            body = c.body; issuedAt = c.issuedAt; expiresAt = c.expiresAt; signed = c
        }

        init(held body: Claim, issuedAt: Int64, expiresAt: Int64) {
            self.body = body; self.issuedAt = issuedAt; self.expiresAt = expiresAt; signed = nil
        }
    }

    var id: Hash { job.id }
    var r: Int { Int(job.body.redundancy) }
    var q: Int { Int(job.body.quorum) }
    var deadline: Int64 { job.body.deadline }

    struct MyRun: Sendable {
        var stage: UInt8
        var rank: Int
        var lastClaimAt: Int64
        var leaseExpiry: Int64
        /// running → finished / failed / cancelled / declined
        var running: Bool
        /// True when this node gave the job up (no capacity, inference failed): it skips itself.
        var gaveUp: Bool
        /// The first claim is signed and applied here but not yet gossiped: it goes out at
        /// `claimDueAt` if the inference is still running then (`JobsConfig.claimDelay`).
        var claimHeld = false
        var claimDueAt: Int64 = 0
    }

    /// True when `node` claimed or attested in `stage`.
    func participated(_ node: NodeID, stage: UInt8) -> Bool {
        claims[node]?.body.stage == stage || attestations[node]?.body.stage == stage
    }

    /// The skip rule of Specs/jobs.md: a node in the executor set that released its claim, let
    /// its lease lapse without attesting, or did not claim within the grace is passed over.
    /// In the first round an attestation of either stage keeps a node's place: a node this view
    /// ranks in the top r may be a fresh dispute decider in another view that ranks an excluded
    /// liar above it, and its dispute-round attestation answers this view's first round too.
    func skipped(_ node: NodeID, stage: UInt8, nowMs: Int64, me: NodeID, config: JobsConfig) -> Bool {
        if let a = attestations[node], a.body.stage == stage || stage == 0, a.issuedAt <= deadline { return false }
        if node == me, let mine, mine.gaveUp { return true }
        if let c = claims[node], c.body.stage == stage {
            if c.body.isRelease(issuedAt: c.issuedAt) { return true }
            return nowMs >= c.body.leaseExpiry + config.leaseSlack.nanoseconds / 1_000_000
        }
        if let entered = enteredAt[node] ?? (catchUp ? job.issuedAt : nil) {
            return nowMs >= entered + config.claimGrace.nanoseconds / 1_000_000
        }
        return false
    }
}
