import Foundation
import XCTest
@testable import MurmurInference

/// Runs test cases in the ONNX backend-test layout (model.onnx + test_data_set_N/{input,output}_K.pb)
/// for the ML, recurrent, control-flow, quantised and extra operators' tests.
enum BackendCase {
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let nodeTestRoot = "/usr/share/libonnx-testdata/data/node"

    static func readTensor(_ path: String) throws -> Tensor {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return try Tensor(proto: TensorProto(bytes: bytes))
    }

    /// Within rtol 1e-3 / atol 1e-7 (ONNX's backend tolerances); integers and bools exactly.
    static func compare(_ got: Tensor, _ want: Tensor, rtol: Double = 1e-3, atol: Double = 1e-7) -> String? {
        guard got.shape == want.shape else { return "shape \(got.shape), expected \(want.shape)" }
        guard got.dtype == want.dtype else { return "dtype \(got.dtype), expected \(want.dtype)" }
        let g = got.doubleValues(), w = want.doubleValues()
        for i in 0..<g.count {
            if g[i].isNaN && w[i].isNaN { continue }
            if g[i] == w[i] { continue }
            if !want.dtype.isFloatingPoint || abs(g[i] - w[i]) > atol + rtol * abs(w[i]) {
                return "element \(i): got \(g[i]), expected \(w[i])"
            }
        }
        return nil
    }

    /// nil when every data set of the case passes; otherwise what went wrong.
    static func run(_ dir: String, threads: Int = 1) -> String? {
        do {
            let model = try InferenceModel(path: dir + "/model.onnx")
            let sets = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("test_data_set_") }.sorted()
            if sets.isEmpty { return "no test data" }
            for s in sets {
                let d = dir + "/" + s
                var feeds: [String: Tensor] = [:]
                let graphInputs = model.proto.graph.inputs.filter { v in !model.proto.graph.initializers.contains { $0.name == v.name } }
                for (i, v) in graphInputs.enumerated() {
                    let p = d + "/input_\(i).pb"
                    if FileManager.default.fileExists(atPath: p) { feeds[v.name] = try readTensor(p) }
                }
                let result = try model.run(feeds, threads: threads)
                for (i, o) in result.outputs.enumerated() {
                    let want = try readTensor(d + "/output_\(i).pb")
                    if let e = compare(o.tensor, want) { return "\(s) output \(i) '\(o.name)': \(e)" }
                }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Node test directories whose name is `test_<prefix>` or starts with `test_<prefix>_`.
    static func nodeTests(_ prefixes: [String]) -> [String] {
        guard let all = try? FileManager.default.contentsOfDirectory(atPath: nodeTestRoot) else { return [] }
        return all.filter { name in
            prefixes.contains { name == "test_" + $0 || name.hasPrefix("test_" + $0 + "_") }
        }.sorted()
    }

    /// Runs the named node tests, skipping `gaps`; fails the test for each failure.
    static func assertNodeTests(_ prefixes: [String], gaps: Set<String> = [], exclude: Set<String> = [],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let cases = nodeTests(prefixes).filter { !exclude.contains($0) }
        if cases.isEmpty { throw XCTSkip("libonnx-testdata not installed at \(nodeTestRoot)") }
        var passed = 0
        for c in cases {
            if gaps.contains(c) { continue }
            if let e = run(nodeTestRoot + "/" + c) { XCTFail("\(c): \(e)", file: file, line: line) } else { passed += 1 }
        }
        print("conformance \(prefixes.joined(separator: ",")): \(passed) passed, \(cases.count - passed - gaps.count) failed, \(gaps.count) known gaps")
    }
}

/// A minimal ONNX protobuf writer for tests: single-node models and subgraphs built in Swift.
enum TinyONNX {
    enum Attr {
        case int(Int), float(Float), ints([Int]), floats([Float]), string(String), strings([String]), graph([UInt8]), tensor(Tensor)
    }

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }
    static func key(_ field: Int, _ wire: Int) -> [UInt8] { varint(UInt64(field << 3 | wire)) }
    static func int(_ field: Int, _ v: Int) -> [UInt8] { key(field, 0) + varint(UInt64(bitPattern: Int64(v))) }
    static func bytes(_ field: Int, _ b: [UInt8]) -> [UInt8] { key(field, 2) + varint(UInt64(b.count)) + b }
    static func string(_ field: Int, _ s: String) -> [UInt8] { bytes(field, Array(s.utf8)) }
    static func fixed32(_ field: Int, _ f: Float) -> [UInt8] {
        let b = f.bitPattern
        return key(field, 5) + [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
    }

    static func tensor(_ name: String, _ t: Tensor) -> [UInt8] {
        var out: [UInt8] = []
        for d in t.shape { out += int(1, d) }
        out += int(2, t.dtype.rawValue)
        out += string(8, name)
        out += bytes(9, t.littleEndianBytes())
        return out
    }

    static func attribute(_ name: String, _ a: Attr) -> [UInt8] {
        var out = string(1, name)
        switch a {
        case let .int(v): out += int(3, v) + int(20, 2)
        case let .float(v): out += fixed32(2, v) + int(20, 1)
        case let .ints(v): for x in v { out += int(8, x) }; out += int(20, 7)
        case let .floats(v): for x in v { out += fixed32(7, x) }; out += int(20, 6)
        case let .string(s): out += string(4, s) + int(20, 3)
        case let .strings(v): for s in v { out += string(9, s) }; out += int(20, 8)
        case let .graph(g): out += bytes(6, g) + int(20, 5)
        case let .tensor(t): out += bytes(5, tensor("", t)) + int(20, 4)
        }
        return out
    }

    static func node(_ op: String, domain: String = "", _ inputs: [String], _ outputs: [String], _ attrs: [(String, Attr)] = []) -> [UInt8] {
        var out: [UInt8] = []
        for i in inputs { out += string(1, i) }
        for o in outputs { out += string(2, o) }
        out += string(4, op)
        if !domain.isEmpty { out += string(7, domain) }
        for (n, a) in attrs { out += bytes(5, attribute(n, a)) }
        return out
    }

    static func graph(_ nodes: [[UInt8]], inputs: [String], outputs: [String], initializers: [(String, Tensor)] = []) -> [UInt8] {
        var out = string(2, "g")
        for n in nodes { out += bytes(1, n) }
        for (n, t) in initializers { out += bytes(5, tensor(n, t)) }
        for i in inputs { out += bytes(11, string(1, i)) }
        for o in outputs { out += bytes(12, string(1, o)) }
        return out
    }

    static func model(_ graph: [UInt8], opsets: [(String, Int)]) -> [UInt8] {
        var out = int(1, 8)
        for (d, v) in opsets { out += bytes(8, string(1, d) + int(2, v)) }
        out += bytes(7, graph)
        return out
    }

    /// Runs one node on the given inputs (empty name = omitted optional input).
    static func run(_ op: String, domain: String = "", opset: Int, _ inputs: [Tensor?], outputs: Int = 1,
                    _ attrs: [(String, Attr)] = [], threads: Int = 1) throws -> [Tensor] {
        let names = inputs.enumerated().map { $0.element == nil ? "" : "x\($0.offset)" }
        let outs = (0..<outputs).map { "y\($0)" }
        let g = graph([node(op, domain: domain, names, outs, attrs)], inputs: names.filter { !$0.isEmpty }, outputs: outs)
        var opsets = [("", opset)]
        if !domain.isEmpty { opsets.append((domain, opset)) }
        let m = try InferenceModel(bytes: model(g, opsets: opsets))
        var feeds: [String: Tensor] = [:]
        for (i, t) in inputs.enumerated() { if let t { feeds["x\(i)"] = t } }
        return try m.run(feeds, threads: threads).outputs.map(\.tensor)
    }
}
