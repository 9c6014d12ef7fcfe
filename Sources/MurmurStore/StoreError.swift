import MurmurCore

/// Why a store operation failed. Each case says what was being done.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An SQLite call failed: `operation` names the call and the statement (e.g.
    /// `step INSERT OR IGNORE INTO records …`), `code` is SQLite's extended result code.
    case sqlite(operation: String, code: Int32, message: String)
    /// The database was written by a newer Murmur (schema version above what this build knows).
    case schemaTooNew(found: Int, supported: Int)
    /// The store was used after `close()`.
    case closed
    /// A file system call failed (`call` names it: open, pwrite, fsync, rename, …).
    case file(call: String, path: String, errno: Int32)
    /// A model chunk does not hash to the manifest's chunk hash: refused, nothing written.
    case chunkHashMismatch(index: Int, expected: Hash, actual: Hash)
    /// A chunk index outside the manifest, or a chunk of the wrong length.
    case chunkOutOfRange(index: Int, count: Int)
    case chunkWrongLength(index: Int, expected: Int, actual: Int)
    /// A complete model's bytes do not hash to the expected model hash.
    case modelHashMismatch(expected: Hash, actual: Hash)
    /// `finish()` was called while chunks are still missing.
    case modelIncomplete(missing: Int)
    /// A stored value could not be decoded (a damaged row).
    case corruptRow(table: String, detail: String)

    public var description: String {
        switch self {
        case let .sqlite(op, code, message): return "SQLite \(op) failed: \(message) (code \(code))"
        case let .schemaTooNew(found, supported):
            return "state.sqlite has schema version \(found), this murmur supports up to \(supported): upgrade murmur or use another data dir"
        case .closed: return "store is closed"
        case let .file(call, path, errno): return "\(call) \(path) failed: errno \(errno)"
        case let .chunkHashMismatch(i, e, a): return "model chunk \(i) hashes to \(a.short), the manifest says \(e.short): chunk refused"
        case let .chunkOutOfRange(i, n): return "model chunk \(i) out of range (manifest has \(n) chunks)"
        case let .chunkWrongLength(i, e, a): return "model chunk \(i) is \(a) bytes, expected \(e)"
        case let .modelHashMismatch(e, a): return "model bytes hash to \(a.short), expected \(e.short)"
        case let .modelIncomplete(m): return "model incomplete: \(m) chunks missing"
        case let .corruptRow(table, detail): return "damaged row in \(table): \(detail)"
        }
    }
}
