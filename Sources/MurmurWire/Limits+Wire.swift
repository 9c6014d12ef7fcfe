import MurmurCore

/// Maxima for record bodies (Specs/records.md, "Limits"). Every length and count read from a
/// record is checked against one of these before anything is allocated.
extension Limits {
    /// Model names and tensor names.
    public static let maxModelNameBytes = 128
    /// Model version strings and engine version strings.
    public static let maxVersionStringBytes = 64
    /// One address (`host:port`) in an announcement.
    public static let maxAddressBytes = 255
    /// Addresses per announcement.
    public static let maxAnnouncedAddresses = 8
    /// Model hashes per announcement.
    public static let maxAnnouncedModels = 256
    /// Largest model a manifest may describe (16 GiB).
    public static let maxManifestModelBytes: UInt64 = 16 << 30
    /// Chunk size bounds for model transfer.
    public static let minModelChunkBytes = 4 * 1024
    public static let maxModelChunkBytes = 16 * 1024 * 1024
    /// Chunk hashes per manifest (4096 × 32 B = 128 KiB of hashes).
    public static let maxManifestChunks = 4096
    /// Inputs, and separately outputs, per manifest.
    public static let maxTensorSpecs = 64
    /// Rank of a declared tensor shape.
    public static let maxManifestTensorRank = 8
    /// Largest input a job may have, inline or fetched by hash.
    public static let maxJobInputBytes: UInt64 = 16 * 1024 * 1024
    /// Largest input carried inside the job record (fits one 64 KiB frame with the envelope).
    public static let maxInlineInputBytes = 48 * 1024
    /// Largest output a job may have.
    public static let maxJobOutputBytes: UInt64 = 16 * 1024 * 1024
    /// Largest output carried inside an attestation (small, so a verdict can embed many).
    public static let maxInlineOutputBytes = 8 * 1024
    /// Largest redundancy `r` a job may ask for.
    public static let maxRedundancy = 15
    /// Attestations embedded in one verdict.
    public static let maxVerdictAttestations = 24
    /// Largest encoded attestation record embedded in a verdict.
    public static let maxEmbeddedAttestationBytes = 9 * 1024
    /// Fewest deciding attestations a verdict may rest on.
    public static let minVerdictDeciders = 3

    /// Clock skew tolerated between author and receiver: a record may be issued this far in the
    /// receiver's future.
    public static let maxClockSkewMs: Int64 = 30_000
    /// Longest a job may run: deadline − issuedAt.
    public static let maxJobDurationMs: Int64 = 60 * 60 * 1000
    /// How long job and claim records may outlive the job deadline.
    public static let jobRecordGraceMs: Int64 = 10 * 60 * 1000
    /// Longest single lease in a claim (leaseExpiry − issuedAt).
    public static let maxLeaseMs: Int64 = 5 * 60 * 1000
}
