#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurNode

let demoCommand = Command(
    name: "demo",
    summary: "start a small local mesh, link and ping it, and show what happened",
    usage: """
    usage: murmur demo [--nodes N] [--timeout SECONDS]

    Starts N `murmur node` processes (default 5) on loopback with temporary data directories and
    a fresh private network key, joins them into a mesh (each node joins node 0 and its
    predecessor), waits until every link is up on both ends with a measured round trip, then
    handshakes with and pings every node from this process. Prints the node ids, links, handshake
    times and RTTs, stops the nodes, and exits 0 only if all of it worked. The nodes are always
    stopped, whatever happens (they also exit on their own if this process dies).

      --nodes N            nodes to start (2...16, default 5)
      --timeout SECONDS    give up after this long (default 20)
    """,
    run: runDemo
)

@Sendable func runDemo(_ argv: [String]) throws -> Int32 {
    Posix.ignoreBrokenPipes()
    let args = try Arguments(argv, command: "demo", booleans: [], valued: ["--nodes", "--timeout"])
    if let extra = args.positionals.first { throw UsageError("demo: unexpected argument '\(extra)'") }
    let count = try args.int("--nodes", default: 5, range: 2...16)
    let timeout = try args.double("--timeout", default: 20, range: 1...600)
    guard let executable = currentExecutablePath() else { throw CommandFailure("demo: cannot find this executable (/proc/self/exe)") }
    var template = Array("/tmp/murmur-demo-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw CommandFailure("demo: cannot create a temporary directory") }
    let root = String(cString: made)
    let demo = try MeshDemo(executable: executable, root: root, count: count, timeout: .seconds(timeout))
    defer { demo.cleanUp() }
    return demo.run() ? 0 : 1
}

/// One child node as the demo sees it.
private final class DemoNode: EventSource {
    let index: Int
    let process: ChildProcess
    var id: NodeID?
    var address: SocketAddress?
    /// Peers (hex) this node reported a link to, and the first RTT to each (ms).
    var linksUp: [String: Double] = [:]
    var rtt: [String: Double] = [:]
    var failures: [String] = []
    private var partial: [UInt8] = []
    var token: LoopToken?

    init(index: Int, process: ChildProcess) {
        self.index = index
        self.process = process
    }

    func handle(_ events: IOEvents) {
        while let chunk = process.readStdout(), !chunk.isEmpty {
            for byte in chunk {
                if byte == 0x0A {
                    line(String(decoding: partial, as: UTF8.self))
                    partial.removeAll(keepingCapacity: true)
                } else if partial.count < 4096 {
                    partial.append(byte)
                }
            }
        }
    }

    private func line(_ text: String) {
        let fields = Dictionary(text.split(separator: " ").compactMap { part -> (String, String)? in
            guard let eq = part.firstIndex(of: "=") else { return nil }
            return (String(part[..<eq]), String(part[part.index(after: eq)...]))
        }, uniquingKeysWith: { a, _ in a })
        let parts = text.split(separator: " ")
        if parts.count == 5, parts[0] == "node", parts[2] == "listening", parts[3] == "on" {
            id = NodeID(hex: String(parts[1]))
            address = try? SocketAddress(parsing: String(parts[4]))
        } else if text.hasPrefix("link-up "), let peer = fields["peer"] {
            linksUp[peer] = Double(fields["handshake_ms"] ?? "") ?? .nan
        } else if text.hasPrefix("rtt "), let peer = fields["peer"], rtt[peer] == nil {
            rtt[peer] = Double(fields["ms"] ?? "")
        } else if text.hasPrefix("link-down ") {
            failures.append(text)
        }
    }
}

/// Pings every node from the demo process over its own encrypted links.
private final class DemoPinger: TransportDelegate {
    var handshakes: [ConnectionID: Double] = [:]
    var rtts: [ConnectionID: [Double]] = [:]
    var failed: [ConnectionID: String] = [:]
    let pingsPerNode = 3

    func transport(_ t: Transport, linkUp link: LinkInfo) {
        handshakes[link.id] = link.handshakeTime?.milliseconds
        rtts[link.id] = []
        t.ping(link: link.id)
    }
    func transport(_ t: Transport, linkDown link: LinkInfo, reason: CloseReason) {
        if (rtts[link.id]?.count ?? 0) < pingsPerNode { failed[link.id] = "\(reason)" }
    }
    func transport(_ t: Transport, received type: MessageType, payload: UnsafeRawBufferPointer, link: ConnectionID, peer: NodeID) {}
    func transport(_ t: Transport, writable link: ConnectionID) {}
    func transport(_ t: Transport, pong rtt: TimeSpan, link: ConnectionID) {
        rtts[link, default: []].append(rtt.milliseconds)
        if (rtts[link]?.count ?? 0) < pingsPerNode { t.ping(link: link) }
    }
}

private final class MeshDemo {
    let executable: String
    let root: String
    let count: Int
    let timeout: TimeSpan
    let loop: EventLoop
    var nodes: [DemoNode] = []
    var interrupted = false
    var signals: SignalWatcher?
    let started: Instant

    init(executable: String, root: String, count: Int, timeout: TimeSpan) throws {
        self.executable = executable
        self.root = root
        self.count = count
        self.timeout = timeout
        loop = try EventLoop()
        started = loop.now
        signals = try SignalWatcher(loop: loop) { [weak self] _ in self?.interrupted = true }
    }

    /// Runs the loop until `condition` holds; false on timeout or interrupt.
    func pump(until condition: () -> Bool) -> Bool {
        while !condition() {
            if interrupted || loop.now - started > timeout { return false }
            do { try loop.runOnce(maxWait: .milliseconds(20)) } catch { return false }
        }
        return true
    }

    func elapsed() -> String { format3((loop.now - started).seconds) + " s" }

    func run() -> Bool {
        let keyPath = root + "/network.key"
        let networkKey = NetworkKey.random()
        do { try networkKey.save(to: keyPath) } catch {
            printError("murmur demo: \(error)")
            return false
        }
        writeLine("murmur demo: \(count) nodes on loopback, private network key \(networkKey.fingerprint), data under \(root)")

        // Start the nodes: node 0 first, then each joins node 0 and its predecessor.
        for i in 0..<count {
            var args = ["node", "--listen", "127.0.0.1:0", "--data", "\(root)/node\(i)", "--network-key", keyPath,
                        "--events", "--parent-pid", "\(getpid())"]
            for j in Set([0, i - 1]) where j >= 0 && j < i {
                guard let a = nodes[j].address else { return false }
                args += ["--join", "\(a)"]
            }
            let child: ChildProcess
            do { child = try ChildProcess(executable: executable, arguments: args) } catch {
                printError("murmur demo: cannot start node \(i): \(error)")
                return false
            }
            let node = DemoNode(index: i, process: child)
            nodes.append(node)
            do { node.token = try loop.register(fd: child.stdoutFD, events: .readable, source: node) } catch {
                printError("murmur demo: \(error)")
                return false
            }
            guard pump(until: { node.address != nil && node.id != nil }) else {
                printError("murmur demo: node \(i) did not start (\(interrupted ? "interrupted" : "timeout"))")
                return false
            }
            writeLine("  node \(i)  \(node.id?.short ?? "?")  listening on \(node.address.map { "\($0)" } ?? "?")  (pid \(child.pid))")
        }

        // Every link up on both ends, with a round trip measured by the dialling node.
        var pairs: [(Int, Int)] = []
        for i in 1..<count { for j in Set([0, i - 1]).sorted() where j < i { pairs.append((i, j)) } }
        func hex(_ i: Int) -> String { nodes[i].id?.hex ?? "" }
        let meshUp = pump(until: {
            pairs.allSatisfy { (i, j) in
                nodes[i].linksUp[hex(j)] != nil && nodes[j].linksUp[hex(i)] != nil && nodes[i].rtt[hex(j)] != nil
            }
        })
        writeLine("links (dialler → listener):")
        var ok = meshUp
        for (i, j) in pairs {
            let hs = nodes[i].linksUp[hex(j)].map { format3($0) + " ms" } ?? "—"
            let rtt = nodes[i].rtt[hex(j)].map { format3($0) + " ms" } ?? "—"
            let both = nodes[i].linksUp[hex(j)] != nil && nodes[j].linksUp[hex(i)] != nil
            writeLine("  node \(i) → node \(j)   \(both ? "up  " : "DOWN")   handshake \(hs)   rtt \(rtt)")
        }
        if meshUp {
            writeLine("all \(pairs.count) links up on both ends after \(elapsed())")
        } else {
            writeLine("FAILED: not every link came up (\(interrupted ? "interrupted" : "timeout"))")
        }

        // Ping every node from here, pinning its node id.
        if ok {
            let pinger = DemoPinger()
            let transport = Transport(loop: loop, identity: SigningKey(), networkKey: networkKey)
            transport.delegate = pinger
            var links: [Int: ConnectionID] = [:]
            for node in nodes {
                guard let a = node.address, let id = node.id else { continue }
                links[node.index] = try? transport.dial(a, expectedPeer: id)
            }
            let pinged = pump(until: {
                links.values.allSatisfy { (pinger.rtts[$0]?.count ?? 0) >= pinger.pingsPerNode || pinger.failed[$0] != nil }
            })
            writeLine("pings from this process (handshake pinned to each node id, \(pinger.pingsPerNode) pings each):")
            for node in nodes {
                guard let link = links[node.index] else { ok = false; continue }
                let r = pinger.rtts[link] ?? []
                let hs = pinger.handshakes[link].map { format3($0) + " ms" } ?? "—"
                if r.count >= pinger.pingsPerNode {
                    let avg = r.reduce(0, +) / Double(r.count)
                    writeLine("  node \(node.index) \(node.id?.short ?? "?"): handshake \(hs), rtt min/avg/max \(format3(r.min() ?? 0))/\(format3(avg))/\(format3(r.max() ?? 0)) ms")
                } else {
                    ok = false
                    writeLine("  node \(node.index) \(node.id?.short ?? "?"): FAILED \(pinger.failed[link] ?? "no answer")")
                }
            }
            ok = ok && pinged
            transport.shutdown()
        }

        // Stop the nodes and check that each exits cleanly.
        let statuses = stopAll()
        let clean = statuses.allSatisfy { $0 == 0 }
        writeLine("stopped \(nodes.count) nodes: \(clean ? "all exited cleanly" : "exit statuses \(statuses)")")
        ok = ok && clean
        writeLine(ok ? "demo OK (\(elapsed()))" : "demo FAILED")
        return ok
    }

    private var stopped = false

    /// SIGTERM to every node at once, then wait (SIGKILL after a grace period).
    func stopAll() -> [Int32] {
        guard !stopped else { return [] }
        stopped = true
        for n in nodes {
            if let t = n.token { loop.deregister(fd: n.process.stdoutFD, token: t) }
            n.process.terminate()
        }
        return nodes.map { $0.process.stop(grace: 3) }
    }

    /// Every exit path: no orphans, no temp files.
    func cleanUp() {
        _ = stopAll()
        if let rm = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", root]) { _ = rm.reap(blocking: true) }
    }
}
