import Foundation
import XCTest
import MurmurCore
@testable import MurmurInference

/// What real exports carry (issue 8 item 3), on tiny models made by Scripts/real_models/make_robust.py
/// and checked against onnxruntime: run-time shapes, wrong declared output shapes, unused
/// initializers, opsets 11–20, and an unknown op refused at load time.
final class RobustnessTests: XCTestCase {
    struct Run: Codable { let inputs: [String: String]; let outputs: [String: String] }
    struct Case: Codable { let name: String; let runs: [Run] }
    struct File: Codable { let cases: [Case] }

    static let dir = RealFixtures.fixtureDir + "/robust"

    func runCase(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [InferenceResult] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/robust.json"))
        let all = try JSONDecoder().decode(File.self, from: data)
        guard let c = all.cases.first(where: { $0.name == name }) else {
            XCTFail("no case \(name)", file: file, line: line); return []
        }
        let model = try InferenceModel(path: "\(Self.dir)/\(name).onnx")
        var results: [InferenceResult] = []
        for run in c.runs {
            var feeds: [String: Tensor] = [:]
            for (k, f) in run.inputs { feeds[k] = try RealFixtures.tensor("robust/" + f) }
            let result = try model.run(feeds, threads: 1)
            for (k, f) in run.outputs {
                let want = try RealFixtures.tensor("robust/" + f)
                guard let got = result[k] else { XCTFail("\(name): no output \(k)", file: file, line: line); continue }
                XCTAssertNil(Conformance.compare(got, want, rtol: 1e-5, atol: 1e-6), "\(name).\(k)", file: file, line: line)
            }
            XCTAssertEqual(result.hash, try model.run(feeds, threads: 3).hash, "\(name): threads changed the bytes", file: file, line: line)
            results.append(result)
        }
        return results
    }

    func testShapesKnownOnlyAtRunTime() throws {
        let r = try runCase("dynamic_dims")
        XCTAssertEqual(r.map { $0["y"]?.shape ?? [] }, [[2, 5], [3, 5]])
    }

    func testWrongDeclaredOutputShapeIsIgnored() throws {
        // Declared [1, 2]; the graph computes [3, 4] and that is what comes out.
        let r = try runCase("wrong_out_shape")
        XCTAssertEqual(r.first?["y"]?.shape, [3, 4])
    }

    func testUnusedInitializersAreHarmless() throws { _ = try runCase("unused_init") }

    /// GAPS.md #1 (fixed): paddle2onnx's dim_value -1 means a dynamic dimension.
    func testNegativeDeclaredDimMeansDynamic() throws {
        _ = try runCase("negative_dim")
    }

    func testOpsets11To20() throws {
        for opset in 11...20 { _ = try runCase("opset_\(opset)") }
    }

    func testUnknownOpRefusedAtLoadNamingOpDomainAndVersion() throws {
        do {
            _ = try InferenceModel(path: Self.dir + "/unknown_op.onnx")
            XCTFail("a model with com.example.Frobnicate loaded")
        } catch {
            guard case let .unsupportedOperators(ops) = error else { return XCTFail("unexpected error \(error)") }
            XCTAssertEqual(ops, [OperatorRef(opType: "Frobnicate", domain: "com.example", version: 3)])
            XCTAssertTrue(error.description.contains("com.example.Frobnicate (opset 3)"), error.description)
        }
    }

    /// ddddocr's CNN+BiLSTM model declares its output as [1, seqlen] but returns [seq, 1, 8210].
    func testDdddocrDeclaredShapeIsWrongAndTheComputedOneWins() throws {
        let path = RealFixtures.modelPath("ddddocr_common")
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("ddddocr_common not cached; run Scripts/real_models/fetch.sh")
        }
        let model = try InferenceModel(path: path)
        XCTAssertEqual(model.outputs.first?.shape?.count, 2, "the file declares a rank-2 output")
        let input = try RealFixtures.input(.init(file: "ddddocr_common/call0_in_0.pb", scale: [Float(2.0 / 255.0)], offset: [-1]))
        let out = try model.run(["input1": input])
        XCTAssertEqual(out.outputs.first?.tensor.shape, [12, 1, 8210])
    }
}
