import XCTest
import Foundation
import MurmurCore
import MurmurCrypto
import MurmurGossip
@testable import MurmurNode

/// The control endpoint served on the node's loop, queried by the blocking client from another
/// thread (as `murmur status` does from another process).
final class GossipControlEndpointTests: XCTestCase {
    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var results: [(Int, [UInt8])] = []
        var errors: [String] = []
        func add(_ r: (Int, [UInt8])) { lock.lock(); results.append(r); lock.unlock() }
        func fail(_ e: String) { lock.lock(); errors.append(e); lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return results.count + errors.count }
    }

    func testStatusDebugRecordsAndBadRequests() throws {
        let loop = try EventLoop()
        let key = SigningKey()
        var config = GossipServiceConfig()
        config.gossip = GossipServiceConfig.fastGossip()
        let node = Node(loop: loop, identity: key, networkKey: .random(), config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        let gossip = GossipService(identity: key, config: config)
        try node.host(gossip)
        try node.start()
        let server = ControlServer(loop: loop, handler: ControlRoutes.handler(node: node, gossip: gossip, identity: key, startedAt: loop.now))
        XCTAssertThrowsError(try server.listen(on: try SocketAddress(parsing: "0.0.0.0:0")))
        let address = try server.listen(on: try SocketAddress(parsing: "127.0.0.1:0"))
        defer { server.shutdown(); node.shutdown() }

        let box = Box()
        let requests: [(String, String)] = [("GET", "/v1/status"), ("POST", "/v1/debug/records?count=3"), ("GET", "/v1/nothing"),
                                            ("DELETE", "/v1/status"), ("POST", "/v1/debug/records?count=1000")]
        DispatchQueue.global().async {
            for (method, path) in requests {
                do { box.add(try ControlClient.request(address, method: method, path: path, timeout: .seconds(Int64(5)))) } catch {
                    box.fail("\(error)")
                }
            }
        }
        try runUntil(loop) { box.count == requests.count }
        XCTAssertEqual(box.errors, [])
        XCTAssertEqual(box.results.map(\.0), [200, 200, 404, 405, 400])
        let status = try MeshStatus.decode(box.results[0].1)
        XCTAssertEqual(status.node_id, key.publicKey.hex)
        XCTAssertEqual(status.directory_size, 1, "its own announcement")
        XCTAssertEqual(gossip.gossip?.recordCounts[.job], 3)

        // Garbage and oversized headers get an error answer, never a crash or a hang.
        let raw = Box()
        DispatchQueue.global().async {
            for payload in ["NONSENSE\r\n\r\n", "GET /v1/status HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"] {
                raw.add((GossipControlEndpointTests.send(address, payload), []))
            }
        }
        try runUntil(loop) { raw.count == 2 }
        XCTAssertEqual(raw.results.map(\.0), [400, 431])
    }

    /// Sends raw bytes; returns the HTTP status of the answer (or -1).
    static func send(_ address: SocketAddress, _ text: String) -> Int {
        guard let fd = try? Posix.tcpSocket(family: address.family) else { return -1 }
        defer { Posix.close(fd) }
        _ = try? Posix.connect(fd, address)
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&p, 1, 2000)
        let bytes = Array(text.utf8)
        var sent = 0
        let deadline = Posix.monotonicNanoseconds() + 5_000_000_000
        while sent < bytes.count && Posix.monotonicNanoseconds() < deadline {
            if case .done(let n)? = try? bytes.withUnsafeBytes({ try Posix.send(fd, from: $0.baseAddress! + sent, count: $0.count - sent) }) {
                sent += n
            } else { usleep(1000) }
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while Posix.monotonicNanoseconds() < deadline {
            let r = chunk.withUnsafeMutableBytes { try? Posix.read(fd, into: $0.baseAddress!, count: $0.count) }
            if case .done(let n)? = r { if n == 0 { break }; answer += chunk[0..<n] } else if r == nil { break } else { usleep(1000) }
        }
        let line = String(decoding: answer.prefix(40), as: UTF8.self).split(separator: " ")
        return line.count > 1 ? Int(line[1]) ?? -1 : -1
    }
}
