import MurmurCore
import MurmurWire

/// Tunables of a server (Specs/transfer.md, "Server").
public struct ServerConfig: Sendable, Equatable {
    /// Reads outstanding (asked of the shell, not yet answered) for one peer.
    public var readsPerPeer = 4
    /// Reads outstanding, all peers together.
    public var readsInFlight = 64
    /// Sustained bytes per second served to one peer (token bucket) …
    public var bytesPerSecondPerPeer: UInt64 = 512 * 1024 * 1024
    /// … and the burst it may take at once (≥ one request).
    public var burstBytesPerPeer: UInt64 = 8 * 1024 * 1024
    /// `retryAfterMs` sent with `busy` when a read limit (not the rate) is hit.
    public var busyRetryMs: UInt32 = 200
    /// Bytes per piece (≤ `Limits.maxTransferPieceBytes`).
    public var pieceBytes = Limits.maxTransferPieceBytes

    public init() {}

    public func validated() -> ServerConfig {
        var c = self
        c.readsPerPeer = min(max(c.readsPerPeer, 1), Limits.maxServeReadsPerPeer)
        c.readsInFlight = min(max(c.readsInFlight, 1), Limits.maxServeReadsInFlight)
        // Bounded well below overflow of the token arithmetic (1 PiB/s is "unlimited").
        c.bytesPerSecondPerPeer = min(max(c.bytesPerSecondPerPeer, 1), 1 << 50)
        c.burstBytesPerPeer = min(max(c.burstBytesPerPeer, UInt64(Limits.maxTransferRequestBytes)), 1 << 50)
        c.busyRetryMs = min(max(c.busyRetryMs, 1), Limits.maxTransferRetryAfterMs)
        c.pieceBytes = min(max(c.pieceBytes, 1), Limits.maxTransferPieceBytes)
        return c
    }
}

/// What the shell tells a server.
public enum ServeEvent: Sendable, Equatable {
    /// Serve this model: its file `models/<hash>` is complete and verified.
    case serve(ModelManifest)
    case stopServing(model: Hash)
    /// A `request` or `cancel` from a peer (pieces and refusals go to the fetcher).
    case message(from: NodeID, TransferMessage)
    /// The bytes asked for by `read(ticket:…)`, exactly `length` of them.
    case readCompleted(ticket: UInt64, bytes: [UInt8])
    case readFailed(ticket: UInt64, reason: String)
    case linkDown(NodeID)
}

/// What a server asks the shell to do.
public enum ServeEffect: Sendable, Equatable {
    case send(to: NodeID, TransferMessage)
    /// Read `length` bytes at `offset` of `models/<model>`; answer `readCompleted` or `readFailed`.
    case read(ticket: UInt64, model: Hash, offset: UInt64, length: Int)
    /// A read failed: the model should no longer be announced (it was removed from serving).
    case unservable(model: Hash, reason: String)
}

/// The holder side of model transfer: validates requests against the manifest and its limits,
/// has the shell read the bytes, and sends them back in pieces. Pure; time is injected (for
/// the per-peer token bucket).
public struct Server: Sendable {
    public let config: ServerConfig
    var served: [Hash: ModelLayout] = [:]
    var peers: [NodeID: ServePeer] = [:]
    var reads: [UInt64: PendingRead] = [:]
    var nextTicket: UInt64 = 1
    public private(set) var stats = ServerStats()

    struct ServePeer: Sendable {
        var reads = 0
        var tokens: UInt64
        var refilledAt: Instant
        /// requestID → ticket, for cancels.
        var tickets: [UInt32: UInt64] = [:]
    }

    struct PendingRead: Sendable {
        let peer: NodeID
        let request: ChunkRequest
        var cancelled = false
    }

    public init(config: ServerConfig = ServerConfig()) { self.config = config.validated() }

    public var servedModels: [Hash] { served.keys.sorted() }
    public var readsInFlight: Int { reads.count }
    public func readsInFlight(for peer: NodeID) -> Int { peers[peer]?.reads ?? 0 }

    public mutating func handle(_ event: ServeEvent, now: Instant) -> [ServeEffect] {
        var fx: [ServeEffect] = []
        switch event {
        case let .serve(manifest):
            if served[manifest.modelHash] == nil, served.count >= Limits.maxServedModels { stats.overServeLimit += 1; break }
            served[manifest.modelHash] = ModelLayout(manifest)
        case let .stopServing(model): served[model] = nil
        case let .message(peer, .request(request)): receive(request, from: peer, now: now, fx: &fx)
        case let .message(peer, .cancel(cancel)):
            if let ticket = peers[peer]?.tickets[cancel.requestID] {
                reads[ticket]?.cancelled = true
                stats.cancels += 1
            }
        case .message: break   // pieces and refusals are the fetcher's
        case let .readCompleted(ticket, bytes): completed(ticket, bytes: bytes, fx: &fx)
        case let .readFailed(ticket, reason): failed(ticket, reason: reason, fx: &fx)
        case let .linkDown(peer):
            for ticket in peers[peer]?.tickets.values.sorted() ?? [] { reads[ticket]?.cancelled = true }
            if peers[peer]?.reads == 0 { peers[peer] = nil }
        }
        return fx
    }

    /// Checks a request against what is served and the limits; on success asks for the read.
    mutating func receive(_ request: ChunkRequest, from peer: NodeID, now: Instant, fx: inout [ServeEffect]) {
        stats.requests += 1
        func refuse(_ reason: RefusalReason, retryMs: UInt32 = 0) {
            stats.refused[reason, default: 0] += 1
            fx.append(.send(to: peer, .refusal(ChunkRefusal(requestID: request.requestID, modelHash: request.modelHash,
                                                            chunkIndex: request.chunkIndex, reason: reason, retryAfterMs: retryMs))))
        }
        guard let layout = served[request.modelHash] else { return refuse(.notHeld) }
        guard layout.contains(chunk: Int(request.chunkIndex), offset: Int(request.offset), length: Int(request.length)) else {
            return refuse(.badRequest)
        }
        if peers[peer] == nil {
            if peers.count >= Limits.maxTransferPeers { sweepIdlePeers(now: now) }
            if peers.count >= Limits.maxTransferPeers { return refuse(.busy, retryMs: config.busyRetryMs) }
            peers[peer] = ServePeer(tokens: config.burstBytesPerPeer, refilledAt: now)
        }
        guard var p = peers[peer] else { return }
        if p.tickets[request.requestID] != nil { return refuse(.badRequest) }   // id already in use
        if p.reads >= config.readsPerPeer || reads.count >= config.readsInFlight {
            return refuse(.busy, retryMs: config.busyRetryMs)
        }
        refill(&p, now: now)
        let cost = UInt64(request.length)
        if p.tokens < cost {
            peers[peer] = p
            let waitMs = ((cost - p.tokens) * 1000 + config.bytesPerSecondPerPeer - 1) / config.bytesPerSecondPerPeer
            return refuse(.busy, retryMs: UInt32(min(max(waitMs, 1), UInt64(Limits.maxTransferRetryAfterMs))))
        }
        p.tokens -= cost
        let ticket = nextTicket
        nextTicket &+= 1
        p.reads += 1
        p.tickets[request.requestID] = ticket
        peers[peer] = p
        reads[ticket] = PendingRead(peer: peer, request: request)
        fx.append(.read(ticket: ticket, model: request.modelHash,
                        offset: layout.fileOffset(Int(request.chunkIndex)) + UInt64(request.offset), length: Int(request.length)))
    }

    mutating func completed(_ ticket: UInt64, bytes: [UInt8], fx: inout [ServeEffect]) {
        guard let read = release(ticket) else { return }
        let r = read.request
        if read.cancelled { return }
        guard bytes.count == Int(r.length) else {
            return failedRead(read, reason: "short read: \(bytes.count) of \(r.length) bytes", fx: &fx)
        }
        var offset = 0
        while offset < bytes.count {
            let n = min(config.pieceBytes, bytes.count - offset)
            fx.append(.send(to: read.peer, .piece(ChunkPiece(requestID: r.requestID, modelHash: r.modelHash, chunkIndex: r.chunkIndex,
                                                              offset: r.offset + UInt32(offset), data: Array(bytes[offset..<offset + n])))))
            offset += n
            stats.piecesSent += 1
        }
        stats.bytesServed += UInt64(bytes.count)
    }

    mutating func failed(_ ticket: UInt64, reason: String, fx: inout [ServeEffect]) {
        guard let read = release(ticket) else { return }
        failedRead(read, reason: reason, fx: &fx)
    }

    mutating func failedRead(_ read: PendingRead, reason: String, fx: inout [ServeEffect]) {
        let r = read.request
        stats.readFailures += 1
        if !read.cancelled {
            stats.refused[.unavailable, default: 0] += 1
            fx.append(.send(to: read.peer, .refusal(ChunkRefusal(requestID: r.requestID, modelHash: r.modelHash,
                                                                 chunkIndex: r.chunkIndex, reason: .unavailable))))
        }
        if served.removeValue(forKey: r.modelHash) != nil {
            fx.append(.unservable(model: r.modelHash, reason: reason))
        }
    }

    /// Forgets a finished read; returns it.
    mutating func release(_ ticket: UInt64) -> PendingRead? {
        guard let read = reads.removeValue(forKey: ticket) else { return nil }
        if var p = peers[read.peer] {
            p.reads -= 1
            p.tickets[read.request.requestID] = nil
            peers[read.peer] = p
        }
        return read
    }

    func refill(_ p: inout ServePeer, now: Instant) {
        let elapsed = now - p.refilledAt
        guard elapsed > .zero else { return }
        let add = UInt64(min(elapsed.seconds * Double(config.bytesPerSecondPerPeer), Double(config.burstBytesPerPeer)))
        p.tokens = min(config.burstBytesPerPeer, p.tokens + add)
        p.refilledAt = now
    }

    /// Drops peers with no reads whose bucket is full again (forgetting them loses nothing).
    mutating func sweepIdlePeers(now: Instant) {
        for (peer, var p) in peers where p.reads == 0 {
            refill(&p, now: now)
            if p.tokens >= config.burstBytesPerPeer { peers[peer] = nil }
        }
    }
}

public struct ServerStats: Sendable, Equatable {
    public var requests = 0, piecesSent = 0, cancels = 0, readFailures = 0, overServeLimit = 0
    public var refused: [RefusalReason: Int] = [:]
    public var bytesServed: UInt64 = 0
}
