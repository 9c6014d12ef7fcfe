import MurmurCore

/// One server-side HTTP/1.1 connection as a pure state machine: bytes in, requests out,
/// responses in (in any order, e.g. a long-polling `?wait=` answered later), bytes out **in
/// request order** (pipelining-safe). No sockets: the node's epoll loop calls `receive` when the
/// socket is readable (while `wantsRead`), takes requests with `nextRequest()`, answers with
/// `respond(_:_:)`, and writes `takeOutput()`; it closes the socket once `isFinished`.
///
/// A request the parser refuses is answered with its error status after every earlier response,
/// then the connection closes. A response to a request with `Connection: close` (or HTTP/1.0
/// without keep-alive) also closes it; later pipelined requests are dropped unanswered (RFC 9112
/// §9.6). A streamed response (`startStream`) holds the connection until `finishStream()`.
public struct HTTPServerConnection: Sendable {
    public typealias RequestID = UInt64

    private enum Slot: Sendable {
        case waiting(keepAlive: Bool, headOnly: Bool)
        case ready([UInt8], close: Bool)
        case streaming
    }

    private var parser: HTTPRequestParser
    /// Unanswered or not yet written responses, by request id (ids ascend from `firstSlot`).
    private var slots: [Slot] = []
    private var firstSlot: RequestID = 0
    private var nextID: RequestID = 0
    private var output: [UInt8] = []
    /// No more requests are taken (error, Connection: close, stream).
    private var closingAfterQueue = false
    private var finished = false
    public let maxPipelined: Int

    public init(limits: HTTPRequestParser.Limits = .init(), maxPipelined: Int = 16) {
        parser = HTTPRequestParser(limits: limits)
        self.maxPipelined = maxPipelined
    }

    /// Read more only while this is true (bounded pipelining and buffering).
    public var wantsRead: Bool { !closingAfterQueue && !finished && slots.count < maxPipelined && parser.wantsMoreInput }

    /// Everything written and the connection should be closed.
    public var isFinished: Bool { finished && output.isEmpty }

    /// Requests taken but not yet answered.
    public var pendingResponses: Int { slots.count }

    public mutating func receive<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard !closingAfterQueue && !finished else { return }
        parser.feed(bytes)
    }

    /// The next complete request and its id, or nil (need more bytes, too many in flight, or closing).
    public mutating func nextRequest() -> (id: RequestID, request: HTTPRequest)? {
        guard !closingAfterQueue && !finished && slots.count < maxPipelined else { return nil }
        do {
            guard let request = try parser.next() else {
                if parser.takeContinueRequest() { output.append(contentsOf: HTTPResponse.continueBytes) }
                return nil
            }
            let id = nextID
            nextID += 1
            slots.append(.waiting(keepAlive: request.keepAlive, headOnly: request.method == "HEAD"))
            if !request.keepAlive { closingAfterQueue = true }
            return (id, request)
        } catch {
            // Answer the error after everything before it, then close.
            slots.append(.ready(HTTPResponse.error(error).encode(keepAlive: false), close: true))
            nextID += 1
            closingAfterQueue = true
            flush()
            return nil
        }
    }

    /// Answers request `id` (ignored if it was already answered or is unknown).
    public mutating func respond(_ id: RequestID, _ response: HTTPResponse) {
        guard let i = index(id), case let .waiting(keepAlive, headOnly) = slots[i] else { return }
        slots[i] = .ready(response.encode(keepAlive: keepAlive, headOnly: headOnly), close: !keepAlive)
        flush()
    }

    /// Starts a chunked streaming response to `id` (e.g. Server-Sent Events). The connection
    /// takes no further requests; send with `sendChunk`, end with `finishStream()`.
    public mutating func startStream(_ id: RequestID, _ head: HTTPStreamHead) {
        guard let i = index(id), case .waiting = slots[i] else { return }
        slots[i] = .ready(head.encode(), close: false)
        // Requests pipelined after a stream are never answered: the stream ends the connection.
        slots.removeSubrange((i + 1)...)
        slots.append(.streaming)
        closingAfterQueue = true
        flush()
    }

    /// Sends one chunk of the stream (buffered until the stream's turn comes).
    public mutating func sendChunk(_ payload: [UInt8]) {
        guard let i = slots.firstIndex(where: { if case .streaming = $0 { return true }; return false }) else { return }
        if i == 0 {
            output.append(contentsOf: HTTPChunk.encode(payload))
        } else if case let .ready(bytes, close) = slots[i - 1] {
            slots[i - 1] = .ready(bytes + HTTPChunk.encode(payload), close: close)
        }
    }

    /// Ends the stream and closes the connection after it.
    public mutating func finishStream() {
        guard let i = slots.firstIndex(where: { if case .streaming = $0 { return true }; return false }) else { return }
        slots[i] = .ready(HTTPChunk.last, close: true)
        flush()
    }

    /// Bytes to write now, in request order.
    public mutating func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    /// The peer closed its side or the socket failed: nothing more will be written.
    public mutating func abort() {
        finished = true
        output.removeAll()
        slots.removeAll()
    }

    private func index(_ id: RequestID) -> Int? {
        guard id >= firstSlot else { return nil }
        let i = Int(id - firstSlot)
        return i < slots.count ? i : nil
    }

    private mutating func flush() {
        while let first = slots.first, case let .ready(bytes, close) = first {
            output.append(contentsOf: bytes)
            slots.removeFirst()
            firstSlot += 1
            if close {
                finished = true
                slots.removeAll()
                return
            }
        }
    }
}
