#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// A blocking HTTP/1.1 client for a node's control endpoint (`murmur status`, the demo, tests):
/// one request per connection, everything bounded by `timeout`.
public enum ControlClient {
    public enum ClientError: Error, CustomStringConvertible {
        case connect(String)
        case timeout
        case io(String)
        case badResponse(String)
        public var description: String {
            switch self {
            case .connect(let s): return "cannot connect to the control endpoint: \(s)"
            case .timeout: return "the control endpoint did not answer in time"
            case .io(let s): return "control endpoint: \(s)"
            case .badResponse(let s): return "control endpoint sent a bad response: \(s)"
            }
        }
    }

    public static let maxResponseBytes = 8 * 1024 * 1024

    /// Sends one request; returns the status code and body.
    public static func request(_ address: SocketAddress, method: String = "GET", path: String, body: [UInt8] = [],
                               timeout: TimeSpan = .seconds(Int64(5))) throws(ClientError) -> (status: Int, body: [UInt8]) {
        let deadline = Posix.monotonicNanoseconds() + timeout.nanoseconds
        let fd: Int32
        do { fd = try Posix.tcpSocket(family: address.family) } catch { throw .connect("\(error)") }
        defer { Posix.close(fd) }
        do {
            if case .wouldBlock = try Posix.connect(fd, address) {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline)
                let e = try Posix.socketError(fd)
                if e != 0 { throw ClientError.connect(String(cString: strerror(e))) }
            }
        } catch let e as ClientError { throw e } catch { throw .connect("\(error)") }

        let head = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let out = Array(head.utf8) + body
        var sent = 0
        while sent < out.count {
            let r: IOResult<Int>
            do { r = try out.withUnsafeBytes { try Posix.send(fd, from: $0.baseAddress! + sent, count: $0.count - sent) } } catch { throw .io("\(error)") }
            switch r {
            case .done(let n): sent += n
            case .wouldBlock: try wait(fd, events: Int16(POLLOUT), deadline: deadline)
            }
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let r: IOResult<Int>
            do { r = try chunk.withUnsafeMutableBytes { try Posix.read(fd, into: $0.baseAddress!, count: $0.count) } } catch { throw .io("\(error)") }
            switch r {
            case .done(0):
                return try parse(response)
            case .done(let n):
                response.append(contentsOf: chunk[0..<n])
                if response.count > maxResponseBytes { throw .badResponse("larger than \(maxResponseBytes) bytes") }
            case .wouldBlock:
                try wait(fd, events: Int16(POLLIN), deadline: deadline)
            }
        }
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: Int64) throws(ClientError) {
        while true {
            let left = deadline - Posix.monotonicNanoseconds()
            if left <= 0 { throw .timeout }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, Int32(min(left / 1_000_000 + 1, 1000)))
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw .io("poll: \(String(cString: strerror(errno)))") }
        }
    }

    private static func parse(_ bytes: [UInt8]) throws(ClientError) -> (status: Int, body: [UInt8]) {
        var end: Int?
        if bytes.count >= 4 {
            for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                end = i; break
            }
        }
        guard let end else { throw .badResponse("no header end") }
        let statusLine = String(decoding: bytes[0..<end], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else { throw .badResponse("status line '\(statusLine)'") }
        return (status, Array(bytes[(end + 4)...]))
    }
}
