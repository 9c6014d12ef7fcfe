#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurNode

let nodeCommand = Command(
    name: "node",
    summary: "run a node: listen, keep links to --join peers",
    usage: """
    usage: murmur node [--listen HOST:PORT] [--join HOST:PORT]... [--data DIR] [--network-key FILE] [-v|-vv] [--events]

    Runs a Murmur node until SIGINT or SIGTERM.

      --listen HOST:PORT    address to listen on (default 127.0.0.1:7000; port 0 = any free port)
      --join HOST:PORT      a peer to keep a link to (reconnects with backoff); repeatable
      --data DIR            data directory (default $MURMUR_DATA or ~/.murmur); the node's
                            identity is DIR/identity (created on first start, mode 0600)
      --network-key FILE    the mesh's 32-byte key (64 hex characters); default: the public mesh
      -v, -vv               more log lines on stderr (default: warnings only)
      --events              print one line per link event on stdout (for scripts and the demo)
      --parent-pid PID      exit as soon as process PID is no longer our parent (the demo and
                            tests pass their own pid, so a killed parent leaves no orphans)

    On start, one line goes to stdout: "node NODEID listening on HOST:PORT". With --events:
      link-up peer=NODEID dir=inbound|outbound addr=HOST:PORT handshake_ms=MS
      link-down peer=NODEID reason="..."
      rtt peer=NODEID ms=MS
      join-retry addr=HOST:PORT after_ms=MS reason="..."
    """,
    run: runNode
)

/// Reads `--network-key FILE` (or the public mesh's key).
func loadNetworkKey(_ args: Arguments) throws -> NetworkKey {
    guard let path = args.value("--network-key") else { return .default }
    do { return try NetworkKey.load(from: path) } catch { throw CommandFailure("\(error)") }
}

func parseAddress(_ text: String, option: String, command: String) throws -> SocketAddress {
    do { return try SocketAddress(parsing: text) } catch {
        throw UsageError("\(command): \(option): \(error)")
    }
}

@Sendable func runNode(_ argv: [String]) throws -> Int32 {
    Posix.ignoreBrokenPipes()
    let args = try Arguments(argv, command: "node", booleans: ["-v", "-vv", "--verbose", "--events"],
                             valued: ["--listen", "--join", "--data", "--network-key", "--parent-pid"])
    if let extra = args.positionals.first { throw UsageError("node: unexpected argument '\(extra)'") }
    let listen = try parseAddress(args.value("--listen") ?? "127.0.0.1:7000", option: "--listen", command: "node")
    let joins = try args.values("--join").map { try parseAddress($0, option: "--join", command: "node") }
    guard joins.count <= Limits.maxJoinAddresses else { throw UsageError("node: at most \(Limits.maxJoinAddresses) --join addresses") }
    let level: Logger.Level = args.has("-vv") ? .debug : (args.has("-v") || args.has("--verbose")) ? .info : .warning
    let networkKey = try loadNetworkKey(args)
    let dataDir = DataDirectory.resolve(args.value("--data"))
    let identity: SigningKey
    do {
        try dataDir.prepare()
        let (key, created) = try dataDir.loadOrCreateIdentity()
        identity = key
        if created { Logger(level: level).info("created identity \(dataDir.identityPath)") }
    } catch {
        throw CommandFailure("\(error)")
    }

    let loop = try EventLoop()
    let config = NodeConfig(listen: listen, joins: joins)
    let node = Node(loop: loop, identity: identity, networkKey: networkKey, config: config,
                    logger: Logger(level: level, prefix: "[\(identity.publicKey.short)] "))
    let printEvents = args.has("--events")
    node.onEvent = { event in
        guard printEvents else { return }
        switch event {
        case .listening: break
        case .linkUp(let link):
            let handshake = link.handshakeTime.map { String(format3($0.milliseconds)) } ?? "?"
            writeLine("link-up peer=\(link.peer?.hex ?? "?") dir=\(link.direction) addr=\(link.remoteAddress.map { "\($0)" } ?? "?") handshake_ms=\(handshake)")
        case let .linkDown(link, reason):
            writeLine("link-down peer=\(link.peer?.hex ?? "?") reason=\"\(reason)\"")
        case let .roundTrip(peer, rtt):
            writeLine("rtt peer=\(peer.hex) ms=\(format3(rtt.milliseconds))")
        case let .joinRetry(address, after, reason):
            writeLine("join-retry addr=\(address) after_ms=\(Int(after.milliseconds)) reason=\"\(reason)\"")
        }
    }
    var stopping = false
    let stop = {
        guard !stopping else { return }
        stopping = true
        node.shutdown()
        loop.stop()
    }
    let signals = try SignalWatcher(loop: loop) { signal in
        node.logger.info("signal \(signal): shutting down")
        stop()
    }
    if let text = args.value("--parent-pid") {
        // An explicit pid, not getppid() at start: the parent may already be gone by then.
        guard let parent = pid_t(text), parent > 0 else { throw UsageError("node: --parent-pid must be a process id, got '\(text)'") }
        if getppid() != parent { return 0 }
        func watch() {
            loop.schedule(after: .milliseconds(200)) {
                if getppid() != parent { stop() } else { watch() }
            }
        }
        watch()
    }
    let bound: SocketAddress
    do { bound = try node.start() } catch { throw CommandFailure("cannot listen on \(listen): \(error)") }
    writeLine("node \(identity.publicKey.hex) listening on \(bound)")
    try loop.run()
    withExtendedLifetime(signals) {}
    node.logger.info("stopped")
    return 0
}

/// Milliseconds with three decimals.
func format3(_ v: Double) -> String {
    let scaled = Int((v * 1000).rounded())
    let frac = String(abs(scaled) % 1000 + 1000).dropFirst()
    return "\(scaled / 1000).\(frac)"
}
