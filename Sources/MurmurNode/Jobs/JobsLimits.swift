import MurmurCore

/// Defaults of the node's job hosting (Specs/node-jobs.md §5).
public enum JobsLimits {
    /// An execution still running after this is abandoned (released; the late result dropped).
    public static let defaultExecutionTime = TimeSpan.seconds(Int64(60))
    /// `JobsConfig.claimDelay` on a node: a claim goes out only for inferences still running
    /// after this (most finish sooner and go straight to their attestation).
    public static let heldClaimDelay = TimeSpan.milliseconds(Int64(100))
    /// A change between "free slots" and "full" must last this long before it is announced.
    public static let slotSettle = TimeSpan.seconds(Int64(1))
    /// At most one free-slot announcement per this period.
    public static let slotAnnounceEvery = TimeSpan.seconds(Int64(5))
}
