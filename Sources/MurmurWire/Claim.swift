import MurmurCore

/// An executor's lease on a job: "I am running it until `leaseExpiry`". Renewed by a newer
/// claim (later `issuedAt`) from the same author; a claim with `leaseExpiry == issuedAt`
/// releases the job. The executor's key is the author.
public struct Claim: RecordBody {
    public static let kind = RecordKind.claim
    public static let bodyVersion: UInt8 = 1

    public var jobID: Hash
    /// Unix ms; after it (plus slack) without an attestation, the next node in rank takes over.
    public var leaseExpiry: Int64
    /// 0 for the first round, 1 for the dispute round (Specs/jobs.md).
    public var stage: UInt8
    /// The claimer's position in its own ranking for the job (informational, for traces).
    public var rank: UInt16

    public init(jobID: Hash, leaseExpiry: Int64, stage: UInt8, rank: UInt16) {
        self.jobID = jobID; self.leaseExpiry = leaseExpiry; self.stage = stage; self.rank = rank
    }

    public func encode(into w: inout ByteWriter) {
        w.u8(Self.bodyVersion); w.hash(jobID); w.i64(leaseExpiry); w.u8(stage); w.u16(rank)
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        try Self.readVersion(&r)
        jobID = try r.hash()
        leaseExpiry = try r.i64()
        stage = try r.u8()
        rank = try r.u16()
    }

    public func isRelease(issuedAt: Int64) -> Bool { leaseExpiry == issuedAt }

    public func check(issuedAt: Int64, expiresAt: Int64) throws(RecordError) {
        if stage > 1 { throw .invalid("claim stage \(stage) (0 or 1)") }
        if leaseExpiry < issuedAt { throw .invalid("lease expires before the claim was issued") }
        let (span, overflow) = leaseExpiry.subtractingReportingOverflow(issuedAt)
        if overflow || span > Limits.maxLeaseMs { throw .invalid("lease longer than \(Limits.maxLeaseMs) ms") }
        if leaseExpiry > expiresAt { throw .invalid("claim record expires before its lease") }
    }
}
