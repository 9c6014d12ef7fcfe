import XCTest
import Foundation
import MurmurCore
@testable import MurmurJobs

/// The blob-fetch messages against Specs/vectors/jobs-blob.json, and reassembly.
final class BlobMessageTests: XCTestCase {
    private func vectors() throws -> [String: Any] {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let data = try Data(contentsOf: url.appendingPathComponent("Specs/vectors/jobs-blob.json"))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func bytes(_ hex: Any?) throws -> [UInt8] { try XCTUnwrap(Hex.decode(try XCTUnwrap(hex as? String))) }

    func testVectorsEncodeAndDecodeByteForByte() throws {
        let v = try vectors()
        let blob = (0..<40).flatMap { _ in (0..<256).map { UInt8($0) } }
        XCTAssertEqual(Hash.of(blob).hex, v["blob_hash"] as? String)
        for case let item as [String: Any] in try XCTUnwrap(v["vectors"] as? [Any]) {
            let type = try XCTUnwrap(item["type"] as? Int)
            let payload = try bytes(item["payload"])
            let hash = Hash(try XCTUnwrap(Bytes32(try bytes(item["hash"]))))
            let expected: BlobMessage
            switch type {
            case 0x40: expected = .request(hash: hash, offset: UInt64(item["offset"] as? Int ?? -1), maxLength: UInt32(item["max_length"] as? Int ?? 0))
            case 0x41: expected = .chunk(hash: hash, offset: UInt64(item["offset"] as? Int ?? -1), total: UInt64(item["total"] as? Int ?? -1), bytes: try bytes(item["bytes"]))
            default: expected = .missing(hash: hash)
            }
            XCTAssertEqual(expected.type, UInt8(type))
            XCTAssertEqual(expected.payload, payload, "\(item["name"] ?? "")")
            XCTAssertEqual(try BlobMessage(type: UInt8(type), payload: payload), expected)
        }
        for case let item as [String: Any] in try XCTUnwrap(v["invalid"] as? [Any]) {
            let type = UInt8(try XCTUnwrap(item["type"] as? Int))
            XCTAssertThrowsError(try BlobMessage(type: type, payload: try bytes(item["payload"])), "\(item["name"] ?? "")")
        }
    }

    func testAssemblyFetchesALargeOutputInChunksAndChecksItsHash() throws {
        var rng = SeededRNG(seed: 5)
        let blob = (0..<(3 * Limits.maxBlobChunkBytes + 17)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var a = BlobAssembly(hash: Hash.of(blob), total: UInt64(blob.count))
        var rounds = 0
        while let request = a.nextRequest {
            rounds += 1
            let answer = BlobAssembly.answer(try BlobMessage(type: request.type, payload: request.payload), from: blob)
            let outcome = a.take(try BlobMessage(type: answer.type, payload: answer.payload))
            XCTAssertEqual(outcome, a.nextRequest == nil ? .complete : .more)
        }
        XCTAssertEqual(rounds, 4)
        XCTAssertEqual(a.bytes, blob)
        // A peer serving other bytes of the same size is caught at the end.
        var forged = BlobAssembly(hash: Hash.of(blob), total: UInt64(blob.count))
        var other = blob
        other[7] ^= 1
        var last = BlobAssembly.Outcome.more
        while let request = forged.nextRequest, last == .more { last = forged.take(BlobAssembly.answer(request, from: other)) }
        guard case .bad = last else { return XCTFail("forged output accepted") }
        XCTAssertEqual(BlobAssembly.answer(a.nextRequest ?? .missing(hash: .zero), from: nil), .missing(hash: .zero))
    }

    /// Random and mutated payloads never trap; whatever decodes re-encodes to the same bytes.
    func testDecoderFuzz() throws {
        var rng = SeededRNG(seed: 77)
        let seeds: [BlobMessage] = [
            .request(hash: Hash.of([1]), offset: 5, maxLength: 100),
            .chunk(hash: Hash.of([2]), offset: 3, total: 10, bytes: [1, 2, 3, 4]),
            .missing(hash: Hash.of([3])),
        ]
        for i in 0..<3000 {
            let base = seeds[i % seeds.count]
            var payload = base.payload
            switch rng.next() % 3 {
            case 0: if !payload.isEmpty { payload[Int(rng.next() % UInt64(payload.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            case 1: payload = Array(payload.prefix(Int(rng.next() % UInt64(payload.count + 1))))
            default: payload = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            let type = UInt8(0x40 + rng.next() % 4)
            if let m = try? BlobMessage(type: type, payload: payload) {
                XCTAssertEqual(m.type, type)
                XCTAssertEqual(m.payload, payload)
            }
        }
    }
}
