import XCTest
import MurmurCore
import MurmurGossip
import MurmurWire

final class BroadcastTests: XCTestCase {
    /// A node with active peers 2 and 3 (both eager, joined through `join`).
    func makeNode(config: GossipConfig = GossipConfig()) -> GossipNode {
        var c = config
        c.announceInterval = nil
        var node = GossipNode(me: PeerRef(id: nodeID(1), address: "t:1"), seeds: [], config: c, rng: SeededRNG(seed: 5), unixMsAtZero: testEpochMs)
        _ = node.handle(.start, now: .zero)
        for p in [2, 3] {
            _ = node.handle(.linkUp(peer: nodeID(p), address: "in:\(p)", outbound: false), now: .zero)
            _ = node.handle(.message(from: nodeID(p), .join(address: "t:\(p)")), now: .zero)
        }
        return node
    }

    func sends(_ fx: [GossipEffect]) -> [(NodeID, GossipMessage)] {
        fx.compactMap { if case let .send(to, m) = $0 { return (to, m) } else { return nil } }
    }

    func testEagerPushThenPruneOnDuplicate() {
        var node = makeNode()
        let r = testRecord(1)
        var fx = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: r, hops: 1))), now: at(1))
        XCTAssertTrue(fx.contains { if case let .deliver(d, 1, .broadcast) = $0 { return d.id == r.id } else { return false } })
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .gossip(HoppedRecord(record: r, hops: 2)) })
        XCTAssertFalse(sends(fx).contains { $0.0 == nodeID(2) }, "never echoed to the sender")
        // The same record from 3 is a duplicate: 3 (which never delivered anything first) is pruned.
        fx = node.handle(.message(from: nodeID(3), .gossip(HoppedRecord(record: r, hops: 4))), now: at(2))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .prune })
        XCTAssertFalse(fx.contains { if case .deliver = $0 { return true } else { return false } })
        XCTAssertEqual(node.lazyPeers, [nodeID(3)])
        XCTAssertEqual(node.counters.duplicates, 1)
        // The next record reaches 3 lazily, as a batched IHave.
        let r2 = testRecord(2)
        fx = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: r2, hops: 1))), now: at(3))
        XCTAssertFalse(sends(fx).contains { $0.0 == nodeID(3) })
        XCTAssertTrue(fx.contains { if case .setTimer(.ihaveFlush, _) = $0 { return true } else { return false } })
        fx = node.handle(.timer(.ihaveFlush), now: at(3.025))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .ihave([IHaveEntry(id: r2.id, hops: 2)]) })
    }

    /// Author trees grown from the shared tree (`authorTreeAfter`): from the author's second
    /// record on, a shorter `IHave` moves the parent (`GraftTree` to the announcer, `PruneTree`
    /// to the old parent) without touching the shared tree, and the next record from the old
    /// parent is a duplicate that prunes only that author's pushes.
    func testAuthorTreeSwitchesToShorterParent() {
        var c = GossipConfig()
        c.authorTreeAfter = 2
        var node = makeNode(config: c)
        let author = testKey(200).publicKey
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: testRecord(1), hops: 5))), now: at(1))
        let r2 = testRecord(2)
        var fx = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: r2, hops: 6))), now: at(2))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .gossip(HoppedRecord(record: r2, hops: 7)) }, "the tree starts as the shared one")
        // Peer 3 announces the record 3 hops closer to the author.
        fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: r2.id, hops: 3)])), now: at(2.1))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .graftTree(author: author) })
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(2) && $0.1 == .pruneTree(author: author) })
        XCTAssertEqual(Set(node.eagerPeers), [nodeID(2), nodeID(3)], "the shared tree is unchanged")
        // A longer announcement afterwards changes nothing.
        fx = node.handle(.message(from: nodeID(2), .ihave([IHaveEntry(id: r2.id, hops: 3)])), now: at(2.2))
        XCTAssertTrue(sends(fx).isEmpty)
        // The next record comes from 3; a late copy from 2 gets a per-author prune, not a shared one.
        let r3 = testRecord(3)
        fx = node.handle(.message(from: nodeID(3), .gossip(HoppedRecord(record: r3, hops: 4))), now: at(3))
        XCTAssertFalse(sends(fx).contains { $0.0 == nodeID(3) && $0.1.carriesPayload }, "no push back to the parent")
        fx = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: r3, hops: 7))), now: at(3.1))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(2) && $0.1 == .pruneTree(author: author) })
        XCTAssertFalse(sends(fx).contains { $0.1 == .prune })
        // Another author's records still follow the shared tree.
        let other = testRecord(4, author: testKey(201))
        fx = node.handle(.message(from: nodeID(3), .gossip(HoppedRecord(record: other, hops: 2))), now: at(4))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(2) && $0.1 == .gossip(HoppedRecord(record: other, hops: 3)) })
    }

    /// A lost graft (or a lost answer) is retried at the announcer, alternating with other
    /// active peers, before the record is left to anti-entropy.
    func testGraftRetriesTheOnlyAnnouncer() {
        var node = makeNode()
        let r = testRecord(9)
        var fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: r.id, hops: 2)])), now: at(1))
        var targets: [NodeID] = []
        var t = at(1)
        for _ in 0..<GossipConfig().graftAttempts {
            guard case let .setTimer(.graft, next)? = fx.first(where: { if case .setTimer(.graft, _) = $0 { return true } else { return false } }) else { break }
            t = next
            fx = node.handle(.timer(.graft(r.id)), now: t)
            targets += sends(fx).compactMap { $0.1 == .graft([r.id]) ? $0.0 : nil }
        }
        XCTAssertEqual(targets.count, GossipConfig().graftAttempts)
        XCTAssertGreaterThanOrEqual(targets.filter { $0 == nodeID(3) }.count, 3, "the announcer is asked again")
        XCTAssertTrue(targets.contains(nodeID(2)), "the other active peer is asked too")
    }

    /// The graft wait adapts to the tree: a push that arrives 200 ms after the first `IHave` of
    /// its record makes the node wait 2 × 200 ms (`graftWaitFactor`) before grafting the next one,
    /// instead of grafting a record whose push is on its way (a copy, and a cycle in the tree).
    func testGraftWaitGrowsWithThePushLag() {
        func graftTimer(_ fx: [GossipEffect]) -> Instant? {
            for e in fx { if case let .setTimer(.graft, t) = e { return t } }
            return nil
        }
        var node = makeNode()
        let first = testRecord(21), second = testRecord(22)
        var fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: first.id, hops: 2)])), now: at(1))
        let early = try? XCTUnwrap(graftTimer(fx))
        XCTAssertLessThanOrEqual(early ?? at(9), at(1) + GossipConfig().graftTimeout * 1.5, "no push seen yet: the base wait")
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: first, hops: 6))), now: at(1.2))
        fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: second.id, hops: 2)])), now: at(2))
        let later = try? XCTUnwrap(graftTimer(fx))
        XCTAssertGreaterThanOrEqual(later ?? .zero, at(2.4))
        XCTAssertLessThanOrEqual(later ?? at(9), at(2.6))
        // A graft sent too early is measured too: the push that comes anyway is a lag sample.
        var fixed = GossipConfig()
        fixed.graftTimeoutMax = fixed.graftTimeout
        node = makeNode(config: fixed)
        fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: first.id, hops: 2)])), now: at(1))
        _ = node.handle(.timer(.graft(first.id)), now: at(1.3))
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: first, hops: 6))), now: at(1.6))
        fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: second.id, hops: 2)])), now: at(2))
        XCTAssertLessThanOrEqual(graftTimer(fx) ?? at(9), at(2) + fixed.graftTimeout * 1.5, "graftTimeoutMax = graftTimeout: a fixed wait")
        node = makeNode()
        _ = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: first.id, hops: 2)])), now: at(1))
        _ = node.handle(.timer(.graft(first.id)), now: at(1.3))
        _ = node.handle(.message(from: nodeID(3), .gossip(HoppedRecord(record: first, hops: 3))), now: at(1.35))
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: first, hops: 6))), now: at(1.45))
        fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: second.id, hops: 2)])), now: at(2))
        // 2 × the 450 ms lag of the push that followed the graft, capped at `graftTimeoutMax`.
        XCTAssertGreaterThanOrEqual(graftTimer(fx) ?? .zero, at(2) + GossipConfig().graftTimeoutMax)
    }

    /// `eagerFloodExtra`: at hop H + 1 a lazy link gets the record itself with this probability
    /// (1: always, 0: an `IHave`), and that copy does not make the link eager.
    func testFloodExtraPushesOnLazyLinksAtTheNextHop() {
        for extra in [0.0, 1.0] {
            var c = GossipConfig()
            c.eagerFloodHops = 1
            c.eagerFloodExtra = extra
            c.authorTreeAfter = 0
            var node = makeNode(config: c)
            _ = node.handle(.message(from: nodeID(3), .prune), now: at(1))
            XCTAssertFalse(node.eagerPeers.contains(nodeID(3)))
            let r = testRecord(31)
            let fx = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: r, hops: 1))), now: at(2))
            XCTAssertEqual(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .gossip(HoppedRecord(record: r, hops: 2)) }, extra == 1, "extra \(extra)")
            // A copy at hop H + 1 arriving first on a lazy link leaves it lazy.
            let r2 = testRecord(32)
            _ = node.handle(.message(from: nodeID(3), .gossip(HoppedRecord(record: r2, hops: 2))), now: at(3))
            XCTAssertEqual(node.eagerPeers.contains(nodeID(3)), extra == 0, "extra \(extra)")
        }
    }

    func testPruneIsRefusedWhileTheLinkCarriesFirstDeliveries() {
        var node = makeNode()
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: testRecord(1), hops: 1))), now: at(1))
        let fx = node.handle(.message(from: nodeID(2), .prune), now: at(1.05))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(2) && $0.1 == .graft([]) })
        XCTAssertTrue(node.eagerPeers.contains(nodeID(2)))
        _ = node.handle(.message(from: nodeID(2), .prune), now: at(5))
        XCTAssertFalse(node.eagerPeers.contains(nodeID(2)))
    }

    func testGraftAfterTimeoutForMissingRecordAndAnswerToGraft() {
        var node = makeNode()
        let r = testRecord(7)
        var fx = node.handle(.message(from: nodeID(3), .ihave([IHaveEntry(id: r.id, hops: 3)])), now: at(1))
        guard case let .setTimer(.graft(id), at)? = fx.first(where: { if case .setTimer(.graft, _) = $0 { return true } else { return false } }) else {
            return XCTFail("no graft timer")
        }
        XCTAssertEqual(id, r.id)
        fx = node.handle(.timer(.graft(r.id)), now: at)
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(3) && $0.1 == .graft([r.id]) })
        XCTAssertTrue(node.eagerPeers.contains(nodeID(3)))
        // Once the record arrives the timer is stale and does nothing.
        _ = node.handle(.message(from: nodeID(3), .gossip(HoppedRecord(record: r, hops: 4))), now: at + .milliseconds(Int64(10)))
        fx = node.handle(.timer(.graft(r.id)), now: at + .seconds(Int64(1)))
        XCTAssertTrue(sends(fx).isEmpty)
        // A graft from a peer is answered with the record.
        fx = node.handle(.message(from: nodeID(2), .graft([r.id])), now: at + .seconds(Int64(2)))
        XCTAssertTrue(sends(fx).contains { $0.0 == nodeID(2) && $0.1 == .gossip(HoppedRecord(record: r, hops: 5)) })
    }

    func testExpiredRecordsAreDroppedAndForgotten() {
        var node = makeNode()
        let stale = testRecord(1, lifeMs: -1)
        var fx = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: stale, hops: 1))), now: at(1))
        XCTAssertFalse(fx.contains { if case .deliver = $0 { return true } else { return false } })
        XCTAssertTrue(sends(fx).isEmpty, "expired records are not relayed")
        XCTAssertEqual(node.counters.droppedExpired, 1)
        let shortLived = testRecord(2, lifeMs: 10_000)
        _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: shortLived, hops: 1))), now: at(1))
        XCTAssertTrue(node.hasRecord(shortLived.id))
        fx = node.handle(.timer(.housekeeping), now: at(20))
        XCTAssertFalse(node.hasRecord(shortLived.id))
        XCTAssertTrue(fx.contains { if case let .forget(id) = $0 { return id == shortLived.id } else { return false } })
    }

    func testSeenCacheIsBounded() {
        var cache = SeenCache(capacity: 4)
        let ids = (0..<10).map { testRecord($0).id }
        for id in ids { cache.insert(id) }
        XCTAssertEqual(cache.count, 4)
        XCTAssertEqual(cache.evictions, 6)
        XCTAssertFalse(cache.contains(ids[0]))
        XCTAssertTrue(cache.contains(ids[9]))
        XCTAssertFalse(cache.insert(ids[9]))
    }

    func testRecordStoreIsBounded() {
        var node = GossipNode(me: PeerRef(id: nodeID(1), address: "t:1"), seeds: [], rng: SeededRNG(seed: 1),
                              unixMsAtZero: testEpochMs, storeCapacity: 3)
        for n in 0..<5 { _ = node.handle(.publish(testRecord(n, lifeMs: 100_000 + Int64(n))), now: .zero) }
        XCTAssertEqual(node.store.count, 3)
        XCTAssertEqual(node.counters.storeEvictions, 2)
        XCTAssertTrue(node.hasRecord(testRecord(4, lifeMs: 100_004).id))
    }

    func testDirectoryKeepsNewestAnnouncementPerAuthor() {
        var node = makeNode()
        let a = testKey(1), b = testKey(2)
        let a1 = testRecord(1, kind: .nodeAnnouncement, author: a, issuedAt: testEpochMs - 5_000)
        let a2 = testRecord(2, kind: .nodeAnnouncement, author: a, issuedAt: testEpochMs - 1_000)
        let b1 = testRecord(3, kind: .nodeAnnouncement, author: b)
        for r in [a1, b1, a2] { _ = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: r, hops: 1))), now: at(1)) }
        XCTAssertEqual(node.directorySize, 2)
        XCTAssertFalse(node.hasRecord(a1.id), "superseded announcement is forgotten")
        let older = testRecord(4, kind: .nodeAnnouncement, author: a, issuedAt: testEpochMs - 9_000)
        let fx = node.handle(.message(from: nodeID(2), .gossip(HoppedRecord(record: older, hops: 1))), now: at(2))
        XCTAssertFalse(fx.contains { if case .deliver = $0 { return true } else { return false } })
        XCTAssertEqual(node.counters.droppedSuperseded, 1)
        XCTAssertEqual(node.directory.first { $0.node == a.publicKey }?.entry.recordID, a2.id)
    }

    func testBroadcastReachesEveryNodeOfASmallMesh() {
        var mesh = TestMesh()
        _ = mesh.add(seeds: [])
        for i in 1..<20 { _ = mesh.add(seeds: [(i * 7) % i]) }
        mesh.run(seconds: 10)
        let records = (0..<5).map { testRecord($0, issuedAt: testEpochMs + 10_000) }
        for (k, r) in records.enumerated() { mesh.publish(r, at: k * 3) }
        mesh.run(seconds: 3)
        for i in 0..<20 {
            for (k, r) in records.enumerated() where k * 3 != i {
                XCTAssertTrue(mesh.delivered[i].contains(r.id), "node \(i) missed record \(k)")
            }
            XCTAssertEqual(Set(mesh.delivered[i]).count, mesh.delivered[i].count, "delivered twice at \(i)")
        }
    }
}
