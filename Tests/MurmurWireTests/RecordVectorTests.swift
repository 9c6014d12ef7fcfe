import Foundation
import XCTest
import MurmurCore
import MurmurCrypto
@testable import MurmurWire

/// Specs/vectors/records.json was written by an independent encoder (Scripts/record_vectors.py)
/// from the spec's tables; these tests hold the Swift code to it byte for byte.
final class RecordVectorTests: XCTestCase {
    struct Vectors: Decodable {
        struct Valid: Decodable { var name, kind, seed, author, body, record, id: String; var issued_at, expires_at, now: Int64 }
        struct Invalid: Decodable { var name, expect, record, why: String; var now: Int64 }
        var valid: [Valid]
        var invalid: [Invalid]
    }

    static func load() throws -> Vectors {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("Specs/vectors/records.json"))
        return try JSONDecoder().decode(Vectors.self, from: data)
    }

    func testValidVectorsMatchByteForByte() throws {
        let vectors = try Self.load()
        let built = try Fixture.all()
        XCTAssertEqual(Set(vectors.valid.map(\.name)), Set(built.keys))
        for v in vectors.valid {
            let record = try XCTUnwrap(built[v.name], v.name)
            XCTAssertEqual(Hex.encode(record.body), v.body, "\(v.name) body")
            XCTAssertEqual(Hex.encode(record.encoded), v.record, "\(v.name) record")
            XCTAssertEqual(record.id.hex, v.id, "\(v.name) id")
            XCTAssertEqual(record.author.hex, v.author, "\(v.name) author")
            XCTAssertEqual(record.kind.description, v.kind)
            // And the other way: the vector bytes decode and validate to the same record.
            let decoded = try Record(decoding: try XCTUnwrap(Hex.decode(v.record)), nowUnixMs: v.now)
            XCTAssertEqual(decoded.id.hex, v.id)
            XCTAssertEqual(try Record(record), decoded)
        }
    }

    func testDecodedVectorFields() throws {
        let vectors = try Self.load()
        func record(_ name: String) throws -> Record {
            let v = try XCTUnwrap(vectors.valid.first { $0.name == name })
            return try Record(decoding: try XCTUnwrap(Hex.decode(v.record)), nowUnixMs: v.now)
        }
        guard case let .job(job) = try record("job") else { return XCTFail("job") }
        XCTAssertEqual(job.body.redundancy, 3)
        XCTAssertEqual(job.body.inlineInput, Fixture.input)
        XCTAssertEqual(job.body.inputHash, Hash.of(Fixture.input))
        guard case let .modelManifest(m) = try record("manifest") else { return XCTFail("manifest") }
        XCTAssertEqual(m.body.chunkHashes.count, 3)
        XCTAssertEqual(m.body.modelHash, Hash.of(Fixture.model))
        XCTAssertEqual(m.body.inputs.first?.shape, [-1, 4])
        guard case let .verdict(v) = try record("verdict") else { return XCTFail("verdict") }
        XCTAssertEqual(v.body.accused, [Fixture.executors[1].publicKey])
        XCTAssertEqual(v.body.winningOutput, Hash.of(Fixture.outputA))
        XCTAssertEqual(v.body.majority.count, 3)
    }

    func testInvalidVectorsAreRefusedForTheStatedReason() throws {
        for v in try Self.load().invalid {
            let bytes = try XCTUnwrap(Hex.decode(v.record))
            do {
                _ = try Record(decoding: bytes, nowUnixMs: v.now)
                XCTFail("\(v.name) accepted (\(v.why))")
            } catch {
                let category: String
                switch error {
                case .malformed: category = "malformed"
                case .badSignature: category = "badSignature"
                case .expired: category = "expired"
                case .notYetValid: category = "notYetValid"
                case .lifetimeTooLong: category = "lifetimeTooLong"
                case .wrongKind: category = "wrongKind"
                case .invalid: category = "invalid"
                }
                XCTAssertEqual(category, v.expect, "\(v.name): \(error)")
            }
        }
    }
}

