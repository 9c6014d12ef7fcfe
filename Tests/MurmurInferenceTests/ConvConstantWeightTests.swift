import XCTest
import MurmurCore
import MurmurKernels
@testable import MurmurInference

/// Conv weights written as Constant nodes (as paddle2onnx does) are packed at the first run and
/// reused: the bits must equal the same conv with initializer weights, on every run, thread
/// count and ISA level.
final class ConvConstantWeightTests: XCTestCase {
    typealias P = ProtoWriter

    func testConstantNodeWeightsGiveInitializerBits() throws {
        var rng = SeededRNG(seed: 21)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.unitDouble() * 4 - 2) } }
        let cases: [(w: [Int], attrs: [[UInt8]])] = [
            ([12, 4, 1, 1], []),
            ([10, 2, 3, 3], [TinyONNX.attribute("group", .int(2)), TinyONNX.attribute("pads", .ints([1, 1, 1, 1]))]),
        ]
        let x = values(2 * 4 * 5 * 37)
        let feeds = ["x": Tensor(shape: [2, 4, 5, 37], floats: x)]
        let saved = Gemm.minParallelMultiplyAdds
        Gemm.minParallelMultiplyAdds = 0
        defer { Gemm.minParallelMultiplyAdds = saved; KernelISA.force(nil) }
        for (wShape, attrs) in cases {
            let m = wShape[0]
            let w = values(wShape.reduce(1, *)), b = values(m)
            let inputs = [P.valueInfo("x", elemType: 1, dims: [2, 4, 5, 37])]
            let outputs = [P.valueInfo("y", elemType: 1, dims: [2, m, 5, 37])]
            let withInit = P.model(nodes: [P.node("Conv", ["x", "W", "B"], ["y"], attrs: attrs)], inputs: inputs, outputs: outputs,
                                   initializers: [P.floatTensor("W", dims: wShape, values: w), P.floatTensor("B", dims: [m], values: b)])
            let withConst = P.model(
                nodes: [
                    P.node("Constant", [], ["W"], attrs: [TinyONNX.attribute("value", .tensor(Tensor(shape: wShape, floats: w)))]),
                    P.node("Conv", ["x", "W", "B"], ["y"], attrs: attrs),
                ],
                inputs: inputs, outputs: outputs, initializers: [P.floatTensor("B", dims: [m], values: b)])
            let want = try XCTUnwrap(InferenceModel(bytes: withInit).run(feeds)["y"]?.floats).map(\.bitPattern)
            let model = try InferenceModel(bytes: withConst)
            for isa in KernelISA.supported + [KernelISA.supported[0]] {
                KernelISA.force(isa)
                for threads in [1, 2, 1] {
                    let got = try XCTUnwrap(model.run(feeds, threads: threads)["y"]?.floats).map(\.bitPattern)
                    XCTAssertEqual(got, want, "W \(wShape), isa \(isa), \(threads) threads")
                }
            }
            KernelISA.force(nil)
        }
    }
}
