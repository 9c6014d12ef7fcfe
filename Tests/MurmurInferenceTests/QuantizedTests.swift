import XCTest
@testable import MurmurInference

/// Quantisation operators on values whose answer is known by hand.
final class QuantizedTests: XCTestCase {
    /// x / 1 = ±0.5, 1.5, 2.5 round half to even; saturation at both ends of uint8 and int8.
    func testQuantizeRoundsHalfToEvenAndSaturates() throws {
        let x = Tensor(shape: [6], floats: [0.5, 1.5, 2.5, -0.5, 300, -300])
        let u = try TinyONNX.run("QuantizeLinear", opset: 13, [x, Tensor.scalar(Float(1)), Tensor(shape: [], values: [UInt8(0)])])
        XCTAssertEqual(u[0].array(UInt8.self), [0, 2, 2, 0, 255, 0])
        let s = try TinyONNX.run("QuantizeLinear", opset: 13, [x, Tensor.scalar(Float(1)), Tensor(shape: [], values: [Int8(1)])])
        XCTAssertEqual(s[0].array(Int8.self), [1, 3, 3, 1, 127, -128])
    }

    func testDequantizePerAxis() throws {
        let x = Tensor(shape: [2, 2], values: [UInt8(10), 20, 30, 40])
        let y = try TinyONNX.run("DequantizeLinear", opset: 13, [x, Tensor(shape: [2], floats: [0.5, 2]), Tensor(shape: [2], values: [UInt8(10), 0])],
                                 [("axis", .int(0))])
        XCTAssertEqual(y[0].floats, [0, 5, 60, 80])
    }

    /// Range [−1, 2] → scale 3/255, zero point round(255/3) = 85; 2 → 255, −1 → 0.
    func testDynamicQuantizeLinear() throws {
        let y = try TinyONNX.run("DynamicQuantizeLinear", opset: 11, [Tensor(shape: [3], floats: [-1, 0, 2])], outputs: 3)
        XCTAssertEqual(y[1].floats, [Float(3) / 255])
        XCTAssertEqual(y[2].array(UInt8.self), [85])
        XCTAssertEqual(y[0].array(UInt8.self), [0, 85, 255])
    }

    /// [[1, 2], [3, 4]] − 1 times [[1, 0], [0, 1]] − 0 = [[0, 1], [2, 3]], int32.
    func testMatMulIntegerSubtractsZeroPoints() throws {
        let a = Tensor(shape: [2, 2], values: [UInt8(1), 2, 3, 4]), b = Tensor(shape: [2, 2], values: [UInt8(1), 0, 0, 1])
        let y = try TinyONNX.run("MatMulInteger", opset: 10, [a, b, Tensor(shape: [], values: [UInt8(1)])])
        XCTAssertEqual(y[0].int32s, [0, 1, 2, 3])
    }
}
