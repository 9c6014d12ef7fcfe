#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurHTTP

/// The node's HTTP/1.1 API server (`murmur node --api`, Specs/api.md) on the node's own event
/// loop: non-blocking sockets, one `HTTPServerConnection` state machine per connection
/// (keep-alive, pipelining in order, bounded head and body sizes, parse errors answered with
/// their 4xx and the connection closed), a connection limit, a request timeout (408) and an
/// idle timeout. What a request means is the `handler`'s business: it gets an `APIExchange` and
/// answers it now, later (a parked `?wait=`), or turns it into a stream (Server-Sent Events).
public final class APIServer: EventSource {
    public struct Counters: Sendable, Equatable {
        public var accepted = 0
        /// Connections closed at once because `maxConnections` were open.
        public var rejectedLimit = 0
        public var requests = 0
        public var requestTimeouts = 0
        public var idleCloses = 0
        public var acceptErrors = 0
    }

    public enum ServerError: Error, CustomStringConvertible {
        case system(SystemError)
        public var description: String {
            switch self {
            case .system(let e): return "\(e)"
            }
        }
    }

    public let loop: EventLoop
    public var maxConnections = Limits.maxAPIConnections
    public var requestTimeout = Limits.apiRequestTimeout
    public var idleTimeout = Limits.apiIdleTimeout
    public var parserLimits = HTTPRequestParser.Limits()
    /// Called on the loop for every parsed request; answer through the exchange.
    public var handler: (APIExchange) -> Void
    public private(set) var counters = Counters()
    public private(set) var address: SocketAddress?

    private var fd: Int32 = -1
    private var token: LoopToken?
    private var sweepTimer: LoopToken?
    fileprivate var connections: [ObjectIdentifier: APIConnection] = [:]

    static let busyResponse = HTTPResponse.error(.serviceUnavailable, code: "too_many_connections",
                                                 message: "the node has too many open API connections; retry later").encode(keepAlive: false)

    public init(loop: EventLoop, handler: @escaping (APIExchange) -> Void) {
        self.loop = loop
        self.handler = handler
    }

    /// Open connections now.
    public var connectionCount: Int { connections.count }

    public static func isLoopback(_ a: SocketAddress) -> Bool {
        switch a {
        case let .v4(h, _): return h.0 == 127
        case let .v6(h, _):
            if h.count == 16 && h.prefix(15).allSatisfy({ $0 == 0 }) && h[15] == 1 { return true }
            // IPv4-mapped loopback (::ffff:127.x.y.z).
            return h.count == 16 && h.prefix(10).allSatisfy({ $0 == 0 }) && h[10] == 0xFF && h[11] == 0xFF && h[12] == 127
        }
    }

    /// Binds and listens; returns the bound address (port 0 = any free port).
    @discardableResult
    public func listen(on address: SocketAddress) throws(ServerError) -> SocketAddress {
        do {
            fd = try Posix.tcpSocket(family: address.family)
            try Posix.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            try Posix.bind(fd, address)
            try Posix.listen(fd, backlog: 64)
            let bound = try Posix.localAddress(fd) ?? address
            token = try loop.register(fd: fd, events: .readable, source: self)
            self.address = bound
            scheduleSweep()
            return bound
        } catch {
            if fd >= 0 { Posix.close(fd); fd = -1 }
            throw .system(error)
        }
    }

    public func shutdown() {
        if let token { loop.deregister(fd: fd, token: token) }
        token = nil
        if let sweepTimer { loop.cancelTimer(sweepTimer) }
        sweepTimer = nil
        if fd >= 0 { Posix.close(fd); fd = -1 }
        for c in Array(connections.values) { c.close() }
        connections.removeAll()
    }

    public func handle(_ events: IOEvents) {
        for _ in 0..<32 {
            let accepted: IOResult<(Int32, SocketAddress?)>
            do { accepted = try Posix.accept(fd) } catch {
                counters.acceptErrors += 1
                return
            }
            guard case let .done((client, remote)) = accepted else { return }
            guard connections.count < maxConnections else {
                // One best-effort write of a canned answer (a fresh socket's buffer takes it),
                // then close: the client learns why instead of seeing a bare reset.
                counters.rejectedLimit += 1
                _ = Self.busyResponse.withUnsafeBytes { buf in buf.baseAddress.map { try? Posix.send(client, from: $0, count: buf.count) } }
                Posix.close(client)
                continue
            }
            counters.accepted += 1
            let c = APIConnection(fd: client, server: self, clientIsLoopback: remote.map(Self.isLoopback) ?? false)
            do {
                c.registration = try loop.register(fd: client, events: .readable, source: c)
            } catch {
                Posix.close(client)
                continue
            }
            connections[ObjectIdentifier(c)] = c
        }
    }

    fileprivate func dispatch(_ exchange: APIExchange) {
        counters.requests += 1
        handler(exchange)
    }

    fileprivate func finished(_ c: APIConnection) { connections[ObjectIdentifier(c)] = nil }

    fileprivate func countTimeout(idle: Bool) {
        if idle { counters.idleCloses += 1 } else { counters.requestTimeouts += 1 }
    }

    /// Once a second: close connections stuck mid-request or idle too long.
    private func scheduleSweep() {
        sweepTimer = loop.schedule(after: .seconds(Int64(1))) { [weak self] in
            guard let self else { return }
            let now = self.loop.now
            for c in Array(self.connections.values) { c.checkTimeouts(now: now) }
            self.scheduleSweep()
        }
    }
}

/// One request on its way to an answer. Answer once with `respond`, or `startStream` and then
/// `send` chunks until `finish` (or the client leaves: `isOpen` turns false, `onClose` runs).
/// Everything runs on the loop thread; an exchange whose connection is gone ignores calls.
/// The server keeps no reference to it: whoever answers later (a parked wait, a worker's
/// result, a stream) holds it until then.
public final class APIExchange {
    public let request: HTTPRequest
    /// The client connected from a loopback address (it may skip the bearer token).
    public let clientIsLoopback: Bool
    fileprivate weak var connection: APIConnection?
    fileprivate let id: HTTPServerConnection.RequestID
    public private(set) var answered = false
    public private(set) var streaming = false
    /// Runs once when a stream's connection closes (subscribers unregister here).
    public var onClose: (() -> Void)?

    fileprivate init(request: HTTPRequest, clientIsLoopback: Bool, connection: APIConnection, id: HTTPServerConnection.RequestID) {
        self.request = request
        self.clientIsLoopback = clientIsLoopback
        self.connection = connection
        self.id = id
    }

    /// The connection is still there.
    public var isOpen: Bool { connection.map { !$0.closed } ?? false }

    public func respond(_ response: HTTPResponse) {
        guard !answered else { return }
        answered = true
        connection?.respond(id, response)
    }

    /// Starts a chunked streamed response; false if the connection is gone or already answered.
    @discardableResult
    public func startStream(_ head: HTTPStreamHead) -> Bool {
        guard !answered, let connection, !connection.closed else { return false }
        answered = true
        streaming = true
        connection.startStream(id, head, exchange: self)
        return true
    }

    /// Queues one chunk of the stream (written at the end of this loop iteration).
    public func send(_ payload: [UInt8]) {
        guard streaming else { return }
        connection?.sendChunk(payload)
    }

    /// Bytes queued on the connection and not yet written to the socket (backpressure).
    public var unwrittenBytes: Int { connection?.unwrittenBytes ?? 0 }

    /// Ends the stream; the connection closes after it.
    public func finish() {
        guard streaming else { return }
        streaming = false
        connection?.finishStream()
    }
}

/// One client socket.
fileprivate final class APIConnection: EventSource {
    let fd: Int32
    weak var server: APIServer?
    let clientIsLoopback: Bool
    var registration: LoopToken?
    var http: HTTPServerConnection
    var out: [UInt8] = []
    var outOffset = 0
    var closed = false
    var interest: IOEvents = .readable
    var flushScheduled = false
    /// Since when the connection has been waiting for (the rest of) a request, if bytes came.
    var partialSince: Instant?
    var lastProgress: Instant
    var stream: APIExchange?
    /// The client half-closed: answer what is pending, then close.
    var inputClosed = false

    init(fd: Int32, server: APIServer, clientIsLoopback: Bool) {
        self.fd = fd
        self.server = server
        self.clientIsLoopback = clientIsLoopback
        http = HTTPServerConnection(limits: server.parserLimits, maxPipelined: Limits.maxAPIPipelined)
        lastProgress = server.loop.now
    }

    var unwrittenBytes: Int { out.count - outOffset }

    func handle(_ events: IOEvents) {
        guard !closed else { return }
        // Both directions shut or a socket error: nothing can be answered any more (a peer's
        // half-close arrives as a readable end of stream instead).
        if events.contains(.hangup) || events.contains(.error) {
            http.abort()
            close()
            return
        }
        if events.contains(.readable) { readAvailable() }
        guard !closed else { return }
        write()
    }

    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 16384)
        // A few reads per wake-up, then let other sources run (level-triggered epoll calls again).
        for _ in 0..<8 {
            // A streaming connection takes no more requests: read and drop what arrives, so
            // that the client hanging up is noticed.
            let discard = stream != nil
            guard !inputClosed, discard || http.wantsRead else { break }
            let r = chunk.withUnsafeMutableBytes { buf -> IOResult<Int>? in
                guard let base = buf.baseAddress else { return nil }
                return try? Posix.read(fd, into: base, count: buf.count)
            }
            switch r {
            case .done(let n)? where n > 0:
                if discard { continue }
                http.receive(chunk[0..<n])
                if partialSince == nil, let server { partialSince = server.loop.now }
                takeRequests()
                if closed { return }
            case .wouldBlock?:
                return
            case .done?:
                // End of stream. A client that half-closed after its requests still gets the
                // answers already asked for; a stream's subscriber has left.
                inputClosed = true
                if stream != nil || http.pendingResponses == 0 {
                    http.abort()
                    close()
                }
                return
            default:
                http.abort()
                close()
                return
            }
        }
    }

    private func takeRequests() {
        while !closed, let (id, request) = http.nextRequest() {
            partialSince = nil
            if let server { lastProgress = server.loop.now }
            let exchange = APIExchange(request: request, clientIsLoopback: clientIsLoopback, connection: self, id: id)
            server?.dispatch(exchange)
        }
        collect()
    }

    func respond(_ id: HTTPServerConnection.RequestID, _ response: HTTPResponse) {
        guard !closed else { return }
        http.respond(id, response)
        if let server { lastProgress = server.loop.now }
        collect()
        // Answering may free a pipelining slot: requests already buffered can proceed.
        if !closed && stream == nil { takeRequestsLater() }
        scheduleFlush()
    }

    func startStream(_ id: HTTPServerConnection.RequestID, _ head: HTTPStreamHead, exchange: APIExchange) {
        http.startStream(id, head)
        stream = exchange
        collect()
        scheduleFlush()
    }

    func sendChunk(_ payload: [UInt8]) {
        guard !closed else { return }
        http.sendChunk(payload)
        collect()
        scheduleFlush()
    }

    func finishStream() {
        guard !closed else { return }
        http.finishStream()
        collect()
        scheduleFlush()
    }

    private var takeScheduled = false
    private func takeRequestsLater() {
        guard !takeScheduled, let loop = server?.loop else { return }
        takeScheduled = true
        loop.atEndOfIteration { [weak self] in
            guard let self, !self.closed else { return }
            self.takeScheduled = false
            self.takeRequests()
            self.write()
        }
    }

    /// Moves the state machine's output into the write buffer.
    private func collect() {
        let bytes = http.takeOutput()
        if !bytes.isEmpty {
            if outOffset > 0 && outOffset >= out.count / 2 {
                out.removeFirst(outOffset)
                outOffset = 0
            }
            out.append(contentsOf: bytes)
        }
    }

    private func scheduleFlush() {
        guard !flushScheduled, !closed, let loop = server?.loop else { return }
        flushScheduled = true
        loop.atEndOfIteration { [weak self] in
            guard let self else { return }
            self.flushScheduled = false
            if !self.closed { self.write() }
        }
    }

    /// Writes what it can; closes once the state machine is done and everything is out;
    /// otherwise watches for what it needs next.
    func write() {
        while outOffset < out.count {
            let r = out.withUnsafeBytes { buf -> IOResult<Int>? in
                guard let base = buf.baseAddress else { return nil }
                return try? Posix.send(fd, from: base + outOffset, count: buf.count - outOffset)
            }
            switch r {
            case .done(let n)? where n > 0:
                outOffset += n
            case .wouldBlock?:
                updateInterest()
                return
            default:
                http.abort()
                close()
                return
            }
        }
        out.removeAll(keepingCapacity: out.capacity <= 1 << 20)
        outOffset = 0
        if http.isFinished || (inputClosed && http.pendingResponses == 0 && stream == nil) {
            close()
            return
        }
        updateInterest()
    }

    private func updateInterest() {
        var want: IOEvents = []
        if !inputClosed && (http.wantsRead || stream != nil) { want.insert(.readable) }
        if outOffset < out.count { want.insert(.writable) }
        guard want != interest, let registration, let loop = server?.loop else { return }
        interest = want
        try? loop.modify(fd: fd, token: registration, events: want)
    }

    func checkTimeouts(now: Instant) {
        guard !closed else { return }
        if http.pendingResponses == 0 && stream == nil {
            if let since = partialSince, let server, now - since > server.requestTimeout {
                server.countTimeout(idle: false)
                // Nothing is pending, so this answer is in order; then close.
                out.append(contentsOf: HTTPResponse.error(.requestTimeout, code: "request_timeout",
                                                          message: "the request did not arrive completely within \(server.requestTimeout)").encode(keepAlive: false))
                http.abort()
                writeAndClose()
                return
            }
            if partialSince == nil, let server, now - lastProgress > server.idleTimeout {
                server.countTimeout(idle: true)
                http.abort()
                close()
            }
        }
    }

    private func writeAndClose() {
        while outOffset < out.count {
            let r = out.withUnsafeBytes { buf -> IOResult<Int>? in
                guard let base = buf.baseAddress else { return nil }
                return try? Posix.send(fd, from: base + outOffset, count: buf.count - outOffset)
            }
            guard case .done(let n)? = r, n > 0 else { break }
            outOffset += n
        }
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let loop = server?.loop, let registration { loop.deregister(fd: fd, token: registration) }
        registration = nil
        Posix.close(fd)
        let s = stream
        stream = nil
        server?.finished(self)
        if let s, let onClose = s.onClose {
            s.onClose = nil
            onClose()
        }
    }
}
