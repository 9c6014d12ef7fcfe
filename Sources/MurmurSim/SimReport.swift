import MurmurCore
import MurmurGossip

/// What a simulation measured (Specs/gossip.md, "Simulator output").
public struct SimReport: Sendable {
    public var nodes = 0
    public var broadcasts = 0
    public var seed: UInt64 = 0
    public var simulatedSeconds = 0.0
    public var events = 0
    public var liveNodesAtEnd = 0
    /// Share of live nodes that delivered a broadcast through the broadcast tree (eager push or
    /// graft), per broadcast: minimum and median.
    public var coverageMin = 0.0
    public var coverageMedian = 0.0
    /// Mean over broadcasts of the same share.
    public var coverageMean = 0.0
    /// Same, counting records pulled by anti-entropy before the end of the run.
    public var coverageMinAfterAntiEntropy = 0.0
    public var coverageMedianAfterAntiEntropy = 0.0
    /// Delivery latency and hop count over broadcast-path deliveries (sources excluded).
    public var latencyMsP50 = 0.0, latencyMsP99 = 0.0
    public var hopsP50 = 0.0, hopsP99 = 0.0, hopsMean = 0.0
    /// The same for a shortest-path tree on the overlay at publish time (the ideal).
    public var sptLatencyMsP50 = 0.0, sptLatencyMsP99 = 0.0
    public var sptHopsP50 = 0.0, sptHopsP99 = 0.0, sptHopsMean = 0.0
    /// Per delivery, latency over shortest-path latency.
    public var latencyStretchP50 = 0.0, latencyStretchP99 = 0.0
    /// Mean hops over mean shortest-path hops.
    public var hopsStretch = 0.0
    /// Record copies received per delivery (1.0 = no duplicates).
    public var payloadCopiesPerNode = 0.0
    /// The same three figures over the second half of the broadcasts only (steady state: trees
    /// that adapt to repeating authors have converged by then).
    public var copiesSecondHalf = 0.0, hopsStretchSecondHalf = 0.0, latencyStretchP50SecondHalf = 0.0
    /// Non-payload messages sent per live node per simulated second.
    public var controlMsgsPerNodeS = 0.0
    /// Seconds from the heal until every live node held every broadcast (nil: no partition;
    /// negative: did not converge before the end).
    public var healConvergenceS: Double?
    public var messagesLost = 0, messagesPartitioned = 0, messagesNoLink = 0
    public var grafts = 0, prunes = 0, failuresDetected = 0, antiEntropyPulled = 0
    /// Shape of the broadcast tree at the end: connected components of the eager graph (1 = a
    /// spanning tree or more), eager links not eager at the other end, and eager links per node.
    public var eagerComponents = 0, eagerAsymmetric = 0
    public var eagerLinksPerNode = 0.0
    /// Live nodes whose active view is empty at the end, and the mean active-view size.
    public var isolatedNodes = 0
    /// With announcements: smallest and mean directory size over live nodes at the end.
    public var directoryMin = 0
    public var directoryMean = 0.0
    /// Connected components of the active views (1 = one overlay) and the smallest one's size.
    public var overlayComponents = 0, smallestOverlayComponent = 0
    public var activeViewMean = 0.0
    /// Live nodes whose active view is below its target size at the end (by one or more, and by
    /// two or more).
    public var shortViewNodes = 0, shortViewByTwoNodes = 0
    /// Live nodes that did not get a broadcast through the tree (first 20): broadcast number,
    /// node number, and when it got the record by anti-entropy (seconds after publication; nil:
    /// never). Diagnostics for the coverage target.
    public var treeMisses: [(broadcast: Int, node: Int, antiEntropyAfterS: Double?)] = []
    /// Filled in by the caller (process-level measurement).
    public var memoryBytesPerNode: Double?
    public var wallSeconds: Double?
    /// The job workload's measurements (nil without one).
    public var jobs: JobsReport?

    public init() {}

    /// One JSON object, keys in a fixed order.
    public var json: String {
        func num(_ v: Double) -> String {
            if v.isNaN || v.isInfinite { return "null" }
            let r = (v * 10_000).rounded() / 10_000
            return r == r.rounded() && abs(r) < 1e15 ? String(Int64(r)) : String(r)
        }
        var fields: [(String, String)] = [
            ("nodes", "\(nodes)"), ("broadcasts", "\(broadcasts)"), ("seed", "\(seed)"),
            ("simulated_s", num(simulatedSeconds)), ("events", "\(events)"), ("live_nodes", "\(liveNodesAtEnd)"),
            ("coverage_min", num(coverageMin)), ("coverage_median", num(coverageMedian)), ("coverage_mean", num(coverageMean)),
            ("coverage_min_after_antientropy", num(coverageMinAfterAntiEntropy)),
            ("coverage_median_after_antientropy", num(coverageMedianAfterAntiEntropy)),
            ("latency_ms_p50", num(latencyMsP50)), ("latency_ms_p99", num(latencyMsP99)),
            ("hops_p50", num(hopsP50)), ("hops_p99", num(hopsP99)), ("hops_mean", num(hopsMean)),
            ("spt_latency_ms_p50", num(sptLatencyMsP50)), ("spt_latency_ms_p99", num(sptLatencyMsP99)),
            ("spt_hops_p50", num(sptHopsP50)), ("spt_hops_p99", num(sptHopsP99)), ("spt_hops_mean", num(sptHopsMean)),
            ("latency_stretch_p50", num(latencyStretchP50)), ("latency_stretch_p99", num(latencyStretchP99)),
            ("hops_stretch", num(hopsStretch)),
            ("payload_copies_per_node", num(payloadCopiesPerNode)),
            ("payload_copies_per_node_second_half", num(copiesSecondHalf)),
            ("hops_stretch_second_half", num(hopsStretchSecondHalf)),
            ("latency_stretch_p50_second_half", num(latencyStretchP50SecondHalf)),
            ("control_msgs_per_node_s", num(controlMsgsPerNodeS)),
            ("heal_convergence_s", healConvergenceS.map(num) ?? "null"),
            ("messages_lost", "\(messagesLost)"), ("messages_partitioned", "\(messagesPartitioned)"),
            ("messages_no_link", "\(messagesNoLink)"), ("grafts", "\(grafts)"), ("prunes", "\(prunes)"),
            ("failures_detected", "\(failuresDetected)"), ("antientropy_pulled", "\(antiEntropyPulled)"),
            ("eager_components", "\(eagerComponents)"), ("eager_asymmetric", "\(eagerAsymmetric)"),
            ("eager_links_per_node", num(eagerLinksPerNode)), ("isolated_nodes", "\(isolatedNodes)"),
            ("overlay_components", "\(overlayComponents)"), ("smallest_overlay_component", "\(smallestOverlayComponent)"),
            ("active_view_mean", num(activeViewMean)), ("short_view_nodes", "\(shortViewNodes)"),
            ("short_view_by_two_nodes", "\(shortViewByTwoNodes)"), ("directory_min", "\(directoryMin)"),
            ("directory_mean", num(directoryMean)),
        ]
        if let j = jobs { fields += j.jsonFields }
        if let m = memoryBytesPerNode { fields.append(("memory_bytes_per_node", num(m))) }
        if let w = wallSeconds { fields.append(("wall_s", num(w))) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Human-readable summary.
    public var text: String {
        func pct(_ v: Double) -> String { String(format1(v * 100, 3)) + " %" }
        var s = "nodes \(nodes), broadcasts \(broadcasts), seed \(seed), simulated \(format1(simulatedSeconds, 1)) s, \(events) events, \(liveNodesAtEnd) live at end\n"
        if broadcasts > 0 {
            s += "coverage by broadcast:      min \(pct(coverageMin)), median \(pct(coverageMedian)), mean \(pct(coverageMean))\n"
            s += "coverage after anti-entropy: min \(pct(coverageMinAfterAntiEntropy)), median \(pct(coverageMedianAfterAntiEntropy))\n"
            s += "latency: p50 \(format1(latencyMsP50, 1)) ms, p99 \(format1(latencyMsP99, 1)) ms (shortest-path tree: p50 \(format1(sptLatencyMsP50, 1)) ms, p99 \(format1(sptLatencyMsP99, 1)) ms; stretch p50 \(format1(latencyStretchP50, 2))×, p99 \(format1(latencyStretchP99, 2))×)\n"
            s += "hops: p50 \(format1(hopsP50, 0)), p99 \(format1(hopsP99, 0)), mean \(format1(hopsMean, 2)) (shortest-path tree: p50 \(format1(sptHopsP50, 0)), p99 \(format1(sptHopsP99, 0)), mean \(format1(sptHopsMean, 2)); ratio \(format1(hopsStretch, 2))×)\n"
            s += "payload copies per node per broadcast: \(format1(payloadCopiesPerNode, 3))\n"
            s += "second half of the broadcasts: copies \(format1(copiesSecondHalf, 3)), hops ratio \(format1(hopsStretchSecondHalf, 2))×, latency stretch p50 \(format1(latencyStretchP50SecondHalf, 2))×\n"
        }
        s += "control messages per node per second: \(format1(controlMsgsPerNodeS, 2))\n"
        if let h = healConvergenceS {
            s += h < 0 ? "partition heal: NOT converged by the end of the run\n" : "partition heal: converged \(format1(h, 2)) s after the heal\n"
        }
        s += "messages lost \(messagesLost), cut by partition \(messagesPartitioned), without link \(messagesNoLink); grafts \(grafts), prunes \(prunes), failures detected \(failuresDetected), anti-entropy pulls \(antiEntropyPulled)\n"
        s += "broadcast tree at the end: \(eagerComponents) component(s), \(format1(eagerLinksPerNode, 2)) eager links per node, \(eagerAsymmetric) one-sided\n"
        s += "active view at the end: mean \(format1(activeViewMean, 2)) peers, \(isolatedNodes) live node(s) without any, \(shortViewNodes) short of the target (\(shortViewByTwoNodes) by two or more); \(overlayComponents) overlay component(s), smallest \(smallestOverlayComponent)\n"
        if directoryMean > 0 { s += "directory (live announced peers): min \(directoryMin), mean \(format1(directoryMean, 1)) of \(liveNodesAtEnd) live\n" }
        if let j = jobs { s += j.text }
        for m in treeMisses {
            s += "missed by the broadcast: broadcast \(m.broadcast) at node \(m.node), " + (m.antiEntropyAfterS.map { "pulled by anti-entropy \(format1($0, 2)) s after publication" } ?? "never delivered") + "\n"
        }
        if let m = memoryBytesPerNode { s += "memory per simulated node: \(format1(m / 1024, 1)) KiB\n" }
        if let w = wallSeconds { s += "wall time: \(format1(w, 2)) s\n" }
        return s
    }
}

func format1(_ v: Double, _ digits: Int) -> String {
    if v.isNaN { return "nan" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (v * scale).rounded() / scale
    if digits == 0 { return String(Int64(r)) }
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let k = min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[k]
}

extension Simulator {
    func report() -> SimReport {
        var r = SimReport()
        r.nodes = n
        r.broadcasts = records.count
        r.seed = config.seed
        r.simulatedSeconds = Double(endTime) / 1e9
        r.events = eventsProcessed
        r.liveNodesAtEnd = alive.filter { $0 }.count
        var coverage: [Double] = [], coverageAE: [Double] = []
        var latencies: [Double] = [], hops: [Double] = [], sptLat: [Double] = [], sptHop: [Double] = [], stretch: [Double] = []
        var deliveries = 0
        let half = records.count / 2
        var deliveries2 = 0, copies2 = 0, hops2 = 0.0, spt2 = 0.0
        var stretch2: [Double] = []
        var converged: Double? = healTime == nil ? nil : 0
        for b in 0..<records.count {
            var eligible = 0, viaTree = 0, any = 0
            for i in 0..<n {
                let cell = b * n + i
                let path = deliveredPath[cell]
                if path == 1 || path == 2 {
                    deliveries += 1
                    if b >= half { deliveries2 += 1 }
                }
                guard alive[i], currentStart[i] <= pubTime[b] else { continue }
                eligible += 1
                if path == 1 || path == 3 { viaTree += 1 }
                if path != 0 { any += 1 }
                if (path == 0 || path == 2) && r.treeMisses.count < 20 {
                    r.treeMisses.append((b, i, path == 2 ? Double(deliveredAt[cell] - pubTime[b]) / 1e9 : nil))
                }
                if let heal = healTime, converged != nil {
                    if path == 0 { converged = nil } else { converged = max(converged!, Double(deliveredAt[cell] - heal) / 1e9) }
                }
                if path == 1 {
                    let lat = Double(deliveredAt[cell] - pubTime[b])
                    latencies.append(lat / 1e6)
                    hops.append(Double(deliveredHops[cell]))
                    let s = sptLatencyNs[cell]
                    if s > 0 {
                        sptLat.append(Double(s) / 1e6)
                        sptHop.append(Double(sptHops[cell]))
                        stretch.append(lat / Double(s))
                        if b >= half {
                            hops2 += Double(deliveredHops[cell]); spt2 += Double(sptHops[cell])
                            stretch2.append(lat / Double(s))
                        }
                    }
                }
            }
            coverage.append(eligible == 0 ? 1 : Double(viaTree) / Double(eligible))
            coverageAE.append(eligible == 0 ? 1 : Double(any) / Double(eligible))
        }
        coverage.sort(); coverageAE.sort(); latencies.sort(); hops.sort(); sptLat.sort(); sptHop.sort(); stretch.sort()
        r.coverageMin = coverage.first ?? 1
        r.coverageMedian = percentile(coverage, 0.5)
        r.coverageMean = coverage.isEmpty ? 1 : coverage.reduce(0, +) / Double(coverage.count)
        r.coverageMinAfterAntiEntropy = coverageAE.first ?? 1
        r.coverageMedianAfterAntiEntropy = percentile(coverageAE, 0.5)
        r.latencyMsP50 = percentile(latencies, 0.5)
        r.latencyMsP99 = percentile(latencies, 0.99)
        r.hopsP50 = percentile(hops, 0.5)
        r.hopsP99 = percentile(hops, 0.99)
        r.hopsMean = hops.isEmpty ? 0 : hops.reduce(0, +) / Double(hops.count)
        r.sptLatencyMsP50 = percentile(sptLat, 0.5)
        r.sptLatencyMsP99 = percentile(sptLat, 0.99)
        r.sptHopsP50 = percentile(sptHop, 0.5)
        r.sptHopsP99 = percentile(sptHop, 0.99)
        r.sptHopsMean = sptHop.isEmpty ? 0 : sptHop.reduce(0, +) / Double(sptHop.count)
        r.latencyStretchP50 = percentile(stretch, 0.5)
        r.latencyStretchP99 = percentile(stretch, 0.99)
        r.hopsStretch = r.sptHopsMean > 0 ? r.hopsMean / r.sptHopsMean : 0
        r.payloadCopiesPerNode = deliveries == 0 ? 0 : Double(payloadCopies) / Double(deliveries)
        for b in half..<records.count { copies2 += copiesByBroadcast[b] }
        r.copiesSecondHalf = deliveries2 == 0 ? 0 : Double(copies2) / Double(deliveries2)
        r.hopsStretchSecondHalf = spt2 > 0 ? hops2 / spt2 : 0
        stretch2.sort()
        r.latencyStretchP50SecondHalf = percentile(stretch2, 0.5)
        r.controlMsgsPerNodeS = liveNodeNanos > 0 ? Double(controlMessages) / (liveNodeNanos / 1e9) : 0
        if healTime != nil { r.healConvergenceS = converged ?? -1 }
        r.messagesLost = messagesLost
        r.messagesPartitioned = messagesPartitioned
        r.messagesNoLink = messagesNoLink
        for case let node? in nodes {
            r.grafts += node.counters.grafts
            r.prunes += node.counters.prunes
            r.failuresDetected += node.counters.failures
            r.antiEntropyPulled += node.counters.antiEntropyPulled
        }
        treeShape(&r)
        r.jobs = jobsReport()
        return r
    }

    func treeShape(_ r: inout SimReport) {
        var eager: [[Int]] = Array(repeating: [], count: n)
        var total = 0
        for i in 0..<n {
            guard let node = nodes[i] else { continue }
            for p in node.eagerPeers { if let j = idIndex[p] { eager[i].append(Int(j)); total += 1 } }
        }
        var views = 0
        var dirMin = Int.max, dirSum = 0, live = 0
        for case let node? in nodes {
            let d = node.directorySize
            dirMin = min(dirMin, d); dirSum += d; live += 1
        }
        if config.announcements && live > 0 {
            r.directoryMin = dirMin
            r.directoryMean = Double(dirSum) / Double(live)
        }
        var overlay: [[Int]] = Array(repeating: [], count: n)
        for i in 0..<n {
            guard let node = nodes[i] else { continue }
            for p in node.activeView { if let j = idIndex[p.id], alive[Int(j)] { overlay[i].append(Int(j)); overlay[Int(j)].append(i) } }
            views += node.activeView.count
            if node.activeView.isEmpty { r.isolatedNodes += 1 }
            if node.activeView.count < config.gossip.activeViewSize { r.shortViewNodes += 1 }
            if node.activeView.count + 1 < config.gossip.activeViewSize { r.shortViewByTwoNodes += 1 }
        }
        var seenNode = [Bool](repeating: false, count: n)
        var smallest = Int.max
        for s in 0..<n where alive[s] && !seenNode[s] {
            r.overlayComponents += 1
            var stack = [s], size = 0
            seenNode[s] = true
            while let u = stack.popLast() {
                size += 1
                for v in overlay[u] where !seenNode[v] { seenNode[v] = true; stack.append(v) }
            }
            smallest = min(smallest, size)
        }
        r.smallestOverlayComponent = smallest == .max ? 0 : smallest
        var asym = 0
        for i in 0..<n { for j in eager[i] where !eager[j].contains(i) { asym += 1 } }
        var comp = [Int](repeating: -1, count: n)
        var components = 0
        for s in 0..<n where alive[s] && comp[s] < 0 {
            components += 1
            var stack = [s]
            comp[s] = components
            while let u = stack.popLast() {
                for v in eager[u] where comp[v] < 0 && alive[v] { comp[v] = components; stack.append(v) }
            }
        }
        r.eagerComponents = components
        r.eagerAsymmetric = asym
        let liveCount = alive.filter { $0 }.count
        r.eagerLinksPerNode = liveCount > 0 ? Double(total) / Double(liveCount) : 0
        r.activeViewMean = liveCount > 0 ? Double(views) / Double(liveCount) : 0
    }
}

