import MurmurCore
import MurmurCrypto
import MurmurJobs
import MurmurWire

/// The job side of a simulation: one `JobsNode` per node, the stand-in inference, per-node job
/// timers, and what is measured per job. Owned by the `Simulator`, which routes gossip
/// deliveries here and turns `JobsEffect`s into scheduled actions and gossip publishes.
final class JobWorld {
    let config: JobWorkloadConfig
    let jobsConfig: JobsConfig
    /// The one model every node holds and announces.
    let model: Hash
    let liar: [Bool]
    var machines: [JobsNode?]
    /// Exclusions a node persisted (passed back to a restarted node, as the shell would).
    var persistedExclusions: [Set<NodeID>]
    /// Per node: the one pending timer per job (sim ns); an action whose time differs is stale.
    var timers: [[Hash: Int64]]
    /// Per node: inferences running (job id → stage); a cancelled one is simply removed.
    var running: [[Hash: UInt8]]
    var announceSequence: [UInt64]
    /// Every record made in this run, decoded once (records are handed over as values).
    var decoded: [Hash: Record] = [:]
    /// Entry nodes and nonces.
    var rng: SeededRNG
    /// The job records, by submission order.
    var jobRecords: [Signed<Job>] = []

    // Per job (index = submission order).
    var jobIDs: [Hash] = []
    var jobIndex: [Hash: Int32] = [:]
    var submittedAt: [Int64] = []
    var deadlineAt: [Int64] = []
    var entry: [Int32] = []
    var correct: [Hash] = []
    var executions: [Int] = []
    /// Inferences started by honest nodes (a liar excluded by everyone still runs the jobs its
    /// own view gives it: its own waste, not the mesh's).
    var honestExecutions: [Int] = []
    /// Inferences started per job in the first round / the dispute round.
    var firstRoundExecutions: [Int] = []
    var disputeExecutions: [Int] = []
    /// Nodes that started an inference of the job (in order; repeats when a node ran it again
    /// after a restart) and the entry node's failure, for the failed-job lines of the report.
    var executorsOf: [[Int32]] = []
    var failureOf: [JobFailure?] = []
    /// Inferences started by liars, and by liars the job's entry node had already excluded
    /// (work nobody counts: the liar does not know yet that it was caught).
    var liarExecutions = 0, excludedLiarExecutions = 0
    var disputed: [Bool] = []
    /// First time (sim ns) an honest node saw the job disputed, -1 if never.
    var disputedAt: [Int64] = []
    var wrongAccepted: [Bool] = []
    /// Liars hold all r top places of the job's ranking over every node.
    var topRAllLiars: [Bool] = []
    /// Outcome in the entry node's view: first final state (time, verified?).
    var entryFinal: [(at: Int64, verified: Bool)?] = []
    var entryCrashed: [Bool] = []
    /// Why jobs failed at their entry node (`JobFailure` case names).
    var failureReasons: [String: Int] = [:]
    /// Earliest verified and failed state in any node's view (used when the entry node crashed first).
    var anyVerifiedAt: [Int64] = []

    init(config: JobWorkloadConfig, nodes n: Int, seed: UInt64, rng: inout SeededRNG) {
        self.config = config
        var jc = JobsConfig(maxConcurrentExecutions: config.slots, disputeFactor: config.disputeFactor,
                            rankingCache: RankingCache())
        jc.engineVersion = "sim"
        jc.disputeMarginOverR = config.disputeMarginOverR
        jobsConfig = jc
        var w = ByteWriter(capacity: 16)
        w.raw(Array("sim-model".utf8)); w.u64(seed)
        model = Hash.of(w.bytes)
        // Liars: a seeded random subset.
        var perm = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { perm.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var l = [Bool](repeating: false, count: n)
        for k in 0..<Int((config.liarFraction * Double(n)).rounded()) { l[perm[k]] = true }
        liar = l
        self.rng = rng.fork()
        machines = Array(repeating: nil, count: n)
        persistedExclusions = Array(repeating: [], count: n)
        timers = Array(repeating: [:], count: n)
        running = Array(repeating: [:], count: n)
        announceSequence = Array(repeating: 0, count: n)
    }

    /// The stand-in inference: output = BLAKE2b(model ‖ input) for an honest node; a liar returns
    /// a hash that also covers its own id (independent) or a fixed tag (colluding: all agree).
    func output(job: Signed<Job>, node: NodeID, isLiar: Bool) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.hash(job.body.modelHash)
        w.raw(job.body.inlineInput ?? job.body.inputHash.bytes)
        if isLiar {
            if config.collude { w.raw(Array("colluding liars".utf8)) } else { w.nodeID(node) }
        }
        return Hash.of(w.bytes).bytes
    }

    /// Simulated inference time of `node` for a job (ns), fixed by the pair.
    func inferenceNanos(job: Hash, node: NodeID) -> Int64 {
        let u = Double(Ranking.key(job: job, node: node).value.w3 >> 11) * 0x1.0p-53
        return Int64((config.inferenceMinMs + u * (config.inferenceMaxMs - config.inferenceMinMs)) * 1e6)
    }
}
