import Foundation
import XCTest
import MurmurCore
@testable import MurmurInference

final class ProtobufTests: XCTestCase {
    func testVarintsAndFixedWidths() throws {
        var r = ProtoReader([0x96, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 1, 0, 0, 0])
        XCTAssertEqual(try r.varint(), 150)
        XCTAssertEqual(try r.varint(), UInt64.max)
        XCTAssertEqual(try r.fixed32(), 1)
        XCTAssertTrue(r.isAtEnd)
        var bad = ProtoReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        XCTAssertThrowsError(try bad.varint())
        var short = ProtoReader([0x80])
        XCTAssertThrowsError(try short.varint())
    }

    func testParsesFixtureModel() throws {
        let proto = try ModelProto(bytes: readBytes("\(fixtures)/cnn.onnx"))
        XCTAssertEqual(proto.opsetVersion(""), 17)
        XCTAssertEqual(proto.graph.inputs.first?.name, "x")
        XCTAssertEqual(proto.graph.inputs.first?.shape, [.symbol("N"), .value(3), .value(32), .value(32)])
        XCTAssertEqual(proto.graph.nodes.count, 13)
        XCTAssertEqual(proto.graph.initializers.count, 11)
    }

    func testUnsupportedOperatorRefusedAtLoadWithNameDomainVersion() {
        let m = ProtoWriter.model(
            nodes: [ProtoWriter.node("FancyOp", ["x"], ["y"], domain: "com.example")],
            inputs: [ProtoWriter.valueInfo("x", elemType: 1, dims: [2])],
            outputs: [ProtoWriter.valueInfo("y", elemType: 1, dims: [2])],
            opsets: [("", 17), ("com.example", 3)])
        XCTAssertThrowsError(try InferenceModel(bytes: m)) { e in
            XCTAssertEqual(e as? InferenceError, .unsupportedOperators([OperatorRef(opType: "FancyOp", domain: "com.example", version: 3)]))
            XCTAssertTrue("\(e)".contains("com.example.FancyOp (opset 3)"))
        }
    }

    func testExternalDataRefused() {
        let m = ProtoWriter.model(
            nodes: [ProtoWriter.node("Add", ["x", "w"], ["y"])],
            inputs: [ProtoWriter.valueInfo("x", elemType: 1, dims: [2])],
            outputs: [ProtoWriter.valueInfo("y", elemType: 1, dims: [2])],
            initializers: [ProtoWriter.floatTensor("w", dims: [2], values: [1, 2], external: true)])
        XCTAssertThrowsError(try InferenceModel(bytes: m)) { e in
            XCTAssertEqual(e as? InferenceError, .externalData(tensor: "w"))
        }
    }

    func testHandWrittenModelRuns() throws {
        let m = ProtoWriter.model(
            nodes: [ProtoWriter.node("Add", ["x", "w"], ["y"])],
            inputs: [ProtoWriter.valueInfo("x", elemType: 1, dims: [2])],
            outputs: [ProtoWriter.valueInfo("y", elemType: 1, dims: [2])],
            initializers: [ProtoWriter.floatTensor("w", dims: [2], values: [1, 2])])
        let model = try InferenceModel(bytes: m)
        let r = try model.run(["x": Tensor(shape: [2], floats: [10, 20])])
        XCTAssertEqual(r["y"], Tensor(shape: [2], floats: [11, 22]))
    }

    func testDeepNestingIsBoundedNotACrash() {
        // A graph attribute containing a node containing a graph attribute … 200 levels deep.
        var g = ProtoWriter.string(2, "leaf")
        for _ in 0..<200 {
            let attr = ProtoWriter.string(1, "body") + ProtoWriter.int(20, 5) + ProtoWriter.bytes(6, g)
            g = ProtoWriter.bytes(1, ProtoWriter.node("If", ["c"], ["y"], attrs: [attr]))
        }
        let m = ProtoWriter.int(1, 8) + ProtoWriter.bytes(7, g)
        XCTAssertThrowsError(try ModelProto(bytes: m)) { e in
            guard case .limitExceeded? = e as? InferenceError else { return XCTFail("\(e)") }
        }
    }

    /// Random bytes and single/multi-byte mutations of real models never crash the decoder
    /// or the loader: every outcome is a model or an `InferenceError`.
    func testFuzzRandomAndMutatedBytes() throws {
        // MURMUR_FUZZ_SEED / MURMUR_FUZZ_ROUNDS explore further (a crash found is kept as a case).
        let env = ProcessInfo.processInfo.environment
        var rng = SeededRNG(seed: UInt64(env["MURMUR_FUZZ_SEED"] ?? "") ?? 8812)
        let rounds = Int(env["MURMUR_FUZZ_ROUNDS"] ?? "") ?? 1800
        for _ in 0..<3000 {
            let n = Int(rng.next() % 200)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? ModelProto(bytes: bytes)
            _ = try? TensorProto(bytes: bytes)
        }
        let names = ["ops", "cnn", "mlp", "forest", "logistic", "linear"]
        let seeds = try names.map { try readBytes("\(fixtures)/\($0).onnx") }
        let feeds = try names.map { try loadFixture($0).1 }
        for i in 0..<rounds {
            var b = seeds[i % seeds.count]
            let flips = 1 + Int(rng.next() % 4)
            for _ in 0..<flips {
                let at = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b[at] ^= 0x80
                default: b.removeSubrange(at..<min(b.count, at + Int(rng.next() % 16)))
                }
                if b.isEmpty { break }
            }
            if let model = try? InferenceModel(bytes: b) {
                // A mutated model that still loads must also fail cleanly (or run) on input.
                _ = try? model.run(feeds[i % seeds.count])
            }
        }
    }
}
