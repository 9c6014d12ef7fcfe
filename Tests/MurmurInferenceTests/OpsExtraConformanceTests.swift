import XCTest
@testable import MurmurInference

/// ONNX backend node tests (Debian's libonnx-testdata) for the ML-runtime helper's operators,
/// within rtol 1e-3 / atol 1e-7. Known gaps are listed with their reason in
/// Specs/inference-ops-extra.md.
final class OpsExtraConformanceTests: XCTestCase {
    func testQuantized() throws {
        try BackendCase.assertNodeTests(["quantizelinear", "dequantizelinear", "dynamicquantizelinear", "matmulinteger",
                                        "convinteger", "basic_convinteger", "qlinearmatmul", "qlinearconv"])
    }

    func testResize() throws { try BackendCase.assertNodeTests(["resize", "upsample"]) }
    func testRecurrent() throws { try BackendCase.assertNodeTests(["lstm", "gru", "rnn", "simple_rnn"]) }

    /// Sequence and optional values are not tensors; the engine does not support them.
    static let controlFlowGaps: Set<String> = ["test_if_opt", "test_if_seq", "test_loop13_seq", "test_loop16_seq_none"]

    func testControlFlow() throws {
        try BackendCase.assertNodeTests(["if", "if_opt", "if_seq", "loop11", "loop13_seq", "loop16_seq_none"], gaps: Self.controlFlowGaps)
        // The expanded Range tests implement Range with a Loop that reads outer-scope values.
        try BackendCase.assertNodeTests(["range"])
    }
}
