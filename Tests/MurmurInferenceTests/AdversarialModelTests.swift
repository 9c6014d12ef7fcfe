import Foundation
import XCTest
import MurmurCore
@testable import MurmurInference

/// Hostile models found by `Scripts/adversarial_models.py` that used to trap the process (a
/// volunteer node runs any published model): each now ends in a typed `InferenceError` (or a
/// correct result where ONNX defines one).
final class AdversarialModelTests: XCTestCase {
    private func assertTypedError(_ body: @autoclosure () throws -> [Tensor], _ contains: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? InferenceError else { return XCTFail("untyped error \(error)", file: file, line: line) }
            XCTAssertTrue("\(e)".contains(contains), "\(e)", file: file, line: line)
        }
    }

    private let x = Tensor(shape: [2, 3], floats: [0, 1, 2, 3, 4, 5])

    /// GatherND with an empty index tuple (indices shape [1, 0]) selects the whole data once.
    func testGatherNDEmptyIndexTuple() throws {
        let out = try TinyONNX.run("GatherND", opset: 13, [x, Tensor(shape: [1, 0], int64s: [])])
        XCTAssertEqual(out[0].shape, [1, 2, 3])
        XCTAssertEqual(out[0].floats, x.floats)
    }

    /// Slice with a step of Int64.max used to overflow computing the element count.
    func testSliceHugeStep() throws {
        let out = try TinyONNX.run("Slice", opset: 13, [x, Tensor(shape: [1], int64s: [0]), Tensor(shape: [1], int64s: [3]),
                                                          Tensor(shape: [1], int64s: [0]), Tensor(shape: [1], int64s: [Int64.max])])
        XCTAssertEqual(out[0].shape, [1, 3])
        let back = try TinyONNX.run("Slice", opset: 13, [x, Tensor(shape: [1], int64s: [Int64.max]), Tensor(shape: [1], int64s: [Int64.min]),
                                                           Tensor(shape: [1], int64s: [1]), Tensor(shape: [1], int64s: [-Int64.max])])
        XCTAssertEqual(back[0].shape, [2, 1])
    }

    /// Einsum whose output repeats a label ("ij->ii") used to index past its odometer.
    func testEinsumRepeatedOutputLabel() {
        assertTypedError(try TinyONNX.run("Einsum", opset: 12, [x], [("equation", .string("ij->ii"))]), "repeat")
    }

    /// Resize in tf_crop_and_resize mode with a one-value roi used to read past the roi.
    func testResizeShortRoi() {
        let x4 = Tensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4])
        assertTypedError(try TinyONNX.run("Resize", opset: 13, [x4, Tensor(shape: [1], floats: [0]), Tensor(shape: [4], floats: [1, 1, 2, 2])],
                                             [("coordinate_transformation_mode", .string("tf_crop_and_resize"))]), "roi")
    }

    /// Pad with INT64_MIN / INT64_MAX pads (they cancel out in the output size) used to
    /// overflow in the index arithmetic, in every mode.
    func testPadExtremePads() {
        for mode in ["constant", "reflect", "edge", "wrap"] {
            assertTypedError(try TinyONNX.run("Pad", opset: 19, [x, Tensor(shape: [4], int64s: [Int64.min, 0, Int64.max, 0])],
                                                 [("mode", .string(mode))]), "pad")
        }
    }

    /// ArgMax / ArgMin over an empty axis, or of a scalar, used to read element 0 of nothing.
    func testArgExtremaOfEmptyAxisAndScalar() {
        for op in ["ArgMax", "ArgMin"] {
            assertTypedError(try TinyONNX.run(op, opset: 13, [Tensor(shape: [0, 3], floats: [])], [("axis", .int(0))]), "empty axis")
            assertTypedError(try TinyONNX.run(op, opset: 13, [Tensor(shape: [], floats: [1])], [("axis", .int(0))]), "rank")
        }
    }

    /// Axis-taking operators given a scalar (rank 0) used to index shape[0] of nothing.
    func testAxisOperatorsRejectScalars() {
        let s = Tensor(shape: [], floats: [2])
        let zero = Tensor(shape: [1], int64s: [0])
        assertTypedError(try TinyONNX.run("Hardmax", opset: 13, [s], [("axis", .int(0))]), "scalar")
        assertTypedError(try TinyONNX.run("Split", opset: 18, [s], outputs: 2, [("axis", .int(0)), ("num_outputs", .int(2))]), "scalar")
        assertTypedError(try TinyONNX.run("CumSum", opset: 14, [s, Tensor(shape: [], int64s: [0])]), "scalar")
        assertTypedError(try TinyONNX.run("Gather", opset: 13, [s, zero]), "scalar")
    }

    /// A Loop whose body has no operators never reached the executor's stop check, so a
    /// node's per-job time limit could not end it; it now stops between iterations.
    func testLoopWithEmptyBodyHonoursShouldStop() throws {
        let body = TinyONNX.graph([], inputs: ["i", "c_in", "v_in"], outputs: ["c_in", "v_in"])
        let g = TinyONNX.graph([TinyONNX.node("Loop", ["M", "", "v0"], ["y"], [("body", .graph(body))])],
                                  inputs: ["M", "v0"], outputs: ["y"])
        let model = try InferenceModel(bytes: TinyONNX.model(g, opsets: [("", 17)]))
        let calls = Counter()
        let feeds = ["M": Tensor(shape: [], int64s: [Int64.max]), "v0": Tensor(shape: [], floats: [0])]
        XCTAssertThrowsError(try model.run(feeds, shouldStop: { calls.tick() > 5 })) { error in
            guard case .stopped? = error as? InferenceError else { return XCTFail("\(error)") }
        }
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func tick() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
}
