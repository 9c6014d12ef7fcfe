import MurmurCore

/// Maxima of model transfer (Specs/transfer.md, "Limits"). Configurations (`FetcherConfig`,
/// `ServerConfig`) choose values at or below these; decoders check against them.
extension Limits {
    /// Largest `data` in one `ChunkPiece` (60 KiB): the piece message (48 header bytes + data)
    /// fits one message of ≤ 65 531 payload bytes, i.e. one 64 KiB frame.
    public static let maxTransferPieceBytes = 60 * 1024
    /// Largest span one `ChunkRequest` may ask for (1 MiB); a larger chunk is asked for in parts.
    public static let maxTransferRequestBytes = 1024 * 1024
    /// Longest `retryAfterMs` a `Busy` refusal may carry.
    public static let maxTransferRetryAfterMs: UInt32 = 60_000

    /// Models a fetcher works on at once.
    public static let maxConcurrentFetches = 16
    /// Requests in flight from one fetcher, all peers together.
    public static let maxFetchRequestsInFlight = 256
    /// Requests in flight from one fetcher to one peer.
    public static let maxFetchRequestsPerPeer = 16
    /// Bytes a fetcher holds in memory: chunks being assembled plus verified chunks waiting to be
    /// written (must be ≥ `maxModelChunkBytes` so that any manifest can be fetched).
    public static let maxFetchBufferedBytes = 256 * 1024 * 1024
    /// Peers a fetcher or server keeps state for (announcements of others are ignored).
    public static let maxTransferPeers = 4096

    /// Models one server serves.
    public static let maxServedModels = 256
    /// Reads a server has outstanding (asked of the shell, not yet answered), all peers together.
    public static let maxServeReadsInFlight = 256
    /// Reads a server has outstanding for one peer.
    public static let maxServeReadsPerPeer = 16
}
