import XCTest
import MurmurCore
@testable import MurmurCrypto

/// Two handshakes driven to completion in memory.
struct HandshakePair {
    var initiator: Handshake
    var responder: Handshake
    let initiatorKey: SigningKey
    let responderKey: SigningKey

    init(initiatorSeed: UInt8 = 1, responderSeed: UInt8 = 2, expectedPeer: NodeID?? = nil,
         initiatorNetwork: NetworkKey = .default, responderNetwork: NetworkKey = .default,
         initiatorEphemeral: EphemeralKeySource = .system, responderEphemeral: EphemeralKeySource = .system,
         now: Instant = .zero, framing: FramingOptions = .default) {
        initiatorKey = SigningKey(seed: [UInt8](repeating: initiatorSeed, count: 32))
        responderKey = SigningKey(seed: [UInt8](repeating: responderSeed, count: 32))
        let pinned: NodeID? = expectedPeer ?? responderKey.publicKey
        initiator = Handshake(role: .initiator(expectedPeer: pinned), identity: initiatorKey, networkKey: initiatorNetwork,
                              ephemeral: initiatorEphemeral, now: now, framing: framing)
        responder = Handshake(role: .responder, identity: responderKey, networkKey: responderNetwork,
                              ephemeral: responderEphemeral, now: now, framing: framing)
    }
}

final class HandshakeTests: XCTestCase {
    func testHandshakeSucceedsAndSessionsTalk() throws {
        var pair = HandshakePair()
        let m1 = pair.initiator.start()
        XCTAssertEqual(m1.count, Handshake.messageSizes[0])
        let out2 = try pair.responder.receive(m1, now: .zero)
        let m2 = try XCTUnwrap(out2.message)
        XCTAssertNil(out2.session)
        XCTAssertEqual(m2.count, Handshake.messageSizes[1])
        let out3 = try pair.initiator.receive(m2, now: .zero)
        let m3 = try XCTUnwrap(out3.message)
        XCTAssertEqual(m3.count, Handshake.messageSizes[2])
        let initiatorSession = try XCTUnwrap(out3.session)
        let out4 = try pair.responder.receive(m3, now: .zero)
        XCTAssertNil(out4.message)
        let responderSession = try XCTUnwrap(out4.session)

        XCTAssertEqual(initiatorSession.peer, pair.responderKey.publicKey)
        XCTAssertEqual(responderSession.peer, pair.initiatorKey.publicKey)
        XCTAssertEqual(initiatorSession.handshakeHash, responderSession.handshakeHash)

        let frame = initiatorSession.sealer.seal(Array("hello".utf8))
        XCTAssertEqual(try responderSession.opener.feed(frame), [.message(Array("hello".utf8))])
        let back = responderSession.sealer.seal(Array("world".utf8))
        XCTAssertEqual(try initiatorSession.opener.feed(back), [.message(Array("world".utf8))])
    }
}

/// Deterministic ephemerals so that flipped-byte tests can replay the exact same messages.
let initiatorEphemeral = EphemeralKeySource.fixed([UInt8](repeating: 0x11, count: 32))
let responderEphemeral = EphemeralKeySource.fixed([UInt8](repeating: 0x22, count: 32))

extension HandshakeTests {
    func fixedPair(now: Instant = .zero) -> HandshakePair {
        HandshakePair(initiatorEphemeral: initiatorEphemeral, responderEphemeral: responderEphemeral, now: now)
    }

    /// The three messages of a successful fixed-key handshake.
    func fixedMessages() throws -> (m1: [UInt8], m2: [UInt8], m3: [UInt8]) {
        var pair = fixedPair()
        let m1 = pair.initiator.start()
        let m2 = try XCTUnwrap(try pair.responder.receive(m1, now: .zero).message)
        let m3 = try XCTUnwrap(try pair.initiator.receive(m2, now: .zero).message)
        return (m1, m2, m3)
    }

    func testWrongNetworkKeyIsRefusedOnTheFirstMessage() throws {
        let privateMesh = try XCTUnwrap(NetworkKey(bytes: [UInt8](repeating: 7, count: 32)))
        var pair = HandshakePair(responderNetwork: privateMesh)
        let m1 = pair.initiator.start()
        XCTAssertThrowsError(try pair.responder.receive(m1, now: .zero)) { error in
            XCTAssertEqual(error as? HandshakeError, .networkKeyMismatch)
        }
        XCTAssertEqual(pair.responder.state, .failed)
        XCTAssertThrowsError(try pair.responder.receive(m1, now: .zero)) { XCTAssertEqual($0 as? HandshakeError, .notActive) }
    }

    func testPinnedKeyMismatchStopsBeforeRevealingTheInitiator() throws {
        let someoneElse = SigningKey(seed: [UInt8](repeating: 9, count: 32)).publicKey
        var pair = HandshakePair(expectedPeer: .some(someoneElse))
        let m1 = pair.initiator.start()
        let m2 = try XCTUnwrap(try pair.responder.receive(m1, now: .zero).message)
        XCTAssertThrowsError(try pair.initiator.receive(m2, now: .zero)) { error in
            XCTAssertEqual(error as? HandshakeError, .peerMismatch(expected: someoneElse, actual: pair.responderKey.publicKey))
        }
    }

    func testUnpinnedInitiatorAcceptsAnyPeer() throws {
        var pair = HandshakePair(expectedPeer: .some(nil))
        let m1 = pair.initiator.start()
        let m2 = try XCTUnwrap(try pair.responder.receive(m1, now: .zero).message)
        let session = try XCTUnwrap(try pair.initiator.receive(m2, now: .zero).session)
        XCTAssertEqual(session.peer, pair.responderKey.publicKey)
    }

    func testEveryFlippedByteOfEveryMessageFails() throws {
        let (m1, m2, m3) = try fixedMessages()
        for i in m1.indices {
            var pair = fixedPair()
            _ = pair.initiator.start()
            var bad = m1
            bad[i] ^= 0x01
            XCTAssertThrowsError(try pair.responder.receive(bad, now: .zero), "message 1 byte \(i)")
        }
        for i in m2.indices {
            var pair = fixedPair()
            _ = pair.initiator.start()
            var bad = m2
            bad[i] ^= 0x80
            XCTAssertThrowsError(try pair.initiator.receive(bad, now: .zero), "message 2 byte \(i)")
        }
        for i in m3.indices {
            var pair = fixedPair()
            _ = try pair.responder.receive(m1, now: .zero)
            var bad = m3
            bad[i] ^= 0x04
            XCTAssertThrowsError(try pair.responder.receive(bad, now: .zero), "message 3 byte \(i)")
        }
    }

    func testReplayedFirstMessageYieldsNoSession() throws {
        // A recorded handshake between two nodes…
        var pair = HandshakePair()
        let m1 = pair.initiator.start()
        let m2 = try XCTUnwrap(try pair.responder.receive(m1, now: .zero).message)
        let m3 = try XCTUnwrap(try pair.initiator.receive(m2, now: .zero).message)
        XCTAssertNotNil(try pair.responder.receive(m3, now: .zero).session)
        // …replayed by an eavesdropper to the same responder identity: it answers message 1
        // (with a fresh ephemeral) but the recorded message 3 does not complete it.
        var replayTarget = Handshake(role: .responder, identity: pair.responderKey, networkKey: .default, now: .zero)
        let reply = try XCTUnwrap(try replayTarget.receive(m1, now: .zero).message)
        XCTAssertNotEqual(reply, m2)
        XCTAssertThrowsError(try replayTarget.receive(m3, now: .zero)) { XCTAssertEqual($0 as? HandshakeError, .authenticationFailed) }
        XCTAssertEqual(replayTarget.state, .failed)
    }

    func testDeadlineExpiry() throws {
        var pair = fixedPair(now: Instant(nanoseconds: 1_000))
        XCTAssertEqual(pair.responder.deadline, Instant(nanoseconds: 1_000) + Limits.handshakeTimeout)
        let m1 = pair.initiator.start()
        let late = Instant(nanoseconds: 1_000) + Limits.handshakeTimeout + .nanoseconds(1)
        XCTAssertFalse(pair.responder.isExpired(now: Instant(nanoseconds: 1_000) + Limits.handshakeTimeout))
        XCTAssertTrue(pair.responder.isExpired(now: late))
        XCTAssertThrowsError(try pair.responder.receive(m1, now: late)) { XCTAssertEqual($0 as? HandshakeError, .expired) }
    }

    func testWrongSizeAndUnexpectedMessages() throws {
        var pair = fixedPair()
        let m1 = pair.initiator.start()
        XCTAssertThrowsError(try pair.responder.receive(Array(m1.dropLast()), now: .zero)) {
            XCTAssertEqual($0 as? HandshakeError, .wrongMessageSize(expected: 82, actual: 81))
        }
        var initiator = Handshake(role: .initiator(expectedPeer: nil), identity: pair.initiatorKey, networkKey: .default, now: .zero)
        XCTAssertNil(initiator.expectedMessageSize)
        XCTAssertThrowsError(try initiator.receive(m1, now: .zero)) { XCTAssertEqual($0 as? HandshakeError, .unexpectedMessage) }
    }

    func testUnsupportedVersion() throws {
        var pair = fixedPair()
        var m1 = pair.initiator.start()
        m1[1] = 99
        XCTAssertThrowsError(try pair.responder.receive(m1, now: .zero)) { XCTAssertEqual($0 as? HandshakeError, .unsupportedVersion(99)) }
    }

    func testIdentityMustMatchTheStaticKey() throws {
        let a = SigningKey(seed: [UInt8](repeating: 1, count: 32)), b = SigningKey(seed: [UInt8](repeating: 2, count: 32))
        XCTAssertEqual(try Handshake.identity(payload: a.publicKey.bytes, staticKey: a.staticX25519Public), a.publicKey)
        XCTAssertThrowsError(try Handshake.identity(payload: a.publicKey.bytes, staticKey: b.staticX25519Public))
        XCTAssertThrowsError(try Handshake.identity(payload: [UInt8](repeating: 0, count: 32), staticKey: a.staticX25519Public))
    }

    func testSeededFuzzOfReceiveNeverTrapsAndNeverCompletes() throws {
        var rng = SeededRNG(seed: 0x5eed)
        let (m1, m2, _) = try fixedMessages()
        for round in 0..<300 {
            let size = round % 3 == 0 ? Int(rng.next() % 200) : Handshake.messageSizes[Int(rng.next() % 3)]
            var junk = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Half the time, start from a real message and corrupt a few bytes.
            if round % 2 == 1, let base = [m1, m2].randomElement(using: &rng) {
                junk = base
                for _ in 0..<(1 + Int(rng.next() % 4)) { junk[Int(rng.next() % UInt64(junk.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            }
            var responder = Handshake(role: .responder, identity: SigningKey(seed: [UInt8](repeating: 2, count: 32)),
                                      networkKey: .default, ephemeral: responderEphemeral, now: .zero)
            if let out = try? responder.receive(junk, now: .zero) { XCTAssertNil(out.session) }
            var pair = fixedPair()
            _ = pair.initiator.start()
            XCTAssertNil(try? pair.initiator.receive(junk, now: .zero))
        }
    }
}

extension HandshakeTests {
    /// The network key is also in the prologue: even with a message 1 MAC made under the
    /// responder's key, the Noise part of message 1 fails on another mesh.
    func testForeignMeshFailsNoiseEvenWithAValidMAC() throws {
        let otherMesh = try XCTUnwrap(NetworkKey(bytes: [UInt8](repeating: 5, count: 32)))
        var pair = HandshakePair(responderNetwork: otherMesh)
        var m1 = pair.initiator.start()
        m1.replaceSubrange(50..<82, with: Handshake.message1MAC(networkKey: otherMesh, body: Array(m1[0..<50])))
        XCTAssertThrowsError(try pair.responder.receive(m1, now: .zero)) {
            XCTAssertEqual($0 as? HandshakeError, .authenticationFailed)
        }
    }

    /// A peer that knows the network key but sends a low-order ephemeral gets no session.
    func testLowOrderEphemeralIsRefused() throws {
        let lowOrder = [UInt8](repeating: 0, count: 32)
        let noise = NoiseSymmetricState(protocolName: Handshake.protocolName, prologue: Handshake.prologue(networkKey: .default))
        noise.mixHash(lowOrder)
        noise.mixKey(lowOrder)
        var w = ByteWriter()
        w.u16(Handshake.version)
        w.raw(lowOrder)
        w.raw(noise.encryptAndHash([]))
        let m1 = w.bytes + Handshake.message1MAC(networkKey: .default, body: w.bytes)
        var pair = fixedPair()
        XCTAssertThrowsError(try pair.responder.receive(m1, now: .zero)) { XCTAssertEqual($0 as? HandshakeError, .invalidPeerKey) }
    }
}

extension HandshakeTests {
    /// `Handshake` is a value: a copy taken mid-handshake evolves independently.
    func testCopiesAreIndependent() throws {
        var pair = fixedPair()
        let m1 = pair.initiator.start()
        let m2 = try XCTUnwrap(try pair.responder.receive(m1, now: .zero).message)
        var copy = pair.initiator
        var bad = m2
        bad[40] ^= 1
        XCTAssertThrowsError(try copy.receive(bad, now: .zero))
        XCTAssertEqual(copy.state, .failed)
        XCTAssertEqual(pair.initiator.state, .awaitingMessage2)
        XCTAssertNotNil(try pair.initiator.receive(m2, now: .zero).session)
    }
}
