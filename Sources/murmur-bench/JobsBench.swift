// `murmur-bench jobs`: verified-job latency and throughput on a local mesh of `murmur node`
// processes (loopback, --gossip-fast), next to the same model run in-process (MurmurInference)
// in the same run. Reports the mesh overhead as a ratio.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MurmurCore
import MurmurInference
import MurmurNode

let jobsSuite = BenchSuite(
    name: "jobs",
    summary: "verified-job latency p50/p99 and throughput on 8 local nodes (r = 3, q = 2) vs the model in-process [--json] [--jobs N] [--no-keepalive] [--nodes N] [--clients N] [--model PATH]",
    run: runJobsBench
)

struct JobsBenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Shared counters for the throughput clients.
final class JobsTally: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private(set) var verified = 0
    private(set) var failed = 0
    let total: Int
    init(total: Int) { self.total = total }
    /// The next job number to submit, nil when all are taken.
    func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < total else { return nil }
        next += 1
        return next - 1
    }
    private(set) var latencies: [Double] = []
    func record(_ ok: Bool, ms: Double) {
        lock.lock(); defer { lock.unlock() }
        if ok { verified += 1 } else { failed += 1 }
        latencies.append(ms)
    }
}

/// One child node as the bench sees it.
final class BenchNode {
    let process: ChildProcess
    var address: String?
    var control: SocketAddress?
    private var partial: [UInt8] = []
    init(process: ChildProcess) { self.process = process }

    func readLines() {
        while let chunk = process.readStdout(), !chunk.isEmpty {
            for byte in chunk {
                if byte == 0x0A {
                    let parts = String(decoding: partial, as: UTF8.self).split(separator: " ").map(String.init)
                    if parts.count == 5, parts[0] == "node", parts[2] == "listening", parts[3] == "on" {
                        address = parts[4]
                    } else if parts.count == 2, parts[0] == "control" {
                        control = try? SocketAddress(parsing: parts[1])
                    }
                    partial.removeAll(keepingCapacity: true)
                } else if partial.count < 4096 {
                    partial.append(byte)
                }
            }
        }
    }
}

private func monoMs() -> Double { Double(Posix.monotonicNanoseconds()) / 1e6 }

/// One control request; (status, JSON object) or (0, [:]) on any failure.
private func jobsRequest(_ control: SocketAddress, _ method: String, _ path: String, _ body: [UInt8] = [],
                         seconds: Double = 10) -> (Int, [String: Any]) {
    guard let r = try? ControlClient.request(control, method: method, path: path, body: body, timeout: .seconds(seconds)),
          let o = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] else { return (0, [:]) }
    return (r.status, o)
}

private let verifiedMarker = Array("\"state\":\"verified\"".utf8)
private let jobIDMarker = Array("\"job_id\":\"".utf8)

/// One keep-alive HTTP/1.1 connection to a node's API, owned by one client thread (the node's
/// API server keeps connections open, so a job costs two requests, not two TCP handshakes).
/// Handles `Content-Length` responses only (every job route answers so); anything else, or
/// a reused connection that fails, is retried once on a fresh connection.
final class KeepAliveConnection {
    let address: SocketAddress
    /// false: a fresh connection per request (`--no-keepalive`, to compare).
    let reuse: Bool
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)

    init(_ address: SocketAddress, reuse: Bool = true) { self.address = address; self.reuse = reuse }
    deinit { close() }

    func close() {
        if fd >= 0 { Posix.close(fd); fd = -1 }
        buffer.removeAll(keepingCapacity: true)
    }

    /// (status, body), or nil after a failure on a fresh connection too.
    func request(_ method: String, _ path: String, _ body: [UInt8] = [], seconds: Double = 10) -> (Int, [UInt8])? {
        let reused = fd >= 0
        if let r = attempt(method, path, body, seconds: seconds) { return r }
        close()
        return reused ? attempt(method, path, body, seconds: seconds) : nil
    }

    private func attempt(_ method: String, _ path: String, _ body: [UInt8], seconds: Double) -> (Int, [UInt8])? {
        let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
        if fd < 0 {
            guard let s = try? Posix.tcpSocket(family: address.family) else { return nil }
            fd = s
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            guard let r = try? Posix.connect(fd, address) else { close(); return nil }
            if case .wouldBlock = r {
                guard wait(Int16(POLLOUT), deadline), (try? Posix.socketError(fd)) == 0 else { close(); return nil }
            }
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\n"
        if !reuse { head += "Connection: close\r\n" }
        if method == "POST" { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        let out = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < out.count {
            let r = out.withUnsafeBytes { b in try? Posix.send(fd, from: b.baseAddress! + sent, count: b.count - sent) }
            switch r {
            case .done(let n)?: sent += n
            case .wouldBlock?: guard wait(Int16(POLLOUT), deadline) else { return nil }
            case nil: return nil
            }
        }
        // The head.
        var headEnd: Int?
        while true {
            if let e = find(buffer, [0x0D, 0x0A, 0x0D, 0x0A]) { headEnd = e; break }
            guard buffer.count < 65536, fill(deadline) else { return nil }
        }
        guard let end = headEnd else { return nil }
        let headText = String(decoding: buffer[..<end], as: UTF8.self).lowercased()
        let lines = headText.split(separator: "\r\n")
        guard let first = lines.first, first.hasPrefix("http/1.1 "), let status = Int(first.dropFirst(9).prefix(3)) else { return nil }
        var length: Int?
        var closing = false
        for line in lines.dropFirst() {
            if line.hasPrefix("content-length:") { length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
            if line.hasPrefix("connection:") && line.contains("close") { closing = true }
        }
        guard let n = length, n >= 0, n <= ControlClient.maxResponseBytes else { return nil }
        let bodyStart = end + 4
        while buffer.count < bodyStart + n { guard fill(deadline) else { return nil } }
        let answer = Array(buffer[bodyStart..<(bodyStart + n)])
        buffer.removeFirst(bodyStart + n)
        if closing || !reuse { close() }
        return (status, answer)
    }

    private func fill(_ deadline: Int64) -> Bool {
        while true {
            let r = chunk.withUnsafeMutableBytes { b in try? Posix.read(fd, into: b.baseAddress!, count: b.count) }
            switch r {
            case .done(let n)? where n > 0: buffer.append(contentsOf: chunk[0..<n]); return true
            case .wouldBlock?: guard wait(Int16(POLLIN), deadline) else { return false }
            default: return false
            }
        }
    }

    private func wait(_ events: Int16, _ deadline: Int64) -> Bool {
        while true {
            let left = deadline - Posix.monotonicNanoseconds()
            if left <= 0 { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, Int32(min(left / 1_000_000 + 1, 1000)))
            if r > 0 { return true }
            if r < 0 && errno != EINTR { return false }
        }
    }
}

/// Submits one job and waits for its outcome; true when verified. The answers (a few KiB of
/// hex records for the job view) are only searched for the job id and the state: the client
/// shares the two cores with the nodes, and Foundation's JSON parser would cost more than the
/// answer is worth here.
private func runOneJob(_ connection: KeepAliveConnection, _ body: [UInt8]) -> Bool {
    guard let (s, accepted) = connection.request("POST", "/v1/jobs", body), s == 202,
          let at = find(accepted, jobIDMarker) else { return false }
    let idStart = at + jobIDMarker.count
    guard idStart + 64 <= accepted.count else { return false }
    let id = String(decoding: accepted[idStart..<(idStart + 64)], as: UTF8.self)
    guard let (g, view) = connection.request("GET", "/v1/jobs/\(id)?wait=20", seconds: 25), g == 200 else { return false }
    return find(view, verifiedMarker) != nil
}

/// The first index of `needle` in `haystack`.
private func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    let first = needle[0]
    return haystack.withUnsafeBufferPointer { h -> Int? in
        var i = 0
        while i <= h.count - needle.count {
            if h[i] == first && h[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// CPU time (user + system, ms) a process has used so far, from /proc/PID/stat (0 if unreadable).
/// On a shared machine wall-clock rates swing with the load; CPU per job does not.
private func cpuMs(_ pid: pid_t) -> Double {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
          let close = data.lastIndex(of: UInt8(ascii: ")")) else { return 0 }
    let fields = String(decoding: data[(close + 2)...], as: UTF8.self).split(separator: " ")
    // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based) → indices 11 and 12.
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
}

private func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let i = Int((p * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, i))]
}

private func fmt(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v) }

/// The repository root: up from the executable (`<repo>/.build/<config>/murmur-bench`), or the cwd.
private func repoModelPath() -> String? {
    var candidates = [FileManager.default.currentDirectoryPath]
    if var dir = currentExecutablePath() {
        while let slash = dir.lastIndex(of: "/") {
            dir = String(dir[..<slash])
            if dir.hasSuffix("/.build") { candidates.insert(String(dir.dropLast(7)), at: 0); break }
        }
    }
    for c in candidates where access(c + "/Tests/Fixtures/models/mlp.onnx", R_OK) == 0 { return c + "/Tests/Fixtures/models/mlp.onnx" }
    return nil
}

@Sendable func runJobsBench(_ argv: [String]) throws -> Int32 {
    signal(SIGPIPE, SIG_IGN)
    var json = false, keepAlive = true, jobs = 200, count = 8, clients = 16
    var modelPath: String?
    var i = 0
    func value() throws -> String {
        i += 1
        guard i < argv.count else { throw JobsBenchError("\(argv[i - 1]) needs a value") }
        return argv[i]
    }
    while i < argv.count {
        switch argv[i] {
        case "--json": json = true
        case "--no-keepalive": keepAlive = false
        case "--jobs": guard let v = Int(try value()), (1...100_000).contains(v) else { throw JobsBenchError("--jobs: 1...100000") }; jobs = v
        case "--nodes": guard let v = Int(try value()), (3...16).contains(v) else { throw JobsBenchError("--nodes: 3...16") }; count = v
        case "--clients": guard let v = Int(try value()), (1...256).contains(v) else { throw JobsBenchError("--clients: 1...256") }; clients = v
        case "--model": modelPath = try value()
        default: throw JobsBenchError("unknown argument '\(argv[i])'")
        }
        i += 1
    }
    guard let model = modelPath ?? repoModelPath() else {
        throw JobsBenchError("cannot find Tests/Fixtures/models/mlp.onnx (run from the repository or pass --model PATH)")
    }
    let inputPath = (model.hasSuffix(".onnx") ? String(model.dropLast(5)) : model) + ".input.json"
    guard let inputData = FileManager.default.contents(atPath: inputPath),
          let input = try? JSONSerialization.jsonObject(with: inputData) else {
        throw JobsBenchError("cannot read the model's input \(inputPath)")
    }
    guard let exe = currentExecutablePath(), let slash = exe.lastIndex(of: "/") else { throw JobsBenchError("cannot read /proc/self/exe") }
    let murmur = String(exe[..<slash]) + "/murmur"
    guard access(murmur, X_OK) == 0 else { throw JobsBenchError("\(murmur) not found: swift build -c release --product murmur") }

    // Reference first (no children running yet): the model in-process, one thread.
    let inproc = try measureInProcess(model: model, input: Array(inputData))

    var template = Array("/tmp/murmur-benchjobs-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw JobsBenchError("cannot create a temporary directory") }
    let root = String(cString: made)
    var nodes: [BenchNode] = []
    // Every exit path: stop the children, remove the data.
    defer {
        for n in nodes { n.process.terminate() }
        for n in nodes { _ = n.process.stop(grace: 3) }
        if let rm = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", root]) { _ = rm.reap(blocking: true) }
    }
    func poll(timeout: Double, every ms: UInt32 = 50, _ condition: () -> Bool) -> Bool {
        let end = monoMs() + timeout * 1000
        while !condition() {
            if monoMs() > end { return false }
            usleep(ms * 1000)
        }
        return true
    }
    let log: (String) -> Void = { if !json { writeLine($0) } }

    let t0 = monoMs()
    for k in 0..<count {
        var args = ["node", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--data", "\(root)/node\(k)",
                    "--gossip-fast", "--serve", "all", "--slots", "2", "--parent-pid", "\(getpid())"]
        if k > 0, let seed = nodes[0].address { args += ["--join", seed] }
        let node = BenchNode(process: try ChildProcess(executable: murmur, arguments: args, discardStderr: true))
        nodes.append(node)
        guard poll(timeout: 20, every: 10, { node.readLines(); return node.address != nil && node.control != nil }) else {
            throw JobsBenchError("node \(k) did not start")
        }
    }
    let controls = nodes.compactMap(\.control)
    guard controls.count == count else { throw JobsBenchError("missing control endpoints") }
    let formed = poll(timeout: 30, every: 100) {
        controls.allSatisfy { c in (jobsRequest(c, "GET", "/v1/status", seconds: 2).1["directory_size"] as? Int) == count }
    }
    guard formed else { throw JobsBenchError("the mesh did not form in 30 s") }
    log("mesh of \(count) nodes formed in \(fmt((monoMs() - t0) / 1000)) s")

    let publishBody = Array((try? JSONSerialization.data(withJSONObject: ["path": model, "name": "mlp"])) ?? Data())
    let (ps, published) = jobsRequest(controls[0], "POST", "/v1/models", publishBody, seconds: 60)
    guard ps == 201, let hash = published["model_hash"] as? String else { throw JobsBenchError("publishing the model failed (\(ps)): \(published)") }
    let replicated = poll(timeout: 60) {
        controls.allSatisfy { c in
            (jobsRequest(c, "GET", "/v1/models", seconds: 2).1["models"] as? [[String: Any]])?
                .contains { $0["model_hash"] as? String == hash && $0["held"] as? Bool == true } == true
        }
    }
    guard replicated else { throw JobsBenchError("the model did not reach every node in 60 s") }
    usleep(1_000_000) // announcements listing the model spread a moment after the fetch
    log("model \(hash.prefix(16))… held by all \(count) nodes")

    let jobBody = Array((try? JSONSerialization.data(withJSONObject: ["model": "mlp", "input": input, "redundancy": 3, "quorum": 2] as [String: Any])) ?? Data())
    // One keep-alive connection per node for the sequential part; one per node and thread below.
    let sequential = controls.map { KeepAliveConnection($0, reuse: keepAlive) }
    // Warm-up: one job per node, not counted.
    for c in sequential { _ = runOneJob(c, jobBody) }

    // (a) Sequential latency, round robin over the entry nodes.
    var latencies: [Double] = []
    var seqVerified = 0
    let seqStart = monoMs()
    for k in 0..<jobs {
        let s = monoMs()
        if runOneJob(sequential[k % count], jobBody) { seqVerified += 1 }
        latencies.append(monoMs() - s)
    }
    let seqWall = (monoMs() - seqStart) / 1000
    latencies.sort()

    // (b) Throughput: `clients` threads, each with one job in flight and a keep-alive connection per node.
    let tally = JobsTally(total: jobs)
    let reuse = keepAlive
    let group = DispatchGroup()
    let cpuBefore = nodes.map { cpuMs($0.process.pid) }.reduce(0, +), clientCpuBefore = cpuMs(getpid())
    let tpStart = monoMs()
    for _ in 0..<clients {
        group.enter()
        let thread = Thread {
            let connections = controls.map { KeepAliveConnection($0, reuse: reuse) }
            while let k = tally.take() {
                let s = monoMs()
                let ok = runOneJob(connections[k % connections.count], jobBody)
                tally.record(ok, ms: monoMs() - s)
            }
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    let tpWall = (monoMs() - tpStart) / 1000
    let perSecond = Double(tally.verified) / tpWall
    let loaded = tally.latencies.sorted()
    let nodeCpuPerJob = (nodes.map { cpuMs($0.process.pid) }.reduce(0, +) - cpuBefore) / Double(max(1, tally.verified))
    let clientCpuPerJob = (cpuMs(getpid()) - clientCpuBefore) / Double(max(1, tally.verified))

    let p50 = percentile(latencies, 0.5), p99 = percentile(latencies, 0.99)
    let overhead = inproc > 0 ? p50 / inproc : 0
    if json {
        let o: [String: Any] = [
            "suite": "jobs", "nodes": count, "redundancy": 3, "quorum": 2, "jobs": jobs, "clients": clients, "keepalive": keepAlive,
            "latency_ms_p50": p50, "latency_ms_p99": p99, "latency_ms_max": latencies.last ?? 0,
            "sequential_verified": seqVerified, "sequential_jobs_per_s": Double(jobs) / seqWall,
            "verified_jobs_per_s": perSecond, "throughput_verified": tally.verified, "throughput_failed": tally.failed,
            "throughput_wall_s": tpWall, "inprocess_ms": inproc, "overhead_ratio": overhead,
            "inprocess_jobs_per_s": inproc > 0 ? 1000 / inproc : 0,
            "throughput_latency_ms_p50": percentile(loaded, 0.5), "throughput_latency_ms_p99": percentile(loaded, 0.99),
            "throughput_latency_ms_max": loaded.last ?? 0,
            "node_cpu_ms_per_job": nodeCpuPerJob, "client_cpu_ms_per_job": clientCpuPerJob,
            "cpu_bound_jobs_per_s_2_cores": nodeCpuPerJob + clientCpuPerJob > 0 ? 2000 / (nodeCpuPerJob + clientCpuPerJob) : 0,
        ]
        let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        print("jobs on \(count) local nodes, r = 3, q = 2, model \(model)")
        print("  measure                               murmur mesh      in-process (1 thread)   ratio")
        print("  latency p50 (sequential, \(jobs) jobs)   \(fmt(p50, 2)) ms\(String(repeating: " ", count: max(1, 10 - fmt(p50, 2).count)))\(fmt(inproc, 3)) ms               \(fmt(overhead, 1))× overhead")
        print("  latency p99                           \(fmt(p99, 2)) ms")
        print("  sequential verified                   \(seqVerified)/\(jobs) (\(fmt(Double(jobs) / seqWall, 1)) jobs/s)")
        print("  latency under load ({clients} clients) p50 \(fmt(percentile(loaded, 0.5))) ms, p99 \(fmt(percentile(loaded, 0.99))) ms, max \(fmt(loaded.last ?? 0)) ms".replacingOccurrences(of: "{clients}", with: "\(clients)"))
        print("  CPU per verified job (throughput)     \(fmt(nodeCpuPerJob, 2)) ms in the \(count) nodes + \(fmt(clientCpuPerJob, 2)) ms in this client → at most \(fmt(2000 / max(0.001, nodeCpuPerJob + clientCpuPerJob), 0)) jobs/s on 2 idle cores")
        print("  throughput (\(clients) clients)             \(fmt(perSecond, 1)) verified jobs/s   \(fmt(inproc > 0 ? 1000 / inproc : 0, 0)) runs/s   (\(tally.verified) verified, \(tally.failed) failed, \(fmt(tpWall)) s)")
    }
    return seqVerified == jobs && tally.failed == 0 ? 0 : 1
}

/// Median ms of one in-process run of `model` on `input` (threads: 1), after a warm-up.
private func measureInProcess(model path: String, input: [UInt8]) throws -> Double {
    let model = try InferenceModel(path: path)
    let feeds = try InputJSON.parse(input, for: model.inputs)
    for _ in 0..<20 { _ = try model.run(feeds, threads: 1) }
    var times: [Double] = []
    for _ in 0..<200 {
        let s = monoMs()
        _ = try model.run(feeds, threads: 1)
        times.append(monoMs() - s)
    }
    times.sort()
    return percentile(times, 0.5)
}
