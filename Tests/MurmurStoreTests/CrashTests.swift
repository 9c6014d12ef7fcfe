#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
import MurmurCore
@testable import MurmurStore

/// `kill -9` durability: a child process (this test binary, re-executed on one test method)
/// writes batches and reports each commit; the parent SIGKILLs it at an arbitrary moment —
/// usually in the middle of an open batch — then reopens the database and checks that every
/// reported commit is there, that no batch is half there, and that SQLite's integrity check passes.
final class CrashTests: XCTestCase {
    static let childDBVariable = "MURMUR_STORE_CRASH_CHILD_DB"
    static let batchSize = 10

    func testCommittedBatchesSurviveSIGKILL() throws {
        let dir = StoreFixture.tempDirectory()
        defer { StoreFixture.removeTree(dir) }
        let dbPath = dir + "/state.sqlite"
        let progressPath = dir + "/progress"

        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["MurmurStoreTests.CrashTests/testChildWriterUntilKilled"]
        var env = ProcessInfo.processInfo.environment
        env[Self.childDBVariable] = dbPath
        child.environment = env
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL); child.waitUntilExit() } }

        // Wait (bounded) until the child has committed at least 40 batches, then kill it.
        let deadline = Date().addingTimeInterval(60)
        var reported = 0
        while Date() < deadline && child.isRunning {
            reported = Self.readProgress(progressPath)
            if reported >= 40 { break }
            usleep(5_000)
        }
        XCTAssertTrue(child.isRunning, "child exited early with status \(child.terminationStatus)")
        XCTAssertGreaterThanOrEqual(reported, 40, "child did not make progress in time")
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .uncaughtSignal)
        // Progress is written after COMMIT returns, so it can only lag behind the database.
        let committed = Self.readProgress(progressPath)

        let store = try NodeStore(path: dbPath)
        let peers = try store.peers().count
        let jobs = try store.jobs().count
        XCTAssertGreaterThanOrEqual(jobs, committed, "a reported commit was lost")
        XCTAssertEqual(peers, jobs * (Self.batchSize - 1), "a batch is only partly present")
        store.close()
        let db = try SQLiteConnection(path: dbPath)
        XCTAssertEqual(try db.run("PRAGMA integrity_check").first?.text(0), "ok")
        db.close()
    }

    /// The child's side: does nothing unless started by the test above.
    func testChildWriterUntilKilled() throws {
        guard let dbPath = ProcessInfo.processInfo.environment[Self.childDBVariable] else { return }
        let progressPath = (dbPath as NSString).deletingLastPathComponent + "/progress"
        let store = try NodeStore(path: dbPath, config: .init(maxBatchDelay: .seconds(Int64(3600)), maxBatchOperations: 1_000_000))
        var batch: UInt64 = 0
        while true {
            // One batch: 9 peers and 1 job row, committed together.
            for i in 0..<UInt64(Self.batchSize - 1) {
                let id = NodeID(Bytes32(w0: batch, w1: i, w2: 0, w3: 0))
                try store.enqueue(peer: StoredPeer(node: id, address: "10.0.\(batch % 256).\(i):7400", lastSeen: Int64(batch)))
            }
            try store.enqueue(job: StoredJob(id: Hash(Bytes32(w0: batch, w1: 0, w2: 0, w3: 1)), state: "running", updatedAt: Int64(batch)))
            try store.commit()
            batch += 1
            Self.writeProgress(progressPath, Int(batch))
        }
    }

    static func readProgress(_ path: String) -> Int {
        guard let s = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        return Int(s.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Written to a temp name and renamed, so the parent never reads a half-written number.
    static func writeProgress(_ path: String, _ n: Int) {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        let text = Array("\(n)\n".utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        rename(temp, path)
    }
}
