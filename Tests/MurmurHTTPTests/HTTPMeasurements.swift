import Foundation
import XCTest
import MurmurCore
@testable import MurmurHTTP

/// Throughput figures for the report, not assertions. Runs only with MURMUR_MEASURE=1, in release:
/// `MURMUR_MEASURE=1 swift test -c release -Xswiftc -enable-testing --filter HTTPMeasurements`
final class HTTPMeasurements: XCTestCase {
    func testMeasureParsers() throws {
        guard ProcessInfo.processInfo.environment["MURMUR_MEASURE"] == "1" else { return }
        let one = Array("GET /v1/jobs/\(String(repeating: "ab", count: 32))?wait=5 HTTP/1.1\r\nHost: 127.0.0.1:7480\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n".utf8)
        let n = 200_000
        var batch: [UInt8] = []
        for _ in 0..<100 { batch += one }
        var p = HTTPRequestParser()
        var count = 0
        var t = Date()
        while count < n {
            p.feed(batch)
            while let _ = try p.next() { count += 1 }
        }
        let requestRate = Double(count) / Date().timeIntervalSince(t)

        var rng = SeededRNG(seed: 1)
        let floats = (0..<250_000).map { _ in JSONValue.double(Double(Float(rng.unitDouble() * 2 - 1))) }
        let doc: JSONValue = ["model": "mlp", "input": ["x": ["shape": [1, 250_000], "dtype": "float32", "data": .array(floats)]]]
        let bytes = doc.serialized()
        t = Date()
        let parsed = try JSONParser.parse(bytes)
        let parseSeconds = Date().timeIntervalSince(t)
        t = Date()
        let again = parsed.serialized()
        let writeSeconds = Date().timeIntervalSince(t)
        XCTAssertEqual(again, bytes)
        let mb = Double(bytes.count) / 1e6
        print("http: \(Int(requestRate)) pipelined GET requests/s parsed; json: parse \(String(format: "%.0f", mb / parseSeconds)) MB/s, "
              + "serialize \(String(format: "%.0f", mb / writeSeconds)) MB/s (\(String(format: "%.1f", mb)) MB of 250k floats)")
    }
}
