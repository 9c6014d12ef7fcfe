import XCTest
import MurmurCore
import MurmurKernels
@testable import MurmurInference

/// The decomposed-LayerNorm and MatMul-view fusions must give the bits of the nodes run one by
/// one (Specs/inference.md §4), for 1 and 2 threads.
final class GraphFusionTests: XCTestCase {
    typealias P = ProtoWriter

    /// Residual Add + LayerNorm as exporters write it (ReduceMean, Sub, Pow 2, ReduceMean, Add ε,
    /// Sqrt, Div, Mul γ, Add β): one fused step, bits of the node-by-node formulas (sums ascending
    /// from +0.0, then ÷ length; Pow(d, 2) = d × d).
    func testDecomposedLayerNormGivesTheNodesBits() throws {
        let rows = 2 * 11, len = 37
        var rng = SeededRNG(seed: 21)
        func values(_ n: Int, _ scale: Double) -> [Float] { (0..<n).map { _ in Float((rng.unitDouble() * 2 - 1) * scale) } }
        let gamma = values(len, 2), beta = values(len, 1)
        let bytes = P.model(
            nodes: [
                P.node("Add", ["a", "b"], ["x"]),
                P.node("ReduceMean", ["x"], ["mean"], attrs: [TinyONNX.attribute("axes", .ints([-1]))]),
                P.node("Sub", ["x", "mean"], ["d"]),
                P.node("Pow", ["d", "two"], ["p"]),
                P.node("ReduceMean", ["p"], ["var"], attrs: [TinyONNX.attribute("axes", .ints([-1]))]),
                P.node("Add", ["var", "eps"], ["ve"]),
                P.node("Sqrt", ["ve"], ["s"]),
                P.node("Div", ["d", "s"], ["n"]),
                P.node("Mul", ["n", "gamma"], ["g"]),
                P.node("Add", ["g", "beta"], ["y"]),
            ],
            inputs: [P.valueInfo("a", elemType: 1, dims: [2, 11, len]), P.valueInfo("b", elemType: 1, dims: [2, 11, len])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [2, 11, len])],
            initializers: [P.floatTensor("two", dims: [], values: [2]), P.floatTensor("eps", dims: [], values: [1e-12]),
                           P.floatTensor("gamma", dims: [len], values: gamma), P.floatTensor("beta", dims: [len], values: beta)])
        let model = try InferenceModel(bytes: bytes)
        XCTAssertEqual(model.graph.steps.count, 1, "not fused into one step: \(model.graph.steps.map(\.opType))")
        let a = values(rows * len, 50), b = values(rows * len, 3)
        var want = [Float](repeating: 0, count: rows * len)
        for r in 0..<rows {
            let x = (0..<len).map { a[r * len + $0] + b[r * len + $0] }
            var s: Float = 0
            for v in x { s = s + v }
            let mean = s / Float(len)
            let d = x.map { $0 - mean }
            var q: Float = 0
            for v in d { let p = v * v; q = q + p }
            let sd = ((q / Float(len)) + 1e-12).squareRoot()
            for i in 0..<len { want[r * len + i] = ((d[i] / sd) * gamma[i]) + beta[i] }
        }
        for threads in [1, 2] {
            let y = try XCTUnwrap(model.run(["a": Tensor(shape: [2, 11, len], floats: a), "b": Tensor(shape: [2, 11, len], floats: b)],
                                            threads: threads)["y"])
            XCTAssertEqual(y.shape, [2, 11, len])
            XCTAssertEqual(y.floats?.map(\.bitPattern), want.map(\.bitPattern), "threads \(threads)")
        }
        // A broadcast residual operand does not fit the fused form: the nodes run one by one.
        let short = values(len, 3)
        let model2 = try InferenceModel(bytes: P.model(
            nodes: [P.node("Identity", ["b0"], ["b"])] + [
                P.node("Add", ["a", "b"], ["x"]),
                P.node("ReduceMean", ["x"], ["mean"], attrs: [TinyONNX.attribute("axes", .ints([-1]))]),
                P.node("Sub", ["x", "mean"], ["d"]),
                P.node("Pow", ["d", "two"], ["p"]),
                P.node("ReduceMean", ["p"], ["var"], attrs: [TinyONNX.attribute("axes", .ints([-1]))]),
                P.node("Add", ["var", "eps"], ["ve"]),
                P.node("Sqrt", ["ve"], ["s"]),
                P.node("Div", ["d", "s"], ["y"]),
            ],
            inputs: [P.valueInfo("a", elemType: 1, dims: [2, 11, len]), P.valueInfo("b0", elemType: 1, dims: [len])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [2, 11, len])],
            initializers: [P.floatTensor("two", dims: [], values: [2]), P.floatTensor("eps", dims: [], values: [1e-12])]))
        let y2 = try XCTUnwrap(model2.run(["a": Tensor(shape: [2, 11, len], floats: a), "b0": Tensor(shape: [len], floats: short)])["y"]?.floats)
        for r in 0..<rows {
            let x = (0..<len).map { a[r * len + $0] + short[$0] }
            var s: Float = 0
            for v in x { s = s + v }
            let mean = s / Float(len)
            let d = x.map { $0 - mean }
            var q: Float = 0
            for v in d { let p = v * v; q = q + p }
            let sd = ((q / Float(len)) + 1e-12).squareRoot()
            for i in 0..<len { XCTAssertEqual(y2[r * len + i].bitPattern, (d[i] / sd).bitPattern, "row \(r) element \(i)") }
        }
    }

    /// Attention's Transposes around MatMuls of computed values (Q·Kᵀ with both operands
    /// transposed, P·V with V transposed and the product transposed back): fused steps with the
    /// bits of the ascending-k FMA chains, for 1 and 2 threads.
    func testTransposedMatMulOperandsGiveTheNodesBits() throws {
        let s = 7, h = 3, dh = 5
        var rng = SeededRNG(seed: 22)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.unitDouble() * 4 - 2) } }
        let perm = { (p: [Int]) in [TinyONNX.attribute("perm", .ints(p))] }
        let bytes = P.model(
            nodes: [
                P.node("Transpose", ["q"], ["qt"], attrs: perm([0, 2, 1, 3])),
                P.node("Transpose", ["k"], ["kt"], attrs: perm([0, 2, 3, 1])),
                P.node("MatMul", ["qt", "kt"], ["sc"]),
                P.node("Transpose", ["v"], ["vt"], attrs: perm([0, 2, 1, 3])),
                P.node("MatMul", ["sc", "vt"], ["o"]),
                P.node("Transpose", ["o"], ["y"], attrs: perm([0, 2, 1, 3])),
            ],
            inputs: [P.valueInfo("q", elemType: 1, dims: [1, s, h, dh]), P.valueInfo("k", elemType: 1, dims: [1, s, h, dh]),
                     P.valueInfo("v", elemType: 1, dims: [1, s, h, dh])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [1, s, h, dh])])
        let model = try InferenceModel(bytes: bytes)
        XCTAssertEqual(model.graph.steps.count, 2, "not fused: \(model.graph.steps.map(\.opType))")
        let q = values(s * h * dh), k = values(s * h * dh), v = values(s * h * dh)
        // Reference: scores[h][i][j] = Σ_p q[i,h,p]·k[j,h,p]; out[i,h,d] = Σ_j scores[h][i][j]·v[j,h,d].
        var want = [Float](repeating: 0, count: s * h * dh)
        for hh in 0..<h {
            var sc = [Float](repeating: 0, count: s * s)
            for i in 0..<s { for j in 0..<s {
                var acc: Float = 0
                for p in 0..<dh { acc = acc.addingProduct(q[(i * h + hh) * dh + p], k[(j * h + hh) * dh + p]) }
                sc[i * s + j] = acc
            } }
            for i in 0..<s { for d in 0..<dh {
                var acc: Float = 0
                for j in 0..<s { acc = acc.addingProduct(sc[i * s + j], v[(j * h + hh) * dh + d]) }
                want[(i * h + hh) * dh + d] = acc
            } }
        }
        let saved = Gemm.minParallelMultiplyAdds
        Gemm.minParallelMultiplyAdds = 0
        defer { Gemm.minParallelMultiplyAdds = saved }
        let feeds = ["q": Tensor(shape: [1, s, h, dh], floats: q), "k": Tensor(shape: [1, s, h, dh], floats: k),
                     "v": Tensor(shape: [1, s, h, dh], floats: v)]
        for threads in [1, 2] {
            let y = try XCTUnwrap(model.run(feeds, threads: threads)["y"])
            XCTAssertEqual(y.shape, [1, s, h, dh])
            XCTAssertEqual(y.floats?.map(\.bitPattern), want.map(\.bitPattern), "threads \(threads)")
        }
    }

    /// MatMul + Add of a `[1, n]` bias (what skl2onnx writes) is one GEMM with the same bits, and a
    /// rank-1 A still gets the broadcast output shape `[1, n]`.
    func testMatMulWithRowBiasGivesTheNodesBits() throws {
        let k = 5, n = 3
        let w: [Float] = (0..<(k * n)).map { Float($0) * 0.37 - 2 }
        let bias: [Float] = [0.25, -1.5, 3]
        let bytes = P.model(
            nodes: [P.node("MatMul", ["x", "w"], ["m"]), P.node("Add", ["m", "b"], ["y"])],
            inputs: [P.valueInfo("x", elemType: 1, dims: [k])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [1, n])],
            initializers: [P.floatTensor("w", dims: [k, n], values: w), P.floatTensor("b", dims: [1, n], values: bias)])
        let model = try InferenceModel(bytes: bytes)
        XCTAssertEqual(model.graph.steps.map(\.opType), ["MatMul+Add"])
        let x: [Float] = [1, -2, 0.5, 3, -0.25]
        let y = try XCTUnwrap(model.run(["x": Tensor(shape: [k], floats: x)])["y"])
        XCTAssertEqual(y.shape, [1, n])
        for j in 0..<n {
            var acc: Float = 0
            for p in 0..<k { acc = acc.addingProduct(x[p], w[p * n + j]) }
            XCTAssertEqual(y.floats?[j].bitPattern, (acc + bias[j]).bitPattern, "column \(j)")
        }
    }
    /// A linear layer followed by GELU as exporters write it (Div √2, Erf, Add 1, Mul, Mul ½):
    /// one step whose GEMM applies the chain to each finished block, with the bits of the
    /// product-plus-bias and then each node's operation, for 1 and 2 threads.
    func testLinearLayerWithGeluGivesTheNodesBits() throws {
        let m = 13, k = 11, n = 70
        var rng = SeededRNG(seed: 23)
        func values(_ c: Int) -> [Float] { (0..<c).map { _ in Float(rng.unitDouble() * 4 - 2) } }
        let w = values(k * n), bias = values(n), x = values(m * k)
        let bytes = P.model(
            nodes: [
                P.node("MatMul", ["x", "w"], ["mm"]),
                P.node("Add", ["mm", "b"], ["h"]),
                P.node("Div", ["h", "sqrt2"], ["d"]),
                P.node("Erf", ["d"], ["e"]),
                P.node("Add", ["e", "one"], ["e1"]),
                P.node("Mul", ["h", "e1"], ["g"]),
                P.node("Mul", ["g", "half"], ["y"]),
            ],
            inputs: [P.valueInfo("x", elemType: 1, dims: [m, k])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [m, n])],
            initializers: [P.floatTensor("w", dims: [k, n], values: w), P.floatTensor("b", dims: [n], values: bias),
                           P.floatTensor("sqrt2", dims: [], values: [Float(2).squareRoot()]),
                           P.floatTensor("one", dims: [], values: [1]), P.floatTensor("half", dims: [], values: [0.5])])
        let model = try InferenceModel(bytes: bytes)
        XCTAssertEqual(model.graph.steps.count, 1, "not fused: \(model.graph.steps.map(\.opType))")
        var want = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var acc: Float = 0
            for p in 0..<k { acc = acc.addingProduct(x[i * k + p], w[p * n + j]) }
            let h = acc + bias[j]
            let e1 = DetMath.erf(h / Float(2).squareRoot()) + 1
            want[i * n + j] = (h * e1) * 0.5
        } }
        let saved = Gemm.minParallelMultiplyAdds
        Gemm.minParallelMultiplyAdds = 0
        defer { Gemm.minParallelMultiplyAdds = saved }
        for threads in [1, 2] {
            let y = try XCTUnwrap(model.run(["x": Tensor(shape: [m, k], floats: x)], threads: threads)["y"])
            XCTAssertEqual(y.shape, [m, n])
            XCTAssertEqual(y.floats?.map(\.bitPattern), want.map(\.bitPattern), "threads \(threads)")
        }
    }
}
