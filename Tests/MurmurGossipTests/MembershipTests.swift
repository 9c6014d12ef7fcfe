import XCTest
import MurmurCore
import MurmurGossip

final class MembershipTests: XCTestCase {
    func testJoinBuildsSymmetricActiveViews() {
        var mesh = TestMesh()
        _ = mesh.add(seeds: [])
        for i in 1..<12 { _ = mesh.add(seeds: [Int.random(in: 0..<i, using: &rngForTests)]) }
        mesh.run(seconds: 5)
        for i in 0..<12 {
            let view = mesh.nodes[i]!.activeView
            XCTAssertFalse(view.isEmpty, "node \(i) has no neighbours")
            XCTAssertLessThanOrEqual(view.count, 5)
            for p in view {
                let j = mesh.index(p.id)!
                XCTAssertTrue(mesh.nodes[j]!.activeView.contains { $0.id == mesh.ids[i] }, "\(i)→\(j) is one-sided")
            }
        }
    }

    func testShuffleFillsPassiveViews() {
        var mesh = TestMesh()
        _ = mesh.add(seeds: [])
        for i in 1..<16 { _ = mesh.add(seeds: [i - 1]) }
        mesh.run(seconds: 35)
        let withPassive = (0..<16).filter { !mesh.nodes[$0]!.passiveView.isEmpty }.count
        XCTAssertGreaterThanOrEqual(withPassive, 14)
        for i in 0..<16 {
            let active = Set(mesh.nodes[i]!.activeView.map(\.id))
            XCTAssertTrue(mesh.nodes[i]!.passiveView.allSatisfy { !active.contains($0.id) && $0.id != mesh.ids[i] })
        }
    }

    func testFailedPeerIsDetectedAndViewRefilled() {
        var mesh = TestMesh()
        _ = mesh.add(seeds: [])
        for i in 1..<10 { _ = mesh.add(seeds: [0]) }
        mesh.run(seconds: 25)
        let victim = 3
        let dead = mesh.ids[victim]
        mesh.crash(victim)
        mesh.run(seconds: 15)
        for i in 0..<10 where i != victim {
            let view = mesh.nodes[i]!.activeView
            XCTAssertFalse(view.contains { $0.id == dead }, "node \(i) still lists the dead peer")
            XCTAssertGreaterThanOrEqual(view.count, 3, "node \(i) did not refill its active view")
        }
        XCTAssertGreaterThan((0..<10).filter { $0 != victim }.map { mesh.nodes[$0]!.counters.failures }.reduce(0, +), 0)
    }

    /// Lifeguard local health: a node that reports a lagging event loop waits longer before it
    /// declares a silent peer dead.
    func testLocalHealthStretchesFailureTimeout() {
        func silentPeerFailed(lagReports: Int) -> Bool {
            var node = GossipNode(me: PeerRef(id: nodeID(1), address: "t:1"), seeds: [], rng: SeededRNG(seed: 1), unixMsAtZero: testEpochMs)
            _ = node.handle(.start, now: .zero)
            _ = node.handle(.linkUp(peer: nodeID(2), address: "in:2", outbound: false), now: .zero)
            _ = node.handle(.message(from: nodeID(2), .join(address: "t:2")), now: .zero)
            XCTAssertEqual(node.activeView.map(\.id), [nodeID(2)])
            for _ in 0..<lagReports { _ = node.handle(.loopLag(.milliseconds(Int64(500))), now: .zero) }
            let fx = node.handle(.timer(.housekeeping), now: Instant.zero + .seconds(Int64(4)))
            return fx.contains { if case let .disconnect(p, _) = $0 { return p == nodeID(2) } else { return false } }
        }
        XCTAssertTrue(silentPeerFailed(lagReports: 0))
        XCTAssertFalse(silentPeerFailed(lagReports: 2))
    }

    func testHighPriorityNeighborAlwaysAcceptedLowOnlyWithRoom() {
        var config = GossipConfig()
        config.activeViewSize = 1
        var node = GossipNode(me: PeerRef(id: nodeID(1), address: "t:1"), seeds: [], config: config, rng: SeededRNG(seed: 3), unixMsAtZero: testEpochMs)
        _ = node.handle(.start, now: .zero)
        _ = node.handle(.linkUp(peer: nodeID(2), address: "in:2", outbound: false), now: .zero)
        var fx = node.handle(.message(from: nodeID(2), .neighbor(priority: .low, address: "t:2")), now: .zero)
        XCTAssertTrue(fx.contains { if case .send(_, .neighborReply(true)) = $0 { return true } else { return false } })
        _ = node.handle(.linkUp(peer: nodeID(3), address: "in:3", outbound: false), now: .zero)
        fx = node.handle(.message(from: nodeID(3), .neighbor(priority: .low, address: "t:3")), now: .zero)
        XCTAssertTrue(fx.contains { if case .send(_, .neighborReply(false)) = $0 { return true } else { return false } })
        XCTAssertEqual(node.activeView.map(\.id), [nodeID(2)])
        _ = node.handle(.linkUp(peer: nodeID(4), address: "in:4", outbound: false), now: .zero)
        fx = node.handle(.message(from: nodeID(4), .neighbor(priority: .high, address: "t:4")), now: .zero)
        XCTAssertEqual(node.activeView.map(\.id), [nodeID(4)], "high priority evicts")
        XCTAssertTrue(fx.contains { if case .send(nodeID(2), .disconnect) = $0 { return true } else { return false } })
        XCTAssertTrue(node.passiveView.contains { $0.id == nodeID(2) })
    }
}

nonisolated(unsafe) var rngForTests = SeededRNG(seed: 99)
