import MurmurCore
import MurmurWire

/// Timers the state machine asks the shell to arm. The shell never cancels one: a timer that
/// fires when it is no longer needed is ignored, so "cancel" is just forgetting.
public enum GossipTimer: Hashable, Sendable {
    case housekeeping
    case shuffle
    case antiEntropy
    case ihaveFlush
    case announce
    /// Graft timer for one missing record id.
    case graft(Hash)
}

/// Why a link went down (for traces; the state machine treats every cause as a failure unless a
/// `Disconnect` message arrived first).
public typealias LinkDownReason = String

/// Everything that can happen to a gossip node. The shell (epoll node or simulator) produces these.
public enum GossipEvent: Sendable {
    /// Begin: arm the periodic timers and join through the seeds.
    case start
    /// An authenticated link to `peer` is up. `address` is the dialled address for outbound
    /// links and the remote socket address (not necessarily dialable) for inbound ones.
    /// Idempotent: a second `linkUp` for a linked peer changes nothing.
    case linkUp(peer: NodeID, address: String, outbound: Bool)
    /// The link to `peer` closed or failed.
    case linkDown(peer: NodeID, reason: LinkDownReason)
    /// A `connect` effect could not produce a link.
    case connectFailed(address: String, reason: String)
    /// A decoded message arrived on the link to `from`.
    case message(from: NodeID, GossipMessage)
    case timer(GossipTimer)
    /// A record created locally (own announcement, a job, an attestation): store and broadcast.
    case publish(SignedRecord)
    /// The shell's measure of its own event-loop lag (Lifeguard local health), sent periodically.
    case loopLag(TimeSpan)
    /// The current wall clock (Unix ms), for record expiry. Sent at start and whenever it drifts.
    case wallClock(unixMs: Int64)
    /// The node is shutting down (SIGTERM): say `Disconnect` to every neighbour so that it drops
    /// the link at once instead of waiting for a failure and re-dialling us. Later events are ignored.
    case leave
}

/// How a record reached this node.
public enum DeliveryPath: String, Sendable {
    case broadcast, graft, antiEntropy = "antientropy"
}

/// What the state machine asks its shell to do.
public enum GossipEffect: Sendable {
    case send(to: NodeID, GossipMessage)
    /// Dial `address`; `expected` is the identity we believe is there (nil for a seed).
    /// Answered by `linkUp` or `connectFailed`.
    case connect(address: String, expected: NodeID?)
    /// Close the link to `peer` (after flushing what was sent to it).
    case disconnect(NodeID, reason: String)
    /// Fire `timer` at `at` (replacing nothing: several pending firings of one timer are fine).
    case setTimer(GossipTimer, at: Instant)
    /// A new valid record: hand it to the application (persist, index, act on it).
    case deliver(SignedRecord, hops: UInt16, path: DeliveryPath)
    /// A record expired or was superseded: the application may delete it.
    case forget(Hash)
    /// Time to sign a fresh `NodeAnnouncement` and hand it back with `.publish`.
    case announcementDue
    case trace(TraceEvent)
}

/// Counters exposed to `murmur status` and metrics. Every limit hit is counted here.
public struct GossipCounters: Sendable, Equatable {
    public var messagesIn = 0, messagesOut = 0
    public var payloadIn = 0, payloadOut = 0
    public var delivered = 0, duplicates = 0
    public var droppedExpired = 0, droppedSuperseded = 0, droppedUnsolicited = 0
    public var grafts = 0, prunes = 0, ihaveSent = 0
    public var antiEntropyRounds = 0, antiEntropyPulled = 0, antiEntropyPushed = 0
    public var joins = 0, neighborAccepted = 0, neighborRejected = 0, evictions = 0
    public var failures = 0, reconnects = 0, shuffles = 0
    public var seenEvictions = 0, storeEvictions = 0, missingOverflow = 0, lazyOverflow = 0, pendingOverflow = 0
    /// Recent records announced (`IHave`) to new active peers, and neighbour requests sent with
    /// high priority because the active view stayed short.
    public var linkUpAnnounced = 0, shortViewEscalations = 0
    public init() {}
}
