import MurmurCore

/// Maxima of the jobs state machine (Specs/jobs.md, "Limits").
extension Limits {
    /// Jobs one node tracks at once (finished ones are evicted first when full).
    public static let maxTrackedJobs = 20_000
    /// Jobs whose claims/attestations arrived before the job record, held until it arrives.
    public static let maxPendingJobs = 4096
    /// Records held per pending job.
    public static let maxPendingRecordsPerJob = 64
    /// Verdicts held until their job record arrives.
    public static let maxPendingVerdicts = 256
    /// Node announcements in the directory.
    public static let maxDirectoryNodes = 100_000
    /// Most deciding attestations a verdict needs to carry (caps the r-dependent threshold).
    public static let maxVerdictDeciders = 16
}

extension Limits {
    /// Bytes in one blob chunk (an output fetched by hash): fits in one 64 KiB frame.
    public static let maxBlobChunkBytes = 48 * 1024
    /// Largest output a node fetches by hash (bounded buffer per fetch).
    public static let maxFetchedBlobBytes = 64 * 1024 * 1024
}
