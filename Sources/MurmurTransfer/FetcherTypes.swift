import MurmurCore
import MurmurWire

/// Tunables of a fetcher (Specs/transfer.md, "Defaults"). `validated()` clamps every value into
/// the range `Limits` allows.
public struct FetcherConfig: Sendable, Equatable {
    /// Requests in flight to one peer (each ≤ `requestBytes`): 2 × 1 MiB stays well inside the
    /// transport's 4 MiB per-link write queue on the server's side.
    public var requestsPerPeer = 2
    /// Requests in flight, all peers and models together.
    public var requestsInFlight = 32
    /// Largest span one request asks for.
    public var requestBytes = Limits.maxTransferRequestBytes
    /// Chunks being assembled plus verified chunks waiting for the shell to write them.
    public var bufferedBytes = 64 * 1024 * 1024
    /// A request with no piece for this long is abandoned and its chunk asked of another peer.
    public var stallTimeout = TimeSpan.seconds(Int64(5))
    /// Strikes (chunks failing their hash, pieces outside their request, undecodable messages)
    /// after which a peer is dropped.
    public var maxStrikes = 2
    /// Answers with skipped pieces (possible, rarely, when a link is replaced mid-answer) that
    /// make one strike.
    public var gapsPerStrike = 4
    /// How long a dropped peer is ignored.
    public var banDuration = TimeSpan.seconds(Int64(3600))
    /// Back-off after a timeout: base × 2^(consecutive timeouts − 1), at most `timeoutBackoffMax`.
    public var timeoutBackoff = TimeSpan.seconds(Int64(1))
    public var timeoutBackoffMax = TimeSpan.seconds(Int64(30))
    /// A chunk whose bytes from this many distinct peers all fail its hash indicts the manifest,
    /// not the peers: the fetch fails with `manifestSuspect`.
    public var suspectManifestAfter = 3
    /// How often `progress` is reported per fetch.
    public var progressInterval = TimeSpan.seconds(Int64(1))
    /// Bytes of models (stored and being fetched) this node may keep on disk.
    public var diskBudgetBytes: UInt64 = Limits.maxManifestModelBytes * 4
    /// Models fetched at once.
    public var maxConcurrentFetches = 4
    /// A fetch with fewer usable linked holders than this asks the shell for links to more.
    public var targetSources = 4
    /// Least time between two `wantLink` for the same peer.
    public var wantLinkInterval = TimeSpan.seconds(Int64(10))

    public init() {}

    /// The configuration with every value clamped to what `Limits` allows.
    public func validated() -> FetcherConfig {
        var c = self
        c.requestsPerPeer = min(max(c.requestsPerPeer, 1), Limits.maxFetchRequestsPerPeer)
        c.requestsInFlight = min(max(c.requestsInFlight, 1), Limits.maxFetchRequestsInFlight)
        c.requestBytes = min(max(c.requestBytes, Limits.maxTransferPieceBytes), Limits.maxTransferRequestBytes)
        c.bufferedBytes = min(max(c.bufferedBytes, Limits.maxModelChunkBytes), Limits.maxFetchBufferedBytes)
        c.maxStrikes = max(c.maxStrikes, 1)
        c.gapsPerStrike = max(c.gapsPerStrike, 1)
        c.suspectManifestAfter = max(c.suspectManifestAfter, 2)
        c.maxConcurrentFetches = min(max(c.maxConcurrentFetches, 1), Limits.maxConcurrentFetches)
        c.targetSources = max(c.targetSources, 1)
        if c.stallTimeout <= .zero { c.stallTimeout = .seconds(Int64(5)) }
        if c.progressInterval <= .zero { c.progressInterval = .seconds(Int64(1)) }
        if c.timeoutBackoffMax < c.timeoutBackoff { c.timeoutBackoffMax = c.timeoutBackoff }
        return c
    }
}

/// What the shell tells a fetcher.
public enum FetchEvent: Sendable, Equatable {
    /// Fetch this model. `verifiedChunks` are chunks already on disk whose bytes the shell has
    /// checked against the manifest (resume after a restart; empty for a fresh fetch).
    case start(ModelManifest, verifiedChunks: Set<Int>)
    /// Stop fetching (answered with `failed(.cancelled)`).
    case cancel(model: Hash)
    /// The models `peer` announces (its latest valid `NodeAnnouncement`), replacing what it
    /// announced before; `[]` when its announcement expired or was withdrawn.
    case holdings(peer: NodeID, models: [Hash])
    case linkUp(NodeID)
    case linkDown(NodeID)
    /// A `piece` or `refusal` from a peer (requests and cancels go to the server).
    case message(from: NodeID, TransferMessage)
    /// A transfer message from `peer` that did not decode: counts as a strike.
    case malformed(from: NodeID, DecodeError)
    /// The shell wrote chunk `index` (as asked by `writeChunk`).
    case chunkWritten(model: Hash, index: Int)
    /// The shell could not write: the fetch fails with `diskError`.
    case writeFailed(model: Hash, index: Int, reason: String)
    /// The shell hashed the complete file (as asked by `verifyFile`): `matches` is whether the
    /// BLAKE2b-256 of all its bytes equals the manifest's model hash.
    case fileVerified(model: Hash, matches: Bool)
    /// Bytes of models already stored (counted against the disk budget).
    case storedBytes(UInt64)
    /// The timer set with `setTimer` is due (early or late calls are harmless).
    case timer
}

/// What a fetcher asks the shell to do.
public enum FetchEffect: Sendable, Equatable {
    case send(to: NodeID, TransferMessage)
    /// Write `bytes` (chunk `index`, already checked against the manifest's chunk hash) at
    /// `offset` of the model's partial file; answer `chunkWritten` or `writeFailed`.
    case writeChunk(model: Hash, index: Int, offset: UInt64, bytes: [UInt8])
    /// Every chunk is written: hash the whole partial file (`size` bytes) and answer
    /// `fileVerified(model:matches:)` comparing it to `expected`.
    case verifyFile(model: Hash, size: UInt64, expected: Hash)
    /// The model is complete and verified: move it to `models/<hash>` and announce it.
    case completed(model: Hash)
    /// A `start` that did not begin (nothing was written for it by this start).
    case refused(model: Hash, FetchRefusal)
    /// An active fetch ended without the model. Delete the partial file when
    /// `reason.discardsPartial`; otherwise it may be resumed later.
    case failed(model: Hash, FetchFailure)
    /// For stderr: one line per fetch per `progressInterval`, and one at the end.
    case progress(FetchProgress)
    /// `peer` sent something wrong (strike `strikes` of `maxStrikes`).
    case peerPenalised(NodeID, reason: String, strikes: Int)
    /// `peer` is ignored for `banDuration` (persist it as local reputation if you like).
    case peerDropped(NodeID, reason: String)
    /// A fetch needs more sources: open a link to `peer` if you can (addresses from its
    /// announcement); `linkUp` makes it usable.
    case wantLink(NodeID)
    /// Deliver `.timer` at `at` (replaces the previous timer).
    case setTimer(at: Instant)
}

/// Why a `start` was refused.
public enum FetchRefusal: Sendable, Equatable, CustomStringConvertible {
    case alreadyFetching
    case tooManyFetches(limit: Int)
    case overDiskBudget(needed: UInt64, available: UInt64)
    case invalidManifest(String)

    public var description: String {
        switch self {
        case .alreadyFetching: return "already being fetched"
        case let .tooManyFetches(limit): return "\(limit) fetches already running"
        case let .overDiskBudget(needed, available):
            return "needs \(needed) bytes of disk, only \(available) left in the budget (raise the disk cap)"
        case let .invalidManifest(why): return "invalid manifest: \(why)"
        }
    }
}

/// Why an active fetch ended without the model.
public enum FetchFailure: Sendable, Equatable, CustomStringConvertible {
    case cancelled
    /// Every chunk matched its hash but the whole file does not match the model hash: the
    /// manifest is inconsistent (or the disk corrupted the file).
    case modelHashMismatch
    /// Chunk `index` failed its hash from `peers` distinct peers: the manifest is suspect.
    case manifestSuspect(chunk: Int, peers: Int)
    case diskError(String)

    /// Whether the partial file must be deleted (its chunks cannot be trusted or reused).
    public var discardsPartial: Bool {
        switch self {
        case .cancelled, .diskError: return false
        case .modelHashMismatch, .manifestSuspect: return true
        }
    }

    public var description: String {
        switch self {
        case .cancelled: return "cancelled"
        case .modelHashMismatch: return "the assembled file does not hash to the model hash (manifest inconsistent or disk corruption)"
        case let .manifestSuspect(chunk, peers): return "chunk \(chunk) failed its hash from \(peers) different peers: the manifest is suspect"
        case let .diskError(why): return "disk error: \(why)"
        }
    }
}

/// A progress report for one fetch.
public struct FetchProgress: Sendable, Equatable, CustomStringConvertible {
    public var model: Hash
    public var name: String
    public var chunksDone: Int
    public var chunksTotal: Int
    /// Bytes verified against their chunk hashes (written or being written).
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    /// Verified bytes per second over the last interval.
    public var bytesPerSecond: Double
    /// Usable linked peers announcing the model.
    public var sources: Int
    public var elapsed: TimeSpan

    public var description: String {
        let pct = bytesTotal == 0 ? 100 : Double(bytesDone) * 100 / Double(bytesTotal)
        let mib = { (b: Double) in String(Int((min(max(b.isFinite ? b : 0, 0), 1e15) / 1_048_576 * 10).rounded())).tenths }
        return "fetch \(model.short) \(name): \(chunksDone)/\(chunksTotal) chunks, \(mib(Double(bytesDone)))/\(mib(Double(bytesTotal))) MiB (\(Int(pct))%), \(mib(bytesPerSecond)) MiB/s from \(sources) peer\(sources == 1 ? "" : "s")"
    }
}

extension String {
    /// "123" (tenths) → "12.3".
    fileprivate var tenths: String {
        let padded = count < 2 ? String(repeating: "0", count: 2 - count) + self : self
        return String(padded.dropLast()) + "." + String(padded.suffix(1))
    }
}
