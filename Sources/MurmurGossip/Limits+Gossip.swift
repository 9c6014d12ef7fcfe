import MurmurCore

/// Maxima of the gossip layer (Specs/gossip.md, "Limits"). Every count read from the network is
/// checked against one of these before anything is allocated; every in-memory table is capped.
extension Limits {
    /// Longest dialable address string carried in a membership message.
    public static let gossipMaxAddressBytes = 255
    /// Most peers in one `Shuffle` / `ShuffleReply` sample.
    public static let gossipMaxShufflePeers = 32
    /// Most ids in one `IHave`, `Graft` or `Want`.
    public static let gossipMaxIDsPerMessage = 512
    /// Most records in one `Records` message.
    public static let gossipMaxRecordsPerMessage = 16
    /// Most ranges in one `Reconcile` message.
    public static let gossipMaxReconcileRanges = 128
    /// Most ids listed for one range of a `Reconcile` message.
    public static let gossipMaxRangeIDs = 256
    /// Deepest range (in hex digits of the id) that reconciliation splits to.
    public static let gossipMaxRangeDepth = 6
    /// Largest encoded gossip message (a `Records` message of maximal records).
    public static let gossipMaxMessageBytes = 16 * (Limits.maxRecordBytes + 512)

    /// Ids remembered as already delivered (FIFO eviction beyond this).
    public static let gossipSeenCacheEntries = 65_536
    /// Records held for grafts and anti-entropy (soonest-expiring evicted beyond this).
    public static let gossipMaxStoredRecords = 100_000
    /// Ids announced by `IHave` but not yet received, awaiting a graft timer.
    public static let gossipMaxMissing = 4_096
    /// Announcers remembered per missing id.
    public static let gossipMaxAnnouncersPerMissing = 8
    /// `IHave` entries queued for one lazy peer before a flush is forced.
    public static let gossipMaxLazyQueue = 256
    /// Links open outside the active view (dialling, awaiting a first message, temporary).
    public static let gossipMaxPendingLinks = 32
    /// Failed active peers retried with back-off (partition healing).
    public static let gossipMaxReconnect = 8
    /// Recently delivered record ids remembered to announce to a new active peer.
    public static let gossipRecentRecords = 128
    /// Push-lag samples kept for the adaptive graft wait (a ring).
    public static let gossipPushLagSamples = 32
    /// Grafted records remembered to spot their late push (cleared beyond this).
    public static let gossipMaxGraftedSince = 1_024
    /// Per-author broadcast trees kept (least recently used dropped beyond this).
    public static let gossipMaxTrees = 1_024
    /// Largest active view a configuration may ask for.
    public static let gossipMaxActiveView = 32
    /// Largest passive view a configuration may ask for.
    public static let gossipMaxPassiveView = 256
}
