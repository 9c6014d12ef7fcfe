import XCTest
import Foundation
import MurmurCore
import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

/// Verified jobs on real `murmur node` processes on loopback (issue 6): a model published through
/// the CLI at one node and fetched by the others (`--serve all`), jobs submitted at every node with `murmur submit --wait`, each result checked offline
/// with `murmur verify`, and a tampered result rejected. Every wait has a deadline; every child
/// is killed and reaped when the test ends (and exits by itself if the test process dies).
final class JobsProcessTests: XCTestCase {
    static let nodeCount = 4
    /// `murmur infer Tests/Fixtures/models/mlp.onnx --input …mlp.input.json` gives this hash.
    static let mlpOutputHash = "7c0e92c8dd2f2b0f2585f6a584ad1cbab3a2cf553b991ae1f362da630de89c84"
    /// `murmur infer Tests/Fixtures/models/wide.onnx --input …wide.input.json` gives this hash.
    static let wideOutputHash = "b9f1911a7d25ded2f8b7b0d49d8fba20fa4298df605d67a7b2a44bd2e149e1fb"

    final class Proc {
        let process: ChildProcess
        private var partial: [UInt8] = []
        var lines: [String] = []
        init(_ exe: String, _ args: [String]) throws {
            process = try ChildProcess(executable: exe, arguments: args, discardStderr: true)
        }
        private func pump() -> Bool {
            guard let chunk = process.readStdout() else { return false }
            for b in chunk {
                if b == 0x0A { lines.append(String(decoding: partial, as: UTF8.self)); partial.removeAll() } else { partial.append(b) }
            }
            return !chunk.isEmpty
        }
        func waitForLine(seconds: Double, _ match: (String) -> Bool) -> String? {
            let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
            while true {
                if let l = lines.first(where: match) { return l }
                if Posix.monotonicNanoseconds() > deadline { return nil }
                if !pump() { usleep(5_000) }
            }
        }
        /// Runs to completion (killed after `seconds`): exit status and stdout lines.
        func finish(seconds: Double) -> Int32 {
            let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
            while Posix.monotonicNanoseconds() < deadline {
                _ = pump()
                if let s = process.reap() {
                    while pump() {}
                    return s
                }
                usleep(5_000)
            }
            process.kill()
            return process.reap(blocking: true) ?? -1
        }
    }


    static let fixtures: String = {
        var path = "\(#filePath)"
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path + "/Tests/Fixtures/models"
    }()

    func tempDir() throws -> String {
        var template = Array("/tmp/murmur-jobs-XXXXXX".utf8CString)
        let made = try XCTUnwrap(mkdtemp(&template))
        let path = String(cString: made)
        addTeardownBlock { _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", path]).reap(blocking: true) }
        return path
    }

    func run(_ exe: String, _ args: [String], seconds: Double = 60) throws -> (Int32, [String]) {
        let p = try Proc(exe, args)
        let status = p.finish(seconds: seconds)
        return (status, p.lines)
    }

    func testJobsSubmittedAtEveryNodeVerifyAndTamperedResultsAreRejected() throws {
        let exe = try murmurPath()
        let root = try tempDir()
        var nodes: [Proc] = []
        var controls: [String] = []
        var seed = ""
        for i in 0..<Self.nodeCount {
            var args = ["node", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--data", "\(root)/n\(i)",
                        "--gossip-fast", "--slots", "2", "--serve", "all", "--parent-pid", "\(getpid())"]
            if !seed.isEmpty { args += ["--join", seed] }
            let p = try Proc(exe, args)
            nodes.append(p)
            let listen = try XCTUnwrap(p.waitForLine(seconds: 15) { $0.hasPrefix("node ") }, "node \(i) did not start")
            if seed.isEmpty { seed = String(listen.split(separator: " ").last ?? "") }
            let control = try XCTUnwrap(p.waitForLine(seconds: 15) { $0.hasPrefix("control ") })
            controls.append(String(control.dropFirst("control ".count)))
        }
        // One node publishes the model; the others (--serve all) fetch it in chunks.
        let model = Self.fixtures + "/mlp.onnx"
        let (status, lines) = try run(exe, ["publish", model, "--node", controls[0]])
        XCTAssertEqual(status, 0, "publish: \(lines)")
        let words = try XCTUnwrap(lines.first { $0.hasPrefix("model ") }).split(separator: " ")
        let modelHash = String(words[1])
        // A file the engine cannot run is refused with the reason.
        let junk = root + "/junk.onnx"
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertEqual(try run(exe, ["publish", junk, "--node", controls[0]]).0, 1)

        // Wait until every node holds the verified model.
        let deadline = Posix.monotonicNanoseconds() + 30_000_000_000
        var ready = false
        while !ready && Posix.monotonicNanoseconds() < deadline {
            ready = controls.allSatisfy { c in
                guard let a = try? SocketAddress(parsing: c),
                      let r = try? ControlClient.request(a, path: "/v1/models", timeout: .seconds(Int64(2))),
                      let o = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
                      let models = o["models"] as? [[String: Any]] else { return false }
                return models.contains { $0["model_hash"] as? String == modelHash && $0["held"] as? Bool == true }
            }
            if !ready { usleep(200_000) }
        }
        XCTAssertTrue(ready, "the model was not replicated to every node")
        usleep(1_000_000) // announcements listing the model follow the manifest

        let input = Self.fixtures + "/mlp.input.json"
        for i in 0..<Self.nodeCount {
            let save = "\(root)/result\(i).json"
            let model = i % 2 == 0 ? "mlp" : modelHash
            let (status, lines) = try run(exe, ["submit", model, "--input", input, "--node", controls[i], "--redundancy", "3",
                                                "--quorum", "2", "--deadline-ms", "20000", "--wait", "--save", save], seconds: 40)
            XCTAssertEqual(status, 0, "job at node \(i): \(lines)")
            XCTAssertTrue(lines.contains { $0.hasPrefix("state verified") }, "\(lines)")
            XCTAssertTrue(lines.contains("output_hash \(Self.mlpOutputHash)"), "\(lines)")
            let (vstatus, vlines) = try run(exe, ["verify", save])
            XCTAssertEqual(vstatus, 0, "verify result of node \(i): \(vlines)")
            XCTAssertTrue(vlines.first?.contains("by 3 executors") == true, "\(vlines)")
        }

        // Inputs and outputs over the record's inline limits (48 KiB / 8 KiB): the job record names
        // the input by hash and the executors fetch it from the entry node; the attestations name
        // the output by hash and the answering node fetches it from an attester (Specs/node-jobs.md §7).
        let wide = Self.fixtures + "/wide.onnx"
        let (wstatus, wlines) = try run(exe, ["publish", wide, "--node", controls[1]])
        XCTAssertEqual(wstatus, 0, "publish wide: \(wlines)")
        XCTAssertGreaterThan(try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/wide.input.json")).count, 48 * 1024)
        usleep(1_500_000) // replication and announcements
        let wideSave = "\(root)/wide.json"
        let (jstatus, jlines) = try run(exe, ["submit", "wide", "--input", Self.fixtures + "/wide.input.json", "--node", controls[2],
                                              "--redundancy", "2", "--quorum", "2", "--deadline-ms", "20000", "--wait", "--save", wideSave], seconds: 40)
        XCTAssertEqual(jstatus, 0, "wide job: \(jlines)")
        XCTAssertTrue(jlines.contains("output_hash \(Self.wideOutputHash)"), "\(jlines)")
        let wideResult = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: wideSave))) as? [String: Any])
        XCTAssertGreaterThan((wideResult["output_bytes"] as? String)?.count ?? 0, 2 * 8192 * 4, "the fetched output (8192 floats and its header, hex) travels to the client; verify checks its hash")
        XCTAssertEqual(try run(exe, ["verify", wideSave]).0, 0)

        // Tampered results: a duplicated attestation, a forged signature, altered output bytes.
        let original = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/result0.json"))) as? [String: Any])
        var attestations = try XCTUnwrap(original["attestations"] as? [[String: Any]])
        XCTAssertEqual(attestations.count, 3)
        var duplicated = original
        attestations[1] = attestations[0]
        duplicated["attestations"] = attestations
        var forged = original
        var rows = try XCTUnwrap(original["attestations"] as? [[String: Any]])
        var record = try XCTUnwrap(rows[0]["record"] as? String)
        record = String(record.dropLast(2)) + (record.hasSuffix("00") ? "11" : "00")
        rows[0]["record"] = record
        forged["attestations"] = rows
        var altered = original
        let bytes = try XCTUnwrap(original["output_bytes"] as? String)
        altered["output_bytes"] = String(bytes.dropLast(2)) + (bytes.hasSuffix("00") ? "11" : "00")
        for (name, doc) in [("duplicated", duplicated), ("forged", forged), ("altered", altered)] {
            let path = "\(root)/\(name).json"
            try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: path))
            XCTAssertEqual(try run(exe, ["verify", path]).0, 1, "\(name) result accepted")
        }
        for n in nodes { n.process.kill(); _ = n.process.reap(blocking: true) }
    }

    /// `murmur demo` (8 nodes, the README's command): one node lies (`--lie`) and is outvoted in a
    /// dispute round and excluded by every honest node; an executor is killed with SIGKILL in the
    /// middle of a job and the mesh finishes the job anyway. The demo exits 0 only if all of that
    /// happened. Then `murmur trace` reads the 8 real trace files (issue 7): no bad lines, clocks
    /// estimated from send/recv pairs on loopback within a millisecond, the disputed job's
    /// record reaching every node through a tree, its timeline across all 8 nodes with the
    /// dispute and the verdict, and control messages in their own table.
    func testDemoCatchesTheLiarAndSurvivesAKilledExecutor() throws {
        let exe = try murmurPath()
        let demo = try Proc(exe, ["demo", "--nodes", "8", "--timeout", "50"])
        let status = demo.finish(seconds: 90)
        let text = demo.lines.joined(separator: "\n")
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(demo.lines.contains { $0.hasPrefix("liar node 7 caught") }, text)
        XCTAssertTrue(demo.lines.contains { $0.contains("killed executor") }, text)
        XCTAssertTrue(demo.lines.contains { $0.hasPrefix("demo OK") }, text)
        // The demo names the disputed job for `murmur trace --job`.
        let traces = try XCTUnwrap(demoTraceDirectory(demo.lines), text)
        defer { try? FileManager.default.removeItem(atPath: traces) }
        let readLine = try XCTUnwrap(demo.lines.first { $0.hasPrefix("read them: murmur trace \(traces)/*.jsonl --job ") && $0.hasSuffix("(the disputed job)") }, text)
        let disputed = String(try XCTUnwrap(readLine.split(separator: " ").first { $0.count == 64 }))

        let files = (0..<8).map { "\(traces)/node-\($0).jsonl" }
        for f in files { XCTAssertTrue(FileManager.default.fileExists(atPath: f), f) }
        let (rc, out) = try run(exe, ["trace"] + files + ["--job", disputed, "--record", disputed, "--json"])
        XCTAssertEqual(rc, 0, out.joined(separator: "\n"))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.joined(separator: "\n").utf8)) as? [String: Any])
        let input = try XCTUnwrap(report["input"] as? [String: Any])
        XCTAssertEqual(input["files"] as? Int, 8)
        XCTAssertEqual(input["errors"] as? Int, 0, "real node traces parse without errors")
        XCTAssertEqual(report["nodesWithEvents"] as? Int, 8)
        // Loopback clocks: the estimated offsets are tiny and their uncertainty is bounded.
        let clock = try XCTUnwrap(report["clock"] as? [String: Any])
        XCTAssertEqual(clock["components"] as? Int, 1, "every node linked to the reference through send/recv pairs")
        for n in try XCTUnwrap(clock["nodes"] as? [[String: Any]]) {
            let off = try XCTUnwrap(n["offsetNs"] as? Int), unc = try XCTUnwrap(n["uncertaintyNs"] as? Int)
            XCTAssertLessThan(abs(off), 5_000_000, "offset of \(n) on one host")
            XCTAssertLessThan(unc, 50_000_000, "uncertainty of \(n)")
        }
        // Every record kind of a jobs run was delivered; control messages are their own table.
        let kinds = try XCTUnwrap(report["kinds"] as? [[String: Any]])
        let delivered = Set(kinds.filter { ($0["deliveries"] as? Int ?? 0) > 0 }.compactMap { $0["kind"] as? String })
        for k in ["manifest", "announcement", "job", "claim", "attestation", "verdict"] {
            XCTAssertTrue(delivered.contains(k), "\(k) deliveries in \(delivered)")
        }
        let messages = Set(try XCTUnwrap(report["messages"] as? [[String: Any]]).compactMap { $0["kind"] as? String })
        XCTAssertTrue(messages.contains("ihave"), "\(messages)")
        XCTAssertTrue(delivered.isDisjoint(with: messages))
        // The disputed job's record reached all 8 nodes (the executor is killed later, in another job).
        let record = try XCTUnwrap(report["record"] as? [String: Any])
        XCTAssertEqual(record["kind"] as? String, "job")
        XCTAssertEqual(record["delivered"] as? Int, 8)
        let tree = try XCTUnwrap(record["tree"] as? [[String: Any]])
        XCTAssertEqual(tree.count, 8)
        XCTAssertEqual(tree.filter { $0["from"] == nil || $0["from"] is NSNull }.count, 1, "one root: the entry node")
        XCTAssertEqual((record["missing"] as? [Any])?.count ?? 0, 0)
        // Its timeline: submitted, executed and attested, disputed, verdict, across all 8 nodes.
        let job = try XCTUnwrap(report["job"] as? [String: Any])
        let timeline = try XCTUnwrap(job["timeline"] as? [[String: Any]])
        XCTAssertEqual(Set(timeline.compactMap { $0["node"] as? String }).count, 8)
        let evs = Set(timeline.compactMap { $0["ev"] as? String })
        for ev in ["job.claim", "job.execute", "job.attest", "job.disputed", "verdict"] {
            XCTAssertTrue(evs.contains(ev), "\(ev) in the disputed job's timeline: \(evs.sorted())")
        }
        let times = timeline.compactMap { $0["sinceStartNs"] as? Int }
        XCTAssertEqual(times, times.sorted(), "the timeline is in merged-clock order")
    }
}
