import Foundation
import XCTest
import MurmurCore
@testable import MurmurInference

/// Hostile attribute values on the ML, recurrent, control-flow and quantised fixtures: loading
/// and running either work or throw, never trap.
final class MLAttributeFuzzTests: XCTestCase {
    func testExtremeAttributeValuesNeverTrap() throws {
        let root = BackendCase.repoRoot + "/Tests/Fixtures/ml"
        let dirs = try (FileManager.default.contentsOfDirectory(atPath: root).map { root + "/" + $0 }
            + FileManager.default.contentsOfDirectory(atPath: root + "/ops").map { root + "/ops/" + $0 })
            .filter { FileManager.default.fileExists(atPath: $0 + "/test_data_set_0") }.sorted()
        var rng = SeededRNG(seed: UInt64(ProcessInfo.processInfo.environment["MURMUR_FUZZ_SEED"] ?? "") ?? 2026)
        let extremes = [Int.min, -(1 << 40), -3, -1, 0, 1, 2, 7, 1 << 31, 1 << 40, Int.max]
        var ran = 0
        for dir in dirs {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/model.onnx")))
            let base = try ModelProto(bytes: bytes)
            let graphInputs = base.graph.inputs.filter { v in !base.graph.initializers.contains { $0.name == v.name } }
            var feeds: [String: Tensor] = [:]
            for (i, v) in graphInputs.enumerated() { feeds[v.name] = try BackendCase.readTensor(dir + "/test_data_set_0/input_\(i).pb") }
            let slots = base.graph.nodes.indices.flatMap { n in base.graph.nodes[n].attributes.indices.map { (n, $0) } }
            for _ in 0..<(slots.isEmpty ? 0 : (Int(ProcessInfo.processInfo.environment["MURMUR_FUZZ_ROUNDS"] ?? "") ?? 12)) {
                var proto = base
                let (n, a) = slots[Int(rng.next() % UInt64(slots.count))]
                let pick = extremes[Int(rng.next() % UInt64(extremes.count))]
                let fpick = [Float.nan, .infinity, -1e30, 0, -1][Int(rng.next() % 5)]
                switch proto.graph.nodes[n].attributes[a].value {
                case .int: proto.graph.nodes[n].attributes[a].value = .int(pick)
                case let .ints(v) where !v.isEmpty:
                    var w = v
                    w[Int(rng.next() % UInt64(w.count))] = pick
                    proto.graph.nodes[n].attributes[a].value = .ints(w)
                case .float: proto.graph.nodes[n].attributes[a].value = .float(fpick)
                case let .floats(v) where !v.isEmpty:
                    var w = v
                    w[Int(rng.next() % UInt64(w.count))] = fpick
                    proto.graph.nodes[n].attributes[a].value = .floats(rng.next() % 4 == 0 ? Array(w.dropLast()) : w)
                default: continue
                }
                guard let graph = try? CompiledGraph(graph: proto.graph, opsetImports: proto.opsetImports, registry: .standard) else { continue }
                ran += 1
                _ = try? graph.run(feeds: feeds, context: RunContext())
            }
        }
        XCTAssertGreaterThan(ran, 0)
    }
}
