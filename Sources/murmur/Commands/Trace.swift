#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MurmurCore
import MurmurTrace

let traceCommand = Command(
    name: "trace",
    summary: "merge and explain trace files (propagation trees, coverage, links, jobs; HTML, Chrome)",
    usage: """
    usage: murmur trace FILE|DIR… [--record ID] [--job ID] [--json] [--html OUT.html] [--chrome OUT.json]
                                 [--clock estimate|raw] [--timing]
           murmur trace --follow --node HOST:PORT [--kind KIND,…] [--count N]
           murmur trace --generate OUT [--nodes N] [--degree D] [--records R | --target-mb MB] [--files K]
                                 [--skew-ms MS] [--jobs J] [--seed S]

    Reads JSON Lines traces (Specs/trace.md) from any number of nodes (a directory means every
    file in it), puts them on one time line and reports:
      summary       per record kind: deliveries, duplicate ratio, graft rate, latency percentiles,
                    time to 90/100 % of nodes; per link: frames and bytes both ways; per node: drops
    --record ID   propagation tree of one record (full hex or unique prefix), time to reach
                  50/90/99/100 % of the nodes that delivered it, nodes that never did and the last
                  event each saw
    --job ID      timeline of a job's events across nodes
    --json        everything above as JSON (keys in Specs/trace.md) instead of text
    --html OUT    a self-contained page: propagation tree and coverage curve per record,
                  node × time swimlane, job timelines
    --chrome OUT  Chrome trace-event JSON (open in https://ui.perfetto.dev or chrome://tracing)
    --clock MODE  estimate (default): clock offsets between nodes from send/recv pairs;
                  raw: use times as written (simulator traces share one clock)
    --timing      print read/analysis throughput to standard error
    --generate    write a synthetic flood trace with known answers (tests, throughput runs)

    Bad lines (truncated, unknown values, newer major version) are skipped, counted and shown.
    --follow      stream a running node's events as they happen (GET /v1/trace on its --api
                  address given with --node), one trace line each on stdout; --kind keeps only
                  these kinds (send,deliver,job.* …); --count stops after N events
    """,
    run: runTrace
)

@Sendable func runTrace(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, command: "trace", booleans: ["--json", "--timing", "--follow"],
                             valued: ["--node", "--kind", "--count", "--record", "--job", "--html", "--chrome", "--clock", "--generate", "--nodes",
                                      "--degree", "--records", "--target-mb", "--files", "--skew-ms", "--jobs", "--seed"])
    if args.has("--follow") { return try followTrace(args) }
    if let out = args.value("--generate") { return try generateTrace(out, args) }
    guard !args.positionals.isEmpty else { throw UsageError("trace: give one or more trace files or directories (see murmur trace --help)") }
    let clock: ClockMode
    switch args.value("--clock") ?? "estimate" {
    case "estimate": clock = .estimate
    case "raw": clock = .raw
    case let other: throw UsageError("trace: --clock must be 'estimate' or 'raw', got '\(other)'")
    }
    let wantExport = args.value("--html") != nil || args.value("--chrome") != nil
    let options = AnalysisOptions(record: args.value("--record"), job: args.value("--job"), clock: clock,
                                  keepEventsForExport: wantExport)
    let analyzer: TraceAnalyzer
    do { analyzer = try TraceAnalyzer(options: options) } catch { throw UsageError("trace: \(error)") }

    let files = try expandInputs(args.positionals)
    let t0 = monotonicSeconds()
    for f in files {
        do { try analyzer.add(path: f) } catch { throw CommandFailure("trace: \(error)") }
    }
    let t1 = monotonicSeconds()
    let report: TraceReport
    do { report = try analyzer.report() } catch { throw CommandFailure("trace: \(error)") }
    let t2 = monotonicSeconds()
    if args.has("--timing") {
        // CPU time is the honest figure on a shared machine (the run is single-threaded);
        // wall time is printed too.
        let mb = Double(analyzer.reader.stats.bytes) / 1e6
        let cpu = cpuSeconds()
        printError("trace timing: \(fmt(mb)) MB, \(analyzer.reader.stats.events) events, \(report.nodes) nodes, \(report.records) records; "
                   + "read+merge+analysis \(fmt(cpu)) s CPU = \(fmt(mb / max(cpu, 1e-9))) MB/s per core; "
                   + "wall \(fmt(t2 - t0)) s = \(fmt(mb / max(t2 - t0, 1e-9))) MB/s (analysis after reading \(fmt(t2 - t1)) s wall)")
    }
    if wantExport {
        let export = analyzer.exportData(report: report)
        if let html = args.value("--html") { try writeFile(html, TraceHTML.render(report: report, export: export)) }
        if let chrome = args.value("--chrome") { try writeFile(chrome, ChromeTrace.render(report: report, export: export)) }
    }
    if args.has("--json") {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try enc.encode(report)
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(TraceText.render(report), terminator: "")
        if let h = args.value("--html") { print("wrote \(h)") }
        if let c = args.value("--chrome") { print("wrote \(c) (open in https://ui.perfetto.dev)") }
    }
    return 0
}

private func expandInputs(_ paths: [String]) throws -> [String] {
    var out: [String] = []
    for p in paths {
        var isDir: ObjCBool = false
        guard p == "-" || FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
            throw CommandFailure("trace: no such file or directory: \(p)")
        }
        if isDir.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []
            let files = names.filter { $0.contains(".jsonl") || $0.hasSuffix(".trace") }.sorted().map { "\(p)/\($0)" }
            if files.isEmpty { throw CommandFailure("trace: no *.jsonl files in \(p)") }
            out += files
        } else {
            out.append(p)
        }
    }
    return out
}

private func writeFile(_ path: String, _ text: String) throws {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
        throw CommandFailure("trace: cannot write \(path): \(error.localizedDescription)")
    }
}

private func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// User + system CPU time of this process (the run is single-threaded), robust on a shared machine.
private func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

private func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

private func generateTrace(_ out: String, _ args: Arguments) throws -> Int32 {
    let nodes = try args.int("--nodes", default: 100, range: 2...1_000_000)
    let degree = try args.int("--degree", default: 6, range: 1...64)
    let files = try args.int("--files", default: 1, range: 1...1024)
    var config = SyntheticTrace.Config(nodes: nodes, topology: .randomMesh(degree: degree))
    config.seed = try args.uint64("--seed", default: 1)
    config.maxSkewNs = Int64(try args.int("--skew-ms", default: 0, range: 0...86_400_000)) * 1_000_000
    config.jobs = try args.int("--jobs", default: 3, range: 0...100_000)
    var records = try args.int("--records", default: 10, range: 1...10_000_000)
    if let mb = args.value("--target-mb") {
        guard let target = Double(mb), target > 0 else { throw UsageError("trace: --target-mb must be a positive number") }
        // Size of one record's flood, then enough records to reach the target.
        var probe = config; probe.records = 1; probe.jobs = 0
        var bytes = 0
        var buf: [UInt8] = []
        SyntheticTrace(probe).generate { e in buf.removeAll(keepingCapacity: true); TraceEncoder.append(e, seq: 1, to: &buf); bytes += buf.count }
        records = max(1, Int((target * 1e6 / Double(max(bytes, 1))).rounded(.up)))
    }
    config.records = records
    let sim = SyntheticTrace(config)
    var index: [NodeID: Int] = [:]
    for (i, n) in sim.nodeIDs.enumerated() { index[n] = i }
    var writers: [TraceWriter] = []
    for k in 0..<files {
        let path = files == 1 ? out : "\(out).\(k).jsonl"
        unlink(path)
        writers.append(try TraceWriter(path: path, maxFileBytes: Int.max / 2, bufferBytes: 1 << 20, wallClock: nil))
    }
    // With --timing: the same run without writing, so the writer's own cost can be shown.
    var dryCPU = 0.0
    if args.has("--timing") {
        let c0 = cpuSeconds()
        var count = 0
        sim.generate { e in if index[e.node] != nil { count += 1 } }
        dryCPU = cpuSeconds() - c0
    }
    let c1 = cpuSeconds()
    var failure: Error? = nil
    sim.generate { e in
        guard failure == nil else { return }
        do { try writers[(index[e.node] ?? 0) % files].append(e) } catch { failure = error }
    }
    for w in writers { do { try w.flush() } catch { failure = error } }
    if let failure { throw CommandFailure("trace: \(failure)") }
    let events = writers.reduce(Int64(0)) { $0 + $1.eventsWritten }
    if args.has("--timing") {
        let writerCPU = max(0, cpuSeconds() - c1 - dryCPU)
        var bytes: Int64 = 0
        for k in 0..<files {
            var st = stat()
            if stat(files == 1 ? out : "\(out).\(k).jsonl", &st) == 0 { bytes += Int64(st.st_size) }
        }
        printError("trace timing: TraceWriter encoded and wrote \(events) events (\(fmt(Double(bytes) / 1e6)) MB) in \(fmt(writerCPU)) s CPU "
                   + "= \(fmt(writerCPU * 1e9 / Double(max(events, 1)))) ns per event, \(fmt(Double(bytes) / 1e6 / max(writerCPU, 1e-9))) MB/s "
                   + "(simulation alone: \(fmt(dryCPU)) s)")
    }
    print("wrote \(events) events (\(nodes) nodes, \(records) records, \(config.jobs) jobs) to \(files == 1 ? out : "\(out).*.jsonl")")
    return 0
}
