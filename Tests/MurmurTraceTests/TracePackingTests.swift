import Foundation
import XCTest
import MurmurCore
@testable import MurmurTrace

/// `TracePacker` → `TraceUnpacker` gives back the same events (so a node's trace thread writes
/// the same lines as encoding the events directly), across id and string slot collisions,
/// dynamic strings, node changes, every kind and absent fields, and after `forget()`.
final class TracePackingTests: XCTestCase {
    func id(_ k: UInt64, slot: UInt64) -> Bytes32 { Bytes32(w0: k, w1: ~k, w2: k &* 3, w3: (k << 8) | slot) }

    func events() -> [TraceEvent] {
        var rng = SeededRNG(seed: 42)
        let me = NodeID(id(1, slot: 7)), other = NodeID(id(2, slot: 7))
        // Few slots for many peers: peers 0…39 share 4 slots.
        let peers = (0..<40).map { NodeID(id(UInt64($0) + 100, slot: UInt64($0 % 4))) }
        let kinds: [String?] = [nil, "ihave", "announcement", "job", "", "a\"b\\c\u{1}", String(repeating: "k", count: 300)]
        var out: [TraceEvent] = []
        for k in 0..<5_000 {
            let r = rng.next()
            let kind = TraceEvent.Kind.allCases[Int(r % UInt64(TraceEvent.Kind.allCases.count))]
            var reason: String? = nil
            switch (r >> 8) % 5 {
            case 0: reason = "queue-full"
            case 1: reason = "want \(k % 17)" // a new String each time
            case 2: reason = String(repeating: "x", count: Int((r >> 16) % 40_000)) // some larger than a batch
            default: break
            }
            let e = TraceEvent(time: Instant(nanoseconds: Int64(bitPattern: rng.next() >> 2) - (1 << 60)),
                               node: (r >> 20) % 50 == 0 ? other : me, kind: kind,
                               recordKind: kinds[Int((r >> 24) % UInt64(kinds.count))],
                               recordID: (r >> 28) % 2 == 0 ? Hash(id(rng.next(), slot: rng.next() & 0xFF)) : nil,
                               peer: (r >> 30) % 3 == 0 ? nil : peers[Int((r >> 32) % 40)],
                               bytes: (r >> 40) % 2 == 0 ? Int(truncatingIfNeeded: rng.next()) : nil,
                               hops: (r >> 41) % 2 == 0 ? Int((r >> 42) % 64) : nil, reason: reason)
            out.append(e)
        }
        return out
    }

    /// Packs into batches of at most `batch` bytes (as `NodeTraceFile` does), unpacks each.
    func roundTrip(_ events: [TraceEvent], batch: Int, forgetEvery: Int? = nil) -> [TraceEvent] {
        let packer = TracePacker(), unpacker = TraceUnpacker()
        var back: [TraceEvent] = []
        var buf = UnsafeMutableRawPointer.allocate(byteCount: batch, alignment: 8)
        var capacity = batch, used = 0
        func drain() {
            unpacker.unpack(buf, count: used) { back.append($0) }
            used = 0
        }
        for (k, e) in events.enumerated() {
            let need = TracePacker.maxPackedBytes(e)
            if used + need > capacity {
                drain()
                if need > capacity { buf.deallocate(); buf = .allocate(byteCount: need, alignment: 8); capacity = need }
            }
            let lost = forgetEvery.map { k % $0 == $0 - 1 } ?? false
            if lost { drain() }
            let n = packer.pack(e, into: buf + used)
            XCTAssertLessThanOrEqual(n, need)
            XCTAssertEqual(n % 8, 0)
            used += n
            if lost {
                // A lost batch (this event alone): the definitions it carried never reach the
                // unpacker; after `forget()` the packer defines again.
                used = 0
                packer.forget()
                back.append(e)
            }
        }
        drain()
        buf.deallocate()
        return back
    }

    func testRoundTripGivesTheSameEventsAndLines() {
        let input = events()
        let back = roundTrip(input, batch: 64 << 10)
        XCTAssertEqual(back.count, input.count)
        XCTAssertEqual(back, input)
        // …hence the same bytes.
        for (a, b) in zip(input, back).prefix(500) {
            XCTAssertEqual(TraceEncoder.line(a, seq: 3), TraceEncoder.line(b, seq: 3))
        }
    }

    func testAfterForgetTheWriterStillGetsTheRightIDsAndStrings() {
        // Every 7th event's bytes are thrown away (its batch dropped); `roundTrip` puts the
        // original back in the list so that the rest must still match exactly.
        let input = events()
        XCTAssertEqual(roundTrip(input, batch: 4096, forgetEvery: 7), input)
    }

    func testSmallControlMessageEventPacksInto24Bytes() {
        let packer = TracePacker()
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 1024, alignment: 8)
        defer { buf.deallocate() }
        let e = TraceEvent(time: Instant(nanoseconds: 5), node: NodeID(id(1, slot: 1)), kind: .recv,
                           recordKind: "ihave", peer: NodeID(id(2, slot: 2)), bytes: 140)
        XCTAssertGreaterThan(packer.pack(e, into: buf), 24) // first: defines node, peer, "ihave"
        XCTAssertEqual(packer.pack(e, into: buf), 24)
    }

    /// The trace thread's path (`TraceWriter.append(packed:count:unpacker:)`, encoding straight
    /// from the packed words) writes the same files as `append` of each event: same lines, same
    /// `seq`/`wall`, same flushes and rotations, huge strings included.
    func testPackedWriterWritesTheSameFilesAsTheEventWriter() throws {
        let input = events()
        let dir = NSTemporaryDirectory() + "murmur-packing-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wall: Int64 = 1_700_000_000_000_000_000
        func writer(_ name: String) throws -> TraceWriter {
            try TraceWriter(path: "\(dir)/\(name)", maxFileBytes: 1 << 20, keepFiles: 50, bufferBytes: 4096,
                            flushIntervalNs: 1 << 58, wallClock: { wall })
        }
        let a = try writer("a.jsonl"), b = try writer("b.jsonl")
        for e in input { try a.append(e) }
        try a.flush()
        let packer = TracePacker(), unpacker = TraceUnpacker()
        let batch = 64 << 10
        var buf = UnsafeMutableRawPointer.allocate(byteCount: batch, alignment: 8)
        var capacity = batch, used = 0, written = 0
        for e in input {
            let need = TracePacker.maxPackedBytes(e)
            if used + need > capacity {
                written += try b.append(packed: buf, count: used, unpacker: unpacker)
                used = 0
                if need > capacity { buf.deallocate(); buf = .allocate(byteCount: need, alignment: 8); capacity = need }
            }
            used += packer.pack(e, into: buf + used)
        }
        written += try b.append(packed: buf, count: used, unpacker: unpacker)
        buf.deallocate()
        try b.flush()
        XCTAssertEqual(written, input.count)
        XCTAssertEqual(a.eventsWritten, b.eventsWritten)
        XCTAssertGreaterThan(a.rotations, 3)
        XCTAssertEqual(a.rotations, b.rotations)
        for k in 0...a.rotations {
            let suffix = k == 0 ? "" : ".\(k)"
            let fa = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.jsonl\(suffix)"))
            let fb = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/b.jsonl\(suffix)"))
            XCTAssertGreaterThan(fa.count, 0)
            XCTAssertTrue(fa == fb, "file \(k) differs")
        }
    }
}
