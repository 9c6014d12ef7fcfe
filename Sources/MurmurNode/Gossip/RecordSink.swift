import MurmurCore
import MurmurGossip
import MurmurWire

/// Where delivered records go besides the gossip layer's own bounded in-memory store. The
/// SQLite store (branch `store`) plugs in here; until then a node keeps records in memory only.
/// Called on the loop thread; an implementation that writes to disk must batch or hand off.
public protocol RecordSink: AnyObject {
    /// A new, valid record (signature, body and clock rules checked) was accepted.
    func recordDelivered(_ record: SignedRecord, hops: UInt16, path: DeliveryPath)
    /// The same, with the typed record gossip validated on receipt (no second decode).
    func recordDelivered(_ record: Record, hops: UInt16, path: DeliveryPath)
    /// A record expired or was superseded: it may be deleted.
    func recordForgotten(_ id: Hash)
}

extension RecordSink {
    public func recordDelivered(_ record: Record, hops: UInt16, path: DeliveryPath) {
        recordDelivered(record.envelope, hops: hops, path: path)
    }
}
