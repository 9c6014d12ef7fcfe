import XCTest
import MurmurCore
@testable import MurmurInference

/// Fixture models made by Scripts/make_fixtures.py, checked against onnxruntime's outputs.
final class RealModelTests: XCTestCase {
    func check(_ name: String, rtol: Double = 1e-3, atol: Double = 1e-5) throws {
        let (model, feeds) = try loadFixture(name)
        let result = try model.run(feeds)
        let expected = try loadExpected(name)
        XCTAssertEqual(result.outputs.count, expected.count)
        for o in result.outputs {
            guard let want = expected[o.name] else { XCTFail("no expected value for \(o.name)"); continue }
            // The JSON stores the values onnxruntime computed; its dtype is declared in the file.
            let got = o.tensor
            XCTAssertNil(Conformance.compare(got, want, rtol: rtol, atol: atol), "\(name).\(o.name)")
        }
    }

    func testScikitLearnMLP() throws { try check("mlp") }
    func testSmallCNN() throws { try check("cnn") }
    func testTransformerEncoder() throws { try check("transformer", atol: 1e-4) }
    func testOpsCoverageModel() throws { try check("ops") }
    func testScikitLearnRandomForest() throws { try check("forest") }
    func testScikitLearnForestRegressor() throws { try check("forest_regressor") }
    func testScikitLearnScalerLogisticRegression() throws { try check("logistic") }
    func testScikitLearnNormalizerLinearRegression() throws { try check("linear", atol: 1e-3) }
}
