import Foundation
import XCTest
import MurmurCore
@testable import MurmurInference

/// Hostile attribute values (huge, negative, zero) on real single-op models from the ONNX
/// backend tests never crash the engine: loading and running either work or throw.
final class AttributeFuzzTests: XCTestCase {
    func testExtremeAttributeValuesNeverTrap() throws {
        let root = Conformance.defaultRoot + "/node"
        guard FileManager.default.fileExists(atPath: root) else { throw XCTSkip("libonnx-testdata is not installed") }
        let env = ProcessInfo.processInfo.environment
        var rng = SeededRNG(seed: UInt64(env["MURMUR_FUZZ_SEED"] ?? "") ?? 77)
        let stride = Int(env["MURMUR_FUZZ_STRIDE"] ?? "") ?? 4
        let extremes = [Int.min, -(1 << 40), -3, -1, 0, 1, 2, 7, 1 << 31, 1 << 40, Int.max]
        let cases = Conformance.caseDirectories(root)
        var ran = 0, succeeded = 0
        for (i, (_, path)) in cases.enumerated() where i % stride == 0 {
            guard let bytes = try? readBytes(path + "/model.onnx"), var proto = try? ModelProto(bytes: bytes),
                  InferenceModel.missingOperators(proto).isEmpty,
                  let feeds = try? Conformance.numberedTensors(path + "/test_data_set_0", prefix: "input_") else { continue }
            // One attribute per case, so the rest of the model stays valid and the kernel runs.
            let slots = proto.graph.nodes.indices.flatMap { n in proto.graph.nodes[n].attributes.indices.map { (n, $0) } }
            guard !slots.isEmpty else { continue }
            let chosen = slots[Int(rng.next() % UInt64(slots.count))]
            for n in [chosen.0] {
                for a in [chosen.1] {
                    let pick = extremes[Int(rng.next() % UInt64(extremes.count))]
                    switch proto.graph.nodes[n].attributes[a].value {
                    case .int: proto.graph.nodes[n].attributes[a].value = .int(pick)
                    case let .ints(v) where !v.isEmpty:
                        var w = v
                        w[Int(rng.next() % UInt64(w.count))] = pick
                        proto.graph.nodes[n].attributes[a].value = .ints(w)
                    case .float: proto.graph.nodes[n].attributes[a].value = .float([Float.nan, .infinity, -1e30, 0][Int(rng.next() % 4)])
                    default: break
                    }
                }
            }
            guard let graph = try? CompiledGraph(graph: proto.graph, opsetImports: proto.opsetImports, registry: .standard) else { continue }
            var named: [String: Tensor] = [:]
            for (j, (name, t)) in feeds.enumerated() where j < graph.inputs.count {
                named[graph.inputs.contains { $0.name == name } ? name : graph.inputs[j].name] = t
            }
            ran += 1
            if (try? graph.run(feeds: named, context: RunContext())) != nil { succeeded += 1 }
        }
        XCTAssertGreaterThan(ran, 0)
        print("attribute fuzz: \(ran) mutated models ran, \(succeeded) produced outputs")
    }
}
