import MurmurCore

/// A status code and its reason phrase.
public struct HTTPStatus: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public init(_ code: Int, _ reason: String) { self.code = code; self.reason = reason }
    public var description: String { "\(code) \(reason)" }

    public static let `continue` = HTTPStatus(100, "Continue")
    public static let ok = HTTPStatus(200, "OK")
    public static let accepted = HTTPStatus(202, "Accepted")
    public static let noContent = HTTPStatus(204, "No Content")
    public static let badRequest = HTTPStatus(400, "Bad Request")
    public static let unauthorized = HTTPStatus(401, "Unauthorized")
    public static let forbidden = HTTPStatus(403, "Forbidden")
    public static let notFound = HTTPStatus(404, "Not Found")
    public static let methodNotAllowed = HTTPStatus(405, "Method Not Allowed")
    public static let notAcceptable = HTTPStatus(406, "Not Acceptable")
    public static let requestTimeout = HTTPStatus(408, "Request Timeout")
    public static let conflict = HTTPStatus(409, "Conflict")
    public static let lengthRequired = HTTPStatus(411, "Length Required")
    public static let payloadTooLarge = HTTPStatus(413, "Content Too Large")
    public static let uriTooLong = HTTPStatus(414, "URI Too Long")
    public static let unsupportedMediaType = HTTPStatus(415, "Unsupported Media Type")
    public static let unprocessableContent = HTTPStatus(422, "Unprocessable Content")
    public static let tooManyRequests = HTTPStatus(429, "Too Many Requests")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(431, "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(500, "Internal Server Error")
    public static let notImplemented = HTTPStatus(501, "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(503, "Service Unavailable")
    public static let httpVersionNotSupported = HTTPStatus(505, "HTTP Version Not Supported")
}

/// A complete response with a body of known length (`Content-Length`). Streaming responses
/// (Server-Sent Events) use `HTTPStreamHead` and `HTTPChunk` instead.
public struct HTTPResponse: Sendable, Equatable {
    public var status: HTTPStatus
    /// Extra headers; `Content-Length`, `Connection` and `Date`-free framing are added by `encode`.
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status; self.headers = headers; self.body = body
    }

    /// `application/json` response of `value.serialized()` plus a newline (friendlier in curl).
    public static func json(_ status: HTTPStatus, _ value: JSONValue) -> HTTPResponse {
        var body = value.serialized()
        body.append(0x0A)
        return HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: body)
    }

    /// The API's error shape: `{"error": {"code": code, "message": message}}`.
    public static func error(_ status: HTTPStatus, code: String, message: String) -> HTTPResponse {
        json(status, .object(["error": .object(["code": .string(code), "message": .string(message)])]))
    }

    /// The response to a request the parser refused (sent, then the connection is closed).
    public static func error(_ e: HTTPParseError) -> HTTPResponse {
        error(e.status, code: e.code, message: e.description)
    }

    public static func text(_ status: HTTPStatus, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: Array(text.utf8))
    }

    /// The interim response for `Expect: 100-continue`.
    public static let continueBytes = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Wire bytes. `keepAlive: false` adds `Connection: close`; `headOnly` (a HEAD request)
    /// keeps `Content-Length` but leaves the body out.
    public func encode(keepAlive: Bool, headOnly: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + (headOnly ? 0 : body.count))
        HTTPStreamHead.writeStatusLine(status, into: &out)
        for (name, value) in headers where !HTTPHeaders.same(name, "content-length") && !HTTPHeaders.same(name, "connection") {
            HTTPStreamHead.writeHeader(name, value, into: &out)
        }
        // 1xx, 204 and 304 have no body and no Content-Length (RFC 9110 §8.6).
        if status.code >= 200 && status.code != 204 && status.code != 304 {
            HTTPStreamHead.writeHeader("Content-Length", String(body.count), into: &out)
        }
        if !keepAlive { HTTPStreamHead.writeHeader("Connection", "close", into: &out) }
        out.append(contentsOf: [0x0D, 0x0A])
        if !headOnly && status.code >= 200 && status.code != 204 && status.code != 304 { out.append(contentsOf: body) }
        return out
    }
}

/// The head of a streamed response (`Transfer-Encoding: chunked`), e.g. `GET /v1/trace` as
/// Server-Sent Events. Then any number of `HTTPChunk.encode(_:)` and one `HTTPChunk.last`.
public struct HTTPStreamHead: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status; self.headers = headers
    }

    /// `text/event-stream`, no caching (SSE).
    public static func serverSentEvents() -> HTTPStreamHead {
        HTTPStreamHead(headers: HTTPHeaders([("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]))
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        Self.writeStatusLine(status, into: &out)
        for (name, value) in headers where !HTTPHeaders.same(name, "content-length") && !HTTPHeaders.same(name, "transfer-encoding") {
            Self.writeHeader(name, value, into: &out)
        }
        Self.writeHeader("Transfer-Encoding", "chunked", into: &out)
        out.append(contentsOf: [0x0D, 0x0A])
        return out
    }

    static func writeStatusLine(_ status: HTTPStatus, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 \(status.code) ".utf8)
        out.append(contentsOf: status.reason.utf8.filter { $0 >= 0x20 && $0 != 0x7F })
        out.append(contentsOf: [0x0D, 0x0A])
    }

    /// Header values are written with CR, LF and other controls removed (no response splitting).
    static func writeHeader(_ name: String, _ value: String, into out: inout [UInt8]) {
        out.append(contentsOf: name.utf8.filter(HTTPRequestParser.isTokenChar))
        out.append(contentsOf: ": ".utf8)
        out.append(contentsOf: value.utf8.filter { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
        out.append(contentsOf: [0x0D, 0x0A])
    }
}

/// Chunked transfer coding (RFC 9112 §7.1) for streamed responses.
public enum HTTPChunk {
    /// One chunk; an empty payload yields nothing (an empty chunk would end the stream).
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        guard !payload.isEmpty else { return [] }
        var out = Array(String(payload.count, radix: 16).utf8)
        out.append(contentsOf: [0x0D, 0x0A])
        out.append(contentsOf: payload)
        out.append(contentsOf: [0x0D, 0x0A])
        return out
    }

    /// The terminating chunk.
    public static let last = Array("0\r\n\r\n".utf8)
}

/// Server-Sent Events framing (WHATWG HTML §9.2): `event:`, `id:`, one `data:` line per line of
/// the payload, a blank line. Put each event in one `HTTPChunk`.
public enum ServerSentEvent {
    public static func encode(event: String? = nil, id: String? = nil, data: String) -> [UInt8] {
        var s = ""
        if let event { s += "event: \(event.singleLine)\n" }
        if let id { s += "id: \(id.singleLine)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) {
            s += "data: \(String(line).singleLine)\n"
        }
        s += "\n"
        return Array(s.utf8)
    }

    /// A comment line: keeps idle connections open through proxies.
    public static let keepAlive = Array(": keep-alive\n\n".utf8)
}

extension String {
    var singleLine: String { String(unicodeScalars.filter { $0 != "\n" && $0 != "\r" }) }
}
