import MurmurCore

/// Parses trace lines from bytes that arrive in arbitrary pieces (a socket, a pipe), for the live
/// view (`murmur trace --follow`, Server-Sent Events from `GET /v1/trace`). Accepts plain JSON
/// Lines or SSE framing: `data: <line>` carries one event; comments (`:`), `event:`, `id:`,
/// `retry:` and blank lines are skipped. Memory is bounded by `Limits.traceMaxLineBytes`.
public final class TraceStreamParser {
    public let strings: TraceStrings
    public private(set) var stats = TraceReadStats()
    private var parser: TraceLineParser
    private var pending: [UInt8] = []
    private var skipping = false
    private var lineNumber = 0
    private let source: String

    public init(strings: TraceStrings = TraceStrings(), source: String = "stream") {
        self.strings = strings
        self.parser = TraceLineParser(strings: strings)
        self.source = source
    }

    /// Feeds the next bytes; calls `body` for every complete, valid event line.
    public func feed(_ bytes: [UInt8], body: (TraceLine) -> Void) {
        stats.bytes += Int64(bytes.count)
        var start = 0
        while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: 10) else {
                if !skipping {
                    pending.append(contentsOf: bytes[start...])
                    if pending.count > Limits.traceMaxLineBytes { skipping = true; pending.removeAll() }
                }
                return
            }
            if skipping {
                skipping = false
                lineNumber += 1
                stats.lines += 1
                stats.record(TraceLineIssue(file: source, line: lineNumber, error: .lineTooLong(bytes: Limits.traceMaxLineBytes)))
            } else {
                pending.append(contentsOf: bytes[start..<nl])
                handle(body)
            }
            pending.removeAll(keepingCapacity: true)
            start = nl + 1
        }
    }

    private func handle(_ body: (TraceLine) -> Void) {
        lineNumber += 1
        var line = pending[...]
        if line.last == 13 { line = line.dropLast() }
        // SSE framing.
        if line.starts(with: Array("data:".utf8)) {
            line = line.dropFirst(5)
            if line.first == 32 { line = line.dropFirst() }
        } else if line.first == UInt8(ascii: ":") || line.starts(with: Array("event:".utf8))
                    || line.starts(with: Array("id:".utf8)) || line.starts(with: Array("retry:".utf8)) {
            return
        }
        if line.allSatisfy({ $0 == 32 || $0 == 9 }) { return }
        stats.lines += 1
        let parsed: Result<TraceLine, TraceLineError> = line.withContiguousStorageIfAvailable { buf in
            do throws(TraceLineError) { return .success(try parser.parse(buf.baseAddress!, buf.count)) } catch { return .failure(error) }
        } ?? .failure(.truncated)
        switch parsed {
        case .success(let event):
            stats.events += 1
            if event.versionMinor > TraceFormat.minor { stats.newerMinorLines += 1 }
            if event.kind == nil { stats.unknownEventLines += 1 }
            body(event)
        case .failure(let error):
            stats.record(TraceLineIssue(file: source, line: lineNumber, error: error))
        }
    }
}
