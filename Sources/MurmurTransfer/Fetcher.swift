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
    public private(set) var stats = FetcherStats()

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

    // MARK: Messages

    mutating func receive(_ message: TransferMessage, from peer: NodeID, now: Instant, fx: inout [FetchEffect]) {
        switch message {
        case let .piece(piece): receive(piece, from: peer, now: now, fx: &fx)
        case let .refusal(refusal): receive(refusal, from: peer, now: now, fx: &fx)
        case .request, .cancel: return   // the server's
        }
    }

    mutating func receive(_ piece: ChunkPiece, from peer: NodeID, now: Instant, fx: inout [FetchEffect]) {
        guard var r = requests[piece.requestID], r.peer == peer else {
            stats.piecesIgnored += 1   // late answer to a request we gave up on
            return
        }
        let expected = r.offset + r.received
        let start = Int(piece.offset), end = start + piece.data.count
        guard piece.modelHash == r.model, Int(piece.chunkIndex) == r.chunk, start >= expected, end <= r.offset + r.length else {
            return strike(peer, reason: "piece outside its request (chunk \(piece.chunkIndex) bytes \(start)..<\(end), expected chunk \(r.chunk) from \(expected))", now: now, fx: &fx)
        }
        if start > expected {
            // A gap: pieces were lost (a link was replaced mid-answer). Not held against the
            // peer, but the chunk is asked again, of someone else first.
            // Every `gapsPerStrike`-th gap from one peer is a strike, so a peer cannot use
            // gaps to waste our requests for free.
            stats.gaps += 1
            abandon(r.model, chunk: r.chunk, avoid: peer, cancel: true, fx: &fx)
            peers[peer]?.gaps += 1
            if let g = peers[peer]?.gaps, g % config.gapsPerStrike == 0 {
                strike(peer, reason: "\(g) answers with missing pieces", now: now, fx: &fx)
            }
            return
        }
        // Taken out of the table so that the buffer is uniquely referenced and filled in place
        // (copying a 1 MiB buffer per 60 KiB piece would cost 17× the transfer itself).
        guard var a = fetches[r.model]?.assemblies.removeValue(forKey: r.chunk) else { return }
        a.buffer.withUnsafeMutableBufferPointer { dst in
            piece.data.withUnsafeBufferPointer { src in
                guard let d = dst.baseAddress, let s = src.baseAddress else { return }
                (d + expected).update(from: s, count: src.count)
            }
        }
        a.received += piece.data.count
        r.received += piece.data.count
        r.lastProgress = now
        stats.bytesReceived += UInt64(piece.data.count)
        peers[peer]?.consecutiveTimeouts = 0
        if r.received == r.length {
            closeRequest(piece.requestID, cancel: false, fx: &fx)
            a.openRequests -= 1
        } else {
            requests[piece.requestID] = r
        }
        guard let layout = fetches[r.model]?.layout else { return }
        let index = r.chunk
        let length = layout.chunkLength(index)
        guard a.received == length else {
            fetches[r.model]?.assemblies[index] = a
            return
        }
        // The chunk is complete: check it against the manifest before anything is written.
        if Hash.of(a.buffer) == fetches[r.model]?.manifest.chunkHashes[index] {
            fetches[r.model]?.chunkVerified(index, length: length)
            stats.chunksVerified += 1
            fx.append(.writeChunk(model: r.model, index: index, offset: layout.fileOffset(index), bytes: a.buffer))
            return
        }
        bufferedBytes -= length
        stats.badChunks += 1
        let bad = fetches[r.model]?.chunkFailedHash(index, from: peer) ?? 0
        if bad >= config.suspectManifestAfter {
            return finish(r.model, .manifestSuspect(chunk: index, peers: bad), fx: &fx)
        }
        strike(peer, reason: "chunk \(index) of \(r.model.short) does not match its hash", now: now, fx: &fx)
    }

    mutating func receive(_ refusal: ChunkRefusal, from peer: NodeID, now: Instant, fx: inout [FetchEffect]) {
        guard let r = requests[refusal.requestID], r.peer == peer else { stats.piecesIgnored += 1; return }
        stats.refusals += 1
        closeRequest(refusal.requestID, cancel: false, fx: &fx)
        switch refusal.reason {
        case .busy:
            let wait = TimeSpan.milliseconds(Int64(refusal.retryAfterMs))
            if var p = peers[peer] { p.notBefore = max(p.notBefore, now + wait); peers[peer] = p }
        case .notHeld, .badRequest, .unavailable:
            // It does not (or no longer) serve this model: stop asking until it announces again.
            peers[peer]?.models.remove(r.model)
            fetches[r.model]?.holders.remove(peer)
            abandonChunks(of: peer, model: r.model, avoid: true, cancel: true, fx: &fx)
        }
        abandon(r.model, chunk: r.chunk, avoid: refusal.reason == .busy ? nil : peer, cancel: false, fx: &fx)
    }

    // MARK: Requests

    /// Gives up on a chunk being assembled: closes its open requests (telling the peer when
    /// `cancel`), frees its buffer and puts it at the front of the queue.
    mutating func abandon(_ model: Hash, chunk: Int, avoid: NodeID?, cancel: Bool, fx: inout [FetchEffect]) {
        guard var f = fetches[model], let a = f.assemblies[chunk] else { return }
        for id in requests.keys.sorted() where requests[id]?.model == model && requests[id]?.chunk == chunk {
            closeRequest(id, cancel: cancel, fx: &fx)
        }
        f.assemblies[chunk] = nil
        bufferedBytes -= a.buffer.count
        f.status[chunk] = .missing
        f.retry.append(chunk)
        if let avoid { f.avoid[chunk, default: []].insert(avoid) }
        fetches[model] = f
        stats.chunksRetried += 1
    }

    /// Abandons every chunk `peer` is assembling (for `model`, or for every model): its link
    /// went down, it was dropped, or it no longer serves the model.
    mutating func abandonChunks(of peer: NodeID, model: Hash? = nil, avoid: Bool, cancel: Bool, fx: inout [FetchEffect]) {
        for m in order where model == nil || m == model {
            guard let f = fetches[m] else { continue }
            for i in f.assemblies.keys.sorted() where f.assemblies[i]?.peer == peer {
                abandon(m, chunk: i, avoid: avoid ? peer : nil, cancel: cancel, fx: &fx)
            }
        }
    }

    mutating func closeRequest(_ id: UInt32, cancel: Bool, fx: inout [FetchEffect]) {
        guard let r = requests.removeValue(forKey: id) else { return }
        peers[r.peer]?.inFlight -= 1
        if cancel, peers[r.peer]?.linked == true { fx.append(.send(to: r.peer, .cancel(ChunkCancel(requestID: id)))) }
    }

    mutating func issue(_ model: Hash, chunk: Int, peer: NodeID, now: Instant, fx: inout [FetchEffect]) {
        guard var f = fetches[model], var a = f.assemblies[chunk] else { return }
        let length = min(config.requestBytes, a.buffer.count - a.nextOffset)
        precondition(length > 0, "nothing left to request")
        while requests[nextRequestID] != nil || nextRequestID == 0 { nextRequestID &+= 1 }
        let id = nextRequestID
        nextRequestID &+= 1
        requests[id] = OpenRequest(model: model, chunk: chunk, peer: peer, offset: a.nextOffset, length: length, lastProgress: now)
        a.nextOffset += length
        a.openRequests += 1
        f.assemblies[chunk] = a
        fetches[model] = f
        peers[peer]?.inFlight += 1
        stats.requestsSent += 1
        fx.append(.send(to: peer, .request(ChunkRequest(requestID: id, modelHash: model, chunkIndex: UInt32(chunk),
                                                         offset: UInt32(a.nextOffset - length), length: UInt32(length)))))
    }

    /// Issues requests until a limit is reached or nothing more can be asked for now.
    mutating func pump(now: Instant, fx: inout [FetchEffect]) {
        var progressed = true
        while progressed && requests.count < config.requestsInFlight {
            progressed = false
            for model in order where requests.count < config.requestsInFlight {
                if fillOnce(model, now: now, fx: &fx) { progressed = true }
            }
        }
    }

    /// One more request for `model`: the next part of a chunk being assembled, else a new chunk.
    mutating func fillOnce(_ model: Hash, now: Instant, fx: inout [FetchEffect]) -> Bool {
        guard var f = fetches[model], f.phase == .fetching else { return false }
        for index in f.assemblies.keys.sorted() {
            guard let a = f.assemblies[index], a.nextOffset < a.buffer.count else { continue }
            if let p = peers[a.peer], p.usable(at: now), p.inFlight < config.requestsPerPeer {
                issue(model, chunk: index, peer: a.peer, now: now, fx: &fx)
                return true
            }
        }
        guard let index = f.nextChunk() else { return false }
        let length = f.layout.chunkLength(index)
        guard bufferedBytes + length <= config.bufferedBytes else { return false }
        guard let peer = choosePeer(f, chunk: index, now: now) else { return false }
        f.takeChunk(index)
        f.status[index] = .assembling
        f.assemblies[index] = ChunkAssembly(peer: peer, buffer: [UInt8](repeating: 0, count: length))
        fetches[model] = f
        bufferedBytes += length
        issue(model, chunk: index, peer: peer, now: now, fx: &fx)
        return true
    }

    /// The least-loaded usable holder, preferring peers that have not failed this chunk;
    /// ties broken by the seeded generator.
    mutating func choosePeer(_ f: ModelFetch, chunk: Int, now: Instant) -> NodeID? {
        let avoid = f.avoid[chunk] ?? []
        var best: [NodeID] = []
        var bestKey = (Int.max, Int.max)
        for peer in f.holders.sorted() {
            guard let p = peers[peer], p.usable(at: now), p.inFlight < config.requestsPerPeer else { continue }
            let key = (avoid.contains(peer) ? 1 : 0, p.inFlight)
            if key < bestKey { bestKey = key; best = [peer] } else if key == bestKey { best.append(peer) }
        }
        guard !best.isEmpty else { return nil }
        return best[Int(rng.next() % UInt64(best.count))]
    }

    // MARK: Time

    mutating func timer(now: Instant, fx: inout [FetchEffect]) {
        for id in requests.keys.sorted() {
            guard let r = requests[id], now - r.lastProgress >= config.stallTimeout else { continue }
            stats.timeouts += 1
            if var p = peers[r.peer] {
                p.consecutiveTimeouts += 1
                var backoff = config.timeoutBackoff
                for _ in 1..<min(p.consecutiveTimeouts, 16) where backoff < config.timeoutBackoffMax { backoff = backoff * Int64(2) }
                p.notBefore = max(p.notBefore, now + min(backoff, config.timeoutBackoffMax))
                peers[r.peer] = p
            }
            abandon(r.model, chunk: r.chunk, avoid: r.peer, cancel: true, fx: &fx)
        }
        for (peer, p) in peers where p.bannedUntil.map({ $0 <= now }) == true {
            peers[peer]?.bannedUntil = nil
            peers[peer]?.strikes = 0
            peers[peer]?.gaps = 0
        }
        for model in order {
            guard var f = fetches[model], f.nextReport <= now else { continue }
            let rate = (now - f.lastReport).seconds > 0 ? Double(f.verifiedBytes &- f.reportedBytes) / (now - f.lastReport).seconds : 0
            f.reportedBytes = f.verifiedBytes
            f.lastReport = now
            f.nextReport = now + config.progressInterval
            fetches[model] = f
            if f.phase == .fetching { fx.append(.progress(report(f, now: now, rate: rate))) }
            wantLinks(model, now: now, fx: &fx)
        }
    }

    /// Asks for links to announced holders when too few linked ones are usable.
    mutating func wantLinks(_ model: Hash, now: Instant, fx: inout [FetchEffect]) {
        guard let f = fetches[model], f.phase == .fetching else { return }
        var linked = 0
        var unlinked: [NodeID] = []
        for peer in f.holders.sorted() {
            guard let p = peers[peer], !p.banned(at: now) else { continue }
            if p.linked { linked += 1 } else if p.lastWantLink.map({ now - $0 >= config.wantLinkInterval }) ?? true { unlinked.append(peer) }
        }
        for peer in unlinked.prefix(max(0, config.targetSources - linked)) {
            peers[peer]?.lastWantLink = now
            fx.append(.wantLink(peer))
        }
    }

    /// Sets the timer to the earliest moment something is due: a stall, a report, a back-off
    /// or ban ending while a fetch waits for peers.
    mutating func schedule(now: Instant, fx: inout [FetchEffect]) {
        var next: Instant?
        func consider(_ t: Instant) { if next.map({ t < $0 }) ?? true { next = t } }
        for r in requests.values { consider(r.lastProgress + config.stallTimeout) }
        for model in order { if let f = fetches[model], f.phase == .fetching { consider(f.nextReport) } }
        for model in order {
            guard let f = fetches[model], f.phase == .fetching else { continue }
            for peer in f.holders {
                guard let p = peers[peer] else { continue }
                if p.notBefore > now { consider(p.notBefore) }
                if let b = p.bannedUntil, b > now { consider(b) }
            }
        }
        guard let at = next.map({ max($0, now) }), at != timerAt else { return }
        timerAt = at
        fx.append(.setTimer(at: at))
    }

    func report(_ f: ModelFetch, now: Instant, rate: Double) -> FetchProgress {
        let sources = f.holders.filter { peers[$0]?.usable(at: now) == true }.count
        return FetchProgress(model: f.layout.modelHash, name: f.manifest.name, chunksDone: f.doneChunks + f.writingCount,
                             chunksTotal: f.layout.chunkCount, bytesDone: f.doneBytes + f.writingBytes, bytesTotal: f.layout.size,
                             bytesPerSecond: rate, sources: sources, elapsed: now - f.startedAt)
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
