#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurCrypto
import MurmurInference
import MurmurStore
import MurmurWire

/// The node's models: which are held and known (signed manifests), over the content-addressed
/// files of `MurmurStore.ModelFiles` in the data dir — `models/<hash hex>` (the ONNX bytes,
/// written to a temp name, fsynced, renamed), `models/<hash hex>.partial` (a download, resumed
/// after a restart) and `models/<hash hex>.manifest` (the signed `ModelManifest` record bytes, so
/// a restarted node announces what it holds). One implementation of the file layout: this type
/// adds the catalogue, `ModelFiles` owns paths and atomic writes. Loaded models are cached by
/// `LoadedModels` (`InferenceModel` is immutable and `Sendable`: workers share it).
///
/// Used on the loop thread, except `writeFile`/`readFile`, which are static and meant for workers.
public final class ModelStore {
    public let directory: String
    /// The files (paths, atomic writes, partial downloads).
    public let files: ModelFiles
    /// Manifests of complete, verified models this node holds, by model hash.
    public private(set) var held: [Hash: Signed<ModelManifest>] = [:]
    /// Every manifest seen (held or not), by model hash: the newest per hash.
    public private(set) var known: [Hash: Signed<ModelManifest>] = [:]

    public enum StoreError: Error, CustomStringConvertible {
        case io(String)
        case hashMismatch(expected: Hash, actual: Hash)
        case cannotRun(String)
        public var description: String {
            switch self {
            case .io(let s): return s
            case let .hashMismatch(e, a): return "model bytes hash to \(a.hex), expected \(e.hex)"
            case .cannotRun(let s): return "this node's engine cannot run the model: \(s)"
            }
        }
    }

    public init(dataDirectory: String) throws(StoreError) {
        directory = dataDirectory + "/models"
        do { files = try ModelFiles(directory: directory) } catch { throw .io("cannot create \(directory): \(error)") }
    }

    public func path(of hash: Hash) -> String { files.path(for: hash) }
    /// A download in progress (chunks at their offsets).
    public func partialPath(of hash: Hash) -> String { files.partialPath(for: hash) }

    /// Re-reads the manifests of complete models (startup). Files whose hash does not match are
    /// left alone (not announced).
    public func scan() -> [Hash] {
        files.removeLeftovers() // temp files of writes a crash interrupted
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasSuffix(".manifest") { names.append(String(name.dropLast(9))) }
        }
        var found: [Hash] = []
        for name in names.sorted() {
            guard let bytes = try? Self.readFile(directory + "/" + name + ".manifest", limit: 1 << 24),
                  let record = try? SignedRecord(decoding: bytes),
                  let manifest = try? Signed<ModelManifest>(record),
                  manifest.body.modelHash.hex == name,
                  let model = try? Self.readFile(path(of: manifest.body.modelHash), limit: Int(clamping: manifest.body.size)),
                  Hash.of(model) == manifest.body.modelHash else { continue }
            held[manifest.body.modelHash] = manifest
            known[manifest.body.modelHash] = manifest
            found.append(manifest.body.modelHash)
        }
        return found
    }

    /// Loads the model with this node's engine, refusing one it cannot run.
    public static func load(_ bytes: [UInt8]) throws(StoreError) -> InferenceModel {
        do { return try InferenceModel(bytes: bytes) } catch { throw .cannotRun("\(error)") }
    }

    /// Stores bytes + manifest durably and marks the model held.
    public func add(bytes: [UInt8], manifest: Signed<ModelManifest>) throws(StoreError) {
        let hash = manifest.body.modelHash
        guard Hash.of(bytes) == hash else { throw .hashMismatch(expected: hash, actual: Hash.of(bytes)) }
        do {
            try files.writeComplete(bytes, hash: hash)
            try files.writeSidecar(manifest.envelope.encoded, name: hash.hex + ".manifest")
        } catch { throw .io("\(error)") }
        held[hash] = manifest
        known[hash] = manifest
    }

    /// Marks a model held whose files were written by a worker (`writeFile`).
    public func markHeld(_ manifest: Signed<ModelManifest>) {
        held[manifest.body.modelHash] = manifest
        known[manifest.body.modelHash] = manifest
    }

    /// Records a manifest from gossip (not held).
    public func learn(_ manifest: Signed<ModelManifest>) {
        let hash = manifest.body.modelHash
        if let old = known[hash], old.issuedAt >= manifest.issuedAt { return }
        known[hash] = manifest
    }

    /// A model hash for a 64-hex string, or the newest known manifest with that name.
    public func resolve(_ reference: String) -> Signed<ModelManifest>? {
        if reference.count == 64, let value = Bytes32(hex: reference.lowercased()) {
            return known[Hash(value)]
        }
        return known.values.filter { $0.body.name == reference }.max { $0.issuedAt < $1.issuedAt }
    }

    public var heldHashes: [Hash] { held.keys.sorted { $0.hex < $1.hex } }

    // MARK: files (any thread)

    /// Writes `bytes` to `path` atomically (`ModelFiles.writeAtomically`: temp file, fsync,
    /// rename, fsync of the directory). Any thread.
    public static func writeFile(_ path: String, _ bytes: [UInt8]) throws(StoreError) {
        do { try ModelFiles.writeAtomically(bytes, to: path) } catch { throw .io("\(error)") }
    }

    /// Reads a whole file of at most `limit` bytes.
    public static func readFile(_ path: String, limit: Int) throws(StoreError) -> [UInt8] {
        do { return try FileBytes.read(path, limit: limit) } catch { throw .io("\(error)") }
    }
}

extension ModelManifest {
    /// The manifest `murmur publish` signs for model bytes the engine loaded.
    public static func describing(_ bytes: [UInt8], model: InferenceModel, name: String, chunkSize: Int) -> ModelManifest {
        func spec(_ v: ValueInfo) -> TensorSpec {
            let dims: [Int64] = (v.shape ?? []).map { d in
                if case let .value(n) = d { return Int64(n) }
                return -1
            }
            return TensorSpec(name: v.name, dtype: TensorDType(rawValue: UInt8(clamping: v.elementType)) ?? .float32, shape: dims)
        }
        return ModelManifest(describing: bytes, name: name, modelVersion: "1", chunkSize: chunkSize,
                             inputs: model.inputs.map(spec), outputs: model.outputs.map(spec))
    }
}
