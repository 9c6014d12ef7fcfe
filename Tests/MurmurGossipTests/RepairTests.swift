import XCTest
import MurmurCore
import MurmurGossip
import MurmurWire

/// Repair paths added for coverage under loss and crashes, the short-view rules, and `leave`
/// (Specs/gossip.md §3, §4).
final class RepairTests: XCTestCase {
    /// A node with active peers `peers` (joined through `join` at time zero).
    func makeNode(peers: [Int], config: GossipConfig = GossipConfig()) -> GossipNode {
        var c = config
        c.announceInterval = nil
        var node = GossipNode(me: PeerRef(id: nodeID(1), address: "t:1"), seeds: [], config: c, rng: SeededRNG(seed: 5), unixMsAtZero: testEpochMs)
        _ = node.handle(.start, now: .zero)
        for p in peers {
            _ = node.handle(.linkUp(peer: nodeID(p), address: "in:\(p)", outbound: false), now: .zero)
            _ = node.handle(.message(from: nodeID(p), .join(address: "t:\(p)")), now: .zero)
        }
        return node
    }

    func sends(_ fx: [GossipEffect]) -> [(NodeID, GossipMessage)] {
        fx.compactMap { if case let .send(to, m) = $0 { return (to, m) } else { return nil } }
    }

    func graftTimer(_ fx: [GossipEffect]) -> Instant? {
        for e in fx { if case let .setTimer(.graft, at) = e { return at } }
        return nil
    }

    /// A new active peer hears of the records delivered recently (and only those), and grafts
    /// such an announcement at once.
    func testNewActivePeerGetsIHaveOfRecentRecords() {
        var node = makeNode(peers: [2])
        let old = testRecord(1), fresh = testRecord(2)
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: old, hops: 1))), now: at(1))
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: fresh, hops: 2))), now: at(20))
        // Peer 3 joins at 25 s: `fresh` (5 s old) is within the 10 s window, `old` (24 s) is not.
        _ = node.handle(.linkUp(peer: nodeID(3), address: "in:3", outbound: false), now: at(25))
        _ = node.handle(.message(from: nodeID(3), .join(address: "t:3")), now: at(25))
        let fx = node.handle(.timer(.ihaveFlush), now: at(25.025))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .ihave([IHaveEntry(id: fresh.id, hops: 3)]) })
        XCTAssertEqual(node.counters.linkUpAnnounced, 1)

        // The other side: an IHave on a link that just joined sets the graft timer to now.
        var other = makeNode(peers: [2])
        _ = other.handle(.linkUp(peer: nodeID(4), address: "in:4", outbound: false), now: at(30))
        _ = other.handle(.message(from: nodeID(4), .join(address: "t:4")), now: at(30))
        let announced = other.handle(.message(from: nodeID(4), .ihave([IHaveEntry(id: fresh.id, hops: 3)])), now: at(30.05))
        XCTAssertEqual(graftTimer(announced), at(30.05))
        // On an old link the usual timeout applies.
        let usual = other.handle(.message(from: nodeID(2), .ihave([IHaveEntry(id: old.id, hops: 3)])), now: at(30.05))
        XCTAssertGreaterThanOrEqual(graftTimer(usual) ?? .zero, at(30.3))
    }

    /// Grafts go to announcers first, then to active peers that did not announce (their eager
    /// push may have been lost while the announcer crashed).
    func testGraftFallsBackToOtherActivePeers() {
        var node = makeNode(peers: [2, 3, 4])
        let r = testRecord(9)
        let fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: r.id, hops: 3)])), now: at(1))
        guard let first = graftTimer(fx) else { return XCTFail("no graft timer") }
        var asked: [NodeID] = []
        var t = first
        for _ in 0..<5 {
            let g = node.handle(.timer(.graft(r.id)), now: t)
            asked += sends(g).filter { $0.1 == .graft([r.id]) }.map(\.0)
            t = t + .milliseconds(Int64(150))
        }
        XCTAssertEqual(asked.first, nodeID(3), "the announcer first")
        XCTAssertEqual(Set(asked), Set([nodeID(2), nodeID(3), nodeID(4)]), "then every other active peer")
        XCTAssertEqual(asked.filter { $0 == nodeID(3) }.count, 3, "alternating with the announcer again")
    }

    /// Below half the target, a node asks with high priority at once; a view short by two asks
    /// with high priority after `shortViewEscalation` declines.
    func testShortViewsAskWithHighPriority() {
        var config = GossipConfig()
        config.failureTimeout = .seconds(Int64(60)) // the test peers never answer keepalives
        // One active peer of five: urgent.
        var node = makeNode(peers: [2], config: config)
        _ = node.handle(.message(from: nodeID(2), .shuffleReply(peers: (10..<14).map { PeerRef(id: nodeID($0), address: "t:\($0)") })), now: at(1))
        var fx = node.handle(.timer(.housekeeping), now: at(1.5))
        let dialled = fx.compactMap { e -> String? in if case let .connect(a, _) = e { return a } else { return nil } }
        XCTAssertFalse(dialled.isEmpty)
        guard let address = dialled.first, let p = Int(address.dropFirst(2)) else { return XCTFail("no dial") }
        fx = node.handle(.linkUp(peer: nodeID(p), address: address, outbound: true), now: at(1.6))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(p) && $0.1 == .neighbor(priority: .high, address: "t:1") })
        XCTAssertGreaterThanOrEqual(node.counters.shortViewEscalations, 1)

        // Three of five (short by two, not urgent): low priority until three declines.
        var short = makeNode(peers: [2, 3, 4], config: config)
        _ = short.handle(.message(from: nodeID(2), .shuffleReply(peers: (20..<30).map { PeerRef(id: nodeID($0), address: "t:\($0)") })), now: at(1))
        var priorities: [NeighborPriority] = []
        var t = 2.0
        for _ in 0..<8 where priorities.count < 5 {
            let tick = short.handle(.timer(.housekeeping), now: at(t))
            for case let .connect(address, _) in tick {
                guard let q = Int(address.dropFirst(2)) else { continue }
                let up = short.handle(.linkUp(peer: nodeID(q), address: address, outbound: true), now: at(t + 0.01))
                for (_, m) in sends(up) { if case let .neighbor(priority, _) = m { priorities.append(priority) } }
                if priorities.last == .low {
                    _ = short.handle(.message(from: nodeID(q), .neighborReply(accepted: false)), now: at(t + 0.02))
                }
            }
            t += 0.5
        }
        XCTAssertEqual(Array(priorities.prefix(3)), [.low, .low, .low])
        XCTAssertTrue(priorities.dropFirst(3).contains(.high), "escalates after three declines: \(priorities)")
    }

    /// `leave` says goodbye to every neighbour and ignores what comes after.
    func testLeaveDisconnectsEveryNeighbour() {
        var node = makeNode(peers: [2, 3])
        var fx = node.handle(.leave, now: at(1))
        XCTAssertEqual(Set(sends(fx).filter { $0.1 == .disconnect }.map(\.0)), Set([nodeID(2), nodeID(3)]))
        let closed = fx.compactMap { e -> NodeID? in if case let .disconnect(p, _) = e { return p } else { return nil } }
        XCTAssertEqual(Set(closed), Set([nodeID(2), nodeID(3)]))
        XCTAssertTrue(node.activeView.isEmpty)
        fx = node.handle(.timer(.housekeeping), now: at(2))
        XCTAssertTrue(fx.isEmpty)
        // The receiving side drops the link at once and does not try to reconnect.
        var peer = makeNode(peers: [2])
        fx = peer.handle(.message(from: nodeID(2), .disconnect), now: at(1))
        XCTAssertTrue(fx.contains { if case .disconnect(nodeID(2), _) = $0 { return true } else { return false } })
        XCTAssertTrue(peer.activeView.isEmpty)
        XCTAssertEqual(peer.counters.failures, 0, "a goodbye is not a failure")
    }
}
