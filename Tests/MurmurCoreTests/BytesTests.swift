import XCTest
@testable import MurmurCore

final class BytesTests: XCTestCase {
    func testRoundTripAllFieldTypes() throws {
        var w = ByteWriter()
        w.u8(7); w.bool(true); w.u16(0xBEEF); w.u32(0xDEAD_BEEF); w.u64(.max); w.i64(-5)
        w.bytes8([1, 2]); w.bytes16([3]); w.bytes32([]); w.string16("héllo")
        let h = Hash.of([1, 2, 3])
        w.hash(h)
        var r = ByteReader(w.bytes)
        XCTAssertEqual(try r.u8(), 7)
        XCTAssertEqual(try r.bool(), true)
        XCTAssertEqual(try r.u16(), 0xBEEF)
        XCTAssertEqual(try r.u32(), 0xDEAD_BEEF)
        XCTAssertEqual(try r.u64(), .max)
        XCTAssertEqual(try r.i64(), -5)
        XCTAssertEqual(try r.bytes8(field: "a", max: 10), [1, 2])
        XCTAssertEqual(try r.bytes16(field: "b", max: 10), [3])
        XCTAssertEqual(try r.bytes32(field: "c", max: 10), [])
        XCTAssertEqual(try r.string16(field: "s", max: 100), "héllo")
        XCTAssertEqual(try r.hash(), h)
        XCTAssertNoThrow(try r.expectEnd("test"))
    }

    func testBigEndianLayout() {
        var w = ByteWriter()
        w.u32(0x0102_0304)
        XCTAssertEqual(w.bytes, [1, 2, 3, 4])
    }

    func testLengthCheckedBeforeAllocation() {
        var r = ByteReader([0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try r.bytes32(field: "payload", max: 1024)) { error in
            XCTAssertEqual(error as? DecodeError, .tooLarge(field: "payload", limit: 1024, actual: 0xFFFF_FFFF))
        }
    }

    func testTruncatedAndInvalidInputThrows() {
        var r = ByteReader([0, 5, 1, 2])
        XCTAssertThrowsError(try r.bytes16(field: "x", max: 100))
        var b = ByteReader([2])
        XCTAssertThrowsError(try b.bool())
        var s = ByteReader([0, 2, 0xC3, 0x28])
        XCTAssertThrowsError(try s.string16(field: "s", max: 10))
    }

    /// Random byte strings never crash the reader; every call either returns or throws.
    func testFuzzReaderNeverTraps() {
        var rng = SeededRNG(seed: 42)
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 40)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var r = ByteReader(bytes)
            while !r.isAtEnd {
                switch rng.next() % 6 {
                case 0: _ = try? r.u8()
                case 1: _ = try? r.u64()
                case 2: _ = try? r.bytes16(field: "f", max: 8)
                case 3: _ = try? r.string16(field: "s", max: 16)
                case 4: _ = try? r.hash()
                default: if (try? r.bool()) == nil { _ = try? r.u8() }
                }
            }
        }
    }

    func testBlake2bKnownAnswer() {
        // BLAKE2b-256 of the empty string (RFC 7693 parameters, 32-byte output).
        XCTAssertEqual(Hash.of([UInt8]()).hex, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        XCTAssertEqual(Hash.of(Array("abc".utf8)).hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
    }

    func testBytes32AndHexRoundTrip() {
        let h = Hash.of([9, 9])
        XCTAssertEqual(Hash(hex: h.hex), h)
        XCTAssertNil(Hash(hex: "abc"))
        XCTAssertNil(Hash(hex: String(repeating: "zz", count: 32)))
        XCTAssertEqual(Bytes32(h.bytes)?.bytes, h.bytes)
    }

    func testSeededRNGIsReproducible() {
        var a = SeededRNG(seed: 8812), b = SeededRNG(seed: 8812), c = SeededRNG(seed: 8813)
        let xa = (0..<5).map { _ in a.next() }
        XCTAssertEqual(xa, (0..<5).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0..<5).map { _ in c.next() })
    }
}
