import MurmurCore

/// How times from different nodes are put on one time line.
public enum ClockMode: String, Sendable, Codable {
    /// Estimate each node's offset from send/recv pairs (default).
    case estimate
    /// Use each node's times as written (simulator traces share one clock).
    case raw
}

/// One node's estimated clock offset relative to the reference node: corrected = t - offset.
public struct NodeClock: Sendable {
    public var offset: Int64 = 0
    /// Half the round trip along the path used: the true offset lies within ± this.
    public var uncertainty: Int64 = 0
    public var method: Method = .none
    public enum Method: String, Sendable, Codable { case reference, pairs, oneway, wall, none, raw }
}

/// NTP-style estimate from minimum one-way delays. For a link a↔b with minimum observed
/// `recv_b − send_a = m_ab` and `recv_a − send_b = m_ba` (each on the receiver's own clock):
/// `offset_b − offset_a ≈ (m_ab − m_ba) / 2`, exact when the two minimum delays are equal, and off
/// by at most `(m_ab + m_ba) / 2`. Offsets are chained from a reference node along the paths
/// of least accumulated uncertainty (Dijkstra). Nodes not linked that way fall back to their
/// `wall` stamps if both they and the reference have some, else to 0 (reported as `none`).
/// A link seen in one direction only is used with the median two-way minimum delay assumed
/// (method `oneway`, larger uncertainty), and no correction when a zero offset is consistent
/// with it (one-way delay within 0…2× the typical delay).
enum ClockEstimator {
    struct Link { var to: Int; var diff: Int64; var uncertainty: Int64; var oneWay = false }

    static func estimate(nodeCount: Int, minDelay: [UInt64: Int64], wallDelta: [Int64?],
                         eventCount: [Int]) -> (clocks: [NodeClock], components: Int, usableLinks: Int) {
        var adj = [[Link]](repeating: [], count: nodeCount)
        var usable = 0
        for (key, mab) in minDelay {
            let a = Int(key >> 32), b = Int(key & 0xffff_ffff)
            guard a < b, let mba = minDelay[UInt64(b) << 32 | UInt64(a)] else { continue }
            let diff = (mab &- mba) / 2          // offset_b - offset_a
            let unc = max(0, (mab &+ mba) / 2)
            adj[a].append(Link(to: b, diff: diff, uncertainty: unc))
            adj[b].append(Link(to: a, diff: -diff, uncertainty: unc))
            usable += 1
        }
        // Links seen in one direction only: assume the typical minimum delay of the two-way links
        // (their median), with that much extra uncertainty. Dijkstra prefers two-way paths.
        var twoWayDelays = minDelay.compactMap { (key, m) -> Int64? in
            let a = key >> 32, b = key & 0xffff_ffff
            guard let back = minDelay[b << 32 | a] else { return nil }
            return max(0, (m &+ back) / 2)
        }
        if !twoWayDelays.isEmpty {
            twoWayDelays.sort()
            let typical = twoWayDelays[twoWayDelays.count / 2]
            for (key, mab) in minDelay {
                let a = Int(key >> 32), b = Int(key & 0xffff_ffff)
                guard minDelay[UInt64(b) << 32 | UInt64(a)] == nil else { continue }
                // offset_b - offset_a = m_ab - delay; with delay unknown in [0, 2·typical], zero
                // is kept whenever it is consistent with the evidence (no correction without cause).
                let guess = mab &- typical
                let diff = abs(guess) <= typical ? 0 : guess
                let unc = typical &+ (guess &- diff).magnitude.clampedInt64
                adj[a].append(Link(to: b, diff: diff, uncertainty: unc, oneWay: true))
                adj[b].append(Link(to: a, diff: -diff, uncertainty: unc, oneWay: true))
            }
        }
        var clocks = [NodeClock](repeating: NodeClock(), count: nodeCount)
        var done = [Bool](repeating: false, count: nodeCount)
        var components = 0
        // References: most links first (ties: most events), each starting one component.
        let order = (0..<nodeCount).sorted {
            (adj[$0].count, eventCount[$0], -$0) > (adj[$1].count, eventCount[$1], -$1)
        }
        var globalRef: Int? = nil
        for ref in order where !done[ref] {
            if adj[ref].isEmpty && globalRef != nil { continue } // isolated: handled below
            components += 1
            var dist = [Int: Int64]()
            var heap = MinHeap()
            clocks[ref] = NodeClock(offset: 0, uncertainty: 0, method: .reference)
            // A later component is aligned to the first one by wall stamps when possible.
            if let g = globalRef, let w = wallDelta[ref], let gw = wallDelta[g] {
                clocks[ref] = NodeClock(offset: gw &- w, uncertainty: 0, method: .wall)
            } else if globalRef != nil {
                clocks[ref].method = .none
            }
            if globalRef == nil { globalRef = ref }
            dist[ref] = 0
            heap.push((0, ref))
            while let (d, u) = heap.pop() {
                if done[u] { continue }
                done[u] = true
                for l in adj[u] where !done[l.to] {
                    let nd = d &+ l.uncertainty
                    if nd < dist[l.to] ?? .max {
                        dist[l.to] = nd
                        clocks[l.to] = NodeClock(offset: clocks[u].offset &+ l.diff, uncertainty: nd,
                                                 method: l.oneWay || clocks[u].method == .oneway ? .oneway : .pairs)
                        heap.push((nd, l.to))
                    }
                }
            }
        }
        // Isolated nodes (no two-way link).
        for n in 0..<nodeCount where !done[n] {
            done[n] = true
            components += 1
            if let g = globalRef, let w = wallDelta[n], let gw = wallDelta[g] {
                clocks[n] = NodeClock(offset: gw &- w, uncertainty: 0, method: .wall)
            } else {
                clocks[n] = NodeClock(offset: 0, uncertainty: 0, method: globalRef == nil ? .reference : .none)
                if globalRef == nil { globalRef = n }
            }
        }
        return (clocks, components, usable)
    }
}

/// A small binary min-heap of (priority, value).
struct MinHeap {
    private var items: [(Int64, Int)] = []
    mutating func push(_ x: (Int64, Int)) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[p].0 <= items[i].0 { break }
            items.swapAt(p, i); i = p
        }
    }
    mutating func pop() -> (Int64, Int)? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l].0 < items[m].0 { m = l }
                if r < items.count && items[r].0 < items[m].0 { m = r }
                if m == i { break }
                items.swapAt(m, i); i = m
            }
        }
        return top
    }
}

extension UInt64 {
    var clampedInt64: Int64 { self > UInt64(Int64.max) ? .max : Int64(self) }
}
