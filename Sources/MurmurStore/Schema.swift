import MurmurCore
import MurmurWire

/// The versioned schema of `state.sqlite` (Specs/store.md). Migrations run in order on open,
/// each in its own transaction together with the `schema_version` update, so a crash during a
/// migration leaves the previous version intact. Never edit a shipped migration: add one.
/// Small-row tables are `WITHOUT ROWID` (one B-tree keyed by the hash); tables holding record
/// bytes or blobs keep a rowid, as SQLite advises for rows larger than ~1/20 of a page.
enum Schema {
    struct Migration: Sendable {
        let version: Int
        let apply: @Sendable (SQLiteConnection) throws(StoreError) -> Void
    }

    static var latest: Int { migrations.last?.version ?? 0 }

    static let migrations: [Migration] = [
        Migration(version: 1) { db throws(StoreError) in
            try db.execute("""
            CREATE TABLE records (
                id BLOB PRIMARY KEY NOT NULL,       -- BLAKE2b-256 of bytes
                kind INTEGER NOT NULL,              -- RecordKind raw value
                author BLOB NOT NULL,
                issued_at INTEGER NOT NULL,         -- Unix ms
                expires_at INTEGER NOT NULL,        -- Unix ms
                bytes BLOB NOT NULL                 -- the complete signed record
            );                                      -- rowid table: rows up to 256 KiB
            CREATE INDEX records_by_kind ON records(kind, issued_at);
            CREATE INDEX records_by_expiry ON records(expires_at);
            CREATE TABLE jobs (
                id BLOB PRIMARY KEY NOT NULL,
                state TEXT NOT NULL,                -- pending running disputed verified failed
                reason TEXT,                        -- failure reason in words (failed)
                failure TEXT,                       -- failure details, the API's JSON (failed)
                updated_at INTEGER NOT NULL,        -- Unix ms
                output_hash BLOB,
                result BLOB                         -- StoredJob.encodeResult
            ) WITHOUT ROWID;
            CREATE INDEX jobs_by_state ON jobs(state, updated_at);
            CREATE TABLE peers (
                node_id BLOB PRIMARY KEY NOT NULL,
                address TEXT NOT NULL,
                last_seen INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE exclusions (
                node_id BLOB PRIMARY KEY NOT NULL,
                evidence BLOB NOT NULL,             -- id of the record that proves it
                excluded_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE model_files (
                hash BLOB PRIMARY KEY NOT NULL,
                size INTEGER NOT NULL,
                chunk_size INTEGER NOT NULL,
                chunk_count INTEGER NOT NULL,
                verified BLOB NOT NULL,             -- ChunkBitmap bytes
                complete INTEGER NOT NULL
            ) WITHOUT ROWID;
            """)
        },
        // v2: claims/attestations/verdicts findable by job (derived from records, no copy),
        // and content-addressed blobs for job inputs/outputs too large to travel inline.
        Migration(version: 2) { db throws(StoreError) in
            try db.execute("""
            ALTER TABLE records ADD COLUMN job_id BLOB;
            CREATE INDEX records_by_job ON records(job_id) WHERE job_id IS NOT NULL;
            CREATE TABLE blobs (
                hash BLOB PRIMARY KEY NOT NULL,
                bytes BLOB NOT NULL,
                expires_at INTEGER NOT NULL
            );                                      -- rowid table: blobs up to 16 MiB
            CREATE INDEX blobs_by_expiry ON blobs(expires_at);
            """)
            // Backfill job_id from the stored record bytes.
            let rows = try db.run("SELECT id, bytes FROM records WHERE kind IN (4, 5, 6)")
            for row in rows {
                guard let id = row.blob(0), let bytes = row.blob(1),
                      let envelope = try? SignedRecord(decoding: bytes), let record = try? Record(envelope) else { continue }
                if let job = StoredRecord.jobID(of: record) {
                    try db.run("UPDATE records SET job_id = ? WHERE id = ?", [.blob(job.bytes), .blob(id)])
                }
            }
        },
        // v3: no index on records.job_id nor on (kind, issued_at). Nothing on a node's paths
        // looks records up by job or by kind (the node replays everything unexpired, sorted
        // once on start; the sweep finds job rows by record id). Every index costs each
        // record one more B-tree insert and each commit its dirty pages: the job_id index, a
        // random 32-byte key, ≈ 1.5 of the ≈ 11 WAL pages a job cost each node.
        // `records(forJob:)` and `records(kind:)` scan instead.
        //
        // And `jobs` becomes a log in write order (rowid `seq`), the newest row per job id
        // being its state: keyed by the random job id it cost each node one more randomly
        // placed page per job and commit (and its state index one more). Only restarts read
        // it (every final state at once), and the sweep prunes superseded rows.
        Migration(version: 3) { db throws(StoreError) in
            try db.execute("""
            DROP INDEX IF EXISTS records_by_job;
            DROP INDEX IF EXISTS records_by_kind;
            CREATE TABLE jobs_log (
                seq INTEGER PRIMARY KEY,            -- write order; the newest row per id counts
                id BLOB NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                failure TEXT,
                updated_at INTEGER NOT NULL,
                output_hash BLOB,
                result BLOB
            );
            INSERT INTO jobs_log (id, state, reason, failure, updated_at, output_hash, result)
                SELECT id, state, reason, failure, updated_at, output_hash, result FROM jobs ORDER BY updated_at, id;
            DROP TABLE jobs;
            ALTER TABLE jobs_log RENAME TO jobs;
            """)
        },
    ]

    static func currentVersion(_ db: SQLiteConnection) throws(StoreError) -> Int {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        let rows = try db.run("SELECT version FROM schema_version")
        return rows.first?.int(0).map(Int.init) ?? 0
    }

    /// Brings the database to `target` (default: latest). Refuses a database newer than this build.
    static func migrate(_ db: SQLiteConnection, to target: Int = latest) throws(StoreError) {
        let found = try currentVersion(db)
        if found > latest { throw .schemaTooNew(found: found, supported: latest) }
        for m in migrations where m.version > found && m.version <= target {
            try db.execute("BEGIN IMMEDIATE")
            do throws(StoreError) {
                try m.apply(db)
                try db.run("DELETE FROM schema_version")
                try db.run("INSERT INTO schema_version (version) VALUES (?)", [.int(Int64(m.version))])
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }
}
