#if canImport(Glibc)
import Glibc
#endif

/// A subcommand of `murmur`. Each lives in its own file as `Commands/<Name>.swift`.
struct Command: Sendable {
    let name: String
    /// One line for `murmur --help`.
    let summary: String
    /// Full text for `murmur NAME --help`.
    let usage: String
    let run: @Sendable ([String]) throws -> Int32
}

/// A usage error: printed as one line, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// A failure while running a command: printed as `murmur: <message>`, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Minimal argument parser: `--flag`, `--key value`, `--key=value`, repeated keys, positionals.
/// Every flag must be declared; an unknown one is a `UsageError`.
struct Arguments {
    private(set) var flags: Set<String> = []
    private(set) var options: [String: [String]] = [:]
    private(set) var positionals: [String] = []
    let command: String

    /// `booleans`: flags without a value. `valued`: options that take one value (may repeat).
    init(_ args: [String], command: String, booleans: Set<String>, valued: Set<String>) throws {
        self.command = command
        var i = 0
        var onlyPositionals = false
        while i < args.count {
            let a = args[i]
            i += 1
            if onlyPositionals || !a.hasPrefix("-") || a == "-" {
                positionals.append(a)
                continue
            }
            if a == "--" { onlyPositionals = true; continue }
            var name = a
            var inlineValue: String?
            if let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inlineValue = String(a[a.index(after: eq)...])
            }
            if booleans.contains(name) {
                if inlineValue != nil { throw UsageError("\(command): \(name) takes no value") }
                flags.insert(name)
            } else if valued.contains(name) {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard i < args.count else { throw UsageError("\(command): \(name) needs a value") }
                    value = args[i]
                    i += 1
                }
                options[name, default: []].append(value)
            } else {
                throw UsageError("\(command): unknown option \(name) (see murmur \(command) --help)")
            }
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }
    func value(_ name: String) -> String? { options[name]?.last }
    func values(_ name: String) -> [String] { options[name] ?? [] }

    func int(_ name: String, default d: Int, range: ClosedRange<Int>) throws -> Int {
        guard let s = value(name) else { return d }
        guard let v = Int(s), range.contains(v) else {
            throw UsageError("\(command): \(name) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
        }
        return v
    }

    func double(_ name: String, default d: Double, range: ClosedRange<Double>) throws -> Double {
        guard let s = value(name) else { return d }
        guard let v = Double(s), range.contains(v) else {
            throw UsageError("\(command): \(name) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
        }
        return v
    }

    func uint64(_ name: String, default d: UInt64) throws -> UInt64 {
        guard let s = value(name) else { return d }
        guard let v = UInt64(s) else { throw UsageError("\(command): \(name) must be a non-negative whole number, got '\(s)'") }
        return v
    }
}

/// Writes to standard error (logs, progress); standard output is for results.
func printError(_ s: String) {
    var line = s
    if !line.hasSuffix("\n") { line += "\n" }
    var bytes = Array(line.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        offset += n
    }
}
