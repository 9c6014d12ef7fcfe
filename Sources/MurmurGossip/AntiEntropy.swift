import MurmurCore
import MurmurWire

/// Anti-entropy: range-based set reconciliation of record ids per kind with one random active
/// peer, then pulling (`Want`) what we lack and pushing (`Records`) what the peer lacks.
extension GossipNode {
    /// Most records pushed to one peer in answer to one `Reconcile`.
    static let maxPushPerReconcile = 256

    /// Records issued after this (Unix ms) are left out of reconciliation: they are still being
    /// broadcast. Rounded down to a whole second so that two nodes compute the same sets.
    var antiEntropyCutoff: Int64 {
        let c = unixNowMs - config.antiEntropyMinAge.nanoseconds / 1_000_000
        return c - ((c % 1000) + 1000) % 1000
    }

    mutating func startAntiEntropy() {
        guard !active.isEmpty else { return }
        counters.antiEntropyRounds += 1
        let peer = active[random(active.count)].peer.id
        let cutoff = antiEntropyCutoff
        var ranges: [RangeDigest] = []
        for kind in RecordKind.allCases {
            let range = IDRange.whole(kind)
            let fp = store.fingerprint(range, issuedBefore: cutoff)
            ranges.append(RangeDigest(range: range, summary: .fingerprint(count: fp.count, hash: fp.hash)))
        }
        trace(.antientropy, peer: peer, reason: "reconcile")
        send(.reconcile(ranges), to: peer)
        recapRecent(to: peer)
    }

    /// The `IHave` recap: reconciliation leaves out records younger than `antiEntropyMinAge`, so
    /// a node that lost every push and `IHave` of a record (with 5 % loss, ≈ 0.05⁴ per node and
    /// record: about one node per 80,000 deliveries) would wait for anti-entropy. Each round
    /// therefore also announces to its peer the records delivered between `recapMinAge` and
    /// `antiEntropyMinAge` ago; the peer ignores what it holds and grafts what it lacks.
    mutating func recapRecent(to peer: NodeID) {
        guard config.recapMinAge > .zero, !recent.isEmpty else { return }
        let n = recent.count
        let start = n < Limits.gossipRecentRecords ? 0 : recentNext
        var entries: [IHaveEntry] = []
        for k in 0..<n {
            let r = recent[(start + k) % n]
            let age = now - r.at
            guard age >= config.recapMinAge, age < config.antiEntropyMinAge, store.contains(r.id) else { continue }
            entries.append(IHaveEntry(id: r.id, hops: r.hops == .max ? r.hops : r.hops + 1))
            if entries.count == Limits.gossipMaxIDsPerMessage { break }
        }
        guard !entries.isEmpty else { return }
        counters.ihaveSent += 1
        send(.ihave(entries), to: peer)
    }

    mutating func onReconcile(_ ranges: [RangeDigest], from peer: NodeID) {
        var reply: [RangeDigest] = []
        var wants: [Hash] = []
        var pushes: [Hash] = []
        let cutoff = antiEntropyCutoff
        for digest in ranges {
            let range = digest.range
            switch digest.summary {
            case let .fingerprint(count, hash):
                let mine = store.fingerprint(range, issuedBefore: cutoff)
                if mine.count == count && mine.hash == hash { continue }
                if Int(mine.count) <= config.rangeListThreshold || Int(range.depth) >= Limits.gossipMaxRangeDepth {
                    let ids = Array(store.ids(in: range, issuedBefore: cutoff).prefix(Limits.gossipMaxRangeIDs))
                    reply.append(RangeDigest(range: range, summary: .ids(ids)))
                } else {
                    for child in range.children {
                        let fp = store.fingerprint(child, issuedBefore: cutoff)
                        reply.append(RangeDigest(range: child, summary: .fingerprint(count: fp.count, hash: fp.hash)))
                    }
                }
            case let .ids(theirs):
                let theirSet = Set(theirs)
                for id in theirs where range.contains(id) && !store.contains(id) && !seen.contains(id) {
                    wants.append(id)
                }
                for id in store.ids(in: range, issuedBefore: cutoff) where !theirSet.contains(id) {
                    if pushes.count < Self.maxPushPerReconcile { pushes.append(id) }
                }
            }
        }
        var start = 0
        while start < reply.count {
            let end = min(start + Limits.gossipMaxReconcileRanges, reply.count)
            send(.reconcile(Array(reply[start..<end])), to: peer)
            start = end
        }
        if !wants.isEmpty {
            counters.antiEntropyPulled += wants.count
            trace(.antientropy, peer: peer, reason: "want \(wants.count)")
            start = 0
            while start < wants.count {
                let end = min(start + Limits.gossipMaxIDsPerMessage, wants.count)
                send(.want(Array(wants[start..<end])), to: peer)
                start = end
            }
        }
        if !pushes.isEmpty {
            counters.antiEntropyPushed += pushes.count
            trace(.antientropy, peer: peer, reason: "push \(pushes.count)")
            sendRecords(pushes, to: peer)
        }
    }

    mutating func onWant(_ ids: [Hash], from peer: NodeID) {
        sendRecords(ids, to: peer)
    }

    mutating func sendRecords(_ ids: [Hash], to peer: NodeID) {
        var batch: [HoppedRecord] = []
        for id in ids {
            guard let held = store[id] else { continue }
            batch.append(HoppedRecord(record: held.record, hops: held.hops == .max ? held.hops : held.hops + 1))
            if batch.count == Limits.gossipMaxRecordsPerMessage {
                send(.records(batch), to: peer)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { send(.records(batch), to: peer) }
    }

    mutating func onRecords(_ items: [HoppedRecord], from peer: NodeID) {
        for item in items {
            counters.payloadIn += 1
            trace(.recv, record: item.record, peer: peer, bytes: item.record.encoded.count, hops: Int(item.hops))
            _ = accept(item.record, hops: item.hops, from: peer, path: .antiEntropy)
        }
    }
}
