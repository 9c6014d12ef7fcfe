#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurHTTP
import MurmurInference
import MurmurNode
import MurmurWire

let demoCommand = Command(
    name: "demo",
    summary: "start a small local mesh, let it form by gossip, spread records, and show what happened",
    usage: """
    usage: murmur demo [--nodes N] [--timeout SECONDS] [--model NAME]

    Starts N `murmur node` processes (default 6) on loopback with temporary data directories, a
    fresh private network key and short gossip timers (--gossip-fast). Node 0 is the seed; every
    other node is given only the seed's address, and the membership protocol (HyParView) builds
    the mesh. The demo waits until every node's directory lists all N nodes (signed
    announcements), prints each node's active view, publishes 3 signed test records at two nodes
    through their HTTP APIs, and waits until every node holds them (Plumtree broadcast,
    anti-entropy). Then (when run from the repository, which has Tests/Fixtures/models/mlp.onnx)
    it publishes the sample model at node 0, waits until every node has fetched and verified it
    (--serve all), submits one job per node (r = 3, q = 2) and prints, per job, the entry node,
    the executors, the output hash, the outcome and the time, each result checked offline.
    Exits 0 only if all of it worked. The nodes are always stopped, whatever
    happens (they also exit on their own if this process dies). Data directories are removed;
    each node's trace (--trace) is kept in /tmp/murmur-demo-traces-XXXXXX, and the demo prints
    the `murmur trace` command that shows the disputed (or killed-executor) job's timeline.

      --nodes N            nodes to start (2...16, default 8)
      --timeout SECONDS    give up after this long (default 20; 120 with --model)
      --model NAME         run the jobs on a real model from the model cache
                           (Scripts/real_models/fetch.sh fills it) instead of the sample MLP, with
                           a generated input: \(RealModels.all.map(\.alias).joined(separator: ", "))
                           (inputs over 48 KiB leave the job record and the executors fetch
                           them from the entry node; the request body is at most 8 MiB of JSON)
    """,
    run: runDemo
)

@Sendable func runDemo(_ argv: [String]) throws -> Int32 {
    Posix.ignoreBrokenPipes()
    let args = try Arguments(argv, command: "demo", booleans: [], valued: ["--nodes", "--timeout", "--model"])
    if let extra = args.positionals.first { throw UsageError("demo: unexpected argument '\(extra)'") }
    let count = try args.int("--nodes", default: 8, range: 2...16)
    var realModel: RealModel?
    if let name = args.value("--model") {
        guard let m = RealModels.find(name) else {
            throw UsageError("demo: unknown model '\(name)'; known: \(RealModels.all.map(\.alias).joined(separator: ", "))")
        }
        guard m.isCached else {
            let cached = RealModels.cached().map(\.alias)
            throw CommandFailure("demo: model '\(m.alias)' is not cached at \(m.path); run Scripts/real_models/fetch.sh (or set MURMUR_MODEL_CACHE). Cached: \(cached.isEmpty ? "none" : cached.joined(separator: ", "))")
        }
        // The input goes to the node as JSON (its body is at most Limits.maxHTTPBodyBytes); an
        // input over Limits.maxInlineInputBytes leaves the job record and is fetched by hash.
        func jsonBytes(_ m: RealModel) -> Int {
            m.sampleInputs().reduce(0) { $0 + $1.key.utf8.count + 64 + $1.value.count * ($1.value.dtype.isFloatingPoint ? 14 : 6) }
        }
        let size = jsonBytes(m)
        guard size <= Limits.maxHTTPBodyBytes else {
            let fitting = RealModels.cached().filter { jsonBytes($0) <= Limits.maxHTTPBodyBytes }.map(\.alias)
            throw CommandFailure("demo: \(m.alias)'s input is about \(size) bytes of JSON; a job request may carry at most \(Limits.maxHTTPBodyBytes) (run it locally: murmur infer). Cached models that fit: \(fitting.isEmpty ? "none" : fitting.joined(separator: ", "))")
        }
        realModel = m
    }
    let timeout = try args.double("--timeout", default: realModel == nil ? 20 : 120, range: 1...600)
    guard let executable = currentExecutablePath() else { throw CommandFailure("demo: cannot find this executable (/proc/self/exe)") }
    var template = Array("/tmp/murmur-demo-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw CommandFailure("demo: cannot create a temporary directory") }
    let root = String(cString: made)
    var traceTemplate = Array("/tmp/murmur-demo-traces-XXXXXX".utf8CString)
    guard let madeTraces = mkdtemp(&traceTemplate) else {
        _ = rmdir(root)
        throw CommandFailure("demo: cannot create a temporary directory for traces")
    }
    let demo = try MeshDemo(executable: executable, root: root, traces: String(cString: madeTraces), count: count,
                            timeout: .seconds(timeout), realModel: realModel)
    defer { demo.cleanUp() }
    return demo.run() ? 0 : 1
}

/// One child node as the demo sees it.
final class DemoNode {
    let index: Int
    let process: ChildProcess
    var id: NodeID?
    var address: String?
    var control: SocketAddress?
    private var partial: [UInt8] = []

    init(index: Int, process: ChildProcess) {
        self.index = index
        self.process = process
    }

    /// Reads the start-up lines the node prints.
    func readLines() {
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
        let parts = text.split(separator: " ").map(String.init)
        if parts.count == 5, parts[0] == "node", parts[2] == "listening", parts[3] == "on" {
            id = NodeID(hex: parts[1])
            address = parts[4]
        } else if parts.count == 2, parts[0] == "control" {
            control = try? SocketAddress(parsing: parts[1])
        }
    }

    func status() -> MeshStatus? {
        guard let control, let r = try? ControlClient.request(control, path: "/v1/status", timeout: .seconds(Int64(2))),
              r.status == 200 else { return nil }
        return try? MeshStatus.decode(r.body)
    }

    /// Publishes `n` signed test records at this node; returns their ids.
    func publish(_ n: Int) -> [String] {
        guard let control,
              let r = try? ControlClient.request(control, method: "POST", path: "/v1/debug/records?count=\(n)", timeout: .seconds(Int64(5))),
              r.status == 200 else { return [] }
        // {"published":["hex",…]}
        return String(decoding: r.body, as: UTF8.self).split(separator: "\"").map(String.init).filter { $0.count == 64 }
    }
}

final class MeshDemo {
    let executable: String
    let root: String
    /// Per-node trace files (`node-<i>.jsonl`); kept after the demo, unlike `root`.
    let traces: String
    let count: Int
    let timeout: TimeSpan
    let loop: EventLoop
    var nodes: [DemoNode] = []
    var interrupted = false
    var signals: SignalWatcher?
    let started: Instant
    /// Nodes the demo killed on purpose (kill -9): not expected to exit cleanly.
    var killed: Set<Int> = []
    /// With ≥ 7 nodes the last one lies (r = 2: a dispute round starts r + 2 = 4 fresh deciders, Specs/jobs.md).
    var liarIndex: Int? { count >= 7 ? count - 1 : nil }
    /// The job worth reading in the traces: the first disputed one, else the killed-executor one.
    var disputedJob: String?
    var killedExecutorJob: String?
    /// `--model`: the jobs run on this cached real model instead of the sample MLP.
    let realModel: RealModel?

    init(executable: String, root: String, traces: String, count: Int, timeout: TimeSpan, realModel: RealModel? = nil) throws {
        self.realModel = realModel
        self.executable = executable
        self.root = root
        self.traces = traces
        self.count = count
        self.timeout = timeout
        loop = try EventLoop()
        started = loop.now
        signals = try SignalWatcher(loop: loop) { [weak self] _ in self?.interrupted = true }
    }

    /// Polls until `condition` holds; false on timeout or interrupt.
    func poll(every interval: TimeSpan = .milliseconds(50), until condition: () -> Bool) -> Bool {
        while !condition() {
            if interrupted || loop.now - started > timeout { return false }
            do { try loop.runOnce(maxWait: interval) } catch { return false }
        }
        return true
    }

    func elapsed() -> String { format3((loop.now - started).seconds) + " s" }
    func since(_ t: Instant) -> String { format3((loop.now - t).milliseconds) + " ms" }

    func run() -> Bool {
        let keyPath = root + "/network.key"
        let networkKey = NetworkKey.random()
        do { try networkKey.save(to: keyPath) } catch {
            printError("murmur demo: \(error)")
            return false
        }
        writeLine("murmur demo: \(count) nodes on loopback, private network key \(networkKey.fingerprint), data under \(root)")

        // Node 0 is the seed; every other node knows only the seed's address.
        for i in 0..<count {
            var args = ["node", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--data", "\(root)/node\(i)",
                        "--network-key", keyPath, "--gossip-fast", "--serve", "all", "--slots", "2",
                        "--trace", "\(traces)/node-\(i).jsonl",
                        "--parent-pid", "\(getpid())"]
            if i > 0, let seed = nodes[0].address { args += ["--join", seed] }
            if i == liarIndex { args.append("--lie") }
            // Each inference takes 200 ms, long enough to kill an executor in the middle.
            args += ["--inference-delay-ms", "200"]
            let child: ChildProcess
            do { child = try ChildProcess(executable: executable, arguments: args) } catch {
                printError("murmur demo: cannot start node \(i): \(error)")
                return false
            }
            let node = DemoNode(index: i, process: child)
            nodes.append(node)
            guard poll(every: .milliseconds(10), until: { node.readLines(); return node.address != nil && node.control != nil }) else {
                printError("murmur demo: node \(i) did not start (\(interrupted ? "interrupted" : "timeout"))")
                return false
            }
            writeLine("  node \(i)  \(node.id?.short ?? "?")  listening on \(node.address ?? "?")\(i == 0 ? "  (seed)" : "  joins via the seed")\(i == liarIndex ? "  LIAR (--lie: attests wrong outputs)" : "")")
        }
        let names = Dictionary(nodes.compactMap { n in n.id.map { ($0.hex, n.index) } }, uniquingKeysWith: { a, _ in a })

        // The mesh forms: every directory lists every node and every node has at least two live
        // links. (HyParView need not fill every view: a node whose candidates are all full may
        // stay a peer or two short — waiting for full views made the demo flaky.)
        let full = min(GossipConfig().activeViewSize, count - 1)
        var statuses: [MeshStatus] = []
        let formed = poll(every: .milliseconds(100)) {
            statuses = nodes.compactMap { $0.status() }
            return statuses.count == count && statuses.allSatisfy { $0.directory_size == count && $0.active_view.count >= min(2, full) }
        }
        writeLine(formed ? "mesh formed after \(elapsed()): every directory lists \(count) nodes" : "FAILED: the mesh did not form (\(interrupted ? "interrupted" : "timeout"))")
        writeLine("active views (HyParView, up to \(full) peers; eager = links of the broadcast tree):")
        for (i, s) in statuses.enumerated() {
            let peers = s.active_view.map { "\(names[$0].map { "node \($0)" } ?? String($0.prefix(8)))" }
            writeLine("  node \(i): \(peers.joined(separator: ", "))   (passive \(s.passive_view.count), eager \(s.eager_peers))")
        }
        guard formed else { return finish(false) }

        // Records published at two nodes reach every node.
        let publishedAt = loop.now
        var ids = nodes[count - 1].publish(2)
        ids += nodes[count / 2].publish(1)
        guard ids.count == 3 else {
            writeLine("FAILED: could not publish test records")
            return finish(false)
        }
        writeLine("published 3 signed records: 2 at node \(count - 1), 1 at node \(count / 2)")
        var holders: [Int] = []
        let spread = poll(every: .milliseconds(20)) {
            holders = nodes.map { ($0.status()?.records["job"]) ?? 0 }
            return holders.allSatisfy { $0 >= 3 }
        }
        if spread {
            writeLine("all \(count) nodes hold all 3 records \(since(publishedAt)) after publication")
        } else {
            writeLine("FAILED: records per node \(holders) (\(interrupted ? "interrupted" : "timeout"))")
            return finish(false)
        }
        // Verified jobs (DemoJobs.swift): publish the sample model, replicate it, run jobs.
        return finish(runJobs(names: names))
    }

    func finish(_ ok: Bool) -> Bool {
        let statuses = stopAll()
        let clean = statuses.allSatisfy { $0 == 0 }
        writeLine("stopped \(nodes.count - killed.count) nodes: \(clean ? "all exited cleanly" : "exit statuses \(statuses)")")
        if !nodes.isEmpty {
            // The nodes flush their traces on SIGTERM; a node killed with -9 loses its unflushed tail.
            writeLine("traces: \(traces)/node-*.jsonl (kept; data directories are removed)")
            let job = (disputedJob ?? killedExecutorJob).map { " --job \($0)" } ?? ""
            let what = disputedJob != nil ? "  (the disputed job)" : killedExecutorJob != nil ? "  (the killed-executor job)" : ""
            writeLine("read them: murmur trace \(traces)/*.jsonl\(job)\(what)")
            writeLine("      page: murmur trace \(traces)/*.jsonl --html \(traces)/demo.html")
        }
        let all = ok && clean
        writeLine(all ? "demo OK (\(elapsed()))" : "demo FAILED")
        return all
    }

    private var stopped = false

    /// SIGTERM to every node at once, then wait (SIGKILL after a grace period).
    func stopAll() -> [Int32] {
        guard !stopped else { return [] }
        stopped = true
        let alive = nodes.filter { !killed.contains($0.index) }
        for n in alive { n.process.terminate() }
        return alive.map { $0.process.stop(grace: 3) }
    }

    /// Every exit path: no orphans, no temp files.
    func cleanUp() {
        _ = stopAll()
        if let rm = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", root]) { _ = rm.reap(blocking: true) }
    }
}
