import MurmurCore
import MurmurCrypto

/// How a node is set up.
public struct NodeConfig: Sendable {
    public var listen: SocketAddress
    /// Addresses whose links the node keeps up (reconnecting with backoff).
    public var joins: [SocketAddress] = []
    public var transport = TransportConfig()
    public var reconnectInitialBackoff = TransportDefaults.reconnectInitialBackoff
    public var reconnectMaxBackoff = TransportDefaults.reconnectMaxBackoff

    public init(listen: SocketAddress, joins: [SocketAddress] = []) {
        self.listen = listen
        self.joins = joins
    }
}

/// What a node reports to whoever runs it (the CLI prints these).
public enum NodeEvent: Sendable {
    case listening(SocketAddress)
    case linkUp(LinkInfo)
    case linkDown(LinkInfo, reason: CloseReason)
    case roundTrip(peer: NodeID, rtt: TimeSpan)
    case joinRetry(SocketAddress, after: TimeSpan, reason: String)
}

/// A value another thread hands to the node's protocols (e.g. an inference result).
public struct NodeDelivery: Sendable {
    public var tag: UInt64
    public var payload: [UInt8]
    public init(tag: UInt64, payload: [UInt8]) {
        self.tag = tag
        self.payload = payload
    }
}

/// Counters of the node layer (the transport keeps its own).
public struct NodeCounters: Sendable, Equatable {
    public var messagesRouted = 0
    public var messagesUnhosted = 0
    public var sendsToUnknownPeer = 0
    public var sendsRefused = 0
    public var effectsTruncated = 0
    public var inboxItems = 0
    public var workRefused = 0
}

/// A snapshot of a node for `murmur status` and the HTTP API.
public struct NodeStatus: Sendable {
    public let id: NodeID
    public let listen: SocketAddress?
    public let peers: [NodeID]
    public let links: [LinkStats]
    public let transport: TransportCounters
    public let node: NodeCounters
}

/// The shell around the pure protocols: one event loop, one transport, the join links, and the
/// hosted `NodeProtocol`s. Turns transport callbacks and timers into `ProtocolEvent`s and
/// `ProtocolEffect`s into sends, dials and timers.
public final class Node: TransportDelegate {
    public let loop: EventLoop
    public let transport: Transport
    public let config: NodeConfig
    public var localID: NodeID { transport.localID }
    public private(set) var listenAddress: SocketAddress?
    public private(set) var counters = NodeCounters()
    public var logger: Logger
    /// Called on the loop for each `NodeEvent`.
    public var onEvent: ((NodeEvent) -> Void)?
    /// Receives trace events: the protocols' `.trace` effects and the shell's own `connect` /
    /// `disconnect` (the JSONL trace writer of MurmurTrace plugs in here).
    public var traceSink: ((TraceEvent) -> Void)?
    /// Runs `.work` effects off the loop (the worker pool plugs in here); it must not block and
    /// must answer through `inbox`. Without one, work is refused at once.
    public var workHandler: ((NodeDelivery) -> Bool)?
    /// Other threads hand values to the protocols through this channel (bounded).
    public let inbox = LoopChannel<NodeDelivery>(capacity: Limits.maxLoopChannelItems)

    private var protocols: [any NodeProtocol] = []
    /// Message type byte → index into `protocols` (or -1).
    private var routes = [Int](repeating: -1, count: 256)
    private var protocolTimers: [TimerKey: LoopToken] = [:]
    private var peers: [NodeID: [ConnectionID]] = [:]
    private var linkPeer: [ConnectionID: NodeID] = [:]
    private var joins: [JoinTarget] = []
    /// Dials asked for by protocols, until they succeed or fail: link → (protocol, address).
    /// (protocol, peer) pairs with a `sendRefused` already on its way: one notice per pair, so
    /// a protocol hammering a full peer cannot grow the loop's deferred work.
    private var refusalsPending: Set<RefusalKey> = []
    private struct RefusalKey: Hashable {
        var protocolIndex: Int
        var peer: NodeID
    }
    private var protocolDials: [ConnectionID: (protocolIndex: Int, address: SocketAddress)] = [:]
    private var started = false

    private struct TimerKey: Hashable {
        var protocolIndex: Int
        var id: UInt64
    }

    private struct JoinTarget {
        var address: SocketAddress
        var link: ConnectionID?
        var backoff: TimeSpan
        var retry: LoopToken?
        var isSelf = false
    }

    public init(loop: EventLoop, identity: SigningKey, networkKey: NetworkKey, config: NodeConfig, logger: Logger = Logger(level: .warning)) {
        self.loop = loop
        self.config = config
        self.logger = logger
        transport = Transport(loop: loop, identity: identity, networkKey: networkKey, config: config.transport)
        transport.delegate = self
        loop.attach(inbox) { [weak self] items in
            guard let self else { return }
            for item in items {
                self.counters.inboxItems += 1
                self.broadcast(.delivered(tag: item.tag, payload: item.payload))
            }
        }
    }

    /// Hosts a protocol. Call before `start()`.
    public enum HostError: Error, Equatable, CustomStringConvertible {
        case overlappingTypes(ClosedRange<UInt8>)
        case tooMany
        case alreadyStarted
        public var description: String {
            switch self {
            case .overlappingTypes(let r): return "message types \(r) overlap another protocol or the transport"
            case .tooMany: return "more than \(Limits.maxHostedProtocols) protocols"
            case .alreadyStarted: return "protocols must be hosted before start()"
            }
        }
    }

    public func host(_ p: any NodeProtocol) throws(HostError) {
        guard !started else { throw .alreadyStarted }
        guard protocols.count < Limits.maxHostedProtocols else { throw .tooMany }
        let range = p.messageTypes
        guard !range.overlaps(MessageType.transportRange), range.lowerBound > 0,
              range.allSatisfy({ routes[Int($0)] < 0 }) else { throw .overlappingTypes(range) }
        for t in range { routes[Int(t)] = protocols.count }
        protocols.append(p)
    }

    /// Listens, dials the join addresses, tells the protocols. Returns the bound address.
    @discardableResult
    public func start() throws(SystemError) -> SocketAddress {
        precondition(!started, "Node.start() twice")
        started = true
        let bound = try transport.listen(on: config.listen)
        listenAddress = bound
        onEvent?(.listening(bound))
        logger.info("listening on \(bound) as \(localID.hex)")
        var seen: Set<SocketAddress> = []
        joins = config.joins.filter { seen.insert($0).inserted }.prefix(Limits.maxJoinAddresses).map {
            JoinTarget(address: $0, link: nil, backoff: config.reconnectInitialBackoff, retry: nil)
        }
        for i in joins.indices { dialJoin(i) }
        broadcast(.started(local: localID, listen: bound))
        return bound
    }

    /// Closes every link politely and stops the loop's work for this node.
    public func shutdown() {
        if started { broadcast(.delivered(tag: NodeDelivery.shutdownTag, payload: [])) } // goodbyes first
        for j in joins { if let r = j.retry { loop.cancelTimer(r) } }
        joins.removeAll()
        for (_, t) in protocolTimers { loop.cancelTimer(t) }
        protocolTimers.removeAll()
        transport.shutdown()
    }

    /// Authenticated peers with at least one link.
    public var connectedPeers: [NodeID] { peers.keys.sorted() }

    public var status: NodeStatus {
        NodeStatus(id: localID, listen: listenAddress, peers: connectedPeers, links: transport.linkStats,
                   transport: transport.counters, node: counters)
    }

    /// Sends from shell code (HTTP API, worker results) rather than from a protocol's effects.
    public func send(_ type: MessageType, _ payload: [UInt8], to peer: NodeID) -> SendResult {
        guard let link = peers[peer]?.first else { return .notEstablished }
        return transport.send(type, payload, on: link)
    }

    /// Hands a value to every hosted protocol now, on the loop thread, as `.delivered` (shell
    /// code such as the control endpoint uses it; other threads use `inbox`).
    public func deliverLocally(_ item: NodeDelivery) {
        counters.inboxItems += 1
        broadcast(.delivered(tag: item.tag, payload: item.payload))
    }

    /// Performs effects that a hosted protocol returned outside `handle` (shell code calling the
    /// protocol directly, e.g. the store's replay feeding gossip already-verified records).
    public func perform(_ effects: [ProtocolEffect], from hosted: AnyObject) {
        guard let index = protocols.firstIndex(where: { ($0 as AnyObject) === hosted }) else { return }
        for effect in effects { perform(effect, for: index) }
    }

    /// Pings `peer` on its first link; the answer comes as `.roundTrip`.
    public func ping(_ peer: NodeID) {
        if let link = peers[peer]?.first { transport.ping(link: link) }
    }

    // MARK: joins

    private func dialJoin(_ i: Int) {
        guard joins.indices.contains(i), !joins[i].isSelf else { return }
        joins[i].retry = nil
        do {
            joins[i].link = try transport.dial(joins[i].address)
        } catch {
            scheduleJoinRetry(i, reason: "\(error)")
        }
    }

    private func scheduleJoinRetry(_ i: Int, reason: String) {
        guard joins.indices.contains(i), !joins[i].isSelf, joins[i].retry == nil else { return }
        joins[i].link = nil
        let base = joins[i].backoff
        // Jitter (±25 %) so that many nodes restarting together do not dial in lockstep.
        let delay = base * Double.random(in: 0.75...1.25)
        joins[i].backoff = min(base * Int64(2), config.reconnectMaxBackoff)
        let address = joins[i].address
        onEvent?(.joinRetry(address, after: delay, reason: reason))
        logger.debug("join \(address): \(reason); retrying in \(delay)")
        joins[i].retry = loop.schedule(after: delay) { [weak self] in
            guard let self, let j = self.joins.firstIndex(where: { $0.address == address }) else { return }
            self.joins[j].retry = nil
            self.dialJoin(j)
        }
    }

    // MARK: TransportDelegate

    public func transport(_ transport: Transport, linkUp link: LinkInfo) {
        guard let peer = link.peer else { return }
        if peer == localID {
            // Dialled ourselves (a join address that is our own): never retry it.
            if let j = joins.firstIndex(where: { $0.link == link.id }) { joins[j].isSelf = true; joins[j].link = nil }
            logger.warning("join address \(link.remoteAddress.map { "\($0)" } ?? "?") is this node itself; ignoring it")
            transport.close(link.id, reason: "self")
            return
        }
        if let j = joins.firstIndex(where: { $0.link == link.id }) { joins[j].backoff = config.reconnectInitialBackoff }
        let dial = protocolDials.removeValue(forKey: link.id)
        let first = peers[peer] == nil
        peers[peer, default: []].append(link.id)
        linkPeer[link.id] = peer
        onEvent?(.linkUp(link))
        traceSink?(TraceEvent(time: loop.now, node: localID, kind: .connect, peer: peer))
        logger.info("link up \(peer.short) \(link.direction) \(link.remoteAddress.map { "\($0)" } ?? "") handshake \(link.handshakeTime.map { "\($0)" } ?? "?")")
        transport.ping(link: link.id)
        let peerLink = PeerLink(peer: peer, link: link.id, direction: link.direction, remoteAddress: link.remoteAddress)
        if first {
            broadcast(.peerConnected(peerLink))
        } else if let dial {
            // A `connect` is always answered: the peer was already linked (e.g. it dialled us
            // at the same time), so only the protocol that asked hears about this extra link.
            deliver(.peerConnected(peerLink), to: dial.protocolIndex)
        }
    }

    public func transport(_ transport: Transport, linkDown link: LinkInfo, reason: CloseReason) {
        if let j = joins.firstIndex(where: { $0.link == link.id }) {
            joins[j].link = nil
            if case .localClose("self") = reason {} else { scheduleJoinRetry(j, reason: "\(reason)") }
        }
        if let dial = protocolDials.removeValue(forKey: link.id) {
            deliver(.connectFailed(dial.address, reason: "\(reason)"), to: dial.protocolIndex)
        }
        switch reason {
        case .handshakeFailed, .handshakeTimeout:
            traceSink?(TraceEvent(time: loop.now, node: localID, kind: .handshakeFail, peer: link.peer, reason: "\(reason)"))
        default: break
        }
        guard let peer = linkPeer.removeValue(forKey: link.id) else { return }
        onEvent?(.linkDown(link, reason: reason))
        traceSink?(TraceEvent(time: loop.now, node: localID, kind: .disconnect, peer: peer, reason: "\(reason)"))
        logger.info("link down \(peer.short): \(reason)")
        peers[peer]?.removeAll { $0 == link.id }
        if peers[peer]?.isEmpty == true {
            peers[peer] = nil
            broadcast(.peerDisconnected(peer: peer, reason: "\(reason)"))
        }
    }

    public func transport(_ transport: Transport, received type: MessageType, payload: UnsafeRawBufferPointer, link: ConnectionID, peer: NodeID) {
        let index = routes[Int(type.rawValue)]
        guard index >= 0 else {
            counters.messagesUnhosted += 1
            return
        }
        counters.messagesRouted += 1
        deliver(.message(from: peer, type: type, payload: Array(payload)), to: index)
    }

    public func transport(_ transport: Transport, writable link: ConnectionID) {
        guard let peer = linkPeer[link] else { return }
        broadcast(.writable(peer: peer))
    }

    public func transport(_ transport: Transport, pong rtt: TimeSpan, link: ConnectionID) {
        guard let peer = linkPeer[link] else { return }
        onEvent?(.roundTrip(peer: peer, rtt: rtt))
        logger.debug("rtt \(peer.short) \(rtt)")
    }

    // MARK: protocols

    private func broadcast(_ event: ProtocolEvent) {
        for i in protocols.indices { deliver(event, to: i) }
    }

    private func deliver(_ event: ProtocolEvent, to index: Int) {
        var effects = protocols[index].handle(event, now: loop.now)
        if effects.count > Limits.maxEffectsPerEvent {
            counters.effectsTruncated += 1
            logger.warning("protocol \(index) returned \(effects.count) effects for one event; keeping \(Limits.maxEffectsPerEvent)")
            effects.removeLast(effects.count - Limits.maxEffectsPerEvent)
        }
        for effect in effects { perform(effect, for: index) }
    }

    private func perform(_ effect: ProtocolEffect, for index: Int) {
        switch effect {
        case let .send(peer, type, payload):
            guard let link = peers[peer]?.first else {
                counters.sendsToUnknownPeer += 1
                return
            }
            switch transport.send(type, payload, on: link) {
            case .queued: break
            case .queueFull, .notEstablished, .tooLarge:
                counters.sendsRefused += 1
                let key = RefusalKey(protocolIndex: index, peer: peer)
                guard refusalsPending.insert(key).inserted else { return }
                loop.atEndOfIteration { [weak self] in
                    self?.refusalsPending.remove(key)
                    self?.deliver(.sendRefused(to: peer, type: type), to: index)
                }
            }
        case let .connect(address, expectedPeer):
            do {
                let link = try transport.dial(address, expectedPeer: expectedPeer)
                protocolDials[link] = (index, address)
            } catch {
                logger.debug("connect \(address): \(error)")
                loop.atEndOfIteration { [weak self] in self?.deliver(.connectFailed(address, reason: "\(error)"), to: index) }
            }
        case let .disconnect(peer, reason):
            for link in peers[peer] ?? [] { transport.close(link, reason: reason) }
        case let .setTimer(id, at):
            let key = TimerKey(protocolIndex: index, id: id)
            if let old = protocolTimers[key] { loop.cancelTimer(old) }
            protocolTimers[key] = loop.schedule(at: at) { [weak self] in
                guard let self else { return }
                self.protocolTimers[key] = nil
                self.deliver(.timer(id: id), to: index)
            }
        case let .cancelTimer(id):
            let key = TimerKey(protocolIndex: index, id: id)
            if let old = protocolTimers.removeValue(forKey: key) { loop.cancelTimer(old) }
        case let .work(tag, payload):
            if workHandler?(NodeDelivery(tag: tag, payload: payload)) != true {
                counters.workRefused += 1
                loop.atEndOfIteration { [weak self] in self?.deliver(.workRefused(tag: tag), to: index) }
            }
        case let .trace(event):
            traceSink?(event)
        case let .log(text):
            logger.info(text)
        }
    }
}
