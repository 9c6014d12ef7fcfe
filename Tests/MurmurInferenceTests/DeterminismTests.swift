import Foundation
import XCTest
import MurmurCore
@testable import MurmurInference

/// Same model + same input ⇒ same output bytes, for any thread count, and equal to the
/// golden hashes in Specs/vectors/inference/golden.json (which any compatible engine must
/// reproduce). Regenerate the file with MURMUR_RECORD_GOLDEN=1 only when the engine's
/// documented arithmetic changes (Specs/inference.md).
final class DeterminismTests: XCTestCase {
    static let models = ["mlp", "cnn", "transformer", "ops", "forest", "forest_regressor", "logistic", "linear"]
    let goldenPath = repoRoot + "/Specs/vectors/inference/golden.json"

    func testThreadCountsGiveIdenticalBytes() throws {
        for name in Self.models {
            let (model, feeds) = try loadFixture(name)
            let one = try model.run(feeds, threads: 1)
            for t in [2, 4] {
                let other = try model.run(feeds, threads: t)
                XCTAssertEqual(OutputHash.encode(one.outputs), OutputHash.encode(other.outputs), "\(name) with \(t) threads")
            }
        }
    }

    /// One loaded model run from several threads at once (as the node's worker pool will):
    /// every run gives the same bytes.
    func testConcurrentRunsOfOneModel() throws {
        let (model, feeds) = try loadFixture("transformer")
        let reference = try model.run(feeds).hash
        let box = UncheckedBox(feeds)
        let results = ResultsBox(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            results.set(i, try? model.run(box.value, threads: 1 + i % 2).hash)
        }
        for i in 0..<4 { XCTAssertEqual(results.get(i), reference, "run \(i)") }
    }

    func testGoldenOutputHashes() throws {
        var computed: [[String: String]] = []
        for name in Self.models {
            let (model, feeds) = try loadFixture(name)
            let r = try model.run(feeds)
            computed.append([
                "model": "Tests/Fixtures/models/\(name).onnx", "input": "Tests/Fixtures/models/\(name).input.json",
                "model_hash": model.modelHash.hex, "output_hash": r.hash.hex,
            ])
        }
        if ProcessInfo.processInfo.environment["MURMUR_RECORD_GOLDEN"] == "1" {
            let obj: [String: Any] = [
                "description": "Golden output hashes: BLAKE2b-256 of the canonical output encoding (Specs/inference.md) for each model and input.",
                "vectors": computed,
            ]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: goldenPath))
            return
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: goldenPath))
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let vectors = obj?["vectors"] as? [[String: String]] ?? []
        XCTAssertEqual(vectors.count, computed.count)
        for v in vectors {
            guard let c = computed.first(where: { $0["model"] == v["model"] }) else { XCTFail("unknown model \(v["model"] ?? "")"); continue }
            XCTAssertEqual(c["model_hash"], v["model_hash"], "\(v["model"] ?? "") model hash")
            XCTAssertEqual(c["output_hash"], v["output_hash"], "\(v["model"] ?? "") output hash")
        }
    }
}

/// Thread-safe slots for results written from concurrent test runs.
final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Hash?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: Hash?) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> Hash? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
