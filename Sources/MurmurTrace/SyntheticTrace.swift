import MurmurCore

/// A small, seeded gossip-like run that writes trace events with answers known in advance:
/// each record floods from its origin (eager push to every neighbour but the sender, duplicates
/// on later arrivals). Used by the tests (line, star, random mesh, clock skew) and to generate
/// large traces for throughput measurements (`murmur trace --generate`). Not the real simulator
/// (MurmurSim), which writes the same format.
public struct SyntheticTrace: Sendable {
    public enum Topology: Sendable { case line, star, randomMesh(degree: Int) }

    public struct Config: Sendable {
        public var nodes: Int
        public var topology: Topology
        public var seed: UInt64 = 1
        /// Base one-way delay of a link is uniform in this range (same both ways).
        public var linkDelayNs: ClosedRange<Int64> = 1_000_000...20_000_000
        /// Extra per-message delay, uniform in 0..<jitterNs.
        public var jitterNs: Int64 = 2_000_000
        /// Each node's clock is off by a uniform value in ±maxSkewNs (0: one shared clock).
        public var maxSkewNs: Int64 = 0
        public var records: Int = 1
        public var recordIntervalNs: Int64 = 100_000_000
        public var recordBytes: Int = 600
        /// Nodes that are down: they write one `disconnect` and never deliver anything.
        public var downNodes: Set<Int> = []
        /// Nodes that receive but drop everything (`drop`, reason `invalid-signature`).
        public var droppingNodes: Set<Int> = []
        public var jobs: Int = 0
        public init(nodes: Int, topology: Topology) { self.nodes = nodes; self.topology = topology }
    }

    public let config: Config
    public let nodeIDs: [NodeID]
    public let adjacency: [[Int]]
    /// Base delay per directed link (symmetric), keyed `a * nodes + b`.
    public let linkDelay: [Int: Int64]
    /// Clock offset of each node (written time = true time + offset).
    public let clockOffset: [Int64]
    public let recordIDs: [Hash]
    public let jobIDs: [Hash]

    public init(_ config: Config) {
        self.config = config
        var rng = SeededRNG(seed: config.seed)
        let n = config.nodes
        var ids: [NodeID] = []
        for _ in 0..<n {
            let k = Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
            ids.append(NodeID(k))
        }
        nodeIDs = ids
        var adj = [[Int]](repeating: [], count: n)
        func link(_ a: Int, _ b: Int) {
            guard a != b, !adj[a].contains(b) else { return }
            adj[a].append(b); adj[b].append(a)
        }
        switch config.topology {
        case .line: for i in 1..<max(n, 1) { link(i - 1, i) }
        case .star: for i in 1..<max(n, 1) { link(0, i) }
        case .randomMesh(let degree):
            // A random spanning tree keeps it connected; then random extra links up to the degree.
            for i in 1..<max(n, 1) { link(i, Int(rng.next() % UInt64(i))) }
            let extra = max(0, n * degree / 2 - (n - 1))
            var added = 0, tries = 0
            while added < extra && tries < extra * 10 {
                tries += 1
                let a = Int(rng.next() % UInt64(n)), b = Int(rng.next() % UInt64(n))
                if a != b && !adj[a].contains(b) && adj[a].count < degree * 2 { link(a, b); added += 1 }
            }
        }
        adjacency = adj
        var delays: [Int: Int64] = [:]
        let span = UInt64(config.linkDelayNs.upperBound - config.linkDelayNs.lowerBound + 1)
        for a in 0..<n { for b in adj[a] where a < b {
            let d = config.linkDelayNs.lowerBound + Int64(rng.next() % span)
            delays[a * n + b] = d; delays[b * n + a] = d
        } }
        linkDelay = delays
        clockOffset = (0..<n).map { _ in
            config.maxSkewNs == 0 ? 0 : Int64(rng.next() % UInt64(2 * config.maxSkewNs + 1)) - config.maxSkewNs
        }
        recordIDs = (0..<config.records).map { i in Hash.of(Array("record \(config.seed) \(i)".utf8)) }
        jobIDs = (0..<config.jobs).map { i in Hash.of(Array("job \(config.seed) \(i)".utf8)) }
    }

    /// Origin of record `i` (deterministic: spread over the nodes, never a down node).
    public func origin(of record: Int) -> Int {
        var o = (record * 7919) % config.nodes
        if config.topology.isStarOrLine { o = record == 0 ? 0 : o }
        while config.downNodes.contains(o) || config.droppingNodes.contains(o) { o = (o + 1) % config.nodes }
        return o
    }

    /// Runs the flood for every record and job, handing events (in true-time order per record)
    /// to `sink` with node-local times.
    public func generate(_ sink: (TraceEvent) -> Void) {
        var rng = SeededRNG(seed: config.seed ^ 0x5eed)
        let n = config.nodes
        for d in config.downNodes.sorted() {
            sink(TraceEvent(time: Instant(nanoseconds: clockOffset[d]), node: nodeIDs[d], kind: .disconnect,
                            peer: adjacency[d].first.map { nodeIDs[$0] }, reason: "crashed"))
        }
        var delivered = [Bool](repeating: false, count: n)
        for r in 0..<config.records {
            let id = recordIDs[r]
            let start = Int64(r) * config.recordIntervalNs + 1_000_000
            for i in 0..<n { delivered[i] = false }
            var heap = ArrivalHeap()
            let o = origin(of: r)
            func local(_ t: Int64, _ node: Int) -> Instant { Instant(nanoseconds: t + clockOffset[node]) }
            func push(from a: Int, at t: Int64, except: Int, hops: Int) {
                for b in adjacency[a] where b != except {
                    sink(TraceEvent(time: local(t, a), node: nodeIDs[a], kind: .send, recordKind: "announcement",
                                    recordID: id, peer: nodeIDs[b], bytes: config.recordBytes, hops: hops + 1))
                    if config.downNodes.contains(b) { continue }
                    let delay = (linkDelay[a * n + b] ?? 0) + (config.jitterNs > 0 ? Int64(rng.next() % UInt64(config.jitterNs)) : 0)
                    heap.push(Arrival(time: t + delay, node: b, from: a, hops: hops + 1))
                }
            }
            delivered[o] = true
            sink(TraceEvent(time: local(start, o), node: nodeIDs[o], kind: .deliver, recordKind: "announcement",
                            recordID: id, hops: 0))
            push(from: o, at: start, except: -1, hops: 0)
            while let a = heap.pop() {
                let b = a.node
                sink(TraceEvent(time: local(a.time, b), node: nodeIDs[b], kind: .recv, recordKind: "announcement",
                                recordID: id, peer: nodeIDs[a.from], bytes: config.recordBytes, hops: a.hops))
                if config.droppingNodes.contains(b) {
                    sink(TraceEvent(time: local(a.time, b), node: nodeIDs[b], kind: .drop, recordKind: "announcement",
                                    recordID: id, peer: nodeIDs[a.from], reason: "invalid-signature"))
                    continue
                }
                if delivered[b] {
                    sink(TraceEvent(time: local(a.time, b), node: nodeIDs[b], kind: .dup, recordKind: "announcement",
                                    recordID: id, peer: nodeIDs[a.from], hops: a.hops))
                    continue
                }
                delivered[b] = true
                sink(TraceEvent(time: local(a.time, b), node: nodeIDs[b], kind: .deliver, recordKind: "announcement",
                                recordID: id, peer: nodeIDs[a.from], hops: a.hops))
                push(from: b, at: a.time, except: a.from, hops: a.hops)
            }
        }
        // Jobs: submitted at one node, assigned to and run by two others, attested, verified.
        let steps: [(TraceEvent.Kind, Int64)] = [(.jobSubmit, 0), (.jobAssign, 3_000_000), (.jobClaim, 5_000_000),
                                                 (.jobExecute, 6_000_000), (.jobAttest, 40_000_000), (.jobVerified, 55_000_000)]
        for j in 0..<config.jobs {
            let client = j % n, execA = (j + 1) % n, execB = (j + 2) % n
            let base = Int64(config.records) * config.recordIntervalNs + Int64(j) * 100_000_000
            for (kind, dt) in steps {
                let actors = kind == .jobSubmit || kind == .jobVerified ? [client] : [execA, execB]
                for (k, who) in actors.enumerated() {
                    let t = base + dt + Int64(k) * 1_000_000
                    sink(TraceEvent(time: Instant(nanoseconds: t + clockOffset[who]), node: nodeIDs[who], kind: kind,
                                    recordKind: "job", recordID: jobIDs[j], peer: kind == .jobSubmit ? nil : nodeIDs[client]))
                }
            }
        }
    }
}

extension SyntheticTrace.Topology {
    var isStarOrLine: Bool { if case .randomMesh = self { return false }; return true }
}

struct Arrival { var time: Int64; var node: Int; var from: Int; var hops: Int }

/// Min-heap of arrivals by (time, node) so that runs are deterministic.
struct ArrivalHeap {
    private var items: [Arrival] = []
    private func less(_ a: Arrival, _ b: Arrival) -> Bool { (a.time, a.node, a.from) < (b.time, b.node, b.from) }
    mutating func push(_ x: Arrival) {
        items.append(x)
        var i = items.count - 1
        while i > 0 { let p = (i - 1) / 2; if !less(items[i], items[p]) { break }; items.swapAt(p, i); i = p }
    }
    mutating func pop() -> Arrival? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && less(items[l], items[m]) { m = l }
                if r < items.count && less(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(m, i); i = m
            }
        }
        return top
    }
}
