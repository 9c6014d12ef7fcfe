#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// An IPv4 or IPv6 socket address. Parsed from `host:port`, `[v6]:port` or `localhost:port`
/// (numeric hosts only: name resolution would block the event loop).
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(host: (UInt8, UInt8, UInt8, UInt8), port: UInt16)
    case v6(host: [UInt8], port: UInt16)

    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case missingPort(String)
        case badPort(String)
        case badHost(String)
        public var description: String {
            switch self {
            case .missingPort(let s): return "'\(s)' has no port (expected host:port, e.g. 127.0.0.1:7000 or [::1]:7000)"
            case .badPort(let s): return "'\(s)' has an invalid port (0...65535)"
            case .badHost(let s): return "'\(s)' is not a numeric IPv4/IPv6 address or localhost"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        guard text.utf8.count <= 128 else { throw .badHost(String(text.prefix(40))) }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badHost(text) }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { throw .missingPort(text) }
            portText = after.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort(text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw .badHost(text) } // bare IPv6 needs brackets
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(portText) else {
            throw .badPort(text)
        }
        if host == "localhost" {
            self = .v4(host: (127, 0, 0, 1), port: port)
            return
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 {
            let b = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            self = .v4(host: (b[0], b[1], b[2], b[3]), port: port)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, String(host), &v6) == 1 {
            self = .v6(host: withUnsafeBytes(of: v6) { Array($0) }, port: port)
            return
        }
        throw .badHost(text)
    }

    /// From a kernel-filled `sockaddr_storage` (accept, getsockname); nil for other families.
    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            let b = withUnsafeBytes(of: sin.sin_addr.s_addr) { Array($0) }
            self = .v4(host: (b[0], b[1], b[2], b[3]), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            self = .v6(host: withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    public var port: UInt16 {
        switch self {
        case .v4(_, let p), .v6(_, let p): return p
        }
    }

    public var family: Int32 {
        switch self {
        case .v4: return AF_INET
        case .v6: return AF_INET6
        }
    }

    /// The same host with another port (e.g. a bound ephemeral port).
    public func with(port: UInt16) -> SocketAddress {
        switch self {
        case .v4(let h, _): return .v4(host: h, port: port)
        case .v6(let h, _): return .v6(host: h, port: port)
        }
    }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case let .v4(h, port):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr.s_addr) { p in
                p[0] = h.0; p[1] = h.1; p[2] = h.2; p[3] = h.3
            }
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case let .v6(h, port):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { p in
                for i in 0..<min(16, h.count) { p[i] = h[i] }
            }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    public var description: String {
        switch self {
        case let .v4(h, port):
            return "\(h.0).\(h.1).\(h.2).\(h.3):\(port)"
        case let .v6(h, port):
            var addr = in6_addr()
            withUnsafeMutableBytes(of: &addr) { p in for i in 0..<min(16, h.count) { p[i] = h[i] } }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            let text = inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil
                ? String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
            return "[\(text)]:\(port)"
        }
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        switch (a, b) {
        case let (.v4(h1, p1), .v4(h2, p2)): return h1 == h2 && p1 == p2
        case let (.v6(h1, p1), .v6(h2, p2)): return h1 == h2 && p1 == p2
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case let .v4(h, p): hasher.combine(4); hasher.combine(h.0); hasher.combine(h.1); hasher.combine(h.2); hasher.combine(h.3); hasher.combine(p)
        case let .v6(h, p): hasher.combine(6); hasher.combine(h); hasher.combine(p)
        }
    }
}
