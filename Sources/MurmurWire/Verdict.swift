import MurmurCore

/// A portable fault proof for one job: signed attestations that disagree, and a deciding set
/// among them whose strict majority names the correct output. Anyone may author it; every
/// claim in it is checked from the embedded signatures alone (Specs/records.md, "Verdict").
/// Accused = every author whose attestation names another output than the deciders' majority.
public struct Verdict: RecordBody {
    public static let kind = RecordKind.verdict
    public static let bodyVersion: UInt8 = 1

    /// One embedded attestation and whether it belongs to the deciding set.
    public struct Evidence: Hashable, Sendable {
        public var attestation: Signed<Attestation>
        public var isDecider: Bool
        public init(attestation: Signed<Attestation>, isDecider: Bool) {
            self.attestation = attestation; self.isDecider = isDecider
        }
    }

    public var jobID: Hash
    public var evidence: [Evidence]

    public init(jobID: Hash, evidence: [Evidence]) {
        self.jobID = jobID; self.evidence = evidence
    }

    /// The output named by a strict majority of the deciders, if any.
    public var winningOutput: Hash? {
        let deciders = evidence.filter(\.isDecider)
        var counts: [Hash: Int] = [:]
        for e in deciders { counts[e.attestation.body.outputHash, default: 0] += 1 }
        return counts.first(where: { $0.value * 2 > deciders.count })?.key
    }

    /// Authors proven wrong: their attestation names another output than the winner.
    public var accused: [NodeID] {
        guard let w = winningOutput else { return [] }
        return evidence.filter { $0.attestation.body.outputHash != w }.map(\.attestation.author).sorted()
    }

    /// Authors of the deciding attestations that agree with the winner.
    public var majority: [NodeID] {
        guard let w = winningOutput else { return [] }
        return evidence.filter { $0.isDecider && $0.attestation.body.outputHash == w }.map(\.attestation.author).sorted()
    }

    public func encode(into w: inout ByteWriter) {
        w.u8(Self.bodyVersion); w.hash(jobID); w.u8(UInt8(evidence.count))
        for e in evidence { w.bool(e.isDecider); w.bytes32(e.attestation.envelope.encoded) }
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        try Self.readVersion(&r)
        jobID = try r.hash()
        let n = Int(try r.u8())
        if n > Limits.maxVerdictAttestations { throw .tooLarge(field: "verdict attestations", limit: Limits.maxVerdictAttestations, actual: n) }
        var evidence: [Evidence] = []
        for _ in 0..<n {
            let isDecider = try r.bool()
            let bytes = try r.bytes32(field: "embedded attestation", max: Limits.maxEmbeddedAttestationBytes)
            do throws(RecordError) {
                let envelope = try SignedRecord(decoding: bytes)
                evidence.append(Evidence(attestation: try Signed<Attestation>(envelope), isDecider: isDecider))
            } catch {
                throw .invalidValue(field: "embedded attestation", detail: error.description)
            }
        }
        self.evidence = evidence
    }

    public func check(issuedAt: Int64, expiresAt: Int64) throws(RecordError) {
        if evidence.count > Limits.maxVerdictAttestations { throw .invalid("more than \(Limits.maxVerdictAttestations) attestations") }
        guard let first = evidence.first?.attestation.body else { throw .invalid("verdict without attestations") }
        var authors = Set<NodeID>()
        for e in evidence {
            let a = e.attestation.body
            if e.attestation.envelope.encoded.count > Limits.maxEmbeddedAttestationBytes { throw .invalid("embedded attestation too large") }
            if a.jobID != jobID { throw .invalid("attestation for another job") }
            if a.modelHash != first.modelHash || a.inputHash != first.inputHash { throw .invalid("attestations for different model or input") }
            if !authors.insert(e.attestation.author).inserted { throw .invalid("two attestations by one author") }
        }
        let deciders = evidence.filter(\.isDecider).count
        if deciders < Limits.minVerdictDeciders { throw .invalid("\(deciders) deciders, need at least \(Limits.minVerdictDeciders)") }
        if winningOutput == nil { throw .invalid("no strict majority among the deciders") }
        if accused.isEmpty { throw .invalid("no conflicting attestation: nobody is accused") }
    }
}
