import MurmurCore
import MurmurWire

/// Rendezvous ranking: the order in which nodes are asked to run a job.
public enum Ranking {
    /// `BLAKE2b-256(jobID ‖ nodeID)`: lower ranks first.
    public static func key(job: Hash, node: NodeID) -> Hash {
        // The 64 input bytes laid out in place (each word big-endian = the bytes in order):
        // ranking hashes every holder for every job, so no intermediate arrays.
        let j = job.value, n = node.key
        var words = (j.w0.bigEndian, j.w1.bigEndian, j.w2.bigEndian, j.w3.bigEndian,
                     n.w0.bigEndian, n.w1.bigEndian, n.w2.bigEndian, n.w3.bigEndian)
        return withUnsafeBytes(of: &words) { buffer in
            let h = Blake2b()
            h.update(buffer)
            return h.finalize()
        }
    }

    /// `nodes` in rank order for `job` (ties, which need a hash collision, broken by node id).
    public static func order(_ nodes: some Sequence<NodeID>, job: Hash) -> [NodeID] {
        nodes.map { (key(job: job, node: $0), $0) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map(\.1)
    }
}

/// The directory of nodes built from their announcements: who holds which model, who is live.
public struct Directory: Sendable {
    public private(set) var announcements: [NodeID: Signed<NodeAnnouncement>] = [:]
    private(set) var holders: [Hash: Set<NodeID>] = [:]
    /// Bumped whenever the set of holders of a model changes (rankings are cached against it).
    private(set) var holdersVersion: UInt64 = 0

    public init() {}

    /// Applies an announcement; returns the models whose holder set changed, or nil when the
    /// announcement was ignored (older sequence, or the directory is full).
    mutating func apply(_ a: Signed<NodeAnnouncement>) -> [Hash]? {
        let old = announcements[a.author]
        if let old, !a.body.supersedes(old.body) { return nil }
        if old == nil && announcements.count >= Limits.maxDirectoryNodes { return nil }
        announcements[a.author] = a
        let before = Set(old?.body.models ?? [])
        let after = Set(a.body.models)
        let changed = before.symmetricDifference(after).sorted()
        for m in before.subtracting(after) { holders[m]?.remove(a.author) }
        for m in after.subtracting(before) { holders[m, default: []].insert(a.author) }
        if !changed.isEmpty { holdersVersion &+= 1 }
        return changed
    }

    public func holders(of model: Hash) -> Set<NodeID> { holders[model] ?? [] }

    /// Live: the announcement has not expired.
    public func isLive(_ node: NodeID, nowMs: Int64) -> Bool {
        guard let a = announcements[node] else { return false }
        return nowMs < a.expiresAt
    }

    public func freeSlots(_ node: NodeID) -> Int { Int(announcements[node]?.body.freeSlots ?? 0) }
}
