import Foundation
import XCTest
import MurmurCore
import MurmurCrypto
import MurmurHTTP
import MurmurWire
@testable import MurmurJobs
@testable import MurmurAPI

/// Deterministic sample responses of every route, committed under `Tests/Fixtures/api/` and
/// validated against the schemas of `Specs/api.yaml` by `python3 Scripts/check_api_samples.py`.
/// This test keeps the fixtures equal to what the code produces (regenerate with
/// `MURMUR_WRITE_API_SAMPLES=1 swift test --filter APISampleTests`).
final class APISampleTests: XCTestCase {
    static let t0: Int64 = 1_780_000_000_000

    static var fixtureDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/api")
    }

    func samples() throws -> [String: HTTPResponse] {
        let client = SigningKey(seed: [UInt8](repeating: 0x22, count: 32))
        let executors = (1...3).map { SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
        let model: [UInt8] = Array(0..<200)
        let manifest = try ModelManifest(describing: model, name: "mlp", modelVersion: "1", chunkSize: 4096,
                                         inputs: [TensorSpec(name: "x", dtype: .float32, shape: [-1, 4])],
                                         outputs: [TensorSpec(name: "y", dtype: .float32, shape: [-1, 2])])
            .signed(by: client, issuedAt: Self.t0, expiresAt: Self.t0 + 86_400_000)
        let job = try Job(modelHash: Hash.of(model), input: Array(0..<16), redundancy: 3, quorum: 2, deadline: Self.t0 + 30_000,
                          nonce: [UInt8](repeating: 7, count: 16)).signed(by: client, issuedAt: Self.t0, expiresAt: Self.t0 + 40_000)
        var w = ByteWriter()
        w.raw(Array("murmur-outputs-v1".utf8)); w.u32(1); w.bytes32(Array("y".utf8)); w.u8(1); w.u32(2); w.u64(1); w.u64(2)
        for v: Float in [0.25, -1.5] { withUnsafeBytes(of: v.bitPattern.littleEndian) { w.raw(Array($0)) } }
        let output = w.bytes
        let atts = try executors.enumerated().map { i, key in
            try Attestation(job: job, output: output, engineVersion: "0.1.0", elapsedMicros: UInt64(250 + i), stage: 0)
                .signed(by: key, issuedAt: Self.t0 + 300, expiresAt: Self.t0 + 300 + 3_600_000)
        }
        let result = JobResult(outputHash: Hash.of(output), attestations: atts, disputed: false)
        return [
            "job_accepted": JobSubmission.accepted(job),
            "job_verified": JobView.response(jobID: job.id, job: job, state: .verified(result)),
            "job_running": JobView.response(jobID: job.id, job: job, state: .running, known: [atts[0]]),
            "job_pending_unknown_record": JobView.response(jobID: job.id, job: nil, state: nil),
            "job_failed": JobView.response(jobID: job.id, job: job, state: .failed(.notEnoughAttestations(agreeing: 1, needed: 2))),
            "models": APIViews.models([ModelListing(manifest: manifest, chunksVerified: 1, held: true, holders: 3)]),
            "peers": APIViews.peers([
                PeerListing(node: executors[0].publicKey, address: "127.0.0.1:7001", connected: true, lastSeen: Self.t0, models: [Hash.of(model)], freeSlots: 2),
                PeerListing(node: executors[1].publicKey, address: "127.0.0.1:7002", connected: false, lastSeen: Self.t0 - 5000, excluded: true),
            ], activeView: [(executors[0].publicKey, "127.0.0.1:7001")], passiveView: [(executors[1].publicKey, "127.0.0.1:7002")],
               links: [LinkListing(peer: executors[0].publicKey, link: 3, inbound: false, remoteAddress: "127.0.0.1:7001", bytesIn: 5120,
                                   bytesOut: 4096, framesIn: 12, framesOut: 10, messagesIn: 30, messagesOut: 25, queuedBytes: 0)]),
            "status": APIViews.status(NodeStatus(node: client.publicKey, version: "0.1.0", uptimeSeconds: 12.5, addresses: ["127.0.0.1:7000"],
                                                 peersConnected: 2, modelsHeld: 1, freeSlots: 3, totalSlots: 4,
                                                 jobsByState: ["verified": 5, "running": 1], recordsByKind: ["job": 6, "attestation": 15],
                                                 excludedNodes: 1,
                                                 mesh: MeshView(listen: "127.0.0.1:7000", activeView: [executors[0].publicKey],
                                                                passiveView: [executors[1].publicKey], directorySize: 3,
                                                                counters: ["transport": ["established": 2]], linkedPeers: 1,
                                                                eagerPeers: 1, localHealth: 0))),
            "error_invalid_json": (try? JobSubmission.parse(body: Array("{".utf8))).map { _ in HTTPResponse(status: .ok) }
                ?? APIError.badRequest("invalid_json", "request body is not valid JSON").response,
            "error_parse_413": HTTPResponse.error(.bodyTooLarge(limit: Limits.maxHTTPBodyBytes, declared: 9_000_000)),
        ]
    }

    func testSamplesMatchCommittedFixtures() throws {
        let write = ProcessInfo.processInfo.environment["MURMUR_WRITE_API_SAMPLES"] == "1"
        if write { try FileManager.default.createDirectory(at: Self.fixtureDirectory, withIntermediateDirectories: true) }
        for (name, response) in try samples() {
            let url = Self.fixtureDirectory.appendingPathComponent(name + ".json")
            if write {
                try Data(response.body).write(to: url)
            } else {
                let committed = try Data(contentsOf: url)
                XCTAssertEqual(Array(committed), response.body, "\(name): regenerate with MURMUR_WRITE_API_SAMPLES=1 and re-run Scripts/check_api_samples.py")
            }
        }
    }
}
