import MurmurCore

/// Renders a `TraceReport` for the terminal: tables for the summary, a box-drawn propagation tree.
public enum TraceText {
    public static func render(_ r: TraceReport, maxLinks: Int = 20, maxDrops: Int = 20, maxJobs: Int = 10) -> String {
        var out = ""
        let i = r.input
        out += "murmur trace: \(i.files) file\(i.files == 1 ? "" : "s"), \(bytes(i.bytes)), \(group(i.events)) events"
        out += i.errors > 0 ? " (\(group(i.errors)) bad lines skipped)" : " (no bad lines)"
        out += " · \(group(r.nodesWithEvents)) nodes with traces (\(group(r.nodes)) seen) · \(group(r.records)) records · span \(ms(r.endNs &- r.startNs))\n"
        if i.errors > 0 {
            out += "  bad lines by cause: " + i.errorsByCategory.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
            for e in i.errorExamples.prefix(5) { out += "    \(e)\n" }
        }
        if i.newerVersionLines > 0 || i.unknownEventLines > 0 {
            out += "  \(group(i.newerVersionLines)) lines from a newer schema minor version (unknown keys ignored), \(group(i.unknownEventLines)) events of unknown kinds skipped\n"
        }
        out += clockLine(r.clock) + "\n"

        if let rec = r.record { out += "\n" + record(rec) }
        if let job = r.job { out += "\n" + jobTimeline(job) }

        out += "\nper record kind\n"
        var rows: [[String]] = [["kind", "records", "deliveries", "dups", "dup ratio", "grafts", "graft rate",
                                 "latency p50", "p90", "p99", "max", "t90 (median rec)", "t100 (median rec)"]]
        for k in r.kinds {
            rows.append([k.kind, group(k.records), group(k.deliveries), group(k.duplicates), String(format2(k.duplicateRatio)),
                         group(k.grafts), format2(k.graftRate),
                         k.latencyNs.map { ms($0.p50) } ?? "-", k.latencyNs.map { ms($0.p90) } ?? "-",
                         k.latencyNs.map { ms($0.p99) } ?? "-", k.latencyNs.map { ms($0.max) } ?? "-",
                         k.time90Ns.map { ms($0.p50) } ?? "-", k.time100Ns.map { ms($0.p50) } ?? "-"])
        }
        out += table(rows)

        if !r.messages.isEmpty {
            out += "\ncontrol messages (send/recv lines that carry no record)\n"
            rows = [["message", "sent", "bytes sent", "received", "bytes received", "drops"]]
            for m in r.messages {
                rows.append([m.kind, group(m.sends), bytes(m.sendBytes), group(m.recvs), bytes(m.recvBytes), group(m.drops)])
            }
            out += table(rows)
        }

        out += "\nlinks (\(r.links.count); top \(min(maxLinks, r.links.count)) by bytes, --json for all)\n"
        rows = [["a", "b", "frames a→b", "bytes a→b", "frames b→a", "bytes b→a"]]
        for l in r.links.prefix(maxLinks) {
            rows.append([short(l.a), short(l.b), group(l.framesAB), bytes(l.bytesAB), group(l.framesBA), bytes(l.bytesBA)])
        }
        out += table(rows)

        if r.drops.isEmpty {
            out += "\ndrops: none\n"
        } else {
            out += "\ndrops by node (\(r.drops.count) nodes dropped something)\n"
            rows = [["node", "drops", "by reason"]]
            for d in r.drops.prefix(maxDrops) {
                rows.append([short(d.node), group(d.total), d.byReason.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")])
            }
            out += table(rows)
        }
        if !r.jobs.isEmpty {
            out += "\njobs (\(r.jobs.count); --job ID for a timeline)\n"
            rows = [["job", "outcome", "events", "nodes", "duration"]]
            for j in r.jobs.prefix(maxJobs) { rows.append([String(j.id.prefix(16)), j.outcome, group(j.events), group(j.nodes), ms(j.lastNs &- j.firstNs)]) }
            out += table(rows)
        }
        return out
    }

    static func clockLine(_ c: TraceReport.Clock) -> String {
        if c.mode == .raw { return "clock: raw node times, no correction (--clock raw)" }
        if c.linksUsed == 0 && !c.nodes.contains(where: { $0.method == .wall || $0.method == .oneway }) {
            return "clock: no send/recv pairs between nodes to estimate clock offsets; node times used as written"
        }
        let maxOff = c.nodes.map { abs($0.offsetNs) }.max() ?? 0
        let maxUnc = c.nodes.filter { $0.method == .pairs || $0.method == .oneway }.map(\.uncertaintyNs).max() ?? 0
        var s = "clock: offsets estimated from \(group(c.pairsMatched)) send/recv pairs on \(group(c.linksUsed)) two-way links "
        s += "(min one-way delay both directions, NTP-style); reference \(c.referenceNode.map(short) ?? "-"); "
        s += "largest offset \(ms(maxOff)), worst uncertainty ±\(ms(maxUnc)); \(c.causalityViolations) causality violations"
        let wall = c.nodes.filter { $0.method == .wall }.count, none = c.nodes.filter { $0.method == .none }.count
        let oneway = c.nodes.filter { $0.method == .oneway }.count
        if oneway > 0 { s += "; \(oneway) node\(oneway == 1 ? "" : "s") reached only over one-way links (typical delay assumed)" }
        if wall > 0 { s += "; \(wall) node\(wall == 1 ? "" : "s") aligned by wall clock only" }
        if none > 0 { s += "; \(none) node\(none == 1 ? "" : "s") without an estimate (offset 0)" }
        if c.components > 1 { s += "; \(c.components) separately aligned groups" }
        return s
    }

    public static func record(_ r: TraceReport.RecordReport) -> String {
        var out = "record \(r.id)\(r.kind.map { " (\($0))" } ?? "")\n"
        out += "  origin \(r.origin.map(short) ?? "?")\(r.originKnown ? "" : " (guessed: earliest delivery)"); delivered at \(r.delivered) of \(r.nodesInTrace) nodes with traces; \(r.duplicates) duplicates, \(r.grafts) grafts\n"
        let c = r.coverageNs
        out += "  time to reach 50% \(ms(c.p50)) · 90% \(ms(c.p90)) · 99% \(ms(c.p99)) · 100% \(ms(c.p100)) of the nodes that delivered it\n"
        out += "  propagation tree (first delivery at each node; time since origin, hop count):\n"
        var last: [Bool] = []   // per depth: is the current entry the last child
        // Precompute for each entry whether it is the last child at its depth.
        let tree = r.tree
        var isLast = [Bool](repeating: true, count: tree.count)
        for (k, e) in tree.enumerated() {
            var j = k + 1
            while j < tree.count && tree[j].depth > e.depth { j += 1 }
            isLast[k] = !(j < tree.count && tree[j].depth == e.depth && !tree[j].orphan)
        }
        for (k, e) in tree.enumerated() {
            if e.depth == 0 {
                last = []
                out += "  " + short(e.node) + (e.orphan ? "  (from \(e.from.map(short) ?? "?"), which has no delivery in these traces)" : "  origin") + "  +" + ms(e.sinceOriginNs) + "\n"
                continue
            }
            while last.count >= e.depth { last.removeLast() }
            var prefix = "  "
            for l in last { prefix += l ? "   " : "│  " }
            prefix += isLast[k] ? "└─ " : "├─ "
            out += prefix + short(e.node) + "  +" + ms(e.sinceOriginNs) + (e.hops.map { "  hop \($0)" } ?? "") + "\n"
            while last.count < e.depth { last.append(false) }
            last[e.depth - 1] = isLast[k]
        }
        if r.missing.isEmpty {
            out += "  every node with a trace delivered it\n"
        } else {
            out += "  never delivered (\(r.missing.count)):\n"
            for m in r.missing {
                out += "    \(short(m.node))  "
                if let e = m.lastEvent {
                    out += (m.lastEventIsAboutRecord ? "last event about it: " : "last event: ") + e.ev
                    if let p = e.peer { out += " peer \(short(p))" }
                    if let reason = e.reason { out += " reason=\(reason)" }
                    out += " at \(ms(e.sinceStartNs)) after trace start\n"
                } else {
                    out += "no events\n"
                }
            }
        }
        return out
    }

    public static func jobTimeline(_ j: TraceReport.JobReport) -> String {
        let out = "job \(j.id): \(j.outcome), \(ms(j.durationNs)) from first to last event\n"
        var rows: [[String]] = [["time", "node", "event", "peer", "reason"]]
        for e in j.timeline {
            rows.append(["+" + ms(e.tNs &- j.startNs), short(e.node), e.ev, e.peer.map(short) ?? "", e.reason ?? ""])
        }
        return out + table(rows)
    }

    static func short(_ hex: String) -> String { String(hex.prefix(8)) }

    public static func ms(_ ns: Int64) -> String {
        let v = Double(ns) / 1e6
        if abs(v) >= 10_000 { return String(format1(v / 1000)) + " s" }
        return format3(v) + " ms"
    }

    static func format1(_ v: Double) -> String { fixed(v, 1) }
    static func format2(_ v: Double) -> String { fixed(v, 2) }
    static func format3(_ v: Double) -> String { fixed(v, 3) }

    /// Fixed-point formatting without Foundation.
    static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let neg = v < 0
        let m = Int64((abs(v) * scale).rounded())
        let ip = m / Int64(scale), fp = m % Int64(scale)
        var f = String(fp)
        while f.count < digits { f = "0" + f }
        return (neg && m != 0 ? "-" : "") + String(ip) + (digits > 0 ? "." + f : "")
    }

    static func group(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (k, c) in s.enumerated() {
            if k > 0 && (s.count - k) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func bytes(_ b: Int64) -> String {
        let v = Double(b)
        if v >= 1e9 { return fixed(v / 1e9, 2) + " GB" }
        if v >= 1e6 { return fixed(v / 1e6, 2) + " MB" }
        if v >= 1e3 { return fixed(v / 1e3, 1) + " kB" }
        return "\(b) B"
    }

    static func table(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map { $0.count }
        for r in rows { for (k, c) in r.enumerated() where k < widths.count { widths[k] = max(widths[k], c.count) } }
        var out = ""
        for (n, r) in rows.enumerated() {
            var line = "  "
            for (k, c) in r.enumerated() {
                let pad = String(repeating: " ", count: widths[k] - c.count)
                // Numbers right-aligned, text left-aligned.
                let numeric = n > 0 && c.first.map { $0.isNumber || $0 == "+" || $0 == "-" } == true
                line += (numeric ? pad + c : c + pad) + (k + 1 < r.count ? "  " : "")
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}
