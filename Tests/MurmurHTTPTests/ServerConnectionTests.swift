import XCTest
import MurmurCore
@testable import MurmurHTTP

final class ServerConnectionTests: XCTestCase {
    func text(_ c: inout HTTPServerConnection) -> String { String(decoding: c.takeOutput(), as: UTF8.self) }

    func testPipelinedResponsesLeaveInRequestOrder() {
        var c = HTTPServerConnection()
        c.receive(Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nHEAD /c HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        var ids: [HTTPServerConnection.RequestID] = []
        var paths: [String] = []
        while let (id, r) = c.nextRequest() { ids.append(id); paths.append(r.path) }
        XCTAssertEqual(paths, ["/a", "/b", "/c"])
        c.respond(ids[2], .text(.ok, "c"))
        c.respond(ids[1], .text(.ok, "b"))
        XCTAssertEqual(text(&c), "")  // /a (a long poll, say) still unanswered
        c.respond(ids[0], .text(.ok, "a"))
        let out = text(&c)
        XCTAssertEqual(out.components(separatedBy: "HTTP/1.1 200 OK").count - 1, 3)
        XCTAssertTrue(out.hasSuffix("Content-Length: 1\r\n\r\n"))  // HEAD: no body
        XCTAssertLessThan(out.range(of: "\r\n\r\na")!.lowerBound, out.range(of: "\r\n\r\nb")!.lowerBound)
        c.respond(ids[0], .text(.ok, "again"))  // ignored
        XCTAssertEqual(text(&c), "")
        XCTAssertFalse(c.isFinished)
        XCTAssertTrue(c.wantsRead)
    }

    func testParseErrorIsAnsweredAfterEarlierResponsesThenCloses() throws {
        var c = HTTPServerConnection()
        c.receive(Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGARBAGE\r\n\r\n".utf8))
        let (id, _) = try XCTUnwrap(c.nextRequest())
        XCTAssertNil(c.nextRequest())
        XCTAssertEqual(text(&c), "")
        XCTAssertFalse(c.wantsRead)
        c.respond(id, .text(.ok, "a"))
        let out = text(&c)
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 200 OK"))
        XCTAssertTrue(out.contains("HTTP/1.1 400 Bad Request"))
        XCTAssertTrue(out.contains("Connection: close"))
        XCTAssertTrue(c.isFinished)
    }

    func testConnectionCloseEndsAfterThatResponse() throws {
        var c = HTTPServerConnection()
        c.receive(Array("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        let (id, _) = try XCTUnwrap(c.nextRequest())
        XCTAssertNil(c.nextRequest())
        c.respond(id, .text(.ok, "a"))
        XCTAssertTrue(text(&c).contains("Connection: close"))
        XCTAssertTrue(c.isFinished)
    }

    func testExpectContinueAndBoundedPipelining() {
        var c = HTTPServerConnection(maxPipelined: 2)
        c.receive(Array("POST /j HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        XCTAssertNil(c.nextRequest())
        XCTAssertEqual(text(&c), "HTTP/1.1 100 Continue\r\n\r\n")
        c.receive(Array("ok".utf8))
        XCTAssertEqual(c.nextRequest()?.request.body, Array("ok".utf8))
        c.receive(Array("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        XCTAssertNotNil(c.nextRequest())
        XCTAssertFalse(c.wantsRead)
        XCTAssertNil(c.nextRequest())  // two in flight: wait
        c.respond(0, .text(.ok, ""))
        XCTAssertEqual(c.nextRequest()?.request.path, "/2")
    }

    func testServerSentEventStream() throws {
        var c = HTTPServerConnection()
        c.receive(Array("GET /v1/trace HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        let (id, _) = try XCTUnwrap(c.nextRequest())
        c.startStream(id, .serverSentEvents())
        XCTAssertNil(c.nextRequest())
        c.sendChunk(ServerSentEvent.encode(event: "send", data: "{}"))
        let out = text(&c)
        XCTAssertTrue(out.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"))
        XCTAssertTrue(out.hasSuffix("16\r\nevent: send\ndata: {}\n\n\r\n"))
        c.finishStream()
        XCTAssertEqual(text(&c), "0\r\n\r\n")
        XCTAssertTrue(c.isFinished)
    }

    /// Random bytes through the connection never trap and always end in order.
    func testFuzz() {
        var rng = SeededRNG(seed: 9)
        let pieces = ["GET / HTTP/1.1\r\nHost: h\r\n\r\n", "POST /j HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", "\r\n", "X", "HTTP/1.1 ", ":", "Connection: close\r\n"]
        for _ in 0..<500 {
            var c = HTTPServerConnection(limits: .init(maxRequestLine: 64, maxHeaderBytes: 256, maxHeaderCount: 4, maxBodyBytes: 16), maxPipelined: 4)
            var open: [HTTPServerConnection.RequestID] = []
            for _ in 0..<20 {
                c.receive(Array(pieces[Int(rng.next() % UInt64(pieces.count))].utf8))
                while let (id, _) = c.nextRequest() { open.append(id) }
                if !open.isEmpty, rng.next() % 2 == 0 {
                    let i = Int(rng.next() % UInt64(open.count))
                    c.respond(open.remove(at: i), .text(.ok, "x"))
                }
                _ = c.takeOutput()
                if c.isFinished { break }
            }
        }
    }
}
