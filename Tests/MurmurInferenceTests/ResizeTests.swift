import XCTest
@testable import MurmurInference

/// Resize on cases computed by hand.
final class ResizeTests: XCTestCase {
    /// Nearest ×2 with asymmetric coordinates repeats each element.
    func testNearestUpsampleRepeats() throws {
        let x = Tensor(shape: [1, 1, 1, 2], floats: [1, 2])
        let y = try TinyONNX.run("Resize", opset: 13, [x, nil, Tensor(shape: [4], floats: [1, 1, 2, 2])],
                                 [("coordinate_transformation_mode", .string("asymmetric")), ("nearest_mode", .string("floor"))])
        XCTAssertEqual(y[0].shape, [1, 1, 2, 4])
        XCTAssertEqual(y[0].floats, [1, 1, 2, 2, 1, 1, 2, 2])
    }

    /// Linear, align_corners, 2 → 3: the middle value is the mean.
    func testLinearAlignCornersMidpoint() throws {
        let x = Tensor(shape: [1, 2], floats: [0, 10])
        let y = try TinyONNX.run("Resize", opset: 13, [x, nil, nil, Tensor(shape: [2], int64s: [1, 3])],
                                 [("mode", .string("linear")), ("coordinate_transformation_mode", .string("align_corners"))])
        XCTAssertEqual(y[0].floats, [0, 5, 10])
    }

    func testIntegerNearestAndSameBytesAcrossThreads() throws {
        let x = Tensor(shape: [1, 3], int64s: [7, 8, 9])
        let y = try TinyONNX.run("Resize", opset: 13, [x, nil, nil, Tensor(shape: [2], int64s: [1, 6])])
        XCTAssertEqual(y[0].int64s, [7, 7, 8, 8, 9, 9])
        let f = Tensor(shape: [1, 1, 3, 3], floats: (0..<9).map { Float($0) * 0.37 })
        let args: [(String, TinyONNX.Attr)] = [("mode", .string("cubic"))]
        let one = try TinyONNX.run("Resize", opset: 13, [f, nil, Tensor(shape: [4], floats: [1, 1, 1.7, 2.3])], args, threads: 1)
        let four = try TinyONNX.run("Resize", opset: 13, [f, nil, Tensor(shape: [4], floats: [1, 1, 1.7, 2.3])], args, threads: 4)
        XCTAssertEqual(one[0].littleEndianBytes(), four[0].littleEndianBytes())
    }
}
