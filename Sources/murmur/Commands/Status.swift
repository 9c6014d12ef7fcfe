import MurmurCore
import MurmurNode

let statusCommand = Command(
    name: "status",
    summary: "show a running node's views, directory, records and counters",
    usage: """
    usage: murmur status [--node HOST:PORT] [--json] [--timeout SECONDS]

    Asks a running node's API (`murmur node --api HOST:PORT`, GET /v1/status) for its status:
    node id, listen address, active and passive views, directory size (live peers known through
    announcements, itself included), records held by kind, and message counters.

      --node HOST:PORT     the node's --api address (default 127.0.0.1:7001); MURMUR_API_TOKEN or
                           MURMUR_API_TOKEN_FILE give the bearer token for a node off loopback
      --json               print the status as one JSON object (keys: node_id, listen, active_view,
                           passive_view, directory_size, records, counters, linked_peers,
                           eager_peers, local_health, uptime_s)
      --timeout SECONDS    give up after this long (default 5)

    Exits 1 if the node cannot be reached.
    """,
    run: runStatus
)

@Sendable func runStatus(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, command: "status", booleans: ["--json"], valued: ["--node", "--timeout"])
    if let extra = args.positionals.first { throw UsageError("status: unexpected argument '\(extra)'") }
    let address = try parseAddress(args.value("--node") ?? "127.0.0.1:7001", option: "--node", command: "status")
    let timeout = try args.double("--timeout", default: 5, range: 0.1...600)
    let response: (status: Int, body: [UInt8])
    do {
        response = try ControlClient.request(address, path: "/v1/status", timeout: .seconds(timeout))
    } catch {
        throw CommandFailure("status: \(address): \(error) (is the node running with --api \(address)?)")
    }
    guard response.status == 200 else {
        throw CommandFailure("status: \(address) answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
    }
    if args.has("--json") {
        writeLine(String(decoding: response.body, as: UTF8.self).trimmingTrailingNewlines())
        return 0
    }
    let s: MeshStatus
    do { s = try MeshStatus.decode(response.body) } catch {
        throw CommandFailure("status: cannot read the node's answer: \(error)")
    }
    writeLine("node       \(s.node_id)")
    writeLine("listen     \(s.listen)   up \(format3(s.uptime_s)) s   local health \(s.local_health)")
    writeLine("active     \(s.active_view.count) peers (\(s.eager_peers) eager)   linked \(s.linked_peers)")
    for p in s.active_view { writeLine("  \(p)") }
    writeLine("passive    \(s.passive_view.count) peers")
    for p in s.passive_view { writeLine("  \(p)") }
    writeLine("directory  \(s.directory_size) live nodes")
    let kinds = s.records.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
    writeLine("records    \(kinds.isEmpty ? "none" : kinds.joined(separator: ", "))")
    for group in ["gossip", "host", "transport", "node"] {
        guard let counters = s.counters[group] else { continue }
        let nonZero = counters.filter { $0.value != 0 }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        writeLine("\(group + String(repeating: " ", count: max(1, 11 - group.count)))\(nonZero.isEmpty ? "-" : nonZero.joined(separator: " "))")
    }
    return 0
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while s.last == "\n" || s.last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
