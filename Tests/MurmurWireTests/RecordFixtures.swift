import MurmurCore
import MurmurCrypto
@testable import MurmurWire

/// The constants of Scripts/record_vectors.py, rebuilt in Swift.
enum Fixture {
    static let t0: Int64 = 1_780_000_000_000
    static let hour: Int64 = 3_600_000
    static let engine = "murmur/0.1.0"
    static let publisher = SigningKey(seed: Array(0..<32))
    static let node = SigningKey(seed: [UInt8](repeating: 0x11, count: 32))
    static let client = SigningKey(seed: [UInt8](repeating: 0x22, count: 32))
    static let executors = [0x33, 0x44, 0x55, 0x66, 0x77].map { SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
    static let model: [UInt8] = (0..<10000).map { UInt8($0 % 251) }
    static let input: [UInt8] = Array(0..<64)
    static let nonce: [UInt8] = Array(0xA0..<0xB0)
    static let deadline = t0 + 30_000
    static let outputA: [UInt8] = Array([[UInt8]](repeating: [1, 2, 3, 4, 5, 6, 7, 8], count: 4).joined())
    static let outputB = [UInt8](repeating: 9, count: 32)

    static var manifestBody: ModelManifest {
        ModelManifest(describing: model, name: "tiny-mlp", modelVersion: "1", chunkSize: 4096,
                      inputs: [TensorSpec(name: "x", dtype: .float32, shape: [-1, 4])],
                      outputs: [TensorSpec(name: "y", dtype: .float32, shape: [-1, 3])])
    }
    static var announcementBody: NodeAnnouncement {
        NodeAnnouncement(sequence: 7, addresses: ["127.0.0.1:7400", "[::1]:7400"], models: [Hash.of(model)],
                         freeSlots: 2, totalSlots: 4, engineVersion: engine)
    }
    static var jobBody: Job {
        Job(modelHash: Hash.of(model), input: input, redundancy: 3, quorum: 2, deadline: deadline, nonce: nonce)
    }
    static func job() throws -> Signed<Job> {
        try jobBody.signed(by: client, issuedAt: t0, expiresAt: deadline + 600_000)
    }
    static func attestation(_ i: Int, _ output: [UInt8], stage: UInt8, issuedAt: Int64, micros: UInt64) throws -> Signed<Attestation> {
        try Attestation(job: try job(), output: output, engineVersion: engine, elapsedMicros: micros, stage: stage)
            .signed(by: executors[i], issuedAt: issuedAt, expiresAt: issuedAt + 24 * hour)
    }

    /// Every valid vector, built from code, by name.
    static func all() throws -> [String: SignedRecord] {
        let job = try job()
        let claim = try Claim(jobID: job.id, leaseExpiry: t0 + 10_000, stage: 0, rank: 0)
            .signed(by: executors[0], issuedAt: t0 + 100, expiresAt: deadline + 600_000)
        let attested = try Fixture.attestation(0, outputA, stage: 0, issuedAt: t0 + 200, micros: 1234)
        let evidence = [
            Verdict.Evidence(attestation: try Fixture.attestation(0, outputA, stage: 0, issuedAt: t0 + 300, micros: 1000), isDecider: false),
            Verdict.Evidence(attestation: try Fixture.attestation(1, outputB, stage: 0, issuedAt: t0 + 300, micros: 1001), isDecider: false),
            Verdict.Evidence(attestation: try Fixture.attestation(2, outputA, stage: 1, issuedAt: t0 + 300, micros: 1002), isDecider: true),
            Verdict.Evidence(attestation: try Fixture.attestation(3, outputA, stage: 1, issuedAt: t0 + 300, micros: 1003), isDecider: true),
            Verdict.Evidence(attestation: try Fixture.attestation(4, outputA, stage: 1, issuedAt: t0 + 300, micros: 1004), isDecider: true),
        ]
        return [
            "manifest": try SignedRecord.sign(manifestBody, by: publisher, issuedAt: t0, expiresAt: t0 + 7 * 24 * hour),
            "announcement": try SignedRecord.sign(announcementBody, by: node, issuedAt: t0, expiresAt: t0 + 600_000),
            "job": job.envelope,
            "claim": claim.envelope,
            "attestation": attested.envelope,
            "verdict": try SignedRecord.sign(Verdict(jobID: job.id, evidence: evidence), by: node, issuedAt: t0 + 400,
                                             expiresAt: t0 + 400 + 30 * 24 * hour),
        ]
    }
}
