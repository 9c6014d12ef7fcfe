import Foundation
import XCTest
import MurmurCore
import MurmurWire
@testable import MurmurStore

/// Throughput figures for the report, not assertions (speed is not a test). Runs only with
/// MURMUR_MEASURE=1, in release:
/// `MURMUR_MEASURE=1 swift test -c release -Xswiftc -enable-testing --filter StoreMeasurements`
final class StoreMeasurements: XCTestCase {
    func testMeasureBatchedWrites() throws {
        guard ProcessInfo.processInfo.environment["MURMUR_MEASURE"] == "1" else { return }
        let dir = StoreFixture.tempDirectory()
        defer { StoreFixture.removeTree(dir) }
        let store = try NodeStore(path: dir + "/state.sqlite")

        // Distinct signed records (signing outside the timed part).
        var records: [Record] = []
        for i in 0..<20_000 {
            let job = try StoreFixture.job(nonce: UInt8(i & 0xff), issuedAt: StoreFixture.t0 + Int64(i))
            records.append(.job(job))
        }
        var t = Date()
        var now = Instant(nanoseconds: 0)
        for r in records {
            try store.enqueue(record: r)
            now = now + .microseconds(Int64(10))
            try store.commitIfDue(now: now)
        }
        try store.commit()
        let recordRate = Double(records.count) / Date().timeIntervalSince(t)

        t = Date()
        let n = 100_000
        for i in 0..<n {
            try store.enqueue(peer: StoredPeer(node: NodeID(Bytes32(w0: UInt64(i), w1: 0, w2: 0, w3: 0)), address: "10.0.0.1:7400", lastSeen: Int64(i)))
            if i % 512 == 511 { try store.commit() }
        }
        try store.commit()
        let peerRate = Double(n) / Date().timeIntervalSince(t)

        t = Date()
        let commits = 2_000
        for i in 0..<commits {
            try store.enqueue(job: StoredJob(id: Hash(Bytes32(w0: UInt64(i), w1: 1, w2: 0, w3: 0)), state: "running", updatedAt: 1))
            try store.commit()
        }
        let commitMicros = Date().timeIntervalSince(t) / Double(commits) * 1e6

        t = Date()
        let all = try store.unexpiredRecords(nowUnixMs: StoreFixture.t0)
        let replayRate = Double(all.count) / Date().timeIntervalSince(t)
        print("store: \(Int(recordRate)) record inserts/s (batched, 512/commit or 20 ms); \(Int(peerRate)) peer upserts/s (512/commit); "
              + "\(Int(commitMicros)) µs per single-row commit (WAL, synchronous=NORMAL); replay \(Int(replayRate)) records/s (\(all.count) decoded + signature-checked)")
    }
}
