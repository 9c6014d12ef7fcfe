import MurmurCore
import MurmurWire

/// Answers from peers and the requests that ask for chunks (Specs/transfer.md, "Scheduling",
/// "Checking a chunk").
extension Fetcher {
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
}
