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
