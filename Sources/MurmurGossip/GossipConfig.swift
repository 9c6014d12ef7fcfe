import MurmurCore

/// Tunables of the gossip state machine. Every default is listed in Specs/gossip.md ("Defaults").
public struct GossipConfig: Sendable, Equatable {
    // Membership (HyParView).
    /// Active view: peers with a live link that broadcasts flow over (≈ log₂N + 1).
    public var activeViewSize = 5
    /// Passive view: known peers kept as replacements.
    public var passiveViewSize = 30
    /// Active random walk length of a forward-join.
    public var activeRandomWalkLength: UInt8 = 6
    /// Forward-join hop (counted down) at which the new node is put in the passive view.
    public var passiveRandomWalkLength: UInt8 = 3
    public var shuffleInterval = TimeSpan.seconds(Int64(10))
    /// Active and passive peers sent in a shuffle sample (plus the sender itself).
    public var shuffleActiveCount = 3
    public var shufflePassiveCount = 4
    public var shuffleTTL: UInt8 = 3
    /// Period of the housekeeping timer: keepalives, failure detection, refill, reconnects, expiry.
    public var housekeepingInterval = TimeSpan.milliseconds(500)
    /// A peer not heard from for this long gets a `Ping`.
    public var keepaliveInterval = TimeSpan.seconds(Int64(1))
    /// A peer not heard from for this long (times the local-health multiplier) is declared failed.
    public var failureTimeout = TimeSpan.seconds(Int64(3))
    /// Lifeguard local health: loop lag above this counts as a sign that we are the slow one.
    public var lagThreshold = TimeSpan.milliseconds(100)
    /// Highest local-health score; timeouts are multiplied by (1 + score).
    public var maxLocalHealth = 8
    /// Links outside the active view that stay silent this long are closed.
    public var idleLinkTimeout = TimeSpan.seconds(Int64(5))
    /// How long to wait before retrying a join through the seeds.
    public var joinRetry = TimeSpan.seconds(Int64(2))
    /// Neighbour requests declined in a row (the passive peers asked were full) after which a
    /// node whose active view is short by two or more asks with high priority (the receiver
    /// evicts to make room), so a short view does not stay short. Zero: never.
    public var shortViewEscalation = 3
    /// Back-off for re-dialling a failed active peer: first, cap, and give-up age.
    public var reconnectInitial = TimeSpan.seconds(Int64(1))
    public var reconnectMax = TimeSpan.seconds(Int64(4))
    public var reconnectGiveUp = TimeSpan.seconds(Int64(300))

    // Broadcast (Plumtree).
    /// Lazy `IHave` entries are batched for this long.
    public var ihaveDelay = TimeSpan.milliseconds(25)
    /// Wait after the first `IHave` of a missing id before grafting.
    public var graftTimeout = TimeSpan.milliseconds(250)
    /// Adaptive graft wait: the wait after the first `IHave` grows to `graftWaitFactor` × the
    /// longest of the last 32 push lags seen (first `IHave` of a record to the arrival of its eager push, also
    /// measured when a graft was sent too early and the push came anyway), between
    /// `graftTimeout` and this. A deep tree's pushes arrive long after the `IHave`s of nodes
    /// near the source; grafting them anyway costs a copy and makes a cycle. Equal to
    /// `graftTimeout` (or less): fixed wait.
    public var graftTimeoutMax = TimeSpan.milliseconds(500)
    /// The adaptive wait is this multiple of the longest recent push lag.
    public var graftWaitFactor = 2.0
    /// Wait after a graft before grafting the next announcer.
    public var graftRetry = TimeSpan.milliseconds(150)
    /// One broadcast tree per record author instead of one shared tree: each author's first
    /// record floods the active links and is pruned to that author's shortest-latency tree.
    /// Better latency for authors that broadcast often; a flood for each new author.
    public var perAuthorTrees = false
    /// A duplicate prunes its link only if that link delivered nothing first for this long.
    public var pruneQuietPeriod = TimeSpan.milliseconds(300)
    /// New active links start lazy unless the node has no eager link (keeps the tree a tree).
    public var newLinksLazy = false
    /// A duplicate only asks the sender to stop pushing to us; our own pushes to it continue
    /// (each node decides its own inbound links, so concurrent prunes cannot cut both ways).
    public var oneSidedPrune = false
    /// Records delivered within this span are announced (`IHave`) to a new active peer, so a
    /// node whose tree link died (crash, eviction) grafts what it missed without waiting for
    /// anti-entropy (which skips records younger than `antiEntropyMinAge`). Zero: off.
    public var linkUpAnnounceWindow = TimeSpan.seconds(Int64(10))
    /// Records are pushed on every active link (not only eager ones) for their first this many
    /// hops: the record enters the shared tree at the whole neighbourhood of its source instead of
    /// one point, which shortens tree paths for sources anywhere in the tree. These pushes do not
    /// change the tree (a lazy link that delivers one stays lazy, and their duplicates prune
    /// nothing). Costs ≈ the edges of the source's neighbourhood per broadcast. Zero: off.
    public var eagerFloodHops: UInt16 = 0
    /// With `eagerFloodHops` H: a record is also pushed on each lazy link with this probability
    /// when its hop count at the receiver is H + 1 (a partial extra flood hop: between H and
    /// H + 1 on the copies-versus-hops curve). Zero: off.
    public var eagerFloodExtra = 0.0
    /// Tree optimisation: an `IHave` this many hops shorter than the eager path swaps the links.
    public var optimizationThreshold: UInt16 = 0
    /// Author trees grown from the shared tree: once this node has accepted this many records of
    /// one author, the author gets its own tree, a copy of the shared tree's eager links at that
    /// moment (no flood), which then shortens itself: a copy or `IHave` of the author's records
    /// `authorTreeThreshold` hops shorter than the parent's path makes its sender the parent
    /// (`GraftTree` to it, `PruneTree` to the old parent). Costs the shared tree's copies; the
    /// paths of authors that publish repeatedly converge towards shortest-hop paths. 0: off.
    public var authorTreeAfter = 2
    /// Hops an author tree's new parent must save (≥ 1).
    public var authorTreeThreshold: UInt16 = 1

    // Anti-entropy.
    public var antiEntropyInterval = TimeSpan.seconds(Int64(2))
    /// Records younger than this (by their `issuedAt`) are left to the broadcast.
    public var antiEntropyMinAge = TimeSpan.seconds(Int64(5))
    /// Each anti-entropy round also sends its peer one `IHave` of the records delivered between
    /// this long and `antiEntropyMinAge` ago (the recap), so a node that lost every push and
    /// `IHave` of a record grafts it instead of waiting for reconciliation. Zero: off.
    public var recapMinAge = TimeSpan.seconds(Int64(1))
    /// Graft attempts per missing id (cycling through its announcers) before leaving it to
    /// anti-entropy.
    public var graftAttempts = 8
    /// A range with at most this many ids is answered with the list instead of sub-ranges.
    public var rangeListThreshold = 24
    public var expirySweepInterval = TimeSpan.seconds(Int64(5))

    // Directory.
    /// Ask the shell for a fresh signed `NodeAnnouncement` this often (nil: never).
    public var announceInterval: TimeSpan? = .seconds(Int64(600))

    /// Emit `TraceEvent` effects (off in large simulations unless a trace is written).
    public var traceEnabled = false

    public init() {}

    /// Clamps values to what the limits allow (a configuration file is user input).
    public mutating func clamp() {
        activeViewSize = min(max(activeViewSize, 1), Limits.gossipMaxActiveView)
        passiveViewSize = min(max(passiveViewSize, 1), Limits.gossipMaxPassiveView)
        shuffleActiveCount = min(max(shuffleActiveCount, 0), Limits.gossipMaxShufflePeers / 2)
        shufflePassiveCount = min(max(shufflePassiveCount, 0), Limits.gossipMaxShufflePeers / 2 - 1)
        rangeListThreshold = min(max(rangeListThreshold, 1), Limits.gossipMaxRangeIDs)
        maxLocalHealth = min(max(maxLocalHealth, 0), 64)
        authorTreeAfter = max(authorTreeAfter, 0)
        authorTreeThreshold = max(authorTreeThreshold, 1)
        eagerFloodExtra = min(max(eagerFloodExtra, 0), 1)
        graftWaitFactor = min(max(graftWaitFactor, 0), 100)
    }
}
