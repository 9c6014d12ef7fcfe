import MurmurCore
import MurmurWire
@testable import MurmurTransfer

/// A deterministic in-memory mesh of `ModelTransfer` instances: simulated time, per-link FIFO
/// delivery with random latency, message loss, nodes that corrupt pieces or stay silent, nodes
/// that die. Disk is a dictionary; the shell's duties (reads, writes, whole-file hash) are done
/// here exactly as Specs/transfer.md describes them for the node.
struct Mesh {
    enum Behaviour { case honest, corrupt, silent, overrun }

    struct Node {
        let id: NodeID
        var transfer: ModelTransfer
        var behaviour = Behaviour.honest
        var alive = true
        var files: [Hash: [UInt8]] = [:]
        var partial: [Hash: [UInt8]] = [:]
        var timerAt: Instant?
        var completed: [Hash] = []
        var failed: [(Hash, FetchFailure)] = []
        var refused: [(Hash, FetchRefusal)] = []
        var dropped: Set<NodeID> = []
        var penalised: [NodeID: Int] = [:]
        var progressLines: [String] = []
        /// Chunk indexes this node asked for, in order.
        var requestedChunks: [Int] = []
        var busyRefusalsReceived = 0
    }

    enum Kind {
        case message(from: Int, type: UInt8, payload: [UInt8])
        case event(ModelTransfer.Event)
        case timer(Instant)
    }

    struct Scheduled { var at: Instant; var seq: Int; var node: Int; var kind: Kind }

    var nodes: [Node] = []
    var index: [NodeID: Int] = [:]
    var queue: [Scheduled] = []
    var seq = 0
    var now = Instant.zero
    var rng: SeededRNG
    var latencyMs: ClosedRange<Int64> = 1...20
    var loss = 0.0
    var lastArrival: [Int: Instant] = [:]
    var fetcherConfig: FetcherConfig
    var events = 0
    /// Bound violations seen (must stay empty).
    var violations: [String] = []
    var maxInFlightSeen = 0
    var maxPerPeerSeen = 0

    init(seed: UInt64, nodes count: Int, fetcher: FetcherConfig, server: ServerConfig = ServerConfig(),
         servers: [Int: ServerConfig] = [:]) {
        rng = SeededRNG(seed: seed)
        fetcherConfig = fetcher.validated()
        for i in 0..<count {
            var b = [UInt8](repeating: 0, count: 32)
            b[0] = 0xA0; b[31] = UInt8(i)
            let id = NodeID(bytes: b) ?? NodeID(.zero)
            let t = ModelTransfer(fetcher: fetcher, server: servers[i] ?? server, rng: rng.fork())
            nodes.append(Node(id: id, transfer: t))
            index[id] = i
        }
    }

    // MARK: Setup

    mutating func linkAll() {
        for i in nodes.indices { for j in nodes.indices where i != j { post(i, .event(.linkUp(nodes[j].id))) } }
    }

    /// Node `i` holds `model` (complete file) and serves it; every other node learns so.
    mutating func give(_ i: Int, _ manifest: ModelManifest, bytes: [UInt8]) {
        nodes[i].files[manifest.modelHash] = bytes
        post(i, .event(.serve(.serve(manifest))))
        announce(i)
    }

    mutating func announce(_ i: Int) {
        let models = nodes[i].files.keys.sorted()
        for j in nodes.indices where j != i { post(j, .event(.fetch(.holdings(peer: nodes[i].id, models: models)))) }
    }

    mutating func post(_ node: Int, _ kind: Kind, after: TimeSpan = .zero) {
        let s = Scheduled(at: now + after, seq: seq, node: node, kind: kind)
        seq += 1
        // Keep the queue sorted by (time, seq): binary search for the insertion point.
        var lo = 0, hi = queue.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if (queue[mid].at, queue[mid].seq) < (s.at, s.seq) { lo = mid + 1 } else { hi = mid }
        }
        queue.insert(s, at: lo)
    }

    /// Kills node `i` now; its peers notice after `detect`.
    mutating func kill(_ i: Int, detect: TimeSpan) {
        nodes[i].alive = false
        for j in nodes.indices where j != i { post(j, .event(.linkDown(nodes[i].id)), after: detect) }
    }

    // MARK: Running

    /// Runs until `done` holds, the queue empties, or `limit` of simulated time passes.
    mutating func run(until limit: TimeSpan, maxEvents: Int = 2_000_000, _ done: (Mesh) -> Bool = { _ in false }) {
        let end = Instant.zero + limit
        while !queue.isEmpty, events < maxEvents {
            if done(self) { return }
            let s = queue.removeFirst()
            if s.at > end { queue.insert(s, at: 0); return }
            now = s.at
            events += 1
            deliver(s)
        }
    }

    mutating func deliver(_ s: Scheduled) {
        let i = s.node
        guard nodes[i].alive else { return }
        let event: ModelTransfer.Event
        switch s.kind {
        case let .message(from, type, payload):
            guard nodes[from].alive else { return }
            event = .message(from: nodes[from].id, type: type, payload: payload)
        case let .event(e): event = e
        case let .timer(at):
            guard nodes[i].timerAt == at else { return }
            event = .fetch(.timer)
        }
        let fx = nodes[i].transfer.handle(event, now: now)
        checkBounds(i)
        for e in fx { perform(e, at: i) }
    }

    mutating func checkBounds(_ i: Int) {
        let f = nodes[i].transfer.fetcher
        maxInFlightSeen = max(maxInFlightSeen, f.requestsInFlight)
        if f.requestsInFlight > fetcherConfig.requestsInFlight { violations.append("node \(i): \(f.requestsInFlight) requests in flight") }
        if f.bufferedByteCount > fetcherConfig.bufferedBytes { violations.append("node \(i): \(f.bufferedByteCount) bytes buffered") }
        for j in nodes.indices {
            let n = f.requestsInFlight(to: nodes[j].id)
            maxPerPeerSeen = max(maxPerPeerSeen, n)
            if n > fetcherConfig.requestsPerPeer { violations.append("node \(i): \(n) requests in flight to \(j)") }
            let reads = nodes[i].transfer.server.readsInFlight(for: nodes[j].id)
            if reads > nodes[i].transfer.server.config.readsPerPeer { violations.append("node \(i): \(reads) reads for \(j)") }
        }
    }

    mutating func send(_ message: TransferMessage, from i: Int, to peer: NodeID) {
        guard let j = index[peer] else { return }
        var message = message
        if case let .piece(p) = message {
            switch nodes[i].behaviour {
            case .silent: return
            case .corrupt:
                var bad = p
                bad.data[bad.data.count / 2] ^= 0x5A
                message = .piece(bad)
            case .overrun:
                // Claims its piece belongs 1 byte later: lands outside the request, or leaves a gap.
                var bad = p
                bad.offset += 1
                message = .piece(bad)
            case .honest: break
            }
        }
        if case let .refusal(r) = message, r.reason == .busy { nodes[j].busyRefusalsReceived += 1 }
        if case let .request(r) = message { nodes[i].requestedChunks.append(Int(r.chunkIndex)) }
        if loss > 0, rng.unitDouble() < loss { return }
        // Per-link FIFO (TCP): never arrive before the previous message on this link.
        let latency = TimeSpan.milliseconds(Int64(rng.next() % UInt64(latencyMs.count)) + latencyMs.lowerBound)
        let link = i * 1000 + j
        let at = max(now + latency, lastArrival[link] ?? .zero)
        lastArrival[link] = at
        post(j, .message(from: i, type: message.type, payload: message.payload), after: at - now)
    }

    mutating func perform(_ effect: ModelTransfer.Effect, at i: Int) {
        switch effect {
        case let .fetch(.send(peer, m)), let .serve(.send(peer, m)): send(m, from: i, to: peer)
        case let .fetch(.writeChunk(model, index, offset, bytes)):
            var file = nodes[i].partial[model] ?? []
            let end = Int(offset) + bytes.count
            if file.count < end { file += [UInt8](repeating: 0, count: end - file.count) }
            file.replaceSubrange(Int(offset)..<end, with: bytes)
            nodes[i].partial[model] = file
            post(i, .event(.fetch(.chunkWritten(model: model, index: index))), after: .milliseconds(Int64(1)))
        case let .fetch(.verifyFile(model, size, expected)):
            let file = nodes[i].partial[model] ?? []
            let matches = file.count == Int(size) && Hash.of(file) == expected
            post(i, .event(.fetch(.fileVerified(model: model, matches: matches))), after: .milliseconds(Int64(2)))
        case let .fetch(.completed(model)):
            nodes[i].files[model] = nodes[i].partial.removeValue(forKey: model)
            nodes[i].completed.append(model)
            announce(i)
        case let .fetch(.failed(model, reason)):
            nodes[i].failed.append((model, reason))
            if reason.discardsPartial { nodes[i].partial[model] = nil }
        case let .fetch(.refused(model, reason)): nodes[i].refused.append((model, reason))
        case let .fetch(.progress(p)): nodes[i].progressLines.append(p.description)
        case let .fetch(.peerPenalised(peer, _, strikes)): nodes[i].penalised[peer] = strikes
        case let .fetch(.peerDropped(peer, _)): nodes[i].dropped.insert(peer)
        case .fetch(.wantLink): break   // the mesh is fully linked
        case let .fetch(.setTimer(at)):
            nodes[i].timerAt = at
            post(i, .timer(at), after: at - now)
        case let .serve(.read(ticket, model, offset, length)):
            if let file = nodes[i].files[model], Int(offset) + length <= file.count {
                let bytes = Array(file[Int(offset)..<Int(offset) + length])
                post(i, .event(.serve(.readCompleted(ticket: ticket, bytes: bytes))), after: .microseconds(Int64(200)))
            } else {
                post(i, .event(.serve(.readFailed(ticket: ticket, reason: "no such bytes"))))
            }
        case .serve(.unservable): break
        }
    }

    // MARK: Helpers

    static func model(seed: UInt64, size: Int, chunkSize: Int, name: String = "m") -> (ModelManifest, [UInt8]) {
        var rng = SeededRNG(seed: seed)
        var bytes = [UInt8](repeating: 0, count: size)
        var k = 0
        while k < size {
            var w = rng.next()
            for _ in 0..<8 where k < size { bytes[k] = UInt8(truncatingIfNeeded: w); w >>= 8; k += 1 }
        }
        let spec = [TensorSpec(name: "x", dtype: .float32, shape: [1])]
        return (ModelManifest(describing: bytes, name: name, modelVersion: "1", chunkSize: chunkSize, inputs: spec, outputs: spec), bytes)
    }

    /// The shell's resume rule: a chunk of the partial file counts only if its bytes hash to the
    /// manifest's chunk hash.
    static func verifiedChunks(of partial: [UInt8], _ m: ModelManifest) -> Set<Int> {
        ResumeScan.verifiedChunks(m, fileSize: UInt64(partial.count)) { offset, length in
            Array(partial[Int(offset)..<Int(offset) + length])
        }
    }
}
