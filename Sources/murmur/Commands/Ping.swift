#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurNode

let pingCommand = Command(
    name: "ping",
    summary: "handshake with a node and measure round-trip times",
    usage: """
    usage: murmur ping HOST:PORT [--count N] [--interval MS] [--peer NODEID] [--network-key FILE] [--timeout SECONDS]

    Connects with a throw-away identity, completes the encrypted handshake, prints the peer's
    node id and the handshake time, then sends N pings (default 3) and prints each round trip.
    Exit status 0 when every ping was answered.

      --count N             pings to send (1...10000, default 3)
      --interval MS         time between pings (default 200)
      --peer NODEID         the node id (64 hex) expected to answer; another key fails the handshake
      --network-key FILE    the mesh's key (default: the public mesh)
      --timeout SECONDS     give up after this long (default 10)
    """,
    run: runPing
)

@Sendable func runPing(_ argv: [String]) throws -> Int32 {
    Posix.ignoreBrokenPipes()
    let args = try Arguments(argv, command: "ping", booleans: [], valued: ["--count", "--interval", "--peer", "--network-key", "--timeout"])
    guard args.positionals.count == 1, let target = args.positionals.first else {
        throw UsageError("ping: expected exactly one HOST:PORT (see murmur ping --help)")
    }
    let address = try parseAddress(target, option: "address", command: "ping")
    let count = try args.int("--count", default: 3, range: 1...10_000)
    let interval = try args.int("--interval", default: 200, range: 0...60_000)
    let timeout = try args.double("--timeout", default: 10, range: 0.1...3600)
    var expected: NodeID?
    if let hex = args.value("--peer") {
        guard let id = NodeID(hex: hex) else { throw UsageError("ping: --peer must be a 64-hex-digit node id, got '\(hex)'") }
        expected = id
    }
    let networkKey = try loadNetworkKey(args)

    let loop = try EventLoop()
    let transport = Transport(loop: loop, identity: SigningKey(), networkKey: networkKey)
    let session = PingSession(loop: loop, transport: transport, count: count, interval: .milliseconds(Int64(interval)))
    transport.delegate = session
    do { session.link = try transport.dial(address, expectedPeer: expected) } catch {
        throw CommandFailure("cannot connect to \(address): \(error)")
    }
    loop.schedule(after: .seconds(timeout)) {
        session.failure = session.failure ?? "timed out after \(timeout) s"
        loop.stop()
    }
    let signals = try SignalWatcher(loop: loop) { _ in
        session.failure = "interrupted"
        loop.stop()
    }
    try loop.run()
    withExtendedLifetime(signals) {}
    if !session.rtts.isEmpty {
        let ms = session.rtts.map(\.milliseconds)
        let avg = ms.reduce(0, +) / Double(ms.count)
        writeLine("--- \(address): \(session.sent) pings, \(session.rtts.count) answered, rtt min/avg/max = \(format3(ms.min() ?? 0))/\(format3(avg))/\(format3(ms.max() ?? 0)) ms")
    }
    if let failure = session.failure {
        throw CommandFailure("ping \(address): \(failure)")
    }
    transport.shutdown()
    return session.rtts.count == count ? 0 : 1
}

/// The loop-side state of one `murmur ping` run.
private final class PingSession: TransportDelegate {
    let loop: EventLoop
    let transport: Transport
    let count: Int
    let interval: TimeSpan
    var link: ConnectionID?
    var sent = 0
    var rtts: [TimeSpan] = []
    var failure: String?

    init(loop: EventLoop, transport: Transport, count: Int, interval: TimeSpan) {
        self.loop = loop
        self.transport = transport
        self.count = count
        self.interval = interval
    }

    func transport(_ transport: Transport, linkUp link: LinkInfo) {
        let handshake = link.handshakeTime.map { format3($0.milliseconds) } ?? "?"
        writeLine("connected to \(link.remoteAddress.map { "\($0)" } ?? "?"): node \(link.peer?.hex ?? "?")")
        writeLine("handshake: \(handshake) ms (TCP connect + Noise XXpsk3)")
        sendPing()
    }

    func transport(_ transport: Transport, linkDown link: LinkInfo, reason: CloseReason) {
        if rtts.count < count { failure = "\(reason)" }
        loop.stop()
    }

    func transport(_ transport: Transport, received type: MessageType, payload: UnsafeRawBufferPointer, link: ConnectionID, peer: NodeID) {}
    func transport(_ transport: Transport, writable link: ConnectionID) {}

    func transport(_ transport: Transport, pong rtt: TimeSpan, link: ConnectionID) {
        rtts.append(rtt)
        writeLine("pong \(rtts.count): rtt \(format3(rtt.milliseconds)) ms")
        if rtts.count >= count {
            if let l = self.link { transport.close(l, reason: "ping done") }
            loop.stop()
        } else {
            loop.schedule(after: interval) { [weak self] in self?.sendPing() }
        }
    }

    private func sendPing() {
        guard let link, sent < count else { return }
        sent += 1
        transport.ping(link: link)
    }
}
