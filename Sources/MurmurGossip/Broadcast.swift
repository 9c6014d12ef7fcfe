import MurmurCore
import MurmurWire

/// What became of a record handed to `accept`.
enum Acceptance { case new, duplicate, dropped }

/// Plumtree broadcast over the active view: eager push along a tree, batched lazy `IHave` to the
/// other peers, `Graft` after a timeout for a missing record, `Prune` on duplicates.
extension GossipNode {

    mutating func publish(_ record: SignedRecord) {
        _ = accept(record, hops: 0, from: nil, path: .broadcast)
    }

    /// Checks, stores, delivers and relays one record. `from` is nil for local records.
    mutating func accept(_ record: SignedRecord, hops: UInt16, from: NodeID?, path: DeliveryPath) -> Acceptance {
        let id = record.id
        if seen.contains(id) || store.contains(id) {
            counters.duplicates += 1
            if from != nil { trace(.dup, record: record, peer: from, hops: Int(hops)) }
            return .duplicate
        }
        seen.insert(id)
        if record.expiresAt <= unixNowMs {
            counters.droppedExpired += 1
            trace(.drop, record: record, peer: from, reason: "expired")
            return .dropped
        }
        if record.kind == .nodeAnnouncement {
            if let existing = directoryEntries[record.author] {
                if existing.issuedAt >= record.issuedAt {
                    counters.droppedSuperseded += 1
                    trace(.drop, record: record, peer: from, reason: "superseded")
                    return .dropped
                }
                if store.remove(existing.recordID) != nil { fx.append(.forget(existing.recordID)) }
            }
            directoryEntries[record.author] = DirectoryEntry(recordID: id, issuedAt: record.issuedAt, expiresAt: record.expiresAt)
        }
        if let evicted = store.insert(record, hops: hops) {
            counters.storeEvictions += 1
            fx.append(.forget(evicted))
            trace(.drop, id: evicted, reason: "store full")
        }
        missing.removeValue(forKey: id)
        rememberRecent(id, hops: hops)
        if from != nil {
            counters.delivered += 1
            fx.append(.deliver(record, hops: hops, path: path))
            trace(.deliver, record: record, peer: from, hops: Int(hops))
        } else {
            // The origin's own copy, so that traces show where and when a broadcast started.
            trace(.deliver, record: record, hops: 0, reason: "local")
        }
        if config.authorTreeAfter > 0 { countAuthorRecord(record.author) }
        relay(record, hops: hops, except: from)
        return .new
    }

    /// Eager push to eager peers, lazy `IHave` to the others.
    mutating func relay(_ record: SignedRecord, hops: UInt16, except: NodeID?) {
        let next = hops == .max ? hops : hops + 1
        let lazyForAuthor = config.perAuthorTrees ? touchTree(record.author).lazy : []
        let grown = grownTree(record.author)
        for i in active.indices where active[i].peer.id != except {
            let eager: Bool
            if config.perAuthorTrees {
                eager = !lazyForAuthor.contains(active[i].peer.id)
            } else if let grown {
                let p = active[i].peer.id
                eager = grown.eager.contains(p) ? true : grown.lazy.contains(p) ? false : active[i].eager
            } else {
                eager = active[i].eager
            }
            if eager || next <= config.eagerFloodHops
                || (next == config.eagerFloodHops + 1 && config.eagerFloodHops > 0 && chance(config.eagerFloodExtra)) {
                send(.gossip(HoppedRecord(record: record, hops: next)), to: active[i].peer.id)
            } else {
                if active[i].lazyQueue.count >= Limits.gossipMaxLazyQueue {
                    counters.lazyOverflow += 1
                    flushLazy(at: i)
                }
                active[i].lazyQueue.append(IHaveEntry(id: record.id, hops: next))
                if !ihaveFlushArmed {
                    ihaveFlushArmed = true
                    setTimer(.ihaveFlush, at: now + config.ihaveDelay)
                }
            }
        }
    }

    mutating func rememberRecent(_ id: Hash, hops: UInt16) {
        let entry = RecentRecord(id: id, hops: hops, at: now)
        if recent.count < Limits.gossipRecentRecords {
            recent.append(entry)
        } else {
            recent[recentNext] = entry
        }
        recentNext = (recentNext + 1) % Limits.gossipRecentRecords
    }

    /// Queues an `IHave` of the records delivered within `linkUpAnnounceWindow` for the new
    /// active peer at `i`: if its tree link died, it grafts what it missed from us.
    mutating func announceRecent(toActiveAt i: Int) {
        guard config.linkUpAnnounceWindow > .zero, !recent.isEmpty else { return }
        // Oldest first, so the peer grafts in publication order.
        let n = recent.count
        let start = n < Limits.gossipRecentRecords ? 0 : recentNext
        var queued = false
        for k in 0..<n {
            let r = recent[(start + k) % n]
            guard now - r.at <= config.linkUpAnnounceWindow, store.contains(r.id) else { continue }
            if active[i].lazyQueue.count >= Limits.gossipMaxLazyQueue { break }
            active[i].lazyQueue.append(IHaveEntry(id: r.id, hops: r.hops == .max ? r.hops : r.hops + 1))
            counters.linkUpAnnounced += 1
            queued = true
        }
        if queued && !ihaveFlushArmed {
            ihaveFlushArmed = true
            setTimer(.ihaveFlush, at: now + config.ihaveDelay)
        }
    }

    mutating func flushLazy() {
        ihaveFlushArmed = false
        for i in active.indices where !active[i].lazyQueue.isEmpty { flushLazy(at: i) }
    }

    mutating func flushLazy(at i: Int) {
        let entries = active[i].lazyQueue
        active[i].lazyQueue.removeAll(keepingCapacity: true)
        var start = 0
        while start < entries.count {
            let end = min(start + Limits.gossipMaxIDsPerMessage, entries.count)
            let batch = Array(entries[start..<end])
            counters.ihaveSent += 1
            let message = GossipMessage.ihave(batch)
            if config.traceEnabled {
                for e in batch { trace(.ihave, id: e.id, peer: active[i].peer.id, bytes: message.encodedSize, hops: Int(e.hops)) }
            }
            send(message, to: active[i].peer.id)
            start = end
        }
    }

    /// Hop counts up to which copies come from the source's neighbourhood flood (`eagerFloodHops`,
    /// plus the partial hop of `eagerFloodExtra`): they neither shape nor prune the tree.
    var floodReach: UInt16 {
        config.eagerFloodHops == 0 ? 0 : config.eagerFloodHops + (config.eagerFloodExtra > 0 ? 1 : 0)
    }

    mutating func onGossip(_ item: HoppedRecord, from peer: NodeID) {
        counters.payloadIn += 1
        trace(.recv, record: item.record, peer: peer, bytes: item.record.encoded.count, hops: Int(item.hops))
        if config.perAuthorTrees {
            let author = item.record.author
            switch accept(item.record, hops: item.hops, from: peer, path: .broadcast) {
            case .new:
                trees[author]?.lazy.removeAll { $0 == peer }
            case .duplicate:
                if isActive(peer), !touchTree(author).lazy.contains(peer) {
                    trees[author]?.lazy.append(peer)
                    counters.prunes += 1
                    send(.pruneTree(author: author), to: peer)
                    trace(.prune, id: item.record.id, peer: peer)
                }
            case .dropped:
                break
            }
            return
        }
        if config.graftTimeoutMax > config.graftTimeout { observePushLag(item.record.id, from: peer) }
        // Announcers that were quicker than the push: their hop counts matter to an author tree.
        let announced = config.authorTreeAfter > 0 ? missing[item.record.id]?.announcers : nil
        let acceptance = accept(item.record, hops: item.hops, from: peer, path: .broadcast)
        if grownTree(item.record.author) != nil {
            authorTreeGossip(item, from: peer, acceptance)
            if acceptance == .new, let announced, let held = store[item.record.id] {
                for a in announced { optimizeAuthorTree(held: held, announcer: a.peer, announcedHops: a.hops) }
            }
            return
        }
        switch acceptance {
        case .new:
            if let i = activeIndex(peer) {
                // A copy pushed by the source's neighbourhood flood leaves a lazy link lazy.
                let floodCopy = !active[i].eager && item.hops <= floodReach
                if !config.oneSidedPrune && !floodCopy { active[i].eager = true }
                active[i].lastFirstDelivery = now
            }

        case .duplicate:
            // A link that recently delivered something first is on another record's tree path:
            // pruning it now, while other broadcasts are in flight, can cut the tree in two.
            // Near the source, duplicates are the flood's (`eagerFloodHops`), not the tree's cycles.
            let nearSource = config.eagerFloodHops > 0
                && (item.hops <= floodReach || (store[item.record.id]?.hops ?? .max) <= floodReach)
            if !nearSource, let i = activeIndex(peer), active[i].eager,
               active[i].lastFirstDelivery.map({ now - $0 >= config.pruneQuietPeriod }) ?? true {
                if !config.oneSidedPrune { active[i].eager = false }
                counters.prunes += 1
                send(.prune, to: peer)
                trace(.prune, id: item.record.id, peer: peer)
            }
        case .dropped:
            break
        }
    }

    /// A pushed copy of a record announced before it arrived: the time since its first `IHave`
    /// is a push-lag sample (the push was on its way), if the copy is not a graft's answer.
    mutating func observePushLag(_ id: Hash, from peer: NodeID) {
        let since: Instant
        if let m = missing[id] {
            guard !m.asked.contains(peer) else { return }
            since = m.since
            graftedSince.removeValue(forKey: id)
        } else if let t = graftedSince.removeValue(forKey: id) {
            since = t
        } else {
            return
        }
        let lag = now - since
        if pushLags.count < Limits.gossipPushLagSamples {
            pushLags.append(lag)
        } else {
            pushLags[pushLagNext] = lag
        }
        pushLagNext = (pushLagNext + 1) % Limits.gossipPushLagSamples
        let longest = pushLags.max() ?? .zero
        graftWait = min(max(longest * config.graftWaitFactor, config.graftTimeout), config.graftTimeoutMax)
    }

    mutating func onIHave(_ entries: [IHaveEntry], from peer: NodeID) {
        for e in entries {
            if let held = store[e.id] {
                if grownTree(held.record.author) != nil {
                    optimizeAuthorTree(held: held, announcer: peer, announcedHops: e.hops)
                } else {
                    optimizeTree(held: held, announcer: peer, announcedHops: e.hops)
                }
                continue
            }
            if seen.contains(e.id) { continue }
            if var m = missing[e.id] {
                if m.announcers.count < Limits.gossipMaxAnnouncersPerMissing && !m.announcers.contains(where: { $0.peer == peer }) {
                    m.announcers.append((peer, e.hops))
                    missing[e.id] = m
                }
            } else {
                if missing.count >= Limits.gossipMaxMissing {
                    counters.missingOverflow += 1
                    continue
                }
                missing[e.id] = MissingRecord(announcers: [(peer, e.hops)], since: now)
                // Jittered so that the nodes of a cut-off subtree do not all graft at once. An
                // `IHave` on a link that just joined the active view announces records the peer
                // held before we were linked: nobody is pushing those to us, so graft at once.
                let linkUpAnnouncement = activeIndex(peer).map { now - active[$0].since < config.graftTimeout } ?? false
                setTimer(.graft(e.id), at: linkUpAnnouncement ? now : now + graftWait + jitter(graftWait * 0.5))
            }
        }
    }

    /// Plumtree's optimisation: if a lazy peer has the record much closer to the source than the
    /// eager path that delivered it, make the lazy link eager (empty `Graft`) and prune the other.
    mutating func optimizeTree(held: StoredRecord, announcer: NodeID, announcedHops: UInt16) {
        guard config.optimizationThreshold > 0,
              UInt32(announcedHops) + UInt32(config.optimizationThreshold) < UInt32(held.hops),
              let a = activeIndex(announcer), !active[a].eager else { return }
        // The eager parent is the active eager peer that is not the announcer: we do not record
        // who delivered each record, so prune only when exactly one eager peer could have.
        let eagerOthers = active.indices.filter { active[$0].eager && $0 != a }
        guard eagerOthers.count == 1 else { return }
        let parent = eagerOthers[0]
        active[a].eager = true
        send(.graft([]), to: announcer)
        active[parent].eager = false
        counters.prunes += 1
        send(.prune, to: active[parent].peer.id)
        trace(.prune, id: held.record.id, peer: active[parent].peer.id, reason: "tree optimisation")
    }

    mutating func graftTimerFired(_ id: Hash) {
        guard var m = missing[id] else { return }
        if seen.contains(id) || store.contains(id) {
            missing.removeValue(forKey: id)
            return
        }
        if m.attempts < config.graftAttempts, let target = graftTarget(&m) {
            if m.attempts == 0 && config.graftTimeoutMax > config.graftTimeout {
                if graftedSince.count >= Limits.gossipMaxGraftedSince { graftedSince.removeAll(keepingCapacity: true) }
                graftedSince[id] = m.since
            }
            m.attempts += 1
            m.asked.append(target.peer)
            if let i = activeIndex(target.peer) { active[i].eager = true }
            counters.grafts += 1
            send(.graft([id]), to: target.peer)
            trace(.graft, id: id, peer: target.peer, hops: target.hops.map(Int.init))
            missing[id] = m
            setTimer(.graft(id), at: now + config.graftRetry)
            return
        }
        // Nobody left to ask: anti-entropy will find it.
        missing.removeValue(forKey: id)
    }

    /// Whom to graft next: every active announcer once, in order; then, alternately, an active
    /// peer not asked yet (an eager peer whose push was lost, or one that got the record from
    /// elsewhere, likely holds it: a graft for a record it lacks costs it nothing) and the
    /// announcers again, in turn (a lost graft or a lost reply is the likely cause: seen with 5 %
    /// loss, where one lost graft to the only announcer left the record to anti-entropy).
    mutating func graftTarget(_ m: inout MissingRecord) -> (peer: NodeID, hops: UInt16?)? {
        for a in m.announcers where isActive(a.peer) && !m.asked.contains(a.peer) { return (a.peer, a.hops) }
        let announcerActive = m.announcers.contains { isActive($0.peer) }
        if !announcerActive || m.attempts % 2 == 1 {
            for a in active where !m.asked.contains(a.peer.id) { return (a.peer.id, nil) }
        }
        for _ in 0..<m.announcers.count {
            let a = m.announcers.removeFirst()
            m.announcers.append(a)
            if isActive(a.peer) { return (a.peer, a.hops) }
        }
        for a in active where !m.asked.contains(a.peer.id) { return (a.peer.id, nil) }
        return nil
    }

    mutating func onGraft(_ ids: [Hash], from peer: NodeID) {
        if let i = activeIndex(peer) { active[i].eager = true }
        for id in ids {
            if let held = store[id] {
                if config.perAuthorTrees { trees[held.record.author]?.lazy.removeAll { $0 == peer } }
                if grownTree(held.record.author) != nil { setAuthorLink(held.record.author, peer, eager: true) }
                send(.gossip(HoppedRecord(record: held.record, hops: held.hops == .max ? held.hops : held.hops + 1)), to: peer)
            }
        }
    }

    mutating func onPruneTree(_ author: NodeID, from peer: NodeID) {
        if config.authorTreeAfter > 0 {
            guard isActive(peer) else { return }
            setAuthorLink(author, peer, eager: false)
            return
        }
        guard config.perAuthorTrees, isActive(peer) else { return }
        if !touchTree(author).lazy.contains(peer) { trees[author]?.lazy.append(peer) }
    }

    mutating func onGraftTree(_ author: NodeID, from peer: NodeID) {
        guard isActive(peer) else { return }
        if config.authorTreeAfter > 0 {
            setAuthorLink(author, peer, eager: true)
        } else if config.perAuthorTrees {
            trees[author]?.lazy.removeAll { $0 == peer }
        }
    }

    // MARK: Author trees grown from the shared tree (`authorTreeAfter`)

    /// The author's tree if it is grown (nil when off, unknown or still on the shared tree).
    func grownTree(_ author: NodeID) -> AuthorTree? {
        guard config.authorTreeAfter > 0, let t = trees[author], t.grown else { return nil }
        return t
    }

    /// Counts an accepted record of `author`; at `authorTreeAfter` records the author's tree is
    /// grown: a copy of the shared tree's flags for the active peers not set explicitly yet.
    mutating func countAuthorRecord(_ author: NodeID) {
        if trees[author]?.grown == true {
            touchTree(author)
            return
        }
        // Most authors publish once: count them in 16 bytes, not in a tree entry.
        guard authorCounts.bump(author.key.w0) >= config.authorTreeAfter else { return }
        touchTree(author)
        guard var t = trees[author] else { return }
        t.records = config.authorTreeAfter
        if !t.grown {
            t.grown = true
            for a in active where !t.eager.contains(a.peer.id) && !t.lazy.contains(a.peer.id) {
                if a.eager { t.eager.append(a.peer.id) } else { t.lazy.append(a.peer.id) }
            }
        }
        trees[author] = t
    }

    /// Sets whether this node pushes `author`'s records to `peer` eagerly. Entries for peers that
    /// left the active view are dropped on the way, so the lists stay within the view's size.
    mutating func setAuthorLink(_ author: NodeID, _ peer: NodeID, eager: Bool) {
        touchTree(author)
        guard var t = trees[author] else { return }
        t.eager.removeAll { $0 == peer || !isActive($0) }
        t.lazy.removeAll { $0 == peer || !isActive($0) }
        if eager { t.eager.append(peer) } else { t.lazy.append(peer) }
        trees[author] = t
    }

    /// A pushed copy of a grown author tree's record: the first copy names the parent; a later
    /// copy on a path `authorTreeThreshold` hops shorter replaces the parent (which is pruned),
    /// any other later copy prunes its sender. Prunes and grafts here are per author and one-way:
    /// they change only who pushes the author's records to this node.
    mutating func authorTreeGossip(_ item: HoppedRecord, from peer: NodeID, _ acceptance: Acceptance) {
        let author = item.record.author
        guard var t = trees[author], isActive(peer) else { return }
        switch acceptance {
        case .new:
            t.parent = peer
            t.parentHops = item.hops
            if let i = activeIndex(peer) { active[i].lastFirstDelivery = now }
            trees[author] = t
        case .duplicate:
            guard peer != t.parent else { return }
            let current = min(store[item.record.id]?.hops ?? .max, t.parentHops)
            if UInt32(item.hops) + UInt32(config.authorTreeThreshold) <= UInt32(current) {
                let old = t.parent
                if let old, isActive(old) { send(.pruneTree(author: author), to: old) }
                t.parent = peer
                t.parentHops = item.hops
                trees[author] = t
                // The new parent is closer to the author, and so is the old one (our path is now
                // at most as long as its own): pushes to either would be duplicates. They get
                // `IHave`s, which is all they need to graft or to switch to us.
                setAuthorLink(author, peer, eager: false)
                if let old, isActive(old) { setAuthorLink(author, old, eager: false) }
            } else {
                counters.prunes += 1
                send(.pruneTree(author: author), to: peer)
            }
        case .dropped:
            break
        }
    }

    /// An `IHave` for a held record of a grown author tree: if the announcer's path is
    /// `authorTreeThreshold` hops shorter than the parent's, it becomes the parent (`GraftTree`
    /// to it, `PruneTree` to the old parent). No record moves: the next one takes the new path.
    mutating func optimizeAuthorTree(held: StoredRecord, announcer: NodeID, announcedHops: UInt16) {
        let author = held.record.author
        guard var t = trees[author], announcer != t.parent, isActive(announcer) else { return }
        let current = min(held.hops, t.parentHops)
        guard UInt32(announcedHops) + UInt32(config.authorTreeThreshold) <= UInt32(current) else { return }
        send(.graftTree(author: author), to: announcer)
        let old = t.parent
        if let old, isActive(old) { send(.pruneTree(author: author), to: old) }
        t.parent = announcer
        t.parentHops = announcedHops
        trees[author] = t
        setAuthorLink(author, announcer, eager: false)
        if let old, isActive(old) { setAuthorLink(author, old, eager: false) }
    }

    /// The tree of `author`, created (every active link eager) if new; least recently used
    /// trees are dropped beyond `Limits.gossipMaxTrees`.
    @discardableResult
    mutating func touchTree(_ author: NodeID) -> AuthorTree {
        if var tree = trees[author] {
            tree.lastUsed = now
            trees[author] = tree
            return tree
        }
        if trees.count >= Limits.gossipMaxTrees {
            // The least recently used quarter goes at once (one sort per 256 new authors).
            let order = trees.map { ($0.value.lastUsed, $0.key) }.sorted { $0 < $1 }
            for (_, a) in order.prefix(max(1, Limits.gossipMaxTrees / 4)) { trees.removeValue(forKey: a) }
        }
        let tree = AuthorTree(lastUsed: now)
        trees[author] = tree
        return tree
    }

    /// A prune is a request: if the link recently delivered something first to us, it is part
    /// of some other record's path here, and we answer with an empty `Graft` to keep it eager.
    /// An eager link is thus cut only when neither end has needed it for `pruneQuietPeriod`,
    /// which keeps concurrent broadcasts from cutting one cycle in two places.
    mutating func onPrune(from peer: NodeID) {
        guard let i = activeIndex(peer) else { return }
        if let last = active[i].lastFirstDelivery, now - last < config.pruneQuietPeriod, !config.oneSidedPrune {
            active[i].eager = true
            send(.graft([]), to: peer)
            return
        }
        active[i].eager = false
    }

    /// Drops expired records and directory entries.
    mutating func expireRecords() {
        let nowMs = unixNowMs
        for id in store.removeExpired(nowUnixMs: nowMs) {
            fx.append(.forget(id))
            trace(.drop, id: id, reason: "expired")
        }
        directoryEntries = directoryEntries.filter { $0.value.expiresAt > nowMs }
    }
}

/// Records accepted per author (keyed by the first 64 bits of its key: a collision only grows a
/// tree early), for the most recent `Limits.gossipMaxTrees` authors (oldest first out).
struct AuthorCounts: Sendable {
    var counts: [UInt64: UInt16] = [:]
    var order: [UInt64] = []
    var next = 0

    /// Counts one more record of `key` and returns its count.
    mutating func bump(_ key: UInt64) -> Int {
        if let c = counts[key] {
            let n = c == .max ? c : c + 1
            counts[key] = n
            return Int(n)
        }
        if order.count < Limits.gossipMaxTrees {
            order.append(key)
        } else {
            counts.removeValue(forKey: order[next])
            order[next] = key
            next = (next + 1) % Limits.gossipMaxTrees
        }
        counts[key] = 1
        return 1
    }
}
