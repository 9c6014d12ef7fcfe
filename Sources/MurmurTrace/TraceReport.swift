import MurmurCore

/// Everything `murmur trace` reports; encoded as-is by `--json` (keys documented in Specs/trace.md).
public struct TraceReport: Codable, Sendable {
    public var format = "murmur-trace-report"
    public var version = 1
    public var input: Input
    public var clock: Clock
    public var startNs: Int64
    public var endNs: Int64
    public var nodes: Int
    public var nodesWithEvents: Int
    public var records: Int
    public var eventCounts: [String: Int]
    public var kinds: [KindSummary]
    /// Control messages (send/recv lines whose `kind` names no record: membership, IHAVE batches,
    /// GRAFT, PRUNE, anti-entropy, transfer …), per message kind.
    public var messages: [MessageSummary]
    public var links: [LinkSummary]
    public var drops: [NodeDrops]
    public var jobs: [JobSummary]
    public var record: RecordReport?
    public var job: JobReport?

    public struct Input: Codable, Sendable {
        public var files: Int, bytes: Int64, lines: Int, events: Int, errors: Int
        public var errorsByCategory: [String: Int]
        public var errorExamples: [String]
        public var newerVersionLines: Int
        public var unknownEventLines: Int
    }
    public struct Clock: Codable, Sendable {
        public var mode: ClockMode
        public var method: String
        public var referenceNode: String?
        public var components: Int
        public var linksUsed: Int
        public var pairsMatched: Int
        public var pairsNotKept: Int
        /// Directed links whose smallest corrected delay is negative (recv before send).
        public var causalityViolations: Int
        public var nodes: [NodeClockEntry]
    }
    public struct NodeClockEntry: Codable, Sendable {
        public var node: String, offsetNs: Int64, uncertaintyNs: Int64, method: NodeClock.Method
    }
    public struct Percentiles: Codable, Sendable, Equatable {
        public var count: Int, p50: Int64, p90: Int64, p99: Int64, max: Int64
    }
    public struct KindSummary: Codable, Sendable {
        public var kind: String
        public var records: Int
        public var deliveries: Int
        public var duplicates: Int
        /// duplicates / deliveries.
        public var duplicateRatio: Double
        public var grafts: Int
        /// grafts / deliveries.
        public var graftRate: Double
        public var prunes: Int, ihaves: Int, sends: Int, sendBytes: Int64, drops: Int
        /// Delivery latency (delivery time − origin time) over all non-origin deliveries.
        public var latencyNs: Percentiles?
        /// Per record: time to reach 90 % / 100 % of the nodes that delivered it (distribution over records).
        public var time90Ns: Percentiles?
        public var time100Ns: Percentiles?
    }
    public struct MessageSummary: Codable, Sendable {
        public var kind: String
        public var sends: Int, sendBytes: Int64
        public var recvs: Int, recvBytes: Int64
        public var drops: Int
    }
    public struct LinkSummary: Codable, Sendable {
        public var a: String, b: String
        public var framesAB: Int, bytesAB: Int64, framesBA: Int, bytesBA: Int64
        /// Frames each way as seen by the receivers' traces.
        public var recvFramesAB: Int, recvFramesBA: Int
    }
    public struct NodeDrops: Codable, Sendable {
        public var node: String, total: Int, byReason: [String: Int]
    }
    public struct JobSummary: Codable, Sendable {
        public var id: String, events: Int, nodes: Int, firstNs: Int64, lastNs: Int64, outcome: String
    }
    public struct TreeEntry: Codable, Sendable {
        public var node: String
        public var from: String?
        public var depth: Int
        public var hops: Int?
        public var sinceOriginNs: Int64
        /// Delivered from a node that has no delivery in the traces (its trace is missing).
        public var orphan: Bool
    }
    public struct EventEntry: Codable, Sendable {
        public var node: String, ev: String, tNs: Int64, sinceStartNs: Int64
        public var kind: String?, peer: String?, bytes: Int64?, hops: Int?, reason: String?
    }
    public struct MissingNode: Codable, Sendable {
        public var node: String
        /// The node's last event about this record, or else its last event of any kind.
        public var lastEvent: EventEntry?
        public var lastEventIsAboutRecord: Bool
    }
    public struct RecordReport: Codable, Sendable {
        public var id: String
        public var kind: String?
        public var origin: String?
        /// True when the origin is the node that delivered it with hops 0; false when guessed (earliest delivery).
        public var originKnown: Bool
        public var originNs: Int64
        public var delivered: Int
        /// Nodes that wrote events in these traces.
        public var nodesInTrace: Int
        public var duplicates: Int
        public var grafts: Int
        public var coverageNs: Coverage
        /// (time since origin, nodes delivered so far), one point per delivery.
        public var curve: [[Int64]]
        public var tree: [TreeEntry]
        public var missing: [MissingNode]
        public var events: Int
    }
    public struct Coverage: Codable, Sendable, Equatable {
        public var p50: Int64, p90: Int64, p99: Int64, p100: Int64
    }
    public struct JobReport: Codable, Sendable {
        public var id: String
        public var startNs: Int64
        public var durationNs: Int64
        public var outcome: String
        public var timeline: [EventEntry]
    }
}

extension TraceReport.Percentiles {
    /// Nearest-rank percentiles of unsorted values.
    static func of(_ values: inout [Int64]) -> TraceReport.Percentiles? {
        guard !values.isEmpty else { return nil }
        values.sort()
        let sorted = values
        func rank(_ q: Double) -> Int64 { TraceAnalyzer.rank(sorted, q) }
        return .init(count: values.count, p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), max: values[values.count - 1] as Int64)
    }
}

extension TraceAnalyzer {
    /// Builds the report after all files have been added.
    public func report() throws(TraceUsageError) -> TraceReport {
        let clocks = clockEstimate()
        let off = clocks.clocks.map { options.clock == .raw ? 0 : $0.offset }
        @inline(__always) func corrected(_ t: Int64, _ n: Int32) -> Int64 { t &- off[Int(n)] }

        // Causality check on the corrected minimum delays.
        var violations = 0
        for (key, m) in minDelay {
            let a = Int(key >> 32), b = Int(key & 0xffff_ffff)
            if m &- (off[b] &- off[a]) < 0 { violations += 1 }
        }
        let stats = reader.stats
        let input = TraceReport.Input(files: stats.files, bytes: stats.bytes, lines: stats.lines, events: stats.events,
                                      errors: stats.errors, errorsByCategory: stats.errorsByCategory,
                                      errorExamples: stats.examples.map(\.description),
                                      newerVersionLines: stats.newerMinorLines, unknownEventLines: stats.unknownEventLines)
        let refNode = clocks.clocks.firstIndex { $0.method == .reference }
        let clock = TraceReport.Clock(
            mode: options.clock,
            method: options.clock == .raw ? "raw node times (no correction)"
                : "min one-way delay both directions per link (NTP-style), chained from the reference node along least-uncertainty paths; wall stamps for unlinked nodes",
            referenceNode: refNode.map { TraceHex.string(nodes[$0]) }, components: clocks.components,
            linksUsed: clocks.usableLinks, pairsMatched: pairsMatched, pairsNotKept: pairsNotKept,
            causalityViolations: options.clock == .raw ? violations : violations,
            nodes: nodes.indices.map {
                let c = clocks.clocks[$0]
                return .init(node: TraceHex.string(nodes[$0]), offsetNs: options.clock == .raw ? 0 : c.offset,
                             uncertaintyNs: c.uncertainty, method: options.clock == .raw ? .raw : c.method)
            })

        // Group deliveries by record (counting sort).
        let grouped = groupDeliveries()
        var kindLat: [Int32: [Int64]] = [:], kind90: [Int32: [Int64]] = [:], kind100: [Int32: [Int64]] = [:]
        var kindRecords: [Int32: Int] = [:]
        var times: [Int64] = []
        for r in records.indices {
            let rk = recordKinds[r]
            kindRecords[rk, default: 0] += 1
            let range = grouped.starts[r]..<grouped.starts[r + 1]
            if range.isEmpty { continue }
            let (origin, _, originTime, sentOnly) = self.origin(of: r, range: range, order: grouped.order, off: off)
            times.removeAll(keepingCapacity: true)
            if sentOnly { times.append(0) }
            for k in range {
                let d = deliveries[Int(grouped.order[k])]
                let dt = corrected(d.time, d.node) &- originTime
                times.append(dt)
                if d.node != origin { kindLat[rk, default: []].append(dt) }
            }
            times.sort()
            kind90[rk, default: []].append(Self.rank(times, 0.9))
            kind100[rk, default: []].append(times[times.count - 1])
        }
        var kinds: [TraceReport.KindSummary] = []
        var messages: [TraceReport.MessageSummary] = []
        let allKinds = Set(kindSeen.indices.filter { kindSeen[$0] }.map { Int32($0 - 1) }).union(kindRecords.keys)
        for rk in allKinds {
            let c = kindCounters[Int(rk) + 1]
            if rk >= 0 && kindRecords[rk] == nil && c.deliveries == 0 && c.duplicates == 0 && c.grafts == 0 {
                // A kind that never named a record: a control message.
                messages.append(.init(kind: strings.name(rk) ?? "(none)", sends: c.sends, sendBytes: c.sendBytes,
                                      recvs: c.recvs, recvBytes: c.recvBytes, drops: c.drops))
                continue
            }
            var lat = kindLat[rk] ?? [], t90 = kind90[rk] ?? [], t100 = kind100[rk] ?? []
            kinds.append(.init(kind: strings.name(rk) ?? "(none)", records: kindRecords[rk] ?? 0, deliveries: c.deliveries,
                               duplicates: c.duplicates,
                               duplicateRatio: c.deliveries > 0 ? Double(c.duplicates) / Double(c.deliveries) : 0,
                               grafts: c.grafts, graftRate: c.deliveries > 0 ? Double(c.grafts) / Double(c.deliveries) : 0,
                               prunes: c.prunes, ihaves: c.ihaves, sends: c.sends, sendBytes: c.sendBytes, drops: c.drops,
                               latencyNs: .of(&lat), time90Ns: .of(&t90), time100Ns: .of(&t100)))
        }
        kinds.sort { ($0.deliveries, $0.kind) > ($1.deliveries, $1.kind) }
        messages.sort { ($0.sendBytes + $0.recvBytes, $0.kind) > ($1.sendBytes + $1.recvBytes, $1.kind) }

        // Links, both directions merged.
        var pairs: [UInt64: TraceReport.LinkSummary] = [:]
        for (key, c) in links {
            let a = Int32(truncatingIfNeeded: key >> 32), b = Int32(truncatingIfNeeded: key & 0xffff_ffff)
            let lo = min(a, b), hi = max(a, b)
            let pk = UInt64(UInt32(lo)) << 32 | UInt64(UInt32(hi))
            var s = pairs[pk] ?? .init(a: TraceHex.string(nodes[Int(lo)]), b: TraceHex.string(nodes[Int(hi)]),
                                       framesAB: 0, bytesAB: 0, framesBA: 0, bytesBA: 0, recvFramesAB: 0, recvFramesBA: 0)
            if a == lo { s.framesAB += c.frames; s.bytesAB += c.bytes; s.recvFramesAB += c.recvFrames }
            else { s.framesBA += c.frames; s.bytesBA += c.bytes; s.recvFramesBA += c.recvFrames }
            pairs[pk] = s
        }
        let linkList = pairs.values.sorted { ($0.bytesAB + $0.bytesBA, $0.a, $0.b) > ($1.bytesAB + $1.bytesBA, $1.a, $1.b) }

        var dropsByNode: [Int: [String: Int]] = [:]
        for (key, count) in drops {
            let n = Int(key >> 32), reason = Int32(bitPattern: UInt32(key & 0xffff_ffff))
            dropsByNode[n, default: [:]][strings.name(reason) ?? "(none)", default: 0] += count
        }
        let dropList = dropsByNode.map { (n, m) in
            TraceReport.NodeDrops(node: TraceHex.string(nodes[n]), total: m.values.reduce(0, +), byReason: m)
        }.sorted { ($0.total, $0.node) > ($1.total, $1.node) }

        var eventCountsByName: [String: Int] = [:]
        for (e, c) in eventCounts.enumerated() where c > 0 { eventCountsByName[strings.name(Int32(e)) ?? "?", default: 0] += c }

        var report = TraceReport(
            input: input, clock: clock,
            startNs: minTime == .max ? 0 : correctedSpan(off).0, endNs: maxTime == .min ? 0 : correctedSpan(off).1,
            nodes: nodes.count, nodesWithEvents: nodeEvents.filter { $0 > 0 }.count, records: records.count,
            eventCounts: eventCountsByName, kinds: kinds, messages: messages, links: linkList, drops: dropList,
            jobs: jobSummaries(off), record: nil, job: nil)

        if let prefix = options.record {
            let r = try resolve(prefix, bit: 1)
            report.record = recordReport(r, grouped: grouped, off: off, startNs: report.startNs)
        }
        if let prefix = options.job {
            let r = try resolve(prefix, bit: 2)
            report.job = jobReport(r, off: off, startNs: report.startNs)
        }
        return report
    }

    static func rank(_ sorted: [Int64], _ q: Double) -> Int64 {
        sorted[max(0, min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }

    func clockEstimate() -> (clocks: [NodeClock], components: Int, usableLinks: Int) {
        ClockEstimator.estimate(nodeCount: nodes.count, minDelay: minDelay, wallDelta: wallDelta, eventCount: nodeEvents)
    }

    func correctedSpan(_ off: [Int64]) -> (Int64, Int64) {
        // Min/max of raw times shifted by the extreme offsets is an approximation; use node-level bounds.
        var lo = Int64.max, hi = Int64.min
        for (n, last) in nodeLast.enumerated() {
            guard let last else { continue }
            hi = max(hi, last.time &- off[n])
        }
        for d in deliveries { lo = min(lo, d.time &- off[Int(d.node)]) }
        if lo == .max { lo = minTime &- (off.min() ?? 0) }
        lo = min(lo, minTime &- (off.max() ?? 0))
        if hi == .min { hi = maxTime }
        return (lo, max(lo, hi))
    }

    struct Grouped { var starts: [Int]; var order: [Int32] }

    func groupDeliveries() -> Grouped {
        var starts = [Int](repeating: 0, count: records.count + 1)
        for d in deliveries { starts[Int(d.record) + 1] += 1 }
        for i in 0..<records.count { starts[i + 1] += starts[i] }
        var fill = starts
        var order = [Int32](repeating: 0, count: deliveries.count)
        for (i, d) in deliveries.enumerated() {
            order[fill[Int(d.record)]] = Int32(i)
            fill[Int(d.record)] += 1
        }
        return Grouped(starts: starts, order: order)
    }

    /// The origin node of a record: its delivery with hops 0 (or no peer); else the node seen
    /// sending it with hops 0 (`sentOnly`: it wrote no delivery); else the earliest delivery.
    func origin(of r: Int, range: Range<Int>, order: [Int32], off: [Int64]) -> (node: Int32, known: Bool, time: Int64, sentOnly: Bool) {
        var best: (Int32, Int64)? = nil
        var earliest: (Int32, Int64)? = nil
        for k in range {
            let d = deliveries[Int(order[k])]
            let t = d.time &- off[Int(d.node)]
            if d.hops == 0 || d.from < 0 {
                if best == nil || t < best!.1 { best = (d.node, t) }
            }
            if earliest == nil || t < earliest!.1 { earliest = (d.node, t) }
        }
        if let best { return (best.0, true, best.1, false) }
        let s = recordSender[r]
        if s >= 0 { return (s, true, recordSendTime[r] &- off[Int(s)], true) }
        return (earliest?.0 ?? -1, false, earliest?.1 ?? 0, false)
    }

    func resolve(_ prefix: String, bit: UInt8) throws(TraceUsageError) -> Int {
        var matches: [Int] = []
        for r in records.indices where recordSelected[r] & bit != 0 {
            // A job id also names a record; --job prefers records seen in job events.
            if bit == 2 && !recordIsJob[r] { continue }
            matches.append(r)
        }
        if matches.isEmpty { throw .noSuchRecord(prefix) }
        if matches.count > 1 { throw .ambiguous(prefix, candidates: matches.map { TraceHex.string(records[$0]) }) }
        return matches[0]
    }

    func entry(_ e: StoredEvent, off: [Int64], startNs: Int64) -> TraceReport.EventEntry {
        let t = e.time &- off[Int(e.node)]
        return .init(node: TraceHex.string(nodes[Int(e.node)]), ev: strings.name(e.event) ?? "?", tNs: t,
                     sinceStartNs: t &- startNs, kind: strings.name(e.recordKind),
                     peer: e.peer >= 0 ? TraceHex.string(nodes[Int(e.peer)]) : nil,
                     bytes: e.bytes >= 0 ? e.bytes : nil, hops: e.hops >= 0 ? Int(e.hops) : nil,
                     reason: strings.name(e.reason))
    }

    /// The propagation of one record: tree, coverage, and nodes that never delivered it.
    func recordReport(_ r: Int, grouped: Grouped, off: [Int64], startNs: Int64,
                      withEvents: [StoredEvent]? = nil) -> TraceReport.RecordReport {
        let range = grouped.starts[r]..<grouped.starts[r + 1]
        let (origin, known, originTime, sentOnly) = self.origin(of: r, range: range, order: grouped.order, off: off)
        var first: [Int32: Delivery] = [:]
        for k in range {
            let d = deliveries[Int(grouped.order[k])]
            first[d.node] = d
        }
        if sentOnly && first[origin] == nil {
            // The author wrote no delivery of its own record: it is the root at time 0.
            first[origin] = Delivery(time: recordSendTime[r], record: Int32(r), node: origin, from: -1, hops: 0)
        }
        var since: [(Int64, Int32)] = first.values.map { ($0.time &- off[Int($0.node)] &- originTime, $0.node) }
        since.sort { $0 < $1 }
        let sortedTimes = since.map(\.0)
        let coverage = sortedTimes.isEmpty ? TraceReport.Coverage(p50: 0, p90: 0, p99: 0, p100: 0)
            : .init(p50: Self.rank(sortedTimes, 0.5), p90: Self.rank(sortedTimes, 0.9),
                    p99: Self.rank(sortedTimes, 0.99), p100: sortedTimes[sortedTimes.count - 1])
        let curve = since.enumerated().map { [$0.element.0, Int64($0.offset + 1)] }

        // Tree: children by first-delivery sender, ordered by time.
        var children: [Int32: [Int32]] = [:]
        var roots: [Int32] = []
        for (_, n) in since {
            guard let d = first[n], n != origin else { continue }
            if d.from >= 0, first[d.from] != nil, d.from != n { children[d.from, default: []].append(n) } else { roots.append(n) }
        }
        var tree: [TraceReport.TreeEntry] = []
        var visited = Set<Int32>()
        func walk(_ n: Int32, depth: Int, orphan: Bool) {
            var stack: [(Int32, Int, Bool)] = [(n, depth, orphan)]
            while let (x, dep, orph) = stack.popLast() {
                guard visited.insert(x).inserted, let d = first[x] else { continue }
                tree.append(.init(node: TraceHex.string(nodes[Int(x)]),
                                  from: d.from >= 0 && x != origin ? TraceHex.string(nodes[Int(d.from)]) : nil,
                                  depth: dep, hops: d.hops >= 0 ? Int(d.hops) : nil,
                                  sinceOriginNs: d.time &- off[Int(x)] &- originTime, orphan: orph))
                for c in (children[x] ?? []).reversed() { stack.append((c, dep + 1, false)) }
            }
        }
        if origin >= 0 && first[origin] != nil { walk(origin, depth: 0, orphan: false) }
        for n in roots where !visited.contains(n) { walk(n, depth: 0, orphan: true) }
        // Anything left is on a cycle of senders (inconsistent traces): list it flat.
        for (_, n) in since where !visited.contains(n) { walk(n, depth: 0, orphan: true) }

        // Nodes that never delivered it.
        let events = withEvents ?? selectedEvents.filter { Int($0.record) == r }
        var lastAbout: [Int32: StoredEvent] = [:]
        let dups = Int(recordDuplicates[r]), grafts = Int(recordGrafts[r])
        for e in events {
            if let prev = lastAbout[e.node], prev.time > e.time {} else { lastAbout[e.node] = e }
        }
        var missing: [TraceReport.MissingNode] = []
        for n in nodes.indices where nodeEvents[n] > 0 && first[Int32(n)] == nil {
            if let e = lastAbout[Int32(n)] {
                missing.append(.init(node: TraceHex.string(nodes[n]), lastEvent: entry(e, off: off, startNs: startNs), lastEventIsAboutRecord: true))
            } else {
                missing.append(.init(node: TraceHex.string(nodes[n]), lastEvent: nodeLast[n].map { entry($0, off: off, startNs: startNs) },
                                     lastEventIsAboutRecord: false))
            }
        }
        missing.sort { $0.node < $1.node }
        return .init(id: TraceHex.string(records[r]), kind: strings.name(recordKinds[r]),
                     origin: origin >= 0 ? TraceHex.string(nodes[Int(origin)]) : nil, originKnown: known,
                     originNs: originTime, delivered: first.count, nodesInTrace: nodeEvents.filter { $0 > 0 }.count,
                     duplicates: dups, grafts: grafts, coverageNs: coverage, curve: curve, tree: tree, missing: missing,
                     events: events.count)
    }

    func jobSummaries(_ off: [Int64]) -> [TraceReport.JobSummary] {
        var byJob: [Int32: [StoredEvent]] = [:]
        for e in jobEvents { byJob[e.record, default: []].append(e) }
        return byJob.map { (r, evs) in
            let ts = evs.map { $0.time &- off[Int($0.node)] }
            return TraceReport.JobSummary(id: TraceHex.string(records[Int(r)]), events: evs.count,
                                          nodes: Set(evs.map(\.node)).count, firstNs: ts.min() ?? 0, lastNs: ts.max() ?? 0,
                                          outcome: outcome(evs))
        }.sorted { ($0.firstNs, $0.id) < ($1.firstNs, $1.id) }
    }

    func outcome(_ evs: [StoredEvent]) -> String {
        let names = Set(evs.compactMap { strings.name($0.event) })
        if names.contains("job.disputed") { return "disputed" }
        if names.contains("job.verified") { return "verified" }
        if names.contains("job.failed") { return "failed" }
        if names.contains("job.attest") { return "attested" }
        if names.contains("job.execute") { return "executing" }
        if names.contains("job.claim") { return "claimed" }
        if names.contains("job.assign") { return "assigned" }
        return "submitted"
    }

    func jobReport(_ r: Int, off: [Int64], startNs: Int64) -> TraceReport.JobReport {
        var evs = jobEvents.filter { Int($0.record) == r }
        evs.sort { ($0.time &- off[Int($0.node)]) < ($1.time &- off[Int($1.node)]) }
        let entries = evs.map { entry($0, off: off, startNs: startNs) }
        let start = entries.first?.tNs ?? 0
        return .init(id: TraceHex.string(records[r]), startNs: start, durationNs: (entries.last?.tNs ?? start) &- start,
                     outcome: outcome(evs), timeline: entries)
    }
}
