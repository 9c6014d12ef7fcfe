import XCTest
import MurmurCore
import MurmurCrypto
import MurmurWire
@testable import MurmurStore

final class StoreTests: XCTestCase {
    var dir = ""
    var dbPath: String { dir + "/state.sqlite" }

    override func setUp() { dir = StoreFixture.tempDirectory() }
    override func tearDown() { StoreFixture.removeTree(dir) }

    func testRecordsRoundTripByKindAndJob() throws {
        let store = try NodeStore(path: dbPath)
        let job = try StoreFixture.job()
        let manifest = try StoreFixture.manifest()
        let claim = try StoreFixture.claim(job, by: 0, at: StoreFixture.t0 + 10)
        let att = try StoreFixture.attestation(job, by: 1, output: [9, 9], at: StoreFixture.t0 + 20)
        for r in [manifest, .job(job), claim, .attestation(att)] { try store.enqueue(record: r) }
        try store.enqueue(record: .job(job))  // idempotent
        try store.commit()
        store.close()

        let reopened = try NodeStore(path: dbPath)
        XCTAssertEqual(try reopened.record(id: job.id)?.encoded, job.envelope.encoded)
        XCTAssertEqual(try reopened.records(kind: .job).map(\.id), [job.id])
        XCTAssertEqual(try reopened.records(kind: .modelManifest).map(\.id), [manifest.id])
        XCTAssertEqual(try reopened.records(forJob: job.id).map(\.id), [claim.id, att.id])
        XCTAssertEqual(try reopened.recordCounts(), [.modelManifest: 1, .job: 1, .claim: 1, .attestation: 1])
        // Replay order: manifests, then jobs, then claims and attestations.
        XCTAssertEqual(try reopened.unexpiredRecords(nowUnixMs: StoreFixture.t0 + 30).map(\.kind), [.modelManifest, .job, .claim, .attestation])
        // Every stored record decodes and validates as a typed record.
        for e in try reopened.unexpiredRecords(nowUnixMs: StoreFixture.t0 + 30) { XCTAssertNoThrow(try Record(e)) }
        XCTAssertNil(try reopened.record(id: Hash.of([1])))
        let replay = try reopened.replayRecords(nowUnixMs: StoreFixture.t0 + 30)
        XCTAssertEqual(replay.records.map(\.id), [manifest.id, job.id, claim.id, att.id])
        XCTAssertEqual(replay.refused, 0)
    }

    func testJobsPeersExclusionsModelFilesBlobsRoundTrip() throws {
        let store = try NodeStore(path: dbPath)
        let a = Hash.of([1]), b = Hash.of([2]), out = Hash.of([3])
        let node = NodeID(Bytes32(w0: 1, w1: 2, w2: 3, w3: 4))
        try store.enqueue(job: StoredJob(id: a, state: "running", updatedAt: 5))
        try store.enqueue(job: StoredJob(id: a, state: "verified", updatedAt: 9, outputHash: out, disputed: true, attestationIDs: [b, out]))
        try store.enqueue(job: StoredJob(id: b, state: "failed", reason: "deadline passed", updatedAt: 7))
        try store.enqueue(peer: StoredPeer(node: node, address: "127.0.0.1:7400", lastSeen: 100))
        try store.enqueue(peer: StoredPeer(node: node, address: "127.0.0.1:7401", lastSeen: 50))
        try store.enqueue(exclusion: StoredExclusion(node: node, evidence: a, excludedAt: 1))
        try store.enqueue(exclusion: StoredExclusion(node: node, evidence: b, excludedAt: 2))  // first evidence kept
        var bits = ChunkBitmap(count: 11)
        bits.set(0); bits.set(10)
        try store.enqueue(modelFile: StoredModelFile(hash: a, size: 11 * 4096, chunkSize: 4096, verified: bits, complete: false))
        let blobHash = try store.enqueue(blob: [7, 7, 7], expiresAt: 1000)
        try store.commit()
        store.close()

        let s = try NodeStore(path: dbPath)
        XCTAssertEqual(try s.job(id: a), StoredJob(id: a, state: "verified", updatedAt: 9, outputHash: out, disputed: true, attestationIDs: [b, out]))
        XCTAssertEqual(try s.job(id: b)?.reason, "deadline passed")
        XCTAssertEqual(try s.jobs(state: "failed").map(\.id), [b])
        XCTAssertEqual(try s.jobs().map(\.id), [a, b])
        XCTAssertEqual(try s.jobCounts(), ["verified": 1, "failed": 1])
        XCTAssertEqual(try s.peers(), [StoredPeer(node: node, address: "127.0.0.1:7401", lastSeen: 100)])
        XCTAssertEqual(try s.exclusions(), [StoredExclusion(node: node, evidence: a, excludedAt: 1)])
        XCTAssertEqual(try s.excludedNodes(), [node])
        XCTAssertEqual(try s.modelFile(hash: a)?.verified, bits)
        XCTAssertEqual(try s.modelFiles().count, 1)
        XCTAssertEqual(blobHash, Hash.of([7, 7, 7]))
        XCTAssertEqual(try s.blob(hash: blobHash), [7, 7, 7])
        XCTAssertEqual(try s.storedSchemaVersion(), NodeStore.schemaVersion)
    }

    func testBatchingCommitsByAgeOrCountAndReadsSeeUncommittedWrites() throws {
        let store = try NodeStore(path: dbPath, config: .init(maxBatchDelay: .milliseconds(Int64(50)), maxBatchOperations: 5))
        let t = Instant(nanoseconds: 1_000_000_000)
        XCTAssertFalse(try store.commitIfDue(now: t))
        XCTAssertNil(store.nextCommitDue(now: t))
        try store.enqueue(job: StoredJob(id: Hash.of([1]), state: "pending", updatedAt: 1))
        XCTAssertEqual(store.pendingOperations, 1)
        XCTAssertEqual(try store.job(id: Hash.of([1]))?.state, "pending")  // read-your-writes
        XCTAssertFalse(try store.commitIfDue(now: t))  // batch opens now
        XCTAssertEqual(store.nextCommitDue(now: t), t + .milliseconds(Int64(50)))
        XCTAssertFalse(try store.commitIfDue(now: t + .milliseconds(Int64(49))))
        XCTAssertTrue(try store.commitIfDue(now: t + .milliseconds(Int64(50))))
        XCTAssertEqual(store.pendingOperations, 0)
        XCTAssertEqual(store.commits, 1)
        // By count.
        for i in 0..<5 { try store.enqueue(job: StoredJob(id: Hash.of([UInt8(i + 10)]), state: "pending", updatedAt: 1)) }
        XCTAssertTrue(try store.commitIfDue(now: t + .milliseconds(Int64(51))))
        XCTAssertEqual(store.commits, 2)

        // Uncommitted writes are not visible to another connection; committed ones are.
        try store.enqueue(job: StoredJob(id: Hash.of([99]), state: "pending", updatedAt: 1))
        let other = try NodeStore(path: dbPath)
        XCTAssertNil(try other.job(id: Hash.of([99])))
        XCTAssertNotNil(try other.job(id: Hash.of([10])))
        other.close()
        try store.commit()
    }

    func testExpirySweepDeletesExpiredRecordsBlobsAndTheirJobs() throws {
        let store = try NodeStore(path: dbPath)
        let t0 = StoreFixture.t0
        let short = try StoreFixture.job(nonce: 1, life: 40_000)
        let long = try StoreFixture.job(nonce: 2, life: 3_600_000)
        let claim = try StoreFixture.claim(short, by: 0, at: t0 + 5)
        for r in [Record.job(short), .job(long), claim] { try store.enqueue(record: r) }
        try store.enqueue(job: StoredJob(id: short.id, state: "verified", updatedAt: t0))
        try store.enqueue(job: StoredJob(id: long.id, state: "running", updatedAt: t0))
        _ = try store.enqueue(blob: [1], expiresAt: t0 + 10)
        _ = try store.enqueue(blob: [2], expiresAt: t0 + 3_600_000)
        try store.commit()

        XCTAssertEqual(try store.sweepExpired(nowUnixMs: t0 + 39_999), 0)
        XCTAssertEqual(try store.sweepExpired(nowUnixMs: t0 + 40_000), 2)  // short job and its claim
        try store.commit()
        XCTAssertNil(try store.record(id: short.id))
        XCTAssertNotNil(try store.record(id: long.id))
        XCTAssertNil(try store.job(id: short.id))
        XCTAssertNotNil(try store.job(id: long.id))
        XCTAssertNil(try store.blob(hash: Hash.of([1])))
        XCTAssertNotNil(try store.blob(hash: Hash.of([2])))
        XCTAssertEqual(try store.unexpiredRecords(nowUnixMs: t0 + 40_000).map(\.id), [long.id])
    }

    func testMigrationFromVersion1KeepsDataAndBackfillsJobIDs() throws {
        let job = try StoreFixture.job()
        let att = try StoreFixture.attestation(job, by: 2, output: [1], at: StoreFixture.t0 + 1)
        // Build a version-1 database the way an old build wrote it (no job_id column).
        do {
            let old = try NodeStore(path: dbPath, config: .init(), schemaTarget: 1)
            XCTAssertEqual(try old.storedSchemaVersion(), 1)
            let db = try SQLiteConnection(path: dbPath)
            for e in [job.envelope, att.envelope] {
                try db.run("INSERT INTO records (id, kind, author, issued_at, expires_at, bytes) VALUES (?, ?, ?, ?, ?, ?)",
                           [.blob(e.id.bytes), .int(Int64(e.kind.rawValue)), .blob(e.author.bytes), .int(e.issuedAt), .int(e.expiresAt), .blob(e.encoded)])
            }
            db.close()
            old.close()
        }
        let store = try NodeStore(path: dbPath)
        XCTAssertEqual(try store.storedSchemaVersion(), NodeStore.schemaVersion)
        XCTAssertEqual(try store.records(forJob: job.id).map(\.id), [att.id])
        XCTAssertEqual(try store.record(id: job.id)?.encoded, job.envelope.encoded)
        store.close()
        // Opening again runs no migration and changes nothing.
        XCTAssertEqual(try NodeStore(path: dbPath).records(forJob: job.id).map(\.id), [att.id])
    }

    func testMigrationToVersion3DropsTheJobAndKindIndexesAndKeepsRecords() throws {
        let job = try StoreFixture.job()
        let att = try StoreFixture.attestation(job, by: 2, output: [1], at: StoreFixture.t0 + 1)
        do {
            let old = try NodeStore(path: dbPath, config: .init(), schemaTarget: 2)
            try old.enqueue(record: .job(job))
            try old.enqueue(record: .attestation(att))
            try old.enqueue(job: StoredJob(id: job.id, state: "verified", updatedAt: 9, outputHash: att.body.outputHash, attestationIDs: [att.id]))
            try old.commit()
            old.close()
            let db = try SQLiteConnection(path: dbPath)
            XCTAssertEqual(try db.run("SELECT name FROM sqlite_master WHERE name IN ('records_by_job', 'records_by_kind')").count, 2)
            db.close()
        }
        let store = try NodeStore(path: dbPath)
        XCTAssertEqual(try store.storedSchemaVersion(), 3)
        XCTAssertEqual(try store.records(forJob: job.id).map(\.id), [att.id])
        XCTAssertEqual(try store.job(id: job.id), StoredJob(id: job.id, state: "verified", updatedAt: 9, outputHash: att.body.outputHash, attestationIDs: [att.id]))
        // The jobs log: the newest row counts; the sweep prunes the superseded one.
        try store.enqueue(job: StoredJob(id: job.id, state: "failed", reason: "r", updatedAt: 8))
        try store.commit()
        XCTAssertEqual(try store.job(id: job.id)?.state, "failed")
        XCTAssertEqual(try store.jobs(state: "verified").map(\.id), [])
        XCTAssertEqual(try store.jobs(state: "failed").map(\.id), [job.id])
        XCTAssertEqual(try store.jobCounts(), ["failed": 1])
        XCTAssertEqual(try store.sweepExpired(nowUnixMs: StoreFixture.t0), 0)
        try store.commit()
        store.close()
        let db = try SQLiteConnection(path: dbPath)
        XCTAssertEqual(try db.run("SELECT COUNT(*) FROM jobs").first?.int(0), 1)
        XCTAssertEqual(try db.run("SELECT name FROM sqlite_master WHERE name IN ('records_by_job', 'records_by_kind')").count, 0)
        XCTAssertEqual(try db.run("SELECT name FROM sqlite_master WHERE name = 'records_by_expiry'").count, 1)
        db.close()
    }

    func testRefusesADatabaseFromANewerBuild() throws {
        do {
            let s = try NodeStore(path: dbPath)
            s.close()
            let db = try SQLiteConnection(path: dbPath)
            try db.run("UPDATE schema_version SET version = 99")
            db.close()
        }
        XCTAssertThrowsError(try NodeStore(path: dbPath)) { e in
            XCTAssertEqual(e as? StoreError, .schemaTooNew(found: 99, supported: NodeStore.schemaVersion))
        }
    }

    func testErrorsNameTheSQLOperation() throws {
        let store = try NodeStore(path: dbPath)
        store.close()
        XCTAssertThrowsError(try store.job(id: Hash.of([1]))) { XCTAssertEqual($0 as? StoreError, .closed) }
        let db = try SQLiteConnection(path: dbPath)
        XCTAssertThrowsError(try db.run("SELECT nope FROM nowhere")) { e in
            guard case let .sqlite(op, _, message)? = e as? StoreError else { return XCTFail("\(e)") }
            XCTAssertTrue(op.hasPrefix("prepare SELECT nope FROM nowhere"), op)
            XCTAssertTrue(message.contains("no such table"), message)
        }
        db.close()
    }

    func testWALModeIsOn() throws {
        let store = try NodeStore(path: dbPath)
        store.close()
        let db = try SQLiteConnection(path: dbPath)
        XCTAssertEqual(try db.run("PRAGMA journal_mode").first?.text(0), "wal")
        db.close()
    }
}
