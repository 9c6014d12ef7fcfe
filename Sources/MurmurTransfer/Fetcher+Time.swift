import MurmurCore
import MurmurWire

/// Stalls, back-offs, bans, progress reports and the one timer (Specs/transfer.md, "Timers").
extension Fetcher {
    // MARK: Time

    mutating func timer(now: Instant, fx: inout [FetchEffect]) {
        for id in requests.keys.sorted() {
            guard let r = requests[id], now - r.lastProgress >= config.stallTimeout else { continue }
            stats.timeouts += 1
            if var p = peers[r.peer] {
                p.consecutiveTimeouts += 1
                var backoff = config.timeoutBackoff
                for _ in 1..<min(p.consecutiveTimeouts, 16) where backoff < config.timeoutBackoffMax { backoff = backoff * Int64(2) }
                p.notBefore = max(p.notBefore, now + min(backoff, config.timeoutBackoffMax))
                peers[r.peer] = p
            }
            abandon(r.model, chunk: r.chunk, avoid: r.peer, cancel: true, fx: &fx)
        }
        for (peer, p) in peers where p.bannedUntil.map({ $0 <= now }) == true {
            peers[peer]?.bannedUntil = nil
            peers[peer]?.strikes = 0
            peers[peer]?.gaps = 0
        }
        for model in order {
            guard var f = fetches[model], f.nextReport <= now else { continue }
            let rate = (now - f.lastReport).seconds > 0 ? Double(f.verifiedBytes &- f.reportedBytes) / (now - f.lastReport).seconds : 0
            f.reportedBytes = f.verifiedBytes
            f.lastReport = now
            f.nextReport = now + config.progressInterval
            fetches[model] = f
            if f.phase == .fetching { fx.append(.progress(report(f, now: now, rate: rate))) }
            wantLinks(model, now: now, fx: &fx)
        }
    }

    /// Asks for links to announced holders when too few linked ones are usable.
    mutating func wantLinks(_ model: Hash, now: Instant, fx: inout [FetchEffect]) {
        guard let f = fetches[model], f.phase == .fetching else { return }
        var linked = 0
        var unlinked: [NodeID] = []
        for peer in f.holders.sorted() {
            guard let p = peers[peer], !p.banned(at: now) else { continue }
            if p.linked { linked += 1 } else if p.lastWantLink.map({ now - $0 >= config.wantLinkInterval }) ?? true { unlinked.append(peer) }
        }
        for peer in unlinked.prefix(max(0, config.targetSources - linked)) {
            peers[peer]?.lastWantLink = now
            fx.append(.wantLink(peer))
        }
    }

    /// Sets the timer to the earliest moment something is due: a stall, a report, a back-off
    /// or ban ending while a fetch waits for peers.
    mutating func schedule(now: Instant, fx: inout [FetchEffect]) {
        var next: Instant?
        func consider(_ t: Instant) { if next.map({ t < $0 }) ?? true { next = t } }
        for r in requests.values { consider(r.lastProgress + config.stallTimeout) }
        for model in order { if let f = fetches[model], f.phase == .fetching { consider(f.nextReport) } }
        for model in order {
            guard let f = fetches[model], f.phase == .fetching else { continue }
            for peer in f.holders {
                guard let p = peers[peer] else { continue }
                if p.notBefore > now { consider(p.notBefore) }
                if let b = p.bannedUntil, b > now { consider(b) }
            }
        }
        guard let at = next.map({ max($0, now) }), at != timerAt else { return }
        timerAt = at
        fx.append(.setTimer(at: at))
    }

    func report(_ f: ModelFetch, now: Instant, rate: Double) -> FetchProgress {
        let sources = f.holders.filter { peers[$0]?.usable(at: now) == true }.count
        return FetchProgress(model: f.layout.modelHash, name: f.manifest.name, chunksDone: f.doneChunks + f.writingCount,
                             chunksTotal: f.layout.chunkCount, bytesDone: f.doneBytes + f.writingBytes, bytesTotal: f.layout.size,
                             bytesPerSecond: rate, sources: sources, elapsed: now - f.startedAt)
    }
}
