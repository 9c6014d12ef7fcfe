import MurmurCore
import MurmurWire

/// One node's gossip layer as a pure state machine: HyParView membership, Plumtree broadcast,
/// range-based anti-entropy and the announcement directory (Specs/gossip.md).
///
/// Nothing in here reads a clock, a socket or the system random generator: the shell passes the
/// time with each event, randomness comes from the `SeededRNG` given at creation, and everything
/// the node wants done comes back as `GossipEffect`s. The epoll node and the simulator host the
/// same code.
public struct GossipNode: Sendable {
    /// This node: its identity and the address others dial it at.
    public let me: PeerRef
    public let config: GossipConfig
    /// Addresses to join through (bootstrap). Empty for the first node of a mesh.
    public let seeds: [String]

    var rng: SeededRNG
    var now: Instant = .zero
    /// Unix milliseconds at `Instant.zero` (record expiry uses wall-clock time).
    var unixOffsetMs: Int64
    var started = false
    /// Set by `leave`: every later event is ignored.
    var left = false
    /// Effects of the event being handled (swapped with the caller's buffer: no allocation).
    var fx: [GossipEffect] = []
    /// Trace events of the event being handled, when the caller keeps them apart from the
    /// effects (`handle(_:now:into:traces:)`; swapped like `fx`).
    var tx: [GossipTrace] = []
    var traceApart = false

    // Membership.
    var active: [ActivePeer] = []
    var passive: [PeerRef] = []
    var reconnect: [ReconnectEntry] = []
    var pending: [PendingLink] = []
    var dials: [Dial] = []
    var localHealth = 0
    var nextJoinAttempt: Instant = .zero
    var lastShuffleSample: [PeerRef] = []
    var pingNonce: UInt64 = 0
    /// Neighbour requests declined in a row (reset by an accepted one).
    var declinedInARow = 0

    // Broadcast and records.
    var seen: SeenCache
    public internal(set) var store: RecordStore
    var missing: [Hash: MissingRecord] = [:]
    var ihaveFlushArmed = false
    var nextExpirySweep: Instant = .zero
    /// The last `Limits.gossipRecentRecords` records delivered or published (a ring), announced
    /// to new active peers.
    var recent: [RecentRecord] = []
    var recentNext = 0
    /// Adaptive graft wait (`config.graftTimeoutMax`): the last `Limits.gossipPushLagSamples`
    /// push lags (first `IHave` of a record to the arrival of its push), a ring; the current wait.
    var pushLags: [TimeSpan] = []
    var pushLagNext = 0
    var graftWait: TimeSpan
    /// Records grafted at their first timer, with their first `IHave` time: a push that arrives
    /// afterwards was on its way (an impatient graft) and gives a push-lag sample.
    var graftedSince: [Hash: Instant] = [:]

    // Per-author trees (`config.perAuthorTrees`): peers lazy for each author.
    var trees: [NodeID: AuthorTree] = [:]
    /// Records accepted per author before its tree is grown (`authorTreeAfter`), kept compact.
    var authorCounts = AuthorCounts()

    // Directory of announcements (newest per author).
    var directoryEntries: [NodeID: DirectoryEntry] = [:]

    public internal(set) var counters = GossipCounters()

    /// - Parameters:
    ///   - unixMsAtZero: wall-clock Unix milliseconds corresponding to `Instant.zero`.
    ///   - seenCapacity / storeCapacity: lower than the limits only to save memory in large simulations.
    public init(me: PeerRef, seeds: [String], config: GossipConfig = GossipConfig(), rng: SeededRNG,
                unixMsAtZero: Int64 = 0, seenCapacity: Int = Limits.gossipSeenCacheEntries,
                storeCapacity: Int = Limits.gossipMaxStoredRecords) {
        var c = config
        c.clamp()
        self.me = me
        self.config = c
        self.seeds = seeds.filter { $0 != me.address }
        self.rng = rng
        self.graftWait = config.graftTimeout
        self.unixOffsetMs = unixMsAtZero
        self.seen = SeenCache(capacity: min(max(seenCapacity, 1), Limits.gossipSeenCacheEntries))
        self.store = RecordStore(capacity: min(max(storeCapacity, 1), Limits.gossipMaxStoredRecords))
    }

    // MARK: Public view of the state

    public var activeView: [PeerRef] { active.map(\.peer) }
    public var passiveView: [PeerRef] { passive }
    public var eagerPeers: [NodeID] { active.filter(\.eager).map(\.peer.id) }
    public var lazyPeers: [NodeID] { active.filter { !$0.eager }.map(\.peer.id) }
    /// Lifeguard local-health score: 0 = healthy; timeouts are stretched by (1 + score).
    public var localHealthScore: Int { localHealth }
    public var unixNowMs: Int64 { unixOffsetMs &+ now.nanoseconds / 1_000_000 }
    /// Live nodes known through unexpired announcements, sorted by id.
    public var directory: [(node: NodeID, entry: DirectoryEntry)] {
        directoryEntries.filter { $0.value.expiresAt > unixNowMs }.map { ($0.key, $0.value) }.sorted { $0.node < $1.node }
    }
    public var directorySize: Int { directoryEntries.values.filter { $0.expiresAt > unixNowMs }.count }
    /// Held records per kind.
    public var recordCounts: [RecordKind: Int] {
        var out: [RecordKind: Int] = [:]
        for k in RecordKind.allCases { out[k] = store.count(of: k) }
        return out
    }
    public func hasRecord(_ id: Hash) -> Bool { store.contains(id) }
    public func hasSeen(_ id: Hash) -> Bool { seen.contains(id) || store.contains(id) }

    // MARK: Handling events

    /// Handles one event at time `now` and returns what the shell must do.
    public mutating func handle(_ event: GossipEvent, now: Instant) -> [GossipEffect] {
        var out: [GossipEffect] = []
        handle(event, now: now, into: &out)
        return out
    }

    /// Same as `handle(_:now:)`, appending to a buffer the caller reuses (the simulator's hot path).
    public mutating func handle(_ event: GossipEvent, now: Instant, into effects: inout [GossipEffect]) {
        swap(&fx, &effects)
        defer { swap(&fx, &effects) }
        if now > self.now { self.now = now }
        guard !left else { return }
        switch event {
        case .start: start()
        case let .linkUp(peer, address, outbound): linkUp(peer, address: address, outbound: outbound)
        case let .linkDown(peer, reason): linkDown(peer, reason: reason)
        case let .connectFailed(address, reason): connectFailed(address, reason: reason)
        case let .message(from, message): receive(message, from: from)
        case let .timer(timer): fire(timer)
        case let .publish(record): publish(record)
        case let .loopLag(lag): observeLoopLag(lag)
        case let .wallClock(unixMs): unixOffsetMs = unixMs &- self.now.nanoseconds / 1_000_000
        case .leave: leave()
        }
    }

    /// Same as `handle(_:now:into:)`, with the trace events (when `config.traceEnabled`) appended
    /// to `traces` instead of as `.trace` effects; each says how many effects of `effects`
    /// preceded it (`GossipTrace.effectIndex`). The simulator's traced hot path.
    public mutating func handle(_ event: GossipEvent, now: Instant, into effects: inout [GossipEffect],
                                traces: inout [GossipTrace]) {
        swap(&tx, &traces)
        traceApart = true
        defer { swap(&tx, &traces); traceApart = false }
        handle(event, now: now, into: &effects)
    }

    /// Graceful shutdown: `Disconnect` to every active peer (they move us to their passive view
    /// instead of treating the closed link as a failure and re-dialling), close every link.
    mutating func leave() {
        for a in active {
            send(.disconnect, to: a.peer.id)
            fx.append(.disconnect(a.peer.id, reason: "leaving"))
            trace(.disconnect, peer: a.peer.id, reason: "leaving")
        }
        for p in pending { fx.append(.disconnect(p.peer, reason: "leaving")) }
        active.removeAll()
        pending.removeAll()
        dials.removeAll()
        left = true
    }

    mutating func start() {
        guard !started else { return }
        started = true
        // Random phases so that a mesh started at once does not tick in lockstep.
        setTimer(.housekeeping, at: now + jitter(config.housekeepingInterval))
        setTimer(.shuffle, at: now + jitter(config.shuffleInterval))
        setTimer(.antiEntropy, at: now + jitter(config.antiEntropyInterval))
        nextExpirySweep = now + config.expirySweepInterval
        if config.announceInterval != nil { fire(.announce) }
        join()
    }

    mutating func fire(_ timer: GossipTimer) {
        switch timer {
        case .housekeeping:
            housekeeping()
            setTimer(.housekeeping, at: now + config.housekeepingInterval)
        case .shuffle:
            startShuffle()
            setTimer(.shuffle, at: now + config.shuffleInterval)
        case .antiEntropy:
            startAntiEntropy()
            setTimer(.antiEntropy, at: now + config.antiEntropyInterval)
        case .ihaveFlush:
            flushLazy()
        case .announce:
            fx.append(.announcementDue)
            if let every = config.announceInterval { setTimer(.announce, at: now + every) }
        case let .graft(id):
            graftTimerFired(id)
        }
    }

    mutating func receive(_ message: GossipMessage, from peer: NodeID) {
        counters.messagesIn += 1
        // Only active peers count as heard: a pending link is closed after `idleLinkTimeout`
        // whatever arrives on it, so a peer that wrongly believes we are its neighbour (a lost
        // `Join` or `NeighborReply`) gets a link-down and repairs its view.
        if let i = activeIndex(peer) { active[i].lastHeard = now }
        switch message {
        case let .join(address): onJoin(from: peer, address: address)
        case let .forwardJoin(node, ttl): onForwardJoin(node, ttl: ttl, from: peer)
        case let .neighbor(priority, address): onNeighbor(from: peer, priority: priority, address: address)
        case let .neighborReply(accepted): onNeighborReply(from: peer, accepted: accepted)
        case .disconnect: onDisconnect(from: peer)
        case let .shuffle(origin, ttl, peers): onShuffle(origin: origin, ttl: ttl, peers: peers, from: peer)
        case let .shuffleReply(peers): onShuffleReply(peers, from: peer)
        case let .ping(nonce):
            if isActive(peer) || pendingIndex(peer) != nil {
                send(.pong(nonce: nonce), to: peer)
            } else {
                // A keepalive on a link we do not consider ours: tell the peer so it refills.
                send(.disconnect, to: peer)
                fx.append(.disconnect(peer, reason: "not a neighbour"))
            }
        case .pong: break
        case let .gossip(item): onGossip(item, from: peer)
        case let .ihave(entries): onIHave(entries, from: peer)
        case let .graft(ids): onGraft(ids, from: peer)
        case .prune: onPrune(from: peer)
        case let .pruneTree(author): onPruneTree(author, from: peer)
        case let .graftTree(author): onGraftTree(author, from: peer)
        case let .reconcile(ranges): onReconcile(ranges, from: peer)
        case let .want(ids): onWant(ids, from: peer)
        case let .records(items): onRecords(items, from: peer)
        }
    }

    mutating func observeLoopLag(_ lag: TimeSpan) {
        if lag > config.lagThreshold {
            localHealth = min(localHealth + 1, config.maxLocalHealth)
        } else if localHealth > 0 {
            localHealth -= 1
        }
    }

    // MARK: Helpers

    mutating func send(_ message: GossipMessage, to peer: NodeID) {
        counters.messagesOut += 1
        if config.traceEnabled {
            switch message {
            case let .gossip(item):
                trace(.send, record: item.record, peer: peer, bytes: message.encodedSize, hops: Int(item.hops))
            case let .records(items):
                for item in items { trace(.send, record: item.record, peer: peer, bytes: item.record.encoded.count, hops: Int(item.hops)) }
            default: break
            }
        }
        if message.carriesPayload { counters.payloadOut += 1 }
        fx.append(.send(to: peer, message))
    }

    mutating func setTimer(_ timer: GossipTimer, at: Instant) { fx.append(.setTimer(timer, at: at)) }

    mutating func trace(_ kind: TraceEvent.Kind, record: SignedRecord? = nil, id: Hash? = nil, recordKind: String? = nil,
                        peer: NodeID? = nil, bytes: Int? = nil, hops: Int? = nil, reason: String? = nil) {
        guard config.traceEnabled else { return }
        let event = TraceEvent(at: now, node: me.id, kind: kind, recordKind: record.map { $0.kind.description } ?? recordKind,
                               recordID: record?.id ?? id, peer: peer, bytes: bytes, hops: hops, reason: reason)
        if traceApart { tx.append(GossipTrace(effectIndex: fx.count, event: event)) } else { fx.append(.trace(event)) }
    }

    /// Uniform in 0..<n (n > 0).
    mutating func random(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(rng.next() % UInt64(n))
    }

    /// A random point in [0, span).
    /// True with probability `p` (draws from the RNG only when 0 < p < 1).
    mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return Double(rng.next() >> 11) * 0x1p-53 < p
    }

    mutating func jitter(_ span: TimeSpan) -> TimeSpan {
        guard span.nanoseconds > 0 else { return .zero }
        return TimeSpan(nanoseconds: Int64(rng.next() % UInt64(span.nanoseconds)))
    }

    func activeIndex(_ id: NodeID) -> Int? {
        for i in active.indices where active[i].peer.id == id { return i }
        return nil
    }
    func isActive(_ id: NodeID) -> Bool { activeIndex(id) != nil }
    func pendingIndex(_ id: NodeID) -> Int? {
        for i in pending.indices where pending[i].peer == id { return i }
        return nil
    }
}

/// A member of the active view: a live link that broadcasts use.
struct ActivePeer: Sendable {
    var peer: PeerRef
    /// Plumtree: eager peers get full records, lazy peers get `IHave`.
    var eager: Bool
    var lastHeard: Instant
    /// When the link joined the active view (an `IHave` right after is the link-up announcement).
    var since: Instant = .zero
    var pingSentAt: Instant?
    /// When this peer last delivered a record to us first (its link is then part of some tree).
    var lastFirstDelivery: Instant?
    /// `IHave` entries waiting for the next flush.
    var lazyQueue: [IHaveEntry] = []
}

/// An active peer lost to a failure, re-dialled with back-off so that partitions heal.
struct ReconnectEntry: Sendable {
    var peer: PeerRef
    var lostAt: Instant
    var nextAttempt: Instant
    var backoff: TimeSpan
}

/// A link that is up but not (yet) in the active view.
struct PendingLink: Sendable {
    enum State: Sendable {
        /// Inbound; waiting for the peer's first message.
        case inbound
        /// We sent a `Neighbor` request; waiting for the reply.
        case awaitingReply(PeerRef)
        /// We opened it to deliver one message; the peer closes it.
        case temporary
    }
    var peer: NodeID
    var state: State
    var since: Instant
}

/// An outstanding `connect` effect and what the link is for.
struct Dial: Sendable {
    enum Purpose: Sendable {
        case join
        case neighbor(NeighborPriority, PeerRef)
        case reconnect(PeerRef)
        case deliver(GossipMessage)
    }
    var address: String
    var purpose: Purpose
    var since: Instant
}

/// One author's broadcast tree: the active peers that get only `IHave` for its records
/// (`perAuthorTrees`), or, for trees grown from the shared tree (`authorTreeAfter`), this node's
/// pushes for the author (explicitly eager or lazy peers; others follow the shared tree) and its
/// parent, the peer it takes the author's records from, with that path's hop count.
struct AuthorTree: Sendable {
    var lazy: [NodeID] = []
    var lastUsed: Instant
    var eager: [NodeID] = []
    /// Records of the author accepted (the tree is grown at `authorTreeAfter`).
    var records = 0
    var grown = false
    var parent: NodeID?
    var parentHops: UInt16 = .max
}

/// A recently delivered record, for the `IHave` a new active peer gets.
struct RecentRecord: Sendable {
    var id: Hash
    var hops: UInt16
    var at: Instant
}

/// An id announced by `IHave` that has not arrived yet.
struct MissingRecord: Sendable {
    var announcers: [(peer: NodeID, hops: UInt16)]
    /// When the first `IHave` for it arrived.
    var since: Instant
    var attempts = 0
    /// Peers already sent a `Graft` for it (announcers first, then other active peers).
    var asked: [NodeID] = []
}
