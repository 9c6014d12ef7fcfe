#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// A request to the control endpoint.
public struct ControlRequest: Sendable {
    public var method: String
    /// The path without the query (`/v1/status`).
    public var path: String
    /// Query parameters (`?count=5` → ["count": "5"]); no percent-decoding.
    public var query: [String: String]
    public var body: [UInt8]
}

/// What the control endpoint answers.
public struct ControlResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public init(status: Int, contentType: String = "application/json", body: [UInt8]) {
        self.status = status; self.contentType = contentType; self.body = body
    }
    public static func json(_ text: String, status: Int = 200) -> ControlResponse {
        ControlResponse(status: status, body: Array((text + "\n").utf8))
    }
    public static func error(_ status: Int, _ message: String) -> ControlResponse {
        var escaped = ""
        for c in message.unicodeScalars {
            switch c {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            default: escaped += c.value < 0x20 ? " " : String(c)
            }
        }
        return .json("{\"error\":\"\(escaped)\"}", status: status)
    }
}

/// A minimal HTTP/1.1 server for the node's local control endpoint (`murmur node --control`),
/// served on the node's own event loop: one request per connection (`Connection: close`),
/// bounded request size, connection count and time. Loopback addresses only — it has no
/// authentication. The full HTTP API (MurmurHTTP, branch `store`) will replace it.
public final class ControlServer: EventSource {
    public static let maxConnections = 16
    public static let maxHeaderBytes = 16 * 1024
    public static let maxBodyBytes = 64 * 1024
    public static let requestTimeout = TimeSpan.seconds(Int64(5))

    public enum ControlError: Error, CustomStringConvertible {
        case notLoopback(SocketAddress)
        case system(SystemError)
        public var description: String {
            switch self {
            case .notLoopback(let a): return "control address \(a) is not a loopback address (127.0.0.0/8 or [::1])"
            case .system(let e): return "\(e)"
            }
        }
    }

    let loop: EventLoop
    let handler: (ControlRequest) -> ControlResponse
    private var fd: Int32 = -1
    private var token: LoopToken?
    private var connections: [ObjectIdentifier: ControlConnection] = [:]
    public private(set) var address: SocketAddress?
    public private(set) var requestsServed = 0
    public private(set) var rejected = 0

    /// Answers some requests later (a parked `?wait=`, work on a worker): return nil to leave the
    /// request to `handler`, else the longest the connection may stay parked; call the responder
    /// once, on the loop.
    public var deferredHandler: ((ControlRequest, @escaping (ControlResponse) -> Void) -> TimeSpan?)?

    public init(loop: EventLoop, handler: @escaping (ControlRequest) -> ControlResponse) {
        self.loop = loop
        self.handler = handler
    }

    public static func isLoopback(_ a: SocketAddress) -> Bool {
        switch a {
        case let .v4(h, _): return h.0 == 127
        case let .v6(h, _): return h.count == 16 && h.prefix(15).allSatisfy { $0 == 0 } && h[15] == 1
        }
    }

    /// Binds and listens; returns the bound address (port 0 = any free port).
    @discardableResult
    public func listen(on address: SocketAddress) throws(ControlError) -> SocketAddress {
        guard Self.isLoopback(address) else { throw .notLoopback(address) }
        do {
            fd = try Posix.tcpSocket(family: address.family)
            try Posix.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            try Posix.bind(fd, address)
            try Posix.listen(fd, backlog: 16)
            let bound = try Posix.localAddress(fd) ?? address
            token = try loop.register(fd: fd, events: .readable, source: self)
            self.address = bound
            return bound
        } catch {
            if fd >= 0 { Posix.close(fd); fd = -1 }
            throw .system(error)
        }
    }

    public func shutdown() {
        if let token { loop.deregister(fd: fd, token: token) }
        token = nil
        if fd >= 0 { Posix.close(fd); fd = -1 }
        for c in connections.values { c.close() }
        connections.removeAll()
    }

    public func handle(_ events: IOEvents) {
        for _ in 0..<16 {
            guard case .done(let (client, _))? = try? Posix.accept(fd) else { return }
            guard connections.count < Self.maxConnections else {
                rejected += 1
                Posix.close(client)
                continue
            }
            let c = ControlConnection(fd: client, server: self)
            do {
                c.token = try loop.register(fd: client, events: .readable, source: c)
            } catch {
                Posix.close(client)
                continue
            }
            connections[ObjectIdentifier(c)] = c
            c.deadline = loop.schedule(after: Self.requestTimeout) { [weak c] in c?.close() }
        }
    }

    fileprivate func finished(_ c: ControlConnection) {
        connections[ObjectIdentifier(c)] = nil
    }

    fileprivate func respond(to request: ControlRequest) -> ControlResponse {
        requestsServed += 1
        return handler(request)
    }

    fileprivate var eventLoop: EventLoop { loop }

    fileprivate func park(_ request: ControlRequest, _ c: ControlConnection) -> Bool {
        guard let deferredHandler else { return false }
        let parkedFor = deferredHandler(request) { [weak c] response in c?.answerParked(response) }
        guard let parkedFor else { return false }
        requestsServed += 1
        if !c.responding {
            c.parked = true
            if let d = c.deadline { loop.cancelTimer(d) }
            c.deadline = loop.schedule(after: parkedFor + Self.requestTimeout) { [weak c] in c?.close() }
        }
        return true
    }
}

/// One client connection: read one request, write one response, close.
private final class ControlConnection: EventSource {
    let fd: Int32
    weak var server: ControlServer?
    var token: LoopToken?
    var deadline: LoopToken?
    var input: [UInt8] = []
    var output: [UInt8] = []
    var written = 0
    var responding = false
    var parked = false
    var closed = false

    init(fd: Int32, server: ControlServer) {
        self.fd = fd
        self.server = server
    }

    func handle(_ events: IOEvents) {
        if responding { flush(); return }
        if parked {
            // Level-triggered: read (and drop) what arrives; the client hanging up ends it.
            var sink = [UInt8](repeating: 0, count: 1024)
            let r = sink.withUnsafeMutableBytes { try? Posix.read(fd, into: $0.baseAddress!, count: $0.count) }
            if case .done(let n)? = r, n > 0 { return }
            if case .wouldBlock? = r { return }
            close()
            return
        }
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let r = chunk.withUnsafeMutableBytes { try? Posix.read(fd, into: $0.baseAddress!, count: $0.count) }
            switch r {
            case .done(let n)? where n > 0:
                input.append(contentsOf: chunk[0..<n])
                if input.count > ControlServer.maxHeaderBytes + ControlServer.maxBodyBytes {
                    reply(.error(413, "request too large")); return
                }
            case .wouldBlock?:
                parse(); return
            default:
                // EOF or error before a full request.
                parse(final: true); return
            }
        }
    }

    private func parse(final: Bool = false) {
        guard let end = headerEnd(), end <= ControlServer.maxHeaderBytes else {
            if input.count > ControlServer.maxHeaderBytes { reply(.error(431, "request header too large")) } else if final { close() }
            return
        }
        let head = String(decoding: input[0..<end], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst().split(separator: " ").map(String.init)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { reply(.error(400, "bad request line")); return }
        var contentLength = 0
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: " \t")
            if name == "content-length" {
                guard let n = Int(value), n >= 0, n <= ControlServer.maxBodyBytes else { reply(.error(413, "body too large")); return }
                contentLength = n
            } else if name == "transfer-encoding" {
                reply(.error(501, "chunked bodies are not supported")); return
            }
        }
        let bodyStart = end + 4
        guard input.count - bodyStart >= contentLength else {
            if final { close() }
            return
        }
        let target = requestLine[1]
        var path = target, query: [String: String] = [:]
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            for pair in target[target.index(after: q)...].split(separator: "&").prefix(32) {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                query[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
        }
        let request = ControlRequest(method: requestLine[0], path: path, query: query,
                                     body: Array(input[bodyStart..<(bodyStart + contentLength)]))
        guard let server else { close(); return }
        if server.park(request, self) { return }
        reply(server.respond(to: request))
    }

    private func headerEnd() -> Int? {
        guard input.count >= 4 else { return nil }
        for i in 0...(input.count - 4) where input[i] == 13 && input[i + 1] == 10 && input[i + 2] == 13 && input[i + 3] == 10 {
            return i
        }
        return nil
    }

    func answerParked(_ response: ControlResponse) {
        guard !closed, !responding else { return }
        parked = false
        reply(response)
    }

    private func reply(_ response: ControlResponse) {
        responding = true
        let reasons = [200: "OK", 202: "Accepted", 422: "Unprocessable Content", 429: "Too Many Requests", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
                       431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"]
        let head = "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Status")\r\nContent-Type: \(response.contentType)\r\n"
            + "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n"
        output = Array(head.utf8) + response.body
        input = []
        flush()
    }

    private func flush() {
        while written < output.count {
            let r = output.withUnsafeBytes { try? Posix.send(fd, from: $0.baseAddress! + written, count: $0.count - written) }
            switch r {
            case .done(let n)? where n > 0: written += n
            case .wouldBlock?:
                if let token, let loop = server?.eventLoop { try? loop.modify(fd: fd, token: token, events: .writable) }
                return
            default:
                close(); return
            }
        }
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let loop = server?.eventLoop {
            if let token { loop.deregister(fd: fd, token: token) }
            if let deadline { loop.cancelTimer(deadline) }
        }
        token = nil
        Posix.close(fd)
        server?.finished(self)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
