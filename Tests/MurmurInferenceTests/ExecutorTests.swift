import XCTest
import MurmurCore
@testable import MurmurInference

final class ExecutorTests: XCTestCase {
    func testInputValidationErrorsNameTheProblem() throws {
        let (model, feeds) = try loadFixture("cnn")
        XCTAssertNoThrow(try model.validate(feeds))
        XCTAssertThrowsError(try model.run([:])) { e in XCTAssertTrue("\(e)".contains("missing input 'x'"), "\(e)") }
        var extra = feeds
        extra["y"] = .scalar(Float(1))
        XCTAssertThrowsError(try model.run(extra)) { e in XCTAssertTrue("\(e)".contains("unknown input 'y'"), "\(e)") }
        XCTAssertThrowsError(try model.run(["x": Tensor(shape: [1, 3, 32, 32], int64s: Array(repeating: 0, count: 3072))])) { e in
            XCTAssertTrue("\(e)".contains("dtype int64"), "\(e)")
        }
        XCTAssertThrowsError(try model.run(["x": Tensor(shape: [1, 3, 16, 32], floats: Array(repeating: 0, count: 1536))])) { e in
            XCTAssertTrue("\(e)".contains("expects float32 [N, 3, 32, 32]"), "\(e)")
        }
        // The symbolic batch dimension accepts any size.
        XCTAssertNoThrow(try model.run(["x": Tensor(shape: [1, 3, 32, 32], floats: Array(repeating: 0.25, count: 3072))]))
    }

    func testInputJSONForms() throws {
        let inputs = [ValueInfo.make("a", .int64), ValueInfo.make("b", .float32)]
        let json = #"{"a": [[1, 2], [3, 4]], "b": {"shape": [3], "dtype": "float32", "data": [0.5, "NaN", -1]}}"#
        let feeds = try InputJSON.parse(Array(json.utf8), for: inputs)
        XCTAssertEqual(feeds["a"], Tensor(shape: [2, 2], int64s: [1, 2, 3, 4]))
        XCTAssertEqual(feeds["b"]?.shape, [3])
        XCTAssertTrue(feeds["b"]?.floats?[1].isNaN ?? false)
        XCTAssertThrowsError(try InputJSON.parse(Array(#"{"a": [[1, 2], [3]]}"#.utf8), for: inputs))
        XCTAssertThrowsError(try InputJSON.parse(Array(#"{"a": [1.5]}"#.utf8), for: inputs))
        XCTAssertThrowsError(try InputJSON.parse(Array(#"{"b": {"shape": [4], "data": [1, 2]}}"#.utf8), for: inputs))
        XCTAssertThrowsError(try InputJSON.parse(Array("not json".utf8), for: inputs))
    }

    /// The canonical output encoding, byte for byte (Specs/inference.md "Output hash").
    func testOutputEncodingLayout() {
        let outs = [NamedTensor(name: "y", tensor: Tensor(shape: [2], floats: [1, -0.0])),
                    NamedTensor(name: "i", tensor: Tensor(shape: [], int64s: [7]))]
        let enc = OutputHash.encode(outs)
        let expected: [UInt8] = Array("murmur-outputs-v1".utf8) + [0, 0, 0, 2]
            + [0, 0, 0, 1, UInt8(ascii: "y"), 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x80]
            + [0, 0, 0, 1, UInt8(ascii: "i"), 7, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(enc, expected)
    }

    func testBroadcastingAndShapeOps() throws {
        let add = ElementwiseOps.arithmetic[0]
        let k = try add.make(NodeContext(node: NodeProto.make("Add"), opset: 17, registry: .standard, opsetImports: []))
        let a = Tensor(shape: [2, 1, 3], floats: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [4, 1], floats: [10, 20, 30, 40])
        let y = try k.run([a, b], RunContext())[0]
        XCTAssertEqual(y.shape, [2, 4, 3])
        XCTAssertEqual(y.floats?[0..<6], [11, 12, 13, 21, 22, 23])
        XCTAssertEqual(y.floats?[12..<15], [14, 15, 16])
    }
}

extension ValueInfo {
    static func make(_ name: String, _ t: DType) -> ValueInfo {
        var v = ValueInfo()
        v.name = name; v.elementType = t.rawValue
        return v
    }
}

extension NodeProto {
    static func make(_ op: String) -> NodeProto {
        var r = ProtoReader(ProtoWriter.string(4, op))
        return (try? NodeProto(&r)) ?? { preconditionFailure() }()
    }
}

final class OperatorSpotTests: XCTestCase {
    /// Gelu (opset 20, not in libonnx-testdata 1.12) against a float64 reference.
    func testGeluBothApproximations() throws {
        for approx in ["none", "tanh"] {
            let attr = ProtoWriter.string(1, "approximate") + ProtoWriter.int(20, 3) + ProtoWriter.string(4, approx)
            let m = ProtoWriter.model(
                nodes: [ProtoWriter.node("Gelu", ["x"], ["y"], attrs: [attr])],
                inputs: [ProtoWriter.valueInfo("x", elemType: 1, dims: [6])],
                outputs: [ProtoWriter.valueInfo("y", elemType: 1, dims: [6])], opsets: [("", 20)])
            let xs: [Float] = [-3, -1, -0.25, 0, 0.5, 2.5]
            let y = try InferenceModel(bytes: m).run(["x": Tensor(shape: [6], floats: xs)])["y"]?.floats ?? []
            for (i, x) in xs.enumerated() {
                let d = Double(x)
                let ref = approx == "none" ? 0.5 * d * (1 + ScalarMath.erfD(d / 2.0.squareRoot()))
                                           : 0.5 * d * (1 + ScalarMath.tanhD(0.7978845608028654 * (d + 0.044715 * d * d * d)))
                XCTAssertEqual(Double(y[i]), ref, accuracy: 1e-6 + 1e-5 * abs(ref), "\(approx) at \(x)")
            }
        }
    }

    func testInspectListsMissingOperators() throws {
        let m = ProtoWriter.model(
            nodes: [ProtoWriter.node("Relu", ["x"], ["r"]), ProtoWriter.node("LSTM", ["r"], ["y"])],
            inputs: [ProtoWriter.valueInfo("x", elemType: 1, dims: [2])],
            outputs: [ProtoWriter.valueInfo("y", elemType: 1, dims: [2])])
        let s = try ModelSummary(bytes: m)
        XCTAssertEqual(s.missing, [OperatorRef(opType: "LSTM", domain: "", version: 17)])
        XCTAssertTrue(s.text().contains("engine lacks: ai.onnx.LSTM (opset 17)"))
        XCTAssertEqual(s.opCounts.count, 2)
    }
}
