import XCTest
import MurmurCore
@testable import MurmurHTTP

final class RouterResponseTests: XCTestCase {
    func router() -> Router<String> {
        var r = Router<String>()
        r.add("POST", "/v1/jobs", "submit")
        r.add("GET", "/v1/jobs/{id}", "job")
        r.add("GET", "/v1/models", "models")
        r.add("GET", "/metrics", "metrics")
        return r
    }

    func testMatching() {
        let r = router()
        guard case let .found(h, params, pattern) = r.match(method: "GET", path: "/v1/jobs/ab%20cd") else { return XCTFail() }
        XCTAssertEqual(h, "job")
        XCTAssertEqual(params, ["id": "ab cd"])
        XCTAssertEqual(pattern, "/v1/jobs/{id}")
        guard case .found("submit", _, _) = r.match(method: "POST", path: "/v1/jobs/") else { return XCTFail() }
        guard case .found("models", _, _) = r.match(method: "HEAD", path: "/v1/models") else { return XCTFail() }
        guard case let .methodNotAllowed(allowed) = r.match(method: "DELETE", path: "/v1/jobs") else { return XCTFail() }
        XCTAssertEqual(allowed, ["POST"])
        guard case let .methodNotAllowed(allowed2) = r.match(method: "POST", path: "/v1/models") else { return XCTFail() }
        XCTAssertEqual(allowed2, ["GET", "HEAD"])
        guard case .notFound = r.match(method: "GET", path: "/v1/jobs/a/b") else { return XCTFail() }
        guard case .notFound = r.match(method: "GET", path: "/v2/jobs") else { return XCTFail() }
        guard case .notFound = r.match(method: "GET", path: "/v1/jobs/%zz") else { return XCTFail() }
        guard case .notFound = r.match(method: "GET", path: "/") else { return XCTFail() }
    }

    func testQueryString() throws {
        XCTAssertEqual(try QueryString.parse("wait=5&x=a+b%21&flag"), ["wait": "5", "x": "a b!", "flag": ""])
        XCTAssertEqual(try QueryString.parse(""), [:])
        XCTAssertThrowsError(try QueryString.parse("a=%4"))
        XCTAssertThrowsError(try QueryString.parse("a=1&a=2"))
        XCTAssertThrowsError(try QueryString.parse("a=%ff"))
        XCTAssertThrowsError(try QueryString.parse((0..<40).map { "k\($0)=1" }.joined(separator: "&")))
    }

    func testResponseEncoding() {
        let r = HTTPResponse.json(.accepted, ["job_id": "ab"])
        let text = String(decoding: r.encode(keepAlive: true), as: UTF8.self)
        XCTAssertEqual(text, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"job_id\":\"ab\"}\n")
        let closing = String(decoding: r.encode(keepAlive: false, headOnly: true), as: UTF8.self)
        XCTAssertEqual(closing, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n")
        let e = HTTPResponse.error(.notFound, code: "not_found", message: "no job \"x\"")
        XCTAssertEqual(String(decoding: e.body, as: UTF8.self), #"{"error":{"code":"not_found","message":"no job \"x\""}}"# + "\n")
        // Header injection is impossible: CR/LF are dropped from names and values.
        var evil = HTTPResponse(status: .ok)
        evil.headers.add("X-A\r\nSet-Cookie", "v\r\nSet-Cookie: y")
        let s = String(decoding: evil.encode(keepAlive: true), as: UTF8.self)
        XCTAssertFalse(s.contains("\r\nSet-Cookie"))
        XCTAssertEqual(String(decoding: HTTPResponse(status: .noContent).encode(keepAlive: true), as: UTF8.self), "HTTP/1.1 204 No Content\r\n\r\n")
    }

    func testParseErrorResponse() throws {
        let r = HTTPResponse.error(.bodyTooLarge(limit: 10, declared: 20))
        XCTAssertEqual(r.status.code, 413)
        XCTAssertEqual(try JSONParser.parse(r.body)["error"]?["code"], "body_too_large")
    }

    func testStreamingAndServerSentEvents() {
        let head = String(decoding: HTTPStreamHead.serverSentEvents().encode(), as: UTF8.self)
        XCTAssertEqual(head, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        let event = ServerSentEvent.encode(event: "job.verified", id: "7", data: "{\"a\":1}\nsecond")
        XCTAssertEqual(String(decoding: event, as: UTF8.self), "event: job.verified\nid: 7\ndata: {\"a\":1}\ndata: second\n\n")
        XCTAssertEqual(String(decoding: HTTPChunk.encode(Array(repeating: 0x61, count: 26)), as: UTF8.self),
                       "1a\r\n" + String(repeating: "a", count: 26) + "\r\n")
        XCTAssertEqual(HTTPChunk.encode([]), [])
        XCTAssertEqual(String(decoding: HTTPChunk.last, as: UTF8.self), "0\r\n\r\n")
    }
}
