import XCTest
@testable import MurmurInference

/// If / Loop whose subgraphs read values of enclosing graphs (two levels deep for If),
/// against onnxruntime (Tests/Fixtures/ml/ops).
final class ControlFlowTests: XCTestCase {
    func testSubgraphsReadingOuterScopeMatchOnnxruntime() {
        for name in ["if_outer_scope_then", "if_outer_scope_else", "loop_outer_scope"] {
            XCTAssertNil(BackendCase.run(BackendCase.repoRoot + "/Tests/Fixtures/ml/ops/" + name), name)
        }
    }

    /// acc += w·i for i = 0, 1, …; the loop stops when Σacc ≥ 20 (5 iterations) before M = 10.
    func testLoopStopsOnConditionAndStacksScanOutputs() throws {
        let model = try InferenceModel(path: BackendCase.repoRoot + "/Tests/Fixtures/ml/ops/loop_outer_scope/model.onnx")
        let r = try model.run(["M": Tensor(shape: [], int64s: [10]), "acc0": Tensor(shape: [3], floats: [1, 2, 3])])
        XCTAssertEqual(r["scans"]?.shape, [5, 3])
        XCTAssertEqual(r["acc"]?.floats, [6, -8, 23])
        let zero = try model.run(["M": Tensor(shape: [], int64s: [0]), "acc0": Tensor(shape: [3], floats: [1, 2, 3])])
        XCTAssertEqual(zero["acc"]?.floats, [1, 2, 3])
    }

    /// `shouldStop` is asked before every operator, inside Loop bodies too; asking changes no
    /// result, and a `true` ends the run with `.stopped` (a node's per-job time limit).
    func testShouldStopIsAskedBetweenOperatorsAndStopsTheRun() throws {
        final class Checks: @unchecked Sendable { var count = 0; var stopAt = Int.max }
        let model = try InferenceModel(path: BackendCase.repoRoot + "/Tests/Fixtures/ml/ops/loop_outer_scope/model.onnx")
        let feeds = ["M": Tensor(shape: [], int64s: [10]), "acc0": Tensor(shape: [3], floats: [1, 2, 3])]
        let checks = Checks()
        let asked = try model.run(feeds, shouldStop: { checks.count += 1; return checks.count >= checks.stopAt })
        XCTAssertEqual(asked["acc"]?.floats, [6, -8, 23])
        let outerSteps = checks.count
        XCTAssertGreaterThan(outerSteps, 5, "the loop body's operators were not asked")
        checks.count = 0
        checks.stopAt = outerSteps - 1
        XCTAssertThrowsError(try model.run(feeds, shouldStop: { checks.count += 1; return checks.count >= checks.stopAt })) { error in
            guard case .stopped? = error as? InferenceError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(checks.count, outerSteps - 1, "operators ran after the stop")
    }
}
