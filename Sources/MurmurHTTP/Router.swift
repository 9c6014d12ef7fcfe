import MurmurCore

/// Query string decoding (`application/x-www-form-urlencoded`: `+` is a space, `%XX` escapes).
public enum QueryString {
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case badEncoding(String)
        case tooManyParameters(limit: Int)
        case duplicate(String)
        public var description: String {
            switch self {
            case let .badEncoding(p): return "bad percent-encoding in query parameter \(p.prefix(40))"
            case let .tooManyParameters(l): return "more than \(l) query parameters"
            case let .duplicate(k): return "query parameter \(k) given twice"
            }
        }
    }

    /// Parameters by name. Empty pieces (`a=1&&b=2`) are skipped; a name without `=` has the
    /// value "". Duplicate names are refused (ambiguous).
    public static func parse(_ query: String) throws(Failure) -> [String: String] {
        var out: [String: String] = [:]
        var count = 0
        for piece in query.split(separator: "&", omittingEmptySubsequences: true) {
            count += 1
            guard count <= Limits.maxHTTPQueryParameters else { throw .tooManyParameters(limit: Limits.maxHTTPQueryParameters) }
            let kv = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = percentDecode(kv[0], plusIsSpace: true),
                  let value = kv.count > 1 ? percentDecode(kv[1], plusIsSpace: true) : "" else {
                throw .badEncoding(String(piece))
            }
            guard out.updateValue(value, forKey: key) == nil else { throw .duplicate(key) }
        }
        return out
    }

    /// Percent-decoding to UTF-8; nil on a bad escape or invalid UTF-8.
    public static func percentDecode<S: StringProtocol>(_ s: S, plusIsSpace: Bool) -> String? {
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusIsSpace && c == UInt8(ascii: "+") ? 0x20 : c)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// What a router lookup found.
public enum RouteMatch<Handler: Sendable>: Sendable {
    /// A route matched: its handler and the `{name}` parameters (percent-decoded).
    case found(Handler, parameters: [String: String], pattern: String)
    /// The path exists but not for this method: answer 405 with `Allow`.
    case methodNotAllowed(allowed: [String])
    case notFound
}

/// Method + path-pattern routing: patterns are literal segments and `{name}` segments that
/// match one non-empty path segment (`/v1/jobs/{id}`). `HEAD` matches `GET` routes. First
/// registered match wins.
public struct Router<Handler: Sendable>: Sendable {
    private struct Route: Sendable {
        var method: String
        var pattern: String
        var segments: [Segment]
        var handler: Handler
    }

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private var routes: [Route] = []

    public init() {}

    /// Registers a route. Precondition: the pattern starts with `/` (a programmer error otherwise).
    public mutating func add(_ method: String, _ pattern: String, _ handler: Handler) {
        precondition(pattern.hasPrefix("/"), "route pattern must start with /")
        let segments = Self.split(pattern).map { s -> Segment in
            if s.hasPrefix("{") && s.hasSuffix("}") && s.count > 2 { return .parameter(String(s.dropFirst().dropLast())) }
            return .literal(s)
        }
        routes.append(Route(method: method, pattern: pattern, segments: segments, handler: handler))
    }

    /// All (method, pattern) pairs, in registration order (for docs and tests).
    public var patterns: [(method: String, pattern: String)] { routes.map { ($0.method, $0.pattern) } }

    public func match(method: String, path: String) -> RouteMatch<Handler> {
        let raw = Self.split(path)
        var decoded: [String] = []
        decoded.reserveCapacity(raw.count)
        for s in raw {
            guard let d = QueryString.percentDecode(s, plusIsSpace: false) else { return .notFound }
            decoded.append(d)
        }
        var allowed: [String] = []
        for route in routes {
            guard let params = Self.bind(route.segments, decoded) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .found(route.handler, parameters: params, pattern: route.pattern)
            }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    /// Path segments; "/" is no segments; a trailing slash is ignored ("/v1/jobs/" = "/v1/jobs").
    private static func split(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().enumerated().compactMap { i, s in
            s.isEmpty ? nil : String(s)
        }
    }

    private static func bind(_ pattern: [Segment], _ path: [String]) -> [String: String]? {
        guard pattern.count == path.count else { return nil }
        var params: [String: String] = [:]
        for (seg, value) in zip(pattern, path) {
            switch seg {
            case let .literal(l): if l != value { return nil }
            case let .parameter(name): params[name] = value
            }
        }
        return params
    }
}
