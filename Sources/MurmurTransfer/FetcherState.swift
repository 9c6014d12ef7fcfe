import MurmurCore
import MurmurWire

enum ChunkStatus: UInt8, Sendable, Equatable {
    /// Not on disk, nobody asked.
    case missing
    /// Requests out; bytes arriving into an assembly buffer.
    case assembling
    /// Verified against its hash; the shell is writing it.
    case writing
    /// Written (or verified on disk before a resume).
    case done
}

/// One model being fetched.
struct ModelFetch: Sendable {
    enum Phase: Sendable, Equatable { case fetching, verifying }

    let manifest: ModelManifest
    let layout: ModelLayout
    var phase = Phase.fetching
    var status: [ChunkStatus]
    /// Missing chunks in ascending order; `queueHead` is the next to take.
    var queue: [Int] = []
    var queueHead = 0
    /// Chunks that failed and go before the queue.
    var retry: [Int] = []
    var assemblies: [Int: ChunkAssembly] = [:]
    /// Peers that failed a chunk (timeout, refusal, bad data): asked again only when no one else can.
    var avoid: [Int: Set<NodeID>] = [:]
    /// Peers whose bytes for a chunk failed its hash.
    var badHash: [Int: Set<NodeID>] = [:]
    /// Announcing peers (usable or not).
    var holders: Set<NodeID> = []
    var doneChunks = 0
    var doneBytes: UInt64 = 0
    var writingCount = 0
    var writingBytes: UInt64 = 0
    /// Bytes verified since the start of this fetch (not counting resumed chunks): for rates.
    var verifiedBytes: UInt64 = 0
    var reportedBytes: UInt64 = 0
    let startedAt: Instant
    var lastReport: Instant
    var nextReport: Instant

    init(manifest: ModelManifest, now: Instant, reportEvery: TimeSpan) {
        self.manifest = manifest
        self.layout = ModelLayout(manifest)
        self.status = Array(repeating: .missing, count: layout.chunkCount)
        self.startedAt = now
        self.lastReport = now
        self.nextReport = now + reportEvery
    }

    /// The next chunk to ask for: failed ones first, then the lowest missing one.
    func nextChunk() -> Int? {
        for i in retry where status[i] == .missing { return i }
        var h = queueHead
        while h < queue.count {
            if status[queue[h]] == .missing { return queue[h] }
            h += 1
        }
        return nil
    }

    /// Removes `index` (as returned by `nextChunk`) from the retry list or the queue.
    mutating func takeChunk(_ index: Int) {
        if let k = retry.firstIndex(of: index) { retry.remove(at: k); return }
        while queueHead < queue.count, status[queue[queueHead]] != .missing || queue[queueHead] == index {
            let taken = queue[queueHead] == index
            queueHead += 1
            if taken { return }
        }
    }

    /// Chunk `index` matched its hash and goes to the shell to be written.
    mutating func chunkVerified(_ index: Int, length: Int) {
        status[index] = .writing
        verifiedBytes += UInt64(length)
        writingCount += 1
        writingBytes += UInt64(length)
        badHash[index] = nil
    }

    /// Chunk `index` from `peer` failed its hash: back to the queue (others first). Returns how
    /// many distinct peers have now sent bytes for it that failed.
    mutating func chunkFailedHash(_ index: Int, from peer: NodeID) -> Int {
        badHash[index, default: []].insert(peer)
        avoid[index, default: []].insert(peer)
        status[index] = .missing
        retry.append(index)
        return badHash[index]?.count ?? 0
    }

    func averageRate(now: Instant) -> Double {
        let s = (now - startedAt).seconds
        return s > 0 ? Double(verifiedBytes) / s : 0
    }
}

/// A chunk being assembled from one peer's pieces.
struct ChunkAssembly: Sendable {
    let peer: NodeID
    var buffer: [UInt8]
    /// Next byte of the chunk not yet requested.
    var nextOffset = 0
    /// Bytes received so far.
    var received = 0
    var openRequests = 0

    init(peer: NodeID, buffer: [UInt8]) { self.peer = peer; self.buffer = buffer }
}

struct OpenRequest: Sendable {
    let model: Hash
    let chunk: Int
    let peer: NodeID
    let offset: Int
    let length: Int
    var received = 0
    var lastProgress: Instant

    init(model: Hash, chunk: Int, peer: NodeID, offset: Int, length: Int, lastProgress: Instant) {
        self.model = model; self.chunk = chunk; self.peer = peer; self.offset = offset; self.length = length
        self.lastProgress = lastProgress
    }
}

/// What a fetcher knows about one peer.
struct PeerState: Sendable {
    var models: Set<Hash> = []
    var linked = false
    var inFlight = 0
    var strikes = 0
    var consecutiveTimeouts = 0
    /// Answers whose pieces skipped bytes (`gapsPerStrike` of them make a strike).
    var gaps = 0
    /// Not asked before this (busy refusal, timeout back-off).
    var notBefore = Instant(nanoseconds: .min)
    var bannedUntil: Instant?
    var lastWantLink: Instant?

    func banned(at now: Instant) -> Bool { bannedUntil.map { now < $0 } ?? false }
    func usable(at now: Instant) -> Bool { linked && !banned(at: now) && notBefore <= now }
}
