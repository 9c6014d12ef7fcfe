import MurmurCore
import MurmurWire

/// Where each chunk of a model lies in its file: the geometry both fetcher and server derive
/// from a manifest (Specs/transfer.md, "Chunks").
public struct ModelLayout: Hashable, Sendable {
    public let modelHash: Hash
    public let size: UInt64
    public let chunkSize: Int
    public let chunkCount: Int

    public init(modelHash: Hash, size: UInt64, chunkSize: UInt32) {
        self.modelHash = modelHash
        self.size = size
        self.chunkSize = Int(chunkSize)
        self.chunkCount = ModelManifest.chunkCount(size: size, chunkSize: chunkSize)
    }

    public init(_ manifest: ModelManifest) {
        self.init(modelHash: manifest.modelHash, size: manifest.size, chunkSize: manifest.chunkSize)
    }

    /// Bytes in chunk `index` (every chunk is `chunkSize` long except possibly the last); 0
    /// outside the model.
    public func chunkLength(_ index: Int) -> Int {
        guard index >= 0, index < chunkCount else { return 0 }
        let start = UInt64(index) * UInt64(chunkSize)
        return Int(min(UInt64(chunkSize), size - start))
    }

    /// Offset of chunk `index` in the model file.
    public func fileOffset(_ index: Int) -> UInt64 { UInt64(index) * UInt64(chunkSize) }

    /// True when `offset ..< offset+length` is a non-empty span inside chunk `index`.
    public func contains(chunk index: Int, offset: Int, length: Int) -> Bool {
        let n = chunkLength(index)
        return n > 0 && length > 0 && offset >= 0 && offset <= n - length
    }
}

/// Defaults a publisher uses when it cuts a model into chunks.
public enum TransferDefaults {
    /// 1 MiB: one request, 18 pieces of ≤ 60 KiB; 4096 chunks cover 4 GiB.
    public static let chunkSize = 1024 * 1024

    /// `chunkSize` for models up to 4 GiB; larger models get the smallest power of two that
    /// keeps them within `Limits.maxManifestChunks` chunks (≤ 4 MiB for the 16 GiB maximum).
    public static func chunkSize(forModelSize size: UInt64) -> Int {
        var c = UInt64(chunkSize)
        while size > c * UInt64(Limits.maxManifestChunks) && c < UInt64(Limits.maxModelChunkBytes) { c *= 2 }
        return Int(c)
    }
}

/// The resume rule (Specs/transfer.md, "Resume after a restart"): a chunk of a partial file
/// counts as fetched only if its bytes hash to the manifest's chunk hash.
public enum ResumeScan {
    /// The chunks of a partial file of `fileSize` bytes that match `manifest`. `read(offset,
    /// length)` returns exactly those bytes of the file, or nil (unreadable: not counted). The
    /// shell passes a `pread` wrapper and runs this on a worker (it hashes up to the whole model).
    public static func verifiedChunks(_ manifest: ModelManifest, fileSize: UInt64,
                                      read: (UInt64, Int) -> [UInt8]?) -> Set<Int> {
        let layout = ModelLayout(manifest)
        guard manifest.chunkHashes.count == layout.chunkCount else { return [] }
        var done = Set<Int>()
        for i in 0..<layout.chunkCount {
            let offset = layout.fileOffset(i), length = layout.chunkLength(i)
            guard offset + UInt64(length) <= fileSize, let bytes = read(offset, length), bytes.count == length else { continue }
            if Hash.of(bytes) == manifest.chunkHashes[i] { done.insert(i) }
        }
        return done
    }
}
