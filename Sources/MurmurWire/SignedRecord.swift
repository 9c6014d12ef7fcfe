import MurmurCore
import MurmurCrypto

/// The kinds of signed record that the mesh gossips (Specs/records.md).
public enum RecordKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case modelManifest = 1
    case nodeAnnouncement = 2
    case job = 3
    case claim = 4
    case attestation = 5
    /// A fault proof: conflicting signed attestations and the majority that decided (DESIGN.md).
    case verdict = 6

    /// Name used in traces, JSON and metrics.
    public var description: String {
        switch self {
        case .modelManifest: return "manifest"
        case .nodeAnnouncement: return "announcement"
        case .job: return "job"
        case .claim: return "claim"
        case .attestation: return "attestation"
        case .verdict: return "verdict"
        }
    }

    /// Longest a record of this kind may live: `expiresAt − issuedAt` (Specs/records.md).
    public var maxLifetimeMs: Int64 {
        let hour: Int64 = 3_600_000
        switch self {
        case .modelManifest: return 30 * 24 * hour
        case .nodeAnnouncement: return hour
        case .job, .claim: return Limits.maxJobDurationMs + Limits.jobRecordGraceMs
        case .attestation: return 24 * hour
        case .verdict: return 30 * 24 * hour
        }
    }
}

/// The envelope every record travels in: who wrote it, when it expires, the kind-specific body,
/// and the author's signature. Gossip relays envelopes without understanding bodies; the id is
/// the BLAKE2b-256 of the complete canonical bytes (signature included), so it names exactly one
/// byte string. Ed25519 signatures from libsodium are deterministic and canonical (S < L is
/// enforced on verify), so one signed record has one id.
///
/// Layout (big-endian):
/// | field | size |
/// |---|---|
/// | version (= 1) | u8 |
/// | kind | u8 |
/// | author | 32 |
/// | issuedAt (Unix ms) | i64 |
/// | expiresAt (Unix ms) | i64 |
/// | body length | u32, ≤ `Limits.maxRecordBytes` |
/// | body | length |
/// | signature over `"murmur/record/v1" ‖ all preceding bytes` | 64 |
public struct SignedRecord: Hashable, Sendable {
    public static let version: UInt8 = 1
    public static let signingDomain = Array("murmur/record/v1".utf8)

    public let id: Hash
    public let kind: RecordKind
    public let author: NodeID
    /// Wall-clock time of signing, Unix milliseconds.
    public let issuedAt: Int64
    /// Wall-clock expiry, Unix milliseconds; an expired record is dropped everywhere.
    public let expiresAt: Int64
    public let body: [UInt8]
    public let signature: Signature
    /// The full canonical encoding (what travels and what `id` hashes).
    public let encoded: [UInt8]

    /// Signs a new record.
    public init(kind: RecordKind, body: [UInt8], author key: SigningKey, issuedAt: Int64, expiresAt: Int64) {
        precondition(body.count <= Limits.maxRecordBytes, "record body over the limit")
        var w = ByteWriter(capacity: body.count + 128)
        w.u8(SignedRecord.version); w.u8(kind.rawValue); w.nodeID(key.publicKey)
        w.i64(issuedAt); w.i64(expiresAt); w.bytes32(body)
        let signature = key.sign(SignedRecord.signingDomain + w.bytes)
        w.raw(signature.bytes)
        self.kind = kind; self.author = key.publicKey; self.issuedAt = issuedAt; self.expiresAt = expiresAt
        self.body = body; self.signature = signature; self.encoded = w.bytes
        self.id = Hash.of(w.bytes)
    }

    /// Decodes and verifies the signature. Throws on any malformed input or a bad signature;
    /// expiry and body rules are checked separately (they depend on the time and the kind).
    public init(decoding bytes: [UInt8]) throws(RecordError) {
        try self.init(decoding: bytes, skipSignatureCheck: { _, _ in false })
    }

    /// Decodes, checking the signature unless `skipSignatureCheck(id, author)` says it was
    /// checked before: the id is the hash of the complete bytes, signature included, so a known
    /// id names exactly the bytes that were verified (a duplicate gossip copy). Callers answer
    /// true only for ids they verified themselves or for bytes this process signed; network
    /// bytes with an unknown id are always verified.
    public init(decoding bytes: [UInt8], skipSignatureCheck: (_ id: Hash, _ author: NodeID) -> Bool) throws(RecordError) {
        if bytes.count > Limits.maxRecordBytes + 256 {
            throw .malformed(.tooLarge(field: "record", limit: Limits.maxRecordBytes + 256, actual: bytes.count))
        }
        var r = ByteReader(bytes)
        do {
            let version = try r.u8()
            guard version == SignedRecord.version else { throw DecodeError.unsupportedVersion(field: "record", version: Int(version)) }
            let rawKind = try r.u8()
            guard let kind = RecordKind(rawValue: rawKind) else { throw DecodeError.unknownTag(field: "record kind", tag: UInt64(rawKind)) }
            let author = try r.nodeID()
            let issuedAt = try r.i64()
            let expiresAt = try r.i64()
            let body = try r.bytes32(field: "record body", max: Limits.maxRecordBytes)
            let signedLength = r.offset
            guard let signature = Signature(try r.raw(Signature.byteCount)) else { throw DecodeError.truncated(need: 64, have: 0) }
            try r.expectEnd("record")
            let id = Hash.of(bytes)
            if !skipSignatureCheck(id, author) {
                guard author.verify(signature, of: SignedRecord.signingDomain + bytes[0..<signedLength]) else {
                    throw RecordError.badSignature
                }
            }
            self.kind = kind; self.author = author; self.issuedAt = issuedAt; self.expiresAt = expiresAt
            self.body = body; self.signature = signature; self.encoded = bytes; self.id = id
        } catch let e as DecodeError {
            throw .malformed(e)
        } catch let e as RecordError {
            throw e
        } catch {
            throw .malformed(.invalidValue(field: "record", detail: "\(error)"))
        }
    }

    public func isExpired(nowUnixMs: Int64) -> Bool { nowUnixMs >= expiresAt }

    /// The clock rules every record obeys (Specs/records.md, "Time"): issued before it expires,
    /// not expired at `nowUnixMs`, not issued more than `Limits.maxClockSkewMs` in the future, and
    /// not living longer than its kind allows.
    public func checkTimes(nowUnixMs: Int64) throws(RecordError) {
        try checkLifetime()
        if nowUnixMs >= expiresAt { throw .expired }
        let (latest, overflow) = nowUnixMs.addingReportingOverflow(Limits.maxClockSkewMs)
        if !overflow && issuedAt > latest { throw .notYetValid(issuedAt: issuedAt, now: nowUnixMs) }
    }

    /// The clock-free part of `checkTimes`: `issuedAt < expiresAt ≤ issuedAt + kind.maxLifetimeMs`.
    public func checkLifetime() throws(RecordError) {
        guard expiresAt > issuedAt else { throw .invalid("expiresAt \(expiresAt) is not after issuedAt \(issuedAt)") }
        let (span, overflow) = expiresAt.subtractingReportingOverflow(issuedAt)
        if overflow || span > kind.maxLifetimeMs { throw .lifetimeTooLong(kind: kind, limitMs: kind.maxLifetimeMs) }
    }

    public static func == (a: SignedRecord, b: SignedRecord) -> Bool { a.id == b.id }
    public func hash(into h: inout Hasher) { h.combine(id) }
}

/// Why a record was refused. Refused records are counted and traced, never stored or relayed.
public enum RecordError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(DecodeError)
    case badSignature
    case expired
    /// Issued further in the future than the tolerated clock skew.
    case notYetValid(issuedAt: Int64, now: Int64)
    /// `expiresAt − issuedAt` exceeds what the kind allows.
    case lifetimeTooLong(kind: RecordKind, limitMs: Int64)
    /// The envelope holds a different kind than the caller asked for.
    case wrongKind(expected: RecordKind, actual: RecordKind)
    /// The body decodes but breaks a consistency rule (the string says which).
    case invalid(String)

    public var description: String {
        switch self {
        case let .malformed(e): return "malformed record: \(e)"
        case .badSignature: return "record signature does not verify"
        case .expired: return "record expired"
        case let .notYetValid(issuedAt, now): return "record issued in the future (issuedAt \(issuedAt) ms > now \(now) ms + skew \(Limits.maxClockSkewMs) ms): check the author's clock"
        case let .lifetimeTooLong(kind, limit): return "\(kind) record lives longer than \(limit) ms"
        case let .wrongKind(expected, actual): return "expected a \(expected) record, got \(actual)"
        case let .invalid(why): return "invalid record: \(why)"
        }
    }
}
