#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// A problem with a whole input (cannot open or read it), as opposed to one bad line.
public enum TraceReadError: Error, CustomStringConvertible, Sendable {
    case open(path: String, errno: Int32)
    case read(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .open(let p, let e): return "cannot open \(p): \(String(cString: strerror(e)))"
        case .read(let p, let e): return "cannot read \(p): \(String(cString: strerror(e)))"
        }
    }
}

/// Where a bad line was, and what was wrong with it.
public struct TraceLineIssue: Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var error: TraceLineError
    public var description: String { "\(file):\(line): \(error)" }
}

/// Counts of what a reader saw: good lines, bad lines by category, bytes.
public struct TraceReadStats: Sendable {
    public var files = 0
    public var bytes: Int64 = 0
    public var lines = 0
    public var events = 0
    public var errors = 0
    public var errorsByCategory: [String: Int] = [:]
    public var examples: [TraceLineIssue] = []
    /// Lines written by a newer minor version (accepted; unknown keys ignored).
    public var newerMinorLines = 0
    /// Events whose `ev` this reader does not know (from a newer version); kept but not analysed.
    public var unknownEventLines = 0

    public init() {}

    mutating func record(_ issue: TraceLineIssue) {
        errors += 1
        errorsByCategory[issue.error.category, default: 0] += 1
        if examples.count < Limits.traceMaxErrorExamples { examples.append(issue) }
    }
}

/// Streams trace files in large chunks with bounded memory (one chunk per file plus at most one
/// partial line), handing each parsed line to a closure. Bad lines are counted, never fatal.
public final class TraceReader {
    public let strings: TraceStrings
    public private(set) var stats = TraceReadStats()
    private var parser: TraceLineParser
    private let chunkBytes: Int

    public init(strings: TraceStrings = TraceStrings(), chunkBytes: Int = Limits.traceReadChunkBytes) {
        self.strings = strings
        self.parser = TraceLineParser(strings: strings)
        self.chunkBytes = max(chunkBytes, Limits.traceMaxLineBytes * 2)
    }

    /// Reads one file (`-` is standard input). `body` receives each good line with its file index.
    public func read(path: String, body: (TraceLine) -> Void) throws(TraceReadError) {
        let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .open(path: path, errno: errno) }
        defer { if fd != 0 { close(fd) } }
        stats.files += 1
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkBytes)
        defer { buffer.deallocate() }
        var filled = 0          // bytes valid in buffer
        var lineNumber = 0
        var skippingLongLine = false
        var longLineBytes = 0
        var eof = false
        while !eof {
            let n = Glibc.read(fd, buffer + filled, chunkBytes - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw .read(path: path, errno: errno)
            }
            if n == 0 { eof = true } else { stats.bytes += Int64(n) }
            filled += n
            var start = 0
            // Consume complete lines.
            while start < filled {
                let rest = filled - start
                guard let nl = memchr(buffer + start, 10, rest) else { break }
                let end = buffer.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                lineNumber += 1
                if skippingLongLine {
                    skippingLongLine = false
                    longLineBytes += end - start
                    stats.lines += 1
                    stats.record(TraceLineIssue(file: path, line: lineNumber, error: .lineTooLong(bytes: longLineBytes)))
                } else if end - start > Limits.traceMaxLineBytes {
                    stats.lines += 1
                    stats.record(TraceLineIssue(file: path, line: lineNumber, error: .lineTooLong(bytes: end - start)))
                } else {
                    handle(buffer + start, end - start, path: path, line: lineNumber, body: body)
                }
                start = end + 1
            }
            // Keep the partial line at the front.
            let rest = filled - start
            if eof {
                if rest > Limits.traceMaxLineBytes && !skippingLongLine {
                    lineNumber += 1
                    stats.lines += 1
                    stats.record(TraceLineIssue(file: path, line: lineNumber, error: .lineTooLong(bytes: rest)))
                } else if rest > 0 && !skippingLongLine {
                    lineNumber += 1
                    handle(buffer + start, rest, path: path, line: lineNumber, body: body, last: true)
                } else if skippingLongLine {
                    lineNumber += 1
                    stats.lines += 1
                    stats.record(TraceLineIssue(file: path, line: lineNumber, error: .lineTooLong(bytes: longLineBytes + rest)))
                }
                break
            }
            if rest > Limits.traceMaxLineBytes || (skippingLongLine && rest > 0) {
                // Drop the start of an over-long line and skip to its newline.
                if !skippingLongLine { longLineBytes = 0 }
                skippingLongLine = true
                longLineBytes += rest
                filled = 0
            } else if start > 0 {
                if rest > 0 { memmove(buffer, buffer + start, rest) }
                filled = rest
            }
        }
    }

    @inline(__always)
    private func handle(_ p: UnsafePointer<UInt8>, _ count: Int, path: String, line: Int,
                        body: (TraceLine) -> Void, last: Bool = false) {
        var n = count
        if n > 0 && p[n - 1] == 13 { n -= 1 }
        // Blank lines are allowed (and not counted).
        var blank = true
        for j in 0..<n where p[j] != 32 && p[j] != 9 { blank = false; break }
        if blank { return }
        stats.lines += 1
        do {
            let event = try parser.parse(p, n)
            stats.events += 1
            if event.versionMinor > TraceFormat.minor || event.versionMajor > TraceFormat.major { stats.newerMinorLines += 1 }
            if event.kind == nil { stats.unknownEventLines += 1 }
            body(event)
        } catch {
            stats.record(TraceLineIssue(file: path, line: line, error: error))
        }
    }

    /// Parses one line from a string (tests, the live stream).
    public func parse(line: String) throws(TraceLineError) -> TraceLine {
        let bytes = Array(line.utf8)
        guard !bytes.isEmpty else { throw .truncated }
        var result: Result<TraceLine, TraceLineError> = .failure(.truncated)
        bytes.withUnsafeBufferPointer { u in
            do throws(TraceLineError) { result = .success(try parser.parse(u.baseAddress!, u.count)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}

extension TraceLine {
    /// The event as the core value type, with strings resolved (nil for unknown event names).
    public func event(strings: TraceStrings) -> TraceEvent? {
        guard let k = kind else { return nil }
        return TraceEvent(time: Instant(nanoseconds: time), node: NodeID(node), kind: k,
                          recordKind: strings.name(recordKind), recordID: id.map { Hash($0) },
                          peer: peer.map { NodeID($0) }, bytes: bytes.map { Int($0) }, hops: hops.map { Int($0) },
                          reason: strings.name(reason))
    }
}
