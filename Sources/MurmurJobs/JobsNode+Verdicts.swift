import MurmurCore
import MurmurCrypto
import MurmurWire

/// Fault proofs and local reputation.
extension JobsNode {
    // MARK: Verdicts and reputation

    mutating func receiveVerdict(_ v: Signed<Verdict>, now: Instant, fx: inout [JobsEffect]) {
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

    /// The local check of a verdict against this node's own view (Specs/jobs.md, "Verdicts"):
    /// at least min(m, 16) agreeing deciders, none a first-round participant, and they are the
    /// first fresh nodes in this node's rank order: among the fresh nodes ranked up to the last
    /// of them, at most (deciders + r) are neither deciders nor accused (passed over: crashed,
    /// busy, not eligible). A verdict forged by colluders therefore needs them in the first
    /// places of the fresh rank, as the dispute itself would.
    func implausible(_ v: Signed<Verdict>, _ t: JobTrack) -> String? {
        let first = v.body.evidence.first?.attestation.body
        if first?.modelHash != t.job.body.modelHash || first?.inputHash != t.job.body.inputHash { return "not this job's model or input" }
        let majority = v.body.majority
        let needed = min(config.disputeMargin(r: t.r), Limits.maxVerdictDeciders)
        if majority.count < needed { return "\(majority.count) agreeing deciders, need \(needed)" }
        var firstRound = Set(v.body.evidence.filter { $0.attestation.body.stage == 0 }.map(\.attestation.author))
        for n in Set(t.claims.keys).union(t.attestations.keys) where t.participated(n, stage: 0) { firstRound.insert(n) }
        let deciders = Set(majority), accused = Set(v.body.accused)
        var found = 0, others = 0
        for n in t.ranking where found < deciders.count && !firstRound.contains(n) {
            if deciders.contains(n) { found += 1 } else if !accused.contains(n) { others += 1 }
        }
        for d in majority where firstRound.contains(d) { return "decider \(d.short) took part in round 1" }
        if found < deciders.count { return "a decider is not among the first \(t.ranking.count) in rank" }
        if others > deciders.count + t.r {
            return "\(others) fresh nodes ranked among the \(deciders.count) deciders: they are not the first in rank"
        }
        return nil
    }

    mutating func exclude(_ node: NodeID, evidence: Hash, now: Instant, fx: inout [JobsEffect]) {
        if node == me {
            if !provenWrong {
                provenWrong = true
                fx.append(.trace(TraceEvent(time: now, node: me, kind: .verdict, recordKind: "job", recordID: evidence, peer: me,
                                            reason: "this node was proven wrong: it stops executing jobs")))
            }
            return
        }
        guard excluded.insert(node).inserted else { return }
        fx.append(.excluded(node: node, evidence: evidence))
        fx.append(.trace(TraceEvent(time: now, node: me, kind: .verdict, recordKind: "job", recordID: evidence, peer: node, reason: "excluded: attested a losing output")))
        for id in activeJobIDs() { evaluate(id, now: now, fx: &fx) }
    }

}
