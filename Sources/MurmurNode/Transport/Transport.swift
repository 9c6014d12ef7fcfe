#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// A link as the transport reports it.
public struct LinkInfo: Sendable, Equatable {
    public let id: ConnectionID
    /// Known once the handshake is done.
    public let peer: NodeID?
    public let direction: ConnectionDirection
    public let remoteAddress: SocketAddress?
    /// Time from connection start (connect or accept) to the end of the handshake.
    public let handshakeTime: TimeSpan?
}

/// Traffic of one link (for `status` and `/metrics`).
public struct LinkStats: Sendable, Equatable {
    public let link: LinkInfo
    public let bytesIn: Int
    public let bytesOut: Int
    public let framesIn: Int
    public let framesOut: Int
    public let messagesIn: Int
    public let messagesOut: Int
    public let queuedBytes: Int
}

/// Counters of the transport (what `status` and `/metrics` report).
public struct TransportCounters: Sendable, Equatable {
    public var accepted = 0
    public var rejectedInboundLimit = 0
    public var rejectedHalfOpenLimit = 0
    public var dialsRefusedLimit = 0
    public var established = 0
    public var handshakeFailures = 0
    public var handshakeTimeouts = 0
    public var connectFailures = 0
    public var idleTimeouts = 0
    public var protocolErrors = 0
    public var sendsRefusedQueueFull = 0
    public var unknownMessages = 0
    public var acceptErrors = 0
}

/// What the transport tells its owner (the node, a benchmark, a test). Called on the loop.
public protocol TransportDelegate: AnyObject {
    func transport(_ transport: Transport, linkUp link: LinkInfo)
    func transport(_ transport: Transport, linkDown link: LinkInfo, reason: CloseReason)
    /// A message for a protocol. `payload` is valid only during the call (it points into the
    /// decrypt buffer); copy what you keep.
    func transport(_ transport: Transport, received type: MessageType, payload: UnsafeRawBufferPointer, link: ConnectionID, peer: NodeID)
    /// The link's write queue drained below the low-water mark after a `.queueFull`.
    func transport(_ transport: Transport, writable link: ConnectionID)
    /// An answer to `ping(link:)` (or a keepalive) arrived.
    func transport(_ transport: Transport, pong rtt: TimeSpan, link: ConnectionID)
}

/// Timers and limits of one transport.
public struct TransportConfig: Sendable {
    public var connectTimeout = TransportDefaults.connectTimeout
    public var handshakeTimeout = TransportDefaults.handshakeTimeout
    public var idleTimeout = TransportDefaults.idleTimeout
    public var keepaliveInterval = TransportDefaults.keepaliveInterval
    public var sweepInterval = TransportDefaults.sweepInterval
    public var maxInbound = Limits.maxInboundConnections
    public var maxOutbound = Limits.maxOutboundConnections
    public var maxHalfOpen = Limits.maxHalfOpenHandshakes
    public init() {}
}

/// The connection table: a listener, outgoing dials, the limits, deadlines, keepalives, and
/// the transport messages (ping/pong/goodbye), which are answered here on the loop so that a
/// node busy with inference never looks dead.
public final class Transport: ConnectionOwner {
    public weak var delegate: TransportDelegate?
    public let loop: EventLoop
    public let config: TransportConfig
    public private(set) var counters = TransportCounters()
    public var localID: NodeID { sessions.localID }

    private let sessions: SessionFactory
    fileprivate var connections: [ConnectionID: Connection] = [:]
    private var listeners: [Listener] = []
    private var nextID: UInt64 = 1
    private var sweepTimer: LoopToken?
    private var lastPingSent: [ConnectionID: Instant] = [:]

    init(loop: EventLoop, sessions: SessionFactory, config: TransportConfig = TransportConfig()) {
        self.loop = loop
        self.sessions = sessions
        self.config = config
        scheduleSweep()
    }

    deinit {
        if let sweepTimer { loop.cancelTimer(sweepTimer) }
        for l in listeners {
            if let t = l.token { loop.deregister(fd: l.fd, token: t) }
            Posix.close(l.fd)
        }
        for c in connections.values { c.abandon() }
    }

    // MARK: listening

    /// Listens on `address` (port 0 = any free port); returns the bound address.
    @discardableResult
    public func listen(on address: SocketAddress, backlog: Int32 = 128) throws(SystemError) -> SocketAddress {
        let fd = try Posix.tcpSocket(family: address.family)
        do {
            try Posix.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            if case .v6 = address { try Posix.setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: 1) }
            try Posix.bind(fd, address)
            try Posix.listen(fd, backlog: backlog)
            let bound = try Posix.localAddress(fd) ?? address
            let listener = Listener(fd: fd, transport: self)
            listener.token = try loop.register(fd: fd, events: .readable, source: listener)
            listeners.append(listener)
            return bound
        } catch {
            Posix.close(fd)
            throw error
        }
    }

    fileprivate func acceptPending(from listener: Listener) {
        for _ in 0..<64 {
            let result: IOResult<(Int32, SocketAddress?)>
            do { result = try Posix.accept(listener.fd) } catch {
                // EMFILE, ENOBUFS …: the pending connection stays queued and level-triggered
                // epoll would wake us at once, forever. Stop listening for a moment instead.
                counters.acceptErrors += 1
                pause(listener)
                return
            }
            guard case .done(let (fd, address)) = result else { return }
            counters.accepted += 1
            let inbound = connections.values.lazy.filter { $0.direction == .inbound }.count
            if inbound >= config.maxInbound {
                counters.rejectedInboundLimit += 1
                Posix.close(fd)
                continue
            }
            if halfOpenCount >= config.maxHalfOpen {
                counters.rejectedHalfOpenLimit += 1
                Posix.close(fd)
                continue
            }
            configure(fd)
            let c = Connection(id: makeID(), fd: fd, direction: .inbound, remoteAddress: address, expectedPeer: nil,
                               handshake: sessions.makeHandshake(initiator: false, expectedPeer: nil),
                               loop: loop, owner: self, connectDeadline: nil, handshakeTimeout: config.handshakeTimeout)
            connections[c.id] = c
            do { try c.start() } catch { c.close(.ioError(error)) }
        }
    }

    private func pause(_ listener: Listener) {
        guard let token = listener.token else { return }
        try? loop.modify(fd: listener.fd, token: token, events: [])
        loop.schedule(after: .milliseconds(100)) { [weak self, weak listener] in
            guard let self, let listener, let token = listener.token else { return }
            try? self.loop.modify(fd: listener.fd, token: token, events: .readable)
        }
    }

    // MARK: dialing

    public enum DialError: Error, Equatable, Sendable, CustomStringConvertible {
        case overLimit(String)
        case system(SystemError)
        public var description: String {
            switch self {
            case .overLimit(let s): return "too many connections (\(s))"
            case .system(let e): return "\(e)"
            }
        }
    }

    /// Starts a connection to `address`. When `expectedPeer` is given, a different key answering
    /// fails the handshake. The result arrives as `linkUp` or `linkDown`.
    public func dial(_ address: SocketAddress, expectedPeer: NodeID? = nil) throws(DialError) -> ConnectionID {
        let outbound = connections.values.lazy.filter { $0.direction == .outbound }.count
        guard outbound < config.maxOutbound else { counters.dialsRefusedLimit += 1; throw .overLimit("outbound") }
        guard halfOpenCount < config.maxHalfOpen else { counters.dialsRefusedLimit += 1; throw .overLimit("half-open") }
        let fd: Int32
        do {
            fd = try Posix.tcpSocket(family: address.family)
        } catch { throw .system(error) }
        configure(fd)
        do {
            _ = try Posix.connect(fd, address)
        } catch {
            Posix.close(fd)
            throw .system(error)
        }
        let c = Connection(id: makeID(), fd: fd, direction: .outbound, remoteAddress: address, expectedPeer: expectedPeer,
                           handshake: sessions.makeHandshake(initiator: true, expectedPeer: expectedPeer),
                           loop: loop, owner: self, connectDeadline: loop.now + config.connectTimeout,
                           handshakeTimeout: config.handshakeTimeout)
        connections[c.id] = c
        do { try c.start() } catch {
            connections[c.id] = nil
            Posix.close(fd)
            throw .system(error)
        }
        return c.id
    }

    // MARK: sending

    /// Queues a message on a link; see `SendResult` for back-pressure.
    public func send(_ type: MessageType, _ payload: UnsafeRawBufferPointer, on link: ConnectionID) -> SendResult {
        guard let c = connections[link] else { return .notEstablished }
        let r = c.send(type, payload)
        if r == .queueFull { counters.sendsRefusedQueueFull += 1 }
        return r
    }

    public func send(_ type: MessageType, _ payload: [UInt8], on link: ConnectionID) -> SendResult {
        payload.withUnsafeBytes { send(type, $0, on: link) }
    }

    /// Sends a ping; the answer arrives as `pong`.
    @discardableResult
    public func ping(link: ConnectionID) -> SendResult {
        guard let c = connections[link] else { return .notEstablished }
        lastPingSent[link] = loop.now
        var payload = (UInt64(bitPattern: loop.now.nanoseconds)).bigEndian
        return withUnsafeBytes(of: &payload) { c.send(.ping, $0) }
    }

    public func queuedBytes(on link: ConnectionID) -> Int { connections[link]?.queuedBytes ?? 0 }

    /// Sends `goodbye` and the stream's final frame, then closes.
    public func close(_ link: ConnectionID, reason: String) {
        guard let c = connections[link] else { return }
        var text = Array(reason.utf8.prefix(256))
        if c.isEstablished { _ = text.withUnsafeBytes { c.send(.goodbye, $0) } }
        text.removeAll()
        c.closeGracefully(.localClose(reason))
    }

    /// Closes every connection and listener.
    public func shutdown() {
        if let sweepTimer { loop.cancelTimer(sweepTimer) }
        sweepTimer = nil
        for l in listeners {
            if let t = l.token { loop.deregister(fd: l.fd, token: t) }
            l.token = nil
            Posix.close(l.fd)
        }
        listeners.removeAll()
        for id in connections.keys.sorted() {
            if let c = connections[id] {
                if c.isEstablished { _ = c.send(.goodbye, Array("shutdown".utf8)) }
                c.closeGracefully(.shutdown)
            }
        }
    }

    /// Current links (established or not).
    public var links: [LinkInfo] { connections.keys.sorted().compactMap { connections[$0].map(info) } }

    public func link(_ id: ConnectionID) -> LinkInfo? { connections[id].map(info) }

    /// Per-link traffic, established links only.
    public var linkStats: [LinkStats] {
        connections.keys.sorted().compactMap { id in
            guard let c = connections[id], c.isEstablished else { return nil }
            return LinkStats(link: info(c), bytesIn: c.bytesIn, bytesOut: c.bytesOut, framesIn: c.framesIn, framesOut: c.framesOut,
                             messagesIn: c.messagesIn, messagesOut: c.messagesOut, queuedBytes: c.queuedBytes)
        }
    }

    // MARK: ConnectionOwner

    func connectionEstablished(_ c: Connection) {
        counters.established += 1
        delegate?.transport(self, linkUp: info(c))
    }

    func connection(_ c: Connection, received type: MessageType, payload: UnsafeRawBufferPointer) {
        switch type {
        case .ping:
            // Answered here, at once, whatever the node is doing.
            guard payload.count <= 64 else { c.close(.protocolError("oversized ping")); return }
            _ = c.send(.pong, payload)
        case .pong:
            guard payload.count == 8 else { return }
            let sent = Int64(bitPattern: UInt64(bigEndian: payload.loadUnaligned(as: UInt64.self)))
            let rtt = loop.now.nanoseconds - sent
            if rtt >= 0 && rtt < 3_600_000_000_000 { delegate?.transport(self, pong: TimeSpan(nanoseconds: rtt), link: c.id) }
        case .goodbye:
            c.close(.peerClosed)
        default:
            if MessageType.transportRange.contains(type.rawValue) {
                counters.unknownMessages += 1
                return
            }
            guard let peer = c.peer else { return }
            delegate?.transport(self, received: type, payload: payload, link: c.id, peer: peer)
        }
    }

    func connectionWritable(_ c: Connection) {
        delegate?.transport(self, writable: c.id)
    }

    func connectionClosed(_ c: Connection, reason: CloseReason) {
        let wasEstablished = c.establishedAt != nil
        connections[c.id] = nil
        lastPingSent[c.id] = nil
        switch reason {
        case .handshakeFailed: counters.handshakeFailures += 1
        case .handshakeTimeout: counters.handshakeTimeouts += 1
        case .connectFailed, .connectTimeout: counters.connectFailures += 1
        case .idleTimeout, .writeStalled: counters.idleTimeouts += 1
        case .protocolError: counters.protocolErrors += 1
        default: break
        }
        // Inbound connections that never completed a handshake are not news to the owner.
        if wasEstablished || c.direction == .outbound {
            delegate?.transport(self, linkDown: info(c), reason: reason)
        }
    }

    // MARK: timers

    private func scheduleSweep() {
        sweepTimer = loop.schedule(after: config.sweepInterval) { [weak self] in
            guard let self else { return }
            self.sweep()
            self.scheduleSweep()
        }
    }

    /// Enforces connect/handshake deadlines and idleness; sends keepalives on quiet links.
    func sweep() {
        let now = loop.now
        for id in connections.keys.sorted() {
            guard let c = connections[id] else { continue }
            if let deadline = c.deadline, now >= deadline {
                c.close(c.state == .connecting ? .connectTimeout : .handshakeTimeout)
                continue
            }
            guard c.isEstablished else { continue }
            let quiet = now - c.lastReceived
            if quiet >= config.idleTimeout {
                c.close(.idleTimeout)
            } else if c.queuedBytes > 0 && now - c.lastWriteProgress >= config.idleTimeout {
                c.close(.writeStalled)
            } else if quiet >= config.keepaliveInterval {
                let last = lastPingSent[id] ?? Instant(nanoseconds: Int64.min / 2)
                if now - last >= config.keepaliveInterval { ping(link: id) }
            }
        }
    }

    // MARK: helpers

    private var halfOpenCount: Int { connections.values.lazy.filter { !$0.isEstablished }.count }

    private func makeID() -> ConnectionID {
        defer { nextID += 1 }
        return ConnectionID(raw: nextID)
    }

    private func configure(_ fd: Int32) {
        _ = try? Posix.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
    }

    private func info(_ c: Connection) -> LinkInfo {
        LinkInfo(id: c.id, peer: c.peer, direction: c.direction, remoteAddress: c.remoteAddress,
                 handshakeTime: c.establishedAt.map { $0 - c.openedAt })
    }
}

private final class Listener: EventSource {
    let fd: Int32
    var token: LoopToken?
    weak var transport: Transport?
    init(fd: Int32, transport: Transport) {
        self.fd = fd
        self.transport = transport
    }
    func handle(_ events: IOEvents) { transport?.acceptPending(from: self) }
}

extension Transport {
    func connectionForTesting(_ id: ConnectionID) -> Connection? { connections[id] }
}
