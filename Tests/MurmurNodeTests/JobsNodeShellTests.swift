import XCTest
import Foundation
import Synchronization
import MurmurCore
import MurmurCrypto
import MurmurInference
import MurmurWire
@testable import MurmurNode
#if canImport(Glibc)
import Glibc
#endif

/// The node-side pieces of jobs and models that need no processes: the content-addressed model
/// store, canonical job inputs, output decoding, and the bounded work queue.
final class JobsNodeShellTests: XCTestCase {
    static let fixtures: String = {
        var path = "\(#filePath)"
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path + "/Tests/Fixtures/models"
    }()

    func tempDir() throws -> String {
        var template = Array("/tmp/murmur-store-XXXXXX".utf8CString)
        let path = String(cString: try XCTUnwrap(mkdtemp(&template)))
        addTeardownBlock { _ = try? ChildProcess(executable: "/bin/rm", arguments: ["-rf", path]).reap(blocking: true) }
        return path
    }

    func testStoredModelSurvivesARestartAndACorruptFileIsNotHeld() throws {
        let dir = try tempDir()
        let bytes = try ModelStore.readFile(Self.fixtures + "/mlp.onnx", limit: 1 << 20)
        let model = try ModelStore.load(bytes)
        let key = SigningKey()
        let manifest = ModelManifest.describing(bytes, model: model, name: "mlp", chunkSize: 4096)
        XCTAssertEqual(manifest.chunkHashes.count, (bytes.count + 4095) / 4096)
        XCTAssertEqual(manifest.inputs.map(\.name), model.inputs.map(\.name))
        let signed = try Signed<ModelManifest>(try SignedRecord.sign(manifest, by: key, issuedAt: 1_000, expiresAt: 2_000))

        let store = try ModelStore(dataDirectory: dir)
        try store.add(bytes: bytes, manifest: signed)
        XCTAssertEqual(store.resolve("mlp")?.body.modelHash, manifest.modelHash)
        XCTAssertEqual(store.resolve(manifest.modelHash.hex)?.body.name, "mlp")
        XCTAssertNil(store.resolve("nope"))

        let reopened = try ModelStore(dataDirectory: dir)
        XCTAssertEqual(reopened.scan(), [manifest.modelHash])
        // No temp files are left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/models").filter { $0.contains(".tmp") }
        XCTAssertEqual(leftovers, [])

        // A file whose bytes no longer match its hash is not held after a restart.
        var corrupt = bytes
        corrupt[corrupt.count / 2] ^= 1
        try ModelStore.writeFile(store.path(of: manifest.modelHash), corrupt)
        XCTAssertEqual(try ModelStore(dataDirectory: dir).scan(), [])

        // A hash mismatch is refused.
        XCTAssertThrowsError(try store.add(bytes: corrupt, manifest: signed))
        // Bytes the engine cannot load are refused with the reason.
        XCTAssertThrowsError(try ModelStore.load(Array("not a model".utf8))) { error in
            XCTAssertTrue("\(error)".contains("cannot run"), "\(error)")
        }
    }

    func testCanonicalInputIsIndependentOfTheJSONSpelling() throws {
        let a = try InputJSON.parse(Array(#"{"y": [[1, 2]], "x": {"shape": [2], "dtype": "float32", "data": [0.5, 1e-3]}}"#.utf8), for: [])
        let b = try InputJSON.parse(Array(#"{"x": {"data": [0.50, 0.001], "dtype": "float32", "shape": [2]}, "y": [[1.0, 2.0]]}"#.utf8), for: [])
        let ca = JobRoutes.canonicalInput(a), cb = JobRoutes.canonicalInput(b)
        XCTAssertEqual(ca, cb)
        // The canonical bytes read back to the same tensors.
        XCTAssertEqual(try InputJSON.parse(ca, for: []), a)
    }

    func testOutputBytesDecodeToTheAPIsJSON() throws {
        let bytes = try ModelStore.readFile(Self.fixtures + "/mlp.onnx", limit: 1 << 20)
        let model = try ModelStore.load(bytes)
        let input = try ModelStore.readFile(Self.fixtures + "/mlp.input.json", limit: 1 << 20)
        let result = try model.run(try InputJSON.parse(input, for: model.inputs))
        let encoded = OutputHash.encode(result.outputs)
        let json = try XCTUnwrap(OutputDecoding.json(encoded))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String: Any]])
        XCTAssertEqual(Set(object.keys), Set(result.outputs.map(\.name)))
        for o in result.outputs {
            XCTAssertEqual(object[o.name]?["shape"] as? [Int], o.tensor.shape)
        }
        XCTAssertNil(OutputDecoding.json(Array(encoded.dropLast())))
        XCTAssertNil(OutputDecoding.json([1, 2, 3]))
    }

    final class Gate: Sendable {
        let open = Atomic<Bool>(false)
    }

    func testWorkQueueIsBoundedAndRunsEverythingItAccepts() {
        let queue = WorkQueue(threads: 2, capacity: 4)
        let gate = Gate()
        let done = LoopChannel<Int>(capacity: 64)
        var accepted = 0
        for i in 0..<20 {
            if queue.submit({
                // Hold the two workers until the test has filled the queue.
                while !gate.open.load(ordering: .acquiring) { usleep(1000) }
                _ = done.send(i)
            }) { accepted += 1 }
        }
        XCTAssertLessThanOrEqual(accepted, 6, "2 running + 4 queued at most")
        XCTAssertGreaterThanOrEqual(accepted, 4)
        gate.open.store(true, ordering: .releasing)
        let deadline = Posix.monotonicNanoseconds() + 10_000_000_000
        var results: [Int] = []
        while results.count < accepted && Posix.monotonicNanoseconds() < deadline {
            results += done.takeAll()
            usleep(1000)
        }
        XCTAssertEqual(results.count, accepted)
        queue.stop()
    }
}
