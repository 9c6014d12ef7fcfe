import XCTest
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurJobs
import MurmurWire
@testable import MurmurNode
@testable import MurmurStore
#if canImport(Glibc)
import Glibc
#endif

/// The node's SQLite persistence (Specs/store.md, "What the node persists"): what the record
/// sink and the jobs hooks write, what a restart reads back and in which order, the job record
/// committed before `persistNow` returns, and a damaged `state.sqlite` moved aside (never a crash).
final class NodePersistenceTests: XCTestCase {
    let client = SigningKey(seed: [UInt8](repeating: 0x31, count: 32))
    let executors = (1...4).map { SigningKey(seed: [UInt8](repeating: UInt8(0x40 + $0), count: 32)) }
    let me = SigningKey(seed: [UInt8](repeating: 0x77, count: 32))
    let model: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
    let output: [UInt8] = Array("output bytes".utf8)

    func tempDir() throws -> String {
        var template = Array("/tmp/murmur-persist-XXXXXX".utf8CString)
        let path = String(cString: try XCTUnwrap(mkdtemp(&template)))
        addTeardownBlock { _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", path]).reap(blocking: true) }
        return path
    }

    var nowMs: Int64 { JobsService.wallNow().unixMs }

    struct Records {
        var manifest: SignedRecord
        var announcement: SignedRecord
        var job: Signed<Job>
        var claims: [SignedRecord]
        var attestations: [Signed<Attestation>]
    }

    /// A job as the mesh sees it: its manifest, an announcement, three claims and three agreeing
    /// attestations, issued a little before now (so they pass the clock rules).
    func records(deadlineIn: Int64 = 30_000) throws -> Records {
        let t = nowMs - 2_000
        let manifest = try ModelManifest(describing: model, name: "m", modelVersion: "1", chunkSize: 4096,
                                         inputs: [TensorSpec(name: "x", dtype: .float32, shape: [1])],
                                         outputs: [TensorSpec(name: "y", dtype: .float32, shape: [1])])
            .signed(by: client, issuedAt: t, expiresAt: t + 3_600_000)
        let announcement = try SignedRecord.sign(NodeAnnouncement(sequence: 1, addresses: ["127.0.0.1:7001"], models: [Hash.of(model)],
                                                                  freeSlots: 2, totalSlots: 2, engineVersion: "test"),
                                                 by: executors[0], issuedAt: t, expiresAt: t + 600_000)
        let job = try Job(modelHash: Hash.of(model), input: [1, 2, 3], redundancy: 3, quorum: 2, deadline: t + deadlineIn,
                          nonce: [UInt8](repeating: 9, count: 16)).signed(by: client, issuedAt: t, expiresAt: t + deadlineIn + 600_000)
        var claims: [SignedRecord] = []
        var attestations: [Signed<Attestation>] = []
        for i in 0..<3 {
            claims.append(try Claim(jobID: job.id, leaseExpiry: t + 10_000, stage: 0, rank: UInt16(i))
                .signed(by: executors[i], issuedAt: t + 100, expiresAt: job.expiresAt).envelope)
            attestations.append(try Attestation(job: job, output: output, engineVersion: "test", elapsedMicros: 5, stage: 0)
                .signed(by: executors[i], issuedAt: t + 200, expiresAt: t + 3_600_000))
        }
        return Records(manifest: manifest.envelope, announcement: announcement, job: job, claims: claims, attestations: attestations)
    }

    func open(_ dir: String, loop: EventLoop) throws -> (NodePersistence, NodePersistence.Replay) {
        try NodePersistence.open(dataDirectory: dir, localNode: me.publicKey, loop: loop, nowUnixMs: nowMs)
    }

    func testRecordsJobStatesExclusionsAndPeersComeBackInReplayOrder() throws {
        let dir = try tempDir()
        let loop = try EventLoop()
        let r = try records()
        do {
            let (p, replay) = try open(dir, loop: loop)
            XCTAssertTrue(replay.records.isEmpty)
            XCTAssertNil(replay.movedAside)
            // Delivered in gossip's order, not the replay order.
            for a in r.attestations.reversed() { p.recordDelivered(a.envelope, hops: 2, path: .broadcast) }
            for c in r.claims { p.recordDelivered(c, hops: 1, path: .graft) }
            p.recordDelivered(r.job.envelope, hops: 1, path: .broadcast)
            p.recordDelivered(r.announcement, hops: 1, path: .antiEntropy)
            p.recordDelivered(r.manifest, hops: 3, path: .broadcast)
            p.recordDelivered(r.manifest, hops: 3, path: .broadcast) // idempotent
            p.recordForgotten(r.claims[2].id)
            let result = JobResult(restoring: r.attestations[0].body.outputHash, attestations: r.attestations, disputed: false)
            p.jobStateChanged(r.job.id, .running, output: nil)
            p.jobStateChanged(r.job.id, .verified(result), output: output)
            p.nodeExcluded(executors[3].publicKey, evidence: r.attestations[1].id)
            // What a later replay past the deadline reports must not overwrite the outcome.
            p.jobStateChanged(r.job.id, .failed(.seenAfterDeadline), output: nil)
            p.close() // commits the open batch
        }
        let (p, replay) = try open(dir, loop: loop)
        defer { p.close() }
        XCTAssertEqual(replay.refused, 0)
        XCTAssertEqual(replay.records.map(\.envelope.kind), [.modelManifest, .nodeAnnouncement, .job, .claim, .claim,
                                                             .attestation, .attestation, .attestation])
        XCTAssertFalse(replay.records.contains { $0.envelope.id == r.claims[2].id }, "a forgotten record was replayed")
        guard case let .verified(restored)? = replay.finalStates[r.job.id] else {
            return XCTFail("verified state not restored: \(String(describing: replay.finalStates[r.job.id]))")
        }
        XCTAssertEqual(restored.attestations.map(\.id), r.attestations.map(\.id))
        XCTAssertEqual(restored.outputHash, Hash.of(output))
        XCTAssertEqual(replay.excluded, [executors[3].publicKey])
        XCTAssertEqual(replay.peerAddresses, ["127.0.0.1:7001"])
    }

    func testAcceptedJobRecordIsCommittedBeforeReturningOthersWithinABatch() throws {
        let dir = try tempDir()
        let loop = try EventLoop()
        let r = try records()
        let (p, _) = try open(dir, loop: loop)
        defer { p.close() }
        // A second connection sees only committed data.
        let reader = try NodeStore(path: dir + "/state.sqlite")
        defer { reader.close() }
        p.recordDelivered(r.claims[0], hops: 1, path: .broadcast)
        XCTAssertNil(try reader.record(id: r.claims[0].id), "a delivered record is batched, not committed at once")
        try p.persistNow(r.job.envelope)
        XCTAssertNotNil(try reader.record(id: r.job.id), "persistNow returned before the job record was committed")
        // Its local publication right after is not written (and committed) a second time.
        let written = p.counters.recordsWritten, syncCommits = p.counters.syncCommits
        p.recordPublishedLocally(r.job.envelope)
        XCTAssertEqual(p.counters.recordsWritten, written)
        XCTAssertEqual(p.counters.syncCommits, syncCommits)
        // The local-publish path (the control endpoint's submit) commits a job record too.
        let other = try Job(modelHash: Hash.of(model), input: [4], redundancy: 1, quorum: 1, deadline: nowMs + 10_000,
                            nonce: [UInt8](repeating: 1, count: 16)).signed(by: me, issuedAt: nowMs, expiresAt: nowMs + 600_000)
        p.recordPublishedLocally(other.envelope)
        XCTAssertNotNil(try reader.record(id: other.id))
        // The batch timer commits the rest without anyone asking.
        p.recordDelivered(r.claims[1], hops: 1, path: .broadcast)
        let deadline = Posix.monotonicNanoseconds() + 2_000_000_000
        while try reader.record(id: r.claims[1].id) == nil && Posix.monotonicNanoseconds() < deadline {
            try loop.runOnce(maxWait: .milliseconds(Int64(10)))
        }
        XCTAssertNotNil(try reader.record(id: r.claims[1].id), "the batch was not committed by its timer")
    }

    func testGarbageOrTruncatedStateIsMovedAsideAndANewerSchemaIsRefused() throws {
        let loop = try EventLoop()
        // Not a database at all.
        let garbage = try tempDir()
        try Data(repeating: 0x5A, count: 10_000).write(to: URL(fileURLWithPath: garbage + "/state.sqlite"))
        do {
            let (p, replay) = try open(garbage, loop: loop)
            defer { p.close() }
            XCTAssertNotNil(replay.movedAside)
            XCTAssertTrue(replay.records.isEmpty)
            try p.persistNow(try records().job.envelope) // the fresh store works
            let names = try FileManager.default.contentsOfDirectory(atPath: garbage)
            XCTAssertTrue(names.contains { $0.hasPrefix("state.sqlite.corrupt-") }, "\(names)")
        }
        // A real database cut in half (a bad copy, a full disk): never a crash; either what is
        // still readable comes back or it is moved aside.
        let cut = try tempDir()
        do {
            let (p, _) = try open(cut, loop: loop)
            for i in 0..<200 {
                let job = try Job(modelHash: Hash.of(model), input: Array(repeating: UInt8(truncatingIfNeeded: i), count: 600), redundancy: 1,
                                  quorum: 1, deadline: nowMs + 20_000, nonce: [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 16))
                    .signed(by: client, issuedAt: nowMs, expiresAt: nowMs + 600_000)
                p.recordDelivered(job.envelope, hops: 1, path: .broadcast)
            }
            p.close()
        }
        let path = cut + "/state.sqlite"
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertGreaterThan(size, 8192)
        XCTAssertEqual(truncate(path, off_t(size / 2)), 0)
        let (p, replay) = try open(cut, loop: loop)
        XCTAssertTrue(replay.movedAside != nil || replay.records.count < 200, "\(replay.records.count) records from half a file")
        p.close()

        // A database from a newer murmur: a clear error, nothing moved or changed.
        let newer = try tempDir()
        do {
            NodeStore.closeQuietly(try NodeStore(path: newer + "/state.sqlite"))
            let db = try SQLiteConnection(path: newer + "/state.sqlite")
            try db.run("UPDATE schema_version SET version = 99")
            db.close()
        }
        XCTAssertThrowsError(try open(newer, loop: loop)) { error in
            XCTAssertTrue("\(error)".contains("upgrade murmur"), "\(error)")
        }
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: newer).contains { $0.contains("corrupt") })
    }

    /// An input too large for the job record is committed with it (the entry node promised it to
    /// the executors), comes back on a restart while the job is open, and not once it is final.
    func testOfferedInputSurvivesARestartWhileItsJobIsOpen() throws {
        let dir = try tempDir()
        let loop = try EventLoop()
        let input = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let t = nowMs - 1_000
        func job(_ nonce: UInt8) throws -> Signed<Job> {
            try Job(modelHash: Hash.of(model), inputHash: Hash.of(input + [nonce]), inputSize: UInt64(input.count + 1), inlineInput: nil,
                    redundancy: 3, quorum: 2, deadline: t + 30_000, nonce: [UInt8](repeating: nonce, count: 16))
                .signed(by: me, issuedAt: t, expiresAt: t + 630_000)
        }
        let open = try job(1), done = try job(2)
        do {
            let (p, _) = try self.open(dir, loop: loop)
            try p.persistNow(open.envelope, blob: input + [1])
            try p.persistNow(done.envelope, blob: input + [2])
            p.jobStateChanged(done.id, .failed(.noExecutors), output: nil)
            p.close()
        }
        let (p, replay) = try self.open(dir, loop: loop)
        defer { p.close() }
        XCTAssertEqual(replay.outputs[open.body.inputHash].map(Hash.of), open.body.inputHash, "the open job's input was lost in the restart")
        XCTAssertNil(replay.outputs[done.body.inputHash], "a finished job's input is not offered again")
    }

    func testRestoredFinalStateWinsOverAReplayPastTheDeadline() throws {
        let dir = try tempDir()
        let loop = try EventLoop()
        let node = Node(loop: loop, identity: me, networkKey: .default, config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        let workers = WorkQueue(threads: 1, capacity: 4)
        defer { workers.stop() }
        let jobs = JobsService(identity: me, node: node, store: try ModelStore(dataDirectory: dir), workers: workers, slots: 1,
                               excluded: [executors[3].publicKey])
        try node.host(jobs)
        XCTAssertEqual(jobs.jobs.excluded, [executors[3].publicKey])
        // A job whose deadline has passed: the machine alone reads `seenAfterDeadline`.
        let r = try records(deadlineIn: 1_000)
        jobs.enqueue(r.job.envelope)
        for a in r.attestations { jobs.enqueue(a.envelope) }
        try loop.runOnce(maxWait: .zero)
        XCTAssertEqual(jobs.state(of: r.job.id), .failed(.seenAfterDeadline))
        let result = JobResult(restoring: Hash.of(output), attestations: r.attestations, disputed: false)
        jobs.restore(finalStates: [r.job.id: .verified(result)], outputs: [Hash.of(output): output])
        XCTAssertEqual(jobs.state(of: r.job.id), .verified(result))
        XCTAssertEqual(jobs.output(Hash.of(output)), output)
    }
}

extension NodeStore {
    static func closeQuietly(_ store: NodeStore) { store.close() }
}
