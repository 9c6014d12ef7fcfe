import XCTest
import MurmurCore
import MurmurCrypto
@testable import MurmurWire

final class RecordTests: XCTestCase {
    func testEveryKindRoundTrips() throws {
        for (name, envelope) in try Fixture.all() {
            let decodedEnvelope = try SignedRecord(decoding: envelope.encoded)
            XCTAssertEqual(decodedEnvelope.id, envelope.id, name)
            let record = try Record(validating: decodedEnvelope, nowUnixMs: Fixture.t0 + 1000)
            XCTAssertEqual(record.kind, envelope.kind)
            let reencoded: [UInt8]
            switch record {
            case let .modelManifest(s): reencoded = s.body.encodedBody
            case let .nodeAnnouncement(s): reencoded = s.body.encodedBody
            case let .job(s): reencoded = s.body.encodedBody
            case let .claim(s): reencoded = s.body.encodedBody
            case let .attestation(s): reencoded = s.body.encodedBody
            case let .verdict(s): reencoded = s.body.encodedBody
            }
            XCTAssertEqual(reencoded, envelope.body, "\(name): decode then encode gives the same bytes")
        }
    }

    /// Seeded random bodies within the limits: sign, encode, decode, compare.
    func testRandomBodiesRoundTrip() throws {
        var rng = SeededRNG(seed: 42)
        let key = SigningKey(seed: [UInt8](repeating: 9, count: 32))
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        func hash() -> Hash { Hash.of(bytes(8)) }
        func string(_ max: Int) -> String { String((0..<Int.random(in: 1...max, using: &rng)).map { _ in "abcxyzé-_:".randomElement(using: &rng)! }) }
        let t = Fixture.t0
        for _ in 0..<150 {
            let input = bytes(Int.random(in: 0...300, using: &rng))
            let r = UInt8.random(in: 1...UInt8(Limits.maxRedundancy), using: &rng)
            let job = Job(modelHash: hash(), input: input, redundancy: r, quorum: UInt8.random(in: 1...r, using: &rng),
                          deadline: t + Int64.random(in: 1...Limits.maxJobDurationMs, using: &rng), nonce: bytes(16))
            let signedJob = try job.signed(by: key, issuedAt: t, expiresAt: job.deadline + Int64.random(in: 0...Limits.jobRecordGraceMs, using: &rng))
            XCTAssertEqual(try Signed<Job>(try SignedRecord(decoding: signedJob.envelope.encoded)).body, job)

            let size = UInt64.random(in: 1...5_000_000, using: &rng)
            let chunk = UInt32.random(in: UInt32(Limits.minModelChunkBytes)...1_000_000, using: &rng)
            let n = ModelManifest.chunkCount(size: size, chunkSize: chunk)
            func spec() -> TensorSpec {
                TensorSpec(name: string(20), dtype: TensorDType.allCases.randomElement(using: &rng)!,
                           shape: (0..<Int.random(in: 0...Limits.maxManifestTensorRank, using: &rng)).map { _ in Int64.random(in: -1...4096, using: &rng) })
            }
            let manifest = ModelManifest(modelHash: hash(), name: string(40), modelVersion: string(10), size: size, chunkSize: chunk,
                                         chunkHashes: (0..<n).map { _ in hash() }, inputs: [spec()], outputs: [spec(), spec()].uniqued())
            let m = try manifest.signed(by: key, issuedAt: t, expiresAt: t + 1000)
            XCTAssertEqual(try Signed<ModelManifest>(try SignedRecord(decoding: m.envelope.encoded)).body, manifest)

            let total = UInt16.random(in: 0...64, using: &rng)
            let ann = NodeAnnouncement(sequence: rng.next(), addresses: (0..<Int.random(in: 0...8, using: &rng)).map { _ in string(30) },
                                       models: (0..<Int.random(in: 0...20, using: &rng)).map { _ in hash() },
                                       freeSlots: UInt16.random(in: 0...total, using: &rng), totalSlots: total, engineVersion: string(20))
            let a = try ann.signed(by: key, issuedAt: t, expiresAt: t + 1000)
            XCTAssertEqual(try Signed<NodeAnnouncement>(try SignedRecord(decoding: a.envelope.encoded)).body, ann)

            let output = bytes(Int.random(in: 0...Limits.maxInlineOutputBytes + 100, using: &rng))
            let att = Attestation(job: signedJob, output: output, engineVersion: string(20), elapsedMicros: rng.next() >> 8,
                                  stage: UInt8.random(in: 0...1, using: &rng))
            let s = try att.signed(by: key, issuedAt: t, expiresAt: t + 1000)
            XCTAssertEqual(try Signed<Attestation>(try SignedRecord(decoding: s.envelope.encoded)).body, att)

            let lease = t + Int64.random(in: 0...Limits.maxLeaseMs, using: &rng)
            let claim = Claim(jobID: signedJob.id, leaseExpiry: lease, stage: UInt8.random(in: 0...1, using: &rng), rank: UInt16.random(in: 0...100, using: &rng))
            let c = try claim.signed(by: key, issuedAt: t, expiresAt: lease + 1)
            XCTAssertEqual(try Signed<Claim>(try SignedRecord(decoding: c.envelope.encoded)).body, claim)
        }
    }

    func testSigningRefusesInvalidBodies() {
        let key = Fixture.client
        let t = Fixture.t0
        var job = Fixture.jobBody
        job.quorum = 4
        XCTAssertThrowsError(try job.signed(by: key, issuedAt: t, expiresAt: Fixture.deadline)) { XCTAssertTrue("\($0)".contains("quorum")) }
        job = Fixture.jobBody
        job.redundancy = UInt8(Limits.maxRedundancy + 1)
        XCTAssertThrowsError(try job.signed(by: key, issuedAt: t, expiresAt: Fixture.deadline))
        job = Fixture.jobBody
        XCTAssertThrowsError(try job.signed(by: key, issuedAt: Fixture.deadline, expiresAt: Fixture.deadline + 1), "deadline not after issue")
        var ann = Fixture.announcementBody
        ann.freeSlots = 5
        XCTAssertThrowsError(try ann.signed(by: key, issuedAt: t, expiresAt: t + 1000))
        var manifest = Fixture.manifestBody
        manifest.chunkHashes.removeLast()
        XCTAssertThrowsError(try manifest.signed(by: key, issuedAt: t, expiresAt: t + 1000))
        manifest = Fixture.manifestBody
        manifest.outputs = []
        XCTAssertThrowsError(try manifest.signed(by: key, issuedAt: t, expiresAt: t + 1000))
    }

    func testClockRules() throws {
        let job = try Fixture.job().envelope
        XCTAssertNoThrow(try Record(validating: job, nowUnixMs: Fixture.t0 - Limits.maxClockSkewMs), "within the skew")
        XCTAssertThrowsError(try Record(validating: job, nowUnixMs: Fixture.t0 - Limits.maxClockSkewMs - 1)) {
            guard case .notYetValid = $0 as? RecordError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try Record(validating: job, nowUnixMs: job.expiresAt)) { XCTAssertEqual($0 as? RecordError, .expired) }
        XCTAssertNoThrow(try Record(validating: job, nowUnixMs: job.expiresAt - 1))
        // Clock-free decoding (offline verification) accepts an expired record.
        XCTAssertNoThrow(try Record(job))
    }

    func testAnnouncementSequenceAndModels() {
        let a = Fixture.announcementBody
        var b = a
        b.sequence += 1
        XCTAssertTrue(b.supersedes(a))
        XCTAssertFalse(a.supersedes(b))
        XCTAssertTrue(a.holds(Hash.of(Fixture.model)))
        XCTAssertFalse(a.holds(Hash.zero))
        let dup = NodeAnnouncement(sequence: 1, addresses: [], models: [Hash.zero, Hash.of([1]), Hash.zero], freeSlots: 0, totalSlots: 0, engineVersion: "")
        XCTAssertEqual(dup.models.count, 2, "models are made canonical: sorted, no duplicates")
    }

    func testVerdictRules() throws {
        let jobID = try Fixture.job().id
        func ev(_ i: Int, _ out: [UInt8], _ decider: Bool) throws -> Verdict.Evidence {
            Verdict.Evidence(attestation: try Fixture.attestation(i, out, stage: decider ? 1 : 0, issuedAt: Fixture.t0, micros: 1), isDecider: decider)
        }
        // Two deciders are too few.
        let few = Verdict(jobID: jobID, evidence: [try ev(0, Fixture.outputB, false), try ev(1, Fixture.outputA, true), try ev(2, Fixture.outputA, true)])
        XCTAssertThrowsError(try few.signed(by: Fixture.node, issuedAt: Fixture.t0, expiresAt: Fixture.t0 + 1))
        // Unanimous: nobody to accuse.
        let agree = Verdict(jobID: jobID, evidence: try (0..<3).map { try ev($0, Fixture.outputA, true) })
        XCTAssertThrowsError(try agree.signed(by: Fixture.node, issuedAt: Fixture.t0, expiresAt: Fixture.t0 + 1))
        // One author twice.
        let twice = Verdict(jobID: jobID, evidence: [try ev(0, Fixture.outputB, false)] + (try (0..<3).map { try ev($0, Fixture.outputA, true) }))
        XCTAssertThrowsError(try twice.signed(by: Fixture.node, issuedAt: Fixture.t0, expiresAt: Fixture.t0 + 1))
        // A decider in the minority is accused too.
        let split = Verdict(jobID: jobID, evidence: try [ev(0, Fixture.outputB, false), ev(1, Fixture.outputA, true), ev(2, Fixture.outputA, true),
                                                        ev(3, Fixture.outputB, true), ev(4, Fixture.outputA, true)])
        let signed = try split.signed(by: Fixture.node, issuedAt: Fixture.t0, expiresAt: Fixture.t0 + 1)
        XCTAssertEqual(Set(signed.body.accused), [Fixture.executors[0].publicKey, Fixture.executors[3].publicKey])
    }

    /// Random bytes never trap the decoder, and never decode to a valid record.
    func testFuzzRandomBytes() {
        var rng = SeededRNG(seed: 7)
        for _ in 0..<3000 {
            let n = Int.random(in: 0...400, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if n > 2, Bool.random(using: &rng) { bytes[0] = 1; bytes[1] = UInt8.random(in: 1...6, using: &rng) }
            XCTAssertThrowsError(try Record(decoding: bytes, nowUnixMs: Fixture.t0))
            for kind in RecordKind.allCases {
                // Bodies alone, behind a valid-looking version byte, never trap either.
                var body = bytes
                if !body.isEmpty { body[0] = 1 }
                switch kind {
                case .modelManifest: _ = try? ModelManifest(body: body)
                case .nodeAnnouncement: _ = try? NodeAnnouncement(body: body)
                case .job: _ = try? Job(body: body)
                case .claim: _ = try? Claim(body: body)
                case .attestation: _ = try? Attestation(body: body)
                case .verdict: _ = try? Verdict(body: body)
                }
            }
        }
    }

    /// Every single-bit flip of every valid record is refused (the signature covers every
    /// byte but itself, and a changed signature does not verify); truncations and extensions too.
    func testMutatedRecordsNeverVerify() throws {
        var rng = SeededRNG(seed: 11)
        for (name, envelope) in try Fixture.all() {
            let bytes = envelope.encoded
            for i in bytes.indices {
                var m = bytes
                m[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                XCTAssertThrowsError(try SignedRecord(decoding: m), "\(name) byte \(i)")
            }
            for cut in [0, 1, bytes.count / 2, bytes.count - 1] {
                XCTAssertThrowsError(try SignedRecord(decoding: Array(bytes.prefix(cut))), "\(name) cut at \(cut)")
            }
            XCTAssertThrowsError(try SignedRecord(decoding: bytes + [0]), "\(name) trailing byte")
        }
    }

    /// Mutated bodies re-signed by a valid key: decoding must throw or yield a record whose
    /// body re-encodes to exactly the same bytes (canonical), never trap.
    func testMutatedBodiesResignedAreCanonicalOrRefused() throws {
        var rng = SeededRNG(seed: 13)
        let key = Fixture.node
        for (_, envelope) in try Fixture.all() {
            for _ in 0..<150 {
                var body = envelope.body
                let i = Int.random(in: 0..<body.count, using: &rng)
                body[i] = UInt8.random(in: 0...255, using: &rng)
                if Bool.random(using: &rng) { body = Array(body.prefix(Int.random(in: 0...body.count, using: &rng))) }
                let resigned = SignedRecord(kind: envelope.kind, body: body, author: key, issuedAt: envelope.issuedAt, expiresAt: envelope.expiresAt)
                if let record = try? Record(resigned) {
                    let again: [UInt8]
                    switch record {
                    case let .modelManifest(s): again = s.body.encodedBody
                    case let .nodeAnnouncement(s): again = s.body.encodedBody
                    case let .job(s): again = s.body.encodedBody
                    case let .claim(s): again = s.body.encodedBody
                    case let .attestation(s): again = s.body.encodedBody
                    case let .verdict(s): again = s.body.encodedBody
                    }
                    XCTAssertEqual(again, body)
                }
            }
        }
    }
}

extension Array where Element == TensorSpec {
    func uniqued() -> [TensorSpec] {
        var seen = Set<String>()
        return filter { seen.insert($0.name).inserted }
    }
}
