#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
import MurmurCore
import MurmurCrypto
import MurmurHTTP
import MurmurWire
@testable import MurmurJobs
@testable import MurmurAPI

/// The HTTP pieces behind a real socket, driven by curl: a blocking test server (a thread per
/// connection) runs `HTTPServerConnection` + `APIFrontDoor` + the route logic over
/// fixed sample data. With `MURMUR_API_STUB_SECONDS=N` (and optionally `MURMUR_API_STUB_PORT`)
/// `testServeForExternalTools` keeps it up so schemathesis can be pointed at it:
/// `schemathesis run --url http://127.0.0.1:PORT Specs/api.yaml`.
final class LoopbackAPITests: XCTestCase {
    func curl(_ args: [String]) throws -> (status: Int, body: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    func testCurlAgainstTheAPIOverLoopback() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { throw XCTSkip("no curl") }
        let server = try StubAPIServer(port: 0)
        server.start(connections: 7)
        let base = "http://127.0.0.1:\(server.port)"

        let status = try curl([base + "/v1/status"])
        XCTAssertEqual(status.status, 200)
        XCTAssertEqual(try JSONParser.parse(Array(status.body.utf8))["version"], "0.1.0")

        // A body over 1 KiB makes curl send Expect: 100-continue.
        let big = "[" + Array(repeating: "0.5", count: 400).joined(separator: ",") + "]"
        let submit = try curl(["-X", "POST", base + "/v1/jobs", "-H", "Content-Type: application/json",
                               "-d", #"{"model": "mlp", "input": {"x": \#(big)}}"#])
        XCTAssertEqual(submit.status, 202, submit.body)
        let jobID = try XCTUnwrap(try JSONParser.parse(Array(submit.body.utf8))["job_id"]?.stringValue)

        let job = try curl([base + "/v1/jobs/\(jobID)?wait=1"])
        XCTAssertEqual(job.status, 200)
        XCTAssertEqual(try JSONParser.parse(Array(job.body.utf8))["state"], "verified")

        XCTAssertEqual(try curl(["-X", "POST", base + "/v1/jobs", "-H", "Content-Type: application/json", "-d", "{"]).status, 400)
        XCTAssertEqual(try curl([base + "/v1/nope"]).status, 404)
        XCTAssertEqual(try curl(["-X", "DELETE", base + "/v1/jobs"]).status, 405)
        let metrics = try curl([base + "/metrics"])
        XCTAssertTrue(metrics.body.contains("# TYPE murmur_jobs gauge"))
        server.stop()
    }

    func testServeForExternalTools() throws {
        guard let seconds = ProcessInfo.processInfo.environment["MURMUR_API_STUB_SECONDS"].flatMap(Double.init) else { return }
        let port = ProcessInfo.processInfo.environment["MURMUR_API_STUB_PORT"].flatMap(UInt16.init) ?? 7480
        let server = try StubAPIServer(port: port)
        server.start(connections: Int.max)
        print("stub API on http://127.0.0.1:\(server.port) for \(seconds) s")
        Thread.sleep(forTimeInterval: seconds)
        server.stop()
    }
}

/// Sample data and the route handlers a node would run, minus the node.
enum StubAPI {
    static let t0: Int64 = 1_780_000_000_000
    static let client = SigningKey(seed: [UInt8](repeating: 0x22, count: 32))

    struct Fixture: Sendable {
        let manifest: Signed<ModelManifest>
        let job: Signed<Job>
        let result: JobResult
    }

    static let fixture: Fixture? = {
        let executors = (1...3).map { SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
        let model: [UInt8] = Array(0..<200)
        guard let manifest = try? ModelManifest(describing: model, name: "mlp", modelVersion: "1", chunkSize: 4096,
                                                inputs: [TensorSpec(name: "x", dtype: .float32, shape: [-1, 4])],
                                                outputs: [TensorSpec(name: "y", dtype: .float32, shape: [-1, 2])])
                .signed(by: client, issuedAt: t0, expiresAt: t0 + 86_400_000),
              let job = try? Job(modelHash: Hash.of(model), input: Array(0..<16), redundancy: 3, quorum: 2, deadline: t0 + 30_000,
                                 nonce: [UInt8](repeating: 7, count: 16)).signed(by: client, issuedAt: t0, expiresAt: t0 + 40_000) else { return nil }
        var w = ByteWriter()
        w.raw(Array("murmur-outputs-v1".utf8)); w.u32(1); w.bytes32(Array("y".utf8)); w.u8(1); w.u32(2); w.u64(1); w.u64(2)
        for v: Float in [0.25, -1.5] { withUnsafeBytes(of: v.bitPattern.littleEndian) { w.raw(Array($0)) } }
        let output = w.bytes
        let atts = executors.compactMap { key in
            try? Attestation(job: job, output: output, engineVersion: "0.1.0", elapsedMicros: 250, stage: 0)
                .signed(by: key, issuedAt: t0 + 300, expiresAt: t0 + 300 + 3_600_000)
        }
        return Fixture(manifest: manifest, job: job, result: JobResult(outputHash: Hash.of(output), attestations: atts, disputed: false))
    }()

    static func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard let f = fixture else { return .error(.internalServerError, code: "fixture", message: "fixture failed") }
        switch APIFrontDoor.route(request, token: nil) {
        case let .respond(r): return r
        case let .handle(route, parameters):
            do throws(APIError) {
                switch route {
                case .submitJob:
                    let s = try JobSubmission.parse(request)
                    _ = try s.model.resolve(in: [f.manifest])
                    return JobSubmission.accepted(f.job)
                case .getJob:
                    let id = try JobView.jobID(parameters["id"] ?? "")
                    _ = try JobView.waitSeconds(request.queryString)
                    guard id == f.job.id else { throw APIError.notFound("no job \(id.hex) on this node") }
                    return JobView.response(jobID: id, job: f.job, state: .verified(f.result))
                case .models:
                    return APIViews.models([ModelListing(manifest: f.manifest, chunksVerified: 1, held: true, holders: 3)])
                case .peers:
                    return APIViews.peers([PeerListing(node: client.publicKey, address: "127.0.0.1:7001", connected: true, lastSeen: t0)])
                case .status:
                    return APIViews.status(NodeStatus(node: client.publicKey, version: "0.1.0", uptimeSeconds: 1, addresses: ["127.0.0.1:7000"],
                                                      peersConnected: 1, modelsHeld: 1, freeSlots: 4, totalSlots: 4,
                                                      jobsByState: ["verified": 1], recordsByKind: ["job": 1], excludedNodes: 0))
                case .metrics:
                    var p = PrometheusText()
                    p.sample("murmur_jobs", .gauge, help: "Jobs by state.", labels: [("state", "verified")], value: 1)
                    return p.response
                case .reputation:
                    return .json(.ok, ["excluded": []])
                case .debugRecords:
                    return .json(.ok, ["published": []])
                case .publishModel:
                    return APIError(.forbidden, "forbidden", "the stub publishes nothing").response
                case .openAPI, .trace:
                    return APIError(.notImplemented, "not_implemented", "GET /v1/trace is not implemented yet").response
                }
            } catch {
                return error.response
            }
        }
    }
}

/// A blocking loopback server for tests: one accept thread, one thread per connection.
final class StubAPIServer: @unchecked Sendable {
    let listener: Int32
    let port: UInt16
    private let stopped = NSLock()
    private var isStopped = false

    init(port: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        self.port = UInt16(bigEndian: addr.sin_port)
    }

    func start(connections: Int) {
        let listener = self.listener
        Thread.detachNewThread { [self] in
            var served = 0
            while served < connections && !self.stopping {
                let fd = accept(listener, nil, nil)
                if fd < 0 { break }
                served += 1
                var tv = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                Thread.detachNewThread {
                    Self.serve(fd)
                    close(fd)
                }
            }
        }
    }

    var stopping: Bool { stopped.lock(); defer { stopped.unlock() }; return isStopped }

    func stop() {
        stopped.lock(); isStopped = true; stopped.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    static func serve(_ fd: Int32) {
        var conn = HTTPServerConnection()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !conn.isFinished {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            conn.receive(buffer[0..<n])
            while let (id, request) = conn.nextRequest() { conn.respond(id, StubAPI.handle(request)) }
            let out = conn.takeOutput()
            var sent = 0
            while sent < out.count {
                let m = out.withUnsafeBytes { send(fd, $0.baseAddress! + sent, out.count - sent, Int32(MSG_NOSIGNAL)) }
                if m <= 0 { return }
                sent += m
            }
        }
    }
}
