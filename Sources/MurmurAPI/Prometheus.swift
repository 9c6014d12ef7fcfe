import MurmurCore
import MurmurHTTP

/// Prometheus text exposition format 0.0.4 for `GET /metrics`. Each family is written once with
/// its `# HELP` and `# TYPE`; label values are escaped (`\\`, `\"`, `\n`); metric and label
/// names are restricted to `[a-zA-Z_:][a-zA-Z0-9_:]*` (other characters become `_`).
public struct PrometheusText: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    private var out = ""
    private var declared: Set<String> = []

    public init() {}

    public var text: String { out }

    public var response: HTTPResponse {
        HTTPResponse.text(.ok, out, contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    /// One sample; the family's HELP/TYPE lines are written before its first sample.
    public mutating func sample(_ name: String, _ kind: Kind, help: String, labels: [(String, String)] = [], value: Double) {
        let family = Self.sanitize(name)
        declare(family, kind, help)
        writeSample(family, labels: labels, value: value)
    }

    public mutating func sample(_ name: String, _ kind: Kind, help: String, labels: [(String, String)] = [], value: Int) {
        sample(name, kind, help: help, labels: labels, value: Double(value))
    }

    /// A histogram from bucket upper bounds and cumulative-or-not counts: `counts[i]` observations
    /// fell in `(bounds[i-1], bounds[i]]`; `overflow` above the last bound.
    public mutating func histogram(_ name: String, help: String, labels: [(String, String)] = [], bounds: [Double],
                                   counts: [Int], overflow: Int, sum: Double) {
        let family = Self.sanitize(name)
        declare(family, .histogram, help)
        var cumulative = 0
        for (i, b) in bounds.enumerated() {
            cumulative += i < counts.count ? counts[i] : 0
            writeSample(family + "_bucket", labels: labels + [("le", Self.number(b))], value: Double(cumulative))
        }
        cumulative += overflow
        writeSample(family + "_bucket", labels: labels + [("le", "+Inf")], value: Double(cumulative))
        writeSample(family + "_sum", labels: labels, value: sum)
        writeSample(family + "_count", labels: labels, value: Double(cumulative))
    }

    private mutating func declare(_ family: String, _ kind: Kind, _ help: String) {
        guard declared.insert(family).inserted else { return }
        out += "# HELP \(family) \(help.replacingBackslashesAndNewlines)\n# TYPE \(family) \(kind.rawValue)\n"
    }

    private mutating func writeSample(_ name: String, labels: [(String, String)], value: Double) {
        out += name
        if !labels.isEmpty {
            out += "{" + labels.map { "\(Self.sanitize($0.0))=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        out += " " + Self.number(value) + "\n"
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return v.description
    }

    static func sanitize(_ name: String) -> String {
        var s = ""
        for (i, c) in name.unicodeScalars.enumerated() {
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c == ":" || (i > 0 && c >= "0" && c <= "9")
            s.unicodeScalars.append(ok ? c : "_")
        }
        return s.isEmpty ? "_" : s
    }

    static func escape(_ v: String) -> String {
        var s = ""
        for c in v.unicodeScalars {
            switch c {
            case "\\": s += "\\\\"
            case "\"": s += "\\\""
            case "\n": s += "\\n"
            default: s.unicodeScalars.append(c)
            }
        }
        return s
    }
}

extension String {
    var replacingBackslashesAndNewlines: String {
        var s = ""
        for c in unicodeScalars {
            switch c {
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            default: s.unicodeScalars.append(c)
            }
        }
        return s
    }
}
