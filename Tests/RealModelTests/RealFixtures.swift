import Foundation
import MurmurCore
@testable import MurmurInference

/// Reads Tests/Fixtures/real/cases.json and its TensorProto files, and the golden hash file.
enum RealFixtures {
    struct InputSpec: Codable {
        let file: String
        /// When present, the stored uint8 image becomes float32: `Float(u8) * scale[c] + offset[c]`
        /// (channel = axis 1), as two rounded float32 operations, exactly as make_refs.py did.
        let scale: [Float]?
        let offset: [Float]?
    }
    struct Call: Codable {
        let inputs: [String: InputSpec]
        let outputs: [String: String]
    }
    struct Case: Codable {
        let name: String
        let model: String
        let note: String
        /// Output name -> input name of the next call (recurrent state).
        let carry: [String: String]
        let calls: [Call]
    }
    struct File: Codable {
        let cases: [Case]
    }
    struct Golden: Codable {
        let model_hash: String
        let output_hashes: [String]
    }

    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let fixtureDir = repoRoot + "/Tests/Fixtures/real"
    static let goldenPath = repoRoot + "/Specs/vectors/inference/real-models.json"

    static var cacheDir: String {
        if let c = ProcessInfo.processInfo.environment["MURMUR_MODEL_CACHE"], !c.isEmpty { return c }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/murmur/real-models"
    }
    static func modelPath(_ model: String) -> String { "\(cacheDir)/models/\(model).onnx" }

    static func shared() throws -> File {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtureDir + "/cases.json"))
        return try JSONDecoder().decode(File.self, from: data)
    }

    static func tensor(_ file: String) throws -> Tensor {
        let bytes = try FileBytes.read(fixtureDir + "/" + file, limit: 1 << 26)
        return try Tensor(proto: TensorProto(bytes: bytes))
    }

    static func input(_ spec: InputSpec) throws -> Tensor {
        let t = try tensor(spec.file)
        guard let scale = spec.scale, let offset = spec.offset else { return t }
        guard case let .uint8(pixels) = t.storage, t.rank == 4, t.shape[1] == scale.count, scale.count == offset.count else {
            throw FixtureError.badAffine(spec.file)
        }
        let plane = t.shape[2] * t.shape[3]
        var out = [Float](repeating: 0, count: pixels.count)
        for i in 0..<pixels.count {
            let c = (i / plane) % scale.count
            let scaled = Float(pixels[i]) * scale[c]
            out[i] = scaled + offset[c]
        }
        return Tensor(shape: t.shape, floats: out)
    }

    /// Largest absolute and relative (to |want|, floored at 1e-6) difference, for the report.
    static func errors(_ got: Tensor, _ want: Tensor) -> (Double, Double) {
        guard got.dtype.isFloatingPoint, got.shape == want.shape else { return (0, 0) }
        let g = got.doubleValues(), w = want.doubleValues()
        var a = 0.0, r = 0.0
        for i in 0..<g.count where !(g[i].isNaN && w[i].isNaN) {
            let d = abs(g[i] - w[i])
            a = max(a, d); r = max(r, d / max(abs(w[i]), 1e-6))
        }
        return (a, r)
    }

    static func golden() throws -> [String: Golden] {
        guard let data = FileManager.default.contents(atPath: goldenPath) else { return [:] }
        return try JSONDecoder().decode([String: [String: Golden]].self, from: data)["cases"] ?? [:]
    }

    private static let lock = NSLock()
    static func recordGolden(_ name: String, modelHash: String, outputHashes: [String]) throws {
        lock.lock(); defer { lock.unlock() }
        var all = try golden()
        all[name] = Golden(model_hash: modelHash, output_hashes: outputHashes)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(["cases": all]).write(to: URL(fileURLWithPath: goldenPath))
    }

    enum FixtureError: Error { case badAffine(String) }
}
