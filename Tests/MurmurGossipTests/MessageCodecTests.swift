import XCTest
import MurmurCore
import MurmurGossip
import MurmurWire

final class MessageCodecTests: XCTestCase {
    /// One message of every type, with fixed contents (the test vectors).
    static func samples() -> [(String, GossipMessage)] {
        let peerA = PeerRef(id: NodeID(Bytes32(w0: 0x0101_0101_0101_0101, w1: 1, w2: 2, w3: 3)), address: "10.0.0.1:7400")
        let peerB = PeerRef(id: NodeID(Bytes32(w0: 0xAAAA_AAAA_AAAA_AAAA, w1: 4, w2: 5, w3: 6)), address: "node-b.example:7400")
        let id1 = Hash(Bytes32(w0: 0x1111_1111_1111_1111, w1: 7, w2: 8, w3: 9))
        let id2 = Hash(Bytes32(w0: 0xF222_2222_2222_2222, w1: 10, w2: 11, w3: 12))
        let record = SignedRecord(kind: .job, body: Array("hello mesh".utf8), author: testKey(7),
                                  issuedAt: 1_700_000_000_000, expiresAt: 1_700_003_600_000)
        return [
            ("join", .join(address: "10.0.0.1:7400")),
            ("forward_join", .forwardJoin(node: peerA, ttl: 6)),
            ("neighbor", .neighbor(priority: .reconnect, address: "10.0.0.2:7400")),
            ("neighbor_reply", .neighborReply(accepted: true)),
            ("disconnect", .disconnect),
            ("shuffle", .shuffle(origin: peerA, ttl: 3, peers: [peerA, peerB])),
            ("shuffle_reply", .shuffleReply(peers: [peerB])),
            ("ping", .ping(nonce: 0x0102_0304_0506_0708)),
            ("pong", .pong(nonce: 42)),
            ("gossip", .gossip(HoppedRecord(record: record, hops: 3))),
            ("ihave", .ihave([IHaveEntry(id: id1, hops: 2), IHaveEntry(id: id2, hops: 5)])),
            ("graft", .graft([id1])),
            ("prune", .prune),
            ("prune_tree", .pruneTree(author: peerB.id)),
            ("graft_tree", .graftTree(author: peerA.id)),
            ("reconcile", .reconcile([
                RangeDigest(range: .whole(.job), summary: .fingerprint(count: 2, hash: id1)),
                RangeDigest(range: IDRange(kind: .claim, depth: 2, prefix: 0xF2), summary: .ids([id2])),
            ])),
            ("want", .want([id1, id2])),
            ("records", .records([HoppedRecord(record: record, hops: 1)])),
        ]
    }

    func testRoundTripAndSize() throws {
        for (name, message) in Self.samples() {
            let bytes = message.encoded
            XCTAssertEqual(bytes.count, message.encodedSize, name)
            XCTAssertEqual(try GossipMessage(decoding: bytes), message, name)
            XCTAssertEqual(bytes.first, message.tag.rawValue, name)
        }
        XCTAssertEqual(Set(Self.samples().map { $0.1.tag }).count, GossipMessage.Tag.allCases.count, "every message type has a sample")
    }

    /// Specs/vectors/gossip_messages.json: the canonical bytes of each sample.
    func testVectors() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = root.appendingPathComponent("Specs/vectors/gossip_messages.json")
        let samples = Self.samples()
        if ProcessInfo.processInfo.environment["MURMUR_WRITE_VECTORS"] == "1" {
            var json = "{\n  \"description\": \"Canonical encodings of gossip messages (Specs/gossip.md). The record inside gossip/records is signed by the Ed25519 key whose seed is 32 bytes of 0x07.\",\n  \"vectors\": [\n"
            json += samples.map { "    {\"name\": \"\($0.0)\", \"hex\": \"\(Hex.encode($0.1.encoded))\"}" }.joined(separator: ",\n")
            json += "\n  ]\n}\n"
            try json.write(to: url, atomically: true, encoding: .utf8)
        }
        let data = try Data(contentsOf: url)
        let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let vectors = try XCTUnwrap(parsed?["vectors"] as? [[String: String]])
        XCTAssertEqual(vectors.count, samples.count)
        for (v, (name, message)) in zip(vectors, samples) {
            XCTAssertEqual(v["name"], name)
            XCTAssertEqual(v["hex"], Hex.encode(message.encoded), name)
            let decoded = try GossipMessage(decoding: try XCTUnwrap(Hex.decode(try XCTUnwrap(v["hex"]))))
            XCTAssertEqual(decoded, message, name)
        }
    }

    /// Random bytes and mutated valid messages never trap; they decode or throw.
    func testFuzzNeverTraps() {
        var rng = SeededRNG(seed: 2024)
        let valid = Self.samples().map { $0.1.encoded }
        var decoded = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                let n = Int(rng.next() % 80)
                bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if !bytes.isEmpty, round % 4 == 0 {
                    bytes[0] = GossipMessage.Tag.allCases[Int(rng.next() % UInt64(GossipMessage.Tag.allCases.count))].rawValue
                }
            } else {
                bytes = valid[Int(rng.next() % UInt64(valid.count))]
                let edits = 1 + Int(rng.next() % 4)
                for _ in 0..<edits {
                    switch rng.next() % 3 {
                    case 0 where !bytes.isEmpty: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                    case 1 where !bytes.isEmpty: bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
                    default: bytes.append(UInt8(truncatingIfNeeded: rng.next()))
                    }
                }
            }
            if (try? GossipMessage(decoding: bytes)) != nil { decoded += 1 }
        }
        XCTAssertGreaterThan(decoded, 0)
    }

    func testLimitsAreEnforced() {
        var w = ByteWriter()
        w.u8(GossipMessage.Tag.ihave.rawValue)
        w.u16(UInt16(Limits.gossipMaxIDsPerMessage + 1))
        XCTAssertThrowsError(try GossipMessage(decoding: w.bytes)) { error in
            guard case .malformed(.tooLarge)? = error as? GossipDecodeError else { return XCTFail("\(error)") }
        }
        var bad = GossipMessage.records([HoppedRecord(record: testRecord(1), hops: 1)]).encoded
        bad[bad.count - 1] ^= 1  // breaks the signature
        XCTAssertThrowsError(try GossipMessage(decoding: bad)) { error in
            XCTAssertEqual(error as? GossipDecodeError, .record(.badSignature))
        }
        var deep = ByteWriter()
        deep.u8(GossipMessage.Tag.reconcile.rawValue); deep.u16(1)
        deep.u8(RecordKind.job.rawValue); deep.u8(1); deep.u32(16)  // prefix needs 2 digits at depth 1
        deep.u8(0); deep.u32(0); deep.hash(.zero)
        XCTAssertThrowsError(try GossipMessage(decoding: deep.bytes))
    }

    /// A copy of a record whose id the node already verified skips the signature check; the id
    /// hashes the exact bytes, signature included, so altered bytes are never trusted that way.
    func testKnownIDsSkipOnlyTheExactBytesAlreadyVerified() throws {
        let record = testRecord(2)
        let good = GossipMessage.gossip(HoppedRecord(record: record, hops: 1)).encoded
        var asked: [Hash] = []
        let decoded = try GossipMessage(decoding: good, knownIDs: { asked.append($0); return true })
        XCTAssertEqual(decoded, .gossip(HoppedRecord(record: record, hops: 1)))
        XCTAssertEqual(asked, [record.id])

        var forged = good
        forged[forged.count - 1] ^= 1  // a bad signature: its id is not the verified one
        let known: Set<Hash> = [record.id]
        XCTAssertThrowsError(try GossipMessage(decoding: forged, knownIDs: { known.contains($0) })) { error in
            XCTAssertEqual(error as? GossipDecodeError, .record(.badSignature))
        }
        // Trusting every id would accept it: callers answer only for ids they verified.
        XCTAssertNoThrow(try GossipMessage(decoding: forged, knownIDs: { _ in true }))
    }
}
