import XCTest
@testable import MurmurInference

/// LSTM / GRU / RNN against onnxruntime (Tests/Fixtures/ml/ops, made by
/// `python3 Scripts/make_ml_fixtures.py ops`) in the cases the node tests leave out:
/// reverse and bidirectional, sequence_lens, initial states, peepholes, clip, input_forget,
/// linear_before_reset.
final class RecurrentTests: XCTestCase {
    static let fixtures = ["lstm_forward_lens", "lstm_reverse_peepholes", "lstm_bidirectional_lens", "lstm_clip_input_forget",
                           "gru_bidirectional_lens", "gru_linear_before_reset", "gru_reverse", "rnn_bidirectional_relu",
                           "dynamic_quantize_lstm"]

    func testRecurrentFixturesMatchOnnxruntime() {
        for name in Self.fixtures {
            XCTAssertNil(BackendCase.run(BackendCase.repoRoot + "/Tests/Fixtures/ml/ops/" + name), name)
        }
    }

    func testSameBytesForAnyThreadCount() {
        for name in ["lstm_bidirectional_lens", "gru_bidirectional_lens"] {
            let dir = BackendCase.repoRoot + "/Tests/Fixtures/ml/ops/" + name
            XCTAssertNil(BackendCase.run(dir, threads: 2), name)
            XCTAssertNil(BackendCase.run(dir, threads: 4), name)
        }
    }

    /// One step of a 1-unit GRU by hand: z = σ(0) = ½, r = σ(0) = ½, h̃ = tanh(1·x),
    /// H = (1 − z)·h̃ + z·H₀.
    func testGRUOneStepByHand() throws {
        let w = Tensor(shape: [1, 3, 1], floats: [0, 0, 1])
        let r = Tensor(shape: [1, 3, 1], floats: [0, 0, 0])
        let out = try TinyONNX.run("GRU", opset: 14, [Tensor(shape: [1, 1, 1], floats: [0.5]), w, r, nil, nil,
                                                     Tensor(shape: [1, 1, 1], floats: [0.2])], outputs: 2, [("hidden_size", .int(1))])
        let expected = 0.5 * ScalarMath.tanh(0.5) + 0.5 * 0.2
        XCTAssertEqual(out[1].floats?[0] ?? 0, expected, accuracy: 1e-7)
        XCTAssertEqual(out[0].shape, [1, 1, 1, 1])
    }

    func testMismatchedWeightsAreAnErrorNotACrash() {
        XCTAssertThrowsError(try TinyONNX.run("LSTM", opset: 14, [Tensor(shape: [2, 1, 3], floats: Array(repeating: 0, count: 6)),
                                                                  Tensor(shape: [1, 8, 3], floats: Array(repeating: 0, count: 24)),
                                                                  Tensor(shape: [1, 8, 2], floats: Array(repeating: 0, count: 16))],
                                              outputs: 2, [("hidden_size", .int(3))]))
    }
}
