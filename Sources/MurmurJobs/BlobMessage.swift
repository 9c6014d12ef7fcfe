import MurmurCore

/// Fetching a job's bytes by hash from a peer that has them (Specs/node-jobs.md §7): outputs
/// too large to ride in their attestation (> `Limits.maxInlineOutputBytes`) are read from an
/// executor in chunks, each answer naming the hash, offset and total size. The receiver checks
/// the whole against the hash before using it.
public enum BlobMessage: Sendable, Equatable {
    /// Ask for `maxLength` bytes of the blob `hash` from `offset`.
    case request(hash: Hash, offset: UInt64, maxLength: UInt32)
    /// Bytes `offset ..< offset + bytes.count` of a blob of `total` bytes.
    case chunk(hash: Hash, offset: UInt64, total: UInt64, bytes: [UInt8])
    /// The peer does not have the blob (or not that range).
    case missing(hash: Hash)

    /// Message types inside `MessageType.jobsRange` (0x40…0x5F).
    public static let requestType: UInt8 = 0x40
    public static let chunkType: UInt8 = 0x41
    public static let missingType: UInt8 = 0x42

    public var type: UInt8 {
        switch self {
        case .request: return Self.requestType
        case .chunk: return Self.chunkType
        case .missing: return Self.missingType
        }
    }

    public var hash: Hash {
        switch self {
        case let .request(h, _, _), let .chunk(h, _, _, _), let .missing(h): return h
        }
    }

    public var payload: [UInt8] {
        var w = ByteWriter(capacity: 64)
        switch self {
        case let .request(hash, offset, maxLength):
            w.hash(hash); w.u64(offset); w.u32(maxLength)
        case let .chunk(hash, offset, total, bytes):
            w.hash(hash); w.u64(offset); w.u64(total); w.bytes32(bytes)
        case let .missing(hash):
            w.hash(hash)
        }
        return w.bytes
    }

    /// Decodes a payload of message type `type`; every length is bounded, the range checked.
    public init(type: UInt8, payload: [UInt8]) throws(DecodeError) {
        var r = ByteReader(payload)
        switch type {
        case Self.requestType:
            let hash = try r.hash(), offset = try r.u64(), maxLength = try r.u32()
            guard maxLength > 0, maxLength <= UInt32(Limits.maxBlobChunkBytes) else {
                throw .invalidValue(field: "max length", detail: "\(maxLength) not in 1…\(Limits.maxBlobChunkBytes)")
            }
            self = .request(hash: hash, offset: offset, maxLength: maxLength)
        case Self.chunkType:
            let hash = try r.hash(), offset = try r.u64(), total = try r.u64()
            let bytes = try r.bytes32(field: "chunk bytes", max: Limits.maxBlobChunkBytes)
            guard total <= UInt64(Limits.maxFetchedBlobBytes) else {
                throw .tooLarge(field: "blob size", limit: Limits.maxFetchedBlobBytes, actual: Int(clamping: total))
            }
            guard offset <= total, UInt64(bytes.count) <= total - offset else {
                throw .invalidValue(field: "chunk range", detail: "\(offset) + \(bytes.count) past \(total)")
            }
            self = .chunk(hash: hash, offset: offset, total: total, bytes: bytes)
        case Self.missingType:
            self = .missing(hash: try r.hash())
        default:
            throw .unknownTag(field: "jobs message type", tag: UInt64(type))
        }
        try r.expectEnd("jobs blob message")
    }
}

/// Reassembles one blob from chunks, in order, and checks it against its hash at the end.
public struct BlobAssembly: Sendable {
    public let hash: Hash
    public let total: UInt64
    public private(set) var bytes: [UInt8] = []

    public init(hash: Hash, total: UInt64) {
        self.hash = hash
        self.total = total
    }

    /// The next request to send, nil when complete.
    public var nextRequest: BlobMessage? {
        guard UInt64(bytes.count) < total else { return nil }
        let left = total - UInt64(bytes.count)
        return .request(hash: hash, offset: UInt64(bytes.count), maxLength: UInt32(min(left, UInt64(Limits.maxBlobChunkBytes))))
    }

    public enum Outcome: Sendable, Equatable {
        case more, complete, bad(String)
    }

    /// Takes the answer to `nextRequest`.
    public mutating func take(_ message: BlobMessage) -> Outcome {
        switch message {
        case .request: return .bad("unexpected request")
        case .missing: return .bad("peer does not have it")
        case let .chunk(h, offset, t, chunk):
            guard h == hash, t == total, offset == UInt64(bytes.count), !chunk.isEmpty || total == 0 else {
                return .bad("chunk out of order or for another size")
            }
            bytes += chunk
            guard UInt64(bytes.count) == total else { return .more }
            return Hash.of(bytes) == hash ? .complete : .bad("bytes do not hash to \(hash.short)")
        }
    }

    /// The chunk that answers `request` from a blob this node holds, or `missing`.
    public static func answer(_ request: BlobMessage, from blob: [UInt8]?) -> BlobMessage {
        guard case let .request(hash, offset, maxLength) = request, let blob, offset <= UInt64(blob.count) else {
            return .missing(hash: request.hash)
        }
        let start = Int(offset)
        let end = start + min(Int(maxLength), blob.count - start)
        return .chunk(hash: hash, offset: offset, total: UInt64(blob.count), bytes: Array(blob[start..<end]))
    }
}
