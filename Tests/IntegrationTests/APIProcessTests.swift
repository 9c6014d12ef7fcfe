import XCTest
import Foundation
import MurmurCore
import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

/// The API of a real `murmur node --api` process (Specs/api.md): every route, keep-alive and
/// pipelining, 401 off loopback, `/metrics` parsed, a live trace stream that sees the activity
/// the test causes, and then schemathesis (PyPI) against the live node from its own
/// `GET /v1/openapi.json`: no 5xx, every status and body as documented, the node still answering
/// afterwards. Every wait has a deadline; the child is killed and reaped when the test ends.
final class APIProcessTests: XCTestCase {
    static let repo: String = {
        var path = "\(#filePath)"
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path
    }()

    /// `murmur infer Tests/Fixtures/models/mlp.onnx --input …mlp.input.json` gives this hash.
    static let mlpOutputHash = "7c0e92c8dd2f2b0f2585f6a584ad1cbab3a2cf553b991ae1f362da630de89c84"

    func tempDir() throws -> String {
        var template = Array("/tmp/murmur-api-XXXXXX".utf8CString)
        let made = try XCTUnwrap(mkdtemp(&template))
        let path = String(cString: made)
        addTeardownBlock { _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", path]).reap(blocking: true) }
        return path
    }

    /// Reads stdout lines of a child until one matches.
    func waitForLine(_ p: ChildProcess, seconds: Double, _ match: (String) -> Bool) -> String? {
        var partial: [UInt8] = []
        let deadline = Posix.monotonicNanoseconds() + Int64(seconds * 1e9)
        while Posix.monotonicNanoseconds() < deadline {
            guard let chunk = p.readStdout() else { return nil }
            if chunk.isEmpty { usleep(5_000); continue }
            for b in chunk {
                if b == 0x0A {
                    let line = String(decoding: partial, as: UTF8.self)
                    partial.removeAll()
                    if match(line) { return line }
                } else { partial.append(b) }
            }
        }
        return nil
    }

    func json(_ bytes: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    func call(_ a: SocketAddress, _ method: String, _ path: String, _ body: [UInt8] = [], token: String? = nil,
              seconds: Int64 = 10) throws -> (status: Int, body: [UInt8]) {
        try ControlClient.request(a, method: method, path: path, body: body, token: token, timeout: .seconds(seconds))
    }

    func testEveryRouteOfALiveNodeAndSchemathesisConformance() throws {
        let exe = try murmurPath()
        let root = try tempDir()
        // Bound to every address with a token: loopback clients need none, others do.
        let tokenFile = root + "/token"
        let token = "test-token-0123456789abcdef0123456789"
        XCTAssertTrue(FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]))
        let node = try ChildProcess(executable: exe, arguments: [
            "node", "--listen", "127.0.0.1:0", "--api", "0.0.0.0:0", "--api-token", tokenFile, "--data", root + "/data",
            "--gossip-fast", "--slots", "2", "--parent-pid", "\(getpid())",
        ], discardStderr: true)
        addTeardownBlock { node.kill(); _ = node.reap(blocking: true) }
        let apiLine = try XCTUnwrap(waitForLine(node, seconds: 20) { $0.hasPrefix("api ") }, "the node did not start its API")
        let port = try XCTUnwrap(apiLine.split(separator: ":").last.flatMap { UInt16($0) })
        let api = try SocketAddress(parsing: "127.0.0.1:\(port)")

        // A live trace subscriber, started before the activity it should see.
        final class Events: @unchecked Sendable {
            let lock = NSLock()
            var list: [(String, String)] = []
            var error: String?
            func snapshot() -> [(String, String)] { lock.lock(); defer { lock.unlock() }; return list }
        }
        let events = Events()
        let streamDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            do {
                try ControlClient.stream(api, path: "/v1/trace?kind=deliver,job.*", token: nil, idleTimeout: .seconds(Int64(30))) { e, d in
                    events.lock.lock(); defer { events.lock.unlock() }
                    events.list.append((e, d))
                    return !events.list.contains { $0.0 == "job.verified" }
                }
            } catch {
                events.lock.lock(); events.error = "\(error)"; events.lock.unlock()
            }
            streamDone.signal()
        }

        // Publish the sample model (loopback only), list it.
        let publish = try JSONSerialization.data(withJSONObject: ["path": Self.repo + "/Tests/Fixtures/models/mlp.onnx", "name": "mlp"])
        let published = try call(api, "POST", "/v1/models", Array(publish), seconds: 60)
        XCTAssertEqual(published.status, 201, String(decoding: published.body, as: UTF8.self))
        let modelHash = try XCTUnwrap(json(published.body)["model_hash"] as? String)
        let models = try call(api, "GET", "/v1/models")
        XCTAssertEqual(models.status, 200)
        let listed = (json(models.body)["models"] as? [[String: Any]]) ?? []
        XCTAssertTrue(listed.contains { $0["model_hash"] as? String == modelHash && $0["held"] as? Bool == true }, "\(listed)")

        // Submit a job (r = q = 1: this node alone runs it) and wait for the verified result.
        let input = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.repo + "/Tests/Fixtures/models/mlp.input.json"))))
        let job = try JSONSerialization.data(withJSONObject: ["model": "mlp", "input": input, "redundancy": 1, "quorum": 1, "deadline_ms": 20000] as [String: Any])
        let accepted = try call(api, "POST", "/v1/jobs", Array(job))
        XCTAssertEqual(accepted.status, 202, String(decoding: accepted.body, as: UTF8.self))
        let jobID = try XCTUnwrap(json(accepted.body)["job_id"] as? String)
        let result = try call(api, "GET", "/v1/jobs/\(jobID)?wait=20", seconds: 25)
        XCTAssertEqual(result.status, 200)
        let view = json(result.body)
        XCTAssertEqual(view["state"] as? String, "verified", "\(view)")
        XCTAssertEqual(view["output_hash"] as? String, Self.mlpOutputHash)
        XCTAssertEqual((view["attestations"] as? [Any])?.count, 1)

        // The other routes.
        let status = try call(api, "GET", "/v1/status")
        XCTAssertEqual(status.status, 200)
        let s = json(status.body)
        XCTAssertEqual(s["models_held"] as? Int, 1)
        XCTAssertEqual((s["jobs"] as? [String: Int])?["verified"], 1)
        XCTAssertNotNil(try? MeshStatus.decode(status.body), "murmur status reads the same answer")
        let peers = json(try call(api, "GET", "/v1/peers").body)
        for key in ["peers", "active_view", "passive_view", "links"] { XCTAssertNotNil(peers[key] as? [Any], key) }
        XCTAssertEqual(json(try call(api, "GET", "/v1/reputation").body)["excluded"] as? [String], [])
        let records = try call(api, "POST", "/v1/debug/records?count=2")
        XCTAssertEqual((json(records.body)["published"] as? [String])?.count, 2)
        let openapi = json(try call(api, "GET", "/v1/openapi.json").body)
        XCTAssertEqual(openapi["openapi"] as? String, "3.1.0")

        // /metrics: every sample line parses; the job and the inference are counted.
        let metrics = String(decoding: try call(api, "GET", "/metrics").body, as: UTF8.self)
        var samples: [String: Double] = [:]
        for line in metrics.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            XCTAssertEqual(parts.count, 2, "metric line '\(line)'")
            let value = Double(parts.last.map(String.init) ?? "") ?? (parts.last == "+Inf" ? .infinity : .nan)
            XCTAssertFalse(value.isNaN, "metric line '\(line)'")
            samples[String(parts[0])] = value
        }
        XCTAssertEqual(samples["murmur_jobs{state=\"verified\"}"], 1)
        XCTAssertEqual(samples["murmur_inference_seconds_count"], 1)
        XCTAssertEqual(samples["murmur_records{kind=\"manifest\"}"], 1)
        XCTAssertNotNil(samples["murmur_handshake_failures_total{reason=\"failed\"}"])

        // Errors are JSON with a code.
        for (method, path, body, code) in [("GET", "/v1/nope", "", 404), ("DELETE", "/v1/jobs", "", 405), ("POST", "/v1/jobs", "{", 400),
                                           ("GET", "/v1/jobs/" + String(repeating: "0", count: 64), "", 404),
                                           ("POST", "/v1/jobs", #"{"model": "nope", "input": {"X": [1]}}"#, 404),
                                           ("POST", "/v1/models", #"{"path": "/dev/null"}"#, 422)] {
            let r = try call(api, method, path, Array(body.utf8))
            XCTAssertEqual(r.status, code, "\(method) \(path)")
            XCTAssertNotNil((json(r.body)["error"] as? [String: Any])?["code"] as? String, "\(method) \(path)")
        }

        // Keep-alive: three pipelined requests on one connection, answered in order.
        let raw = RawHTTP.exchange(api, "GET /v1/reputation HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n"
                                   + "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(RawHTTP.statuses(raw), [200, 404, 200])

        // Off loopback the bearer token is required.
        if let external = RawHTTP.nonLoopbackIPv4() {
            let outside = try SocketAddress(parsing: "\(external):\(port)")
            XCTAssertEqual(try call(outside, "GET", "/v1/status").status, 401)
            XCTAssertEqual(try call(outside, "GET", "/v1/status", token: "wrong-wrong-wrong-wrong").status, 401)
            XCTAssertEqual(try call(outside, "GET", "/v1/status", token: token).status, 200)
            XCTAssertEqual(try call(outside, "POST", "/v1/models", Array(publish), token: token).status, 403, "publishing stays local")
        }

        // The live stream saw the activity: the manifest and job deliveries and the verification.
        XCTAssertEqual(streamDone.wait(timeout: .now() + 20), .success, "the live trace stream did not see job.verified")
        let seen = events.snapshot()
        XCTAssertNil(events.error)
        XCTAssertEqual(seen.first?.0, "hello")
        XCTAssertTrue(seen.contains { $0.0 == "deliver" && $0.1.contains("\"kind\":\"manifest\"") }, "\(seen.map(\.0))")
        XCTAssertTrue(seen.contains { $0.0 == "job.verified" && $0.1.contains(jobID) }, "\(seen.map(\.0))")
        let line = json(Array((seen.first { $0.0 == "deliver" }?.1 ?? "").utf8))
        XCTAssertEqual(line["v"] as? Int, 1)
        XCTAssertEqual(line["ev"] as? String, "deliver")

        // The CLI: `murmur trace --follow` prints the trace lines of a running node.
        let follow = try ChildProcess(executable: exe, arguments: ["trace", "--follow", "--node", "127.0.0.1:\(port)",
                                                                     "--kind", "deliver", "--count", "1"], discardStderr: true)
        addTeardownBlock { follow.kill(); _ = follow.reap(blocking: true) }
        let subscribed = Posix.monotonicNanoseconds() + 10_000_000_000
        while Posix.monotonicNanoseconds() < subscribed {
            let m = String(decoding: try call(api, "GET", "/metrics").body, as: UTF8.self)
            if m.contains("murmur_trace_subscribers 1") { break }
            usleep(20_000)
        }
        let debugRecord = try call(api, "POST", "/v1/debug/records?count=1")
        let recordID = try XCTUnwrap((json(debugRecord.body)["published"] as? [String])?.first)
        let printed = try XCTUnwrap(waitForLine(follow, seconds: 10) { $0.hasPrefix("{") }, "murmur trace --follow printed nothing")
        XCTAssertEqual(json(Array(printed.utf8))["id"] as? String, recordID)
        var exited: Int32?
        for _ in 0..<200 where exited == nil { exited = follow.reap(); usleep(10_000) }
        XCTAssertEqual(exited, 0, "--count 1 ends the command")

        try runSchemathesis(port: port)
        // Still alive and answering after the fuzzing.
        XCTAssertEqual(try call(api, "GET", "/v1/status").status, 200)
        XCTAssertNil(node.reap(), "the node exited during the test")
    }

    /// schemathesis against the live node, from the document it serves. Skips without
    /// schemathesis unless MURMUR_REQUIRE_SCHEMATHESIS=1 (CI), where that is a failure.
    func runSchemathesis(port: UInt16) throws {
        let required = ProcessInfo.processInfo.environment["MURMUR_REQUIRE_SCHEMATHESIS"] == "1"
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
            + [NSHomeDirectory() + "/.local/bin"]
        guard let tool = paths.map({ $0 + "/schemathesis" }).first(where: { access($0, X_OK) == 0 }) else {
            let why = "schemathesis is not installed (pip install schemathesis; ./bootstrap does it)"
            if required { XCTFail(why + " and MURMUR_REQUIRE_SCHEMATHESIS=1"); return }
            throw XCTSkip(why)
        }
        let base = "http://127.0.0.1:\(port)"
        // The node's own document, with `?wait=` capped at 2 s so that a parked request ends
        // well within the 5 s request timeout (a longer wait is not a hang).
        let served = try ControlClient.request(try SocketAddress(parsing: "127.0.0.1:\(port)"), path: "/v1/openapi.json", token: nil)
        XCTAssertEqual(served.status, 200)
        var doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(served.body)) as? [String: Any])
        var routes = try XCTUnwrap(doc["paths"] as? [String: Any])
        var getJob = try XCTUnwrap((routes["/v1/jobs/{id}"] as? [String: Any])?["get"] as? [String: Any])
        var parameters = try XCTUnwrap(getJob["parameters"] as? [[String: Any]])
        for i in parameters.indices where parameters[i]["name"] as? String == "wait" {
            parameters[i]["schema"] = ["type": "number", "minimum": 0, "maximum": 2]
        }
        getJob["parameters"] = parameters
        routes["/v1/jobs/{id}"] = ["get": getJob]
        doc["paths"] = routes
        let docPath = NSTemporaryDirectory() + "murmur-openapi-\(getpid())-\(port).json"
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: docPath))
        defer { try? FileManager.default.removeItem(atPath: docPath) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        // Its cache (.schemathesis/) goes to a temporary directory, not the repository.
        p.currentDirectoryURL = URL(fileURLWithPath: NSTemporaryDirectory())
        p.arguments = ["run", docPath, "--url", base, "--max-examples", "10", "--request-timeout", "5",
                       "--exclude-path", "/v1/trace", "--seed", "1", "--no-color",
                       "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"]
        var env = ProcessInfo.processInfo.environment
        env["SCHEMATHESIS_HOOKS"] = nil
        p.environment = env
        // Output to a file (a full pipe would stall it); kill it if it hangs.
        let logPath = NSTemporaryDirectory() + "murmur-schemathesis-\(getpid())-\(port).log"
        XCTAssertTrue(FileManager.default.createFile(atPath: logPath, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        p.standardOutput = log
        p.standardError = log
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(100_000) }
        if p.isRunning { p.terminate(); XCTFail("schemathesis did not finish in 120 s (a hang?)") }
        p.waitUntilExit()
        try? log.close()
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let summary = output.split(separator: "\n").filter { $0.contains(" generated, ") }
        print("schemathesis: \(summary.suffix(3).joined(separator: " | "))")
        XCTAssertEqual(p.terminationStatus, 0, "schemathesis found problems:\n\(output.suffix(6000))")
    }
}

/// Blocking raw-socket helpers.
enum RawHTTP {
    static func exchange(_ address: SocketAddress, _ text: String) -> [UInt8] {
        guard let fd = try? Posix.tcpSocket(family: address.family) else { return [] }
        defer { Posix.close(fd) }
        _ = try? Posix.connect(fd, address)
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&p, 1, 2000)
        let bytes = Array(text.utf8)
        var sent = 0
        let deadline = Posix.monotonicNanoseconds() + 5_000_000_000
        while sent < bytes.count && Posix.monotonicNanoseconds() < deadline {
            if case .done(let n)? = try? bytes.withUnsafeBytes({ try Posix.send(fd, from: $0.baseAddress! + sent, count: $0.count - sent) }) {
                sent += n
            } else { usleep(1000) }
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while Posix.monotonicNanoseconds() < deadline {
            let r = chunk.withUnsafeMutableBytes { try? Posix.read(fd, into: $0.baseAddress!, count: $0.count) }
            if case .done(let n)? = r { if n == 0 { break }; answer += chunk[0..<n] } else if r == nil { break } else { usleep(1000) }
        }
        return answer
    }

    static func statuses(_ bytes: [UInt8]) -> [Int] {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
    }

    static func nonLoopbackIPv4() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let a = p {
            defer { p = a.pointee.ifa_next }
            guard let sa = a.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            let b = withUnsafeBytes(of: addr) { Array($0) }
            if b[0] == 127 || b[0] == 0 { continue }
            return b.map(String.init).joined(separator: ".")
        }
        return nil
    }
}
