import XCTest
import MurmurCore
import MurmurKernels
@testable import MurmurInference

/// Element-wise chain fusion must give the bits of the nodes run one by one (Specs/inference.md §4).
final class FusionTests: XCTestCase {
    typealias P = ProtoWriter

    /// A HardSwish-style chain as paddle2onnx writes it, plus Sigmoid and a second use of the input.
    func testFusedChainGivesTheNodesBits() throws {
        let scalars: [(String, Float)] = [("w", 1.3), ("three", 3), ("zero", 0), ("six", 6)]
        let bytes = P.model(
            nodes: [
                P.node("Mul", ["w", "x"], ["a"]),
                P.node("Add", ["a", "three"], ["b"]),
                P.node("Clip", ["b", "zero", "six"], ["c"]),
                P.node("Mul", ["a", "c"], ["d"]),
                P.node("Div", ["d", "six"], ["e"]),
                P.node("Sigmoid", ["e"], ["f"]),
                P.node("Sub", ["f", "x"], ["y"]),
            ],
            inputs: [P.valueInfo("x", elemType: 1, dims: [2, 37])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [2, 37])],
            initializers: scalars.map { P.floatTensor($0.0, dims: [1], values: [$0.1]) })
        let model = try InferenceModel(bytes: bytes)
        XCTAssertTrue(model.graph.steps.contains { $0.opType.hasPrefix("Fused(") }, "the chain was not fused: \(model.graph.steps.map(\.opType))")
        var rng = SeededRNG(seed: 5)
        var x = (0..<74).map { _ in Float(rng.unitDouble() * 16 - 8) }
        x[0] = .nan; x[1] = -0.0; x[2] = .infinity; x[3] = -.infinity; x[4] = -3; x[5] = 3
        let y = try XCTUnwrap(model.run(["x": Tensor(shape: [2, 37], floats: x)])["y"]?.floats)
        for i in 0..<x.count {
            let a = 1.3 * x[i]
            var c = a + 3
            c = c < 0 ? 0 : c
            c = c > 6 ? 6 : c
            let want = DetMath.sigmoid((a * c) / 6) - x[i]
            XCTAssertEqual(y[i].bitPattern, want.bitPattern, "element \(i): x = \(x[i])")
        }
    }

    /// Inputs of different shapes (broadcasting) run the original nodes.
    func testBroadcastFallsBackToTheNodes() throws {
        let bytes = P.model(
            nodes: [
                P.node("Add", ["x", "v"], ["a"]),
                P.node("Mul", ["a", "two"], ["b"]),
                P.node("Sqrt", ["b"], ["y"]),
            ],
            inputs: [P.valueInfo("x", elemType: 1, dims: [2, 3]), P.valueInfo("v", elemType: 1, dims: [3])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [2, 3])],
            initializers: [P.floatTensor("two", dims: [], values: [2])])
        let model = try InferenceModel(bytes: bytes)
        let x: [Float] = [1, 2, 3, 4, 5, 6], v: [Float] = [0.5, -10, 0.25]
        let out = try XCTUnwrap(model.run(["x": Tensor(shape: [2, 3], floats: x), "v": Tensor(shape: [3], floats: v)])["y"])
        XCTAssertEqual(out.shape, [2, 3])
        let y = try XCTUnwrap(out.floats)
        for i in 0..<6 {
            let want = ((x[i] + v[i % 3]) * 2).squareRoot()
            XCTAssertEqual(y[i].bitPattern, want.bitPattern, "element \(i)")
        }
    }
}
