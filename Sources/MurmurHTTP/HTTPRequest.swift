import MurmurCore

/// Header fields in arrival order; names compared case-insensitively (ASCII).
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(_ fields: [(String, String)]) { self.fields = fields.map { (name: $0.0, value: $0.1) } }

    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    /// The first value of `name`, if present.
    public subscript(name: String) -> String? {
        fields.first { Self.same($0.name, name) }?.value
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.same($0.name, name) }.map(\.value)
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    static func same(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        return zip(x, y).allSatisfy { lower($0) == lower($1) }
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }
}

public enum HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    case http10, http11
    public var description: String { self == .http10 ? "HTTP/1.0" : "HTTP/1.1" }
}

/// One complete request, as `HTTPRequestParser` produced it.
public struct HTTPRequest: Sendable, Equatable {
    /// Method token as sent (case-sensitive: `GET`, `POST`, …).
    public var method: String
    /// The request target as sent (`/v1/jobs/ab12?wait=5`).
    public var target: String
    /// The target's path (still percent-encoded; the router decodes segments).
    public var path: String
    /// The target's query string after `?`, without it ("" if none).
    public var queryString: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Whether the connection stays open after the response (HTTP/1.1 default; `Connection: close`).
    public var keepAlive: Bool

    public init(method: String, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = HTTPHeaders(),
                body: [UInt8] = [], keepAlive: Bool = true) {
        self.method = method
        self.target = target
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            queryString = String(target[target.index(after: q)...])
        } else {
            path = target
            queryString = ""
        }
        self.version = version; self.headers = headers; self.body = body; self.keepAlive = keepAlive
    }

    /// Decoded query parameters (`QueryString.parse`); nil if the query is malformed or too long.
    public var query: [String: String]? { try? QueryString.parse(queryString) }
}

/// Why a request was refused; each maps to the status the response must carry. After any of
/// these the connection is answered and closed (the byte stream cannot be resynchronised).
public enum HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case requestLineTooLong(limit: Int)
    case headersTooLarge(limit: Int)
    case tooManyHeaders(limit: Int)
    case bodyTooLarge(limit: Int, declared: UInt64)
    case malformedRequestLine(String)
    case malformedHeader(String)
    case unsupportedVersion(String)
    case badContentLength(String)
    /// `Transfer-Encoding` (e.g. chunked) without `Content-Length`: this server wants the length.
    case lengthRequired
    /// Both `Transfer-Encoding` and `Content-Length`: refused (request smuggling).
    case conflictingFraming
    case missingHost

    public var status: HTTPStatus {
        switch self {
        case .requestLineTooLong: return .uriTooLong
        case .headersTooLarge, .tooManyHeaders: return .requestHeaderFieldsTooLarge
        case .bodyTooLarge: return .payloadTooLarge
        case .unsupportedVersion: return .httpVersionNotSupported
        case .lengthRequired: return .lengthRequired
        case .malformedRequestLine, .malformedHeader, .badContentLength, .conflictingFraming, .missingHost: return .badRequest
        }
    }

    /// Stable machine-readable code for the error JSON.
    public var code: String {
        switch self {
        case .requestLineTooLong: return "request_line_too_long"
        case .headersTooLarge: return "headers_too_large"
        case .tooManyHeaders: return "too_many_headers"
        case .bodyTooLarge: return "body_too_large"
        case .malformedRequestLine: return "malformed_request_line"
        case .malformedHeader: return "malformed_header"
        case .unsupportedVersion: return "http_version_not_supported"
        case .badContentLength: return "bad_content_length"
        case .lengthRequired: return "length_required"
        case .conflictingFraming: return "conflicting_framing"
        case .missingHost: return "missing_host"
        }
    }

    public var description: String {
        switch self {
        case let .requestLineTooLong(l): return "request line longer than \(l) bytes"
        case let .headersTooLarge(l): return "request headers larger than \(l) bytes"
        case let .tooManyHeaders(l): return "more than \(l) header fields"
        case let .bodyTooLarge(l, d): return "request body of \(d) bytes exceeds the limit of \(l) bytes"
        case let .malformedRequestLine(why): return "malformed request line: \(why)"
        case let .malformedHeader(why): return "malformed header: \(why)"
        case let .unsupportedVersion(v): return "HTTP version \(v) not supported (use HTTP/1.1)"
        case let .badContentLength(v): return "bad Content-Length \(v)"
        case .lengthRequired: return "chunked request bodies are not accepted: send Content-Length"
        case .conflictingFraming: return "both Transfer-Encoding and Content-Length given"
        case .missingHost: return "HTTP/1.1 request without Host header"
        }
    }
}
