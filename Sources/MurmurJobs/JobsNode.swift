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
    public private(set) var directory = Directory()
    /// Proven liars: never ranked, their attestations never counted (local reputation).
    public private(set) var excluded: Set<NodeID>
    private var jobs: [Hash: JobTrack] = [:]
    private var pending: [Hash: [Record]] = [:]
    private var pendingOrder: [Hash] = []
    private var pendingVerdicts: [Signed<Verdict>] = []
    private var runningCount = 0
    /// Jobs this node is in the executor set of but had no slot for.
    private var waitingForSlot: Set<Hash> = []

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
        return executorSet(t, stage: t.stage, nowMs: now.unixMs).members
    }

    /// Every attestation this node holds for the job (counted or not), by author.
    public func attestations(of job: Hash) -> [Signed<Attestation>] {
        (jobs[job]?.attestations.values).map { $0.sorted { $0.author < $1.author } } ?? []
    }

    /// Holders of the model that may be ranked for this job, in rank order.
    public func ranking(of job: Hash) -> [NodeID] {
        guard var t = jobs[job] else { return [] }
        refreshRanking(&t)
        return t.ranking
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

    private mutating func receive(_ record: Record, now: Instant, fx: inout [JobsEffect]) {
        switch record {
        case .modelManifest: return
        case let .nodeAnnouncement(a):
            guard let changed = directory.apply(a), !changed.isEmpty else { return }
            let models = Set(changed)
            for id in activeJobIDs() where models.contains(jobs[id]?.job.body.modelHash ?? .zero) {
                evaluate(id, now: now, fx: &fx)
            }
        case let .job(job): receiveJob(job, now: now, fx: &fx)
        case let .claim(c):
            guard jobs[c.body.jobID] != nil else { return hold(record, job: c.body.jobID) }
            storeClaim(c)
            evaluate(c.body.jobID, now: now, fx: &fx)
        case let .attestation(a):
            guard jobs[a.body.jobID] != nil else { return hold(record, job: a.body.jobID) }
            storeAttestation(a, now: now, fx: &fx)
            evaluate(a.body.jobID, now: now, fx: &fx)
        case let .verdict(v): receiveVerdict(v, now: now, fx: &fx)
        }
    }

    private mutating func receiveJob(_ job: Signed<Job>, now: Instant, fx: inout [JobsEffect]) {
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
        jobs[job.id] = t
        fx.append(.stateChanged(jobID: job.id, state: .pending))
        if let held = pending.removeValue(forKey: job.id) {
            pendingOrder.removeAll { $0 == job.id }
            for r in held {
                if case let .claim(c) = r { storeClaim(c) }
                if case let .attestation(a) = r { storeAttestation(a, now: now, fx: &fx) }
            }
        }
        evaluate(job.id, now: now, fx: &fx)
        // Verdicts that were waiting for this job.
        let waiting = pendingVerdicts.filter { $0.body.jobID == job.id }
        pendingVerdicts.removeAll { $0.body.jobID == job.id }
        for v in waiting { receiveVerdict(v, now: now, fx: &fx) }
    }

    private mutating func hold(_ record: Record, job: Hash) {
        if pending[job] == nil {
            if pendingOrder.count >= Limits.maxPendingJobs, let oldest = pendingOrder.first {
                pendingOrder.removeFirst()
                pending[oldest] = nil
            }
            pendingOrder.append(job)
        }
        if pending[job, default: []].count < Limits.maxPendingRecordsPerJob { pending[job, default: []].append(record) }
    }

    private mutating func storeClaim(_ c: Signed<Claim>) {
        let id = c.body.jobID
        if let old = jobs[id]?.claims[c.author], old.issuedAt >= c.issuedAt { return }
        jobs[id]?.claims[c.author] = c
    }

    private mutating func storeAttestation(_ a: Signed<Attestation>, now: Instant, fx: inout [JobsEffect]) {
        guard let t = jobs[a.body.jobID] else { return }
        if a.body.modelHash != t.job.body.modelHash || a.body.inputHash != t.job.body.inputHash {
            fx.append(.trace(trace(.drop, now: now, job: t.id, peer: a.author, reason: "attestation for another model or input")))
            return
        }
        if let old = t.attestations[a.author] {
            if old.body.outputHash != a.body.outputHash {
                fx.append(.trace(trace(.drop, now: now, job: t.id, peer: a.author, reason: "equivocation: second attestation with another output")))
            }
            return
        }
        jobs[t.id]?.attestations[a.author] = a
    }

    // MARK: The rules

    /// Holders of the job's model, plus the authors of its claims and attestations (a signed
    /// claim or attestation shows the author runs the model, even before its announcement
    /// arrives), minus proven liars, in rank order (cached).
    private func refreshRanking(_ t: inout JobTrack) {
        let participants = Set(t.claims.keys).union(t.attestations.keys)
        let stamp = JobTrack.RankingStamp(holders: directory.holdersVersion, excluded: excluded.count, participants: participants.count)
        if t.rankingStamp == stamp { return }
        let nodes = directory.holders(of: t.job.body.modelHash).union(participants).subtracting(excluded)
        t.ranking = Ranking.order(nodes, job: t.id)
        t.rankingStamp = stamp
    }

    struct ExecutorSet {
        var members: [NodeID] = []
        /// Rank positions of members.
        var positions: [Int] = []
        /// Attestations by holders ranked below this position do not count.
        var windowEnd = 0
        /// Nodes that could be in the set (before the cut at r).
        var candidates = 0
    }

    /// The executor set of `stage` in this node's view (Specs/jobs.md, "Executor set"):
    /// participants in good standing first (they claimed or attested; lease not lapsed, not
    /// released), then eligible non-participants (live, free slot, not passed over), each in
    /// rank order, cut at r (or the dispute size).
    private func executorSet(_ t: JobTrack, stage: UInt8, nowMs: Int64) -> ExecutorSet {
        let need = stage == 0 ? t.r : config.disputeSize(r: t.r)
        var participantCount = 0
        for n in Set(t.claims.keys).union(t.attestations.keys) where t.participated(n, stage: stage) { participantCount += 1 }
        var participants: [(NodeID, Int)] = []
        var others: [(NodeID, Int)] = []
        var seen = 0
        for (i, n) in t.ranking.enumerated() {
            if others.count >= need && seen == participantCount { break }
            if stage == 1 && t.participated(n, stage: 0) { continue }
            let participates = t.participated(n, stage: stage)
            if participates {
                seen += 1
            } else if others.count >= need || !directory.isLive(n, nowMs: nowMs) || directory.freeSlots(n) == 0 {
                continue
            }
            if t.skipped(n, stage: stage, nowMs: nowMs, me: me, config: config) { continue }
            if participates { participants.append((n, i)) } else { others.append((n, i)) }
        }
        var set = ExecutorSet()
        for (n, i) in (participants + others).prefix(need) {
            set.members.append(n)
            set.positions.append(i)
        }
        set.windowEnd = min(t.ranking.count, (set.positions.max() ?? -1) + 1 + config.windowFactor * t.r)
        set.candidates = participants.count + others.count
        return set
    }

    /// Wrap-around: when fewer than `floor` nodes are in the set, nodes passed over for not
    /// claiming (busy, or slow to hear of the job) get a fresh claim grace. Returns true if any did.
    private func rewind(_ t: inout JobTrack, stage: UInt8, floor: Int, set: ExecutorSet, nowMs: Int64) -> Bool {
        guard set.members.count < floor else { return false }
        var any = false
        for (n, entered) in t.enteredAt.sorted(by: { $0.key < $1.key }) where !t.participated(n, stage: stage) {
            if stage == 1 && t.participated(n, stage: 0) { continue }
            guard directory.isLive(n, nowMs: nowMs), directory.freeSlots(n) > 0, !(n == me && t.mine?.gaveUp == true) else { continue }
            if nowMs >= entered + config.claimGrace.nanoseconds / 1_000_000 {
                t.enteredAt[n] = nowMs
                any = true
            }
        }
        return any
    }

    /// Attestations of `stage` that count: by holders ranked inside the window (and, in the
    /// dispute round, not by first-round participants).
    private func countable(_ t: JobTrack, stage: UInt8, window: Int) -> [Signed<Attestation>] {
        var out: [Signed<Attestation>] = []
        for n in t.ranking.prefix(window) {
            guard let a = t.attestations[n], a.body.stage == stage else { continue }
            if stage == 1 && t.participated(n, stage: 0) { continue }
            out.append(a)
        }
        return out
    }

    private mutating func evaluate(_ id: Hash, now: Instant, fx: inout [JobsEffect]) {
        guard var t = jobs[id] else { return }
        let ms = now.unixMs
        let before = t.state
        defer {
            jobs[id] = t
            if t.state != before { fx.append(.stateChanged(jobID: id, state: t.state)) }
            scheduleTimer(id, fx: &fx, nowMs: ms)
        }
        if case .failed = t.state { return }
        if case let .verified(result) = t.state, result.disputed || ms >= t.deadline { return }
        refreshRanking(&t)

        // Round 1: the top r.
        var first = executorSet(t, stage: 0, nowMs: ms)
        if t.stage == 0 && rewind(&t, stage: 0, floor: t.q, set: first, nowMs: ms) { first = executorSet(t, stage: 0, nowMs: ms) }
        t.shortOfExecutors = t.stage == 0 && first.members.count < t.q
        noteAssigned(&t, first, stage: 0, now: now, fx: &fx)
        let round1 = countable(t, stage: 0, window: first.windowEnd)
        let outputs = Set(round1.map(\.body.outputHash))
        if t.stage == 0 && outputs.count > 1 {
            t.stage = 1
            t.state = .disputed
            // The dispute round gets fresh claim graces (first-round participants are not in it).
            t.enteredAt = t.enteredAt.filter { t.participated($0.key, stage: 0) }
            fx.append(.trace(trace(.jobDisputed, now: now, job: id, reason: "\(outputs.count) different outputs among \(round1.count) attestations")))
        }
        if t.stage == 0 {
            if case .verified = t.state { return }
            if let out = outputs.first, !first.members.isEmpty, round1.count >= t.q,
               first.members.allSatisfy({ t.attestations[$0]?.body.stage == 0 }) {
                t.state = .verified(JobResult(outputHash: out, attestations: round1, disputed: false))
                fx.append(.trace(trace(.jobVerified, now: now, job: id, reason: "\(round1.count) agree on \(out.short)")))
                stopMine(&t, fx: &fx)
                return
            }
            if ms >= t.deadline {
                let holders = t.ranking.filter { t.participated($0, stage: 0) || (directory.isLive($0, nowMs: ms) && directory.freeSlots($0) > 0) }
                fail(&t, holders.isEmpty ? .noExecutors
                     : .notEnoughAttestations(agreeing: round1.count, needed: max(t.q, min(t.r, holders.count))), now: now, fx: &fx)
                return
            }
            t.state = t.claims.isEmpty && t.attestations.isEmpty ? .pending : .running
            if let i = first.members.firstIndex(of: me) { start(&t, stage: 0, rank: first.positions[i], now: now, fx: &fx) }
            renew(&t, now: now, fx: &fx)
            return
        }

        // Round 2 (dispute): a fresh, larger set further down the rank; strict majority decides.
        let needed = config.disputeThreshold(r: t.r)
        var second = executorSet(t, stage: 1, nowMs: ms)
        if rewind(&t, stage: 1, floor: needed, set: second, nowMs: ms) { second = executorSet(t, stage: 1, nowMs: ms) }
        t.shortOfExecutors = second.members.count < needed
        noteAssigned(&t, second, stage: 1, now: now, fx: &fx)
        let round2 = countable(t, stage: 1, window: second.windowEnd)
        var tally: [Hash: [Signed<Attestation>]] = [:]
        for a in round2 { tally[a.body.outputHash, default: []].append(a) }
        let winners = tally.filter { $0.value.count >= needed }
        if winners.count == 1, let (out, deciders) = winners.first {
            decide(&t, output: out, deciders: deciders, round1: round1, now: now, fx: &fx)
            return
        }
        if ms >= t.deadline {
            fail(&t, .disputeUnresolved(best: tally.values.map(\.count).max() ?? 0, needed: needed), now: now, fx: &fx)
            return
        }
        t.state = .disputed
        if let i = second.members.firstIndex(of: me) { start(&t, stage: 1, rank: second.positions[i], now: now, fx: &fx) }
        renew(&t, now: now, fx: &fx)
    }

    private func noteAssigned(_ t: inout JobTrack, _ set: ExecutorSet, stage: UInt8, now: Instant, fx: inout [JobsEffect]) {
        for (n, pos) in zip(set.members, set.positions) where t.enteredAt[n] == nil {
            t.enteredAt[n] = now.unixMs
            if t.assigned.insert(n).inserted {
                fx.append(.trace(trace(.jobAssign, now: now, job: t.id, peer: n, reason: "round \(stage + 1) rank \(pos)")))
            }
        }
    }

    /// The dispute is decided: record the result, exclude everyone who attested otherwise, and
    /// publish the fault proof if this node is the first agreeing decider in its ranking.
    private mutating func decide(_ t: inout JobTrack, output: Hash, deciders: [Signed<Attestation>], round1: [Signed<Attestation>],
                                 now: Instant, fx: inout [JobsEffect]) {
        let agreeing1 = round1.filter { $0.body.outputHash == output }
        t.state = .verified(JobResult(outputHash: output, attestations: deciders + agreeing1, disputed: true))
        fx.append(.trace(trace(.jobVerified, now: now, job: t.id, reason: "dispute decided by \(deciders.count) on \(output.short)")))
        stopMine(&t, fx: &fx)
        let liars = (round1 + countable(t, stage: 1, window: t.ranking.count)).filter { $0.body.outputHash != output }
        if !t.verdictSeen, deciders.first?.author == me, !liars.isEmpty {
            let maxDeciders = min(deciders.count, Limits.maxVerdictDeciders)
            let evidence = deciders.prefix(maxDeciders).map { Verdict.Evidence(attestation: $0, isDecider: true) }
                + liars.prefix(Limits.maxVerdictAttestations - maxDeciders).map { Verdict.Evidence(attestation: $0, isDecider: false) }
            let ms = now.unixMs
            do {
                let v = try Verdict(jobID: t.id, evidence: evidence).signed(by: key, issuedAt: ms, expiresAt: ms + 7 * 24 * 3_600_000)
                t.verdictSeen = true
                fx.append(.publish(v.envelope))
            } catch {
                fx.append(.trace(trace(.drop, now: now, job: t.id, reason: "could not sign verdict: \(error)")))
            }
        }
        jobs[t.id] = t
        let proof = t.id
        for liar in liars.map(\.author).sorted() { exclude(liar, evidence: proof, now: now, fx: &fx) }
        if let updated = jobs[t.id] { t = updated }
    }

    private mutating func fail(_ t: inout JobTrack, _ why: JobFailure, now: Instant, fx: inout [JobsEffect]) {
        t.state = .failed(why)
        fx.append(.trace(trace(.jobFailed, now: now, job: t.id, reason: why.description)))
        stopMine(&t, fx: &fx)
    }

    // MARK: Executing

    private mutating func start(_ t: inout JobTrack, stage: UInt8, rank: Int, now: Instant, fx: inout [JobsEffect]) {
        if t.mine != nil { return } // a node runs a job at most once
        let ms = now.unixMs
        if runningCount >= config.maxConcurrentExecutions {
            // No claim: others pass this node over after the claim grace; it retries when a slot frees.
            if waitingForSlot.insert(t.id).inserted {
                fx.append(.trace(trace(.drop, now: now, job: t.id, reason: "no free execution slot: waiting")))
            }
            return
        }
        waitingForSlot.remove(t.id)
        let lease = min(ms + config.leaseDuration.nanoseconds / 1_000_000, claimExpiry(t))
        t.mine = JobTrack.MyRun(stage: stage, rank: rank, lastClaimAt: ms, leaseExpiry: lease, running: true, gaveUp: false)
        runningCount += 1
        publishClaim(&t, leaseExpiry: lease, now: now, fx: &fx)
        fx.append(.runInference(job: t.job, stage: stage))
        fx.append(.trace(trace(.jobExecute, now: now, job: t.id, reason: "round \(stage + 1) rank \(rank)")))
    }

    private func claimExpiry(_ t: JobTrack) -> Int64 { t.deadline + Limits.jobRecordGraceMs }

    private func publishClaim(_ t: inout JobTrack, leaseExpiry: Int64, now: Instant, fx: inout [JobsEffect]) {
        guard let mine = t.mine else { return }
        let ms = now.unixMs
        do {
            let c = try Claim(jobID: t.id, leaseExpiry: leaseExpiry, stage: mine.stage, rank: UInt16(clamping: mine.rank))
                .signed(by: key, issuedAt: ms, expiresAt: claimExpiry(t))
            if let old = t.claims[me], old.issuedAt >= ms { return }
            t.claims[me] = c
            t.mine?.lastClaimAt = ms
            t.mine?.leaseExpiry = leaseExpiry
            fx.append(.publish(c.envelope))
            fx.append(.trace(trace(.jobClaim, now: now, job: t.id, reason: leaseExpiry == ms ? "release" : "lease until \(leaseExpiry)")))
        } catch {
            fx.append(.trace(trace(.drop, now: now, job: t.id, reason: "could not sign claim: \(error)")))
        }
    }

    private func renew(_ t: inout JobTrack, now: Instant, fx: inout [JobsEffect]) {
        guard let mine = t.mine, mine.running else { return }
        let ms = now.unixMs
        guard ms >= mine.lastClaimAt + config.renewEvery.nanoseconds / 1_000_000 else { return }
        publishClaim(&t, leaseExpiry: min(ms + config.leaseDuration.nanoseconds / 1_000_000, claimExpiry(t)), now: now, fx: &fx)
    }

    /// Cancels this node's run when the job ended without needing it.
    private mutating func stopMine(_ t: inout JobTrack, fx: inout [JobsEffect]) {
        guard let mine = t.mine, mine.running else { return }
        t.mine?.running = false
        runningCount -= 1
        fx.append(.cancelInference(jobID: t.id))
    }

    private mutating func finished(_ id: Hash, output: [UInt8], elapsed: TimeSpan, now: Instant, fx: inout [JobsEffect]) {
        guard var t = jobs[id], let mine = t.mine, !mine.gaveUp, t.attestations[me] == nil else { return }
        if mine.running { runningCount -= 1 }
        t.mine?.running = false
        if case .failed = t.state { jobs[id] = t; return }
        let ms = now.unixMs
        do {
            let a = try Attestation(job: t.job, output: output, engineVersion: config.engineVersion,
                                    elapsedMicros: UInt64(max(0, elapsed.nanoseconds / 1000)), stage: mine.stage)
                .signed(by: key, issuedAt: ms, expiresAt: ms + 24 * 3_600_000)
            t.attestations[me] = a
            jobs[id] = t
            fx.append(.publish(a.envelope))
            fx.append(.trace(trace(.jobAttest, now: now, job: id, reason: "output \(a.body.outputHash.short)")))
        } catch {
            jobs[id] = t
            fx.append(.trace(trace(.drop, now: now, job: id, reason: "could not sign attestation: \(error)")))
        }
        evaluate(id, now: now, fx: &fx)
    }

    private mutating func failedRun(_ id: Hash, reason: String, now: Instant, fx: inout [JobsEffect]) {
        guard var t = jobs[id], let mine = t.mine, mine.running else { return }
        runningCount -= 1
        t.mine?.running = false
        t.mine?.gaveUp = true
        publishClaim(&t, leaseExpiry: now.unixMs, now: now, fx: &fx)
        fx.append(.trace(trace(.drop, now: now, job: id, reason: "inference failed: \(reason); released")))
        jobs[id] = t
        evaluate(id, now: now, fx: &fx)
    }

    // MARK: Timers

    private mutating func timer(_ id: Hash, now: Instant, fx: inout [JobsEffect]) {
        guard let t = jobs[id] else { return }
        jobs[id]?.timerAt = nil
        if t.state.isFinal && now.unixMs >= t.job.expiresAt {
            if t.mine?.running == true { runningCount -= 1 }
            jobs[id] = nil
            return
        }
        evaluate(id, now: now, fx: &fx)
    }

    /// The next moment something can change for the job without a record arriving.
    private mutating func scheduleTimer(_ id: Hash, fx: inout [JobsEffect], nowMs: Int64? = nil) {
        guard let t = jobs[id] else { return }
        var next: Int64
        if t.state.isFinal {
            if case let .verified(r) = t.state, !r.disputed, let ms = nowMs, ms < t.deadline {
                next = t.deadline // a late disagreement may still reopen it
            } else {
                next = t.job.expiresAt
            }
        } else {
            next = t.deadline
            let ms = nowMs ?? 0
            let grace = config.claimGrace.nanoseconds / 1_000_000
            let slack = config.leaseSlack.nanoseconds / 1_000_000
            for (n, entered) in t.enteredAt {
                if let a = t.attestations[n], a.body.stage == t.stage { continue }
                if let c = t.claims[n], c.body.stage == t.stage {
                    let lapse = c.body.leaseExpiry + slack
                    if lapse > ms { next = min(next, lapse) }
                } else if entered + grace > ms {
                    next = min(next, entered + grace)
                }
            }
            if let mine = t.mine, mine.running { next = min(next, mine.lastClaimAt + config.renewEvery.nanoseconds / 1_000_000) }
            // Short of executors (all busy or silent): look again every claim grace (wrap-around).
            if t.shortOfExecutors { next = min(next, ms + grace) }
        }
        if t.timerAt == next { return }
        jobs[id]?.timerAt = next
        fx.append(.setTimer(jobID: id, at: Instant(unixMs: next)))
    }

    // MARK: Verdicts and reputation

    private mutating func receiveVerdict(_ v: Signed<Verdict>, now: Instant, fx: inout [JobsEffect]) {
        let id = v.body.jobID
        guard var t = jobs[id] else {
            if pendingVerdicts.count >= Limits.maxPendingVerdicts { pendingVerdicts.removeFirst() }
            pendingVerdicts.append(v)
            return
        }
        refreshRanking(&t)
        jobs[id] = t
        if let why = implausible(v, t) {
            fx.append(.trace(trace(.drop, now: now, job: id, peer: v.author, reason: "verdict refused: \(why)")))
            return
        }
        jobs[id]?.verdictSeen = true
        for liar in v.body.accused { exclude(liar, evidence: v.id, now: now, fx: &fx) }
    }

    /// The local check of a verdict against this node's own view (Specs/jobs.md, "Verdicts").
    private func implausible(_ v: Signed<Verdict>, _ t: JobTrack) -> String? {
        let first = v.body.evidence.first?.attestation.body
        if first?.modelHash != t.job.body.modelHash || first?.inputHash != t.job.body.inputHash { return "not this job's model or input" }
        let majority = v.body.majority
        let needed = min(config.disputeThreshold(r: t.r), Limits.maxVerdictDeciders)
        if majority.count < needed { return "\(majority.count) agreeing deciders, need \(needed)" }
        let window = 2 * (t.r + config.disputeSize(r: t.r)) + 8
        let top = Set(t.ranking.prefix(window))
        for d in majority {
            if !top.contains(d) { return "decider \(d.short) not among the first \(window) in rank" }
            if t.participated(d, stage: 0) { return "decider \(d.short) took part in round 1" }
        }
        return nil
    }

    private mutating func exclude(_ node: NodeID, evidence: Hash, now: Instant, fx: inout [JobsEffect]) {
        guard node != me, excluded.insert(node).inserted else { return }
        fx.append(.excluded(node: node, evidence: evidence))
        fx.append(.trace(TraceEvent(time: now, node: me, kind: .verdict, recordKind: "job", recordID: evidence, peer: node, reason: "excluded: attested a losing output")))
        for id in activeJobIDs() { evaluate(id, now: now, fx: &fx) }
    }

    // MARK: Bookkeeping

    private func activeJobIDs() -> [Hash] {
        jobs.compactMap { id, t -> Hash? in
            if case let .verified(r) = t.state, r.disputed { return nil }
            if case .failed = t.state { return nil }
            return id
        }.sorted()
    }

    private mutating func evictOneFinished() -> Bool {
        let victim = jobs.filter { $0.value.state.isFinal }.min { ($0.value.job.expiresAt, $0.key) < ($1.value.job.expiresAt, $1.key) }
        guard let (id, t) = victim else { return false }
        if t.mine?.running == true { runningCount -= 1 }
        jobs[id] = nil
        return true
    }

    private func trace(_ kind: TraceEvent.Kind, now: Instant, job: Hash, peer: NodeID? = nil, reason: String? = nil) -> TraceEvent {
        TraceEvent(time: now, node: me, kind: kind, recordKind: "job", recordID: job, peer: peer, reason: reason)
    }
}
