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

    /// Inputs of different shapes (broadcasting): the smaller one is expanded (or the original
    /// nodes run); either way the bits are the nodes'.
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

    /// Conv (1×1 through the GEMM, depthwise 3×3) followed by an affine + HardSwish chain whose
    /// first value has two readers: one fused step, with the bits of the conv alone followed by
    /// the chain's operations, for 1 and 2 threads.
    func testConvWithElementwiseChainGivesTheNodesBits() throws {
        let scalars: [(String, Float)] = [("w", 1.3), ("three", 3), ("zero", 0), ("six", 6)]
        var rng = SeededRNG(seed: 9)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.unitDouble() * 4 - 2) } }
        let cases: [(w: [Int], attrs: [[UInt8]])] = [
            ([6, 4, 1, 1], []),
            ([4, 1, 3, 3], [TinyONNX.attribute("group", .int(4)), TinyONNX.attribute("pads", .ints([1, 1, 1, 1]))]),
        ]
        let x = values(4 * 5 * 37)
        let saved = Gemm.minParallelMultiplyAdds
        Gemm.minParallelMultiplyAdds = 0
        defer { Gemm.minParallelMultiplyAdds = saved }
        for (wShape, attrs) in cases {
            let m = wShape[0]
            let w = values(wShape.reduce(1, *)), b = values(m)
            let inits = [P.floatTensor("W", dims: wShape, values: w), P.floatTensor("B", dims: [m], values: b)]
            let conv = P.node("Conv", ["x", "W", "B"], ["y"], attrs: attrs)
            let fusedBytes = P.model(
                nodes: [
                    conv,
                    P.node("Mul", ["y", "w"], ["a"]),
                    P.node("Add", ["a", "three"], ["b"]),
                    P.node("Clip", ["b", "zero", "six"], ["c"]),
                    P.node("Mul", ["a", "c"], ["d"]),
                    P.node("Div", ["d", "six"], ["e"]),
                ],
                inputs: [P.valueInfo("x", elemType: 1, dims: [1, 4, 5, 37])],
                outputs: [P.valueInfo("e", elemType: 1, dims: [1, m, 5, 37])],
                initializers: inits + scalars.map { P.floatTensor($0.0, dims: [1], values: [$0.1]) })
            let convOnly = P.model(nodes: [conv], inputs: [P.valueInfo("x", elemType: 1, dims: [1, 4, 5, 37])],
                                   outputs: [P.valueInfo("y", elemType: 1, dims: [1, m, 5, 37])], initializers: inits)
            let model = try InferenceModel(bytes: fusedBytes)
            XCTAssertEqual(model.graph.steps.map(\.opType), ["Conv+Fused(Mul+Add+Clip+Mul+Div)"])
            let feeds = ["x": Tensor(shape: [1, 4, 5, 37], floats: x)]
            let y = try XCTUnwrap(InferenceModel(bytes: convOnly).run(feeds)["y"]?.floats)
            let want = y.map { v -> Float in
                let a = v * 1.3
                var c = a + 3
                c = c < 0 ? 0 : c
                c = c > 6 ? 6 : c
                return (a * c) / 6
            }
            for threads in [1, 2] {
                let got = try XCTUnwrap(model.run(feeds, threads: threads)["e"])
                XCTAssertEqual(got.shape, [1, m, 5, 37])
                XCTAssertEqual(try XCTUnwrap(got.floats).map(\.bitPattern), want.map(\.bitPattern), "W \(wShape), \(threads) threads")
            }
        }
    }
}
