import MurmurCore
import Synchronization

/// A memo of rankings shared by many `JobsNode`s in one process (the simulator): nodes whose
/// views hold the same ranked set for a job get the same order, so it is computed once.
/// Keyed by (job, a fingerprint of the node set, its size, the prefix length); purely an
/// optimisation — a miss computes exactly what a hit returns. A real node has no use for it.
public final class RankingCache: Sendable {
    struct Key: Hashable {
        var job: Hash
        var fingerprint: Bytes32
        var count: Int
        var limit: Int
    }

    private let entries = Mutex<[Key: [NodeID]]>([:])
    private let capacity: Int

    /// `capacity` rankings are kept; when full the cache starts over.
    public init(capacity: Int = 100_000) { self.capacity = capacity }

    /// XOR and sum of the members' key words: order-independent, O(n), no allocation.
    static func fingerprint(_ nodes: Set<NodeID>) -> Bytes32 {
        var x = Bytes32.zero, s = Bytes32.zero
        for n in nodes {
            x.w0 ^= n.key.w0; x.w1 ^= n.key.w1; x.w2 ^= n.key.w2; x.w3 ^= n.key.w3
            s.w0 &+= n.key.w1; s.w1 &+= n.key.w2; s.w2 &+= n.key.w3; s.w3 &+= n.key.w0
        }
        return Bytes32(w0: x.w0 ^ s.w0.rotated(), w1: x.w1 ^ s.w1.rotated(), w2: x.w2 ^ s.w2.rotated(), w3: x.w3 ^ s.w3.rotated())
    }

    func ranking(job: Hash, nodes: Set<NodeID>, limit: Int, compute: () -> [NodeID]) -> [NodeID] {
        let key = Key(job: job, fingerprint: Self.fingerprint(nodes), count: nodes.count, limit: limit)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let ranking = compute()
        entries.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[key] = ranking
        }
        return ranking
    }
}

private extension UInt64 {
    func rotated() -> UInt64 { (self << 29) | (self >> 35) }
}
