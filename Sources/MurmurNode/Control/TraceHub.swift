import MurmurCore
import MurmurAPI
import MurmurHTTP
import MurmurTrace

/// Live trace streaming (`GET /v1/trace`, Specs/trace.md "Live"): the node's trace events fanned
/// out to subscribers as Server-Sent Events, each event the same JSON line the trace file holds.
/// Runs on the loop. An event is encoded once (only while someone listens) and queued on each
/// subscriber's connection; a subscriber with more than `maxBufferedBytes` unwritten is skipped
/// for that event (counted) and, once it has caught up, told how many it missed with a
/// `dropped` event. Nothing here ever blocks or grows without bound.
public final class TraceHub {
    public struct Counters: Sendable, Equatable {
        public var subscribersTotal = 0
        public var refused = 0
        public var eventsPublished = 0
        public var eventsSent = 0
        public var eventsDropped = 0
    }

    /// Which events a subscriber wants.
    public struct Filter: Sendable, Equatable {
        /// Exact kinds (`send`) or prefixes ending in `.` / `*` (`job.`, `job.*`); empty = all.
        public var kinds: [String]

        public init(kinds: [String] = []) { self.kinds = kinds }

        /// Parses `kind=a,b` (the query value); nil with a reason when a name is unknown.
        public static func parse(_ text: String?) throws(APIError) -> Filter {
            guard let text, !text.isEmpty else { return Filter() }
            let names = text.split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
            guard names.count <= TraceEvent.Kind.allCases.count else { throw .badRequest("invalid_kind", "too many kinds") }
            let known = Set(TraceEvent.Kind.allCases.map(\.rawValue))
            var kinds: [String] = []
            for n in names {
                let prefix = n.hasSuffix("*") ? String(n.dropLast()) : n
                if prefix.hasSuffix(".") {
                    guard known.contains(where: { $0.hasPrefix(prefix) }) else {
                        throw .badRequest("invalid_kind", "no trace event kind starts with '\(prefix.prefix(32))'")
                    }
                    kinds.append(prefix)
                } else {
                    guard known.contains(n) else {
                        throw .badRequest("invalid_kind", "unknown trace event kind '\(n.prefix(32))'; kinds: \(TraceEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    kinds.append(n)
                }
            }
            return Filter(kinds: kinds)
        }

        public func accepts(_ kind: TraceEvent.Kind) -> Bool {
            guard !kinds.isEmpty else { return true }
            let name = kind.rawValue
            return kinds.contains { $0.hasSuffix(".") ? name.hasPrefix($0) : name == $0 }
        }
    }

    private final class Subscriber {
        let exchange: APIExchange
        let filter: Filter
        var dropped = 0
        var lastWrite: Instant
        init(exchange: APIExchange, filter: Filter, now: Instant) {
            self.exchange = exchange; self.filter = filter; lastWrite = now
        }
    }

    private let loop: EventLoop
    public let maxSubscribers: Int
    public let maxBufferedBytes: Int
    public let keepAliveInterval: TimeSpan
    private var subscribers: [ObjectIdentifier: Subscriber] = [:]
    private var keepAliveTimer: LoopToken?
    private var seq: Int64 = 0
    public private(set) var counters = Counters()

    public init(loop: EventLoop, maxSubscribers: Int = Limits.maxTraceSubscribers,
                maxBufferedBytes: Int = Limits.maxTraceSubscriberBytes, keepAliveInterval: TimeSpan = Limits.traceKeepAliveInterval) {
        self.loop = loop
        self.maxSubscribers = maxSubscribers
        self.maxBufferedBytes = maxBufferedBytes
        self.keepAliveInterval = keepAliveInterval
    }

    public var subscriberCount: Int { subscribers.count }
    public var hasSubscribers: Bool { !subscribers.isEmpty }

    /// Turns the exchange into an event stream. False (and nothing sent) when full.
    @discardableResult
    public func subscribe(_ exchange: APIExchange, filter: Filter, nodeID: NodeID) -> Bool {
        guard subscribers.count < maxSubscribers else {
            counters.refused += 1
            return false
        }
        guard exchange.startStream(.serverSentEvents()) else { return false }
        let s = Subscriber(exchange: exchange, filter: filter, now: loop.now)
        let key = ObjectIdentifier(exchange)
        subscribers[key] = s
        counters.subscribersTotal += 1
        exchange.onClose = { [weak self] in self?.subscribers[key] = nil }
        // A first event at once, so a client knows the stream is live and whose it is.
        let kinds = filter.kinds.isEmpty ? "all" : filter.kinds.joined(separator: ",")
        exchange.send(ServerSentEvent.encode(event: "hello", data: "{\"node\":\"\(nodeID.hex)\",\"kinds\":\"\(kinds)\",\"format\":1}"))
        scheduleKeepAlive()
        return true
    }

    /// Plug into `Node.traceSink` (next to the trace file).
    public func publish(_ event: TraceEvent) {
        guard !subscribers.isEmpty else { return }
        counters.eventsPublished += 1
        seq += 1
        let now = loop.now
        var line: [UInt8]? = nil
        for s in subscribers.values where s.filter.accepts(event.kind) {
            if s.exchange.unwrittenBytes > maxBufferedBytes {
                s.dropped += 1
                counters.eventsDropped += 1
                continue
            }
            if s.dropped > 0 {
                s.exchange.send(ServerSentEvent.encode(event: "dropped", data: "{\"dropped\":\(s.dropped)}"))
                s.dropped = 0
            }
            if line == nil { line = Self.encode(event, seq: seq, wall: TraceWriter.unixNanoseconds()) }
            if let line { s.exchange.send(line) }
            s.lastWrite = now
            counters.eventsSent += 1
        }
    }

    /// One SSE event: `event: KIND`, `data: <the trace line without its newline>` (with `seq`,
    /// this stream's counter, and `wall`, Unix ns, on every line).
    static func encode(_ event: TraceEvent, seq: Int64, wall: Int64?) -> [UInt8] {
        // Encoded straight after the SSE header (one buffer, no intermediate line).
        var out: [UInt8] = []
        out.reserveCapacity(TraceEncoder.maxLineBytes(event) + 40)
        out.append(contentsOf: "event: ".utf8)
        out.append(contentsOf: event.kind.rawValue.utf8)
        out.append(contentsOf: "\ndata: ".utf8)
        TraceEncoder.append(event, seq: seq, wall: wall, to: &out)
        if out.last == 0x0A { out.removeLast() }
        out.append(0x0A); out.append(0x0A)
        return out
    }

    /// Ends every stream (node shutdown).
    public func closeAll() {
        for s in Array(subscribers.values) { s.exchange.finish() }
        subscribers.removeAll()
        if let keepAliveTimer { loop.cancelTimer(keepAliveTimer) }
        keepAliveTimer = nil
    }

    private func scheduleKeepAlive() {
        guard keepAliveTimer == nil else { return }
        keepAliveTimer = loop.schedule(after: keepAliveInterval) { [weak self] in
            guard let self else { return }
            self.keepAliveTimer = nil
            let now = self.loop.now
            for s in self.subscribers.values where now - s.lastWrite >= self.keepAliveInterval {
                if s.exchange.unwrittenBytes <= self.maxBufferedBytes { s.exchange.send(ServerSentEvent.keepAlive) }
                s.lastWrite = now
            }
            if !self.subscribers.isEmpty { self.scheduleKeepAlive() }
        }
    }
}
