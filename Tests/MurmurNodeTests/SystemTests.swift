import XCTest
import Foundation
import MurmurCore
@testable import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

final class SystemTests: XCTestCase {
    func testAddressParsing() throws {
        XCTAssertEqual(try SocketAddress(parsing: "127.0.0.1:7000").description, "127.0.0.1:7000")
        XCTAssertEqual(try SocketAddress(parsing: "localhost:80").description, "127.0.0.1:80")
        XCTAssertEqual(try SocketAddress(parsing: "[::1]:9").description, "[::1]:9")
        XCTAssertEqual(try SocketAddress(parsing: "0.0.0.0:0").port, 0)
        XCTAssertThrowsError(try SocketAddress(parsing: "127.0.0.1"))
        XCTAssertThrowsError(try SocketAddress(parsing: "127.0.0.1:70000"))
        XCTAssertThrowsError(try SocketAddress(parsing: "::1:80"))
        XCTAssertThrowsError(try SocketAddress(parsing: "example.com:80"))
        XCTAssertThrowsError(try SocketAddress(parsing: "[::1]80"))
        XCTAssertThrowsError(try SocketAddress(parsing: "1.2.3.4:-1"))
        XCTAssertThrowsError(try SocketAddress(parsing: ""))
    }

    func testSystemErrorNamesTheCall() throws {
        let fd = try Posix.tcpSocket(family: AF_INET)
        defer { Posix.close(fd) }
        try Posix.bind(fd, try SocketAddress(parsing: "127.0.0.1:0"))
        let bound = try XCTUnwrap(try Posix.localAddress(fd))
        let other = try Posix.tcpSocket(family: AF_INET)
        defer { Posix.close(other) }
        try Posix.listen(fd, backlog: 1)
        XCTAssertThrowsError(try Posix.bind(other, bound)) { error in
            let e = error as? SystemError
            XCTAssertEqual(e?.call, "bind")
            XCTAssertEqual(e?.errno, EADDRINUSE)
            XCTAssertTrue("\(error)".contains("bind"))
        }
    }

    func testReadOnEmptySocketWouldBlock() throws {
        let (a, b) = try Posix.socketPair()
        defer { Posix.close(a); Posix.close(b) }
        var byte: UInt8 = 0
        XCTAssertEqual(try Posix.read(a, into: &byte, count: 1), .wouldBlock)
        var one: UInt8 = 7
        XCTAssertEqual(try Posix.write(b, from: &one, count: 1), .done(1))
        XCTAssertEqual(try Posix.read(a, into: &byte, count: 1), .done(1))
        XCTAssertEqual(byte, 7)
    }
}

final class EventLoopTests: XCTestCase {
    func testTimersFireInDeadlineOrderAndCancelWorks() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        let now = loop.now
        loop.schedule(at: now + .milliseconds(30)) { fired.append(3) }
        loop.schedule(at: now + .milliseconds(10)) { fired.append(1) }
        let cancelled = loop.schedule(at: now + .milliseconds(20)) { fired.append(2) }
        loop.schedule(at: now + .milliseconds(40)) { loop.stop() }
        loop.cancelTimer(cancelled)
        try loop.run()
        XCTAssertEqual(fired, [1, 3])
    }

    func testManyRearmedTimersDoNotAccumulate() throws {
        let loop = try EventLoop()
        var token = loop.schedule(after: .seconds(60 as Int64)) {}
        for _ in 0..<100_000 {
            loop.cancelTimer(token)
            token = loop.schedule(after: .seconds(60 as Int64)) {}
        }
        XCTAssertLessThan(loop.pendingTimerEntries, 3_000)
    }

    func testChannelDeliversValuesFromOtherThreads() throws {
        let loop = try EventLoop()
        let channel = LoopChannel<Int>(capacity: 10_000)
        var received: [Int] = []
        loop.attach(channel) { items in
            received += items
            if received.count == 4_000 { loop.stop() }
        }
        let threads = (0..<4).map { t in
            Thread {
                for i in 0..<1_000 {
                    while !channel.send(t * 1_000 + i) { usleep(100) }
                }
            }
        }
        threads.forEach { $0.start() }
        loop.schedule(after: .seconds(10 as Int64)) { loop.stop() } // fail fast, never hang
        try loop.run()
        XCTAssertEqual(received.sorted(), Array(0..<4_000))
    }

    func testChannelIsBounded() {
        let channel = LoopChannel<Int>(capacity: 2)
        XCTAssertTrue(channel.send(1))
        XCTAssertTrue(channel.send(2))
        XCTAssertFalse(channel.send(3))
    }

    func testRemoteStopFromAnotherThread() throws {
        let loop = try EventLoop()
        let remote = loop.remote
        Thread { usleep(20_000); remote.stop() }.start()
        try loop.run() // returns instead of blocking forever
    }
}
