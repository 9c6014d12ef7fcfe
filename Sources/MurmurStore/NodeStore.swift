import MurmurCore
import MurmurWire

/// A job's state as persisted (the node maps `MurmurJobs.JobState` to and from it: the store
/// does not depend on the jobs module). The verified result's attestations are records in the
/// `records` table; here only their ids are kept, in the state machine's order.
public struct StoredJob: Sendable, Equatable {
    public var id: Hash
    /// API name: `pending`, `running`, `disputed`, `verified`, `failed`.
    public var state: String
    /// Failure reason (for `failed`), in words.
    public var reason: String?
    /// Failure details (for `failed`) as the API's JSON text, e.g. `{"code":"no_executors"}`.
    public var failure: String?
    public var updatedAt: Int64
    public var outputHash: Hash?
    public var disputed: Bool
    public var attestationIDs: [Hash]

    public init(id: Hash, state: String, reason: String? = nil, failure: String? = nil, updatedAt: Int64, outputHash: Hash? = nil,
                disputed: Bool = false, attestationIDs: [Hash] = []) {
        self.id = id; self.state = state; self.reason = reason; self.failure = failure; self.updatedAt = updatedAt
        self.outputHash = outputHash; self.disputed = disputed; self.attestationIDs = attestationIDs
    }

    /// `result` column: u8 disputed, u16 count, count × 32-byte attestation ids.
    func encodeResult() -> [UInt8] {
        var w = ByteWriter()
        w.bool(disputed)
        w.u16(UInt16(min(attestationIDs.count, Int(UInt16.max))))
        for id in attestationIDs.prefix(Int(UInt16.max)) { w.hash(id) }
        return w.bytes
    }

    static func decodeResult(_ bytes: [UInt8]) throws(DecodeError) -> (disputed: Bool, ids: [Hash]) {
        var r = ByteReader(bytes)
        let disputed = try r.bool()
        let n = try r.count16(field: "attestation ids", max: Int(UInt16.max))
        var ids: [Hash] = []
        ids.reserveCapacity(n)
        for _ in 0..<n { ids.append(try r.hash()) }
        try r.expectEnd("job result")
        return (disputed, ids)
    }
}

/// A known peer address.
public struct StoredPeer: Sendable, Equatable {
    public var node: NodeID
    public var address: String
    public var lastSeen: Int64
    public init(node: NodeID, address: String, lastSeen: Int64) { self.node = node; self.address = address; self.lastSeen = lastSeen }
}

/// A node this node excluded from ranking, and the record that proves why (local reputation).
public struct StoredExclusion: Sendable, Equatable {
    public var node: NodeID
    public var evidence: Hash
    public var excludedAt: Int64
    public init(node: NodeID, evidence: Hash, excludedAt: Int64) { self.node = node; self.evidence = evidence; self.excludedAt = excludedAt }
}

/// Progress of a model file: which chunks are verified on disk.
public struct StoredModelFile: Sendable, Equatable {
    public var hash: Hash
    public var size: UInt64
    public var chunkSize: Int
    public var verified: ChunkBitmap
    public var complete: Bool
    public init(hash: Hash, size: UInt64, chunkSize: Int, verified: ChunkBitmap, complete: Bool) {
        self.hash = hash; self.size = size; self.chunkSize = chunkSize; self.verified = verified; self.complete = complete
    }
}

/// Helpers about what a record is stored under.
enum StoredRecord {
    /// The job a claim, attestation or verdict is about.
    static func jobID(of record: Record) -> Hash? {
        switch record {
        case let .claim(c): return c.body.jobID
        case let .attestation(a): return a.body.jobID
        case let .verdict(v): return v.body.jobID
        default: return nil
        }
    }
}

/// The node's durable state in `state.sqlite` (Specs/store.md): signed records, job states,
/// peers, exclusions, model file progress, input/output blobs.
///
/// One writer, used from the event loop thread (not `Sendable`). Writes (`enqueue…`) run at once
/// inside an open transaction, so reads on this store see them; they become durable when the
/// batch commits: `commitIfDue(now:)` (call it every loop turn) commits once the batch is
/// `maxBatchDelay` old or holds `maxBatchOperations` writes; `commit()` commits now (call it
/// before acknowledging anything a client must not lose, e.g. before `202 Accepted`). A
/// process killed with `kill -9` loses at most the uncommitted batch, never a committed one,
/// and never leaves the database inconsistent.
///
/// Claims, attestations and verdicts are not copied into tables of their own: they *are*
/// records (signed bytes), stored once in `records` with their `job_id` indexed. The jobs state
/// machine rebuilds claims, leases and attestation counts from them on start, so there is one
/// source of truth and no second copy to keep consistent.
public final class NodeStore {
    public struct Config: Sendable {
        /// Longest a write waits for its batch to commit.
        public var maxBatchDelay: TimeSpan
        /// Writes per batch before it commits regardless of age.
        public var maxBatchOperations: Int
        public init(maxBatchDelay: TimeSpan = .milliseconds(Int64(100)), maxBatchOperations: Int = 512) {
            self.maxBatchDelay = maxBatchDelay; self.maxBatchOperations = maxBatchOperations
        }
    }

    public let path: String
    public let config: Config
    private let db: SQLiteConnection
    /// Writes in the open (uncommitted) transaction.
    public private(set) var pendingOperations = 0
    private var batchOpenedAt: Instant?
    /// Batches committed since open (metrics).
    public private(set) var commits = 0

    /// The schema version this build writes.
    public static var schemaVersion: Int { Schema.latest }

    /// Opens (creating if needed) and migrates the database at `path`.
    public convenience init(path: String, config: Config = Config()) throws(StoreError) {
        try self.init(path: path, config: config, schemaTarget: Schema.latest)
    }

    /// Tests: open and migrate only up to `schemaTarget` (to build an old database).
    init(path: String, config: Config, schemaTarget: Int) throws(StoreError) {
        self.path = path
        self.config = config
        db = try SQLiteConnection(path: path)
        // WAL: readers never block the writer and a commit appends to the log instead of
        // rewriting pages, so a kill -9 mid-write leaves the last committed state intact.
        // synchronous=NORMAL: in WAL mode a commit is not fsynced; the WAL is fsynced at each
        // checkpoint. A *process* crash (kill -9) cannot lose a commit (the bytes are in the OS
        // page cache once COMMIT returns); only a power loss or kernel crash can roll back the
        // last commits, and never corrupt the database. That is the right trade for a node:
        // everything it stores is re-fetchable from the mesh, and FULL would cost one fsync per
        // batch on the event loop thread.
        let mode = try db.run("PRAGMA journal_mode=WAL")
        guard mode.first?.text(0)?.lowercased() == "wal" else {
            throw .sqlite(operation: "PRAGMA journal_mode=WAL", code: 0, message: "got \(mode.first?.text(0) ?? "nothing")")
        }
        try db.execute("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;")
        // Checkpoints (WAL → database, with two fsyncs) every 4000 pages instead of 1000: a page
        // rewritten by many batches (index leaves) is copied once per checkpoint. The WAL file
        // then grows to ≈ 16 MiB. A page cache of 8 MiB (default 2) keeps the indexes' hot
        // leaves in memory on a node holding tens of thousands of records.
        try db.execute("PRAGMA wal_autocheckpoint=4000; PRAGMA cache_size=-8192;")
        try Schema.migrate(db, to: schemaTarget)
    }

    deinit { close() }

    /// Commits what is pending and closes. Further calls throw `.closed`.
    public func close() {
        if db.inTransaction { try? db.execute("COMMIT") }
        // Fold the WAL back into the database so the next start reads one file.
        try? db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pendingOperations = 0
        batchOpenedAt = nil
        db.close()
    }

    /// The version of the opened database (after migrations).
    public func storedSchemaVersion() throws(StoreError) -> Int { try Schema.currentVersion(db) }

    // MARK: Batching

    private func write(_ sql: String, _ parameters: [SQLiteValue]) throws(StoreError) {
        if !db.inTransaction { try db.execute("BEGIN IMMEDIATE") }
        try db.run(sql, parameters)
        pendingOperations += 1
    }

    /// Commits the open batch if it is old enough or large enough. Returns whether it committed.
    @discardableResult
    public func commitIfDue(now: Instant) throws(StoreError) -> Bool {
        guard pendingOperations > 0 else { batchOpenedAt = nil; return false }
        guard let opened = batchOpenedAt else {
            batchOpenedAt = now
            if pendingOperations >= config.maxBatchOperations { try commit(); return true }
            return false
        }
        if pendingOperations >= config.maxBatchOperations || now - opened >= config.maxBatchDelay {
            try commit()
            return true
        }
        return false
    }

    /// When the loop should wake up to commit (nil: nothing pending). Use as an epoll timeout bound.
    public func nextCommitDue(now: Instant) -> Instant? {
        guard pendingOperations > 0 else { return nil }
        return (batchOpenedAt ?? now) + config.maxBatchDelay
    }

    /// Commits the open batch now (no-op when nothing is pending).
    public func commit() throws(StoreError) {
        batchOpenedAt = nil
        guard db.inTransaction else { pendingOperations = 0; return }
        try db.execute("COMMIT")
        pendingOperations = 0
        commits += 1
    }

    // MARK: Writes (durable after the batch commits)

    /// Stores a validated record (idempotent: a record already stored is ignored).
    public func enqueue(record: Record) throws(StoreError) {
        let e = record.envelope
        let job: SQLiteValue = StoredRecord.jobID(of: record).map { .blob($0.bytes) } ?? .null
        try write("INSERT OR IGNORE INTO records (id, kind, author, issued_at, expires_at, job_id, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [.blob(e.id.bytes), .int(Int64(e.kind.rawValue)), .blob(e.author.bytes), .int(e.issuedAt), .int(e.expiresAt), job, .blob(e.encoded)])
    }

    /// Removes a record (e.g. an announcement superseded by a higher sequence).
    public func enqueueDelete(record id: Hash) throws(StoreError) {
        try write("DELETE FROM records WHERE id = ?", [.blob(id.bytes)])
    }

    /// A job's state: appended to the `jobs` log (schema v3); the newest row per job counts.
    public func enqueue(job: StoredJob) throws(StoreError) {
        try write("""
            INSERT INTO jobs (id, state, reason, failure, updated_at, output_hash, result) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.blob(job.id.bytes), .text(job.state), job.reason.map { .text($0) } ?? .null, job.failure.map { .text($0) } ?? .null, .int(job.updatedAt),
                  job.outputHash.map { .blob($0.bytes) } ?? .null, .blob(job.encodeResult())])
    }

    public func enqueue(peer: StoredPeer) throws(StoreError) {
        try write("""
            INSERT INTO peers (node_id, address, last_seen) VALUES (?, ?, ?)
            ON CONFLICT(node_id) DO UPDATE SET address = excluded.address, last_seen = MAX(last_seen, excluded.last_seen)
            """, [.blob(peer.node.bytes), .text(peer.address), .int(peer.lastSeen)])
    }

    public func enqueueDelete(peer node: NodeID) throws(StoreError) {
        try write("DELETE FROM peers WHERE node_id = ?", [.blob(node.bytes)])
    }

    /// Exclusion is permanent: the first evidence is kept.
    public func enqueue(exclusion: StoredExclusion) throws(StoreError) {
        try write("INSERT OR IGNORE INTO exclusions (node_id, evidence, excluded_at) VALUES (?, ?, ?)",
                  [.blob(exclusion.node.bytes), .blob(exclusion.evidence.bytes), .int(exclusion.excludedAt)])
    }

    /// Records model download progress. Persist only chunks already fsynced
    /// (`PartialModelFile.sync()`); `ModelFiles.resume` re-verifies them anyway.
    public func enqueue(modelFile m: StoredModelFile) throws(StoreError) {
        try write("""
            INSERT INTO model_files (hash, size, chunk_size, chunk_count, verified, complete) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(hash) DO UPDATE SET verified = excluded.verified, complete = excluded.complete
            """, [.blob(m.hash.bytes), .int(Int64(clamping: m.size)), .int(Int64(m.chunkSize)), .int(Int64(m.verified.count)),
                  .blob(m.verified.bytes), .int(m.complete ? 1 : 0)])
    }

    public func enqueueDelete(modelFile hash: Hash) throws(StoreError) {
        try write("DELETE FROM model_files WHERE hash = ?", [.blob(hash.bytes)])
    }

    /// Stores a content-addressed blob (job input or output) until `expiresAt` (Unix ms).
    @discardableResult
    public func enqueue(blob bytes: [UInt8], expiresAt: Int64) throws(StoreError) -> Hash {
        let hash = Hash.of(bytes)
        try write("""
            INSERT INTO blobs (hash, bytes, expires_at) VALUES (?, ?, ?)
            ON CONFLICT(hash) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)
            """, [.blob(hash.bytes), .blob(bytes), .int(expiresAt)])
        return hash
    }

    /// Deletes every record and blob expired at `nowUnixMs` (part of the open batch), and jobs
    /// whose record is gone. Returns how many records were deleted.
    @discardableResult
    public func sweepExpired(nowUnixMs: Int64) throws(StoreError) -> Int {
        try write("DELETE FROM records WHERE expires_at <= ?", [.int(nowUnixMs)])
        let deleted = db.changes
        try write("DELETE FROM blobs WHERE expires_at <= ?", [.int(nowUnixMs)])
        // A job row goes with its job record (found by id: the record id index).
        try write("DELETE FROM jobs WHERE NOT EXISTS (SELECT 1 FROM records WHERE records.id = jobs.id AND records.kind = 3)", [])
        // States superseded by a newer row of the same job.
        try write("DELETE FROM jobs WHERE seq NOT IN (SELECT MAX(seq) FROM jobs GROUP BY id)", [])
        return deleted
    }

    // MARK: Reads (see uncommitted writes of this store)

    public func record(id: Hash) throws(StoreError) -> SignedRecord? {
        try db.run("SELECT bytes FROM records WHERE id = ?", [.blob(id.bytes)]).first.flatMap { row throws(StoreError) in
            try decodeRecord(row.blob(0))
        }
    }

    /// Records of one kind, oldest first, at most `limit`. A scan (no index by kind since
    /// schema v3: only tests and tools ask).
    public func records(kind: RecordKind, limit: Int = Int.max) throws(StoreError) -> [SignedRecord] {
        try decodeRecords(db.run("SELECT bytes FROM records WHERE kind = ? ORDER BY issued_at, id LIMIT ?",
                                 [.int(Int64(kind.rawValue)), .int(Int64(clamping: limit))]))
    }

    /// Claims, attestations and verdicts about a job, oldest first. A scan (`job_id` is not
    /// indexed since schema v3: only tests and tools ask by job).
    public func records(forJob job: Hash) throws(StoreError) -> [SignedRecord] {
        try decodeRecords(db.run("SELECT bytes FROM records WHERE job_id = ? ORDER BY issued_at, id", [.blob(job.bytes)]))
    }

    /// Every record unexpired at `nowUnixMs`, in replay order: manifests, announcements, jobs,
    /// then claims, attestations, verdicts (each by issue time), for rebuilding state on start.
    public func unexpiredRecords(nowUnixMs: Int64) throws(StoreError) -> [SignedRecord] {
        try decodeRecords(db.run("SELECT bytes FROM records WHERE expires_at > ? ORDER BY kind, issued_at, id", [.int(nowUnixMs)]))
    }

    /// `unexpiredRecords` decoded into typed records that pass every rule at `nowUnixMs`
    /// (`Record(validating:nowUnixMs:)`): what the node replays into its state machines on
    /// start. `refused` counts stored records that no longer pass (never expected; traced).
    public func replayRecords(nowUnixMs: Int64) throws(StoreError) -> (records: [Record], refused: Int) {
        var out: [Record] = []
        var refused = 0
        for e in try unexpiredRecords(nowUnixMs: nowUnixMs) {
            if let r = try? Record(validating: e, nowUnixMs: nowUnixMs) { out.append(r) } else { refused += 1 }
        }
        return (out, refused)
    }

    /// Stored records by kind (metrics).
    public func recordCounts() throws(StoreError) -> [RecordKind: Int] {
        var out: [RecordKind: Int] = [:]
        for row in try db.run("SELECT kind, COUNT(*) FROM records GROUP BY kind") {
            if let k = row.int(0).flatMap({ UInt8(exactly: $0) }).flatMap(RecordKind.init(rawValue:)), let n = row.int(1) { out[k] = Int(n) }
        }
        return out
    }

    /// The job's newest stored state. A scan of the `jobs` log (no index by id since schema
    /// v3: the node reads job states only on start, all at once, with `jobs(state:)`).
    public func job(id: Hash) throws(StoreError) -> StoredJob? {
        try db.run("SELECT id, state, reason, updated_at, output_hash, result, failure FROM jobs WHERE id = ? ORDER BY seq DESC LIMIT 1", [.blob(id.bytes)])
            .first.map { row throws(StoreError) in try decodeJob(row) }
    }

    /// The newest row of each job in the `jobs` log.
    private static let newestJobRows = "seq IN (SELECT MAX(seq) FROM jobs GROUP BY id)"

    /// Jobs (their newest state) in a state (`nil`: all), most recently updated first.
    public func jobs(state: String? = nil, limit: Int = Int.max) throws(StoreError) -> [StoredJob] {
        let rows: [SQLiteRow]
        if let state {
            rows = try db.run("SELECT id, state, reason, updated_at, output_hash, result, failure FROM jobs WHERE \(Self.newestJobRows) AND state = ? ORDER BY updated_at DESC, id LIMIT ?",
                              [.text(state), .int(Int64(clamping: limit))])
        } else {
            rows = try db.run("SELECT id, state, reason, updated_at, output_hash, result, failure FROM jobs WHERE \(Self.newestJobRows) ORDER BY updated_at DESC, id LIMIT ?",
                              [.int(Int64(clamping: limit))])
        }
        var out: [StoredJob] = []
        for row in rows { out.append(try decodeJob(row)) }
        return out
    }

    /// Jobs counted by state (metrics).
    public func jobCounts() throws(StoreError) -> [String: Int] {
        var out: [String: Int] = [:]
        for row in try db.run("SELECT state, COUNT(*) FROM jobs WHERE \(Self.newestJobRows) GROUP BY state") {
            if let s = row.text(0), let n = row.int(1) { out[s] = Int(n) }
        }
        return out
    }

    public func peers() throws(StoreError) -> [StoredPeer] {
        try db.run("SELECT node_id, address, last_seen FROM peers ORDER BY last_seen DESC").compactMap { row in
            guard let id = row.blob(0).flatMap({ NodeID(bytes: $0) }), let a = row.text(1), let t = row.int(2) else { return nil }
            return StoredPeer(node: id, address: a, lastSeen: t)
        }
    }

    public func exclusions() throws(StoreError) -> [StoredExclusion] {
        try db.run("SELECT node_id, evidence, excluded_at FROM exclusions ORDER BY excluded_at").compactMap { row in
            guard let id = row.blob(0).flatMap({ NodeID(bytes: $0) }), let e = row.hash(1), let t = row.int(2) else { return nil }
            return StoredExclusion(node: id, evidence: e, excludedAt: t)
        }
    }

    /// The excluded set to pass to `JobsNode(key:config:excluded:)` on start.
    public func excludedNodes() throws(StoreError) -> Set<NodeID> { Set(try exclusions().map(\.node)) }

    public func modelFiles() throws(StoreError) -> [StoredModelFile] {
        var out: [StoredModelFile] = []
        for row in try db.run("SELECT hash, size, chunk_size, chunk_count, verified, complete FROM model_files ORDER BY hash") {
            out.append(try decodeModelFile(row))
        }
        return out
    }

    public func modelFile(hash: Hash) throws(StoreError) -> StoredModelFile? {
        try db.run("SELECT hash, size, chunk_size, chunk_count, verified, complete FROM model_files WHERE hash = ?", [.blob(hash.bytes)])
            .first.map { row throws(StoreError) in try decodeModelFile(row) }
    }

    public func blob(hash: Hash) throws(StoreError) -> [UInt8]? {
        try db.run("SELECT bytes FROM blobs WHERE hash = ?", [.blob(hash.bytes)]).first?.blob(0)
    }

    // MARK: Row decoding (a damaged row is an error, never a trap)

    private func decodeRecord(_ bytes: [UInt8]?) throws(StoreError) -> SignedRecord {
        guard let bytes else { throw .corruptRow(table: "records", detail: "no bytes") }
        do throws(RecordError) {
            return try SignedRecord(decoding: bytes)
        } catch {
            throw .corruptRow(table: "records", detail: "\(error)")
        }
    }

    private func decodeRecords(_ rows: [SQLiteRow]) throws(StoreError) -> [SignedRecord] {
        var out: [SignedRecord] = []
        out.reserveCapacity(rows.count)
        for row in rows { out.append(try decodeRecord(row.blob(0))) }
        return out
    }

    private func decodeJob(_ row: SQLiteRow) throws(StoreError) -> StoredJob {
        guard let id = row.hash(0), let state = row.text(1), let updated = row.int(3) else {
            throw .corruptRow(table: "jobs", detail: "missing column")
        }
        var job = StoredJob(id: id, state: state, reason: row.text(2), failure: row.text(6), updatedAt: updated, outputHash: row.hash(4))
        if let result = row.blob(5) {
            do throws(DecodeError) {
                (job.disputed, job.attestationIDs) = try StoredJob.decodeResult(result)
            } catch {
                throw .corruptRow(table: "jobs", detail: "\(error)")
            }
        }
        return job
    }

    private func decodeModelFile(_ row: SQLiteRow) throws(StoreError) -> StoredModelFile {
        guard let hash = row.hash(0), let size = row.int(1), size >= 0, let chunkSize = row.int(2), chunkSize > 0,
              let count = row.int(3), count >= 0, count <= Int64(Limits.maxManifestChunks),
              let bits = row.blob(4), let complete = row.int(5),
              let bitmap = ChunkBitmap(count: Int(count), bytes: bits) else {
            throw .corruptRow(table: "model_files", detail: "bad column")
        }
        return StoredModelFile(hash: hash, size: UInt64(size), chunkSize: Int(chunkSize), verified: bitmap, complete: complete != 0)
    }
}
