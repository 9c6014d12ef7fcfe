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
