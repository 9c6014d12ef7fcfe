import XCTest
import MurmurCore
import MurmurCrypto
@testable import MurmurNode

final class EncryptedTransportTests: XCTestCase {
    func testEncryptedLinkCarriesMessagesBothWays() throws {
        let loop = try EventLoop()
        let key = NetworkKey.random()
        let a = Transport(loop: loop, identity: SigningKey(), networkKey: key)
        let b = Transport(loop: loop, identity: SigningKey(), networkKey: key)
        let ra = Recorder(), rb = Recorder()
        a.delegate = ra
        b.delegate = rb
        let address = try b.listen(on: try SocketAddress(parsing: "127.0.0.1:0"))
        let link = try a.dial(address, expectedPeer: b.localID)
        try runUntil(loop) { ra.up.count == 1 && rb.up.count == 1 }
        XCTAssertEqual(ra.up.first?.peer, b.localID)
        XCTAssertEqual(rb.up.first?.peer, a.localID)
        let big = (0..<Limits.maxMessagePayload).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        XCTAssertEqual(a.send(MessageType(0x10), Array("hello".utf8), on: link), .queued)
        XCTAssertEqual(a.send(MessageType(0x11), big, on: link), .queued)
        try runUntil(loop) { rb.messages.count == 2 }
        XCTAssertEqual(rb.messages[0].1, Array("hello".utf8))
        XCTAssertEqual(rb.messages[1].1, big)
        let back = try XCTUnwrap(rb.up.first?.id)
        XCTAssertEqual(b.send(MessageType(0x12), [1, 2, 3], on: back), .queued)
        try runUntil(loop) { ra.messages.count == 1 }
        // Clean close: the peer sees the goodbye / final frame, not an error.
        a.close(link, reason: "test done")
        try runUntil(loop) { rb.down.count == 1 }
        XCTAssertEqual(rb.down.first?.1, .peerClosed)
    }

    func testDifferentNetworkKeysNeverLinkUp() throws {
        let loop = try EventLoop()
        let a = Transport(loop: loop, identity: SigningKey(), networkKey: NetworkKey.random())
        let b = Transport(loop: loop, identity: SigningKey(), networkKey: NetworkKey.random())
        let ra = Recorder(), rb = Recorder()
        a.delegate = ra
        b.delegate = rb
        let address = try b.listen(on: try SocketAddress(parsing: "127.0.0.1:0"))
        _ = try a.dial(address)
        try runUntil(loop) { ra.down.count == 1 }
        XCTAssertTrue(ra.up.isEmpty)
        XCTAssertTrue(rb.up.isEmpty)
        try runUntil(loop) { b.counters.handshakeFailures == 1 }
    }
}
