import CSQLite
import MurmurCore

/// A value bound to or read from SQLite.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
}

/// One result row. Accessors return nil on NULL or another type (never trap).
public struct SQLiteRow: Sendable, Equatable {
    public var values: [SQLiteValue]

    public func int(_ i: Int) -> Int64? {
        guard i < values.count, case let .int(v) = values[i] else { return nil }
        return v
    }
    public func text(_ i: Int) -> String? {
        guard i < values.count, case let .text(v) = values[i] else { return nil }
        return v
    }
    public func blob(_ i: Int) -> [UInt8]? {
        guard i < values.count else { return nil }
        switch values[i] {
        case let .blob(v): return v
        case .null: return nil
        default: return nil
        }
    }
    public func hash(_ i: Int) -> Hash? { blob(i).flatMap { Bytes32($0) }.map(Hash.init) }
}

/// The thin Swift face over the SQLite C API: one connection, prepared statements cached by
/// SQL text, every failure a `StoreError.sqlite` naming the operation and the statement. No
/// SQLite pointer leaves this file. Not thread-safe by design: the node uses it from its event
/// loop thread only (SQLite itself is built threadsafe; the connection is opened NOMUTEX).
final class SQLiteConnection {
    private var db: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]
    let path: String

    init(path: String) throws(StoreError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close_v2(handle) }
            throw .sqlite(operation: "open \(path)", code: rc, message: message)
        }
        db = handle
        sqlite3_extended_result_codes(handle, 1)
        // Another process holding the file (a second node on the same data dir) makes us wait a
        // little, then fail with SQLITE_BUSY instead of hanging.
        sqlite3_busy_timeout(handle, 2000)
    }

    deinit { close() }

    func close() {
        for (_, stmt) in cache { sqlite3_finalize(stmt) }
        cache.removeAll()
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    private func fail(_ operation: String, _ sql: String, _ rc: Int32) -> StoreError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        return .sqlite(operation: "\(operation) \(Self.abbreviate(sql))", code: rc, message: message)
    }

    static func abbreviate(_ sql: String) -> String {
        let oneLine = sql.split(whereSeparator: { $0 == "\n" || $0 == " " }).joined(separator: " ")
        return oneLine.count > 72 ? String(oneLine.prefix(72)) + "…" : oneLine
    }

    /// Runs one or more statements without parameters (DDL, PRAGMA, BEGIN/COMMIT).
    func execute(_ sql: String) throws(StoreError) {
        guard let db else { throw .closed }
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let message = errmsg.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(errmsg)
            throw .sqlite(operation: "exec \(Self.abbreviate(sql))", code: rc, message: message)
        }
    }

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        guard let db else { throw .closed }
        if let stmt = cache[sql] { return stmt }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw fail("prepare", sql, rc) }
        cache[sql] = stmt
        return stmt
    }

    /// Runs a statement with parameters and returns every row (reads) or none (writes).
    @discardableResult
    func run(_ sql: String, _ parameters: [SQLiteValue] = []) throws(StoreError) -> [SQLiteRow] {
        let stmt = try prepared(sql)
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        for (i, p) in parameters.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch p {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case let .int(v): rc = sqlite3_bind_int64(stmt, index, v)
            case let .double(v): rc = sqlite3_bind_double(stmt, index, v)
            case let .text(v): rc = sqlite3_bind_text(stmt, index, v, -1, Self.transient)
            case let .blob(v):
                rc = v.withUnsafeBytes { buf in
                    // A zero-length blob is still a blob (not NULL): give SQLite a valid pointer.
                    sqlite3_bind_blob64(stmt, index, buf.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(buf.count), Self.transient)
                }
            }
            guard rc == SQLITE_OK else { throw fail("bind", sql, rc) }
        }
        var rows: [SQLiteRow] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw fail("step", sql, rc) }
            let n = sqlite3_column_count(stmt)
            var values: [SQLiteValue] = []
            values.reserveCapacity(Int(n))
            for c in 0..<n {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: values.append(.int(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: values.append(.double(sqlite3_column_double(stmt, c)))
                case SQLITE_TEXT:
                    if let p = sqlite3_column_text(stmt, c) {
                        let len = Int(sqlite3_column_bytes(stmt, c))
                        values.append(.text(String(decoding: UnsafeBufferPointer(start: p, count: len), as: UTF8.self)))
                    } else {
                        values.append(.text(""))
                    }
                case SQLITE_BLOB:
                    let len = Int(sqlite3_column_bytes(stmt, c))
                    if len > 0, let p = sqlite3_column_blob(stmt, c) {
                        values.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: len))))
                    } else {
                        values.append(.blob([]))
                    }
                default: values.append(.null)
                }
            }
            rows.append(SQLiteRow(values: values))
        }
    }

    /// Rows changed by the last INSERT/UPDATE/DELETE.
    var changes: Int { db.map { Int(sqlite3_changes($0)) } ?? 0 }

    var inTransaction: Bool { db.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    /// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
