#if canImport(Glibc)
import Glibc
#endif
import MurmurCore
import MurmurWire
import Synchronization

/// Distinct temp names for concurrent atomic writes in one process.
private let tempCounter = Atomic<UInt64>(0)

/// Which chunks of a model file are verified on disk (bit i of byte i/8, least significant first).
public struct ChunkBitmap: Sendable, Equatable {
    public let count: Int
    public private(set) var bytes: [UInt8]

    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
    }

    /// From stored bytes; nil if the length does not fit `count` or unused bits are set.
    public init?(count: Int, bytes: [UInt8]) {
        guard count >= 0, bytes.count == (count + 7) / 8 else { return nil }
        if count % 8 != 0, let last = bytes.last, last >> UInt8(count % 8) != 0 { return nil }
        self.count = count
        self.bytes = bytes
    }

    public subscript(i: Int) -> Bool {
        guard i >= 0 && i < count else { return false }
        return bytes[i >> 3] & (1 << UInt8(i & 7)) != 0
    }

    public mutating func set(_ i: Int, _ value: Bool = true) {
        guard i >= 0 && i < count else { return }
        if value { bytes[i >> 3] |= 1 << UInt8(i & 7) } else { bytes[i >> 3] &= ~(1 << UInt8(i & 7)) }
    }

    public var verifiedCount: Int { bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isComplete: Bool { verifiedCount == count }
    /// Indices still missing, ascending.
    public var missing: [Int] { (0..<count).filter { !self[$0] } }
}

/// Content-addressed model files under `<data dir>/models/`: `models/<hash hex>` only ever holds
/// bytes that hash to its name. Complete files are written to a temporary name, fsynced,
/// renamed into place, and the directory fsynced, so after a crash a model file is either
/// absent or complete. Downloads go to `models/<hash hex>.partial` chunk by chunk, each chunk
/// checked against the manifest's chunk hash *before* it is written.
public struct ModelFiles: Sendable {
    public let directory: String

    /// `directory` is created (mode 0700) if missing.
    public init(directory: String) throws(StoreError) {
        self.directory = directory
        try FileIO.makeDirectory(directory)
    }

    public func path(for hash: Hash) -> String { directory + "/" + hash.hex }
    public func partialPath(for hash: Hash) -> String { path(for: hash) + ".partial" }

    /// Whether the complete file is present.
    public func has(_ hash: Hash) -> Bool { FileIO.exists(path(for: hash)) }

    /// Hashes of the complete files present (names that are 64 hex digits).
    public func list() throws(StoreError) -> [Hash] {
        try FileIO.listDirectory(directory).compactMap { $0.count == 64 ? Hash(hex: $0) : nil }.sorted()
    }

    /// Writes a complete model atomically after checking its hash (e.g. `murmur publish`).
    /// Returns the final path.
    @discardableResult
    public func writeComplete(_ bytes: [UInt8], hash expected: Hash) throws(StoreError) -> String {
        let actual = Hash.of(bytes)
        guard actual == expected else { throw .modelHashMismatch(expected: expected, actual: actual) }
        let final = path(for: expected)
        try Self.writeAtomically(bytes, to: final)
        return final
    }

    /// Writes a file beside the models (e.g. `<hash hex>.manifest`) atomically.
    public func writeSidecar(_ bytes: [UInt8], name: String) throws(StoreError) {
        try Self.writeAtomically(bytes, to: directory + "/" + name)
    }

    /// The one atomic write of the data dir: `<path>.tmp.<pid>.<n>`, `fsync`, `rename` over
    /// `path`, `fsync` of the directory. After a crash the file is absent, or old, or complete.
    /// Any thread (workers write models while the loop runs).
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(StoreError) {
        let temp = path + ".tmp.\(getpid()).\(tempCounter.add(1, ordering: .relaxed).oldValue)"
        let fd = try FileIO.open(temp, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        do throws(StoreError) {
            try FileIO.writeAll(fd, bytes, at: 0, path: temp)
            try FileIO.fsync(fd, path: temp)
        } catch {
            FileIO.close(fd)
            FileIO.unlink(temp)
            throw error
        }
        FileIO.close(fd)
        do throws(StoreError) {
            try FileIO.rename(temp, path)
        } catch {
            FileIO.unlink(temp)
            throw error
        }
        let slash = path.lastIndex(of: "/")
        try FileIO.fsyncDirectory(slash.map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? ".")
    }

    /// Removes temp files a crash left behind (`*.tmp*`; never a complete or partial model).
    @discardableResult
    public func removeLeftovers() -> Int {
        guard let names = try? FileIO.listDirectory(directory) else { return 0 }
        var removed = 0
        for name in names where name.contains(".tmp") {
            FileIO.unlink(directory + "/" + name)
            removed += 1
        }
        return removed
    }

    /// Reads a complete model and checks it against its name.
    public func read(_ hash: Hash) throws(StoreError) -> [UInt8] {
        let p = path(for: hash)
        let bytes = try FileIO.readAll(p)
        let actual = Hash.of(bytes)
        guard actual == hash else { throw .modelHashMismatch(expected: hash, actual: actual) }
        return bytes
    }

    /// Removes a model (complete and partial files).
    public func remove(_ hash: Hash) throws(StoreError) {
        FileIO.unlink(path(for: hash))
        FileIO.unlink(partialPath(for: hash))
        try FileIO.fsyncDirectory(directory)
    }

    /// Opens (creating if needed) the partial file of a download. `claimed` (from the store)
    /// lists chunks believed written; each is re-read and re-hashed, and only those that still
    /// match count, so a crash between writing and recording can never leave a bad chunk
    /// marked verified.
    public func resume(_ manifest: ModelManifest, claimed: ChunkBitmap? = nil) throws(StoreError) -> PartialModelFile {
        let file = try PartialModelFile(path: partialPath(for: manifest.modelHash), finalPath: path(for: manifest.modelHash),
                                        directory: directory, manifest: manifest)
        if let claimed, claimed.count == manifest.chunkHashes.count {
            for i in 0..<claimed.count where claimed[i] { try file.recheck(i) }
        }
        return file
    }
}

/// A model being downloaded: chunks arrive in any order, from any peer, and each is written only
/// after it hashes to the manifest's chunk hash. Not thread-safe: owned by one thread.
public final class PartialModelFile {
    public let manifest: ModelManifest
    public let path: String
    public let finalPath: String
    private let directory: String
    private var fd: Int32
    public private(set) var verified: ChunkBitmap

    init(path: String, finalPath: String, directory: String, manifest: ModelManifest) throws(StoreError) {
        self.manifest = manifest; self.path = path; self.finalPath = finalPath; self.directory = directory
        verified = ChunkBitmap(count: manifest.chunkHashes.count)
        fd = try FileIO.open(path, flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600)
        do throws(StoreError) {
            try FileIO.truncate(fd, size: Int64(clamping: manifest.size), path: path)
        } catch {
            FileIO.close(fd)
            throw error
        }
    }

    deinit { if fd >= 0 { FileIO.close(fd) } }

    /// Expected length of chunk `index` (the last one may be short).
    public func chunkLength(_ index: Int) -> Int {
        let size = Int(clamping: manifest.size), cs = Int(manifest.chunkSize)
        return min(cs, size - index * cs)
    }

    /// Checks `bytes` against the manifest's hash for chunk `index`, then writes it. A chunk
    /// that does not match is refused and nothing is written.
    public func write(chunk index: Int, _ bytes: [UInt8]) throws(StoreError) {
        let n = manifest.chunkHashes.count
        guard index >= 0 && index < n else { throw .chunkOutOfRange(index: index, count: n) }
        let expectedLength = chunkLength(index)
        guard bytes.count == expectedLength else { throw .chunkWrongLength(index: index, expected: expectedLength, actual: bytes.count) }
        let actual = Hash.of(bytes)
        let expected = manifest.chunkHashes[index]
        guard actual == expected else { throw .chunkHashMismatch(index: index, expected: expected, actual: actual) }
        try FileIO.writeAll(fd, bytes, at: Int64(index) * Int64(manifest.chunkSize), path: path)
        verified.set(index)
    }

    /// Re-reads chunk `index` and marks it verified only if it matches.
    func recheck(_ index: Int) throws(StoreError) {
        let length = chunkLength(index)
        let bytes = try FileIO.readExactly(fd, count: length, at: Int64(index) * Int64(manifest.chunkSize), path: path)
        verified.set(index, bytes.map { Hash.of($0) == manifest.chunkHashes[index] } ?? false)
    }

    /// Flushes written chunks to disk; persist `verified` in the store only after this.
    public func sync() throws(StoreError) { try FileIO.fsync(fd, path: path) }

    public var isComplete: Bool { verified.isComplete }

    /// When every chunk is verified: fsync, check the whole file's hash, rename it to
    /// `models/<hash>`, fsync the directory. Returns the final path.
    @discardableResult
    public func finish() throws(StoreError) -> String {
        guard verified.isComplete else { throw .modelIncomplete(missing: verified.count - verified.verifiedCount) }
        try FileIO.fsync(fd, path: path)
        let hasher = Blake2b()
        var offset: Int64 = 0
        let total = Int64(clamping: manifest.size)
        while offset < total {
            let n = Int(min(Int64(1 << 20), total - offset))
            guard let piece = try FileIO.readExactly(fd, count: n, at: offset, path: path) else {
                throw .file(call: "pread (short)", path: path, errno: 0)
            }
            hasher.update(piece)
            offset += Int64(n)
        }
        let actual = hasher.finalize()
        guard actual == manifest.modelHash else { throw .modelHashMismatch(expected: manifest.modelHash, actual: actual) }
        FileIO.close(fd)
        fd = -1
        try FileIO.rename(path, finalPath)
        try FileIO.fsyncDirectory(directory)
        return finalPath
    }
}

/// The few file system calls the store needs, each wrapped once: `EINTR` retried here, any
/// other failure a `StoreError.file` naming the call and the path.
enum FileIO {
    private static func check(_ call: String, _ path: String, _ body: () -> Int32) throws(StoreError) -> Int32 {
        while true {
            let r = body()
            if r >= 0 { return r }
            if errno == EINTR { continue }
            throw .file(call: call, path: path, errno: errno)
        }
    }

    static func open(_ path: String, flags: Int32, mode: mode_t) throws(StoreError) -> Int32 {
        try check("open", path) { Glibc.open(path, flags, mode) }
    }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    static func fsync(_ fd: Int32, path: String) throws(StoreError) {
        _ = try check("fsync", path) { Glibc.fsync(fd) }
    }

    static func truncate(_ fd: Int32, size: Int64, path: String) throws(StoreError) {
        _ = try check("ftruncate", path) { Glibc.ftruncate(fd, off_t(size)) }
    }

    static func rename(_ from: String, _ to: String) throws(StoreError) {
        _ = try check("rename", from + " → " + to) { Glibc.rename(from, to) }
    }

    static func unlink(_ path: String) { _ = Glibc.unlink(path) }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Makes the directory durable after a rename or create inside it.
    static func fsyncDirectory(_ path: String) throws(StoreError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, mode: 0)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    static func makeDirectory(_ path: String) throws(StoreError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            if stat(current, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .file(call: "mkdir (not a directory)", path: current, errno: ENOTDIR) }
                continue
            }
            if mkdir(current, 0o700) != 0 && errno != EEXIST { throw .file(call: "mkdir", path: current, errno: errno) }
        }
    }

    static func listDirectory(_ path: String) throws(StoreError) -> [String] {
        guard let dir = opendir(path) else { throw .file(call: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, path: String) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + Int64(done)))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(call: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    /// Exactly `count` bytes at `offset`, or nil if the file is shorter.
    static func readExactly(_ fd: Int32, count: Int, at offset: Int64, path: String) throws(StoreError) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { buf in
                pread(fd, buf.baseAddress! + done, count - done, off_t(offset + Int64(done)))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(call: "pread", path: path, errno: errno)
            }
            if n == 0 { return nil }
            done += n
        }
        return out
    }

    static func readAll(_ path: String) throws(StoreError) -> [UInt8] {
        let fd = try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .file(call: "fstat", path: path, errno: errno) }
        guard let bytes = try readExactly(fd, count: Int(st.st_size), at: 0, path: path) else {
            throw .file(call: "pread (short)", path: path, errno: 0)
        }
        return bytes
    }
}
