import MurmurCore
import MurmurJobs
import MurmurStore
import MurmurWire

/// Where `JobsService` puts what must survive a restart (Specs/store.md): job states as they
/// change, exclusions (local reputation), verified outputs, and — synchronously, before the
/// client hears `202 Accepted` — the job records this node accepts. `NodePersistence` (SQLite)
/// implements it; without one the node keeps jobs in memory only.
public protocol JobsPersistence: AnyObject {
    /// `JobsEffect.stateChanged`; `output`: the verified output bytes when this node has them.
    func jobStateChanged(_ job: Hash, _ state: JobState, output: [UInt8]?)
    /// `JobsEffect.excluded`: permanent, with the record that proves it.
    func nodeExcluded(_ node: NodeID, evidence: Hash)
    /// Stores the record (and `blob`, a job input offered to the executors by hash, kept as long
    /// as the record) and commits now; throws when it is not durable (then do not promise).
    func persistNow(_ record: SignedRecord, blob: [UInt8]?) throws(StoreError)
}
