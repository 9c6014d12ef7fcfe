import Foundation
import XCTest
import MurmurCore
@testable import MurmurTrace

final class TraceFormatTests: XCTestCase {
    struct Vectors: Decodable {
        struct Decode: Decodable {
            var name: String, line: String, ok: Bool
            var expect: [String: AnyValue]?
            var error: String?
        }
        struct Encode: Decodable {
            var event: [String: AnyValue], seq: Int64?, wall: Int64?, line: String
        }
        var decode: [Decode]
        var encode: [Encode]
    }
    enum AnyValue: Decodable, Equatable {
        case int(Int64), string(String)
        init(from d: Decoder) throws {
            let c = try d.singleValueContainer()
            if let i = try? c.decode(Int64.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
        }
        var int: Int64? { if case .int(let v) = self { return v }; return nil }
        var string: String? { if case .string(let v) = self { return v }; return nil }
    }

    func loadVectors() throws -> Vectors {
        let url = TraceTestSupport.repoRoot.appendingPathComponent("Specs/vectors/trace-lines.json")
        return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }

    func testDecodeVectors() throws {
        let v = try loadVectors()
        XCTAssertGreaterThan(v.decode.count, 20)
        for c in v.decode {
            let reader = TraceReader()
            do {
                let line = try reader.parse(line: c.line)
                XCTAssertTrue(c.ok, "\(c.name): parsed but should fail with \(c.error ?? "?")")
                guard let e = c.expect else { continue }
                let s = reader.strings
                XCTAssertEqual(line.time, e["t"]?.int, c.name)
                XCTAssertEqual(TraceHex.string(line.node), e["node"]?.string, c.name)
                XCTAssertEqual(s.name(line.event), e["ev"]?.string, c.name)
                XCTAssertEqual(s.name(line.recordKind), e["kind"]?.string, c.name)
                XCTAssertEqual(line.id.map(TraceHex.string), e["id"]?.string, c.name)
                XCTAssertEqual(line.peer.map(TraceHex.string), e["peer"]?.string, c.name)
                XCTAssertEqual(line.bytes, e["bytes"]?.int, c.name)
                XCTAssertEqual(line.hops, e["hops"]?.int, c.name)
                XCTAssertEqual(s.name(line.reason), e["reason"]?.string, c.name)
                XCTAssertEqual(line.seq, e["seq"]?.int, c.name)
                XCTAssertEqual(line.wall, e["wall"]?.int, c.name)
                XCTAssertEqual("\(line.versionMajor).\(line.versionMinor)", e["version"]?.string, c.name)
            } catch {
                XCTAssertFalse(c.ok, "\(c.name): \(error)")
                XCTAssertEqual(error.category, c.error, "\(c.name): \(error)")
                XCTAssertFalse(error.description.isEmpty)
            }
        }
    }

    func testEncodeVectors() throws {
        for c in try loadVectors().encode {
            let f = c.event
            let e = TraceEvent(time: Instant(nanoseconds: f["t"]!.int!), node: NodeID(hex: f["node"]!.string!)!,
                               kind: TraceEvent.Kind(rawValue: f["ev"]!.string!)!, recordKind: f["kind"]?.string,
                               recordID: f["id"]?.string.flatMap { Hash(hex: $0) }, peer: f["peer"]?.string.flatMap { NodeID(hex: $0) },
                               bytes: f["bytes"]?.int.map { Int($0) }, hops: f["hops"]?.int.map { Int($0) }, reason: f["reason"]?.string)
            XCTAssertEqual(TraceEncoder.line(e, seq: c.seq, wall: c.wall), c.line + "\n")
            // And back.
            let reader = TraceReader()
            XCTAssertEqual(try reader.parse(line: c.line).event(strings: reader.strings), e)
        }
    }

    /// Every event kind, with and without optional fields, survives writer → reader.
    func testRoundTripAllKinds() throws {
        var rng = SeededRNG(seed: 7)
        func b32() -> Bytes32 { Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()) }
        var events: [TraceEvent] = []
        for (i, k) in TraceEvent.Kind.allCases.enumerated() {
            events.append(TraceEvent(time: Instant(nanoseconds: Int64(i) * 1_000 - 500), node: NodeID(b32()), kind: k))
            events.append(TraceEvent(time: Instant(nanoseconds: Int64(1) << 62 - 1 - Int64(i)), node: NodeID(b32()), kind: k,
                                     recordKind: "manifest", recordID: Hash(b32()), peer: NodeID(b32()),
                                     bytes: Int(rng.next() % 1_000_000), hops: i, reason: "r\u{e9}ason \"\(i)\"\\"))
        }
        let path = TraceTestSupport.write(TraceTestSupport.lines(events))
        let reader = TraceReader()
        var back: [TraceEvent] = []
        var seqs: [Int64] = []
        try reader.read(path: path) { line in
            back.append(line.event(strings: reader.strings)!)
            seqs.append(line.seq ?? -1)
        }
        XCTAssertEqual(back, events)
        XCTAssertEqual(seqs, (1...Int64(events.count)).map { $0 })
        XCTAssertEqual(reader.stats.errors, 0)
    }

    /// Integers are written as Swift prints them (two digits per step after a digit count in
    /// the encoder): every power of ten and its neighbours, signs, extremes, random values.
    func testIntegersEncodeLikeDescription() {
        var values: [Int64] = [0, 1, -1, 9, 10, 11, 99, 100, 101, .max, .min + 1, 1 << 62 - 1, -(1 << 62) + 1]
        var p: Int64 = 1
        for _ in 0..<18 { p *= 10; values += [p - 1, p, p + 1, -p, -(p - 1)] }
        var rng = SeededRNG(seed: 3)
        for _ in 0..<2_000 { values.append(Int64(bitPattern: rng.next()) >> (rng.next() % 64)) }
        let node = NodeID(Bytes32(w0: 0x0123_4567_89ab_cdef, w1: 0xfedc_ba98_7654_3210, w2: 0, w3: .max))
        for v in values {
            let e = TraceEvent(time: Instant(nanoseconds: v), node: node, kind: .send, bytes: Int(v), hops: Int(v))
            let expected = "{\"v\":1,\"t\":\(v),\"seq\":\(v),\"wall\":\(v),\"node\":\"0123456789abcdeffedcba98765432100000000000000000ffffffffffffffff\","
                + "\"ev\":\"send\",\"bytes\":\(v),\"hops\":\(v)}\n"
            XCTAssertEqual(TraceEncoder.line(e, seq: v, wall: v), expected)
        }
    }

    /// A file with every kind of damage: good lines still count, bad ones are counted by cause.
    func testBrokenFileIsCountedNotFatal() throws {
        let n = String(repeating: "ab", count: 32), id = String(repeating: "cd", count: 32)
        var text = ""
        text += #"{"v":1,"t":1,"node":"\#(n)","ev":"deliver","kind":"manifest","id":"\#(id)","hops":0}"# + "\n"
        text += #"{"v":1,"t":2,"node":"\#(n)","ev":"se"# + "\n"                     // cut mid-line
        text += #"{"v":"1.4","t":3,"node":"\#(n)","ev":"send","new":{"deep":[1,{"x":"y"}]},"peer":"\#(id)"}"# + "\r\n" // newer minor, CRLF
        text += #"{"v":3,"t":4,"node":"\#(n)","ev":"send"}"# + "\n"                 // newer major
        text += "\n   \n"                                                            // blank lines
        text += #"{"v":1,"t":5,"node":"\#(n)","ev":"warp"}"# + "\n"                  // unknown event kind
        text += #"{"v":1,"t":6,"node":"\#(n)","ev":"drop","reason":""# + String(repeating: "x", count: 100_000) + "\"}\n" // too long
        text += "\u{0}\u{1}garbage\u{ff}\n"
        text += #"{"v":1,"t":6.5,"node":"\#(n)","ev":"recv"}"# + "\n"                // fractional time
        text += #"{"v":1,"t":7,"node":"\#(n)","ev":"recv","peer":"\#(id)"}"# + "\n"
        text += #"{"v":1,"t":8,"node":"\#(n)","ev":"dup","id":"\#(id)"#             // truncated at EOF
        let path = TraceTestSupport.write(text)
        // A small chunk size exercises lines that straddle chunk boundaries.
        let reader = TraceReader(chunkBytes: 1)
        var times: [Int64] = []
        try reader.read(path: path) { times.append($0.time) }
        XCTAssertEqual(times, [1, 3, 5, 7])
        let s = reader.stats
        XCTAssertEqual(s.lines, 10)
        XCTAssertEqual(s.events, 4)
        XCTAssertEqual(s.errors, 6)
        XCTAssertEqual(s.errorsByCategory["truncated"], 2)
        XCTAssertEqual(s.errorsByCategory["unsupported-version"], 1)
        XCTAssertEqual(s.errorsByCategory["line-too-long"], 1)
        XCTAssertEqual(s.errorsByCategory["syntax"], 1)
        XCTAssertEqual(s.errorsByCategory["bad-value"], 1)
        XCTAssertEqual(s.newerMinorLines, 1)
        XCTAssertEqual(s.unknownEventLines, 1)
        XCTAssertEqual(s.examples.first?.line, 2)
        XCTAssertTrue(s.examples.first!.description.contains("truncated"), s.examples.first!.description)
        XCTAssertTrue(s.examples.contains { $0.line == 4 && $0.description.contains("upgrade murmur") })
    }

    /// Seeded random damage to valid lines never crashes the reader and never yields garbage ids.
    func testFuzzedLinesNeverCrash() throws {
        let sim = SyntheticTrace(.init(nodes: 6, topology: .line))
        let good = TraceTestSupport.lines(TraceTestSupport.events(sim)).split(separator: "\n").map(String.init)
        var rng = SeededRNG(seed: 99)
        let reader = TraceReader()
        var parsed = 0
        for _ in 0..<3000 {
            var b = Array(good[Int(rng.next() % UInt64(good.count))].utf8)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 4 {
                case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b.removeSubrange(i...)
                case 2: b.insert(UInt8(ascii: "\""), at: i)
                default: b.insert(UInt8(ascii: "{"), at: i)
                }
                if b.isEmpty { b = [UInt8(ascii: "{")] }
            }
            if let line = try? reader.parse(line: String(decoding: b, as: UTF8.self)) {
                parsed += 1
                XCTAssertNotNil(line.kind.map { _ in true } ?? reader.strings.name(line.event))
            }
        }
        XCTAssertLessThan(parsed, 3000)
    }

    /// A quiet node's events reach the file within the flush interval of node time.
    func testWriterFlushesAfterTheIntervalWithoutAFullBuffer() throws {
        let path = TraceTestSupport.tempDir().appendingPathComponent("quiet.jsonl").path
        let node = NodeID(Bytes32(w0: 9, w1: 9, w2: 9, w3: 9))
        let writer = try TraceWriter(path: path, bufferBytes: 1 << 20, wallClock: nil)
        func lines() -> Int { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count }
        try writer.append(TraceEvent(time: Instant(nanoseconds: 5_000_000_000), node: node, kind: .connect, peer: node))
        try writer.append(TraceEvent(time: Instant(nanoseconds: 5_500_000_000), node: node, kind: .disconnect, peer: node))
        XCTAssertEqual(lines(), 0, "buffered")
        try writer.append(TraceEvent(time: Instant(nanoseconds: 6_000_000_001), node: node, kind: .connect, peer: node))
        XCTAssertEqual(lines(), 3, "written once 1 s of node time passed")
    }

    func testWriterBuffersRotatesAndStampsWallClock() throws {
        let dir = TraceTestSupport.tempDir()
        let path = dir.appendingPathComponent("node.jsonl").path
        let node = NodeID(Bytes32(w0: 1, w1: 2, w2: 3, w3: 4))
        let writer = try TraceWriter(path: path, maxFileBytes: 8192, keepFiles: 2, bufferBytes: 4096,
                                     wallClock: { 1_764_000_000_000_000_000 })
        for i in 0..<400 {
            try writer.append(TraceEvent(time: Instant(nanoseconds: Int64(i) * 10_000_000), node: node, kind: .send,
                                         recordKind: "announcement", recordID: Hash.of([UInt8(i & 0xff)]), peer: node, bytes: i, hops: 1))
        }
        try writer.flush()
        XCTAssertGreaterThan(writer.rotations, 2)
        let fm = FileManager.default
        XCTAssertTrue(fm.fileExists(atPath: path + ".1"))
        XCTAssertTrue(fm.fileExists(atPath: path + ".2"))
        XCTAssertFalse(fm.fileExists(atPath: path + ".3"), "keeps only 2 rotated files")
        var seqs: [Int64] = []
        var walls = 0
        let reader = TraceReader()
        for p in [path + ".2", path + ".1", path] {
            let size = (try fm.attributesOfItem(atPath: p)[.size] as? Int) ?? 0
            XCTAssertLessThanOrEqual(size, 8192)
            var first = true
            try reader.read(path: p) { line in
                seqs.append(line.seq ?? -1)
                if line.wall != nil { walls += 1 }
                if first { first = false }
            }
        }
        XCTAssertEqual(reader.stats.errors, 0)
        XCTAssertEqual(seqs, Array(seqs.first!...seqs.last!), "seq is contiguous across the rotated files")
        XCTAssertEqual(seqs.last, 400)
        XCTAssertGreaterThan(walls, 0)
    }
}

/// The live-stream parser: the same lines, split anywhere, with or without SSE framing.
final class TraceStreamTests: XCTestCase {
    func testLinesSplitAnywhereAndSSEFraming() throws {
        let sim = SyntheticTrace(.init(nodes: 8, topology: .star))
        let events = TraceTestSupport.events(sim)
        let plain = Array(TraceTestSupport.lines(events).utf8)
        var sse: [UInt8] = Array(": hello\nretry: 1000\n\n".utf8)
        for l in TraceTestSupport.lines(events).split(separator: "\n") { sse += Array("event: trace\ndata: \(l)\n\n".utf8) }
        for input in [plain, sse] {
            var rng = SeededRNG(seed: 3)
            let p = TraceStreamParser()
            var got: [TraceEvent] = []
            var i = 0
            while i < input.count {
                let n = 1 + Int(rng.next() % 97)
                p.feed(Array(input[i..<min(input.count, i + n)])) { got.append($0.event(strings: p.strings)!) }
                i += n
            }
            XCTAssertEqual(got, events)
            XCTAssertEqual(p.stats.errors, 0)
        }
        // A broken line in the stream is counted and the stream goes on.
        let p = TraceStreamParser()
        var n = 0
        p.feed(Array("data: {\"v\":1,\"t\":1\ndata: {\"v\":9,\"t\":1,\"node\":\"x\",\"ev\":\"send\"}\n".utf8)) { _ in n += 1 }
        p.feed(Array(TraceTestSupport.lines(Array(events.prefix(2))).utf8)) { _ in n += 1 }
        XCTAssertEqual(n, 2)
        XCTAssertEqual(p.stats.errorsByCategory, ["truncated": 1, "unsupported-version": 1])
    }
}
