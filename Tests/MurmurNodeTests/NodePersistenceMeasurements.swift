import Foundation
import XCTest
import MurmurCore
import MurmurCrypto
import MurmurJobs
import MurmurWire
@testable import MurmurNode
@testable import MurmurStore

/// Figures for the report, not assertions. Runs only with MURMUR_MEASURE=1, in release:
/// `MURMUR_MEASURE=1 swift test -c release -Xswiftc -enable-testing --filter NodePersistenceMeasurements`
final class NodePersistenceMeasurements: XCTestCase {
    func testMeasurePersistAndReplay() throws {
        guard ProcessInfo.processInfo.environment["MURMUR_MEASURE"] == "1" else { return }
        var template = Array("/tmp/murmur-persist-measure-XXXXXX".utf8CString)
        let dir = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", dir]).reap(blocking: true) }
        let me = SigningKey()
        let client = SigningKey()
        let executor = SigningKey()
        let now = JobsService.wallNow().unixMs
        let n = 20_000
        let model = Hash.of([1, 2, 3])
        // Jobs and one claim each by another node (signing outside the timed parts).
        var records: [SignedRecord] = []
        for i in 0..<n / 2 {
            var nonce = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: UInt64(i).bigEndian) { nonce.replaceSubrange(0..<8, with: $0) }
            let job = try Job(modelHash: model, input: [UInt8](repeating: 7, count: 64), redundancy: 3, quorum: 2, deadline: now + 60_000,
                              nonce: nonce).signed(by: client, issuedAt: now - 1000, expiresAt: now + 600_000)
            records.append(job.envelope)
            records.append(try Claim(jobID: job.id, leaseExpiry: now + 9_000, stage: 0, rank: 0)
                .signed(by: executor, issuedAt: now - 900, expiresAt: job.expiresAt).envelope)
        }
        let loop = try EventLoop()

        // Synchronous commits of accepted job records (the 202 path).
        var (p, _) = try NodePersistence.open(dataDirectory: dir, localNode: me.publicKey, loop: loop, nowUnixMs: now)
        var t = Date()
        let syncN = 1000
        for r in records.prefix(syncN * 2) where r.kind == .job { try p.persistNow(r) }
        let syncMicros = Date().timeIntervalSince(t) / Double(syncN) * 1e6

        // Delivered records: batched by the loop timer (20 ms or 512 writes).
        t = Date()
        for r in records.dropFirst(syncN * 2) { p.recordDelivered(r, hops: 1, path: .broadcast) }
        while p.store.pendingOperations > 0 { try loop.runOnce(maxWait: .milliseconds(Int64(5))) }
        let deliveredRate = Double(records.count - syncN * 2) / Date().timeIntervalSince(t)
        p.close()

        // Restart: open + read back (decode, validate, signature check).
        t = Date()
        let replay: NodePersistence.Replay
        (p, replay) = try NodePersistence.open(dataDirectory: dir, localNode: me.publicKey, loop: loop, nowUnixMs: JobsService.wallNow().unixMs)
        let readMs = Date().timeIntervalSince(t) * 1000

        // Feeding a started node: gossip store (local publish path) + jobs machine.
        let node = Node(loop: loop, identity: me, networkKey: .random(), config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        let gossip = GossipService(identity: me, config: GossipServiceConfig())
        let workers = WorkQueue(threads: 1, capacity: 4)
        defer { workers.stop() }
        let jobs = JobsService(identity: me, node: node, store: try ModelStore(dataDirectory: dir), workers: workers, slots: 1)
        try node.host(gossip)
        try node.host(jobs)
        try node.start()
        t = Date()
        p.replay(replay, node: node, gossip: gossip, jobs: jobs, transfer: nil)
        try loop.runOnce(maxWait: .zero) // the jobs machine drains its queue
        let feedMs = Date().timeIntervalSince(t) * 1000
        p.close()
        node.shutdown()
        print("persistence: \(Int(syncMicros)) µs per synchronously committed job record (persistNow, the 202 path); "
              + "\(Int(deliveredRate)) delivered records/s persisted (batched); restart with \(replay.records.count) records: "
              + "read+validate \(Int(readMs)) ms, feed gossip+jobs \(Int(feedMs)) ms (jobs machine tracks \(jobs.jobs.trackedJobs) jobs)")
    }
}
