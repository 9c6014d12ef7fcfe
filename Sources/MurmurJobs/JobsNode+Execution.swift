import MurmurCore
import MurmurCrypto
import MurmurWire

/// This node as an executor (claims, leases, attestations) and its timers.
extension JobsNode {
    // MARK: Executing

    mutating func start(_ t: inout JobTrack, stage: UInt8, rank: Int, now: Instant, fx: inout [JobsEffect]) {
        // A node runs a job at most once; one restarted after attesting (its attestation came
        // back from its store) does not run it again.
        if t.mine != nil || t.attestations[me] != nil { return }
        let ms = now.unixMs
        if runningCount >= config.maxConcurrentExecutions {
            // No claim: others pass this node over after the claim grace; it retries when a slot frees.
            if waitingForSlot.insert(t.id).inserted {
                fx.append(.trace(trace(.drop, now: now, job: t.id, reason: "no free execution slot: waiting")))
            }
            return
        }
        waitingForSlot.remove(t.id)
        let lease = min(ms + config.leaseDuration.nanoseconds / 1_000_000, claimExpiry(t, nowMs: ms))
        if provenWrong {
            // Every honest node excludes this one: its work would never count.
            t.mine = JobTrack.MyRun(stage: stage, rank: rank, lastClaimAt: ms, leaseExpiry: ms, running: false, gaveUp: true)
            return
        }
        let delay = config.claimDelay.nanoseconds / 1_000_000
        t.mine = JobTrack.MyRun(stage: stage, rank: rank, lastClaimAt: ms, leaseExpiry: lease, running: true, gaveUp: false,
                                claimHeld: delay > 0, claimDueAt: ms + delay)
        runningCount += 1
        publishClaim(&t, leaseExpiry: lease, now: now, fx: &fx)
        fx.append(.runInference(job: t.job, stage: stage))
        fx.append(.trace(trace(.jobExecute, now: now, job: t.id, reason: "round \(stage + 1) rank \(rank)")))
    }

    /// Claims live until the job record's grace after the deadline, within the kind's maximum
    /// lifetime counted from now (this node's clock may be behind the client's).
    func claimExpiry(_ t: JobTrack, nowMs: Int64) -> Int64 {
        min(t.deadline + Limits.jobRecordGraceMs, nowMs + RecordKind.claim.maxLifetimeMs)
    }

    func publishClaim(_ t: inout JobTrack, leaseExpiry: Int64, now: Instant, fx: inout [JobsEffect]) {
        guard let mine = t.mine else { return }
        let ms = now.unixMs
        let body = Claim(jobID: t.id, leaseExpiry: leaseExpiry, stage: mine.stage, rank: UInt16(clamping: mine.rank))
        let expires = claimExpiry(t, nowMs: ms)
        do {
            if let old = t.claims[me], old.issuedAt >= ms { return }
            if mine.claimHeld && leaseExpiry != ms {
                // A held first claim is applied locally only, and not signed yet: it is signed
                // (the same bytes, Ed25519 being deterministic) only if it goes out (`renew`).
                // A release is always sent.
                try body.check(issuedAt: ms, expiresAt: expires)
                t.claims[me] = JobTrack.ClaimEntry(held: body, issuedAt: ms, expiresAt: expires)
                t.mine?.lastClaimAt = ms
                t.mine?.leaseExpiry = leaseExpiry
                return
            }
            let c = try body.signed(by: key, issuedAt: ms, expiresAt: expires)
            t.claims[me] = JobTrack.ClaimEntry(c)
            t.mine?.lastClaimAt = ms
            t.mine?.leaseExpiry = leaseExpiry
            t.mine?.claimHeld = false
            fx.append(.publish(c.envelope))
            fx.append(.trace(trace(.jobClaim, now: now, job: t.id, reason: leaseExpiry == ms ? "release" : "lease until \(leaseExpiry)")))
        } catch {
            fx.append(.trace(trace(.drop, now: now, job: t.id, reason: "could not sign claim: \(error)")))
        }
    }

    func renew(_ t: inout JobTrack, now: Instant, fx: inout [JobsEffect]) {
        guard let mine = t.mine, mine.running else { return }
        let ms = now.unixMs
        if mine.claimHeld {
            // Still running after the claim delay: gossip the held claim now.
            guard ms >= mine.claimDueAt, var c = t.claims[me] else { return }
            t.mine?.claimHeld = false
            do {
                let signed = try c.signed ?? c.body.signed(by: key, issuedAt: c.issuedAt, expiresAt: c.expiresAt)
                c.signed = signed
                t.claims[me] = c
                fx.append(.publish(signed.envelope))
                fx.append(.trace(trace(.jobClaim, now: now, job: t.id, reason: "lease until \(c.body.leaseExpiry)")))
            } catch {
                fx.append(.trace(trace(.drop, now: now, job: t.id, reason: "could not sign claim: \(error)")))
            }
            return
        }
        guard ms >= mine.lastClaimAt + config.renewEvery.nanoseconds / 1_000_000 else { return }
        publishClaim(&t, leaseExpiry: min(ms + config.leaseDuration.nanoseconds / 1_000_000, claimExpiry(t, nowMs: ms)), now: now, fx: &fx)
    }

    /// Cancels this node's run when the job ended without needing it.
    mutating func stopMine(_ t: inout JobTrack, fx: inout [JobsEffect]) {
        guard let mine = t.mine, mine.running else { return }
        t.mine?.running = false
        runningCount -= 1
        fx.append(.cancelInference(jobID: t.id))
    }

    mutating func finished(_ id: Hash, output: [UInt8], elapsed: TimeSpan, now: Instant, fx: inout [JobsEffect]) {
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

    mutating func failedRun(_ id: Hash, reason: String, now: Instant, fx: inout [JobsEffect]) {
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

    mutating func timer(_ id: Hash, now: Instant, fx: inout [JobsEffect]) {
        guard let t = jobs[id] else { return }
        jobs[id]?.timerAt = nil
        if (t.state.isFinal || t.passive) && now.unixMs >= t.job.expiresAt {
            if t.mine?.running == true { runningCount -= 1 }
            jobs[id] = nil
            return
        }
        if t.passive { return }
        evaluate(id, now: now, fx: &fx)
    }

    /// The next moment something can change for the job without a record arriving.
    mutating func scheduleTimer(_ id: Hash, fx: inout [JobsEffect], nowMs: Int64? = nil) {
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
            if let mine = t.mine, mine.running {
                next = min(next, mine.claimHeld ? mine.claimDueAt : mine.lastClaimAt + config.renewEvery.nanoseconds / 1_000_000)
            }
            // Short of executors (all busy or silent): look again every claim grace (wrap-around).
            if t.shortOfExecutors { next = min(next, ms + grace) }
        }
        if t.state.isFinal && next == t.job.expiresAt {
            // Nothing left to evaluate: free the ranking.
            jobs[id]?.ranking = []
            jobs[id]?.rankingStamp = .stale
        }
        if t.timerAt == next { return }
        jobs[id]?.timerAt = next
        fx.append(.setTimer(jobID: id, at: Instant(unixMs: next)))
    }

}
