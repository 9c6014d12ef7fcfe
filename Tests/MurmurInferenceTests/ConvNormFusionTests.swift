import XCTest
import MurmurCore
import MurmurKernels
@testable import MurmurInference

/// Conv → BatchNormalization → Relu → Conv → Relu (a value with two readers) → depthwise Conv +
/// residual Add → AveragePool 2×2 stride 1 (the fixture CNN's shape): the fused steps
/// (BatchNormalization+Fused(Relu), Conv+Fused(Relu), the flat narrow-row pool) must give the bits
/// of the nodes run one by one, for 1 and 2 threads on every kernel ISA level (Specs/inference.md §4).
final class ConvNormFusionTests: XCTestCase {
    typealias P = ProtoWriter

    /// Runs one node alone (its inputs as graph inputs, constants as initializers).
    func single(_ node: [UInt8], _ feeds: [(String, Tensor)], out: String, inits: [[UInt8]] = []) throws -> Tensor {
        let model = try InferenceModel(bytes: P.model(
            nodes: [node], inputs: feeds.map { P.valueInfo($0.0, elemType: 1, dims: $0.1.shape) },
            outputs: [P.valueInfo(out, elemType: 1, dims: [])], initializers: inits))
        XCTAssertEqual(model.graph.steps.count, 1)
        return try XCTUnwrap(model.run(Dictionary(uniqueKeysWithValues: feeds))[out])
    }

    func testConvNormReluPoolChainGivesTheNodesBits() throws {
        var rng = SeededRNG(seed: 31)
        func values(_ n: Int, _ scale: Double = 2) -> [Float] { (0..<n).map { _ in Float((rng.unitDouble() * 2 - 1) * scale) } }
        let (nb, cin, h, w, c) = (2, 3, 12, 12, 8)
        let w1 = values(c * cin * 9), b1 = values(c)
        var scale = values(c), mean = values(c, 0.5)
        let bias = values(c), variance = values(c).map { abs($0) + 0.1 }
        scale[0] = -1.5          // negative scale: x == mean gives −0 before the bias
        let w2 = values(c * c * 9), b2 = values(c), w3 = values(c * 9)
        mean[1] = 0
        let inits = [
            P.floatTensor("w1", dims: [c, cin, 3, 3], values: w1), P.floatTensor("b1", dims: [c], values: b1),
            P.floatTensor("s", dims: [c], values: scale), P.floatTensor("bb", dims: [c], values: bias),
            P.floatTensor("m", dims: [c], values: mean), P.floatTensor("v", dims: [c], values: variance),
            P.floatTensor("w2", dims: [c, c, 3, 3], values: w2), P.floatTensor("b2", dims: [c], values: b2),
            P.floatTensor("w3", dims: [c, 1, 3, 3], values: w3),
        ]
        let pads = TinyONNX.attribute("pads", .ints([1, 1, 1, 1]))
        let nodes = [
            P.node("Conv", ["x", "w1", "b1"], ["c1"], attrs: [pads]),
            P.node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["bn"]),
            P.node("Relu", ["bn"], ["r1"]),
            P.node("Conv", ["r1", "w2", "b2"], ["c2"], attrs: [pads]),
            P.node("Relu", ["c2"], ["r2"]),
            P.node("Conv", ["r2", "w3"], ["c3"], attrs: [TinyONNX.attribute("group", .int(c)), pads]),
            P.node("Add", ["c3", "r2"], ["res"]),
            P.node("AveragePool", ["res"], ["y"], attrs: [TinyONNX.attribute("kernel_shape", .ints([2, 2]))]),
        ]
        let model = try InferenceModel(bytes: P.model(
            nodes: nodes, inputs: [P.valueInfo("x", elemType: 1, dims: [nb, cin, h, w])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [nb, c, h - 1, w - 1])], initializers: inits))
        XCTAssertEqual(model.graph.steps.map(\.opType),
                       ["Conv", "BatchNormalization+Fused(Relu)", "Conv+Fused(Relu)", "Conv", "Add", "AveragePool"])
        let x = Tensor(shape: [nb, cin, h, w], floats: values(nb * cin * h * w))

        // Node by node.
        let c1 = try single(nodes[0], [("x", x)], out: "c1", inits: Array(inits[0...1]))
        let bn = try single(nodes[1], [("c1", c1)], out: "bn", inits: Array(inits[2...5]))
        let r1 = try single(nodes[2], [("bn", bn)], out: "r1")
        let c2 = try single(nodes[3], [("r1", r1)], out: "c2", inits: Array(inits[6...7]))
        let r2 = try single(nodes[4], [("c2", c2)], out: "r2")
        let c3 = try single(nodes[5], [("r2", r2)], out: "c3", inits: [inits[8]])
        let res = try single(nodes[6], [("c3", c3), ("r2", r2)], out: "res")
        // AveragePool 2×2 stride 1: the taps in row-major order from +0.0, then ÷ 4.
        let rs = try XCTUnwrap(res.floats)
        var want: [Float] = []
        for p in 0..<(nb * c) { for oy in 0..<(h - 1) { for ox in 0..<(w - 1) {
            var s: Float = 0
            for ky in 0..<2 { for kx in 0..<2 { s = s + rs[p * h * w + (oy + ky) * w + ox + kx] } }
            want.append(s / 4)
        } } }
        defer { KernelISA.force(nil) }
        for isa in KernelISA.supported {
            XCTAssertTrue(KernelISA.force(isa))
            for threads in [1, 2] {
                let y = try XCTUnwrap(model.run(["x": x], threads: threads)["y"])
                XCTAssertEqual(y.shape, [nb, c, h - 1, w - 1])
                XCTAssertEqual(try XCTUnwrap(y.floats).map(\.bitPattern), want.map(\.bitPattern), "\(isa), \(threads) threads")
            }
        }
    }

    /// BatchNormalization → Relu on a fed value: −0 (x == mean, negative scale, −0 bias) becomes
    /// +0, NaN stays NaN, ±∞ as the nodes give them; the fused step has the bits of BN then Relu.
    func testNormReluEdgeValuesGiveTheNodesBits() throws {
        let (c, inner) = (2, 70)
        let inits = [
            P.floatTensor("s", dims: [c], values: [-2, 0.5]), P.floatTensor("bb", dims: [c], values: [-0.0, 0.25]),
            P.floatTensor("m", dims: [c], values: [0.75, -1]), P.floatTensor("v", dims: [c], values: [1, 3]),
        ]
        let nodes = [P.node("Add", ["a", "z"], ["x"]),
                     P.node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["bn"]), P.node("Relu", ["bn"], ["y"])]
        let model = try InferenceModel(bytes: P.model(
            nodes: nodes, inputs: [P.valueInfo("a", elemType: 1, dims: [1, c, inner]), P.valueInfo("z", elemType: 1, dims: [1, c, inner])],
            outputs: [P.valueInfo("y", elemType: 1, dims: [1, c, inner])], initializers: inits))
        XCTAssertEqual(model.graph.steps.map(\.opType), ["Add", "BatchNormalization+Fused(Relu)"])
        var a = (0..<(c * inner)).map { Float($0 % 9) * 0.25 - 1 }
        a[0] = .nan; a[1] = .infinity; a[2] = -.infinity; a[inner] = -.infinity; a[inner + 1] = .nan
        let z = [Float](repeating: 0, count: c * inner)
        let feeds = ["a": Tensor(shape: [1, c, inner], floats: a), "z": Tensor(shape: [1, c, inner], floats: z)]
        let x = try single(nodes[0], [("a", feeds["a"]!), ("z", feeds["z"]!)], out: "x")
        let bn = try single(nodes[1], [("x", x)], out: "bn", inits: inits)
        let want = try XCTUnwrap(single(nodes[2], [("bn", bn)], out: "y").floats)
        XCTAssertTrue(try XCTUnwrap(bn.floats).contains { $0 == 0 && $0.sign == .minus }, "the case −0 is not exercised")
        for threads in [1, 2] {
            let y = try XCTUnwrap(model.run(feeds, threads: threads)["y"]?.floats)
            XCTAssertEqual(y.map(\.bitPattern), want.map(\.bitPattern), "\(threads) threads")
        }
    }

    /// MaxPool / AveragePool 2×2 stride 2 (the eight-at-a-time path, with a scalar tail and an odd
    /// input edge): max takes the first tap, then strictly greater taps (NaN only as a first tap,
    /// −0 vs +0 by order); the average adds the taps from +0.0 then ÷ 4.
    func testPool2x2Stride2GivesTheScalarBits() throws {
        let (planes, h, w) = (3, 7, 21)
        var rng = SeededRNG(seed: 5)
        var x = (0..<(planes * h * w)).map { _ in Float(rng.unitDouble() * 4 - 2) }
        x[0] = .nan; x[3] = .nan; x[w + 4] = -0.0; x[5] = 0; x[w + 5] = -0.0; x[2 * w + 8] = .infinity
        let (oh, ow) = (h / 2, w / 2)
        for average in [false, true] {
            var want: [Float] = []
            for p in 0..<planes { for oy in 0..<oh { for ox in 0..<ow {
                let base = p * h * w + 2 * oy * w + 2 * ox
                let taps = [x[base], x[base + 1], x[base + w], x[base + w + 1]]
                if average {
                    var s: Float = 0
                    for t in taps { s = s + t }
                    want.append(s / 4)
                } else {
                    var best = taps[0]
                    for t in taps.dropFirst() { best = t > best ? t : best }
                    want.append(best)
                }
            } } }
            let model = try InferenceModel(bytes: P.model(
                nodes: [P.node(average ? "AveragePool" : "MaxPool", ["x"], ["y"],
                               attrs: [TinyONNX.attribute("kernel_shape", .ints([2, 2])), TinyONNX.attribute("strides", .ints([2, 2]))])],
                inputs: [P.valueInfo("x", elemType: 1, dims: [1, planes, h, w])],
                outputs: [P.valueInfo("y", elemType: 1, dims: [1, planes, oh, ow])]))
            let y = try XCTUnwrap(model.run(["x": Tensor(shape: [1, planes, h, w], floats: x)])["y"])
            XCTAssertEqual(y.shape, [1, planes, oh, ow])
            XCTAssertEqual(try XCTUnwrap(y.floats).map(\.bitPattern), want.map(\.bitPattern), average ? "AveragePool" : "MaxPool")
        }
    }

    /// BatchNormalization → Relu → MaxPool / AveragePool 2×2 stride 2 (odd edges, a scalar tail):
    /// one step that pools each finished plane, with the bits of the three nodes one by one.
    func testNormReluPoolGivesTheNodesBits() throws {
        let (nb, c, h, w) = (2, 3, 9, 18)
        var rng = SeededRNG(seed: 44)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.unitDouble() * 4 - 2) } }
        let inits = [
            P.floatTensor("s", dims: [c], values: [-2, 0.5, 1.25]), P.floatTensor("bb", dims: [c], values: [-0.0, 0.25, -0.5]),
            P.floatTensor("m", dims: [c], values: [0.75, -1, 0]), P.floatTensor("v", dims: [c], values: [1, 3, 0.5]),
        ]
        var a = values(nb * c * h * w)
        a[0] = .nan; a[5] = 0.75; a[6] = 0.75; a[w] = .infinity
        let feeds = ["a": Tensor(shape: [nb, c, h, w], floats: a), "z": Tensor(shape: [nb, c, h, w], floats: values(nb * c * h * w))]
        for pool in ["MaxPool", "AveragePool"] {
            let poolNode = P.node(pool, ["r"], ["y"], attrs: [TinyONNX.attribute("kernel_shape", .ints([2, 2])),
                                                              TinyONNX.attribute("strides", .ints([2, 2]))])
            let nodes = [P.node("Add", ["a", "z"], ["x"]), P.node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["bn"]),
                         P.node("Relu", ["bn"], ["r"]), poolNode]
            let model = try InferenceModel(bytes: P.model(
                nodes: nodes, inputs: [P.valueInfo("a", elemType: 1, dims: [nb, c, h, w]), P.valueInfo("z", elemType: 1, dims: [nb, c, h, w])],
                outputs: [P.valueInfo("y", elemType: 1, dims: [nb, c, h / 2, w / 2])], initializers: inits))
            XCTAssertEqual(model.graph.steps.map(\.opType), ["Add", "BatchNormalization+Fused(Relu)+\(pool)"])
            let x = try single(nodes[0], [("a", feeds["a"]!), ("z", feeds["z"]!)], out: "x")
            let bn = try single(nodes[1], [("x", x)], out: "bn", inits: inits)
            let r = try single(nodes[2], [("bn", bn)], out: "r")
            let want = try single(nodes[3], [("r", r)], out: "y")
            for threads in [1, 2] {
                let y = try XCTUnwrap(model.run(feeds, threads: threads)["y"])
                XCTAssertEqual(y.shape, want.shape)
                XCTAssertEqual(try XCTUnwrap(y.floats).map(\.bitPattern), try XCTUnwrap(want.floats).map(\.bitPattern), "\(pool), \(threads) threads")
            }
        }
    }
}
