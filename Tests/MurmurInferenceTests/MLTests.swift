import XCTest
@testable import MurmurInference

/// ai.onnx.ml operators: scikit-learn models exported by skl2onnx (zipmap=False) against
/// onnxruntime's saved outputs (Scripts/make_ml_fixtures.py), plus hand-checked cases.
final class MLTests: XCTestCase {
    static let fixtures = ["mlp_classifier", "mlp_regressor", "rf_classifier", "rf_classifier_binary", "rf_regressor",
                           "rf_regressor_2targets", "gb_classifier", "gb_classifier_binary", "linear_regression", "ridge_2targets",
                           "logistic_multinomial", "logistic_binary", "linear_svc", "scaler_logistic", "minmax_normalizer_ridge",
                           "normalizer_l1_max"]

    func testSklearnFixturesMatchOnnxruntime() {
        for name in Self.fixtures {
            let dir = BackendCase.repoRoot + "/Tests/Fixtures/ml/" + name
            XCTAssertNil(BackendCase.run(dir), name)
        }
    }

    func testSklearnFixturesSameBytesForAnyThreadCount() throws {
        for name in ["rf_classifier", "gb_classifier", "mlp_classifier"] {
            let dir = BackendCase.repoRoot + "/Tests/Fixtures/ml/" + name
            let model = try InferenceModel(path: dir + "/model.onnx")
            let x = try BackendCase.readTensor(dir + "/test_data_set_0/input_0.pb")
            let feeds = [model.inputs[0].name: x]
            let h1 = try model.run(feeds, threads: 1).hash
            XCTAssertEqual(try model.run(feeds, threads: 2).hash, h1)
            XCTAssertEqual(try model.run(feeds, threads: 4).hash, h1)
        }
    }

    func testZipMapIsRefusedWithAHint() {
        let path = BackendCase.repoRoot + "/Tests/Fixtures/ml/zipmap_refused/model.onnx"
        XCTAssertThrowsError(try InferenceModel(path: path)) { error in
            XCTAssertTrue("\(error)".contains("'zipmap': False"), "\(error)")
        }
    }

    // MARK: hand-checked

    static func ml(_ op: String, _ x: Tensor, outputs: Int = 1, _ attrs: [(String, TinyONNX.Attr)]) throws -> [Tensor] {
        try TinyONNX.run(op, domain: "ai.onnx.ml", opset: 3, [x], outputs: outputs, attrs)
    }

    func testLinearRegressorDotProductPlusIntercept() throws {
        let y = try Self.ml("LinearRegressor", Tensor(shape: [2, 3], floats: [1, 1, 1, 2, 0, 4]), [
            ("coefficients", .floats([1, 2, 3, -1, 0, 0.5])), ("intercepts", .floats([10, -1])), ("targets", .int(2)),
        ])
        XCTAssertEqual(y[0].shape, [2, 2])
        XCTAssertEqual(y[0].floats, [16, -1.5, 24, -1])
    }

    func testLinearClassifierBinaryAndLabels() throws {
        let out = try Self.ml("LinearClassifier", Tensor(shape: [2, 2], floats: [3, 1, 0, 2]), outputs: 2, [
            ("coefficients", .floats([1, -1])), ("intercepts", .floats([0])), ("classlabels_ints", .ints([7, 9])),
        ])
        XCTAssertEqual(out[0].int64s, [9, 7])
        XCTAssertEqual(out[1].floats, [-2, 2, 2, -2])
    }

    func testLinearClassifierSoftmaxRowsSumToOne() throws {
        let out = try Self.ml("LinearClassifier", Tensor(shape: [1, 1], floats: [1]), outputs: 2, [
            ("coefficients", .floats([0, 0, 0])), ("intercepts", .floats([0, 0, 0])), ("classlabels_ints", .ints([4, 5, 6])),
            ("post_transform", .string("SOFTMAX")),
        ])
        XCTAssertEqual(out[0].int64s, [4])  // ties: the first class wins
        for p in out[1].floats ?? [] { XCTAssertEqual(p, 1 / 3, accuracy: 1e-7) }
    }

    func testNormalizerAndScaler() throws {
        XCTAssertEqual(try Self.ml("Normalizer", Tensor(shape: [1, 2], floats: [3, 4]), [("norm", .string("L2"))])[0].floats, [0.6, 0.8])
        XCTAssertEqual(try Self.ml("Normalizer", Tensor(shape: [1, 2], floats: [-1, 3]), [("norm", .string("L1"))])[0].floats, [-0.25, 0.75])
        XCTAssertEqual(try Self.ml("Normalizer", Tensor(shape: [1, 2], floats: [2, 4]), [("norm", .string("MAX"))])[0].floats, [0.5, 1])
        XCTAssertEqual(try Self.ml("Scaler", Tensor(shape: [1, 2], floats: [3, 4]), [("offset", .floats([1, 2])), ("scale", .floats([2, 0.5]))])[0].floats, [4, 1])
    }

    /// Two stumps on feature 0 (x ≤ 0.5) and feature 1 (x < 2): the sum of the leaves reached,
    /// NaN following the false branch (missing_value_tracks_true = 0).
    func testTreeEnsembleRegressorSumsLeavesInTreeOrder() throws {
        let y = try Self.ml("TreeEnsembleRegressor", Tensor(shape: [3, 2], floats: [0, 0, 1, 5, .nan, 2]), [
            ("nodes_treeids", .ints([0, 0, 0, 1, 1, 1])), ("nodes_nodeids", .ints([0, 1, 2, 0, 1, 2])),
            ("nodes_featureids", .ints([0, 0, 0, 1, 0, 0])), ("nodes_values", .floats([0.5, 0, 0, 2, 0, 0])),
            ("nodes_modes", .strings(["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"])),
            ("nodes_truenodeids", .ints([1, 0, 0, 1, 0, 0])), ("nodes_falsenodeids", .ints([2, 0, 0, 2, 0, 0])),
            ("target_treeids", .ints([0, 0, 1, 1])), ("target_nodeids", .ints([1, 2, 1, 2])),
            ("target_ids", .ints([0, 0, 0, 0])), ("target_weights", .floats([1, 10, 100, 1000])),
            ("base_values", .floats([0.5])), ("n_targets", .int(1)),
        ])
        XCTAssertEqual(y[0].floats, [101.5, 1010.5, 1010.5])
    }

    func testTreeWithACycleIsAnErrorNotAHang() throws {
        XCTAssertThrowsError(try Self.ml("TreeEnsembleRegressor", Tensor(shape: [1, 1], floats: [0]), [
            ("nodes_treeids", .ints([0, 0])), ("nodes_nodeids", .ints([0, 1])), ("nodes_featureids", .ints([0, 0])),
            ("nodes_values", .floats([1, 1])), ("nodes_modes", .strings(["BRANCH_LEQ", "BRANCH_LEQ"])),
            ("nodes_truenodeids", .ints([1, 0])), ("nodes_falsenodeids", .ints([1, 0])),
            ("target_treeids", .ints([0])), ("target_nodeids", .ints([1])), ("target_ids", .ints([0])), ("target_weights", .floats([1])),
        ]))
    }
}
