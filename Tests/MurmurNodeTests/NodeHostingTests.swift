import XCTest
import Foundation
import MurmurCore
import MurmurCrypto
@testable import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

/// A toy pure protocol: greets every new peer, echoes "ping" payloads back as "pong",
/// and re-arms a timer; records what it saw.
struct EchoProtocol: NodeProtocol {
    static let hello = MessageType(0x10)
    static let echo = MessageType(0x11)
    let messageTypes: ClosedRange<UInt8> = MessageType.membershipRange
    var log: Log

    final class Log {
        var events: [ProtocolEvent] = []
        var timerFired = 0
    }

    mutating func handle(_ event: ProtocolEvent, now: Instant) -> [ProtocolEffect] {
        log.events.append(event)
        switch event {
        case .started:
            return [.setTimer(id: 7, at: now + .milliseconds(10)), .setTimer(id: 8, at: now + .milliseconds(5)), .cancelTimer(id: 8)]
        case .peerConnected(let link):
            return [.send(to: link.peer, type: Self.hello, payload: Array("hi".utf8))]
        case let .message(from, type, payload) where type == Self.hello:
            return [.send(to: from, type: Self.echo, payload: payload + Array("!".utf8))]
        case .timer(let id):
            XCTAssertEqual(id, 7)
            log.timerFired += 1
            return []
        default:
            return []
        }
    }
}

final class NodeHostingTests: XCTestCase {
    func testHostedProtocolGetsLinksMessagesAndTimers() throws {
        let loop = try EventLoop()
        let key = NetworkKey.random()
        let any = try SocketAddress(parsing: "127.0.0.1:0")
        let a = Node(loop: loop, identity: SigningKey(), networkKey: key, config: NodeConfig(listen: any))
        let logA = EchoProtocol.Log(), logB = EchoProtocol.Log()
        try a.host(EchoProtocol(log: logA))
        let addressA = try a.start()
        let b = Node(loop: loop, identity: SigningKey(), networkKey: key, config: NodeConfig(listen: any, joins: [addressA]))
        try b.host(EchoProtocol(log: logB))
        var traced: [TraceEvent.Kind] = []
        a.traceSink = { traced.append($0.kind) }
        try b.start()

        func echoes(_ log: EchoProtocol.Log) -> [[UInt8]] {
            log.events.compactMap { if case let .message(_, t, p) = $0, t == EchoProtocol.echo { return p } else { return nil } }
        }
        try runUntil(loop) { echoes(logA).count == 1 && echoes(logB).count == 1 && logA.timerFired == 1 && logB.timerFired == 1 }
        XCTAssertEqual(echoes(logA), [Array("hi!".utf8)])
        XCTAssertTrue(logA.events.contains(.peerConnected(PeerLink(peer: b.localID, link: a.transport.links.first!.id,
                                                                   direction: .inbound, remoteAddress: a.transport.links.first!.remoteAddress))))
        XCTAssertEqual(a.connectedPeers, [b.localID])

        // b goes away: a's protocol hears the peer is gone.
        b.shutdown()
        try runUntil(loop) { logA.events.contains { if case .peerDisconnected(let p, _) = $0 { return p == b.localID } else { return false } } }
        XCTAssertEqual(a.connectedPeers, [])
        XCTAssertEqual(traced, [.connect, .disconnect])
    }

    func testProtocolDialFailureIsReported() throws {
        struct Dialer: NodeProtocol {
            let messageTypes: ClosedRange<UInt8> = MessageType.jobsRange
            let log: EchoProtocol.Log
            let target: SocketAddress
            mutating func handle(_ event: ProtocolEvent, now: Instant) -> [ProtocolEffect] {
                log.events.append(event)
                if case .started = event { return [.connect(target, expectedPeer: nil)] }
                return []
            }
        }
        // A port that was just free: nothing listens there.
        let probe = try Posix.tcpSocket(family: AF_INET)
        try Posix.bind(probe, try SocketAddress(parsing: "127.0.0.1:0"))
        let closed = try XCTUnwrap(try Posix.localAddress(probe))
        Posix.close(probe)
        let loop = try EventLoop()
        let node = Node(loop: loop, identity: SigningKey(), networkKey: .default,
                        config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        let log = EchoProtocol.Log()
        try node.host(Dialer(log: log, target: closed))
        try node.start()
        try runUntil(loop) { log.events.contains { if case .connectFailed(let a, _) = $0 { return a == closed } else { return false } } }
    }

    func testWorkEffectRoundTripsThroughAWorkerThread() throws {
        struct Worker: NodeProtocol {
            let messageTypes: ClosedRange<UInt8> = MessageType.jobsRange
            let log: EchoProtocol.Log
            mutating func handle(_ event: ProtocolEvent, now: Instant) -> [ProtocolEffect] {
                log.events.append(event)
                if case .started = event { return [.work(tag: 5, payload: [2, 3]), .work(tag: 6, payload: [])] }
                return []
            }
        }
        let loop = try EventLoop()
        let node = Node(loop: loop, identity: SigningKey(), networkKey: .default,
                        config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        let log = EchoProtocol.Log()
        try node.host(Worker(log: log))
        let inbox = node.inbox
        node.workHandler = { item in
            guard item.tag == 5 else { return false } // refuse the other one
            Thread { _ = inbox.send(NodeDelivery(tag: item.tag, payload: item.payload.map { $0 * 10 })) }.start()
            return true
        }
        try node.start()
        try runUntil(loop) { log.events.contains(.delivered(tag: 5, payload: [20, 30])) && log.events.contains(.workRefused(tag: 6)) }
    }

    func testOverlappingRangesAreRefused() throws {
        let loop = try EventLoop()
        let node = Node(loop: loop, identity: SigningKey(), networkKey: .default,
                        config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        try node.host(EchoProtocol(log: .init()))
        XCTAssertThrowsError(try node.host(EchoProtocol(log: .init())))
    }

    func testInboxDeliversFromAnotherThread() throws {
        struct Sink: NodeProtocol {
            let messageTypes: ClosedRange<UInt8> = MessageType.jobsRange
            let log: EchoProtocol.Log
            mutating func handle(_ event: ProtocolEvent, now: Instant) -> [ProtocolEffect] { log.events.append(event); return [] }
        }
        let loop = try EventLoop()
        let node = Node(loop: loop, identity: SigningKey(), networkKey: .default,
                        config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        let log = EchoProtocol.Log()
        try node.host(Sink(log: log))
        try node.start()
        let inbox = node.inbox
        Thread { _ = inbox.send(NodeDelivery(tag: 42, payload: [1, 2, 3])) }.start()
        try runUntil(loop) { log.events.contains(.delivered(tag: 42, payload: [1, 2, 3])) }
    }
}

final class MessageFramingTests: XCTestCase {
    func testSplitsMessagesAndRejectsMalformedFramesWithoutCrashing() {
        var frame: [UInt8] = []
        for (t, p) in [(UInt8(0x10), [UInt8]()), (0x11, [1, 2, 3])] {
            frame.append(t)
            frame += [0, 0, 0, UInt8(p.count)] + p
        }
        var seen: [(UInt8, [UInt8])] = []
        XCTAssertNoThrow(try frame.withUnsafeBytes { try forEachMessage(in: $0) { seen.append(($0.rawValue, Array($1))) } })
        XCTAssertEqual(seen.map(\.0), [0x10, 0x11])
        XCTAssertEqual(seen.map(\.1), [[], [1, 2, 3]])

        // Every truncation of a valid frame is rejected (or is a valid shorter frame).
        for cut in 0..<frame.count {
            let short = Array(frame[0..<cut])
            _ = try? short.withUnsafeBytes { try forEachMessage(in: $0) { _, _ in } }
        }
        // Random frames: never a crash, never a payload outside the frame.
        var rng = SeededRNG(seed: 1)
        for _ in 0..<5_000 {
            let n = Int(rng.next() % 64)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { buffer in
                _ = try? forEachMessage(in: buffer) { _, payload in
                    if payload.count > 0 {
                        XCTAssertGreaterThanOrEqual(payload.baseAddress!, buffer.baseAddress!)
                        XCTAssertLessThanOrEqual(payload.baseAddress! + payload.count, buffer.baseAddress! + buffer.count)
                    }
                }
            }
        }
    }

    func testGarbageFromTheNetworkNeverCrashesTheEncryptedTransport() throws {
        let loop = try EventLoop()
        let server = Transport(loop: loop, identity: SigningKey(), networkKey: .default)
        let recorder = Recorder()
        server.delegate = recorder
        let address = try server.listen(on: try SocketAddress(parsing: "127.0.0.1:0"))
        var rng = SeededRNG(seed: 9)
        for round in 0..<20 {
            let fd = try Posix.tcpSocket(family: address.family)
            _ = try Posix.connect(fd, address)
            try runUntil(loop) { server.counters.accepted > round }
            var bytes = (0..<(1 + Int(rng.next() % 300))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? Posix.write(fd, from: &bytes, count: bytes.count)
            if bytes.count >= 82 {
                // A full first message of garbage: the MAC check fails and the peer is dropped.
                try runUntil(loop) { server.counters.handshakeFailures > 0 && server.links.count <= 1 }
            }
            Posix.close(fd)
        }
        try runUntil(loop) { server.links.isEmpty }
        XCTAssertTrue(recorder.up.isEmpty)
    }
}

final class TransportVectorTests: XCTestCase {
    struct File: Decodable {
        struct Vector: Decodable {
            struct Message: Decodable { let type: UInt8; let payload: String }
            let name: String
            let frame: String
            let messages: [Message]?
            let error: String?
        }
        let vectors: [Vector]
    }

    func testMessageLayerVectors() throws {
        var root = "\(#filePath)"
        for _ in 0..<3 { root = String(root[..<root.lastIndex(of: "/")!]) }
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/Specs/vectors/transport-messages.json"))
        let file = try JSONDecoder().decode(File.self, from: data)
        XCTAssertGreaterThanOrEqual(file.vectors.count, 8)
        for v in file.vectors {
            let frame = try XCTUnwrap(Hex.decode(v.frame), v.name)
            var seen: [(UInt8, String)] = []
            let error: MessageFrameError? = frame.withUnsafeBytes { buffer -> MessageFrameError? in
                do throws(MessageFrameError) {
                    try forEachMessage(in: buffer) { seen.append(($0.rawValue, Hex.encode(Array($1)))) }
                    return nil
                } catch { return error }
            }
            if let expected = v.messages {
                if let error { XCTFail("\(v.name): \(error)"); continue }
                XCTAssertEqual(seen.map(\.0), expected.map(\.type), v.name)
                XCTAssertEqual(seen.map(\.1), expected.map(\.payload), v.name)
            } else {
                guard let e = error else { XCTFail("\(v.name): accepted"); continue }
                XCTAssertTrue("\(e)".hasPrefix(v.error ?? "?"), "\(v.name): \(e)")
            }
        }
    }
}
