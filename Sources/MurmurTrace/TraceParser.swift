import MurmurCore

/// Why one trace line was skipped. Every error is counted; the reader never stops on one.
public enum TraceLineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The line ends before the object is complete (a writer killed mid-line, a cut file).
    case truncated
    case syntax(column: Int, expected: String)
    case missingKey(String)
    case badValue(key: String, why: String)
    case unsupportedVersion(major: Int)
    case lineTooLong(bytes: Int)
    case notUTF8OrControl(column: Int)

    /// Short category name used to count errors by kind.
    public var category: String {
        switch self {
        case .truncated: return "truncated"
        case .syntax: return "syntax"
        case .missingKey: return "missing-key"
        case .badValue: return "bad-value"
        case .unsupportedVersion: return "unsupported-version"
        case .lineTooLong: return "line-too-long"
        case .notUTF8OrControl: return "control-character"
        }
    }

    public var description: String {
        switch self {
        case .truncated: return "truncated line (object not closed; the writer probably stopped mid-line)"
        case .syntax(let c, let e): return "syntax error at column \(c): expected \(e)"
        case .missingKey(let k): return "missing required key '\(k)'"
        case .badValue(let k, let why): return "bad value for '\(k)': \(why)"
        case .unsupportedVersion(let m):
            return "schema major version \(m) is newer than this reader (\(TraceFormat.major)); upgrade murmur"
        case .lineTooLong(let n): return "line of \(n) bytes exceeds the \(Limits.traceMaxLineBytes)-byte limit"
        case .notUTF8OrControl(let c): return "control character inside a string at column \(c)"
        }
    }
}

/// Hand-written parser for one line of the trace schema. Not a general JSON parser: it knows the
/// keys, skips unknown ones (any JSON value), and reports the first problem as a typed error.
struct TraceLineParser {
    let strings: TraceStrings
    /// Scratch for strings with escapes (rare).
    private var scratch: [UInt8] = []

    init(strings: TraceStrings) { self.strings = strings }

    private static let q = UInt8(ascii: "\""), bs = UInt8(ascii: "\\")

    mutating func parse(_ p: UnsafePointer<UInt8>, _ n: Int) throws(TraceLineError) -> TraceLine {
        var line = TraceLine()
        var i = 0
        var seen: UInt8 = 0 // bit 0 v, 1 t, 2 node, 3 ev
        @inline(__always) func ws() { while i < n, p[i] == 32 || p[i] == 9 || p[i] == 13 { i += 1 } }
        ws()
        guard i < n else { throw .truncated }
        guard p[i] == UInt8(ascii: "{") else { throw .syntax(column: i + 1, expected: "'{'") }
        i += 1
        ws()
        if i < n, p[i] == UInt8(ascii: "}") { throw .missingKey("v") }
        while true {
            ws()
            guard i < n else { throw .truncated }
            guard p[i] == Self.q else { throw .syntax(column: i + 1, expected: "a key in quotes") }
            // Keys of this schema have no escapes; an escaped key is treated as unknown.
            let ks = i + 1
            var k = ks
            while k < n, p[k] != Self.q, p[k] != Self.bs { k += 1 }
            guard k < n else { throw .truncated }
            var keyLen = k - ks
            if p[k] == Self.bs {
                keyLen = -1
                i = k
                try skipStringRest(p, n, &i)
            } else {
                i = k + 1
            }
            ws()
            guard i < n else { throw .truncated }
            guard p[i] == UInt8(ascii: ":") else { throw .syntax(column: i + 1, expected: "':'") }
            i += 1
            ws()
            guard i < n else { throw .truncated }
            let key = p + ks
            switch keyLen {
            case 1 where key[0] == UInt8(ascii: "v"):
                try parseVersion(p, n, &i, &line); seen |= 1
            case 1 where key[0] == UInt8(ascii: "t"):
                guard let t = try int(p, n, &i, "t") else { throw .badValue(key: "t", why: "null") }
                guard t.magnitude < TraceFormat.timeLimit else { throw .badValue(key: "t", why: "beyond ±2^62 ns") }
                line.time = t; seen |= 2
            case 4 where eq(key, "node"):
                line.node = try hex32(p, n, &i, "node"); seen |= 4
            case 2 where eq(key, "ev"):
                line.event = try interned(p, n, &i, "ev"); seen |= 8
            case 4 where eq(key, "kind"):
                if try isNull(p, n, &i) { line.recordKind = -1 } else { line.recordKind = try interned(p, n, &i, "kind") }
            case 2 where eq(key, "id"):
                if try isNull(p, n, &i) { line.id = nil } else { line.id = try hex32(p, n, &i, "id") }
            case 4 where eq(key, "peer"):
                if try isNull(p, n, &i) { line.peer = nil } else { line.peer = try hex32(p, n, &i, "peer") }
            case 5 where eq(key, "bytes"):
                line.bytes = try int(p, n, &i, "bytes")
                if let b = line.bytes, b < 0 { throw .badValue(key: "bytes", why: "negative") }
            case 4 where eq(key, "hops"):
                line.hops = try int(p, n, &i, "hops")
                if let h = line.hops, h < 0 { throw .badValue(key: "hops", why: "negative") }
            case 6 where eq(key, "reason"):
                if try isNull(p, n, &i) { line.reason = -1 } else { line.reason = try interned(p, n, &i, "reason") }
            case 3 where eq(key, "seq"):
                line.seq = try int(p, n, &i, "seq")
            case 4 where eq(key, "wall"):
                line.wall = try int(p, n, &i, "wall")
                if let w = line.wall, w.magnitude >= TraceFormat.timeLimit { throw .badValue(key: "wall", why: "beyond ±2^62 ns") }
            default:
                try skipValue(p, n, &i, depth: 0)
            }
            ws()
            guard i < n else { throw .truncated }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "}") { i += 1; break }
            throw .syntax(column: i + 1, expected: "',' or '}'")
        }
        ws()
        if i < n { throw .syntax(column: i + 1, expected: "end of line after the object") }
        if seen & 1 == 0 { throw .missingKey("v") }
        if seen & 2 == 0 { throw .missingKey("t") }
        if seen & 4 == 0 { throw .missingKey("node") }
        if seen & 8 == 0 { throw .missingKey("ev") }
        return line
    }

    @inline(__always) private func eq(_ p: UnsafePointer<UInt8>, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        let b = s.utf8Start
        for j in 0..<n where p[j] != b[j] { return false }
        return true
    }

    private func isNull(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(TraceLineError) -> Bool {
        guard p[i] == UInt8(ascii: "n") else { return false }
        guard i + 4 <= n else { throw .truncated }
        guard eq(p + i, "null") else { throw .syntax(column: i + 1, expected: "a value") }
        i += 4
        return true
    }

    private func int(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ key: String) throws(TraceLineError) -> Int64? {
        if try isNull(p, n, &i) { return nil }
        var neg = false
        if p[i] == UInt8(ascii: "-") { neg = true; i += 1 }
        let start = i
        var v: Int64 = 0
        while i < n {
            let d = p[i] &- 48
            if d >= 10 { break }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { throw .badValue(key: key, why: "integer out of range") }
            v = a
            i += 1
        }
        if i == start {
            if i >= n { throw .truncated }
            throw .badValue(key: key, why: "expected an integer")
        }
        if i < n, p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            throw .badValue(key: key, why: "expected an integer, got a fraction or exponent")
        }
        return neg ? -v : v
    }

    private func hex32(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ key: String) throws(TraceLineError) -> Bytes32 {
        guard p[i] == Self.q else { throw .badValue(key: key, why: "expected a 64-hex-digit string") }
        guard i + 66 <= n else {
            var j = i + 1
            while j < n, p[j] != Self.q { j += 1 }
            if j >= n { throw .truncated }
            throw .badValue(key: key, why: "expected 64 hex digits, got \(j - i - 1)")
        }
        guard p[i + 65] == Self.q else {
            throw .badValue(key: key, why: "expected 64 hex digits")
        }
        guard let v = TraceHex.decode32(p + i + 1) else { throw .badValue(key: key, why: "not hexadecimal") }
        i += 66
        return v
    }

    private mutating func interned(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ key: String) throws(TraceLineError) -> Int32 {
        guard p[i] == Self.q else { throw .badValue(key: key, why: "expected a string") }
        let s = i + 1
        var j = s
        while j < n, p[j] != Self.q, p[j] != Self.bs {
            if p[j] < 0x20 { throw .notUTF8OrControl(column: j + 1) }
            j += 1
        }
        guard j < n else { throw .truncated }
        if p[j] == Self.q {
            i = j + 1
            if j - s > 256 { throw .badValue(key: key, why: "string longer than 256 bytes") }
            return strings.intern(p + s, j - s)
        }
        // Slow path: decode escapes into scratch.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: p + s, count: j - s))
        i = j
        while true {
            guard i < n else { throw .truncated }
            let c = p[i]
            if c == Self.q { i += 1; break }
            if c < 0x20 { throw .notUTF8OrControl(column: i + 1) }
            if c == Self.bs {
                guard i + 1 < n else { throw .truncated }
                let e = p[i + 1]
                switch e {
                case UInt8(ascii: "n"): scratch.append(10)
                case UInt8(ascii: "t"): scratch.append(9)
                case UInt8(ascii: "r"): scratch.append(13)
                case UInt8(ascii: "b"): scratch.append(8)
                case UInt8(ascii: "f"): scratch.append(12)
                case UInt8(ascii: "u"):
                    guard i + 6 <= n else { throw .truncated }
                    var v: UInt32 = 0
                    for k in 2..<6 {
                        guard let d = TraceHex.nibble(p[i + k]) else { throw .badValue(key: key, why: "bad \\u escape") }
                        v = v << 4 | UInt32(d)
                    }
                    // Surrogates are replaced; trace strings are ASCII names in practice.
                    let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                    scratch.append(contentsOf: Array(String(Character(scalar)).utf8))
                    i += 4
                default: scratch.append(e)
                }
                i += 2
                continue
            }
            scratch.append(c)
            i += 1
        }
        if scratch.count > 256 { throw .badValue(key: key, why: "string longer than 256 bytes") }
        return strings.intern(scratch)
    }

    private func parseVersion(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ line: inout TraceLine) throws(TraceLineError) {
        var major: Int64 = 0, minor: Int64 = 0
        if p[i] == Self.q {
            // "M.m"
            var j = i + 1
            var part: Int64 = 0, parts = 0, digits = 0
            while j < n, p[j] != Self.q {
                let c = p[j]
                if c == UInt8(ascii: ".") {
                    guard digits > 0, parts == 0 else { throw .badValue(key: "v", why: "expected \"MAJOR.MINOR\"") }
                    major = part; part = 0; parts = 1; digits = 0
                } else if c &- 48 < 10 {
                    part = part * 10 + Int64(c &- 48); digits += 1
                    if digits > 9 { throw .badValue(key: "v", why: "version number too large") }
                } else { throw .badValue(key: "v", why: "expected \"MAJOR.MINOR\"") }
                j += 1
            }
            guard j < n else { throw .truncated }
            guard digits > 0 else { throw .badValue(key: "v", why: "expected \"MAJOR.MINOR\"") }
            if parts == 0 { major = part } else { minor = part }
            i = j + 1
        } else {
            guard let m = try int(p, n, &i, "v") else { throw .badValue(key: "v", why: "null") }
            major = m
        }
        guard major >= 1 else { throw .badValue(key: "v", why: "version must be at least 1") }
        guard major <= Int64(TraceFormat.major) else { throw .unsupportedVersion(major: Int(clamping: major)) }
        line.versionMajor = Int(major)
        line.versionMinor = Int(minor)
    }

    private func skipStringRest(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(TraceLineError) {
        // i points inside a string (after the opening quote or at a backslash).
        while i < n {
            let c = p[i]
            if c == Self.bs { i += 2; continue }
            if c == Self.q { i += 1; return }
            i += 1
        }
        throw .truncated
    }

    private func skipValue(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, depth: Int) throws(TraceLineError) {
        guard i < n else { throw .truncated }
        guard depth < 32 else { throw .syntax(column: i + 1, expected: "less nesting (32 levels at most)") }
        let c = p[i]
        switch c {
        case Self.q:
            i += 1
            try skipStringRest(p, n, &i)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            var first = true
            while true {
                while i < n, p[i] == 32 || p[i] == 9 { i += 1 }
                guard i < n else { throw .truncated }
                if p[i] == close { i += 1; return }
                if !first {
                    guard p[i] == UInt8(ascii: ",") else { throw .syntax(column: i + 1, expected: "',' or '\(Character(Unicode.Scalar(close)))'") }
                    i += 1
                    while i < n, p[i] == 32 || p[i] == 9 { i += 1 }
                }
                first = false
                if close == UInt8(ascii: "}") {
                    guard i < n else { throw .truncated }
                    guard p[i] == Self.q else { throw .syntax(column: i + 1, expected: "a key in quotes") }
                    i += 1
                    try skipStringRest(p, n, &i)
                    while i < n, p[i] == 32 || p[i] == 9 { i += 1 }
                    guard i < n else { throw .truncated }
                    guard p[i] == UInt8(ascii: ":") else { throw .syntax(column: i + 1, expected: "':'") }
                    i += 1
                    while i < n, p[i] == 32 || p[i] == 9 { i += 1 }
                }
                try skipValue(p, n, &i, depth: depth + 1)
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let word: StaticString = c == UInt8(ascii: "t") ? "true" : c == UInt8(ascii: "f") ? "false" : "null"
            let len = word.utf8CodeUnitCount
            guard i + len <= n else { throw .truncated }
            guard eq(p + i, word) else { throw .syntax(column: i + 1, expected: "a value") }
            i += len
        default:
            let s = i
            while i < n {
                let d = p[i]
                if d &- 48 < 10 || d == UInt8(ascii: "-") || d == UInt8(ascii: "+") || d == UInt8(ascii: ".")
                    || d == UInt8(ascii: "e") || d == UInt8(ascii: "E") { i += 1 } else { break }
            }
            if i == s { throw .syntax(column: i + 1, expected: "a value") }
        }
    }
}
