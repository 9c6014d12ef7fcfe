import XCTest
import MurmurCore
@testable import MurmurHTTP

final class JSONTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue { try JSONParser.parse(Array(s.utf8)) }

    func testValidDocuments() throws {
        XCTAssertEqual(try parse(#" {"a": [1, -2.5, 3e2, true, false, null, "x"], "b": {}} "#),
                       .object(["a": [1, -2.5, 300.0, true, false, nil, "x"], "b": .object([:])]))
        XCTAssertEqual(try parse("0"), .int(0))
        XCTAssertEqual(try parse("-0").doubleValue?.sign, .minus)
        XCTAssertEqual(try parse("9223372036854775807"), .int(Int64.max))
        XCTAssertEqual(try parse("9223372036854775808"), .double(9223372036854775808))
        XCTAssertEqual(try parse("1.5E-3"), .double(0.0015))
        XCTAssertEqual(try parse(#""\u00e9\ud83d\ude00\n\"\\\/""#), .string("é😀\n\"\\/"))
        XCTAssertEqual(try parse(#""é""#), .string("é"))
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("[[[]]]"), [[[]]])
    }

    func testInvalidDocumentsAreRefused() {
        let bad = ["", " ", "{", "[1,]", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "1e", "+1", "--1", "NaN", "Infinity",
                   "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\u{01}b\"", "[1 2]",
                   "{\"a\" 1}", "1 2", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "1e999", "-1e999", "[", "]", "\"\\ud800\\u0041\""]
        for s in bad {
            XCTAssertThrowsError(try parse(s), s.debugDescription)
        }
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xff, 0x22])) { XCTAssertEqual($0 as? JSONError, .invalidUTF8) }
    }

    func testBounds() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertThrowsError(try parse(deep)) { XCTAssertEqual($0 as? JSONError, .tooDeep(limit: 64)) }
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        // Very deep input is refused without recursing into it (no stack overflow).
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 1_000_000)))
        XCTAssertThrowsError(try parse(String(repeating: "{\"a\":", count: 100_000)))
        XCTAssertThrowsError(try JSONParser(maxBytes: 10).parse(Array("[1,2,3,4,5,6]".utf8))) {
            XCTAssertEqual($0 as? JSONError, .tooLarge(limit: 10, actual: 13))
        }
        XCTAssertThrowsError(try parse("1" + String(repeating: "0", count: 70)))
        XCTAssertThrowsError(try JSONParser(maxObjectMembers: 2).parse(Array(#"{"a":1,"b":2,"c":3}"#.utf8))) {
            XCTAssertEqual($0 as? JSONError, .tooManyMembers(limit: 2))
        }
    }

    func testSerializerIsCanonicalAndRoundTrips() throws {
        let v: JSONValue = ["b": [1, 2.5, "x\n\"é\u{01}"], "a": nil, "c": ["z": true, "y": false]]
        XCTAssertEqual(v.text, #"{"a":null,"b":[1,2.5,"x\n\"é\u0001"],"c":{"y":false,"z":true}}"#)
        XCTAssertEqual(try JSONParser.parse(v.serialized()), v)
        XCTAssertEqual(JSONValue.double(3.0).text, "3.0")
        XCTAssertEqual(JSONValue.double(-0.0).text, "-0.0")
        XCTAssertEqual(JSONValue.double(.nan).text, "null")
        XCTAssertEqual(JSONValue.double(0.1).text, "0.1")
        XCTAssertEqual(JSONValue.double(1e300).text, "1e+300")
        XCTAssertEqual(try JSONParser.parse(JSONValue.double(1e300).serialized()), .double(1e300))
    }

    func testAccessors() throws {
        let v = try parse(#"{"n": 3, "d": 3.0, "f": 3.5, "s": "x", "a": [1], "o": {"k": 1}}"#)
        XCTAssertEqual(v["n"]?.intValue, 3)
        XCTAssertEqual(v["d"]?.intValue, 3)
        XCTAssertNil(v["f"]?.intValue)
        XCTAssertEqual(v["f"]?.doubleValue, 3.5)
        XCTAssertEqual(v["s"]?.stringValue, "x")
        XCTAssertEqual(v["a"]?.arrayValue, [1])
        XCTAssertEqual(v["o"]?["k"], 1)
        XCTAssertNil(v["missing"])
        XCTAssertNil(v["s"]?["k"])
    }

    /// Random bytes and mutations of valid documents never trap; whatever parses re-serializes
    /// to a document that parses to the same value.
    func testFuzzNeverTrapsAndRoundTrips() {
        var rng = SeededRNG(seed: 7)
        let seeds = [#"{"model": "abc", "input": {"x": {"shape": [2, 2], "dtype": "float32", "data": [1.5, -2, 3e-4, 0]}}, "redundancy": 3}"#,
                     #"[true, false, null, "\u00e9\ud83d\ude00", [[[]]], {"a": {"b": {"c": -0.0}}}]"#].map { Array($0.utf8) }
        let alphabet = Array(#"{}[],:"\ u0123456789abcdefeE.-+truefalsenull"#.utf8) + [0, 0x80, 0xC3, 0xA9, 0xff]
        let parser = JSONParser(maxBytes: 4096, maxDepth: 16)
        for i in 0..<5000 {
            var input: [UInt8]
            if i % 4 == 0 {
                input = (0..<Int(rng.next() % 200)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            } else {
                input = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    guard !input.isEmpty else { break }
                    let at = Int(rng.next() % UInt64(input.count))
                    switch rng.next() % 4 {
                    case 0: input[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    case 1: input.remove(at: at)
                    case 2: input.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    default: input.insert(contentsOf: input[at...].prefix(30), at: at)
                    }
                }
            }
            if let v = try? parser.parse(input) {
                XCTAssertEqual(try parser.parse(v.serialized()), v)
            }
        }
    }
}
