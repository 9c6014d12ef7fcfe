import XCTest
import MurmurCore
import MurmurGossip
import MurmurWire

final class AntiEntropyTests: XCTestCase {
    /// Two nodes that hold different records (more than fit one id list, so ranges are split)
    /// end up with the union after anti-entropy, without any broadcast.
    func testReconciliationConvergesToTheUnion() {
        var config = GossipConfig()
        config.antiEntropyMinAge = .zero
        var mesh = TestMesh()
        let a = mesh.add(seeds: [], config: config)
        mesh.run(seconds: 0.1)
        let onlyA = (0..<300).map { testRecord($0) }
        let onlyB = (1000..<1040).map { testRecord($0, kind: .attestation) }
        let both = (2000..<2100).map { testRecord($0) }
        for r in onlyA + both { mesh.publish(r, at: a) }
        mesh.run(seconds: 0.1)
        let b = mesh.add(seeds: [], config: config)
        for r in onlyB + both { mesh.publish(r, at: b) }
        mesh.run(seconds: 0.1)
        // Link them only now (as after a partition heals).
        mesh.queue.append((b, .timer(.housekeeping)))
        mesh.apply([.connect(address: "t:\(a)", expected: nil)], from: b)
        var fx: [GossipEffect] = []
        _ = fx
        mesh.run(seconds: 0.1)
        // b dialled a without a purpose: make it a neighbour explicitly.
        mesh.queue.append((a, .message(from: mesh.ids[b], .neighbor(priority: .high, address: "t:\(b)"))))
        mesh.run(seconds: 0.1)
        mesh.queue.append((b, .message(from: mesh.ids[a], .neighborReply(accepted: true))))
        mesh.run(seconds: 12)
        let expected = Set((onlyA + onlyB + both).map(\.id))
        for n in [a, b] {
            XCTAssertEqual(expected.filter { mesh.nodes[n]!.hasRecord($0) }.count, expected.count, "node \(n) incomplete")
        }
        XCTAssertGreaterThan(mesh.nodes[a]!.counters.antiEntropyRounds + mesh.nodes[b]!.counters.antiEntropyRounds, 0)
        fx = []
    }

    func testRangesPartitionIDsAndFingerprintsAgree() {
        var store = RecordStore()
        let records = (0..<200).map { testRecord($0) }
        for r in records { _ = store.insert(r, hops: 0) }
        let whole = IDRange.whole(.job)
        XCTAssertEqual(store.ids(in: whole).count, 200)
        var total = 0
        for child in whole.children {
            let ids = store.ids(in: child)
            XCTAssertTrue(ids.allSatisfy { child.contains($0) })
            total += ids.count
            for grandchild in child.children { XCTAssertTrue(store.ids(in: grandchild).allSatisfy { grandchild.contains($0) }) }
        }
        XCTAssertEqual(total, 200)
        XCTAssertEqual(store.fingerprint(whole).hash, RecordStore.fingerprint(of: records.map(\.id).sorted()).hash)
        XCTAssertEqual(store.fingerprint(IDRange.whole(.claim)).count, 0)
        // Records issued after the cutoff are left out.
        XCTAssertEqual(store.ids(in: whole, issuedBefore: testEpochMs - 120_000).count, 0)
    }
}
