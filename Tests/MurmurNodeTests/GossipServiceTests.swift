import XCTest
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurWire
@testable import MurmurNode

/// The gossip state machine hosted in real `Node`s on one loop, over encrypted loopback links.
final class GossipServiceTests: XCTestCase {
    let any = try! SocketAddress(parsing: "127.0.0.1:0")

    struct Member {
        let node: Node
        let gossip: GossipService
        let key: SigningKey
        var traces: TraceLog
    }
    final class TraceLog { var events: [TraceEvent] = [] }

    func makeMember(loop: EventLoop, networkKey: NetworkKey, seeds: [String]) throws -> Member {
        let key = SigningKey()
        var config = GossipServiceConfig()
        config.gossip = GossipServiceConfig.fastGossip()
        config.gossip.traceEnabled = true
        config.seeds = seeds
        let node = Node(loop: loop, identity: key, networkKey: networkKey, config: NodeConfig(listen: any))
        let gossip = GossipService(identity: key, config: config)
        try node.host(gossip)
        let log = TraceLog()
        node.traceSink = { log.events.append($0) }
        try node.start()
        return Member(node: node, gossip: gossip, key: key, traces: log)
    }

    func testFourNodesFormViewsShareAnnouncementsAndRecords() throws {
        let loop = try EventLoop()
        let networkKey = NetworkKey.random()
        let seed = try makeMember(loop: loop, networkKey: networkKey, seeds: [])
        let seedAddress = try XCTUnwrap(seed.node.listenAddress)
        var members = [seed]
        for _ in 0..<3 { members.append(try makeMember(loop: loop, networkKey: networkKey, seeds: ["\(seedAddress)"])) }
        defer { for m in members { m.node.shutdown() } }

        // Views fill (3 peers each: everyone else) and every announcement reaches everyone.
        try runUntil(loop, timeout: .seconds(Int64(20))) {
            members.allSatisfy { ($0.gossip.gossip?.activeView.count ?? 0) == 3 && $0.gossip.gossip?.directorySize == 4 }
        }
        let record = try DebugRecords.testJob(by: members[2].key, index: 1, nowUnixMs: members[2].gossip.unixNowMs)
        members[2].node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: record.encoded))
        try runUntil(loop, timeout: .seconds(Int64(20))) { members.allSatisfy { $0.gossip.gossip?.hasRecord(record.id) == true } }

        let status = MeshStatus(node: members[0].node, gossip: members[0].gossip, startedAt: .zero)
        XCTAssertEqual(status.active_view.count, 3)
        XCTAssertEqual(status.directory_size, 4)
        XCTAssertEqual(status.records["job"], 1)
        XCTAssertEqual(status.records["announcement"], 4)
        let decoded = try MeshStatus.decode(Array(status.json().utf8))
        XCTAssertEqual(decoded, status)
        // The receivers traced the delivery with its hop count.
        XCTAssertTrue(members[0].traces.events.contains { $0.kind == .deliver && $0.recordID == record.id && ($0.hops ?? 0) >= 1 })
        XCTAssertTrue(members[2].traces.events.contains { $0.kind == .send && $0.recordID == record.id })
    }

    /// The announcement signed at start reaches nobody; the node signs a fresh one on getting its
    /// first active peer, so directories fill by broadcast (not only by anti-entropy, which skips
    /// records younger than 5 s, nor at the next periodic announcement).
    func testNodeReannouncesOnItsFirstActivePeer() throws {
        let loop = try EventLoop()
        let networkKey = NetworkKey.random()
        let seed = try makeMember(loop: loop, networkKey: networkKey, seeds: [])
        let joiner = try makeMember(loop: loop, networkKey: networkKey, seeds: ["\(try XCTUnwrap(seed.node.listenAddress))"])
        defer { seed.node.shutdown(); joiner.node.shutdown() }
        try runUntil(loop, timeout: .seconds(Int64(20))) {
            [seed, joiner].allSatisfy { $0.gossip.gossip?.directorySize == 2 }
        }
        // One at start, one on the first active peer; the periodic one (20 s) has not come yet.
        XCTAssertEqual(seed.gossip.counters.announcementsSigned, 2)
        XCTAssertEqual(joiner.gossip.counters.announcementsSigned, 2)
    }

    func testRefusedRecordsAreCountedTracedAndNeverStored() throws {
        let loop = try EventLoop()
        let networkKey = NetworkKey.random()
        let target = try makeMember(loop: loop, networkKey: networkKey, seeds: [])
        defer { target.node.shutdown() }
        let address = try XCTUnwrap(target.node.listenAddress)
        // A bare transport plays a hostile peer.
        let peerKey = SigningKey()
        let recorder = Recorder()
        let raw = Transport(loop: loop, identity: peerKey, networkKey: networkKey)
        raw.delegate = recorder
        defer { raw.shutdown() }
        let link = try raw.dial(address, expectedPeer: target.node.localID)
        try runUntil(loop) { !recorder.up.isEmpty }

        // Expired (validly signed, lifetime within its kind's limit).
        let now = target.gossip.unixNowMs
        let job = Job(modelHash: DebugRecords.testModel, input: [1, 2, 3], redundancy: 1, quorum: 1, deadline: now - 60_000,
                      nonce: [UInt8](repeating: 7, count: 16))
        let expired = try SignedRecord.sign(job, by: peerKey, issuedAt: now - 120_000, expiresAt: now - 1_000)
        let message = GossipMessage.gossip(HoppedRecord(record: expired, hops: 1))
        XCTAssertEqual(raw.send(GossipWire.messageType(for: .gossip), message.encoded, on: link), .queued)
        try runUntil(loop) { target.gossip.counters.recordsRefused["expired"] == 1 }
        XCTAssertEqual(target.gossip.gossip?.hasRecord(expired.id), false)
        XCTAssertTrue(target.traces.events.contains { $0.kind == .drop && $0.recordID == expired.id && $0.reason == "expired" })

        // A payload that is not what its type says: counted, and the link is closed.
        XCTAssertEqual(raw.send(GossipWire.messageType(for: .gossip), [GossipMessage.Tag.gossip.rawValue, 0xFF], on: link), .queued)
        try runUntil(loop) { target.gossip.counters.malformed == 1 && !recorder.down.isEmpty }
        XCTAssertEqual(target.gossip.gossip?.recordCounts[.job], 0)
    }

    /// A further copy of a held record is taken as that record (a duplicate) without decoding it;
    /// a copy with the same signature and any other byte changed is verified, and refused.
    func testCopiesOfAHeldRecordAreDuplicatesAndAlteredCopiesAreRefused() throws {
        let loop = try EventLoop()
        let networkKey = NetworkKey.random()
        let target = try makeMember(loop: loop, networkKey: networkKey, seeds: [])
        defer { target.node.shutdown() }
        let address = try XCTUnwrap(target.node.listenAddress)
        let peerKey = SigningKey()
        let recorder = Recorder()
        let raw = Transport(loop: loop, identity: peerKey, networkKey: networkKey)
        raw.delegate = recorder
        defer { raw.shutdown() }
        let link = try raw.dial(address, expectedPeer: target.node.localID)
        try runUntil(loop) { !recorder.up.isEmpty }

        let now = target.gossip.unixNowMs
        let job = Job(modelHash: DebugRecords.testModel, input: [1, 2, 3], redundancy: 1, quorum: 1, deadline: now + 60_000,
                      nonce: [UInt8](repeating: 9, count: 16))
        let record = try SignedRecord.sign(job, by: peerKey, issuedAt: now, expiresAt: now + 120_000)
        let type = GossipWire.messageType(for: .gossip)
        let encoded = GossipMessage.gossip(HoppedRecord(record: record, hops: 1)).encoded
        XCTAssertEqual(raw.send(type, encoded, on: link), .queued)
        try runUntil(loop) { target.gossip.gossip?.hasRecord(record.id) == true }
        XCTAssertEqual(raw.send(type, encoded, on: link), .queued)
        try runUntil(loop) { (target.gossip.gossip?.counters.duplicates ?? 0) >= 1 }

        var altered = encoded
        altered[encoded.count - 80] ^= 1  // the body's last bytes; the signature is unchanged
        XCTAssertEqual(raw.send(type, altered, on: link), .queued)
        try runUntil(loop) { target.gossip.counters.recordsRefused["invalid-signature"] == 1 }
        XCTAssertEqual(target.gossip.gossip?.recordCounts[.job], 1)
    }

    /// A manifest of 4,096 chunk hashes (~131 KiB) is larger than one transport message: it
    /// travels in fragments and arrives whole.
    func testRecordLargerThanATransportMessageTravelsInFragments() throws {
        let loop = try EventLoop()
        let networkKey = NetworkKey.random()
        let a = try makeMember(loop: loop, networkKey: networkKey, seeds: [])
        let b = try makeMember(loop: loop, networkKey: networkKey, seeds: ["\(try XCTUnwrap(a.node.listenAddress))"])
        defer { a.node.shutdown(); b.node.shutdown() }
        try runUntil(loop) { a.gossip.gossip?.activeView.count == 1 && b.gossip.gossip?.activeView.count == 1 }
        let hashes = (0..<4096).map { Hash.of([UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)]) }
        let manifest = ModelManifest(modelHash: Hash.of([1]), name: "big", modelVersion: "1", size: 4096 * 4096, chunkSize: 4096,
                                     chunkHashes: hashes, inputs: [TensorSpec(name: "x", dtype: .float32, shape: [1])],
                                     outputs: [TensorSpec(name: "y", dtype: .float32, shape: [1])])
        let now = a.gossip.unixNowMs
        let record = try SignedRecord.sign(manifest, by: a.key, issuedAt: now, expiresAt: now + 3_600_000)
        XCTAssertGreaterThan(record.encoded.count, Limits.maxMessagePayload)
        a.node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: record.encoded))
        try runUntil(loop) { b.gossip.gossip?.hasRecord(record.id) == true }
        XCTAssertGreaterThanOrEqual(a.gossip.counters.fragmentedOut, 1)
        XCTAssertGreaterThanOrEqual(b.gossip.counters.fragmentedIn, 1)
        XCTAssertEqual(b.gossip.counters.malformed, 0)
    }

    func testFragmentAssemblerIsStrictAndBounded() throws {
        let peer = SigningKey().publicKey
        let message = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let parts = GossipWire.fragments(of: message, id: 9)
        XCTAssertEqual(parts.count, 4)
        XCTAssertTrue(parts.allSatisfy { $0.count <= Limits.maxMessagePayload })
        var assembler = FragmentAssembler()
        for (i, p) in parts.enumerated() {
            let outcome = assembler.add(p, from: peer)
            XCTAssertEqual(outcome, i == parts.count - 1 ? .complete(message) : .incomplete)
        }
        XCTAssertEqual(assembler.bufferedBytes, 0)
        // Out of order: discarded, never a wrong message.
        XCTAssertEqual(assembler.add(parts[0], from: peer), .incomplete)
        XCTAssertEqual(assembler.add(parts[2], from: peer), .dropped("fragment out of order"))
        XCTAssertEqual(assembler.add(parts[3], from: peer), .dropped("fragment out of order"))
        XCTAssertEqual(assembler.bufferedBytes, 0)
        // A link that goes down mid-message frees its bytes.
        XCTAssertEqual(assembler.add(parts[0], from: peer), .incomplete)
        assembler.forget(peer)
        XCTAssertEqual(assembler.bufferedBytes, 0)
        // Garbage headers.
        XCTAssertEqual(assembler.add([1, 2, 3], from: peer), .malformed("fragment shorter than its header"))
        XCTAssertEqual(assembler.add([0, 0, 0, 1, 0, 5, 0, 2, 9], from: peer), .malformed("fragment 5 of 2"))
        XCTAssertEqual(assembler.add([0, 0, 0, 1, 0, 0, 0xFF, 0xFF, 9], from: peer), .malformed("fragment 0 of 65535"))
    }

    func testWireTypesStayInTheirRangesAndLargeMessagesSplit() throws {
        for tag in GossipMessage.Tag.allCases {
            let type = GossipWire.messageType(for: tag)
            XCTAssertTrue(GossipWire.messageTypes.contains(type.rawValue), "\(tag)")
            let range = tag.rawValue < 16 ? MessageType.membershipRange : MessageType.broadcastRange
            XCTAssertTrue(range.contains(type.rawValue), "\(tag) → \(type)")
            XCTAssertEqual(GossipWire.tag(for: type), tag)
        }
        // 16 records of ~20 KiB: more than one transport message, split by record.
        let key = SigningKey()
        let now: Int64 = 1_800_000_000_000
        var items: [HoppedRecord] = []
        for i in 0..<16 {
            let job = Job(modelHash: DebugRecords.testModel, input: [UInt8](repeating: UInt8(i), count: 20_000), redundancy: 1, quorum: 1,
                          deadline: now + 60_000, nonce: [UInt8](repeating: UInt8(i), count: 16))
            items.append(HoppedRecord(record: try SignedRecord.sign(job, by: key, issuedAt: now, expiresAt: now + 120_000), hops: 2))
        }
        let (parts, tooLarge) = GossipWire.fit(.records(items))
        XCTAssertTrue(tooLarge.isEmpty)
        XCTAssertGreaterThan(parts.count, 1)
        XCTAssertTrue(parts.allSatisfy { $0.encodedSize <= Limits.maxMessagePayload })
        let rejoined = parts.flatMap { if case let .records(r) = $0 { return r } else { return [] } }
        XCTAssertEqual(rejoined, items)
    }
}
