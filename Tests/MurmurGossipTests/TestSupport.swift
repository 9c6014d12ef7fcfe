import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurWire

/// Unix ms at `Instant.zero` in these tests.
let testEpochMs: Int64 = 1_700_000_000_000

func testKey(_ n: UInt8) -> SigningKey { SigningKey(seed: [UInt8](repeating: n, count: 32)) }

/// A signed record of `kind`, issued `ageMs` before the test epoch, expiring `lifeMs` after it.
func testRecord(_ n: Int, kind: RecordKind = .job, author: SigningKey = testKey(200), issuedAt: Int64 = testEpochMs - 60_000,
                lifeMs: Int64 = 3_600_000) -> SignedRecord {
    var body = [UInt8](repeating: 0, count: 16)
    for k in 0..<8 { body[k] = UInt8(truncatingIfNeeded: n >> (8 * (7 - k))) }
    return SignedRecord(kind: kind, body: body, author: author, issuedAt: issuedAt, expiresAt: testEpochMs + lifeMs)
}

func nodeID(_ n: Int) -> NodeID {
    var w = ByteWriter()
    w.u64(UInt64(n))
    return NodeID(Hash.of(w.bytes).value)
}

/// A tiny zero-latency network for protocol tests: effects are routed between nodes in FIFO
/// order, links are symmetric, time advances to the next timer when nothing else is pending.
/// Crashed nodes vanish silently (no link-down), like a machine that loses power.
struct TestMesh {
    var nodes: [GossipNode?] = []
    var ids: [NodeID] = []
    var linked: Set<[Int]> = []
    var queue: [(Int, GossipEvent)] = []
    var timers: [(at: Instant, seq: Int, node: Int, timer: GossipTimer)] = []
    var seq = 0
    var now = Instant.zero
    var delivered: [[Hash]] = []
    var sent: [GossipMessage.Tag: Int] = [:]

    mutating func add(seeds: [Int], config: GossipConfig = GossipConfig(), seed: UInt64? = nil) -> Int {
        let i = nodes.count
        let id = nodeID(i)
        ids.append(id)
        var c = config
        c.announceInterval = nil
        nodes.append(GossipNode(me: PeerRef(id: id, address: "t:\(i)"), seeds: seeds.map { "t:\($0)" }, config: c,
                                rng: SeededRNG(seed: seed ?? UInt64(i + 1)), unixMsAtZero: testEpochMs))
        delivered.append([])
        queue.append((i, .start))
        return i
    }

    func index(_ id: NodeID) -> Int? { ids.firstIndex(of: id) }
    func key(_ a: Int, _ b: Int) -> [Int] { [min(a, b), max(a, b)] }

    mutating func crash(_ i: Int) {
        nodes[i] = nil
        linked = linked.filter { !$0.contains(i) }
    }

    mutating func publish(_ record: SignedRecord, at i: Int) { queue.append((i, .publish(record))) }

    mutating func apply(_ effects: [GossipEffect], from i: Int) {
        for e in effects {
            switch e {
            case let .send(to, message):
                sent[message.tag, default: 0] += 1
                if let j = index(to), nodes[j] != nil, linked.contains(key(i, j)) { queue.append((j, .message(from: ids[i], message))) }
            case let .connect(address, _):
                let j = Int(address.dropFirst(2)) ?? -1
                if j >= 0, j < nodes.count, nodes[j] != nil, j != i {
                    linked.insert(key(i, j))
                    queue.append((i, .linkUp(peer: ids[j], address: address, outbound: true)))
                    queue.append((j, .linkUp(peer: ids[i], address: "in:\(i)", outbound: false)))
                } else {
                    queue.append((i, .connectFailed(address: address, reason: "refused")))
                }
            case let .disconnect(peer, reason):
                if let j = index(peer), linked.remove(key(i, j)) != nil { queue.append((j, .linkDown(peer: ids[i], reason: reason))) }
            case let .setTimer(timer, at):
                seq += 1
                timers.append((max(at, now), seq, i, timer))
            case let .deliver(record, _, _):
                delivered[i].append(record.id)
            default:
                break
            }
        }
    }

    /// Runs until `until` (processing everything due before it).
    mutating func run(until: Instant) {
        var steps = 0
        while steps < 2_000_000 {
            steps += 1
            if !queue.isEmpty {
                let (i, event) = queue.removeFirst()
                guard nodes[i] != nil else { continue }
                let fx = nodes[i]!.handle(event, now: now)
                apply(fx, from: i)
                continue
            }
            guard let k = timers.indices.min(by: { (timers[$0].at, timers[$0].seq) < (timers[$1].at, timers[$1].seq) }),
                  timers[k].at <= until else { break }
            let t = timers.remove(at: k)
            now = t.at
            queue.append((t.node, .timer(t.timer)))
        }
        if now < until { now = until }
    }

    mutating func run(seconds: Double) { run(until: now + .seconds(seconds)) }
}

func at(_ seconds: Double) -> Instant { Instant.zero + .seconds(seconds) }
