import Foundation
import XCTest
import MurmurCore
import MurmurWire
@testable import MurmurTransfer

/// Specs/vectors/transfer.json was written by an independent encoder (Scripts/transfer_vectors.py)
/// from the spec's tables; these tests hold the Swift codec to it byte for byte.
final class TransferVectorTests: XCTestCase {
    struct Vectors: Decodable {
        struct Fields: Decodable {
            var request_id: UInt32
            var model: String?
            var chunk, offset, length, reason, retry_after_ms: UInt32?
            var data: String?
        }
        struct Valid: Decodable { var name: String; var type: UInt8; var fields: Fields; var payload: String }
        struct Invalid: Decodable { var name: String; var type: UInt8; var payload: String; var expect: String }
        struct Chunk: Decodable { var index: Int; var offset: UInt64; var length: Int; var hash: String }
        struct Layout: Decodable { var size: Int; var chunk_size: Int; var model_hash: String; var chunks: [Chunk] }
        var valid: [Valid]
        var invalid: [Invalid]
        var layout: Layout
    }

    static func load() throws -> Vectors {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("Specs/vectors/transfer.json"))
        return try JSONDecoder().decode(Vectors.self, from: data)
    }

    /// Builds the message a vector describes from its fields (not from its bytes).
    static func build(_ v: Vectors.Valid) throws -> TransferMessage {
        let f = v.fields
        let model = try XCTUnwrap(f.model.flatMap { Hash(hex: $0) } ?? (v.type == TransferMessageType.cancel ? Hash.zero : nil))
        switch v.type {
        case TransferMessageType.request:
            return .request(ChunkRequest(requestID: f.request_id, modelHash: model, chunkIndex: try XCTUnwrap(f.chunk),
                                         offset: try XCTUnwrap(f.offset), length: try XCTUnwrap(f.length)))
        case TransferMessageType.piece:
            return .piece(ChunkPiece(requestID: f.request_id, modelHash: model, chunkIndex: try XCTUnwrap(f.chunk),
                                     offset: try XCTUnwrap(f.offset), data: try XCTUnwrap(Hex.decode(try XCTUnwrap(f.data)))))
        case TransferMessageType.refusal:
            let reason = try XCTUnwrap(RefusalReason(rawValue: UInt8(try XCTUnwrap(f.reason))))
            return .refusal(ChunkRefusal(requestID: f.request_id, modelHash: model, chunkIndex: try XCTUnwrap(f.chunk),
                                         reason: reason, retryAfterMs: try XCTUnwrap(f.retry_after_ms)))
        default:
            return .cancel(ChunkCancel(requestID: f.request_id))
        }
    }

    func testValidVectorsMatchByteForByte() throws {
        let vectors = try Self.load()
        XCTAssertEqual(Set(vectors.valid.map(\.type)), [0x60, 0x61, 0x62, 0x63])
        for v in vectors.valid {
            let message = try Self.build(v)
            XCTAssertEqual(message.type, v.type, v.name)
            XCTAssertEqual(Hex.encode(message.payload), v.payload, v.name)
            let decoded = try TransferMessage(type: v.type, payload: try XCTUnwrap(Hex.decode(v.payload)))
            XCTAssertEqual(decoded, message, v.name)
        }
    }

    func testInvalidVectorsAreRefusedWithTheirError() throws {
        for v in try Self.load().invalid {
            let payload = try XCTUnwrap(Hex.decode(v.payload))
            do {
                _ = try TransferMessage(type: v.type, payload: payload)
                XCTFail("\(v.name) decoded")
            } catch {
                XCTAssertEqual(Self.category(error), v.expect, "\(v.name): \(error)")
            }
        }
    }

    func testLayoutVector() throws {
        let l = try Self.load().layout
        let bytes = (0..<l.size).map { UInt8((7 * $0 + 3) % 256) }
        let m = ModelManifest(describing: bytes, name: "v", modelVersion: "", chunkSize: l.chunk_size,
                              inputs: [], outputs: [])
        XCTAssertEqual(m.modelHash.hex, l.model_hash)
        XCTAssertEqual(m.chunkHashes.map(\.hex), l.chunks.map(\.hash))
        let layout = ModelLayout(m)
        XCTAssertEqual(layout.chunkCount, l.chunks.count)
        for c in l.chunks {
            XCTAssertEqual(layout.fileOffset(c.index), c.offset)
            XCTAssertEqual(layout.chunkLength(c.index), c.length)
        }
    }

    static func category(_ e: DecodeError) -> String {
        switch e {
        case .truncated: return "truncated"
        case .tooLarge: return "tooLarge"
        case .invalidValue: return "invalidValue"
        case .unknownTag: return "unknownTag"
        case .unsupportedVersion: return "unsupportedVersion"
        case .trailingBytes: return "trailingBytes"
        }
    }
}

/// Seeded property tests: every valid message round-trips to identical bytes; random and
/// mutated payloads never trap, and whatever decodes re-encodes to the same bytes (canonical).
final class TransferCodecFuzzTests: XCTestCase {
    static func randomMessage(_ rng: inout SeededRNG) -> TransferMessage {
        let model = Hash(Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()))
        let id = UInt32(truncatingIfNeeded: rng.next())
        let chunk = UInt32(rng.next() % UInt64(Limits.maxManifestChunks))
        switch rng.next() % 4 {
        case 0:
            let length = UInt32(1 + rng.next() % UInt64(Limits.maxTransferRequestBytes))
            let offset = UInt32(rng.next() % UInt64(UInt32(Limits.maxModelChunkBytes) - length + 1))
            return .request(ChunkRequest(requestID: id, modelHash: model, chunkIndex: chunk, offset: offset, length: length))
        case 1:
            let n = Int(1 + rng.next() % 300)
            let data = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            return .piece(ChunkPiece(requestID: id, modelHash: model, chunkIndex: chunk, offset: UInt32(rng.next() % 1_000_000), data: data))
        case 2:
            let reason = RefusalReason.allCases[Int(rng.next() % 4)]
            let retry = reason == .busy ? UInt32(1 + rng.next() % UInt64(Limits.maxTransferRetryAfterMs)) : 0
            return .refusal(ChunkRefusal(requestID: id, modelHash: model, chunkIndex: chunk, reason: reason, retryAfterMs: retry))
        default:
            return .cancel(ChunkCancel(requestID: id))
        }
    }

    func testRoundTrip() throws {
        var rng = SeededRNG(seed: 1)
        for _ in 0..<2000 {
            let m = Self.randomMessage(&rng)
            let payload = m.payload
            let back = try TransferMessage(type: m.type, payload: payload)
            XCTAssertEqual(back, m)
            XCTAssertEqual(back.payload, payload)
        }
    }

    func testMaximalPieceFitsOneMessage() throws {
        let piece = ChunkPiece(requestID: 1, modelHash: .zero, chunkIndex: 0, offset: 0, data: [UInt8](repeating: 7, count: Limits.maxTransferPieceBytes))
        XCTAssertLessThanOrEqual(TransferMessage.piece(piece).payload.count, Limits.maxFramePlaintext - 5)
    }

    func testMutatedAndRandomPayloadsNeverTrap() {
        var rng = SeededRNG(seed: 2)
        var decoded = 0
        for i in 0..<6000 {
            var type = TransferMessageType.request + UInt8(rng.next() % 5)
            var payload: [UInt8]
            if i % 3 == 0 {
                payload = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                let m = Self.randomMessage(&rng)
                type = m.type
                payload = m.payload
                for _ in 0..<(1 + rng.next() % 3) {
                    switch rng.next() % 3 {
                    case 0 where !payload.isEmpty: payload[Int(rng.next() % UInt64(payload.count))] ^= UInt8(1 << (rng.next() % 8))
                    case 1 where !payload.isEmpty: payload.removeLast(Int(rng.next() % UInt64(min(payload.count, 8))) + 1)
                    default: payload.append(UInt8(truncatingIfNeeded: rng.next()))
                    }
                }
            }
            if let m = try? TransferMessage(type: type, payload: payload) {
                decoded += 1
                XCTAssertEqual(m.payload, payload, "not canonical")
            }
        }
        XCTAssertGreaterThan(decoded, 100)
    }
}
