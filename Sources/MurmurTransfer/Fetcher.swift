import MurmurCore
import MurmurWire

/// The client side of model transfer (Specs/transfer.md, "Fetcher"): fetches the chunks of
/// the models it is asked for from every linked peer announcing them, in parallel and bounded,
/// checks each chunk against the manifest before asking the shell to write it, and has the shell
/// check the whole file at the end. A pure state machine: time and randomness come from outside.
public struct Fetcher: Sendable {
    public let config: FetcherConfig
    var rng: SeededRNG
    var fetches: [Hash: ModelFetch] = [:]
    /// Active fetches in start order (dictionary order is not deterministic).
    var order: [Hash] = []
    var peers: [NodeID: PeerState] = [:]
    var requests: [UInt32: OpenRequest] = [:]
    var nextRequestID: UInt32 = 1
    var storedBytes: UInt64 = 0
    var bufferedBytes = 0
    var timerAt: Instant?
    public internal(set) var stats = FetcherStats()

    public init(config: FetcherConfig = FetcherConfig(), rng: SeededRNG, storedBytes: UInt64 = 0) {
        self.config = config.validated()
        self.rng = rng
        self.storedBytes = storedBytes
    }

    // MARK: Queries

    public var activeModels: [Hash] { order }
    public var requestsInFlight: Int { requests.count }
    public func requestsInFlight(to peer: NodeID) -> Int { peers[peer]?.inFlight ?? 0 }
    public var bufferedByteCount: Int { bufferedBytes }
    public func isDropped(_ peer: NodeID, now: Instant) -> Bool { peers[peer]?.banned(at: now) ?? false }
    public func strikes(of peer: NodeID) -> Int { peers[peer]?.strikes ?? 0 }
    public func progress(of model: Hash, now: Instant) -> FetchProgress? {
        fetches[model].map { report($0, now: now, rate: 0) }
    }

    // MARK: Events

    public mutating func handle(_ event: FetchEvent, now: Instant) -> [FetchEffect] {
        var fx: [FetchEffect] = []
        switch event {
        case let .start(manifest, verified): start(manifest, verified: verified, now: now, fx: &fx)
        case let .cancel(model): finish(model, .cancelled, fx: &fx)
        case let .holdings(peer, models): holdings(peer, models: models, fx: &fx)
        case let .linkUp(peer):
            if peers[peer] == nil, !admitPeer(peer) { break }
            peers[peer]?.linked = true
        case let .linkDown(peer): linkDown(peer, fx: &fx)
        case let .message(peer, message): receive(message, from: peer, now: now, fx: &fx)
        case let .malformed(peer, error):
            stats.malformed += 1
            strike(peer, reason: "undecodable message: \(error)", now: now, fx: &fx)
        case let .chunkWritten(model, index): written(model, index: index, now: now, fx: &fx)
        case let .writeFailed(model, index, reason): finish(model, .diskError("chunk \(index): \(reason)"), fx: &fx)
        case let .fileVerified(model, matches): fileVerified(model, matches: matches, now: now, fx: &fx)
        case let .storedBytes(bytes): storedBytes = bytes
        case .timer:
            timerAt = nil   // it fired: whatever is due next must be set again
            timer(now: now, fx: &fx)
        }
        pump(now: now, fx: &fx)
        schedule(now: now, fx: &fx)
        return fx
    }

    // MARK: Start, finish

    mutating func start(_ manifest: ModelManifest, verified: Set<Int>, now: Instant, fx: inout [FetchEffect]) {
        let model = manifest.modelHash
        if fetches[model] != nil { return fx.append(.refused(model: model, .alreadyFetching)) }
        do throws(RecordError) {
            try manifest.check(issuedAt: 0, expiresAt: 1)
        } catch {
            return fx.append(.refused(model: model, .invalidManifest("\(error)")))
        }
        if fetches.count >= config.maxConcurrentFetches {
            return fx.append(.refused(model: model, .tooManyFetches(limit: config.maxConcurrentFetches)))
        }
        let committed = fetches.values.reduce(storedBytes) { $0 &+ $1.layout.size }
        let available = config.diskBudgetBytes > committed ? config.diskBudgetBytes - committed : 0
        if manifest.size > available {
            return fx.append(.refused(model: model, .overDiskBudget(needed: manifest.size, available: available)))
        }
        var f = ModelFetch(manifest: manifest, now: now, reportEvery: config.progressInterval)
        for i in verified.sorted() where i >= 0 && i < f.layout.chunkCount && f.status[i] == .missing {
            f.status[i] = .done
            f.doneChunks += 1
            f.doneBytes += UInt64(f.layout.chunkLength(i))
        }
        f.queue = (0..<f.layout.chunkCount).filter { f.status[$0] == .missing }
        for (peer, p) in peers where p.models.contains(model) { f.holders.insert(peer) }
        fetches[model] = f
        order.append(model)
        stats.fetchesStarted += 1
        if f.doneChunks == f.layout.chunkCount { beginVerify(model, fx: &fx) }
        fx.append(.progress(report(f, now: now, rate: 0)))
        wantLinks(model, now: now, fx: &fx)
    }

    /// Ends an active fetch without the model.
    mutating func finish(_ model: Hash, _ failure: FetchFailure, fx: inout [FetchEffect]) {
        guard let f = fetches[model] else { return }
        for id in requests.keys.sorted() where requests[id]?.model == model { closeRequest(id, cancel: true, fx: &fx) }
        for i in f.assemblies.keys { bufferedBytes -= f.layout.chunkLength(i) }
        for i in f.status.indices where f.status[i] == .writing { bufferedBytes -= f.layout.chunkLength(i) }
        fetches[model] = nil
        order.removeAll { $0 == model }
        stats.fetchesFailed += 1
        fx.append(.failed(model: model, failure))
    }

    mutating func beginVerify(_ model: Hash, fx: inout [FetchEffect]) {
        guard let f = fetches[model] else { return }
        fetches[model]?.phase = .verifying
        fx.append(.verifyFile(model: model, size: f.layout.size, expected: model))
    }

    mutating func fileVerified(_ model: Hash, matches: Bool, now: Instant, fx: inout [FetchEffect]) {
        guard let f = fetches[model], f.phase == .verifying else { return }
        guard matches else { return finish(model, .modelHashMismatch, fx: &fx) }
        fx.append(.progress(report(f, now: now, rate: f.averageRate(now: now))))
        fetches[model] = nil
        order.removeAll { $0 == model }
        storedBytes &+= f.layout.size
        stats.fetchesCompleted += 1
        fx.append(.completed(model: model))
    }

    mutating func written(_ model: Hash, index: Int, now: Instant, fx: inout [FetchEffect]) {
        guard var f = fetches[model], index >= 0, index < f.layout.chunkCount, f.status[index] == .writing else { return }
        f.status[index] = .done
        f.doneChunks += 1
        let n = f.layout.chunkLength(index)
        f.doneBytes += UInt64(n)
        f.writingCount -= 1
        f.writingBytes -= UInt64(n)
        bufferedBytes -= n
        fetches[model] = f
        if f.doneChunks == f.layout.chunkCount { beginVerify(model, fx: &fx) }
    }

    // MARK: Peers

    /// Makes room for a new peer; false when the table is full of peers that matter.
    mutating func admitPeer(_ peer: NodeID) -> Bool {
        if peers.count < Limits.maxTransferPeers { peers[peer] = PeerState(); return true }
        stats.peersIgnored += 1
        return false
    }

    mutating func holdings(_ peer: NodeID, models: [Hash], fx: inout [FetchEffect]) {
        if peers[peer] == nil {
            if models.isEmpty || !admitPeer(peer) { return }
        }
        let now = Set(models.prefix(Limits.maxAnnouncedModels))
        let before = peers[peer]?.models ?? []
        peers[peer]?.models = now
        for m in before.subtracting(now).sorted() {
            fetches[m]?.holders.remove(peer)
            abandonChunks(of: peer, model: m, avoid: false, cancel: true, fx: &fx)
        }
        for m in now.subtracting(before) { fetches[m]?.holders.insert(peer) }
        forgetIfIdle(peer)
    }

    mutating func linkDown(_ peer: NodeID, fx: inout [FetchEffect]) {
        guard peers[peer] != nil else { return }
        peers[peer]?.linked = false
        abandonChunks(of: peer, avoid: false, cancel: false, fx: &fx)
        forgetIfIdle(peer)
    }

    /// Drops state about a peer that holds nothing, is not linked and has no bad record.
    mutating func forgetIfIdle(_ peer: NodeID) {
        guard let p = peers[peer], p.models.isEmpty, !p.linked, p.inFlight == 0, p.strikes == 0, p.bannedUntil == nil else { return }
        peers[peer] = nil
    }

    mutating func strike(_ peer: NodeID, reason: String, now: Instant, fx: inout [FetchEffect]) {
        if peers[peer] == nil, !admitPeer(peer) { return }
        guard var p = peers[peer], !p.banned(at: now) else { return }
        p.strikes += 1
        stats.strikes += 1
        fx.append(.peerPenalised(peer, reason: reason, strikes: p.strikes))
        if p.strikes >= config.maxStrikes {
            p.bannedUntil = now + config.banDuration
            stats.peersDropped += 1
            fx.append(.peerDropped(peer, reason: "\(p.strikes) strikes, last: \(reason)"))
            peers[peer] = p
            abandonChunks(of: peer, avoid: true, cancel: true, fx: &fx)
        } else {
            peers[peer] = p
        }
    }
}

/// Counters for metrics and tests.
public struct FetcherStats: Sendable, Equatable {
    public var fetchesStarted = 0, fetchesCompleted = 0, fetchesFailed = 0
    public var requestsSent = 0, refusals = 0, timeouts = 0
    public var chunksVerified = 0, chunksRetried = 0, badChunks = 0
    public var strikes = 0, peersDropped = 0, peersIgnored = 0
    public var piecesIgnored = 0, malformed = 0, gaps = 0
    public var bytesReceived: UInt64 = 0
}
