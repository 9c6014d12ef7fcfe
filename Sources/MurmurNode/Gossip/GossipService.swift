#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurWire

/// How the hosted gossip layer is set up.
public struct GossipServiceConfig: Sendable {
    public var gossip = GossipConfig()
    /// Addresses to join through (`murmur node --join`).
    public var seeds: [String] = []
    /// The address others dial this node at (default: the bound listen address).
    public var advertise: String?
    /// What the node's `NodeAnnouncement` says.
    public var models: [Hash] = []
    public var freeSlots: UInt16 = 0
    public var totalSlots: UInt16 = 0
    /// Seed of the gossip layer's random generator (nil: from the system generator).
    public var rngSeed: UInt64?

    public init() {}

    /// Short timers for tests and demos on loopback (`murmur node --gossip-fast`): everything
    /// about 5–10 × quicker than the defaults of Specs/gossip.md.
    public static func fastGossip() -> GossipConfig {
        var c = GossipConfig()
        c.shuffleInterval = .seconds(Int64(2))
        c.housekeepingInterval = .milliseconds(100)
        c.keepaliveInterval = .milliseconds(300)
        c.failureTimeout = .seconds(Int64(1))
        c.idleLinkTimeout = .seconds(Int64(2))
        c.joinRetry = .milliseconds(500)
        c.reconnectInitial = .milliseconds(200)
        c.reconnectMax = .seconds(Int64(1))
        c.reconnectGiveUp = .seconds(Int64(30))
        c.antiEntropyInterval = .milliseconds(500)
        c.antiEntropyMinAge = .seconds(Int64(1))
        c.expirySweepInterval = .seconds(Int64(1))
        c.announceInterval = .seconds(Int64(20))
        return c
    }
}

/// Counters of the gossip host (the shell side; the state machine keeps `GossipCounters`).
public struct GossipHostCounters: Sendable, Equatable {
    /// Gossip messages received / sent, by message name (`gossip`, `ihave`, `shuffle` …).
    public var received: [String: Int] = [:]
    public var sent: [String: Int] = [:]
    public var bytesIn = 0, bytesOut = 0
    /// Payloads that were not a gossip message of their type (the link is closed).
    public var malformed = 0
    /// Records refused before the state machine saw them, by reason (`invalid-signature` …).
    public var recordsRefused: [String: Int] = [:]
    /// Messages too large for one transport message, sent in fragments / received that way.
    public var fragmentedOut = 0, fragmentedIn = 0
    /// Partial fragmented messages discarded (out of order, over the reassembly limit).
    public var fragmentsDiscarded = 0
    /// Messages larger than the largest gossip message (not sent; a bug if ever non-zero).
    public var tooLarge = 0
    /// Sends the transport refused (full queue): gossip repairs through grafts and anti-entropy.
    public var sendsRefused = 0
    public var publishedLocally = 0
    public var announcementsSigned = 0
    /// Timers or dials dropped because their tables were full (a bug if ever non-zero).
    public var tableOverflow = 0
    public init() {}
}

/// The pure gossip state machine (`GossipNode`: HyParView, Plumtree, anti-entropy, directory)
/// hosted in a `Node`. This shell translates link events, messages and timers into
/// `GossipEvent`s, and `GossipEffect`s into sends, dials, timers and traces. It decodes every
/// payload with the bounded gossip decoder and validates every record (signature, body and clock
/// rules, `Record(validating:nowUnixMs:)`) before the state machine sees it; refused records are
/// counted and traced as `drop`. It signs the node's own `NodeAnnouncement` when asked.
///
/// A class, so that the node's owner can read its state (`murmur status`) and publish records;
/// everything runs on the node's loop thread.
public final class GossipService: NodeProtocol {
    public let messageTypes: ClosedRange<UInt8> = GossipWire.messageTypes
    public let config: GossipServiceConfig
    public private(set) var counters = GossipHostCounters()
    /// Receives delivered and forgotten records (the persistent store plugs in here).
    public weak var recordSink: RecordSink?
    /// Called on the loop for each record delivered here (not for local publications).
    public var onDeliver: ((SignedRecord, UInt16, DeliveryPath) -> Void)?
    /// During `onDeliver`: the delivered record as gossip validated it on receipt (typed, so
    /// that the callee need not decode and check the body again); nil when not at hand.
    public private(set) var delivering: Record?
    /// The first 16 bytes of a record's signature (a lookup key; a match is then compared in full).
    struct SignatureKey: Hashable {
        var a: UInt64, b: UInt64
        init(_ a: UInt64, _ b: UInt64) { self.a = a; self.b = b }
    }
    /// Ids of the records delivered or published lately by their signature (`heldCopy`).
    private var recentBySignature: [SignatureKey: Hash] = [:]
    private var signatureRing: [SignatureKey] = []
    private var signatureNext = 0
    private static let signatureRingSize = Limits.gossipHeldCopySignatures
    /// Records validated in the message being handled, by id, until the state machine delivers
    /// them (cleared after each message).
    private var validated: [Hash: Record] = [:]
    /// Called for each valid record this node publishes itself (its announcements included):
    /// gossip does not deliver a node's own records back to it.
    public var onLocalPublish: ((SignedRecord) -> Void)?

    private let identity: SigningKey
    private let clock: @Sendable () -> Int64
    /// Nil until the node is started (the listen address is part of the node's identity card).
    public private(set) var gossip: GossipNode?
    private var timers: [UInt64: (timer: GossipTimer, at: Instant)] = [:]
    private var nextTimerID: UInt64 = 1
    /// Dials in flight: the address as the state machine named it.
    private var dialNames: [SocketAddress: String] = [:]
    /// Peers with at least one link.
    private var linked: Set<NodeID> = []
    /// Peers by the address we dialled them at (outbound links that are up).
    private var outboundPeers: [SocketAddress: NodeID] = [:]
    /// Peers we closed: their link-down is ours, not news to the state machine.
    private var closing: Set<NodeID> = []
    private var announcementSequence: UInt64 = 0
    private var lastAnnouncementMs: Int64 = 0
    /// Whether the node has re-announced on getting its first active peer (the announcement
    /// signed at start reached nobody, and anti-entropy skips records younger than 5 s).
    private var announcedOnFirstLink = false
    private var assembler = FragmentAssembler()
    private var nextFragmentID: UInt32 = 1
    /// Wall clock (Unix ms) at loop instant zero, as last told to the state machine.
    private var unixMsAtZero: Int64 = 0
    private var now: Instant = .zero
    private var traceEnabled: Bool { config.gossip.traceEnabled }
    /// Whether anyone consumes trace events now (a trace file, a live `/v1/trace` subscriber);
    /// nil: always, when `traceEnabled`. When it says no, the shell builds no events and drops
    /// the state machine's.
    public var traceWanted: (() -> Bool)? {
        get { tracing.pointee.wanted }
        set { tracing.pointee.wanted = newValue }
    }
    /// Where the shell's own events (`recv`/`send` of control messages, `drop`) go, when set:
    /// straight there instead of as `.trace` effects, so that a message whose only effect is its
    /// trace event costs no effect array. Set it to what `Node.traceSink` does. (The state
    /// machine's events still come as effects: within one call, the shell's may precede them.)
    public var traceSink: ((TraceEvent) -> Void)? {
        get { tracing.pointee.sink }
        set { tracing.pointee.sink = newValue }
    }
    /// The node's trace file: the shell's own events are packed straight into it, without
    /// building a `TraceEvent` (`traceSink`, when also set, still gets them as events: e.g. for
    /// the live API). `murmur node --trace` sets it.
    public var traceFile: NodeTraceFile? {
        get { tracing.pointee.file }
        set { tracing.pointee.file = newValue }
    }
    /// What `trace` reads for every event, behind a pointer: no dynamic exclusivity check per
    /// event (a class's stored properties get one per access; `murmur-bench trace` measures it).
    private struct Tracing {
        var enabled = false
        var wanted: (() -> Bool)?
        var sink: ((TraceEvent) -> Void)?
        var file: NodeTraceFile?
        /// This node, once started.
        var me: NodeID?
    }
    private let tracing: UnsafeMutablePointer<Tracing> = {
        let p = UnsafeMutablePointer<Tracing>.allocate(capacity: 1)
        p.initialize(to: Tracing())
        return p
    }()

    /// The `.delivered` tag whose payload is a signed record to publish (see `publish`).
    public static let publishTag: UInt64 = 0x6D75_7267_7075_6231 // "murgpub1"
    /// The `.delivered` tag that makes the node sign and publish a fresh announcement now (its
    /// models or slots changed).
    public static let reannounceTag: UInt64 = 0x6D75_7267_616E_6E31 // "murgann1"
    /// What the announcement lists when it is signed (models held, free and total slots); nil:
    /// the static values of the config.
    public var announcementContent: (() -> (models: [Hash], freeSlots: UInt16, totalSlots: UInt16))?

    public init(identity: SigningKey, config: GossipServiceConfig,
                unixMilliseconds: @escaping @Sendable () -> Int64 = GossipService.systemUnixMilliseconds) {
        self.identity = identity
        self.config = config
        self.clock = unixMilliseconds
        tracing.pointee.enabled = config.gossip.traceEnabled
    }

    deinit {
        tracing.deinitialize(count: 1)
        tracing.deallocate()
    }

    public static let systemUnixMilliseconds: @Sendable () -> Int64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The wall clock now, in Unix ms.
    public var unixNowMs: Int64 { clock() }

    // MARK: NodeProtocol

    public func handle(_ event: ProtocolEvent, now: Instant) -> [ProtocolEffect] {
        if now > self.now { self.now = now }
        var out: [ProtocolEffect] = []
        switch event {
        case let .started(local, listen):
            start(local: local, listen: listen)
            run(.start, into: &out)
        case let .peerConnected(link):
            closing.remove(link.peer)
            linked.insert(link.peer)
            var name = link.remoteAddress.map { "\($0)" } ?? "in:\(link.link)"
            var outbound = false
            if link.direction == .outbound, let a = link.remoteAddress, let dialled = dialNames.removeValue(forKey: a) {
                name = dialled
                outbound = true
            }
            if link.direction == .outbound, let a = link.remoteAddress, outboundPeers.count < Limits.gossipMaxPendingLinks * 8 {
                outboundPeers[a] = link.peer
            }
            run(.linkUp(peer: link.peer, address: name, outbound: outbound), into: &out)
        case let .peerDisconnected(peer, reason):
            linked.remove(peer)
            outboundPeers = outboundPeers.filter { $0.value != peer }
            assembler.forget(peer)
            if closing.remove(peer) != nil { break }
            run(.linkDown(peer: peer, reason: reason), into: &out)
        case let .connectFailed(address, reason):
            let name = dialNames.removeValue(forKey: address) ?? "\(address)"
            run(.connectFailed(address: name, reason: reason), into: &out)
        case let .message(from, type, payload) where type == GossipWire.fragmentType:
            switch assembler.add(payload, from: from) {
            case .incomplete: break
            case let .complete(message):
                counters.fragmentedIn += 1
                guard let tagByte = message.first, let tag = GossipMessage.Tag(rawValue: tagByte) else {
                    malformed(from: from, type: type, bytes: message.count, why: "reassembled message has no gossip tag", into: &out)
                    break
                }
                receive(from: from, type: GossipWire.messageType(for: tag), payload: message, into: &out)
            case let .malformed(why):
                malformed(from: from, type: type, bytes: payload.count, why: why, into: &out)
            case .dropped:
                counters.fragmentsDiscarded += 1
            }
        case let .message(from, type, payload):
            receive(from: from, type: type, payload: payload, into: &out)
        case let .timer(id):
            guard let entry = timers.removeValue(forKey: id) else { break }
            syncWallClock(into: &out)
            if entry.timer == .housekeeping {
                // Lifeguard: how late our own loop ran this timer.
                run(.loopLag(now - entry.at), into: &out)
            }
            run(.timer(entry.timer), into: &out)
        case .sendRefused:
            counters.sendsRefused += 1
        case let .delivered(tag, _) where tag == NodeDelivery.shutdownTag:
            run(.leave, into: &out)
        case let .delivered(tag, _) where tag == Self.reannounceTag:
            if let record = signAnnouncement() { publish(record, into: &out) }
        case let .delivered(tag, payload):
            guard tag == Self.publishTag else { break }
            do {
                // Bytes handed over inside this process: a record this node signed itself is
                // not verified again (any other author's is).
                let me = identity.publicKey
                let record = try SignedRecord(decoding: payload, skipSignatureCheck: { _, author in author == me })
                publish(record, into: &out)
            } catch {
                out.append(.log("gossip: refused a local record: \(error)"))
            }
        case .writable, .workRefused:
            break
        }
        if !announcedOnFirstLink, config.gossip.announceInterval != nil, gossip?.activeView.isEmpty == false {
            announcedOnFirstLink = true
            if let record = signAnnouncement() { publish(record, into: &out) }
        }
        return out
    }

    // MARK: Local publication

    /// Publishes a record created on this node (validated first). Returns the effects for the
    /// node to perform; shell code calls `Node.deliverLocally` with `publishTag` instead.
    public func publish(_ record: SignedRecord, into out: inout [ProtocolEffect]) {
        do {
            _ = try Record(validating: record, nowUnixMs: clock())
        } catch {
            refuse(record, error, from: nil, into: &out)
            return
        }
        counters.publishedLocally += 1
        rememberSignature(record)
        run(.publish(record), into: &out)
        onLocalPublish?(record)
    }

    // MARK: Translation

    private func start(local: NodeID, listen: SocketAddress?) {
        guard gossip == nil else { return }
        let address = config.advertise ?? listen.map { "\($0)" } ?? "unknown:0"
        var seed = config.rngSeed ?? UInt64.random(in: .min ... .max)
        if config.rngSeed == nil { seed ^= UInt64(truncatingIfNeeded: local.key.w0) }
        unixMsAtZero = clock() &- now.nanoseconds / 1_000_000
        tracing.pointee.me = local
        gossip = GossipNode(me: PeerRef(id: local, address: address), seeds: config.seeds, config: config.gossip,
                            rng: SeededRNG(seed: seed), unixMsAtZero: unixMsAtZero)
    }

    /// Tells the state machine the wall clock when it drifted from loop time by over a second.
    private func syncWallClock(into out: inout [ProtocolEffect]) {
        let unix = clock()
        let expected = unixMsAtZero &+ now.nanoseconds / 1_000_000
        if abs(unix &- expected) > 1000 {
            unixMsAtZero = unix &- now.nanoseconds / 1_000_000
            run(.wallClock(unixMs: unix), into: &out)
        }
    }

    private func receive(from peer: NodeID, type: MessageType, payload: [UInt8], into out: inout [ProtocolEffect]) {
        counters.bytesIn += payload.count
        // Most `Gossip` payloads under load are further copies of a record this node holds:
        // recognised by its bytes, they skip decoding and hashing (the state machine counts the
        // duplicate and prunes as usual).
        if payload.first == GossipMessage.Tag.gossip.rawValue, type == GossipWire.messageType(for: .gossip),
           let (held, hops) = heldCopy(payload) {
            counters.received["gossip", default: 0] += 1
            run(.message(from: peer, .gossip(HoppedRecord(record: held, hops: hops))), into: &out)
            return
        }
        // A copy of a record this node already verified (its id is in the seen cache or the
        // store) skips the signature and body checks: the state machine drops it as a duplicate.
        let known: (Hash) -> Bool = { id in self.gossip?.hasSeen(id) ?? false }
        switch GossipWire.decode(type: type, payload: payload, knownIDs: known) {
        case let .failure(.malformed(why)):
            malformed(from: peer, type: type, bytes: payload.count, why: why, into: &out)
        case let .failure(.record(e, record)):
            counters.recordsRefused[GossipWire.reason(e), default: 0] += 1
            trace(.drop, record: record, peer: peer, bytes: payload.count, reason: GossipWire.reason(e), into: &out)
        case var .success(message):
            counters.received[message.name, default: 0] += 1
            if !message.carriesPayload {
                trace(.recv, recordKind: message.name, peer: peer, bytes: payload.count, into: &out)
            }
            // Every record passes the body and clock rules before the state machine sees it.
            let nowMs = clock()
            switch message {
            case let .gossip(item):
                if known(item.record.id) { break }
                do { validated[item.record.id] = try Record(validating: item.record, nowUnixMs: nowMs) } catch {
                    refuse(item.record, error, from: peer, into: &out)
                    return
                }
            case let .records(items):
                var kept: [HoppedRecord] = []
                for item in items {
                    if known(item.record.id) { kept.append(item); continue }
                    do {
                        validated[item.record.id] = try Record(validating: item.record, nowUnixMs: nowMs)
                        kept.append(item)
                    } catch {
                        refuse(item.record, error, from: peer, into: &out)
                    }
                }
                if kept.isEmpty { return }
                message = .records(kept)
            default:
                break
            }
            run(.message(from: peer, message), into: &out)
            validated.removeAll(keepingCapacity: true)
        }
    }

    /// A `Gossip` payload (`tag ‖ hops u16 ‖ length u32 ‖ record`) whose record bytes are
    /// exactly those of a record this node holds (found by its signature, compared byte for
    /// byte): that record, already verified, and the hop count. Nil for anything else.
    private func heldCopy(_ payload: [UInt8]) -> (SignedRecord, UInt16)? {
        guard payload.count > 7 + Signature.byteCount, !recentBySignature.isEmpty else { return nil }
        return payload.withUnsafeBytes { p -> (SignedRecord, UInt16)? in
            guard let base = p.baseAddress else { return nil }
            let length = Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 3, as: UInt32.self)))
            guard 7 + length == p.count else { return nil }
            let key = SignatureKey(p.loadUnaligned(fromByteOffset: p.count - 64, as: UInt64.self),
                                   p.loadUnaligned(fromByteOffset: p.count - 56, as: UInt64.self))
            guard let id = recentBySignature[key], let held = gossip?.store[id]?.record, held.encoded.count == length else { return nil }
            let same = held.encoded.withUnsafeBytes { h in h.baseAddress.map { memcmp($0, base + 7, length) == 0 } ?? false }
            guard same else { return nil }
            return (held, UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt16.self)))
        }
    }

    /// Remembers a held record's signature for `heldCopy` (a ring of the latest ones).
    private func rememberSignature(_ record: SignedRecord) {
        let key: SignatureKey? = record.encoded.withUnsafeBytes { p in
            guard p.count >= Signature.byteCount else { return nil }
            return SignatureKey(p.loadUnaligned(fromByteOffset: p.count - 64, as: UInt64.self),
                                p.loadUnaligned(fromByteOffset: p.count - 56, as: UInt64.self))
        }
        guard let key else { return }
        if signatureRing.count < Self.signatureRingSize {
            signatureRing.append(key)
        } else {
            recentBySignature[signatureRing[signatureNext]] = nil
            signatureRing[signatureNext] = key
            signatureNext = (signatureNext + 1) % Self.signatureRingSize
        }
        recentBySignature[key] = record.id
    }

    /// Garbage from a peer: counted, traced, and the link is closed.
    private func malformed(from peer: NodeID, type: MessageType, bytes: Int, why: String, into out: inout [ProtocolEffect]) {
        counters.malformed += 1
        trace(.drop, recordKind: "\(type)", peer: peer, bytes: bytes, reason: "malformed", into: &out)
        out.append(.log("gossip: malformed message \(type) from \(peer.short): \(why); closing the link"))
        // Not marked `closing`: the state machine learns of the loss like of any other.
        out.append(.disconnect(peer, reason: "malformed gossip message"))
    }

    private func refuse(_ record: SignedRecord, _ error: Error, from peer: NodeID?, into out: inout [ProtocolEffect]) {
        let reason = (error as? RecordError).map(GossipWire.reason) ?? "invalid"
        counters.recordsRefused[reason, default: 0] += 1
        trace(.drop, record: record, peer: peer, reason: reason, into: &out)
    }

    /// Feeds one event to the state machine and performs its effects; effects that answer at
    /// once (an announcement to sign, a dial to an already linked peer) are fed back, a bounded
    /// number of times.
    private func run(_ first: GossipEvent, into out: inout [ProtocolEffect]) {
        guard gossip != nil else { return }
        var queue: [GossipEvent] = [first]
        var rounds = 0
        while !queue.isEmpty && rounds < 64 {
            rounds += 1
            let event = queue.removeFirst()
            let effects = gossip!.handle(event, now: now)
            for effect in effects { perform(effect, followUps: &queue, into: &out) }
        }
    }

    private func perform(_ effect: GossipEffect, followUps: inout [GossipEvent], into out: inout [ProtocolEffect]) {
        switch effect {
        case let .send(peer, message):
            let (parts, tooLarge) = GossipWire.fit(message)
            for m in tooLarge {
                let payload = m.encoded
                guard payload.count <= Limits.gossipMaxMessageBytes else {
                    counters.tooLarge += 1
                    trace(.drop, recordKind: m.name, peer: peer, bytes: payload.count, reason: "too-large", into: &out)
                    continue
                }
                counters.fragmentedOut += 1
                counters.sent[m.name, default: 0] += 1
                counters.bytesOut += payload.count
                if !m.carriesPayload { trace(.send, recordKind: m.name, peer: peer, bytes: payload.count, into: &out) }
                let id = nextFragmentID
                nextFragmentID &+= 1
                for fragment in GossipWire.fragments(of: payload, id: id) {
                    out.append(.send(to: peer, type: GossipWire.fragmentType, payload: fragment))
                }
            }
            for m in parts {
                let payload = m.encoded
                counters.sent[m.name, default: 0] += 1
                counters.bytesOut += payload.count
                if !m.carriesPayload { trace(.send, recordKind: m.name, peer: peer, bytes: payload.count, into: &out) }
                out.append(.send(to: peer, type: GossipWire.messageType(for: m.tag), payload: payload))
            }
        case let .connect(name, expected):
            if let expected, linked.contains(expected) {
                // Already linked: the dial "succeeds" on the existing link.
                followUps.append(.linkUp(peer: expected, address: name, outbound: true))
                return
            }
            guard let address = try? SocketAddress(parsing: name) else {
                followUps.append(.connectFailed(address: name, reason: "not a HOST:PORT address"))
                return
            }
            guard dialNames.count < Limits.gossipMaxPendingLinks * 4 || dialNames[address] != nil else {
                counters.tableOverflow += 1
                followUps.append(.connectFailed(address: name, reason: "too many dials"))
                return
            }
            if expected == nil, let peer = outboundPeers[address], linked.contains(peer) {
                // A seed we already have a link to (re-joins go through the seeds): use that
                // link rather than opening one more TCP connection per re-join.
                followUps.append(.linkUp(peer: peer, address: name, outbound: true))
                return
            }
            dialNames[address] = name
            out.append(.connect(address, expectedPeer: expected))
        case let .disconnect(peer, reason):
            if linked.contains(peer) { closing.insert(peer) }
            out.append(.disconnect(peer, reason: reason))
        case let .setTimer(timer, at):
            // Only graft timers can be numerous (≤ one or two per missing id); refusing one
            // leaves that record to anti-entropy. Periodic timers are never refused.
            if case .graft = timer, timers.count >= Limits.gossipMaxMissing * 2 + 64 {
                counters.tableOverflow += 1
                return
            }
            let id = nextTimerID
            nextTimerID &+= 1
            timers[id] = (timer, at)
            out.append(.setTimer(id: id, at: at))
        case let .deliver(record, hops, path):
            rememberSignature(record)
            if let typed = validated.removeValue(forKey: record.id), typed.id == record.id {
                recordSink?.recordDelivered(typed, hops: hops, path: path)
                delivering = typed
            } else {
                recordSink?.recordDelivered(record, hops: hops, path: path)
            }
            onDeliver?(record, hops, path)
            delivering = nil
        case let .forget(id):
            recordSink?.recordForgotten(id)
        case .announcementDue:
            if let record = signAnnouncement() {
                followUps.append(.publish(record))
                onLocalPublish?(record)
            }
        case let .trace(event):
            // Links are traced by the node from the transport's point of view.
            if event.kind == .connect || event.kind == .disconnect { return }
            if let traceWanted, !traceWanted() { return }
            out.append(.trace(event))
        }
    }

    private func signAnnouncement() -> SignedRecord? {
        guard let me = gossip?.me else { return nil }
        // Strictly increasing issue times: an announcement issued in the same millisecond as the
        // previous one would be dropped as superseded.
        let nowMs = max(clock(), lastAnnouncementMs + 1)
        lastAnnouncementMs = nowMs
        announcementSequence = max(announcementSequence + 1, UInt64(max(nowMs, 0)))
        let interval = config.gossip.announceInterval ?? .seconds(Int64(600))
        let lifetime = min(Int64(interval.milliseconds) * 3, RecordKind.nodeAnnouncement.maxLifetimeMs)
        let content = announcementContent?() ?? (models: config.models, freeSlots: config.freeSlots, totalSlots: config.totalSlots)
        let body = NodeAnnouncement(sequence: announcementSequence, addresses: [me.address], models: content.models,
                                    freeSlots: content.freeSlots, totalSlots: content.totalSlots,
                                    engineVersion: "murmur/\(MurmurVersion.software)")
        do {
            let record = try SignedRecord.sign(body, by: identity, issuedAt: nowMs, expiresAt: nowMs + max(lifetime, 1000))
            counters.announcementsSigned += 1
            return record
        } catch {
            return nil
        }
    }

    private func trace(_ kind: TraceEvent.Kind, record: SignedRecord? = nil, recordKind: String? = nil, peer: NodeID?,
                       bytes: Int? = nil, reason: String? = nil, into out: inout [ProtocolEffect]) {
        let t = tracing
        guard t.pointee.enabled, t.pointee.wanted?() ?? true, let me = t.pointee.me else { return }
        // Built where it is consumed (a shared `let` cost a copy and a destroy of the ~200-byte
        // event per traced message: `murmur-bench trace`).
        let recordKind = record?.kind.description ?? recordKind
        if let file = t.pointee.file {
            file.append(at: now, node: me, kind: kind, recordKind: recordKind, recordID: record?.id, peer: peer,
                        bytes: bytes, reason: reason)
            if let sink = t.pointee.sink {
                sink(TraceEvent(at: now, node: me, kind: kind, recordKind: recordKind, recordID: record?.id, peer: peer,
                                bytes: bytes, reason: reason))
            }
        } else if let sink = t.pointee.sink {
            sink(TraceEvent(at: now, node: me, kind: kind, recordKind: recordKind, recordID: record?.id, peer: peer,
                            bytes: bytes, reason: reason))
        } else {
            out.append(.trace(TraceEvent(at: now, node: me, kind: kind, recordKind: recordKind, recordID: record?.id,
                                         peer: peer, bytes: bytes, reason: reason)))
        }
    }
}

extension NodeDelivery {
    /// Delivered to every hosted protocol by `Node.shutdown()` before the links close: gossip
    /// answers with `Disconnect` to each neighbour (they drop the link at once instead of
    /// treating it as a failure and re-dialling for minutes).
    public static let shutdownTag: UInt64 = 0x6D75_7273_6875_7431 // "murshut1"
}
