import MurmurCore

/// A request to run a model on an input, with the assurance the client wants: `redundancy`
/// executors that must all agree, at least `quorum` of them. The client's key is the author;
/// the job id is the record id.
public struct Job: RecordBody {
    public static let kind = RecordKind.job
    public static let bodyVersion: UInt8 = 1
    public static let nonceBytes = 16

    public var modelHash: Hash
    /// BLAKE2b-256 of the canonical input bytes (the `murmur infer` tensor encoding).
    public var inputHash: Hash
    public var inputSize: UInt64
    /// The input itself when it is at most `Limits.maxInlineInputBytes`; else fetched by hash.
    public var inlineInput: [UInt8]?
    /// r: executors that must all attest the same output.
    public var redundancy: UInt8
    /// q: fewest agreeing attestations (matters when fewer than r nodes can run the model).
    public var quorum: UInt8
    /// Unix ms by which the job must end verified or failed.
    public var deadline: Int64
    /// Makes two identical requests two jobs.
    public var nonce: [UInt8]

    public init(modelHash: Hash, inputHash: Hash, inputSize: UInt64, inlineInput: [UInt8]?, redundancy: UInt8,
                quorum: UInt8, deadline: Int64, nonce: [UInt8]) {
        self.modelHash = modelHash; self.inputHash = inputHash; self.inputSize = inputSize; self.inlineInput = inlineInput
        self.redundancy = redundancy; self.quorum = quorum; self.deadline = deadline; self.nonce = nonce
    }

    /// A job whose input travels inline when small enough (hash and size computed here).
    public init(modelHash: Hash, input: [UInt8], redundancy: UInt8, quorum: UInt8, deadline: Int64, nonce: [UInt8]) {
        self.init(modelHash: modelHash, inputHash: Hash.of(input), inputSize: UInt64(input.count),
                  inlineInput: input.count <= Limits.maxInlineInputBytes ? input : nil,
                  redundancy: redundancy, quorum: quorum, deadline: deadline, nonce: nonce)
    }

    public func encode(into w: inout ByteWriter) {
        w.u8(Self.bodyVersion); w.hash(modelHash); w.hash(inputHash); w.u64(inputSize)
        w.optionalBytes(inlineInput)
        w.u8(redundancy); w.u8(quorum); w.i64(deadline); w.raw(nonce)
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        try Self.readVersion(&r)
        modelHash = try r.hash()
        inputHash = try r.hash()
        inputSize = try r.u64()
        inlineInput = try r.optionalBytes(field: "inline input", max: Limits.maxInlineInputBytes)
        redundancy = try r.u8()
        quorum = try r.u8()
        deadline = try r.i64()
        nonce = try r.raw(Self.nonceBytes)
    }

    public func check(issuedAt: Int64, expiresAt: Int64) throws(RecordError) {
        if nonce.count != Self.nonceBytes { throw .invalid("nonce must be \(Self.nonceBytes) bytes") }
        if !(1...Int(Limits.maxRedundancy)).contains(Int(redundancy)) { throw .invalid("redundancy \(redundancy) outside 1…\(Limits.maxRedundancy)") }
        if quorum < 1 || quorum > redundancy { throw .invalid("quorum \(quorum) must satisfy 1 ≤ q ≤ r = \(redundancy)") }
        if inputSize > Limits.maxJobInputBytes { throw .invalid("input size \(inputSize) over the limit \(Limits.maxJobInputBytes)") }
        if let input = inlineInput {
            if input.count > Limits.maxInlineInputBytes { throw .invalid("inline input over \(Limits.maxInlineInputBytes) bytes") }
            if UInt64(input.count) != inputSize { throw .invalid("inline input is \(input.count) bytes, inputSize says \(inputSize)") }
            if Hash.of(input) != inputHash { throw .invalid("inline input does not match its hash") }
        }
        if deadline <= issuedAt { throw .invalid("deadline is not after issuedAt") }
        let (span, overflow) = deadline.subtractingReportingOverflow(issuedAt)
        if overflow || span > Limits.maxJobDurationMs { throw .invalid("deadline more than \(Limits.maxJobDurationMs) ms after issuedAt") }
        if expiresAt < deadline { throw .invalid("job record expires before its deadline") }
    }
}
