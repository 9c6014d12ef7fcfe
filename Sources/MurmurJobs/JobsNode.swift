import MurmurCore
import MurmurCrypto
import MurmurWire

/// One node's part in running jobs without a coordinator (Specs/jobs.md): a deterministic state
/// machine. Time (`now`, wall clock as ns since the Unix epoch, because records carry Unix ms)
/// is passed in; inference, gossip, timers and storage are effects for the shell to perform.
/// Signing is done here (Ed25519 is deterministic), so replays give identical records.
public struct JobsNode: Sendable {
    public let key: SigningKey
    public var me: NodeID { key.publicKey }
    public let config: JobsConfig
    public internal(set) var directory = Directory()
    /// Proven liars: never ranked, their attestations never counted (local reputation).
    public internal(set) var excluded: Set<NodeID>
    var jobs: [Hash: JobTrack] = [:]
    var pending: [Hash: [Record]] = [:]
    var pendingOrder: [Hash] = []
    var pendingVerdicts: [Signed<Verdict>] = []
    var runningCount = 0
    /// Portable evidence against this node itself arrived (a verdict accusing it): every honest
    /// node excludes it, so it stops executing (its attestations would never count).
    public internal(set) var provenWrong = false
    /// Jobs this node is in the executor set of but had no slot for.
    var waitingForSlot: Set<Hash> = []

    public init(key: SigningKey, config: JobsConfig = JobsConfig(), excluded: Set<NodeID> = []) {
        self.key = key
        self.config = config
        self.excluded = excluded
    }

    // MARK: Queries (API, tests)

    public func state(of job: Hash) -> JobState? { jobs[job]?.state }
    public var trackedJobs: Int { jobs.count }
    public var runningExecutions: Int { runningCount }

    /// The executor set this node currently sees for the job's current round.
    public func executors(of job: Hash, now: Instant) -> [NodeID] {
        guard var t = jobs[job] else { return [] }
        refreshRanking(&t)
        return exactExecutorSet(&t, stage: t.stage, nowMs: now.unixMs).members
    }

    /// Every attestation this node holds for the job (counted or not), by author.
    public func attestations(of job: Hash) -> [Signed<Attestation>] {
        (jobs[job]?.attestations.values).map { $0.sorted { $0.author < $1.author } } ?? []
    }

    /// Holders of the model that may be ranked for this job, in rank order.
    public func ranking(of job: Hash) -> [NodeID] {
        guard let t = jobs[job] else { return [] }
        return Ranking.order(rankedNodes(t), job: job)
    }

    // MARK: Events

    public mutating func handle(_ event: JobsEvent, now: Instant) -> [JobsEffect] {
        var fx: [JobsEffect] = []
        switch event {
        case let .record(record): receive(record, now: now, fx: &fx)
        case let .inferenceFinished(id, output, elapsed): finished(id, output: output, elapsed: elapsed, now: now, fx: &fx)
        case let .inferenceFailed(id, reason): failedRun(id, reason: reason, now: now, fx: &fx)
        case let .timer(id): timer(id, now: now, fx: &fx)
        }
        // A slot freed: offer it to the jobs that were waiting, earliest deadline first.
        while runningCount < config.maxConcurrentExecutions, !waitingForSlot.isEmpty {
            guard let next = waitingForSlot.min(by: { (jobs[$0]?.deadline ?? 0, $0) < (jobs[$1]?.deadline ?? 0, $1) }) else { break }
            waitingForSlot.remove(next)
            evaluate(next, now: now, fx: &fx)
        }
        return fx
    }

    mutating func receive(_ record: Record, now: Instant, fx: inout [JobsEffect]) {
        switch record {
        case .modelManifest: return
        case let .nodeAnnouncement(a):
            guard let changed = directory.apply(a), !changed.isEmpty else { return }
            let models = Set(changed)
            for id in passiveJobIDs() where models.contains(jobs[id]?.job.body.modelHash ?? .zero) {
                if let t = jobs[id], isNear(t) { jobs[id]?.passive = false }
            }
            for id in activeJobIDs() where models.contains(jobs[id]?.job.body.modelHash ?? .zero) {
                evaluate(id, now: now, fx: &fx)
            }
        case let .job(job): receiveJob(job, now: now, fx: &fx)
        case let .claim(c):
            guard jobs[c.body.jobID] != nil else { return hold(record, job: c.body.jobID) }
            storeClaim(c)
            if jobs[c.body.jobID]?.passive == false { evaluate(c.body.jobID, now: now, fx: &fx) }
        case let .attestation(a):
            guard jobs[a.body.jobID] != nil else { return hold(record, job: a.body.jobID) }
            storeAttestation(a, now: now, fx: &fx)
            if jobs[a.body.jobID]?.passive == false { evaluate(a.body.jobID, now: now, fx: &fx) }
        case let .verdict(v): receiveVerdict(v, now: now, fx: &fx)
        }
    }

    mutating func receiveJob(_ job: Signed<Job>, now: Instant, fx: inout [JobsEffect]) {
        if jobs[job.id] != nil { return }
        if jobs.count >= Limits.maxTrackedJobs && !evictOneFinished() {
            fx.append(.trace(trace(.drop, now: now, job: job.id, reason: "job table full (\(Limits.maxTrackedJobs))")))
            return
        }
        var t = JobTrack(job: job)
        if now.unixMs >= job.body.deadline {
            t.state = .failed(.seenAfterDeadline)
            jobs[job.id] = t
            fx.append(.stateChanged(jobID: job.id, state: t.state))
            scheduleTimer(job.id, fx: &fx)
            return
        }
        t.myKeyPrefix = Ranking.key(job: job.id, node: me).value.w0
        t.passive = !isNear(t)
        jobs[job.id] = t
        fx.append(.stateChanged(jobID: job.id, state: .pending))
        if let held = pending.removeValue(forKey: job.id) {
            pendingOrder.removeAll { $0 == job.id }
            for r in held {
                if case let .claim(c) = r { storeClaim(c) }
                if case let .attestation(a) = r { storeAttestation(a, now: now, fx: &fx) }
            }
        }
        if t.passive {
            // Far down the rank: keep the records, follow the job only if asked (`refresh`).
            jobs[job.id]?.timerAt = job.expiresAt
            fx.append(.setTimer(jobID: job.id, at: Instant(unixMs: job.expiresAt)))
        } else {
            evaluate(job.id, now: now, fx: &fx)
        }
        // Verdicts that were waiting for this job.
        let waiting = pendingVerdicts.filter { $0.body.jobID == job.id }
        pendingVerdicts.removeAll { $0.body.jobID == job.id }
        for v in waiting { receiveVerdict(v, now: now, fx: &fx) }
    }

    mutating func hold(_ record: Record, job: Hash) {
        if pending[job] == nil {
            if pendingOrder.count >= Limits.maxPendingJobs, let oldest = pendingOrder.first {
                pendingOrder.removeFirst()
                pending[oldest] = nil
            }
            pendingOrder.append(job)
        }
        if pending[job, default: []].count < Limits.maxPendingRecordsPerJob { pending[job, default: []].append(record) }
    }

    mutating func storeClaim(_ c: Signed<Claim>) {
        let id = c.body.jobID
        if let old = jobs[id]?.claims[c.author], old.issuedAt >= c.issuedAt { return }
        jobs[id]?.claims[c.author] = JobTrack.ClaimEntry(c)
    }

    mutating func storeAttestation(_ a: Signed<Attestation>, now: Instant, fx: inout [JobsEffect]) {
        guard let t = jobs[a.body.jobID] else { return }
        if a.body.modelHash != t.job.body.modelHash || a.body.inputHash != t.job.body.inputHash {
            fx.append(.trace(trace(.drop, now: now, job: t.id, peer: a.author, reason: "attestation for another model or input")))
            return
        }
        if let old = t.attestations[a.author] {
            if old.body.outputHash != a.body.outputHash {
                // Two signed, different outputs for one job: a proof on its own (inference is
                // deterministic), which every node that receives both records checks for itself.
                fx.append(.trace(trace(.drop, now: now, job: t.id, peer: a.author, reason: "equivocation: second attestation with another output")))
                exclude(a.author, evidence: a.id, now: now, fx: &fx)
            }
            return
        }
        jobs[t.id]?.attestations[a.author] = a
    }

    /// Brings a job this node follows only passively (it ranks far down) up to date and
    /// follows it from now on: call before answering an API query about it.
    public mutating func refresh(_ job: Hash, now: Instant) -> [JobsEffect] {
        guard jobs[job] != nil else { return [] }
        var fx: [JobsEffect] = []
        let wasPassive = jobs[job]?.passive == true
        jobs[job]?.passive = false
        jobs[job]?.timerAt = nil
        jobs[job]?.catchUp = wasPassive
        evaluate(job, now: now, fx: &fx)
        jobs[job]?.catchUp = false
        return fx
    }

    /// Whether this node follows the job actively: its own rank key puts it within the first
    /// `4(r + e) + 32` of the holders (expected position), it authored the job, or the config says
    /// to follow everything. Ranking all N holders costs N hashes per job; a node that cannot be
    /// an executor (short of ~90 nodes above it going silent) need not pay it (Specs/jobs.md).
    func isNear(_ t: JobTrack) -> Bool {
        if config.followAllJobs || t.job.author == me { return true }
        let holders = Double(directory.holders(of: t.job.body.modelHash).count)
        let expected = holders * (Double(t.myKeyPrefix) / 18_446_744_073_709_551_616.0)
        return expected < Double(4 * (t.r + config.disputeSize(r: t.r)) + 32)
    }

    // MARK: Bookkeeping

    func passiveJobIDs() -> [Hash] {
        jobs.compactMap { id, t in t.passive ? id : nil }.sorted()
    }

    func activeJobIDs() -> [Hash] {
        jobs.compactMap { id, t -> Hash? in
            if t.passive { return nil }
            if case let .verified(r) = t.state, r.disputed { return nil }
            if case .failed = t.state { return nil }
            return id
        }.sorted()
    }

    mutating func evictOneFinished() -> Bool {
        let victim = jobs.filter { $0.value.state.isFinal }.min { ($0.value.job.expiresAt, $0.key) < ($1.value.job.expiresAt, $1.key) }
        guard let (id, t) = victim else { return false }
        if t.mine?.running == true { runningCount -= 1 }
        jobs[id] = nil
        return true
    }

    func trace(_ kind: TraceEvent.Kind, now: Instant, job: Hash, peer: NodeID? = nil, reason: String? = nil) -> TraceEvent {
        TraceEvent(time: now, node: me, kind: kind, recordKind: "job", recordID: job, peer: peer, reason: reason)
    }
}
