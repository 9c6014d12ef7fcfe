import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurTrace
import MurmurWire

/// Runs N copies of the gossip state machine on simulated time over a simulated network:
/// per-link latency plus jitter, loss, partitions and heals, silent crashes and restarts, nodes
/// joining over time. Everything random comes from the seed, ties in time are broken by
/// scheduling order, and nothing iterates a hashed collection, so a seed replays byte for byte.
///
/// Links are modelled as two half-links with a shared generation number: a message is delivered
/// only if the receiver still holds the half-link of the same generation (so a crashed and
/// restarted node does not receive traffic meant for its previous life), and each half-link is
/// FIFO like TCP. Records are handed over decoded: signature checks are the shell's job.
public final class Simulator {
    public let config: SimConfig
    let n: Int
    var rng: SeededRNG
    let nodeSeeds: [UInt64]
    var nodes: [GossipNode?]
    var alive: [Bool]
    var incarnation: [UInt32]
    var currentStart: [Int64]
    var everStarted: [Bool]
    public let ids: [NodeID]
    let idIndex: [NodeID: Int32]
    let addresses: [String]
    let keys: [SigningKey]?
    var links: [[LinkEnd]]
    var side: [UInt8]
    var partitioned = false
    var nextGeneration: UInt32 = 0
    var queue = EventQueue<Action>(capacity: 1 << 16)
    var effects: [GossipEffect] = []
    var now: Int64 = 0
    let unixMsAtZero: Int64 = 1_700_000_000_000
    var announceSequence: [UInt32]
    var sourceKeys: [Int: SigningKey] = [:]
    var sourceList: [Int] = []

    // Scenario times (ns).
    let broadcastStart: Int64
    let broadcastTimes: [Int64]
    let healTime: Int64?
    public let endTime: Int64
    /// Submission times of the job workload (empty without one).
    let jobTimes: [Int64]
    /// The job workload's state and measurements (nil without `config.jobs`).
    let jobWorld: JobWorld?

    // Measurements.
    var records: [SignedRecord] = []
    var recordIndex: [Hash: Int32] = [:]
    var pubTime: [Int64] = []
    var pubSource: [Int32] = []
    var deliveredAt: [Int64]
    var deliveredHops: [UInt16]
    var deliveredPath: [UInt8]
    var sptLatencyNs: [Int64]
    var sptHops: [UInt16]
    var payloadCopies = 0
    /// Payload copies received per broadcast (for the second-half figures).
    var copiesByBroadcast: [Int] = []
    var controlMessages = 0
    var payloadMessages = 0
    var messagesLost = 0
    var messagesNoLink = 0
    var messagesPartitioned = 0
    public private(set) var eventsProcessed = 0
    var liveNodeNanos: Double = 0

    let trace: TraceSink?
    var traceLine: [UInt8] = []
    /// The gossip trace events of one `dispatch` (reused; behind a pointer: no dynamic
    /// exclusivity check per dispatch, as a class's stored property gets).
    let traces: UnsafeMutablePointer<[GossipTrace]> = {
        let p = UnsafeMutablePointer<[GossipTrace]>.allocate(capacity: 1)
        p.initialize(to: [])
        return p
    }()
    var hexCache: [String]

    /// Called about every million events with (simulated seconds, events so far).
    public var progress: ((Double, Int) -> Void)?

    deinit {
        traces.deinitialize(count: 1)
        traces.deallocate()
    }

    public init(config: SimConfig, trace: TraceSink? = nil) {
        precondition(config.nodes >= 2, "a mesh needs at least two nodes")
        var config = config
        // Jobs need the directory: every node signs and gossips a real NodeAnnouncement.
        if config.jobs != nil { config.announcements = true }
        self.config = config
        self.n = config.nodes
        self.trace = config.trace ? trace : nil
        var master = SeededRNG(seed: config.seed)
        var seeds: [UInt64] = []
        seeds.reserveCapacity(n)
        for _ in 0..<n { seeds.append(master.next()) }
        nodeSeeds = seeds
        rng = master.fork()
        var jobRNG = master.fork()

        // Identities: real keys only when nodes must sign announcements.
        var idList: [NodeID] = []
        idList.reserveCapacity(n)
        var keyList: [SigningKey] = []
        for i in 0..<n {
            var w = ByteWriter(capacity: 16)
            w.u64(config.seed); w.u64(UInt64(i))
            let h = Hash.of(w.bytes)
            if config.announcements {
                let key = SigningKey(seed: h.bytes)
                keyList.append(key)
                idList.append(key.publicKey)
            } else {
                idList.append(NodeID(h.value))
            }
        }
        ids = idList
        keys = config.announcements ? keyList : nil
        var index: [NodeID: Int32] = [:]
        index.reserveCapacity(n)
        for (i, id) in idList.enumerated() { index[id] = Int32(i) }
        idIndex = index
        addresses = (0..<n).map { "sim:\($0)" }

        nodes = Array(repeating: nil, count: n)
        alive = Array(repeating: false, count: n)
        incarnation = Array(repeating: 0, count: n)
        currentStart = Array(repeating: -1, count: n)
        everStarted = Array(repeating: false, count: n)
        links = Array(repeating: [], count: n)
        announceSequence = Array(repeating: 0, count: n)
        hexCache = config.trace ? idList.map(\.hex) : []

        // Halves for the partition: a seeded permutation.
        var perm = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            perm.swapAt(i, j)
        }
        side = Array(repeating: 0, count: n)
        for k in 0..<(n / 2) { side[perm[k]] = 1 }

        // Timeline.
        let join = config.effectiveJoinDuration.nanoseconds
        broadcastStart = join + config.warmup.nanoseconds
        var times: [Int64] = []
        if config.partition {
            let d = config.partitionDuration.nanoseconds
            for b in 0..<config.broadcasts { times.append(broadcastStart + d * Int64(b + 1) / Int64(config.broadcasts + 1)) }
            healTime = broadcastStart + d
        } else {
            for b in 0..<config.broadcasts { times.append(broadcastStart + config.broadcastInterval.nanoseconds * Int64(b)) }
            healTime = nil
        }
        broadcastTimes = times
        var submit: [Int64] = []
        if let jobs = config.jobs {
            for k in 0..<jobs.jobs { submit.append(broadcastStart + jobs.interval.nanoseconds * Int64(k)) }
            jobWorld = JobWorld(config: jobs, nodes: n, seed: config.seed, rng: &jobRNG)
        } else {
            jobWorld = nil
        }
        jobTimes = submit
        let lastActivity = max(times.last ?? broadcastStart, healTime ?? 0, submit.last ?? 0)
        var end = lastActivity + config.settle.nanoseconds
        if let jobs = config.jobs, let last = submit.last {
            // Every job reaches its deadline (and its deadline timer fires) inside the run.
            end = max(end, last + jobs.deadline.nanoseconds + 1_000_000_000)
        }
        endTime = end

        let cells = config.broadcasts * n
        deliveredAt = Array(repeating: -1, count: cells)
        deliveredHops = Array(repeating: 0, count: cells)
        deliveredPath = Array(repeating: 0, count: cells)
        sptLatencyNs = Array(repeating: -1, count: cells)
        sptHops = Array(repeating: 0, count: cells)
        copiesByBroadcast = Array(repeating: 0, count: config.broadcasts)

        schedule()
    }

    private func schedule() {
        let join = config.effectiveJoinDuration.nanoseconds
        for i in 0..<n { queue.push(.start(Int32(i)), at: join * Int64(i) / Int64(n)) }
        for (b, t) in broadcastTimes.enumerated() { queue.push(.broadcast(Int32(b)), at: t) }
        for (k, t) in jobTimes.enumerated() { queue.push(.submitJob(Int32(k)), at: t) }
        if config.partition, let heal = healTime {
            queue.push(.partition, at: broadcastStart)
            queue.push(.heal, at: heal)
        }
        let crashes = Int((config.crashFraction * Double(n)).rounded())
        if crashes > 0 {
            var pool = Array(0..<n)
            let lo = broadcastStart
            let hi = max(broadcastTimes.last ?? lo, jobTimes.last ?? lo, lo + 1)
            let restarts = Int((config.restartFraction * Double(crashes)).rounded())
            for k in 0..<min(crashes, n - 2) {
                let j = k + Int(rng.next() % UInt64(n - k))
                pool.swapAt(k, j)
                let at = lo + Int64(rng.next() % UInt64(hi - lo))
                queue.push(.crash(Int32(pool[k])), at: at)
                if k < restarts { queue.push(.restart(Int32(pool[k])), at: at + config.restartDelay.nanoseconds) }
            }
        }
    }

    // MARK: Running

    /// Runs the scenario to its end and returns the measurements.
    public func run() -> SimReport {
        while let next = queue.nextTime, next <= endTime {
            guard let (t, action) = queue.pop() else { break }
            now = t
            eventsProcessed += 1
            if eventsProcessed & 0xF_FFFF == 0 { progress?(Double(now) / 1e9, eventsProcessed) }
            perform(action)
        }
        now = endTime
        for i in 0..<n where alive[i] { liveNodeNanos += Double(now - currentStart[i]) }
        trace?.close()
        return report()
    }

    private func perform(_ action: Action) {
        switch action {
        case let .start(i):
            startNode(Int(i))
        case let .message(to, from, gen, message):
            arrive(to: Int(to), from: Int(from), gen: gen, message)
        case let .connectDone(from, inc, target, address):
            connectDone(from: Int(from), inc: inc, target: Int(target), address: address)
        case let .connectFailed(node, inc, address, reason):
            if alive[Int(node)] && incarnation[Int(node)] == inc {
                dispatch(Int(node), .connectFailed(address: address, reason: reason))
            }
        case let .linkDown(node, peer, gen, reason):
            let i = Int(node)
            if let k = endIndex(i, Int(peer)), links[i][k].gen == gen {
                links[i].remove(at: k)
                dispatch(i, .linkDown(peer: ids[Int(peer)], reason: reason))
            }
        case let .timer(node, inc, timer):
            if alive[Int(node)] && incarnation[Int(node)] == inc { dispatch(Int(node), .timer(timer)) }
        case let .broadcast(b):
            publishBroadcast(Int(b))
        case let .publishLocal(node, inc, record):
            guard alive[Int(node)] && incarnation[Int(node)] == inc else { return }
            if record.kind == .nodeAnnouncement && nodes[Int(node)]?.activeView.isEmpty == true {
                // Announced at start, before any link is up, the record would reach nobody until
                // anti-entropy (records younger than its minimum age are not reconciled): hold it
                // until the node has joined, as a node's shell would on its first link.
                queue.push(action, at: now + 250_000_000)
                return
            }
            dispatch(Int(node), .publish(record))
        case let .crash(i):
            crash(Int(i))
        case let .restart(i):
            startNode(Int(i))
        case .partition:
            partitioned = true
        case .heal:
            partitioned = false
        case let .submitJob(k):
            submitJob(Int(k))
        case let .jobTimer(node, inc, job, at):
            if alive[Int(node)] && incarnation[Int(node)] == inc { jobTimerFired(Int(node), job: job, at: at) }
        case let .inferenceDone(node, inc, job):
            if alive[Int(node)] && incarnation[Int(node)] == inc { inferenceDone(Int(node), job: job) }
        }
    }

    private func startNode(_ i: Int) {
        guard !alive[i] else { return }
        // Contacts: a few random nodes that are up (none for the very first node).
        var seeds: [String] = []
        var tries = 0
        let upTo = everStarted[i] ? n : i
        while seeds.count < 5 && tries < 20 && upTo > 0 {
            tries += 1
            let j = Int(rng.next() % UInt64(upTo))
            if j != i && alive[j] && !seeds.contains(addresses[j]) { seeds.append(addresses[j]) }
        }
        var gossipConfig = config.gossip
        gossipConfig.traceEnabled = config.trace
        if !config.announcements { gossipConfig.announceInterval = nil }
        incarnation[i] &+= 1
        var nodeRNG = SeededRNG(seed: nodeSeeds[i] ^ (UInt64(incarnation[i]) &* 0x9E37_79B9_7F4A_7C15))
        _ = nodeRNG.next()
        nodes[i] = GossipNode(me: PeerRef(id: ids[i], address: addresses[i]), seeds: seeds, config: gossipConfig,
                              rng: nodeRNG, unixMsAtZero: unixMsAtZero)
        alive[i] = true
        everStarted[i] = true
        currentStart[i] = now
        links[i] = []
        startJobsNode(i)
        dispatch(i, .start)
    }

    private func crash(_ i: Int) {
        guard alive[i] else { return }
        // Keep at least two nodes up so the run stays meaningful.
        liveNodeNanos += Double(now - currentStart[i])
        alive[i] = false
        nodes[i] = nil
        links[i] = []
        incarnation[i] &+= 1
        crashJobsNode(i)
    }

    private func publishBroadcast(_ b: Int) {
        // Source: a random live node, or the next of the fixed publishers if it is alive.
        var source = -1
        if config.sources > 0 {
            while sourceList.count < min(config.sources, n) {
                let j = Int(rng.next() % UInt64(n))
                if !sourceList.contains(j) { sourceList.append(j) }
            }
            let j = sourceList[b % sourceList.count]
            if alive[j] { source = j }
        }
        for _ in 0..<64 where source < 0 {
            let j = Int(rng.next() % UInt64(n))
            if alive[j] { source = j; break }
        }
        if source < 0 { source = alive.firstIndex(of: true) ?? 0 }
        var body = [UInt8](repeating: 0, count: max(config.payloadBytes, 8))
        var v = UInt64(b)
        for k in 0..<8 { body[k] = UInt8(truncatingIfNeeded: v >> 56); v <<= 8 }
        let unixNow = unixMsAtZero + now / 1_000_000
        let record = SignedRecord(kind: .job, body: body, author: authorKey(source), issuedAt: unixNow, expiresAt: unixNow + 3_600_000)
        records.append(record)
        recordIndex[record.id] = Int32(b)
        pubTime.append(now)
        pubSource.append(Int32(source))
        let cell = b * n + source
        deliveredAt[cell] = now
        deliveredPath[cell] = 3
        computeShortestPaths(broadcast: b, source: source)
        dispatch(source, .publish(record))
    }

    /// The key a node signs its broadcasts with: its identity key when announcements are on,
    /// otherwise a key derived from the seed and the node number (made on first use).
    private func authorKey(_ i: Int) -> SigningKey {
        if let keys { return keys[i] }
        if let k = sourceKeys[i] { return k }
        var w = ByteWriter(capacity: 24)
        w.u64(config.seed); w.u64(UInt64(i)); w.u64(0xA07)
        let k = SigningKey(seed: Hash.of(w.bytes).bytes)
        sourceKeys[i] = k
        return k
    }

    // MARK: Node effects

    private func dispatch(_ i: Int, _ event: GossipEvent) {
        guard nodes[i] != nil else { return }
        effects.removeAll(keepingCapacity: true)
        guard trace != nil else {
            nodes[i]?.handle(event, now: Instant(nanoseconds: now), into: &effects)
            for e in effects { apply(e, from: i) }
            return
        }
        // Traced: the events come apart from the effects (no event-sized effect per event) and
        // are written where their `.trace` effects would have been applied.
        traces.pointee.removeAll(keepingCapacity: true)
        nodes[i]?.handle(event, now: Instant(nanoseconds: now), into: &effects, traces: &traces.pointee)
        let fx = effects, tx = traces.pointee
        var t = 0
        for k in fx.indices {
            while t < tx.count && tx[t].effectIndex <= k { writeTrace(tx[t].event); t += 1 }
            apply(fx[k], from: i)
        }
        while t < tx.count { writeTrace(tx[t].event); t += 1 }
    }

    private func apply(_ effect: GossipEffect, from i: Int) {
        switch effect {
        case let .send(to, message):
            if message.carriesPayload { payloadMessages += 1 } else { controlMessages += 1 }
            guard let j32 = idIndex[to] else { messagesNoLink += 1; return }
            send(message, from: i, to: Int(j32))
        case let .connect(address, _):
            connect(from: i, address: address)
        case let .disconnect(peer, reason):
            guard let j32 = idIndex[peer] else { return }
            let j = Int(j32)
            guard let k = endIndex(i, j) else { return }
            let end = links[i].remove(at: k)
            let arrival = max(now + latency(i, j), end.lastArrival)
            queue.push(.linkDown(Int32(j), Int32(i), end.gen, reason), at: arrival)
        case let .setTimer(timer, at):
            queue.push(.timer(Int32(i), incarnation[i], timer), at: max(at.nanoseconds, now))
        case let .deliver(record, hops, path):
            if jobWorld != nil { deliverToJobs(i, record) }
            guard let b32 = recordIndex[record.id] else { return }
            let cell = Int(b32) * n + i
            if deliveredAt[cell] < 0 {
                deliveredAt[cell] = now
                deliveredHops[cell] = hops
                deliveredPath[cell] = path == .antiEntropy ? 2 : 1
            }
        case .forget:
            break
        case .announcementDue:
            guard let keys else { return }
            if jobWorld != nil { return announceForJobs(i) }
            announceSequence[i] &+= 1
            var w = ByteWriter(capacity: 16)
            w.u32(announceSequence[i]); w.string16(addresses[i])
            let unixNow = unixMsAtZero + now / 1_000_000
            let record = SignedRecord(kind: .nodeAnnouncement, body: w.bytes, author: keys[i], issuedAt: unixNow,
                                      expiresAt: unixNow + 1_800_000)
            queue.push(.publishLocal(Int32(i), incarnation[i], record), at: now)
        case let .trace(event):
            writeTrace(event)
        }
    }

    private func send(_ message: GossipMessage, from i: Int, to j: Int) {
        guard let k = endIndex(i, j) else { messagesNoLink += 1; return }
        if partitioned && side[i] != side[j] { messagesPartitioned += 1; return }
        if config.loss > 0 && rng.unitDouble() < config.loss { messagesLost += 1; return }
        var arrival = now + latency(i, j)
        if config.jitterMs > 0 { arrival += Int64(rng.unitDouble() * config.jitterMs * 1e6) }
        if arrival < links[i][k].lastArrival { arrival = links[i][k].lastArrival }
        links[i][k].lastArrival = arrival
        queue.push(.message(Int32(j), Int32(i), links[i][k].gen, message), at: arrival)
    }

    private func arrive(to j: Int, from i: Int, gen: UInt32, _ message: GossipMessage) {
        guard alive[j], let k = endIndex(j, i), links[j][k].gen == gen else { messagesNoLink += 1; return }
        switch message {
        case let .gossip(item):
            if let b = recordIndex[item.record.id] { payloadCopies += 1; copiesByBroadcast[Int(b)] += 1 }
        case let .records(items):
            for item in items { if let b = recordIndex[item.record.id] { payloadCopies += 1; copiesByBroadcast[Int(b)] += 1 } }
        default: break
        }
        dispatch(j, .message(from: ids[i], message))
    }

    private func connect(from i: Int, address: String) {
        guard let j = Self.parseAddress(address), j < n, j != i else {
            queue.push(.connectFailed(Int32(i), incarnation[i], address, "no such address"), at: now + 1_000_000)
            return
        }
        if partitioned && side[i] != side[j] {
            queue.push(.connectFailed(Int32(i), incarnation[i], address, "timeout"), at: now + config.connectTimeout.nanoseconds)
            return
        }
        let rtt = 2 * latency(i, j)
        if !alive[j] {
            queue.push(.connectFailed(Int32(i), incarnation[i], address, "refused"), at: now + rtt)
            return
        }
        // Handshake: about one and a half round trips.
        queue.push(.connectDone(Int32(i), incarnation[i], Int32(j), address), at: now + rtt + rtt / 2)
    }

    private func connectDone(from i: Int, inc: UInt32, target j: Int, address: String) {
        guard alive[i], incarnation[i] == inc else { return }
        guard alive[j], !(partitioned && side[i] != side[j]) else {
            dispatch(i, .connectFailed(address: address, reason: "refused"))
            return
        }
        if let a = endIndex(i, j), let b = endIndex(j, i), links[i][a].gen == links[j][b].gen {
            dispatch(i, .linkUp(peer: ids[j], address: address, outbound: true))
            return
        }
        nextGeneration &+= 1
        let gen = nextGeneration
        setEnd(i, j, gen)
        setEnd(j, i, gen)
        dispatch(i, .linkUp(peer: ids[j], address: address, outbound: true))
        dispatch(j, .linkUp(peer: ids[i], address: "in:\(i)", outbound: false))
    }

    private func setEnd(_ i: Int, _ j: Int, _ gen: UInt32) {
        if let k = endIndex(i, j) {
            links[i][k] = LinkEnd(peer: Int32(j), gen: gen, lastArrival: 0)
        } else {
            links[i].append(LinkEnd(peer: Int32(j), gen: gen, lastArrival: 0))
        }
    }

    @inline(__always) private func endIndex(_ i: Int, _ j: Int) -> Int? {
        let p = Int32(j)
        for k in links[i].indices where links[i][k].peer == p { return k }
        return nil
    }

    /// Fixed one-way base latency of the pair, from the seed.
    @inline(__always) func latency(_ i: Int, _ j: Int) -> Int64 {
        var x = UInt64(min(i, j)) << 32 | UInt64(max(i, j))
        x ^= config.seed &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        let u = Double(x >> 11) * 0x1.0p-53
        return Int64((config.latencyMinMs + u * (config.latencyMaxMs - config.latencyMinMs)) * 1e6)
    }

    static func parseAddress(_ address: String) -> Int? {
        guard address.hasPrefix("sim:") else { return nil }
        return Int(address.dropFirst(4))
    }

    func writeTrace(_ e: TraceEvent) {
        trace?.append(e)
    }

    // MARK: Shortest paths (the reference for latency and hops)

    /// Dijkstra on base latency and BFS hops over the current overlay (links up at both ends).
    private func computeShortestPaths(broadcast b: Int, source: Int) {
        var dist = [Int64](repeating: .max, count: n)
        var hops = [UInt16](repeating: .max, count: n)
        var heap = EventQueue<Int32>(capacity: n)
        dist[source] = 0
        heap.push(Int32(source), at: 0)
        while let (d, u32) = heap.pop() {
            let u = Int(u32)
            if d > dist[u] { continue }
            for e in links[u] {
                let v = Int(e.peer)
                guard alive[v], let back = endIndex(v, u), links[v][back].gen == e.gen else { continue }
                let nd = d + latency(u, v)
                if nd < dist[v] { dist[v] = nd; heap.push(e.peer, at: nd) }
            }
        }
        var frontier = [source]
        hops[source] = 0
        var level: UInt16 = 0
        while !frontier.isEmpty {
            level += 1
            var next: [Int] = []
            for u in frontier {
                for e in links[u] {
                    let v = Int(e.peer)
                    guard alive[v], hops[v] == .max, let back = endIndex(v, u), links[v][back].gen == e.gen else { continue }
                    hops[v] = level
                    next.append(v)
                }
            }
            frontier = next
        }
        for i in 0..<n where dist[i] != .max {
            sptLatencyNs[b * n + i] = dist[i]
            sptHops[b * n + i] = hops[i]
        }
    }
}

/// One end of a simulated link.
struct LinkEnd {
    var peer: Int32
    var gen: UInt32
    /// Arrival time of the last message sent on this end (links are FIFO).
    var lastArrival: Int64
}

/// A scheduled simulator event.
enum Action {
    case start(Int32)
    case message(Int32, Int32, UInt32, GossipMessage)
    case connectDone(Int32, UInt32, Int32, String)
    case connectFailed(Int32, UInt32, String, String)
    case linkDown(Int32, Int32, UInt32, String)
    case timer(Int32, UInt32, GossipTimer)
    case broadcast(Int32)
    case publishLocal(Int32, UInt32, SignedRecord)
    case crash(Int32)
    case restart(Int32)
    case partition
    case heal
    case submitJob(Int32)
    /// A job timer of (node, incarnation, job) due at the given sim time.
    case jobTimer(Int32, UInt32, Hash, Int64)
    /// The stand-in inference of (node, incarnation) for a job finished.
    case inferenceDone(Int32, UInt32, Hash)
}
