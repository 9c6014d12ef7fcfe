import XCTest
@testable import MurmurInference

/// ONNX backend node tests (Debian's libonnx-testdata) for the ML-runtime helper's operators,
/// within rtol 1e-3 / atol 1e-7. Known gaps are listed with their reason in
/// Specs/inference-ops-extra.md.
final class OpsExtraConformanceTests: XCTestCase {
    func testQuantized() throws {
        try BackendCase.assertNodeTests(["quantizelinear", "dequantizelinear", "dynamicquantizelinear", "matmulinteger"])
    }
}
