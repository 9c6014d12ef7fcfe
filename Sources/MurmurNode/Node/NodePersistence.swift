#if canImport(Glibc)
import Glibc
#endif
import MurmurAPI
import MurmurCore
import MurmurGossip
import MurmurHTTP
import MurmurJobs
import MurmurStore
import MurmurWire

/// The node's durable state: `<data dir>/state.sqlite` through `NodeStore` (Specs/store.md).
///
/// One writer, on the loop thread. Every record the node accepts (delivered by gossip, or
/// published by this node) is written into the open batch; the batch commits `maxBatchDelay`
/// after its first write (a loop timer), when it reaches `maxBatchOperations`, and on `close()`.
/// A job record this node accepts from a client is committed at once (`persistNow`), before
/// `202 Accepted`. Records gossip forgets (expired, superseded, evicted) are deleted; a sweep
/// every minute deletes what expired meanwhile.
///
/// On start, `open` reads back what must be replayed (`Replay`), and `replay(_:node:jobs:transfer:)`
/// feeds it to the gossip store (anti-entropy serves it again), the jobs state machine (jobs in
/// flight resume; leases and attestation counts rebuild from the claims and attestations) and
/// model transfer (partial downloads resume).
public final class NodePersistence: RecordSink, JobsPersistence {
    public let store: NodeStore
    public let path: String
    /// This node: its own announcements are not a peer to rejoin through.
    public let localNode: NodeID
    private let loop: EventLoop
    private var commitTimer: LoopToken?
    private var sweepTimer: LoopToken?
    private var closed = false
    /// Job records committed by `persistNow` whose local publication has not come yet (it
    /// must not write and commit them a second time).
    private var persistedNow: Set<Hash> = []
    /// Job states changed since the last commit, the newest per job (`jobStateChanged`).
    private var pendingJobStates: [Hash: StoredJob] = [:]
    private static let maxPersistedNow = 1024
    /// True while `replay` re-publishes stored records: they are already stored.
    public private(set) var replaying = false
    /// Warnings (commit failures); the node logs them.
    public var warn: ((String) -> Void)?
    public private(set) var counters = Counters()

    public struct Counters: Sendable, Equatable {
        public var recordsWritten = 0, recordsDeleted = 0, jobStates = 0, jobStatesNotWritten = 0, exclusions = 0
        public var commits = 0, syncCommits = 0, writeFailures = 0, sweptRecords = 0
    }

    /// How often expired records and blobs are swept.
    public static let sweepInterval = TimeSpan.seconds(Int64(60))
    /// Known peers handed to gossip as extra join seeds on start (most recently seen first).
    public static let maxSeedPeers = 8

    /// What a restart brings back, read from the store before the node starts.
    public struct Replay {
        /// Unexpired records that pass every rule now, in replay order (manifests,
        /// announcements, jobs, claims, attestations, verdicts).
        public var records: [Record] = []
        /// Stored records that no longer pass validation (never expected).
        public var refused = 0
        public var excluded: Set<NodeID> = []
        /// Final job states as they were stored (verified with their attestations, or failed).
        public var finalStates: [Hash: JobState] = [:]
        /// Verified outputs stored as blobs, by output hash.
        public var outputs: [Hash: [UInt8]] = [:]
        /// Addresses of known peers, most recently seen first.
        public var peerAddresses: [String] = []
        /// Set when `state.sqlite` was unreadable and moved aside (the node starts fresh).
        public var movedAside: String?
    }

    public enum Failure: Error, CustomStringConvertible {
        case store(path: String, StoreError)
        public var description: String {
            switch self {
            case let .store(path, e):
                if case .sqlite(_, let code, _) = e, code & 0xFF == 5 {
                    return "\(path) is locked: is another murmur node running on this data directory? (\(e))"
                }
                return "cannot use \(path): \(e)"
            }
        }
    }

    init(store: NodeStore, path: String, localNode: NodeID, loop: EventLoop) {
        self.store = store
        self.path = path
        self.localNode = localNode
        self.loop = loop
    }

    /// Opens `<dataDirectory>/state.sqlite` and reads back what to replay. A database that is
    /// not readable as SQLite or damaged (truncated, overwritten) is renamed to
    /// `state.sqlite.corrupt-<unix ms>` (with its `-wal`/`-shm`) and the node starts from an
    /// empty store — everything in it can be fetched from the mesh again; `Replay.movedAside`
    /// says so, for a warning. A database from a newer murmur, or one locked by another
    /// process, is an error: nothing is moved.
    public static func open(dataDirectory: String, localNode: NodeID, loop: EventLoop, config: NodeStore.Config = NodeStore.Config(),
                            nowUnixMs: Int64) throws(Failure) -> (NodePersistence, Replay) {
        let path = dataDirectory + "/state.sqlite"
        do throws(StoreError) {
            let store = try NodeStore(path: path, config: config)
            let persistence = NodePersistence(store: store, path: path, localNode: localNode, loop: loop)
            do throws(StoreError) {
                let replay = try persistence.readReplay(nowUnixMs: nowUnixMs)
                persistence.armSweep()
                return (persistence, replay)
            } catch {
                persistence.closeQuietly()
                throw error
            }
        } catch {
            guard isDamage(error) else { throw .store(path: path, error) }
            let aside = path + ".corrupt-\(nowUnixMs)"
            for suffix in ["", "-wal", "-shm"] { _ = rename(path + suffix, aside + suffix) }
            do throws(StoreError) {
                let store = try NodeStore(path: path, config: config)
                let persistence = NodePersistence(store: store, path: path, localNode: localNode, loop: loop)
                persistence.armSweep()
                var replay = Replay()
                replay.movedAside = "\(path) was unreadable (\(error)); moved it to \(aside) and started with an empty store"
                return (persistence, replay)
            } catch {
                throw .store(path: path, error)
            }
        }
    }

    /// SQLite says the file is not a database or is corrupt, or a row does not decode.
    static func isDamage(_ error: StoreError) -> Bool {
        switch error {
        case let .sqlite(_, code, _): return [11, 26].contains(code & 0xFF) // SQLITE_CORRUPT, SQLITE_NOTADB
        case .corruptRow: return true
        default: return false
        }
    }

    /// Reads what a restart replays (also sweeps what expired while the node was down).
    func readReplay(nowUnixMs: Int64) throws(StoreError) -> Replay {
        var r = Replay()
        r.refused = 0
        let swept = try store.sweepExpired(nowUnixMs: nowUnixMs)
        counters.sweptRecords += swept
        try store.commit()
        (r.records, r.refused) = try store.replayRecords(nowUnixMs: nowUnixMs)
        r.excluded = try store.excludedNodes()
        r.peerAddresses = try store.peers().filter { $0.node != localNode }.prefix(Self.maxSeedPeers).map(\.address)
        for stored in try store.jobs(state: "verified") {
            guard let hash = stored.outputHash else { continue }
            var attestations: [Signed<Attestation>] = []
            for id in stored.attestationIDs {
                if let a = try store.record(id: id).flatMap({ try? Signed<Attestation>($0) }) { attestations.append(a) }
            }
            guard !attestations.isEmpty else { continue }
            r.finalStates[stored.id] = .verified(JobResult(restoring: hash, attestations: attestations, disputed: stored.disputed))
            if let bytes = try store.blob(hash: hash), Hash.of(bytes) == hash { r.outputs[hash] = bytes }
        }
        for stored in try store.jobs(state: "failed") {
            r.finalStates[stored.id] = .failed(Self.failure(stored.failure))
        }
        // Inputs this node offered for jobs still open: the executors may not have fetched them.
        for record in r.records {
            guard case let .job(job) = record, job.body.inlineInput == nil, r.finalStates[job.id] == nil,
                  let bytes = try store.blob(hash: job.body.inputHash), Hash.of(bytes) == job.body.inputHash else { continue }
            r.outputs[job.body.inputHash] = bytes
        }
        return r
    }

    /// The `JobFailure` of a stored failure JSON (`JobView.failureJSON`).
    static func failure(_ text: String?) -> JobFailure {
        guard let text, let json = try? JSONParser.parse(Array(text.utf8)) else { return .seenAfterDeadline }
        func int(_ key: String) -> Int { Int(clamping: json[key]?.intValue ?? 0) }
        switch json["code"]?.stringValue {
        case "no_executors": return .noExecutors
        case "not_enough_attestations": return .notEnoughAttestations(agreeing: int("agreeing"), needed: int("needed"))
        case "dispute_unresolved": return .disputeUnresolved(best: int("best"), needed: int("needed"))
        default: return .seenAfterDeadline
        }
    }

    /// Feeds the stored records to the running node: call right after `Node.start()` (gossip's
    /// state machine exists from then on), before the loop runs. Records go into gossip's store
    /// through its local-publish path (`GossipService.publish`: body and clock rules; the
    /// signature was checked when the store read the record; no peers are linked yet, so nothing
    /// is sent; anti-entropy serves them later), into the jobs state machine, and into model
    /// transfer (manifests, announcements: downloads resume). This node's own old announcements
    /// are skipped: it has just signed a fresh one.
    public func replay(_ replay: Replay, node: Node, gossip: GossipService, jobs: JobsService, transfer: TransferService?) {
        replaying = true
        defer { replaying = false }
        var effects: [ProtocolEffect] = []
        for record in replay.records {
            let envelope = record.envelope
            if envelope.kind == .nodeAnnouncement && envelope.author == node.localID { continue }
            effects.removeAll(keepingCapacity: true)
            gossip.publish(envelope, into: &effects)
            node.perform(effects, from: gossip)
            jobs.enqueue(envelope)
            transfer?.enqueue(envelope)
        }
        jobs.restore(finalStates: replay.finalStates, outputs: replay.outputs)
    }

    // MARK: RecordSink (loop thread)

    public func recordDelivered(_ record: SignedRecord, hops: UInt16, path: DeliveryPath) {
        write(record)
    }

    public func recordDelivered(_ record: Record, hops: UInt16, path: DeliveryPath) {
        write(record)
    }

    public func recordForgotten(_ id: Hash) {
        guard !closed else { return }
        attempt("delete record") { () throws(StoreError) in try store.enqueueDelete(record: id) }
        counters.recordsDeleted += 1
    }

    /// A record this node published (gossip does not deliver its own records back). A job
    /// record is committed at once: the node is the job's entry node and has promised it.
    public func recordPublishedLocally(_ record: SignedRecord) {
        guard !replaying else { return }
        // A job record `persistNow` committed before its 202 is stored already.
        if persistedNow.remove(record.id) != nil { return }
        write(record)
        if record.kind == .job && !closed {
            attempt("commit") { () throws(StoreError) in try commitStore() }
            counters.syncCommits += 1
        }
    }

    private func write(_ envelope: SignedRecord) {
        guard !closed, !replaying, let record = try? Record(envelope) else { return }
        write(record)
    }

    private func write(_ record: Record) {
        guard !closed, !replaying else { return }
        attempt("store record") { () throws(StoreError) in
            try store.enqueue(record: record)
            if case let .nodeAnnouncement(a) = record, a.author != localNode, let address = a.body.addresses.first {
                try store.enqueue(peer: StoredPeer(node: a.author, address: address, lastSeen: a.issuedAt))
            }
        }
        counters.recordsWritten += 1
    }

    // MARK: JobsPersistence

    /// Job states are written when their batch commits, the last state of each job only (a job
    /// usually passes through two or three states within one batch window). `pending` and
    /// `running` are not written at all: a restart rebuilds them from the replayed records, and
    /// only final states are read back (`readReplay`); each such row cost every node one more
    /// page of the `jobs` log per job and commit. Nor is `failed(seenAfterDeadline)`: it is
    /// this node's view of a job it first saw (or saw again, replayed after a restart) after
    /// the deadline, which the next replay reaches again by itself, and written after a stored
    /// outcome it would hide it (the newest row of the log counts).
    public func jobStateChanged(_ job: Hash, _ state: JobState, output: [UInt8]?) {
        guard !closed else { return }
        switch state {
        case .pending, .running, .failed(.seenAfterDeadline):
            counters.jobStatesNotWritten += 1
            return
        default: break
        }
        let now = JobsService.wallNow().unixMs
        attempt("store job state") { () throws(StoreError) in
            pendingJobStates[job] = StoredJob(jobID: job, state: state, updatedAt: now)
            if let output, case let .verified(r) = state, Hash.of(output) == r.outputHash,
               !r.attestations.contains(where: { $0.body.inlineOutput != nil }) {
                // Inline outputs live in the attestation records already.
                let expires = max(now, r.attestations.map(\.expiresAt).max() ?? now)
                try store.enqueue(blob: output, expiresAt: expires)
            }
        }
        counters.jobStates += 1
    }

    public func nodeExcluded(_ node: NodeID, evidence: Hash) {
        guard !closed else { return }
        let now = JobsService.wallNow().unixMs
        attempt("store exclusion") { () throws(StoreError) in
            try store.enqueue(exclusion: StoredExclusion(node: node, evidence: evidence, excludedAt: now))
        }
        counters.exclusions += 1
    }

    /// Commits `envelope` now, with `blob` (a job input too large to ride in the record, which
    /// the executors fetch from this node) kept as long as the record, in the same transaction.
    public func persistNow(_ envelope: SignedRecord, blob: [UInt8]? = nil) throws(StoreError) {
        guard !closed else { throw .closed }
        let record: Record
        do { record = try Record(envelope) } catch {
            throw .corruptRow(table: "records", detail: "refused to store an invalid record: \(error)")
        }
        try store.enqueue(record: record)
        if let blob { try store.enqueue(blob: blob, expiresAt: envelope.expiresAt) }
        try commitStore()
        counters.commits += 1
        counters.syncCommits += 1
        // Its local publication follows at once; bounded in case one never comes.
        if persistedNow.count >= Self.maxPersistedNow { persistedNow.removeAll() }
        persistedNow.insert(envelope.id)
    }

    // MARK: Batching

    /// Writes the coalesced job states into the open transaction (before each commit).
    private func writeJobStates() {
        guard !pendingJobStates.isEmpty, !closed else { return }
        let states = pendingJobStates
        pendingJobStates.removeAll(keepingCapacity: true)
        do throws(StoreError) {
            for (_, job) in states { try store.enqueue(job: job) }
        } catch {
            counters.writeFailures += 1
            warn?("state.sqlite: store job state failed: \(error)")
        }
    }

    /// Commits the open transaction with the pending job states.
    private func commitStore() throws(StoreError) {
        writeJobStates()
        try store.commit()
    }

    /// Runs a write; a failure is counted and reported, never fatal (the mesh still has the
    /// records; the next batch retries the store).
    private func attempt(_ what: String, _ body: () throws(StoreError) -> Void) {
        do throws(StoreError) {
            try body()
        } catch {
            counters.writeFailures += 1
            warn?("state.sqlite: \(what) failed: \(error)")
        }
        scheduleCommit()
    }

    private func scheduleCommit() {
        let pending = store.pendingOperations + pendingJobStates.count
        guard !closed, pending > 0 else { return }
        if pending >= store.config.maxBatchOperations {
            commitNow()
            return
        }
        guard commitTimer == nil else { return }
        commitTimer = loop.schedule(after: store.config.maxBatchDelay) { [weak self] in
            guard let self else { return }
            self.commitTimer = nil
            self.commitNow()
        }
    }

    /// Commits the open batch now.
    public func commitNow() {
        guard !closed, store.pendingOperations + pendingJobStates.count > 0 else { return }
        do throws(StoreError) {
            try commitStore()
            counters.commits += 1
        } catch {
            counters.writeFailures += 1
            warn?("state.sqlite: commit failed: \(error)")
        }
    }

    private func armSweep() {
        sweepTimer = loop.schedule(after: Self.sweepInterval) { [weak self] in
            guard let self, !self.closed else { return }
            self.attempt("sweep expired") { () throws(StoreError) in
                self.counters.sweptRecords += try self.store.sweepExpired(nowUnixMs: JobsService.wallNow().unixMs)
            }
            self.armSweep()
        }
    }

    private func closeQuietly() {
        closed = true
        store.close()
    }

    /// Commits what is pending, checkpoints the WAL and closes (shutdown).
    public func close() {
        guard !closed else { return }
        if let t = commitTimer { loop.cancelTimer(t) }
        if let t = sweepTimer { loop.cancelTimer(t) }
        commitTimer = nil
        sweepTimer = nil
        writeJobStates()
        if store.pendingOperations > 0 { counters.commits += 1 }
        closed = true
        store.close()
    }
}
