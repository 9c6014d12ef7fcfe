import XCTest
import MurmurCore
@testable import MurmurHTTP

final class HTTPParserTests: XCTestCase {
    func parseAll(_ text: String, limits: HTTPRequestParser.Limits = .init()) throws -> [HTTPRequest] {
        var p = HTTPRequestParser(limits: limits)
        p.feed(Array(text.utf8))
        var out: [HTTPRequest] = []
        while let r = try p.next() { out.append(r) }
        return out
    }

    func error(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> HTTPParseError? {
        var p = HTTPRequestParser(limits: limits)
        p.feed(Array(text.utf8))
        do {
            while try p.next() != nil {}
            return nil
        } catch {
            return error
        }
    }

    func testSimpleGetAndPost() throws {
        let reqs = try parseAll("GET /v1/jobs/ab?wait=5 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
            + "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
        XCTAssertEqual(reqs.count, 2)
        XCTAssertEqual(reqs[0].method, "GET")
        XCTAssertEqual(reqs[0].path, "/v1/jobs/ab")
        XCTAssertEqual(reqs[0].queryString, "wait=5")
        XCTAssertEqual(reqs[0].query, ["wait": "5"])
        XCTAssertEqual(reqs[0].headers["accept"], "*/*")
        XCTAssertTrue(reqs[0].keepAlive)
        XCTAssertEqual(reqs[1].method, "POST")
        XCTAssertEqual(reqs[1].body, Array("{\"a\":1}".utf8))
        XCTAssertEqual(reqs[1].headers["CONTENT-TYPE"], "application/json")
    }

    func testByteByByteFeedingAndPipelining() throws {
        let text = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
            + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
            + "GET /c HTTP/1.0\r\n\r\n"
        var p = HTTPRequestParser()
        var out: [HTTPRequest] = []
        for b in text.utf8 {
            p.feed([b])
            while let r = try p.next() { out.append(r) }
        }
        XCTAssertEqual(out.map(\.path), ["/a", "/b", "/c"])
        XCTAssertEqual(out[0].body, Array("abc".utf8))
        XCTAssertFalse(out[2].keepAlive)  // HTTP/1.0 default
        XCTAssertEqual(p.bufferedBytes, 0)
        // Every split point gives the same result.
        for split in 0...text.utf8.count {
            var q = HTTPRequestParser()
            let bytes = Array(text.utf8)
            q.feed(bytes[..<split])
            var got: [HTTPRequest] = []
            while let r = try q.next() { got.append(r) }
            q.feed(bytes[split...])
            while let r = try q.next() { got.append(r) }
            XCTAssertEqual(got, out, "split at \(split)")
        }
    }

    func testPartialRequestWaits() throws {
        var p = HTTPRequestParser()
        p.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n".utf8))
        XCTAssertNil(try p.next())
        p.feed(Array("\r\n".utf8))
        XCTAssertEqual(try p.next()?.path, "/")
        p.feed(Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345".utf8))
        XCTAssertNil(try p.next())
        XCTAssertNil(try p.next())
        p.feed(Array("67890".utf8))
        XCTAssertEqual(try p.next()?.body, Array("1234567890".utf8))
    }

    func testConnectionHeaderAndKeepAlive() throws {
        XCTAssertFalse(try parseAll("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")[0].keepAlive)
        XCTAssertTrue(try parseAll("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")[0].keepAlive)
        XCTAssertFalse(try parseAll("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n")[0].keepAlive)
    }

    func testExpectContinue() throws {
        var p = HTTPRequestParser()
        p.feed(Array("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        XCTAssertNil(try p.next())
        XCTAssertTrue(p.takeContinueRequest())
        XCTAssertFalse(p.takeContinueRequest())
        p.feed(Array("hi".utf8))
        XCTAssertEqual(try p.next()?.body, Array("hi".utf8))
    }

    func testMalformedRequestsMapTo400() {
        let cases = [
            "GET\r\n\r\n",
            "GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n",
            "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTQ/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\u{01}b\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",  // no Host
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        ]
        for c in cases {
            XCTAssertEqual(error(c)?.status, .badRequest, c.debugDescription)
        }
        // Equal duplicate lengths are one length.
        XCTAssertEqual(try parseAll("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\n\r\nok")[0].body, Array("ok".utf8))
    }

    func testStatusMapping() {
        XCTAssertEqual(error("GET / HTTP/2.0\r\nHost: h\r\n\r\n")?.status, .httpVersionNotSupported)
        XCTAssertEqual(error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")?.status, .lengthRequired)
        let small = HTTPRequestParser.Limits(maxRequestLine: 64, maxHeaderBytes: 256, maxHeaderCount: 4, maxBodyBytes: 10)
        XCTAssertEqual(error("GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: h\r\n\r\n", limits: small)?.status, .uriTooLong)
        // Without a line end yet, a long line is refused as soon as it passes the limit.
        XCTAssertEqual(error("GET /" + String(repeating: "a", count: 100), limits: small)?.status, .uriTooLong)
        XCTAssertEqual(error("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "b", count: 300) + "\r\n\r\n", limits: small)?.status,
                       .requestHeaderFieldsTooLarge)
        XCTAssertEqual(error("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "b", count: 300), limits: small)?.status,
                       .requestHeaderFieldsTooLarge)
        XCTAssertEqual(error("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n\r\n", limits: small)?.status,
                       .requestHeaderFieldsTooLarge)
        XCTAssertEqual(error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits: small)?.status, .payloadTooLarge)
    }

    func testErrorIsFinal() {
        var p = HTTPRequestParser()
        p.feed(Array("BAD\r\n\r\n".utf8))
        XCTAssertThrowsError(try p.next())
        p.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        XCTAssertThrowsError(try p.next())
        XCTAssertFalse(p.wantsMoreInput)
    }

    /// A client trickling a maximal head one byte at a time is served (the scan resumes, O(n)).
    func testTrickledLargeHead() throws {
        var text = "GET /x HTTP/1.1\r\nHost: h\r\n"
        for i in 0..<60 { text += "X-\(i): " + String(repeating: "v", count: 400) + "\r\n" }
        text += "\r\n"
        XCTAssertLessThan(text.utf8.count, Limits.maxHTTPHeaderBytes)
        var p = HTTPRequestParser()
        var got: HTTPRequest?
        for b in text.utf8 {
            p.feed(CollectionOfOne(b))
            if let r = try p.next() { got = r }
        }
        XCTAssertEqual(got?.headers.count, 61)
    }

    func testLeadingEmptyLinesIgnored() throws {
        XCTAssertEqual(try parseAll("\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n").map(\.path), ["/x"])
    }

    func testBackpressure() {
        let limits = HTTPRequestParser.Limits(maxRequestLine: 64, maxHeaderBytes: 128, maxHeaderCount: 4, maxBodyBytes: 16)
        var p = HTTPRequestParser(limits: limits)
        p.feed([UInt8](repeating: UInt8(ascii: "a"), count: 100))
        XCTAssertTrue(p.wantsMoreInput)
        p.feed([UInt8](repeating: UInt8(ascii: "a"), count: 100))
        XCTAssertFalse(p.wantsMoreInput)
    }

    /// Random and mutated inputs never trap, and whatever comes out is within the limits.
    func testFuzzNeverTraps() {
        var rng = SeededRNG(seed: 42)
        let seeds = [
            "GET /v1/jobs/abc?wait=1 HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
            "POST /v1/jobs HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
            "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        ].map { Array($0.utf8) }
        let limits = HTTPRequestParser.Limits(maxRequestLine: 128, maxHeaderBytes: 512, maxHeaderCount: 8, maxBodyBytes: 64)
        let alphabet = Array("GETPOST /:\r\n HTTP/1.1Content-Length0123456789abc%?&=\t\u{7f}".utf8) + [0, 0x80, 0xff]
        for i in 0..<3000 {
            var input: [UInt8]
            if i % 3 == 0 {
                input = (0..<Int(rng.next() % 300)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            } else {
                input = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    guard !input.isEmpty else { break }
                    let at = Int(rng.next() % UInt64(input.count))
                    switch rng.next() % 4 {
                    case 0: input[at] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: input.remove(at: at)
                    case 2: input.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    default: input.insert(contentsOf: input[at...].prefix(20), at: at)
                    }
                }
            }
            var p = HTTPRequestParser(limits: limits)
            var offset = 0
            while offset < input.count {
                let n = 1 + Int(rng.next() % 40)
                p.feed(input[offset..<min(input.count, offset + n)])
                offset += n
                do {
                    while let r = try p.next() {
                        XCTAssertLessThanOrEqual(r.body.count, limits.maxBodyBytes)
                        XCTAssertLessThanOrEqual(r.headers.count, limits.maxHeaderCount)
                        XCTAssertTrue(r.path.hasPrefix("/") || r.path == "*")
                    }
                } catch {
                    XCTAssertTrue([400, 411, 413, 414, 431, 505].contains(error.status.code))
                    break
                }
            }
        }
    }
}
