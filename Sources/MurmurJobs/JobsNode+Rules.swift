import MurmurCore
import MurmurCrypto
import MurmurWire

/// The executor-set, counting and deciding rules of Specs/jobs.md.
extension JobsNode {
    // MARK: The rules

    /// The nodes ranked for a job: holders of its model, plus the authors of its claims and
    /// attestations (a signed claim or attestation shows the author runs the model, even before
    /// its announcement arrives), minus proven liars.
    func rankedNodes(_ t: JobTrack) -> Set<NodeID> {
        let holders = directory.holders(of: t.job.body.modelHash)
        return holders.union(outsiders(t, holders: holders)).subtracting(excluded)
    }

    private func outsiders(_ t: JobTrack, holders: Set<NodeID>) -> Set<NodeID> {
        var out = Set<NodeID>()
        for n in t.claims.keys where !holders.contains(n) { out.insert(n) }
        for n in t.attestations.keys where !holders.contains(n) { out.insert(n) }
        return out
    }

    /// Recomputes the kept prefix of the ranking when the holders, exclusions or outside
    /// participants changed. Keeps the first `rankingLimit` (default 4(r + e) + 32) only.
    func refreshRanking(_ t: inout JobTrack) {
        if t.rankingLimit == 0 { t.rankingLimit = 4 * (t.r + config.disputeSize(r: t.r)) + 32 }
        let holders = directory.holders(of: t.job.body.modelHash)
        let outside = outsiders(t, holders: holders)
        let stamp = JobTrack.RankingStamp(holders: directory.holdersVersion, excluded: excluded.count,
                                          participants: outside.count, limit: t.rankingLimit)
        if t.rankingStamp == stamp { return }
        let nodes = holders.union(outside).subtracting(excluded)
        let id = t.id, limit = t.rankingLimit
        let compute = { () -> [NodeID] in
            var keyed: [(Hash, NodeID)] = []
            keyed.reserveCapacity(nodes.count)
            for n in nodes { keyed.append((Ranking.key(job: id, node: n), n)) }
            keyed.sort { a, b in a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }
            return keyed.prefix(limit).map(\.1)
        }
        t.ranking = config.rankingCache?.ranking(job: id, nodes: nodes, limit: limit, compute: compute) ?? compute()
        t.rankingTotal = nodes.count
        t.rankingStamp = stamp
    }

    /// Keeps twice as much of the ranking (a walk reached the end of the kept prefix).
    func extendRanking(_ t: inout JobTrack) {
        t.rankingLimit *= 2
        refreshRanking(&t)
    }

    struct ExecutorSet {
        var members: [NodeID] = []
        /// Rank positions of members.
        var positions: [Int] = []
        /// Attestations by holders ranked below this position do not count.
        var windowEnd = 0
        /// Nodes that could be in the set (before the cut at r).
        var candidates = 0
        /// The kept ranking prefix was too short to decide this set exactly.
        var truncated = false
        /// Dispute round: the members' counting attestations, in rank order.
        var counted: [Signed<Attestation>] = []
        /// Dispute round: the walk ran out of candidates before it could decide (wrap-around).
        var short = false
        /// Dispute round: the output that leads every other by the margin, with every member attested.
        var decided: Hash?
    }

    /// The executor set of `stage` in this node's view (Specs/jobs.md, "Executor set"): the
    /// first r nodes in rank order that are not passed over and are participants (they claimed
    /// or attested; lease not lapsed, not released) or eligible (live, free slot). A participant
    /// does not jump ahead of a higher-ranked eligible node: a node far down cannot place itself
    /// in the set by claiming. The dispute round is `disputeSet`.
    func executorSet(_ t: JobTrack, stage: UInt8, nowMs: Int64) -> ExecutorSet {
        if stage == 1 { return disputeSet(t, nowMs: nowMs) }
        let need = t.r
        var set = ExecutorSet()
        for (i, n) in t.ranking.enumerated() {
            if set.members.count >= need { break }
            if !t.participated(n, stage: stage) && t.attestations[n] == nil
                && (!directory.isLive(n, nowMs: nowMs) || directory.freeSlots(n) == 0) { continue }
            if t.skipped(n, stage: stage, nowMs: nowMs, me: me, config: config) { continue }
            set.members.append(n)
            set.positions.append(i)
        }
        let window = (set.positions.max() ?? -1) + 1 + config.windowFactor * t.r
        set.windowEnd = min(t.ranking.count, window)
        set.candidates = set.members.count
        set.truncated = t.ranking.count < t.rankingTotal && (set.members.count < need || window > t.ranking.count)
        return set
    }

    /// The dispute round's set (Specs/jobs.md, "Deciding"): the fresh nodes (not first-round
    /// participants) that are not passed over, participants or eligible, **in rank order**
    /// (a participant never jumps ahead), walked until the members still to attest could just
    /// give the leading output its margin m over every other (lazy: unanimous deciders settle
    /// a dispute with m executions), at most `disputeCap`. The output leading by m once every
    /// member attested wins: it is the first prefix of the rank-ordered fresh attestations at
    /// which one output leads by m, so it does not depend on the order attestations arrive in.
    /// Only members' attestations count.
    func disputeSet(_ t: JobTrack, nowMs: Int64) -> ExecutorSet {
        let m = config.disputeMargin(r: t.r), cap = config.disputeCap(r: t.r)
        var set = ExecutorSet()
        var tally: [Hash: Int] = [:]
        var pending = 0
        var stopped = false
        func lead() -> (Hash?, Int) {
            var best: (Hash, Int)?, second = 0
            for (h, c) in tally {
                if let b = best, (c, h) <= (b.1, b.0) { second = max(second, c); continue }
                if let b = best { second = max(second, b.1) }
                best = (h, c)
            }
            return (best?.0, (best?.1 ?? 0) - second)
        }
        for (i, n) in t.ranking.enumerated() {
            if t.participated(n, stage: 0) { continue }
            let participates = t.participated(n, stage: 1)
            if !participates && (!directory.isLive(n, nowMs: nowMs) || directory.freeSlots(n) == 0) { continue }
            if t.skipped(n, stage: 1, nowMs: nowMs, me: me, config: config) { continue }
            set.candidates += 1
            if set.members.count >= cap || pending >= m - lead().1 { stopped = true; break }
            set.members.append(n)
            set.positions.append(i)
            if let a = t.attestations[n], a.body.stage == 1, a.issuedAt <= t.deadline {
                tally[a.body.outputHash, default: 0] += 1
                set.counted.append(a)
            } else {
                pending += 1
            }
        }
        let (leader, margin) = lead()
        let complete = stopped || set.members.count >= cap || pending >= m - margin
        set.truncated = !complete && t.ranking.count < t.rankingTotal
        set.short = !complete && !set.truncated
        if pending == 0 && margin >= m { set.decided = leader }
        set.windowEnd = min(t.ranking.count, (set.positions.max() ?? -1) + 1)
        return set
    }

    /// Wrap-around: when fewer than `floor` nodes are in the set, nodes passed over for not
    /// claiming (busy, or slow to hear of the job) get a fresh claim grace. Returns true if any did.
    func rewind(_ t: inout JobTrack, stage: UInt8, floor: Int, set: ExecutorSet, nowMs: Int64) -> Bool {
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
    /// dispute round, not by first-round participants). `members`' attestations count in the
    /// first round whatever their stage (Specs/jobs.md, "Views differ": a member of this view's
    /// top r that is a fresh decider in a view that still ranks an excluded liar).
    func countable(_ t: JobTrack, stage: UInt8, window: Int, members: [NodeID] = []) -> [Signed<Attestation>] {
        var out: [Signed<Attestation>] = []
        for n in t.ranking.prefix(window) {
            // Only attestations signed by the deadline count, so a late evaluation agrees with
            // one made at the deadline.
            guard let a = t.attestations[n], a.body.stage == stage || (stage == 0 && members.contains(n)),
                  a.issuedAt <= t.deadline else { continue }
            if stage == 1 && t.participated(n, stage: 0) { continue }
            out.append(a)
        }
        return out
    }

    /// `executorSet`, extending the kept ranking prefix until the answer is exact.
    func exactExecutorSet(_ t: inout JobTrack, stage: UInt8, nowMs: Int64) -> ExecutorSet {
        var set = executorSet(t, stage: stage, nowMs: nowMs)
        while set.truncated {
            extendRanking(&t)
            set = executorSet(t, stage: stage, nowMs: nowMs)
        }
        return set
    }

    mutating func evaluate(_ id: Hash, now: Instant, fx: inout [JobsEffect]) {
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
        var first = exactExecutorSet(&t, stage: 0, nowMs: ms)
        if t.stage == 0 && rewind(&t, stage: 0, floor: t.q, set: first, nowMs: ms) { first = exactExecutorSet(&t, stage: 0, nowMs: ms) }
        t.shortOfExecutors = t.stage == 0 && first.members.count < t.q
        noteAssigned(&t, first, stage: 0, now: now, fx: &fx)
        var round1 = countable(t, stage: 0, window: first.windowEnd, members: t.stage == 0 ? first.members : [])
        let outputs = Set(round1.map(\.body.outputHash))
        if t.stage == 0 && outputs.count > 1 {
            fx.append(.trace(trace(.jobDisputed, now: now, job: id, reason: "\(outputs.count) different outputs among \(round1.count) attestations")))
            // In the dispute round a dispute-round attestation is a decider's, never a first-round one.
            round1 = countable(t, stage: 0, window: first.windowEnd)
            t.stage = 1
            t.state = .disputed
            // The dispute round gets fresh claim graces (first-round participants are not in it).
            t.enteredAt = t.enteredAt.filter { t.participated($0.key, stage: 0) }
        }
        if t.stage == 0 {
            if case .verified = t.state { return }
            let attested = Set(round1.map(\.author))
            if let out = outputs.first, !first.members.isEmpty, round1.count >= t.q, first.members.allSatisfy(attested.contains) {
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

        // Round 2 (dispute): fresh nodes further down the rank, started lazily; a lead of m decides.
        var second = exactExecutorSet(&t, stage: 1, nowMs: ms)
        if second.short && rewind(&t, stage: 1, floor: .max, set: second, nowMs: ms) { second = exactExecutorSet(&t, stage: 1, nowMs: ms) }
        t.shortOfExecutors = second.short
        noteAssigned(&t, second, stage: 1, now: now, fx: &fx)
        if let out = second.decided {
            decide(&t, output: out, deciders: second.counted.filter { $0.body.outputHash == out }, round1: round1, now: now, fx: &fx)
            return
        }
        if ms >= t.deadline {
            var tally: [Hash: Int] = [:]
            for a in second.counted { tally[a.body.outputHash, default: 0] += 1 }
            let counts = tally.values.sorted(by: >)
            fail(&t, .disputeUnresolved(best: counts.first ?? 0, needed: (counts.dropFirst().first ?? 0) + config.disputeMargin(r: t.r)), now: now, fx: &fx)
            return
        }
        t.state = .disputed
        if let i = second.members.firstIndex(of: me) { start(&t, stage: 1, rank: second.positions[i], now: now, fx: &fx) }
        renew(&t, now: now, fx: &fx)
    }

    func noteAssigned(_ t: inout JobTrack, _ set: ExecutorSet, stage: UInt8, now: Instant, fx: inout [JobsEffect]) {
        for (n, pos) in zip(set.members, set.positions) where t.enteredAt[n] == nil {
            t.enteredAt[n] = t.catchUp ? min(now.unixMs, t.job.issuedAt) : now.unixMs
            if t.assigned.insert(n).inserted {
                fx.append(.trace(trace(.jobAssign, now: now, job: t.id, peer: n, reason: "round \(stage + 1) rank \(pos)")))
            }
        }
    }

    /// The dispute is decided: record the result, exclude everyone who attested otherwise, and
    /// publish the fault proof if this node is the first agreeing decider in its ranking.
    mutating func decide(_ t: inout JobTrack, output: Hash, deciders: [Signed<Attestation>], round1: [Signed<Attestation>],
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

    mutating func fail(_ t: inout JobTrack, _ why: JobFailure, now: Instant, fx: inout [JobsEffect]) {
        t.state = .failed(why)
        fx.append(.trace(trace(.jobFailed, now: now, job: t.id, reason: why.description)))
        stopMine(&t, fx: &fx)
    }

}
