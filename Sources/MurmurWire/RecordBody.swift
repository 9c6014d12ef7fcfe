import MurmurCore
import MurmurCrypto

/// A kind-specific record body: a canonical encoding that starts with its own version byte,
/// and the consistency rules it must satisfy (Specs/records.md).
public protocol RecordBody: Hashable, Sendable {
    static var kind: RecordKind { get }
    /// The body layout version this build writes and reads.
    static var bodyVersion: UInt8 { get }
    /// Appends the canonical encoding, version byte first.
    func encode(into w: inout ByteWriter)
    /// Reads the canonical encoding (version byte first); bounded, never traps.
    init(decoding r: inout ByteReader) throws(DecodeError)
    /// Clock-free rules: internal consistency, and consistency with the envelope's times.
    func check(issuedAt: Int64, expiresAt: Int64) throws(RecordError)
}

extension RecordBody {
    /// The canonical body bytes.
    public var encodedBody: [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    /// Decodes a complete body (no trailing bytes allowed).
    public init(body: [UInt8]) throws(RecordError) {
        var r = ByteReader(body)
        do throws(DecodeError) {
            self = try Self(decoding: &r)
            try r.expectEnd("\(Self.kind) body")
        } catch {
            throw .malformed(error)
        }
    }

    /// Reads and checks the version byte that starts every body.
    static func readVersion(_ r: inout ByteReader) throws(DecodeError) {
        let v = try r.u8()
        guard v == bodyVersion else { throw .unsupportedVersion(field: "\(kind) body", version: Int(v)) }
    }

    /// Signs this body into a record after checking every clock-free rule, so a node never
    /// publishes a record that others would refuse.
    public func signed(by key: SigningKey, issuedAt: Int64, expiresAt: Int64) throws(RecordError) -> Signed<Self> {
        try check(issuedAt: issuedAt, expiresAt: expiresAt)
        let body = encodedBody
        guard body.count <= Limits.maxRecordBytes else {
            throw .malformed(.tooLarge(field: "\(Self.kind) body", limit: Limits.maxRecordBytes, actual: body.count))
        }
        let envelope = SignedRecord(kind: Self.kind, body: body, author: key, issuedAt: issuedAt, expiresAt: expiresAt)
        try envelope.checkLifetime()
        return Signed(envelope: envelope, body: self)
    }
}

/// A signed record together with its decoded, checked body.
public struct Signed<Body: RecordBody>: Hashable, Sendable {
    public let envelope: SignedRecord
    public let body: Body

    init(envelope: SignedRecord, body: Body) {
        self.envelope = envelope
        self.body = body
    }

    /// Decodes the body of `envelope` and checks every clock-free rule (the signature was
    /// checked when the envelope was decoded or made).
    public init(_ envelope: SignedRecord) throws(RecordError) {
        guard envelope.kind == Body.kind else { throw .wrongKind(expected: Body.kind, actual: envelope.kind) }
        try envelope.checkLifetime()
        let body = try Body(body: envelope.body)
        try body.check(issuedAt: envelope.issuedAt, expiresAt: envelope.expiresAt)
        self.init(envelope: envelope, body: body)
    }

    public var id: Hash { envelope.id }
    public var author: NodeID { envelope.author }
    public var issuedAt: Int64 { envelope.issuedAt }
    public var expiresAt: Int64 { envelope.expiresAt }

    public static func == (a: Signed, b: Signed) -> Bool { a.envelope.id == b.envelope.id }
    public func hash(into h: inout Hasher) { h.combine(envelope.id) }
}

/// Any record, decoded into its typed body and validated. Decoding through this type is the
/// only way records enter a node's state: a record that fails here is counted, traced and
/// dropped, never stored or relayed.
public enum Record: Hashable, Sendable {
    case modelManifest(Signed<ModelManifest>)
    case nodeAnnouncement(Signed<NodeAnnouncement>)
    case job(Signed<Job>)
    case claim(Signed<Claim>)
    case attestation(Signed<Attestation>)
    case verdict(Signed<Verdict>)

    /// Body decoding and every clock-free rule (used for offline checks such as `murmur verify`).
    public init(_ envelope: SignedRecord) throws(RecordError) {
        switch envelope.kind {
        case .modelManifest: self = .modelManifest(try Signed(envelope))
        case .nodeAnnouncement: self = .nodeAnnouncement(try Signed(envelope))
        case .job: self = .job(try Signed(envelope))
        case .claim: self = .claim(try Signed(envelope))
        case .attestation: self = .attestation(try Signed(envelope))
        case .verdict: self = .verdict(try Signed(envelope))
        }
    }

    /// Everything a node checks before storing or relaying: body rules plus the clock rules
    /// at `nowUnixMs` (not expired, not from the future beyond the skew).
    public init(validating envelope: SignedRecord, nowUnixMs: Int64) throws(RecordError) {
        try envelope.checkTimes(nowUnixMs: nowUnixMs)
        try self.init(envelope)
    }

    /// Decodes bytes from the network: envelope, signature, body and clock rules.
    public init(decoding bytes: [UInt8], nowUnixMs: Int64) throws(RecordError) {
        try self.init(validating: try SignedRecord(decoding: bytes), nowUnixMs: nowUnixMs)
    }

    public var envelope: SignedRecord {
        switch self {
        case let .modelManifest(s): return s.envelope
        case let .nodeAnnouncement(s): return s.envelope
        case let .job(s): return s.envelope
        case let .claim(s): return s.envelope
        case let .attestation(s): return s.envelope
        case let .verdict(s): return s.envelope
        }
    }

    public var id: Hash { envelope.id }
    public var kind: RecordKind { envelope.kind }
    public var author: NodeID { envelope.author }
}

extension SignedRecord {
    /// Signs `body` (see `RecordBody.signed(by:issuedAt:expiresAt:)`) and returns the envelope.
    public static func sign<B: RecordBody>(_ body: B, by key: SigningKey, issuedAt: Int64, expiresAt: Int64) throws(RecordError) -> SignedRecord {
        try body.signed(by: key, issuedAt: issuedAt, expiresAt: expiresAt).envelope
    }
}

/// Shared field helpers for bodies.
extension ByteReader {
    mutating func nonEmptyString(field: String, max: Int) throws(DecodeError) -> String {
        let s = try string16(field: field, max: max)
        if s.isEmpty { throw .invalidValue(field: field, detail: "empty") }
        return s
    }

    /// Optional bytes: a presence flag (0/1), then a u32-length field.
    mutating func optionalBytes(field: String, max: Int) throws(DecodeError) -> [UInt8]? {
        try bool() ? try bytes32(field: field, max: max) : nil
    }
}

extension ByteWriter {
    mutating func optionalBytes(_ v: [UInt8]?) {
        if let v { bool(true); bytes32(v) } else { bool(false) }
    }
}
