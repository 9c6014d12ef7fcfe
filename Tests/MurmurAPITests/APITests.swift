import Foundation
import XCTest
import MurmurCore
import MurmurCrypto
import MurmurHTTP
import MurmurStore
import MurmurWire
@testable import MurmurJobs
@testable import MurmurAPI

final class APITests: XCTestCase {
    static let t0: Int64 = 1_780_000_000_000
    let client = SigningKey(seed: [UInt8](repeating: 0x22, count: 32))
    let executors = (1...3).map { SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
    let modelHash = Hash.of(Array("model".utf8))

    func post(_ body: String, contentType: String? = "application/json") -> HTTPRequest {
        var h = HTTPHeaders([("Host", "x")])
        if let contentType { h.add("Content-Type", contentType) }
        return HTTPRequest(method: "POST", target: "/v1/jobs", headers: h, body: Array(body.utf8))
    }

    func submissionError(_ body: String, contentType: String? = "application/json") -> APIError? {
        do {
            _ = try JobSubmission.parse(post(body, contentType: contentType))
            return nil
        } catch {
            return error
        }
    }

    // MARK: POST /v1/jobs

    func testSubmissionParsesBothInputFormsAndDefaults() throws {
        let s = try JobSubmission.parse(post(#"{"model": "mlp", "input": {"x": {"shape": [1, 2], "dtype": "float32", "data": [[-0.0, 1.5]]}, "y": [[1, 2], [3, 4]]}}"#))
        XCTAssertEqual(s.model, .name("mlp"))
        XCTAssertEqual(s.redundancy, 3)
        XCTAssertEqual(s.quorum, 2)
        XCTAssertEqual(s.deadlineMs, 30_000)
        // Canonical input JSON keeps -0.0 and integers exactly.
        XCTAssertEqual(String(decoding: s.inputJSON, as: UTF8.self),
                       #"{"x":{"data":[[-0.0,1.5]],"dtype":"float32","shape":[1,2]},"y":[[1,2],[3,4]]}"#)
        let hex = String(repeating: "ab", count: 32)
        let t = try JobSubmission.parse(post(#"{"model": "\#(hex)", "input": {"x": [1]}, "redundancy": 5, "quorum": 5, "deadline_ms": 1000}"#,
                                             contentType: "application/json; charset=utf-8"))
        XCTAssertEqual(t.model, .hash(Hash(hex: hex)!))
        XCTAssertEqual([t.redundancy, t.quorum], [5, 5])
        XCTAssertEqual(t.deadlineMs, 1000)
        XCTAssertEqual(try JobSubmission.parse(post(#"{"model": "m", "input": {"x": [1]}, "redundancy": 1}"#)).quorum, 1)
        XCTAssertNoThrow(try JobSubmission.parse(post(#"{"model": "m", "input": {"x": ["NaN", true, 2e3]}}"#, contentType: nil)))
    }

    func testSubmissionErrorsAre4xxWithCodes() {
        let cases: [(String, String)] = [
            ("{", "invalid_json"),
            ("[]", "invalid_request"),
            (#"{"model": "m", "input": {"x": [1]}, "extra": 1}"#, "unknown_field"),
            (#"{"input": {"x": [1]}}"#, "invalid_model"),
            (#"{"model": "", "input": {"x": [1]}}"#, "invalid_model"),
            (#"{"model": 5, "input": {"x": [1]}}"#, "invalid_model"),
            (#"{"model": "m"}"#, "invalid_input"),
            (#"{"model": "m", "input": {}}"#, "invalid_input"),
            (#"{"model": "m", "input": [1]}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": [[1, 2], [3]]}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": [[1], "a"]}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": {"shape": [3], "data": [1, 2]}}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": {"shape": [-1], "data": []}}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": {"dtype": "float16", "data": [1]}}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": {"data": [1], "layout": "nchw"}}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": {"shape": [1]}}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": null}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": [[[[[[[[[1]]]]]]]]]}}"#, "invalid_input"),
            (#"{"model": "m", "input": {"x": [1]}, "redundancy": 0}"#, "invalid_redundancy"),
            (#"{"model": "m", "input": {"x": [1]}, "redundancy": 16}"#, "invalid_redundancy"),
            (#"{"model": "m", "input": {"x": [1]}, "redundancy": 2.5}"#, "invalid_redundancy"),
            (#"{"model": "m", "input": {"x": [1]}, "redundancy": 3, "quorum": 4}"#, "invalid_quorum"),
            (#"{"model": "m", "input": {"x": [1]}, "deadline_ms": 999}"#, "invalid_deadline_ms"),
            (#"{"model": "m", "input": {"x": [1]}, "deadline_ms": 3600001}"#, "invalid_deadline_ms"),
        ]
        for (body, code) in cases {
            let e = submissionError(body)
            XCTAssertEqual(e?.code, code, body)
            XCTAssertEqual(e?.status, .badRequest, body)
        }
        XCTAssertEqual(submissionError(#"{"model": "m", "input": {"x": [1]}}"#, contentType: "application/x-www-form-urlencoded")?.status,
                       .unsupportedMediaType)
        // The error body has the documented shape.
        let body = try? JSONParser.parse(submissionError("{")!.response.body)
        XCTAssertEqual(body?["error"]?["code"], "invalid_json")
        XCTAssertNotNil(body?["error"]?["message"]?.stringValue)
    }

    func testModelReferenceResolution() throws {
        func manifest(_ name: String, _ bytes: [UInt8], at: Int64) throws -> Signed<ModelManifest> {
            try ModelManifest(describing: bytes, name: name, modelVersion: "1", chunkSize: 4096,
                              inputs: [TensorSpec(name: "x", dtype: .float32, shape: [1])],
                              outputs: [TensorSpec(name: "y", dtype: .float32, shape: [1])])
                .signed(by: client, issuedAt: at, expiresAt: at + 1000)
        }
        let old = try manifest("mlp", [1], at: Self.t0), new = try manifest("mlp", [2], at: Self.t0 + 1), other = try manifest("cnn", [3], at: Self.t0)
        let all = [old, new, other]
        XCTAssertEqual(try ModelReference.name("mlp").resolve(in: all).id, new.id)
        XCTAssertEqual(try ModelReference.hash(Hash.of([1])).resolve(in: all).id, old.id)
        XCTAssertThrowsError(try ModelReference.name("nope").resolve(in: all)) { XCTAssertEqual(($0 as? APIError)?.status, .notFound) }
    }

    // MARK: GET /v1/jobs/{id}

    /// Canonical output encoding (Specs/inference.md "Output hash") of one float32 output.
    func outputBytes(_ values: [Float], name: String = "y") -> [UInt8] {
        var w = ByteWriter()
        w.raw(Array("murmur-outputs-v1".utf8))
        w.u32(1)
        w.bytes32(Array(name.utf8))
        w.u8(1)
        w.u32(2); w.u64(1); w.u64(UInt64(values.count))
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { w.raw(Array($0)) } }
        return w.bytes
    }

    func verifiedFixture(output: [UInt8]) throws -> (Signed<Job>, JobResult) {
        let job = try Job(modelHash: modelHash, input: [1, 2, 3], redundancy: 3, quorum: 2, deadline: Self.t0 + 30_000,
                          nonce: [UInt8](repeating: 1, count: 16)).signed(by: client, issuedAt: Self.t0, expiresAt: Self.t0 + 40_000)
        let atts = try executors.enumerated().map { i, key in
            try Attestation(job: job, output: output, engineVersion: "murmur/0.1.0", elapsedMicros: UInt64(100 + i), stage: 0)
                .signed(by: key, issuedAt: Self.t0 + 100, expiresAt: Self.t0 + 100 + 3_600_000)
        }
        return (job, JobResult(outputHash: Hash.of(output), attestations: atts, disputed: false))
    }

    func testVerifiedJobCarriesEverythingAClientNeedsToCheckIt() throws {
        let output = outputBytes([1.5, -0.0, 0.1, .nan])
        let (job, result) = try verifiedFixture(output: output)
        let response = JobView.response(jobID: job.id, job: job, state: .verified(result))
        XCTAssertEqual(response.status, .ok)
        let json = try JSONParser.parse(response.body)
        XCTAssertEqual(json["state"], "verified")
        XCTAssertEqual(json["output_hash"]?.stringValue, Hash.of(output).hex)
        XCTAssertEqual(json["executors"]?.arrayValue?.count, 3)
        XCTAssertEqual(json["output"]?["y"]?["shape"], [1, 4])
        XCTAssertEqual(json["output"]?["y"]?["dtype"], "float32")
        XCTAssertEqual(json["output"]?["y"]?["data"], [1.5, .double(-0.0), 0.1, "NaN"])
        XCTAssertEqual(json["attestations"]?.arrayValue?.first?["executor"]?.stringValue, executors[0].publicKey.hex)

        // A client that trusts nothing but the bytes: decode the hex records and check them.
        let jobRecord = try XCTUnwrap(json["job"]?["record"]?.stringValue.flatMap(Hex.decode))
        let attestationRecords = try XCTUnwrap(json["attestations"]?.arrayValue?.map { try XCTUnwrap($0["record"]?.stringValue.flatMap(Hex.decode)) })
        let outputFromJSON = try XCTUnwrap(json["output_bytes"]?.stringValue.flatMap(Hex.decode))
        XCTAssertEqual(Hash.of(jobRecord).hex, json["job_id"]?.stringValue)
        let checked = try ResultCheck.verify(job: jobRecord, attestations: attestationRecords, output: outputFromJSON)
        XCTAssertEqual(checked.outputHash, Hash.of(output))
        XCTAssertEqual(checked.executors.count, 3)
        // The float32 values read back to the same bits through the input path (binary64 then float32).
        let data = try XCTUnwrap(json["output"]?["y"]?["data"]?.arrayValue)
        XCTAssertEqual(Float(data[2].doubleValue ?? 0).bitPattern, Float(0.1).bitPattern)
        XCTAssertEqual(Float(data[1].doubleValue ?? 1).bitPattern, Float(-0.0).bitPattern)
    }

    func testOutputTakenFromInlineAttestationAndWrongBytesIgnored() throws {
        let output = outputBytes([2])
        let (job, result) = try verifiedFixture(output: output)
        let json = JobView.json(jobID: job.id, job: job, state: .verified(result), output: [9, 9, 9])
        XCTAssertEqual(json["output_bytes"]?.stringValue, Hex.encode(output))
    }

    func testPendingFailedAndUnknownJobViews() throws {
        let (job, result) = try verifiedFixture(output: outputBytes([1]))
        let pending = JobView.json(jobID: job.id, job: nil, state: nil, known: [result.attestations[0]])
        XCTAssertEqual(pending["state"], "pending")
        XCTAssertEqual(pending["job"], .null)
        XCTAssertEqual(pending["attestations"]?.arrayValue?.count, 1)
        let failed = JobView.json(jobID: job.id, job: job, state: .failed(.notEnoughAttestations(agreeing: 1, needed: 2)))
        XCTAssertEqual(failed["state"], "failed")
        XCTAssertEqual(failed["failure"], ["code": "not_enough_attestations", "agreeing": 1, "needed": 2])
        XCTAssertNotNil(failed["reason"]?.stringValue)
        XCTAssertEqual(try JobView.jobID(job.id.hex), job.id)
        XCTAssertEqual(try JobView.jobID(job.id.hex.uppercased()), job.id)
        XCTAssertThrowsError(try JobView.jobID("abc")) { XCTAssertEqual(($0 as? APIError)?.code, "invalid_job_id") }
    }

    /// The direct writer gives the tree's bytes exactly, in every state (with `assigned` as the
    /// node's route adds it).
    func testJobViewBytesEqualTheSerializedTree() throws {
        let output = outputBytes([1.5, -0.0, 0.1, .nan, .infinity, 3e-41])
        let (job, result) = try verifiedFixture(output: output)
        let disputed = JobResult(outputHash: result.outputHash, attestations: result.attestations, disputed: true)
        let assigned = executors.map(\.publicKey)
        let cases: [(Signed<Job>?, JobState?, [Signed<Attestation>], [UInt8]?)] = [
            (job, .verified(result), [], nil),
            (job, .verified(result), [], output),
            (job, .verified(result), [], [9, 9, 9]),
            (job, .verified(disputed), result.attestations, output),
            (nil, nil, [result.attestations[0]], nil),
            (job, .pending, [], nil),
            (job, .running, result.attestations, nil),
            (job, .disputed, result.attestations, nil),
            (job, .failed(.notEnoughAttestations(agreeing: 1, needed: 2)), [result.attestations[1]], nil),
            (job, .failed(.disputeUnresolved(best: 3, needed: 5)), [], nil),
            (nil, .failed(.seenAfterDeadline), [], nil),
            (job, .failed(.noExecutors), [], nil),
        ]
        for (k, (j, state, known, out)) in cases.enumerated() {
            let tree = JobView.json(jobID: job.id, job: j, state: state, known: known, output: out)
            XCTAssertEqual(JobView.bytes(jobID: job.id, job: j, state: state, known: known, output: out),
                           HTTPResponse.json(.ok, tree).body, "case \(k)")
            guard case var .object(o) = tree else { return XCTFail("not an object") }
            o["assigned"] = .array(assigned.map { .string($0.hex) })
            XCTAssertEqual(JobView.bytes(jobID: job.id, job: j, state: state, known: known, output: out, assigned: assigned),
                           HTTPResponse.json(.ok, .object(o)).body, "case \(k) with assigned")
        }
    }

    /// After a restart (or eviction) the store answers exactly what the state machine answered.
    func testJobViewFromTheStoreMatchesTheLiveView() throws {
        var template = Array("/tmp/murmur-api-test-XXXXXX".utf8CString)
        let dir = try XCTUnwrap(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try NodeStore(path: dir + "/state.sqlite")
        let output = outputBytes([3, 4])
        let (job, result) = try verifiedFixture(output: output)
        let failedJob = try Job(modelHash: modelHash, input: [9], redundancy: 3, quorum: 2, deadline: Self.t0 + 30_000,
                                nonce: [UInt8](repeating: 2, count: 16)).signed(by: client, issuedAt: Self.t0, expiresAt: Self.t0 + 40_000)
        let failure = JobState.failed(.disputeUnresolved(best: 5, needed: 7))
        try store.enqueue(record: .job(job))
        try store.enqueue(record: .job(failedJob))
        for a in result.attestations { try store.enqueue(record: .attestation(a)) }
        _ = try store.enqueue(blob: Array(output.reversed()), expiresAt: Self.t0)  // unrelated blob
        try store.enqueue(job: StoredJob(jobID: job.id, state: .verified(result), updatedAt: Self.t0 + 500))
        try store.enqueue(job: StoredJob(jobID: failedJob.id, state: failure, updatedAt: Self.t0 + 500))
        try store.commit()

        XCTAssertEqual(try JobView.json(from: store, jobID: job.id), JobView.json(jobID: job.id, job: job, state: .verified(result)))
        XCTAssertEqual(try JobView.json(from: store, jobID: failedJob.id), JobView.json(jobID: failedJob.id, job: failedJob, state: failure))
        XCTAssertNil(try JobView.json(from: store, jobID: Hash.of([1])))
    }

    func testWaitParameter() throws {
        XCTAssertNil(try JobView.waitSeconds(""))
        XCTAssertEqual(try JobView.waitSeconds("wait=2.5"), 2.5)
        XCTAssertEqual(try JobView.waitSeconds("wait=60"), 60)
        XCTAssertEqual(try JobView.waitSeconds("wait=1e-3"), 0.001)
        for bad in ["wait=61", "wait=-1", "wait=abc", "wait=1e3", "wait=nan", "wait=inf", "wait=", "other=1", "wait=1&wait=2", "wait=%zz"] {
            XCTAssertThrowsError(try JobView.waitSeconds(bad), bad) { XCTAssertEqual(($0 as? APIError)?.status, .badRequest) }
        }
    }

    func testOutputDecoderNeverTrapsOnGarbage() {
        var rng = SeededRNG(seed: 3)
        let valid = outputBytes([1, 2, 3])
        XCTAssertNotNil(OutputTensors.json(valid))
        for _ in 0..<2000 {
            var b = valid
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = Int(rng.next() % UInt64(b.count))
                if rng.next() % 2 == 0 { b[at] = UInt8(truncatingIfNeeded: rng.next()) } else { b.removeSubrange(at...) ; if b.isEmpty { break } }
            }
            _ = OutputTensors.json(b)
        }
    }

    // MARK: Front door

    func get(_ target: String, auth: String? = nil, method: String = "GET") -> HTTPRequest {
        var h = HTTPHeaders([("Host", "x")])
        if let auth { h.add("Authorization", auth) }
        return HTTPRequest(method: method, target: target, headers: h)
    }

    func testRoutingAuthAndErrors() throws {
        XCTAssertEqual(APIFrontDoor.route(get("/v1/jobs/abc"), token: nil), .handle(.getJob, parameters: ["id": "abc"]))
        XCTAssertEqual(APIFrontDoor.route(get("/v1/jobs/abc?wait=3"), token: nil), .handle(.getJob, parameters: ["id": "abc"]))
        XCTAssertEqual(APIFrontDoor.route(get("/v1/jobs", method: "POST"), token: nil), .handle(.submitJob, parameters: [:]))
        XCTAssertEqual(APIFrontDoor.route(get("/metrics"), token: nil), .handle(.metrics, parameters: [:]))
        guard case let .respond(r404) = APIFrontDoor.route(get("/nope"), token: nil) else { return XCTFail() }
        XCTAssertEqual(r404.status, .notFound)
        guard case let .respond(r405) = APIFrontDoor.route(get("/v1/jobs"), token: nil) else { return XCTFail() }
        XCTAssertEqual(r405.status, .methodNotAllowed)
        XCTAssertEqual(r405.headers["allow"], "POST")
        guard case let .respond(r400) = APIFrontDoor.route(get("/v1/status?x=1"), token: nil) else { return XCTFail() }
        XCTAssertEqual(r400.status, .badRequest)

        guard case let .respond(r401) = APIFrontDoor.route(get("/v1/status"), token: "s3cret") else { return XCTFail() }
        XCTAssertEqual(r401.status, .unauthorized)
        XCTAssertNotNil(r401.headers["www-authenticate"])
        guard case .respond = APIFrontDoor.route(get("/v1/status", auth: "Bearer s3cre"), token: "s3cret") else { return XCTFail() }
        guard case .respond = APIFrontDoor.route(get("/v1/status", auth: "Bearer s3cretx"), token: "s3cret") else { return XCTFail() }
        guard case .respond = APIFrontDoor.route(get("/v1/status", auth: "Basic s3cret"), token: "s3cret") else { return XCTFail() }
        XCTAssertEqual(APIFrontDoor.route(get("/v1/status", auth: "Bearer s3cret"), token: "s3cret"), .handle(.status, parameters: [:]))
        XCTAssertEqual(APIFrontDoor.route(get("/v1/status", auth: "bearer s3cret"), token: "s3cret"), .handle(.status, parameters: [:]))

        XCTAssertFalse(APIFrontDoor.requiresToken(bindHost: "127.0.0.1"))
        XCTAssertFalse(APIFrontDoor.requiresToken(bindHost: "127.3.2.1"))
        XCTAssertFalse(APIFrontDoor.requiresToken(bindHost: "[::1]"))
        XCTAssertFalse(APIFrontDoor.requiresToken(bindHost: "localhost"))
        XCTAssertTrue(APIFrontDoor.requiresToken(bindHost: "0.0.0.0"))
        XCTAssertTrue(APIFrontDoor.requiresToken(bindHost: "::"))
        XCTAssertTrue(APIFrontDoor.requiresToken(bindHost: "192.168.1.5"))
        XCTAssertTrue(APIFrontDoor.requiresToken(bindHost: "127.example.com"))
    }

    func testOpenAPIDocumentIsServedAndListsEveryRoute() throws {
        guard case let .respond(r) = APIFrontDoor.route(get("/v1/openapi.json"), token: nil) else { return XCTFail() }
        let doc = try JSONParser.parse(r.body)
        XCTAssertEqual(doc["openapi"], "3.1.0")
        let paths = try XCTUnwrap(doc["paths"]?.objectValue)
        XCTAssertEqual(Set(paths.keys), Set(APIRoute.allCases.map(\.pattern)))
        for route in APIRoute.allCases {
            XCTAssertNotNil(paths[route.pattern]?[route.method.lowercased()], "\(route.method) \(route.pattern) missing from Specs/api.yaml")
        }
        // The embedded JSON is generated from Specs/api.yaml: fail if the YAML changed after generation.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let yaml = try String(contentsOf: root.appendingPathComponent("Specs/api.yaml"), encoding: .utf8)
        for route in APIRoute.allCases { XCTAssertTrue(yaml.contains("  \(route.pattern):"), route.pattern) }
    }

    func testViewsHaveTheDocumentedKeys() throws {
        let m = try ModelManifest(describing: [1, 2, 3], name: "mlp", modelVersion: "1", chunkSize: 4096,
                                  inputs: [TensorSpec(name: "x", dtype: .float32, shape: [-1, 4])],
                                  outputs: [TensorSpec(name: "y", dtype: .float32, shape: [-1, 3])])
            .signed(by: client, issuedAt: Self.t0, expiresAt: Self.t0 + 1000)
        let models = try JSONParser.parse(APIViews.models([ModelListing(manifest: m, chunksVerified: 1, held: true, holders: 4)]).body)
        XCTAssertEqual(models["models"]?.arrayValue?.first?.objectValue?.keys.sorted(),
                       ["chunk_size", "chunks", "chunks_verified", "format", "held", "holders", "inputs", "manifest_id", "model_hash",
                        "name", "outputs", "publisher", "size", "version"])
        XCTAssertEqual(models["models"]?.arrayValue?.first?["inputs"], [["name": "x", "dtype": "float32", "shape": [-1, 4]]])
        let peers = try JSONParser.parse(APIViews.peers([PeerListing(node: client.publicKey, address: "127.0.0.1:7400", connected: true, lastSeen: 5)]).body)
        XCTAssertEqual(peers["peers"]?.arrayValue?.first?["free_slots"], .null)
        let status = try JSONParser.parse(APIViews.status(NodeStatus(node: client.publicKey, version: "0.1.0", uptimeSeconds: 2, addresses: [],
                                                                   peersConnected: 1, modelsHeld: 0, freeSlots: 4, totalSlots: 4,
                                                                   jobsByState: ["verified": 2], recordsByKind: ["job": 2], excludedNodes: 0)).body)
        XCTAssertEqual(status["jobs"]?["verified"], 2)
    }

    func testPrometheusText() {
        var p = PrometheusText()
        p.sample("murmur_records", .gauge, help: "Stored records by kind.", labels: [("kind", "job")], value: 3)
        p.sample("murmur_records", .gauge, help: "Stored records by kind.", labels: [("kind", "a\"b\\c\nd")], value: 1)
        p.sample("murmur_link_bytes_total", .counter, help: "Bytes sent per link.", labels: [("peer", "ab12")], value: 1.5)
        p.histogram("murmur_inference_seconds", help: "Inference time.", bounds: [0.001, 0.01], counts: [2, 3], overflow: 1, sum: 0.5)
        XCTAssertEqual(p.text, """
            # HELP murmur_records Stored records by kind.
            # TYPE murmur_records gauge
            murmur_records{kind="job"} 3
            murmur_records{kind="a\\"b\\\\c\\nd"} 1
            # HELP murmur_link_bytes_total Bytes sent per link.
            # TYPE murmur_link_bytes_total counter
            murmur_link_bytes_total{peer="ab12"} 1.5
            # HELP murmur_inference_seconds Inference time.
            # TYPE murmur_inference_seconds histogram
            murmur_inference_seconds_bucket{le="0.001"} 2
            murmur_inference_seconds_bucket{le="0.01"} 5
            murmur_inference_seconds_bucket{le="+Inf"} 6
            murmur_inference_seconds_sum 0.5
            murmur_inference_seconds_count 6

            """)
        XCTAssertEqual(PrometheusText.sanitize("9a-b.c"), "_a_b_c")
    }
}
