#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurNode

/// `murmur trace --follow --node HOST:PORT [--kind a,b] [--count N]`: streams a running node's
/// trace events (Server-Sent Events from `GET /v1/trace`, Specs/trace.md "Live") and prints each
/// as the JSON line the trace file would hold, so the output is itself a trace file
/// (`murmur trace --follow … > live.jsonl; murmur trace live.jsonl`). Notices (the stream's
/// start, events dropped because this reader was slow) go to stderr.
func followTrace(_ args: Arguments) throws -> Int32 {
    guard let nodeText = args.value("--node") else { throw UsageError("trace: --follow needs --node HOST:PORT (the node's --api address)") }
    guard args.positionals.isEmpty else { throw UsageError("trace: --follow reads from a node, not from files") }
    let address = try parseAddress(nodeText, option: "--node", command: "trace")
    let count = try args.int("--count", default: 0, range: 0...Int(Int32.max))
    var path = "/v1/trace"
    if let kinds = args.value("--kind") {
        let allowed = kinds.unicodeScalars.allSatisfy { CharacterSet_isKindChar($0) }
        guard allowed, !kinds.isEmpty else { throw UsageError("trace: --kind takes names like send,deliver,job.* (letters, '.', '*', ',')") }
        path += "?kind=" + kinds.replacingStar
    }
    var printed = 0
    do {
        try ControlClient.stream(address, path: path) { event, data in
            switch event {
            case "hello":
                printError("trace: following \(address) (\(data))")
            case "dropped":
                printError("trace: the node dropped events this reader was too slow for: \(data)")
            default:
                writeLine(data)
                printed += 1
            }
            return count == 0 || printed < count
        }
    } catch {
        throw CommandFailure("trace: \(address): \(error)")
    }
    return 0
}

private func CharacterSet_isKindChar(_ c: Unicode.Scalar) -> Bool {
    (c >= "a" && c <= "z") || c == "." || c == "*" || c == "," || c == "_"
}

extension String {
    /// `*` percent-encoded for the query string.
    fileprivate var replacingStar: String { split(separator: "*", omittingEmptySubsequences: false).joined(separator: "%2A") }
}
