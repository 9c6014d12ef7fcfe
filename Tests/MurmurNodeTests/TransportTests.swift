import XCTest
import MurmurCore
@testable import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

/// Records what a transport reports.
final class Recorder: TransportDelegate {
    var up: [LinkInfo] = []
    var down: [(LinkInfo, CloseReason)] = []
    var messages: [(MessageType, [UInt8])] = []
    var writable: [ConnectionID] = []
    var pongs: [TimeSpan] = []
    func transport(_ t: Transport, linkUp link: LinkInfo) { up.append(link) }
    func transport(_ t: Transport, linkDown link: LinkInfo, reason: CloseReason) { down.append((link, reason)) }
    func transport(_ t: Transport, received type: MessageType, payload: UnsafeRawBufferPointer, link: ConnectionID, peer: NodeID) {
        messages.append((type, Array(payload)))
    }
    func transport(_ t: Transport, writable link: ConnectionID) { writable.append(link) }
    func transport(_ t: Transport, pong rtt: TimeSpan, link: ConnectionID) { pongs.append(rtt) }
}

/// Runs the loop until `condition` holds; fails (never hangs) after `timeout`.
func runUntil(_ loop: EventLoop, timeout: TimeSpan = .seconds(10 as Int64), file: StaticString = #filePath, line: UInt = #line,
              _ condition: () -> Bool) throws {
    let deadline = loop.now + timeout
    while !condition() {
        if loop.now >= deadline { XCTFail("condition not reached in \(timeout)", file: file, line: line); return }
        try loop.runOnce(maxWait: .milliseconds(20))
    }
}

final class TransportTests: XCTestCase {
    let any = try! SocketAddress(parsing: "127.0.0.1:0")

    func makePair(serverConfig: TransportConfig = TransportConfig()) throws -> (EventLoop, Transport, Recorder, Transport, Recorder, SocketAddress) {
        let loop = try EventLoop()
        let server = Transport(loop: loop, sessions: PlainSessions(1), config: serverConfig)
        let client = Transport(loop: loop, sessions: PlainSessions(2))
        let sr = Recorder(), cr = Recorder()
        server.delegate = sr
        client.delegate = cr
        let address = try server.listen(on: any)
        XCTAssertNotEqual(address.port, 0)
        return (loop, server, sr, client, cr, address)
    }

    func testLinkUpAndManySmallMessagesShareFrames() throws {
        let (loop, server, sr, client, cr, address) = try makePair()
        let link = try client.dial(address, expectedPeer: server.localID)
        try runUntil(loop) { cr.up.count == 1 && sr.up.count == 1 }
        XCTAssertEqual(cr.up.first?.peer, server.localID)
        XCTAssertEqual(sr.up.first?.peer, client.localID)
        for i in 0..<2_000 {
            XCTAssertEqual(client.send(MessageType(0x10), [UInt8(i & 0xFF), UInt8(i >> 8)], on: link), .queued)
        }
        try runUntil(loop) { sr.messages.count == 2_000 }
        XCTAssertEqual(sr.messages.map { Int($0.1[0]) | Int($0.1[1]) << 8 }, Array(0..<2_000))
        // 2,000 seven-byte messages fit in one 64 KiB frame: batching, not one frame each.
        let frames = try XCTUnwrap(client.framesOut(link))
        XCTAssertLessThanOrEqual(frames, 2)
    }

    func testPingIsAnsweredByTheTransport() throws {
        let (loop, server, _, client, cr, address) = try makePair()
        defer { withExtendedLifetime(server) {} }
        let link = try client.dial(address)
        try runUntil(loop) { cr.up.count == 1 }
        client.ping(link: link)
        try runUntil(loop) { cr.pongs.count == 1 }
    }

    func testWrongExpectedPeerFailsTheHandshake() throws {
        let (loop, server, _, client, cr, address) = try makePair()
        defer { withExtendedLifetime(server) {} }
        _ = try client.dial(address, expectedPeer: NodeID(bytes: [UInt8](repeating: 9, count: 32))!)
        try runUntil(loop) { cr.down.count == 1 }
        XCTAssertTrue(cr.up.isEmpty)
        XCTAssertEqual(client.counters.handshakeFailures, 1)
    }

    func testWriteQueueIsBoundedAndDrains() throws {
        let (loop, server, sr, client, cr, address) = try makePair()
        defer { withExtendedLifetime(server) {} }
        let link = try client.dial(address)
        try runUntil(loop) { cr.up.count == 1 }
        let payload = [UInt8](repeating: 0xAB, count: Limits.maxMessagePayload)
        var queued = 0
        while client.send(MessageType(0x40), payload, on: link) == .queued { queued += 1 }
        // Nothing ran yet, so the queue filled at its limit instead of growing.
        XCTAssertLessThanOrEqual(queued * (payload.count + MessageHeader.size), Limits.maxWriteQueueBytes)
        XCTAssertGreaterThan(queued, 0)
        XCTAssertEqual(client.counters.sendsRefusedQueueFull, 1)
        try runUntil(loop) { !cr.writable.isEmpty }
        try runUntil(loop) { sr.messages.count == queued }
        XCTAssertTrue(sr.messages.allSatisfy { $0.1 == payload })
    }

    func testInboundLimitClosesExtraConnectionsEarly() throws {
        var config = TransportConfig()
        config.maxInbound = 2
        let (loop, server, sr, client, cr, address) = try makePair(serverConfig: config)
        for _ in 0..<4 { _ = try client.dial(address) }
        try runUntil(loop) { cr.up.count + cr.down.count == 4 }
        XCTAssertEqual(cr.up.count, 2)
        XCTAssertEqual(sr.up.count, 2)
        XCTAssertEqual(server.counters.rejectedInboundLimit, 2)
    }

    func testSilentPeerHitsTheHandshakeDeadline() throws {
        var config = TransportConfig()
        config.handshakeTimeout = .milliseconds(100)
        config.sweepInterval = .milliseconds(20)
        let (loop, server, _, _, _, address) = try makePair(serverConfig: config)
        let fd = try rawConnect(address)
        defer { Posix.close(fd) }
        try runUntil(loop) { server.counters.handshakeTimeouts == 1 }
    }

    func testGarbageAfterHandshakeDropsThePeer() throws {
        let (loop, server, _, _, _, address) = try makePair()
        let fd = try rawConnect(address)
        defer { Posix.close(fd) }
        // Plain handshake: our id; then a frame header declaring 4 GiB.
        var bytes = [UInt8](repeating: 5, count: 32) + [0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 100)
        _ = try Posix.write(fd, from: &bytes, count: bytes.count)
        try runUntil(loop) { server.counters.protocolErrors == 1 }
        XCTAssertTrue(server.links.isEmpty)
    }

    func testBadMessageFramingDropsThePeer() throws {
        let (loop, server, sr, _, _, address) = try makePair()
        let fd = try rawConnect(address)
        defer { Posix.close(fd) }
        // A frame of 7 bytes holding a message header that claims 1,000 payload bytes.
        var bytes = [UInt8](repeating: 5, count: 32) + [0, 0, 0, 7] + [0x10, 0, 0, 0x03, 0xE8, 1, 2]
        _ = try Posix.write(fd, from: &bytes, count: bytes.count)
        try runUntil(loop) { server.counters.protocolErrors == 1 }
        XCTAssertTrue(sr.messages.isEmpty)
    }

    func testIdleLinkIsClosedAndKeepalivesKeepBusyLinksUp() throws {
        var config = TransportConfig()
        config.idleTimeout = .milliseconds(300)
        config.keepaliveInterval = .milliseconds(50)
        config.sweepInterval = .milliseconds(20)
        let (loop, server, _, _, _, address) = try makePair(serverConfig: config)
        // A raw peer that completes the plain handshake and then never answers pings.
        let fd = try rawConnect(address)
        defer { Posix.close(fd) }
        var id = [UInt8](repeating: 5, count: 32)
        _ = try Posix.write(fd, from: &id, count: 32)
        try runUntil(loop) { server.counters.idleTimeouts == 1 }
    }

    func testPeerThatStopsReadingIsDropped() throws {
        var config = TransportConfig()
        config.idleTimeout = .milliseconds(400)
        config.keepaliveInterval = .seconds(10 as Int64)
        config.sweepInterval = .milliseconds(20)
        let (loop, server, sr, _, _, address) = try makePair(serverConfig: config)
        let fd = try Posix.tcpSocket(family: address.family)
        defer { Posix.close(fd) }
        try Posix.setOption(fd, level: SOL_SOCKET, name: SO_RCVBUF, value: 4096)
        _ = try Posix.connect(fd, address)
        try runUntil(loop) { server.counters.accepted == 1 }
        var id = [UInt8](repeating: 5, count: 32)
        _ = try Posix.write(fd, from: &id, count: 32)
        try runUntil(loop) { sr.up.count == 1 }
        let link = sr.up[0].id
        let payload = [UInt8](repeating: 1, count: Limits.maxMessagePayload)
        // The peer keeps sending (so it is not idle) but never reads.
        var ping: [UInt8] = [0, 0, 0, 13, 0x01, 0, 0, 0, 8] + [UInt8](repeating: 0, count: 8)
        var last = loop.now
        try runUntil(loop) {
            while server.send(MessageType(0x40), payload, on: link) == .queued {}
            if loop.now - last > .milliseconds(50) {
                _ = try? Posix.write(fd, from: &ping, count: ping.count)
                last = loop.now
            }
            return sr.down.count == 1
        }
        XCTAssertEqual(sr.down.first?.1, .writeStalled)
    }

    private func rawConnect(_ address: SocketAddress) throws -> Int32 {
        let fd = try Posix.tcpSocket(family: address.family)
        _ = try Posix.connect(fd, address)
        return fd
    }
}

extension Transport {
    func framesOut(_ link: ConnectionID) -> Int? { connectionForTesting(link)?.framesOut }
}
