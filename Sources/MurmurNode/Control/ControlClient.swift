#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// A blocking HTTP/1.1 client for a node's API (`murmur status`, `submit`, `publish`, `trace
/// --follow`, the demo, tests): one request per connection (`Connection: close`), the response
/// framed by its `Content-Length` or chunked coding (so it does not depend on the server
/// closing), everything bounded by `timeout` and `maxResponseBytes`.
public enum ControlClient {
    public enum ClientError: Error, CustomStringConvertible {
        case connect(String)
        case timeout
        case io(String)
        case badResponse(String)
        public var description: String {
            switch self {
            case .connect(let s): return "cannot connect to the node's API: \(s)"
            case .timeout: return "the node's API did not answer in time"
            case .io(let s): return "node API: \(s)"
            case .badResponse(let s): return "the node's API sent a bad response: \(s)"
            }
        }
    }

    public static let maxResponseBytes = 8 * 1024 * 1024
    public static let maxHeadBytes = 64 * 1024

    /// `Authorization: Bearer` sent with every request when set (from `MURMUR_API_TOKEN` or a
    /// token file, see `tokenFromEnvironment`).
    public static func tokenFromEnvironment() -> String? {
        if let t = getenv("MURMUR_API_TOKEN").map({ String(cString: $0) }), !t.isEmpty { return t }
        if let path = getenv("MURMUR_API_TOKEN_FILE").map({ String(cString: $0) }), !path.isEmpty {
            return try? APIToken.load(path: path)
        }
        return nil
    }

    /// Sends one request; returns the status code and body.
    public static func request(_ address: SocketAddress, method: String = "GET", path: String, body: [UInt8] = [],
                               token: String? = tokenFromEnvironment(),
                               timeout: TimeSpan = .seconds(Int64(5))) throws(ClientError) -> (status: Int, body: [UInt8]) {
        let deadline = Posix.monotonicNanoseconds() + timeout.nanoseconds
        let fd = try connect(address, deadline: deadline)
        defer { Posix.close(fd) }
        try send(fd, head(method, path, address: address, token: token, bodyCount: body.count) + body, deadline: deadline)
        var reader = Reader(fd: fd, deadline: deadline)
        let (status, headers) = try reader.readHead()
        let bodyBytes: [UInt8]
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            bodyBytes = []
        } else if let te = headers["transfer-encoding"], te.lowercased().contains("chunked") {
            var out: [UInt8] = []
            while let chunk = try reader.readChunk() {
                out += chunk
                if out.count > maxResponseBytes { throw .badResponse("larger than \(maxResponseBytes) bytes") }
            }
            bodyBytes = out
        } else if let cl = headers["content-length"] {
            guard let n = Int(cl.trimmingSpaces), n >= 0, n <= maxResponseBytes else { throw .badResponse("Content-Length \(cl)") }
            bodyBytes = try reader.readExactly(n)
        } else {
            bodyBytes = try reader.readToEnd(limit: maxResponseBytes)
        }
        return (status, bodyBytes)
    }

    /// Opens a Server-Sent Events stream (`GET /v1/trace`) and calls `onEvent(event, data)` for
    /// each event until it returns false, the server ends the stream, or `idleTimeout` passes
    /// without a byte (the server sends a keep-alive comment every 15 s). A non-200 answer
    /// throws `.badResponse` with the status and body.
    public static func stream(_ address: SocketAddress, path: String, token: String? = tokenFromEnvironment(),
                              connectTimeout: TimeSpan = .seconds(Int64(5)), idleTimeout: TimeSpan = .seconds(Int64(60)),
                              onEvent: (String, String) -> Bool) throws(ClientError) {
        let connectDeadline = Posix.monotonicNanoseconds() + connectTimeout.nanoseconds
        let fd = try connect(address, deadline: connectDeadline)
        defer { Posix.close(fd) }
        try send(fd, head("GET", path, address: address, token: token, bodyCount: 0, accept: "text/event-stream"), deadline: connectDeadline)
        var reader = Reader(fd: fd, deadline: connectDeadline)
        let (status, headers) = try reader.readHead()
        guard status == 200 else {
            let body = (try? reader.readExactly(min(Int(headers["content-length"]?.trimmingSpaces ?? "0") ?? 0, 4096))) ?? []
            throw .badResponse("HTTP \(status): \(String(decoding: body, as: UTF8.self))")
        }
        let chunked = headers["transfer-encoding"]?.lowercased().contains("chunked") == true
        var pending: [UInt8] = []
        var event = "message"
        var data: [String] = []
        while true {
            reader.deadline = Posix.monotonicNanoseconds() + idleTimeout.nanoseconds
            let piece: [UInt8]
            if chunked {
                guard let c = try reader.readChunk() else { return }
                piece = c
            } else {
                guard let c = try reader.readSome() else { return }
                piece = c
            }
            pending += piece
            if pending.count > maxHeadBytes * 16 { throw .badResponse("an event line longer than \(maxHeadBytes * 16) bytes") }
            while let nl = pending.firstIndex(of: 0x0A) {
                var line = Array(pending[..<nl])
                pending.removeFirst(nl + 1)
                if line.last == 0x0D { line.removeLast() }
                if line.isEmpty {
                    if !data.isEmpty {
                        if !onEvent(event, data.joined(separator: "\n")) { return }
                    }
                    event = "message"
                    data = []
                    continue
                }
                if line.first == UInt8(ascii: ":") { continue }
                let text = String(decoding: line, as: UTF8.self)
                let (field, value): (Substring, Substring)
                if let colon = text.firstIndex(of: ":") {
                    field = text[..<colon]
                    var v = text[text.index(after: colon)...]
                    if v.first == " " { v = v.dropFirst() }
                    value = v
                } else {
                    field = Substring(text); value = ""
                }
                if field == "event" { event = String(value) } else if field == "data" { data.append(String(value)) }
            }
        }
    }

    // MARK: pieces

    private static func head(_ method: String, _ path: String, address: SocketAddress, token: String?, bodyCount: Int,
                             accept: String = "application/json") -> [UInt8] {
        var h = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nAccept: \(accept)\r\nConnection: close\r\n"
        if bodyCount > 0 || method == "POST" || method == "PUT" {
            h += "Content-Type: application/json\r\nContent-Length: \(bodyCount)\r\n"
        }
        if let token { h += "Authorization: Bearer \(token)\r\n" }
        return Array((h + "\r\n").utf8)
    }

    private static func connect(_ address: SocketAddress, deadline: Int64) throws(ClientError) -> Int32 {
        let fd: Int32
        do { fd = try Posix.tcpSocket(family: address.family) } catch { throw .connect("\(error)") }
        do {
            if case .wouldBlock = try Posix.connect(fd, address) {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline)
                let e = try Posix.socketError(fd)
                if e != 0 { throw ClientError.connect(String(cString: strerror(e))) }
            }
        } catch let e as ClientError {
            Posix.close(fd); throw e
        } catch {
            Posix.close(fd); throw .connect("\(error)")
        }
        return fd
    }

    private static func send(_ fd: Int32, _ out: [UInt8], deadline: Int64) throws(ClientError) {
        var sent = 0
        while sent < out.count {
            let r: IOResult<Int>?
            do {
                r = try out.withUnsafeBytes { buf throws(SystemError) -> IOResult<Int>? in
                    guard let base = buf.baseAddress else { return nil }
                    return try Posix.send(fd, from: base + sent, count: buf.count - sent)
                }
            } catch { throw .io("\(error)") }
            switch r {
            case .done(let n)?: sent += n
            case .wouldBlock?: try wait(fd, events: Int16(POLLOUT), deadline: deadline)
            case nil: return
            }
        }
    }

    fileprivate static func wait(_ fd: Int32, events: Int16, deadline: Int64) throws(ClientError) {
        while true {
            let left = deadline - Posix.monotonicNanoseconds()
            if left <= 0 { throw .timeout }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, Int32(min(left / 1_000_000 + 1, 1000)))
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw .io("poll: \(String(cString: strerror(errno)))") }
        }
    }

    /// Buffered reading from a non-blocking socket with a deadline.
    struct Reader {
        let fd: Int32
        var deadline: Int64
        var buffer: [UInt8] = []
        var start = 0
        var eof = false

        init(fd: Int32, deadline: Int64) { self.fd = fd; self.deadline = deadline }

        var available: Int { buffer.count - start }

        /// Reads more into the buffer; false at end of stream.
        mutating func fill() throws(ClientError) -> Bool {
            if eof { return false }
            if start > 0 && start >= buffer.count / 2 { buffer.removeFirst(start); start = 0 }
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let r: IOResult<Int>?
                do {
                    r = try chunk.withUnsafeMutableBytes { buf throws(SystemError) -> IOResult<Int>? in
                        guard let base = buf.baseAddress else { return nil }
                        return try Posix.read(fd, into: base, count: buf.count)
                    }
                } catch { throw .io("\(error)") }
                switch r {
                case .done(0)?, nil: eof = true; return false
                case .done(let n)?: buffer.append(contentsOf: chunk[0..<n]); return true
                case .wouldBlock?: try ControlClient.wait(fd, events: Int16(POLLIN), deadline: deadline)
                }
            }
        }

        mutating func readLine(limit: Int) throws(ClientError) -> [UInt8] {
            var scanned = start
            while true {
                if let i = buffer[scanned...].firstIndex(of: 0x0A) {
                    var line = Array(buffer[start..<i])
                    start = i + 1
                    if line.last == 0x0D { line.removeLast() }
                    return line
                }
                scanned = buffer.count
                if available > limit { throw .badResponse("a line longer than \(limit) bytes") }
                let before = start
                guard try fill() else { throw .badResponse("connection closed mid-response") }
                scanned -= before - start
            }
        }

        mutating func readHead() throws(ClientError) -> (Int, [String: String]) {
            let statusLine = String(decoding: try readLine(limit: ControlClient.maxHeadBytes), as: UTF8.self)
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
                throw .badResponse("status line '\(statusLine.prefix(80))'")
            }
            var headers: [String: String] = [:]
            var total = 0
            while true {
                let line = try readLine(limit: ControlClient.maxHeadBytes)
                if line.isEmpty { break }
                total += line.count
                if total > ControlClient.maxHeadBytes { throw .badResponse("headers larger than \(ControlClient.maxHeadBytes) bytes") }
                let text = String(decoding: line, as: UTF8.self)
                guard let colon = text.firstIndex(of: ":") else { continue }
                headers[text[..<colon].lowercased()] = String(text[text.index(after: colon)...]).trimmingSpaces
            }
            // 1xx interim answers (100 Continue) are skipped.
            if (100..<200).contains(status) { return try readHead() }
            return (status, headers)
        }

        mutating func readExactly(_ n: Int) throws(ClientError) -> [UInt8] {
            while available < n {
                guard try fill() else { throw .badResponse("body ended after \(available) of \(n) bytes") }
            }
            let out = Array(buffer[start..<start + n])
            start += n
            return out
        }

        /// What has arrived (at least one byte), or nil at end of stream.
        mutating func readSome() throws(ClientError) -> [UInt8]? {
            if available == 0 { guard try fill() else { return nil } }
            let out = Array(buffer[start...])
            start = buffer.count
            return out
        }

        mutating func readToEnd(limit: Int) throws(ClientError) -> [UInt8] {
            while try fill() {
                if available > limit { throw .badResponse("larger than \(limit) bytes") }
            }
            let out = Array(buffer[start...])
            start = buffer.count
            return out
        }

        /// One chunk of a chunked body; nil after the last one.
        mutating func readChunk() throws(ClientError) -> [UInt8]? {
            let sizeLine = String(decoding: try readLine(limit: 1024), as: UTF8.self)
            let hex = sizeLine.split(separator: ";").first.map { $0.trimmingSpaces } ?? ""
            guard let size = Int(hex, radix: 16), size >= 0, size <= ControlClient.maxResponseBytes else {
                throw .badResponse("chunk size '\(sizeLine.prefix(20))'")
            }
            if size == 0 {
                // Trailers, then the blank line.
                while !(try readLine(limit: ControlClient.maxHeadBytes)).isEmpty {}
                return nil
            }
            let data = try readExactly(size)
            guard try readLine(limit: 2).isEmpty else { throw .badResponse("chunk not followed by CRLF") }
            return data
        }
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
