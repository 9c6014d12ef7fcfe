import Foundation
import MurmurCore
@testable import MurmurInference

/// Repository root, found from this file's path.
let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

let fixtures = repoRoot + "/Tests/Fixtures/models"

func readBytes(_ path: String) throws -> [UInt8] { try FileBytes.read(path, limit: 1 << 30) }

/// Loads a fixture model and its input feeds.
func loadFixture(_ name: String) throws -> (InferenceModel, [String: Tensor]) {
    let model = try InferenceModel(path: "\(fixtures)/\(name).onnx")
    let feeds = try InputJSON.parse(readBytes("\(fixtures)/\(name).input.json"), for: model.inputs)
    return (model, feeds)
}

/// Expected outputs in the same JSON form (dtypes from the file).
func loadExpected(_ name: String) throws -> [String: Tensor] {
    try InputJSON.parse(readBytes("\(fixtures)/\(name).expected.json"), for: [])
}

/// Encodes a tiny model with onnx's protobuf layout (for tests that need odd models).
enum ProtoWriter {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }
    static func key(_ field: Int, _ wire: Int) -> [UInt8] { varint(UInt64(field << 3 | wire)) }
    static func bytes(_ field: Int, _ b: [UInt8]) -> [UInt8] { key(field, 2) + varint(UInt64(b.count)) + b }
    static func string(_ field: Int, _ s: String) -> [UInt8] { bytes(field, Array(s.utf8)) }
    static func int(_ field: Int, _ v: Int) -> [UInt8] { key(field, 0) + varint(UInt64(bitPattern: Int64(v))) }

    static func valueInfo(_ name: String, elemType: Int, dims: [Int]) -> [UInt8] {
        let shape = dims.flatMap { bytes(1, int(1, $0)) }
        let tensorType = int(1, elemType) + bytes(2, shape)
        return string(1, name) + bytes(2, bytes(1, tensorType))
    }
    static func node(_ op: String, _ ins: [String], _ outs: [String], domain: String = "", attrs: [[UInt8]] = []) -> [UInt8] {
        ins.flatMap { string(1, $0) } + outs.flatMap { string(2, $0) } + string(4, op) + (domain.isEmpty ? [] : string(7, domain))
            + attrs.flatMap { bytes(5, $0) }
    }
    static func floatTensor(_ name: String, dims: [Int], values: [Float], external: Bool = false) -> [UInt8] {
        var raw: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        return dims.flatMap { int(1, $0) } + int(2, 1) + string(8, name) + bytes(9, raw) + (external ? int(14, 1) : [])
    }
    static func model(nodes: [[UInt8]], inputs: [[UInt8]], outputs: [[UInt8]], initializers: [[UInt8]] = [],
                      opsets: [(String, Int)] = [("", 17)]) -> [UInt8] {
        let graph = nodes.flatMap { bytes(1, $0) } + string(2, "g") + initializers.flatMap { bytes(5, $0) }
            + inputs.flatMap { bytes(11, $0) } + outputs.flatMap { bytes(12, $0) }
        return int(1, 8) + opsets.flatMap { bytes(8, (($0.0.isEmpty ? [] : string(1, $0.0)) + int(2, $0.1))) } + bytes(7, graph)
    }
}
