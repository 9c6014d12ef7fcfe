import XCTest
import Foundation
import MurmurCore
import MurmurCrypto
import MurmurGossip
@testable import MurmurNode

/// The node's API served on the node's loop (`NodeAPI` over `APIServer`), queried from another
/// thread by the blocking client and by raw sockets, as `murmur status` and curl do from
/// another process.
final class APIServerTests: XCTestCase {
    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var results: [(Int, [UInt8])] = []
        var errors: [String] = []
        func add(_ r: (Int, [UInt8])) { lock.lock(); results.append(r); lock.unlock() }
        func fail(_ e: String) { lock.lock(); errors.append(e); lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return results.count + errors.count }
    }

    struct Harness {
        let loop: EventLoop
        let key: SigningKey
        let node: Node
        let gossip: GossipService
        let jobs: JobsService
        let api: NodeAPI
        let address: SocketAddress
        let workers: WorkQueue
    }

    static func json(_ bytes: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    func makeNode(token: String? = nil, bind: String = "127.0.0.1:0") throws -> Harness {
        let loop = try EventLoop()
        let key = SigningKey()
        var config = GossipServiceConfig()
        config.gossip = GossipServiceConfig.fastGossip()
        config.gossip.traceEnabled = true
        let node = Node(loop: loop, identity: key, networkKey: .random(), config: NodeConfig(listen: try SocketAddress(parsing: "127.0.0.1:0")))
        let gossip = GossipService(identity: key, config: config)
        try node.host(gossip)
        let dir = NSTemporaryDirectory() + "murmur-api-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let workers = WorkQueue(threads: 1, capacity: 4)
        let jobs = JobsService(identity: key, node: node, store: try ModelStore(dataDirectory: dir), workers: workers, slots: 1)
        try node.host(jobs)
        gossip.onDeliver = { [unowned jobs] record, _, _ in jobs.enqueue(record) }
        gossip.onLocalPublish = { [unowned jobs] record in jobs.enqueueLocal(record) }
        try node.start()
        let api = NodeAPI(node: node, gossip: gossip, jobs: jobs, identity: key, token: token)
        node.traceSink = { [hub = api.traceHub] in hub.publish($0) }
        let address = try api.listen(on: try SocketAddress(parsing: bind))
        addTeardownBlock { api.shutdown(); node.shutdown(); workers.stop() }
        return Harness(loop: loop, key: key, node: node, gossip: gossip, jobs: jobs, api: api, address: address, workers: workers)
    }

    func testRoutesAnswerWithTheirStatusAndJSONErrors() throws {
        let h = try makeNode()
        let box = Box()
        let requests: [(String, String)] = [("GET", "/v1/status"), ("POST", "/v1/debug/records?count=3"), ("GET", "/v1/nothing"),
                                            ("DELETE", "/v1/status"), ("POST", "/v1/debug/records?count=1000"), ("GET", "/v1/peers"),
                                            ("GET", "/v1/models"), ("GET", "/v1/reputation"), ("GET", "/metrics"),
                                            ("GET", "/v1/openapi.json"), ("GET", "/v1/jobs/" + String(repeating: "ab", count: 32)),
                                            ("GET", "/v1/jobs/xyz"), ("GET", "/v1/status?x=1"), ("GET", "/v1/trace?kind=nonsense")]
        let address = h.address
        DispatchQueue.global().async {
            for (method, path) in requests {
                do { box.add(try ControlClient.request(address, method: method, path: path, token: nil, timeout: .seconds(Int64(5)))) } catch {
                    box.fail("\(error)")
                }
            }
        }
        try runUntil(h.loop) { box.count == requests.count }
        XCTAssertEqual(box.errors, [])
        XCTAssertEqual(box.results.map(\.0), [200, 200, 404, 405, 400, 200, 200, 200, 200, 200, 404, 400, 400, 400])
        let status = try MeshStatus.decode(box.results[0].1)
        XCTAssertEqual(status.node_id, h.key.publicKey.hex)
        XCTAssertEqual(status.directory_size, 1, "its own announcement")
        XCTAssertEqual(status.version, MurmurVersion.software)
        XCTAssertEqual(h.gossip.gossip?.recordCounts[.job], 3)
        for (i, r) in box.results.enumerated() where r.0 >= 400 {
            let error = Self.json(r.1)["error"] as? [String: Any]
            XCTAssertNotNil(error?["code"] as? String, "\(requests[i]): \(String(decoding: r.1, as: UTF8.self))")
        }
        let peers = Self.json(box.results[5].1)
        XCTAssertNotNil(peers["links"] as? [Any])
        XCTAssertNotNil(peers["active_view"] as? [Any])
        let metrics = String(decoding: box.results[8].1, as: UTF8.self)
        XCTAssertTrue(metrics.contains("murmur_records{kind=\"job\"} 3"), metrics)
        XCTAssertTrue(metrics.contains("# TYPE murmur_inference_seconds histogram"))
        XCTAssertEqual(Self.json(box.results[9].1)["openapi"] as? String, "3.1.0")

        // Garbage and oversized heads get an error answer, never a crash or a hang.
        let raw = Box()
        DispatchQueue.global().async {
            for payload in ["NONSENSE\r\n\r\n", "GET /v1/status HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 40_000) + "\r\n\r\n",
                            "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"] {
                let answer = RawClient.exchange(address, payload)
                raw.add((RawClient.statuses(answer).first ?? -1, []))
            }
        }
        try runUntil(h.loop) { raw.count == 3 }
        XCTAssertEqual(raw.results.map(\.0), [400, 431, 413])
    }

    func testKeepAliveAndPipelinedRequestsAreAnsweredInOrder() throws {
        let h = try makeNode()
        let box = Box()
        let address = h.address
        DispatchQueue.global().async {
            let two = "GET /v1/reputation HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let answer = RawClient.exchange(address, two)
            for s in RawClient.statuses(answer) { box.add((s, [])) }
            box.add((-1, []))
        }
        try runUntil(h.loop) { box.results.last?.0 == -1 }
        XCTAssertEqual(box.results.map(\.0), [200, 404, 200, -1])
        XCTAssertEqual(h.api.server.counters.requests, 3)
    }

    func testLiveTraceStreamsEventsAndDropsForASlowReader() throws {
        let h = try makeNode()
        let address = h.address
        // A subscriber that reads: it sees the records this node publishes, filtered by kind.
        final class Events: @unchecked Sendable {
            let lock = NSLock()
            var list: [(String, String)] = []
            var done = false
        }
        let events = Events()
        DispatchQueue.global().async {
            try? ControlClient.stream(address, path: "/v1/trace?kind=deliver", token: nil) { event, data in
                events.lock.lock(); defer { events.lock.unlock() }
                events.list.append((event, data))
                return events.list.count < 3
            }
            events.lock.lock(); events.done = true; events.lock.unlock()
        }
        try runUntil(h.loop) { h.api.traceHub.subscriberCount == 1 }
        h.node.deliverLocally(NodeDelivery(tag: GossipService.publishTag,
                                           payload: try DebugRecords.testJob(by: h.key, index: 1, nowUnixMs: h.gossip.unixNowMs).encoded))
        h.node.deliverLocally(NodeDelivery(tag: GossipService.publishTag,
                                           payload: try DebugRecords.testJob(by: h.key, index: 2, nowUnixMs: h.gossip.unixNowMs).encoded))
        try runUntil(h.loop) { events.lock.lock(); defer { events.lock.unlock() }; return events.done }
        try runUntil(h.loop) { h.api.traceHub.subscriberCount == 0 }
        XCTAssertEqual(events.list.map(\.0), ["hello", "deliver", "deliver"])
        let line = Self.json(Array(events.list[1].1.utf8))
        XCTAssertEqual(line["ev"] as? String, "deliver")
        XCTAssertEqual(line["kind"] as? String, "job")
        XCTAssertEqual(line["node"] as? String, h.key.publicKey.hex)

        // A subscriber that never reads: the loop keeps going, events beyond its buffer are
        // dropped and counted, and it is told how many once it catches up.
        let fd = try RawClient.connect(address)
        defer { Posix.close(fd) }
        RawClient.write(fd, "GET /v1/trace HTTP/1.1\r\nHost: x\r\n\r\n")
        try runUntil(h.loop) { h.api.traceHub.subscriberCount == 1 }
        let filler = TraceEvent(time: h.loop.now, node: h.key.publicKey, kind: .drop, reason: String(repeating: "x", count: 1000))
        for _ in 0..<20_000 { h.api.traceHub.publish(filler) }
        XCTAssertGreaterThan(h.api.traceHub.counters.eventsDropped, 0)
        XCTAssertEqual(h.api.server.connectionCount, 1, "a slow subscriber is not disconnected")
        // Read everything the node queued, then one more event: it is preceded by the notice.
        var received: [UInt8] = []
        var quiet = 0
        try runUntil(h.loop) {
            let d = RawClient.drain(fd)
            received += d
            quiet = d.isEmpty ? quiet + 1 : 0
            return quiet > 10
        }
        XCTAssertFalse(String(decoding: received.suffix(3000), as: UTF8.self).contains("event: dropped"))
        h.api.traceHub.publish(filler)
        try runUntil(h.loop) {
            received += RawClient.drain(fd)
            return String(decoding: received.suffix(3000), as: UTF8.self).contains("event: dropped")
        }
    }

    /// A client that starts a request and stalls gets 408 and is closed; connections beyond the
    /// limit are closed at once; neither stops the server answering others.
    func testRequestTimeoutAndConnectionLimit() throws {
        let h = try makeNode()
        h.api.server.requestTimeout = .milliseconds(200)
        h.api.server.maxConnections = 2
        let address = h.address
        let slow = try RawClient.connect(address)
        defer { Posix.close(slow) }
        RawClient.write(slow, "GET /v1/status HTTP/1.1\r\nHost: x\r\n")   // no blank line: incomplete
        let idle = try RawClient.connect(address)
        defer { Posix.close(idle) }
        try runUntil(h.loop) { h.api.server.connectionCount == 2 }
        let third = try RawClient.connect(address)
        defer { Posix.close(third) }
        try runUntil(h.loop) { h.api.server.counters.rejectedLimit == 1 }
        var busy: [UInt8] = []
        try runUntil(h.loop) { busy += RawClient.drain(third); return !busy.isEmpty }
        XCTAssertEqual(RawClient.statuses(busy), [503])
        var answer: [UInt8] = []
        try runUntil(h.loop) {
            answer += RawClient.drain(slow)
            return h.api.server.counters.requestTimeouts == 1 && !answer.isEmpty
        }
        XCTAssertEqual(RawClient.statuses(answer), [408])
        try runUntil(h.loop) { h.api.server.connectionCount == 1 }
        // The idle keep-alive connection still works.
        RawClient.write(idle, "GET /v1/reputation HTTP/1.1\r\nHost: x\r\n\r\n")
        var reply: [UInt8] = []
        try runUntil(h.loop) { reply += RawClient.drain(idle); return !reply.isEmpty }
        XCTAssertEqual(RawClient.statuses(reply), [200])
    }

    /// Mangled requests (seeded: bytes flipped, inserted, cut) on many connections: every
    /// answer is a well-formed HTTP response or a close, and the server keeps serving.
    func testMangledRequestsNeverStopTheServer() throws {
        let h = try makeNode()
        var rng = SeededRNG(seed: 8812)
        let seeds = ["GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
                     "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n{\"model\": \"m\", \"input\": {\"x\": [1, 2]}}",
                     "GET /v1/jobs/\(String(repeating: "a", count: 64))?wait=0.1 HTTP/1.1\r\nHost: x\r\n\r\n",
                     "GET /v1/trace?kind=send HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
        for _ in 0..<60 {
            var bytes = Array(seeds[Int(rng.next() % UInt64(seeds.count))].utf8)
            for _ in 0..<Int(rng.next() % 4) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.insert(contentsOf: [13, 10, UInt8(truncatingIfNeeded: rng.next())], at: i)
                default: bytes.removeSubrange(i...)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            let fd = try RawClient.connect(h.address)
            RawClient.write(fd, String(decoding: bytes, as: UTF8.self))
            var answer: [UInt8] = []
            for _ in 0..<5 {
                try h.loop.runOnce(maxWait: .milliseconds(5))
                answer += RawClient.drain(fd)
            }
            if !answer.isEmpty {
                XCTAssertTrue(answer.starts(with: Array("HTTP/1.1 ".utf8)), String(decoding: answer.prefix(80), as: UTF8.self))
            }
            Posix.close(fd)
        }
        let box = Box()
        let address = h.address
        DispatchQueue.global().async {
            do { box.add(try ControlClient.request(address, path: "/v1/status", token: nil)) } catch { box.fail("\(error)") }
        }
        try runUntil(h.loop) { box.count == 1 }
        XCTAssertEqual(box.results.first?.0, 200)
        try runUntil(h.loop) { h.api.server.connectionCount == 0 && h.api.traceHub.subscriberCount == 0 }
    }

    /// Off loopback the token is required (401 without or with a wrong one); loopback clients
    /// need none. Needs a non-loopback address on this machine (skipped otherwise).
    func testBearerTokenIsRequiredOffLoopbackOnly() throws {
        guard let external = RawClient.nonLoopbackIPv4() else { throw XCTSkip("no non-loopback IPv4 address on this machine") }
        let token = "0123456789abcdef0123456789abcdef"
        let h = try makeNode(token: token, bind: "0.0.0.0:0")
        guard case let .v4(_, port) = h.address else { return XCTFail("bound \(h.address)") }
        let outside = try SocketAddress(parsing: "\(external):\(port)")
        let inside = try SocketAddress(parsing: "127.0.0.1:\(port)")
        let box = Box()
        let cases: [(SocketAddress, String?)] = [(outside, nil), (outside, "wrong-token-wrong-token"), (outside, token + "x"),
                                                 (outside, token), (inside, nil)]
        DispatchQueue.global().async {
            for (address, t) in cases {
                do { box.add(try ControlClient.request(address, path: "/v1/status", token: t)) } catch { box.fail("\(error)") }
            }
        }
        try runUntil(h.loop) { box.count == cases.count }
        XCTAssertEqual(box.errors, [])
        XCTAssertEqual(box.results.map(\.0), [401, 401, 401, 200, 200])
        XCTAssertEqual((Self.json(box.results[0].1)["error"] as? [String: Any])?["code"] as? String, "unauthorized")
    }

    func testTokenFileIsCreatedPrivateAndRefusedWhenReadableByOthers() throws {
        let dir = NSTemporaryDirectory() + "murmur-token-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/api-token"
        let (token, created) = try APIToken.loadOrCreate(path: path)
        XCTAssertTrue(created)
        XCTAssertEqual(token.count, 64)
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(try APIToken.loadOrCreate(path: path).token, token)
        let (again, createdAgain) = try APIToken.loadOrCreate(path: path)
        XCTAssertEqual(again, token)
        XCTAssertFalse(createdAgain)
        chmod(path, 0o644)
        XCTAssertThrowsError(try APIToken.load(path: path))
    }

    func testTraceFilterParsesKindsAndPrefixes() throws {
        XCTAssertEqual(try TraceHub.Filter.parse(nil), TraceHub.Filter())
        let f = try TraceHub.Filter.parse("send,job.*")
        XCTAssertTrue(f.accepts(.send))
        XCTAssertTrue(f.accepts(.jobVerified))
        XCTAssertFalse(f.accepts(.recv))
        XCTAssertThrowsError(try TraceHub.Filter.parse("sned"))
        XCTAssertThrowsError(try TraceHub.Filter.parse("zz."))
    }
}

/// Blocking raw-socket helpers for the tests.
enum RawClient {
    static func connect(_ address: SocketAddress) throws -> Int32 {
        let fd = try Posix.tcpSocket(family: address.family)
        _ = try? Posix.connect(fd, address)
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&p, 1, 2000)
        return fd
    }

    static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        let deadline = Posix.monotonicNanoseconds() + 5_000_000_000
        while sent < bytes.count && Posix.monotonicNanoseconds() < deadline {
            if case .done(let n)? = try? bytes.withUnsafeBytes({ try Posix.send(fd, from: $0.baseAddress! + sent, count: $0.count - sent) }) {
                sent += n
            } else { usleep(1000) }
        }
    }

    /// What is readable now (non-blocking).
    static func drain(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let r = chunk.withUnsafeMutableBytes { try? Posix.read(fd, into: $0.baseAddress!, count: $0.count) }
            guard case .done(let n)? = r, n > 0 else { return out }
            out += chunk[0..<n]
        }
    }

    /// Sends raw bytes; returns everything read until the server closes (or 5 s).
    static func exchange(_ address: SocketAddress, _ text: String) -> [UInt8] {
        guard let fd = try? connect(address) else { return [] }
        defer { Posix.close(fd) }
        write(fd, text)
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = Posix.monotonicNanoseconds() + 5_000_000_000
        while Posix.monotonicNanoseconds() < deadline {
            let r = chunk.withUnsafeMutableBytes { try? Posix.read(fd, into: $0.baseAddress!, count: $0.count) }
            if case .done(let n)? = r { if n == 0 { break }; answer += chunk[0..<n] } else if r == nil { break } else { usleep(1000) }
        }
        return answer
    }

    /// A non-loopback IPv4 address of this machine, if any.
    static func nonLoopbackIPv4() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let a = p {
            defer { p = a.pointee.ifa_next }
            guard let sa = a.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            let b = withUnsafeBytes(of: addr) { Array($0) }
            if b[0] == 127 || b[0] == 0 { continue }
            return b.map(String.init).joined(separator: ".")
        }
        return nil
    }

    /// The status codes of the responses in `bytes`, in order.
    static func statuses(_ bytes: [UInt8]) -> [Int] {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
    }
}
