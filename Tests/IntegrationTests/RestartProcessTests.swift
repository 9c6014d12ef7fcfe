import XCTest
import Foundation
import MurmurCore
import MurmurCrypto
import MurmurNode
import MurmurStore
#if canImport(Glibc)
import Glibc
#endif

/// A node killed with SIGKILL comes back from its data dir (Specs/store.md, issue 6 "Durable"):
/// a job accepted with 202 just before the kill and one the node was executing when it died both
/// end verified after a restart with the same data dir; a job verified before the kill still
/// answers with its result; the model, the records and the reputation table are still known.
final class RestartProcessTests: XCTestCase {
    typealias Proc = JobsProcessTests.Proc

    func tempDir() throws -> String {
        var template = Array("/tmp/murmur-restart-XXXXXX".utf8CString)
        let path = String(cString: try XCTUnwrap(mkdtemp(&template)))
        addTeardownBlock { _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", path]).reap(blocking: true) }
        return path
    }

    func startNode(_ exe: String, data: String, extra: [String] = []) throws -> (Proc, SocketAddress) {
        let p = try Proc(exe, ["node", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--data", data, "--gossip-fast",
                               "--slots", "1", "--parent-pid", "\(getpid())"] + extra)
        addTeardownBlock { p.process.kill(); _ = p.process.reap(blocking: true) }
        _ = try XCTUnwrap(p.waitForLine(seconds: 15) { $0.hasPrefix("node ") }, "the node did not start")
        let line = try XCTUnwrap(p.waitForLine(seconds: 15) { $0.hasPrefix("control ") })
        return (p, try SocketAddress(parsing: String(line.dropFirst("control ".count))))
    }

    func get(_ control: SocketAddress, _ path: String, timeout: Int64 = 5) throws -> (Int, [String: Any]) {
        let r = try ControlClient.request(control, path: path, timeout: .seconds(timeout))
        return (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:])
    }

    /// `POST /v1/jobs` → the job id of the 202.
    func submit(_ control: SocketAddress, input: Any) throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["model": "mlp", "input": input, "redundancy": 1, "quorum": 1,
                                                               "deadline_ms": 30_000] as [String: Any])
        let r = try ControlClient.request(control, method: "POST", path: "/v1/jobs", body: Array(body))
        XCTAssertEqual(r.status, 202, String(decoding: r.body, as: UTF8.self))
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        return try XCTUnwrap(o["job_id"] as? String)
    }

    func testKilledNodeComesBackWithItsJobsRecordsModelAndReputation() throws {
        let exe = try murmurPath()
        let data = try tempDir() + "/node"
        let fixtures = JobsProcessTests.fixtures
        let input = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/mlp.input.json")))

        // First life: every inference waits 1.5 s, so the kill lands in the middle of one.
        var (node, control) = try startNode(exe, data: data, extra: ["--inference-delay-ms", "1500"])
        let published = try Proc(exe, ["publish", fixtures + "/mlp.onnx", "--node", "\(control)"])
        XCTAssertEqual(published.finish(seconds: 60), 0, "\(published.lines)")
        let done = try submit(control, input: input)
        let (_, first) = try get(control, "/v1/jobs/\(done)?wait=20", timeout: 25)
        XCTAssertEqual(first["state"] as? String, "verified", "\(first)")

        let executing = try submit(control, input: input)
        let deadline = Posix.monotonicNanoseconds() + 10_000_000_000
        while Posix.monotonicNanoseconds() < deadline, (try get(control, "/v1/jobs/\(executing)").1["state"] as? String) != "running" {
            usleep(20_000)
        }
        XCTAssertEqual(try get(control, "/v1/jobs/\(executing)").1["state"] as? String, "running")
        let accepted = try submit(control, input: input)
        node.process.kill() // SIGKILL right after the 202
        _ = node.process.reap(blocking: true)

        // The store is consistent after the kill; a proven liar is recorded in its reputation
        // table the way the jobs machine's `excluded` effect records one.
        let liar = SigningKey(seed: [UInt8](repeating: 0xEE, count: 32)).publicKey
        do {
            let store = try NodeStore(path: data + "/state.sqlite")
            XCTAssertNotNil(try store.record(id: try XCTUnwrap(Hash(hex: accepted))), "the 202'd job record is not in state.sqlite")
            try store.enqueue(exclusion: StoredExclusion(node: liar, evidence: Hash.of([1]), excludedAt: 1))
            try store.commit()
            store.close()
        }

        // Second life, same data dir, no delay.
        (node, control) = try startNode(exe, data: data)
        let (_, again) = try get(control, "/v1/jobs/\(done)")
        XCTAssertEqual(again["state"] as? String, "verified", "a job verified before the kill: \(again)")
        XCTAssertEqual(again["output_hash"] as? String, JobsProcessTests.mlpOutputHash)
        XCTAssertNotNil(again["output"] as? [String: Any], "the verified output is gone: \(again)")
        for (what, id) in [("executing", executing), ("accepted", accepted)] {
            let (status, view) = try get(control, "/v1/jobs/\(id)?wait=20", timeout: 25)
            XCTAssertEqual(status, 200)
            XCTAssertEqual(view["state"] as? String, "verified", "the \(what) job after the restart: \(view)")
            XCTAssertEqual(view["output_hash"] as? String, JobsProcessTests.mlpOutputHash, "\(what)")
        }
        let models = try XCTUnwrap(try get(control, "/v1/models").1["models"] as? [[String: Any]])
        XCTAssertTrue(models.contains { $0["name"] as? String == "mlp" && $0["held"] as? Bool == true }, "\(models)")
        let records = try XCTUnwrap(try get(control, "/v1/status").1["records"] as? [String: Int])
        XCTAssertGreaterThanOrEqual(records["job"] ?? 0, 3, "\(records)")
        XCTAssertGreaterThanOrEqual(records["manifest"] ?? 0, 1, "\(records)")
        XCTAssertGreaterThanOrEqual(records["attestation"] ?? 0, 3, "\(records)")
        // Reputation: `GET /v1/reputation` (control endpoint) or the status count (the API server).
        let (status, reputation) = try get(control, "/v1/reputation")
        if status == 200 {
            XCTAssertEqual(reputation["excluded"] as? [String], [liar.hex])
        } else {
            XCTAssertEqual(try get(control, "/v1/status").1["excluded_nodes"] as? Int, 1)
        }
    }

    /// A damaged `state.sqlite` never stops a node: it is moved aside and the node starts fresh.
    func testNodeStartsFreshWhenItsStateIsDamaged() throws {
        let exe = try murmurPath()
        let data = try tempDir() + "/node"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data(repeating: 0xA5, count: 20_000).write(to: URL(fileURLWithPath: data + "/state.sqlite"))
        let (node, control) = try startNode(exe, data: data)
        XCTAssertEqual(try get(control, "/v1/status").0, 200)
        let names = try FileManager.default.contentsOfDirectory(atPath: data)
        XCTAssertTrue(names.contains("state.sqlite"), "\(names)")
        XCTAssertTrue(names.contains { $0.hasPrefix("state.sqlite.corrupt-") }, "\(names)")
        node.process.kill()
        _ = node.process.reap(blocking: true)
    }
}
