#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurNode
import MurmurSim
import MurmurTrace
import MurmurWire

/// `murmur-bench trace`: what tracing costs (issue 7: ≤ 10 % of channel throughput and of gossip
/// messages per second), each case measured with tracing off and on in the same run:
/// - **channel**: 1 KiB messages (gossip-sized) through the real encrypted transport to a receiver
///   process, with and without a `send` trace event per message written by the node's own trace
///   file (`NodeTraceFile`: MurmurTrace's buffered, rotating `TraceWriter`);
/// - **shell**: the node's gossip shell (`GossipService`: decode, record validation with its
///   signature check, the state machine) fed `Gossip` messages (new signed job records) and
///   `IHave` messages, with its trace effects written through `NodeTraceFile`, as in a node;
/// - **sim**: the gossip state machines alone in a simulated mesh (`MurmurSim`), every trace event
///   encoded by MurmurTrace's `TraceEncoder` into a buffered file, against the same seeded run
///   without. The pessimistic bound: no decoding, crypto or IO besides the trace itself.
///
/// Noise (a shared machine): each case runs `--runs` pairs of one off and one on run, back to
/// back, the order alternating between pairs (off-on, on-off, …) so that neither side always
/// runs first. Each pair gives one cost (1 − on/off, both measured under the same load); the
/// reported cost is the **median of the pair costs**, next to the best-vs-best cost (the highest
/// rate of each side over all runs) and every pair's cost. Channel and simulator rates are given
/// per wall-clock second and per CPU-second (`Rates`): CPU time does not count the time other
/// processes take the cores, so its costs move far less on a loaded machine. Every measure also
/// gives the **extra nanoseconds per message** with tracing on (median over pairs of 1/on − 1/off):
/// unlike the ratio it does not depend on how cheap the untraced path is, and in process CPU time
/// (loop + trace thread) it is all the CPU tracing adds per message, wherever it runs. The shell
/// case gives that process measure too (records and IHaves together, including the final flush).
let traceSuite = BenchSuite(
    name: "trace",
    summary: "tracing on vs off: channel messages/s (1 KiB) and gossip messages/s (simulated mesh)",
    run: runTraceBench
)

/// One run's rate three ways: per wall-clock second (what a user sees; on a shared 2-core machine
/// also other people's load), per CPU-second of the thread that runs the hot path (the node's
/// loop, the simulating thread: what tracing costs that thread, wherever the trace thread runs),
/// and per CPU-second of the whole process (that thread plus the trace thread: all the CPU that
/// tracing adds, as if everything shared one core — the strictest of the three).
struct Rates {
    var wall: Double
    var mainCPU: Double
    var processCPU: Double
}

/// The rates of one traced case over all its pairs, for one measure.
private struct PairedRates {
    var off: [Double] = []
    var on: [Double] = []
    mutating func add(off o: Double, on n: Double) { off.append(o); on.append(n) }
    var bestOff: Double { off.max() ?? .nan }
    var bestOn: Double { on.max() ?? .nan }
    var pairCosts: [Double] { zip(off, on).map { 1 - $1 / $0 } }
    var medianCost: Double { median(pairCosts) }
    var bestCost: Double { 1 - bestOn / bestOff }
    /// Per pair, the nanoseconds (of the measure's clock: wall, thread CPU, process CPU) that
    /// tracing adds per message: 1/on − 1/off. Unlike the cost ratio it does not depend on how
    /// much the untraced work costs, and in CPU time not on how busy the other core is.
    var pairExtraNs: [Double] { zip(off, on).map { 1e9 / $1 - 1e9 / $0 } }
    var medianExtraNs: Double { median(pairExtraNs) }
    var text: String {
        "off \(f1(bestOff)), on \(f1(bestOn)) → cost \(pct(medianCost)) median of pairs, \(pct(bestCost)) best vs best"
            + " (pairs: \(pairCosts.map(pct).joined(separator: ", "))); \(medianExtraNs >= 0 ? "+" : "")\(f1(medianExtraNs)) ns per message"
    }
    /// `<rate>_trace_off`, `<rate>_trace_on` (best rates), `<cost>` (median of the pair costs),
    /// `<cost>_best_vs_best`, `<cost>_pairs`.
    func json(rate: String, cost: String) -> String {
        "\"\(rate)_trace_off\":\(f1(bestOff)),\"\(rate)_trace_on\":\(f1(bestOn)),"
            + "\"\(cost)\":\(f3(medianCost)),\"\(cost)_best_vs_best\":\(f3(bestCost)),"
            + "\"\(cost)_pairs\":[\(pairCosts.map(f3).joined(separator: ","))],"
            + "\"\(cost)_extra_ns_per_msg\":\(f1(medianExtraNs))"
    }
}

/// The three measures of one case.
private struct PairedRuns {
    var wall = PairedRates(), mainCPU = PairedRates(), processCPU = PairedRates()
    mutating func add(off: Rates, on: Rates) {
        wall.add(off: off.wall, on: on.wall)
        mainCPU.add(off: off.mainCPU, on: on.mainCPU)
        processCPU.add(off: off.processCPU, on: on.processCPU)
    }
    func text(unit: String, thread: String) -> String {
        "      \(unit)/s, wall clock:                \(wall.text)\n"
            + "      \(unit) per CPU-second, \(thread): \(mainCPU.text)\n"
            + "      \(unit) per CPU-second, process:     \(processCPU.text)"
    }
    func json(rate: String, cost: String, thread: String) -> String {
        [wall.json(rate: rate, cost: cost),
         mainCPU.json(rate: "\(rate)_\(thread)_cpu", cost: "\(cost)_\(thread)_cpu"),
         processCPU.json(rate: "\(rate)_process_cpu", cost: "\(cost)_process_cpu")].joined(separator: ",")
    }
}

private func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// For profiling one side alone (`--side off|on`, e.g. under callgrind): nil runs both.
nonisolated(unsafe) private var onlySide: String?

/// Runs `off` and `on` as pair `k` (the order alternates with `k`). With `--side`, runs that side
/// only and reports it for both.
private func pair<T>(_ k: Int, off: () throws -> T, on: () throws -> T) rethrows -> (off: T, on: T) {
    if let onlySide {
        let r = try onlySide == "on" ? on() : off()
        return (r, r)
    }
    if k % 2 == 0 {
        let a = try off()
        return (a, try on())
    }
    let b = try on()
    return (try off(), b)
}

@Sendable func runTraceBench(_ args: [String]) throws -> Int32 {
    Posix.ignoreBrokenPipes()
    var json = false
    var runs = 5
    var messages = 400_000
    var nodes = 300
    var cases: Set<String> = ["channel", "shell", "sim"]
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--json": json = true
        case "--runs":
            guard let v = wholeNumberOption(args, &i, suite: "trace", range: 1...20) else { return 2 }
            runs = v
        case "--messages":
            guard let v = wholeNumberOption(args, &i, suite: "trace", range: 1_000...100_000_000) else { return 2 }
            messages = v
        case "--nodes":
            guard let v = wholeNumberOption(args, &i, suite: "trace", range: 10...100_000) else { return 2 }
            nodes = v
        case "--cases":
            i += 1
            let list = i < args.count ? Set(args[i].split(separator: ",").map(String.init)) : []
            guard !list.isEmpty, list.isSubset(of: ["channel", "shell", "sim"]) else {
                print("murmur-bench trace: --cases needs a comma-separated list of channel, shell, sim")
                return 2
            }
            cases = list
        case "--side":
            i += 1
            guard i < args.count, args[i] == "off" || args[i] == "on" else {
                print("murmur-bench trace: --side needs off or on")
                return 2
            }
            onlySide = args[i]
        default:
            print("murmur-bench trace: unknown option \(args[i]) (options: --json, --runs N, --messages N, --nodes N, --cases channel,shell,sim, --side off|on)")
            return 2
        }
        i += 1
    }
    let dir = "/tmp/murmur-bench-trace-\(getpid())"
    mkdir(dir, 0o700)
    let traceFiles = ["channel.jsonl", "service.jsonl", "gossip.jsonl"].flatMap { [$0, "\($0).1", "\($0).2", "\($0).3", "\($0).4"] }
    func removeTraces() { for name in traceFiles { unlink("\(dir)/\(name)") } }
    defer { removeTraces(); rmdir(dir) }

    var channel = PairedRuns(), tracedEvents: Int64 = 0, traceBytes = 0
    if cases.contains("channel") {
        // One receiver process for every run (it resets its count on each new link).
        guard let exe = currentExecutablePath() else { print("cannot find /proc/self/exe"); return 1 }
        let keyBytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        guard let networkKey = NetworkKey(bytes: keyBytes) else { return 1 }
        let child = try ChildProcess(executable: exe, arguments: ["channel", "--receiver", Hex.encode(keyBytes), "\(getpid())"])
        defer { _ = child.stop(grace: 2) }
        var lineBytes: [UInt8] = []
        let startWait = Posix.monotonicNanoseconds()
        while !lineBytes.contains(0x0A) {
            guard let chunk = child.readStdout() else { print("receiver exited early"); return 1 }
            lineBytes += chunk
            if chunk.isEmpty { usleep(2_000) }
            if Posix.monotonicNanoseconds() - startWait > 10_000_000_000 { print("receiver did not start"); return 1 }
        }
        let words = String(decoding: lineBytes.prefix { $0 != 0x0A }, as: UTF8.self).split(separator: " ")
        guard words.count == 3, let address = try? SocketAddress(parsing: String(words[1])) else { print("bad receiver line"); return 1 }
        for k in 0..<runs {
            let r = try pair(k, off: {
                try tracedChannelRun(to: address, networkKey: networkKey, messages: messages, tracePath: nil)
            }, on: {
                try tracedChannelRun(to: address, networkKey: networkKey, messages: messages, tracePath: "\(dir)/channel.jsonl")
            })
            channel.add(off: r.off.rates, on: r.on.rates)
            tracedEvents = r.on.events
            traceBytes = r.on.fileBytes
            removeTraces()
        }
    }

    // Gossip through the node's shell: records (signature checked) and IHave messages.
    var records = PairedRates(), ihaves = PairedRates(), ihavesBuilt = PairedRates(), serviceEvents: Int64 = 0
    var shellProcess = PairedRates(), shellMessages = 0
    if cases.contains("shell") {
        let inputs = try GossipInputs(records: min(20_000, max(1_000, messages / 20)), ihaves: min(200_000, max(10_000, messages / 2)))
        for k in 0..<runs {
            let r = try pair(k, off: { try serviceRun(inputs, tracePath: nil) },
                             on: { try serviceRun(inputs, tracePath: "\(dir)/service.jsonl") })
            records.add(off: r.off.records, on: r.on.records)
            ihaves.add(off: r.off.ihaves, on: r.on.ihaves)
            shellProcess.add(off: r.off.process, on: r.on.process)
            serviceEvents = r.on.events
            shellMessages = inputs.records.count + inputs.ihaves.count
            removeTraces()
            // Diagnostic: `TraceEvent`s built for a sink that drops them (what the live API's sink
            // costs; a trace file packs the shell's events without building them), no file or thread.
            let b = try pair(k, off: { try serviceRun(inputs, tracePath: nil) },
                             on: { try serviceRun(inputs, tracePath: nil, buildEvents: true) })
            ihavesBuilt.add(off: b.off.ihaves, on: b.on.ihaves)
        }
    }

    // Gossip state machines alone: the same seeded simulation with tracing off and on.
    var sim = PairedRuns(), gossipMessages = 0, gossipTraceLines = 0
    if cases.contains("sim") {
        for k in 0..<runs {
            let r = pair(k, off: { gossipRun(nodes: nodes, tracePath: nil) },
                         on: { gossipRun(nodes: nodes, tracePath: "\(dir)/gossip.jsonl") })
            sim.add(off: r.off.rates, on: r.on.rates)
            gossipMessages = r.off.messages
            gossipTraceLines = r.on.lines
            removeTraces()
        }
    }
    if json {
        var fields: [String] = []
        if cases.contains("channel") {
            fields.append(channel.json(rate: "channel_msgs_per_s", cost: "channel_trace_cost", thread: "loop"))
            fields.append("\"channel_message_bytes\":1024,\"channel_messages\":\(messages),\"channel_trace_events\":\(tracedEvents),\"channel_trace_file_bytes\":\(traceBytes)")
        }
        if cases.contains("shell") {
            fields.append(records.json(rate: "gossip_records_per_s", cost: "gossip_records_trace_cost"))
            fields.append(ihaves.json(rate: "gossip_ihave_msgs_per_s", cost: "gossip_ihave_trace_cost"))
            fields.append(ihavesBuilt.json(rate: "gossip_ihave_msgs_per_s_events_built_only", cost: "gossip_ihave_build_cost"))
            fields.append(shellProcess.json(rate: "gossip_msgs_per_s_process_cpu", cost: "gossip_trace_cost_process_cpu"))
            fields.append("\"gossip_service_trace_events\":\(serviceEvents),\"gossip_service_messages\":\(shellMessages)")
        }
        if cases.contains("sim") {
            fields.append(sim.json(rate: "sim_events_per_s", cost: "sim_trace_cost", thread: "sim_thread"))
            fields.append("\"sim_nodes\":\(nodes),\"sim_events\":\(gossipMessages),\"sim_trace_lines\":\(gossipTraceLines)")
        }
        fields.append("\"runs\":\(runs),\"target_cost\":0.1")
        print("{" + fields.joined(separator: ",") + "}")
    } else {
        print("murmur-bench trace: tracing off vs on, \(runs) interleaved pairs per case (target: cost ≤ 10 %; rates: best of each side)")
        if cases.contains("channel") {
            print("  channel, 1 KiB messages to a second process (\(tracedEvents) events, \(traceBytes) trace bytes per traced run):")
            print(channel.text(unit: "msg", thread: "loop thread"))
        }
        if cases.contains("shell") {
            print("  gossip node shell, new records (msg per loop CPU-second; decode + signature check + state machine): \(records.text)")
            print("  gossip node shell, IHave of 4 ids (msg per loop CPU-second; \(serviceEvents) trace events): \(ihaves.text)")
            print("    diagnostic, TraceEvents built for a sink that drops them (the live-API path; no file, no trace thread): \(ihavesBuilt.text)")
            print("  gossip node shell, both together (\(shellMessages) msg, \(serviceEvents) events), msg per CPU-second of the process (loop + trace thread): \(shellProcess.text)")
        }
        if cases.contains("sim") {
            print("  state machines only, \(nodes)-node sim (\(gossipMessages) events: messages, timers, links; \(gossipTraceLines) trace lines):")
            print(sim.text(unit: "events", thread: "sim thread "))
        }
    }
    return 0
}

private func f1(_ v: Double) -> String { v.isFinite ? String(Double(Int((v * 10).rounded())) / 10) : "null" }
private func f3(_ v: Double) -> String { v.isFinite ? String(Double(Int((v * 1000).rounded())) / 1000) : "null" }
private func pct(_ v: Double) -> String { v.isFinite ? "\(Double(Int((v * 1000).rounded())) / 10) %" : "n/a" }

// MARK: channel

/// Sends `messages` 1 KiB messages through the real transport; with `tracePath`, writes one
/// `send` trace event per message through `NodeTraceFile`, as a node with `--trace` does.
private func tracedChannelRun(to address: SocketAddress, networkKey: NetworkKey, messages: Int,
                              tracePath: String?) throws -> (rates: Rates, events: Int64, fileBytes: Int) {
    let loop = try EventLoop()
    let identity = SigningKey()
    let transport = Transport(loop: loop, identity: identity, networkKey: networkKey)
    let processStart = processCPUNanoseconds()
    var traceFile: NodeTraceFile?
    if let tracePath {
        do { traceFile = try NodeTraceFile(path: tracePath, loop: loop) } catch { throw BenchFailure("trace file: \(error)") }
    }
    let sender = TracedSender(loop: loop, transport: transport, messages: messages, me: identity.publicKey, trace: traceFile)
    transport.delegate = sender
    sender.link = try transport.dial(address)
    loop.schedule(after: .seconds(120 as Int64)) { sender.failure = "timeout"; loop.stop() }
    try loop.run()
    traceFile?.close() // writes what is still queued: its CPU time counts
    let processCPU = processCPUNanoseconds() - processStart
    transport.shutdown()
    if let failure = sender.failure { throw BenchFailure(failure) }
    if let f = traceFile?.failed { throw BenchFailure("trace write: \(f)") }
    var st = stat()
    let bytes = tracePath.map { stat($0, &st) == 0 ? Int(st.st_size) : 0 } ?? 0
    let m = Double(messages)
    let rates = Rates(wall: m / (Double(sender.finished - sender.started) / 1e9),
                      mainCPU: m / (Double(sender.finishedCPU - sender.startedCPU) / 1e9),
                      processCPU: m / (Double(processCPU) / 1e9))
    return (rates, traceFile?.eventsWritten ?? 0, bytes)
}

private final class TracedSender: TransportDelegate {
    let loop: EventLoop
    let transport: Transport
    let messages: Int
    let me: NodeID
    let trace: NodeTraceFile?
    var link: ConnectionID?
    var peer: NodeID?
    var sent = 0
    var done = false
    var started: Int64 = 0
    var finished: Int64 = 0
    var startedCPU: Int64 = 0
    var finishedCPU: Int64 = 0
    var failure: String?
    /// 1 MiB of random bytes; each message is a different 1 KiB slice (a repeated payload would
    /// let the framing's LZ4 compress whole frames of copies).
    let pool: [UInt8]

    init(loop: EventLoop, transport: Transport, messages: Int, me: NodeID, trace: NodeTraceFile?) {
        self.loop = loop
        self.transport = transport
        self.messages = messages
        self.me = me
        self.trace = trace
        var rng = SeededRNG(seed: 7)
        pool = (0..<(1 << 20) + 1024).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    func pump() {
        guard let link else { return }
        while sent < messages {
            let offset = (sent &* 1031) & ((1 << 20) - 1)
            let r = pool.withUnsafeBytes { transport.send(.benchData, UnsafeRawBufferPointer(rebasing: $0[offset..<offset + 1024]), on: link) }
            if r != .queued { return }
            sent += 1
            // What GossipService traces for each message it sends (kind, peer, size).
            trace?.append(at: loop.now, node: me, kind: .send, recordKind: "ihave", peer: peer, bytes: 1024)
        }
        if !done {
            done = true
            _ = transport.send(MessageType(0xF1), [], on: link)
        }
    }

    func transport(_ t: Transport, linkUp link: LinkInfo) {
        peer = link.peer
        started = Posix.monotonicNanoseconds()
        startedCPU = threadCPUNanoseconds()
        pump()
    }
    func transport(_ t: Transport, linkDown link: LinkInfo, reason: CloseReason) {
        if finished == 0 { failure = "link down: \(reason)"; loop.stop() }
    }
    func transport(_ t: Transport, received type: MessageType, payload: UnsafeRawBufferPointer, link: ConnectionID, peer: NodeID) {
        guard type == MessageType(0xF2), payload.count == 16 else { return }
        let received = Int(UInt64(bigEndian: payload.loadUnaligned(as: UInt64.self)))
        finished = Posix.monotonicNanoseconds()
        finishedCPU = threadCPUNanoseconds()
        if received < messages * 1024 { failure = "receiver got \(received) of \(messages * 1024) bytes" }
        loop.stop()
    }
    func transport(_ t: Transport, writable link: ConnectionID) { pump() }
    func transport(_ t: Transport, pong rtt: TimeSpan, link: ConnectionID) {}
}

// MARK: gossip through the node's shell

/// Pre-encoded inbound messages: `Gossip` with new signed job records, and `IHave`s of 4 ids.
private struct GossipInputs {
    let from: NodeID
    var records: [[UInt8]] = []
    var ihaves: [[UInt8]] = []

    init(records: Int, ihaves: Int) throws {
        let author = SigningKey(seed: Hash.of(Array("murmur-bench trace author".utf8)).bytes)
        from = SigningKey().publicKey
        let now = GossipService.systemUnixMilliseconds()
        var rng = SeededRNG(seed: 11)
        for k in 0..<records {
            var input = [UInt8](repeating: 0, count: 512)
            for j in 0..<input.count { input[j] = UInt8(truncatingIfNeeded: rng.next()) }
            let nonce = (0..<MurmurWire.Job.nonceBytes).map { UInt8(truncatingIfNeeded: $0 &+ k &* 31) }
            let job = MurmurWire.Job(modelHash: Hash.of(Array("model".utf8)), input: input, redundancy: 3, quorum: 2,
                          deadline: now + 60_000, nonce: nonce)
            let record = try job.signed(by: author, issuedAt: now, expiresAt: now + 3_600_000).envelope
            self.records.append(GossipMessage.gossip(HoppedRecord(record: record, hops: 3)).encoded)
        }
        for _ in 0..<ihaves {
            var entries: [IHaveEntry] = []
            for _ in 0..<4 {
                var w = ByteWriter(capacity: 8); w.u64(rng.next())
                entries.append(IHaveEntry(id: Hash.of(w.bytes), hops: 4))
            }
            self.ihaves.append(GossipMessage.ihave(entries).encoded)
        }
    }
}

/// Feeds the inputs to a fresh `GossipService` (as the node's loop would), its trace effects to a
/// `NodeTraceFile` when tracing; returns records/s, IHave messages/s and trace events written.
private func serviceRun(_ inputs: GossipInputs, tracePath: String?, buildEvents: Bool = false) throws
    -> (records: Double, ihaves: Double, process: Double, events: Int64) {
    let loop = try EventLoop()
    var config = GossipServiceConfig()
    config.gossip.traceEnabled = tracePath != nil || buildEvents
    config.gossip.announceInterval = nil
    config.rngSeed = 1
    let service = GossipService(identity: SigningKey(), config: config)
    var traceFile: NodeTraceFile?
    if let tracePath {
        do { traceFile = try NodeTraceFile(path: tracePath, loop: loop) } catch { throw BenchFailure("trace file: \(error)") }
    }
    // As `murmur node --trace` wires it: the shell's own events packed straight into the file.
    if let traceFile { service.traceFile = traceFile } else if buildEvents { service.traceSink = { _ in } }
    var now = Instant(nanoseconds: 1_000_000_000)
    let processStart = processCPUNanoseconds()
    func feed(_ event: ProtocolEvent) {
        now = now + TimeSpan(nanoseconds: 1_000)
        for effect in service.handle(event, now: now) {
            if case let .trace(e) = effect { traceFile?.append(e) }
        }
    }
    feed(.started(local: SigningKey().publicKey, listen: nil))
    let gossipType = GossipWire.messageType(for: .gossip), ihaveType = GossipWire.messageType(for: .ihave)
    // Rates per CPU-second of this thread (the node's loop): what tracing costs the hot path,
    // undisturbed by the other processes on a shared machine (the writer thread is not counted).
    var start = threadCPUNanoseconds()
    for payload in inputs.records { feed(.message(from: inputs.from, type: gossipType, payload: payload)) }
    let records = Double(inputs.records.count) / (Double(threadCPUNanoseconds() - start) / 1e9)
    start = threadCPUNanoseconds()
    for payload in inputs.ihaves { feed(.message(from: inputs.from, type: ihaveType, payload: payload)) }
    let ihaves = Double(inputs.ihaves.count) / (Double(threadCPUNanoseconds() - start) / 1e9)
    traceFile?.close() // writes what is still queued: its CPU time counts
    let process = Double(inputs.records.count + inputs.ihaves.count) / (Double(processCPUNanoseconds() - processStart) / 1e9)
    if let f = traceFile?.failed { throw BenchFailure("trace write: \(f)") }
    if !service.counters.recordsRefused.isEmpty { throw BenchFailure("the node refused bench records: \(service.counters.recordsRefused)") }
    return (records, ihaves, process, traceFile?.eventsWritten ?? 0)
}

private func threadCPUNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

// MARK: gossip state machines in the simulator

/// One seeded mesh simulation; returns simulator events handled per wall-clock second, per
/// CPU-second of the simulating thread and per CPU-second of the process (with the trace thread).
private func gossipRun(nodes: Int, tracePath: String?) -> (rates: Rates, messages: Int, lines: Int) {
    var c = SimConfig()
    c.nodes = nodes
    c.broadcasts = 400
    c.broadcastInterval = .milliseconds(20)
    c.seed = 7
    c.settle = .seconds(Int64(5))
    c.warmup = .seconds(Int64(5))
    c.trace = tracePath != nil
    let sink = tracePath.flatMap { FileTraceSink(path: $0) }
    let sim = Simulator(config: c, trace: sink)
    let start = Posix.monotonicNanoseconds(), startCPU = threadCPUNanoseconds(), startProcess = processCPUNanoseconds()
    let report = sim.run() // closes the sink: the trace is completely written
    let cpu = threadCPUNanoseconds() - startCPU, process = processCPUNanoseconds() - startProcess
    let seconds = Double(Posix.monotonicNanoseconds() - start) / 1e9
    // Messages handled: every simulator event but timers is a message, a link event or a dial;
    // the event count is the same with tracing off and on (same seed), so the ratio is exact.
    let e = Double(report.events)
    return (Rates(wall: e / seconds, mainCPU: e / (Double(cpu) / 1e9), processCPU: e / (Double(process) / 1e9)),
            report.events, sink?.eventsAppended ?? 0)
}

private func processCPUNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
