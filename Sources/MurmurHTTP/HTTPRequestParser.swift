import MurmurCore

/// Incremental HTTP/1.1 request parser: feed it the bytes a connection reads, in pieces of any
/// size; take complete requests with `next()`. Pure (no sockets, no clock). Pipelined requests
/// come out one at a time in order. Every size is bounded (`HTTPParserLimits`); the first error
/// is final (the caller answers with `error.status` and closes: after a framing error the byte
/// stream cannot be trusted).
///
/// Scanning for the end of the head resumes where it stopped, so feeding byte by byte costs
/// O(n), not O(n²). Memory: at most the unread buffered bytes; the shell bounds those by not
/// reading more while `bufferedBytes > limits.maxBufferedBytes` (`wantsMoreInput`).
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable {
        public var maxRequestLine: Int
        public var maxHeaderBytes: Int
        public var maxHeaderCount: Int
        public var maxBodyBytes: Int
        public var requireHost: Bool

        public init(maxRequestLine: Int = MurmurCore.Limits.maxHTTPRequestLineBytes,
                    maxHeaderBytes: Int = MurmurCore.Limits.maxHTTPHeaderBytes,
                    maxHeaderCount: Int = MurmurCore.Limits.maxHTTPHeaderCount,
                    maxBodyBytes: Int = MurmurCore.Limits.maxHTTPBodyBytes, requireHost: Bool = true) {
            self.maxRequestLine = maxRequestLine; self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount; self.maxBodyBytes = maxBodyBytes; self.requireHost = requireHost
        }

        /// Most bytes worth buffering: one full request.
        public var maxBufferedBytes: Int { maxHeaderBytes + maxBodyBytes }
    }

    private enum State: Sendable {
        case head
        case body(HTTPRequest, remaining: Int)
        case failed(HTTPParseError)
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the blank line resumes (absolute index into `buffer`).
    private var scanFrom = 0
    /// Absolute index of the CR ending the request line, once seen.
    private var requestLineEnd: Int?
    private var state: State = .head
    private var continuePending = false

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Bytes received but not yet returned as part of a request.
    public var bufferedBytes: Int { buffer.count - start }

    /// False once enough is buffered for a full request or after an error: stop reading until
    /// `next()` has drained it (backpressure for pipelining clients).
    public var wantsMoreInput: Bool {
        if case .failed = state { return false }
        return bufferedBytes <= limits.maxBufferedBytes
    }

    /// True (once) when a request announced `Expect: 100-continue` and its body has not fully
    /// arrived: the shell writes `HTTPResponse.continueBytes` so the client sends the body.
    public mutating func takeContinueRequest() -> Bool {
        defer { continuePending = false }
        return continuePending
    }

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if case .failed = state { return }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            scanFrom -= start
            requestLineEnd = requestLineEnd.map { $0 - start }
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete request, nil if more bytes are needed. Throws the first error (again
    /// on every later call).
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        switch state {
        case let .failed(e):
            throw e
        case let .body(request, remaining):
            return takeBody(request, remaining: remaining)
        case .head:
            do throws(HTTPParseError) {
                guard let (r, length) = try parseHead() else { return nil }
                if length == 0 { return r }
                if r.headers["expect"].map({ HTTPHeaders.same($0, "100-continue") }) == true, bufferedBytes < length {
                    continuePending = true
                }
                return takeBody(r, remaining: length)
            } catch {
                state = .failed(error)
                throw error
            }
        }
    }

    private mutating func takeBody(_ request: HTTPRequest, remaining: Int) -> HTTPRequest? {
        guard bufferedBytes >= remaining else {
            state = .body(request, remaining: remaining)
            return nil
        }
        var r = request
        r.body = Array(buffer[start..<start + remaining])
        start += remaining
        scanFrom = start
        state = .head
        return r
    }

    /// Parses the head if complete: the request (body still empty) and its declared length.
    private mutating func parseHead() throws(HTTPParseError) -> (HTTPRequest, Int)? {
        // RFC 9112 §2.2: ignore at least one empty line before the request line.
        while bufferedBytes >= 2, buffer[start] == 0x0D, buffer[start + 1] == 0x0A { start += 2 }
        if scanFrom < start { scanFrom = start }
        // Find CRLF CRLF, noting the first CRLF (end of the request line) on the way. The scan
        // resumes where it stopped, so a head fed byte by byte costs O(n) in total.
        var end: Int? = nil
        var i = max(scanFrom, start + 1)
        while i < buffer.count {
            if buffer[i] == 0x0A && buffer[i - 1] == 0x0D {
                if requestLineEnd == nil { requestLineEnd = i - 1 }
                if i >= start + 3 && buffer[i - 2] == 0x0A && buffer[i - 3] == 0x0D {
                    end = i + 1
                    break
                }
            }
            i += 1
        }
        let lineLength = (requestLineEnd ?? buffer.count) - start
        if lineLength > limits.maxRequestLine { throw .requestLineTooLong(limit: limits.maxRequestLine) }
        guard let headEnd = end else {
            scanFrom = buffer.count
            if bufferedBytes > limits.maxHeaderBytes { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
            return nil
        }
        if headEnd - start > limits.maxHeaderBytes { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
        let head = buffer[start..<headEnd - 4]
        start = headEnd
        scanFrom = start
        requestLineEnd = nil
        return try Self.parse(head: head, limits: limits)
    }

    // MARK: Head grammar (RFC 9112)

    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): return true
        default: return false
        }
    }

    static func parse(head: ArraySlice<UInt8>, limits: Limits) throws(HTTPParseError) -> (HTTPRequest, Int) {
        // Split into lines on CRLF; a bare CR or LF inside a line is refused.
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var i = head.startIndex
        while i < head.endIndex {
            let c = head[i]
            if c == 0x0D {
                guard i + 1 < head.endIndex, head[i + 1] == 0x0A else { throw .malformedHeader("bare CR") }
                lines.append(head[lineStart..<i])
                i += 2
                lineStart = i
                continue
            }
            if c == 0x0A { throw .malformedHeader("bare LF") }
            i += 1
        }
        lines.append(head[lineStart..<head.endIndex])
        guard let requestLine = lines.first else { throw .malformedRequestLine("empty") }
        if requestLine.count > limits.maxRequestLine { throw .requestLineTooLong(limit: limits.maxRequestLine) }

        // method SP request-target SP HTTP-version
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedRequestLine("expected METHOD TARGET VERSION") }
        let methodBytes = parts[0], targetBytes = parts[1], versionBytes = parts[2]
        guard !methodBytes.isEmpty, methodBytes.count <= MurmurCore.Limits.maxHTTPMethodBytes, methodBytes.allSatisfy(isTokenChar) else {
            throw .malformedRequestLine("bad method")
        }
        guard let first = targetBytes.first, first == UInt8(ascii: "/") || (targetBytes.count == 1 && first == UInt8(ascii: "*")) else {
            throw .malformedRequestLine("target must start with /")
        }
        guard targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .malformedRequestLine("bad character in target") }
        let version: HTTPVersion
        switch String(decoding: versionBytes, as: UTF8.self) {
        case "HTTP/1.1": version = .http11
        case "HTTP/1.0": version = .http10
        case let v:
            let b = Array(versionBytes)
            if b.count == 8, v.hasPrefix("HTTP/"), b[5] >= 0x30, b[5] <= 0x39, b[6] == UInt8(ascii: "."), b[7] >= 0x30, b[7] <= 0x39 {
                throw .unsupportedVersion(v)
            }
            throw .malformedRequestLine("bad version")
        }

        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard headers.count < limits.maxHeaderCount else { throw .tooManyHeaders(limit: limits.maxHeaderCount) }
            guard let firstByte = line.first else { throw .malformedHeader("empty line") }
            if firstByte == 0x20 || firstByte == 0x09 { throw .malformedHeader("obsolete line folding") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedHeader("no colon") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenChar) else { throw .malformedHeader("bad field name") }
            var value = line[(colon + 1)...]
            while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
            while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
            // field-vchar / SP / HTAB / obs-text; no other control characters.
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw .malformedHeader("control character in value") }
            headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }

        if limits.requireHost && version == .http11 {
            let hosts = headers.values("host")
            guard hosts.count == 1 else { throw .missingHost }
        }

        // Framing.
        let lengths = headers.values("content-length")
        let transferEncodings = headers.values("transfer-encoding")
        var length = 0
        if !transferEncodings.isEmpty {
            throw lengths.isEmpty ? .lengthRequired : .conflictingFraming
        }
        if !lengths.isEmpty {
            // Several equal values (also comma-separated) are one length; different ones are refused.
            var parsed: UInt64? = nil
            for field in lengths {
                for piece in field.split(separator: ",", omittingEmptySubsequences: false) {
                    let t = piece.trimmingSpaces
                    guard !t.isEmpty, t.utf8.count <= 19, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = UInt64(t) else {
                        throw .badContentLength(String(field.prefix(40)))
                    }
                    if let p = parsed, p != v { throw .badContentLength("conflicting values") }
                    parsed = v
                }
            }
            let declared = parsed ?? 0
            guard declared <= UInt64(limits.maxBodyBytes) else { throw .bodyTooLarge(limit: limits.maxBodyBytes, declared: declared) }
            length = Int(declared)
        }

        let connection = headers.values("connection").flatMap { $0.split(separator: ",").map { $0.trimmingSpaces.lowercased() } }
        let keepAlive: Bool
        switch version {
        case .http11: keepAlive = !connection.contains("close")
        case .http10: keepAlive = connection.contains("keep-alive")
        }
        let target = String(decoding: targetBytes, as: UTF8.self)
        let request = HTTPRequest(method: String(decoding: methodBytes, as: UTF8.self), target: target, version: version,
                                  headers: headers, keepAlive: keepAlive)
        return (request, length)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
