import MurmurCore

/// HyParView membership: active/passive views, join, forward-join, neighbour requests, shuffle,
/// keepalive failure detection with Lifeguard local health, and reconnection after failures.
extension GossipNode {

    // MARK: Links

    mutating func linkUp(_ peer: NodeID, address: String, outbound: Bool) {
        var purpose: Dial.Purpose?
        if outbound, let d = dials.firstIndex(where: { $0.address == address }) {
            purpose = dials.remove(at: d).purpose
        }
        if peer == me.id {
            fx.append(.disconnect(peer, reason: "self"))
            if case .neighbor(_, let ref)? = purpose { passive.removeAll { $0.address == ref.address } }
            return
        }
        if let i = activeIndex(peer) {
            active[i].lastHeard = now
            if case let .deliver(message)? = purpose { send(message, to: peer) }
            return
        }
        let ref = PeerRef(id: peer, address: address)
        switch purpose {
        case .join?:
            counters.joins += 1
            addActive(ref)
            send(.join(address: me.address), to: peer)
        case let .neighbor(priority, _)?:
            send(.neighbor(priority: priority, address: me.address), to: peer)
            addPending(peer, .awaitingReply(ref))
        case .reconnect?:
            counters.reconnects += 1
            send(.neighbor(priority: .reconnect, address: me.address), to: peer)
            addPending(peer, .awaitingReply(ref))
        case let .deliver(message)?:
            send(message, to: peer)
            addPending(peer, .temporary)
        case nil:
            addPending(peer, .inbound)
        }
    }

    mutating func linkDown(_ peer: NodeID, reason: String) {
        if let i = activeIndex(peer) {
            let ref = active[i].peer
            removeActive(at: i)
            counters.failures += 1
            addReconnect(ref)
            trace(.disconnect, peer: peer, reason: reason)
            refill()
        } else if let p = pendingIndex(peer) {
            pending.remove(at: p)
        }
    }

    mutating func connectFailed(_ address: String, reason: String) {
        guard let d = dials.firstIndex(where: { $0.address == address }) else { return }
        let dial = dials.remove(at: d)
        switch dial.purpose {
        case .join:
            nextJoinAttempt = now + config.joinRetry
        case let .neighbor(_, ref):
            // HyParView: an unreachable passive peer is dropped.
            passive.removeAll { $0.id == ref.id }
            refill()
        case .reconnect, .deliver:
            break
        }
    }

    // MARK: Views

    /// Puts a peer in the active view (evicting a random member if full) and makes it eager.
    mutating func addActive(_ ref: PeerRef) {
        guard ref.id != me.id, !isActive(ref.id) else { return }
        if let p = pendingIndex(ref.id) { pending.remove(at: p) }
        passive.removeAll { $0.id == ref.id }
        reconnect.removeAll { $0.peer.id == ref.id }
        if active.count >= config.activeViewSize {
            // A lazy link is not on the broadcast tree: evicting one costs no repair.
            let lazy = config.perAuthorTrees ? [] : active.indices.filter { !active[$0].eager }
            let victim = lazy.isEmpty ? active[random(active.count)].peer : active[lazy[random(lazy.count)]].peer
            evict(victim.id, reason: "evicted for \(ref.id.short)")
        }
        // A new link joins the broadcast tree only if we have no tree link yet; otherwise it
        // starts lazy (an eager link would close a cycle and cost duplicates until pruned). A
        // graft makes it eager if it turns out to be needed.
        let eager = !config.newLinksLazy || !active.contains(where: \.eager)
        active.append(ActivePeer(peer: ref, eager: eager, lastHeard: now, since: now))
        trace(.connect, peer: ref.id)
        announceRecent(toActiveAt: active.count - 1)
    }

    /// Gracefully drops an active peer: tells it, closes the link, keeps it in the passive view.
    mutating func evict(_ id: NodeID, reason: String) {
        guard let i = activeIndex(id) else { return }
        let ref = active[i].peer
        counters.evictions += 1
        send(.disconnect, to: id)
        fx.append(.disconnect(id, reason: reason))
        removeActive(at: i)
        addPassive(ref)
        trace(.disconnect, peer: id, reason: reason)
    }

    mutating func removeActive(at i: Int) {
        let removed = active.remove(at: i)
        // Entries still queued for it are not sent: its subtree repairs through other peers.
        if config.perAuthorTrees {
            for author in trees.keys { trees[author]?.lazy.removeAll { $0 == removed.peer.id } }
        }
    }

    mutating func addPassive(_ ref: PeerRef) {
        guard ref.id != me.id, !isActive(ref.id), !passive.contains(where: { $0.id == ref.id }) else { return }
        if passive.count >= config.passiveViewSize { passive.remove(at: random(passive.count)) }
        passive.append(ref)
    }

    mutating func addPending(_ peer: NodeID, _ state: PendingLink.State) {
        if let p = pendingIndex(peer) {
            pending[p].state = state
            pending[p].since = now
            return
        }
        if pending.count >= Limits.gossipMaxPendingLinks {
            counters.pendingOverflow += 1
            let oldest = pending.remove(at: 0)
            fx.append(.disconnect(oldest.peer, reason: "too many pending links"))
        }
        pending.append(PendingLink(peer: peer, state: state, since: now))
    }

    mutating func addReconnect(_ ref: PeerRef) {
        guard !reconnect.contains(where: { $0.peer.id == ref.id }) else { return }
        if reconnect.count >= Limits.gossipMaxReconnect { reconnect.remove(at: 0) }
        reconnect.append(ReconnectEntry(peer: ref, lostAt: now, nextAttempt: now + config.reconnectInitial,
                                        backoff: config.reconnectInitial))
    }

    /// Starts a `connect` unless one to that address is outstanding; false if not dialled.
    @discardableResult
    mutating func dial(_ address: String, expected: NodeID?, purpose: Dial.Purpose) -> Bool {
        guard address != me.address, !dials.contains(where: { $0.address == address }) else { return false }
        if dials.count + pending.count >= Limits.gossipMaxPendingLinks {
            counters.pendingOverflow += 1
            return false
        }
        dials.append(Dial(address: address, purpose: purpose, since: now))
        fx.append(.connect(address: address, expected: expected))
        return true
    }

    func isDialling(_ address: String) -> Bool { dials.contains { $0.address == address } }

    /// Asks passive peers to fill the free places of the active view.
    mutating func refill() {
        var inFlight = 0
        for d in dials {
            switch d.purpose {
            case .neighbor, .reconnect, .join: inFlight += 1
            case .deliver: break
            }
        }
        for p in pending { if case .awaitingReply = p.state { inFlight += 1 } }
        var free = config.activeViewSize - active.count - inFlight
        var candidates = passive.filter { c in !isDialling(c.address) && pendingIndex(c.id) == nil }
        while free > 0 && !candidates.isEmpty {
            let c = candidates.remove(at: random(candidates.count))
            // Low priority can be declined by every full peer forever: after a few declines in a
            // row, a short view asks with high priority (the receiver evicts to make room).
            // Only a view short by two or more escalates: the evicted peer is then short by one
            // and does not escalate in turn, so shortness shrinks instead of moving around.
            let escalate = config.shortViewEscalation > 0 && declinedInARow >= config.shortViewEscalation
                && active.count + 2 <= config.activeViewSize
            // Below half the target (e.g. several neighbours crashed at once) the node is one or
            // two losses away from isolation: ask with high priority straight away.
            let urgent = active.count * 2 < config.activeViewSize
            let priority: NeighborPriority = urgent || escalate ? .high : .low
            if dial(c.address, expected: c.id, purpose: .neighbor(priority, c)) {
                free -= 1; inFlight += 1
                if (escalate || urgent) && !active.isEmpty {
                    counters.shortViewEscalations += 1
                    declinedInARow = 0
                }
            }
        }
        // Nobody left to ask and still short of neighbours (the passive view ran dry, e.g. on
        // a small island after heavy failures): join again through a seed.
        if free > 0 && inFlight == 0 && candidates.isEmpty && now >= nextJoinAttempt { join() }
    }

    /// Dials a random seed with a `Join`.
    mutating func join() {
        guard !seeds.isEmpty, active.count < config.activeViewSize else { return }
        guard !dials.contains(where: { if case .join = $0.purpose { return true } else { return false } }) else { return }
        nextJoinAttempt = now + config.joinRetry
        dial(seeds[random(seeds.count)], expected: nil, purpose: .join)
    }

    // MARK: Messages

    mutating func onJoin(from peer: NodeID, address: String) {
        let ref = PeerRef(id: peer, address: address)
        guard peer != me.id else { return }
        addActive(ref)
        for a in active where a.peer.id != peer {
            send(.forwardJoin(node: ref, ttl: config.activeRandomWalkLength), to: a.peer.id)
        }
    }

    mutating func onForwardJoin(_ node: PeerRef, ttl: UInt8, from peer: NodeID) {
        guard node.id != me.id, !isActive(node.id) else { return }
        if ttl == 0 || active.count <= 1 {
            acceptForwardJoin(node)
            return
        }
        if ttl == config.passiveRandomWalkLength { addPassive(node) }
        let candidates = active.filter { $0.peer.id != peer && $0.peer.id != node.id }
        if candidates.isEmpty {
            acceptForwardJoin(node)
        } else {
            send(.forwardJoin(node: node, ttl: ttl - 1), to: candidates[random(candidates.count)].peer.id)
        }
    }

    private mutating func acceptForwardJoin(_ node: PeerRef) {
        dial(node.address, expected: node.id, purpose: .neighbor(.high, node))
    }

    mutating func onNeighbor(from peer: NodeID, priority: NeighborPriority, address: String) {
        let ref = PeerRef(id: peer, address: address)
        if isActive(peer) {
            send(.neighborReply(accepted: true), to: peer)
            return
        }
        let lostThem = reconnect.contains { $0.peer.id == peer }
        let accept: Bool
        switch priority {
        case .high: accept = true
        case .low: accept = active.count < config.activeViewSize
        case .reconnect: accept = lostThem || active.count < config.activeViewSize
        }
        if accept {
            counters.neighborAccepted += 1
            addActive(ref)
            send(.neighborReply(accepted: true), to: peer)
        } else {
            counters.neighborRejected += 1
            send(.neighborReply(accepted: false), to: peer)
            addPassive(ref)
        }
    }

    mutating func onNeighborReply(from peer: NodeID, accepted: Bool) {
        guard let p = pendingIndex(peer), case let .awaitingReply(ref) = pending[p].state else { return }
        pending.remove(at: p)
        if accepted {
            declinedInARow = 0
            addActive(ref)
        } else {
            declinedInARow += 1
            reconnect.removeAll { $0.peer.id == peer }
            addPassive(ref)
            fx.append(.disconnect(peer, reason: "neighbor request declined"))
            // No immediate retry: the next housekeeping tick tries again (possibly elsewhere).
        }
    }

    mutating func onDisconnect(from peer: NodeID) {
        guard let i = activeIndex(peer) else { return }
        let ref = active[i].peer
        removeActive(at: i)
        addPassive(ref)
        fx.append(.disconnect(peer, reason: "peer left our active view"))
        trace(.disconnect, peer: peer, reason: "peer disconnected")
        refill()
    }

    // MARK: Shuffle

    mutating func startShuffle() {
        guard !active.isEmpty else { return }
        counters.shuffles += 1
        var sample = [me]
        sample += randomSample(active.map(\.peer), config.shuffleActiveCount)
        sample += randomSample(passive, config.shufflePassiveCount)
        lastShuffleSample = sample
        let target = active[random(active.count)].peer.id
        send(.shuffle(origin: me, ttl: config.shuffleTTL, peers: sample), to: target)
    }

    mutating func onShuffle(origin: PeerRef, ttl: UInt8, peers: [PeerRef], from peer: NodeID) {
        guard origin.id != me.id else { return }
        if ttl > 0 && active.count > 1 {
            let candidates = active.filter { $0.peer.id != peer && $0.peer.id != origin.id }
            if !candidates.isEmpty {
                send(.shuffle(origin: origin, ttl: ttl - 1, peers: peers), to: candidates[random(candidates.count)].peer.id)
                return
            }
        }
        let reply = randomSample(passive, min(peers.count, Limits.gossipMaxShufflePeers))
        if isActive(origin.id) {
            send(.shuffleReply(peers: reply), to: origin.id)
        } else {
            dial(origin.address, expected: origin.id, purpose: .deliver(.shuffleReply(peers: reply)))
        }
        integrate(peers, preferEvicting: reply)
    }

    mutating func onShuffleReply(_ peers: [PeerRef], from peer: NodeID) {
        integrate(peers, preferEvicting: lastShuffleSample)
        lastShuffleSample = []
        if !isActive(peer), let p = pendingIndex(peer) {
            pending.remove(at: p)
            fx.append(.disconnect(peer, reason: "shuffle reply delivered"))
        }
    }

    /// Adds unknown peers to the passive view, evicting first the ones we just sent away.
    mutating func integrate(_ peers: [PeerRef], preferEvicting sent: [PeerRef]) {
        var evictable = sent.filter { $0.id != me.id }
        for ref in peers {
            guard ref.id != me.id, !isActive(ref.id), !passive.contains(where: { $0.id == ref.id }) else { continue }
            if passive.count >= config.passiveViewSize {
                var removed = false
                while let e = evictable.popLast() {
                    if let j = passive.firstIndex(where: { $0.id == e.id }) { passive.remove(at: j); removed = true; break }
                }
                if !removed { passive.remove(at: random(passive.count)) }
            }
            passive.append(ref)
        }
    }

    mutating func randomSample(_ from: [PeerRef], _ k: Int) -> [PeerRef] {
        var pool = from
        var out: [PeerRef] = []
        while out.count < k && !pool.isEmpty { out.append(pool.remove(at: random(pool.count))) }
        return out
    }

    // MARK: Housekeeping

    mutating func housekeeping() {
        // Failure detection: silence beyond the (health-stretched) timeout is a failure.
        let timeout = config.failureTimeout * Int64(1 + localHealth)
        var i = 0
        while i < active.count {
            let idle = now - active[i].lastHeard
            if idle >= timeout {
                let ref = active[i].peer
                removeActive(at: i)
                counters.failures += 1
                addReconnect(ref)
                fx.append(.disconnect(ref.id, reason: "keepalive timeout"))
                trace(.disconnect, peer: ref.id, reason: "keepalive timeout")
                continue
            }
            if idle >= config.keepaliveInterval {
                let lastPing = active[i].pingSentAt ?? Instant(nanoseconds: .min)
                if lastPing < active[i].lastHeard || now - lastPing >= config.keepaliveInterval {
                    pingNonce &+= 1
                    active[i].pingSentAt = now
                    send(.ping(nonce: pingNonce), to: active[i].peer.id)
                }
            }
            i += 1
        }
        // Links outside the active view do not linger.
        var p = 0
        while p < pending.count {
            if now - pending[p].since >= config.idleLinkTimeout {
                fx.append(.disconnect(pending[p].peer, reason: "idle link"))
                pending.remove(at: p)
            } else {
                p += 1
            }
        }
        dials.removeAll { now - $0.since >= config.idleLinkTimeout * Int64(2) }
        // Re-dial peers lost to failures (this is what heals partitions).
        reconnect.removeAll { now - $0.lostAt >= config.reconnectGiveUp }
        for r in reconnect.indices where now >= reconnect[r].nextAttempt {
            let ref = reconnect[r].peer
            reconnect[r].nextAttempt = now + reconnect[r].backoff
            reconnect[r].backoff = min(reconnect[r].backoff * Int64(2), config.reconnectMax)
            if !isActive(ref.id) && pendingIndex(ref.id) == nil {
                dial(ref.address, expected: ref.id, purpose: .reconnect(ref))
            }
        }
        refill()
        if now >= nextExpirySweep {
            nextExpirySweep = now + config.expirySweepInterval
            expireRecords()
        }
    }
}
