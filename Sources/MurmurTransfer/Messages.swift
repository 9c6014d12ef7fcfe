import MurmurCore

/// Message type numbers of model transfer, inside the range the transport reserves for it
/// (0x60–0x6F, Specs/transport.md). 0x64–0x6F are reserved for later versions.
public enum TransferMessageType {
    public static let request: UInt8 = 0x60
    public static let piece: UInt8 = 0x61
    public static let refusal: UInt8 = 0x62
    public static let cancel: UInt8 = 0x63
    public static let range: ClosedRange<UInt8> = 0x60...0x6F
}

/// "Send me bytes `offset ..< offset+length` of chunk `chunkIndex` of the model." One request
/// spans at most `Limits.maxTransferRequestBytes` and never crosses a chunk boundary.
public struct ChunkRequest: Hashable, Sendable {
    /// Chosen by the fetcher, unique among its requests in flight to this peer; echoed back.
    public var requestID: UInt32
    public var modelHash: Hash
    public var chunkIndex: UInt32
    /// Byte offset inside the chunk.
    public var offset: UInt32
    public var length: UInt32

    public init(requestID: UInt32, modelHash: Hash, chunkIndex: UInt32, offset: UInt32, length: UInt32) {
        self.requestID = requestID; self.modelHash = modelHash; self.chunkIndex = chunkIndex
        self.offset = offset; self.length = length
    }

    public static let encodedSize = 4 + 32 + 4 + 4 + 4

    public func encode(into w: inout ByteWriter) {
        w.u32(requestID); w.hash(modelHash); w.u32(chunkIndex); w.u32(offset); w.u32(length)
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        requestID = try r.u32()
        modelHash = try r.hash()
        chunkIndex = try r.u32()
        offset = try r.u32()
        length = try r.u32()
        try checkChunkIndex(chunkIndex)
        if length == 0 { throw .invalidValue(field: "request length", detail: "0 (must ask for at least one byte)") }
        if length > UInt32(Limits.maxTransferRequestBytes) {
            throw .tooLarge(field: "request length", limit: Limits.maxTransferRequestBytes, actual: Int(length))
        }
        try checkSpan(offset: offset, length: Int(length), field: "request span")
    }
}

/// Part of the answer to a request: `data` is bytes `offset ..< offset+data.count` of the chunk.
/// A request's pieces come in order, back to back, and together cover exactly its span.
public struct ChunkPiece: Hashable, Sendable {
    public var requestID: UInt32
    public var modelHash: Hash
    public var chunkIndex: UInt32
    /// Byte offset inside the chunk (not inside the request).
    public var offset: UInt32
    public var data: [UInt8]

    public init(requestID: UInt32, modelHash: Hash, chunkIndex: UInt32, offset: UInt32, data: [UInt8]) {
        self.requestID = requestID; self.modelHash = modelHash; self.chunkIndex = chunkIndex
        self.offset = offset; self.data = data
    }

    /// Bytes in front of `data` (requestID, modelHash, chunkIndex, offset, data length).
    public static let headerSize = 4 + 32 + 4 + 4 + 4

    public func encode(into w: inout ByteWriter) {
        w.u32(requestID); w.hash(modelHash); w.u32(chunkIndex); w.u32(offset); w.bytes32(data)
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        requestID = try r.u32()
        modelHash = try r.hash()
        chunkIndex = try r.u32()
        offset = try r.u32()
        data = try r.bytes32(field: "piece data", max: Limits.maxTransferPieceBytes)
        try checkChunkIndex(chunkIndex)
        if data.isEmpty { throw .invalidValue(field: "piece data", detail: "empty") }
        try checkSpan(offset: offset, length: data.count, field: "piece span")
    }
}

/// Why a server will not answer a request.
public enum RefusalReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The server does not hold (a fully verified copy of) the model.
    case notHeld = 1
    /// Over one of the server's limits: try again after `retryAfterMs`, or ask someone else.
    case busy = 2
    /// The span lies outside the model's chunk (or the chunk index outside the model).
    case badRequest = 3
    /// The server could not read the bytes (disk error); it should stop announcing the model.
    case unavailable = 4

    public var description: String {
        switch self {
        case .notHeld: return "not held"
        case .busy: return "busy"
        case .badRequest: return "bad request"
        case .unavailable: return "unavailable"
        }
    }
}

/// The whole answer to a request the server will not serve.
public struct ChunkRefusal: Hashable, Sendable {
    public var requestID: UInt32
    public var modelHash: Hash
    public var chunkIndex: UInt32
    public var reason: RefusalReason
    /// 1 … `maxTransferRetryAfterMs` for `busy`, 0 otherwise.
    public var retryAfterMs: UInt32

    public init(requestID: UInt32, modelHash: Hash, chunkIndex: UInt32, reason: RefusalReason, retryAfterMs: UInt32 = 0) {
        self.requestID = requestID; self.modelHash = modelHash; self.chunkIndex = chunkIndex
        self.reason = reason; self.retryAfterMs = retryAfterMs
    }

    public static let encodedSize = 4 + 32 + 4 + 1 + 4

    public func encode(into w: inout ByteWriter) {
        w.u32(requestID); w.hash(modelHash); w.u32(chunkIndex); w.u8(reason.rawValue); w.u32(retryAfterMs)
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        requestID = try r.u32()
        modelHash = try r.hash()
        chunkIndex = try r.u32()
        let raw = try r.u8()
        guard let reason = RefusalReason(rawValue: raw) else { throw .unknownTag(field: "refusal reason", tag: UInt64(raw)) }
        self.reason = reason
        retryAfterMs = try r.u32()
        try checkChunkIndex(chunkIndex)
        if reason == .busy {
            if retryAfterMs == 0 { throw .invalidValue(field: "retryAfterMs", detail: "0 for busy (must be ≥ 1)") }
            if retryAfterMs > Limits.maxTransferRetryAfterMs {
                throw .tooLarge(field: "retryAfterMs", limit: Int(Limits.maxTransferRetryAfterMs), actual: Int(retryAfterMs))
            }
        } else if retryAfterMs != 0 {
            throw .invalidValue(field: "retryAfterMs", detail: "\(retryAfterMs) for \(reason) (must be 0)")
        }
    }
}

/// "Stop sending the answer to this request" (the fetcher gave up on it: timeout, bad data).
public struct ChunkCancel: Hashable, Sendable {
    public var requestID: UInt32
    public init(requestID: UInt32) { self.requestID = requestID }

    public static let encodedSize = 4

    public func encode(into w: inout ByteWriter) { w.u32(requestID) }
    public init(decoding r: inout ByteReader) throws(DecodeError) { requestID = try r.u32() }
}

/// Every model-transfer message. The payload (what follows the transport's `[type][length]`
/// header) is the struct's canonical encoding with no trailing bytes.
public enum TransferMessage: Hashable, Sendable {
    case request(ChunkRequest)
    case piece(ChunkPiece)
    case refusal(ChunkRefusal)
    case cancel(ChunkCancel)

    public var type: UInt8 {
        switch self {
        case .request: return TransferMessageType.request
        case .piece: return TransferMessageType.piece
        case .refusal: return TransferMessageType.refusal
        case .cancel: return TransferMessageType.cancel
        }
    }

    public var payload: [UInt8] {
        var w: ByteWriter
        switch self {
        case let .request(m): w = ByteWriter(capacity: ChunkRequest.encodedSize); m.encode(into: &w)
        case let .piece(m): w = ByteWriter(capacity: ChunkPiece.headerSize + m.data.count); m.encode(into: &w)
        case let .refusal(m): w = ByteWriter(capacity: ChunkRefusal.encodedSize); m.encode(into: &w)
        case let .cancel(m): w = ByteWriter(capacity: ChunkCancel.encodedSize); m.encode(into: &w)
        }
        return w.bytes
    }

    /// Decodes one message's payload. Unknown types inside the transfer range are `unknownTag`.
    public init(type: UInt8, payload: [UInt8]) throws(DecodeError) {
        var r = ByteReader(payload)
        switch type {
        case TransferMessageType.request: self = .request(try ChunkRequest(decoding: &r))
        case TransferMessageType.piece: self = .piece(try ChunkPiece(decoding: &r))
        case TransferMessageType.refusal: self = .refusal(try ChunkRefusal(decoding: &r))
        case TransferMessageType.cancel: self = .cancel(try ChunkCancel(decoding: &r))
        default: throw .unknownTag(field: "transfer message type", tag: UInt64(type))
        }
        try r.expectEnd("transfer message 0x\(String(type, radix: 16))")
    }
}

private func checkChunkIndex(_ index: UInt32) throws(DecodeError) {
    if index >= UInt32(Limits.maxManifestChunks) {
        throw .tooLarge(field: "chunk index", limit: Limits.maxManifestChunks - 1, actual: Int(index))
    }
}

/// A span inside a chunk must end within the largest chunk any manifest may declare.
private func checkSpan(offset: UInt32, length: Int, field: String) throws(DecodeError) {
    let end = UInt64(offset) + UInt64(length)
    if end > UInt64(Limits.maxModelChunkBytes) {
        throw .tooLarge(field: field, limit: Limits.maxModelChunkBytes, actual: Int(clamping: end))
    }
}
