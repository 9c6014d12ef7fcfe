import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurJobs

/// A tiny deterministic driver for several `JobsNode`s: zero-latency gossip to every live node,
/// timers, and a stand-in inference that takes `inferenceTime` and returns a deterministic
/// output (or a wrong one for liars). Views can be restricted per node (`knows`).
final class Cluster {
    static let t0: Int64 = 1_780_000_000_000
    let model = Hash.of(Array("model".utf8))
    var keys: [SigningKey]
    var nodes: [JobsNode]
    var now = Instant(unixMs: Cluster.t0)
    var alive: [Bool]
    /// Node index → the output it returns (liars); others return `honest(job)`.
    var lies: [Int: [UInt8]] = [:]
    /// Whether node i receives node j's announcement.
    var knows: (Int, Int) -> Bool = { _, _ in true }
    var inferenceTime = TimeSpan.milliseconds(500)
    var timers: [[Hash: Instant]]
    var inflight: [(node: Int, job: Signed<Job>, stage: UInt8, done: Instant)] = []
    var executions: [(node: Int, job: Hash, stage: UInt8)] = []
    var published: [SignedRecord] = []
    var states: [[Hash: JobState]]
    var exclusions: [[NodeID]]
    private var queue: [(from: Int, record: SignedRecord)] = []
    /// Per-message delay (nil: lost). When unset, gossip is instant and lossless.
    var latency: ((Int, Int) -> TimeSpan?)?
    private var wire: [(due: Instant, seq: Int, to: Int, record: SignedRecord)] = []
    private var seq = 0
    let client = SigningKey(seed: [UInt8](repeating: 0xC1, count: 32))

    init(count: Int, config: JobsConfig = JobsConfig(), seed: UInt8 = 1) {
        keys = (0..<count).map { i in SigningKey(seed: [seed, UInt8(i & 0xff), UInt8(i >> 8)] + [UInt8](repeating: 0, count: 29)) }
        nodes = keys.map { JobsNode(key: $0, config: config) }
        alive = Array(repeating: true, count: count)
        timers = Array(repeating: [:], count: count)
        states = Array(repeating: [:], count: count)
        exclusions = Array(repeating: [], count: count)
    }

    func index(of id: NodeID) -> Int { keys.firstIndex { $0.publicKey == id } ?? -1 }
    func ids(_ idx: [Int]) -> [NodeID] { idx.map { keys[$0].publicKey } }

    func honest(_ job: Signed<Job>) -> [UInt8] { Hash.of(parts: [job.body.inputHash.bytes, job.body.modelHash.bytes]).bytes }

    /// Every node announces the model to every node that `knows` it.
    func announceAll(slots: UInt16 = 2, holders: [Int]? = nil) throws {
        for j in holders ?? Array(keys.indices) {
            let a = try NodeAnnouncement(sequence: 1, addresses: ["10.0.0.\(j):7400"], models: [model], freeSlots: slots, totalSlots: slots,
                                         engineVersion: "test").signed(by: keys[j], issuedAt: now.unixMs, expiresAt: now.unixMs + 3_600_000)
            for i in keys.indices where i == j || knows(i, j) { deliver(a.envelope, to: i) }
        }
        drain()
    }

    @discardableResult
    func submit(r: UInt8 = 3, q: UInt8 = 2, deadline: TimeSpan = .seconds(Int64(60)), nonce: UInt8 = 0) throws -> Signed<Job> {
        let job = try Job(modelHash: model, input: [1, 2, 3, nonce], redundancy: r, quorum: q, deadline: now.unixMs + deadline.nanoseconds / 1_000_000,
                          nonce: [UInt8](repeating: nonce, count: 16))
            .signed(by: client, issuedAt: now.unixMs, expiresAt: now.unixMs + deadline.nanoseconds / 1_000_000 + 60_000)
        queue.append((from: -1, record: job.envelope))
        drain()
        return job
    }

    /// Gossip: every record reaches every live node (validated like the node would).
    func drain() {
        while !queue.isEmpty {
            let (from, record) = queue.removeFirst()
            for i in keys.indices where i != from {
                if let latency, from >= 0 {
                    guard let d = latency(from, i) else { continue }
                    seq += 1
                    // Kept sorted latest-first, so the next message is `wire.last`.
                    let due = now + d
                    var lo = 0, hi = wire.count
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        if (wire[mid].due, wire[mid].seq) > (due, seq) { lo = mid + 1 } else { hi = mid }
                    }
                    wire.insert((due, seq, i, record), at: lo)
                } else {
                    deliver(record, to: i)
                }
            }
        }
    }

    func deliver(_ record: SignedRecord, to i: Int) {
        guard alive[i] else { return }
        guard let decoded = try? Record(decoding: record.encoded, nowUnixMs: now.unixMs) else { return }
        apply(i, nodes[i].handle(.record(decoded), now: now))
    }

    func apply(_ i: Int, _ effects: [JobsEffect]) {
        for e in effects {
            switch e {
            case let .publish(r):
                published.append(r)
                queue.append((from: i, record: r))
            case let .runInference(job, stage):
                executions.append((i, job.id, stage))
                inflight.append((i, job, stage, now + inferenceTime))
            case let .cancelInference(id): inflight.removeAll { $0.node == i && $0.job.id == id }
            case let .setTimer(id, at): timers[i][id] = at
            case let .stateChanged(id, state): states[i][id] = state
            case let .excluded(node, _): exclusions[i].append(node)
            case .trace: break
            }
        }
    }

    /// Crash: the node stops processing anything (its announcement stays until it expires).
    func crash(_ i: Int) {
        alive[i] = false
        inflight.removeAll { $0.node == i }
        timers[i] = [:]
    }

    /// Runs timers and inference completions in time order up to `end`.
    func run(until end: Instant) {
        while true {
            drain()
            var best: (Instant, Int, Hash?, Int?)? // time, node, timer job, inflight index
            for i in keys.indices where alive[i] {
                for (id, at) in timers[i] where at <= end {
                    if best == nil || (at, i, id) < (best!.0, best!.1, best!.2 ?? .zero) { best = (at, i, id, nil) }
                }
            }
            for (k, f) in inflight.enumerated() where f.done <= end {
                if best == nil || f.done < best!.0 || (f.done == best!.0 && best!.3 == nil) { best = (f.done, f.node, nil, k) }
            }
            if let next = wire.last, next.due <= end, best == nil || next.due <= best!.0 {
                let msg = wire.removeLast()
                if msg.due > now { now = msg.due }
                deliver(msg.record, to: msg.to)
                continue
            }
            guard let (at, i, timerJob, flight) = best else { break }
            if at > now { now = at }
            if let k = flight {
                let f = inflight.remove(at: k)
                let output = lies[i] ?? honest(f.job)
                apply(i, nodes[i].handle(.inferenceFinished(jobID: f.job.id, output: output, elapsed: inferenceTime), now: now))
            } else if let id = timerJob {
                timers[i][id] = nil
                apply(i, nodes[i].handle(.timer(jobID: id), now: now))
            }
        }
        if end > now { now = end }
    }

    func run(for span: TimeSpan) { run(until: now + span) }

    func executors(of job: Hash) -> [Int] { executions.filter { $0.job == job }.map(\.node).sorted() }

    /// Rank order of node indices for `job` over the given holders.
    func rankOrder(_ job: Hash, among: [Int]? = nil) -> [Int] {
        Ranking.order(ids(among ?? Array(keys.indices)), job: job).map { index(of: $0) }
    }
}
