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

    /// The local check of a verdict against this node's own view (Specs/jobs.md, "Verdicts").
    func implausible(_ v: Signed<Verdict>, _ t: JobTrack) -> String? {
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
