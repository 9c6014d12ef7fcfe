import MurmurCore
import MurmurCrypto
import MurmurJobs
import MurmurWire

/// The simulator's shell for the jobs state machines: what `MurmurNode` does for a real node
/// (deliver records, keep one timer per job, run inference, publish what the machine signed),
/// on simulated time and with the stand-in inference of `JobWorld`.
extension Simulator {
    /// State-machine time: wall clock (ns since the Unix epoch), as records carry Unix ms.
    var jobsNow: Instant { Instant(nanoseconds: unixMsAtZero &* 1_000_000 &+ now) }
    var unixNowMs: Int64 { unixMsAtZero + now / 1_000_000 }

    func startJobsNode(_ i: Int) {
        guard let world = jobWorld, let keys else { return }
        world.machines[i] = JobsNode(key: keys[i], config: world.jobsConfig, excluded: world.persistedExclusions[i])
        world.timers[i] = [:]
        world.running[i] = [:]
    }

    func crashJobsNode(_ i: Int) {
        guard let world = jobWorld else { return }
        world.machines[i] = nil
        world.timers[i] = [:]
        world.running[i] = [:]
        for k in world.entry.indices where Int(world.entry[k]) == i && world.entryFinal[k] == nil {
            world.entryCrashed[k] = true
        }
    }

    func jobsDispatch(_ i: Int, _ event: JobsEvent) {
        guard let world = jobWorld, let effects = world.machines[i]?.handle(event, now: jobsNow) else { return }
        for e in effects { applyJobs(e, from: i, world) }
    }

    private func applyJobs(_ effect: JobsEffect, from i: Int, _ world: JobWorld) {
        switch effect {
        case let .runInference(job, stage):
            if let k32 = world.jobIndex[job.id] {
                let k = Int(k32)
                world.executions[k] += 1
                if stage == 0 { world.firstRoundExecutions[k] += 1 } else { world.disputeExecutions[k] += 1 }
                world.executorsOf[k].append(Int32(i))
                if !world.liar[i] {
                    world.honestExecutions[k] += 1
                } else {
                    world.liarExecutions += 1
                    if world.machines[Int(world.entry[k])]?.excluded.contains(ids[i]) == true { world.excludedLiarExecutions += 1 }
                }
            }
            world.running[i][job.id] = 0
            queue.push(.inferenceDone(Int32(i), incarnation[i], job.id), at: now + world.inferenceNanos(job: job.id, node: ids[i]))
        case let .cancelInference(id):
            world.running[i][id] = nil
        case let .publish(record):
            if world.decoded[record.id] == nil, let r = try? Record(record) { world.decoded[record.id] = r }
            queue.push(.publishLocal(Int32(i), incarnation[i], record), at: now)
        case let .setTimer(id, at):
            let t = max(at.nanoseconds - unixMsAtZero &* 1_000_000, now)
            world.timers[i][id] = t
            if t <= endTime { queue.push(.jobTimer(Int32(i), incarnation[i], id, t), at: t) }
        case let .stateChanged(id, state):
            observe(state, job: id, node: i, world)
        case let .excluded(node, _):
            world.persistedExclusions[i].insert(node)
        case let .trace(event):
            writeTrace(event)
        }
    }

    private func observe(_ state: JobState, job id: Hash, node i: Int, _ world: JobWorld) {
        guard let k32 = world.jobIndex[id] else { return }
        let k = Int(k32)
        switch state {
        case .disputed:
            // An excluded liar still sees its own attestation and disputes in its own view.
            if !world.liar[i] {
                world.disputed[k] = true
                if world.disputedAt[k] < 0 { world.disputedAt[k] = now }
            }
        case let .verified(result):
            if result.outputHash != world.correct[k] { world.wrongAccepted[k] = true }
            if world.anyVerifiedAt[k] < 0 { world.anyVerifiedAt[k] = now }
            if Int(world.entry[k]) == i && world.entryFinal[k] == nil { world.entryFinal[k] = (now, true) }
        case let .failed(why):
            if Int(world.entry[k]) == i && world.entryFinal[k] == nil {
                world.entryFinal[k] = (now, false)
                world.failureReasons[failureName(why), default: 0] += 1
                world.failureOf[k] = why
            }
        case .pending, .running:
            break
        }
    }

    func jobTimerFired(_ i: Int, job id: Hash, at: Int64) {
        guard let world = jobWorld, world.timers[i][id] == at else { return }
        world.timers[i][id] = nil
        jobsDispatch(i, .timer(jobID: id))
    }

    func inferenceDone(_ i: Int, job id: Hash) {
        guard let world = jobWorld, world.running[i].removeValue(forKey: id) != nil,
              let k = world.jobIndex[id] else { return }
        let job = world.jobRecords[Int(k)]
        let output = world.output(job: job, node: ids[i], isLiar: world.liar[i])
        let elapsed = TimeSpan(nanoseconds: world.inferenceNanos(job: id, node: ids[i]))
        jobsDispatch(i, .inferenceFinished(jobID: id, output: output, elapsed: elapsed))
    }

    /// A gossip delivery: the record as a value (signatures are the shell's job, skipped here).
    func deliverToJobs(_ i: Int, _ envelope: SignedRecord) {
        guard let world = jobWorld else { return }
        let record: Record
        if let r = world.decoded[envelope.id] {
            record = r
        } else {
            guard let r = try? Record(envelope) else { return }
            world.decoded[envelope.id] = r
            record = r
        }
        jobsDispatch(i, .record(record))
    }

    /// A real signed `NodeAnnouncement` (the model, free slots), gossiped and given to the
    /// node's own jobs machine (a node is an executor only through its own announcement).
    func announceForJobs(_ i: Int) {
        guard let world = jobWorld, let keys else { return }
        world.announceSequence[i] &+= 1
        let slots = UInt16(clamping: world.config.slots)
        let body = NodeAnnouncement(sequence: world.announceSequence[i], addresses: [addresses[i]], models: [world.model],
                                    freeSlots: slots, totalSlots: slots, engineVersion: "sim")
        guard let signed = try? body.signed(by: keys[i], issuedAt: unixNowMs, expiresAt: unixNowMs + 1_800_000) else { return }
        world.decoded[signed.id] = .nodeAnnouncement(signed)
        queue.push(.publishLocal(Int32(i), incarnation[i], signed.envelope), at: now)
        jobsDispatch(i, .record(.nodeAnnouncement(signed)))
    }

    /// A client hands job k to a random live honest node (the entry: its own node, say), which
    /// signs and gossips it. The outcome is read in the entry's view, so the entry is not a liar:
    /// a liar's own view keeps its wrong attestation (it never excludes itself) and disputes
    /// alone what every honest node verified.
    func submitJob(_ k: Int) {
        guard let world = jobWorld, let keys else { return }
        var entry = -1
        for _ in 0..<64 {
            let j = Int(world.rng.next() % UInt64(n))
            if alive[j] && !world.liar[j] { entry = j; break }
        }
        if entry < 0 { entry = alive.firstIndex(of: true) ?? 0 }
        var input = ByteWriter(capacity: 16)
        input.u64(config.seed); input.u64(UInt64(k))
        var nonce = ByteWriter(capacity: 16)
        nonce.u64(world.rng.next()); nonce.u64(world.rng.next())
        let c = world.config
        let nowMs = unixNowMs
        let deadline = nowMs + c.deadline.nanoseconds / 1_000_000
        let body = Job(modelHash: world.model, input: input.bytes, redundancy: UInt8(clamping: c.redundancy),
                       quorum: UInt8(clamping: c.quorum), deadline: deadline, nonce: nonce.bytes)
        guard let job = try? body.signed(by: keys[entry], issuedAt: nowMs, expiresAt: deadline + Limits.jobRecordGraceMs) else { return }
        world.jobIndex[job.id] = Int32(world.jobIDs.count)
        world.jobIDs.append(job.id)
        world.jobRecords.append(job)
        world.submittedAt.append(now)
        world.deadlineAt.append(now + c.deadline.nanoseconds)
        world.entry.append(Int32(entry))
        world.correct.append(Hash.of(world.output(job: job, node: ids[entry], isLiar: false)))
        world.executions.append(0)
        world.honestExecutions.append(0)
        world.firstRoundExecutions.append(0)
        world.disputeExecutions.append(0)
        world.executorsOf.append([])
        world.failureOf.append(nil)
        world.disputed.append(false)
        world.disputedAt.append(-1)
        world.wrongAccepted.append(false)
        world.entryFinal.append(nil)
        world.entryCrashed.append(false)
        world.anyVerifiedAt.append(-1)
        // Whether liars hold all r top places of the full ranking (what colluders need to win outright).
        var top: [(Hash, Int)] = []
        for j in 0..<n {
            let key = Ranking.key(job: job.id, node: ids[j])
            if top.count < c.redundancy || key < top[top.count - 1].0 {
                if top.count == c.redundancy { top.removeLast() }
                let at = top.firstIndex { key < $0.0 } ?? top.count
                top.insert((key, j), at: at)
            }
        }
        world.topRAllLiars.append(!top.isEmpty && top.allSatisfy { world.liar[$0.1] })
        world.decoded[job.id] = .job(job)
        queue.push(.publishLocal(Int32(entry), incarnation[entry], job.envelope), at: now)
        jobsDispatch(entry, .record(.job(job)))
    }
}

extension Simulator {
    /// "jobs: S submitted, V verified, F failed at their entry node" for progress lines (nil without jobs).
    public var jobsProgress: String? {
        guard let w = jobWorld else { return nil }
        var verified = 0, failed = 0
        for f in w.entryFinal { if let f { if f.verified { verified += 1 } else { failed += 1 } } }
        return "jobs: \(w.jobIDs.count) / \(w.config.jobs) submitted, \(verified) verified, \(failed) failed"
    }
}

func failureName(_ f: JobFailure) -> String {
    switch f {
    case .noExecutors: return "no_executors"
    case .notEnoughAttestations: return "not_enough_attestations"
    case .disputeUnresolved: return "dispute_unresolved"
    case .seenAfterDeadline: return "seen_after_deadline"
    }
}
